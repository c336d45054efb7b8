/*
 * session.c: client sessions (Raft thesis 6.3): a retried command is
 * answered from its session's record instead of being applied twice. See
 * session.h for the design, the record layout and the command bodies.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/stor_int.h"

#define REC_VERSION 1
#define REC_HEAD    (1 + 8 + 8 + 2)
#define REC_ITEM    (8 + 8 + 4)
#define REC_MAX	    (REC_HEAD + REC_ITEM * (STOR_SESS_WINDOW_MAX + 1))

struct sess_item {
	uint64_t seq, index;
	int result;
};

/* A record decoded; items sorted by seq, one slot spare for an insert. */
struct sess_rec {
	uint64_t last_ms, floor;
	uint32_t n;
	struct sess_item items[STOR_SESS_WINDOW_MAX + 1];
};

struct sess_cmd {
	uint64_t op;
	const char *client;
	size_t client_len;
	uint64_t seq, wall_ms, ack, window;
	const uint8_t *inner;
	size_t inner_len;
	uint64_t ttl_ms; /* expire: now_ms is wall_ms */
};

static int client_ok(const char *c, size_t n)
{
	return c != NULL && n > 0 && n <= STOR_SESS_CLIENT_MAX;
}

static int rec_decode(const uint8_t *v, size_t vl, struct sess_rec *r)
{
	const uint8_t *p;

	if (vl < REC_HEAD || v[0] != REC_VERSION)
		return ERR_CORRUPT;
	r->last_ms = get_u64be(v + 1);
	r->floor = get_u64be(v + 9);
	r->n = (uint32_t)v[17] << 8 | v[18];
	if (r->n > STOR_SESS_WINDOW_MAX || vl != REC_HEAD + REC_ITEM * r->n)
		return ERR_CORRUPT;
	p = v + REC_HEAD;
	for (uint32_t i = 0; i < r->n; i++, p += REC_ITEM) {
		r->items[i].seq = get_u64be(p);
		r->items[i].index = get_u64be(p + 8);
		r->items[i].result = -(int)get_u32le(p + 16);
		if (i > 0 && r->items[i].seq <= r->items[i - 1].seq)
			return ERR_CORRUPT;
	}
	return 0;
}

/* Encodes r into buf (REC_MAX bytes); returns the length. */
static size_t rec_encode(const struct sess_rec *r, uint8_t *buf)
{
	uint8_t *p = buf + REC_HEAD;

	ASSERT(r->n <= STOR_SESS_WINDOW_MAX);
	buf[0] = REC_VERSION;
	put_u64be(buf + 1, r->last_ms);
	put_u64be(buf + 9, r->floor);
	buf[17] = (uint8_t)(r->n >> 8);
	buf[18] = (uint8_t)r->n;
	for (uint32_t i = 0; i < r->n; i++, p += REC_ITEM) {
		ASSERT(r->items[i].result <= 0);
		put_u64be(p, r->items[i].seq);
		put_u64be(p + 8, r->items[i].index);
		put_u32le(p + 16, (uint32_t)-r->items[i].result);
	}
	return (size_t)(p - buf);
}

static const struct sess_item *rec_find(const struct sess_rec *r, uint64_t seq)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (r->items[i].seq == seq)
			return &r->items[i];
	return NULL;
}

/* Inserts (seq, index, result) in order, then drops what the client
 * acknowledged and what exceeds the window, raising the floor over both. */
static void rec_add(struct sess_rec *r, uint64_t seq, uint64_t index,
		    int result, uint64_t ack, uint32_t window)
{
	uint32_t i = r->n, drop = 0;

	ASSERT(r->n <= STOR_SESS_WINDOW_MAX && window >= 1);
	while (i > 0 && r->items[i - 1].seq > seq) {
		r->items[i] = r->items[i - 1];
		i--;
	}
	r->items[i] = (struct sess_item){seq, index, result};
	r->n++;
	if (ack > 0 && ack - 1 > r->floor)
		r->floor = ack - 1;
	while (drop < r->n &&
	       (r->items[drop].seq <= r->floor || r->n - drop > window)) {
		if (r->items[drop].seq > r->floor)
			r->floor = r->items[drop].seq;
		drop++;
	}
	memmove(r->items, r->items + drop, (r->n - drop) * sizeof(r->items[0]));
	r->n -= drop;
	ASSERT(r->n <= window);
}

