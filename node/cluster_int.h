/*
 * cluster_int.h: the cluster runtime's internals, shared by its files:
 *   cluster.c        start, stop, the glue between the modules' callbacks
 *   cluster_ops.c    operations: local ones and the ones forwarded to the
 *                    leader (writes, reads, membership changes, transfers)
 *   cluster_join.c   join (both sides), leave, init
 *   cluster_core.c   node/core.h on top of the operations
 *   cluster_view.c   members, raft status, autopilot, metrics
 */
#ifndef CLUSTERD_NODE_CLUSTER_INT_H
#define CLUSTERD_NODE_CLUSTER_INT_H

#include <stdint.h>

#include <uv.h>

#include "node/autopilot/autopilot.h"
#include "node/cluster.h"
#include "node/cmetrics/cmetrics.h"
#include "node/gossipd/gossipd.h"
#include "node/identity.h"
#include "node/instances/instances.h"
#include "node/raftd/raftd.h"
#include "node/rpc.h"
#include "node/transport/transport.h"
#include "storage/cdomain.h"
#include "storage/session.h"
#include "storage/storage.h"

/* Operations in flight on this node: its own and those it runs for other
 * nodes as leader. Past it, new ones get ERR_AGAIN (a 503 to the client):
 * memory stays bounded whatever the clients do. */
#define CL_OPS_MAX 8192
/* Members kept in memory for routing and key checks (the replicated list
 * plus what a join reply said, until the log catches up). */
#define CL_MEMBERS_MAX 256
/* How often autopilot looks at the cluster (Consul: every 10 s by
 * default; we decide more often and let the stabilisation time pace the
 * changes, since one decision is a few hundred instructions). */
#define CL_AUTOPILOT_MS 1000
/* While a write waits for a leader it is retried at this pace. */
#define CL_RETRY_MS 50
/* A forwarded write the leader has not answered after this long is sent
 * again with the same session and seq (safe: the session deduplicates).
 * A healthy forward is answered in milliseconds; a second is far above
 * that and well inside the API's 10 s deadline. */
#define CL_FWD_RESEND_MS 1000
/* Client sessions idle this long expire through the log (issue 11: an
 * hour; a constant for now, carried in the expire command, so making it a
 * setting changes only the proposer). The leader proposes the expiry at
 * this period. Expiry compares proposer wall clocks: a leader whose clock
 * runs ahead by D expires sessions D early, so the TTL must dwarf any
 * plausible drift (NTP keeps it under a second). */
#define CL_SESS_TTL_MS (3600ull * 1000)
#define CL_SESS_EXPIRE_EVERY_MS (60ull * 1000)
/* The cookie of proposals nobody waits for (the expiry). */
#define CL_COOKIE_NONE UINT64_MAX

enum cl_op_kind {
	CL_OP_WRITE = 1,  /* propose data */
	CL_OP_READ,       /* a ReadIndex barrier */
	CL_OP_CHANGE,     /* membership: change_op, change_id */
	CL_OP_TRANSFER,   /* leadership transfer to change_id (0: any) */
};

enum cl_op_state {
	CL_OP_WAIT_LEADER = 1, /* no leader known, or it must be retried */
	CL_OP_PROPOSED,        /* handed to our raftd; its callback ends it */
	CL_OP_SENT,            /* forwarded to the leader; its answer ends it */
	CL_OP_WAIT_APPLY,      /* done, waiting for our apply to reach index */
};

struct cl_op;
/* An operation's end: status (0 or an error), index (a write's entry, a
 * read's read index), result (the state machine's answer). */
typedef void (*cl_op_cb)(struct cluster *c, struct cl_op *op, int status,
			 uint64_t index, int result);

