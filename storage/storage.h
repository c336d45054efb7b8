/*
 * storage.h: the Raft log, Raft metadata and the replicated state machine
 * of one clusterd node, kept in one RocksDB database (docs/decisions.md
 * has the measurements behind its defaults).
 *
 * Layout: one database, four column families.
 *   log    key = index (u64 big-endian, so keys sort by index); value =
 *          crc32c | version | term | type | data. The checksum covers the
 *          index too, so a value copied under the wrong key is caught.
 *   meta   hard state {term, vote, commit}, the configuration blob,
 *          snapshot metadata, the log's start, the applied index and the
 *          active state generation.
 *   state  the replicated state: key = generation (u32 BE) | domain (u8) |
 *          domain key. An installed snapshot is written under a fresh
 *          generation and made current by one synced write of the meta
 *          key; the old generation is then deleted by range. A crash at
 *          any point of an install leaves exactly one generation current.
 *   local  node-local data (identity, tokens cached for this node).
 *
 * Durability (Raft paper, section 5 and figure 2: "updated on stable
 * storage before responding to RPCs"): appends and hard-state saves are
 * synced WriteBatches; many entries from many proposers go out in one
 * batch and one fsync (group commit). The state machine applies committed
 * entries in a WriteBatch that also moves the applied index, so a crash
 * can never apply an entry twice or half.
 *
 * Failure: a checksum mismatch is ERR_CORRUPT, a RocksDB error ERR_IO, a
 * full disk ERR_NOSPACE. Corruption and I/O errors make the store refuse
 * all further service (the node must not replicate what it cannot trust);
 * a full disk stops writes while reads go on. stor_last_error() keeps the
 * text (RocksDB's own message, or which index failed its checksum).
 *
 * Threads: one owner thread calls everything here, except that the writer
 * (stor_writer_*) appends from its own threads; reads of the log and the
 * metadata getters are safe while it runs. The tracer may be called from
 * the writer thread too (an append that fails), so its emit must be
 * thread-safe.
 *
 * Nothing here reads a clock, draws randomness or prints: time comes in as
 * arguments, text goes through the tracer.
 *
 * How the node drives it (the Ready contract of raft/raft.h, in order):
 *   1. persist: hand the new entries and the hard state to the writer in
 *      one stor_wreq; when its callback reports 0, tell Raft "persisted up
 *      to the last index" and only then send what depends on it;
 *   2. apply: read committed entries (stor_log_read, bounded) and
 *      stor_apply them; results go back to the proposers;
 *   3. compact: after a snapshot, stor_log_compact up to a point the
 *      followers no longer need; to feed a follower, stor_snap_reader_*;
 *      to receive one, stor_snap_writer_* then stor_log_reset if the log
 *      does not hold the snapshot's index and term.
 * The simulator does the same on a stor_memdisk, calling stor_log_append
 * directly and reporting "persisted" at stor_memdisk_next_durable().
 */
#ifndef CLUSTERD_STORAGE_STORAGE_H
#define CLUSTERD_STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

#include "base/prng.h"
#include "base/trace.h"

struct stor;
struct stor_memdisk;

/*
 * Errors. Every int-returning function below returns 0 or a negative code
 * from base/err.h; besides what its comment names, any of them may return:
 *   ERR_IO       RocksDB failed to read or write. Sticky: the store stops
 *                and every later write returns it (stor_failed).
 *   ERR_CORRUPT  a stored record fails its checksum or does not decode.
 *                Sticky like ERR_IO.
 *   ERR_NOSPACE  the disk is full; not sticky (writes succeed again once
 *                space is freed).
 *   ERR_NOMEM    an allocation failed.
 *   ERR_INVAL    an argument breaks the function's stated precondition
 *                (a key or value over its bound, indexes out of order).
 * A reader that finds nothing returns ERR_NOTFOUND only where its comment
 * says so. stor_last_error() holds the text of the last failure.
 *
 * Domains receive command bodies as msgpack_object, the document node of
 * base/mp.h that every module reads msgpack through (with mp_get_* and
 * mp_map_*); storage.h exposes it by including base/mp.h rather than
 * wrapping it in a type of its own.
 */

/* Bounds on what one call may carry; each is far above what Raft batches
 * and low enough that a hostile peer cannot make us allocate
 * without limit. */
