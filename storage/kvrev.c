/*
 * kvrev.c: the revisioned key/value domain behind the public KV API. See
 * kvrev.h for the design (revision = the writing entry's log index, CAS on
 * revisions, list by prefix as one bounded range scan).
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/stor_int.h"

/* Domain key bound: length byte, namespace, key. */
#define KVR_DKEY_MAX (1 + STOR_KVR_NS_MAX + STOR_KVR_KEY_MAX)

struct kvr_cmd {
	uint64_t op;
	const char *ns;
	size_t nsl;
	const uint8_t *key, *val;
	size_t kl, vl;
	uint64_t cas;
};

int stor_kvr_ns_ok(const char *ns, size_t len)
{
	if (ns == NULL || len == 0 || len > STOR_KVR_NS_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = ns[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static int kvr_decode(const msgpack_object *body, struct kvr_cmd *c)
{
	const msgpack_object *o[5];
	uint32_t n;

	memset(c, 0, sizeof(*c));
	if (stor_kv_head(body, 4, o, &n, &c->op, &c->ns, &c->nsl, &c->key,
			 &c->kl) != 0)
		return ERR_MALFORMED;
	if (mp_is_nil(o[3]))
		c->cas = STOR_KVR_ANY;
	else if (mp_get_u64(o[3], &c->cas) != 0 || c->cas == STOR_KVR_ANY)
		return ERR_MALFORMED;
	if (!stor_kvr_ns_ok(c->ns, c->nsl) || c->kl == 0)
		return ERR_MALFORMED;
	if (c->kl > STOR_KVR_KEY_MAX)
		return ERR_TOOBIG;
	if (c->op == STOR_KVR_PUT && n == 5) {
		if (stor_mp_bytes(o[4], &c->val, &c->vl) != 0)
			return ERR_MALFORMED;
		return c->vl > STOR_KVR_VALUE_MAX ? ERR_TOOBIG : 0;
	}
	return c->op == STOR_KVR_DEL && n == 4 ? 0 : ERR_MALFORMED;
}

int stor_kvr_check(const msgpack_object *body)
{
	struct kvr_cmd c;

	return kvr_decode(body, &c);
}

static size_t kvr_key(uint8_t *out, const char *ns, size_t nsl,
		      const void *k, size_t kl)
{
	ASSERT(nsl <= STOR_KVR_NS_MAX && kl <= STOR_KVR_KEY_MAX);
	out[0] = (uint8_t)nsl;
	memcpy(out + 1, ns, nsl);
	if (kl > 0)
		memcpy(out + 1 + nsl, k, kl);
	return 1 + nsl + kl;
}

/* The revision of a stored record (which starts with it). */
static int rec_rev(const uint8_t *v, size_t vl, uint64_t *rev)
{
	if (vl < 8)
		return ERR_CORRUPT;
	*rev = get_u64be(v);
	return 0;
}

static int kvr_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		     const msgpack_object *body)
{
	uint8_t key[KVR_DKEY_MAX];
	const uint8_t *cur;
	struct kvr_cmd c;
	uint64_t rev = 0;
	size_t kl, curl;
	uint8_t *rec;
	int rc, found;

	(void)ctx;
	rc = kvr_decode(body, &c);
	if (rc != 0)
		return rc;
	kl = kvr_key(key, c.ns, c.nsl, c.key, c.kl);
	rc = stor_ax_get(ax, key, kl, &cur, &curl);
	if (rc != 0 && rc != ERR_NOTFOUND)
		return rc;
	found = rc == 0;
	if (found && rec_rev(cur, curl, &rev) != 0)
		return ERR_CORRUPT;
	if (c.cas != STOR_KVR_ANY && c.cas != rev)
		return ERR_CONFLICT;
	if (c.op == STOR_KVR_DEL)
		return found ? stor_ax_del(ax, key, kl) : ERR_NOTFOUND;
	rec = malloc(8 + c.vl);
	if (rec == NULL)
		return ERR_NOMEM;
	put_u64be(rec, index);
	if (c.vl > 0)
		memcpy(rec + 8, c.val, c.vl);
	rc = stor_ax_put(ax, key, kl, rec, 8 + c.vl);
	free(rec);
	return rc;
}

int stor_kvr_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_KVREV, "kvrev", kvr_apply,
				    NULL);
}

