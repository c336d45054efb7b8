/*
 * node.h: the clusterd node, the composition root (DESIGN.md).
 *
 * A node owns one libuv loop and everything that runs on it: the HTTP
 * server with the API and /metrics, signal handling, and the cluster
 * runtime (node/cluster.h: the transport, Raft, gossip, storage,
 * autopilot). Its state is private to node.c. Modules below node/ are pure or I/O-only; the node is where
 * they meet a clock, sockets and the log.
 */
#ifndef CLUSTERD_NODE_NODE_H
#define CLUSTERD_NODE_NODE_H

#include <stddef.h>

#include "node/config.h"

/* Runs a node until SIGINT or SIGTERM (or a completed leave, after which
 * it forgets its cluster, see cluster.h). Returns 0 after a clean
 * shutdown, or an error (with a one-line message written to errmsg). */
int node_run(const struct node_config *cfg, char *errmsg, size_t errmsg_size);

#endif