#define STOR_ENTRY_DATA_MAX (16u << 20)  /* one entry's payload */
#define STOR_APPEND_MAX 65536            /* entries in one append */
#define STOR_CONF_MAX (1u << 20)         /* configuration blob */
#define STOR_KEY_MAX 1024                /* a state key */
#define STOR_VALUE_MAX (8u << 20)        /* a state value */

/* Entry types stored in the log; the state machine applies only
 * STOR_ENTRY_COMMAND and steps over the others (their index still counts
 * as applied). */
enum {
	STOR_ENTRY_COMMAND = 0,
	STOR_ENTRY_CONFIG = 1,
	STOR_ENTRY_NOOP = 2,
};

/* A log entry. In arguments the data is borrowed for the call; entries
 * returned by reads own their data (stor_entries_free). */
struct stor_entry {
	uint64_t index;
	uint64_t term;
	uint8_t type;
	uint8_t *data;
	size_t len;
};

struct stor_hard_state {
	uint64_t term;
	uint64_t vote; /* 0: none */
	uint64_t commit;
};

/* Describes the last snapshot installed or taken. conf is owned by the
 * struct when returned (free with stor_snap_meta_free). */
struct stor_snap_meta {
	uint64_t index;
	uint64_t term;
	uint8_t *conf;
	size_t conf_len;
};

/* Fault injection for the in-memory variant (the simulator). */
struct stor_mem_faults {
	uint64_t fsync_latency_us; /* a synced write is durable this long
				      after it was issued */
	double keep_unsynced;      /* at a crash, chance that each further
				      unsynced write survived (in order) */
	double torn;               /* chance the first lost write was torn:
				      half-written bytes that recovery must
				      detect and drop */
};

struct stor_options {
	const char *dir;          /* database directory; NULL for memory */
	struct stor_memdisk *mem; /* the simulated disk (when dir is NULL) */
	const struct tracer *tracer; /* borrowed for the store's lifetime */
	/* RocksDB memory: memtable size per column family, the cap over all
	 * memtables, and the block cache (docs/decisions.md). */
	size_t write_buffer_bytes;
	size_t db_write_buffer_bytes;
	size_t block_cache_bytes;
	int max_open_files;
	int sync; /* 1: fsync appends (default); 0 only for tests */
	/* Where stor_open puts the text of its error (optional). */
	char *open_err;
	size_t open_err_size;
};

/* Defaults for a node: see docs/decisions.md for where they come from. */
void stor_options_default(struct stor_options *o);

/* Opens (creating if absent) the store. On success *out is the caller's
 * until stor_close. Cleans up a snapshot install a crash interrupted. */
int stor_open(const struct stor_options *o, struct stor **out);
void stor_close(struct stor *s);

/* The sticky failure: 0, or the code that stopped the store. */
int stor_failed(struct stor *s);
/* Copies the text of the last error into buf (always NUL-terminated). */
void stor_last_error(struct stor *s, char *buf, size_t size);

/* --- The log --------------------------------------------------------- */

/* Appends entries e[0..n) in one synced WriteBatch. Indexes must be
 * consecutive, start at most at last+1 and after the compacted prefix;
 * entries at or after e[0].index already in the log are replaced (the
 * conflicting suffix is deleted in the same batch). */
int stor_log_append(struct stor *s, const struct stor_entry *e, size_t n);
/* Deletes entries from `from` to the end (synced). */
int stor_log_truncate(struct stor *s, uint64_t from);
/* Deletes entries up to and including `upto` (upto <= last), remembering
 * upto's term so stor_log_term still answers for it. Not synced (a lost
 * compaction leaves a longer, consistent log), so no fsync on the loop. */
int stor_log_compact(struct stor *s, uint64_t upto);
/* Empties the log: it continues after (index, term), as after installing
 * a snapshot the log does not contain. */
int stor_log_reset(struct stor *s, uint64_t index, uint64_t term);

/* first = the first stored index (last+1 when empty); last = the last
 * stored index, or the compaction point when empty. While a writer runs,
 * last may count entries written but not yet synced (readable already);
 * what is durable is what its callbacks reported. */
uint64_t stor_log_first(struct stor *s);
uint64_t stor_log_last(struct stor *s);
/* Term of `index`, for first-1 <= index <= last. ERR_NOTFOUND outside. */
int stor_log_term(struct stor *s, uint64_t index, uint64_t *term);
/* One entry; ERR_NOTFOUND outside [first, last]. On success the caller
 * frees out->data. */
