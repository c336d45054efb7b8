/*
 * raft.h: a pure Raft core, driven by raft_step().
 *
 * Implements Raft as in Ongaro's thesis ("Consensus: Bridging Theory and
 * Practice", 2014; section numbers below refer to it and, prefixed "paper",
 * to the 2014 USENIX paper): leader election with randomised timeouts
 * (paper 5.2), PreVote (thesis 9.6), CheckQuorum (thesis 6.2), the vote
 * lease that keeps removed or partitioned servers from disrupting a stable
 * leader (thesis 4.2.3), log replication with batching, pipelining, per-
 * follower flow control and fast backtracking (paper 5.3), the commitment
 * rule for current-term entries only (paper 5.4.2), ReadIndex (thesis
 * 6.4), leadership transfer with TimeoutNow (thesis 3.10), non-voting
 * members and single-server membership changes (thesis 4.1, 4.2) with
 * the 2015 fix (a leader changes the configuration only once an entry of
 * its own term is committed; see Ongaro, raft-dev, "bug in single-server
 * membership changes", July 2015), and snapshots sent in chunks (thesis 5).
 *
 * The shape follows etcd-raft's Ready contract and cowsql/raft's naming:
 * the core performs no I/O, reads no clock and draws no randomness except
 * from the struct prng it is given. Every input is an event; every output
 * lands in a struct raft_update that the driver (node/ under libuv, or
 * tests/sim/) carries out in the order written below.
 *
 * ---------------------------------------------------------------------
 * THE DRIVER CONTRACT (what the caller of raft_step must do with an update)
 * ---------------------------------------------------------------------
 * After every raft_step() (whatever it returns), in this order:
 *
 *  1. If up->snapshot is set: store the snapshot (data and metadata) and
 *     replace the state machine with it; discard the whole stored log (the
 *     log restarts after up->snapshot->meta.index). This may be done
 *     asynchronously, ordered with the writes of step 2; when it is
 *     durable, step RAFT_EV_SNAPSHOT_APPLIED. Until then raft does not
 *     acknowledge it to the leader, nor apply anything after it.
 *  2. If up->truncate_from != 0: delete every stored entry with index >=
 *     truncate_from. Then append up->entries[0..n_entries) (contiguous,
 *     ascending indexes, the first one is truncate_from when truncating).
 *     This write may complete asynchronously; once entries up to index I
 *     are durable (fsynced), step RAFT_EV_PERSISTED with I and the term of
 *     entry I. Writes must become durable in the order they were issued.
 *     If up->compact_to != 0, stored entries up to it may be deleted (a
 *     snapshot the application just took covers them).
 *  3. If up->hard_state_changed: durably store up->hard_state (term, vote,
 *     commit). This MUST be durable before step 4 (a vote or a term sent
 *     before it is on disk can be forgotten in a crash, and then a second
 *     vote in the same term becomes possible).
 *  4. Send up->msgs[0..n_msgs) (encode with raft_encode). Sending needs
 *     the hard state of this update (step 3) to be durable; it does NOT
 *     need the entries of step 2 to be durable, because raft itself never
 *     acknowledges an entry, nor counts it towards commitment on the
 *     leader, before RAFT_EV_PERSISTED covers it (thesis 10.2.1: the leader
 *     may write its log in parallel with replication). A driver that
 *     simply makes steps 1-3 durable before sending is also correct.
 *     Messages may be lost, duplicated or reordered; raft copes.
 *  5. Apply up->committed[0..n_committed) to the state machine, in order.
 *     They are committed and durable locally. Entries of type
 *     RAFT_ENTRY_BARRIER carry no data and are skipped by applications;
 *     RAFT_ENTRY_CONFIG entries hold a configuration (raft_conf_decode)
 *     that raft has already taken into account.
 *  6. Hand up->reads[0..n_reads) results to their waiters: a read with
 *     status 0 may be served once the state machine has applied index
 *     `index`.
 *  7. Call raft_step with RAFT_EV_TICK at or after up->deadline_ms (the
 *     driver may tick earlier or more often; that is harmless).
 *
 * OWNERSHIP. struct raft owns its in-memory log: entries from the last
 * snapshot (exclusive) to the last index, with data buffers raft
 * allocates and frees (entries at or below a compaction point are freed;
 * truncated entries are freed). Every pointer inside a struct raft_update
 * (entries, committed, msgs and the entry and chunk pointers inside them,
 * reads, snapshot) is BORROWED from raft and valid only until the next
 * call of raft_step, raft_restore or raft_close on the same struct raft. A
 * driver that persists or sends asynchronously must copy (or encode)
 * before then. Event payloads (proposal data, received messages and their
 * entries, snapshot data) are borrowed for the duration of raft_step only;
 * raft copies what it keeps.
 *
 * LIMITS. At most RAFT_NODES_MAX servers per configuration; per-peer state
 * is preallocated in struct raft. One update carries at most RAFT_MSGS_MAX
 * messages: when full, raft stops generating replication messages and
 * retries them on a later heartbeat (never loses safety, only time).
 * Uncommitted proposals are bounded by raft_config.uncommitted_bytes_max
 * (ERR_AGAIN past it). Pending reads are bounded by RAFT_READS_MAX
 * (ERR_AGAIN). The committed part of the log is bounded by the
 * application's snapshot cadence (RAFT_EV_SNAPSHOT_TAKEN compacts it).
 * Hot-path allocation: one malloc per proposed or received entry (its
 * data copy); the log array grows geometrically and is reused.
 *
 * Nothing from the network can trip an assertion: raft_step validates a
 * received message (raft_message_check) and returns ERR_MALFORMED for one
 * that is inconsistent; messages from or about unknown ids are ignored.
 */
