/*
 * perm.c: what a token may do (issue 13). A token's permissions are the
 * union of its roles' and its user's roles'; a token made before roles
 * existed has the one role its role field names (admin or read). Roles
 * are read from the node's applied state at each check (a few local
 * point reads), so a role changed in the cluster applies to the next
 * request without any cache to invalidate.
 */
#include <string.h>

#include "node/api/api_int.h"

/* Role names of a token: its own (at most CORE_ROLES_PER_MAX) and its
 * user's (as many). */
#define NAMES_MAX (2 * CORE_ROLES_PER_MAX)

static size_t token_roles(struct api *a, const struct core_token *t,
			  char names[NAMES_MAX][CORE_ROLE_NAME_MAX + 1])
{
	const struct core *c = &a->core;
	struct core_user u;
	size_t n = 0;

	for (size_t i = 0; i < t->nroles && i < CORE_ROLES_PER_MAX; i++)
		memcpy(names[n++], t->roles[i], CORE_ROLE_NAME_MAX + 1);
	if (t->nroles == 0)
		strcpy(names[n++], t->role == CORE_ROLE_READ ? "read" : "admin");
	if (t->user[0] != '\0' && c->ops->user_get != NULL &&
	    c->ops->user_get(c->ctx, t->user, &u) == 0)
		for (size_t i = 0; i < u.nroles && i < CORE_ROLES_PER_MAX; i++)
			memcpy(names[n++], u.roles[i], CORE_ROLE_NAME_MAX + 1);
	return n;
}

/* A role's definition; the built-in ones are known without the core. */
static int role_get(struct api *a, const char *name, struct core_role_def *r)
{
	const struct core *c = &a->core;

	if (c->ops->role_get != NULL)
		return c->ops->role_get(c->ctx, name, r);
	memset(r, 0, sizeof(*r));
	if (strcmp(name, "admin") != 0 && strcmp(name, "read") != 0)
		return -1;
	strcpy(r->name, name);
	strcpy(r->perms[0], name[0] == 'a' ? "*" : "*.read");
	r->nperms = 1;
	r->builtin = 1;
	return 0;
}

/* 1 if one of the token's roles has a pattern matching want. */
static int token_has(struct api *a, const struct core_token *t,
		     const char *want)
{
	char names[NAMES_MAX][CORE_ROLE_NAME_MAX + 1];
	size_t n = token_roles(a, t, names);
	struct core_role_def r;

	for (size_t i = 0; i < n; i++) {
		if (role_get(a, names[i], &r) != 0)
			continue;
		for (size_t k = 0; k < r.nperms; k++)
			if (core_perm_match(r.perms[k], want))
				return 1;
	}
	return 0;
}

int api_token_allows(struct api *a, const struct core_token *t,
		     const char *perm)
{
	/* "" (whoami): any valid token; NULL: "*" holders only. */
	if (perm != NULL && perm[0] == '\0')
		return 1;
	return token_has(a, t, perm ? perm : "*");
}

/* GET /api/v1/whoami: the caller's token, roles and permissions, so a
 * client (the web UI) can offer only what it may do. */
int api_whoami(struct api_req *r, struct http_reply *rep)
{
	char names[NAMES_MAX][CORE_ROLE_NAME_MAX + 1];
	struct core_role_def def;
	cJSON *j, *roles, *perms;
	size_t n;

	if (r->token == NULL)
		return api_error(rep, 404, "no token on this request");
	n = token_roles(r->api, r->token, names);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", r->token->id);
	cJSON_AddStringToObject(j, "name", r->token->name);
	cJSON_AddStringToObject(j, "user", r->token->user);
	roles = cJSON_AddArrayToObject(j, "roles");
	perms = cJSON_AddArrayToObject(j, "permissions");
	for (size_t i = 0; i < n; i++) {
		cJSON_AddItemToArray(roles, cJSON_CreateString(names[i]));
		if (role_get(r->api, names[i], &def) != 0)
			continue;
		for (size_t k = 0; k < def.nperms; k++)
			cJSON_AddItemToArray(perms,
					     cJSON_CreateString(def.perms[k]));
	}
	return api_json(rep, 200, j);
}

int api_token_may_grant(struct api *a, const struct core_token *t,
			const char *role)
{
	struct core_role_def r;

	if (t == NULL) /* an unjoined node's join: no token at all */
		return 1;
	if (role_get(a, role, &r) != 0)
		return 0;
	for (size_t k = 0; k < r.nperms; k++)
		if (!token_has(a, t, r.perms[k]))
			return 0;
	return 1;
}

int api_token_may_define(struct api *a, const struct core_token *t,
			 const struct core_role_def *r)
{
	for (size_t k = 0; t != NULL && k < r->nperms; k++)
		if (!token_has(a, t, r->perms[k]))
			return 0;
	return 1;
}
