/*
 * log.c: the Raft log in the log column family (Raft paper, section 5.3:
 * append, the consistency check's term lookup, conflict truncation;
 * section 7: compaction up to a snapshot).
 *
 * Each value is crc32c | version | term (u64le) | type | data, the
 * checksum covering the big-endian index as well as everything after it.
 * Every read verifies it; a mismatch fails the whole store (stor_fail),
 * because a node that served a corrupt entry would replicate it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "storage/stor_int.h"

#define LOG_FORMAT 1
#define LOG_HDR 14 /* crc 4 + version 1 + term 8 + type 1 */

static uint32_t entry_crc(const uint8_t key[8], const uint8_t *v, size_t vl)
{
	return crc32c(crc32c(0, key, 8), v + 4, vl - 4);
}

static int batch_entry(struct kv_batch *b, const struct stor_entry *e)
{
	uint8_t key[8], hdr[LOG_HDR];
	size_t mark = b->buf.len;
	int rc;

	/* Built in place to avoid a copy per entry: the put's value is the
	 * header followed by the data, and the checksum is patched last. */
	put_u64be(key, e->index);
	hdr[4] = LOG_FORMAT;
	put_u64le(hdr + 5, e->term);
	hdr[13] = e->type;
	rc = kv_batch_put(b, KV_CF_LOG, key, 8, hdr, LOG_HDR);
	if (rc != 0)
		return rc;
	/* Extend the value: its length field sits just before it. */
	rc = e->len > 0 ? wbuf_put(&b->buf, e->data, e->len) : 0;
	if (rc != 0) {
		b->buf.len = mark;
		b->count--;
		return rc;
	}
	{
		uint8_t *val = b->buf.p + b->buf.len - e->len - LOG_HDR;

		put_u32le(val - 4, (uint32_t)(LOG_HDR + e->len));
		put_u32le(val, entry_crc(key, val, LOG_HDR + e->len));
	}
	return 0;
}

/* Checks and decodes a stored value; data is copied when out != NULL. */
static int decode_entry(struct stor *s, uint64_t index, const uint8_t *v,
			size_t vl, struct stor_entry *out, uint64_t *term)
{
	uint8_t key[8];

	put_u64be(key, index);
	if (vl < LOG_HDR || get_u32le(v) != entry_crc(key, v, vl))
		return stor_fail(s, ERR_CORRUPT,
				 "log entry %llu fails its checksum",
				 (unsigned long long)index);
	if (v[4] != LOG_FORMAT)
		return stor_fail(s, ERR_CORRUPT,
				 "log entry %llu has unknown format %u",
				 (unsigned long long)index, v[4]);
	*term = get_u64le(v + 5);
	if (out == NULL)
		return 0;
	out->index = index;
	out->term = *term;
	out->type = v[13];
	out->len = vl - LOG_HDR;
	out->data = malloc(out->len > 0 ? out->len : 1);
	if (out->data == NULL)
		return ERR_NOMEM;
	memcpy(out->data, v + LOG_HDR, out->len);
	return 0;
}

/* Names the index in the text of a corruption RocksDB reported. */
static int name_index(struct stor *s, uint64_t index)
{
	char text[STOR_ERRTEXT_MAX];

	stor_last_error(s, text, sizeof(text));
	return stor_fail(s, ERR_CORRUPT, "log entry %llu: %.*s",
			 (unsigned long long)index, 400, text);
}

void stor_log_set_end(struct stor *s, uint64_t last, uint64_t last_term)
{
	pthread_mutex_lock(&s->mu);
	s->last = last;
	s->last_term = last_term;
	pthread_mutex_unlock(&s->mu);
}