#ifndef CLUSTERD_RAFT_RAFT_H
#define CLUSTERD_RAFT_RAFT_H

#include <stddef.h>
#include <stdint.h>

#include "base/prng.h"
#include "base/trace.h"

struct mp_writer;

typedef uint64_t raft_id;    /* a server id; 0 means "none" */
typedef uint64_t raft_term;  /* election term; 0 before any election */
typedef uint64_t raft_index; /* log index; the first entry is 1 */

/* Largest configuration (voters plus learners). Autopilot keeps 3 or 5
 * voters and the rest as learners; 32 covers any cluster we target while
 * keeping per-peer arrays small enough to preallocate. */
#define RAFT_NODES_MAX 32
/* Largest in-flight window per follower (raft_config.inflight_max). */
#define RAFT_INFLIGHT_MAX 64
/* Most messages one update carries (see LIMITS above). */
#define RAFT_MSGS_MAX 256
/* Most pending ReadIndex requests on a leader. */
#define RAFT_READS_MAX 128
/* Most entries in one AppendEntries message (the decoder rejects more). */
#define RAFT_BATCH_MAX 4096
/* Terms and indexes above this are rejected as malformed: no real cluster
 * reaches 2^62, and the bound keeps index arithmetic overflow-free. */
#define RAFT_NUM_MAX ((uint64_t)1 << 62)
/* Wire format version (first field of every encoded message). */
#define RAFT_WIRE_VERSION 1

/* Planted bugs, for the simulator's test that its checkers catch real
 * mistakes. Never set outside tests. Each flag breaks one rule:
 *  - RAFT_BUG_DOUBLE_VOTE: a server grants a vote to a second candidate in
 *    a term in which it already voted (breaks Election Safety).
 *  - RAFT_BUG_COMMIT_OLD_TERM: the leader advances commit to an entry of an
 *    earlier term by counting replicas (paper 5.4.2, Figure 8).
 *  - RAFT_BUG_APPLY_BEFORE_COMMIT: entries are handed to the application
 *    (up->committed) as soon as they are persisted locally, before commit.
 *  - RAFT_BUG_SEND_BEFORE_PERSIST: a follower acknowledges appended
 *    entries, and a leader counts its own entries, without waiting for
 *    RAFT_EV_PERSISTED (only observable when the driver sends before its
 *    entry writes are durable, as the contract allows). */
