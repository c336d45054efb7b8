/*
 * users.c: Factorio users and their lists (issue 13):
 *   GET    /api/v1/users             {"users": [user, ...]}
 *   POST   /api/v1/users             {"name", fields...} -> 201 user
 *   GET    /api/v1/users/NAME        user (NAME in any case)
 *   PATCH  /api/v1/users/NAME        {fields...} -> 200 user; 404 unless
 *                                    "create": true
 *   DELETE /api/v1/users/NAME        {"deleted": true}
 *   GET    /api/v1/user-lists        {"adminlist": [name], "banlist":
 *          [{"username", "reason"}], "whitelist": [name]}: Factorio's
 *          server-*.json contents
 *   POST   /api/v1/user-lists        the same shape (a banlist entry may
 *          be a plain name): merged into the users (names created as
 *          needed, flags set, nobody's flag cleared), at most
 *          CORE_USER_BATCH_MAX names per request -> {"imported": N}
 * fields: "admin", "whitelisted", "banned" (booleans), "reason" (with
 * banned), "roles" (names of existing roles the caller may grant).
 * user = {"name", "admin", "whitelisted", "banned", "reason", "roles",
 * "updated" (log index of the last change), "origin" (instance id of the
 * game that made it; 0: the API)}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "node/api/api_int.h"

#define BAD_INPUT                                                          \
	"names are 1..64 bytes of [A-Za-z0-9_.-], a reason up to 200 "     \
	"bytes without control characters, roles [a-z0-9_-]{1,32}"

struct uop {
	struct api_op op;
	int status;  /* HTTP status of a success */
	char name[CORE_USER_NAME_MAX + 1];
	size_t imported;
	struct core_user_upd *upd; /* owned (imports) */
};

cJSON *api_user_json(const struct core_user *u)
{
	cJSON *o = cJSON_CreateObject(), *roles;

	cJSON_AddStringToObject(o, "name", u->name);
	cJSON_AddBoolToObject(o, "admin", u->admin);
	cJSON_AddBoolToObject(o, "whitelisted", u->whitelisted);
	cJSON_AddBoolToObject(o, "banned", u->banned);
	cJSON_AddStringToObject(o, "reason", u->reason);
	roles = cJSON_AddArrayToObject(o, "roles");
	for (size_t i = 0; i < u->nroles; i++)
		cJSON_AddItemToArray(roles, cJSON_CreateString(u->roles[i]));
	cJSON_AddNumberToObject(o, "updated", (double)u->updated);
	cJSON_AddNumberToObject(o, "origin", (double)u->origin);
	return o;
}

/* The NAME of the path (percent-decoded); 1 with a 404 written if it
 * cannot be a name. */
static int path_name(struct api_req *r, struct http_reply *rep, char *name,
		     size_t size)
{
	size_t n = 0;

	if (r->rest_len == 0 || memchr(r->rest, '/', r->rest_len) != NULL ||
	    api_pct_decode(r->rest, r->rest_len, (uint8_t *)name, size - 1,
			   &n) != 0 ||
	    n == 0) {
		api_error(rep, 404, "no such user");
		return 1;
	}
	name[n] = '\0';
	return 0;
}

/* Reads "roles" (an array of role names): each must exist and be one the
 * caller may grant. 0, or 1 with a 400/403 written. */
int api_parse_roles(struct api_req *r, struct http_reply *rep,
		    const cJSON *arr, uint8_t *nroles,
		    char roles[][CORE_ROLE_NAME_MAX + 1])
{
	const struct core *c = &r->api->core;
	struct core_role_def def;
	const cJSON *e;
	size_t n = 0;

	if (!cJSON_IsArray(arr) ||
	    cJSON_GetArraySize(arr) > CORE_ROLES_PER_MAX)
		return api_error(rep, 400, "roles: an array of at most %d "
					   "role names", CORE_ROLES_PER_MAX), 1;
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsString(e) ||
		    strlen(e->valuestring) > CORE_ROLE_NAME_MAX ||
		    c->ops->role_get == NULL ||
		    c->ops->role_get(c->ctx, e->valuestring, &def) != 0)
			return api_error(rep, 400, "no such role: %s",
					 cJSON_IsString(e) ? e->valuestring
							   : "(not a string)"), 1;
		if (!api_token_may_grant(r->api, r->token, e->valuestring))
			return api_error(rep, 403, "this token may not grant "
						   "the role '%s' (it lacks "
						   "some of its permissions)",
					 e->valuestring), 1;
		snprintf(roles[n++], CORE_ROLE_NAME_MAX + 1, "%s",
			 e->valuestring);
	}
	*nroles = (uint8_t)n;
	return 0;
}

