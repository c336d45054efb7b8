/*
 * cmd.c: turns a node/core.h command into the storage command the state
 * machine applies (storage/kvrev.h, storage/cdomain.h). It sits apart
 * from node/api, which must not see storage's headers, and is shared by
 * the node core and the fake core of the API tests.
 */
#include "node/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "storage/cdomain.h"
#include "storage/idomain.h"
#include "storage/kvrev.h"
#include "storage/pdomain.h"
#include "storage/session.h"

/* The two headers must agree on the shapes they share. */
_Static_assert(CORE_NS_MAX == STOR_KVR_NS_MAX, "namespace bound");
_Static_assert(CORE_IDEM_CLIENT_MAX <= STOR_SESS_CLIENT_MAX, "client id");
_Static_assert(CORE_IDEM_WINDOW == STOR_SESS_WINDOW_CLIENT, "window");
_Static_assert(CORE_KEY_MAX == STOR_KVR_KEY_MAX, "key bound");
_Static_assert(CORE_VALUE_MAX == STOR_KVR_VALUE_MAX, "value bound");
_Static_assert(CORE_LIST_MAX == STOR_KVR_LIST_MAX, "list bound");
_Static_assert(CORE_CAS_NONE == STOR_KVR_ANY, "no-CAS marker");
_Static_assert(CORE_TOKEN_ID_LEN == STOR_CL_TOKEN_ID_LEN, "token id");
_Static_assert(CORE_HASH_LEN == STOR_CL_HASH_LEN, "token hash");
_Static_assert(CORE_NAME_MAX == STOR_CL_NAME_MAX, "names");
_Static_assert(CORE_INST_NAME_MAX == STOR_INST_NAME_MAX, "instance names");
_Static_assert(CORE_PLAYER_NAME_MAX == STOR_PLAYER_NAME_MAX + 1, "player names");
_Static_assert(CORE_INST_PW_LEN <= STOR_INST_PW_MAX, "rcon password");
_Static_assert((int)CORE_INST_RUNNING == (int)STOR_INST_RUNNING, "desired states");
_Static_assert((int)CORE_TOKEN_API == (int)STOR_CL_TOKEN_API &&
		       (int)CORE_TOKEN_JOIN == (int)STOR_CL_TOKEN_JOIN,
	       "token kinds");

static void token_to_stor(const struct core_token *t, struct stor_cl_token *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->id, t->id, sizeof(o->id));
	o->id[sizeof(o->id) - 1] = '\0';
	o->kind = t->kind;
	o->role = t->role;
	o->revoked = t->revoked;
	snprintf(o->name, sizeof(o->name), "%s", t->name);
	memcpy(o->hash, t->hash, sizeof(o->hash));
	o->created_ms = t->created_ms;
	o->expires_ms = t->expires_ms;
}

static void inst_to_stor(const struct core_instance *in, struct stor_inst *o)
{
	memset(o, 0, sizeof(*o));
	o->id = in->id;
	snprintf(o->name, sizeof(o->name), "%s", in->name);
	o->node = in->node;
	o->game_port = in->game_port;
	o->rcon_port = in->rcon_port;
	snprintf(o->rcon_pw, sizeof(o->rcon_pw), "%s", in->rcon_pw);
	o->auto_start = in->auto_start;
	o->desired = in->desired;
	snprintf(o->save, sizeof(o->save), "%s", in->save);
}

static void inst_from_stor(const struct stor_inst *in,
			   struct core_instance *o)
{
	memset(o, 0, sizeof(*o));
	o->id = in->id;
	snprintf(o->name, sizeof(o->name), "%s", in->name);
	o->node = in->node;
	o->game_port = in->game_port;
	o->rcon_port = in->rcon_port;
	memcpy(o->rcon_pw, in->rcon_pw,
	       strnlen(in->rcon_pw, sizeof(o->rcon_pw) - 1));
	o->auto_start = in->auto_start;
	o->desired = in->desired;
	snprintf(o->save, sizeof(o->save), "%s", in->save);
}

static int inst_encode(const struct core_cmd *cmd, uint8_t **out,
		       size_t *len)
{
	static const int ops[] = {STOR_INST_CREATE, STOR_INST_ASSIGN,
				  STOR_INST_DESIRED, STOR_INST_DELETE};
	struct stor_inst_cmd c;

	c.op = ops[cmd->type - CORE_CMD_INST_CREATE];
	inst_to_stor(&cmd->u.inst, &c.inst);
	return stor_inst_encode(&c, out, len);
}

