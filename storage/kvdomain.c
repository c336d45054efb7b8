/*
 * kvdomain.c: the generic namespaced key/value domain of the state
 * machine (issue 4): put, delete and compare-and-set under a namespace.
 * Plugins keep their data in it; tests and benchmarks drive it.
 *
 * Body: [op, ns, key, ...] with ns a string of 1..STOR_KV_NS_MAX bytes
 * and key/value binaries (strings are accepted too). The domain key is
 * ns length (u8) | ns | key, so namespaces never overlap.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mp.h"
#include "storage/stor_int.h"

struct kv_cmd {
	uint64_t op;
	const char *ns;
	size_t nsl;
	const uint8_t *key, *expected, *val;
	size_t kl, el, vl;
	int has_expected, has_val;
};

int stor_mp_u64_at(const msgpack_object *a, uint32_t i, uint64_t max,
		   uint64_t *v)
{
	const msgpack_object *o;

	if (mp_array_at(a, i, &o) != 0 || mp_get_u64(o, v) != 0 || *v > max)
		return ERR_MALFORMED;
	return 0;
}

int stor_mp_str_at(const msgpack_object *a, uint32_t i, char *dst,
		   size_t size)
{
	const msgpack_object *o;

	if (mp_array_at(a, i, &o) != 0 || mp_get_strcpy(o, dst, size) != 0)
		return ERR_MALFORMED;
	return 0;
}

int stor_rec_parse(const uint8_t *v, size_t vl, uint64_t version,
		   int (*fn)(const msgpack_object *rec, void *arg), void *arg)
{
	const msgpack_object *o;
	struct mp_doc doc;
	uint64_t ver;
	uint32_t n;
	int rc = ERR_CORRUPT;

	if (mp_parse(&doc, v, vl) != 0)
		return ERR_CORRUPT;
	if (mp_get_array(doc.root, &n) == 0 && n == 2 &&
	    stor_mp_u64_at(doc.root, 0, UINT64_MAX, &ver) == 0 &&
	    mp_array_at(doc.root, 1, &o) == 0)
		rc = ver != version ? ERR_VERSION : fn(o, arg);
	mp_doc_free(&doc);
	return rc;
}

int stor_mp_bytes(const msgpack_object *o, const uint8_t **p, size_t *n)
{
	const char *s;

	if (mp_get_bin(o, p, n) == 0)
		return 0;
	if (mp_get_str(o, &s, n) != 0)
		return ERR_MALFORMED;
	*p = (const uint8_t *)s;
	return 0;
}

/* An optional binary: nil sets *has to 0. */
static int get_opt(const msgpack_object *o, const uint8_t **p, size_t *n,
		   int *has)
{
	*has = !mp_is_nil(o);
	if (!*has) {
		*p = NULL;
		*n = 0;
		return 0;
	}
	return stor_mp_bytes(o, p, n);
}

int stor_kv_head(const msgpack_object *body, uint32_t nmin,
		 const msgpack_object *o[5], uint32_t *n, uint64_t *op,
		 const char **ns, size_t *nsl, const uint8_t **key, size_t *kl)
{
	if (mp_get_array(body, n) != 0 || *n < nmin || *n > 5)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < *n; i++)
		if (mp_array_at(body, i, &o[i]) != 0)
			return ERR_MALFORMED;
	if (mp_get_u64(o[0], op) != 0 || mp_get_str(o[1], ns, nsl) != 0 ||
	    stor_mp_bytes(o[2], key, kl) != 0)
		return ERR_MALFORMED;
	return 0;
}

static int kv_decode(const msgpack_object *body, struct kv_cmd *c)
{
	const msgpack_object *o[5];
	uint32_t n;
	int rc;

	memset(c, 0, sizeof(*c));
	if (stor_kv_head(body, 3, o, &n, &c->op, &c->ns, &c->nsl, &c->key,
			 &c->kl) != 0)
		return ERR_MALFORMED;
	if (c->nsl == 0 || c->nsl > STOR_KV_NS_MAX ||
	    c->kl + c->nsl + 1 > STOR_KEY_MAX)
		return ERR_TOOBIG;
	switch (c->op) {
	case STOR_KV_PUT:
		if (n != 4)
			return ERR_MALFORMED;
		c->has_val = 1;
		rc = stor_mp_bytes(o[3], &c->val, &c->vl);
		break;
	case STOR_KV_DEL:
		rc = n == 3 ? 0 : ERR_MALFORMED;
		break;
	case STOR_KV_CAS:
		if (n != 5)
			return ERR_MALFORMED;
		rc = get_opt(o[3], &c->expected, &c->el, &c->has_expected);
		if (rc == 0)
			rc = get_opt(o[4], &c->val, &c->vl, &c->has_val);
		break;
	default:
		return ERR_MALFORMED;
	}
	if (rc == 0 && c->vl > STOR_VALUE_MAX)
		rc = ERR_TOOBIG;
	return rc;
}

