/*
 * sm.c: the replicated state machine engine (Raft paper, section 5.3:
 * "apply the entry to its state machine" once committed; section 8:
 * exactly-once semantics).
 *
 * The applied index is written in the same WriteBatch as the state
 * changes of the entries it covers, so after any crash the state is
 * exactly "all entries up to applied, each once": a batch is recovered
 * whole or not at all. Commands are msgpack [version, domain, body];
 * domains register an apply function for their type. Applying is
 * deterministic: a command that does not decode is rejected the same way
 * on every node, and a limit hit while building a batch aborts the call
 * (a storage error, retried with fewer entries), never one entry.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "storage/stor_int.h"

struct stor_apply_ctx {
	struct stor *s;
	struct kv_batch *b;
	uint8_t domain;
	int err;         /* first failure of a put/delete: aborts the call */
	uint64_t done_index, done_term; /* the last entry applied in b */
	int depth;       /* stor_ax_dispatch nesting */
	uint8_t *got;    /* the last value stor_ax_get returned */
	uint8_t key[STATE_PREFIX + STOR_KEY_MAX];
};

void stor_gen_prefix(uint8_t *out, uint32_t gen)
{
	out[0] = (uint8_t)(gen >> 24);
	out[1] = (uint8_t)(gen >> 16);
	out[2] = (uint8_t)(gen >> 8);
	out[3] = (uint8_t)gen;
}

void stor_state_key(uint8_t *out, uint32_t gen, uint8_t domain)
{
	stor_gen_prefix(out, gen);
	out[4] = domain;
}

int stor_register_domain(struct stor *s, uint8_t type, const char *name,
			 stor_apply_fn fn, void *ctx)
{
	struct stor_domain *d;

	if (type == 0 || fn == NULL || name == NULL)
		return ERR_INVAL;
	for (size_t i = 0; i < s->ndomains; i++)
		if (s->domains[i].type == type)
			return ERR_EXISTS;
	if (s->ndomains == STOR_DOMAINS_MAX)
		return ERR_AGAIN;
	d = &s->domains[s->ndomains++];
	d->type = type;
	d->fn = fn;
	d->ctx = ctx;
	strncpy(d->name, name, sizeof(d->name) - 1);
	return 0;
}

/* Deletes state of generations other than the current one: what an
 * install left behind when a crash cut it short, or the old generation
 * whose range delete did not reach the disk. */
static int drop_stale_generations(struct stor *s)
{
	uint8_t lo[4] = {0, 0, 0, 0}, cur[4], next[4], top[4] = {
		0xff, 0xff, 0xff, 0xff};
	struct kv_iter *it;
	struct kv_batch b;
	int stale = 0, rc = 0;

	stor_gen_prefix(cur, s->gen);
	stor_gen_prefix(next, s->gen + 1);
	it = s->kv->e->iter_new(s->kv, NULL, KV_CF_STATE, lo, 4, cur, 4);
	if (it == NULL)
		return ERR_NOMEM;
	s->kv->e->iter_first(it);
	stale |= s->kv->e->iter_valid(it);
	s->kv->e->iter_free(it);
	it = s->kv->e->iter_new(s->kv, NULL, KV_CF_STATE, next, 4, NULL, 0);
	if (it == NULL)
		return ERR_NOMEM;
	s->kv->e->iter_first(it);
	stale |= s->kv->e->iter_valid(it);
	s->kv->e->iter_free(it);
	if (!stale)
		return 0;
	TRACE_W(s->tr, TRACE_MOD, "dropping state of stale generations");
	kv_batch_init(&b);
	rc = kv_batch_delrange(&b, KV_CF_STATE, lo, 4, cur, 4);
	if (rc == 0)
		rc = kv_batch_delrange(&b, KV_CF_STATE, next, 4, top, 4);
	if (rc == 0)
		rc = stor_write(s, &b, 1, "drop stale state");
	kv_batch_free(&b);
	return rc;
}

int stor_sm_open(struct stor *s)
{
	uint64_t v[2];
	int rc;

	rc = stor_meta_load(s, META_APPLIED, v, 2);
	if (rc != 0)
		return rc;
	s->applied = v[0];
	s->applied_term = v[1];
	rc = stor_meta_load(s, META_GEN, v, 1);
	if (rc != 0)
		return rc;
	if (v[0] >= UINT32_MAX - 1)
		return stor_fail(s, ERR_CORRUPT, "state generation %llu",
				 (unsigned long long)v[0]);
	s->gen = v[0] == 0 ? 1 : (uint32_t)v[0];
	return drop_stale_generations(s);
}

uint64_t stor_applied_index(struct stor *s)
{
	return s->applied;
}

uint64_t stor_applied_term(struct stor *s)
{
	return s->applied_term;
}

/* --- The apply context ------------------------------------------------ */