int stor_log_open(struct stor *s)
{
	char err[KV_ERRMSG_MAX] = "";
	uint64_t v[2], idx, term;
	struct kv_iter *it;
	const uint8_t *k, *val;
	uint8_t lo[8];
	size_t kl, vl;
	int rc;

	rc = stor_meta_load(s, META_LOG_START, v, 2);
	if (rc != 0)
		return rc;
	s->start_index = v[0];
	s->start_term = v[1];
	s->last = s->start_index;
	s->last_term = s->start_term;
	put_u64be(lo, s->start_index + 1);
	it = s->kv->e->iter_new(s->kv, NULL, KV_CF_LOG, lo, 8, NULL, 0);
	if (it == NULL)
		return ERR_NOMEM;
	s->kv->e->iter_first(it);
	if (s->kv->e->iter_valid(it)) {
		k = s->kv->e->iter_key(it, &kl);
		if (kl != 8 || get_u64be(k) != s->start_index + 1) {
			rc = stor_fail(s, ERR_CORRUPT,
				       "log does not start after %llu",
				       (unsigned long long)s->start_index);
			goto out;
		}
		s->kv->e->iter_last(it);
	}
	if (s->kv->e->iter_valid(it)) {
		k = s->kv->e->iter_key(it, &kl);
		val = s->kv->e->iter_value(it, &vl);
		idx = kl == 8 ? get_u64be(k) : 0;
		rc = decode_entry(s, idx, val, vl, NULL, &term);
		if (rc != 0)
			goto out;
		s->last = idx;
		s->last_term = term;
	}
	rc = s->kv->e->iter_error(it, err);
	if (rc != 0)
		rc = stor_fail(s, rc, "log open: %s", err);
out:
	s->kv->e->iter_free(it);
	return rc;
}

static int check_entries(const struct stor_entry *e, size_t n)
{
	if (n == 0 || n > STOR_APPEND_MAX || e[0].index == 0)
		return ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (e[i].index != e[0].index + i)
			return ERR_INVAL;
		if (i > 0 && e[i].term < e[i - 1].term)
			return ERR_INVAL;
		if (e[i].len > STOR_ENTRY_DATA_MAX)
			return ERR_TOOBIG;
		if (e[i].len > 0 && e[i].data == NULL)
			return ERR_INVAL;
	}
	return 0;
}

int stor_log_batch_append(struct stor *s, struct kv_batch *b,
			  const struct stor_entry *e, size_t n, uint64_t *last,
			  uint64_t *last_term)
{
	uint8_t lo[8], hi[8];
	int rc = check_entries(e, n);

	if (rc != 0)
		return rc;
	/* Appending after a gap, or over the compacted prefix, is a bug in
	 * the caller; Raft never does either. */
	if (e[0].index > *last + 1 || e[0].index <= s->start_index)
		return ERR_INVAL;
	if (e[0].index <= *last) {
		/* A conflicting suffix (Raft 5.3): delete it in this batch. */
		put_u64be(lo, e[0].index);
		put_u64be(hi, *last + 1);
		rc = kv_batch_delrange(b, KV_CF_LOG, lo, 8, hi, 8);
		if (rc != 0)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		rc = batch_entry(b, &e[i]);
		if (rc != 0)
			return rc;
	}
	*last = e[n - 1].index;
	*last_term = e[n - 1].term;
	return 0;
}

int stor_log_append(struct stor *s, const struct stor_entry *e, size_t n)
{
	struct kv_batch b;
	uint64_t last, last_term;
	int rc;

	kv_batch_init(&b);
	pthread_mutex_lock(&s->wmu);
	pthread_mutex_lock(&s->mu);
	last = s->last;
	last_term = s->last_term;
	pthread_mutex_unlock(&s->mu);
	rc = stor_log_batch_append(s, &b, e, n, &last, &last_term);
	if (rc == 0)
		rc = stor_write(s, &b, 1, "log append");
	if (rc == 0)
		stor_log_set_end(s, last, last_term);
	pthread_mutex_unlock(&s->wmu);
	kv_batch_free(&b);
	return rc;
}

uint64_t stor_log_first(struct stor *s)
{
	uint64_t v;

	pthread_mutex_lock(&s->mu);
	v = s->start_index + 1;
	pthread_mutex_unlock(&s->mu);
	return v;
}

