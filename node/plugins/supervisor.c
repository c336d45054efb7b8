/*
 * supervisor.c: runs this node's plugin processes as the registry says
 * (plugins.h). One slot per plugin that is (or was) wanted here:
 *
 *   STOPPED --want, backoff over--> TOKEN (creating its API token)
 *   TOKEN   --token applied------> RUNNING (process spawned)
 *   RUNNING --exit---------------> STOPPED (backoff before the next start)
 *   RUNNING --unwanted/changed---> STOPPING (SIGTERM; SIGKILL after grace)
 *
 * A slot is freed once it is unwanted, its process gone, its handles
 * closed and no token write is pending (the write's callback holds it).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/plugins/plugins.h"

extern char **environ;

#define LINE_MAX_ 1024
#define BACKOFF_MAX_MS 60000u
#define HEALTHY_RUN_MS 60000u
#define ENV_MAX 512

enum { P_STOPPED, P_TOKEN, P_RUNNING, P_STOPPING };

struct pipe_rd {
	uv_pipe_t pipe;
	char line[LINE_MAX_];
	size_t len;
	char buf[4096];
};

struct plug_proc {
	struct plug_mgr *m;
	struct plug_rec *rec;     /* wanted now (NULL: not wanted) */
	struct plug_rec *running; /* what the process was started with */
	uint8_t state;
	unsigned handles;
	unsigned writes; /* token writes in flight (their cbs hold p) */
	uv_process_t proc;
	struct pipe_rd out, err;
	uv_timer_t kill_timer;
	int64_t pid;
	uint32_t restarts;
	int last_exit;
	uint64_t backoff_ms, next_start_ms, started_ms;
	char token[CORE_TOKEN_STR_LEN + 1]; /* "" until created */
	char token_id[CORE_TOKEN_ID_LEN + 1];
	uint64_t token_wall_ms;
};

struct plug_mgr {
	uv_loop_t *loop;
	const struct tracer *log;
	const struct core *core;
	char node[CORE_NAME_MAX + 1];
	char url[128];
	uint64_t reconcile_ms, backoff_min_ms;
	uv_timer_t tick, kick;
	unsigned mgr_handles;
	uint8_t stopping;
	struct plug_proc *procs[PLUG_MAX];
	void (*done)(void *arg);
	void *done_arg;
};

static void reconcile(struct plug_mgr *m);

static void maybe_done(struct plug_mgr *m)
{
	if (!m->stopping || m->mgr_handles != 0)
		return;
	for (size_t i = 0; i < PLUG_MAX; i++)
		if (m->procs[i] != NULL)
			return;
	if (m->done != NULL)
		m->done(m->done_arg);
	free(m);
}

static void proc_free_if_idle(struct plug_proc *p)
{
	struct plug_mgr *m = p->m;

	if (p->rec != NULL || p->handles || p->writes || p->pid != 0)
		return;
	for (size_t i = 0; i < PLUG_MAX; i++)
		if (m->procs[i] == p)
			m->procs[i] = NULL;
	sodium_memzero(p->token, sizeof(p->token));
	free(p->running);
	free(p);
	maybe_done(m);
}

static void on_h_closed(uv_handle_t *h)
{
	struct plug_proc *p = h->data;

	ASSERT(p->handles > 0);
	p->handles--;
	if (p->rec != NULL && p->handles == 1)
		plug_mgr_kick(p->m); /* the way is clear for a restart */
	proc_free_if_idle(p);
}

static void close_h(struct plug_proc *p, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	h->data = p;
	uv_close(h, on_h_closed);
}

/* --- the process's output: node log lines ------------------------------ */

static void rd_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct pipe_rd *r = (struct pipe_rd *)(void *)h;

	(void)hint;
	buf->base = r->buf;
	buf->len = sizeof(r->buf);
}

static void rd_line(struct plug_proc *p, struct pipe_rd *r)
{
	const char *name = p->running ? p->running->name : "?";

	TRACE_I(p->m->log, "plugins", "plugin %s: %.*s", name, (int)r->len,
		r->line);
	r->len = 0;
}

