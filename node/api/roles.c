/*
 * roles.c: roles and their permissions (issue 13):
 *   GET    /api/v1/roles          {"roles": [role, ...]} (built-in first)
 *   GET    /api/v1/roles/NAME     role
 *   PUT    /api/v1/roles/NAME     {"description"?, "permissions": [...]}
 *                                 creates or replaces -> 200 role
 *   DELETE /api/v1/roles/NAME     {"deleted": true}
 * role = {"name", "description", "permissions", "builtin"}. A permission
 * is "resource.verb" (docs/api.md lists them) where "*" stands for a
 * whole part. The built-in roles admin ("*") and read ("*.read") cannot
 * be changed or deleted (409). A caller may define only permissions it
 * holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"

#define BAD_ROLE                                                           \
	"role names are [a-z0-9_-]{1,32}; permissions \"resource.verb\" "  \
	"of [a-z0-9_-] words or \"*\" (at most 64 of 48 bytes)"

struct roleop {
	struct api_op op;
	int show; /* 1: GET one; 0: list */
	int deleted;
	char name[CORE_ROLE_NAME_MAX + 1];
};

static cJSON *role_json(const struct core_role_def *r)
{
	cJSON *o = cJSON_CreateObject(), *p;

	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddStringToObject(o, "description", r->desc);
	p = cJSON_AddArrayToObject(o, "permissions");
	for (size_t i = 0; i < r->nperms; i++)
		cJSON_AddItemToArray(p, cJSON_CreateString(r->perms[i]));
	cJSON_AddBoolToObject(o, "builtin", r->builtin);
	return o;
}

static int path_role(struct api_req *r, struct http_reply *rep, char *name)
{
	if (r->rest_len == 0 || r->rest_len > CORE_ROLE_NAME_MAX ||
	    memchr(r->rest, '/', r->rest_len) != NULL) {
		api_error(rep, 404, "no such role");
		return 1;
	}
	memcpy(name, r->rest, r->rest_len);
	name[r->rest_len] = '\0';
	return 0;
}

static void answer_roles(struct http_reply *rep, const struct core *c,
			 const char *name)
{
	struct core_role_def *v = calloc(CORE_ROLES_MAX, sizeof(*v));
	size_t n = 0;
	cJSON *j, *arr;
	int rc;

	if (v == NULL || c->ops->role_list == NULL) {
		free(v);
		api_error(rep, 500, "roles unavailable");
		return;
	}
	if (name != NULL) {
		rc = c->ops->role_get(c->ctx, name, &v[0]);
		if (rc == 0)
			api_json(rep, 200, role_json(&v[0]));
		else if (rc == ERR_NOTFOUND)
			api_error(rep, 404, "no such role");
		else
			api_core_error(rep, rc, "role read");
		free(v);
		return;
	}
	rc = c->ops->role_list(c->ctx, v, CORE_ROLES_MAX, &n);
	if (rc != 0) {
		api_core_error(rep, rc, "role list");
	} else {
		j = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(j, "roles");
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, role_json(&v[i]));
		api_json(rep, 200, j);
	}
	free(v);
}

static void on_roles_barrier(void *arg, int status)
{
	struct roleop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);

	if (rep != NULL && status != 0)
		api_core_error(rep, status, "role read");
	else if (rep != NULL)
		answer_roles(rep, &o->op.api->core, o->show ? o->name : NULL);
	api_op_finish(&o->op);
}

static int roles_read(struct api_req *r, struct http_reply *rep, int show)
{
	char name[CORE_ROLE_NAME_MAX + 1] = "";
	struct roleop *o;
	int rc;

	if (show && path_role(r, rep, name) != 0)
		return 0;
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	o->show = show;
	memcpy(o->name, name, sizeof(name));
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api),
					    on_roles_barrier, o);
	return rc != 0 ? api_op_fail(&o->op, rc, "role read") : HTTP_PENDING;
}

int api_roles_list(struct api_req *r, struct http_reply *rep)
{
	return roles_read(r, rep, 0);
}