int stor_log_entry(struct stor *s, uint64_t index, struct stor_entry *out);
/* Entries from lo up to hi (exclusive), stopping once their data adds up
 * to max_bytes (at least one is returned when lo < hi). The caller frees
 * with stor_entries_free(*out, *n). */
int stor_log_read(struct stor *s, uint64_t lo, uint64_t hi, size_t max_bytes,
		  struct stor_entry **out, size_t *n);
void stor_entries_free(struct stor_entry *v, size_t n);

/* --- Raft metadata --------------------------------------------------- */

int stor_hs_save(struct stor *s, const struct stor_hard_state *hs);
/* A fresh store loads {0, 0, 0}. */
int stor_hs_load(struct stor *s, struct stor_hard_state *hs);
int stor_conf_save(struct stor *s, const void *blob, size_t len);
/* ERR_NOTFOUND if none was saved; on success the caller frees *blob. */
int stor_conf_load(struct stor *s, uint8_t **blob, size_t *len);
/* The last snapshot's metadata; ERR_NOTFOUND if no snapshot was ever
 * installed or taken (m is then zeroed). On success the caller frees with
 * stor_snap_meta_free. */
int stor_snap_meta_load(struct stor *s, struct stor_snap_meta *m);
void stor_snap_meta_free(struct stor_snap_meta *m);

/* Writes RocksDB's memtables to table files (before a backup, or to keep
 * restarts short); everything stays durable either way. */
int stor_flush(struct stor *s);

/* Node-local data (not replicated), synced. */
int stor_local_put(struct stor *s, const char *key, const void *v, size_t n);
/* stor_local_get: ERR_NOTFOUND if the key was never put; on success the
 * caller frees *v. */
int stor_local_get(struct stor *s, const char *key, uint8_t **v, size_t *n);
/* Puts and deletes (del[i] != 0: delete keys[i]) of node-local data in
 * one synced, atomic batch. */
int stor_local_batch(struct stor *s, const char *const *keys,
		     const uint8_t *const *vals, const size_t *lens,
		     const int *del, size_t n);

/* --- The state machine ---------------------------------------------- */

/* Domains: a command is msgpack [version, domain type, body]; the engine
 * decodes the envelope and hands the body to the domain registered for
 * the type. Apply functions must be deterministic: they read and write
 * state only through the apply context, and see their own batch's
 * earlier writes. They return 0 or a result code (ERR_CONFLICT, ...) that
 * is handed back to the proposer; a result code does not undo the
 * domain's writes for that entry, so domains check before they write. */
#define STOR_CMD_VERSION 1
#define STOR_DOMAINS_MAX 16
enum {
	STOR_DOMAIN_KV = 1,
};

struct stor_apply_ctx;
typedef int (*stor_apply_fn)(void *ctx, struct stor_apply_ctx *ax,
			     uint64_t index, const msgpack_object *body);

/* Registers a domain (type 1..255, unique); ctx is borrowed until close. */
int stor_register_domain(struct stor *s, uint8_t type, const char *name,
			 stor_apply_fn fn, void *ctx);

/* State access inside an apply function: keys are the domain's own (the
 * engine prefixes generation and domain). get returns ERR_NOTFOUND; on
 * success *v is owned by the context until the next stor_ax_* call. A
 * failed put or delete (a batch bound, a storage error) aborts the whole
 * stor_apply call, so a domain may ignore their return values. */
int stor_ax_get(struct stor_apply_ctx *ax, const void *k, size_t klen,
		const uint8_t **v, size_t *vlen);
int stor_ax_put(struct stor_apply_ctx *ax, const void *k, size_t klen,
		const void *v, size_t vlen);
int stor_ax_del(struct stor_apply_ctx *ax, const void *k, size_t klen);

/* Applies committed entries e[0..n) (e[0].index == applied+1) in one
 * WriteBatch with the new applied index. results (may be NULL) receives
 * each entry's result code. Returns 0 or a storage error; a command that
 * does not decode is a result (ERR_MALFORMED / ERR_VERSION / ERR_NOTFOUND
 * for an unknown domain), never a storage error: every node rejects it
 * alike. sync: 1 fsyncs; 0 is safe too, since the log replays. */