static void rd_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct pipe_rd *r = (struct pipe_rd *)(void *)s;
	struct plug_proc *p = s->data;

	if (n < 0) {
		if (r->len > 0)
			rd_line(p, r);
		close_h(p, (uv_handle_t *)s);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char c = buf->base[i];

		if (c == '\n') {
			rd_line(p, r);
		} else if (r->len < sizeof(r->line)) {
			r->line[r->len++] = c;
		} /* a longer line is cut at LINE_MAX_ */
	}
}

/* --- start and stop ------------------------------------------------------ */

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
	struct plug_proc *p = proc->data;
	struct plug_mgr *m = p->m;
	uint64_t now = uv_now(m->loop), ran = now - p->started_ms;
	int stopping = p->state == P_STOPPING;

	p->last_exit = sig != 0 ? 128 + sig : (int)status;
	TRACE(m->log, stopping ? TRACE_INFO : TRACE_WARN, "plugins",
	      "plugin %s (pid %lld) exited with %d%s",
	      p->running ? p->running->name : "?", (long long)p->pid,
	      p->last_exit, stopping ? "" : "; restarting after a backoff");
	p->pid = 0;
	p->state = P_STOPPED;
	uv_timer_stop(&p->kill_timer);
	close_h(p, (uv_handle_t *)&p->proc);
	if (!stopping) {
		p->restarts++;
		if (ran >= HEALTHY_RUN_MS || p->backoff_ms == 0)
			p->backoff_ms = m->backoff_min_ms;
		else if (p->backoff_ms < BACKOFF_MAX_MS)
			p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS
						? BACKOFF_MAX_MS
						: p->backoff_ms * 2;
		p->next_start_ms = now + p->backoff_ms;
	} else {
		p->next_start_ms = now;
	}
	if (p->rec == NULL || m->stopping) {
		close_h(p, (uv_handle_t *)&p->kill_timer);
		proc_free_if_idle(p);
		return;
	}
	plug_mgr_kick(m);
}

static void on_kill_timer(uv_timer_t *t)
{
	struct plug_proc *p = t->data;

	if (p->pid != 0) {
		TRACE_W(p->m->log, "plugins", "plugin %s: no exit %u ms after "
			"SIGTERM; SIGKILL", p->running->name,
			PLUG_STOP_GRACE_MS);
		(void)uv_process_kill(&p->proc, SIGKILL);
	}
}

static void stop_proc(struct plug_proc *p)
{
	if (p->state != P_RUNNING || p->pid == 0)
		return;
	p->state = P_STOPPING;
	TRACE_I(p->m->log, "plugins", "plugin %s: stopping (pid %lld)",
		p->running->name, (long long)p->pid);
	(void)uv_process_kill(&p->proc, SIGTERM);
	uv_timer_start(&p->kill_timer, on_kill_timer, PLUG_STOP_GRACE_MS, 0);
}

/* envp for the process: ours over the node's environment, minus any
 * CLUSTERD_* the node itself was given. Pointers into vars/environ. */
static size_t build_env(struct plug_proc *p, char **envp, size_t max,
			char vars[5][1200])
{
	struct plug_mgr *m = p->m;
	size_t n = 0;

	(void)snprintf(vars[0], 1200, "CLUSTERD_NODE=%s", m->url);
	(void)snprintf(vars[1], 1200, "CLUSTERD_TOKEN=%s", p->token);
	(void)snprintf(vars[2], 1200, "CLUSTERD_PLUGIN=%s", p->running->name);
	(void)snprintf(vars[3], 1200, "CLUSTERD_PLUGIN_NS=plugin.%s",
		       p->running->name);
	(void)snprintf(vars[4], 1200, "CLUSTERD_NODE_NAME=%s", m->node);
	for (size_t i = 0; i < 5; i++)
		envp[n++] = vars[i];
	for (char **e = environ; e != NULL && *e != NULL && n < max - 1; e++)
		if (strncmp(*e, "CLUSTERD_", 9) != 0)
			envp[n++] = *e;
	envp[n] = NULL;
	return n;
}

