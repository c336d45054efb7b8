/*
 * simint.h: the simulator's internal structures, shared by world.c (the
 * event loop, faults, clients, checkers) and node.c (one node's driver:
 * the raft update contract carried out over a simulated disk).
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_SIMINT_H
#define CLUSTERD_TESTS_SIM_RAFT_SIMINT_H

#include <setjmp.h>

#include "tests/sim/raft/sim.h"

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
	size_t end;	  /* journal length that must be synced */
	raft_index index; /* persisted up to (0: none) */
	raft_term term;
	raft_index snap_applied; /* snapshot installed (0: none) */
};

struct held_msg {
	size_t gate; /* journal length that must be durable before sending */
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
	struct sim_disk disk;
	uint32_t disk_epoch;
	int fsync_inflight;
	struct pending pend[SIM_PENDING_MAX];
	int pend_n;
	size_t hs_gate; /* journal length covering the last hard state */
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

#endif