int stor_kv_check(const msgpack_object *body)
{
	struct kv_cmd c;

	return kv_decode(body, &c);
}

static size_t kv_key(uint8_t *out, const char *ns, size_t nsl,
		     const uint8_t *k, size_t kl)
{
	out[0] = (uint8_t)nsl;
	memcpy(out + 1, ns, nsl);
	if (kl > 0)
		memcpy(out + 1 + nsl, k, kl);
	return 1 + nsl + kl;
}

static int kv_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		    const msgpack_object *body)
{
	uint8_t key[STOR_KEY_MAX];
	const uint8_t *cur;
	struct kv_cmd c;
	size_t kl, curl;
	int rc;

	(void)ctx;
	(void)index;
	rc = kv_decode(body, &c);
	if (rc != 0)
		return rc;
	kl = kv_key(key, c.ns, c.nsl, c.key, c.kl);
	if (c.op == STOR_KV_CAS) {
		rc = stor_ax_get(ax, key, kl, &cur, &curl);
		if (rc != 0 && rc != ERR_NOTFOUND)
			return rc;
		if (c.has_expected != (rc == 0))
			return ERR_CONFLICT;
		if (c.has_expected &&
		    (curl != c.el || (curl > 0 && memcmp(cur, c.expected,
							  curl) != 0)))
			return ERR_CONFLICT;
	}
	if (c.has_val)
		return stor_ax_put(ax, key, kl, c.val, c.vl);
	return stor_ax_del(ax, key, kl);
}

int stor_kv_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_KV, "kv", kv_apply, NULL);
}

int stor_kv_encode(int op, const char *ns, const void *key, size_t klen,
		   const void *expected, size_t elen, const void *val,
		   size_t vlen, uint8_t **out, size_t *len)
{
	struct mp_writer w;
	size_t nsl = strlen(ns);
	int rc;

	if (nsl == 0 || nsl > STOR_KV_NS_MAX || nsl + 1 + klen > STOR_KEY_MAX ||
	    vlen > STOR_VALUE_MAX)
		return ERR_INVAL;
	/* msgpack-c copies with memcpy, which must not see NULL. */
	if (key == NULL)
		key = "";
	if (op == STOR_KV_PUT && val == NULL)
		val = "";
	mp_writer_init(&w, STOR_VALUE_MAX + STOR_KEY_MAX * 2 + 64);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_KV);
	mp_w_array(&w, op == STOR_KV_CAS ? 5 : (op == STOR_KV_PUT ? 4 : 3));
	mp_w_uint(&w, (uint64_t)op);
	mp_w_str(&w, ns, nsl);
	mp_w_bin(&w, key, klen);
	if (op == STOR_KV_PUT) {
		mp_w_bin(&w, val, vlen);
	} else if (op == STOR_KV_CAS) {
		if (expected != NULL)
			mp_w_bin(&w, expected, elen);
		else
			mp_w_nil(&w);
		if (val != NULL)
			mp_w_bin(&w, val, vlen);
		else
			mp_w_nil(&w);
	} else if (op != STOR_KV_DEL) {
		mp_writer_free(&w);
		return ERR_INVAL;
	}
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

int stor_kv_get(struct stor *s, const char *ns, const void *key, size_t klen,
		uint8_t **v, size_t *vlen)
{
	uint8_t k[STOR_KEY_MAX];
	size_t nsl = strlen(ns);

	if (nsl == 0 || nsl > STOR_KV_NS_MAX || nsl + 1 + klen > STOR_KEY_MAX)
		return ERR_INVAL;
	return stor_state_get(s, STOR_DOMAIN_KV, k,
			      kv_key(k, ns, nsl, key, klen), v, vlen);
}
