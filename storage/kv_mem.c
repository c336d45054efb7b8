/*
 * kv_mem.c: the in-memory engine for the simulator, with a simulated
 * disk that fails the way disks fail (issue 4; SQLite's fault-injecting
 * file layer and TigerBeetle's VOPR storage are the models).
 *
 * The disk keeps two images per column family: `live`, what reads see,
 * and `durable`, what survives a crash. Every batch goes to live at once
 * and into a queue of write records, each with its checksum, as RocksDB's
 * WAL holds them. A synced record becomes durable, with every record
 * before it, fsync_latency_us of virtual time after it was issued
 * (stor_memdisk_advance moves time). A crash keeps the durable image plus
 * a random prefix of the unsynced records (the OS wrote some pages on its
 * own); the first record lost may be torn: half of its bytes reach the
 * disk, and recovery, like RocksDB's point-in-time recovery, must detect
 * it by its checksum and stop there. Single-threaded: the simulator drives
 * it from its one thread (no writer thread on top).
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/prng.h"
#include "storage/kv.h"
#include "storage/storage.h"

/* Bound on queued unsynced records: the simulator advances time far more
 * often than this many writes pile up; past it writes fail (ERR_AGAIN). */
#define MEM_PENDING_MAX 65536

struct mrec {
	uint8_t *k, *v;
	size_t kl, vl;
};

struct mmap {
	struct mrec *r;
	size_t n, cap;
};

struct pending {
	uint8_t *buf;
	size_t len;
	uint32_t crc;
	int sync;
	uint64_t deadline;
	struct pending *next;
};

struct stor_memdisk {
	struct stor_mem_faults f;
	struct prng rng;
	struct mmap live[KV_CF_COUNT];
	struct mmap durable[KV_CF_COUNT];
	struct pending *phead, *ptail;
	size_t npending;
	uint64_t now, last_deadline;
	int fail_next;
	int in_use;
	uint64_t torn_detected;
};

struct kv_mem {
	struct kv kv;
	struct stor_memdisk *d;
};

struct kv_snap {
	struct mmap m[KV_CF_COUNT];
};

struct kv_iter {
	const struct mmap *m;
	uint8_t *lo, *hi;
	size_t lol, hil, pos;
};

/* --- Sorted maps ------------------------------------------------------ */

static int cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0 || al == bl)
		return c;
	return al < bl ? -1 : 1;
}

/* First position whose key is >= k. */
static size_t lower(const struct mmap *m, const uint8_t *k, size_t kl)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(m->r[mid].k, m->r[mid].kl, k, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint8_t *dup(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n > 0 ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

static void rec_free(struct mrec *r)
{
	free(r->k);
	free(r->v);
}

static int map_put(struct mmap *m, const uint8_t *k, size_t kl,
		   const uint8_t *v, size_t vl)
{
	size_t i = lower(m, k, kl);
	uint8_t *nv = dup(v, vl), *nk;

	if (nv == NULL)
		return ERR_NOMEM;
	if (i < m->n && cmp(m->r[i].k, m->r[i].kl, k, kl) == 0) {
		free(m->r[i].v);
		m->r[i].v = nv;
		m->r[i].vl = vl;
		return 0;
	}
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct mrec *nr = realloc(m->r, ncap * sizeof(*nr));

		if (nr == NULL) {
			free(nv);
			return ERR_NOMEM;
		}
		m->r = nr;
		m->cap = ncap;
	}
	nk = dup(k, kl);
	if (nk == NULL) {
		free(nv);
		return ERR_NOMEM;
	}
	memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(*m->r));
	m->r[i] = (struct mrec){.k = nk, .kl = kl, .v = nv, .vl = vl};
	m->n++;
	return 0;
}

static void map_delrange(struct mmap *m, const uint8_t *lo, size_t lol,
			 const uint8_t *hi, size_t hil)
{
	size_t a = lower(m, lo, lol), b = lower(m, hi, hil);

	if (b <= a)
		return;
	for (size_t i = a; i < b; i++)
		rec_free(&m->r[i]);
	memmove(&m->r[a], &m->r[b], (m->n - b) * sizeof(*m->r));
	m->n -= b - a;
}

static void map_del(struct mmap *m, const uint8_t *k, size_t kl)
{
	size_t i = lower(m, k, kl);

	if (i >= m->n || cmp(m->r[i].k, m->r[i].kl, k, kl) != 0)
		return;
	rec_free(&m->r[i]);
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(*m->r));
	m->n--;
}

