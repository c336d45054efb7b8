/*
 * api_int.h: what the API's resource files share: the route table entry
 * type, error formatting, request parsing helpers and the deferred
 * operation context.
 */
#ifndef CLUSTERD_NODE_API_API_INT_H
#define CLUSTERD_NODE_API_API_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "node/api/api.h"

/* A request as the resource handlers see it: authenticated, its path
 * split after the resource prefix. */
struct api_req {
	struct api *api;
	const struct http_request *http;
	const char *rest; /* the raw path after the route's prefix */
	size_t rest_len;
	int role; /* enum core_role of the caller (admin when unjoined) */
};

typedef int (*api_fn)(struct api_req *r, struct http_reply *rep);

/* Resource handlers (one file each). */
int api_kv_put(struct api_req *r, struct http_reply *rep);
int api_kv_get(struct api_req *r, struct http_reply *rep);
int api_kv_delete(struct api_req *r, struct http_reply *rep);
int api_kv_list(struct api_req *r, struct http_reply *rep);
int api_cluster_members(struct api_req *r, struct http_reply *rep);
int api_cluster_raft(struct api_req *r, struct http_reply *rep);
int api_cluster_transfer(struct api_req *r, struct http_reply *rep);
int api_join(struct api_req *r, struct http_reply *rep);
int api_leave(struct api_req *r, struct http_reply *rep);
int api_tokens_create(struct api_req *r, struct http_reply *rep);
int api_tokens_list(struct api_req *r, struct http_reply *rep);
int api_tokens_revoke(struct api_req *r, struct http_reply *rep);
int api_snapshot(struct api_req *r, struct http_reply *rep);
int api_instances_list(struct api_req *r, struct http_reply *rep);
int api_instances_create(struct api_req *r, struct http_reply *rep);
int api_instances_show(struct api_req *r, struct http_reply *rep);
int api_instances_action(struct api_req *r, struct http_reply *rep);
int api_instances_delete(struct api_req *r, struct http_reply *rep);
/* plugins.c */
int api_plugins_list(struct api_req *r, struct http_reply *rep);
int api_plugins_create(struct api_req *r, struct http_reply *rep);
int api_plugins_action(struct api_req *r, struct http_reply *rep);
int api_plugins_delete(struct api_req *r, struct http_reply *rep);
/* Player tracking (issue 12, lua helper): players.c. */
int api_players_list(struct api_req *r, struct http_reply *rep);
/* The event stream (events.c; webui helper). */
int api_events(struct api_req *r, struct http_reply *rep);

/* Writes {"error": msg} with status; returns 0 (so a handler may
 * `return api_error(...)`). A 503 gets Retry-After. */
int api_error(struct http_reply *rep, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The answer for a core status that is not 0: 503 (+ Retry-After) for no
 * leader, timeout, back-pressure, shutdown; 400 for ERR_INVAL; 500
 * otherwise. what names the operation ("write", "read", ...). */
int api_core_error(struct http_reply *rep, int status, const char *what);
/* For a write's outcome: 0 when it was applied (status and result 0);
 * else writes the answer (the core's status as above; a domain result:
 * ERR_NOTFOUND 404 "no such <thing>", ERR_EXISTS and ERR_CONFLICT 409,
 * ERR_MALFORMED/ERR_INVAL 400, ERR_TOOBIG 413, others 500) and returns 1.
 * Callers with a richer answer for a result check it first. */
int api_write_failed(struct http_reply *rep,
		     const struct core_write_result *res, const char *what,
		     const char *thing);
/* Writes a cJSON object as the body with status; frees it. */
int api_json(struct http_reply *rep, int status, cJSON *j);

/* Looks a query parameter up and percent-decodes it into buf (NUL-
 * terminated; *len its length). 0, ERR_NOTFOUND, or ERR_MALFORMED (bad
 * escape, too long). */
int api_query(const struct http_request *req, const char *name, char *buf,
	      size_t size, size_t *len);
/* Percent-decodes src into dst (at most dst_size bytes). ERR_MALFORMED
 * for a bad escape, ERR_TOOBIG if it does not fit. */
int api_pct_decode(const char *src, size_t n, uint8_t *dst, size_t dst_size,
		   size_t *out_len);
/* Parses a decimal u64 (no sign, no spaces). */
int api_parse_u64(const char *s, size_t n, uint64_t *out);
/* The 409 of a write whose Idempotency-Key is too old (ERR_EXPIRED);
 * arguments: what, the window. */
#define API_EXPIRED_TEXT                                                    \
	"%s: this attempt was not applied: its Idempotency-Key sequence "  \
	"number is older than the last %d the cluster remembers for this " \
	"client, so the first attempt's outcome is no longer known"
/* Reads the optional `Idempotency-Key: CLIENT:SEQ` header into cmd->idem
 * (CLIENT: 1..64 bytes of [A-Za-z0-9_.-]; SEQ: a positive integer). 0
 * when absent or valid; 1 with a 400 written otherwise. */
int api_idem_parse(struct api_req *r, struct http_reply *rep,
		   struct core_cmd *cmd);
/* Parses a JSON request body (bounded by API_JSON_BODY_MAX). NULL with
 * the answer already in rep (400 or 413). An empty body gives {}. */
cJSON *api_body_json(const struct http_request *req, struct http_reply *rep);
/* A string field of a JSON object, or NULL. */
const char *api_json_str(const cJSON *o, const char *key);

/* A deferred answer: the common part of every operation that waits. */
struct api_op {
	struct api *api;
	struct http_async *async;
};

/* Defers the request: allocates an op of `size` bytes (starting with a
 * struct api_op) tied to an async answer. NULL (500 written) on failure. */
void *api_op_new(struct api_req *r, struct http_reply *rep, size_t size);
/* The reply to fill, or NULL when the client went away. */
struct http_reply *api_op_reply(struct api_op *op);
/* Sends (or drops) the answer and frees the op. */
void api_op_finish(struct api_op *op);
/* For a core call that returned an error (the callback will not run):
 * answers it and frees the op. Returns HTTP_PENDING for the handler. */
int api_op_fail(struct api_op *op, int status, const char *what);

/* Join, leave and transfer share one answer: 200 {"ok": true}, or the
 * failure mapped to 403/404/409/400/503 with the core's message.
 * api_done_op defers like api_op_new and returns an op whose callback is
 * api_done_cb (what: static text naming the operation). */
void api_done_reply(struct http_reply *rep, int status, const char *msg,
		    const char *what);
void *api_done_op(struct api_req *r, struct http_reply *rep,
		  const char *what);
void api_done_cb(void *arg, int status, const char *msg);

/* Deadline for core calls made now. */
uint64_t api_deadline(const struct api *a);

/* Formats a raft id as 16 hex digits into buf[17]. */
void api_hex_id(uint64_t id, char *buf);

#endif
