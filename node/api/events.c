/*
 * events.c: GET /api/v1/events[?logs=1], the node's event bus
 * (node/events.h) as Server-Sent Events. The handler opens a bus client
 * and hands the answer to the HTTP server as a stream whose pull is the
 * client's; the bus wakes the stream when an idle client has something.
 * Last-Event-ID (the header EventSource sends when it reconnects, or the
 * query parameter last_id) resumes without a gap when this node still
 * holds the events after it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"
#include "node/events.h"

struct ev_stream {
	struct ev_client *client;
	struct http_stream *st; /* NULL until started (and in tests) */
};

static int es_pull(void *arg, const uint8_t **p, size_t *len, int *done)
{
	struct ev_stream *es = arg;

	return ev_client_pull(es->client, p, len, done);
}

static void es_close(void *arg)
{
	struct ev_stream *es = arg;

	ev_client_close(es->client);
	free(es);
}

static void es_started(void *arg, struct http_stream *st)
{
	struct ev_stream *es = arg;

	es->st = st;
}

static void es_wake(void *arg)
{
	struct ev_stream *es = arg;

	if (es->st != NULL)
		http_stream_wake(es->st);
}

/* The Last-Event-ID header, else ?last_id=, into buf ("" when neither). */
static void last_id(const struct http_request *req, char *buf, size_t size)
{
	size_t n = 0;
	const char *h = http_req_header(req, "last-event-id", &n);

	buf[0] = '\0';
	if (h != NULL && n < size) {
		memcpy(buf, h, n);
		buf[n] = '\0';
		return;
	}
	if (api_query(req, "last_id", buf, size, &n) != 0)
		buf[0] = '\0';
}

int api_events(struct api_req *r, struct http_reply *rep)
{
	struct http_stream_src src = {es_pull, es_close, NULL};
	struct ev_stream *es;
	struct http_async *a;
	char v[8], lid[64];
	size_t vl;
	unsigned flags = 0;
	int rc;

	if (r->api->events == NULL)
		return api_error(rep, 503, "this node serves no event stream");
	rc = api_query(r->http, "logs", v, sizeof(v), &vl);
	if (rc == ERR_MALFORMED ||
	    (rc == 0 && strcmp(v, "0") != 0 && strcmp(v, "1") != 0))
		return api_error(rep, 400, "logs must be 0 or 1");
	if (rc == 0 && strcmp(v, "1") == 0)
		flags |= EV_F_LOG;
	last_id(r->http, lid, sizeof(lid));
	es = calloc(1, sizeof(*es));
	if (es == NULL)
		return ERR_NOMEM;
	rc = ev_client_open(r->api->events, flags, lid[0] ? lid : NULL,
			    es_wake, es, &es->client);
	if (rc != 0) {
		free(es);
		if (rc == ERR_BUSY)
			return api_error(rep, 503, "too many event stream "
						   "clients on this node");
		if (rc == ERR_SHUTDOWN)
			return api_error(rep, 503, "the node is stopping");
		return rc;
	}
	a = http_defer(r->http);
	if (a == NULL) {
		es_close(es);
		return ERR_NOMEM;
	}
	src.arg = es;
	rep = http_async_reply(a);
	rep->status = 200;
	rep->content_type = "text/event-stream; charset=utf-8";
	http_reply_header(rep, "Cache-Control", "no-cache");
	http_reply_header(rep, "X-Accel-Buffering", "no");
	/* The stream owns es from here: es_close frees it. */
	http_async_stream_wakeable(a, &src, es_started);
	return HTTP_PENDING;
}