int stor_kvr_encode(int op, const char *ns, size_t ns_len, const void *key,
		    size_t klen, uint64_t cas, const void *val, size_t vlen,
		    uint8_t **out, size_t *len)
{
	struct mp_writer w;
	int rc;

	if (!stor_kvr_ns_ok(ns, ns_len) || klen == 0 ||
	    klen > STOR_KVR_KEY_MAX || vlen > STOR_KVR_VALUE_MAX ||
	    (op != STOR_KVR_PUT && op != STOR_KVR_DEL))
		return ERR_INVAL;
	/* msgpack-c copies with memcpy, which must not see NULL. */
	if (val == NULL)
		val = "";
	mp_writer_init(&w, STOR_KVR_VALUE_MAX + KVR_DKEY_MAX + 64);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_KVREV);
	mp_w_array(&w, op == STOR_KVR_PUT ? 5 : 4);
	mp_w_uint(&w, (uint64_t)op);
	mp_w_str(&w, ns, ns_len);
	mp_w_bin(&w, key, klen);
	if (cas == STOR_KVR_ANY)
		mp_w_nil(&w);
	else
		mp_w_uint(&w, cas);
	if (op == STOR_KVR_PUT)
		mp_w_bin(&w, val, vlen);
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

int stor_kvr_get(struct stor *s, const char *ns, size_t ns_len,
		 const void *key, size_t klen, uint8_t **v, size_t *vlen,
		 uint64_t *rev)
{
	uint8_t k[KVR_DKEY_MAX];
	uint8_t *rec = NULL;
	size_t recl = 0;
	int rc;

	if (!stor_kvr_ns_ok(ns, ns_len) || klen == 0 ||
	    klen > STOR_KVR_KEY_MAX)
		return ERR_INVAL;
	rc = stor_state_get(s, STOR_DOMAIN_KVREV, k,
			    kvr_key(k, ns, ns_len, key, klen), &rec, &recl);
	if (rc != 0)
		return rc;
	rc = rec_rev(rec, recl, rev);
	if (rc != 0)
		goto out;
	if (v != NULL) {
		/* Move the value to the front of the same allocation. */
		memmove(rec, rec + 8, recl - 8);
		*v = rec;
		*vlen = recl - 8;
		rec = NULL;
	}
out:
	free(rec);
	return rc;
}

/* The smallest byte string greater than every string starting with
 * p[0..n): p with its last non-0xff byte incremented and what follows
 * dropped. Returns its length; 0 if there is none (all 0xff). */
static size_t prefix_end(uint8_t *p, size_t n)
{
	while (n > 0 && p[n - 1] == 0xff)
		n--;
	if (n > 0)
		p[n - 1]++;
	return n;
}

/* Byte-wise order, a shorter prefix first (RocksDB's default). */
static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : (al > bl ? 1 : 0);
}

struct list_state {
	struct stor_kvr_item *items;
	size_t n, max, skip; /* skip: the domain-key bytes of ns */
	int more;
};

static int list_one(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
		    size_t vl)
{
	struct list_state *ls = arg;
	struct stor_kvr_item *it;
	uint64_t rev;

	if (ls->n == ls->max) {
		ls->more = 1;
		return 1;
	}
	if (kl <= ls->skip || rec_rev(v, vl, &rev) != 0)
		return ERR_CORRUPT;
	it = &ls->items[ls->n];
	it->klen = kl - ls->skip;
	it->key = malloc(it->klen);
	if (it->key == NULL)
		return ERR_NOMEM;
	memcpy(it->key, k + ls->skip, it->klen);
	it->rev = rev;
	it->vlen = vl - 8;
	ls->n++;
	return 0;
}

int stor_kvr_list(struct stor *s, const char *ns, size_t ns_len,
		  const void *prefix, size_t plen, const void *after,
		  size_t alen, size_t max, struct stor_kvr_item **out,
		  size_t *n, int *more)
{
	uint8_t lo[KVR_DKEY_MAX + 1], hi[KVR_DKEY_MAX];
	struct list_state ls = {0};
	size_t lol, hil;
	int rc;

	if (!stor_kvr_ns_ok(ns, ns_len) || plen > STOR_KVR_KEY_MAX ||
	    alen > STOR_KVR_KEY_MAX || max == 0 || max > STOR_KVR_LIST_MAX)
		return ERR_INVAL;
	lol = kvr_key(lo, ns, ns_len, prefix, plen);
	memcpy(hi, lo, lol);
	hil = prefix_end(hi, lol);
	ASSERT(hil > 0); /* the length byte is at most 64 */
	if (after != NULL) {
		uint8_t a[KVR_DKEY_MAX + 1];
		size_t al = kvr_key(a, ns, ns_len, after, alen);

		/* Strictly after: the smallest key above `after` is after|0. */
		a[al++] = 0;
		if (bytes_cmp(a, al, lo, lol) > 0) {
			memcpy(lo, a, al);
			lol = al;
		}
	}
	ls.items = calloc(max, sizeof(*ls.items));
	if (ls.items == NULL)
		return ERR_NOMEM;
	ls.max = max;
	ls.skip = 1 + ns_len;
	rc = stor_state_scan(s, STOR_DOMAIN_KVREV, lo, lol, hi, hil, list_one,
			     &ls);
	if (rc != 0) {
		stor_kvr_items_free(ls.items, ls.n);
		return rc;
	}
	*out = ls.items;
	*n = ls.n;
	*more = ls.more;
	return 0;
}

void stor_kvr_items_free(struct stor_kvr_item *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
}