enum {
	RAFT_BUG_DOUBLE_VOTE = 1u << 0,
	RAFT_BUG_COMMIT_OLD_TERM = 1u << 1,
	RAFT_BUG_APPLY_BEFORE_COMMIT = 1u << 2,
	RAFT_BUG_SEND_BEFORE_PERSIST = 1u << 3,
};

enum raft_role {
	RAFT_FOLLOWER = 1,
	RAFT_PRECANDIDATE = 2, /* running a PreVote round (thesis 9.6) */
	RAFT_CANDIDATE = 3,
	RAFT_LEADER = 4,
};

/* ---- configuration (membership) ---- */

enum raft_server_role {
	RAFT_VOTER = 1,
	RAFT_LEARNER = 2, /* receives the log, never votes or campaigns */
};

struct raft_server {
	raft_id id;
	uint8_t role; /* enum raft_server_role */
};

/* A membership configuration: ids are unique and nonzero. */
struct raft_configuration {
	uint32_t n;
	struct raft_server servers[RAFT_NODES_MAX];
};

/* Encodes a configuration as the data of a RAFT_ENTRY_CONFIG entry:
 * msgpack [version, [[id, role], ...]]. Errors are sticky in w. */
void raft_conf_encode(const struct raft_configuration *c, struct mp_writer *w);
/* Decodes and validates (ids unique and nonzero, roles known, n within
 * RAFT_NODES_MAX). 0, ERR_MALFORMED or ERR_VERSION. Does not keep buf. */
int raft_conf_decode(const uint8_t *buf, size_t len,
		     struct raft_configuration *out);
/* The server entry for id, or NULL. Borrowed from c. */
const struct raft_server *raft_conf_get(const struct raft_configuration *c,
					raft_id id);
uint32_t raft_conf_voters(const struct raft_configuration *c);

/* ---- log entries ---- */

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 1, /* application command */
	RAFT_ENTRY_CONFIG = 2, /* data: raft_conf_encode()d configuration */
	RAFT_ENTRY_BARRIER = 3, /* no data; a new leader's first entry */
};

struct raft_entry {
	raft_term term;
	raft_index index;
	uint8_t type; /* enum raft_entry_type */
	uint32_t len;
	const uint8_t *data; /* len bytes; see ownership at the top */
};

/* ---- persisted state ---- */

/* What the driver stores durably besides entries (update step 3). */
struct raft_hard_state {
	raft_term term;
	raft_id vote;      /* voted for in `term`, 0 if none */
	/* May lag. raft hands out min(commit, durable log prefix), never
	 * less than before, so a restored commit never covers an entry that
	 * was replaced in memory but not yet on disk. */
	raft_index commit;
};

struct raft_snapshot_meta {
	raft_index index; /* last entry the snapshot covers (0 = none) */
	raft_term term;   /* term of that entry */
	struct raft_configuration conf; /* configuration as of `index` */
};

/* A snapshot handed to the driver for installation (update step 1). */
struct raft_snapshot {
	struct raft_snapshot_meta meta;
	const uint8_t *data; /* borrowed, see ownership at the top */
	uint64_t len;
};

/* ---- messages ---- */

enum raft_msg_type {
	RAFT_MSG_VOTE = 1,          /* RequestVote, or a PreVote request */
	RAFT_MSG_VOTE_RESP = 2,
	RAFT_MSG_APPEND = 3,        /* AppendEntries */
	RAFT_MSG_APPEND_RESP = 4,
	RAFT_MSG_HEARTBEAT = 5,     /* leader liveness, commit, ReadIndex */
	RAFT_MSG_HEARTBEAT_RESP = 6,
	RAFT_MSG_SNAPSHOT = 7,      /* one InstallSnapshot chunk */
	RAFT_MSG_SNAPSHOT_RESP = 8,
	RAFT_MSG_TIMEOUT_NOW = 9,   /* leadership transfer: campaign now */
	RAFT_MSG_TYPE_MAX_ = 10,
};

