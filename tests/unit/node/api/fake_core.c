/* The fake core (fake_core.h). */
#include "tests/unit/node/api/fake_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "storage/storage.h"

static struct fake_core *F(void *ctx)
{
	return ctx;
}

static uint64_t f_now(void *ctx)
{
	return F(ctx)->now_ms;
}

static uint64_t f_wall(void *ctx)
{
	return F(ctx)->wall_ms;
}

static int f_joined(void *ctx)
{
	return F(ctx)->joined;
}

static int f_caught_up(void *ctx)
{
	return !F(ctx)->lagging;
}

static int take_call_status(struct fake_core *f)
{
	int rc = f->call_status;

	f->call_status = 0;
	return rc;
}

static void deliver(struct fake_core *f, const struct fake_pending *p)
{
	if (!f->deferred) {
		struct fake_pending copy = *p;

		if (copy.kind == 1)
			copy.wcb(copy.arg, &copy.res);
		else if (copy.kind == 2)
			copy.scb(copy.arg, copy.status);
		else
			copy.dcb(copy.arg, copy.status, copy.msg);
		return;
	}
	ASSERT(f->npending < FAKE_PENDING_MAX);
	f->pending[f->npending++] = *p;
}

void fake_flush(struct fake_core *f)
{
	int d = f->deferred;

	f->deferred = 0;
	for (size_t i = 0; i < f->npending; i++)
		deliver(f, &f->pending[i]);
	f->npending = 0;
	f->deferred = d;
}

/* Appends and applies one encoded command; returns its result. */
static int apply(struct fake_core *f, uint8_t *data, size_t len,
		 uint64_t *index)
{
	struct stor_entry e = {.index = f->next_index, .term = 1,
			       .type = STOR_ENTRY_COMMAND, .data = data,
			       .len = len};
	int result = 0;

	ASSERT(stor_log_append(f->s, &e, 1) == 0);
	ASSERT(stor_apply(f->s, &e, 1, &result, 0) == 0);
	*index = f->next_index++;
	return result;
}

static int f_write(void *ctx, const struct core_cmd *cmd, uint64_t deadline,
		   core_write_cb cb, void *arg)
{
	struct fake_core *f = ctx;
	struct fake_pending p = {.kind = 1, .wcb = cb, .arg = arg};
	uint8_t *data;
	size_t len;
	int rc = take_call_status(f);

	(void)deadline;
	if (rc != 0)
		return rc;
	f->writes++;
	rc = core_cmd_encode(cmd, &data, &len);
	if (rc != 0)
		return rc;
	if (f->cb_status != 0) {
		p.res.status = f->cb_status;
	} else {
		p.res.result = apply(f, data, len, &p.res.index);
		f->deduplicated += (unsigned)core_stor_session_answer(
			f->s, cmd, &p.res);
		core_stor_fill_rev(f->s, cmd, &p.res);
	}
	free(data);
	deliver(f, &p);
	return 0;
}

static int f_barrier(void *ctx, int stale, uint64_t deadline,
		     core_status_cb cb, void *arg)
{
	struct fake_core *f = ctx;
	struct fake_pending p = {.kind = 2, .scb = cb, .arg = arg};
	int rc = take_call_status(f);

	(void)deadline;
	if (rc != 0)
		return rc;
	f->barriers++;
	f->stale_barriers += stale != 0;
	p.status = f->cb_status;
	deliver(f, &p);
	return 0;
}

static int f_kv_get(void *ctx, const char *ns, size_t nsl, const uint8_t *k,
		    size_t kl, struct core_kv_value *out)
{
	return core_stor_kv_get(F(ctx)->s, ns, nsl, k, kl, out);
}

static int f_kv_list(void *ctx, const char *ns, size_t nsl,
		     const uint8_t *prefix, size_t pl, const uint8_t *after,
		     size_t al, size_t max, struct core_kv_key **out,
		     size_t *n, int *more)
{
	return core_stor_kv_list(F(ctx)->s, ns, nsl, prefix, pl, after, al,
				 max, out, n, more);
}

static int f_token_get(void *ctx, const char *id, struct core_token *out)
{
	return core_stor_token_get(F(ctx)->s, id, out);
}

static int f_token_list(void *ctx, struct core_token *out, size_t max,
			size_t *n)
{
	return core_stor_token_list(F(ctx)->s, out, max, n);
}

static int f_user_get(void *ctx, const char *name, struct core_user *out)
{
	return core_stor_user_get(F(ctx)->s, name, out);
}

static int f_user_list(void *ctx, struct core_user *out, size_t max,
		       size_t *n)
{
	return core_stor_user_list(F(ctx)->s, out, max, n);
}

static int f_role_get(void *ctx, const char *name, struct core_role_def *out)
{
	return core_stor_role_get(F(ctx)->s, name, out);
}

static int f_role_list(void *ctx, struct core_role_def *out, size_t max,
		       size_t *n)
{
	return core_stor_role_list(F(ctx)->s, out, max, n);
}

