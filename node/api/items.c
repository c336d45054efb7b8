/*
 * items.c: the item ledger (issue 13):
 *   GET /api/v1/items                      every item's stock and totals,
 *                                          the division mode, the grant
 *                                          timeout, refusal counters and
 *                                          the flows per instance
 *   GET /api/v1/items/NAME[?quality=Q]     one item (quality "normal" if
 *                                          not given)
 *   GET /api/v1/items/NAME/history[?quality=Q]   its last events
 *   PUT /api/v1/items                      {"mode": "proportional" |
 *                                          "simple", "timeout_ms": N}
 * Reads are linearizable (a read barrier first) unless ?stale=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"

enum { IT_LIST = 1, IT_SHOW, IT_HISTORY };

struct itop {
	struct api_op op;
	int what;
	char name[CORE_ITEM_NAME_MAX + 1];
	char quality[CORE_ITEM_QUALITY_MAX + 1];
};

static cJSON *item_json(const struct core_item *it)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", it->name);
	cJSON_AddStringToObject(o, "quality", it->quality);
	cJSON_AddNumberToObject(o, "stock", (double)it->stock);
	cJSON_AddNumberToObject(o, "exported", (double)it->exported);
	cJSON_AddNumberToObject(o, "delivered", (double)it->delivered);
	cJSON_AddNumberToObject(o, "in_flight", (double)it->in_flight);
	return o;
}

static cJSON *info_json(const struct core *c, cJSON *j)
{
	static const char *const names[] = CORE_ITEMS_REFUSED_NAMES;
	struct core_items_info info;
	cJSON *r;

	if (c->ops->items_info(c->ctx, &info) != 0)
		return j;
	cJSON_AddStringToObject(j, "mode", info.mode);
	cJSON_AddNumberToObject(j, "timeout_ms", (double)info.timeout_ms);
	cJSON_AddNumberToObject(j, "ledger_time_ms", (double)info.now_ms);
	r = cJSON_AddObjectToObject(j, "refused");
	for (int i = 0; i < CORE_ITEMS_REFUSED_N; i++)
		cJSON_AddNumberToObject(r, names[i], (double)info.refused[i]);
	return j;
}

static void flows_json(const struct core *c, cJSON *j)
{
	struct core_item_flow *f = calloc(CORE_INST_MAX, sizeof(*f));
	cJSON *arr = cJSON_AddArrayToObject(j, "flows");
	size_t n = 0;

	if (f == NULL ||
	    c->ops->items_flows(c->ctx, f, CORE_INST_MAX, &n) != 0)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "instance", (double)f[i].instance);
		cJSON_AddNumberToObject(o, "exported", (double)f[i].exported);
		cJSON_AddNumberToObject(o, "delivered",
					(double)f[i].delivered);
		cJSON_AddNumberToObject(o, "returned", (double)f[i].returned);
		cJSON_AddItemToArray(arr, o);
	}
	free(f);
}

static void grants_json(const struct core *c, cJSON *j)
{
	struct core_item_grant *g = calloc(CORE_ITEMS_GRANTS_MAX, sizeof(*g));
	size_t n = 0;
	uint64_t items = 0;

	if (g == NULL ||
	    c->ops->items_grants(c->ctx, g, CORE_ITEMS_GRANTS_MAX, &n) != 0)
		n = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < g[i].n; k++)
			items += g[i].lines[k].count;
	cJSON_AddNumberToObject(j, "grants_in_flight", (double)n);
	cJSON_AddNumberToObject(j, "items_in_flight", (double)items);
	free(g);
}

static int answer_list(const struct core *c, struct http_reply *rep)
{
	struct core_item *v = calloc(CORE_ITEMS_MAX, sizeof(*v));
	size_t n = 0;
	cJSON *j, *arr;
	int rc;

	rc = v ? c->ops->items_list(c->ctx, v, CORE_ITEMS_MAX, &n) : ERR_NOMEM;
	if (rc != 0 && rc != ERR_NOTFOUND) {
		free(v);
		return api_core_error(rep, rc, "item list");
	}
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "items");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, item_json(&v[i]));
	info_json(c, j);
	grants_json(c, j);
	flows_json(c, j);
	free(v);
	return api_json(rep, 200, j);
}

static int answer_show(const struct core *c, const struct itop *o,
		       struct http_reply *rep)
{
	struct core_item it;
	int rc = c->ops->items_get(c->ctx, o->name, o->quality, &it);

	if (rc == ERR_NOTFOUND)
		return api_error(rep, 404, "no item %s (quality %s) in the ledger",
				 o->name, o->quality);
	if (rc != 0)
		return api_core_error(rep, rc, "item show");
	return api_json(rep, 200, item_json(&it));
}

static int answer_history(const struct core *c, const struct itop *o,
			  struct http_reply *rep)
{
	struct core_item_event ev[CORE_ITEMS_HISTORY];
	size_t n = 0;
	cJSON *j, *arr;
	int rc = c->ops->items_history(c->ctx, o->name, o->quality, ev,
				       CORE_ITEMS_HISTORY, &n);

	if (rc != 0 && rc != ERR_NOTFOUND)
		return api_core_error(rep, rc, "item history");
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", o->name);
	cJSON_AddStringToObject(j, "quality", o->quality);
	arr = cJSON_AddArrayToObject(j, "events");
	for (size_t i = 0; i < n; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "index", (double)ev[i].index);
		cJSON_AddStringToObject(e, "kind", ev[i].kind);
		cJSON_AddNumberToObject(e, "instance", (double)ev[i].instance);
		cJSON_AddNumberToObject(e, "count", (double)ev[i].count);
		cJSON_AddItemToArray(arr, e);
	}
	return api_json(rep, 200, j);
}

static void on_barrier(void *arg, int status)
{
	struct itop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;

	if (rep == NULL)
		goto out;
	if (status != 0)
		api_core_error(rep, status, "item read");
	else if (c->ops->items_list == NULL)
		api_error(rep, 501, "this node has no item ledger");
	else if (o->what == IT_LIST)
		answer_list(c, rep);
	else if (o->what == IT_SHOW)
		answer_show(c, o, rep);
	else
		answer_history(c, o, rep);
out:
	api_op_finish(&o->op);
}

static int start_read(struct api_req *r, struct itop *o)
{
	char stale[8];
	size_t sl;
	int rc, st = api_query(r->http, "stale", stale, sizeof(stale), &sl) ==
				     0 &&
			     strcmp(stale, "1") == 0;

	rc = r->api->core.ops->read_barrier(r->api->core.ctx, st,
					    api_deadline(r->api), on_barrier,
					    o);
	return rc != 0 ? api_op_fail(&o->op, rc, "item read") : HTTP_PENDING;
}

int api_items_list(struct api_req *r, struct http_reply *rep)
{
	struct itop *o = api_op_new(r, rep, sizeof(*o));

	if (o == NULL)
		return 0;
	o->what = IT_LIST;
	return start_read(r, o);
}

/* NAME or NAME/history after the prefix; 1 with a 400/404 written. */
static int parse_item_path(struct api_req *r, struct http_reply *rep,
			   struct itop *o)
{
	const char *p = r->rest, *slash;
	size_t n = r->rest_len, nl, ql;