struct raft_msg_vote {
	raft_index last_index; /* candidate's last log entry */
	raft_term last_term;
	uint8_t prevote; /* 1: PreVote; `term` is the term it would use */
	uint8_t force;   /* 1: after TimeoutNow; bypasses the vote lease */
};

struct raft_msg_vote_resp {
	uint8_t granted;
	uint8_t prevote; /* answers a PreVote request */
};

struct raft_msg_append {
	raft_index prev_index; /* entry preceding entries[0] */
	raft_term prev_term;
	raft_index commit;     /* leader's commit index */
	uint32_t n_entries;    /* <= RAFT_BATCH_MAX */
	/* entries[i].index == prev_index + 1 + i; terms non-decreasing, each
	 * >= prev_term and <= the message term. In an update: borrowed from
	 * raft's log. After raft_decode: owned by the caller's array, data
	 * pointing into the decoded buffer. */
	const struct raft_entry *entries;
};

struct raft_msg_append_resp {
	uint8_t success;
	/* success: the follower's log matches the leader's up to `index`
	 * (and those entries are durable). failure: `index` is the rejected
	 * prev_index. */
	raft_index index;
	/* On failure, the fast-backtracking hint (paper 5.3, last paragraph):
	 * hint_term is the follower's term at prev_index (0 if its log is
	 * shorter), hint_index the first index the follower holds of that term
	 * (or its last index + 1 when hint_term is 0). */
	raft_term hint_term;
	raft_index hint_index;
	raft_index last_index; /* the follower's last log index */
};

struct raft_msg_heartbeat {
	raft_index commit; /* min(leader commit, follower's known match) */
	uint64_t read_seq; /* ReadIndex round being confirmed (0 none) */
};

struct raft_msg_heartbeat_resp {
	uint64_t read_seq; /* echoed */
};

struct raft_msg_snapshot {
	struct raft_snapshot_meta meta;
	uint64_t total_len; /* size of the whole snapshot */
	uint64_t offset;    /* of this chunk; chunks arrive in order */
	uint32_t len;
	const uint8_t *data; /* borrowed, as for append entries */
	uint8_t done;        /* 1 on the last chunk */
};

struct raft_msg_snapshot_resp {
	raft_index index;     /* snapshot index this answers */
	uint64_t next_offset; /* the follower has all bytes before this */
	uint8_t done;         /* 1: installed and durable */
	uint8_t reject;       /* 1: the follower will not take it (start over
			       * at next_offset) */
};

/* RAFT_MSG_TIMEOUT_NOW carries no body. */

struct raft_message {
	uint8_t type; /* enum raft_msg_type */
	raft_id from;
	raft_id to;
	raft_term term;
	union {
		struct raft_msg_vote vote;
		struct raft_msg_vote_resp vote_resp;
		struct raft_msg_append append;
		struct raft_msg_append_resp append_resp;
		struct raft_msg_heartbeat heartbeat;
		struct raft_msg_heartbeat_resp heartbeat_resp;
		struct raft_msg_snapshot snapshot;
		struct raft_msg_snapshot_resp snapshot_resp;
	} u;
};

/* ---- codec ----
 * Wire format: a msgpack array [version, type, from, to, term, body...],
 * the body's fields in the order of the structs above; an entry is
 * [term, type, data(bin)] (its index follows from prev_index); a
 * configuration as in raft_conf_encode. */

/* Appends the encoding of m to w (errors sticky in w: ERR_TOOBIG when the
 * message exceeds w's limit). */
void raft_encode(const struct raft_message *m, struct mp_writer *w);

