/*
 * udomain.c: the users domain: Factorio players with their admin,
 * whitelist and ban flags, and the roles that carry API permissions. See
 * udomain.h.
 *
 * Names are unique without regard to case through the key (the name in
 * lowercase), so every uniqueness check is one point lookup. Stored
 * values are [version, record], the record encoded as in the command
 * that wrote it. Reading goes through a small cursor (struct rd) whose
 * first error sticks, so a decoder reads like the record's layout.
 */
#include "storage/udomain.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/stor_int.h"

#define U_REC_VERSION 1
#define U_PFX_USER 'u'
#define U_PFX_ROLE 'r'
/* A user record is under 2 kB and a role under 4 kB; an UPDATE of
 * STOR_USER_BATCH_MAX users stays under a megabyte. */
#define U_REC_MAX 8192
#define U_CMD_MAX (1u << 20)

static const struct {
	const char *name, *desc, *perm;
} builtins[] = {
	{"admin", "every permission (built in)", "*"},
	{"read", "every read permission (built in)", "*.read"},
};
#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* --- syntax ------------------------------------------------------------ */

static int chars_in(const char *s, size_t max, const char *extra, int upper)
{
	size_t n = strnlen(s, max + 1);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (upper && c >= 'A' && c <= 'Z') ||
		    (c != '\0' && strchr(extra, c) != NULL))
			continue;
		return 0;
	}
	return 1;
}

int stor_user_name_ok(const char *s)
{
	return chars_in(s, STOR_USER_NAME_MAX, "_.-", 1);
}

int stor_user_reason_ok(const char *s)
{
	size_t n = strnlen(s, STOR_USER_REASON_MAX + 1);

	if (n > STOR_USER_REASON_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int stor_role_name_ok(const char *s)
{
	return chars_in(s, STOR_ROLE_NAME_MAX, "_-", 0);
}

/* One part of a permission: "*", or 1.. bytes of [a-z0-9_-]. */
static int perm_part_ok(const char *p, size_t n)
{
	if (n == 1 && p[0] == '*')
		return 1;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
		      p[i] == '-'))
			return 0;
	return 1;
}

/* "resource.verb", each part "*" or a word; or "*" alone (everything). */
int stor_perm_ok(const char *s)
{
	size_t n = strnlen(s, STOR_PERM_MAX + 1);
	const char *dot = memchr(s, '.', n);

	if (n == 0 || n > STOR_PERM_MAX)
		return 0;
	if (dot == NULL)
		return n == 1 && s[0] == '*';
	return perm_part_ok(s, (size_t)(dot - s)) &&
	       perm_part_ok(dot + 1, n - (size_t)(dot - s) - 1);
}

int stor_role_builtin(const char *name)
{
	for (size_t i = 0; i < NBUILTINS; i++)
		if (strcmp(name, builtins[i].name) == 0)
			return 1;
	return 0;
}

static int user_ok(const struct stor_user *u)
{
	if (!stor_user_name_ok(u->name) || !stor_user_reason_ok(u->reason) ||
	    u->admin > 1 || u->whitelisted > 1 || u->banned > 1 ||
	    u->nroles > STOR_USER_ROLES_MAX)
		return 0;
	for (size_t i = 0; i < u->nroles; i++)
		if (!stor_role_name_ok(u->roles[i]))
			return 0;
	return 1;
}

static int role_ok(const struct stor_role *r)
{
	if (!stor_role_name_ok(r->name) || r->nperms > STOR_ROLE_PERMS_MAX ||
	    strnlen(r->desc, sizeof(r->desc)) >= sizeof(r->desc) ||
	    !stor_user_reason_ok(r->desc))
		return 0;
	for (size_t i = 0; i < r->nperms; i++)
		if (!stor_perm_ok(r->perms[i]))
			return 0;
	return 1;
}

/* --- encoding ---------------------------------------------------------- */