static int pipe_start(struct plug_proc *p, struct pipe_rd *r)
{
	r->len = 0;
	r->pipe.data = p;
	return uv_read_start((uv_stream_t *)&r->pipe, rd_alloc, rd_read);
}

static void spawn_proc(struct plug_proc *p)
{
	struct plug_mgr *m = p->m;
	char *args[PLUG_ARGS_MAX + 1], *envp[ENV_MAX];
	char vars[5][1200];
	uv_process_options_t o;
	uv_stdio_container_t io[3];
	int rv;

	free(p->running);
	p->running = malloc(sizeof(*p->running));
	if (p->running == NULL) {
		p->next_start_ms = uv_now(m->loop) + 1000;
		p->state = P_STOPPED;
		return;
	}
	*p->running = *p->rec;
	for (size_t i = 0; i < p->running->nargs; i++)
		args[i] = p->running->args[i];
	args[p->running->nargs] = NULL;
	(void)build_env(p, envp, ENV_MAX, vars);
	memset(&o, 0, sizeof(o));
	uv_pipe_init(m->loop, &p->out.pipe, 0);
	uv_pipe_init(m->loop, &p->err.pipe, 0);
	p->handles += 2;
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[1].data.stream = (uv_stream_t *)&p->out.pipe;
	io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[2].data.stream = (uv_stream_t *)&p->err.pipe;
	o.file = args[0];
	o.args = args;
	o.env = envp;
	o.exit_cb = on_exit_cb;
	o.stdio = io;
	o.stdio_count = 3;
	p->proc.data = p;
	p->handles++;
	rv = uv_spawn(m->loop, &p->proc, &o);
	sodium_memzero(vars[1], sizeof(vars[1]));
	p->started_ms = uv_now(m->loop);
	if (rv != 0) {
		TRACE_E(m->log, "plugins", "plugin %s: cannot start %s: %s",
			p->running->name, args[0], uv_strerror(rv));
		close_h(p, (uv_handle_t *)&p->proc);
		close_h(p, (uv_handle_t *)&p->out.pipe);
		close_h(p, (uv_handle_t *)&p->err.pipe);
		p->state = P_STOPPED;
		p->restarts++;
		p->last_exit = 127;
		p->backoff_ms = p->backoff_ms == 0 ? m->backoff_min_ms
				: p->backoff_ms * 2 > BACKOFF_MAX_MS
					? BACKOFF_MAX_MS
					: p->backoff_ms * 2;
		p->next_start_ms = p->started_ms + p->backoff_ms;
		return;
	}
	p->pid = p->proc.pid;
	p->state = P_RUNNING;
	(void)pipe_start(p, &p->out);
	(void)pipe_start(p, &p->err);
	TRACE_I(m->log, "plugins", "plugin %s: started %s (pid %lld)",
		p->running->name, args[0], (long long)p->pid);
}

/* --- the plugin's token ---------------------------------------------------- */

static void on_revoked(void *arg, const struct core_write_result *r)
{
	struct plug_proc *p = arg;

	(void)r; /* best effort: an old token expires anyway */
	p->writes--;
	proc_free_if_idle(p);
}

/* Revokes the earlier live tokens this node made for the plugin. */
static void revoke_old(struct plug_proc *p, const char *tname)
{
	struct plug_mgr *m = p->m;
	const struct core_ops *ops = m->core->ops;
	struct core_token *ts;
	size_t n = 0;

	ts = calloc(256, sizeof(*ts));
	if (ts == NULL || ops->token_list(m->core->ctx, ts, 256, &n) != 0)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		struct core_cmd cmd;

		if (ts[i].revoked || strcmp(ts[i].name, tname) != 0 ||
		    strcmp(ts[i].id, p->token_id) == 0)
			continue;
		memset(&cmd, 0, sizeof(cmd));
		cmd.type = CORE_CMD_TOKEN_REVOKE;
		memcpy(cmd.u.revoke.id, ts[i].id, sizeof(cmd.u.revoke.id));
		cmd.u.revoke.now_ms = ops->wall_ms(m->core->ctx);
		if (ops->write(m->core->ctx, &cmd,
			       ops->now_ms(m->core->ctx) + 10000, on_revoked,
			       p) == 0)
			p->writes++;
	}
	free(ts);
}

