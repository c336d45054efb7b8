/*
 * snap.c: snapshots of the state machine, streamed in bounded chunks
 * (Raft paper, section 7, InstallSnapshot "split into chunks").
 *
 * The reader pins an engine snapshot, so the owner keeps applying while a
 * follower is fed; it holds one chunk in memory at a time, whatever the
 * state's size. The receiver writes records under a fresh state
 * generation with unsynced writes, then one synced batch makes that
 * generation current together with the applied index and the snapshot
 * metadata. The synced write also syncs every WAL record before it, so
 * the records are on disk before the switch is. A crash anywhere before
 * that write leaves the old generation current (the partial new one is
 * dropped at the next open); after it, the new one.
 *
 * Chunk: msgpack [version, kind, seq, payload]
 *   kind 0 header   [index, term, conf (bin or nil)]
 *   kind 1 records  [key, value, key, value, ...] (keys: domain | key)
 *   kind 2 trailer  [record count, digest (see STOR_DIGEST_SEED)]
 * seq counts from 0; the trailer lets the receiver detect a lost,
 * repeated or damaged chunk before it switches.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/stor_int.h"

#define SNAP_FORMAT 1
enum { SNAP_HEADER = 0, SNAP_RECORDS = 1, SNAP_TRAILER = 2 };
/* msgpack overhead of one record beyond its bytes (two bin headers). */
#define RECORD_OVERHEAD 10

struct stor_snap_reader {
	struct stor *s;
	struct kv_snap *snap;
	struct kv_iter *it;
	size_t chunk_max;
	struct mp_writer out;  /* the chunk handed out */
	struct mp_writer recs; /* records of the chunk being built */
	uint64_t seq, count, digest;
	int stage; /* next kind to produce; 3 when done */
};

static int snap_get_meta(struct stor *s, struct kv_snap *snap,
			 const char *key, uint8_t **v, size_t *vl)
{
	char err[KV_ERRMSG_MAX] = "";
	int rc = s->kv->e->get(s->kv, snap, KV_CF_META, key, strlen(key), v,
			       vl, err);

	if (rc != 0 && rc != ERR_NOTFOUND)
		return stor_fail(s, rc, "snapshot read %s: %s", key, err);
	return rc;
}

/* Reads a meta record of n numbers as of the snapshot. */
static int snap_meta_nums(struct stor_snap_reader *r, const char *key,
			  uint64_t *v, size_t n)
{
	struct mp_doc doc;
	const msgpack_object *o;
	uint8_t *p;
	size_t len;
	int rc;

	memset(v, 0, n * sizeof(*v));
	rc = snap_get_meta(r->s, r->snap, key, &p, &len);
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	rc = mp_parse(&doc, p, len);
	free(p);
	if (rc != 0)
		return stor_fail(r->s, ERR_CORRUPT, "meta %s", key);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = mp_array_at(doc.root, (uint32_t)i + 1, &o);
		if (rc == 0)
			rc = mp_get_u64(o, &v[i]);
	}
	mp_doc_free(&doc);
	return rc == 0 ? 0 : stor_fail(r->s, ERR_CORRUPT, "meta %s", key);
}

static int write_header(struct stor_snap_reader *r, uint32_t *gen)
{
	uint64_t applied[2], g[1];
	uint8_t *conf = NULL;
	size_t conf_len = 0;
	int rc;

	rc = snap_meta_nums(r, META_APPLIED, applied, 2);
	if (rc == 0)
		rc = snap_meta_nums(r, META_GEN, g, 1);
	if (rc != 0)
		return rc;
	*gen = g[0] == 0 ? 1 : (uint32_t)g[0];
	rc = snap_get_meta(r->s, r->snap, META_CONF, &conf, &conf_len);
	if (rc != 0 && rc != ERR_NOTFOUND)
		return rc;
	mp_w_array(&r->out, 4);
	mp_w_uint(&r->out, SNAP_FORMAT);
	mp_w_uint(&r->out, SNAP_HEADER);
	mp_w_uint(&r->out, r->seq);
	mp_w_array(&r->out, 3);
	mp_w_uint(&r->out, applied[0]);
	mp_w_uint(&r->out, applied[1]);
	if (rc == 0)
		mp_w_bin(&r->out, conf, conf_len);
	else
		mp_w_nil(&r->out);
	free(conf);
	return mp_writer_error(&r->out);
}

int stor_snap_reader_open(struct stor *s, size_t chunk_max,
			  struct stor_snap_reader **out)
{
	struct stor_snap_reader *r;
	uint8_t lo[4], hi[4];
	uint32_t gen;
	int rc = stor_check_read(s);

