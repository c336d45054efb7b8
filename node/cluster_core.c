/*
 * cluster_core.c: node/core.h, the interface of the HTTP API, on top of
 * the cluster's operations (cluster_ops.c) and its local store. Each
 * function is a translation: types of core.h in, an operation or a store
 * read out.
 */
#include "node/cluster_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/instances/pull.h"
#include "node/instances/saves.h"
#include "node/plugins/plugins.h"
#include "storage/kvrev.h"

static struct cluster *C(void *ctx)
{
	return ctx;
}

static uint64_t core_now(void *ctx)
{
	return cl_now(C(ctx));
}

static uint64_t core_wall(void *ctx)
{
	(void)ctx;
	return cl_wall_ms();
}

static int core_joined(void *ctx)
{
	return C(ctx)->joined;
}

static int core_caught_up(void *ctx)
{
	return cl_caught_up(C(ctx));
}

/* What a write's callback needs besides the caller's: for a KV command,
 * the key, to read its current revision after a failed condition. */
struct cw {
	core_write_cb cb;
	void *arg;
	int is_kv;
	char ns[CORE_NS_MAX];
	size_t ns_len;
	uint8_t key[CORE_KEY_MAX];
	size_t key_len;
};

static void write_done(struct cluster *c, struct cl_op *op, int status,
		       uint64_t index, int result)
{
	struct cw *w = op->arg;
	struct core_write_result r = {.status = status, .index = index,
				      .result = result};

	if (status == 0 && w->is_kv &&
	    (result == ERR_CONFLICT || result == ERR_NOTFOUND)) {
		uint64_t rev = 0;

		if (stor_kvr_get(c->st, w->ns, w->ns_len, w->key, w->key_len,
				 NULL, NULL, &rev) == 0)
			r.current_rev = rev;
	}
	w->cb(w->arg, &r);
	free(w);
}

static int core_write(void *ctx, const struct core_cmd *cmd,
		      uint64_t deadline_ms, core_write_cb cb, void *arg)
{
	struct cluster *c = ctx;
	struct cl_op *op;
	struct cw *w;
	uint8_t *data;
	size_t len;
	int rv;

	if (!c->joined)
		return ERR_NOTLEADER;
	rv = core_cmd_encode(cmd, &data, &len);
	if (rv != 0)
		return rv;
	w = calloc(1, sizeof(*w));
	op = w ? cl_op_new(c, CL_OP_WRITE, deadline_ms, write_done, w) : NULL;
	if (op == NULL) {
		free(w);
		free(data);
		return w ? ERR_AGAIN : ERR_NOMEM;
	}
	w->cb = cb;
	w->arg = arg;
	if (cmd->type == CORE_CMD_KV_PUT || cmd->type == CORE_CMD_KV_DEL) {
		w->is_kv = 1;
		w->ns_len = cmd->u.kv.ns_len < sizeof(w->ns) ? cmd->u.kv.ns_len
							     : sizeof(w->ns);
		memcpy(w->ns, cmd->u.kv.ns, w->ns_len);
		w->key_len = cmd->u.kv.key_len < sizeof(w->key)
				     ? cmd->u.kv.key_len
				     : sizeof(w->key);
		memcpy(w->key, cmd->u.kv.key, w->key_len);
	}
	op->data = data;
	op->len = len;
	if (cmd->idem.client_len > 0) {
		/* Wrapped by core_cmd_encode in the client's own session. */
		memcpy(op->sess_client, cmd->idem.client, cmd->idem.client_len);
		op->sess_client[cmd->idem.client_len] = '\0';
		op->sess_client_len = (uint8_t)cmd->idem.client_len;
		op->sess_seq = cmd->idem.seq;
		op->sess_wrapped = 1;
	}
	cl_op_drive(c, op);
	return 0;
}

struct cr {
	core_status_cb cb;
	void *arg;
};

static void read_done(struct cluster *c, struct cl_op *op, int status,
		      uint64_t index, int result)
{
	struct cr *r = op->arg;

	(void)c;
	(void)index;
	(void)result;
	r->cb(r->arg, status);
	free(r);
}