/* The role a token of these permissions gets: read if every one is a
 * read, else admin (roles with exact permission sets come with users). */
static uint8_t token_role(const struct plug_rec *r)
{
	for (size_t i = 0; i < r->nperms; i++) {
		size_t n = strlen(r->perms[i]);

		if (n < 5 || strcmp(r->perms[i] + n - 5, ".read") != 0)
			return CORE_ROLE_ADMIN;
	}
	return CORE_ROLE_READ;
}

struct token_op {
	struct plug_proc *p;
	char str[CORE_TOKEN_STR_LEN + 1];
	char id[CORE_TOKEN_ID_LEN + 1];
	char name[CORE_NAME_MAX + 1];
	uint64_t wall_ms;
};

static void on_token(void *arg, const struct core_write_result *r)
{
	struct token_op *op = arg;
	struct plug_proc *p = op->p;
	struct plug_mgr *m = p->m;

	p->writes--;
	if (r->status == 0 && r->result == 0) {
		memcpy(p->token, op->str, sizeof(p->token));
		memcpy(p->token_id, op->id, sizeof(p->token_id));
		p->token_wall_ms = op->wall_ms;
		revoke_old(p, op->name);
	} else {
		TRACE_W(m->log, "plugins", "plugin %s: its token could not "
			"be created (%s); retrying", op->name,
			err_str(r->status != 0 ? r->status : r->result));
		p->next_start_ms = uv_now(m->loop) + 1000;
	}
	sodium_memzero(op->str, sizeof(op->str));
	free(op);
	if (p->state == P_TOKEN)
		p->state = P_STOPPED;
	if (p->rec != NULL && !m->stopping && p->token[0] != 0 &&
	    p->handles == 1 &&
	    uv_now(m->loop) >= p->next_start_ms)
		spawn_proc(p);
	proc_free_if_idle(p);
}

static void make_token(struct plug_proc *p)
{
	struct plug_mgr *m = p->m;
	const struct core_ops *ops = m->core->ops;
	struct token_op *op = calloc(1, sizeof(*op));
	struct core_cmd cmd;

	if (op == NULL)
		return;
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_TOKEN_ADD;
	core_token_new(&cmd.u.token, op->str);
	cmd.u.token.kind = CORE_TOKEN_API;
	cmd.u.token.role = token_role(p->rec);
	(void)snprintf(cmd.u.token.name, sizeof(cmd.u.token.name),
		       "plugin:%.24s@%.32s", p->rec->name, m->node);
	op->wall_ms = ops->wall_ms(m->core->ctx);
	cmd.u.token.created_ms = op->wall_ms;
	cmd.u.token.expires_ms = op->wall_ms + PLUG_TOKEN_TTL_MS;
	memcpy(op->id, cmd.u.token.id, sizeof(op->id));
	memcpy(op->name, cmd.u.token.name, sizeof(op->name));
	op->p = p;
	if (ops->write(m->core->ctx, &cmd, ops->now_ms(m->core->ctx) + 10000,
		       on_token, op) != 0) {
		sodium_memzero(op->str, sizeof(op->str));
		free(op);
		p->next_start_ms = uv_now(m->loop) + 1000;
		return;
	}
	p->writes++;
	p->state = P_TOKEN;
}

/* --- reconciliation ----------------------------------------------------- */

