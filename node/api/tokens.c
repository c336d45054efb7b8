/*
 * tokens.c: join and API tokens (issue 10):
 *   POST   /api/v1/tokens      {"kind": "join"|"api", "name": "...",
 *          "role": "admin"|"read", "roles": [role, ...], "user": NAME,
 *          "ttl_s": N}  -> 201 {"id", "token", ...}: the only time the
 *          secret is shown; the cluster keeps its hash. With "roles" (issue
 *          13) the token has those roles' permissions (and its user's
 *          roles'); without, the one role "role" names (admin by default).
 *          A caller grants only roles whose permissions it holds. Join tokens expire after 24 h unless ttl_s says
 *          otherwise; API tokens never, unless ttl_s is given.
 *   GET    /api/v1/tokens      the records, no secrets
 *   DELETE /api/v1/tokens/ID   revokes (a revoked token stays listed)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"

struct create_op {
	struct api_op op;
	struct core_token t;
	char str[CORE_TOKEN_STR_LEN + 1]; /* the secret, shown once */
};

static const char *kind_name(int kind)
{
	return kind == CORE_TOKEN_JOIN ? "join" : "api";
}

static const char *role_name(int role)
{
	return role == CORE_ROLE_READ ? "read" : "admin";
}

static cJSON *token_json(const struct core_token *t, uint64_t now_ms)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", t->id);
	cJSON_AddStringToObject(o, "kind", kind_name(t->kind));
	cJSON_AddStringToObject(o, "name", t->name);
	if (t->kind == CORE_TOKEN_API) {
		cJSON *roles = cJSON_AddArrayToObject(o, "roles");

		cJSON_AddStringToObject(o, "role", role_name(t->role));
		for (size_t i = 0; i < t->nroles; i++)
			cJSON_AddItemToArray(roles,
					     cJSON_CreateString(t->roles[i]));
		if (t->nroles == 0)
			cJSON_AddItemToArray(roles, cJSON_CreateString(
							    role_name(t->role)));
		cJSON_AddStringToObject(o, "user", t->user);
	}
	cJSON_AddNumberToObject(o, "created_ms", (double)t->created_ms);
	cJSON_AddNumberToObject(o, "expires_ms", (double)t->expires_ms);
	cJSON_AddBoolToObject(o, "revoked", t->revoked);
	cJSON_AddBoolToObject(o, "expired",
			      t->expires_ms != 0 && now_ms >= t->expires_ms);
	return o;
}

static void on_created(void *arg, const struct core_write_result *res)
{
	struct create_op *c = arg;
	struct http_reply *rep = api_op_reply(&c->op);
	cJSON *j;

	if (rep != NULL &&
	    !api_write_failed(rep, res, "token create", "token")) {
		j = token_json(&c->t, c->t.created_ms);
		cJSON_AddStringToObject(j, "token", c->str);
		api_json(rep, 201, j);
	}
	/* The secret leaves memory with the op. */
	memset(c->str, 0, sizeof(c->str));
	api_op_finish(&c->op);
}

/* Issue 13: "roles" and "user"; the legacy role must be grantable too.
 * 1 with the answer written. */
static int parse_roles(struct api_req *r, struct http_reply *rep,
		       const cJSON *j, struct core_token *t)
{
	const cJSON *roles = cJSON_GetObjectItemCaseSensitive(j, "roles");
	const char *user = api_json_str(j, "user");

	if (roles != NULL &&
	    api_parse_roles(r, rep, roles, &t->nroles, t->roles) != 0)
		return 1;
	for (size_t i = 0; i < t->nroles; i++)
		if (strcmp(t->roles[i], "admin") == 0)
			t->role = CORE_ROLE_ADMIN;
	if (roles != NULL && cJSON_GetObjectItemCaseSensitive(j, "role") == NULL)
		t->role = CORE_ROLE_READ; /* the roles decide, not the field */
	if (t->nroles == 0 &&
	    !api_token_may_grant(r->api, r->token, role_name(t->role)))
		return api_error(rep, 403, "this token may not grant the role "
					   "'%s'", role_name(t->role)), 1;
	if (user != NULL && (strlen(user) == 0 ||
			     strlen(user) > CORE_USER_NAME_MAX))
		return api_error(rep, 400, "bad user: a Factorio name"), 1;
	if (user != NULL)
		snprintf(t->user, sizeof(t->user), "%s", user);
	return 0;
}