static int core_read_barrier(void *ctx, int stale, uint64_t deadline_ms,
			     core_status_cb cb, void *arg)
{
	struct cluster *c = ctx;
	struct cl_op *op;
	struct cr *r;

	if (!c->joined)
		return ERR_NOTLEADER;
	if (stale) {
		cb(arg, 0);
		return 0;
	}
	r = malloc(sizeof(*r));
	op = r ? cl_op_new(c, CL_OP_READ, deadline_ms, read_done, r) : NULL;
	if (op == NULL) {
		free(r);
		return r ? ERR_AGAIN : ERR_NOMEM;
	}
	r->cb = cb;
	r->arg = arg;
	cl_op_drive(c, op);
	return 0;
}

static int core_kv_get(void *ctx, const char *ns, size_t ns_len,
		       const uint8_t *key, size_t key_len,
		       struct core_kv_value *out)
{
	struct cluster *c = ctx;

	memset(out, 0, sizeof(*out));
	return stor_kvr_get(c->st, ns, ns_len, key, key_len, &out->value,
			    &out->len, &out->rev);
}

static int core_kv_list(void *ctx, const char *ns, size_t ns_len,
			const uint8_t *prefix, size_t prefix_len,
			const uint8_t *after, size_t after_len, size_t max,
			struct core_kv_key **out, size_t *n, int *more)
{
	struct cluster *c = ctx;
	struct stor_kvr_item *items = NULL;
	struct core_kv_key *keys;
	size_t count = 0;
	int rv;

	*out = NULL;
	*n = 0;
	rv = stor_kvr_list(c->st, ns, ns_len, prefix, prefix_len, after,
			   after_len, max, &items, &count, more);
	if (rv != 0)
		return rv;
	keys = calloc(count ? count : 1, sizeof(*keys));
	if (keys == NULL) {
		stor_kvr_items_free(items, count);
		return ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		keys[i].key = items[i].key; /* ownership moves */
		keys[i].len = items[i].klen;
		keys[i].rev = items[i].rev;
		keys[i].value_len = items[i].vlen;
		items[i].key = NULL;
	}
	stor_kvr_items_free(items, count);
	*out = keys;
	*n = count;
	return 0;
}

static void token_from_stor(const struct stor_cl_token *s,
			    struct core_token *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->id, s->id, sizeof(t->id));
	t->kind = s->kind;
	t->role = s->role;
	t->revoked = s->revoked;
	memcpy(t->name, s->name, sizeof(t->name));
	memcpy(t->hash, s->hash, sizeof(t->hash));
	t->created_ms = s->created_ms;
	t->expires_ms = s->expires_ms;
	core_token_roles_from_stor(s, t); /* issue 13 */
}

static int core_token_get(void *ctx, const char *id, struct core_token *out)
{
	struct cluster *c = ctx;
	struct stor_cl_token t;
	int rv;

	if (!c->joined)
		return ERR_NOTFOUND;
	rv = stor_cl_token_get(c->st, id, &t);
	if (rv == 0)
		token_from_stor(&t, out);
	return rv;
}

static int core_token_list(void *ctx, struct core_token *out, size_t max,
			   size_t *n)
{
	struct cluster *c = ctx;
	struct stor_cl_token *all;
	size_t count = 0;
	int rv;

	*n = 0;
	all = calloc(max ? max : 1, sizeof(*all));
	if (all == NULL)
		return ERR_NOMEM;
	rv = stor_cl_tokens(c->st, all, max, &count);
	for (size_t i = 0; rv == 0 && i < count; i++)
		token_from_stor(&all[i], &out[i]);
	if (rv == 0)
		*n = count;
	free(all);
	return rv;
}

static int core_join(void *ctx, const char *peer, const char *token,
		     uint64_t deadline_ms, core_done_cb cb, void *arg)
{
	return cl_join_start(C(ctx), peer, token, deadline_ms, cb, arg);
}

static int core_leave(void *ctx, uint64_t deadline_ms, core_done_cb cb,
		      void *arg)
{
	return cl_leave_start(C(ctx), deadline_ms, cb, arg);
}

struct ct {
	core_done_cb cb;
	void *arg;
};

static void transfer_done(struct cluster *c, struct cl_op *op, int status,
			  uint64_t index, int result)
{
	struct ct *t = op->arg;

	(void)c;
	(void)index;
	(void)result;
	t->cb(t->arg, status,
	      status == ERR_TIMEOUT ? "leadership did not move in time"
	      : status != 0         ? "the leader refused the transfer"
				    : NULL);
	free(t);
}

