/*
 * api.c: routing and authentication of the HTTP API, and the helpers its
 * resource files share (errors, query and body parsing, deferred
 * operations). See api.h for the design.
 */
#include "node/api/api_int.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/metrics.h"

struct api_route {
	const char *method;
	const char *path; /* a prefix when it ends in '/' */
	api_fn fn;
	int unjoined; /* served on an unjoined node (loopback, no token) */
	/* The permission a caller needs: "<resource>.<verb>" (docs/api.md
	 * lists them). A verb "read" is granted to read-only tokens too;
	 * every other verb to admin tokens only. NULL: admin only. */
	const char *perm;
};

/* Paths are matched on the raw path (not decoded, not normalised), so a
 * key may hold "..", "%2F" or anything else without being rewritten. */
static const struct api_route routes[] = {
	{"GET", "/api/v1/kv/", api_kv_get, 0, "kv.read"},
	{"PUT", "/api/v1/kv/", api_kv_put, 0, "kv.write"},
	{"DELETE", "/api/v1/kv/", api_kv_delete, 0, "kv.write"},
	{"GET", "/api/v1/cluster/members", api_cluster_members, 0, "cluster.read"},
	{"GET", "/api/v1/cluster/raft", api_cluster_raft, 0, "cluster.read"},
	{"POST", "/api/v1/cluster/transfer-leader", api_cluster_transfer, 0, "cluster.admin"},
	{"POST", "/api/v1/cluster/join", api_join, 1, "cluster.admin"},
	{"POST", "/api/v1/cluster/leave", api_leave, 0, "cluster.admin"},
	{"POST", "/api/v1/tokens", api_tokens_create, 0, "token.write"},
	{"GET", "/api/v1/tokens", api_tokens_list, 0, "token.read"},
	{"DELETE", "/api/v1/tokens/", api_tokens_revoke, 0, "token.write"},
	{"GET", "/api/v1/snapshot", api_snapshot, 0, "cluster.admin"},
	{"GET", "/api/v1/instances", api_instances_list, 0, "instance.read"},
	{"POST", "/api/v1/instances", api_instances_create, 0, "instance.write"},
	{"GET", "/api/v1/instances/", api_instances_show, 0, "instance.read"},
	{"POST", "/api/v1/instances/", api_instances_action, 0, "instance.write"},
	{"DELETE", "/api/v1/instances/", api_instances_delete, 0, "instance.write"},
	{"GET", "/api/v1/plugins", api_plugins_list, 0, "plugin.read"},
	{"POST", "/api/v1/plugins", api_plugins_create, 0, "plugin.write"},
	{"POST", "/api/v1/plugins/", api_plugins_action, 0, "plugin.write"},
	{"DELETE", "/api/v1/plugins/", api_plugins_delete, 0, "plugin.write"},
	{"GET", "/api/v1/players", api_players_list, 0, "instance.read"},
	{"GET", "/api/v1/events", api_events, 0, "events.read"},
	{NULL, NULL, NULL, 0, NULL},
};

void api_init(struct api *a, const struct core *core)
{
	ASSERT(core != NULL && core->ops != NULL);
	memset(a, 0, sizeof(*a));
	a->core = *core;
	a->deadline_ms = API_DEADLINE_MS;
}

uint64_t api_deadline(const struct api *a)
{
	return a->core.ops->now_ms(a->core.ctx) + a->deadline_ms;
}

void api_hex_id(uint64_t id, char *buf)
{
	snprintf(buf, 17, "%016" PRIx64, id);
}

int api_json(struct http_reply *rep, int status, cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	int rc;

	cJSON_Delete(j);
	if (s == NULL)
		return ERR_NOMEM;
	rep->status = status;
	rep->content_type = "application/json";
	wbuf_reset(&rep->body);
	rc = http_printf(rep, "%s\n", s);
	free(s);
	return rc;
}