static int bool_field(const cJSON *j, const char *key, uint8_t *v, int *set)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, key);

	*set = b != NULL;
	if (b == NULL)
		return 0;
	if (!cJSON_IsBool(b))
		return -1;
	*v = cJSON_IsTrue(b) ? 1 : 0;
	return 0;
}

/* Fills an update from a body's fields; 1 with the answer written. */
static int parse_fields(struct api_req *r, struct http_reply *rep,
			const cJSON *j, struct core_user_upd *d)
{
	const cJSON *roles = cJSON_GetObjectItemCaseSensitive(j, "roles");
	const char *reason = api_json_str(j, "reason");
	int set;

	if (bool_field(j, "admin", &d->u.admin, &set) != 0)
		return api_error(rep, 400, "admin: a boolean"), 1;
	d->mask |= set ? CORE_USER_F_ADMIN : 0;
	if (bool_field(j, "whitelisted", &d->u.whitelisted, &set) != 0)
		return api_error(rep, 400, "whitelisted: a boolean"), 1;
	d->mask |= set ? CORE_USER_F_WHITELIST : 0;
	if (bool_field(j, "banned", &d->u.banned, &set) != 0)
		return api_error(rep, 400, "banned: a boolean"), 1;
	d->mask |= set ? CORE_USER_F_BAN : 0;
	if (reason != NULL && strlen(reason) > CORE_USER_REASON_MAX)
		return api_error(rep, 400, "reason: at most %d bytes",
				 CORE_USER_REASON_MAX), 1;
	if (reason != NULL)
		snprintf(d->u.reason, sizeof(d->u.reason), "%s", reason);
	if (roles != NULL) {
		if (api_parse_roles(r, rep, roles, &d->u.nroles, d->u.roles))
			return 1;
		d->mask |= CORE_USER_F_ROLES;
	}
	return 0;
}

/* The answer of a user write: the record as this node now has it. */
static void on_user_written(void *arg, const struct core_write_result *res)
{
	struct uop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;
	struct core_user u;
	cJSON *j;

	if (rep == NULL || api_write_failed(rep, res, "user", "user"))
		goto out;
	if (o->status == 0) {
		j = cJSON_CreateObject();
		cJSON_AddTrueToObject(j, "deleted");
		api_json(rep, 200, j);
	} else if (o->upd != NULL) {
		j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "imported", (double)o->imported);
		cJSON_AddNumberToObject(j, "index", (double)res->index);
		api_json(rep, 200, j);
	} else if (c->ops->user_get(c->ctx, o->name, &u) == 0) {
		api_json(rep, o->status, api_user_json(&u));
	} else {
		api_error(rep, 404, "no such user");
	}
out:
	free(o->upd);
	api_op_finish(&o->op);
}

/* Proposes cmd for o; answers a refused command with BAD_INPUT. */
static int user_write(struct api_req *r, struct uop *o,
		      const struct core_cmd *cmd)
{
	int rc = r->api->core.ops->write(r->api->core.ctx, cmd,
					 api_deadline(r->api), on_user_written,
					 o);

	if (rc == ERR_INVAL) {
		struct http_reply *rep = api_op_reply(&o->op);

		if (rep != NULL)
			api_error(rep, 400, "invalid user: %s", BAD_INPUT);
		free(o->upd);
		api_op_finish(&o->op);
		return HTTP_PENDING;
	}
	if (rc != 0) {
		free(o->upd);
		return api_op_fail(&o->op, rc, "user");
	}
	return HTTP_PENDING;
}

