/*
 * cluster.h: the node's cluster runtime, the composition of the modules
 * under node/ (docs/design.md): the store, the Raft driver (raftd) over
 * it, the encrypted transport, the gossip driver, autopilot, and the
 * forwarding of requests to the leader. It implements node/core.h, the
 * interface the HTTP API reaches the node through.
 *
 * One libuv loop runs everything; every function here is called on it.
 *
 * A node is in one of two modes:
 *  - joined: DIR/cluster holds the secret; Raft, gossip and the transport
 *    run, and every API operation is served;
 *  - unjoined: no secret yet; the transport runs for the join handshake
 *    only, and the only operation served is join (core.h, `joined`).
 */
#ifndef CLUSTERD_NODE_CLUSTER_H
#define CLUSTERD_NODE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/trace.h"
#include "node/core.h"
#include "node/http.h"

struct cluster;

#define CLUSTER_EXIT_LEFT 1

struct cluster_config {
	uv_loop_t *loop;             /* borrowed */
	const char *data_dir;        /* copied */
	const char *name;            /* this node's name; copied */
	const char *bind;            /* cluster "IP:PORT" (TCP and UDP) */
	const char *advertise;       /* what peers dial; NULL: bind's address
				      * (a 0.0.0.0 bind advertises 127.0.0.1) */
	const char *http_addr;       /* the bound HTTP address, published in
				      * gossip and the member record */
	const struct tracer *log;    /* borrowed */
	/* Called once when the node wants its process to stop: status
	 * CLUSTER_EXIT_LEFT after a completed leave (the node then forgets
	 * its identity and cluster, see cluster_forget), or the error that
	 * stopped the store. */
	void (*on_exit)(void *arg, int status);
	void *exit_arg;
	/* The node's event bus (node/events.h), borrowed until cluster_stop's
	 * callback; NULL: none. Applied entries, leader and gossip changes
	 * are published on it. */
	struct ev_bus *events;
};

/* Opens the store and starts the runtime in the mode the data dir says.
 * 0, or an error with a one-line message in errmsg. *out is set whenever
 * handles were opened (also on some errors): the caller then stops it
 * with cluster_stop; it is the caller's until cluster_stop's callback. */
int cluster_start(const struct cluster_config *cfg, struct cluster **out,
		  char *errmsg, size_t errsz);

/* The node core for the API (borrowed until cluster_stop). */
const struct core *cluster_core(struct cluster *c);

/* Tells the runtime about the node's instance manager (borrowed; NULL
 * detaches it): applied instance entries kick it, and the core's instance
 * operations reach it. */
struct inst_mgr;
void cluster_set_instances(struct cluster *c, struct inst_mgr *im);
/* The node's plugin supervisor (node/plugins), or NULL, for core.h's
 * plugin_states. */
struct plug_mgr;
void cluster_set_plugins(struct cluster *c, struct plug_mgr *pm);

/* Appends this node's Raft, gossip and transport metrics to a /metrics
 * reply (Prometheus text). */
int cluster_metrics(struct cluster *c, struct http_reply *rep);

/* ---- the cluster-wide /metrics (cluster_metrics.c) ---- */

/* Writes Prometheus text (HELP, TYPE, samples; no `node` label: the
 * renderer adds it) into rep. 0 or an error (the hook's text is then
 * left out of the snapshot, and counted). */
typedef int (*cluster_metrics_fn)(void *arg, struct http_reply *rep);
enum cluster_metrics_scope {
	/* Figures of this node: sampled every 5 s into its snapshot, shared
	 * with the others, rendered with node="NAME" (plugin metrics of a
	 * node, the node's own figures). */
	CLUSTER_METRICS_NODE = 0,
	/* Figures of the replicated state, the same on every node: rendered
	 * at the end of each scrape from local state, without a node label.
	 * Must not wait on anything (the item ledger's stock). */
	CLUSTER_METRICS_CLUSTER = 1,
};
/* Adds a hook (fn and arg borrowed until cluster_stop's callback). Hooks
 * run in the order added. 0, ERR_AGAIN (8 hooks already), ERR_NOMEM. */
