/*
 * invdomain.c: the inventory domain: per player a fenced lock and the
 * stored inventory. See invdomain.h for the records and the rules.
 *
 * Every refusal is traced (warn) with the player, the op, what the
 * command claimed and what the lock holds, on every node that applies
 * it: an operator sees the same line wherever they look. Compression is
 * zlib's (deterministic for a given input and level, though apply never
 * compresses: the proposer does, in stor_invd_encode, and apply stores
 * the bytes as they came after checking their bounds).
 */
#include "storage/invdomain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/idomain.h"
#include "storage/stor_int.h"

#define V_REC_VERSION 1
#define V_PFX_LOCK 'l'
#define V_PFX_REC 'r'
#define V_KEY_COUNT 'c'
#define V_PFX_HELD 'h'
#define V_LOCK_FIELDS 7
#define V_REC_FIELDS 6
/* A lock record: a name, numbers, an admin name. */
#define V_LOCK_MSG_MAX 512
/* zlib level 6: its default, the usual size/speed balance. */
#define V_ZLEVEL 6

struct v_cmd {
	struct stor_invd_cmd c;
	uint32_t raw_len;
	uint8_t codec;
	const uint8_t *data; /* into the document */
	size_t data_len;
};

const char *stor_invd_op_name(int op)
{
	static const char *const names[] = {"acquire", "release", "upload",
					    "expire", "admin release",
					    "import"};

	return op >= 0 && op <= STOR_INVD_IMPORT ? names[op] : "unknown";
}

const char *stor_invd_why_name(int why)
{
	static const char *const names[] = {"none", "released",
					    "instance stopped", "node dead",
					    "admin"};

	return why >= 0 && why <= STOR_INVD_WHY_MAX ? names[why] : "unknown";
}


