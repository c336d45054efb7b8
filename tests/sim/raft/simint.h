/*
 * simint.h: the simulator's internal structures, shared by world.c (the
 * event loop, faults, clients, checkers), node.c (one node: the driver
 * node/raftd runs it, with the simulator's clock, network and disk, and
 * the checkers watch it through raftd's callbacks) and sdisk.c (the disk
 * port over storage's in-memory disk).
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_SIMINT_H
#define CLUSTERD_TESTS_SIM_RAFT_SIMINT_H

#include <setjmp.h>

#include "node/raftd/raftd.h"
#include "tests/sim/raft/sim.h"

struct raftd;
struct stor;
struct stor_memdisk;

/* One kv command's result, as the store's simkv domain applied it. */
struct sdisk_result {
	raft_index index;
	uint32_t client;
	uint64_t seq, out;
	int stale;
};

/* The fsync latency model (sdisk.c): ~0.3 ms p50 measured for a 4 KiB
 * fdatasync, stretched; stalls come on top of it until the heal. */
#define SIM_FSYNC_MIN_US    300
#define SIM_FSYNC_JITTER_US 5000

#define SIM_SLOTS_MAX	5
#define SIM_HIST_MAX	20000 /* ops recorded per run; more are not issued */

enum sim_ev_kind {
	EV_TICK = 1,
	EV_DELIVER,	 /* a = from slot; payload = encoded message */
	EV_FSYNC_DONE,	 /* b = disk epoch */
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

/* A client request a node accepted: raftd calls back with its cookie. */
struct waiter {
	int client;
	uint64_t seq;
	uint64_t cookie;
};

struct sim;

struct sim_node {
	struct sim *s;
	int slot;
	raft_id id;
	int up;
	uint32_t incarnation;
	struct raftd *d; /* the driver (node/raftd); NULL while down */
	int closing;	 /* raftd_close is calling back: ignore it */
	struct raftd_disk port; /* sdisk.c's, borrowed by raftd */
	uint32_t disk_epoch;
	/* The disk port (sdisk.c): the store on its in-memory disk. Gates
	 * are virtual times: the deadline of the last synced write
	 * (st_gate), and everything up to st_durable is durable. */
	struct stor_memdisk *md; /* owned; outlives crashes */
	struct stor *st;	 /* owned; NULL while down */
	uint64_t st_gate, st_durable;
	uint64_t st_fsync_at; /* EV_FSYNC_DONE scheduled (0: none) */
	uint64_t st_direct_lat; /* latency of the direct write in progress */
	int st_inject;	      /* a write failure is armed (the disk fault) */
	int st_dead;	      /* the store failed: the node ignores every event
			       * until its EV_CRASH, already queued */
	struct prng lat_rng;  /* fsync latency draws */
	/* the simkv domain's results, until raftd reports them applied */
	struct sdisk_result *st_res;
	size_t st_res_head, st_res_n, st_res_cap;
	uint64_t last_out; /* the model's result of the last applied command */
	raft_index last_out_index;
	/* the model of the state machine, checked against the store */
	struct kv kv;
	raft_index applied;
	raft_index snap_index; /* last snapshot taken or installed */
	uint64_t snap_entries; /* raftd's snapshot cadence for this node */
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
	uint64_t cookie_next;
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
/* Answers client ci's request seq (status 0: with out). */
void sim_respond(struct sim *s, int ci, uint64_t seq, int status,
		 uint64_t out, int hint);
void sim_node_became_leader(struct sim *s, struct sim_node *nd);

/* node.c: one node, its driver (raftd) and the checkers watching it */
int sim_node_init(struct sim *s, struct sim_node *nd, int slot,
		  int bootstrap, const struct raft_configuration *conf);
void sim_node_free(struct sim *s, struct sim_node *nd);
uint64_t sim_node_local_ms(const struct sim_node *nd, uint64_t sim_us);
/* The node's raft core, read-only (NULL while down). */
const struct raft *sim_raft(const struct sim_node *nd);
/* The slot of the leader nd knows, -1 if none. */
int sim_node_leader_hint(struct sim *s, const struct sim_node *nd);
void sim_node_tick(struct sim *s, struct sim_node *nd);
void sim_node_deliver(struct sim *s, struct sim_node *nd, int from,
		      const uint8_t *buf, size_t len);
/* A client request (client ci, seq; the command is the client's). */
void sim_node_request(struct sim *s, struct sim_node *nd, int ci,
		      uint64_t seq);
int sim_node_transfer(struct sim *s, struct sim_node *nd, raft_id to);
int sim_node_change(struct sim *s, struct sim_node *nd, uint8_t op,
		    raft_id id);
void sim_node_fsync_done(struct sim *s, struct sim_node *nd, uint32_t epoch);
void sim_node_crash(struct sim *s, struct sim_node *nd);
int sim_node_restart(struct sim *s, struct sim_node *nd);
int sim_node_snapshot(struct sim *s, struct sim_node *nd);

/* sdisk.c: the disk port over stor_memdisk, and the simkv domain */
int sdisk_init(struct sim *s, struct sim_node *nd, int bootstrap,
	       const struct raft_configuration *conf);
void sdisk_free(struct sim_node *nd);
/* Opens the store (registers the simkv domain). */
int sdisk_open(struct sim *s, struct sim_node *nd);
void sdisk_crash(struct sim *s, struct sim_node *nd);
/* The port raftd writes through, for node nd. */
void sdisk_port(struct sim_node *nd, struct raftd_disk *out);
/* A storage error: the one the disk fault armed stops the node (it
 * crashes next); any other is a violation. */
void sdisk_fail(struct sim *s, struct sim_node *nd, const char *what, int rv);
/* The simkv result of applied index (0), or ERR_NOTFOUND. */
int sdisk_take_result(struct sim_node *nd, raft_index index,
		      struct sdisk_result *out);
/* Arms (code ERR_IO or ERR_NOSPACE) or disarms (0) a failure of the
 * node's next disk write. */
void sdisk_inject(struct sim_node *nd, int code);
void sdisk_schedule(struct sim *s, struct sim_node *nd);
void sdisk_advance(struct sim *s, struct sim_node *nd);
int sdisk_load_kv(struct sim *s, struct sim_node *nd);
/* The command envelope for a kv command (*out: free). */
int sdisk_envelope(const struct kv_cmd *cmd, uint8_t **out, size_t *len);
/* Decodes the kv command out of an applied entry's envelope. */
int sdisk_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *cmd);
uint64_t sdisk_value(struct sim *s, struct sim_node *nd, uint32_t key);
int sdisk_digest(struct sim_node *nd, uint64_t *digest);
/* node.c: the value a ReadIndex get returns (from the store). */
uint64_t sim_node_read_value(struct sim *s, struct sim_node *nd,
			     uint32_t key);

#endif