/* Fills the record from the body; 1 with a 400 written. */
static int parse_create(struct api_req *r, struct http_reply *rep,
			const cJSON *j, struct core_token *t)
{
	const char *kind = api_json_str(j, "kind");
	const char *name = api_json_str(j, "name");
	const char *role = api_json_str(j, "role");
	const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(j, "ttl_s");
	uint64_t now = r->api->core.ops->wall_ms(r->api->core.ctx);

	memset(t, 0, sizeof(*t));
	if (kind == NULL || strcmp(kind, "api") == 0)
		t->kind = CORE_TOKEN_API;
	else if (strcmp(kind, "join") == 0)
		t->kind = CORE_TOKEN_JOIN;
	else
		return api_error(rep, 400, "bad kind: \"join\" or \"api\""), 1;
	if (role == NULL || strcmp(role, "admin") == 0)
		t->role = CORE_ROLE_ADMIN;
	else if (strcmp(role, "read") == 0)
		t->role = CORE_ROLE_READ;
	else
		return api_error(rep, 400,
				 "bad role: \"admin\" or \"read\""), 1;
	if (parse_roles(r, rep, j, t) != 0)
		return 1;
	if (name != NULL && strlen(name) > CORE_NAME_MAX)
		return api_error(rep, 400, "bad name: at most %d bytes",
				 CORE_NAME_MAX), 1;
	if (name != NULL)
		memcpy(t->name, name, strlen(name) + 1);
	if (ttl != NULL && (!cJSON_IsNumber(ttl) || ttl->valuedouble < 1 ||
			    ttl->valuedouble > 10.0 * 365 * 86400))
		return api_error(rep, 400, "bad ttl_s: 1 s to 10 years"), 1;
	t->created_ms = now;
	if (ttl != NULL)
		t->expires_ms = now + (uint64_t)ttl->valuedouble * 1000;
	else if (t->kind == CORE_TOKEN_JOIN)
		t->expires_ms = now + CORE_JOIN_TOKEN_TTL_MS;
	return 0;
}

int api_tokens_create(struct api_req *r, struct http_reply *rep)
{
	struct core_token t;
	struct create_op *c;
	struct core_cmd cmd;
	cJSON *j = api_body_json(r->http, rep);
	int rc;

	if (j == NULL)
		return 0;
	rc = parse_create(r, rep, j, &t);
	cJSON_Delete(j);
	if (rc != 0)
		return 0;
	c = api_op_new(r, rep, sizeof(*c));
	if (c == NULL)
		return 0;
	c->t = t;
	core_token_new(&c->t, c->str);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_TOKEN_ADD;
	cmd.u.token = c->t;
	rc = r->api->core.ops->write(r->api->core.ctx, &cmd,
				     api_deadline(r->api), on_created, c);
	return rc != 0 ? api_op_fail(&c->op, rc, "token create")
		       : HTTP_PENDING;
}

static void on_list_barrier(void *arg, int status)
{
	struct api_op *op = arg;
	struct http_reply *rep = api_op_reply(op);
	const struct core *c = &op->api->core;
	struct core_token *v;
	size_t n = 0;
	cJSON *j, *arr;
	int rc;

	if (rep == NULL)
		goto out;
	if (status != 0) {
		api_core_error(rep, status, "token list");
		goto out;
	}
	v = calloc(CORE_TOKENS_MAX, sizeof(*v));
	if (v == NULL) {
		api_error(rep, 500, "out of memory");
		goto out;
	}
	rc = c->ops->token_list(c->ctx, v, CORE_TOKENS_MAX, &n);
	if (rc != 0) {
		api_core_error(rep, rc, "token list");
	} else {
		uint64_t now = c->ops->wall_ms(c->ctx);

		j = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(j, "tokens");
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, token_json(&v[i], now));
		api_json(rep, 200, j);
	}
	free(v);
out:
	api_op_finish(op);
}

int api_tokens_list(struct api_req *r, struct http_reply *rep)
{
	struct api_op *op = api_op_new(r, rep, sizeof(*op));
	int rc;

	if (op == NULL)
		return 0;
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api),
					    on_list_barrier, op);
	return rc != 0 ? api_op_fail(op, rc, "token list") : HTTP_PENDING;
}

static void on_revoked(void *arg, const struct core_write_result *res)
{
	struct api_op *op = arg;
	struct http_reply *rep = api_op_reply(op);
	cJSON *j;

	if (rep != NULL &&
	    !api_write_failed(rep, res, "token revoke", "token")) {
		j = cJSON_CreateObject();
		cJSON_AddTrueToObject(j, "revoked");
		api_json(rep, 200, j);
	}
	api_op_finish(op);
}

int api_tokens_revoke(struct api_req *r, struct http_reply *rep)
{
	struct core_cmd cmd;
	struct api_op *op;
	int rc;

	if (r->rest_len != CORE_TOKEN_ID_LEN)
		return api_error(rep, 404, "no such token");
	for (size_t i = 0; i < r->rest_len; i++)
		if (!((r->rest[i] >= '0' && r->rest[i] <= '9') ||
		      (r->rest[i] >= 'a' && r->rest[i] <= 'f')))
			return api_error(rep, 404, "no such token");
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_TOKEN_REVOKE;
	memcpy(cmd.u.revoke.id, r->rest, CORE_TOKEN_ID_LEN);
	cmd.u.revoke.now_ms = r->api->core.ops->wall_ms(r->api->core.ctx);
	op = api_op_new(r, rep, sizeof(*op));
	if (op == NULL)
		return 0;
	rc = r->api->core.ops->write(r->api->core.ctx, &cmd,
				     api_deadline(r->api), on_revoked, op);
	return rc != 0 ? api_op_fail(op, rc, "token revoke") : HTTP_PENDING;
}
