/*
 * raftd.h: the Raft driver. It carries out raft_step's updates (THE DRIVER
 * CONTRACT in raft/raft.h) over the storage module (storage/storage.h),
 * and is the one driver both the node and the simulator run.
 *
 * Loop-independent: raftd reads no clock (every call takes now_ms), opens
 * no socket and includes no event loop. Its surroundings come in as an
 * environment of callbacks (struct raftd_env): send a message, arm a
 * timer, report results; and a disk port (struct raftd_disk) through
 * which entries and hard state reach the store. The node supplies a
 * libuv loop, the transport and the built-in port over stor_writer; the
 * simulator (tests/sim/raft) a virtual clock, a simulated network and a
 * port over stor_memdisk, and watches through the same callbacks.
 *
 * What raftd does with an update, in the contract's order:
 *  1. a snapshot: stor_snap_writer_* with its chunks, then stor_log_reset
 *     (a direct write, see the port), then RAFT_EV_SNAPSHOT_APPLIED once
 *     the port reports it durable;
 *  2. entries and hard state: one port write (a truncation with entries
 *     replaces the conflicting suffix in the same write; a truncation
 *     alone is a direct write); compact_to: stor_log_compact;
 *  3. messages: encoded and sent at once, unless the hard state's term or
 *     vote changed in a write not yet durable: then they are held until
 *     the port reports it durable. A change of the commit index alone
 *     holds nothing (raft.h: the stored commit may lag);
 *  4. committed entries: stor_apply in one batch (not synced: the log
 *     replays), results to on_apply and to the proposers (on_result);
 *     after a configuration entry, stor_conf_save (a direct write);
 *  5. reads: served (on_read) once applied reaches their index;
 *  6. the timer: env.set_timer(up->deadline_ms).
 * RAFT_EV_PERSISTED is stepped when the port reports the entries'
 * write durable, never earlier.
 *
 * The configuration as of the applied index lives in the replicated state
 * (domain RAFTD_DOMAIN_CONF: configuration entries are applied as
 * commands of it), so it is part of every snapshot and applied exactly
 * once with its index. The meta record stor_conf_save keeps (which the
 * snapshot stream's header carries) is written after the apply, apart
 * from it; raftd_open repairs it when a crash fell in between.
 *
 * Snapshots: taken every snapshot_entries applied entries or
 * snapshot_bytes of applied entry data (raftd_config), or on
 * raftd_snapshot: the stor_snap_reader stream of the applied state, each
 * chunk framed by a u32le length, is what raft keeps and sends to a
 * follower that is behind; raft then compacts, and so does the store.
 *
 * Threads: one. Every function here is called on the owner's thread, and
 * the callbacks run on it, inside the raftd call that caused them. A
 * callback must not call a raftd function on the same struct raftd
 * (those return ERR_BUSY there): the owner defers such work to its loop.
 *
 * Failure: a storage error stops the driver for good (fail-stop, as the
 * store itself after ERR_IO/ERR_CORRUPT): env.on_fail is called once,
 * pending proposals and reads get ERR_SHUTDOWN, every later call returns
 * the sticky error, and nothing more is sent. The owner closes it and the
 * store and may reopen both (the restart path).
 */
#ifndef CLUSTERD_NODE_RAFTD_RAFTD_H
#define CLUSTERD_NODE_RAFTD_RAFTD_H

#include <stddef.h>
#include <stdint.h>

#include "base/trace.h"
#include "raft/raft.h"
#include "storage/storage.h"

struct raftd;

/* Proposals and membership changes waiting for their entry's apply. One
 * per in-flight client write; past it raftd_propose gives ERR_AGAIN. */
#define RAFTD_PENDING_MAX 4096
/* Reads waiting for their heartbeat round or their apply (ERR_AGAIN). */
#define RAFTD_READS_MAX 4096
/* Messages held for a hard state's durability; one heartbeat round to 32
 * peers plus a full update's appends fit many times. When full, further
 * messages are dropped and counted (raft retransmits). */
#define RAFTD_HELD_MAX 1024
/* Durability work items (a persisted report or an installed snapshot per
 * write). When full, the last one absorbs the next: its later gate covers
 * both. */
#define RAFTD_DURABLE_MAX 256
/* The state domain holding the configuration as of the applied index.
 * Domains of the node and plugins must not use it. */
