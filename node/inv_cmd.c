/*
 * inv_cmd.c: the inventory domain (storage/invdomain.h) as node/core.h
 * shows it: encoding of the CORE_CMD_INV_* commands and the local reads
 * behind the core's inv_* ops. Shared by the node core and the API
 * tests' fake core, like cmd.c.
 */
#include "node/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "storage/invdomain.h"

_Static_assert(CORE_INV_PLAYER_MAX == STOR_INVD_PLAYER_MAX, "player names");
_Static_assert(CORE_INV_JSON_MAX == STOR_INVD_RAW_MAX, "inventory size");
_Static_assert(CORE_NAME_MAX == STOR_INVD_ADMIN_MAX, "admin names");
_Static_assert((int)CORE_INV_WHY_ADMIN == (int)STOR_INVD_WHY_ADMIN &&
		       (int)CORE_INV_WHY_NODE_DEAD ==
			       (int)STOR_INVD_WHY_NODE_DEAD &&
		       (int)CORE_INV_WHY_INSTANCE_STOPPED ==
			       (int)STOR_INVD_WHY_INSTANCE_STOPPED,
	       "reasons");

int core_inv_encode(const struct core_cmd *cmd, uint8_t **out, size_t *len)
{
	static const int ops[] = {STOR_INVD_ACQUIRE,       STOR_INVD_RELEASE,
				  STOR_INVD_UPLOAD,        STOR_INVD_EXPIRE,
				  STOR_INVD_ADMIN_RELEASE, STOR_INVD_IMPORT};
	struct stor_invd_cmd c;

	if (cmd->type < CORE_CMD_INV_ACQUIRE ||
	    cmd->type > CORE_CMD_INV_IMPORT || cmd->u.inv.player == NULL ||
	    strlen(cmd->u.inv.player) > CORE_INV_PLAYER_MAX)
		return ERR_INVAL;
	memset(&c, 0, sizeof(c));
	c.op = ops[cmd->type - CORE_CMD_INV_ACQUIRE];
	snprintf(c.player, sizeof(c.player), "%s", cmd->u.inv.player);
	c.instance = cmd->u.inv.instance;
	c.node = cmd->u.inv.node;
	c.gen = cmd->u.inv.gen;
	c.release = cmd->u.inv.release;
	c.why = cmd->u.inv.why;
	if (cmd->u.inv.admin != NULL) {
		if (strlen(cmd->u.inv.admin) > STOR_INVD_ADMIN_MAX)
			return ERR_INVAL;
		snprintf(c.admin, sizeof(c.admin), "%s", cmd->u.inv.admin);
	}
	c.json = cmd->u.inv.json;
	c.json_len = cmd->u.inv.json_len;
	return stor_invd_encode(&c, out, len);
}

static void from_lock(const struct stor_invd_lock *l, struct core_inv_lock *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->player, sizeof(o->player), "%s", l->player);
	o->held = l->state == STOR_INVD_HELD;
	o->instance = l->instance;
	o->node = l->node;
	o->gen = l->gen;
	o->since = l->since;
	o->why = l->why;
	snprintf(o->by, sizeof(o->by), "%s", l->by);
}

static void add_meta(const struct stor_invd_meta *m, struct core_inv_lock *o)
{
	o->stored = 1;
	o->stored_gen = m->gen;
	o->stored_instance = m->instance;
	o->stored_index = m->index;
	o->raw_len = m->raw_len;
	o->stored_len = m->stored_len;
}

int core_stor_inv_get(struct stor *s, const char *player,
		      struct core_inv_lock *out)
{
	struct stor_invd_lock l;
	struct stor_invd_meta m;
	int rc = stor_invd_lock_get(s, player, &l);

	if (rc != 0)
		return rc;
	from_lock(&l, out);
	rc = stor_invd_meta_get(s, player, &m);
	if (rc == 0)
		add_meta(&m, out);
	return rc == ERR_NOTFOUND ? 0 : rc;
}

int core_stor_inv_list(struct stor *s, const char *after, int held_only,
		       struct core_inv_lock *out, size_t max, size_t *n)
{
	struct stor_invd_lock *v;
	struct stor_invd_meta m;
	int rc;

	*n = 0;
	if (max > CORE_LIST_MAX)
		max = CORE_LIST_MAX;
	v = calloc(max ? max : 1, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	rc = held_only ? stor_invd_list_held(s, after, v, max, n)
		       : stor_invd_list(s, after, v, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++) {
		from_lock(&v[i], &out[i]);
		if (!held_only && stor_invd_meta_get(s, v[i].player, &m) == 0)
			add_meta(&m, &out[i]);
	}
	free(v);
	return rc;
}

int core_stor_inv_data(struct stor *s, const char *player,
		       struct core_inv_lock *lock, char **json, size_t *len)
{
	struct stor_invd_meta m;
	int rc = core_stor_inv_get(s, player, lock);

	if (rc != 0)
		return rc;
	rc = stor_invd_data(s, player, &m, json, len);
	if (rc == 0)
		add_meta(&m, lock);
	return rc;
}
