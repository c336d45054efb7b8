/*
 * players.c: GET /api/v1/players (issue 12, player tracking): every user
 * seen on an instance of the cluster, with their join count and online
 * time from the replicated "players" domain, in name order.
 * ?after=NAME continues a listing, ?limit=N (1..1000, default 1000)
 * bounds it; "more" says whether a next page exists. A local read of the
 * applied state after a read barrier (fresh like instance list).
 */
#include "node/api/api_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

struct pop {
	struct api_op op;
	char after[CORE_PLAYER_NAME_MAX];
	size_t limit;
};

static void on_barrier(void *arg, int status)
{
	struct pop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;
	struct core_player *v = NULL;
	size_t n = 0;
	cJSON *j, *arr;
	int rc;

	if (rep == NULL)
		goto out;
	if (status != 0) {
		api_core_error(rep, status, "player list");
		goto out;
	}
	if (c->ops->player_list == NULL) {
		api_error(rep, 404, "this node does not track players");
		goto out;
	}
	/* One more than asked: whether a next page exists. */
	v = calloc(o->limit + 1, sizeof(*v));
	rc = v ? c->ops->player_list(c->ctx, o->after, v, o->limit + 1, &n)
	       : ERR_NOMEM;
	if (rc != 0) {
		api_core_error(rep, rc, "player list");
		goto out;
	}
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "players");
	for (size_t i = 0; i < n && i < o->limit; i++) {
		cJSON *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "name", v[i].name);
		cJSON_AddNumberToObject(p, "joins", (double)v[i].joins);
		cJSON_AddNumberToObject(p, "online_ms", (double)v[i].online_ms);
		cJSON_AddNumberToObject(p, "last_instance",
					(double)v[i].last_instance);
		cJSON_AddItemToArray(arr, p);
	}
	cJSON_AddBoolToObject(j, "more", n > o->limit);
	api_json(rep, 200, j);
out:
	free(v);
	api_op_finish(&o->op);
}

int api_players_list(struct api_req *r, struct http_reply *rep)
{
	char buf[32], after[CORE_PLAYER_NAME_MAX] = "";
	size_t n = 0;
	uint64_t limit = CORE_PLAYERS_LIST_MAX - 1;
	struct pop *o;
	int rc;

	rc = api_query(r->http, "limit", buf, sizeof(buf), &n);
	if (rc == 0 && (api_parse_u64(buf, n, &limit) != 0 || limit == 0 ||
			limit >= CORE_PLAYERS_LIST_MAX))
		return api_error(rep, 400, "limit must be 1..%d",
				 CORE_PLAYERS_LIST_MAX - 1);
	rc = api_query(r->http, "after", after, sizeof(after), &n);
	if (rc != 0 && rc != ERR_NOTFOUND)
		return api_error(rep, 400, "after: a player name of at most "
				 "%d bytes", CORE_PLAYER_NAME_MAX - 1);
	o = (struct pop *)api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	o->limit = (size_t)limit;
	memcpy(o->after, after, sizeof(after));
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api), on_barrier,
					    o);
	return rc != 0 ? api_op_fail(&o->op, rc, "player list") : HTTP_PENDING;
}