static void w_strs(struct mp_writer *w, const char (*v)[STOR_ROLE_NAME_MAX + 1],
		   size_t n)
{
	mp_w_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		mp_w_cstr(w, v[i]);
}

static void w_user(struct mp_writer *w, const struct stor_user *u)
{
	mp_w_array(w, 8);
	mp_w_cstr(w, u->name);
	mp_w_uint(w, u->admin);
	mp_w_uint(w, u->whitelisted);
	mp_w_uint(w, u->banned);
	mp_w_cstr(w, u->reason);
	w_strs(w, u->roles, u->nroles);
	mp_w_uint(w, u->updated);
	mp_w_uint(w, u->origin);
}

static void w_upd(struct mp_writer *w, const struct stor_user_upd *d)
{
	mp_w_array(w, 7);
	mp_w_cstr(w, d->u.name);
	mp_w_uint(w, d->mask);
	mp_w_uint(w, d->u.admin);
	mp_w_uint(w, d->u.whitelisted);
	mp_w_uint(w, d->u.banned);
	mp_w_cstr(w, d->u.reason);
	w_strs(w, d->u.roles, d->u.nroles);
}

static void w_role(struct mp_writer *w, const struct stor_role *r)
{
	mp_w_array(w, 3);
	mp_w_cstr(w, r->name);
	mp_w_cstr(w, r->desc);
	mp_w_array(w, r->nperms);
	for (size_t i = 0; i < r->nperms; i++)
		mp_w_cstr(w, r->perms[i]);
}

/* --- decoding: a cursor over an array whose first error sticks ---------- */

struct rd {
	const msgpack_object *a;
	uint32_t n, i;
	int err;
};

static void rd_open(struct rd *r, const msgpack_object *a, uint32_t want)
{
	r->a = a;
	r->i = 0;
	r->err = mp_get_array(a, &r->n) != 0 || r->n != want;
}

static const msgpack_object *rd_next(struct rd *r)
{
	const msgpack_object *o = NULL;

	if (!r->err && mp_array_at(r->a, r->i++, &o) != 0)
		r->err = 1;
	return r->err ? NULL : o;
}

static uint64_t rd_u64(struct rd *r, uint64_t max)
{
	const msgpack_object *o = rd_next(r);
	uint64_t v = 0;

	if (o != NULL && (mp_get_u64(o, &v) != 0 || v > max))
		r->err = 1;
	return r->err ? 0 : v;
}

static void rd_str(struct rd *r, char *dst, size_t size)
{
	const msgpack_object *o = rd_next(r);

	dst[0] = '\0';
	if (o != NULL && mp_get_strcpy(o, dst, size) != 0)
		r->err = 1;
}

/* An array of at most max strings of up to each_size-1 bytes into dst. */
static uint8_t rd_strs(struct rd *r, char *dst, size_t each_size, size_t max)
{
	const msgpack_object *o = rd_next(r), *e;
	uint32_t n = 0;

	if (o != NULL && (mp_get_array(o, &n) != 0 || n > max))
		r->err = 1;
	for (uint32_t i = 0; !r->err && i < n; i++)
		if (mp_array_at(o, i, &e) != 0 ||
		    mp_get_strcpy(e, dst + i * each_size, each_size) != 0)
			r->err = 1;
	return r->err ? 0 : (uint8_t)n;
}

static int r_user(const msgpack_object *a, struct stor_user *u)
{
	struct rd r;

	memset(u, 0, sizeof(*u));
	rd_open(&r, a, 8);
	rd_str(&r, u->name, sizeof(u->name));
	u->admin = (uint8_t)rd_u64(&r, 1);
	u->whitelisted = (uint8_t)rd_u64(&r, 1);
	u->banned = (uint8_t)rd_u64(&r, 1);
	rd_str(&r, u->reason, sizeof(u->reason));
	u->nroles = rd_strs(&r, &u->roles[0][0], sizeof(u->roles[0]),
			    STOR_USER_ROLES_MAX);
	u->updated = rd_u64(&r, UINT64_MAX);
	u->origin = rd_u64(&r, UINT64_MAX);
	return r.err || !user_ok(u) ? ERR_MALFORMED : 0;
}

