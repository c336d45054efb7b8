/*
 * kv_rocks.c: the RocksDB engine (C API, Debian's librocksdb 7.8).
 *
 * One database, the default column family unused plus log, meta, state
 * and local. Recovery is point-in-time: a torn WAL tail is dropped, never
 * replayed half. Memory is bounded by a shared write buffer cap, small
 * memtables and one LRU block cache that also holds index and filter
 * blocks, so it does not grow with the size of the state
 * (docs/decisions.md, "RocksDB memory").
 */
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "base/assert.h"
#include "base/err.h"
#include "storage/kv.h"
#include "storage/storage.h"

static const char *const cf_names[KV_CF_COUNT + 1] = {
	"default", "log", "meta", "state", "local",
};

struct kv_rocks {
	struct kv kv;
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_block_based_table_options_t *topts;
	rocksdb_cache_t *cache;
	rocksdb_column_family_handle_t *cf[KV_CF_COUNT + 1];
	rocksdb_writeoptions_t *wo_sync;
	rocksdb_writeoptions_t *wo_nosync;
	rocksdb_readoptions_t *ro;
	int sync_on; /* stor_options.sync */
};

struct kv_snap {
	const rocksdb_snapshot_t *snap;
};

struct kv_iter {
	rocksdb_iterator_t *it;
	rocksdb_readoptions_t *ro;
	uint8_t *lo, *hi;
	size_t lol, hil;
};

static void take_err(char *rerr, char *err)
{
	size_t n = strlen(rerr);

	if (n >= KV_ERRMSG_MAX)
		n = KV_ERRMSG_MAX - 1;
	memcpy(err, rerr, n);
	err[n] = 0;
	rocksdb_free(rerr);
}

static int fail(char *rerr, char *err)
{
	int code = kv_classify(rerr);

	take_err(rerr, err);
	return code;
}

static int r_get(struct kv *kv, const struct kv_snap *snap, enum kv_cf cf,
		 const void *k, size_t kl, uint8_t **v, size_t *vl, char *err)
{
	struct kv_rocks *r = (struct kv_rocks *)kv;
	rocksdb_readoptions_t *ro = r->ro;
	char *rerr = NULL, *val;
	size_t n = 0;

	if (snap != NULL) {
		ro = rocksdb_readoptions_create();
		rocksdb_readoptions_set_snapshot(ro, snap->snap);
	}
	val = rocksdb_get_cf(r->db, ro, r->cf[cf + 1], k, kl, &n, &rerr);
	if (snap != NULL)
		rocksdb_readoptions_destroy(ro);
	if (rerr != NULL)
		return fail(rerr, err);
	if (val == NULL)
		return ERR_NOTFOUND;
	/* RocksDB's buffer came from malloc (c.cc CopyString); hand it over
	 * unchanged so callers free() it. */
	*v = (uint8_t *)val;
	*vl = n;
	return 0;
}

static int r_write(struct kv *kv, const struct kv_batch *b, int sync,
		   char *err)
{
	struct kv_rocks *r = (struct kv_rocks *)kv;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	struct kv_op op;
	size_t off = 0;
	char *rerr = NULL;

	while (kv_batch_next(b->buf.p, b->buf.len, &off, &op)) {
		rocksdb_column_family_handle_t *h = r->cf[op.cf + 1];

		if (op.op == KV_OP_PUT)
			rocksdb_writebatch_put_cf(wb, h, (const char *)op.k,
						  op.kl, (const char *)op.v,
						  op.vl);
		else if (op.op == KV_OP_DEL)
			rocksdb_writebatch_delete_cf(wb, h, (const char *)op.k,
						     op.kl);
		else
			rocksdb_writebatch_delete_range_cf(
				wb, h, (const char *)op.k, op.kl,
				(const char *)op.v, op.vl);
	}
	rocksdb_write(r->db, sync ? r->wo_sync : r->wo_nosync, wb, &rerr);
	rocksdb_writebatch_destroy(wb);
	if (rerr != NULL)
		return fail(rerr, err);
	return 0;
}

/* FlushWAL(sync=true), that is DBImpl::SyncWAL: under the log mutex it
 * notes every live WAL file up to the current one, then fdatasyncs them
 * outside it, so writes may go on meanwhile. With manual_wal_flush off (the
 * default) a Write has handed its WAL record to the OS before it returns,
 * so every write that returned before this call is covered. Before 7.7.0
 * a write at the tail of a WAL that was switched away from during the
 * sync could stay unsynced for good (RocksDB's HISTORY, 7.7.0, a fixed
 * bug: FlushWAL with sync "could cause parallel writes at the tail of a
 * WAL file to never be synced"), and the writer overlaps exactly such
 * writes with its syncs: so no older RocksDB (storage/CMakeLists.txt
 * refuses one). */
