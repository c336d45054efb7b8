/*
 * api.h: the node's HTTP API under /api/v1/ (issue 10): keys and values,
 * the cluster views, join and leave, tokens.
 *
 * Design. One file per resource (kv.c, cluster.c, join.c, tokens.c); each
 * handler parses the request, calls ONE operation of the node core through
 * node/core.h and formats the answer (docs/contributing.md: thin handlers). This module never
 * sees Raft or storage (scripts/check-layering enforces it), so the
 * handlers are tested against a fake core.
 *
 * Authentication: every request carries "Authorization: Bearer ID.SECRET"
 * (an API token, node/core.h), checked against the replicated token
 * records (hash compared in constant time, revoked and expired refused):
 * else 401. Read-only tokens may only GET (403 otherwise). The node's own
 * /api/v1/status and /metrics are not served here and need no token. An
 * unjoined node serves only POST /api/v1/cluster/join, only from loopback,
 * and without a token (it has no token records yet); anything else gets
 * 503 ("not joined"). A member answers join 409 before any token check.
 *
 * Errors are JSON {"error": "..."} with the status the issue fixes: 400 a
 * bad namespace, key, query or body; 401; 403; 404; 409 a failed
 * compare-and-set, with {"revision": R} the key's current revision (0:
 * absent); 413 a value over 1 MiB; 503 with Retry-After when there is no
 * leader, the deadline passed, or queues are full. A 4xx means the write
 * was not applied; a 503 that it may or may not have been.
 *
 * Answers that wait for Raft (writes, linearizable reads, join, leave,
 * transfer) are deferred (node/http.h): the handler returns HTTP_PENDING
 * and the core's callback completes the answer, which is safe after the
 * client went away.
 */
#ifndef CLUSTERD_NODE_API_API_H
#define CLUSTERD_NODE_API_API_H

#include <stdint.h>

#include "node/core.h"
#include "node/http.h"

/* How long a request waits for Raft by default (issue 11: a write in
 * flight during a failover is retried within this window): many
 * elections (a few hundred ms each with our timings) plus forwards, and
 * below clusterctl's 15 s total so the client sees our 503, not its
 * timeout. */
#define API_DEADLINE_MS 10000
/* Retry-After on a 503, in seconds (HTTP allows whole seconds only). */
#define API_RETRY_AFTER_S 1
/* Largest JSON request body (join, tokens, transfer). */
#define API_JSON_BODY_MAX (64 * 1024)

struct api_stats {
	uint64_t requests;
	uint64_t unauthorized; /* 401s */
	uint64_t forbidden;    /* 403s: a token without the permission */
	uint64_t deferred;     /* answers that waited for the core */
	uint64_t unavailable;  /* 503s */
};

struct ev_bus;
struct api {
	struct core core; /* ops borrowed (static), ctx borrowed */
	/* The node's event bus for GET /api/v1/events (node/events.h),
	 * borrowed; NULL: the endpoint answers 503. Set after api_init. */
	struct ev_bus *events;
	uint64_t deadline_ms;
	struct api_stats stats;
};

/* Sets a up over a core (copied; the ctx it points to is borrowed for
 * as long as requests run). */
void api_init(struct api *a, const struct core *core);

/* Serves one request under /api/v1/ (except /api/v1/status). Returns 0
 * with rep filled, HTTP_PENDING after deferring, or an error (500). The
 * node registers it as the handler of the prefix route
 * {"*", "/api/v1/", ...} with a as context, through its own handler. */
int api_handle(struct api *a, const struct http_request *req,
	       struct http_reply *rep);

/* Appends the API's counters to a /metrics answer (Prometheus text):
 * clusterd_api_requests_total, _unauthorized_total, _forbidden_total,
 * _deferred_total, _unavailable_total. */
int api_metrics(const struct api *a, struct http_reply *rep);

#endif
