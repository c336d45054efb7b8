/*
 * simint.h: the simulator's internal structures, shared by world.c (the
 * event loop, faults, clients, checkers) and node.c (one node's driver:
 * the raft update contract carried out over a simulated disk).
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_SIMINT_H
#define CLUSTERD_TESTS_SIM_RAFT_SIMINT_H

#include <setjmp.h>

#include "tests/sim/raft/sim.h"

struct stor;
struct stor_memdisk;

/* One kv command's result, as the store's simkv domain applied it. */
struct sdisk_result {
	uint32_t client;
	uint64_t seq, out;
	int stale;
};

/* What a restart reads back from the store for raft_restore. */
struct sdisk_boot {
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap; /* index 0: none */
	uint8_t *snap_data;		/* owned */
	size_t snap_len;
	struct raft_entry *ents; /* owned, with their data */
	uint64_t n;
};

#define SIM_SLOTS_MAX	5
#define SIM_HIST_MAX	20000 /* ops recorded per run; more are not issued */
#define SIM_PENDING_MAX 256   /* disk work items awaiting an fsync */
#define SIM_HELD_MAX	1024  /* messages waiting for their hard state */

enum sim_ev_kind {
	EV_TICK = 1,
	EV_DELIVER,	 /* a = from slot; payload = encoded message */
	EV_FSYNC_DONE,	 /* a = journal length; b = disk epoch */
	EV_CLIENT_REQ,	 /* a = client; node = target */
	EV_CLIENT_RESP,	 /* a = client; b = seq; payload = struct resp */
	EV_CLIENT_TIMER, /* a = client; b = attempt number: its timeout */
	EV_CLIENT_RETRY, /* a = client; b = attempt number: send it */
	EV_CLIENT_NEXT,	 /* a = client: start the next operation */
	EV_FAULT,
	EV_RESTART, /* node restarts */
	EV_UNFAULT, /* a = what to undo */
	EV_HEAL,
	EV_LIVE_CHECK,
	EV_SNAPSHOT, /* node takes a snapshot */
	EV_CRASH,    /* a = incarnation to crash */
};

/* Work an fsync completes: a persisted report, a snapshot applied, or
 * messages released (held[] entries with gate <= synced). */
struct pending {
	uint64_t gate;	  /* durable once the disk's mark reaches it (node.c) */
	raft_index index; /* persisted up to (0: none) */
	raft_term term;
	raft_index snap_applied; /* snapshot installed (0: none) */
};

struct held_msg {
	uint64_t gate; /* must be durable before sending (node.c) */
	int to;
	uint8_t *buf; /* owned */
	size_t len;
};

struct waiter {
	int client;
	uint64_t seq;
	uint64_t read_index; /* ReadIndex gets: serve once applied >= this */
	int is_read;	     /* 1 after up->reads confirmed it */
	uint64_t read_ctx;
};

struct sim_node {
	int slot;
	raft_id id;
	int up;
	uint32_t incarnation;
	struct raft r;
	int raft_open;
	struct sim_disk disk; /* journal; with --disk stor only its rng */
	uint32_t disk_epoch;
	/* --disk stor (sdisk.c): the store on its in-memory disk. Gates are
	 * virtual times: the deadline of the last synced write (st_gate),
	 * and everything up to st_durable is durable. */
	struct stor_memdisk *md; /* owned; outlives crashes */
	struct stor *st;	 /* owned; NULL while down */
	uint64_t st_gate, st_durable;
	uint64_t st_fsync_at; /* EV_FSYNC_DONE scheduled (0: none) */
	int st_inject;	      /* a write failure is armed (the disk fault) */
	int st_dead;	      /* the store failed: the node ignores every event
			       * until its EV_CRASH, already queued */
	struct sdisk_result *st_res; /* results of the apply in progress */
	uint64_t st_res_base, st_res_n, st_res_cap;
	int fsync_inflight;
	struct pending pend[SIM_PENDING_MAX];
	int pend_n;
	uint64_t hs_gate; /* the gate covering the last hard state */
	struct held_msg held[SIM_HELD_MAX];
	int held_n;
	/* state machine */
	struct kv kv;
	raft_index applied;
	struct raft_configuration sm_conf;
	raft_index snap_index; /* last snapshot taken or installed */
	/* checker mirror: chain hashes of the log, [base .. base + n] */
	raft_index chain_base;
	uint64_t *chain; /* chain[i - base] */
	raft_term *terms;
	size_t chain_n, chain_cap; /* entries after base */
	raft_index last_commit;
	raft_term hs_term; /* the last hard state written (or loaded) */
	raft_id hs_vote;
	uint8_t last_role;
	raft_id last_leader;
	raft_term last_term;
	/* clock */
	int64_t drift_ppm;
	uint64_t offset_ms;
	uint64_t tick_at_us; /* UINT64_MAX: none scheduled */
	struct prng rng;
	struct waiter waiters[SIM_WAITERS_MAX];
	int waiters_n;
	uint64_t read_ctx_next;
};

