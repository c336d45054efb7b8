/*
 * kv.c: the key/value resource (issue 10):
 *   PUT    /api/v1/kv/NS/KEY[?cas=R]   body = the raw value (<= 1 MiB)
 *   GET    /api/v1/kv/NS/KEY[?stale=1] raw value + X-Clusterd-Revision
 *   DELETE /api/v1/kv/NS/KEY[?cas=R]
 *   GET    /api/v1/kv/NS?prefix=P[&after=K][&limit=N][&stale=1]
 * PUT and DELETE take an optional `Idempotency-Key: CLIENT:SEQ` (see
 * api_idem_parse): a repeat is answered with the first attempt's status
 * and body, and never applied twice.
 * NS matches [A-Za-z0-9_.-]{1,64}; KEY is 1..512 bytes once
 * percent-decoded (it may contain '/'). Writes answer after commit and
 * apply; reads pass a read barrier first (ReadIndex unless stale=1).
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"

/* A parsed NS[/KEY]. */
struct kv_target {
	char ns[CORE_NS_MAX + 1];
	size_t ns_len;
	uint8_t key[CORE_KEY_MAX];
	size_t key_len;
	int has_key;
};

static int ns_ok(const char *ns, size_t n)
{
	if (n == 0 || n > CORE_NS_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = ns[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

/* Splits rest = "NS" or "NS/KEY"; 1 with a 400 written on bad input. */
static int parse_target(struct api_req *r, struct http_reply *rep,
			struct kv_target *t)
{
	const char *slash = memchr(r->rest, '/', r->rest_len);
	size_t nl = slash ? (size_t)(slash - r->rest) : r->rest_len;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!ns_ok(r->rest, nl)) {
		api_error(rep, 400,
			  "bad namespace: want [A-Za-z0-9_.-]{1,%d}",
			  CORE_NS_MAX);
		return 1;
	}
	memcpy(t->ns, r->rest, nl);
	t->ns_len = nl;
	if (slash == NULL)
		return 0;
	t->has_key = 1;
	rc = api_pct_decode(slash + 1, r->rest_len - nl - 1, t->key,
			    sizeof(t->key), &t->key_len);
	if (rc == ERR_TOOBIG || (rc == 0 && t->key_len == 0)) {
		api_error(rep, 400, "bad key: want 1..%d bytes",
			  CORE_KEY_MAX);
		return 1;
	}
	if (rc != 0) {
		api_error(rep, 400, "bad key: malformed percent-encoding");
		return 1;
	}
	return 0;
}

/* ?cas=R: *cas = R, or CORE_CAS_NONE when absent. 1 with a 400 written
 * when it is not a number. */
static int parse_cas(struct api_req *r, struct http_reply *rep,
		     uint64_t *cas)
{
	char buf[32];
	size_t n;
	int rc = api_query(r->http, "cas", buf, sizeof(buf), &n);

	*cas = CORE_CAS_NONE;
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc != 0 || api_parse_u64(buf, n, cas) != 0 ||
	    *cas == CORE_CAS_NONE) {
		api_error(rep, 400, "bad cas: want a revision number");
		return 1;
	}
	return 0;
}

/* ?stale=1 (or "true"); anything else but 0/false is a 400. */
static int parse_stale(struct api_req *r, struct http_reply *rep, int *stale)
{
	char buf[8];
	size_t n;
	int rc = api_query(r->http, "stale", buf, sizeof(buf), &n);

	*stale = 0;
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc == 0 && (strcmp(buf, "1") == 0 || strcmp(buf, "true") == 0 ||
			n == 0)) {
		*stale = 1;
		return 0;
	}
	if (rc == 0 && (strcmp(buf, "0") == 0 || strcmp(buf, "false") == 0))
		return 0;
	api_error(rep, 400, "bad stale: want 1 or 0");
	return 1;
}

/* --- Writes ---------------------------------------------------------- */

int api_idem_parse(struct api_req *r, struct http_reply *rep,
		   struct core_cmd *cmd)
{
	size_t n = 0, cl;
	const char *v = http_req_header(r->http, "idempotency-key", &n);
	const char *colon;
	uint64_t seq = 0;

	memset(&cmd->idem, 0, sizeof(cmd->idem));
	if (v == NULL)
		return 0;
	colon = memchr(v, ':', n);
	cl = colon ? (size_t)(colon - v) : 0;
	if (colon == NULL || !ns_ok(v, cl) ||
	    api_parse_u64(colon + 1, n - cl - 1, &seq) != 0 || seq == 0) {
		api_error(rep, 400,
			  "bad Idempotency-Key: want CLIENT:SEQ, CLIENT "
			  "1..%d bytes of [A-Za-z0-9_.-], SEQ a positive "
			  "integer",
			  CORE_IDEM_CLIENT_MAX);
		return 1;
	}
	memcpy(cmd->idem.client, v, cl);
	cmd->idem.client[cl] = '\0';
	cmd->idem.client_len = cl;
	cmd->idem.seq = seq;
	cmd->idem.wall_ms = r->api->core.ops->wall_ms(r->api->core.ctx);
	return 0;
}