int api_users_create(struct api_req *r, struct http_reply *rep)
{
	struct core_user_upd d;
	struct core_cmd cmd;
	struct uop *o;
	const char *name;
	cJSON *j = api_body_json(r->http, rep);

	if (j == NULL)
		return 0;
	memset(&d, 0, sizeof(d));
	name = api_json_str(j, "name");
	if (name == NULL || strlen(name) > CORE_USER_NAME_MAX) {
		cJSON_Delete(j);
		return api_error(rep, 400, "name: %s", BAD_INPUT);
	}
	snprintf(d.u.name, sizeof(d.u.name), "%s", name);
	if (parse_fields(r, rep, j, &d) != 0) {
		cJSON_Delete(j);
		return 0;
	}
	cJSON_Delete(j);
	if (!d.u.banned)
		d.u.reason[0] = '\0';
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	o->status = 201;
	memcpy(o->name, d.u.name, sizeof(o->name));
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_USER_CREATE;
	cmd.u.user = d.u;
	return user_write(r, o, &cmd);
}

int api_users_update(struct api_req *r, struct http_reply *rep)
{
	struct core_user_upd d;
	struct core_cmd cmd;
	const cJSON *create;
	struct uop *o;
	cJSON *j;

	memset(&d, 0, sizeof(d));
	if (path_name(r, rep, d.u.name, sizeof(d.u.name)) != 0)
		return 0;
	j = api_body_json(r->http, rep);
	if (j == NULL)
		return 0;
	create = cJSON_GetObjectItemCaseSensitive(j, "create");
	if (parse_fields(r, rep, j, &d) != 0) {
		cJSON_Delete(j);
		return 0;
	}
	cJSON_Delete(j);
	if (d.mask == 0)
		return api_error(rep, 400, "nothing to change: give admin, "
					   "whitelisted, banned or roles");
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	o->status = 200;
	memcpy(o->name, d.u.name, sizeof(o->name));
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_USER_UPDATE;
	cmd.u.users.upd = &d;
	cmd.u.users.n = 1;
	cmd.u.users.upsert = cJSON_IsTrue(create) ? 1 : 0;
	return user_write(r, o, &cmd);
}

int api_users_delete(struct api_req *r, struct http_reply *rep)
{
	struct core_cmd cmd;
	struct uop *o;

	memset(&cmd, 0, sizeof(cmd));
	if (path_name(r, rep, cmd.u.user.name, sizeof(cmd.u.user.name)) != 0)
		return 0;
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	o->status = 0;
	cmd.type = CORE_CMD_USER_DELETE;
	return user_write(r, o, &cmd);
}

/* --- reads --------------------------------------------------------------- */

enum { READ_LIST = 1, READ_SHOW, READ_LISTS };

struct rop {
	struct api_op op;
	int what;
	char name[CORE_USER_NAME_MAX + 1];
};

static cJSON *lists_json(const struct core_user *v, size_t n)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *a = cJSON_AddArrayToObject(j, "adminlist");
	cJSON *b = cJSON_AddArrayToObject(j, "banlist");
	cJSON *w = cJSON_AddArrayToObject(j, "whitelist");

	for (size_t i = 0; i < n; i++) {
		cJSON *e;

		if (v[i].admin)
			cJSON_AddItemToArray(a, cJSON_CreateString(v[i].name));
		if (v[i].whitelisted)
			cJSON_AddItemToArray(w, cJSON_CreateString(v[i].name));
		if (!v[i].banned)
			continue;
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "username", v[i].name);
		cJSON_AddStringToObject(e, "reason", v[i].reason);
		cJSON_AddItemToArray(b, e);
	}
	return j;
}

static void answer_list(struct http_reply *rep, const struct core *c,
			int lists)
{
	struct core_user *v = calloc(CORE_USERS_MAX, sizeof(*v));
	size_t n = 0;
	cJSON *j, *arr;
	int rc;

	if (v == NULL || c->ops->user_list == NULL) {
		free(v);
		api_error(rep, 500, "users unavailable");
		return;
	}
	rc = c->ops->user_list(c->ctx, v, CORE_USERS_MAX, &n);
	if (rc != 0) {
		api_core_error(rep, rc, "user list");
	} else if (lists) {
		api_json(rep, 200, lists_json(v, n));
	} else {
		j = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(j, "users");
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, api_user_json(&v[i]));
		api_json(rep, 200, j);
	}
	free(v);
}

static void on_read_barrier(void *arg, int status)
{
	struct rop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;
	struct core_user u;

	if (rep == NULL)
		goto out;
	if (status != 0) {
		api_core_error(rep, status, "user read");
	} else if (o->what != READ_SHOW) {
		answer_list(rep, c, o->what == READ_LISTS);
	} else if (c->ops->user_get == NULL ||
		   c->ops->user_get(c->ctx, o->name, &u) != 0) {
		api_error(rep, 404, "no such user");
	} else {
		api_json(rep, 200, api_user_json(&u));
	}
out:
	api_op_finish(&o->op);
}