static int r_upd(const msgpack_object *a, struct stor_user_upd *d)
{
	struct rd r;

	memset(d, 0, sizeof(*d));
	rd_open(&r, a, 7);
	rd_str(&r, d->u.name, sizeof(d->u.name));
	d->mask = (uint8_t)rd_u64(&r, STOR_USER_F_ALL);
	d->u.admin = (uint8_t)rd_u64(&r, 1);
	d->u.whitelisted = (uint8_t)rd_u64(&r, 1);
	d->u.banned = (uint8_t)rd_u64(&r, 1);
	rd_str(&r, d->u.reason, sizeof(d->u.reason));
	d->u.nroles = rd_strs(&r, &d->u.roles[0][0], sizeof(d->u.roles[0]),
			      STOR_USER_ROLES_MAX);
	return r.err || d->mask == 0 || !user_ok(&d->u) ? ERR_MALFORMED : 0;
}

static int r_role(const msgpack_object *a, struct stor_role *ro)
{
	struct rd r;

	memset(ro, 0, sizeof(*ro));
	rd_open(&r, a, 3);
	rd_str(&r, ro->name, sizeof(ro->name));
	rd_str(&r, ro->desc, sizeof(ro->desc));
	ro->nperms = rd_strs(&r, &ro->perms[0][0], sizeof(ro->perms[0]),
			     STOR_ROLE_PERMS_MAX);
	return r.err || !role_ok(ro) ? ERR_MALFORMED : 0;
}

/* A decoded command; UPDATE's items point into the msgpack document, so
 * they are decoded one at a time by the apply (bounded memory). */
struct u_cmd {
	int op;
	struct stor_user user;
	struct stor_role role;
	const msgpack_object *upds;
	uint32_t nupd;
	uint8_t upsert;
	uint64_t origin;
};

static int u_decode(const msgpack_object *body, struct u_cmd *c)
{
	struct stor_user_upd d;
	const msgpack_object *o;
	uint64_t op;
	struct rd r;

	memset(c, 0, sizeof(*c));
	r.a = body;
	r.i = 0;
	r.err = mp_get_array(body, &r.n) != 0 || r.n < 2;
	op = rd_u64(&r, STOR_ROLE_DEL);
	if (r.err)
		return ERR_MALFORMED;
	c->op = (int)op;
	o = rd_next(&r);
	switch (op) {
	case STOR_USER_CREATE:
		return r.n == 2 ? r_user(o, &c->user) : ERR_MALFORMED;
	case STOR_USER_UPDATE:
		c->upds = o;
		c->upsert = (uint8_t)rd_u64(&r, 1);
		c->origin = rd_u64(&r, UINT64_MAX);
		if (r.err || r.n != 4 || mp_get_array(o, &c->nupd) != 0 ||
		    c->nupd == 0 || c->nupd > STOR_USER_BATCH_MAX)
			return ERR_MALFORMED;
		for (uint32_t i = 0; i < c->nupd; i++) {
			const msgpack_object *e;

			if (mp_array_at(o, i, &e) != 0 || r_upd(e, &d) != 0)
				return ERR_MALFORMED;
		}
		return 0;
	case STOR_USER_DELETE:
	case STOR_ROLE_DEL:
		r.i = 1;
		rd_str(&r, op == STOR_USER_DELETE ? c->user.name : c->role.name,
		       op == STOR_USER_DELETE ? sizeof(c->user.name)
					      : sizeof(c->role.name));
		if (r.err || r.n != 2)
			return ERR_MALFORMED;
		return op == STOR_USER_DELETE
			       ? (stor_user_name_ok(c->user.name) ? 0
								  : ERR_MALFORMED)
			       : (stor_role_name_ok(c->role.name) ? 0
								  : ERR_MALFORMED);
	default: /* STOR_ROLE_PUT */
		return r.n == 2 ? r_role(o, &c->role) : ERR_MALFORMED;
	}
}