static void on_written(void *arg, const struct core_write_result *res)
{
	struct api_op *op = arg;
	struct http_reply *rep = api_op_reply(op);
	cJSON *j;

	if (rep == NULL)
		goto out;
	if (res->status == 0 && res->result == ERR_CONFLICT) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "error",
					"revision mismatch (compare-and-set)");
		cJSON_AddNumberToObject(j, "revision",
					(double)res->current_rev);
		api_json(rep, 409, j);
	} else if (!api_write_failed(rep, res, "write", "key")) {
		j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "revision", (double)res->index);
		http_reply_header(rep, "X-Clusterd-Revision", "%llu",
				  (unsigned long long)res->index);
		api_json(rep, 200, j);
	}
out:
	api_op_finish(op);
}

static int kv_write(struct api_req *r, struct http_reply *rep, int type)
{
	struct kv_target t;
	struct core_cmd cmd;
	struct api_op *op;
	uint64_t cas;
	int rc;

	if (parse_target(r, rep, &t) || parse_cas(r, rep, &cas))
		return 0;
	if (!t.has_key)
		return api_error(rep, 400, "missing key: /api/v1/kv/NS/KEY");
	if (t.ns[0] == '_')
		return api_error(rep, 403, "namespace '%.*s' is reserved: "
					   "names starting with '_' belong to "
					   "clusterd (e.g. _plugins is changed "
					   "through /api/v1/plugins)",
				 (int)t.ns_len, t.ns);
	if (type == CORE_CMD_KV_PUT && r->http->body_len > CORE_VALUE_MAX)
		return api_error(rep, 413, "value over %u bytes",
				 CORE_VALUE_MAX);
	memset(&cmd, 0, sizeof(cmd));
	if (api_idem_parse(r, rep, &cmd))
		return 0;
	cmd.type = type;
	cmd.u.kv.ns = t.ns;
	cmd.u.kv.ns_len = t.ns_len;
	cmd.u.kv.key = t.key;
	cmd.u.kv.key_len = t.key_len;
	cmd.u.kv.cas = cas;
	if (type == CORE_CMD_KV_PUT) {
		cmd.u.kv.value = r->http->body;
		cmd.u.kv.value_len = r->http->body_len;
	}
	op = api_op_new(r, rep, sizeof(*op));
	if (op == NULL)
		return 0;
	rc = r->api->core.ops->write(r->api->core.ctx, &cmd,
				     api_deadline(r->api), on_written, op);
	return rc != 0 ? api_op_fail(op, rc, "write") : HTTP_PENDING;
}

int api_kv_put(struct api_req *r, struct http_reply *rep)
{
	return kv_write(r, rep, CORE_CMD_KV_PUT);
}

int api_kv_delete(struct api_req *r, struct http_reply *rep)
{
	return kv_write(r, rep, CORE_CMD_KV_DEL);
}

/* --- Reads ----------------------------------------------------------- */

struct read_op {
	struct api_op op;
	struct kv_target t;
	/* Lists only. */
	uint8_t prefix[CORE_KEY_MAX], after[CORE_KEY_MAX];
	size_t prefix_len, after_len, limit;
	int has_after;
};

static void read_key(struct read_op *ro, struct http_reply *rep)
{
	const struct core *c = &ro->op.api->core;
	struct core_kv_value v;
	int rc = c->ops->kv_get(c->ctx, ro->t.ns, ro->t.ns_len, ro->t.key,
				ro->t.key_len, &v);

	if (rc == ERR_NOTFOUND) {
		api_error(rep, 404, "no such key");
		return;
	}
	if (rc != 0) {
		api_core_error(rep, rc, "read");
		return;
	}
	rep->status = 200;
	rep->content_type = "application/octet-stream";
	http_reply_header(rep, "X-Clusterd-Revision", "%llu",
			  (unsigned long long)v.rev);
	wbuf_reset(&rep->body);
	if (v.len > 0 && wbuf_put(&rep->body, v.value, v.len) != 0)
		api_error(rep, 500, "out of memory");
	free(v.value);
}

/* A listed key as a JSON string: as is when every byte is printable
 * ASCII (cJSON escapes quotes), else percent-encoded (as in the URL that
 * reads it) with "encoded": true. */