/* Decodes buf[0..len) into *out. Entries go into the caller's array
 * ents[0..ents_cap) (out->u.append.entries points at it); entry data and
 * snapshot chunk data point INTO buf, which must outlive every use of
 * *out (typically: until raft_step returns). Returns 0, ERR_MALFORMED
 * (any bound, type or consistency violation, more entries than
 * ents_cap), or ERR_VERSION. A message that decodes with 0 passes
 * raft_message_check. Allocates only transiently (the msgpack zone). */
int raft_decode(const uint8_t *buf, size_t len, struct raft_message *out,
		struct raft_entry *ents, uint32_t ents_cap);

/* The consistency checks raft_step applies to every received message:
 * known type, terms and indexes below RAFT_NUM_MAX, entry indexes
 * consecutive from prev_index + 1, entry terms ordered and not above the
 * message term, chunk bounds inside total_len, a valid configuration.
 * 0 or ERR_MALFORMED. */
int raft_message_check(const struct raft_message *m);

/* ---- construction ---- */

struct raft_config {
	raft_id id; /* this server; nonzero */
	/* Election timeouts are drawn uniformly from [min, max) after every
	 * reset (paper 5.2: 150-300 ms in the paper; we default to 1000-2000
	 * ms for WAN-ish clusters with fsync latency). Also the vote lease and
	 * the CheckQuorum window use election_timeout_ms_min. */
	uint32_t election_timeout_ms_min;
	uint32_t election_timeout_ms_max;
	uint32_t heartbeat_ms;       /* < election_timeout_ms_min / 2, so a
				      * lost heartbeat is followed by another
				      * before any follower's timer runs out */
	uint32_t msg_bytes_max;      /* payload bytes per append / chunk */
	uint32_t inflight_max;       /* appends in flight per follower, <=
				      * RAFT_INFLIGHT_MAX */
	uint64_t uncommitted_bytes_max; /* proposal back-pressure bound */
	uint64_t snapshot_bytes_max; /* largest snapshot accepted */
	uint8_t prevote;             /* enable PreVote */
	uint8_t check_quorum;        /* enable CheckQuorum */
	uint32_t bugs;               /* RAFT_BUG_* (tests only), else 0 */
	uint64_t seed;               /* seeds the election-timeout PRNG */
	const struct tracer *tracer; /* borrowed for raft's lifetime; may be
				      * NULL */
};

/* Fills c with the defaults above (id 0: the caller sets it). */
void raft_config_default(struct raft_config *c);

/* Per-follower replication state, as seen by a leader. */
enum raft_progress_state {
	RAFT_PROBE = 1,     /* one append at a time, finding the match */
	RAFT_REPLICATE = 2, /* pipelined appends up to the window */
	RAFT_SNAPSHOT = 3,  /* sending InstallSnapshot chunks */
};

struct raft_progress {
	raft_id id;
	raft_index match; /* highest index known replicated (durable) */
	raft_index next;  /* next index to send */
	uint8_t state;    /* enum raft_progress_state */
	uint8_t paused;   /* probe: an append is outstanding */
	uint32_t inflight_n;
	uint32_t inflight_head;
	raft_index inflight[RAFT_INFLIGHT_MAX]; /* last index of each append */
	uint64_t last_heard_ms; /* CheckQuorum: last message from it */
	uint64_t last_progress_ms; /* last time match advanced */
	uint64_t read_seq_acked;   /* highest ReadIndex round it confirmed */
	uint64_t snap_offset;      /* RAFT_SNAPSHOT: bytes acknowledged */
	raft_index snap_index;     /* RAFT_SNAPSHOT: index being sent */
	uint64_t snap_sent_ms;     /* RAFT_SNAPSHOT: last chunk sent */
};

struct raft_read {
	uint64_t ctx;     /* the caller's id for the request */
	raft_index index; /* serve once applied >= index */
	uint64_t seq;     /* heartbeat round that must confirm it */
	int status;       /* 0, or ERR_NOTLEADER when leadership was lost */
};