int stor_user_check(const msgpack_object *body)
{
	struct u_cmd c;

	return u_decode(body, &c);
}

/* --- state ------------------------------------------------------------- */

static size_t user_key(uint8_t *k, const char *name)
{
	size_t n = strnlen(name, STOR_USER_NAME_MAX);

	k[0] = U_PFX_USER;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		k[1 + i] = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	return 1 + n;
}

static size_t role_key(uint8_t *k, const char *name)
{
	size_t n = strnlen(name, STOR_ROLE_NAME_MAX);

	k[0] = U_PFX_ROLE;
	memcpy(k + 1, name, n);
	return 1 + n;
}

/* Parses a stored [version, record]; is_role picks the record reader. */
static int parse_rec(const uint8_t *v, size_t vl, int is_role, void *out)
{
	const msgpack_object *o;
	struct mp_doc doc;
	struct rd r;
	uint64_t ver;
	int rc = ERR_CORRUPT;

	if (mp_parse(&doc, v, vl) != 0)
		return ERR_CORRUPT;
	rd_open(&r, doc.root, 2);
	ver = rd_u64(&r, UINT64_MAX);
	o = rd_next(&r);
	if (r.err)
		goto out;
	if (ver != U_REC_VERSION) {
		rc = ERR_VERSION;
		goto out;
	}
	rc = (is_role ? r_role(o, out) : r_user(o, out)) == 0 ? 0
							      : ERR_CORRUPT;
out:
	mp_doc_free(&doc);
	return rc;
}