static void map_clear(struct mmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		rec_free(&m->r[i]);
	free(m->r);
	memset(m, 0, sizeof(*m));
}

static int map_copy(struct mmap *dst, const struct mmap *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->n == 0)
		return 0;
	dst->r = calloc(src->n, sizeof(*dst->r));
	if (dst->r == NULL)
		return ERR_NOMEM;
	dst->cap = src->n;
	for (size_t i = 0; i < src->n; i++) {
		dst->r[i].k = dup(src->r[i].k, src->r[i].kl);
		dst->r[i].v = dup(src->r[i].v, src->r[i].vl);
		dst->r[i].kl = src->r[i].kl;
		dst->r[i].vl = src->r[i].vl;
		dst->n++;
		if (dst->r[i].k == NULL || dst->r[i].v == NULL) {
			map_clear(dst);
			return ERR_NOMEM;
		}
	}
	return 0;
}

/* Replays an encoded batch onto maps. */
static int apply_batch(struct mmap *maps, const uint8_t *p, size_t len)
{
	struct kv_op op;
	size_t off = 0;
	int rc = 0;

	while (rc == 0 && kv_batch_next(p, len, &off, &op)) {
		struct mmap *m = &maps[op.cf];

		if (op.op == KV_OP_PUT)
			rc = map_put(m, op.k, op.kl, op.v, op.vl);
		else if (op.op == KV_OP_DEL)
			map_del(m, op.k, op.kl);
		else
			map_delrange(m, op.k, op.kl, op.v, op.vl);
	}
	return rc;
}

/* --- The simulated disk ----------------------------------------------- */

int stor_memdisk_new(const struct stor_mem_faults *f, const struct prng *rng,
		     struct stor_memdisk **out)
{
	struct stor_memdisk *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return ERR_NOMEM;
	if (f != NULL)
		d->f = *f;
	if (rng != NULL)
		d->rng = *rng;
	else
		prng_seed(&d->rng, 1);
	*out = d;
	return 0;
}

static void pending_pop(struct stor_memdisk *d)
{
	struct pending *p = d->phead;

	d->phead = p->next;
	if (d->phead == NULL)
		d->ptail = NULL;
	d->npending--;
	free(p->buf);
	free(p);
}

void stor_memdisk_free(struct stor_memdisk *d)
{
	if (d == NULL)
		return;
	ASSERT(!d->in_use);
	while (d->phead != NULL)
		pending_pop(d);
	for (int i = 0; i < KV_CF_COUNT; i++) {
		map_clear(&d->live[i]);
		map_clear(&d->durable[i]);
	}
	free(d);
}

void stor_memdisk_advance(struct stor_memdisk *d, uint64_t now_us)
{
	struct pending *p, *upto = NULL;

	if (now_us > d->now)
		d->now = now_us;
	for (p = d->phead; p != NULL; p = p->next)
		if (p->sync && p->deadline <= d->now)
			upto = p;
	if (upto == NULL)
		return;
	/* An fsync makes everything written before it durable too. */
	for (;;) {
		int last = d->phead == upto;

		/* Records were built by kv_batch_*; replay cannot fail but
		 * for memory, which the simulator does not limit. */
		ASSERT(apply_batch(d->durable, d->phead->buf, d->phead->len) ==
		       0);
		pending_pop(d);
		if (last)
			break;
	}
}

uint64_t stor_memdisk_next_durable(struct stor_memdisk *d)
{
	for (struct pending *p = d->phead; p != NULL; p = p->next)
		if (p->sync)
			return p->deadline;
	return 0;
}

void stor_memdisk_set_faults(struct stor_memdisk *d,
			     const struct stor_mem_faults *f)
{
	d->f = *f;
}

uint64_t stor_memdisk_torn_detected(struct stor_memdisk *d)
{
	return d->torn_detected;
}

void stor_memdisk_fail_next_write(struct stor_memdisk *d, int code)
{
	d->fail_next = code;
}

/* Recovery's check of one record, as RocksDB checks a WAL record: a
 * record whose checksum fails ends the replay. Returns 1 if replayed. */
static int recover_record(struct stor_memdisk *d, const uint8_t *buf,
			  size_t len, uint32_t crc)
{
	if (crc32c(0, buf, len) != crc) {
		d->torn_detected++;
		return 0;
	}
	ASSERT(apply_batch(d->durable, buf, len) == 0);
	return 1;
}

/* A torn copy of a record: a prefix of its bytes with the sector after
 * it garbled, as a power cut in mid-write leaves it. */
