/*
 * join.c: membership of this node:
 *   POST /api/v1/cluster/join   {"peer": "IP:PORT", "token": "ID.SECRET"}
 *        answered once this node is a gossip member and a Raft learner; on
 *        an unjoined node it is the one request served (loopback only, no
 *        API token: api.c); on a member it is 409
 *   POST /api/v1/cluster/leave  hands leadership over, leaves Raft and
 *        gossip
 */
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"

/* "IP:PORT" in shape only; the core resolves and dials it. */
static int peer_ok(const char *p)
{
	const char *colon = strrchr(p, ':');
	size_t n = strlen(p);

	return n > 2 && n <= CORE_ADDR_MAX && colon != NULL && colon != p &&
	       colon[1] != '\0';
}

int api_join(struct api_req *r, struct http_reply *rep)
{
	char peer[CORE_ADDR_MAX + 1], token[CORE_TOKEN_STR_LEN + 1];
	char id[CORE_TOKEN_ID_LEN + 1];
	uint8_t hash[CORE_HASH_LEN];
	const char *p, *t;
	void *d;
	cJSON *j = api_body_json(r->http, rep);
	int rc;

	if (j == NULL)
		return 0;
	p = api_json_str(j, "peer");
	t = api_json_str(j, "token");
	if (p == NULL || !peer_ok(p)) {
		cJSON_Delete(j);
		return api_error(rep, 400, "bad peer: want \"IP:PORT\"");
	}
	if (t == NULL || core_token_parse(t, strlen(t), id, hash) != 0) {
		cJSON_Delete(j);
		return api_error(rep, 400, "bad token: want \"ID.SECRET\"");
	}
	memcpy(peer, p, strlen(p) + 1);
	memcpy(token, t, strlen(t) + 1);
	cJSON_Delete(j);
	d = api_done_op(r, rep, "join");
	if (d == NULL)
		return 0;
	rc = r->api->core.ops->join(r->api->core.ctx, peer, token,
				    api_deadline(r->api), api_done_cb, d);
	return rc != 0 ? api_op_fail(d, rc, "join") : HTTP_PENDING;
}

int api_leave(struct api_req *r, struct http_reply *rep)
{
	void *d = api_done_op(r, rep, "leave");
	int rc;

	if (d == NULL)
		return 0;
	rc = r->api->core.ops->leave(r->api->core.ctx, api_deadline(r->api),
				     api_done_cb, d);
	return rc != 0 ? api_op_fail(d, rc, "leave") : HTTP_PENDING;
}