	if (rc != 0)
		return rc;
	if (chunk_max < STOR_SNAP_CHUNK_MIN || chunk_max > STOR_SNAP_CHUNK_MAX)
		return ERR_INVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ERR_NOMEM;
	r->s = s;
	r->chunk_max = chunk_max;
	r->digest = STOR_DIGEST_SEED;
	/* A chunk holds at least one record, so its bound is the larger of
	 * chunk_max and the largest record. */
	mp_writer_init(&r->out, chunk_max + STOR_VALUE_MAX + STOR_KEY_MAX + 64);
	mp_writer_init(&r->recs, chunk_max + STOR_VALUE_MAX + STOR_KEY_MAX + 64);
	r->snap = s->kv->e->snap_new(s->kv);
	if (r->snap == NULL) {
		rc = ERR_NOMEM;
		goto err_free;
	}
	rc = write_header(r, &gen);
	if (rc != 0)
		goto err_free;
	stor_gen_prefix(lo, gen);
	stor_gen_prefix(hi, gen + 1);
	r->it = s->kv->e->iter_new(s->kv, r->snap, KV_CF_STATE, lo, 4, hi, 4);
	if (r->it == NULL) {
		rc = ERR_NOMEM;
		goto err_free;
	}
	s->kv->e->iter_first(r->it);
	*out = r;
	return 0;

err_free:
	stor_snap_reader_close(r);
	return rc;
}

static int write_records(struct stor_snap_reader *r)
{
	const struct kv_engine *e = r->s->kv->e;
	char err[KV_ERRMSG_MAX] = "";
	const uint8_t *k, *v;
	size_t kl, vl, n = 0;
	int rc;

	mp_writer_reset(&r->recs);
	while (e->iter_valid(r->it)) {
		k = e->iter_key(r->it, &kl);
		v = e->iter_value(r->it, &vl);
		if (n > 0 && mp_writer_len(&r->recs) + kl + vl +
				       RECORD_OVERHEAD > r->chunk_max)
			break;
		mp_w_bin(&r->recs, k + 4, kl - 4);
		mp_w_bin(&r->recs, v, vl);
		r->digest = stor_digest_record(r->digest, k + 4, kl - 4, v, vl);
		r->count++;
		n++;
		e->iter_next(r->it);
	}
	rc = e->iter_error(r->it, err);
	if (rc != 0)
		return stor_fail(r->s, rc, "snapshot read: %s", err);
	if (n == 0)
		return 1; /* no records left: the trailer is next */
	mp_w_array(&r->out, 4);
	mp_w_uint(&r->out, SNAP_FORMAT);
	mp_w_uint(&r->out, SNAP_RECORDS);
	mp_w_uint(&r->out, r->seq);
	mp_w_array(&r->out, (uint32_t)(2 * n));
	mp_w_raw(&r->out, mp_writer_data(&r->recs), mp_writer_len(&r->recs));
	return mp_writer_error(&r->recs) != 0 ? mp_writer_error(&r->recs)
					       : mp_writer_error(&r->out);
}

int stor_snap_reader_next(struct stor_snap_reader *r, const uint8_t **chunk,
			  size_t *len, int *done)
{
	int rc = 0;

	*done = 0;
	if (r->stage == 3)
		return ERR_INVAL;
	if (r->stage == SNAP_HEADER) {
		/* Built at open, from the pinned snapshot. */
		r->stage = SNAP_RECORDS;
	} else {
		mp_writer_reset(&r->out);
		if (r->stage == SNAP_RECORDS)
			rc = write_records(r);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			mp_w_array(&r->out, 4);
			mp_w_uint(&r->out, SNAP_FORMAT);
			mp_w_uint(&r->out, SNAP_TRAILER);
			mp_w_uint(&r->out, r->seq);
			mp_w_array(&r->out, 2);
			mp_w_uint(&r->out, r->count);
			mp_w_uint(&r->out, r->digest);
			r->stage = 3;
			*done = 1;
			rc = mp_writer_error(&r->out);
			if (rc != 0)
				return rc;
		}
	}
	r->seq++;
	*chunk = mp_writer_data(&r->out);
	*len = mp_writer_len(&r->out);
	return 0;
}

void stor_snap_reader_close(struct stor_snap_reader *r)
{
	if (r == NULL)
		return;
	if (r->it != NULL)
		r->s->kv->e->iter_free(r->it);
	if (r->snap != NULL)
		r->s->kv->e->snap_free(r->s->kv, r->snap);
	mp_writer_free(&r->out);
	mp_writer_free(&r->recs);
	free(r);
}

/* --- Installing ------------------------------------------------------- */