struct client {
	int busy;
	uint64_t seq;
	struct kv_cmd cmd;
	int use_read_index;
	size_t hist; /* index into the history */
	int target;  /* slot it sends to */
	int cursor;  /* the last slot tried without a leader hint */
	uint64_t attempt;
	uint64_t deadline_us;
	uint64_t next_at_us; /* when to issue the next op */
};

struct resp {
	int status; /* 0, or ERR_NOTLEADER etc. */
	uint64_t out;
	int leader_hint; /* slot, -1 none */
};

struct sim {
	const struct sim_opts *o;
	struct sim_result *res;
	uint64_t now_us;
	struct prng rng; /* the world's: faults, workload */
	struct sim_queue q;
	struct sim_net net;
	struct sim_check chk;
	int n; /* slots */
	struct sim_node node[SIM_SLOTS_MAX];
	struct client cl[SIM_CLIENTS];
	struct lin_op *hist;
	size_t hist_n;
	int healed;
	uint64_t heal_us;
	uint64_t leader_seen_us;    /* after heal */
	uint64_t calm_from_us, calm_to_us;
	struct raft_entry *rx_ents; /* decode scratch, RAFT_BATCH_MAX */
	struct tracer raft_tracer;
	int cur_node; /* for raft's trace lines */
	jmp_buf assert_jmp;
	int failed;
	struct raft_config tune; /* per-seed raft settings (world.c) */
	int kill_next_leader;	 /* churn: crash this many new leaders */
	uint64_t value_next;
	uint64_t key_last[SIM_KV_KEYS]; /* last value issued per key */
};

/* world.c */
void sim_trace(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_violation(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_push(struct sim *s, uint64_t at_us, int kind, int node, uint64_t a,
	      uint64_t b, void *payload, size_t len);
void sim_node_applied(struct sim *s, struct sim_node *nd, uint32_t client,
		      uint64_t seq, uint64_t out, int stale);
void sim_node_serve_reads(struct sim *s, struct sim_node *nd);
void sim_node_read_done(struct sim *s, struct sim_node *nd,
			const struct raft_read *rd);
void sim_node_lost_leadership(struct sim *s, struct sim_node *nd);
void sim_node_became_leader(struct sim *s, struct sim_node *nd);

/* node.c */
int node_init(struct sim *s, struct sim_node *nd, int slot, int bootstrap,
	      const struct raft_configuration *conf);
void node_free(struct sim_node *nd);
uint64_t node_local_ms(const struct sim_node *nd, uint64_t sim_us);
/* Steps raft with ev (now filled in) and carries out the update. Returns
 * raft_step's result. */
int node_step(struct sim *s, struct sim_node *nd, struct raft_event *ev);
void node_fsync_done(struct sim *s, struct sim_node *nd, size_t len,
		     uint32_t epoch);
void node_crash(struct sim *s, struct sim_node *nd);
int node_restart(struct sim *s, struct sim_node *nd);
int node_take_snapshot(struct sim *s, struct sim_node *nd);

/* sdisk.c (--disk stor) */
int sdisk_init(struct sim *s, struct sim_node *nd, int bootstrap,
	       const struct raft_configuration *conf);
void sdisk_free(struct sim_node *nd);
int sdisk_boot(struct sim *s, struct sim_node *nd, struct sdisk_boot *b);
void sdisk_boot_free(struct sdisk_boot *b);
void sdisk_crash(struct sim *s, struct sim_node *nd);
/* Arms (code ERR_IO or ERR_NOSPACE) or disarms (0) a failure of the
 * node's next disk write. */
void sdisk_inject(struct sim_node *nd, int code);
void sdisk_schedule(struct sim *s, struct sim_node *nd);
void sdisk_advance(struct sim *s, struct sim_node *nd);
int sdisk_load_kv(struct sim *s, struct sim_node *nd);
int sdisk_install(struct sim *s, struct sim_node *nd,
		  const struct raft_snapshot *snap);
int sdisk_entries(struct sim *s, struct sim_node *nd, raft_index tf,
		  const struct raft_entry *e, uint64_t n);
int sdisk_hard_state(struct sim *s, struct sim_node *nd,
		     const struct raft_hard_state *hs);
int sdisk_compact(struct sim *s, struct sim_node *nd, raft_index upto);
int sdisk_apply(struct sim *s, struct sim_node *nd, const struct raft_entry *e,
		uint64_t n, int *codes);
int sdisk_snapshot(struct sim *s, struct sim_node *nd, uint8_t **data,
		   size_t *len);
uint64_t sdisk_value(struct sim *s, struct sim_node *nd, uint32_t key);
int sdisk_digest(struct sim_node *nd, uint64_t *digest);
/* node.c: the value a ReadIndex get returns (from the store with stor). */
uint64_t node_read_value(struct sim *s, struct sim_node *nd, uint32_t key);

#endif
