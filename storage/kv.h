/*
 * kv.h: the ordered key/value engine under storage (internal).
 *
 * The log, the metadata and the state machine are written once, against
 * this small interface; two engines implement it: RocksDB (kv_rocks.c)
 * and a simulated in-memory disk with fault injection (kv_mem.c) for the
 * simulator. The interface is what a log-structured store offers: atomic
 * batches of puts, deletes and range deletes across column families,
 * synced or not; point reads; bounded iterators; consistent snapshots.
 *
 * Errors: 0, ERR_NOTFOUND (get), or ERR_IO / ERR_NOSPACE / ERR_CORRUPT
 * with the engine's message copied into the caller's error buffer.
 */
#ifndef CLUSTERD_STORAGE_KV_H
#define CLUSTERD_STORAGE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"

enum kv_cf {
	KV_CF_LOG = 0,
	KV_CF_META = 1,
	KV_CF_STATE = 2,
	KV_CF_LOCAL = 3,
	KV_CF_COUNT = 4,
};

#define KV_ERRMSG_MAX 512

/* A batch of operations, encoded into one buffer:
 *   op u8 | cf u8 | klen u32le | key | vlen u32le | value
 * (a range delete carries [key, value) as its bounds). The engines replay
 * it in order, so later operations see earlier ones. */
enum { KV_OP_PUT = 1, KV_OP_DEL = 2, KV_OP_DELRANGE = 3 };

struct kv_batch {
	struct wbuf buf;
	size_t count;
};

void kv_batch_init(struct kv_batch *b);
void kv_batch_free(struct kv_batch *b);
void kv_batch_clear(struct kv_batch *b);
int kv_batch_put(struct kv_batch *b, enum kv_cf cf, const void *k, size_t kl,
		 const void *v, size_t vl);
int kv_batch_del(struct kv_batch *b, enum kv_cf cf, const void *k, size_t kl);
int kv_batch_delrange(struct kv_batch *b, enum kv_cf cf, const void *lo,
		      size_t lol, const void *hi, size_t hil);

/* One decoded operation of a batch; pointers borrow the batch. */
struct kv_op {
	uint8_t op;
	uint8_t cf;
	const uint8_t *k;
	size_t kl;
	const uint8_t *v;
	size_t vl;
};
/* Iterates a batch: *off starts at 0; returns 1 while an op was read. */
int kv_batch_next(const uint8_t *p, size_t len, size_t *off, struct kv_op *op);

struct kv;
struct kv_snap;
struct kv_iter;

struct kv_engine {
	int (*get)(struct kv *kv, const struct kv_snap *snap, enum kv_cf cf,
		   const void *k, size_t kl, uint8_t **v, size_t *vl,
		   char *err);
	int (*write)(struct kv *kv, const struct kv_batch *b, int sync,
		     char *err);
	/* Makes every write that returned before the call durable, as a
	 * synced write would have (an fsync of the write-ahead log). May run
	 * on one thread while another writes (the writer's pipeline). */
	int (*sync)(struct kv *kv, char *err);
	struct kv_snap *(*snap_new)(struct kv *kv);
	void (*snap_free)(struct kv *kv, struct kv_snap *snap);
	/* An iterator over [lo, hi) (hi NULL: no bound). */
	struct kv_iter *(*iter_new)(struct kv *kv, const struct kv_snap *snap,
				    enum kv_cf cf, const void *lo, size_t lol,
				    const void *hi, size_t hil);
	void (*iter_first)(struct kv_iter *it);
	void (*iter_last)(struct kv_iter *it);
	void (*iter_seek)(struct kv_iter *it, const void *k, size_t kl);
	int (*iter_valid)(struct kv_iter *it);
	void (*iter_next)(struct kv_iter *it);
	const uint8_t *(*iter_key)(struct kv_iter *it, size_t *kl);
	const uint8_t *(*iter_value)(struct kv_iter *it, size_t *vl);
	/* 0 or an error (with its message) once the iterator stopped. */
	int (*iter_error)(struct kv_iter *it, char *err);
	void (*iter_free)(struct kv_iter *it);
	/* Writes memtables out to table files and waits (a no-op in
	 * memory); after it the WAL is no longer needed for recovery. */
	int (*flush)(struct kv *kv, char *err);
	void (*close)(struct kv *kv);
};

struct kv {
	const struct kv_engine *e;
};

struct stor_options;
struct stor_memdisk;
int kv_rocks_open(const struct stor_options *o, struct kv **out, char *err);
int kv_mem_open(struct stor_memdisk *d, struct kv **out, char *err);

/* Scans the RocksDB WAL files in dir for damage with intact records after
 * it (walscan.c): ERR_CORRUPT with a message, or 0. */
int kv_wal_scan(const char *dir, char *err);

/* Maps an engine message to a code: ERR_NOSPACE for a full disk,
 * ERR_CORRUPT for detected corruption, ERR_IO otherwise. */
int kv_classify(const char *msg);

#endif