struct stor_snap_writer {
	struct stor *s;
	uint32_t gen; /* the generation being filled */
	uint64_t seq, count, digest;
	uint64_t index, term;
	uint8_t *conf;
	size_t conf_len;
	int has_conf, got_header, got_trailer;
	uint8_t last_key[1 + STOR_KEY_MAX];
	size_t last_kl;
	struct kv_batch b;
	uint8_t key[STATE_PREFIX + STOR_KEY_MAX];
};

/* Deletes everything of generation gen (unsynced; open cleans up too). */
static int drop_generation(struct stor *s, uint32_t gen)
{
	uint8_t lo[4], hi[4];
	struct kv_batch b;
	int rc;

	stor_gen_prefix(lo, gen);
	stor_gen_prefix(hi, gen + 1);
	kv_batch_init(&b);
	rc = kv_batch_delrange(&b, KV_CF_STATE, lo, 4, hi, 4);
	if (rc == 0)
		rc = stor_write(s, &b, 0, "drop state generation");
	kv_batch_free(&b);
	return rc;
}

int stor_snap_writer_open(struct stor *s, struct stor_snap_writer **out)
{
	struct stor_snap_writer *w;
	int rc = stor_check_write(s);

	if (rc != 0)
		return rc;
	if (s->snap_writer_open)
		return ERR_BUSY;
	if (s->gen + 2 >= UINT32_MAX)
		return ERR_TOOBIG;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return ERR_NOMEM;
	w->s = s;
	w->gen = s->gen + 1;
	w->digest = STOR_DIGEST_SEED;
	kv_batch_init(&w->b);
	/* Leftovers of an install aborted in this process. */
	rc = drop_generation(s, w->gen);
	if (rc != 0) {
		kv_batch_free(&w->b);
		free(w);
		return rc;
	}
	s->snap_writer_open = 1;
	*out = w;
	return 0;
}

static int on_header(struct stor_snap_writer *w, const msgpack_object *p)
{
	const msgpack_object *o;
	const uint8_t *conf;
	uint32_t n;

	if (w->got_header || mp_get_array(p, &n) != 0 || n != 3)
		return ERR_MALFORMED;
	if (mp_array_at(p, 0, &o) != 0 || mp_get_u64(o, &w->index) != 0 ||
	    mp_array_at(p, 1, &o) != 0 || mp_get_u64(o, &w->term) != 0 ||
	    mp_array_at(p, 2, &o) != 0)
		return ERR_MALFORMED;
	if (!mp_is_nil(o)) {
		if (mp_get_bin(o, &conf, &w->conf_len) != 0 ||
		    w->conf_len > STOR_CONF_MAX)
			return ERR_MALFORMED;
		w->conf = malloc(w->conf_len > 0 ? w->conf_len : 1);
		if (w->conf == NULL)
			return ERR_NOMEM;
		if (w->conf_len > 0)
			memcpy(w->conf, conf, w->conf_len);
		w->has_conf = 1;
	}
	w->got_header = 1;
	return 0;
}

static int on_record(struct stor_snap_writer *w, const uint8_t *k, size_t kl,
		     const uint8_t *v, size_t vl)
{
	size_t cl = kl < w->last_kl ? kl : w->last_kl;
	int c;

	if (kl < 1 || kl > 1 + STOR_KEY_MAX || vl > STOR_VALUE_MAX)
		return ERR_MALFORMED;
	/* Keys arrive in order, each once: the digest depends on it. */
	c = memcmp(w->last_key, k, cl);
	if (w->count > 0 && (c > 0 || (c == 0 && w->last_kl >= kl)))
		return ERR_MALFORMED;
	memcpy(w->last_key, k, kl);
	w->last_kl = kl;
	stor_gen_prefix(w->key, w->gen);
	memcpy(w->key + 4, k, kl);
	w->digest = stor_digest_record(w->digest, k, kl, v, vl);
	w->count++;
	return kv_batch_put(&w->b, KV_CF_STATE, w->key, 4 + kl, v, vl);
}

static int on_records(struct stor_snap_writer *w, const msgpack_object *p)
{
	const msgpack_object *ko, *vo;
	const uint8_t *k, *v;
	size_t kl, vl;
	uint32_t n;
	int rc;

	if (!w->got_header || mp_get_array(p, &n) != 0 || n % 2 != 0)
		return ERR_MALFORMED;
	kv_batch_clear(&w->b);
	for (uint32_t i = 0; i < n; i += 2) {
		if (mp_array_at(p, i, &ko) != 0 ||
		    mp_array_at(p, i + 1, &vo) != 0 ||
		    mp_get_bin(ko, &k, &kl) != 0 || mp_get_bin(vo, &v, &vl) != 0)
			return ERR_MALFORMED;
		rc = on_record(w, k, kl, v, vl);
		if (rc != 0)
			return rc;
	}
	return stor_write(w->s, &w->b, 0, "snapshot install");
}

