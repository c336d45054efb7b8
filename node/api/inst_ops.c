/*
 * inst_ops.c: instance operations of issue 12's "ops" part:
 *   GET  /api/v1/instances/NAME/log[?lines=N][&follow=1]   (log.read)
 *        the newest N lines (default 200, at most 2000) as text/plain,
 *        one per line; with follow=1 the answer does not end: the lines
 *        come as the server prints them (chunked transfer encoding), until
 *        the client goes away or the instance leaves the node. On a node
 *        that does not run the instance, the request is proxied from the
 *        one that does, as a stream too.
 *   POST /api/v1/instances/start-all | stop-all             (instance.write)
 *        desired running for every assigned instance not excluded from
 *        start-all / desired stopped for every instance; -> {"changed":
 *        [names], "skipped": [names]}.
 * A follow's output is buffered up to FOLLOW_BUF_MAX bytes while the
 * client reads slowly; beyond that lines are dropped and a line
 * "[clusterd: N lines dropped]" says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "node/api/api_int.h"

#define LOG_LINES_DEFAULT 200
#define LOG_LINES_MAX 2000
#define FOLLOW_BUF_MAX (1u << 20)
#define LOG_AUTH_MAX 256

struct follow {
	struct api_op op; /* first; op.async is gone once streaming */
	char name[CORE_INST_NAME_MAX + 1];
	char path[300];
	char auth[LOG_AUTH_MAX];
	uint64_t id;
	size_t lines;
	int want_follow, forwarded;
	void *sub;  /* local follow */
	void *up;   /* upstream stream (proxy) */
	struct http_stream *st;
	struct wbuf pend, sent;
	uint64_t dropped;
	int ended;
};

static void follow_free(struct follow *f)
{
	const struct core *c = &f->op.api->core;

	if (f->sub != NULL)
		c->ops->inst_log_unfollow(c->ctx, f->sub);
	if (f->up != NULL)
		c->ops->http_stream_cancel(c->ctx, f->up);
	wbuf_free(&f->pend);
	wbuf_free(&f->sent);
	memset(f->auth, 0, sizeof(f->auth));
	free(f);
}

static void wake(struct follow *f)
{
	if (f->st != NULL)
		http_stream_wake(f->st);
}

static void push(struct follow *f, const char *p, size_t n)
{
	if (f->pend.len + n > FOLLOW_BUF_MAX) {
		f->dropped++;
		return;
	}
	if (f->dropped > 0) {
		(void)wbuf_printf(&f->pend, "[clusterd: %llu lines dropped]\n",
				  (unsigned long long)f->dropped);
		f->dropped = 0;
	}
	(void)wbuf_put(&f->pend, p, n);
}

static void on_line(void *arg, const char *line, size_t len)
{
	struct follow *f = arg;

	if (line == NULL) {
		f->ended = 1; /* the instance left this node */
	} else {
		push(f, line, len);
		push(f, "\n", 1);
	}
	wake(f);
}

static void on_up_data(void *arg, const char *p, size_t n)
{
	struct follow *f = arg;

	push(f, p, n);
	wake(f);
}

static void on_up_end(void *arg, int status, int code)
{
	struct follow *f = arg;

	f->up = NULL; /* ended: nothing to cancel */
	static const char msg[] = "[clusterd: the node running the instance "
				  "ended the follow]\n";

	if (status != 0 || code != 200)
		push(f, msg, sizeof(msg) - 1);
	f->ended = 1;
	wake(f);
}

static int f_pull(void *arg, const uint8_t **p, size_t *len, int *done)
{
	struct follow *f = arg;
	struct wbuf t;

	wbuf_reset(&f->sent);
	if (f->pend.len == 0) {
		/* Nothing yet: the stream idles until wake (or this is the end). */
		*p = (const uint8_t *)"";
		*len = 0;
		*done = f->ended;
		return 0;
	}
	t = f->sent;
	f->sent = f->pend;
	f->pend = t;
	*p = f->sent.p;
	*len = f->sent.len;
	*done = 0;
	return 0;
}

static void f_close(void *arg)
{
	follow_free(arg);
}

static void f_started(void *arg, struct http_stream *st)
{
	((struct follow *)arg)->st = st;
}

/* Turns the deferred answer into the live stream; f lives until close
 * (which may run at once, if the client went away: f is gone then). */
static void start_stream(struct follow *f, const char *first, size_t n)
{
	struct http_async *a = f->op.async;
	struct http_reply *rep = http_async_reply(a);
	struct http_stream_src src = {f_pull, f_close, f};

	if (first != NULL)
		push(f, first, n);
	rep->status = 200;
	rep->content_type = "text/plain; charset=utf-8";
	f->op.async = NULL;
	http_async_stream_wakeable(a, &src, f_started);
}

static void finish_err(struct follow *f, int status, const char *msg)
{
	struct http_reply *rep = api_op_reply(&f->op);

	if (rep != NULL)
		api_error(rep, status, "%s", msg);
	http_async_finish(f->op.async);
	f->op.async = NULL;
	follow_free(f);
}

