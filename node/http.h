/*
 * http.h: the node's HTTP server, h2o 2.2 on the node's libuv loop.
 *
 * Handlers are thin (STYLE.md rule 12): each gets the request's method,
 * path and query, fills a struct http_reply (status, content type, body)
 * and returns; this module turns the reply into an h2o response. Handlers
 * therefore know nothing of h2o and are testable without sockets.
 *
 * Shutdown (node_http_stop) closes the listener, lets in-flight requests
 * finish for a grace period, then shuts idle keep-alive sockets down so h2o
 * sees end-of-file and closes them itself; only when every connection is
 * closed is the h2o context disposed, as h2o requires.
 */
#ifndef CLUSTERD_NODE_HTTP_H
#define CLUSTERD_NODE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>
#include <uv.h>

#include "base/bytes.h"

/* Largest response body a handler may build. */
#define HTTP_BODY_MAX (16 * 1024 * 1024)

struct http_reply {
	int status;
	const char *content_type; /* static string */
	struct wbuf body;         /* owned by the reply; freed by http.c */
};

struct http_request {
	const char *method; /* borrowed for the handler's duration */
	size_t method_len;
	const char *path; /* normalized path, without the query */
	size_t path_len;
	const char *query; /* after '?', or NULL */
	size_t query_len;
};

/* Returns 0 when it handled the request; ERR_NOTFOUND to fall through. */
typedef int (*http_handler_fn)(void *ctx, const struct http_request *req,
			       struct http_reply *rep);

struct http_route {
	const char *method; /* "GET", ... */
	const char *path;   /* exact match */
	http_handler_fn fn;
};

struct http_conn;

struct node_http {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t stop_timer;
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	const struct http_route *routes; /* borrowed, NULL-terminated by fn */
	void *handler_ctx;
	struct http_conn *conns; /* open connections, a doubly linked list */
	unsigned nconns;
	uint64_t requests_total;
	uint64_t stop_started_ms;
	int stopping;
	void (*on_stopped)(struct node_http *);
	char bound_addr[64]; /* "IP:PORT" actually bound (port 0 resolved) */
};

/* Binds addr ("IP:PORT") and starts serving routes. Returns 0, or a libuv
 * error (UV_EADDRINUSE, ...) with nothing left open. */
int node_http_start(struct node_http *h, uv_loop_t *loop, const char *addr,
		    const struct http_route *routes, void *handler_ctx);

/* Begins the shutdown described above; on_stopped runs once everything is
 * closed and disposed. */
void node_http_stop(struct node_http *h, void (*on_stopped)(struct node_http *));

/* Appends formatted text to a reply body; ERR_TOOBIG past HTTP_BODY_MAX. */
int http_printf(struct http_reply *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
