/*
 * http.h: the node's HTTP server, h2o 2.2 on the node's libuv loop.
 *
 * Handlers are thin (docs/contributing.md: thin handlers): each gets the request's method,
 * path, query, headers and body, fills a struct http_reply (status,
 * content type, headers, body) and returns, or defers the answer until a
 * callback (a Raft commit) completes it; this module turns the reply into
 * an h2o response. Handlers therefore know nothing of h2o and are testable
 * without sockets.
 *
 * A deferred answer outlives its connection safely: the handle is ours,
 * not h2o's; a dispose hook in the request's memory pool detaches it when
 * h2o frees the request (the client went away), and finishing a detached
 * handle only frees it.
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
/* Largest request body accepted: a 1 MiB KV value plus slack for a JSON
 * body around it. Larger ones are answered 413 before any handler runs. */
#define HTTP_REQ_BODY_MAX ((1u << 20) + 64 * 1024)
/* Response headers a handler may add. */
#define HTTP_REPLY_HEADERS_MAX 4

/* Returned by a handler that took the request with http_defer and will
 * answer later (see below). */
#define HTTP_PENDING 1

struct http_header {
	const char *name; /* static string, e.g. "X-Clusterd-Revision" */
	char value[64];
};

struct http_reply {
	int status;
	const char *content_type; /* static string */
	struct wbuf body;         /* owned by the reply; freed by http.c */
	struct http_header headers[HTTP_REPLY_HEADERS_MAX];
	unsigned nheaders;
};

struct http_request;
struct http_async;

struct http_request {
	const char *method; /* borrowed for the handler's duration */
	size_t method_len;
	const char *path; /* normalized path, without the query */
	size_t path_len;
	const char *query; /* after '?', or NULL */
	size_t query_len;
	const char *raw_path; /* the path as sent (not decoded), no query */
	size_t raw_path_len;
	const uint8_t *body; /* the whole request body (may be NULL if 0) */
	size_t body_len;
	int peer_loopback;   /* 1 if the peer address is 127.0.0.0/8 or ::1 */
	/* Request headers, looked up with http_req_header. */
	const void *hdrs; /* h2o_headers_t *, or test data via get_header */
	const char *(*get_header)(const struct http_request *r,
				  const char *name, size_t *len);
	/* Takes the request over for a deferred answer (http_defer). */
	struct http_async *(*defer)(const struct http_request *r);
	void *priv; /* the server's (h2o_req_t *), or a test's */
};

/* Returns 0 when it answered in rep, HTTP_PENDING after http_defer, or an
 * error (answered 500). */
typedef int (*http_handler_fn)(void *ctx, const struct http_request *req,
			       struct http_reply *rep);

/* A request header's value (case-insensitive name), borrowed for the
 * handler's duration; NULL if absent. */
const char *http_req_header(const struct http_request *r, const char *name,
			    size_t *len);

/* Deferred answers. A handler calls http_defer (during the handler only),
 * returns HTTP_PENDING, and later, from any callback on the loop thread,
 * fills http_async_reply() and calls http_async_finish(), which sends the
 * answer and frees the handle. The client may close the connection in the
 * meantime: the handle stays valid until finish, which then just frees it
 * (http_async_closed tells, so a caller may skip formatting). The handle
 * also survives node_http_stop: the owner must still finish it. Returns
 * NULL on allocation failure (answer 500 synchronously then). */
struct http_async *http_defer(const struct http_request *r);
struct http_reply *http_async_reply(struct http_async *a);
int http_async_closed(const struct http_async *a);
void http_async_finish(struct http_async *a);

/* Streamed answers: a body too large to hold, produced piece by piece.
 * pull returns 0 with the next piece (*p borrowed until the next pull or
 * close) and *done set on the last one, or an error: the connection is
 * then cut, so the client sees a truncated answer, never a complete one.
 * pull runs only once the previous piece was written to the socket, so
 * memory stays one piece. close runs exactly once: after the last piece
 * went out, after an error, or when the client went away. */
struct http_stream_src {
	int (*pull)(void *arg, const uint8_t **p, size_t *len, int *done);
	void (*close)(void *arg);
	void *arg;
};

/* Answers a deferred request with a stream: the status, content type and
 * headers of http_async_reply(a) (its body is ignored), then the pieces
 * src pulls, in chunked transfer encoding. Frees a. If the client went
 * away already, src->close runs at once. A test handle pulls every piece
 * into its reply's body (up to HTTP_BODY_MAX), until the last or until a
 * pull has nothing to send, and then calls done. */
void http_async_stream(struct http_async *a, const struct http_stream_src *src);

/* The same, for a source that is not always ready (an event stream):
 * started(src->arg, st) runs once, before the first pull, with the
 * stream's handle (valid until src->close runs; a test handle never calls
 * it). Such a source's pull may answer 0 with *len 0 and *done 0: nothing
 * to send now. The stream then idles until the source calls
 * http_stream_wake(st). (A plain source must always give a piece or
 * *done.) */
struct http_stream;
void http_async_stream_wakeable(struct http_async *a,
				const struct http_stream_src *src,
				void (*started)(void *arg,
						struct http_stream *st));
/* The same again, with a body of exactly `length` bytes: sent with
 * Content-Length instead of chunked (a client then knows the size ahead
 * and can tell a cut answer from a whole one); a source that ends early
 * or gives more is cut off. started may be NULL (a plain source). */
void http_async_stream_sized(struct http_async *a,
			     const struct http_stream_src *src,
			     void (*started)(void *arg, struct http_stream *st),
			     uint64_t length);
/* Pulls again from a stream whose last pull had nothing to send; a no-op
 * when it is not idle (a piece is being written; pull runs after it).
 * Never call it after the source's close ran. */
void http_stream_wake(struct http_stream *st);

/* Adds a response header (name static); ERR_TOOBIG past the bound. */
int http_reply_header(struct http_reply *rep, const char *name,
		      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* For tests of handlers without sockets: an async handle whose finish
 * calls done(arg, reply) and then frees it; closed() reports *closed. */
struct http_async *http_async_new_test(void (*done)(void *arg,
						    struct http_reply *rep),
				       void *arg, const int *closed);

struct http_route {
	const char *method; /* "GET", ..., or "*" for any method */
	const char *path;   /* exact match, or a prefix when it ends in '/'
			       (the longest matching route wins) */
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
	/* Cross-origin access (CORS), optional, set after node_http_start:
	 * whether a page from origin ("http://HOST:PORT", not NUL-terminated)
	 * may read this server's answers (called with handler_ctx). When it
	 * says yes, answers carry Access-Control-Allow-Origin for it, and an
	 * OPTIONS preflight is answered 204 before any route. NULL: none. */
	int (*origin_ok)(void *ctx, const char *origin, size_t len);
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
