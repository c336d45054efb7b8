/*
 * cdomain.c: the cluster domain: the cluster id, members with their
 * public keys, join and API tokens (hashes only). See cdomain.h.
 *
 * Stored values are msgpack [version, record], the record encoded exactly
 * as in the command that wrote it, so one encoder and one decoder per
 * record serve the log and the state alike.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/stor_int.h"
#include "storage/udomain.h"

#define CL_REC_VERSION 1
/* A command or record is far below this: names and addresses are 64
 * bytes, keys and hashes 32. */
#define CL_MSG_MAX 1024

#define CL_KEY_ID "c"
#define CL_PFX_MEMBER 'm'
#define CL_PFX_TOKEN 't'

static int token_id_ok(const char *id)
{
	size_t n = strnlen(id, STOR_CL_TOKEN_ID_LEN + 1);

	if (n != STOR_CL_TOKEN_ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

static void w_member(struct mp_writer *w, const struct stor_cl_member *m)
{
	mp_w_array(w, 5);
	mp_w_uint(w, m->id);
	mp_w_cstr(w, m->name);
	mp_w_cstr(w, m->addr);
	mp_w_cstr(w, m->http);
	mp_w_bin(w, m->pk, sizeof(m->pk));
}

static int token_extended(const struct stor_cl_token *t)
{
	return t->nroles > 0 || t->user[0] != '\0';
}

static void w_token(struct mp_writer *w, const struct stor_cl_token *t)
{
	mp_w_array(w, token_extended(t) ? 10 : 8);
	mp_w_cstr(w, t->id);
	mp_w_uint(w, t->kind);
	mp_w_uint(w, t->role);
	mp_w_cstr(w, t->name);
	mp_w_bin(w, t->hash, sizeof(t->hash));
	mp_w_uint(w, t->created_ms);
	mp_w_uint(w, t->expires_ms);
	mp_w_uint(w, t->revoked);
	if (!token_extended(t))
		return;
	mp_w_array(w, t->nroles);
	for (size_t i = 0; i < t->nroles; i++)
		mp_w_cstr(w, t->roles[i]);
	mp_w_cstr(w, t->user);
}

/* Reads array element i as a u64 bounded by max. */
static int at_u64(const msgpack_object *a, uint32_t i, uint64_t max,
		  uint64_t *v)
{
	const msgpack_object *o;

	if (mp_array_at(a, i, &o) != 0 || mp_get_u64(o, v) != 0 || *v > max)
		return ERR_MALFORMED;
	return 0;
}

static int at_str(const msgpack_object *a, uint32_t i, char *dst,
		  size_t size)
{
	const msgpack_object *o;

	if (mp_array_at(a, i, &o) != 0 || mp_get_strcpy(o, dst, size) != 0)
		return ERR_MALFORMED;
	return 0;
}

static int at_fixed(const msgpack_object *a, uint32_t i, uint8_t *dst,
		    size_t n)
{
	const msgpack_object *o;
	const uint8_t *p;
	size_t len;

	if (mp_array_at(a, i, &o) != 0 || mp_get_bin(o, &p, &len) != 0 ||
	    len != n)
		return ERR_MALFORMED;
	memcpy(dst, p, n);
	return 0;
}

static int r_member(const msgpack_object *a, struct stor_cl_member *m)
{
	uint32_t n;

	memset(m, 0, sizeof(*m));
	if (mp_get_array(a, &n) != 0 || n != 5 ||
	    at_u64(a, 0, UINT64_MAX, &m->id) != 0 || m->id == 0 ||
	    at_str(a, 1, m->name, sizeof(m->name)) != 0 || m->name[0] == 0 ||
	    at_str(a, 2, m->addr, sizeof(m->addr)) != 0 ||
	    at_str(a, 3, m->http, sizeof(m->http)) != 0 ||
	    at_fixed(a, 4, m->pk, sizeof(m->pk)) != 0)
		return ERR_MALFORMED;
	return 0;
}

/* The fields issue 13 added: [role, ...] and user. */
static int r_token_roles(const msgpack_object *a, struct stor_cl_token *t)
{
	const msgpack_object *o, *e;
	uint32_t n;

	if (mp_array_at(a, 8, &o) != 0 || mp_get_array(o, &n) != 0 ||
	    n > STOR_CL_TOKEN_ROLES_MAX)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < n; i++)
		if (mp_array_at(o, i, &e) != 0 ||
		    mp_get_strcpy(e, t->roles[i], sizeof(t->roles[i])) != 0 ||
		    !stor_role_name_ok(t->roles[i]))
			return ERR_MALFORMED;
	t->nroles = (uint8_t)n;
	if (at_str(a, 9, t->user, sizeof(t->user)) != 0 ||
	    (t->user[0] != '\0' && !stor_user_name_ok(t->user)))
		return ERR_MALFORMED;
	return 0;
}

static int r_token(const msgpack_object *a, struct stor_cl_token *t)
{
	uint64_t kind, role, revoked;
	uint32_t n;

	memset(t, 0, sizeof(*t));
	if (mp_get_array(a, &n) != 0 || (n != 8 && n != 10) ||
	    at_str(a, 0, t->id, sizeof(t->id)) != 0 || !token_id_ok(t->id) ||
	    at_u64(a, 1, STOR_CL_TOKEN_JOIN, &kind) != 0 ||
	    at_u64(a, 2, 255, &role) != 0 ||
	    at_str(a, 3, t->name, sizeof(t->name)) != 0 ||
	    at_fixed(a, 4, t->hash, sizeof(t->hash)) != 0 ||
	    at_u64(a, 5, UINT64_MAX, &t->created_ms) != 0 ||
	    at_u64(a, 6, UINT64_MAX, &t->expires_ms) != 0 ||
	    at_u64(a, 7, 1, &revoked) != 0 ||
	    (n == 10 && r_token_roles(a, t) != 0))
		return ERR_MALFORMED;
	t->kind = (uint8_t)kind;
	t->role = (uint8_t)role;
	t->revoked = (uint8_t)revoked;
	return 0;
}

/* Decodes a command body into c. */
static int cl_decode(const msgpack_object *body, struct stor_cl_cmd *c)
{
	const msgpack_object *rec;
	uint64_t op, id;
	uint32_t n;

	memset(c, 0, sizeof(*c));
	if (mp_get_array(body, &n) != 0 || n < 2 ||
	    at_u64(body, 0, STOR_CL_TOKEN_REVOKE, &op) != 0 ||
	    mp_array_at(body, 1, &rec) != 0)
		return ERR_MALFORMED;
	c->op = (int)op;
	switch (op) {
	case STOR_CL_SET_ID:
		return n == 2 ? at_fixed(body, 1, c->cluster_id,
					  STOR_CL_ID_LEN)
			      : ERR_MALFORMED;
	case STOR_CL_MEMBER_PUT:
		return n == 2 ? r_member(rec, &c->member) : ERR_MALFORMED;
	case STOR_CL_MEMBER_JOIN:
		if (n != 4 || r_member(rec, &c->member) != 0 ||
		    at_str(body, 2, c->token.id, sizeof(c->token.id)) != 0 ||
		    !token_id_ok(c->token.id))
			return ERR_MALFORMED;
		return at_u64(body, 3, UINT64_MAX, &c->now_ms);
	case STOR_CL_MEMBER_DEL:
		if (n != 2 || at_u64(body, 1, UINT64_MAX, &id) != 0 || id == 0)
			return ERR_MALFORMED;
		c->member.id = id;
		return 0;
	case STOR_CL_TOKEN_ADD:
		return n == 2 ? r_token(rec, &c->token) : ERR_MALFORMED;
	default: /* STOR_CL_TOKEN_REVOKE */
		if (n != 3 ||
		    at_str(body, 1, c->token.id, sizeof(c->token.id)) != 0 ||
		    !token_id_ok(c->token.id))
			return ERR_MALFORMED;
		return at_u64(body, 2, UINT64_MAX, &c->now_ms);
	}
}

int stor_cl_check(const msgpack_object *body)
{
	struct stor_cl_cmd c;

	return cl_decode(body, &c);
}

static size_t member_key(uint8_t *k, uint64_t id)
{
	k[0] = CL_PFX_MEMBER;
	put_u64be(k + 1, id);
	return 9;
}

static size_t token_key(uint8_t *k, const char *id)
{
	k[0] = CL_PFX_TOKEN;
	memcpy(k + 1, id, STOR_CL_TOKEN_ID_LEN);
	return 1 + STOR_CL_TOKEN_ID_LEN;
}

/* Writes a record as [version, record] under key; put errors abort the
 * whole apply (storage.h), so only the encoding can fail here. */
static int put_member(struct stor_apply_ctx *ax, const struct stor_cl_member *m)
{
	struct mp_writer w;
	uint8_t k[9];
	int rc;

	mp_writer_init(&w, CL_MSG_MAX);
	mp_w_array(&w, 2);
	mp_w_uint(&w, CL_REC_VERSION);
	w_member(&w, m);
	rc = mp_writer_error(&w);
	if (rc == 0)
		rc = stor_ax_put(ax, k, member_key(k, m->id),
				 mp_writer_data(&w), mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

static int put_token(struct stor_apply_ctx *ax, const struct stor_cl_token *t)
{
	uint8_t k[1 + STOR_CL_TOKEN_ID_LEN];
	struct mp_writer w;
	int rc;

	mp_writer_init(&w, CL_MSG_MAX);
	mp_w_array(&w, 2);
	mp_w_uint(&w, CL_REC_VERSION);
	w_token(&w, t);
	rc = mp_writer_error(&w);
	if (rc == 0)
		rc = stor_ax_put(ax, k, token_key(k, t->id), mp_writer_data(&w),
				 mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

/* Parses a stored [version, record] with the given record reader. */
static int parse_rec(const uint8_t *v, size_t vl, int is_token, void *out)
{
	const msgpack_object *o;
	struct mp_doc doc;
	uint64_t ver;
	uint32_t n;
	int rc;

	if (mp_parse(&doc, v, vl) != 0)
		return ERR_CORRUPT;
	rc = ERR_CORRUPT;
	if (mp_get_array(doc.root, &n) != 0 || n != 2 ||
	    at_u64(doc.root, 0, UINT64_MAX, &ver) != 0 ||
	    mp_array_at(doc.root, 1, &o) != 0)
		goto out;
	if (ver != CL_REC_VERSION) {
		rc = ERR_VERSION;
		goto out;
	}
	rc = is_token ? r_token(o, out) : r_member(o, out);
	if (rc != 0)
		rc = ERR_CORRUPT;
out:
	mp_doc_free(&doc);
	return rc;
}

static int ax_token(struct stor_apply_ctx *ax, const char *id,
		    struct stor_cl_token *t)
{
	uint8_t k[1 + STOR_CL_TOKEN_ID_LEN];
	const uint8_t *v;
	size_t vl;
	int rc = stor_ax_get(ax, k, token_key(k, id), &v, &vl);

	return rc != 0 ? rc : parse_rec(v, vl, 1, t);
}

/* A join: the token must be a live join token at the proposer's time. */
static int apply_join(struct stor_apply_ctx *ax, const struct stor_cl_cmd *c)
{
	struct stor_cl_token t;
	int rc = ax_token(ax, c->token.id, &t);

	if (rc == ERR_NOTFOUND)
		return ERR_AUTH;
	if (rc != 0)
		return rc;
	if (t.kind != STOR_CL_TOKEN_JOIN || t.revoked ||
	    (t.expires_ms != 0 && c->now_ms >= t.expires_ms))
		return ERR_AUTH;
	return put_member(ax, &c->member);
}

static int apply_set_id(struct stor_apply_ctx *ax, const struct stor_cl_cmd *c)
{
	const uint8_t *v;
	size_t vl;
	int rc = stor_ax_get(ax, CL_KEY_ID, 1, &v, &vl);

	if (rc == 0)
		return vl == STOR_CL_ID_LEN &&
				       memcmp(v, c->cluster_id, vl) == 0
			       ? 0
			       : ERR_EXISTS;
	if (rc != ERR_NOTFOUND)
		return rc;
	return stor_ax_put(ax, CL_KEY_ID, 1, c->cluster_id, STOR_CL_ID_LEN);
}

static int cl_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		    const msgpack_object *body)
{
	struct stor_cl_token t;
	struct stor_cl_cmd c;
	const uint8_t *v;
	uint8_t k[9];
	size_t vl;
	int rc;

	(void)ctx;
	(void)index;
	rc = cl_decode(body, &c);
	if (rc != 0)
		return rc;
	switch (c.op) {
	case STOR_CL_SET_ID:
		return apply_set_id(ax, &c);
	case STOR_CL_MEMBER_PUT:
		return put_member(ax, &c.member);
	case STOR_CL_MEMBER_JOIN:
		return apply_join(ax, &c);
	case STOR_CL_MEMBER_DEL:
		rc = stor_ax_get(ax, k, member_key(k, c.member.id), &v, &vl);
		return rc != 0 ? rc : stor_ax_del(ax, k, 9);
	case STOR_CL_TOKEN_ADD:
		rc = ax_token(ax, c.token.id, &t);
		if (rc == 0)
			return ERR_EXISTS;
		return rc == ERR_NOTFOUND ? put_token(ax, &c.token) : rc;
	default:
		ASSERT(c.op == STOR_CL_TOKEN_REVOKE);
		rc = ax_token(ax, c.token.id, &t);
		if (rc != 0)
			return rc;
		t.revoked = 1;
		return put_token(ax, &t);
	}
}

int stor_cl_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_CLUSTER, "cluster",
				    cl_apply, NULL);
}

static int member_ok(const struct stor_cl_member *m)
{
	return m->id != 0 && m->name[0] != 0 &&
	       strnlen(m->name, sizeof(m->name)) < sizeof(m->name) &&
	       strnlen(m->addr, sizeof(m->addr)) < sizeof(m->addr) &&
	       strnlen(m->http, sizeof(m->http)) < sizeof(m->http);
}

static int cmd_ok(const struct stor_cl_cmd *c)
{
	switch (c->op) {
	case STOR_CL_SET_ID:
	case STOR_CL_MEMBER_DEL:
		return c->op == STOR_CL_SET_ID || c->member.id != 0;
	case STOR_CL_MEMBER_PUT:
		return member_ok(&c->member);
	case STOR_CL_MEMBER_JOIN:
		return member_ok(&c->member) && token_id_ok(c->token.id);
	case STOR_CL_TOKEN_ADD:
		if (c->token.nroles > STOR_CL_TOKEN_ROLES_MAX)
			return 0;
		for (size_t i = 0; i < c->token.nroles; i++)
			if (!stor_role_name_ok(c->token.roles[i]))
				return 0;
		return token_id_ok(c->token.id) &&
		       (c->token.user[0] == '\0' ||
			stor_user_name_ok(c->token.user)) &&
		       c->token.kind <= STOR_CL_TOKEN_JOIN &&
		       c->token.revoked <= 1 &&
		       strnlen(c->token.name, sizeof(c->token.name)) <
			       sizeof(c->token.name);
	case STOR_CL_TOKEN_REVOKE:
		return token_id_ok(c->token.id);
	default:
		return 0;
	}
}

int stor_cl_encode(const struct stor_cl_cmd *c, uint8_t **out, size_t *len)
{
	struct mp_writer w;
	int rc;

	if (!cmd_ok(c))
		return ERR_INVAL;
	mp_writer_init(&w, CL_MSG_MAX);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_CLUSTER);
	mp_w_array(&w, c->op == STOR_CL_MEMBER_JOIN	    ? 4
		       : c->op == STOR_CL_TOKEN_REVOKE ? 3
						       : 2);
	mp_w_uint(&w, (uint64_t)c->op);
	switch (c->op) {
	case STOR_CL_SET_ID:
		mp_w_bin(&w, c->cluster_id, STOR_CL_ID_LEN);
		break;
	case STOR_CL_MEMBER_PUT:
		w_member(&w, &c->member);
		break;
	case STOR_CL_MEMBER_JOIN:
		w_member(&w, &c->member);
		mp_w_cstr(&w, c->token.id);
		mp_w_uint(&w, c->now_ms);
		break;
	case STOR_CL_MEMBER_DEL:
		mp_w_uint(&w, c->member.id);
		break;
	case STOR_CL_TOKEN_ADD:
		w_token(&w, &c->token);
		break;
	default:
		mp_w_cstr(&w, c->token.id);
		mp_w_uint(&w, c->now_ms);
		break;
	}
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

int stor_cl_cluster_id(struct stor *s, uint8_t id[STOR_CL_ID_LEN])
{
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc = stor_state_get(s, STOR_DOMAIN_CLUSTER, CL_KEY_ID, 1, &v, &vl);

	if (rc == 0 && vl != STOR_CL_ID_LEN)
		rc = ERR_CORRUPT;
	if (rc == 0)
		memcpy(id, v, STOR_CL_ID_LEN);
	free(v);
	return rc;
}

static int get_rec(struct stor *s, const uint8_t *k, size_t kl, int is_token,
		   void *out)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc = stor_state_get(s, STOR_DOMAIN_CLUSTER, k, kl, &v, &vl);

	if (rc == 0)
		rc = parse_rec(v, vl, is_token, out);
	free(v);
	return rc;
}

int stor_cl_member_get(struct stor *s, uint64_t id, struct stor_cl_member *m)
{
	uint8_t k[9];

	return get_rec(s, k, member_key(k, id), 0, m);
}

int stor_cl_token_get(struct stor *s, const char *id, struct stor_cl_token *t)
{
	uint8_t k[1 + STOR_CL_TOKEN_ID_LEN];

	if (!token_id_ok(id))
		return ERR_NOTFOUND;
	return get_rec(s, k, token_key(k, id), 1, t);
}

struct rec_list {
	int is_token;
	void *out; /* struct stor_cl_member[] or struct stor_cl_token[] */
	size_t n, max;
};

static int collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
		   size_t vl)
{
	struct rec_list *l = arg;
	void *slot;

	(void)k;
	(void)kl;
	if (l->n == l->max)
		return 1;
	slot = l->is_token ? (void *)((struct stor_cl_token *)l->out + l->n)
			   : (void *)((struct stor_cl_member *)l->out + l->n);
	if (parse_rec(v, vl, l->is_token, slot) != 0)
		return ERR_CORRUPT;
	l->n++;
	return 0;
}

static int list_recs(struct stor *s, uint8_t pfx, int is_token, void *out,
		     size_t max, size_t *n)
{
	uint8_t lo = pfx, hi = (uint8_t)(pfx + 1);
	struct rec_list l = {is_token, out, 0, max};
	int rc = stor_state_scan(s, STOR_DOMAIN_CLUSTER, &lo, 1, &hi, 1,
				 collect, &l);

	*n = l.n;
	return rc;
}

int stor_cl_members(struct stor *s, struct stor_cl_member *out, size_t max,
		    size_t *n)
{
	return list_recs(s, CL_PFX_MEMBER, 0, out, max, n);
}

int stor_cl_tokens(struct stor *s, struct stor_cl_token *out, size_t max,
		   size_t *n)
{
	return list_recs(s, CL_PFX_TOKEN, 1, out, max, n);
}
