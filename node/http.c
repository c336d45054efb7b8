/*
 * http.c: h2o on libuv, the route table, graceful shutdown. See http.h.
 */
#include "node/http.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/config.h"

/* Grace for in-flight requests before idle sockets are shut down, and the
 * poll period of the stop timer. Requests here finish in microseconds;
 * one second is generous and keeps SIGTERM-to-exit short. */
#define HTTP_STOP_GRACE_MS 1000
#define HTTP_STOP_POLL_MS 20
/* Idle keep-alive connections close after this long (h2o's default is
 * 10 s; clusterctl opens one connection per command). */
#define HTTP_KEEPALIVE_MS 5000

/* h2o takes over the uv handle's `data`, so per-connection state lives in
 * this wrapper, found from the handle by its address. */
struct http_conn {
	uv_tcp_t tcp; /* first: the close callback casts back from it */
	struct node_http *http;
	struct http_conn *prev, *next;
};

/* A deferred answer (http.h). Ours, not h2o's: `anchor` lives in the
 * request's pool and detaches the handle when h2o frees the request
 * before we answered (the connection closed). */
struct http_async_anchor {
	struct http_async *a;
};

struct http_async {
	struct http_reply rep;
	h2o_req_t *req; /* NULL once the request is gone */
	struct http_async_anchor *anchor;
	/* Test handles (http_async_new_test). */
	void (*test_done)(void *arg, struct http_reply *rep);
	void *test_arg;
	const int *test_closed;
};

struct route_handler {
	h2o_handler_t super; /* first: h2o passes it back to on_req */
	struct node_http *http;
};

int http_printf(struct http_reply *rep, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = wbuf_vprintf(&rep->body, fmt, ap);
	va_end(ap);
	return rv;
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	default: return status < 500 ? "Error" : "Internal Server Error";
	}
}

static struct node_http *http_of(h2o_req_t *req)
{
	return (struct node_http *)((char *)req->conn->ctx -
				    offsetof(struct node_http, ctx));
}

/* The request's Origin when the server's origin_ok allows it (http.h). */
static int cors_origin(h2o_req_t *req, h2o_iovec_t *origin)
{
	struct node_http *h = http_of(req);
	ssize_t i;

	if (h->origin_ok == NULL)
		return 0;
	i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
	if (i < 0)
		return 0;
	*origin = req->headers.entries[i].value;
	return h->origin_ok(h->handler_ctx, origin->base, origin->len);
}

static void add_cors(h2o_req_t *req)
{
	h2o_iovec_t o;

	if (!cors_origin(req, &o))
		return;
	h2o_add_header(&req->pool, &req->res.headers,
		       H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, o.base,
		       o.len);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL,
		       H2O_STRLIT("Origin"));
}

/* An allowed origin's preflight: 204 with what the API accepts. */
static int cors_preflight(h2o_req_t *req)
{
	static const struct {
		const char *name, *value;
	} hd[] = {
		{"access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE"},
		{"access-control-allow-headers",
		 "Authorization, Content-Type, Last-Event-ID, Idempotency-Key"},
		{"access-control-max-age", "600"},
	};
	h2o_iovec_t o;

	if (!h2o_memis(req->method.base, req->method.len,
		       H2O_STRLIT("OPTIONS")) ||
	    !cors_origin(req, &o))
		return 0;
	req->res.status = 204;
	req->res.reason = "No Content";
	add_cors(req);
	for (size_t i = 0; i < sizeof(hd) / sizeof(hd[0]); i++)
		h2o_add_header_by_str(&req->pool, &req->res.headers, hd[i].name,
				      strlen(hd[i].name), 1, NULL, hd[i].value,
				      strlen(hd[i].value));
	h2o_send_inline(req, NULL, 0);
	return 1;
}

/* Status, content type and headers of rep onto req's response. */
static void set_head(h2o_req_t *req, const struct http_reply *rep)
{
	req->res.status = rep->status;
	req->res.reason = reason_of(rep->status);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
		       NULL, rep->content_type, strlen(rep->content_type));
	add_cors(req);
	for (unsigned i = 0; i < rep->nheaders; i++) {
		const struct http_header *hd = &rep->headers[i];

		h2o_add_header_by_str(&req->pool, &req->res.headers, hd->name,
				      strlen(hd->name), 1, NULL,
				      h2o_strdup(&req->pool, hd->value,
						 SIZE_MAX).base,
				      strlen(hd->value));
	}
}

