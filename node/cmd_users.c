/*
 * cmd_users.c: node/core.h's users, roles and token roles to and from
 * storage/udomain.h (issue 13); the part of cmd.c for that domain.
 */
#include "node/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "storage/cdomain.h"
#include "storage/udomain.h"

_Static_assert(CORE_USER_NAME_MAX == STOR_USER_NAME_MAX, "user names");
_Static_assert(CORE_USER_REASON_MAX == STOR_USER_REASON_MAX, "reasons");
_Static_assert(CORE_ROLE_NAME_MAX == STOR_ROLE_NAME_MAX &&
		       CORE_ROLE_NAME_MAX == STOR_CL_ROLE_NAME_MAX,
	       "role names");
_Static_assert(CORE_ROLE_DESC_MAX == STOR_ROLE_DESC_MAX, "descriptions");
_Static_assert(CORE_PERM_MAX == STOR_PERM_MAX, "permissions");
_Static_assert(CORE_ROLE_PERMS_MAX == STOR_ROLE_PERMS_MAX, "perms per role");
_Static_assert(CORE_ROLES_PER_MAX == STOR_USER_ROLES_MAX &&
		       CORE_ROLES_PER_MAX == STOR_CL_TOKEN_ROLES_MAX,
	       "roles per user and token");
_Static_assert(CORE_USER_NAME_MAX == STOR_CL_USER_MAX, "token user");
_Static_assert(CORE_USERS_MAX == STOR_USERS_MAX, "users listed");
_Static_assert(CORE_ROLES_MAX == STOR_ROLES_MAX, "roles listed");
_Static_assert(CORE_USER_BATCH_MAX == STOR_USER_BATCH_MAX, "batch");
_Static_assert((int)CORE_USER_F_ADMIN == (int)STOR_USER_F_ADMIN &&
		       (int)CORE_USER_F_WHITELIST == (int)STOR_USER_F_WHITELIST &&
		       (int)CORE_USER_F_BAN == (int)STOR_USER_F_BAN &&
		       (int)CORE_USER_F_ROLES == (int)STOR_USER_F_ROLES,
	       "update fields");
/* The records have the same shapes field by field. */
_Static_assert(sizeof(((struct core_user *)0)->roles) ==
		       sizeof(((struct stor_user *)0)->roles),
	       "user roles");
_Static_assert(sizeof(((struct core_role_def *)0)->perms) ==
		       sizeof(((struct stor_role *)0)->perms),
	       "role perms");

static void user_to_stor(const struct core_user *u, struct stor_user *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", u->name);
	o->admin = u->admin;
	o->whitelisted = u->whitelisted;
	o->banned = u->banned;
	snprintf(o->reason, sizeof(o->reason), "%s", u->reason);
	o->nroles = u->nroles;
	memcpy(o->roles, u->roles, sizeof(o->roles));
	o->updated = u->updated;
	o->origin = u->origin;
}

static void user_from_stor(const struct stor_user *u, struct core_user *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->name, u->name, sizeof(o->name));
	o->admin = u->admin;
	o->whitelisted = u->whitelisted;
	o->banned = u->banned;
	memcpy(o->reason, u->reason, sizeof(o->reason));
	o->nroles = u->nroles;
	memcpy(o->roles, u->roles, sizeof(o->roles));
	o->updated = u->updated;
	o->origin = u->origin;
}

static void role_to_stor(const struct core_role_def *r, struct stor_role *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", r->name);
	snprintf(o->desc, sizeof(o->desc), "%s", r->desc);
	o->nperms = r->nperms;
	memcpy(o->perms, r->perms, sizeof(o->perms));
}

static void role_from_stor(const struct stor_role *r, struct core_role_def *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->name, r->name, sizeof(o->name));
	memcpy(o->desc, r->desc, sizeof(o->desc));
	o->builtin = r->builtin;
	o->nperms = r->nperms;
	memcpy(o->perms, r->perms, sizeof(o->perms));
}