/* A voter by name or by id in hex; 0 when there is none. */
static raft_id find_voter(struct cluster *c, const char *target)
{
	const struct raft_configuration *conf = raftd_configuration(c->rd);
	char *end;
	uint64_t id = strtoull(target, &end, 16);

	if (*end != '\0')
		id = 0;
	for (size_t i = 0; i < c->members_n; i++)
		if (strcmp(c->members[i].name, target) == 0)
			id = c->members[i].id;
	for (uint32_t i = 0; i < conf->n; i++)
		if (conf->servers[i].id == id &&
		    conf->servers[i].role == RAFT_VOTER)
			return id;
	return 0;
}

static int core_transfer(void *ctx, const char *target, uint64_t deadline_ms,
			 core_done_cb cb, void *arg)
{
	struct cluster *c = ctx;
	raft_id to = 0;
	struct cl_op *op;
	struct ct *t;

	if (!c->joined || c->rd == NULL)
		return ERR_NOTLEADER;
	if (target && target[0]) {
		to = find_voter(c, target);
		if (to == 0)
			return ERR_NOTFOUND;
		if (to == c->leader) {
			cb(arg, 0, NULL); /* already there */
			return 0;
		}
	}
	t = malloc(sizeof(*t));
	op = t ? cl_op_new(c, CL_OP_TRANSFER, deadline_ms, transfer_done, t)
	       : NULL;
	if (op == NULL) {
		free(t);
		return t ? ERR_AGAIN : ERR_NOMEM;
	}
	t->cb = cb;
	t->arg = arg;
	op->change_id = to;
	cl_op_drive(c, op);
	return 0;
}

static int core_inst_get(void *ctx, const char *name_or_id,
			 struct core_instance *out)
{
	return core_stor_inst_get(C(ctx)->st, name_or_id, out);
}

static int core_inst_list(void *ctx, struct core_instance *out, size_t max,
			  size_t *n)
{
	return core_stor_inst_list(C(ctx)->st, out, max, n);
}

/* Player tracking (issue 12, lua helper). */
static int core_player_list(void *ctx, const char *after,
			    struct core_player *out, size_t max, size_t *n)
{
	return core_stor_player_list(C(ctx)->st, after, out, max, n);
}

static int core_inst_state(void *ctx, uint64_t id,
			   struct core_inst_state *out)
{
	struct cluster *c = ctx;

	return c->im ? inst_mgr_state(c->im, id, out) : ERR_NOTFOUND;
}

static int core_inst_rcon(void *ctx, uint64_t id, const char *cmd,
			  size_t len, uint64_t deadline_ms, core_rcon_cb cb,
			  void *arg)
{
	struct cluster *c = ctx;
	uint64_t now = cl_now(c);

	if (c->im == NULL)
		return ERR_NOTFOUND;
	return inst_mgr_rcon(c->im, id, cmd, len,
			     deadline_ms > now ? deadline_ms - now : 1, cb,
			     arg);
}

static size_t core_plugin_states(void *ctx, struct core_plugin_state *out,
				 size_t max)
{
	struct cluster *c = ctx;

	return c->pm ? plug_mgr_states(c->pm, out, max) : 0;
}

static int core_http_forward(void *ctx, const char *http_addr,
			     const char *method, const char *path,
			     const char *auth, const uint8_t *body,
			     size_t body_len, uint64_t deadline_ms,
			     core_http_cb cb, void *arg)
{
	struct cluster *c = ctx;
	uint64_t now = cl_now(c);

	if (c->stopping)
		return ERR_SHUTDOWN;
	return inst_http_forward(c->loop, http_addr, method, path, auth, body,
				 body_len,
				 deadline_ms > now ? deadline_ms - now : 1, cb,
				 arg);
}

static int core_user_get(void *ctx, const char *name, struct core_user *out)
{
	return core_stor_user_get(C(ctx)->st, name, out);
}

static int core_user_list(void *ctx, struct core_user *out, size_t max,
			  size_t *n)
{
	return core_stor_user_list(C(ctx)->st, out, max, n);
}

static int core_role_get(void *ctx, const char *name,
			 struct core_role_def *out)
{
	return core_stor_role_get(C(ctx)->st, name, out);
}

static int core_role_list(void *ctx, struct core_role_def *out, size_t max,
			  size_t *n)
{
	return core_stor_role_list(C(ctx)->st, out, max, n);
}

static void core_users_line(void *ctx, uint64_t instance, const char *line)
{
	users_game_line(C(ctx)->users, instance, line);
}