static int sess_decode(const msgpack_object *body, struct sess_cmd *c)
{
	const msgpack_object *o[7];
	uint32_t n;

	memset(c, 0, sizeof(*c));
	if (mp_get_array(body, &n) != 0 || n < 1 || n > 7)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < n; i++)
		if (mp_array_at(body, i, &o[i]) != 0)
			return ERR_MALFORMED;
	if (mp_get_u64(o[0], &c->op) != 0)
		return ERR_MALFORMED;
	if (c->op == STOR_SESS_EXPIRE)
		return n == 3 && mp_get_u64(o[1], &c->wall_ms) == 0 &&
			       mp_get_u64(o[2], &c->ttl_ms) == 0
			   ? 0
			   : ERR_MALFORMED;
	if (c->op != STOR_SESS_APPLY || n != 7 ||
	    mp_get_str(o[1], &c->client, &c->client_len) != 0 ||
	    mp_get_u64(o[2], &c->seq) != 0 ||
	    mp_get_u64(o[3], &c->wall_ms) != 0 ||
	    mp_get_u64(o[4], &c->ack) != 0 ||
	    mp_get_u64(o[5], &c->window) != 0 ||
	    stor_mp_bytes(o[6], &c->inner, &c->inner_len) != 0)
		return ERR_MALFORMED;
	if (!client_ok(c->client, c->client_len) || c->seq == 0 ||
	    c->window == 0 || c->window > STOR_SESS_WINDOW_MAX ||
	    c->ack > c->seq)
		return ERR_MALFORMED;
	return 0;
}

int stor_sess_check(const msgpack_object *body)
{
	struct sess_cmd c;

	return sess_decode(body, &c);
}

/* The record of c's client: *r decoded, or empty (*found 0). */
static int load_rec(struct stor_apply_ctx *ax, const struct sess_cmd *c,
		    struct sess_rec *r, int *found)
{
	const uint8_t *v;
	size_t vl;
	int rc = stor_ax_get(ax, c->client, c->client_len, &v, &vl);

	r->n = 0;
	r->last_ms = 0;
	r->floor = 0;
	*found = rc == 0;
	if (rc == ERR_NOTFOUND)
		return 0;
	return rc != 0 ? rc : rec_decode(v, vl, r);
}

static int apply_cmd(struct stor *s, struct stor_apply_ctx *ax, uint64_t index,
		     const struct sess_cmd *c)
{
	const struct sess_item *hit;
	struct sess_rec *r;
	uint8_t *buf = NULL;
	int rc, found, res;

	r = malloc(sizeof(*r));
	if (r == NULL)
		return ERR_NOMEM;
	rc = load_rec(ax, c, r, &found);
	if (rc != 0)
		goto out;
	hit = rec_find(r, c->seq);
	if (hit != NULL) {
		/* A retry: the first attempt's answer, nothing applied. */
		s->sess.deduplicated++;
		rc = hit->result;
		goto out;
	}
	if (c->seq <= r->floor) {
		s->sess.expired++;
		rc = ERR_EXPIRED;
		goto out;
	}
	res = stor_ax_dispatch(ax, index, c->inner, c->inner_len,
			       STOR_DOMAIN_SESSION);
	/* A positive result cannot be stored negated; none exists today. */
	ASSERT(res <= 0);
	rec_add(r, c->seq, index, res, c->ack, (uint32_t)c->window);
	if (c->wall_ms > r->last_ms)
		r->last_ms = c->wall_ms;
	buf = malloc(REC_MAX);
	if (buf == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* The dispatch above went through other domains' keys; the record
	 * goes back under ours. */
	stor_ax_put(ax, c->client, c->client_len, buf, rec_encode(r, buf));
	rc = res;
out:
	free(buf);
	free(r);
	return rc;
}

struct expire_scan {
	uint64_t cutoff;
	size_t n;
	char (*keys)[STOR_SESS_CLIENT_MAX];
	size_t *lens;
};

static int expire_one(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
		      size_t vl)
{
	struct expire_scan *es = arg;

	if (kl == 0 || kl > STOR_SESS_CLIENT_MAX || vl < REC_HEAD)
		return ERR_CORRUPT;
	if (get_u64be(v + 1) >= es->cutoff)
		return 0;
	memcpy(es->keys[es->n], k, kl);
	es->lens[es->n] = kl;
	es->n++;
	return es->n == STOR_SESS_EXPIRE_MAX ? 1 : 0;
}

/* Removes sessions idle since before now - ttl. The scan sees the state
 * as of this entry (stor_ax_scan), so every node removes the same ones. */
static int apply_expire(struct stor *s, struct stor_apply_ctx *ax,
			const struct sess_cmd *c)
{
	struct expire_scan es = {0};
	int rc;

	if (c->wall_ms <= c->ttl_ms)
		return 0;
	es.cutoff = c->wall_ms - c->ttl_ms;
	es.keys = malloc(STOR_SESS_EXPIRE_MAX * sizeof(*es.keys));
	es.lens = malloc(STOR_SESS_EXPIRE_MAX * sizeof(*es.lens));
	rc = es.keys && es.lens ? 0 : ERR_NOMEM;
	if (rc == 0)
		rc = stor_ax_scan(ax, expire_one, &es);
	for (size_t i = 0; rc == 0 && i < es.n; i++)
		stor_ax_del(ax, es.keys[i], es.lens[i]);
	if (rc == 0)
		s->sess.sessions_expired += es.n;
	free(es.keys);
	free(es.lens);
	return rc;
}

static int sess_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		      const msgpack_object *body)
{
	struct sess_cmd c;
	int rc = sess_decode(body, &c);

	if (rc != 0)
		return rc;
	if (c.op == STOR_SESS_EXPIRE)
		return apply_expire(ctx, ax, &c);
	return apply_cmd(ctx, ax, index, &c);
}

