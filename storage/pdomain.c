/*
 * pdomain.c: the players domain (see pdomain.h). Two counters per user
 * name, changed by commutative additions, so events of different
 * instances never conflict.
 */
#include "storage/pdomain.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mp.h"
#include "storage/stor_int.h"

#define P_REC_VERSION 1
#define P_PFX_USER 'u'
#define P_FIELDS 4
#define P_MSG_MAX 256

int stor_player_name_ok(const char *s)
{
	size_t n = strnlen(s, STOR_PLAYER_NAME_MAX + 1);

	if (n == 0 || n > STOR_PLAYER_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 32 || s[i] == 127)
			return 0;
	return 1;
}

static int u64_at(const msgpack_object *a, uint32_t i, uint64_t max,
		  uint64_t *v)
{
	const msgpack_object *o;

	if (mp_array_at(a, i, &o) != 0 || mp_get_u64(o, v) != 0 || *v > max)
		return ERR_MALFORMED;
	return 0;
}

static int name_at(const msgpack_object *a, uint32_t i, char *dst,
		   size_t size)
{
	const msgpack_object *o;

	if (mp_array_at(a, i, &o) != 0 || mp_get_strcpy(o, dst, size) != 0 ||
	    !stor_player_name_ok(dst))
		return ERR_MALFORMED;
	return 0;
}

static int p_decode(const msgpack_object *body, struct stor_player_cmd *c)
{
	uint64_t op;
	uint32_t n;

	memset(c, 0, sizeof(*c));
	if (mp_get_array(body, &n) != 0 || n != 4 ||
	    u64_at(body, 0, STOR_PLAYER_LEAVE, &op) != 0 ||
	    name_at(body, 1, c->name, sizeof(c->name)) != 0 ||
	    u64_at(body, 2, UINT64_MAX, &c->instance) != 0 ||
	    u64_at(body, 3, STOR_PLAYER_SESSION_MS_MAX, &c->online_ms) != 0)
		return ERR_MALFORMED;
	c->op = (int)op;
	return 0;
}

int stor_player_check(const msgpack_object *body)
{
	struct stor_player_cmd c;

	return p_decode(body, &c);
}

static size_t user_key(uint8_t *k, const char *name)
{
	size_t n = strlen(name);

	k[0] = P_PFX_USER;
	memcpy(k + 1, name, n);
	return 1 + n;
}

static int parse_rec(const uint8_t *v, size_t vl, struct stor_player *out)
{
	const msgpack_object *o;
	struct mp_doc doc;
	uint64_t ver;
	uint32_t n;
	int rc = ERR_CORRUPT;

	memset(out, 0, sizeof(*out));
	if (mp_parse(&doc, v, vl) != 0)
		return ERR_CORRUPT;
	if (mp_get_array(doc.root, &n) != 0 || n != 2 ||
	    u64_at(doc.root, 0, UINT64_MAX, &ver) != 0 ||
	    mp_array_at(doc.root, 1, &o) != 0)
		goto out;
	if (ver != P_REC_VERSION) {
		rc = ERR_VERSION;
		goto out;
	}
	if (mp_get_array(o, &n) == 0 && n == P_FIELDS &&
	    name_at(o, 0, out->name, sizeof(out->name)) == 0 &&
	    u64_at(o, 1, UINT64_MAX, &out->joins) == 0 &&
	    u64_at(o, 2, UINT64_MAX, &out->online_ms) == 0 &&
	    u64_at(o, 3, UINT64_MAX, &out->last_instance) == 0)
		rc = 0;
out:
	mp_doc_free(&doc);
	return rc;
}