static int core_users_event(void *ctx, uint64_t instance, uint64_t msg_id,
			    const struct cJSON *msg)
{
	return users_game_event(C(ctx)->users, instance, msg_id, msg);
}

static void cl_users_adopted(void *ctx, uint64_t instance)
{
	struct cluster *c = ctx;

	if (c->users != NULL)
		users_adopted(c->users, instance);
}

static int core_users_files(void *ctx, uint64_t instance, const char *dir)
{
	struct cluster *c = ctx;

	return c->users ? users_write_files(c->users, instance, dir) : 0;
}

/* Saves (issue 12): node/instances/saves.c and pull.c. */
static int core_save_list(void *ctx, const char *inst, struct core_save *out,
			  size_t max, size_t *n)
{
	if (C(ctx)->im == NULL)
		return ERR_NOTFOUND;
	return inst_save_list(C(ctx)->im, inst, out, max, n);
}

static int core_save_put(void *ctx, const struct core_save_part *part,
			 core_save_put_cb cb, void *arg)
{
	if (C(ctx)->im == NULL)
		return ERR_NOTFOUND;
	return inst_save_put(C(ctx)->im, part, cb, arg);
}

static int core_save_open(void *ctx, const char *inst, const char *save,
			  void (*wake)(void *arg), void *arg,
			  struct core_save_rd **out, uint64_t *size)
{
	if (C(ctx)->im == NULL)
		return ERR_NOTFOUND;
	return inst_save_open(C(ctx)->im, inst, save, wake, arg, out, size);
}

static int core_save_read(void *ctx, struct core_save_rd *r,
			  const uint8_t **p, size_t *len, int *done)
{
	(void)ctx;
	return inst_save_read(r, p, len, done);
}

static void core_save_close(void *ctx, struct core_save_rd *r)
{
	(void)ctx;
	inst_save_close(r);
}

static int core_save_rename(void *ctx, const char *inst, const char *save,
			    const char *to)
{
	if (C(ctx)->im == NULL)
		return ERR_NOTFOUND;
	return inst_save_rename(C(ctx)->im, inst, save, to);
}

static int core_save_delete(void *ctx, const char *inst, const char *save)
{
	if (C(ctx)->im == NULL)
		return ERR_NOTFOUND;
	return inst_save_delete(C(ctx)->im, inst, save);
}

static int core_save_copy(void *ctx, const char *inst, const char *save,
			  const char *dst_inst, const char *to,
			  core_done_cb cb, void *arg)
{
	if (C(ctx)->im == NULL)
		return ERR_NOTFOUND;
	return inst_save_copy(C(ctx)->im, inst, save, dst_inst, to, cb, arg);
}

static int core_save_create(void *ctx, const struct core_save_create *sc,
			    core_done_cb cb, void *arg)
{
	if (C(ctx)->im == NULL)
		return ERR_NOTFOUND;
	return inst_save_create(C(ctx)->im, sc, cb, arg);
}

static int core_http_pull(void *ctx, const char *http_addr, const char *path,
			  const char *auth, void (*wake)(void *arg),
			  void *arg, struct core_pull **out)
{
	if (C(ctx)->stopping)
		return ERR_SHUTDOWN;
	return inst_http_pull(C(ctx)->loop, http_addr, path, auth, wake, arg,
			      out);
}

static int core_pull_head(void *ctx, struct core_pull *p, int *code,
			  int64_t *length)
{
	(void)ctx;
	return inst_pull_head(p, code, length);
}

static int core_pull_next(void *ctx, struct core_pull *p,
			  const uint8_t **data, size_t *len, int *done)
{
	(void)ctx;
	return inst_pull_next(p, data, len, done);
}

static void core_pull_close(void *ctx, struct core_pull *p)
{
	(void)ctx;
	inst_pull_close(p);
}

/* Issue 12, ops: kill/restart, logs, streamed forwards. */
static int core_inst_act(void *ctx, uint64_t id, int what,
			 uint64_t deadline_ms, void (*cb)(void *arg, int status),
			 void *arg)
{
	struct cluster *c = ctx;

	return c->im ? inst_mgr_act(c->im, id, what, deadline_ms, cb, arg)
		     : ERR_NOTFOUND;
}

static int core_inst_log_tail(void *ctx, uint64_t id, size_t max_lines,
			      char **out, size_t *len)
{
	struct cluster *c = ctx;

	return c->im ? inst_mgr_log_tail(c->im, id, max_lines, out, len)
		     : ERR_NOTFOUND;
}