int cluster_metrics_hook(struct cluster *c, enum cluster_metrics_scope scope,
			 cluster_metrics_fn fn, void *arg);
/* on = 0: this node neither gossips its metrics version nor pulls or
 * serves snapshots; its /metrics then covers itself (and clusterd_up).
 * The default is on. */
void cluster_metrics_share(struct cluster *c, int on);
/* The cluster-wide exposition, rendered from the cache: never waits.
 * ERR_AGAIN when the node is not part of a cluster (the caller answers
 * with its own figures). */
int cluster_metrics_all(struct cluster *c, struct http_reply *rep);
/* A report of instance `instance` (running on this node) from its game
 * module, channel `metrics` of the IPC: {"id":N, "tick":T, "players":P,
 * "produced":{ITEM:COUNT,...}, "consumed":{...}} (borrowed). While such
 * reports arrive, the RCON sampling of that instance pauses. 0,
 * ERR_MALFORMED, ERR_AGAIN (no slot: more than 64 instances). */
struct cJSON;
int cluster_metrics_ipc(struct cluster *c, uint64_t instance,
			const struct cJSON *msg);

/* Stops: fails pending operations with ERR_SHUTDOWN, closes every handle,
 * then the store; calls done(arg) when all is closed and frees c. */
void cluster_stop(struct cluster *c, void (*done)(void *arg), void *arg);

/* After a leave (CLUSTER_EXIT_LEFT) and cluster_stop: deletes the
 * identity, the cluster file and the database, so the data dir is that
 * of a node that never joined. */
int cluster_forget(const char *data_dir, char *errmsg, size_t errsz);

/* ---- `clusterd init` ---- */

struct cluster_init {
	const char *data_dir, *name, *bind, *http_addr;
	/* Out: the tokens to show (NUL-terminated). */
	char admin_token[CORE_TOKEN_STR_LEN + 1];
	char join_token[CORE_TOKEN_STR_LEN + 1];
	char cluster_id[40];
	uint64_t node_id;
};

/* Creates a cluster in an empty data dir: identity, secret, the Raft log
 * with this node as the one voter, and the first entries of the state
 * (cluster id, this member, an admin API token and a join token valid
 * CORE_JOIN_TOKEN_TTL_MS). Synchronous, no network. ERR_EXISTS when the
 * data dir already belongs to a cluster. */
int cluster_init(struct cluster_init *in, uint64_t wall_ms, char *errmsg,
		 size_t errsz);

/* ---- `clusterd restore` ---- */

struct cluster_restore {
	const char *data_dir, *name, *bind, *http_addr;
	const char *from; /* the snapshot file (node/snapfile.h) */
	/* Out, as for init, and the point of the log restored. */
	char admin_token[CORE_TOKEN_STR_LEN + 1];
	char join_token[CORE_TOKEN_STR_LEN + 1];
	char cluster_id[40];
	uint64_t node_id, index, term;
	uint64_t members_dropped; /* the old cluster's member records */
};

/* Reads the whole file and checks its framing and checksum; writes
 * nothing anywhere. 0, or the error (snapfile_read's) with errmsg saying
 * what is wrong with the file. */
int cluster_restore_check(const char *from, char *errmsg, size_t errsz);

/* Starts a NEW cluster in an empty data dir from a snapshot file, as
 * init does from nothing: a new identity and secret; the file's state
 * (KV data, API tokens: everything replicated) installed at its index;
 * then, as log entries after it that the first election commits, a
 * Raft configuration with this node as the one voter, the deletion of
 * every old member record, this node's record, and a fresh admin and
 * join token. The old members' keys are refused (no record lists them)
 * and they cannot reach it anyway (a new secret). The file is checked
 * again while it is installed; the install becomes current only when the
 * checksum matched. ERR_EXISTS when the data dir holds a cluster or a
 * store already. Synchronous, no network. */
int cluster_restore(struct cluster_restore *in, uint64_t wall_ms,
		    char *errmsg, size_t errsz);

#endif