#define RAFTD_DOMAIN_CONF 250
/* Snapshot chunk size read from the store (the stream's framing unit). */
#define RAFTD_SNAP_CHUNK (64u << 10)
/* Append latency histogram: upper bounds in ms of each bucket; the last
 * bucket counts the rest. From 1 ms (an SSD's fsync) to a stalled disk. */
#define RAFTD_LAT_BUCKETS 12
extern const uint64_t raftd_lat_bounds_ms[RAFTD_LAT_BUCKETS - 1];

/* Planted driver bugs, for the simulator's test that its checkers catch
 * a broken driver. Never set outside tests.
 *  - RAFTD_BUG_EARLY_DURABLE: every write counts as durable as soon as it
 *    is issued: persisted reports, votes and acknowledgements go out
 *    before a crash can no longer take them back. */
enum {
	RAFTD_BUG_EARLY_DURABLE = 1u << 0,
};

/* ---- the disk port ----
 * Writes become durable in the order they were issued. Each write gets a
 * gate, a number that never decreases from one write to the next; the
 * owner tells raftd how far durability has reached with raftd_disk_done
 * (mark): every write whose gate <= mark is durable. The built-in port
 * (cfg.disk == NULL) numbers its stor_writer requests and reports on its
 * own (raftd_disk_fd, raftd_disk_reap); the simulator's uses virtual
 * times. */
struct raftd_disk {
	void *ctx; /* passed to the functions below */
	/* Issues one write: entries e[0..n) (any stored entry at or after
	 * e[0].index is replaced), then hs if not NULL (n may be 0 then).
	 * e, their data and hs are borrowed for the call only. Sets *gate.
	 * 0, or the store's error (raftd stops). */
	int (*write)(void *ctx, const struct stor_entry *e, size_t n,
		     const struct stor_hard_state *hs, uint64_t *gate);
	/* Bracket a write raftd makes on the store itself, synchronously
	 * (a truncation alone, a snapshot install with its log reset, the
	 * configuration record, the repairs of raftd_open). begin: every
	 * write issued before must be in the store before it (boot: 1 while
	 * raftd_open repairs, 0 otherwise); 0 or an error. end: *gate at
	 * which the direct write is durable. */
	int (*direct_begin)(void *ctx, int boot);
	void (*direct_end)(void *ctx, uint64_t *gate);
};

/* ---- the environment ----
 * ctx is passed to every callback. send, set_timer, on_result and on_read
 * are required; the others may be NULL. Pointers handed to a callback
 * are borrowed for the call. */
struct raftd_env {
	void *ctx;
	/* One encoded raft message (raft_encode) for server `to`. Best
	 * effort: the owner may drop it (queue full, peer unknown). */
	void (*send)(void *ctx, raft_id to, const uint8_t *buf, size_t len);
	/* Call raftd_tick at or after deadline_ms (replaces the previous
	 * deadline; earlier ticks are harmless). */
	void (*set_timer)(void *ctx, uint64_t deadline_ms);
	/* A proposal or membership change accepted with `cookie` has ended:
	 * status 0: its entry was applied at `index` (a KV write's revision)
	 * and the state machine returned `result` (0, ERR_CONFLICT, ...).
	 * ERR_NOTLEADER: it will never be applied (another leader's entry
	 * took its index, or leadership was lost before it was appended).
	 * ERR_TIMEOUT: a snapshot replaced the log before its index was
	 * applied here: it may or may not have been applied. ERR_SHUTDOWN:
	 * raftd stopped or closed; it may or may not be applied. Called
	 * exactly once per accepted cookie. */
	void (*on_result)(void *ctx, uint64_t cookie, int status,
			  raft_index index, int result);
	/* A read accepted with `cookie`: status 0 means the state applied
	 * now (during this call) is linearizable for it (it covers `index`,
	 * the commit index confirmed by a quorum after the read arrived);
	 * else ERR_NOTLEADER, ERR_AGAIN (no entry of the leader's term
	 * committed yet: retry) or ERR_SHUTDOWN. Exactly once per cookie. */
	void (*on_read)(void *ctx, uint64_t cookie, int status,
			raft_index index);
	/* Every committed entry after the store applied it, in index order,
	 * with the state machine's result code (barriers and configuration
	 * entries too; e->data of a NORMAL entry is the command envelope). */
	void (*on_apply)(void *ctx, const struct raft_entry *e, int result);
	/* Role, known leader or term changed (after the step that did it). */
	void (*on_role)(void *ctx, uint8_t role, raft_id leader,
			raft_term term);
	/* The driver stopped on a storage error (once). what: the operation
	 * ("log append", "apply", ...). */
	void (*on_fail)(void *ctx, int code, const char *what);
	/* The simulator's checkers: every update raft produced, before raftd
	 * carries it out (entries handed to disk, the hard state, entries to
	 * apply), and after (status fields), the latter only while raftd has
	 * not failed. */
	void (*on_update)(void *ctx, const struct raft_update *up);
	void (*on_done)(void *ctx, const struct raft_update *up);
	/* A received snapshot was installed in the store (before it is
	 * durable; raft learns it is at the port's report). */
	void (*on_install)(void *ctx, const struct raft_snapshot_meta *m);
};