int api_error(struct http_reply *rep, int status, const char *fmt, ...)
{
	char msg[512];
	cJSON *j = cJSON_CreateObject();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (j == NULL || cJSON_AddStringToObject(j, "error", msg) == NULL) {
		cJSON_Delete(j);
		return ERR_NOMEM;
	}
	rep->nheaders = 0;
	if (status == 503)
		http_reply_header(rep, "Retry-After", "%d", API_RETRY_AFTER_S);
	return api_json(rep, status, j);
}

int api_core_error(struct http_reply *rep, int status, const char *what)
{
	switch (status) {
	case ERR_NOTLEADER:
		return api_error(rep, 503, "%s: no leader, try again", what);
	case ERR_TIMEOUT:
		return api_error(rep, 503,
				 "%s: timed out waiting for the cluster (a "
				 "write may or may not have been applied)",
				 what);
	case ERR_AGAIN:
		return api_error(rep, 503, "%s: the node is busy, try again",
				 what);
	case ERR_SHUTDOWN:
		return api_error(rep, 503, "%s: the node is shutting down",
				 what);
	case ERR_INVAL:
	case ERR_MALFORMED:
		return api_error(rep, 400, "%s: invalid request", what);
	case ERR_TOOBIG:
		return api_error(rep, 413, "%s: too large", what);
	default:
		return api_error(rep, 500, "%s: %s", what, err_str(status));
	}
}

int api_write_failed(struct http_reply *rep,
		     const struct core_write_result *res, const char *what,
		     const char *thing)
{
	if (res->status != 0) {
		api_core_error(rep, res->status, what);
		return 1;
	}
	switch (res->result) {
	case 0:
		return 0;
	case ERR_NOTFOUND:
		api_error(rep, 404, "no such %s", thing);
		break;
	case ERR_EXISTS:
	case ERR_CONFLICT:
		api_error(rep, 409, "%s: %s", what, err_str(res->result));
		break;
	case ERR_MALFORMED:
	case ERR_INVAL:
		api_error(rep, 400, "%s: the state machine refused the command",
			  what);
		break;
	case ERR_EXPIRED:
		api_error(rep, 409, API_EXPIRED_TEXT, what, CORE_IDEM_WINDOW);
		break;
	case ERR_TOOBIG:
		api_error(rep, 413, "%s: too large", what);
		break;
	default:
		api_error(rep, 500, "%s: %s", what, err_str(res->result));
		break;
	}
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int api_pct_decode(const char *src, size_t n, uint8_t *dst, size_t dst_size,
		   size_t *out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)src[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return ERR_MALFORMED;
			h = hexval(src[i + 1]);
			l = hexval(src[i + 2]);
			if (h < 0 || l < 0)
				return ERR_MALFORMED;
			c = h * 16 + l;
			i += 2;
		}
		if (o == dst_size)
			return ERR_TOOBIG;
		dst[o++] = (uint8_t)c;
	}
	*out_len = o;
	return 0;
}

int api_query(const struct http_request *req, const char *name, char *buf,
	      size_t size, size_t *len)
{
	size_t nl = strlen(name), i = 0;

	ASSERT(size > 0);
	while (req->query != NULL && i < req->query_len) {
		const char *p = req->query + i, *amp, *eq;
		size_t seg;

		amp = memchr(p, '&', req->query_len - i);
		seg = amp ? (size_t)(amp - p) : req->query_len - i;
		i += seg + 1;
		eq = memchr(p, '=', seg);
		if ((eq ? (size_t)(eq - p) : seg) != nl ||
		    memcmp(p, name, nl) != 0)
			continue;
		if (eq == NULL) {
			buf[0] = '\0';
			*len = 0;
			return 0;
		}
		if (api_pct_decode(eq + 1, seg - nl - 1, (uint8_t *)buf,
				   size - 1, len) != 0)
			return ERR_MALFORMED;
		buf[*len] = '\0';
		return 0;
	}
	return ERR_NOTFOUND;
}

int api_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return ERR_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		uint64_t d;

		if (s[i] < '0' || s[i] > '9')
			return ERR_MALFORMED;
		d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ERR_MALFORMED;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