struct cl_op {
	struct cl_op *next, *prev;
	uint64_t id;          /* the cookie and the RPC req_id */
	uint8_t kind;         /* enum cl_op_kind */
	uint8_t state;        /* enum cl_op_state */
	uint8_t remote;       /* run for another node: answer it */
	uint8_t no_apply_wait; /* a forwarded write ends at the leader's
				* answer, without waiting to apply it here
				* (a leaving node no longer receives the log) */
	uint8_t change_op;
	uint64_t change_id;
	uint64_t deadline_ms;
	uint64_t sent_to;     /* CL_OP_SENT: the leader we forwarded to */
	uint64_t wait_index;  /* CL_OP_WAIT_APPLY */
	int wait_status, wait_result;
	/* remote: who asked, and their request id */
	uint64_t from, from_req;
	uint8_t *data;        /* owned: the command (writes) */
	size_t len;
	/* Writes: the session the command carries (Raft thesis 6.3). An
	 * HTTP client's (Idempotency-Key) is set before the first drive;
	 * otherwise the node's own session is used. The command is wrapped
	 * once, so every retry carries the same (client, seq). */
	char sess_client[STOR_SESS_CLIENT_MAX + 1];
	uint8_t sess_client_len;
	uint8_t sess_own;     /* the node's own session: counts in its ack */
	uint8_t sess_wrapped;
	uint32_t sess_epoch;  /* which node session (sess_own) */
	uint64_t sess_seq;
	uint64_t sent_ms;     /* CL_OP_SENT: when it was forwarded */
	cl_op_cb cb;          /* local ops */
	void *arg;
	void *arg2;
};

/* The cluster-wide /metrics (cluster_metrics.c, cluster_minst.c). A
 * node samples its own figures this often: Prometheus scrapes every 15 s
 * to 1 min by default, so 5 s keeps what it sees under a scrape interval
 * old while gossip carries one new version per node per 5 s. */
#define CLM_SAMPLE_MS 5000
/* A node pulls its peers' snapshots while it was scraped within this
 * long (10 minutes: longer than any usual scrape interval, so a scraped
 * node stays current between scrapes). */
#define CLM_INTEREST_MS (10ull * 60 * 1000)
#define CLM_HOOKS_MAX 8
/* Instances listed from the replicated domain per sample. */
#define CLM_LIST_MAX 1024
/* Items per instance and direction (vanilla 2.0 has about 300 items). */
#define CLM_ITEMS_MAX 256
#define CLM_ITEM_NAME_MAX 64
/* An RCON sample not answered within this is dropped (below the 5 s
 * sampling period, so they never pile up). */
#define CLM_RCON_TIMEOUT_MS 4000

struct clm_item {
	char name[CLM_ITEM_NAME_MAX + 1];
	double produced, consumed;
};

/* What the game of one local instance last reported. */
struct clm_inst {
	uint64_t id;       /* 0: a free slot */
	uint8_t running;   /* at the last sample */
	uint8_t busy;      /* an RCON sample in flight */
	uint8_t known;     /* tick and players read */
	uint8_t ups_known;
	uint64_t tick, players, at_ms;
	double ups;
	uint64_t ipc_ms;   /* the last report over IPC, 0: none */
	uint64_t next_rcon_ms;
	struct clm_item *items; /* owned, CLM_ITEMS_MAX when set */
	uint32_t nitems;
};

struct cl_mx {
	struct cm_cache cache;
	uint64_t version;     /* of this node's snapshot; 0: none yet */
	uint8_t *text;        /* this node's snapshot text, owned */
	size_t len;
	uint64_t next_sample_ms, scraped_ms;
	uint64_t next_publish_ms; /* the digest's next version in gossip */
	int share;            /* gossip the version, pull and answer pulls */
	int ipc_subscribed;   /* to the games' channel `metrics` */
	struct {
		enum cluster_metrics_scope scope;
		cluster_metrics_fn fn;
		void *arg;
	} hooks[CLM_HOOKS_MAX];
	uint32_t nhooks;
	struct clm_inst inst[INST_LOCAL_MAX];
	uint64_t served, served_bytes, hook_errors, sample_errors;
};

struct cl_decision {
	uint64_t at_ms;
	char text[AP_REASON_MAX];
};