static int ax_key(struct stor_apply_ctx *ax, const void *k, size_t klen)
{
	if (klen > STOR_KEY_MAX)
		return ERR_TOOBIG;
	stor_state_key(ax->key, ax->s->gen, ax->domain);
	if (klen > 0)
		memcpy(ax->key + STATE_PREFIX, k, klen);
	return 0;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : (al > bl ? 1 : 0);
}

/* The latest write to key in the batch: 1 put (value set), 2 deleted,
 * 0 untouched. A linear scan: apply batches are bounded (the caller's n)
 * and only reads (a cas) pay for it. */
static int batch_lookup(const struct kv_batch *b, const uint8_t *k, size_t kl,
			const uint8_t **v, size_t *vl)
{
	struct kv_op op;
	size_t off = 0;
	int found = 0;

	while (kv_batch_next(b->buf.p, b->buf.len, &off, &op)) {
		if (op.cf != KV_CF_STATE)
			continue;
		if (op.op == KV_OP_DELRANGE) {
			if (key_cmp(op.k, op.kl, k, kl) <= 0 &&
			    key_cmp(k, kl, op.v, op.vl) < 0)
				found = 2;
			continue;
		}
		if (key_cmp(op.k, op.kl, k, kl) != 0)
			continue;
		found = op.op == KV_OP_PUT ? 1 : 2;
		*v = op.v;
		*vl = op.vl;
	}
	return found;
}

int stor_ax_get(struct stor_apply_ctx *ax, const void *k, size_t klen,
		const uint8_t **v, size_t *vlen)
{
	const uint8_t *bv = NULL;
	size_t bvl = 0;
	int rc, hit;

	free(ax->got);
	ax->got = NULL;
	rc = ax_key(ax, k, klen);
	if (rc != 0)
		return rc;
	hit = batch_lookup(ax->b, ax->key, STATE_PREFIX + klen, &bv, &bvl);
	if (hit == 1) {
		*v = bv;
		*vlen = bvl;
		return 0;
	}
	if (hit == 2)
		return ERR_NOTFOUND;
	rc = stor_get(ax->s, KV_CF_STATE, ax->key, STATE_PREFIX + klen,
		      &ax->got, vlen);
	if (rc == 0)
		*v = ax->got;
	else if (rc != ERR_NOTFOUND && ax->err == 0)
		ax->err = rc;
	return rc;
}

int stor_ax_put(struct stor_apply_ctx *ax, const void *k, size_t klen,
		const void *v, size_t vlen)
{
	int rc;

	/* Sizes come from the command: a result, the same on every node. */
	if (vlen > STOR_VALUE_MAX || klen > STOR_KEY_MAX)
		return ERR_TOOBIG;
	rc = ax_key(ax, k, klen);
	if (rc == 0)
		rc = kv_batch_put(ax->b, KV_CF_STATE, ax->key,
				  STATE_PREFIX + klen, v, vlen);
	if (rc != 0 && ax->err == 0)
		ax->err = rc;
	return rc;
}

int stor_ax_del(struct stor_apply_ctx *ax, const void *k, size_t klen)
{
	int rc;

	if (klen > STOR_KEY_MAX)
		return ERR_TOOBIG;
	rc = ax_key(ax, k, klen);
	if (rc == 0)
		rc = kv_batch_del(ax->b, KV_CF_STATE, ax->key,
				  STATE_PREFIX + klen);
	if (rc != 0 && ax->err == 0)
		ax->err = rc;
	return rc;
}

/* --- Commands --------------------------------------------------------- */

int stor_cmd_decode(struct mp_doc *doc, const uint8_t *buf, size_t len,
		    uint8_t *type, const msgpack_object **body)
{
	const msgpack_object *o;
	uint64_t ver, t;
	uint32_t n;
	int rc;

	rc = mp_parse(doc, buf, len);
	if (rc != 0)
		return rc;
	rc = mp_get_array(doc->root, &n);
	if (rc == 0 && n != 3)
		rc = ERR_MALFORMED;
	if (rc == 0 && (rc = mp_array_at(doc->root, 0, &o)) == 0)
		rc = mp_get_u64(o, &ver);
	if (rc == 0 && ver != STOR_CMD_VERSION)
		rc = ERR_VERSION;
	if (rc == 0 && (rc = mp_array_at(doc->root, 1, &o)) == 0)
		rc = mp_get_u64(o, &t);
	if (rc == 0 && (t == 0 || t > 255))
		rc = ERR_MALFORMED;
	if (rc == 0)
		rc = mp_array_at(doc->root, 2, body);
	if (rc != 0) {
		mp_doc_free(doc);
		return rc;
	}
	*type = (uint8_t)t;
	return 0;
}

