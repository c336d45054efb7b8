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
	.plugin_states = core_plugin_states,
};