int stor_sess_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_SESSION, "session",
				    sess_apply, s);
}

/* An envelope's domain type, to refuse a session inside a session. */
static int inner_type(const uint8_t *cmd, size_t len, uint8_t *type)
{
	const msgpack_object *body;
	struct mp_doc doc;
	int rc = stor_cmd_decode(&doc, cmd, len, type, &body);

	if (rc == 0)
		mp_doc_free(&doc);
	return rc;
}

int stor_sess_encode(const char *client, size_t client_len, uint64_t seq,
		     uint64_t wall_ms, uint64_t ack, uint32_t window,
		     const uint8_t *inner, size_t inner_len, uint8_t **out,
		     size_t *len)
{
	struct mp_writer w;
	uint8_t type;
	int rc;

	if (!client_ok(client, client_len) || seq == 0 || ack > seq ||
	    window == 0 || window > STOR_SESS_WINDOW_MAX || inner == NULL ||
	    inner_len == 0 || inner_len > STOR_ENTRY_DATA_MAX - 256 ||
	    inner_type(inner, inner_len, &type) != 0 ||
	    type == STOR_DOMAIN_SESSION)
		return ERR_INVAL;
	mp_writer_init(&w, inner_len + STOR_SESS_CLIENT_MAX + 96);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_SESSION);
	mp_w_array(&w, 7);
	mp_w_uint(&w, STOR_SESS_APPLY);
	mp_w_str(&w, client, client_len);
	mp_w_uint(&w, seq);
	mp_w_uint(&w, wall_ms);
	mp_w_uint(&w, ack);
	mp_w_uint(&w, window);
	mp_w_bin(&w, inner, inner_len);
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

int stor_sess_expire_encode(uint64_t now_ms, uint64_t ttl_ms, uint8_t **out,
			    size_t *len)
{
	struct mp_writer w;
	int rc;

	mp_writer_init(&w, 64);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_SESSION);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_SESS_EXPIRE);
	mp_w_uint(&w, now_ms);
	mp_w_uint(&w, ttl_ms);
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

static int read_rec(struct stor *s, const char *client, size_t client_len,
		    struct sess_rec *r)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc;

	if (!client_ok(client, client_len))
		return ERR_INVAL;
	rc =
	    stor_state_get(s, STOR_DOMAIN_SESSION, client, client_len, &v, &vl);
	if (rc == 0)
		rc = rec_decode(v, vl, r);
	free(v);
	return rc;
}

int stor_sess_lookup(struct stor *s, const char *client, size_t client_len,
		     uint64_t seq, uint64_t *index, int *result)
{
	const struct sess_item *hit;
	struct sess_rec *r = malloc(sizeof(*r));
	int rc;

	if (r == NULL)
		return ERR_NOMEM;
	rc = read_rec(s, client, client_len, r);
	hit = rc == 0 ? rec_find(r, seq) : NULL;
	if (rc == 0 && hit == NULL)
		rc = ERR_NOTFOUND;
	if (hit != NULL) {
		*index = hit->index;
		*result = hit->result;
	}
	free(r);
	return rc;
}

int stor_sess_last(struct stor *s, const char *client, size_t client_len,
		   uint64_t *last_ms)
{
	struct sess_rec *r = malloc(sizeof(*r));
	int rc;

	if (r == NULL)
		return ERR_NOMEM;
	rc = read_rec(s, client, client_len, r);
	if (rc == 0)
		*last_ms = r->last_ms;
	free(r);
	return rc;
}

void stor_sess_stats(struct stor *s, struct stor_sess_stats *out)
{
	*out = s->sess;
}
