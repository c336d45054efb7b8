/*
 * inventory.c: /api/v1/inventories (issue 14), the players' synced
 * inventories and their locks.
 *
 *   GET  /api/v1/inventories[?after=P&limit=N&held=1]   list
 *                                                (inventory.read)
 *   GET  /api/v1/inventories/P                   one lock + header
 *   GET  /api/v1/inventories/P/export            the stored JSON
 *   PUT  /api/v1/inventories/P                   import a JSON object
 *                                                (inventory.write; the
 *                                                lock must be free)
 *   POST /api/v1/inventories/P/release           an admin's release
 *                                                (inventory.write)
 * Reads are local after a read barrier. An import and a release record
 * the caller: the token's name (or "token <id>" when it has none), which
 * the domain keeps in the lock and logs.
 */
#include "node/api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

enum { V_LIST, V_SHOW, V_EXPORT };

struct vop {
	struct api_op op;
	int what;
	char player[CORE_INV_PLAYER_MAX + 1];
	size_t limit;
	int held_only;
};

static const char *const why_names[] = {"", "released", "instance stopped",
					"node dead", "admin"};

static cJSON *lock_json(const struct core_inv_lock *l)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "player", l->player);
	cJSON_AddBoolToObject(o, "held", l->held);
	cJSON_AddNumberToObject(o, "instance", (double)l->instance);
	cJSON_AddNumberToObject(o, "gen", (double)l->gen);
	cJSON_AddNumberToObject(o, "since", (double)l->since);
	if (l->node != 0) {
		char hex[17];

		api_hex_id(l->node, hex);
		cJSON_AddStringToObject(o, "node", hex);
	}
	if (!l->held && l->why <= CORE_INV_WHY_ADMIN && l->why != 0)
		cJSON_AddStringToObject(o, "freed", why_names[l->why]);
	if (l->by[0] != '\0')
		cJSON_AddStringToObject(o, "by", l->by);
	cJSON_AddBoolToObject(o, "stored", l->stored);
	if (l->stored) {
		cJSON_AddNumberToObject(o, "stored_gen", (double)l->stored_gen);
		cJSON_AddNumberToObject(o, "stored_instance",
					(double)l->stored_instance);
		cJSON_AddNumberToObject(o, "stored_index",
					(double)l->stored_index);
		cJSON_AddNumberToObject(o, "bytes", (double)l->raw_len);
		cJSON_AddNumberToObject(o, "stored_bytes", (double)l->stored_len);
	}
	return o;
}

static void answer_list(struct vop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	struct core_inv_lock *v = calloc(o->limit + 1, sizeof(*v));
	size_t n = 0;
	int rc = v ? c->ops->inv_list(c->ctx, o->player, o->held_only, v,
				      o->limit + 1, &n)
		   : ERR_NOMEM;
	cJSON *j, *arr;

	if (rc != 0) {
		api_core_error(rep, rc, "inventory list");
		free(v);
		return;
	}
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "inventories");
	for (size_t i = 0; i < n && i < o->limit; i++)
		cJSON_AddItemToArray(arr, lock_json(&v[i]));
	cJSON_AddBoolToObject(j, "more", n > o->limit);
	api_json(rep, 200, j);
	free(v);
}

static void answer_one(struct vop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	struct core_inv_lock l;
	char *json = NULL;
	size_t len = 0;
	int rc;

	if (o->what == V_SHOW) {
		rc = c->ops->inv_get(c->ctx, o->player, &l);
		if (rc == 0)
			api_json(rep, 200, lock_json(&l));
	} else {
		rc = c->ops->inv_data(c->ctx, o->player, &l, &json, &len);
		if (rc == 0) {
			rep->status = 200;
			rep->content_type = "application/json";
			rc = wbuf_put(&rep->body, json, len);
		}
	}
	free(json);
	if (rc == ERR_NOTFOUND)
		api_error(rep, 404, "no %s for player %s",
			  o->what == V_SHOW ? "lock or inventory"
					    : "stored inventory",
			  o->player);
	else if (rc != 0)
		api_core_error(rep, rc, "inventory read");
}