/* The whole state; treat as opaque and use the accessors below (the
 * fields are public only so that it can live inside a driver struct
 * without allocation). It is large (about 200 KiB, mostly the per-step
 * message buffer): keep it off small stacks. */
struct raft {
	struct raft_config cfg;
	const struct tracer *tracer;
	struct prng prng;
	uint64_t now_ms;
	int clock_started; /* the first event's now_ms has been seen */

	/* persistent state (paper Figure 2) */
	raft_term term;
	raft_id vote;
	raft_index commit;
	int hs_dirty; /* term or vote changed since the last update */
	raft_index hs_commit; /* commit in the last hard state handed out */

	/* log: entries (snap.index, snap.index + log_n] in log[] */
	struct raft_entry *log;
	uint64_t log_n;
	uint64_t log_cap;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data; /* owned; the latest snapshot's bytes */
	uint64_t snap_len;
	uint64_t snap_cap;
	raft_index persisted;  /* durable prefix of the log */
	raft_index unstable;   /* first index not yet handed to the driver */
	raft_index truncate_from; /* pending truncation for the next update */
	raft_index applied;    /* last index handed out in up->committed */
	raft_index compacted_hint;

	/* configuration: the latest in the log (applies once appended) */
	struct raft_configuration conf;
	raft_index conf_index; /* index of its entry; 0 if from snapshot */

	/* role */
	uint8_t role; /* enum raft_role */
	raft_id leader;
	uint64_t leader_heard_ms; /* last contact with a leader (vote lease) */
	uint64_t election_deadline_ms;
	uint64_t heartbeat_deadline_ms;
	/* Answers of this campaign in arrival order: votes_id[i] answered
	 * votes[i] (1 granted, 0 refused); one entry per voter. */
	uint8_t votes[RAFT_NODES_MAX];
	raft_id votes_id[RAFT_NODES_MAX];
	uint32_t votes_n;
	int campaign_forced; /* this campaign follows a TimeoutNow */

	/* follower */
	raft_index ack_match;  /* matches the current leader up to here */
	raft_index ack_sent;   /* last success index sent to the leader */
	uint8_t *rcv_snap;     /* snapshot being received (owned) */
	uint64_t rcv_snap_len;
	uint64_t rcv_snap_cap;
	uint64_t rcv_total;
	struct raft_snapshot_meta rcv_snap_meta;
	int snap_installing;   /* handed to the driver, awaiting APPLIED */
	struct raft_snapshot up_snap; /* what up->snapshot points at */
	int up_snap_ready;     /* up_snap goes into the next update */

	/* leader */
	struct raft_progress prs[RAFT_NODES_MAX];
	uint32_t prs_n;
	uint64_t uncommitted_bytes;
	raft_id transfer_to;
	uint64_t transfer_deadline_ms;
	uint64_t read_seq; /* last ReadIndex round started */
	uint64_t read_seq_sent; /* last round carried by a heartbeat */
	struct raft_read reads[RAFT_READS_MAX];
	uint32_t reads_n;

	/* output buffers for the update being built */
	struct raft_message msgs[RAFT_MSGS_MAX];
	raft_index msgs_from[RAFT_MSGS_MAX]; /* append: first entry index */
	uint32_t msgs_n;
	uint64_t msgs_dropped; /* counter: RAFT_MSGS_MAX was reached */
	struct raft_read out_reads[RAFT_READS_MAX];
	uint32_t out_reads_n;
	uint8_t prev_role;
	raft_id prev_leader;
	raft_term prev_term;
};

/* Initialises r for a server with no state at all: term 0, empty log,
 * empty configuration (it stays a passive follower until a leader
 * contacts it or raft_restore gives it a configuration). Copies cfg.
 * 0, ERR_INVAL (bad config), or ERR_NOMEM. Free with raft_close. */