static int put_rec(struct stor_apply_ctx *ax, const struct stor_player *p)
{
	uint8_t k[1 + STOR_PLAYER_NAME_MAX];
	struct mp_writer w;
	int rc;

	mp_writer_init(&w, P_MSG_MAX);
	mp_w_array(&w, 2);
	mp_w_uint(&w, P_REC_VERSION);
	mp_w_array(&w, P_FIELDS);
	mp_w_cstr(&w, p->name);
	mp_w_uint(&w, p->joins);
	mp_w_uint(&w, p->online_ms);
	mp_w_uint(&w, p->last_instance);
	rc = mp_writer_error(&w);
	if (rc == 0)
		rc = stor_ax_put(ax, k, user_key(k, p->name),
				 mp_writer_data(&w), mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

static int p_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		   const msgpack_object *body)
{
	uint8_t k[1 + STOR_PLAYER_NAME_MAX];
	struct stor_player_cmd c;
	struct stor_player p;
	const uint8_t *v;
	size_t vl;
	int rc;

	(void)ctx;
	(void)index;
	rc = p_decode(body, &c);
	if (rc != 0)
		return rc;
	if (stor_ax_get(ax, k, user_key(k, c.name), &v, &vl) != 0 ||
	    parse_rec(v, vl, &p) != 0) {
		memset(&p, 0, sizeof(p));
		memcpy(p.name, c.name, sizeof(p.name));
	}
	if (c.op == STOR_PLAYER_JOIN) {
		p.joins++;
	} else {
		/* Saturating: a counter never wraps to a small number. */
		p.online_ms = p.online_ms > UINT64_MAX - c.online_ms
				      ? UINT64_MAX
				      : p.online_ms + c.online_ms;
	}
	p.last_instance = c.instance;
	return put_rec(ax, &p);
}

int stor_players_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_PLAYERS, "players",
				    p_apply, NULL);
}

int stor_player_encode(const struct stor_player_cmd *c, uint8_t **out,
		       size_t *len)
{
	struct mp_writer w;
	int rc;

	if ((c->op != STOR_PLAYER_JOIN && c->op != STOR_PLAYER_LEAVE) ||
	    !stor_player_name_ok(c->name) ||
	    c->online_ms > STOR_PLAYER_SESSION_MS_MAX)
		return ERR_INVAL;
	mp_writer_init(&w, P_MSG_MAX);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_PLAYERS);
	mp_w_array(&w, 4);
	mp_w_uint(&w, (uint64_t)c->op);
	mp_w_cstr(&w, c->name);
	mp_w_uint(&w, c->instance);
	mp_w_uint(&w, c->op == STOR_PLAYER_LEAVE ? c->online_ms : 0);
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

int stor_player_get(struct stor *s, const char *name, struct stor_player *out)
{
	uint8_t k[1 + STOR_PLAYER_NAME_MAX], *v = NULL;
	size_t vl = 0;
	int rc;

	if (!stor_player_name_ok(name))
		return ERR_NOTFOUND;
	rc = stor_state_get(s, STOR_DOMAIN_PLAYERS, k, user_key(k, name), &v,
			    &vl);
	if (rc == 0)
		rc = parse_rec(v, vl, out);
	free(v);
	return rc;
}

struct p_list {
	struct stor_player *out;
	size_t n, max;
};

static int collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
		   size_t vl)
{
	struct p_list *l = arg;

	(void)k;
	(void)kl;
	if (l->n == l->max)
		return 1;
	if (parse_rec(v, vl, &l->out[l->n]) != 0)
		return ERR_CORRUPT;
	l->n++;
	return 0;
}

int stor_players_list(struct stor *s, const char *after,
		      struct stor_player *out, size_t max, size_t *n)
{
	uint8_t lo[2 + STOR_PLAYER_NAME_MAX], hi = P_PFX_USER + 1;
	size_t lol = 1;
	struct p_list l = {out, 0, max > STOR_PLAYERS_LIST_MAX
					   ? STOR_PLAYERS_LIST_MAX
					   : max};
	int rc;

	lo[0] = P_PFX_USER;
	if (after != NULL && after[0] != '\0') {
		if (!stor_player_name_ok(after))
			return ERR_INVAL;
		lol = user_key(lo, after);
		lo[lol++] = '\0'; /* the first key after `after` */
	}
	rc = stor_state_scan(s, STOR_DOMAIN_PLAYERS, lo, lol, &hi, 1, collect,
			     &l);
	*n = l.n;
	return rc;
}