struct raftd_config {
	struct raft_config raft; /* the core's settings; raft.id nonzero */
	/* Take a snapshot after this many applied entries, or this many
	 * bytes of applied entry data, since the last one (0: never
	 * automatically). Defaults: 10,000 entries or 64 MiB, so that a
	 * restart replays little and a follower that is behind gets the log
	 * rather than the state when it can. */
	uint64_t snapshot_entries;
	uint64_t snapshot_bytes;
	/* Largest snapshot stream read into memory (ERR_TOOBIG beyond). */
	uint64_t snapshot_stream_max;
	uint32_t bugs; /* RAFTD_BUG_* (tests only), else 0 */
	/* The disk port; NULL: the built-in one over stor_writer. The
	 * struct is copied; its ctx is borrowed for raftd's lifetime. */
	const struct raftd_disk *disk;
	const struct tracer *tracer; /* borrowed; may be NULL */
};

/* Defaults for a node (raft_config_default for cfg->raft; id 0). */
void raftd_config_default(struct raftd_config *cfg);

/* ---- lifecycle ---- */

/* Writes the log of a new cluster into an empty store (`clusterd init`,
 * and every initial server of a test cluster): entry 1, term 1, the
 * configuration conf, synced. ERR_EXISTS if the store holds any entry,
 * hard state or applied state; ERR_INVAL for an invalid conf. s is
 * borrowed for the call. */
int raftd_bootstrap(struct stor *s, const struct raft_configuration *conf);

/* Opens the driver on an open store s (borrowed until raftd_close; the
 * owner registered its domains already): registers RAFTD_DOMAIN_CONF,
 * reads the hard state, the applied index and term, the configuration
 * (repairing its meta record), makes the log continue from the applied
 * index (repairing a log reset a crash cut off), reads the applied state
 * as raft's snapshot and the log after it, and restores raft from them.
 * With cfg->disk NULL it starts the store's stor_writer. cfg and env are
 * copied (the pointers inside them borrowed). raftd does not step raft
 * here and calls no callback: call raftd_tick once to start it. On
 * success *out is the caller's until raftd_close. Errors: ERR_INVAL (bad
 * config), ERR_CORRUPT (the stored state contradicts itself: a snapshot
 * ahead of the applied index, a log starting after it), the store's
 * errors, ERR_NOMEM. */
int raftd_open(struct stor *s, const struct raftd_config *cfg,
	       const struct raftd_env *env, uint64_t now_ms,
	       struct raftd **out);

/* Stops the built-in writer (its queued writes finish), calls back every
 * pending proposal and read with ERR_SHUTDOWN, frees everything. Held
 * messages are dropped. The store stays open (the owner's). d may be
 * NULL. Not from inside one of d's callbacks. */
void raftd_close(struct raftd *d);

/* ---- events ----
 * Each returns 0 or an error; on error the call had no effect (except
 * the sticky storage failure, which on_fail reported). ERR_BUSY when
 * called from inside one of raftd's callbacks. */

/* The timer fired (or any time: ticking early is harmless). */
int raftd_tick(struct raftd *d, uint64_t now_ms);

/* A message from the network: decoded (raft_decode) and stepped. buf is
 * borrowed for the call. from: the authenticated sender, or 0 when the
 * transport does not know it; a message claiming another sender is
 * ERR_MALFORMED. ERR_MALFORMED / ERR_VERSION are counted in
 * raftd_metrics and otherwise harmless. */
int raftd_receive(struct raftd *d, uint64_t now_ms, raft_id from,
		  const uint8_t *buf, size_t len);

/* Proposes a command (data: a stor command envelope, copied). 0: accepted;
 * on_result(cookie) follows exactly once. Errors (no callback):
 * ERR_NOTLEADER (raftd_status gives the leader hint), ERR_AGAIN
 * (back-pressure: raft's uncommitted bound or RAFTD_PENDING_MAX),
 * ERR_TOOBIG, the sticky failure. */