static void local(struct follow *f)
{
	const struct core *c = &f->op.api->core;
	struct http_reply *rep = api_op_reply(&f->op);
	char *text = NULL;
	size_t n = 0;
	int rc;

	rc = c->ops->inst_log_tail(c->ctx, f->id, f->lines, &text, &n);
	if (rc != 0 || rep == NULL) {
		finish_err(f, rc == ERR_NOTFOUND ? 404 : 500,
			   rc == ERR_NOTFOUND ? "this node keeps no log of "
						"the instance (not started "
						"here yet)"
					      : "log read failed");
		free(text);
		return;
	}
	if (!f->want_follow) {
		rep->status = 200;
		rep->content_type = "text/plain; charset=utf-8";
		wbuf_reset(&rep->body);
		if (wbuf_put(&rep->body, text, n) != 0)
			api_error(rep, 500, "out of memory");
		free(text);
		http_async_finish(f->op.async);
		f->op.async = NULL;
		follow_free(f);
		return;
	}
	rc = c->ops->inst_log_follow(c->ctx, f->id, on_line, f, &f->sub);
	if (rc != 0) {
		free(text);
		finish_err(f, rc == ERR_AGAIN ? 503 : 404,
			   rc == ERR_AGAIN ? "too many follows of this "
					     "instance; try later"
					   : "the instance is not on this node");
		return;
	}
	start_stream(f, text, n);
	free(text);
}

static void on_fwd(void *arg, int status, int code, const char *body,
		   size_t len)
{
	struct follow *f = arg;
	struct http_reply *rep = api_op_reply(&f->op);

	if (rep != NULL && status == 0 && code >= 100) {
		rep->status = code;
		rep->content_type = code == 200 ? "text/plain; charset=utf-8"
						: "application/json";
		wbuf_reset(&rep->body);
		(void)wbuf_put(&rep->body, body, len);
	} else if (rep != NULL) {
		api_error(rep, 503, "the node running %s did not answer (%s)",
			  f->name, err_str(status != 0 ? status : ERR_IO));
	}
	http_async_finish(f->op.async);
	f->op.async = NULL;
	follow_free(f);
}

static void remote(struct follow *f, const struct core_instance *in)
{
	const struct core *c = &f->op.api->core;
	struct core_member mb;
	int rc;

	if (f->forwarded || api_inst_member_find(c, in->node, NULL, &mb) != 0 ||
	    mb.http[0] == '\0' || strcmp(mb.state, "dead") == 0 ||
	    strcmp(mb.state, "left") == 0) {
		finish_err(f, 503, "the node running the instance is "
				   "unreachable");
		return;
	}
	if (!f->want_follow) {
		rc = c->ops->http_forward(c->ctx, mb.http, "GET", f->path,
					  f->auth, NULL, 0,
					  api_deadline(f->op.api), on_fwd, f);
	} else {
		rc = c->ops->http_stream_open(c->ctx, mb.http, f->path, f->auth,
					      on_up_data, on_up_end, f, &f->up);
		if (rc == 0)
			start_stream(f, NULL, 0);
	}
	if (rc != 0)
		finish_err(f, 503, "cannot reach the node running the instance");
}

static void on_log_barrier(void *arg, int status)
{
	struct follow *f = arg;
	const struct core *c = &f->op.api->core;
	struct core_instance in;

	if (status != 0) {
		finish_err(f, 503, "no leader, try again");
		return;
	}
	if (c->ops->inst_get(c->ctx, f->name, &in) != 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "no such instance: %s", f->name);
		finish_err(f, 404, msg);
		return;
	}
	f->id = in.id;
	if (in.node == 0)
		finish_err(f, 409, "the instance is not assigned to a node");
	else if (in.node != api_inst_self_id(c))
		remote(f, &in);
	else
		local(f);
	memset(&in, 0, sizeof(in));
}

/* lines= and follow= of the query; 1 with a 400 written. */
static int log_params(struct api_req *r, struct http_reply *rep,
		      struct follow *t)
{
	char v[16];
	size_t n;
	uint64_t lines = LOG_LINES_DEFAULT;

	if (api_query(r->http, "lines", v, sizeof(v), &n) == 0 &&
	    (api_parse_u64(v, n, &lines) != 0 || lines == 0 ||
	     lines > LOG_LINES_MAX))
		return api_error(rep, 400, "lines must be 1..%d",
				 LOG_LINES_MAX), 1;
	t->lines = (size_t)lines;
	t->want_follow = api_query(r->http, "follow", v, sizeof(v), &n) == 0 &&
			 strcmp(v, "0") != 0;
	return 0;
}