static int admin_ok(const char *s)
{
	size_t n = strnlen(s, STOR_INVD_ADMIN_MAX + 1);

	if (n > STOR_INVD_ADMIN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int player_ok(const char *p)
{
	return strnlen(p, STOR_INVD_PLAYER_MAX + 1) <= STOR_INVD_PLAYER_MAX &&
	       stor_inst_name_ok(p);
}

/* Reads [raw_len, codec, data] at body[i..i+2]. */
static int data_at(const msgpack_object *b, uint32_t i, struct v_cmd *v)
{
	const msgpack_object *o;
	uint64_t raw, codec;

	if (stor_mp_u64_at(b, i, STOR_INVD_RAW_MAX, &raw) != 0 ||
	    stor_mp_u64_at(b, i + 1, STOR_INVD_ZLIB, &codec) != 0 ||
	    mp_array_at(b, i + 2, &o) != 0 ||
	    mp_get_bin(o, &v->data, &v->data_len) != 0 ||
	    v->data_len > STOR_INVD_DATA_MAX || raw == 0)
		return ERR_MALFORMED;
	if (codec == STOR_INVD_RAW && v->data_len != raw)
		return ERR_MALFORMED;
	v->raw_len = (uint32_t)raw;
	v->codec = (uint8_t)codec;
	return 0;
}

static int v_decode_rest(const msgpack_object *b, uint32_t n, struct v_cmd *v)
{
	struct stor_invd_cmd *c = &v->c;
	uint64_t x[3];

	switch (c->op) {
	case STOR_INVD_ACQUIRE:
		if (n != 4 || stor_mp_u64_at(b, 2, UINT64_MAX, &c->instance) != 0 ||
		    stor_mp_u64_at(b, 3, UINT64_MAX, &c->node) != 0 ||
		    c->instance == 0)
			return ERR_MALFORMED;
		return 0;
	case STOR_INVD_RELEASE:
		if (n != 4 || stor_mp_u64_at(b, 2, UINT64_MAX, &c->instance) != 0 ||
		    stor_mp_u64_at(b, 3, UINT64_MAX, &c->gen) != 0 || c->instance == 0)
			return ERR_MALFORMED;
		return 0;
	case STOR_INVD_UPLOAD:
		if (n != 8 || stor_mp_u64_at(b, 2, UINT64_MAX, &c->instance) != 0 ||
		    stor_mp_u64_at(b, 3, UINT64_MAX, &c->gen) != 0 ||
		    stor_mp_u64_at(b, 4, 1, &x[0]) != 0 || c->instance == 0 ||
		    data_at(b, 5, v) != 0)
			return ERR_MALFORMED;
		c->release = (uint8_t)x[0];
		return 0;
	case STOR_INVD_EXPIRE:
		if (n != 4 || stor_mp_u64_at(b, 2, UINT64_MAX, &c->gen) != 0 ||
		    stor_mp_u64_at(b, 3, STOR_INVD_WHY_MAX, &x[1]) != 0)
			return ERR_MALFORMED;
		c->why = (uint8_t)x[1];
		return 0;
	case STOR_INVD_ADMIN_RELEASE:
		if (n != 3 || stor_mp_str_at(b, 2, c->admin, sizeof(c->admin)) != 0 ||
		    !admin_ok(c->admin))
			return ERR_MALFORMED;
		return 0;
	default:
		ASSERT(c->op == STOR_INVD_IMPORT);
		if (n != 6 || stor_mp_str_at(b, 2, c->admin, sizeof(c->admin)) != 0 ||
		    !admin_ok(c->admin) || data_at(b, 3, v) != 0)
			return ERR_MALFORMED;
		return 0;
	}
}

static int v_decode(const msgpack_object *body, struct v_cmd *v)
{
	uint64_t op;
	uint32_t n;

	memset(v, 0, sizeof(*v));
	if (mp_get_array(body, &n) != 0 || n < 3 ||
	    stor_mp_u64_at(body, 0, STOR_INVD_IMPORT, &op) != 0 ||
	    stor_mp_str_at(body, 1, v->c.player, sizeof(v->c.player)) != 0 ||
	    !player_ok(v->c.player))
		return ERR_MALFORMED;
	v->c.op = (int)op;
	return v_decode_rest(body, n, v);
}

int stor_invd_check(const msgpack_object *body)
{
	struct v_cmd v;

	return v_decode(body, &v);
}

/* ---- records ---- */

static size_t pkey(uint8_t *k, uint8_t pfx, const char *player)
{
	size_t n = strlen(player);

	ASSERT(n <= STOR_INVD_PLAYER_MAX);
	k[0] = pfx;
	memcpy(k + 1, player, n);
	return 1 + n;
}

static int r_lock(const msgpack_object *a, struct stor_invd_lock *l)
{
	uint64_t st, why;
	uint32_t n;

	if (mp_get_array(a, &n) != 0 || n != V_LOCK_FIELDS ||
	    stor_mp_u64_at(a, 0, UINT64_MAX, &l->instance) != 0 ||
	    stor_mp_u64_at(a, 1, UINT64_MAX, &l->node) != 0 ||
	    stor_mp_u64_at(a, 2, UINT64_MAX, &l->gen) != 0 ||
	    stor_mp_u64_at(a, 3, STOR_INVD_HELD, &st) != 0 ||
	    stor_mp_u64_at(a, 4, UINT64_MAX, &l->since) != 0 ||
	    stor_mp_u64_at(a, 5, STOR_INVD_WHY_MAX, &why) != 0 ||
	    stor_mp_str_at(a, 6, l->by, sizeof(l->by)) != 0)
		return ERR_CORRUPT;
	l->state = (uint8_t)st;
	l->why = (uint8_t)why;
	return 0;
}

/* Parses [version, record] and hands the record to fn. */
static int parse_env(const uint8_t *v, size_t vl,
		     int (*fn)(const msgpack_object *, void *), void *out)
{
	return stor_rec_parse(v, vl, V_REC_VERSION, fn, out);
}

static int lock_fn(const msgpack_object *o, void *out)
{
	return r_lock(o, out);
}

struct rec_out {
	struct stor_invd_meta *meta;
	char **json; /* NULL: the header only */
	size_t *len;
};

static int inflate_to(const uint8_t *src, size_t sl, uint32_t raw_len,
		      char **out)
{
	char *buf = malloc((size_t)raw_len + 1);
	uLongf dl = raw_len;

	if (buf == NULL)
		return ERR_NOMEM;
	if (uncompress((Bytef *)buf, &dl, src, (uLong)sl) != Z_OK ||
	    dl != raw_len) {
		free(buf);
		return ERR_CORRUPT;
	}
	buf[raw_len] = '\0';
	*out = buf;
	return 0;
}

static int rec_fn(const msgpack_object *a, void *arg)
{
	struct rec_out *r = arg;
	struct stor_invd_meta *m = r->meta;
	struct v_cmd v;
	uint32_t n;

	memset(&v, 0, sizeof(v));
	if (mp_get_array(a, &n) != 0 || n != V_REC_FIELDS ||
	    stor_mp_u64_at(a, 0, UINT64_MAX, &m->gen) != 0 ||
	    stor_mp_u64_at(a, 1, UINT64_MAX, &m->instance) != 0 ||
	    stor_mp_u64_at(a, 2, UINT64_MAX, &m->index) != 0 || data_at(a, 3, &v) != 0)
		return ERR_CORRUPT;
	m->raw_len = v.raw_len;
	m->codec = v.codec;
	m->stored_len = (uint32_t)v.data_len;
	if (r->json == NULL)
		return 0;
	if (v.codec == STOR_INVD_ZLIB)
		return inflate_to(v.data, v.data_len, v.raw_len, r->json);
	*r->json = malloc(v.data_len + 1);
	if (*r->json == NULL)
		return ERR_NOMEM;
	memcpy(*r->json, v.data, v.data_len);
	(*r->json)[v.data_len] = '\0';
	return 0;
}

static void w_lock(struct mp_writer *w, const struct stor_invd_lock *l)
{
	mp_w_array(w, 2);
	mp_w_uint(w, V_REC_VERSION);
	mp_w_array(w, V_LOCK_FIELDS);
	mp_w_uint(w, l->instance);
	mp_w_uint(w, l->node);
	mp_w_uint(w, l->gen);
	mp_w_uint(w, l->state);
	mp_w_uint(w, l->since);
	mp_w_uint(w, l->why);
	mp_w_cstr(w, l->by);
}

/* ---- apply ---- */

/* The lock of c's player; a player never seen reads as free at gen 0
 * (*fresh set, so the count grows when it is first written). */
static int ax_lock(struct stor_apply_ctx *ax, const char *player,
		   struct stor_invd_lock *l, int *fresh)
{
	uint8_t k[1 + STOR_INVD_PLAYER_MAX];
	const uint8_t *v;
	size_t vl;
	int rc = stor_ax_get(ax, k, pkey(k, V_PFX_LOCK, player), &v, &vl);

	memset(l, 0, sizeof(*l));
	snprintf(l->player, sizeof(l->player), "%s", player);
	*fresh = rc == ERR_NOTFOUND;
	if (rc == ERR_NOTFOUND)
		return 0;
	return rc != 0 ? rc : parse_env(v, vl, lock_fn, l);
}

static uint64_t ax_count(struct stor_apply_ctx *ax)
{
	uint8_t k = V_KEY_COUNT;
	const uint8_t *v;
	size_t vl;

	if (stor_ax_get(ax, &k, 1, &v, &vl) != 0 || vl != 8)
		return 0;
	return get_u64be(v);
}

static int put_lock(struct stor_apply_ctx *ax, const struct stor_invd_lock *l,
		    int fresh)
{
	uint8_t k[1 + STOR_INVD_PLAYER_MAX], cnt[8], ck = V_KEY_COUNT;
	struct mp_writer w;
	int rc;

	if (fresh) {
		put_u64be(cnt, ax_count(ax) + 1);
		(void)stor_ax_put(ax, &ck, 1, cnt, 8);
	}
	/* The index of held locks, so expiry looks at those only. */
	if (l->state == STOR_INVD_HELD)
		(void)stor_ax_put(ax, k, pkey(k, V_PFX_HELD, l->player), "", 1);
	else
		(void)stor_ax_del(ax, k, pkey(k, V_PFX_HELD, l->player));
	mp_writer_init(&w, V_LOCK_MSG_MAX);
	w_lock(&w, l);
	rc = mp_writer_error(&w);
	if (rc == 0)
		rc = stor_ax_put(ax, k, pkey(k, V_PFX_LOCK, l->player),
				 mp_writer_data(&w), mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

static int put_rec(struct stor_apply_ctx *ax, const struct v_cmd *v,
		   uint64_t gen, uint64_t index)
{
	uint8_t k[1 + STOR_INVD_PLAYER_MAX];
	struct mp_writer w;
	int rc;

	mp_writer_init(&w, STOR_INVD_DATA_MAX + 256);
	mp_w_array(&w, 2);
	mp_w_uint(&w, V_REC_VERSION);
	mp_w_array(&w, V_REC_FIELDS);
	mp_w_uint(&w, gen);
	mp_w_uint(&w, v->c.op == STOR_INVD_IMPORT ? 0 : v->c.instance);
	mp_w_uint(&w, index);
	mp_w_uint(&w, v->raw_len);
	mp_w_uint(&w, v->codec);
	mp_w_bin(&w, v->data, v->data_len);
	rc = mp_writer_error(&w);
	if (rc == 0)
		rc = stor_ax_put(ax, k, pkey(k, V_PFX_REC, v->c.player),
				 mp_writer_data(&w), mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

/* 1 if the stored record is this very upload (same generation, writer
 * and bytes): a retried proposal, or the game sending it again. */
static int ax_rec_same(struct stor_apply_ctx *ax, const struct v_cmd *c)
{
	uint8_t k[1 + STOR_INVD_PLAYER_MAX];
	struct stor_invd_meta m;
	struct rec_out r = {&m, NULL, NULL};
	const msgpack_object *o, *d;
	const uint8_t *v, *bytes;
	struct mp_doc doc;
	size_t vl, bl;
	int same = 0;

	if (stor_ax_get(ax, k, pkey(k, V_PFX_REC, c->c.player), &v, &vl) != 0 ||
	    parse_env(v, vl, rec_fn, &r) != 0 || m.gen != c->c.gen ||
	    m.instance != c->c.instance || m.raw_len != c->raw_len ||
	    m.codec != c->codec || mp_parse(&doc, v, vl) != 0)
		return 0;
	if (mp_array_at(doc.root, 1, &o) == 0 && mp_array_at(o, 5, &d) == 0 &&
	    mp_get_bin(d, &bytes, &bl) == 0)
		same = bl == c->data_len && memcmp(bytes, c->data, bl) == 0;
	mp_doc_free(&doc);
	return same;
}

static int refuse(struct stor *s, const struct v_cmd *v,
		  const struct stor_invd_lock *l, int rc, const char *why)
{
	const struct stor_invd_cmd *c = &v->c;

	TRACE_W(s->tr, "inventory",
		"%s for %s refused (%s): %s; command: instance %llu gen %llu; "
		"lock: %s, instance %llu, gen %llu",
		stor_invd_op_name(c->op), c->player, err_name(rc), why,
		(unsigned long long)c->instance, (unsigned long long)c->gen,
		l->state == STOR_INVD_HELD ? "held" : "free",
		(unsigned long long)l->instance, (unsigned long long)l->gen);
	return rc;
}

static void free_lock(struct stor_invd_lock *l, uint64_t index, uint8_t why,
		      const char *by)
{
	l->state = STOR_INVD_FREE;
	l->instance = 0;
	l->node = 0;
	l->since = index;
	l->why = why;
	snprintf(l->by, sizeof(l->by), "%s", by);
}

static int held_by(const struct stor_invd_lock *l, const struct v_cmd *v)
{
	return l->state == STOR_INVD_HELD && l->instance == v->c.instance &&
	       l->gen == v->c.gen;
}

static int apply_acquire(struct stor *s, struct stor_apply_ctx *ax,
			 const struct v_cmd *v, struct stor_invd_lock *l,
			 int fresh, uint64_t index)
{
	if (l->state == STOR_INVD_HELD)
		return l->instance == v->c.instance
			       ? 0
			       : refuse(s, v, l, ERR_BUSY,
					"held by another instance");
	if (fresh && ax_count(ax) >= STOR_INVD_PLAYERS_MAX)
		return refuse(s, v, l, ERR_AGAIN, "too many players");
	ASSERT(l->gen < UINT64_MAX);
	l->gen++;
	l->state = STOR_INVD_HELD;
	l->instance = v->c.instance;
	l->node = v->c.node;
	l->since = index;
	l->why = STOR_INVD_WHY_NONE;
	l->by[0] = '\0';
	return put_lock(ax, l, fresh);
}

static int apply_upload(struct stor *s, struct stor_apply_ctx *ax,
			const struct v_cmd *v, struct stor_invd_lock *l,
			uint64_t index)
{
	int rc;

	if (!held_by(l, v)) {
		if (v->c.gen != 0 && ax_rec_same(ax, v))
			return 0; /* this very upload, applied before */
		return refuse(s, v, l, ERR_CONFLICT,
			      l->state != STOR_INVD_HELD
				      ? "the lock is free"
			      : l->instance != v->c.instance
				      ? "not the lock's holder"
				      : "another generation than the lock's");
	}
	rc = put_rec(ax, v, l->gen, index);
	if (rc != 0 || !v->c.release)
		return rc;
	free_lock(l, index, STOR_INVD_WHY_RELEASED, "");
	return put_lock(ax, l, 0);
}

static int apply_import(struct stor *s, struct stor_apply_ctx *ax,
			const struct v_cmd *v, struct stor_invd_lock *l,
			int fresh, uint64_t index)
{
	int rc;

	if (l->state == STOR_INVD_HELD)
		return refuse(s, v, l, ERR_BUSY,
			      "the lock is held (release it first)");
	if (fresh && ax_count(ax) >= STOR_INVD_PLAYERS_MAX)
		return refuse(s, v, l, ERR_AGAIN, "too many players");
	l->gen++;
	l->since = index;
	snprintf(l->by, sizeof(l->by), "%s", v->c.admin);
	rc = put_rec(ax, v, l->gen, index);
	return rc != 0 ? rc : put_lock(ax, l, fresh);
}

static int v_apply_lock(struct stor *s, struct stor_apply_ctx *ax,
			const struct v_cmd *v, struct stor_invd_lock *l,
			uint64_t index)
{
	const struct stor_invd_cmd *c = &v->c;

	switch (c->op) {
	case STOR_INVD_RELEASE:
		if (held_by(l, v)) {
			free_lock(l, index, STOR_INVD_WHY_RELEASED, "");
			return put_lock(ax, l, 0);
		}
		if (l->state == STOR_INVD_FREE && l->gen == c->gen &&
		    l->why == STOR_INVD_WHY_RELEASED)
			return 0; /* released already (a retry) */
		return refuse(s, v, l, ERR_CONFLICT,
			      l->state != STOR_INVD_HELD ? "the lock is free"
			      : l->instance != c->instance
				      ? "not the lock's holder"
				      : "another generation than the lock's");
	case STOR_INVD_EXPIRE:
		if (l->state != STOR_INVD_HELD || l->gen != c->gen)
			return refuse(s, v, l, ERR_CONFLICT,
				      "not held at that generation");
		TRACE_I(s->tr, "inventory",
			"lock of %s (instance %llu, gen %llu) expired: %s",
			c->player, (unsigned long long)l->instance,
			(unsigned long long)l->gen, stor_invd_why_name(c->why));
		free_lock(l, index, c->why, "");
		return put_lock(ax, l, 0);
	default:
		ASSERT(c->op == STOR_INVD_ADMIN_RELEASE);
		if (l->state != STOR_INVD_HELD)
			return refuse(s, v, l, ERR_CONFLICT,
				      "the lock is free");
		TRACE_I(s->tr, "inventory",
			"lock of %s (instance %llu, gen %llu) released by "
			"admin %s",
			c->player, (unsigned long long)l->instance,
			(unsigned long long)l->gen, c->admin);
		free_lock(l, index, STOR_INVD_WHY_ADMIN, c->admin);
		return put_lock(ax, l, 0);
	}
}

static int v_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		   const msgpack_object *body)
{
	struct stor *s = ctx;
	struct stor_invd_lock l;
	struct v_cmd v;
	int fresh, rc;

	rc = v_decode(body, &v);
	if (rc != 0) {
		TRACE_W(s->tr, "inventory",
			"entry %llu refused: a malformed command",
			(unsigned long long)index);
		return rc;
	}
	rc = ax_lock(ax, v.c.player, &l, &fresh);
	if (rc != 0)
		return rc;
	switch (v.c.op) {
	case STOR_INVD_ACQUIRE:
		return apply_acquire(s, ax, &v, &l, fresh, index);
	case STOR_INVD_UPLOAD:
		return apply_upload(s, ax, &v, &l, index);
	case STOR_INVD_IMPORT:
		return apply_import(s, ax, &v, &l, fresh, index);
	default:
		if (fresh)
			return refuse(s, &v, &l, ERR_NOTFOUND,
				      "no such player");
		return v_apply_lock(s, ax, &v, &l, index);
	}
}

int stor_invd_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_INVENTORY, "inventory",
				    v_apply, s);
}

/* ---- encode ---- */

static int cmd_ok(const struct stor_invd_cmd *c)
{
	if (!player_ok(c->player) || !admin_ok(c->admin))
		return 0;
	switch (c->op) {
	case STOR_INVD_ACQUIRE:
	case STOR_INVD_RELEASE:
		return c->instance != 0;
	case STOR_INVD_UPLOAD:
		return c->instance != 0 && c->release <= 1 && c->json != NULL &&
		       c->json_len > 0;
	case STOR_INVD_EXPIRE:
		return c->why <= STOR_INVD_WHY_MAX;
	case STOR_INVD_ADMIN_RELEASE:
		return 1;
	case STOR_INVD_IMPORT:
		return c->json != NULL && c->json_len > 0;
	default:
		return 0;
	}
}

/* Writes [raw_len, codec, data]: zlib past the threshold when smaller. */
static int w_data(struct mp_writer *w, const char *json, size_t n)
{
	uLongf cl = compressBound((uLong)n);
	uint8_t *z;

	if (n < STOR_INVD_COMPRESS_MIN) {
		if (n > STOR_INVD_DATA_MAX)
			return ERR_TOOBIG;
		mp_w_uint(w, n);
		mp_w_uint(w, STOR_INVD_RAW);
		mp_w_bin(w, json, n);
		return 0;
	}
	z = malloc(cl);
	if (z == NULL)
		return ERR_NOMEM;
	if (compress2(z, &cl, (const Bytef *)json, (uLong)n, V_ZLEVEL) ==
		    Z_OK &&
	    cl < n) {
		mp_w_uint(w, n);
		mp_w_uint(w, STOR_INVD_ZLIB);
		mp_w_bin(w, z, cl);
	} else if (n <= STOR_INVD_DATA_MAX) {
		mp_w_uint(w, n);
		mp_w_uint(w, STOR_INVD_RAW);
		mp_w_bin(w, json, n);
	} else {
		free(z);
		return ERR_TOOBIG;
	}
	free(z);
	return 0;
}

static const uint32_t v_nfields[] = {4, 4, 8, 4, 3, 6};

int stor_invd_encode(const struct stor_invd_cmd *c, uint8_t **out,
		     size_t *len)
{
	struct mp_writer w;
	int rc = 0;

	if (!cmd_ok(c))
		return ERR_INVAL;
	if ((c->op == STOR_INVD_UPLOAD || c->op == STOR_INVD_IMPORT) &&
	    c->json_len > STOR_INVD_RAW_MAX)
		return ERR_TOOBIG;
	mp_writer_init(&w, STOR_INVD_DATA_MAX + 1024);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_INVENTORY);
	mp_w_array(&w, v_nfields[c->op]);
	mp_w_uint(&w, (uint64_t)c->op);
	mp_w_cstr(&w, c->player);
	switch (c->op) {
	case STOR_INVD_ACQUIRE:
		mp_w_uint(&w, c->instance);
		mp_w_uint(&w, c->node);
		break;
	case STOR_INVD_RELEASE:
		mp_w_uint(&w, c->instance);
		mp_w_uint(&w, c->gen);
		break;
	case STOR_INVD_UPLOAD:
		mp_w_uint(&w, c->instance);
		mp_w_uint(&w, c->gen);
		mp_w_uint(&w, c->release);
		rc = w_data(&w, c->json, c->json_len);
		break;
	case STOR_INVD_EXPIRE:
		mp_w_uint(&w, c->gen);
		mp_w_uint(&w, c->why);
		break;
	case STOR_INVD_ADMIN_RELEASE:
		mp_w_cstr(&w, c->admin);
		break;
	default:
		mp_w_cstr(&w, c->admin);
		rc = w_data(&w, c->json, c->json_len);
		break;
	}
	if (rc == 0)
		rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

/* ---- reads ---- */

static int state_get(struct stor *s, uint8_t pfx, const char *player,
		     uint8_t **v, size_t *vl)
{
	uint8_t k[1 + STOR_INVD_PLAYER_MAX];

	if (!player_ok(player))
		return ERR_NOTFOUND;
	return stor_state_get(s, STOR_DOMAIN_INVENTORY, k,
			      pkey(k, pfx, player), v, vl);
}

int stor_invd_lock_get(struct stor *s, const char *player,
		       struct stor_invd_lock *out)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc = state_get(s, V_PFX_LOCK, player, &v, &vl);

	memset(out, 0, sizeof(*out));
	if (rc == 0) {
		snprintf(out->player, sizeof(out->player), "%s", player);
		rc = parse_env(v, vl, lock_fn, out);
	}
	free(v);
	return rc;
}

int stor_invd_data(struct stor *s, const char *player,
		   struct stor_invd_meta *meta, char **json, size_t *len)
{
	struct stor_invd_meta m;
	struct rec_out r = {meta ? meta : &m, json, len};
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc = state_get(s, V_PFX_REC, player, &v, &vl);

	if (json != NULL)
		*json = NULL;
	if (rc == 0)
		rc = parse_env(v, vl, rec_fn, &r);
	if (rc == 0 && len != NULL)
		*len = r.meta->raw_len;
	free(v);
	return rc;
}

int stor_invd_meta_get(struct stor *s, const char *player,
		       struct stor_invd_meta *out)
{
	return stor_invd_data(s, player, out, NULL, NULL);
}

struct v_list {
	struct stor_invd_lock *out;
	size_t n, max;
};

static int collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
		   size_t vl)
{
	struct v_list *l = arg;
	struct stor_invd_lock *o;

	if (l->n == l->max)
		return 1;
	if (kl < 2 || kl > 1 + STOR_INVD_PLAYER_MAX)
		return ERR_CORRUPT;
	o = &l->out[l->n];
	memset(o, 0, sizeof(*o));
	memcpy(o->player, k + 1, kl - 1);
	o->player[kl - 1] = '\0';
	if (parse_env(v, vl, lock_fn, o) != 0)
		return ERR_CORRUPT;
	l->n++;
	return 0;
}

int stor_invd_list(struct stor *s, const char *after,
		   struct stor_invd_lock *out, size_t max, size_t *n)
{
	uint8_t lo[2 + STOR_INVD_PLAYER_MAX], hi = V_PFX_LOCK + 1;
	struct v_list l = {out, 0, max};
	size_t lol = 1;
	int rc;

	lo[0] = V_PFX_LOCK;
	if (after != NULL && after[0] != '\0' && player_ok(after)) {
		lol = pkey(lo, V_PFX_LOCK, after);
		lo[lol++] = '\0'; /* the first key after `after` */
	}
	rc = stor_state_scan(s, STOR_DOMAIN_INVENTORY, lo, lol, &hi, 1,
			     collect, &l);
	*n = l.n;
	return rc;
}

struct v_names {
	char (*names)[STOR_INVD_PLAYER_MAX + 1];
	size_t n, max;
};

static int collect_name(void *arg, const uint8_t *k, size_t kl,
			const uint8_t *v, size_t vl)
{
	struct v_names *l = arg;

	(void)v;
	(void)vl;
	if (l->n == l->max)
		return 1;
	if (kl < 2 || kl > 1 + STOR_INVD_PLAYER_MAX)
		return ERR_CORRUPT;
	memcpy(l->names[l->n], k + 1, kl - 1);
	l->names[l->n++][kl - 1] = '\0';
	return 0;
}

int stor_invd_list_held(struct stor *s, const char *after,
			struct stor_invd_lock *out, size_t max, size_t *n)
{
	uint8_t lo[2 + STOR_INVD_PLAYER_MAX], hi = V_PFX_HELD + 1;
	struct v_names l = {NULL, 0, max};
	size_t lol = 1;
	int rc;

	*n = 0;
	l.names = calloc(max ? max : 1, sizeof(*l.names));
	if (l.names == NULL)
		return ERR_NOMEM;
	lo[0] = V_PFX_HELD;
	if (after != NULL && after[0] != '\0' && player_ok(after)) {
		lol = pkey(lo, V_PFX_HELD, after);
		lo[lol++] = '\0';
	}
	rc = stor_state_scan(s, STOR_DOMAIN_INVENTORY, lo, lol, &hi, 1,
			     collect_name, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		rc = stor_invd_lock_get(s, l.names[i], &out[*n]);
		if (rc == 0)
			(*n)++;
	}
	free(l.names);
	return rc;
}

int stor_invd_counts(struct stor *s, uint64_t *players)
{
	uint8_t k = V_KEY_COUNT, *v = NULL;
	size_t vl = 0;
	int rc = stor_state_get(s, STOR_DOMAIN_INVENTORY, &k, 1, &v, &vl);

	*players = 0;
	if (rc == 0 && vl == 8)
		*players = get_u64be(v);
	free(v);
	return rc == ERR_NOTFOUND ? 0 : rc;
}