int raftd_propose(struct raftd *d, uint64_t now_ms, const uint8_t *data,
		  size_t len, uint64_t cookie);

/* A membership change (enum raft_change_op, one server at a time); its
 * entry's apply ends it with on_result(cookie), as a proposal. Errors as
 * raftd_propose, plus ERR_BUSY (a change is already uncommitted), ERR_AGAIN
 * (no entry of this term committed yet) and ERR_INVAL (see raft_step). */
int raftd_change(struct raftd *d, uint64_t now_ms, uint8_t op, raft_id id,
		 uint64_t cookie);

/* A linearizable read barrier (ReadIndex, thesis 6.4). 0: accepted;
 * on_read(cookie) follows exactly once. Reads that arrive while a
 * heartbeat round is confirming earlier ones wait and then share the next
 * round (batching: one round serves any number). Errors: ERR_NOTLEADER,
 * ERR_AGAIN (RAFTD_READS_MAX, or no entry of the leader's term committed
 * yet: retry shortly), the sticky failure. */
int raftd_read_index(struct raftd *d, uint64_t now_ms, uint64_t cookie);

/* Leadership transfer to `to` (0: the most up-to-date voter). Errors as
 * raft_step's RAFT_EV_TRANSFER (ERR_NOTLEADER, ERR_AGAIN, ERR_INVAL). */
int raftd_transfer(struct raftd *d, uint64_t now_ms, raft_id to);

/* Takes a snapshot of the applied state now (0 also when nothing was
 * applied since the last one). */
int raftd_snapshot(struct raftd *d, uint64_t now_ms);

/* ---- the disk port's reports ---- */

/* A custom port (cfg.disk): every write with gate <= mark is durable. */
int raftd_disk_done(struct raftd *d, uint64_t now_ms, uint64_t mark);
/* The built-in port: a descriptor that becomes readable when writes
 * completed (the node polls it with uv_poll, UV_READABLE), -1 with a
 * custom port; and the reaping to do then, which runs the completions
 * and steps raft. */
int raftd_disk_fd(const struct raftd *d);
int raftd_disk_reap(struct raftd *d, uint64_t now_ms);

/* ---- status (read-only; pointers borrowed until the next call) ---- */

struct raftd_status {
	uint8_t role;   /* enum raft_role */
	raft_id id;     /* this server */
	raft_id leader; /* 0: unknown */
	raft_term term;
	raft_index commit, applied, last_index, snapshot_index;
	/* The term of the entry at commit. Below term, the commit index is
	 * not known to be current yet: a new leader learns it when its
	 * barrier commits, a follower when that commit reaches it. */
	raft_term commit_term;
	int failed; /* the sticky error, 0 if none */
};
void raftd_status(const struct raftd *d, struct raftd_status *st);

/* The latest configuration (raft's, possibly not yet committed). */
const struct raft_configuration *raftd_configuration(const struct raftd *d);

/* On a leader, the match index of server id (its own: the durable last
 * index). ERR_NOTLEADER on a follower, ERR_NOTFOUND for an unknown id. */
int raftd_match(const struct raftd *d, raft_id id, raft_index *match);

/* Counters since raftd_open (they restart with the process). */
struct raftd_metrics {
	uint64_t elections;      /* campaigns this server started */
	uint64_t leader_changes; /* times the known leader changed */
	uint64_t proposals;      /* accepted by raftd_propose/change */
	uint64_t proposals_failed; /* ended with a nonzero status */
	uint64_t reads;          /* accepted by raftd_read_index */
	uint64_t read_rounds;    /* heartbeat rounds that served them */
	uint64_t applied;        /* entries applied */
	uint64_t msgs_sent, msgs_held, msgs_dropped; /* held: waited for
						      * the hard state */
	uint64_t msgs_malformed; /* received, did not decode or check */
	uint64_t snapshots_taken, snapshots_installed;
	uint64_t disk_writes;    /* port writes issued */
	/* Time from a port write's issue to its durability report, by
	 * raftd_lat_bounds_ms. */
	uint64_t append_lat[RAFTD_LAT_BUCKETS];
	uint64_t append_lat_sum_ms;
};
void raftd_metrics(const struct raftd *d, struct raftd_metrics *m);

/* The core itself, read-only, for the simulator's checkers and tests
 * (raft.h's accessors). */
const struct raft *raftd_raft(const struct raftd *d);
/* The store it drives (borrowed). */
struct stor *raftd_store(const struct raftd *d);

#endif