static struct plug_proc *slot(struct plug_mgr *m, const char *name,
			      int create)
{
	struct plug_proc *p;

	for (size_t i = 0; i < PLUG_MAX; i++)
		if (m->procs[i] != NULL && m->procs[i]->rec != NULL &&
		    strcmp(m->procs[i]->rec->name, name) == 0)
			return m->procs[i];
	for (size_t i = 0; i < PLUG_MAX; i++)
		if (m->procs[i] != NULL && m->procs[i]->rec == NULL &&
		    m->procs[i]->running != NULL &&
		    !uv_is_closing((uv_handle_t *)&m->procs[i]->kill_timer) &&
		    strcmp(m->procs[i]->running->name, name) == 0)
			return m->procs[i];
	if (!create)
		return NULL;
	for (size_t i = 0; i < PLUG_MAX; i++) {
		if (m->procs[i] != NULL)
			continue;
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return NULL;
		p->m = m;
		uv_timer_init(m->loop, &p->kill_timer);
		p->kill_timer.data = p;
		p->handles++;
		m->procs[i] = p;
		return p;
	}
	return NULL;
}

/* Reads the registry's records wanted on this node into wanted[]
 * (malloc'd each); returns how many. */
static size_t read_registry(struct plug_mgr *m, struct plug_rec **wanted)
{
	const struct core_ops *ops = m->core->ops;
	struct core_kv_key *keys = NULL;
	size_t nk = 0, nw = 0;
	int more = 0;
	char why[160];

	if (ops->kv_list(m->core->ctx, PLUG_NS, strlen(PLUG_NS), NULL, 0,
			 NULL, 0, PLUG_MAX, &keys, &nk, &more) != 0)
		return 0;
	for (size_t i = 0; i < nk; i++) {
		struct core_kv_value v;
		struct plug_rec *r;

		if (ops->kv_get(m->core->ctx, PLUG_NS, strlen(PLUG_NS),
				keys[i].key, keys[i].len, &v) != 0)
			continue;
		r = malloc(sizeof(*r));
		if (r != NULL &&
		    plug_rec_parse((const char *)v.value, v.len, r, why,
				   sizeof(why)) == 0 &&
		    plug_rec_here(r, m->node)) {
			wanted[nw++] = r;
			r = NULL;
		}
		free(r);
		free(v.value);
	}
	core_kv_keys_free(keys, nk);
	return nw;
}

static int rec_same(const struct plug_rec *a, const struct plug_rec *b)
{
	if (a->nargs != b->nargs || a->nperms != b->nperms ||
	    strcmp(a->name, b->name) != 0)
		return 0;
	for (size_t i = 0; i < a->nargs; i++)
		if (strcmp(a->args[i], b->args[i]) != 0)
			return 0;
	for (size_t i = 0; i < a->nperms; i++)
		if (strcmp(a->perms[i], b->perms[i]) != 0)
			return 0;
	return 1;
}

static void reconcile(struct plug_mgr *m)
{
	struct plug_rec *wanted[PLUG_MAX];
	size_t nw = 0;
	uint64_t now = uv_now(m->loop);
	uint64_t wall = m->core->ops->wall_ms(m->core->ctx);

	if (!m->stopping && m->core->ops->joined(m->core->ctx))
		nw = read_registry(m, wanted);
	/* Forget what is no longer wanted; keep what is. */
	for (size_t i = 0; i < PLUG_MAX; i++) {
		struct plug_proc *p = m->procs[i];
		int keep = 0;

		if (p == NULL || p->rec == NULL)
			continue;
		for (size_t k = 0; k < nw; k++)
			keep |= wanted[k] != NULL &&
				strcmp(wanted[k]->name, p->rec->name) == 0;
		if (!keep) {
			free(p->rec);
			p->rec = NULL;
		}
	}
	for (size_t k = 0; k < nw; k++) {
		struct plug_proc *p = slot(m, wanted[k]->name, 1);

		if (p == NULL) {
			free(wanted[k]);
			continue;
		}
		free(p->rec);
		p->rec = wanted[k];
	}
	for (size_t i = 0; i < PLUG_MAX; i++) {
		struct plug_proc *p = m->procs[i];

		if (p == NULL)
			continue;
		if (p->rec == NULL) {
			if (p->state == P_RUNNING)
				stop_proc(p);
			if (p->pid == 0 && p->handles == 1)
				close_h(p, (uv_handle_t *)&p->kill_timer);
			continue;
		}
		if (p->state == P_RUNNING &&
		    (!rec_same(p->rec, p->running) ||
		     wall >= p->token_wall_ms + PLUG_TOKEN_TTL_MS -
				     86400ull * 1000)) {
			if (!rec_same(p->rec, p->running))
				TRACE_I(m->log, "plugins", "plugin %s: its "
					"record changed; restarting",
					p->rec->name);
			else
				p->token[0] = '\0'; /* rotate it */
			stop_proc(p);
		}
		/* Only the kill timer open: the last run's pipes are closed
		 * and may be initialised again. */
		if (p->state != P_STOPPED || now < p->next_start_ms ||
		    p->handles != 1)
			continue;
		if (p->token[0] == '\0')
			make_token(p);
		else
			spawn_proc(p);
	}
}