static void replay_torn(struct stor_memdisk *d, const struct pending *p)
{
	size_t keep = (size_t)prng_below(&d->rng, p->len);
	uint8_t *t = malloc(p->len);

	ASSERT(t != NULL);
	memcpy(t, p->buf, p->len);
	for (size_t i = keep; i < p->len; i++)
		t[i] = (uint8_t)prng_next(&d->rng);
	if (keep < p->len && t[keep] == p->buf[keep])
		t[keep] ^= 0x5a; /* make sure it is torn, not intact */
	ASSERT(recover_record(d, t, p->len, p->crc) == 0);
	free(t);
}

void stor_memdisk_crash(struct stor_memdisk *d)
{
	int lost = 0;

	ASSERT(!d->in_use);
	while (d->phead != NULL) {
		struct pending *p = d->phead;

		if (!lost && prng_chance(&d->rng, d->f.keep_unsynced)) {
			recover_record(d, p->buf, p->len, p->crc);
		} else if (!lost) {
			lost = 1;
			if (prng_chance(&d->rng, d->f.torn))
				replay_torn(d, p);
		}
		pending_pop(d);
	}
	d->last_deadline = 0;
	for (int i = 0; i < KV_CF_COUNT; i++) {
		map_clear(&d->live[i]);
		ASSERT(map_copy(&d->live[i], &d->durable[i]) == 0);
	}
}

/* --- The engine ------------------------------------------------------- */

static int m_get(struct kv *kv, const struct kv_snap *snap, enum kv_cf cf,
		 const void *k, size_t kl, uint8_t **v, size_t *vl, char *err)
{
	struct kv_mem *km = (struct kv_mem *)kv;
	const struct mmap *m = snap ? &snap->m[cf] : &km->d->live[cf];
	size_t i = lower(m, k, kl);

	(void)err;
	if (i >= m->n || cmp(m->r[i].k, m->r[i].kl, k, kl) != 0)
		return ERR_NOTFOUND;
	*v = dup(m->r[i].v, m->r[i].vl);
	if (*v == NULL)
		return ERR_NOMEM;
	*vl = m->r[i].vl;
	return 0;
}

static int m_write(struct kv *kv, const struct kv_batch *b, int sync,
		   char *err)
{
	struct stor_memdisk *d = ((struct kv_mem *)kv)->d;
	struct pending *p;
	int rc;

	if (d->fail_next != 0) {
		rc = d->fail_next;
		d->fail_next = 0;
		strcpy(err, rc == ERR_NOSPACE ? "IO error: injected: No space "
						"left on device"
					      : "IO error: injected write fault");
		return rc;
	}
	if (d->npending >= MEM_PENDING_MAX) {
		strcpy(err, "memdisk: too many unsynced writes");
		return ERR_IO;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->buf = dup(b->buf.p, b->buf.len)) == NULL) {
		free(p);
		return ERR_NOMEM;
	}
	rc = apply_batch(d->live, b->buf.p, b->buf.len);
	if (rc != 0) {
		free(p->buf);
		free(p);
		return rc;
	}
	p->len = b->buf.len;
	p->crc = crc32c(0, p->buf, p->len);
	p->sync = sync;
	if (sync) {
		p->deadline = d->now + d->f.fsync_latency_us;
		if (p->deadline < d->last_deadline)
			p->deadline = d->last_deadline;
		d->last_deadline = p->deadline;
	}
	if (d->ptail != NULL)
		d->ptail->next = p;
	else
		d->phead = p;
	d->ptail = p;
	d->npending++;
	if (sync && d->f.fsync_latency_us == 0)
		stor_memdisk_advance(d, d->now);
	return 0;
}

/* An fsync issued now: the newest unsynced record becomes a synced one,
 * durable (with all before it) after the fsync latency, exactly as if it
 * had been written synced. Nothing is queued for it: a record of no bytes
 * has nothing to tear. */
static int m_sync(struct kv *kv, char *err)
{
	struct stor_memdisk *d = ((struct kv_mem *)kv)->d;
	struct pending *p = d->ptail;

	(void)err;
	if (p == NULL || p->sync)
		return 0;
	p->sync = 1;
	p->deadline = d->now + d->f.fsync_latency_us;
	if (p->deadline < d->last_deadline)
		p->deadline = d->last_deadline;
	d->last_deadline = p->deadline;
	if (d->f.fsync_latency_us == 0)
		stor_memdisk_advance(d, d->now);
	return 0;
}