int raft_init(struct raft *r, const struct raft_config *cfg);

/* Loads what storage holds, after raft_init and before the first
 * raft_step:
 *  - hs: the last stored hard state (may be NULL for none);
 *  - snap: the last stored snapshot's metadata (NULL or index 0 for none)
 *    and its bytes snap_data[0..snap_len) (copied; raft keeps a copy to
 *    send to followers);
 *  - entries[0..n): the stored log after the snapshot, contiguous from
 *    snap->index + 1 (copied);
 *  - applied: the index the state machine has applied (>= snap->index);
 *    up->committed restarts after it.
 * The configuration is the latest RAFT_ENTRY_CONFIG entry, else the
 * snapshot's. To bootstrap a new cluster, every initial server stores one
 * entry {index 1, term 1, RAFT_ENTRY_CONFIG, the initial configuration}
 * and restores it (with hs NULL). 0, ERR_INVAL or ERR_NOMEM. */
int raft_restore(struct raft *r, const struct raft_hard_state *hs,
		 const struct raft_snapshot_meta *snap, const uint8_t *snap_data,
		 uint64_t snap_len, const struct raft_entry *entries, uint64_t n,
		 raft_index applied);

/* Frees everything r owns. r may be raft_init()ed again afterwards. */
void raft_close(struct raft *r);

/* ---- events ---- */

enum raft_event_type {
	RAFT_EV_TICK = 1,
	RAFT_EV_RECEIVE = 2,
	RAFT_EV_PROPOSE = 3,
	RAFT_EV_PERSISTED = 4,
	RAFT_EV_SNAPSHOT_TAKEN = 5,
	RAFT_EV_SNAPSHOT_APPLIED = 6,
	RAFT_EV_READ_INDEX = 7,
	RAFT_EV_TRANSFER = 8,
};

/* Membership change ops (one server at a time, thesis 4.2). */
enum raft_change_op {
	RAFT_ADD_LEARNER = 1, /* id must be absent */
	RAFT_PROMOTE = 2,     /* learner -> voter */
	RAFT_DEMOTE = 3,      /* voter -> learner */
	RAFT_REMOVE = 4,      /* drop it (a voter or a learner) */
};

struct raft_event {
	uint8_t type;    /* enum raft_event_type */
	uint64_t now_ms; /* driver's clock for every event (any origin,
			  * monotonic); raft ignores a value below the last
			  * one it saw. The first event after raft_init
			  * starts raft's clock: the first election timeout
			  * runs from it. */
	union {
		/* RAFT_EV_RECEIVE: borrowed during the call */
		const struct raft_message *msg;
		/* RAFT_EV_PROPOSE: type NORMAL takes data (copied); type
		 * CONFIG takes change and builds the entry itself. */
		struct {
			uint8_t type; /* RAFT_ENTRY_NORMAL or _CONFIG */
			const uint8_t *data;
			uint32_t len;
			struct {
				uint8_t op; /* enum raft_change_op */
				raft_id id;
			} change;
		} propose;
		/* RAFT_EV_PERSISTED: entries up to index, whose entry has
		 * term, are durable. Stale reports (the entry was truncated
		 * since) are ignored. */
		struct {
			raft_index index;
			raft_term term;
		} persisted;
		/* RAFT_EV_SNAPSHOT_TAKEN: the application's state as of
		 * index (<= the last index it was given to apply) is in
		 * data[0..len), which raft copies. raft compacts its log up
		 * to index and sets up->compact_to. */
		struct {
			raft_index index;
			const uint8_t *data;
			uint64_t len;
		} snapshot_taken;
		/* RAFT_EV_SNAPSHOT_APPLIED: up->snapshot with this index is
		 * installed and durable. ERR_INVAL if no snapshot with that
		 * index is being installed (e.g. a report from before a
		 * restart: ignore it). */
		struct {
			raft_index index;
		} snapshot_applied;
		/* RAFT_EV_READ_INDEX: ctx is echoed in up->reads. */
		struct {
			uint64_t ctx;
		} read_index;
		/* RAFT_EV_TRANSFER: to 0 picks the most up-to-date voter. */
		struct {
			raft_id to;
		} transfer;
	} u;
};