static void add_key(cJSON *arr, const struct core_kv_key *k)
{
	cJSON *o = cJSON_CreateObject();
	char buf[CORE_KEY_MAX * 3 + 1];
	int plain = 1;
	size_t n = 0;

	for (size_t i = 0; i < k->len; i++)
		if (k->key[i] < 0x20 || k->key[i] >= 0x7f)
			plain = 0;
	for (size_t i = 0; i < k->len; i++) {
		if (plain || (k->key[i] > 0x20 && k->key[i] < 0x7f &&
			      k->key[i] != '%')) {
			buf[n++] = (char)k->key[i];
		} else {
			static const char hex[] = "0123456789ABCDEF";

			buf[n++] = '%';
			buf[n++] = hex[k->key[i] >> 4];
			buf[n++] = hex[k->key[i] & 15];
		}
	}
	buf[n] = '\0';
	cJSON_AddStringToObject(o, "key", buf);
	if (!plain)
		cJSON_AddTrueToObject(o, "encoded");
	cJSON_AddNumberToObject(o, "revision", (double)k->rev);
	cJSON_AddNumberToObject(o, "size", (double)k->value_len);
	cJSON_AddItemToArray(arr, o);
}

static void read_list(struct read_op *ro, struct http_reply *rep)
{
	const struct core *c = &ro->op.api->core;
	struct core_kv_key *keys = NULL;
	size_t n = 0;
	int more = 0, rc;
	cJSON *j, *arr;

	rc = c->ops->kv_list(c->ctx, ro->t.ns, ro->t.ns_len, ro->prefix,
			     ro->prefix_len,
			     ro->has_after ? ro->after : NULL, ro->after_len,
			     ro->limit, &keys, &n, &more);
	if (rc != 0) {
		api_core_error(rep, rc, "list");
		return;
	}
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "keys");
	for (size_t i = 0; i < n; i++)
		add_key(arr, &keys[i]);
	cJSON_AddBoolToObject(j, "more", more);
	core_kv_keys_free(keys, n);
	api_json(rep, 200, j);
}

static void on_barrier(void *arg, int status)
{
	struct read_op *ro = arg;
	struct http_reply *rep = api_op_reply(&ro->op);

	if (rep != NULL && status != 0)
		api_core_error(rep, status, "read");
	else if (rep != NULL && ro->t.has_key)
		read_key(ro, rep);
	else if (rep != NULL)
		read_list(ro, rep);
	api_op_finish(&ro->op);
}

/* prefix, after and limit of a list; 1 with a 400 written. */
static int parse_list(struct api_req *r, struct http_reply *rep,
		      struct read_op *ro)
{
	char buf[CORE_KEY_MAX + 1];
	uint64_t limit = CORE_LIST_MAX;
	size_t n;
	int rc;

	rc = api_query(r->http, "prefix", buf, sizeof(buf), &n);
	if (rc == 0) {
		memcpy(ro->prefix, buf, n);
		ro->prefix_len = n;
	}
	if (rc == 0 || rc == ERR_NOTFOUND)
		rc = api_query(r->http, "after", buf, sizeof(buf), &n);
	if (rc == 0) {
		memcpy(ro->after, buf, n);
		ro->after_len = n;
		ro->has_after = 1;
	}
	if (rc != 0 && rc != ERR_NOTFOUND) {
		api_error(rep, 400, "bad prefix or after (at most %d bytes)",
			  CORE_KEY_MAX);
		return 1;
	}
	rc = api_query(r->http, "limit", buf, 16, &n);
	if ((rc == 0 && (api_parse_u64(buf, n, &limit) != 0 || limit == 0 ||
			 limit > CORE_LIST_MAX)) ||
	    (rc != 0 && rc != ERR_NOTFOUND)) {
		api_error(rep, 400, "bad limit: want 1..%d", CORE_LIST_MAX);
		return 1;
	}
	ro->limit = (size_t)limit;
	return 0;
}

int api_kv_get(struct api_req *r, struct http_reply *rep)
{
	struct read_op tmp, *ro;
	int stale, rc;

	memset(&tmp, 0, sizeof(tmp));
	if (parse_target(r, rep, &tmp.t) || parse_stale(r, rep, &stale))
		return 0;
	if (!tmp.t.has_key && parse_list(r, rep, &tmp))
		return 0;
	ro = api_op_new(r, rep, sizeof(*ro));
	if (ro == NULL)
		return 0;
	tmp.op = ro->op;
	*ro = tmp;
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, stale,
					    api_deadline(r->api), on_barrier,
					    ro);
	return rc != 0 ? api_op_fail(&ro->op, rc, "read") : HTTP_PENDING;
}