static void on_tick(uv_timer_t *t)
{
	reconcile(t->data);
}

static void on_kick(uv_timer_t *t)
{
	reconcile(t->data);
}

void plug_mgr_kick(struct plug_mgr *m)
{
	if (!m->stopping)
		uv_timer_start(&m->kick, on_kick, 0, 0);
}

size_t plug_mgr_states(struct plug_mgr *m, struct core_plugin_state *out,
		       size_t max)
{
	static const char *const names[] = {"stopped", "starting", "running",
					    "stopping"};
	size_t n = 0;

	for (size_t i = 0; i < PLUG_MAX && n < max; i++) {
		struct plug_proc *p = m->procs[i];
		const struct plug_rec *r;

		if (p == NULL)
			continue;
		r = p->rec ? p->rec : p->running;
		if (r == NULL)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		(void)snprintf(out[n].name, sizeof(out[n].name), "%s", r->name);
		(void)snprintf(out[n].status, sizeof(out[n].status), "%s",
			       p->state == P_STOPPED && p->restarts > 0 &&
					       p->rec != NULL
				       ? "backoff"
				       : names[p->state]);
		out[n].pid = p->pid;
		out[n].restarts = p->restarts;
		out[n].last_exit = p->last_exit;
		n++;
	}
	return n;
}

int plug_mgr_new(const struct plug_config *cfg, struct plug_mgr **out)
{
	struct plug_mgr *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return ERR_NOMEM;
	m->loop = cfg->loop;
	m->log = cfg->log;
	m->core = cfg->core;
	(void)snprintf(m->node, sizeof(m->node), "%s", cfg->node_name);
	(void)snprintf(m->url, sizeof(m->url), "%s", cfg->api_url);
	m->reconcile_ms = cfg->reconcile_ms ? cfg->reconcile_ms : 1000;
	m->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : 1000;
	uv_timer_init(m->loop, &m->tick);
	uv_timer_init(m->loop, &m->kick);
	m->tick.data = m;
	m->kick.data = m;
	m->mgr_handles = 2;
	uv_timer_start(&m->tick, on_tick, m->reconcile_ms, m->reconcile_ms);
	*out = m;
	return 0;
}

static void on_mgr_closed(uv_handle_t *h)
{
	struct plug_mgr *m = h->data;

	m->mgr_handles--;
	maybe_done(m);
}

void plug_mgr_stop(struct plug_mgr *m, void (*done)(void *arg), void *arg)
{
	m->stopping = 1;
	m->done = done;
	m->done_arg = arg;
	uv_close((uv_handle_t *)&m->tick, on_mgr_closed);
	uv_close((uv_handle_t *)&m->kick, on_mgr_closed);
	for (size_t i = 0; i < PLUG_MAX; i++) {
		struct plug_proc *p = m->procs[i];

		if (p == NULL)
			continue;
		free(p->rec);
		p->rec = NULL;
		if (p->state == P_RUNNING)
			stop_proc(p);
		if (p->pid == 0)
			close_h(p, (uv_handle_t *)&p->kill_timer);
	}
}