static int f_members(void *ctx, struct core_member *out, size_t max,
		     size_t *n)
{
	struct fake_core *f = ctx;

	*n = f->nmembers < max ? f->nmembers : max;
	memcpy(out, f->members, *n * sizeof(*out));
	return 0;
}

static int f_raft(void *ctx, struct core_raft_status *out)
{
	*out = F(ctx)->raft;
	return 0;
}

static int done_call(struct fake_core *f, core_done_cb cb, void *arg)
{
	struct fake_pending p = {.kind = 3, .dcb = cb, .arg = arg};
	int rc = take_call_status(f);

	if (rc != 0)
		return rc;
	p.status = f->cb_status;
	p.msg = f->cb_msg;
	deliver(f, &p);
	return 0;
}

static int f_join(void *ctx, const char *peer, const char *token,
		  uint64_t deadline, core_done_cb cb, void *arg)
{
	struct fake_core *f = ctx;

	(void)deadline;
	strncpy(f->join_peer, peer, sizeof(f->join_peer) - 1);
	strncpy(f->join_token, token, sizeof(f->join_token) - 1);
	return done_call(f, cb, arg);
}

static int f_leave(void *ctx, uint64_t deadline, core_done_cb cb, void *arg)
{
	struct fake_core *f = ctx;

	(void)deadline;
	f->leaves++;
	return done_call(f, cb, arg);
}

static int f_transfer(void *ctx, const char *target, uint64_t deadline,
		      core_done_cb cb, void *arg)
{
	struct fake_core *f = ctx;

	(void)deadline;
	strncpy(f->transfer_target, target ? target : "",
		sizeof(f->transfer_target) - 1);
	return done_call(f, cb, arg);
}

const struct core_ops fake_core_ops = {
	.now_ms = f_now,
	.wall_ms = f_wall,
	.joined = f_joined,
	.caught_up = f_caught_up,
	.write = f_write,
	.read_barrier = f_barrier,
	.kv_get = f_kv_get,
	.kv_list = f_kv_list,
	.token_get = f_token_get,
	.token_list = f_token_list,
	.members = f_members,
	.raft_status = f_raft,
	.join = f_join,
	.leave = f_leave,
	.transfer_leader = f_transfer,
	.user_get = f_user_get,
	.user_list = f_user_list,
	.role_get = f_role_get,
	.role_list = f_role_list,
};

void fake_init(struct fake_core *f)
{
	struct stor_options o;

	memset(f, 0, sizeof(*f));
	ASSERT(stor_memdisk_new(NULL, NULL, &f->md) == 0);
	stor_options_default(&o);
	o.mem = f->md;
	ASSERT(stor_open(&o, &f->s) == 0);
	f->next_index = 1;
	f->joined = 1;
	f->now_ms = 1000;
	f->wall_ms = 1700000000000ull;
}

void fake_free(struct fake_core *f)
{
	ASSERT(f->npending == 0);
	stor_close(f->s);
	stor_memdisk_free(f->md);
}

void fake_add_token(struct fake_core *f, int kind, int role,
		    uint64_t expires_ms, char str[CORE_TOKEN_STR_LEN + 1])
{
	struct core_cmd cmd = {.type = CORE_CMD_TOKEN_ADD};
	uint64_t index;
	uint8_t *data;
	size_t len;

	core_token_new(&cmd.u.token, str);
	cmd.u.token.kind = (uint8_t)kind;
	cmd.u.token.role = (uint8_t)role;
	cmd.u.token.created_ms = f->wall_ms;
	cmd.u.token.expires_ms = expires_ms;
	ASSERT(core_cmd_encode(&cmd, &data, &len) == 0);
	ASSERT(apply(f, data, len, &index) == 0);
	free(data);
}

void fake_add_token_roles(struct fake_core *f, const char *const *roles,
			  size_t nroles, const char *user,
			  char str[CORE_TOKEN_STR_LEN + 1])
{
	struct core_cmd cmd = {.type = CORE_CMD_TOKEN_ADD};
	uint64_t index;
	uint8_t *data;
	size_t len;

	ASSERT(nroles <= CORE_ROLES_PER_MAX);
	core_token_new(&cmd.u.token, str);
	cmd.u.token.kind = CORE_TOKEN_API;
	cmd.u.token.role = CORE_ROLE_READ;
	cmd.u.token.created_ms = f->wall_ms;
	cmd.u.token.nroles = (uint8_t)nroles;
	for (size_t i = 0; i < nroles; i++)
		snprintf(cmd.u.token.roles[i], sizeof(cmd.u.token.roles[i]),
			 "%s", roles[i]);
	snprintf(cmd.u.token.user, sizeof(cmd.u.token.user), "%s",
		 user ? user : "");
	ASSERT(core_cmd_encode(&cmd, &data, &len) == 0);
	ASSERT(apply(f, data, len, &index) == 0);
	free(data);
}