static struct kv_snap *m_snap_new(struct kv *kv)
{
	struct stor_memdisk *d = ((struct kv_mem *)kv)->d;
	struct kv_snap *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	for (int i = 0; i < KV_CF_COUNT; i++) {
		if (map_copy(&s->m[i], &d->live[i]) != 0) {
			for (int j = 0; j < i; j++)
				map_clear(&s->m[j]);
			free(s);
			return NULL;
		}
	}
	return s;
}

static void m_snap_free(struct kv *kv, struct kv_snap *s)
{
	(void)kv;
	if (s == NULL)
		return;
	for (int i = 0; i < KV_CF_COUNT; i++)
		map_clear(&s->m[i]);
	free(s);
}

static struct kv_iter *m_iter_new(struct kv *kv, const struct kv_snap *snap,
				  enum kv_cf cf, const void *lo, size_t lol,
				  const void *hi, size_t hil)
{
	struct kv_mem *km = (struct kv_mem *)kv;
	struct kv_iter *it = calloc(1, sizeof(*it));

	if (it == NULL)
		return NULL;
	it->m = snap ? &snap->m[cf] : &km->d->live[cf];
	if (lo != NULL && (it->lo = dup(lo, lol)) == NULL)
		goto err_free;
	if (hi != NULL && (it->hi = dup(hi, hil)) == NULL)
		goto err_free;
	it->lol = lol;
	it->hil = hil;
	it->pos = it->m->n;
	return it;

err_free:
	free(it->lo);
	free(it);
	return NULL;
}

static size_t it_begin(struct kv_iter *it)
{
	return it->lo ? lower(it->m, it->lo, it->lol) : 0;
}

static size_t it_end(struct kv_iter *it)
{
	return it->hi ? lower(it->m, it->hi, it->hil) : it->m->n;
}

static void m_iter_first(struct kv_iter *it)
{
	it->pos = it_begin(it);
}

static void m_iter_last(struct kv_iter *it)
{
	size_t b = it_begin(it), e = it_end(it);

	it->pos = e > b ? e - 1 : it->m->n;
}

static void m_iter_seek(struct kv_iter *it, const void *k, size_t kl)
{
	size_t b = it_begin(it);

	it->pos = lower(it->m, k, kl);
	if (it->pos < b)
		it->pos = b;
}

static int m_iter_valid(struct kv_iter *it)
{
	return it->pos < it->m->n && it->pos >= it_begin(it) &&
	       it->pos < it_end(it);
}

static void m_iter_next(struct kv_iter *it)
{
	it->pos++;
}

static const uint8_t *m_iter_key(struct kv_iter *it, size_t *kl)
{
	*kl = it->m->r[it->pos].kl;
	return it->m->r[it->pos].k;
}

static const uint8_t *m_iter_value(struct kv_iter *it, size_t *vl)
{
	*vl = it->m->r[it->pos].vl;
	return it->m->r[it->pos].v;
}

static int m_iter_error(struct kv_iter *it, char *err)
{
	(void)it;
	(void)err;
	return 0;
}

static void m_iter_free(struct kv_iter *it)
{
	if (it == NULL)
		return;
	free(it->lo);
	free(it->hi);
	free(it);
}

static int m_flush(struct kv *kv, char *err)
{
	(void)kv;
	(void)err;
	return 0;
}

static void m_close(struct kv *kv)
{
	struct kv_mem *km = (struct kv_mem *)kv;

	/* No flush, no sync: closing is not a promise of durability, so a
	 * crash right after close loses what was unsynced. */
	km->d->in_use = 0;
	free(km);
}

static const struct kv_engine mem_engine = {
	.get = m_get,
	.write = m_write,
	.sync = m_sync,
	.snap_new = m_snap_new,
	.snap_free = m_snap_free,
	.iter_new = m_iter_new,
	.iter_first = m_iter_first,
	.iter_last = m_iter_last,
	.iter_seek = m_iter_seek,
	.iter_valid = m_iter_valid,
	.iter_next = m_iter_next,
	.iter_key = m_iter_key,
	.iter_value = m_iter_value,
	.iter_error = m_iter_error,
	.iter_free = m_iter_free,
	.flush = m_flush,
	.close = m_close,
};

int kv_mem_open(struct stor_memdisk *d, struct kv **out, char *err)
{
	struct kv_mem *km;

	if (d->in_use) {
		strcpy(err, "memdisk already open");
		return ERR_BUSY;
	}
	km = calloc(1, sizeof(*km));
	if (km == NULL)
		return ERR_NOMEM;
	km->kv.e = &mem_engine;
	km->d = d;
	d->in_use = 1;
	*out = &km->kv;
	return 0;
}