static const struct stor_domain *find_domain(struct stor *s, uint8_t type)
{
	for (size_t i = 0; i < s->ndomains; i++)
		if (s->domains[i].type == type)
			return &s->domains[i];
	return NULL;
}

int stor_ax_dispatch(struct stor_apply_ctx *ax, uint64_t index,
		     const uint8_t *cmd, size_t len, uint8_t refuse_type)
{
	const struct stor_domain *d;
	const msgpack_object *body;
	struct mp_doc doc;
	uint8_t type, outer = ax->domain;
	int rc;

	ASSERT(ax->depth == 0);
	rc = stor_cmd_decode(&doc, cmd, len, &type, &body);
	if (rc != 0)
		return rc;
	d = find_domain(ax->s, type);
	if (d == NULL) {
		rc = ERR_NOTFOUND;
	} else if (type == refuse_type) {
		rc = ERR_MALFORMED;
	} else {
		ax->domain = type;
		ax->depth++;
		rc = d->fn(d->ctx, ax, index, body);
		ax->depth--;
		ax->domain = outer;
	}
	mp_doc_free(&doc);
	return rc;
}

/* Writes the batch so far with the applied index of its last entry, and
 * starts an empty one: a state both before and after any crash. */
static int ax_flush(struct stor_apply_ctx *ax)
{
	uint64_t v[2] = {ax->done_index, ax->done_term};
	int rc;

	if (ax->b->buf.len == 0)
		return 0;
	ASSERT(ax->done_index >= ax->s->applied);
	rc = stor_batch_meta(ax->b, META_APPLIED, v, 2);
	if (rc == 0)
		rc = stor_write(ax->s, ax->b, 0, "apply");
	if (rc != 0)
		return rc;
	ax->s->applied = v[0];
	ax->s->applied_term = v[1];
	kv_batch_free(ax->b);
	kv_batch_init(ax->b);
	return 0;
}

int stor_ax_scan(struct stor_apply_ctx *ax, stor_scan_fn fn, void *arg)
{
	return stor_ax_scan_range(ax, NULL, 0, NULL, 0, fn, arg);
}

int stor_ax_scan_range(struct stor_apply_ctx *ax, const void *lo, size_t lol,
		       const void *hi, size_t hil, stor_scan_fn fn, void *arg)
{
	int rc;

	free(ax->got);
	ax->got = NULL;
	rc = ax_flush(ax);
	if (rc == 0)
		rc = stor_state_scan(ax->s, ax->domain, lo, lol, hi, hil, fn,
				     arg);
	if (rc != 0 && rc != ERR_NOMEM && ax->err == 0)
		ax->err = rc;
	return rc;
}

int stor_ax_get_in(struct stor_apply_ctx *ax, uint8_t domain, const void *k,
		   size_t klen, const uint8_t **v, size_t *vlen)
{
	uint8_t own = ax->domain;
	int rc;

	ax->domain = domain;
	rc = stor_ax_get(ax, k, klen, v, vlen);
	ax->domain = own;
	return rc;
}

static int apply_one(struct stor_apply_ctx *ax, const struct stor_entry *e)
{
	const struct stor_domain *d;
	const msgpack_object *body;
	struct mp_doc doc;
	uint8_t type;
	int rc;

	if (e->type != STOR_ENTRY_COMMAND)
		return 0;
	rc = stor_cmd_decode(&doc, e->data, e->len, &type, &body);
	if (rc != 0)
		return rc;
	d = find_domain(ax->s, type);
	if (d == NULL) {
		rc = ERR_NOTFOUND;
	} else {
		ax->domain = type;
		rc = d->fn(d->ctx, ax, e->index, body);
	}
	mp_doc_free(&doc);
	free(ax->got);
	ax->got = NULL;
	return rc;
}