int core_stor_inst_get(struct stor *s, const char *name_or_id,
		       struct core_instance *out)
{
	struct stor_inst in;
	uint64_t id = 0;
	int rc;

	if (name_or_id[0] >= '1' && name_or_id[0] <= '9' &&
	    strspn(name_or_id, "0123456789") == strlen(name_or_id) &&
	    strlen(name_or_id) < 20)
		id = strtoull(name_or_id, NULL, 10);
	rc = stor_inst_by_name(s, name_or_id, &in);
	if (rc == ERR_NOTFOUND && id != 0)
		rc = stor_inst_get(s, id, &in);
	if (rc == 0)
		inst_from_stor(&in, out);
	return rc;
}

int core_stor_inst_list(struct stor *s, struct core_instance *out,
			size_t max, size_t *n)
{
	struct stor_inst *v;
	int rc;

	if (max > CORE_INST_MAX)
		max = CORE_INST_MAX;
	v = calloc(max ? max : 1, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	rc = stor_inst_list(s, v, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++)
		inst_from_stor(&v[i], &out[i]);
	free(v);
	return rc;
}

static int player_encode(const struct core_cmd *cmd, uint8_t **out,
			 size_t *len)
{
	struct stor_player_cmd c;

	memset(&c, 0, sizeof(c));
	c.op = cmd->u.player.join ? STOR_PLAYER_JOIN : STOR_PLAYER_LEAVE;
	snprintf(c.name, sizeof(c.name), "%s", cmd->u.player.name);
	c.instance = cmd->u.player.instance;
	c.online_ms = cmd->u.player.online_ms;
	return stor_player_encode(&c, out, len);
}

int core_stor_player_list(struct stor *s, const char *after,
			  struct core_player *out, size_t max, size_t *n)
{
	struct stor_player *v;
	int rc;

	if (max > CORE_PLAYERS_LIST_MAX)
		max = CORE_PLAYERS_LIST_MAX;
	v = calloc(max ? max : 1, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	rc = stor_players_list(s, after, v, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].name, sizeof(out[i].name), "%s", v[i].name);
		out[i].joins = v[i].joins;
		out[i].online_ms = v[i].online_ms;
		out[i].last_instance = v[i].last_instance;
	}
	free(v);
	return rc;
}

static int encode_inner(const struct core_cmd *cmd, uint8_t **out,
			size_t *len)
{
	struct stor_cl_cmd c;

	switch (cmd->type) {
	case CORE_CMD_KV_PUT:
	case CORE_CMD_KV_DEL:
		return stor_kvr_encode(cmd->type == CORE_CMD_KV_PUT
					       ? STOR_KVR_PUT
					       : STOR_KVR_DEL,
				       cmd->u.kv.ns, cmd->u.kv.ns_len,
				       cmd->u.kv.key, cmd->u.kv.key_len,
				       cmd->u.kv.cas, cmd->u.kv.value,
				       cmd->u.kv.value_len, out, len);
	case CORE_CMD_TOKEN_ADD:
		memset(&c, 0, sizeof(c));
		c.op = STOR_CL_TOKEN_ADD;
		token_to_stor(&cmd->u.token, &c.token);
		return stor_cl_encode(&c, out, len);
	case CORE_CMD_TOKEN_REVOKE:
		memset(&c, 0, sizeof(c));
		c.op = STOR_CL_TOKEN_REVOKE;
		memcpy(c.token.id, cmd->u.revoke.id, sizeof(c.token.id));
		c.token.id[sizeof(c.token.id) - 1] = '\0';
		c.now_ms = cmd->u.revoke.now_ms;
		return stor_cl_encode(&c, out, len);
	case CORE_CMD_INST_CREATE:
	case CORE_CMD_INST_ASSIGN:
	case CORE_CMD_INST_DESIRED:
	case CORE_CMD_INST_DELETE:
		return inst_encode(cmd, out, len);
	case CORE_CMD_PLAYER_EVENT:
		return player_encode(cmd, out, len);
	default:
		return ERR_INVAL;
	}
}