static int r_sync(struct kv *kv, char *err)
{
	struct kv_rocks *r = (struct kv_rocks *)kv;
	char *rerr = NULL;

	if (!r->sync_on)
		return 0;
	rocksdb_flush_wal(r->db, 1, &rerr);
	if (rerr != NULL)
		return fail(rerr, err);
	return 0;
}

static struct kv_snap *r_snap_new(struct kv *kv)
{
	struct kv_rocks *r = (struct kv_rocks *)kv;
	struct kv_snap *s = malloc(sizeof(*s));

	if (s == NULL)
		return NULL;
	s->snap = rocksdb_create_snapshot(r->db);
	return s;
}

static void r_snap_free(struct kv *kv, struct kv_snap *s)
{
	struct kv_rocks *r = (struct kv_rocks *)kv;

	if (s == NULL)
		return;
	rocksdb_release_snapshot(r->db, s->snap);
	free(s);
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *d = malloc(n > 0 ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

static struct kv_iter *r_iter_new(struct kv *kv, const struct kv_snap *snap,
				  enum kv_cf cf, const void *lo, size_t lol,
				  const void *hi, size_t hil)
{
	struct kv_rocks *r = (struct kv_rocks *)kv;
	struct kv_iter *it = calloc(1, sizeof(*it));

	if (it == NULL)
		return NULL;
	it->ro = rocksdb_readoptions_create();
	/* Bounds must outlive the iterator: RocksDB keeps the pointers. */
	if (lo != NULL) {
		it->lo = dup_bytes(lo, lol);
		it->lol = lol;
		if (it->lo == NULL)
			goto err_free_ro;
		rocksdb_readoptions_set_iterate_lower_bound(
			it->ro, (const char *)it->lo, lol);
	}
	if (hi != NULL) {
		it->hi = dup_bytes(hi, hil);
		it->hil = hil;
		if (it->hi == NULL)
			goto err_free_ro;
		rocksdb_readoptions_set_iterate_upper_bound(
			it->ro, (const char *)it->hi, hil);
	}
	if (snap != NULL)
		rocksdb_readoptions_set_snapshot(it->ro, snap->snap);
	/* Scans (snapshots, log reads) should not evict the hot set. */
	rocksdb_readoptions_set_fill_cache(it->ro, 0);
	it->it = rocksdb_create_iterator_cf(r->db, it->ro, r->cf[cf + 1]);
	return it;

err_free_ro:
	rocksdb_readoptions_destroy(it->ro);
	free(it->lo);
	free(it->hi);
	free(it);
	return NULL;
}

static void r_iter_first(struct kv_iter *it)
{
	rocksdb_iter_seek_to_first(it->it);
}

static void r_iter_last(struct kv_iter *it)
{
	rocksdb_iter_seek_to_last(it->it);
}

static void r_iter_seek(struct kv_iter *it, const void *k, size_t kl)
{
	rocksdb_iter_seek(it->it, (const char *)k, kl);
}

static int r_iter_valid(struct kv_iter *it)
{
	return rocksdb_iter_valid(it->it) != 0;
}

static void r_iter_next(struct kv_iter *it)
{
	rocksdb_iter_next(it->it);
}

static const uint8_t *r_iter_key(struct kv_iter *it, size_t *kl)
{
	return (const uint8_t *)rocksdb_iter_key(it->it, kl);
}

static const uint8_t *r_iter_value(struct kv_iter *it, size_t *vl)
{
	return (const uint8_t *)rocksdb_iter_value(it->it, vl);
}

static int r_iter_error(struct kv_iter *it, char *err)
{
	char *rerr = NULL;

	rocksdb_iter_get_error(it->it, &rerr);
	if (rerr != NULL)
		return fail(rerr, err);
	return 0;
}

static void r_iter_free(struct kv_iter *it)
{
	if (it == NULL)
		return;
	rocksdb_iter_destroy(it->it);
	rocksdb_readoptions_destroy(it->ro);
	free(it->lo);
	free(it->hi);
	free(it);
}

static void r_destroy(struct kv_rocks *r)
{
	for (int i = 0; i <= KV_CF_COUNT; i++)
		if (r->cf[i] != NULL)
			rocksdb_column_family_handle_destroy(r->cf[i]);
	if (r->db != NULL)
		rocksdb_close(r->db);
	if (r->wo_sync != NULL)
		rocksdb_writeoptions_destroy(r->wo_sync);
	if (r->wo_nosync != NULL)
		rocksdb_writeoptions_destroy(r->wo_nosync);
	if (r->ro != NULL)
		rocksdb_readoptions_destroy(r->ro);
	if (r->opts != NULL)
		rocksdb_options_destroy(r->opts);
	if (r->topts != NULL)
		rocksdb_block_based_options_destroy(r->topts);
	if (r->cache != NULL)
		rocksdb_cache_destroy(r->cache);
	free(r);
}

static int r_flush(struct kv *kv, char *err)
{
	struct kv_rocks *r = (struct kv_rocks *)kv;
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	char *rerr = NULL;

	rocksdb_flushoptions_set_wait(fo, 1);
	for (int i = 1; i <= KV_CF_COUNT && rerr == NULL; i++)
		rocksdb_flush_cf(r->db, fo, r->cf[i], &rerr);
	rocksdb_flushoptions_destroy(fo);
	if (rerr != NULL)
		return fail(rerr, err);
	return 0;
}

static void r_close(struct kv *kv)
{
	r_destroy((struct kv_rocks *)kv);
}

static const struct kv_engine rocks_engine = {
	.get = r_get,
	.write = r_write,
	.sync = r_sync,
	.snap_new = r_snap_new,
	.snap_free = r_snap_free,
	.iter_new = r_iter_new,
	.iter_first = r_iter_first,
	.iter_last = r_iter_last,
	.iter_seek = r_iter_seek,
	.iter_valid = r_iter_valid,
	.iter_next = r_iter_next,
	.iter_key = r_iter_key,
	.iter_value = r_iter_value,
	.iter_error = r_iter_error,
	.iter_free = r_iter_free,
	.flush = r_flush,
	.close = r_close,
};

static void set_options(struct kv_rocks *r, const struct stor_options *o)
{
	rocksdb_options_t *op = r->opts;

	rocksdb_options_set_create_if_missing(op, 1);
	rocksdb_options_set_create_missing_column_families(op, 1);
	rocksdb_options_set_paranoid_checks(op, 1);
	/* kPointInTimeRecovery: stop replaying the WAL at the first bad
	 * record, so a torn tail write is dropped as a whole. */
	rocksdb_options_set_wal_recovery_mode(op, 2);
	rocksdb_options_set_write_buffer_size(op, o->write_buffer_bytes);
	rocksdb_options_set_max_write_buffer_number(op, 2);
	rocksdb_options_set_db_write_buffer_size(op, o->db_write_buffer_bytes);
	/* Flush memtables before the WAL grows past a few of them, so
	 * recovery replays little and the WAL's disk use stays bounded. */
	rocksdb_options_set_max_total_wal_size(op, 4 * o->db_write_buffer_bytes);
	rocksdb_options_set_max_open_files(op, o->max_open_files);
	rocksdb_options_set_max_background_jobs(op, 2);
	/* Log values are small and short-lived; compression buys little and
	 * costs CPU on the append path. */
	rocksdb_options_set_compression(op, rocksdb_no_compression);
	/* HEADER only: Debian's librocksdb keeps its assertions, and once a
	 * write of the info LOG failed on a full disk, the next log line
	 * aborts the process in WritableFileWriter (seen in the disk-full
	 * test, from SstFileManagerImpl::ClearError). Our own errors go
	 * through the tracer with RocksDB's message. */
	rocksdb_options_set_info_log_level(op, 5);
	rocksdb_options_set_keep_log_file_num(op, 2);

	r->cache = rocksdb_cache_create_lru(o->block_cache_bytes);
	r->topts = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(r->topts, r->cache);
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(r->topts,
								       1);
	rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(
		r->topts, 1);
	rocksdb_options_set_block_based_table_factory(op, r->topts);
}

int kv_rocks_open(const struct stor_options *o, struct kv **out, char *err)
{
	struct kv_rocks *r = calloc(1, sizeof(*r));
	const rocksdb_options_t *cfo[KV_CF_COUNT + 1];
	char *rerr = NULL;
	int rc;

	if (r == NULL)
		return ERR_NOMEM;
	/* Before RocksDB replays (and then deletes) the WAL files. */
	rc = kv_wal_scan(o->dir, err);
	if (rc != 0) {
		free(r);
		return rc;
	}
	r->kv.e = &rocks_engine;
	r->opts = rocksdb_options_create();
	set_options(r, o);
	for (int i = 0; i <= KV_CF_COUNT; i++)
		cfo[i] = r->opts;
	r->db = rocksdb_open_column_families(r->opts, o->dir, KV_CF_COUNT + 1,
					     cf_names, cfo, r->cf, &rerr);
	if (rerr != NULL) {
		rc = fail(rerr, err);
		r->db = NULL;
		memset(r->cf, 0, sizeof(r->cf));
		goto err_destroy;
	}
	r->wo_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(r->wo_sync, o->sync ? 1 : 0);
	r->sync_on = o->sync != 0;
	r->wo_nosync = rocksdb_writeoptions_create();
	r->ro = rocksdb_readoptions_create();
	*out = &r->kv;
	return 0;

err_destroy:
	r_destroy(r);
	return rc;
}