static int encode_update(const struct core_cmd *cmd, uint8_t **out,
			 size_t *len)
{
	struct stor_user_cmd c;
	struct stor_user_upd *v;
	size_t n = cmd->u.users.n;
	int rc;

	if (n == 0 || n > CORE_USER_BATCH_MAX || cmd->u.users.upd == NULL)
		return ERR_INVAL;
	v = calloc(n, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		user_to_stor(&cmd->u.users.upd[i].u, &v[i].u);
		v[i].mask = cmd->u.users.upd[i].mask;
	}
	memset(&c, 0, sizeof(c));
	c.op = STOR_USER_UPDATE;
	c.upd = v;
	c.nupd = n;
	c.upsert = cmd->u.users.upsert;
	c.origin = cmd->u.users.origin;
	rc = stor_user_encode(&c, out, len);
	free(v);
	return rc;
}

int core_users_cmd_encode(const struct core_cmd *cmd, uint8_t **out,
			  size_t *len)
{
	struct stor_user_cmd c;

	memset(&c, 0, sizeof(c));
	switch (cmd->type) {
	case CORE_CMD_USER_CREATE:
		c.op = STOR_USER_CREATE;
		user_to_stor(&cmd->u.user, &c.user);
		break;
	case CORE_CMD_USER_UPDATE:
		return encode_update(cmd, out, len);
	case CORE_CMD_USER_DELETE:
		c.op = STOR_USER_DELETE;
		snprintf(c.user.name, sizeof(c.user.name), "%s",
			 cmd->u.user.name);
		break;
	case CORE_CMD_ROLE_PUT:
		c.op = STOR_ROLE_PUT;
		role_to_stor(&cmd->u.role, &c.role);
		break;
	case CORE_CMD_ROLE_DEL:
		c.op = STOR_ROLE_DEL;
		snprintf(c.role.name, sizeof(c.role.name), "%s",
			 cmd->u.role.name);
		break;
	default:
		return ERR_INVAL;
	}
	return stor_user_encode(&c, out, len);
}

void core_token_roles_to_stor(const struct core_token *t,
			      struct stor_cl_token *o)
{
	o->nroles = t->nroles <= CORE_ROLES_PER_MAX ? t->nroles
						    : CORE_ROLES_PER_MAX;
	memcpy(o->roles, t->roles, sizeof(o->roles));
	snprintf(o->user, sizeof(o->user), "%s", t->user);
}

void core_token_roles_from_stor(const struct stor_cl_token *t,
				struct core_token *o)
{
	o->nroles = t->nroles;
	memcpy(o->roles, t->roles, sizeof(o->roles));
	memcpy(o->user, t->user, sizeof(o->user));
}

int core_stor_user_get(struct stor *s, const char *name,
		       struct core_user *out)
{
	struct stor_user u;
	int rc = stor_user_get(s, name, &u);

	if (rc == 0)
		user_from_stor(&u, out);
	return rc;
}

int core_stor_user_list(struct stor *s, struct core_user *out, size_t max,
			size_t *n)
{
	struct stor_user *v;
	int rc;

	*n = 0;
	if (max > CORE_USERS_MAX)
		max = CORE_USERS_MAX;
	v = calloc(max ? max : 1, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	rc = stor_user_list(s, v, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++)
		user_from_stor(&v[i], &out[i]);
	free(v);
	return rc;
}

int core_stor_role_get(struct stor *s, const char *name,
		       struct core_role_def *out)
{
	struct stor_role r;
	int rc = stor_role_get(s, name, &r);

	if (rc == 0)
		role_from_stor(&r, out);
	return rc;
}

int core_stor_role_list(struct stor *s, struct core_role_def *out, size_t max,
			size_t *n)
{
	struct stor_role *v;
	int rc;

	*n = 0;
	if (max > CORE_ROLES_MAX)
		max = CORE_ROLES_MAX;
	v = calloc(max ? max : 1, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	rc = stor_role_list(s, v, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++)
		role_from_stor(&v[i], &out[i]);
	free(v);
	return rc;
}