static void on_barrier(void *arg, int status)
{
	struct vop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);

	if (rep == NULL)
		goto out;
	if (status != 0)
		api_core_error(rep, status, "inventory read");
	else if (o->op.api->core.ops->inv_list == NULL)
		api_error(rep, 404, "this node has no inventory sync");
	else if (o->what == V_LIST)
		answer_list(o, rep);
	else
		answer_one(o, rep);
out:
	api_op_finish(&o->op);
}

/* Splits rest into the player and an optional "/suffix". */
static int parse_rest(const struct api_req *r, char *player,
		      const char **suffix)
{
	const char *slash = memchr(r->rest, '/', r->rest_len);
	size_t n = slash ? (size_t)(slash - r->rest) : r->rest_len;

	if (n == 0 || n > CORE_INV_PLAYER_MAX)
		return ERR_MALFORMED;
	memcpy(player, r->rest, n);
	player[n] = '\0';
	*suffix = slash ? slash + 1 : "";
	if (slash && (size_t)(slash + 1 - r->rest) > r->rest_len)
		return ERR_MALFORMED;
	return core_inst_name_ok(player) ? 0 : ERR_MALFORMED;
}

static int start_read(struct api_req *r, struct http_reply *rep, int what,
		      const char *player, size_t limit, int held_only)
{
	struct vop *o = api_op_new(r, rep, sizeof(*o));
	int rc;

	if (o == NULL)
		return 0;
	o->what = what;
	o->limit = limit;
	o->held_only = held_only;
	snprintf(o->player, sizeof(o->player), "%s", player);
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api), on_barrier,
					    o);
	return rc != 0 ? api_op_fail(&o->op, rc, "inventory read")
		       : HTTP_PENDING;
}

int api_inventories_list(struct api_req *r, struct http_reply *rep)
{
	char buf[32], after[CORE_INV_PLAYER_MAX + 1] = "";
	uint64_t limit = CORE_LIST_MAX;
	size_t n = 0;
	int rc = api_query(r->http, "limit", buf, sizeof(buf), &n);

	if (rc == 0 && (api_parse_u64(buf, n, &limit) != 0 || limit == 0 ||
			limit > CORE_LIST_MAX))
		return api_error(rep, 400, "limit must be 1..%d",
				 CORE_LIST_MAX);
	rc = api_query(r->http, "after", after, sizeof(after), &n);
	if (rc != 0 && rc != ERR_NOTFOUND)
		return api_error(rep, 400, "after: a player name");
	rc = api_query(r->http, "held", buf, sizeof(buf), &n);
	return start_read(r, rep, V_LIST, after, (size_t)limit,
			  rc == 0 && n == 1 && buf[0] == '1');
}

int api_inventories_show(struct api_req *r, struct http_reply *rep)
{
	char player[CORE_INV_PLAYER_MAX + 1];
	const char *suffix;

	if (parse_rest(r, player, &suffix) != 0)
		return api_error(rep, 400, "a player name: 1 to 64 of "
					   "[A-Za-z0-9_.-]");
	if (suffix[0] == '\0')
		return start_read(r, rep, V_SHOW, player, 0, 0);
	if (strncmp(suffix, "export",
		    r->rest_len - (size_t)(suffix - r->rest)) == 0 &&
	    r->rest_len - (size_t)(suffix - r->rest) == 6)
		return start_read(r, rep, V_EXPORT, player, 0, 0);
	return api_error(rep, 404, "no such endpoint");
}

/* ---- writes ---- */

struct wop {
	struct api_op op;
	char player[CORE_INV_PLAYER_MAX + 1];
	const char *what;
};