int stor_apply(struct stor *s, const struct stor_entry *e, size_t n,
	       int *results, int sync);
uint64_t stor_applied_index(struct stor *s);
uint64_t stor_applied_term(struct stor *s);

/* Reads the state of a domain outside of apply (the owner thread).
 * ERR_NOTFOUND if the key is absent, ERR_TOOBIG if klen > STOR_KEY_MAX;
 * on success the caller frees *v. */
int stor_state_get(struct stor *s, uint8_t domain, const void *k, size_t klen,
		   uint8_t **v, size_t *vlen);
/* A digest over the whole current state (domain keys and values, in
 * order): equal states give equal digests. */
int stor_state_digest(struct stor *s, uint64_t *digest, uint64_t *count);

/* --- The key/value domain (plugins, tests, benchmarks) --------------- */

/* Commands: body = [op, namespace, key, ...]:
 *   put [0, ns, key, value]   delete [1, ns, key]
 *   cas [2, ns, key, expected|nil, new|nil]  (nil expected: must be
 *        absent; nil new: delete). A failed cas is ERR_CONFLICT. */
enum {
	STOR_KV_PUT = 0,
	STOR_KV_DEL = 1,
	STOR_KV_CAS = 2,
};
#define STOR_KV_NS_MAX 64

/* Registers the kv domain (stor_open does so already). */
int stor_kv_register(struct stor *s);
/* Encode a kv command; on success the caller frees *out. expected/val may
 * be NULL for cas (meaning nil). */
int stor_kv_encode(int op, const char *ns, const void *key, size_t klen,
		   const void *expected, size_t elen, const void *val,
		   size_t vlen, uint8_t **out, size_t *len);
/* Reads a kv value; ERR_NOTFOUND if absent. The caller frees *v. */
int stor_kv_get(struct stor *s, const char *ns, const void *key, size_t klen,
		uint8_t **v, size_t *vlen);
/* Decodes a command envelope: version, domain type and body. Used by the
 * engine and the fuzzer; the body points into doc. */
int stor_cmd_decode(struct mp_doc *doc, const uint8_t *buf, size_t len,
		    uint8_t *type, const msgpack_object **body);
/* Decodes and checks a kv body without applying it. */
int stor_kv_check(const msgpack_object *body);

/* --- Snapshots ------------------------------------------------------ */

/* A snapshot stream: chunks of at most chunk_max bytes, each msgpack
 * [version, kind, seq, payload]: a header {index, term, conf}, record
 * chunks, and a trailer with the record count and digest. The reader
 * pins a RocksDB snapshot, so writes continue meanwhile; its memory is
 * one chunk. */
#define STOR_SNAP_CHUNK_MIN 4096
#define STOR_SNAP_CHUNK_MAX (64u << 20)
struct stor_snap_reader;
int stor_snap_reader_open(struct stor *s, size_t chunk_max,
			  struct stor_snap_reader **out);
/* Produces the next chunk: *chunk is borrowed until the next call; *done
 * is 1 after the trailer was returned. */
int stor_snap_reader_next(struct stor_snap_reader *r, const uint8_t **chunk,
			  size_t *len, int *done);
void stor_snap_reader_close(struct stor_snap_reader *r);

/* Installs a stream: chunks in order; finish makes it current atomically
 * (with the applied index, snapshot metadata and configuration) and
 * deletes the old state. abort (or a crash before finish) leaves the old
 * state current. */
struct stor_snap_writer;
int stor_snap_writer_open(struct stor *s, struct stor_snap_writer **out);
int stor_snap_writer_chunk(struct stor_snap_writer *w, const uint8_t *chunk,
			   size_t len);
int stor_snap_writer_finish(struct stor_snap_writer *w);
void stor_snap_writer_abort(struct stor_snap_writer *w);

/* --- The writer thread (group commit off the event loop) ----------- */

/* A request to append; caller-owned, borrowed until its callback runs.
 * The entries (and their data) must stay valid until then too. A request
 * may also carry the hard state (Raft's Ready: term, vote and commit are
 * persisted with the entries, in the same batch and fsync); n may be 0
 * when it carries only that. */