int core_cmd_encode(const struct core_cmd *cmd, uint8_t **out, size_t *len)
{
	uint8_t *inner;
	size_t il;
	int rc;

	if (cmd->idem.client_len == 0)
		return encode_inner(cmd, out, len);
	if (cmd->idem.client_len > CORE_IDEM_CLIENT_MAX || cmd->idem.seq == 0)
		return ERR_INVAL;
	rc = encode_inner(cmd, &inner, &il);
	if (rc != 0)
		return rc;
	rc = stor_sess_encode(cmd->idem.client, cmd->idem.client_len,
			      cmd->idem.seq, cmd->idem.wall_ms, 0,
			      CORE_IDEM_WINDOW, inner, il, out, len);
	free(inner);
	return rc;
}

int core_stor_session_answer(struct stor *s, const struct core_cmd *cmd,
			     struct core_write_result *r)
{
	uint64_t index = 0;
	int result = 0, dedup;

	if (cmd->idem.client_len == 0 ||
	    stor_sess_lookup(s, cmd->idem.client, cmd->idem.client_len,
			     cmd->idem.seq, &index, &result) != 0)
		return 0;
	dedup = index != r->index;
	r->index = index;
	r->result = result;
	return dedup;
}

static void token_from_stor(const struct stor_cl_token *t,
			    struct core_token *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->id, t->id, sizeof(o->id));
	o->kind = t->kind;
	o->role = t->role;
	o->revoked = t->revoked;
	memcpy(o->name, t->name, sizeof(o->name));
	memcpy(o->hash, t->hash, sizeof(o->hash));
	o->created_ms = t->created_ms;
	o->expires_ms = t->expires_ms;
}

int core_stor_kv_get(struct stor *s, const char *ns, size_t ns_len,
		     const uint8_t *key, size_t key_len,
		     struct core_kv_value *out)
{
	memset(out, 0, sizeof(*out));
	return stor_kvr_get(s, ns, ns_len, key, key_len, &out->value,
			    &out->len, &out->rev);
}

int core_stor_kv_list(struct stor *s, const char *ns, size_t ns_len,
		      const uint8_t *prefix, size_t prefix_len,
		      const uint8_t *after, size_t after_len, size_t max,
		      struct core_kv_key **out, size_t *n, int *more)
{
	struct stor_kvr_item *items = NULL;
	struct core_kv_key *keys;
	size_t cnt = 0;
	int rc = stor_kvr_list(s, ns, ns_len, prefix, prefix_len, after,
			       after_len, max, &items, &cnt, more);

	if (rc != 0)
		return rc;
	keys = calloc(cnt ? cnt : 1, sizeof(*keys));
	if (keys == NULL) {
		stor_kvr_items_free(items, cnt);
		return ERR_NOMEM;
	}
	for (size_t i = 0; i < cnt; i++) {
		keys[i].key = items[i].key; /* moved */
		keys[i].len = items[i].klen;
		keys[i].rev = items[i].rev;
		keys[i].value_len = items[i].vlen;
		items[i].key = NULL;
	}
	stor_kvr_items_free(items, cnt);
	*out = keys;
	*n = cnt;
	return 0;
}

int core_stor_token_get(struct stor *s, const char *id, struct core_token *out)
{
	struct stor_cl_token t;
	int rc = stor_cl_token_get(s, id, &t);

	if (rc == 0)
		token_from_stor(&t, out);
	return rc;
}

int core_stor_token_list(struct stor *s, struct core_token *out, size_t max,
			 size_t *n)
{
	struct stor_cl_token *v;
	int rc;

	if (max > CORE_TOKENS_MAX)
		max = CORE_TOKENS_MAX;
	v = calloc(max ? max : 1, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	rc = stor_cl_tokens(s, v, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++)
		token_from_stor(&v[i], &out[i]);
	free(v);
	return rc;
}

void core_stor_fill_rev(struct stor *s, const struct core_cmd *cmd,
			struct core_write_result *r)
{
	r->current_rev = 0;
	if ((r->result != ERR_CONFLICT && r->result != ERR_NOTFOUND) ||
	    (cmd->type != CORE_CMD_KV_PUT && cmd->type != CORE_CMD_KV_DEL))
		return;
	if (stor_kvr_get(s, cmd->u.kv.ns, cmd->u.kv.ns_len, cmd->u.kv.key,
			 cmd->u.kv.key_len, NULL, NULL, &r->current_rev) != 0)
		r->current_rev = 0;
}