static int on_trailer(struct stor_snap_writer *w, const msgpack_object *p)
{
	const msgpack_object *o;
	uint64_t count, digest;
	uint32_t n;

	if (!w->got_header || mp_get_array(p, &n) != 0 || n != 2 ||
	    mp_array_at(p, 0, &o) != 0 || mp_get_u64(o, &count) != 0 ||
	    mp_array_at(p, 1, &o) != 0 || mp_get_u64(o, &digest) != 0)
		return ERR_MALFORMED;
	if (count != w->count || digest != w->digest)
		return ERR_CORRUPT;
	w->got_trailer = 1;
	return 0;
}

int stor_snap_writer_chunk(struct stor_snap_writer *w, const uint8_t *chunk,
			   size_t len)
{
	const msgpack_object *o, *payload;
	uint64_t ver, kind, seq;
	struct mp_doc doc;
	uint32_t n;
	int rc;

	if (w->got_trailer)
		return ERR_INVAL;
	rc = mp_parse(&doc, chunk, len);
	if (rc != 0)
		return rc;
	if (mp_get_array(doc.root, &n) != 0 || n != 4 ||
	    mp_array_at(doc.root, 0, &o) != 0 || mp_get_u64(o, &ver) != 0 ||
	    mp_array_at(doc.root, 1, &o) != 0 || mp_get_u64(o, &kind) != 0 ||
	    mp_array_at(doc.root, 2, &o) != 0 || mp_get_u64(o, &seq) != 0 ||
	    mp_array_at(doc.root, 3, &payload) != 0)
		rc = ERR_MALFORMED;
	else if (ver != SNAP_FORMAT)
		rc = ERR_VERSION;
	else if (seq != w->seq)
		rc = ERR_MALFORMED;
	else if (kind == SNAP_HEADER)
		rc = on_header(w, payload);
	else if (kind == SNAP_RECORDS)
		rc = on_records(w, payload);
	else if (kind == SNAP_TRAILER)
		rc = on_trailer(w, payload);
	else
		rc = ERR_MALFORMED;
	mp_doc_free(&doc);
	if (rc == 0)
		w->seq++;
	return rc;
}

static void writer_free(struct stor_snap_writer *w)
{
	w->s->snap_writer_open = 0;
	kv_batch_free(&w->b);
	free(w->conf);
	free(w);
}

int stor_snap_writer_finish(struct stor_snap_writer *w)
{
	struct stor *s = w->s;
	uint64_t applied[2] = {w->index, w->term}, gen[1] = {w->gen};
	uint32_t old = s->gen;
	int rc;

	if (!w->got_trailer) {
		stor_snap_writer_abort(w);
		return ERR_INVAL;
	}
	kv_batch_clear(&w->b);
	rc = stor_batch_meta(&w->b, META_GEN, gen, 1);
	if (rc == 0)
		rc = stor_batch_meta(&w->b, META_APPLIED, applied, 2);
	if (rc == 0)
		rc = stor_batch_meta(&w->b, META_SNAP, applied, 2);
	if (rc == 0 && w->has_conf)
		rc = kv_batch_put(&w->b, KV_CF_META, META_CONF,
				  strlen(META_CONF), w->conf, w->conf_len);
	if (rc == 0 && w->has_conf)
		rc = kv_batch_put(&w->b, KV_CF_META, META_SNAP_CONF,
				  strlen(META_SNAP_CONF), w->conf, w->conf_len);
	if (rc == 0)
		rc = stor_write(s, &w->b, 1, "snapshot switch");
	if (rc != 0) {
		stor_snap_writer_abort(w);
		return rc;
	}
	s->gen = w->gen;
	s->applied = w->index;
	s->applied_term = w->term;
	TRACE_I(s->tr, TRACE_MOD,
		"installed snapshot at %llu (term %llu): %llu records",
		(unsigned long long)w->index, (unsigned long long)w->term,
		(unsigned long long)w->count);
	writer_free(w);
	/* The old generation is garbage now; if this does not reach the
	 * disk, the next open drops it. The install itself succeeded, so a
	 * failure here is only recorded (stor_failed tells the caller if
	 * the store stopped). */
	(void)drop_generation(s, old);
	return 0;
}

void stor_snap_writer_abort(struct stor_snap_writer *w)
{
	struct stor *s;
	uint32_t gen;

	if (w == NULL)
		return;
	s = w->s;
	gen = w->gen;
	writer_free(w);
	/* Best effort: whatever stays behind is dropped at the next open. */
	(void)drop_generation(s, gen);
}