struct stor_wreq {
	const struct stor_entry *entries;
	size_t n;
	const struct stor_hard_state *hs; /* NULL: unchanged */
	void (*cb)(struct stor_wreq *req, int status);
	void *data;
	int status;
	struct stor_wreq *next; /* private */
};

/* Bounds: requests waiting (ERR_AGAIN past it) and entries per batch. */
#define STOR_WRITER_QUEUE_MAX 4096
#define STOR_WRITER_BATCH_MAX 8192

struct stor_writer;
/* Starts its threads (one writer per store: ERR_BUSY for a second; stop
 * it before stor_close). Completions are collected and an eventfd becomes
 * readable; the owner calls stor_writer_reap() to run the callbacks on its
 * own thread (a libuv loop polls the fd with uv_poll). */
int stor_writer_start(struct stor *s, struct stor_writer **out);
/* Queues a request (in index order with earlier ones). ERR_AGAIN when the
 * queue is full, the sticky error when the store has failed. */
int stor_writer_submit(struct stor_writer *w, struct stor_wreq *req);
int stor_writer_fd(struct stor_writer *w);
/* Runs callbacks of completed requests; returns how many. */
size_t stor_writer_reap(struct stor_writer *w);
/* Counters: batches made durable (fsyncs that acknowledged entries) and
 * the entries in them. */
void stor_writer_stats(struct stor_writer *w, uint64_t *batches,
		       uint64_t *entries);
/* Finishes queued requests, stops the threads, reaps, frees. */
void stor_writer_stop(struct stor_writer *w);

/* --- The in-memory variant (simulator) ------------------------------ */

/* A simulated disk that outlives the stores opened on it, so a test can
 * "crash" a node and reopen it. prng is copied (used for crash faults).
 * On it, a synced write (an append, a hard-state save) returns at once
 * but is durable only from stor_memdisk_next_durable() on: the simulator
 * reports "persisted" to Raft at that virtual time, as the writer thread
 * does on a real disk. One thread only: no stor_writer on top. */
int stor_memdisk_new(const struct stor_mem_faults *f, const struct prng *rng,
		     struct stor_memdisk **out);
void stor_memdisk_free(struct stor_memdisk *d);
/* Replaces the fault parameters for the writes and crashes that follow
 * (the simulator draws a latency per write, so that a device sometimes
 * stalls). Writes already issued keep their deadlines. */
void stor_memdisk_set_faults(struct stor_memdisk *d,
			     const struct stor_mem_faults *f);
/* Virtual time: synced writes issued before now - latency are durable. */
void stor_memdisk_advance(struct stor_memdisk *d, uint64_t now_us);
/* When the oldest pending synced write becomes durable (0: none). */
uint64_t stor_memdisk_next_durable(struct stor_memdisk *d);
/* The crash: unsynced writes are lost (some survive, one may be torn, per
 * the faults). Call after stor_close of the store using it. */
void stor_memdisk_crash(struct stor_memdisk *d);
/* Torn records recovery detected and dropped so far (for tests). */
uint64_t stor_memdisk_torn_detected(struct stor_memdisk *d);
/* Injects an I/O error (code ERR_IO or ERR_NOSPACE) into the next write. */
void stor_memdisk_fail_next_write(struct stor_memdisk *d, int code);

/* --- Testing hooks --------------------------------------------------- */

/* Writes raw bytes as the stored value of a log index, bypassing the
 * checksum: the corruption tests use it. */
int stor_debug_put_log_raw(struct stor *s, uint64_t index, const void *v,
			   size_t n);
/* Deletes one log entry behind the log's back (a hole for the tests). */
int stor_debug_del_log_raw(struct stor *s, uint64_t index);
/* Watches the writer's pipeline (its ordering test): written runs on a
 * writer thread once a request's batch was written (readable, not yet
 * synced); sync_begin right before a sync that covers what was written
 * before it, sync_end right after (status: its result). They may block,
 * as a slow disk would. Set before the first submit; ctx is borrowed. */
#define STOR_WRITER_HOOKS 1 /* for programs built against older trees */
struct stor_writer_hooks {
	void (*written)(void *ctx, struct stor_wreq *req);
	void (*sync_begin)(void *ctx);
	void (*sync_end)(void *ctx, int status);
	void *ctx;
};
void stor_debug_writer_hooks(struct stor_writer *w,
			     const struct stor_writer_hooks *h);

#endif