static void send_reply(h2o_req_t *req, struct http_reply *rep)
{
	char *copy;

	set_head(req, rep);
	req->res.content_length = rep->body.len;
	/* h2o sends from the request's pool; copy the body there so our
	 * buffer can be freed now. */
	copy = h2o_mem_alloc_pool(&req->pool, rep->body.len + 1);
	if (rep->body.len)
		memcpy(copy, rep->body.p, rep->body.len);
	h2o_send_inline(req, copy, rep->body.len);
}

static void reply_init(struct http_reply *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->status = 200;
	rep->content_type = "application/json";
	wbuf_init(&rep->body, HTTP_BODY_MAX);
}

int http_reply_header(struct http_reply *rep, const char *name,
		      const char *fmt, ...)
{
	struct http_header *hd;
	va_list ap;
	int n;

	if (rep->nheaders == HTTP_REPLY_HEADERS_MAX)
		return ERR_TOOBIG;
	hd = &rep->headers[rep->nheaders];
	va_start(ap, fmt);
	n = vsnprintf(hd->value, sizeof(hd->value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(hd->value))
		return ERR_TOOBIG;
	hd->name = name;
	rep->nheaders++;
	return 0;
}

const char *http_req_header(const struct http_request *r, const char *name,
			    size_t *len)
{
	return r->get_header ? r->get_header(r, name, len) : NULL;
}

static const char *h2o_header(const struct http_request *r, const char *name,
			      size_t *len)
{
	const h2o_headers_t *hs = r->hdrs;
	size_t nl = strlen(name);

	for (size_t i = 0; i < hs->size; i++) {
		const h2o_header_t *e = &hs->entries[i];

		/* h2o keeps names lower-case; fold the one asked for. */
		if (e->name->len == nl &&
		    h2o_lcstris(name, nl, e->name->base, e->name->len)) {
			*len = e->value.len;
			return e->value.base;
		}
	}
	return NULL;
}

/* --- Deferred answers ---------------------------------------------- */

static void anchor_dispose(void *p)
{
	struct http_async_anchor *an = p;

	if (an->a != NULL) {
		an->a->req = NULL;
		an->a->anchor = NULL;
	}
}

static struct http_async *h2o_defer(const struct http_request *r)
{
	h2o_req_t *req = r->priv;
	struct http_async *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	reply_init(&a->rep);
	a->req = req;
	a->anchor = h2o_mem_alloc_shared(&req->pool, sizeof(*a->anchor),
					 anchor_dispose);
	a->anchor->a = a;
	return a;
}

struct http_async *http_defer(const struct http_request *r)
{
	return r->defer ? r->defer(r) : NULL;
}

struct http_reply *http_async_reply(struct http_async *a)
{
	return &a->rep;
}

int http_async_closed(const struct http_async *a)
{
	if (a->test_done != NULL)
		return a->test_closed != NULL && *a->test_closed;
	return a->req == NULL;
}

void http_async_finish(struct http_async *a)
{
	if (a->test_done != NULL) {
		a->test_done(a->test_arg, &a->rep);
	} else if (a->req != NULL) {
		/* Detach first: sending may end the request and clear its
		 * pool, whose hook must not reach this handle then. */
		a->anchor->a = NULL;
		send_reply(a->req, &a->rep);
	}
	wbuf_free(&a->rep.body);
	free(a);
}

/* --- Streamed answers ----------------------------------------------- */

/* Lives in the request's pool: h2o hands the generator back to us, and
 * the pool's dispose hook runs close however the request ends. */
struct http_stream {
	h2o_generator_t gen; /* first: h2o passes it back */
	h2o_req_t *req;
	struct http_stream_src src;
	int closed;
	int wakeable; /* pulls may have nothing (http_async_stream_wakeable) */
	int idle;     /* the last pull had nothing: waiting for a wake */
};

static void stream_close(struct http_stream *st)
{
	if (!st->closed) {
		st->closed = 1;
		st->src.close(st->src.arg);
	}
}

static void stream_dispose(void *p)
{
	stream_close(p);
}

static void stream_send(struct http_stream *st)
{
	const uint8_t *p = NULL;
	size_t len = 0;
	int done = 0, rv;
	h2o_iovec_t buf;

	ASSERT(!st->closed);
	rv = st->src.pull(st->src.arg, &p, &len, &done);
	if (rv != 0) {
		/* Cut the connection: the body ends without its last chunk. */
		h2o_send(st->req, NULL, 0, H2O_SEND_STATE_ERROR);
		return;
	}
	if (len == 0 && !done && st->wakeable) {
		st->idle = 1; /* http_stream_wake pulls again */
		return;
	}
	buf = h2o_iovec_init(p, len);
	h2o_send(st->req, &buf, 1,
		 done ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

void http_stream_wake(struct http_stream *st)
{
	ASSERT(!st->closed);
	if (!st->idle)
		return;
	st->idle = 0;
	stream_send(st);
}

static void stream_proceed(h2o_generator_t *g, h2o_req_t *req)
{
	(void)req;
	stream_send((struct http_stream *)g);
}

static void stream_stop(h2o_generator_t *g, h2o_req_t *req)
{
	(void)req;
	stream_close((struct http_stream *)g);
}

static void stream_test(struct http_async *a, const struct http_stream_src *src,
			int wakeable)
{
	const uint8_t *p;
	size_t len;
	int done = 0, rv = 0;

	while (rv == 0 && !done) {
		rv = src->pull(src->arg, &p, &len, &done);
		if (rv == 0 && len == 0 && !done && wakeable)
			break; /* nothing more now: the test sees so far */
		if (rv == 0)
			rv = wbuf_put(&a->rep.body, p, len);
	}
	if (rv != 0)
		a->rep.status = 0; /* the test sees a cut stream */
	src->close(src->arg);
	a->test_done(a->test_arg, &a->rep);
}

static void stream_start(h2o_req_t *req, struct http_reply *rep,
			 const struct http_stream_src *src,
			 void (*started)(void *arg, struct http_stream *st),
			 int64_t length)
{
	struct http_stream *st;

	set_head(req, rep);
	if (length >= 0)
		req->res.content_length = (size_t)length;
	st = h2o_mem_alloc_shared(&req->pool, sizeof(*st), stream_dispose);
	memset(st, 0, sizeof(*st));
	st->gen.proceed = stream_proceed;
	st->gen.stop = stream_stop;
	st->req = req;
	st->src = *src;
	st->wakeable = started != NULL;
	h2o_start_response(req, &st->gen);
	if (started != NULL)
		started(src->arg, st);
	stream_send(st);
}

/* length -1: chunked. */
static void async_stream(struct http_async *a, const struct http_stream_src *src,
			 void (*started)(void *arg, struct http_stream *st),
			 int64_t length)
{
	if (a->test_done != NULL) {
		stream_test(a, src, started != NULL);
	} else if (a->req != NULL) {
		a->anchor->a = NULL;
		stream_start(a->req, &a->rep, src, started, length);
	} else {
		src->close(src->arg);
	}
	wbuf_free(&a->rep.body);
	free(a);
}

void http_async_stream(struct http_async *a, const struct http_stream_src *src)
{
	async_stream(a, src, NULL, -1);
}

void http_async_stream_wakeable(struct http_async *a,
				const struct http_stream_src *src,
				void (*started)(void *arg,
						struct http_stream *st))
{
	ASSERT(started != NULL);
	async_stream(a, src, started, -1);
}

void http_async_stream_sized(struct http_async *a,
			     const struct http_stream_src *src,
			     void (*started)(void *arg, struct http_stream *st),
			     uint64_t length)
{
	ASSERT(length <= INT64_MAX);
	async_stream(a, src, started, (int64_t)length);
}

struct http_async *http_async_new_test(void (*done)(void *arg,
						    struct http_reply *rep),
				       void *arg, const int *closed)
{
	struct http_async *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	reply_init(&a->rep);
	a->test_done = done;
	a->test_arg = arg;
	a->test_closed = closed;
	return a;
}

static int loopback_peer(h2o_req_t *req)
{
	struct sockaddr_storage ss;
	socklen_t n;

	if (req->conn->callbacks->get_peername == NULL)
		return 0;
	n = req->conn->callbacks->get_peername(req->conn,
					       (struct sockaddr *)&ss);
	if (n == 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		static const uint8_t v4map[12] = {0, 0, 0, 0, 0, 0,
						  0, 0, 0, 0, 0xff, 0xff};

		if (memcmp(&a->sin6_addr, v4map, 12) == 0)
			return a->sin6_addr.s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	return 0;
}

/* Exact routes match the whole path; a route ending in '/' matches every
 * path under it. The longest match wins; among routes of that path the
 * method decides (405 when none has it). */
static int route_matches(const struct http_route *rt,
			 const struct http_request *r)
{
	size_t n = strlen(rt->path);

	if (n > 0 && rt->path[n - 1] == '/')
		return r->path_len >= n && memcmp(rt->path, r->path, n) == 0;
	return n == r->path_len && memcmp(rt->path, r->path, n) == 0;
}

static int dispatch(struct node_http *h, const struct http_request *r,
		    struct http_reply *rep)
{
	const struct http_route *best = NULL;
	size_t best_len = 0;

	for (const struct http_route *rt = h->routes; rt->fn; rt++) {
		size_t n = strlen(rt->path);

		if (!route_matches(rt, r) || (best && n < best_len))
			continue;
		if (!best || n > best_len) {
			best = NULL;
			best_len = n;
		}
		if (strcmp(rt->method, "*") == 0 ||
		    (strlen(rt->method) == r->method_len &&
		     memcmp(rt->method, r->method, r->method_len) == 0))
			best = rt;
	}
	if (best)
		return best->fn(h->handler_ctx, r, rep);
	rep->status = best_len > 0 ? 405 : 404;
	rep->content_type = "application/json";
	return http_printf(rep, "{\"error\":\"%s\"}\n",
			   best_len > 0 ? "method not allowed" : "not found");
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct route_handler *rh = (struct route_handler *)self;
	struct node_http *h = rh->http;
	struct http_request r;
	struct http_reply rep;
	int rv;

	h->requests_total++;
	if (cors_preflight(req))
		return 0;
	memset(&r, 0, sizeof(r));
	r.method = req->method.base;
	r.method_len = req->method.len;
	r.path = req->path_normalized.base;
	r.path_len = req->path_normalized.len;
	if (req->query_at != SIZE_MAX) {
		r.query = req->path.base + req->query_at + 1;
		r.query_len = req->path.len - req->query_at - 1;
	}
	r.raw_path = req->path.base;
	r.raw_path_len = req->query_at != SIZE_MAX ? req->query_at
						   : req->path.len;
	r.body = (const uint8_t *)req->entity.base;
	r.body_len = req->entity.base ? req->entity.len : 0;
	r.peer_loopback = loopback_peer(req);
	r.hdrs = &req->headers;
	r.get_header = h2o_header;
	r.defer = h2o_defer;
	r.priv = req;
	reply_init(&rep);
	rv = dispatch(h, &r, &rep);
	if (rv == HTTP_PENDING) {
		wbuf_free(&rep.body);
		return 0;
	}
	if (rv) {
		wbuf_reset(&rep.body);
		rep.status = 500;
		rep.content_type = "application/json";
		rep.nheaders = 0;
		http_printf(&rep, "{\"error\":\"%s\"}\n", err_str(rv));
	}
	send_reply(req, &rep);
	wbuf_free(&rep.body);
	return 0;
}

static void on_conn_closed(uv_handle_t *handle)
{
	struct http_conn *c = (struct http_conn *)handle;
	struct node_http *h = c->http;

	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ASSERT(h->nconns > 0);
	h->nconns--;
	free(c);
}

static void on_accept(uv_stream_t *listener, int status)
{
	struct node_http *h = listener->data;
	struct http_conn *c;
	h2o_socket_t *sock;

	if (status != 0 || h->stopping)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	uv_tcp_init(h->loop, &c->tcp);
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
		return;
	}
	c->http = h;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->nconns++;
	sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
	h2o_accept(&h->accept_ctx, sock);
}

static void format_bound(struct node_http *h)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		uv_ip6_name(a, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
		snprintf(h->bound_addr, sizeof(h->bound_addr), "[%s]:%d", ip, port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		uv_ip4_name(a, ip, sizeof(ip));
		port = ntohs(a->sin_port);
		snprintf(h->bound_addr, sizeof(h->bound_addr), "%s:%d", ip, port);
	}
}

static int listen_on(struct node_http *h, const char *addr)
{
	struct sockaddr_storage ss;
	int rv;

	if (node_parse_addr(addr, &ss) != 0)
		return UV_EINVAL;
	uv_tcp_init(h->loop, &h->listener);
	h->listener.data = h;
	rv = uv_tcp_bind(&h->listener, (struct sockaddr *)&ss, 0);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&h->listener, 128, on_accept);
	if (rv != 0) {
		uv_close((uv_handle_t *)&h->listener, NULL);
		return rv;
	}
	format_bound(h);
	return 0;
}

int node_http_start(struct node_http *h, uv_loop_t *loop, const char *addr,
		    const struct http_route *routes, void *handler_ctx)
{
	h2o_hostconf_t *host;
	h2o_pathconf_t *path;
	struct route_handler *rh;
	int rv;

	memset(h, 0, sizeof(*h));
	h->loop = loop;
	h->routes = routes;
	h->handler_ctx = handler_ctx;
	rv = listen_on(h, addr);
	if (rv)
		return rv;
	h2o_config_init(&h->config);
	h->config.http1.req_timeout = HTTP_KEEPALIVE_MS;
	/* h2o answers 413 itself past this. */
	h->config.max_request_entity_size = HTTP_REQ_BODY_MAX;
	host = h2o_config_register_host(&h->config,
					h2o_iovec_init(H2O_STRLIT("default")),
					65535);
	path = h2o_config_register_path(host, "/", 0);
	rh = (struct route_handler *)h2o_create_handler(path, sizeof(*rh));
	rh->super.on_req = on_req;
	rh->http = h;
	h2o_context_init(&h->ctx, loop, &h->config);
	h->accept_ctx.ctx = &h->ctx;
	h->accept_ctx.hosts = h->config.hosts;
	uv_timer_init(loop, &h->stop_timer);
	h->stop_timer.data = h;
	return 0;
}

static void on_stop_timer_closed(uv_handle_t *handle)
{
	struct node_http *h = handle->data;

	h2o_context_dispose(&h->ctx);
	h2o_config_dispose(&h->config);
	if (h->on_stopped)
		h->on_stopped(h);
}

static void on_stop_tick(uv_timer_t *t)
{
	struct node_http *h = t->data;

	if (h->nconns == 0) {
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, on_stop_timer_closed);
		return;
	}
	if (uv_now(h->loop) - h->stop_started_ms < HTTP_STOP_GRACE_MS)
		return;
	/* Past the grace period: end every remaining connection's reads so
	 * h2o observes end-of-file and closes it through its own path. */
	for (struct http_conn *c = h->conns; c; c = c->next) {
		uv_os_fd_t fd;

		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			shutdown(fd, SHUT_RDWR);
	}
}

void node_http_stop(struct node_http *h, void (*on_stopped)(struct node_http *))
{
	ASSERT(!h->stopping);
	h->stopping = 1;
	h->on_stopped = on_stopped;
	h->stop_started_ms = uv_now(h->loop);
	uv_close((uv_handle_t *)&h->listener, NULL);
	/* Not h2o_context_request_shutdown: in h2o 2.2.5 it arms HTTP/2's
	 * graceful-shutdown timer, which h2o_context_dispose then asserts is
	 * unlinked. HTTP/1 connections are ended by on_stop_tick instead. */
	uv_timer_start(&h->stop_timer, on_stop_tick, 0, HTTP_STOP_POLL_MS);
}