struct cluster {
	uv_loop_t *loop;
	const struct tracer *log;
	char dir[1024];
	char name[STOR_CL_NAME_MAX + 1];
	char bind[TP_ADDR_MAX], advertise[TP_ADDR_MAX];
	char http[STOR_CL_ADDR_MAX + 1];
	void (*on_exit)(void *arg, int status);
	void *exit_arg;

	struct node_identity ident;
	struct node_cluster_secret sec;
	int joined;
	int stopping;
	int failed; /* raftd stopped on a storage error */

	struct stor *st;
	struct raftd *rd;
	uv_poll_t disk_poll;
	int disk_poll_on;
	uv_timer_t raft_timer;
	struct tp *tp;
	struct gossipd *gd;
	uv_timer_t gossip_timer;
	uv_timer_t ap_timer;
	uv_timer_t kick_timer; /* work deferred out of raftd's callbacks */
	struct ap_state ap;
	struct ap_config apc;
	uint64_t conf_seen_ms[RAFT_NODES_MAX]; /* join times for autopilot */
	raft_id conf_seen_id[RAFT_NODES_MAX];
	struct cl_decision decisions[8];
	uint32_t decisions_n;

	/* routing and key checks */
	struct stor_cl_member members[CL_MEMBERS_MAX];
	size_t members_n;
	int members_dirty;

	/* operations */
	struct cl_op *ops;
	size_t ops_n;
	uint64_t next_op;
	uint8_t role;
	raft_id leader;
	raft_term term;

	/* the core for the API */
	struct core core;

	/* pending join (this node joining) and leave */
	struct cl_join *join;
	struct cl_leave *leave;

	/* stop */
	unsigned closing; /* handles still closing */
	void (*stop_done)(void *arg);
	void *stop_arg;

	/* backups being streamed (cluster_snap.c) */
	struct core_snap *snaps;
	/* the instance manager (node.c owns it; NULL when none runs) */
	struct inst_mgr *im;
	struct plug_mgr *pm; /* the plugin supervisor, or NULL */
	struct ev_bus *events; /* borrowed (cluster_config.events); may be NULL */
	/* this node's own session: "node:<raft id>:<boot nonce>" */
	char sess_node[STOR_SESS_CLIENT_MAX + 1];
	uint8_t sess_node_len;
	uint32_t sess_epoch;
	uint64_t sess_next;      /* the next seq */
	uint64_t sess_expire_ms; /* leader: when to propose the next expiry */

	/* the cluster-wide /metrics (cluster_metrics.c); NULL until used */
	struct cl_mx *mx;

	/* counters for /metrics */
	uint64_t fwd_sent, fwd_served, rpc_malformed;
	uint64_t writes_retried, writes_resent, writes_dedup_seen;
	uint64_t joins_served, joins_refused;
};

/* cluster.c */
uint64_t cl_now(struct cluster *c);
uint64_t cl_wall_ms(void);
const struct stor_cl_member *cl_member(const struct cluster *c, uint64_t id);
void cl_members_reload(struct cluster *c);
int cl_send_rpc(struct cluster *c, uint64_t to, const struct rpc_msg *m);
void cl_kick(struct cluster *c);
void cl_kick_later(struct cluster *c, uint64_t ms);
int cl_start_joined(struct cluster *c, char *errmsg, size_t errsz);
void cl_exit(struct cluster *c, int status);

/* cluster_ops.c */
struct cl_op *cl_op_new(struct cluster *c, uint8_t kind, uint64_t deadline_ms,
			cl_op_cb cb, void *arg);
/* Starts (or restarts) an op: proposes locally, forwards, or waits. */
void cl_op_drive(struct cluster *c, struct cl_op *op);
void cl_ops_drive_waiting(struct cluster *c);
void cl_ops_expire(struct cluster *c);
void cl_ops_fail_all(struct cluster *c, int status);
void cl_ops_applied(struct cluster *c, raft_index applied);
void cl_on_result(void *ctx, uint64_t cookie, int status, raft_index index,
		  int result);
void cl_on_read(void *ctx, uint64_t cookie, int status, raft_index index);
void cl_on_rpc(struct cluster *c, const struct tp_peer *from,
	       const uint8_t *buf, size_t len);