static int put_rec(struct stor_apply_ctx *ax, const uint8_t *k, size_t kl,
		   const struct stor_user *u, const struct stor_role *ro)
{
	struct mp_writer w;
	int rc;

	mp_writer_init(&w, U_REC_MAX);
	mp_w_array(&w, 2);
	mp_w_uint(&w, U_REC_VERSION);
	if (u != NULL)
		w_user(&w, u);
	else
		w_role(&w, ro);
	rc = mp_writer_error(&w);
	if (rc == 0)
		rc = stor_ax_put(ax, k, kl, mp_writer_data(&w),
				 mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

static int ax_user(struct stor_apply_ctx *ax, const char *name,
		   struct stor_user *out)
{
	uint8_t k[1 + STOR_USER_NAME_MAX];
	const uint8_t *v;
	size_t vl;
	int rc = stor_ax_get(ax, k, user_key(k, name), &v, &vl);

	return rc != 0 ? rc : parse_rec(v, vl, 0, out);
}

static void merge(struct stor_user *cur, const struct stor_user_upd *d)
{
	if (d->mask & STOR_USER_F_ADMIN)
		cur->admin = d->u.admin;
	if (d->mask & STOR_USER_F_WHITELIST)
		cur->whitelisted = d->u.whitelisted;
	if (d->mask & STOR_USER_F_BAN) {
		cur->banned = d->u.banned;
		memcpy(cur->reason, d->u.banned ? d->u.reason : "",
		       d->u.banned ? sizeof(cur->reason) : 1);
	}
	if (d->mask & STOR_USER_F_ROLES) {
		cur->nroles = d->u.nroles;
		memcpy(cur->roles, d->u.roles, sizeof(cur->roles));
	}
}

/* UPDATE: every name is checked (and found, unless upsert) before the
 * first write. */
static int apply_update(struct stor_apply_ctx *ax, uint64_t index,
			const struct u_cmd *c)
{
	uint8_t k[1 + STOR_USER_NAME_MAX];
	struct stor_user_upd d;
	struct stor_user cur;
	const msgpack_object *o;
	int rc;

	for (uint32_t pass = c->upsert; pass < 2; pass++) {
		for (uint32_t i = 0; i < c->nupd; i++) {
			ASSERT(mp_array_at(c->upds, i, &o) == 0);
			ASSERT(r_upd(o, &d) == 0);
			rc = ax_user(ax, d.u.name, &cur);
			if (rc == ERR_NOTFOUND && c->upsert) {
				memset(&cur, 0, sizeof(cur));
				memcpy(cur.name, d.u.name, sizeof(cur.name));
			} else if (rc != 0) {
				return rc;
			}
			if (pass == 0)
				continue;
			merge(&cur, &d);
			cur.updated = index;
			cur.origin = c->origin;
			(void)put_rec(ax, k, user_key(k, cur.name), &cur, NULL);
		}
	}
	return 0;
}

static int u_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		   const msgpack_object *body)
{
	uint8_t k[1 + STOR_USER_NAME_MAX];
	struct stor_user cur;
	struct u_cmd c;
	const uint8_t *v;
	size_t vl;
	int rc;

	(void)ctx;
	rc = u_decode(body, &c);
	if (rc != 0)
		return rc;
	switch (c.op) {
	case STOR_USER_CREATE:
		rc = ax_user(ax, c.user.name, &cur);
		if (rc != ERR_NOTFOUND)
			return rc == 0 ? ERR_EXISTS : rc;
		c.user.updated = index;
		c.user.origin = 0;
		return put_rec(ax, k, user_key(k, c.user.name), &c.user, NULL);
	case STOR_USER_UPDATE:
		return apply_update(ax, index, &c);
	case STOR_USER_DELETE:
		rc = ax_user(ax, c.user.name, &cur);
		return rc != 0 ? rc
			       : stor_ax_del(ax, k, user_key(k, c.user.name));
	case STOR_ROLE_PUT:
		if (stor_role_builtin(c.role.name))
			return ERR_CONFLICT;
		return put_rec(ax, k, role_key(k, c.role.name), NULL, &c.role);
	default:
		ASSERT(c.op == STOR_ROLE_DEL);
		if (stor_role_builtin(c.role.name))
			return ERR_CONFLICT;
		rc = stor_ax_get(ax, k, role_key(k, c.role.name), &v, &vl);
		return rc != 0 ? rc
			       : stor_ax_del(ax, k, role_key(k, c.role.name));
	}
}

int stor_user_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_USERS, "users", u_apply,
				    NULL);
}

static int cmd_ok(const struct stor_user_cmd *c)
{
	switch (c->op) {
	case STOR_USER_CREATE:
		return user_ok(&c->user);
	case STOR_USER_UPDATE:
		if (c->nupd == 0 || c->nupd > STOR_USER_BATCH_MAX ||
		    c->upd == NULL || c->upsert > 1)
			return 0;
		for (size_t i = 0; i < c->nupd; i++)
			if (c->upd[i].mask == 0 ||
			    c->upd[i].mask > STOR_USER_F_ALL ||
			    !user_ok(&c->upd[i].u))
				return 0;
		return 1;
	case STOR_USER_DELETE:
		return stor_user_name_ok(c->user.name);
	case STOR_ROLE_PUT:
		return role_ok(&c->role) && !stor_role_builtin(c->role.name);
	case STOR_ROLE_DEL:
		return stor_role_name_ok(c->role.name) &&
		       !stor_role_builtin(c->role.name);
	default:
		return 0;
	}
}