cJSON *api_body_json(const struct http_request *req, struct http_reply *rep)
{
	cJSON *j;

	if (req->body_len > API_JSON_BODY_MAX) {
		api_error(rep, 413, "request body over %d bytes",
			  API_JSON_BODY_MAX);
		return NULL;
	}
	if (req->body_len == 0)
		j = cJSON_CreateObject();
	else
		j = cJSON_ParseWithLength((const char *)req->body,
					  req->body_len);
	if (j == NULL || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		api_error(rep, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

const char *api_json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void *api_op_new(struct api_req *r, struct http_reply *rep, size_t size)
{
	struct api_op *op;

	ASSERT(size >= sizeof(*op));
	op = calloc(1, size);
	if (op == NULL) {
		api_error(rep, 500, "out of memory");
		return NULL;
	}
	op->api = r->api;
	op->async = http_defer(r->http);
	if (op->async == NULL) {
		free(op);
		api_error(rep, 500, "out of memory");
		return NULL;
	}
	r->api->stats.deferred++;
	return op;
}

struct http_reply *api_op_reply(struct api_op *op)
{
	return http_async_closed(op->async) ? NULL
					    : http_async_reply(op->async);
}

void api_op_finish(struct api_op *op)
{
	struct http_reply *rep = http_async_reply(op->async);

	if (rep->status == 503)
		op->api->stats.unavailable++;
	http_async_finish(op->async);
	free(op);
}

int api_op_fail(struct api_op *op, int status, const char *what)
{
	struct http_reply *rep = api_op_reply(op);

	if (rep != NULL)
		api_core_error(rep, status, what);
	api_op_finish(op);
	return HTTP_PENDING;
}

/* Checks "Authorization: Bearer ID.SECRET" against the token records.
 * 0 with *role, or the answer (401; 503 for a token unknown while the
 * node catches up) already written and 1 returned. */
static int authenticate(struct api *a, const struct http_request *req,
			struct http_reply *rep, int *role)
{
	static const char scheme[] = "bearer ";
	char id[CORE_TOKEN_ID_LEN + 1];
	uint8_t hash[CORE_HASH_LEN];
	struct core_token t;
	size_t n = 0;
	const char *h = http_req_header(req, "authorization", &n);
	int rc;

	if (h == NULL) {
		api_error(rep, 401, "missing 'Authorization: Bearer TOKEN'");
		return 1;
	}
	if (n < sizeof(scheme) - 1 ||
	    strncasecmp(h, scheme, sizeof(scheme) - 1) != 0 ||
	    core_token_parse(h + sizeof(scheme) - 1, n - (sizeof(scheme) - 1),
			     id, hash) != 0) {
		api_error(rep, 401, "malformed bearer token");
		return 1;
	}
	rc = a->core.ops->token_get(a->core.ctx, id, &t);
	if (rc != 0 && rc != ERR_NOTFOUND)
		return api_core_error(rep, rc, "token check"), 1;
	if (rc == ERR_NOTFOUND && a->core.ops->caught_up &&
	    !a->core.ops->caught_up(a->core.ctx)) {
		/* The token's record may be in entries not applied here yet
		 * (a node that just started or joined): not a refusal. */
		api_error(rep, 503, "this node is catching up with the "
				    "cluster and does not know this token yet; "
				    "try again");
		return 1;
	}
	if (rc != 0 || t.kind != CORE_TOKEN_API ||
	    !core_token_ok(&t, hash, a->core.ops->wall_ms(a->core.ctx))) {
		api_error(rep, 401, "invalid, revoked or expired token");
		return 1;
	}
	*role = t.role;
	return 0;
}

/* Whether a token of role may use a route needing perm (see struct
 * api_route). */
static int perm_allowed(int role, const char *perm)
{
	size_t n;

	if (role == CORE_ROLE_ADMIN)
		return 1;
	if (perm == NULL)
		return 0;
	n = strlen(perm);
	return n > 5 && strcmp(perm + n - 5, ".read") == 0;
}

static int path_is(const char *p, size_t pl, const char *route)
{
	size_t n = strlen(route);

	if (route[n - 1] == '/')
		return pl >= n && memcmp(p, route, n) == 0;
	return pl == n && memcmp(p, route, n) == 0;
}

/* The route for method and path: *path_known tells 404 from 405. */
static const struct api_route *find_route(const struct http_request *req,
					  int *path_known)
{
	const char *p = req->raw_path ? req->raw_path : req->path;
	size_t pl = req->raw_path ? req->raw_path_len : req->path_len;

	*path_known = 0;
	for (const struct api_route *rt = routes; rt->fn; rt++) {
		if (!path_is(p, pl, rt->path))
			continue;
		*path_known = 1;
		if (strlen(rt->method) == req->method_len &&
		    memcmp(rt->method, req->method, req->method_len) == 0)
			return rt;
	}
	return NULL;
}

int api_handle(struct api *a, const struct http_request *req,
	       struct http_reply *rep)
{
	const struct api_route *rt;
	struct api_req r;
	int known, role = CORE_ROLE_ADMIN, rc;

	a->stats.requests++;
	rt = find_route(req, &known);
	if (rt == NULL)
		return known ? api_error(rep, 405, "method not allowed")
			     : api_error(rep, 404, "no such endpoint");
	if (!a->core.ops->joined(a->core.ctx)) {
		if (!rt->unjoined) {
			a->stats.unavailable++;
			return api_error(rep, 503,
					 "this node has not joined a cluster "
					 "(only join is served)");
		}
		if (!req->peer_loopback)
			return api_error(rep, 403,
					 "an unjoined node accepts join only "
					 "from loopback");
	} else if (rt->unjoined) {
		/* Join on a member: say so, token or not (/api/v1/status
		 * tells as much to anyone). */
		return api_error(rep, 409, "this node is already a member of "
					   "a cluster");
	} else if (authenticate(a, req, rep, &role) != 0) {
		if (rep->status == 401)
			a->stats.unauthorized++;
		else if (rep->status == 503)
			a->stats.unavailable++;
		return 0;
	}
	if (!perm_allowed(role, rt->perm)) {
		a->stats.forbidden++;
		return api_error(rep, 403, "this token lacks the permission "
					   "'%s'", rt->perm ? rt->perm : "admin");
	}
	memset(&r, 0, sizeof(r));
	r.api = a;
	r.http = req;
	r.rest = (req->raw_path ? req->raw_path : req->path) + strlen(rt->path);
	r.rest_len = (req->raw_path ? req->raw_path_len : req->path_len) -
		     strlen(rt->path);
	r.role = role;
	rc = rt->fn(&r, rep);
	if (rc == 0 && rep->status == 503)
		a->stats.unavailable++;
	return rc;
}

int api_metrics(const struct api *a, struct http_reply *rep)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} m[] = {
		{"clusterd_api_requests_total", "API requests served.",
		 offsetof(struct api_stats, requests)},
		{"clusterd_api_unauthorized_total",
		 "API requests refused with 401.",
		 offsetof(struct api_stats, unauthorized)},
		{"clusterd_api_forbidden_total",
		 "API requests refused with 403 (a permission missing).",
		 offsetof(struct api_stats, forbidden)},
		{"clusterd_api_deferred_total",
		 "API answers that waited for the cluster.",
		 offsetof(struct api_stats, deferred)},
		{"clusterd_api_unavailable_total",
		 "API answers 503 (no leader, timeout, busy).",
		 offsetof(struct api_stats, unavailable)},
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(m) / sizeof(m[0]); i++) {
		uint64_t v;

		memcpy(&v, (const char *)&a->stats + m[i].off, sizeof(v));
		rc = metrics_family(rep, m[i].name, "counter", m[i].help);
		if (rc == 0)
			rc = http_printf(rep, "%s %llu\n", m[i].name,
					 (unsigned long long)v);
	}
	return rc;
}