int api_instances_log(struct api_req *r, struct http_reply *rep)
{
	const char *slash = memchr(r->rest, '/', r->rest_len);
	size_t nl = slash ? (size_t)(slash - r->rest) : 0, hl = 0;
	const char *h;
	struct follow t, *f;
	int rc;

	memset(&t, 0, sizeof(t));
	if (nl == 0 || nl > CORE_INST_NAME_MAX)
		return api_error(rep, 404, "no such instance");
	memcpy(t.name, r->rest, nl);
	if (log_params(r, rep, &t) != 0)
		return 0;
	if (r->http->raw_path_len + r->http->query_len + 2 > sizeof(t.path))
		return api_error(rep, 414, "path too long");
	snprintf(t.path, sizeof(t.path), "%.*s%s%.*s",
		 (int)r->http->raw_path_len, r->http->raw_path,
		 r->http->query ? "?" : "", (int)r->http->query_len,
		 r->http->query ? r->http->query : "");
	h = http_req_header(r->http, "authorization", &hl);
	if (h != NULL && hl < sizeof(t.auth))
		memcpy(t.auth, h, hl);
	t.forwarded = http_req_header(r->http, CORE_FORWARDED_HEADER, &hl) !=
		      NULL;
	f = api_op_new(r, rep, sizeof(*f));
	if (f == NULL)
		return 0;
	t.op = f->op;
	*f = t;
	memset(&t, 0, sizeof(t));
	wbuf_init(&f->pend, FOLLOW_BUF_MAX + 4096);
	wbuf_init(&f->sent, FOLLOW_BUF_MAX + 4096);
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 1,
					    api_deadline(r->api),
					    on_log_barrier, f);
	if (rc != 0)
		finish_err(f, 503, "the node is busy, try again");
	return HTTP_PENDING;
}

/* ---- start-all / stop-all ---- */

struct all_op {
	struct api_op op;
	int start;
	struct core_instance *v;
	size_t n, next;
	cJSON *changed, *skipped;
	int failed;
};

static void all_next(struct all_op *o);

static void all_done(struct all_op *o)
{
	struct http_reply *rep = api_op_reply(&o->op);
	cJSON *j;

	if (rep != NULL && !o->failed) {
		j = cJSON_CreateObject();
		cJSON_AddItemToObject(j, "changed", o->changed);
		cJSON_AddItemToObject(j, "skipped", o->skipped);
		o->changed = o->skipped = NULL;
		api_json(rep, 200, j);
	}
	cJSON_Delete(o->changed);
	cJSON_Delete(o->skipped);
	if (o->v != NULL)
		memset(o->v, 0, o->n * sizeof(*o->v));
	free(o->v);
	api_op_finish(&o->op);
}

static void on_all_written(void *arg, const struct core_write_result *res)
{
	struct all_op *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);

	if (rep == NULL || api_write_failed(rep, res, "instance", "instance")) {
		o->failed = 1;
		all_done(o);
		return;
	}
	cJSON_AddItemToArray(o->changed,
			     cJSON_CreateString(o->v[o->next - 1].name));
	all_next(o);
}

/* Proposes the next instance's change, one at a time (each is its own
 * entry: a failure midway leaves the earlier ones applied, and the answer
 * says which). */
static void all_next(struct all_op *o)
{
	const struct core *c = &o->op.api->core;
	int want = o->start ? CORE_INST_RUNNING : CORE_INST_STOPPED;
	struct core_cmd cmd;
	int rc;

	while (o->next < o->n) {
		const struct core_instance *in = &o->v[o->next++];

		if (in->desired == want)
			continue;
		if (o->start && (in->exclude_from_start_all || in->node == 0)) {
			cJSON_AddItemToArray(o->skipped,
					     cJSON_CreateString(in->name));
			continue;
		}
		memset(&cmd, 0, sizeof(cmd));
		cmd.type = CORE_CMD_INST_DESIRED;
		cmd.u.inst.id = in->id;
		cmd.u.inst.desired = (uint8_t)want;
		rc = c->ops->write(c->ctx, &cmd, api_deadline(o->op.api),
				   on_all_written, o);
		if (rc == 0)
			return;
		if (api_op_reply(&o->op) != NULL)
			api_core_error(api_op_reply(&o->op), rc, "instance");
		o->failed = 1;
		break;
	}
	all_done(o);
}

static void on_all_barrier(void *arg, int status)
{
	struct all_op *o = arg;
	const struct core *c = &o->op.api->core;
	int rc = status;

	if (rc == 0) {
		o->v = calloc(CORE_INST_MAX, sizeof(*o->v));
		rc = o->v ? c->ops->inst_list(c->ctx, o->v, CORE_INST_MAX, &o->n)
			  : ERR_NOMEM;
	}
	if (rc != 0) {
		if (api_op_reply(&o->op) != NULL)
			api_core_error(api_op_reply(&o->op), rc, "instance list");
		o->failed = 1;
		all_done(o);
		return;
	}
	all_next(o);
}

int api_instances_all(struct api_req *r, struct http_reply *rep)
{
	struct all_op *o = api_op_new(r, rep, sizeof(*o));
	int rc;

	if (o == NULL)
		return 0;
	o->start = r->http->raw_path_len > 18 &&
		   memcmp(r->http->raw_path + 18, "start", 5) == 0;
	o->changed = cJSON_CreateArray();
	o->skipped = cJSON_CreateArray();
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api),
					    on_all_barrier, o);
	if (rc != 0) {
		cJSON_Delete(o->changed);
		cJSON_Delete(o->skipped);
		return api_op_fail(&o->op, rc, "instance");
	}
	return HTTP_PENDING;
}