static int core_inst_log_follow(void *ctx, uint64_t id,
				void (*cb)(void *arg, const char *line,
					   size_t len),
				void *arg, void **handle)
{
	struct cluster *c = ctx;

	return c->im ? inst_mgr_log_follow(c->im, id, cb, arg, handle)
		     : ERR_NOTFOUND;
}

static void core_inst_log_unfollow(void *ctx, void *handle)
{
	inst_mgr_log_unfollow(((struct cluster *)ctx)->im, handle);
}

static int core_http_stream_open(void *ctx, const char *http_addr,
				 const char *path, const char *auth,
				 void (*on_data)(void *arg, const char *p,
						 size_t n),
				 void (*on_end)(void *arg, int status, int code),
				 void *arg, void **handle)
{
	struct cluster *c = ctx;

	if (c->stopping)
		return ERR_SHUTDOWN;
	return inst_http_stream(c->loop, http_addr, path, auth, on_data,
				on_end, arg, handle);
}

static void core_http_stream_cancel(void *ctx, void *handle)
{
	(void)ctx;
	inst_http_stream_cancel(handle);
}

/* Inventory sync (issue 14): node/inv_cmd.c reads the domain. */
static int core_inv_get(void *ctx, const char *player,
			struct core_inv_lock *out)
{
	return core_stor_inv_get(C(ctx)->st, player, out);
}

static int core_inv_list(void *ctx, const char *after, int held_only,
			 struct core_inv_lock *out, size_t max, size_t *n)
{
	return core_stor_inv_list(C(ctx)->st, after, held_only, out, max, n);
}

static int core_inv_data(void *ctx, const char *player,
			 struct core_inv_lock *lock, char **json, size_t *len)
{
	return core_stor_inv_data(C(ctx)->st, player, lock, json, len);
}

const struct core_ops cl_core_ops = {
	.now_ms = core_now,
	.wall_ms = core_wall,
	.joined = core_joined,
	.caught_up = core_caught_up,
	.write = core_write,
	.read_barrier = core_read_barrier,
	.kv_get = core_kv_get,
	.kv_list = core_kv_list,
	.token_get = core_token_get,
	.token_list = core_token_list,
	.members = cl_members_view,
	.raft_status = cl_raft_view,
	.join = core_join,
	.leave = core_leave,
	.transfer_leader = core_transfer,
	.snapshot_open = cl_snap_open,
	.snapshot_next = cl_snap_next,
	.snapshot_close = cl_snap_close,
	.inst_get = core_inst_get,
	.inst_list = core_inst_list,
	.player_list = core_player_list, /* issue 12, lua helper */
	.inst_state = core_inst_state,
	.inst_rcon = core_inst_rcon,
	.http_forward = core_http_forward,
	.save_list = core_save_list,
	.save_put = core_save_put,
	.save_open = core_save_open,
	.save_read = core_save_read,
	.save_close = core_save_close,
	.save_rename = core_save_rename,
	.save_delete = core_save_delete,
	.save_copy = core_save_copy,
	.save_create = core_save_create,
	.http_pull = core_http_pull,
	.pull_head = core_pull_head,
	.pull_next = core_pull_next,
	.pull_close = core_pull_close,
	/* Issue 12, ops. */
	.inst_act = core_inst_act,
	.inst_log_tail = core_inst_log_tail,
	.inst_log_follow = core_inst_log_follow,
	.inst_log_unfollow = core_inst_log_unfollow,
	.http_stream_open = core_http_stream_open,
	.http_stream_cancel = core_http_stream_cancel,
	/* inventory sync (issue 14) */
	.inv_get = core_inv_get,
	.inv_list = core_inv_list,
	.inv_data = core_inv_data,
	.items_list = cl_items_list,
	.items_get = cl_items_get,
	.items_history = cl_items_history,
	.items_grants = cl_items_grants,
	.items_flows = cl_items_flows,
	.items_info = cl_items_info,
	.items_grant_of = cl_items_grant_of,
	.local_get = cl_local_get,
	.local_batch = cl_local_batch,
	.plugin_states = core_plugin_states,
	.user_get = core_user_get,
	.user_list = core_user_list,
	.role_get = core_role_get,
	.role_list = core_role_list,
	.users_game_line = core_users_line,
	.users_write_files = core_users_files,
	.users_game_event = core_users_event,
	.users_adopted = cl_users_adopted,
};