int stor_apply(struct stor *s, const struct stor_entry *e, size_t n,
	       int *results, int sync)
{
	struct stor_apply_ctx ax;
	struct kv_batch b;
	uint64_t v[2];
	int rc, res;

	if (n == 0)
		return 0;
	if ((rc = stor_check_write(s)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (e[i].index != s->applied + 1 + i)
			return ERR_INVAL;
	kv_batch_init(&b);
	memset(&ax, 0, sizeof(ax));
	ax.s = s;
	ax.b = &b;
	ax.done_index = s->applied;
	ax.done_term = s->applied_term;
	for (size_t i = 0; i < n; i++) {
		res = apply_one(&ax, &e[i]);
		if (ax.err != 0) {
			rc = ax.err;
			goto out;
		}
		if (results != NULL)
			results[i] = res;
		ax.done_index = e[i].index;
		ax.done_term = e[i].term;
	}
	v[0] = e[n - 1].index;
	v[1] = e[n - 1].term;
	rc = stor_batch_meta(&b, META_APPLIED, v, 2);
	if (rc == 0)
		rc = stor_write(s, &b, sync, "apply");
	if (rc == 0) {
		s->applied = v[0];
		s->applied_term = v[1];
	}
out:
	kv_batch_free(&b);
	return rc;
}

/* --- Reading the state ------------------------------------------------ */

int stor_state_get(struct stor *s, uint8_t domain, const void *k, size_t klen,
		   uint8_t **v, size_t *vlen)
{
	uint8_t key[STATE_PREFIX + STOR_KEY_MAX];

	if (klen > STOR_KEY_MAX)
		return ERR_TOOBIG;
	stor_state_key(key, s->gen, domain);
	if (klen > 0)
		memcpy(key + STATE_PREFIX, k, klen);
	return stor_get(s, KV_CF_STATE, key, STATE_PREFIX + klen, v, vlen);
}

int stor_state_scan(struct stor *s, uint8_t domain, const void *lo,
		    size_t lol, const void *hi, size_t hil, stor_scan_fn fn,
		    void *arg)
{
	uint8_t klo[STATE_PREFIX + STOR_KEY_MAX];
	uint8_t khi[STATE_PREFIX + STOR_KEY_MAX];
	char err[KV_ERRMSG_MAX] = "";
	const uint8_t *k, *v;
	struct kv_iter *it;
	size_t kl, vl, khl;
	int rc = stor_check_read(s), stop = 0;

	if (rc != 0)
		return rc;
	if (lol > STOR_KEY_MAX || hil > STOR_KEY_MAX)
		return ERR_TOOBIG;
	stor_state_key(klo, s->gen, domain);
	if (lol > 0)
		memcpy(klo + STATE_PREFIX, lo, lol);
	if (hi != NULL) {
		stor_state_key(khi, s->gen, domain);
		if (hil > 0)
			memcpy(khi + STATE_PREFIX, hi, hil);
		khl = STATE_PREFIX + hil;
	} else {
		/* The next domain's first key; domain 255 ends at the next
		 * generation. */
		stor_state_key(khi, domain == 255 ? s->gen + 1 : s->gen,
			       (uint8_t)(domain + 1));
		khl = domain == 255 ? 4 : STATE_PREFIX;
	}
	it = s->kv->e->iter_new(s->kv, NULL, KV_CF_STATE, klo,
				STATE_PREFIX + lol, khi, khl);
	if (it == NULL)
		return ERR_NOMEM;
	for (s->kv->e->iter_first(it); !stop && s->kv->e->iter_valid(it);
	     s->kv->e->iter_next(it)) {
		k = s->kv->e->iter_key(it, &kl);
		v = s->kv->e->iter_value(it, &vl);
		ASSERT(kl >= STATE_PREFIX);
		stop = fn(arg, k + STATE_PREFIX, kl - STATE_PREFIX, v, vl);
	}
	rc = s->kv->e->iter_error(it, err);
	s->kv->e->iter_free(it);
	if (rc != 0)
		return stor_fail(s, rc, "state scan: %s", err);
	return stop < 0 ? stop : 0;
}

/* FNV-1a, 64 bits: a stable digest for comparing two states, not a
 * defence against an adversary. */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t stor_digest_record(uint64_t h, const uint8_t *k, size_t kl,
			    const uint8_t *v, size_t vl)
{
	uint8_t len[8];

	put_u64le(len, kl);
	h = fnv(h, len, 8);
	h = fnv(h, k, kl);
	put_u64le(len, vl);
	h = fnv(h, len, 8);
	return fnv(h, v, vl);
}

int stor_state_digest(struct stor *s, uint64_t *digest, uint64_t *count)
{
	char err[KV_ERRMSG_MAX] = "";
	uint8_t lo[4], hi[4];
	const uint8_t *k, *v;
	struct kv_iter *it;
	uint64_t h = STOR_DIGEST_SEED, cnt = 0;
	size_t kl, vl;
	int rc = stor_check_read(s);

	if (rc != 0)
		return rc;
	stor_gen_prefix(lo, s->gen);
	stor_gen_prefix(hi, s->gen + 1);
	it = s->kv->e->iter_new(s->kv, NULL, KV_CF_STATE, lo, 4, hi, 4);
	if (it == NULL)
		return ERR_NOMEM;
	for (s->kv->e->iter_first(it); s->kv->e->iter_valid(it);
	     s->kv->e->iter_next(it)) {
		k = s->kv->e->iter_key(it, &kl);
		v = s->kv->e->iter_value(it, &vl);
		/* Skip the generation: states compare across generations. */
		h = stor_digest_record(h, k + 4, kl - 4, v, vl);
		cnt++;
	}
	rc = s->kv->e->iter_error(it, err);
	s->kv->e->iter_free(it);
	if (rc != 0)
		return stor_fail(s, rc, "state digest: %s", err);
	*digest = h;
	*count = cnt;
	return 0;
}