static int user_read(struct api_req *r, struct http_reply *rep, int what)
{
	struct rop *o;
	char name[CORE_USER_NAME_MAX + 1] = "";
	int rc;

	if (what == READ_SHOW && path_name(r, rep, name, sizeof(name)) != 0)
		return 0;
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	o->what = what;
	memcpy(o->name, name, sizeof(o->name));
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api),
					    on_read_barrier, o);
	return rc != 0 ? api_op_fail(&o->op, rc, "user read") : HTTP_PENDING;
}

int api_users_list(struct api_req *r, struct http_reply *rep)
{
	return user_read(r, rep, READ_LIST);
}

int api_users_show(struct api_req *r, struct http_reply *rep)
{
	return user_read(r, rep, READ_SHOW);
}

int api_user_lists_get(struct api_req *r, struct http_reply *rep)
{
	return user_read(r, rep, READ_LISTS);
}

/* --- import ------------------------------------------------------------- */

/* The update for name in v[0..*n), added if new; NULL when full. */
static struct core_user_upd *upd_for(struct core_user_upd *v, size_t *n,
				     const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp(v[i].u.name, name) == 0)
			return &v[i];
	if (*n == CORE_USER_BATCH_MAX)
		return NULL;
	memset(&v[*n], 0, sizeof(v[*n]));
	snprintf(v[*n].u.name, sizeof(v[*n].u.name), "%s", name);
	return &v[(*n)++];
}

/* Merges one list of the body into v; NULL or an error text. */
static const char *import_list(const cJSON *j, const char *key, int field,
			       struct core_user_upd *v, size_t *n)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, key), *e;

	if (arr == NULL)
		return NULL;
	if (!cJSON_IsArray(arr))
		return "each list must be an array";
	cJSON_ArrayForEach(e, arr) {
		const char *name = cJSON_IsString(e) ? e->valuestring
						     : api_json_str(e, "username");
		const char *reason = cJSON_IsObject(e) ? api_json_str(e, "reason")
						       : NULL;
		struct core_user_upd *d;

		if (name == NULL || strlen(name) > CORE_USER_NAME_MAX ||
		    (reason != NULL && strlen(reason) > CORE_USER_REASON_MAX))
			return "a name or reason is not valid";
		d = upd_for(v, n, name);
		if (d == NULL)
			return "too many names in one import";
		d->mask |= (uint8_t)field;
		if (field == CORE_USER_F_ADMIN)
			d->u.admin = 1;
		else if (field == CORE_USER_F_WHITELIST)
			d->u.whitelisted = 1;
		else {
			d->u.banned = 1;
			snprintf(d->u.reason, sizeof(d->u.reason), "%s",
				 reason ? reason : "");
		}
	}
	return NULL;
}

int api_user_lists_import(struct api_req *r, struct http_reply *rep)
{
	struct core_user_upd *v;
	const char *err = NULL;
	struct core_cmd cmd;
	struct uop *o;
	size_t n = 0;
	cJSON *j = api_body_json(r->http, rep);

	if (j == NULL)
		return 0;
	v = calloc(CORE_USER_BATCH_MAX, sizeof(*v));
	if (v == NULL) {
		cJSON_Delete(j);
		return api_error(rep, 500, "out of memory");
	}
	err = import_list(j, "adminlist", CORE_USER_F_ADMIN, v, &n);
	if (err == NULL)
		err = import_list(j, "banlist", CORE_USER_F_BAN, v, &n);
	if (err == NULL)
		err = import_list(j, "whitelist", CORE_USER_F_WHITELIST, v, &n);
	cJSON_Delete(j);
	if (err != NULL || n == 0) {
		free(v);
		return api_error(rep, err && strstr(err, "many") ? 413 : 400,
				 "import: %s (at most %d names per request; "
				 "%s)", err ? err : "no names",
				 CORE_USER_BATCH_MAX, BAD_INPUT);
	}
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL) {
		free(v);
		return 0;
	}
	o->status = 200;
	o->upd = v;
	o->imported = n;
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_USER_UPDATE;
	cmd.u.users.upd = v;
	cmd.u.users.n = n;
	cmd.u.users.upsert = 1;
	return user_write(r, o, &cmd);
}