uint64_t stor_log_last(struct stor *s)
{
	uint64_t v;

	pthread_mutex_lock(&s->mu);
	v = s->last;
	pthread_mutex_unlock(&s->mu);
	return v;
}

int stor_log_entry(struct stor *s, uint64_t index, struct stor_entry *out)
{
	uint8_t key[8], *v;
	uint64_t term;
	size_t vl;
	int rc;

	put_u64be(key, index);
	if ((rc = stor_check_read(s)) != 0)
		return rc; /* already failed: the text names the first error */
	rc = stor_get(s, KV_CF_LOG, key, 8, &v, &vl);
	if (rc == ERR_CORRUPT)
		return name_index(s, index);
	if (rc != 0)
		return rc;
	rc = decode_entry(s, index, v, vl, out, &term);
	free(v);
	return rc;
}

int stor_log_term(struct stor *s, uint64_t index, uint64_t *term)
{
	struct stor_entry e;
	uint64_t start, start_term, last, last_term;
	int rc = stor_check_read(s);

	if (rc != 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	start = s->start_index;
	start_term = s->start_term;
	last = s->last;
	last_term = s->last_term;
	pthread_mutex_unlock(&s->mu);
	if (index < start || index > last)
		return ERR_NOTFOUND;
	if (index == start) {
		*term = start_term;
		return 0;
	}
	if (index == last) {
		*term = last_term;
		return 0;
	}
	rc = stor_log_entry(s, index, &e);
	if (rc != 0)
		return rc;
	*term = e.term;
	free(e.data);
	return 0;
}

void stor_entries_free(struct stor_entry *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].data);
	free(v);
}

