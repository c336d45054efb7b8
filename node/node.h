/*
 * node.h: the clusterd node, the composition root (DESIGN.md).
 *
 * A node owns one libuv loop and everything that runs on it: the HTTP
 * server with the API and /metrics, signal handling, and, as later modules
 * arrive, the cluster transport, Raft, gossip, storage and the instance
 * manager. Modules below node/ are pure or I/O-only; the node is where
 * they meet a clock, sockets and the log.
 */
#ifndef CLUSTERD_NODE_NODE_H
#define CLUSTERD_NODE_NODE_H

#include <stdint.h>

#include <uv.h>

#include "base/trace.h"
#include "node/api/api.h"
#include "node/config.h"
#include "node/datadir.h"
#include "node/http.h"

struct cluster;

struct node {
	uv_loop_t loop;
	struct node_config cfg;
	struct node_datadir dir;
	struct node_http http;
	uv_signal_t sigint;
	uv_signal_t sigterm;
	struct tracer log;
	double start_time_s;  /* wall clock at start, seconds since epoch */
	uint64_t start_ms;    /* loop time at start */
	int stop_signal;      /* the signal that asked us to stop, or 0 */
	struct cluster *cluster; /* the cluster runtime (cluster.h) */
	struct api api;          /* the HTTP API over the cluster's core */
	struct inst_mgr *im;     /* the instance manager, or NULL */
	int stopping;
	int exit_status;      /* why the cluster asked to stop, or 0 */
};

/* Runs a node until SIGINT or SIGTERM (or a completed leave, after which
 * it forgets its cluster, see cluster.h). Returns 0 after a clean
 * shutdown, or an error (with a one-line message written to errmsg). */
int node_run(const struct node_config *cfg, char *errmsg, size_t errmsg_size);

#endif