int api_roles_show(struct api_req *r, struct http_reply *rep)
{
	return roles_read(r, rep, 1);
}

static void on_role_written(void *arg, const struct core_write_result *res)
{
	struct roleop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);

	if (rep != NULL && res->status == 0 && res->result == ERR_CONFLICT) {
		api_error(rep, 409, "the role '%s' is built in and cannot be "
				    "changed", o->name);
	} else if (rep != NULL && !api_write_failed(rep, res, "role", "role")) {
		if (o->deleted) {
			cJSON *j = cJSON_CreateObject();

			cJSON_AddTrueToObject(j, "deleted");
			api_json(rep, 200, j);
		} else {
			answer_roles(rep, &o->op.api->core, o->name);
		}
	}
	api_op_finish(&o->op);
}

static int role_write(struct api_req *r, struct http_reply *rep,
		      const struct core_cmd *cmd, int deleted)
{
	const struct core *c = &r->api->core;
	struct core_role_def cur;
	struct roleop *o;
	int rc;

	if (c->ops->role_get != NULL &&
	    c->ops->role_get(c->ctx, cmd->u.role.name, &cur) == 0 &&
	    cur.builtin)
		return api_error(rep, 409, "the role '%s' is built in and "
					   "cannot be changed",
				 cmd->u.role.name);
	if (!deleted && !api_token_may_define(r->api, r->token, &cmd->u.role))
		return api_error(rep, 403, "this token may not define a role "
					   "with permissions it lacks");
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	o->deleted = deleted;
	memcpy(o->name, cmd->u.role.name, sizeof(o->name));
	rc = r->api->core.ops->write(r->api->core.ctx, cmd,
				     api_deadline(r->api), on_role_written, o);
	if (rc == ERR_INVAL) {
		struct http_reply *orep = api_op_reply(&o->op);

		if (orep != NULL)
			api_error(orep, 400, "invalid role (%s; admin and read "
					     "are built in)", BAD_ROLE);
		api_op_finish(&o->op);
		return HTTP_PENDING;
	}
	return rc != 0 ? api_op_fail(&o->op, rc, "role") : HTTP_PENDING;
}

int api_roles_put(struct api_req *r, struct http_reply *rep)
{
	struct core_cmd cmd;
	const cJSON *perms, *e;
	const char *desc;
	cJSON *j;
	int bad = 0;

	memset(&cmd, 0, sizeof(cmd));
	if (path_role(r, rep, cmd.u.role.name) != 0)
		return 0;
	j = api_body_json(r->http, rep);
	if (j == NULL)
		return 0;
	desc = api_json_str(j, "description");
	perms = cJSON_GetObjectItemCaseSensitive(j, "permissions");
	if (!cJSON_IsArray(perms) ||
	    cJSON_GetArraySize(perms) > CORE_ROLE_PERMS_MAX ||
	    (desc != NULL && strlen(desc) > CORE_ROLE_DESC_MAX))
		bad = 1;
	if (bad)
		perms = NULL;
	cJSON_ArrayForEach(e, perms) {
		if (!cJSON_IsString(e) ||
		    strlen(e->valuestring) > CORE_PERM_MAX) {
			bad = 1;
			break;
		}
		snprintf(cmd.u.role.perms[cmd.u.role.nperms++],
			 CORE_PERM_MAX + 1, "%s", e->valuestring);
	}
	if (desc != NULL && !bad)
		snprintf(cmd.u.role.desc, sizeof(cmd.u.role.desc), "%s", desc);
	cJSON_Delete(j);
	if (bad)
		return api_error(rep, 400, "body: {\"description\": text, "
					   "\"permissions\": [...]}; %s",
				 BAD_ROLE);
	cmd.type = CORE_CMD_ROLE_PUT;
	return role_write(r, rep, &cmd, 0);
}

int api_roles_delete(struct api_req *r, struct http_reply *rep)
{
	struct core_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	if (path_role(r, rep, cmd.u.role.name) != 0)
		return 0;
	cmd.type = CORE_CMD_ROLE_DEL;
	return role_write(r, rep, &cmd, 1);
}