static int read_grow(struct stor_entry **v, size_t *cap, size_t want)
{
	struct stor_entry *nv;
	size_t ncap = *cap == 0 ? 16 : *cap * 2;

	if (ncap > want)
		ncap = want;
	nv = realloc(*v, ncap * sizeof(*nv));
	if (nv == NULL)
		return ERR_NOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* Reads entries in [lo, hi) through one bounded iterator. */
static int read_range(struct stor *s, uint64_t lo, uint64_t hi,
		      size_t max_bytes, struct stor_entry **out, size_t *n)
{
	char err[KV_ERRMSG_MAX] = "";
	struct stor_entry *v = NULL;
	size_t cap = 0, cnt = 0, bytes = 0, kl, vl;
	const uint8_t *k, *val;
	uint8_t klo[8], khi[8];
	struct kv_iter *it;
	uint64_t term;
	int rc = 0;

	put_u64be(klo, lo);
	put_u64be(khi, hi);
	it = s->kv->e->iter_new(s->kv, NULL, KV_CF_LOG, klo, 8, khi, 8);
	if (it == NULL)
		return ERR_NOMEM;
	for (s->kv->e->iter_first(it); s->kv->e->iter_valid(it) &&
	     (cnt == 0 || bytes < max_bytes);
	     s->kv->e->iter_next(it)) {
		k = s->kv->e->iter_key(it, &kl);
		val = s->kv->e->iter_value(it, &vl);
		if (kl != 8 || get_u64be(k) != lo + cnt) {
			/* A hole at the start is a compaction or truncation
			 * that raced this read (the iterator sees one
			 * consistent view, taken after the bounds check); a
			 * hole in the middle cannot come from either. */
			rc = cnt == 0 ? ERR_NOTFOUND
				      : stor_fail(s, ERR_CORRUPT,
						  "log entry %llu is missing",
						  (unsigned long long)(lo + cnt));
			break;
		}
		if (cnt == cap && (rc = read_grow(&v, &cap, hi - lo)) != 0)
			break;
		rc = decode_entry(s, lo + cnt, val, vl, &v[cnt], &term);
		if (rc != 0)
			break;
		bytes += v[cnt++].len;
	}
	if (rc == 0 && (rc = s->kv->e->iter_error(it, err)) != 0)
		rc = stor_fail(s, rc, "log read at entry %llu: %s",
			       (unsigned long long)(lo + cnt), err);
	if (rc == 0 && cnt == 0)
		rc = ERR_NOTFOUND; /* truncated since the bounds check */
	s->kv->e->iter_free(it);
	if (rc != 0) {
		stor_entries_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int stor_log_read(struct stor *s, uint64_t lo, uint64_t hi, size_t max_bytes,
		  struct stor_entry **out, size_t *n)
{
	int rc = stor_check_read(s);

	*out = NULL;
	*n = 0;
	if (rc != 0)
		return rc;
	if (lo >= hi)
		return 0;
	if (lo < stor_log_first(s) || hi > stor_log_last(s) + 1)
		return ERR_NOTFOUND;
	return read_range(s, lo, hi, max_bytes, out, n);
}

int stor_log_truncate(struct stor *s, uint64_t from)
{
	struct kv_batch b;
	uint8_t lo[8], hi[8];
	uint64_t term = 0;
	int rc = 0;

	pthread_mutex_lock(&s->wmu);
	if (from <= s->start_index) {
		rc = ERR_INVAL;
		goto out;
	}
	if (from > s->last)
		goto out;
	rc = stor_log_term(s, from - 1, &term);
	if (rc != 0)
		goto out;
	kv_batch_init(&b);
	put_u64be(lo, from);
	put_u64be(hi, s->last + 1);
	rc = kv_batch_delrange(&b, KV_CF_LOG, lo, 8, hi, 8);
	if (rc == 0)
		rc = stor_write(s, &b, 1, "log truncate");
	if (rc == 0)
		stor_log_set_end(s, from - 1, term);
	kv_batch_free(&b);
out:
	pthread_mutex_unlock(&s->wmu);
	return rc;
}

/* Moves the log's start to (index, term), deleting [start+1, upto+1).
 * Compaction need not be synced: if the batch is lost in a crash, the
 * entries and the old start come back together, which is still a
 * consistent log; so it costs the caller no fsync. A reset is synced: it
 * follows a snapshot install and must not be undone. */
static int move_start(struct stor *s, uint64_t upto, uint64_t index,
		      uint64_t term, int sync, const char *what)
{
	uint64_t v[2] = {index, term};
	struct kv_batch b;
	uint8_t lo[8], hi[8];
	int rc;

	kv_batch_init(&b);
	put_u64be(lo, s->start_index + 1);
	put_u64be(hi, upto + 1);
	rc = kv_batch_delrange(&b, KV_CF_LOG, lo, 8, hi, 8);
	if (rc == 0)
		rc = stor_batch_meta(&b, META_LOG_START, v, 2);
	if (rc == 0)
		rc = stor_write(s, &b, sync, what);
	kv_batch_free(&b);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	s->start_index = index;
	s->start_term = term;
	if (s->last < index) {
		s->last = index;
		s->last_term = term;
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int stor_log_compact(struct stor *s, uint64_t upto)
{
	uint64_t term;
	int rc = 0;

	pthread_mutex_lock(&s->wmu);
	if (upto <= s->start_index)
		goto out;
	if (upto > s->last) {
		rc = ERR_INVAL;
		goto out;
	}
	rc = stor_log_term(s, upto, &term);
	if (rc == 0)
		rc = move_start(s, upto, upto, term, 0, "log compact");
out:
	pthread_mutex_unlock(&s->wmu);
	return rc;
}

int stor_log_reset(struct stor *s, uint64_t index, uint64_t term)
{
	uint64_t upto;
	int rc;

	pthread_mutex_lock(&s->wmu);
	upto = s->last;
	if (index > upto)
		upto = index;
	rc = move_start(s, upto, index, term, 1, "log reset");
	if (rc == 0)
		stor_log_set_end(s, index, term);
	pthread_mutex_unlock(&s->wmu);
	return rc;
}