/* What to do after a step (see THE DRIVER CONTRACT at the top). Filled
 * entirely by raft_step; every pointer is borrowed until the next
 * raft_step / raft_restore / raft_close on the same raft. */
struct raft_update {
	/* step 1 */
	const struct raft_snapshot *snapshot; /* NULL: none */
	/* step 2 */
	raft_index truncate_from; /* 0: none */
	const struct raft_entry *entries;
	uint64_t n_entries;
	/* The driver may delete stored entries with index <= compact_to
	 * (they are covered by the snapshot just taken). 0: nothing. */
	raft_index compact_to;
	/* step 3 */
	int hard_state_changed;
	struct raft_hard_state hard_state;
	/* step 4 */
	const struct raft_message *msgs;
	uint32_t n_msgs;
	/* step 5 */
	const struct raft_entry *committed;
	uint64_t n_committed;
	/* step 6 */
	const struct raft_read *reads;
	uint32_t n_reads;
	/* step 7 */
	uint64_t deadline_ms;

	/* Status after the step (for the node and for logs). */
	int role_changed; /* role, leader or term differs from before */
	uint8_t role;     /* enum raft_role */
	raft_id leader;   /* known leader, 0 if none; also the hint for
			   * ERR_NOTLEADER */
	raft_term term;
	raft_index commit;
	/* RAFT_EV_PROPOSE success: where the entry went. */
	raft_index proposed_index;
	raft_term proposed_term;
};

/* Processes one event. The update is filled in every case and must be
 * carried out as written at the top. On error the event had no effect and
 * the update holds no work, except after ERR_NOMEM, which can strike
 * midway (carry out whatever the update holds). The status fields are
 * always set; up->leader is the leader hint for ERR_NOTLEADER. Errors:
 *  - ERR_NOTLEADER: propose, read-index or transfer on a non-leader;
 *  - ERR_AGAIN: back-pressure (uncommitted_bytes_max, RAFT_READS_MAX), a
 *    leadership transfer in progress, or (read-index, config change) no
 *    entry of the leader's term committed yet;
 *  - ERR_BUSY: a configuration change is already uncommitted;
 *  - ERR_INVAL: a change that is not one server at a time or makes no
 *    sense (adding a present id, promoting a voter, removing the last
 *    voter), a snapshot index out of range, an unknown event;
 *  - ERR_TOOBIG: a proposal larger than msg_bytes_max;
 *  - ERR_MALFORMED: a received message failing raft_message_check;
 *  - ERR_NOMEM. */
int raft_step(struct raft *r, const struct raft_event *ev,
	      struct raft_update *up);

/* ---- read-only accessors (for the node, tests and the simulator's
 * checkers); pointers are borrowed until the next raft_step ---- */

raft_term raft_current_term(const struct raft *r);
uint8_t raft_current_role(const struct raft *r);
raft_id raft_leader(const struct raft *r);
raft_index raft_commit_index(const struct raft *r);
raft_index raft_last_index(const struct raft *r);
raft_index raft_first_index(const struct raft *r); /* snap index + 1 */
/* Term of the entry at index (the snapshot's term at its index); 0 if
 * index is 0 or out of range (compacted or beyond the end). */
raft_term raft_term_at(const struct raft *r, raft_index index);
/* The entry at index, or NULL when compacted or beyond the end. */
const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index);
const struct raft_configuration *raft_configuration(const struct raft *r);
/* The leader's view of a follower, NULL if not leader or unknown id. */
const struct raft_progress *raft_progress_of(const struct raft *r, raft_id id);

const char *raft_role_name(uint8_t role);
const char *raft_msg_type_name(uint8_t type);

#endif
