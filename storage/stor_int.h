/*
 * stor_int.h: the store's internals, shared by its source files.
 */
#ifndef CLUSTERD_STORAGE_STOR_INT_H
#define CLUSTERD_STORAGE_STOR_INT_H

#include <pthread.h>
#include <stdint.h>

#include "storage/cdomain.h"
#include "storage/kv.h"
#include "storage/kvrev.h"
#include "storage/session.h"
#include "storage/storage.h"

#define STOR_ERRTEXT_MAX (KV_ERRMSG_MAX + 128)
#define TRACE_MOD "storage"

struct stor_domain {
	uint8_t type;
	char name[24];
	stor_apply_fn fn;
	void *ctx;
};

struct stor {
	struct kv *kv;
	const struct tracer *tr;
	/* mu guards everything below it that the writer thread touches:
	 * the failure state, the error text and the log bounds. */
	pthread_mutex_t mu;
	int failed;  /* sticky ERR_CORRUPT / ERR_IO: no more service */
	int nospace; /* sticky ERR_NOSPACE: no more writes */
	char err[STOR_ERRTEXT_MAX];
	uint64_t start_index, start_term; /* the entry before the first */
	uint64_t last, last_term;
	/* wmu serializes log mutations (the writer thread's batches and the
	 * owner's truncate/compact), held across the write itself. */
	pthread_mutex_t wmu;
	/* Owner thread only. */
	uint64_t applied, applied_term;
	uint32_t gen; /* the current state generation */
	int snap_writer_open;
	int writer_running; /* a stor_writer must stop before stor_close */
	struct stor_domain domains[STOR_DOMAINS_MAX];
	size_t ndomains;
	struct stor_sess_stats sess; /* session.c's counters */
};

/* Records an error: sets the sticky state for corruption, I/O and a full
 * disk, keeps the text, traces it. Returns code. */