/* Who makes the change: the caller's token name, or its id. */
static void caller(const struct api_req *r, char *who, size_t size)
{
	char id[CORE_TOKEN_ID_LEN + 1];
	uint8_t hash[CORE_HASH_LEN];
	struct core_token t;
	size_t n = 0;
	const char *h = http_req_header(r->http, "authorization", &n);

	snprintf(who, size, "api");
	if (h == NULL || n < 7 || strncasecmp(h, "bearer ", 7) != 0 ||
	    core_token_parse(h + 7, n - 7, id, hash) != 0)
		return;
	if (r->api->core.ops->token_get(r->api->core.ctx, id, &t) == 0 &&
	    t.name[0] != '\0')
		snprintf(who, size, "%s", t.name);
	else
		snprintf(who, size, "token %s", id);
}

static void on_written(void *arg, const struct core_write_result *res)
{
	struct wop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	cJSON *j;

	if (rep == NULL)
		goto out;
	if (res->status == 0 && res->result == ERR_BUSY) {
		api_error(rep, 409, "%s: %s's inventory is locked by an "
				    "instance; release it first",
			  o->what, o->player);
		goto out;
	}
	if (res->status == 0 && res->result == ERR_CONFLICT) {
		api_error(rep, 409, "%s: %s's lock is not held", o->what,
			  o->player);
		goto out;
	}
	if (api_write_failed(rep, res, o->what, "player"))
		goto out;
	j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "ok", 1);
	cJSON_AddNumberToObject(j, "index", (double)res->index);
	api_json(rep, 200, j);
out:
	api_op_finish(&o->op);
}

static int start_write(struct api_req *r, struct http_reply *rep,
		       struct core_cmd *cmd, const char *what)
{
	struct wop *o = api_op_new(r, rep, sizeof(*o));
	int rc;

	if (o == NULL)
		return 0;
	snprintf(o->player, sizeof(o->player), "%s", cmd->u.inv.player);
	o->what = what;
	rc = r->api->core.ops->write(r->api->core.ctx, cmd,
				     api_deadline(r->api), on_written, o);
	if (rc == ERR_TOOBIG) {
		api_error(rep, 413, "%s: the inventory does not fit in one "
				    "record", what);
		api_op_finish(&o->op);
		return 0;
	}
	return rc != 0 ? api_op_fail(&o->op, rc, what) : HTTP_PENDING;
}

int api_inventories_release(struct api_req *r, struct http_reply *rep)
{
	char player[CORE_INV_PLAYER_MAX + 1], who[CORE_NAME_MAX + 1];
	const char *suffix;
	struct core_cmd cmd;

	if (parse_rest(r, player, &suffix) != 0 ||
	    r->rest_len - (size_t)(suffix - r->rest) != 7 ||
	    strncmp(suffix, "release", 7) != 0)
		return api_error(rep, 404, "no such endpoint (POST "
					   "/api/v1/inventories/PLAYER/release)");
	caller(r, who, sizeof(who));
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_INV_ADMIN_RELEASE;
	cmd.u.inv.player = player;
	cmd.u.inv.admin = who;
	return start_write(r, rep, &cmd, "inventory release");
}

int api_inventories_import(struct api_req *r, struct http_reply *rep)
{
	char player[CORE_INV_PLAYER_MAX + 1], who[CORE_NAME_MAX + 1];
	const char *suffix;
	struct core_cmd cmd;
	cJSON *doc;

	if (parse_rest(r, player, &suffix) != 0 || suffix[0] != '\0')
		return api_error(rep, 400, "a player name: 1 to 64 of "
					   "[A-Za-z0-9_.-]");
	if (r->http->body_len == 0 || r->http->body_len > CORE_INV_JSON_MAX)
		return api_error(rep, 413, "an inventory is 1 to %u bytes of "
					   "JSON", CORE_INV_JSON_MAX);
	doc = cJSON_ParseWithLength((const char *)r->http->body,
				    r->http->body_len);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return api_error(rep, 400, "the inventory must be a JSON "
					   "object (as export gives it)");
	}
	cJSON_Delete(doc);
	caller(r, who, sizeof(who));
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_INV_IMPORT;
	cmd.u.inv.player = player;
	cmd.u.inv.admin = who;
	cmd.u.inv.json = (const char *)r->http->body;
	cmd.u.inv.json_len = r->http->body_len;
	return start_write(r, rep, &cmd, "inventory import");
}