int stor_user_encode(const struct stor_user_cmd *c, uint8_t **out,
		     size_t *len)
{
	struct mp_writer w;
	int rc;

	*out = NULL;
	if (!cmd_ok(c))
		return ERR_INVAL;
	mp_writer_init(&w, U_CMD_MAX);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_USERS);
	mp_w_array(&w, c->op == STOR_USER_UPDATE ? 4 : 2);
	mp_w_uint(&w, (uint64_t)c->op);
	switch (c->op) {
	case STOR_USER_CREATE:
		w_user(&w, &c->user);
		break;
	case STOR_USER_UPDATE:
		mp_w_array(&w, (uint32_t)c->nupd);
		for (size_t i = 0; i < c->nupd; i++)
			w_upd(&w, &c->upd[i]);
		mp_w_uint(&w, c->upsert);
		mp_w_uint(&w, c->origin);
		break;
	case STOR_USER_DELETE:
		mp_w_cstr(&w, c->user.name);
		break;
	case STOR_ROLE_PUT:
		w_role(&w, &c->role);
		break;
	default:
		mp_w_cstr(&w, c->role.name);
		break;
	}
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

/* --- reads ------------------------------------------------------------- */

static int get_rec(struct stor *s, const uint8_t *k, size_t kl, int is_role,
		   void *out)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc = stor_state_get(s, STOR_DOMAIN_USERS, k, kl, &v, &vl);

	if (rc == 0)
		rc = parse_rec(v, vl, is_role, out);
	free(v);
	return rc;
}

int stor_user_get(struct stor *s, const char *name, struct stor_user *out)
{
	uint8_t k[1 + STOR_USER_NAME_MAX];

	if (!stor_user_name_ok(name))
		return ERR_NOTFOUND;
	return get_rec(s, k, user_key(k, name), 0, out);
}

static void builtin_role(size_t i, struct stor_role *out)
{
	ASSERT(i < NBUILTINS);
	memset(out, 0, sizeof(*out));
	strcpy(out->name, builtins[i].name);
	strcpy(out->desc, builtins[i].desc);
	strcpy(out->perms[0], builtins[i].perm);
	out->nperms = 1;
	out->builtin = 1;
}

int stor_role_get(struct stor *s, const char *name, struct stor_role *out)
{
	uint8_t k[1 + STOR_ROLE_NAME_MAX];

	for (size_t i = 0; i < NBUILTINS; i++)
		if (strcmp(name, builtins[i].name) == 0) {
			builtin_role(i, out);
			return 0;
		}
	if (!stor_role_name_ok(name))
		return ERR_NOTFOUND;
	return get_rec(s, k, role_key(k, name), 1, out);
}

struct u_list {
	int is_role;
	void *out; /* struct stor_user[] or struct stor_role[] */
	size_t n, max;
};

static int collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
		   size_t vl)
{
	struct u_list *l = arg;
	void *slot;

	(void)k;
	(void)kl;
	if (l->n == l->max)
		return 1;
	slot = l->is_role ? (void *)((struct stor_role *)l->out + l->n)
			  : (void *)((struct stor_user *)l->out + l->n);
	if (parse_rec(v, vl, l->is_role, slot) != 0)
		return ERR_CORRUPT;
	l->n++;
	return 0;
}

int stor_user_list(struct stor *s, struct stor_user *out, size_t max,
		   size_t *n)
{
	uint8_t lo = U_PFX_USER, hi = U_PFX_USER + 1;
	struct u_list l = {0, out, 0, max};
	int rc = stor_state_scan(s, STOR_DOMAIN_USERS, &lo, 1, &hi, 1, collect,
				 &l);

	*n = l.n;
	return rc;
}

int stor_role_list(struct stor *s, struct stor_role *out, size_t max,
		   size_t *n)
{
	uint8_t lo = U_PFX_ROLE, hi = U_PFX_ROLE + 1;
	struct u_list l = {1, out, 0, max};
	int rc;

	for (size_t i = 0; i < NBUILTINS && l.n < max; i++)
		builtin_role(i, &out[l.n++]);
	rc = stor_state_scan(s, STOR_DOMAIN_USERS, &lo, 1, &hi, 1, collect, &l);
	*n = l.n;
	return rc;
}