int stor_fail(struct stor *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 0, or the error that forbids reads (failed) or writes (also nospace). */
int stor_check_read(struct stor *s);
int stor_check_write(struct stor *s);
/* Runs kv write with error bookkeeping ("what" names the operation). */
int stor_write(struct stor *s, const struct kv_batch *b, int sync,
	       const char *what);
/* Makes every write that returned before the call durable (the engine's
 * sync), with the same bookkeeping. Refused only once the store failed:
 * after a full disk it still syncs what was already written, since a
 * sync needs no new space for it. */
int stor_sync(struct stor *s, const char *what);
/* Point read with error bookkeeping; ERR_NOTFOUND passes through. */
int stor_get(struct stor *s, enum kv_cf cf, const void *k, size_t kl,
	     uint8_t **v, size_t *vl);

/* Meta keys. */
#define META_HARD_STATE "hard_state"
#define META_CONF "conf"
#define META_SNAP "snapshot"
#define META_SNAP_CONF "snapshot_conf"
#define META_LOG_START "log_start"
#define META_APPLIED "applied"
#define META_GEN "state_gen"
#define META_FORMAT 1

/* Loads a meta record of n numbers; missing: all 0 and returns 0. */
int stor_meta_load(struct stor *s, const char *key, uint64_t *v, size_t n);
int stor_batch_meta(struct kv_batch *b, const char *key, const uint64_t *v,
		    size_t n);

/* Log internals (log.c). */
int stor_log_open(struct stor *s);
/* Adds an append of e[0..n) to a batch; last and last_term track the log's
 * end across several appends in one batch. Caller holds wmu. */
int stor_log_batch_append(struct stor *s, struct kv_batch *b,
			  const struct stor_entry *e, size_t n, uint64_t *last,
			  uint64_t *last_term);
void stor_log_set_end(struct stor *s, uint64_t last, uint64_t last_term);

/* State machine internals (sm.c). */
int stor_sm_open(struct stor *s);
void stor_state_key(uint8_t *out, uint32_t gen, uint8_t domain);
/* The 4-byte big-endian generation prefix alone. */
void stor_gen_prefix(uint8_t *out, uint32_t gen);
/* State keys start with the generation (4 bytes) and the domain (1). */
#define STATE_PREFIX 5
/* A binary (or, leniently, a string) field of a command body: *p points
 * into the document. ERR_MALFORMED for any other type. */
int stor_mp_bytes(const msgpack_object *o, const uint8_t **p, size_t *n);
/* Element i of array a as an unsigned integer at most max, or as a string
 * copied into dst[size] (NUL-terminated): 0 or ERR_MALFORMED. */
int stor_mp_u64_at(const msgpack_object *a, uint32_t i, uint64_t max,
		   uint64_t *v);
int stor_mp_str_at(const msgpack_object *a, uint32_t i, char *dst,
		   size_t size);
/* A stored record [version, record]: hands the record to fn (whose result
 * is returned) when the version is `version`; ERR_VERSION for another,
 * ERR_CORRUPT when it does not decode. */
int stor_rec_parse(const uint8_t *v, size_t vl, uint64_t version,
		   int (*fn)(const msgpack_object *rec, void *arg), void *arg);

/* Decodes what both kv domains' bodies start with: an array of nmin to 5
 * elements [op, ns (string), key (binary or string), ...]; o[] receives
 * every element, *n their count. ERR_MALFORMED otherwise. */
int stor_kv_head(const msgpack_object *body, uint32_t nmin,
		 const msgpack_object *o[5], uint32_t *n, uint64_t *op,
		 const char **ns, size_t *nsl, const uint8_t **key, size_t *kl);

/* Visits the current state of a domain with domain keys in [lo, hi) (hi
 * NULL: to the domain's end), in key order: fn gets the domain key (without
 * generation and domain) and value, borrowed for the call, and returns 0
 * to go on, 1 to stop, or an error that ends the scan and is returned. */
typedef int (*stor_scan_fn)(void *arg, const uint8_t *k, size_t kl,
			    const uint8_t *v, size_t vl);
int stor_state_scan(struct stor *s, uint8_t domain, const void *lo,
		    size_t lol, const void *hi, size_t hil, stor_scan_fn fn,
		    void *arg);
/* Inside an apply function (a wrapper domain such as session.c): applies
 * the command envelope cmd[0..len) as part of the current entry, with the
 * domain its envelope names, and returns that domain's result. A nested
 * session command is refused (ERR_MALFORMED). */
int stor_ax_dispatch(struct stor_apply_ctx *ax, uint64_t index,
		     const uint8_t *cmd, size_t len, uint8_t refuse_type);
/* Inside an apply function: visits the current domain's state like
 * stor_state_scan. The entries of this batch before the current one are
 * written first (with their applied index), so the scan sees exactly the
 * state every node sees at this entry, whatever its batch boundaries.
 * Values stor_ax_get returned earlier are invalid afterwards. */
int stor_ax_scan(struct stor_apply_ctx *ax, stor_scan_fn fn, void *arg);
/* stor_ax_scan over the domain keys in [lo, hi) (hi NULL: to the end). */
int stor_ax_scan_range(struct stor_apply_ctx *ax, const void *lo, size_t lol,
		       const void *hi, size_t hil, stor_scan_fn fn, void *arg);
/* Inside an apply function: reads another domain's record (as the state
 * is at this entry), like stor_ax_get; read only, so one domain can check
 * what another holds (the ledger checks an instance's node). */
int stor_ax_get_in(struct stor_apply_ctx *ax, uint8_t domain, const void *k,
		   size_t klen, const uint8_t **v, size_t *vlen);
/* session.c: registered by stor_open. */
int stor_sess_register(struct stor *s);
/* The state digest: FNV-1a over (key length, key, value length, value) of
 * each record in key order, keys without their generation. */
#define STOR_DIGEST_SEED 0xcbf29ce484222325ull
uint64_t stor_digest_record(uint64_t h, const uint8_t *k, size_t kl,
			    const uint8_t *v, size_t vl);

#endif