	slash = memchr(p, '/', n);
	nl = slash ? (size_t)(slash - p) : n;
	if (slash && (n - nl - 1 != 7 || memcmp(slash + 1, "history", 7) != 0))
		return api_error(rep, 404, "no such resource"), 1;
	o->what = slash ? IT_HISTORY : IT_SHOW;
	if (nl == 0 || nl > CORE_ITEM_NAME_MAX)
		return api_error(rep, 400, "an item name has 1 to %d characters",
				 CORE_ITEM_NAME_MAX),
		       1;
	memcpy(o->name, p, nl);
	o->name[nl] = '\0';
	if (api_query(r->http, "quality", o->quality, sizeof(o->quality),
		      &ql) != 0 ||
	    ql == 0)
		snprintf(o->quality, sizeof(o->quality), "normal");
	return 0;
}

int api_items_show(struct api_req *r, struct http_reply *rep)
{
	struct itop *o = api_op_new(r, rep, sizeof(*o));

	if (o == NULL)
		return 0;
	if (parse_item_path(r, rep, o) != 0) {
		api_op_finish(&o->op);
		return 0;
	}
	return start_read(r, o);
}

static void on_config(void *arg, const struct core_write_result *res)
{
	struct api_op *op = arg;
	struct http_reply *rep = api_op_reply(op);
	cJSON *j;

	if (rep != NULL && !api_write_failed(rep, res, "item config", "item")) {
		j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "index", (double)res->index);
		api_json(rep, 200, j);
	}
	api_op_finish(op);
}

int api_items_config(struct api_req *r, struct http_reply *rep)
{
	struct core_cmd cmd;
	const cJSON *t;
	const char *mode;
	struct api_op *op;
	cJSON *j = api_body_json(r->http, rep);
	int rc;

	if (j == NULL)
		return 0;
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_ITEMS_CONFIG;
	mode = api_json_str(j, "mode");
	t = cJSON_GetObjectItemCaseSensitive(j, "timeout_ms");
	if (mode == NULL || (strcmp(mode, "proportional") != 0 &&
			     strcmp(mode, "simple") != 0)) {
		cJSON_Delete(j);
		return api_error(rep, 400,
				 "mode must be \"proportional\" or \"simple\"");
	}
	snprintf(cmd.u.items.mode, sizeof(cmd.u.items.mode), "%s", mode);
	cmd.u.items.timeout_ms = 60000;
	if (t != NULL && (!cJSON_IsNumber(t) || t->valuedouble < 1000 ||
			  t->valuedouble > 3600000)) {
		cJSON_Delete(j);
		return api_error(rep, 400,
				 "timeout_ms must be 1000 to 3600000");
	}
	if (t != NULL)
		cmd.u.items.timeout_ms = (uint64_t)t->valuedouble;
	cJSON_Delete(j);
	if (api_idem_parse(r, rep, &cmd) != 0)
		return 0;
	op = api_op_new(r, rep, sizeof(*op));
	if (op == NULL)
		return 0;
	rc = r->api->core.ops->write(r->api->core.ctx, &cmd,
				     api_deadline(r->api), on_config, op);
	return rc != 0 ? api_op_fail(op, rc, "item config") : HTTP_PENDING;
}