void cl_role_changed(struct cluster *c);
/* Once a second (the autopilot timer): re-sends forwarded writes left
 * unanswered, and on the leader proposes the session expiry. */
void cl_sessions_tick(struct cluster *c, uint64_t now);

/* cluster_join.c */
void cl_on_join(void *ctx, struct tp_join_req *jr, const uint8_t *buf,
		size_t len);
int cl_join_psk(void *ctx, const char *token_id, uint8_t psk[TP_KEY_LEN]);
int cl_join_start(struct cluster *c, const char *peer, const char *token,
		  uint64_t deadline_ms, core_done_cb cb, void *arg);
void cl_join_tick(struct cluster *c);
int cl_leave_start(struct cluster *c, uint64_t deadline_ms, core_done_cb cb,
		   void *arg);
void cl_leave_tick(struct cluster *c);
void cl_leave_fail_all(struct cluster *c, int status);
void cl_join_fail_all(struct cluster *c, int status);

/* cluster_init.c, shared with cluster_restore.c: appends one command of
 * the cluster domain at (index, term); fills a MEMBER_PUT command for this
 * node; fills a TOKEN_ADD command for a fresh token (str: "ID.SECRET",
 * CORE_TOKEN_STR_LEN + 1 bytes). */
int cl_append_cmd(struct stor *st, uint64_t index, uint64_t term,
		  const struct stor_cl_cmd *cmd);
void cl_member_cmd(struct stor_cl_cmd *cmd, const struct node_identity *id,
		   const char *name, const char *addr, const char *http);
void cl_new_token(struct stor_cl_cmd *cmd, uint8_t kind, const char *name,
		  uint64_t wall_ms, uint64_t ttl_ms, char *str);

/* cluster_view.c */
void cl_autopilot(uv_timer_t *t);
int cl_members_view(void *ctx, struct core_member *out, size_t max,
		    size_t *n);
int cl_raft_view(void *ctx, struct core_raft_status *out);
const char *cl_role_word(const struct cluster *c);
/* 1 when this node's local state is as recent as it knows it should be:
 * Raft runs, a leader is known, an entry of the current term is committed
 * (so the commit index covers every earlier term) and every committed
 * entry is applied. A record missing while this is 0 may only not have
 * arrived yet. */
int cl_caught_up(const struct cluster *c);

/* cluster_core.c */
extern const struct core_ops cl_core_ops;

/* cluster_metrics.c: the state, created on first use (NULL while the
 * node has no Raft id, or out of memory); the once-a-second step (from
 * the autopilot timer); the RPC_METRICS_GET / RPC_METRICS handler; the
 * release at stop. */
struct cl_mx *cl_mx_get(struct cluster *c);
void cl_metrics_tick(struct cluster *c, uint64_t now);
void cl_metrics_rpc(struct cluster *c, const struct rpc_msg *m);
void cl_metrics_free(struct cluster *c);
/* The clusterd_metrics_* figures of this node (for cluster_metrics). */
int cl_metrics_own(struct cluster *c, struct http_reply *rep);

/* cluster_minst.c: the instances' figures into a snapshot, the RCON
 * sampling of the instances' games, the release of their slots. */
int cl_minst_render(struct cluster *c, struct cl_mx *mx, struct http_reply *rep,
		    uint64_t now);
void cl_minst_poll(struct cluster *c, struct cl_mx *mx, uint64_t now);
void cl_minst_free(struct cl_mx *mx);
/* Subscribes to the games' channel `metrics` once the manager exists. */
void cl_minst_subscribe(struct cluster *c, struct cl_mx *mx);

/* cluster_snap.c: core.h's snapshot_* ops, and the stop's detach of the
 * streams still open (before the store closes). */
int cl_snap_open(void *ctx, int stale, uint64_t deadline_ms, core_snap_cb cb,
		 void *arg);
int cl_snap_next(void *ctx, struct core_snap *s, const uint8_t **p,
		 size_t *len, int *done);
void cl_snap_close(void *ctx, struct core_snap *s);
void cl_snaps_detach(struct cluster *c);

#endif
