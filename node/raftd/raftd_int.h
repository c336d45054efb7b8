/*
 * raftd_int.h: the driver's internals, shared by its source files:
 * raftd.c (events, the update carried out, durability), requests.c
 * (proposals and reads), store.c (the storage side: apply, snapshots, the restart path)
 * and wdisk.c (the built-in disk port over stor_writer).
 */
#ifndef CLUSTERD_NODE_RAFTD_RAFTD_INT_H
#define CLUSTERD_NODE_RAFTD_RAFTD_INT_H

#include "node/raftd/raftd.h"

#define RAFTD_MOD "raftd"
/* Largest encoded message: raft's msg_bytes_max of payload plus the
 * envelope of up to RAFT_BATCH_MAX entries (a few bytes each). */
#define RAFTD_MSG_SLACK (64u << 10)

/* Work that a durability report completes. */
struct raftd_durable {
	uint64_t gate;	  /* durable once the mark reaches it */
	raft_index index; /* persisted up to (0: none) */
	raft_term term;
	raft_index snap;    /* snapshot installed (0: none) */
	uint64_t issued_ms; /* for the append latency histogram */
};

struct raftd_held {
	uint64_t gate; /* the hard state it waits for */
	raft_id to;
	uint8_t *buf; /* owned */
	size_t len;
};

struct raftd_pending {
	uint64_t cookie;
	raft_index index;
	raft_term term;
};

struct raftd_read {
	uint64_t cookie;
	uint64_t round;	  /* heartbeat round (0: waits for the next) */
	raft_index index; /* confirmed read index */
	int confirmed;
};

/* The result of one applied entry, for the proposers. */
struct raftd_applied {
	raft_index index;
	raft_term term;
	int result;
};

struct raftd_wdisk;

struct raftd {
	struct raft r;
	struct raftd_config cfg;
	struct raftd_env env;
	struct raftd_disk port; /* cfg.disk's, or the built-in one */
	struct raftd_wdisk *wd; /* the built-in port (NULL: custom) */
	struct stor *st;
	const struct tracer *tr;
	uint64_t now;
	int in_call; /* a public call is running: callbacks can't re-enter */
	int failed;  /* sticky storage error */
	int closing;
	int opening; /* raftd_open: no callbacks yet */

	/* durability */
	uint64_t gate; /* the last gate a write got */
	uint64_t mark; /* durable up to this gate */
	uint64_t hs_gate; /* the write holding the last term/vote change */
	raft_term hs_term;
	raft_id hs_vote;
	struct raftd_durable dur[RAFTD_DURABLE_MAX];
	uint32_t dur_n;
	struct raftd_held held[RAFTD_HELD_MAX];
	uint32_t held_n;
	struct mp_writer enc; /* message encoding scratch */
	struct raft_entry *rx_ents; /* decoding scratch, RAFT_BATCH_MAX */

	/* state machine */
	raft_index applied;
	raft_index snap_index;
	uint64_t since_snap_entries, since_snap_bytes;

	/* proposals: a ring in index order */
	struct raftd_pending *pend;
	uint32_t pend_head, pend_n;

	/* reads: a ring in arrival order: confirmed, then in the round,
	 * then waiting for the next round */
	struct raftd_read *reads;
	uint32_t reads_head, reads_n;
	uint64_t round;	      /* last round started */
	int round_inflight;   /* raft is confirming `round` */

	/* status */
	uint8_t role;
	raft_id leader;
	raft_term term;
	struct raftd_metrics m;
};

/* raftd.c */
void raftd__fail(struct raftd *d, int code, const char *what);
/* Steps raft with ev (now filled in) and carries out the update. */
int raftd__step(struct raftd *d, struct raft_event *ev);
/* Adds durability work gated on the last write. */
void raftd__add_durable(struct raftd *d, raft_index index, raft_term term,
			raft_index snap);
/* Direct writes (see struct raftd_disk); begin returns 0 or the error
 * (the driver failed then). */
int raftd__direct_begin(struct raftd *d, int boot);
void raftd__direct_end(struct raftd *d);

int raftd__step_ex(struct raftd *d, struct raft_event *ev,
		    const uint64_t *cookie);
/* A public call's entry (ERR_BUSY inside a callback, the sticky failure)
 * and exit (finishes what the step made possible, see pump). */
int raftd__enter(struct raftd *d, uint64_t now_ms);
int raftd__leave(struct raftd *d, int rv);

/* requests.c */
void raftd__pend_push(struct raftd *d, uint64_t cookie, raft_index index,
		      raft_term term);
/* Entries from `from` on were deleted: proposals there never apply. */
void raftd__pend_truncated(struct raftd *d, raft_index from);
void raftd__pend_applied(struct raftd *d, const struct raftd_applied *res);
void raftd__pend_snapshot(struct raftd *d, raft_index index);
void raftd__reads_confirm(struct raftd *d, const struct raft_read *rr);
void raftd__reads_serve(struct raftd *d);
/* Starts the next read round if reads wait for one; 1 if it stepped. */
int raftd__start_round(struct raftd *d);
/* Ends every proposal and read with status (stopping or closing). */
void raftd__requests_fail(struct raftd *d, int status);

/* store.c */
uint8_t raftd__type_to_stor(uint8_t t);
uint8_t raftd__type_from_stor(uint8_t t);
int raftd__boot(struct raftd *d);
/* Carries out up->snapshot (step 1). 0 or -1 (failed). */
int raftd__install(struct raftd *d, const struct raft_snapshot *snap);
/* Applies committed entries e[0..n) (step 5); results into res[0..n). */
int raftd__apply(struct raftd *d, const struct raft_entry *e, uint64_t n,
		 struct raftd_applied *res);
/* Reads the applied state as a framed snapshot stream (*data: free). */
int raftd__stream(struct raftd *d, uint8_t **data, size_t *len);

/* wdisk.c: the built-in port. */
int raftd__wdisk_start(struct raftd *d);
void raftd__wdisk_stop(struct raftd *d);
int raftd__wdisk_fd(const struct raftd_wdisk *w);
/* Reaps completions (and submits what waited for room): the mark they
 * reached, or the first error. */
int raftd__wdisk_reap(struct raftd_wdisk *w, uint64_t *mark);
/* The mark reached so far, without reaping; or the first error. */
int raftd__wdisk_mark(const struct raftd_wdisk *w, uint64_t *mark);

#endif
