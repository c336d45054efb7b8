/*
 * cluster.c: the cluster views and leadership transfer:
 *   GET  /api/v1/cluster/members          the gossip view
 *   GET  /api/v1/cluster/raft             {"term", "leader": {"id", "name"}
 *        | null, "servers": [{"id", "name", "suffrage", "match_index",
 *        "lag"}], ...}; ids are 16 hex digits (a u64 does not fit a JSON
 *        number exactly)
 *   POST /api/v1/cluster/transfer-leader  body {"target": NAME|ID} or empty
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"

int api_cluster_members(struct api_req *r, struct http_reply *rep)
{
	const struct core *c = &r->api->core;
	struct core_member *m = calloc(CORE_MEMBERS_MAX, sizeof(*m));
	char id[17];
	cJSON *j, *arr;
	size_t n = 0;
	int rc;

	if (m == NULL)
		return api_error(rep, 500, "out of memory");
	rc = c->ops->members(c->ctx, m, CORE_MEMBERS_MAX, &n);
	if (rc != 0) {
		free(m);
		return api_core_error(rep, rc, "members");
	}
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "members");
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", m[i].name);
		cJSON_AddStringToObject(o, "addr", m[i].addr);
		cJSON_AddStringToObject(o, "http", m[i].http);
		cJSON_AddStringToObject(o, "state", m[i].state);
		cJSON_AddStringToObject(o, "role", m[i].role);
		cJSON_AddStringToObject(o, "version", m[i].version);
		api_hex_id(m[i].raft_id, id);
		cJSON_AddStringToObject(o, "id", m[i].raft_id ? id : "");
		cJSON_AddItemToArray(arr, o);
	}
	free(m);
	return api_json(rep, 200, j);
}

static cJSON *servers_json(const struct core_raft_status *st)
{
	cJSON *arr = cJSON_CreateArray();
	char id[17];

	for (size_t i = 0; i < st->nservers && i < CORE_SERVERS_MAX; i++) {
		const struct core_server *sv = &st->servers[i];
		cJSON *o = cJSON_CreateObject();

		api_hex_id(sv->id, id);
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddStringToObject(o, "name", sv->name);
		cJSON_AddStringToObject(o, "suffrage",
					sv->voter ? "voter" : "learner");
		cJSON_AddNumberToObject(o, "match_index",
					(double)sv->match_index);
		cJSON_AddNumberToObject(o, "lag", (double)sv->lag);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

int api_cluster_raft(struct api_req *r, struct http_reply *rep)
{
	const struct core *c = &r->api->core;
	struct core_raft_status *st = calloc(1, sizeof(*st));
	cJSON *j, *leader, *dec;
	char id[17];
	int rc;

	if (st == NULL)
		return api_error(rep, 500, "out of memory");
	rc = c->ops->raft_status(c->ctx, st);
	if (rc != 0) {
		free(st);
		return api_core_error(rep, rc, "raft status");
	}
	j = cJSON_CreateObject();
	api_hex_id(st->id, id);
	cJSON_AddStringToObject(j, "id", id);
	cJSON_AddStringToObject(j, "role", st->role);
	cJSON_AddNumberToObject(j, "term", (double)st->term);
	if (st->leader_id != 0) {
		leader = cJSON_AddObjectToObject(j, "leader");
		api_hex_id(st->leader_id, id);
		cJSON_AddStringToObject(leader, "id", id);
		cJSON_AddStringToObject(leader, "name", st->leader_name);
	} else {
		cJSON_AddNullToObject(j, "leader");
	}
	cJSON_AddNumberToObject(j, "commit_index", (double)st->commit_index);
	cJSON_AddNumberToObject(j, "applied_index",
				(double)st->applied_index);
	cJSON_AddNumberToObject(j, "last_index", (double)st->last_index);
	cJSON_AddItemToObject(j, "servers", servers_json(st));
	dec = cJSON_AddArrayToObject(j, "decisions");
	for (size_t i = 0; i < st->ndecisions && i < CORE_DECISIONS_MAX; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "at_ms",
					(double)st->decisions[i].at_ms);
		cJSON_AddStringToObject(o, "text", st->decisions[i].text);
		cJSON_AddItemToArray(dec, o);
	}
	free(st);
	return api_json(rep, 200, j);
}

/* The answer of join, leave and transfer: 200 {"ok": true}, or the
 * failure mapped to its status. */
void api_done_reply(struct http_reply *rep, int status, const char *msg,
		    const char *what)
{
	cJSON *j;

	switch (status) {
	case 0:
		j = cJSON_CreateObject();
		cJSON_AddTrueToObject(j, "ok");
		api_json(rep, 200, j);
		return;
	case ERR_NOTFOUND:
		api_error(rep, 404, "%s: %s", what, msg ? msg : "not found");
		return;
	case ERR_AUTH:
	case ERR_PERM:
		api_error(rep, 403, "%s refused: %s", what,
			  msg ? msg : "not authorised");
		return;
	case ERR_EXISTS:
	case ERR_CONFLICT:
		api_error(rep, 409, "%s: %s", what, msg ? msg : "conflict");
		return;
	default:
		if (msg != NULL && status != ERR_NOTLEADER &&
		    status != ERR_TIMEOUT && status != ERR_AGAIN &&
		    status != ERR_SHUTDOWN)
			api_error(rep, status == ERR_INVAL ? 400 : 503,
				  "%s: %s", what, msg);
		else
			api_core_error(rep, status, what);
	}
}

struct done_op {
	struct api_op op;
	const char *what; /* static */
};

void api_done_cb(void *arg, int status, const char *msg)
{
	struct done_op *d = arg;
	struct http_reply *rep = api_op_reply(&d->op);

	if (rep != NULL)
		api_done_reply(rep, status, msg, d->what);
	api_op_finish(&d->op);
}

void *api_done_op(struct api_req *r, struct http_reply *rep,
		  const char *what)
{
	struct done_op *d = api_op_new(r, rep, sizeof(*d));

	if (d != NULL)
		d->what = what;
	return d;
}

int api_cluster_transfer(struct api_req *r, struct http_reply *rep)
{
	char target[CORE_NAME_MAX + 1] = "";
	struct done_op *d;
	const char *t;
	cJSON *j = api_body_json(r->http, rep);
	int rc;

	if (j == NULL)
		return 0;
	t = api_json_str(j, "target");
	if (t != NULL && strlen(t) > CORE_NAME_MAX) {
		cJSON_Delete(j);
		return api_error(rep, 400, "bad target: a node name or id");
	}
	if (t != NULL)
		memcpy(target, t, strlen(t) + 1);
	cJSON_Delete(j);
	d = api_done_op(r, rep, "transfer-leader");
	if (d == NULL)
		return 0;
	rc = r->api->core.ops->transfer_leader(r->api->core.ctx, target,
					       api_deadline(r->api),
					       api_done_cb, d);
	return rc != 0 ? api_op_fail(&d->op, rc, "transfer-leader")
		       : HTTP_PENDING;
}
