/*
 * manager.c: the instance manager's reconciliation loop and process
 * control. See instances.h for the design; files.c writes the instance
 * folder, output.c reads the server's stdout.
 */
#include "node/instances/inst_int.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/events.h"

#include <curl/curl.h>

#define RECONCILE_MS 1000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

static struct inst_proc *find(struct inst_mgr *m, uint64_t id)
{
	for (size_t i = 0; i < INST_LOCAL_MAX; i++)
		if (m->procs[i] && m->procs[i]->id == id)
			return m->procs[i];
	return NULL;
}

int inst_fmt(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? ERR_TOOBIG : 0;
}

void inst_proc_free_if_idle(struct inst_mgr *m, struct inst_proc *p)
{
	if (p->present || p->handles || p->rc != NULL || p->pid != 0)
		return;
	for (size_t i = 0; i < INST_LOCAL_MAX; i++)
		if (m->procs[i] == p)
			m->procs[i] = NULL;
	sodium_memzero(p->rec.rcon_pw, sizeof(p->rec.rcon_pw));
	free(p);
	if (m->stopping)
		inst_mgr_maybe_done(m);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct inst_proc *p = h->data;
	struct inst_mgr *m = p->m;

	ASSERT(p->handles > 0);
	p->handles--;
	inst_proc_free_if_idle(m, p);
}

void inst_close_h(struct inst_proc *p, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	h->data = p;
	uv_close(h, on_handle_closed);
}

/* Records a crash at now; 1 if the instance is given up. */
static int note_crash(struct inst_proc *p, uint64_t now)
{
	uint32_t recent = 0;

	p->crashes++;
	p->crash_at[p->crashes % INST_CRASHES_MAX] = now;
	for (size_t i = 0; i < INST_CRASHES_MAX; i++)
		if (p->crash_at[i] != 0 &&
		    now - p->crash_at[i] <= INST_CRASH_WINDOW_MS)
			recent++;
	return recent >= INST_CRASHES_MAX;
}

/* The slot is no longer wanted and its process is gone: close what is
 * left; the last close frees it. */
static void retire(struct inst_proc *p)
{
	inst_rcon_drop(p);
	inst_close_h(p, (uv_handle_t *)&p->kill_timer);
}

static void on_kick(uv_timer_t *t);

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
	struct inst_proc *p = proc->data;
	struct inst_mgr *m = p->m;
	uint64_t now = uv_now(m->loop);
	int creating = p->state == ST_CREATING;
	char why[96];

	if (!creating)
		inst_pidfile_remove(p);
	p->pid = 0;
	inst_rcon_drop(p);
	inst_close_h(p, (uv_handle_t *)&p->proc);
	uv_timer_stop(&p->kill_timer);
	if (!p->present || m->stopping)
		retire(p);
	if (sig != 0)
		snprintf(why, sizeof(why), "killed by signal %d", sig);
	else
		snprintf(why, sizeof(why), "exited with status %lld",
			 (long long)status);
	if (creating && status == 0 && sig == 0 && !p->stop_wanted) {
		inst_set_state(p, ST_STOPPED); /* the save exists: start now */
		inst_mgr_kick(m);
		return;
	}
	if (p->stop_wanted || m->stopping) {
		TRACE_I(m->log, "instances", "%s: stopped (%s)", p->rec.name,
			why);
		inst_set_state(p, ST_STOPPED);
		p->stop_wanted = 0;
		inst_mgr_kick(m);
		return;
	}
	if (creating)
		(void)inst_fmt(p->cause, sizeof(p->cause),
			 "creating save %s.zip failed: %s%s%s", p->rec.save,
			 why, p->clash[0] ? ": " : "", p->clash);
	else
		(void)inst_fmt(p->cause, sizeof(p->cause), "%s%s%s", why,
			 p->clash[0] ? ": " : "", p->clash);
	inst_set_state(p, ST_STOPPED);
	if (note_crash(p, now)) {
		p->given_up = 1;
		snprintf(p->cause + strlen(p->cause),
			 sizeof(p->cause) - strlen(p->cause),
			 " (given up after %d crashes in 10 minutes)",
			 INST_CRASHES_MAX);
		TRACE_E(m->log, "instances", "%s: %s", p->rec.name, p->cause);
		return;
	}
	if (p->backoff_ms == 0)
		p->backoff_ms = m->backoff_min_ms;
	else
		p->backoff_ms = p->backoff_ms * 2 < BACKOFF_MAX_MS
					? p->backoff_ms * 2
					: BACKOFF_MAX_MS;
	p->next_start_ms = now + p->backoff_ms;
	uv_timer_start(&m->kick, on_kick, p->backoff_ms, 0);
	TRACE_W(m->log, "instances", "%s: crashed (%s); restart in %llu ms",
		p->rec.name, p->cause, (unsigned long long)p->backoff_ms);
}

static void on_kill_timer(uv_timer_t *t)
{
	struct inst_proc *p = t->data;

	if (p->pid != 0) {
		TRACE_W(p->m->log, "instances",
			"%s: no exit after SIGTERM; SIGKILL", p->rec.name);
		(void)uv_process_kill(&p->proc, SIGKILL);
	}
}

/* Spawns the server (or, ST_CREATING, the save creation) with args. */
static int spawn(struct inst_proc *p, char **args)
{
	struct inst_mgr *m = p->m;
	uv_process_options_t o;
	uv_stdio_container_t io[3];
	int rv;

	memset(&o, 0, sizeof(o));
	uv_pipe_init(m->loop, &p->out, 0);
	p->out.data = p;
	p->handles++;
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[1].data.stream = (uv_stream_t *)&p->out;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = 2;
	o.file = args[0];
	o.args = args;
	o.cwd = p->dir;
	o.exit_cb = on_exit_cb;
	o.stdio = io;
	o.stdio_count = 3;
	p->proc.data = p;
	rv = uv_spawn(m->loop, &p->proc, &o);
	if (rv != 0) {
		/* libuv wants the handle closed even after a failed spawn. */
		p->handles++;
		inst_close_h(p, (uv_handle_t *)&p->proc);
		inst_close_h(p, (uv_handle_t *)&p->out);
		return rv;
	}
	p->handles++;
	p->pid = p->proc.pid;
	p->line_len = 0;
	p->clash[0] = '\0';
	return uv_read_start((uv_stream_t *)&p->out, inst_out_alloc,
			     inst_out_read);
}

static void fail_start(struct inst_proc *p, const char *fmt, const char *a)
{
	(void)inst_fmt(p->cause, sizeof(p->cause), fmt, a);
	p->given_up = 1; /* a configuration problem: retrying does not help */
	TRACE_E(p->m->log, "instances", "%s: cannot start: %s", p->rec.name,
		p->cause);
}

static void start(struct inst_proc *p)
{
	struct inst_mgr *m = p->m;
	char exe[INST_PATH_MAX], save[INST_PATH_MAX + 80];
	char cfg[INST_PATH_MAX + 16], gp[8], rp[8];
	char *args[16];
	int rv;

	if (m->factorio_dir[0] == '\0') {
		fail_start(p, "%sfactorio_dir is not set in this node's "
			      "clusterd.json", "");
		return;
	}
	if (inst_fmt(exe, sizeof(exe), "%s/bin/x64/factorio",
		     m->factorio_dir) != 0 ||
	    access(exe, X_OK) != 0) {
		fail_start(p, "no Factorio executable at %s (factorio_dir)",
			   exe);
		return;
	}
	if (inst_orphan_check(p, uv_now(m->loop)))
		return; /* the next reconciliation looks again */
	if (p->orphan_since_ms != 0)
		p->cause[0] = '\0';
	p->orphan_since_ms = 0;
	rv = inst_write_files(m, p);
	if (rv != 0)
		return;
	(void)inst_fmt(cfg, sizeof(cfg), "%s/config.ini", p->dir);
	(void)inst_fmt(save, sizeof(save), "%s/saves/%s.zip", p->dir,
		       p->rec.save);
	if (access(save, F_OK) != 0) {
		char *c_args[] = {exe, "--config", cfg, "--create", save, NULL};

		inst_set_state(p, ST_CREATING);
		p->start_ms = uv_now(m->loop);
		p->created_save = 1;
		TRACE_I(m->log, "instances", "%s: creating save %s.zip",
			p->rec.name, p->rec.save);
		rv = spawn(p, c_args);
	} else {
		if (inst_patch_before_start(m, p, save) != 0)
			return; /* patch.c set the cause */
		snprintf(gp, sizeof(gp), "%u", p->rec.game_port);
		snprintf(rp, sizeof(rp), "%u", p->rec.rcon_port);
		args[0] = exe;
		args[1] = "--config";
		args[2] = cfg;
		args[3] = "--start-server";
		args[4] = save;
		args[5] = "--port";
		args[6] = gp;
		args[7] = "--rcon-port";
		args[8] = rp;
		args[9] = "--rcon-password";
		args[10] = p->rec.rcon_pw;
		args[11] = NULL;
		inst_set_state(p, ST_STARTING);
		/* After a save creation, the time counts from its start. */
		if (!p->created_save)
			p->start_ms = uv_now(m->loop);
		p->created_save = 0;
		p->start_to_running_ms = 0;
		TRACE_I(m->log, "instances", "%s: starting (game port %u, RCON "
			"port %u)", p->rec.name, p->rec.game_port,
			p->rec.rcon_port);
		rv = spawn(p, args);
		if (rv == 0)
			inst_pidfile_write(p);
	}
	if (rv != 0) {
		inst_set_state(p, ST_STOPPED);
		fail_start(p, "cannot run the server: %s", err_str(rv));
	}
}

static void stop(struct inst_proc *p)
{
	if (p->pid == 0 || p->state == ST_STOPPING)
		return;
	TRACE_I(p->m->log, "instances", "%s: stopping", p->rec.name);
	p->stop_wanted = 1;
	inst_set_state(p, ST_STOPPING);
	(void)uv_process_kill(&p->proc, SIGTERM);
	uv_timer_start(&p->kill_timer, on_kill_timer, p->m->stop_timeout_ms, 0);
}

static struct inst_proc *slot_new(struct inst_mgr *m, uint64_t id)
{
	for (size_t i = 0; i < INST_LOCAL_MAX; i++) {
		struct inst_proc *p;

		if (m->procs[i] != NULL)
			continue;
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return NULL;
		p->m = m;
		p->id = id;
		uv_timer_init(m->loop, &p->kill_timer);
		p->kill_timer.data = p;
		p->handles = 1;
		m->procs[i] = p;
		return p;
	}
	return NULL;
}

static void on_ports_written(void *arg, const struct core_write_result *r)
{
	struct inst_mgr *m = arg;

	m->ports_pending = 0;
	if (r->status != 0 || r->result != 0)
		TRACE_W(m->log, "instances", "port allocation not applied: %s",
			err_str(r->status != 0 ? r->status : r->result));
	inst_mgr_kick(m);
}

/* Picks the lowest free pair of this node's range for rec and proposes
 * it; one proposal at a time. */
static void alloc_ports(struct inst_mgr *m, const struct core_instance *rec,
			const struct core_instance *all, size_t n)
{
	struct core_cmd cmd;
	unsigned got[2], k = 0;

	if (m->ports_pending)
		return;
	for (unsigned port = m->port_lo; port <= m->port_hi && k < 2; port++) {
		int used = 0;

		for (size_t i = 0; i < n && !used; i++)
			used = all[i].node == rec->node &&
			       (all[i].game_port == port ||
				all[i].rcon_port == port);
		if (!used)
			got[k++] = port;
	}
	if (k < 2) {
		struct inst_proc *p = find(m, rec->id);

		if (p)
			snprintf(p->cause, sizeof(p->cause),
				 "no free ports left in this node's "
				 "instance_ports %u-%u", m->port_lo,
				 m->port_hi);
		return;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_INST_ASSIGN;
	cmd.u.inst = *rec;
	cmd.u.inst.game_port = (uint16_t)got[0];
	cmd.u.inst.rcon_port = (uint16_t)got[1];
	if (m->core->ops->write(m->core->ctx, &cmd,
				m->core->ops->now_ms(m->core->ctx) + 5000,
				on_ports_written, m) == 0)
		m->ports_pending = 1;
}

/* One record assigned here. */
static void reconcile_one(struct inst_mgr *m, const struct core_instance *rec,
			  const struct core_instance *all, size_t n)
{
	struct inst_proc *p = find(m, rec->id);
	uint64_t now = uv_now(m->loop);

	if (p == NULL && (p = slot_new(m, rec->id)) == NULL)
		return;
	p->present = 1;
	if (p->state == ST_STOPPED) {
		/* The record may change between runs, never under one. A new
		 * wish (desired state, ports) lifts a give-up. */
		if (rec->desired != p->rec.desired ||
		    rec->game_port != p->rec.game_port)
			p->given_up = 0;
		p->rec = *rec;
		(void)inst_fmt(p->dir, sizeof(p->dir), "%s/%s",
			       m->instances_dir, rec->name);
	}
	if (rec->game_port == 0 || rec->rcon_port == 0) {
		alloc_ports(m, rec, all, n);
		return;
	}
	if (rec->desired == CORE_INST_RUNNING) {
		if (p->state == ST_STOPPED && !p->given_up &&
		    now >= p->next_start_ms)
			start(p);
	} else if (p->state == ST_STARTING || p->state == ST_RUNNING ||
		   p->state == ST_CREATING) {
		stop(p);
	} else if (p->state == ST_STOPPED) {
		p->backoff_ms = 0;
		p->next_start_ms = 0;
	}
}

static uint64_t self_id(struct inst_mgr *m)
{
	struct core_raft_status *st = calloc(1, sizeof(*st));
	uint64_t id = 0;

	if (st && m->core->ops->raft_status(m->core->ctx, st) == 0)
		id = st->id;
	free(st);
	return id;
}

static void reconcile(struct inst_mgr *m)
{
	struct core_instance *all;
	size_t n = 0;
	uint64_t me;

	if (m->stopping || !m->core->ops->joined(m->core->ctx))
		return;
	me = self_id(m);
	all = calloc(CORE_INST_MAX, sizeof(*all));
	if (me == 0 || all == NULL ||
	    m->core->ops->inst_list(m->core->ctx, all, CORE_INST_MAX, &n) != 0) {
		free(all);
		return;
	}
	for (size_t i = 0; i < INST_LOCAL_MAX; i++)
		if (m->procs[i])
			m->procs[i]->present = 0;
	for (size_t i = 0; i < n; i++)
		if (all[i].node == me)
			reconcile_one(m, &all[i], all, n);
	for (size_t i = 0; i < INST_LOCAL_MAX; i++) {
		struct inst_proc *p = m->procs[i];

		if (p == NULL || p->present)
			continue;
		if (p->pid != 0)
			stop(p); /* deleted or moved to another node */
		else
			retire(p);
	}
	sodium_memzero(all, CORE_INST_MAX * sizeof(*all));
	free(all);
}

static void on_tick(uv_timer_t *t)
{
	reconcile(t->data);
}

static void on_kick(uv_timer_t *t)
{
	reconcile(t->data);
}

void inst_mgr_kick(struct inst_mgr *m)
{
	if (!m->stopping)
		uv_timer_start(&m->kick, on_kick, 0, 0);
}

int inst_mgr_new(const struct inst_config *cfg, struct inst_mgr **out)
{
	struct inst_mgr *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return ERR_NOMEM;
	m->loop = cfg->loop;
	m->log = cfg->log;
	m->core = cfg->core;
	m->events = cfg->events;
	snprintf(m->factorio_dir, sizeof(m->factorio_dir), "%s",
		 cfg->factorio_dir ? cfg->factorio_dir : "");
	snprintf(m->instances_dir, sizeof(m->instances_dir), "%s",
		 cfg->instances_dir);
	m->port_lo = cfg->port_lo;
	m->port_hi = cfg->port_hi;
	m->stop_timeout_ms = cfg->stop_timeout_ms ? cfg->stop_timeout_ms
						  : INST_STOP_TIMEOUT_MS_DEFAULT;
	curl_global_init(CURL_GLOBAL_DEFAULT); /* once, on the loop thread */
	uv_timer_init(m->loop, &m->tick);
	uv_timer_init(m->loop, &m->kick);
	m->tick.data = m;
	m->kick.data = m;
	m->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms
						: BACKOFF_MIN_MS;
	snprintf(m->lua_dir, sizeof(m->lua_dir), "%s",
		 cfg->lua_dir ? cfg->lua_dir : "");
	inst_ipc_init(m);    /* ipc.c */
	inst_players_init(m); /* players.c */
	uv_timer_start(&m->tick, on_tick,
		       cfg->reconcile_ms ? cfg->reconcile_ms : RECONCILE_MS,
		       cfg->reconcile_ms ? cfg->reconcile_ms : RECONCILE_MS);
	*out = m;
	return 0;
}

static const char *const state_words[] = {"stopped", "creating_save",
					  "starting", "running", "stopping"};

void inst_set_state(struct inst_proc *p, uint8_t st)
{
	ASSERT(st < sizeof(state_words) / sizeof(state_words[0]));
	if (p->state != st)
		ev_publish_instance(p->m->events, p->id, p->rec.name,
				    state_words[st]);
	p->state = st;
}

int inst_mgr_state(struct inst_mgr *m, uint64_t id,
		   struct core_inst_state *out)
{
	struct inst_proc *p = find(m, id);

	if (p == NULL || !p->present)
		return ERR_NOTFOUND;
	memset(out, 0, sizeof(*out));
	snprintf(out->status, sizeof(out->status), "%s", state_words[p->state]);
	out->pid = p->pid;
	out->crashes = p->crashes;
	out->given_up = p->given_up;
	out->saves = p->saves;
	out->start_to_running_ms = p->start_to_running_ms;
	snprintf(out->cause, sizeof(out->cause), "%s", p->cause);
	inst_players_state(p, out); /* players.c */
	return 0;
}

static void on_mgr_closed(uv_handle_t *h)
{
	struct inst_mgr *m = h->data;

	if (--m->mgr_handles == 0)
		inst_mgr_maybe_done(m);
}

void inst_mgr_maybe_done(struct inst_mgr *m)
{
	for (size_t i = 0; i < INST_LOCAL_MAX; i++)
		if (m->procs[i] != NULL)
			return;
	if (m->mgr_handles > 0 || m->done == NULL)
		return;
	m->done(m->done_arg);
	free(m);
}

void inst_mgr_stop(struct inst_mgr *m, void (*done)(void *arg), void *arg)
{
	m->stopping = 1;
	m->done = done;
	m->done_arg = arg;
	for (size_t i = 0; i < INST_LOCAL_MAX; i++) {
		struct inst_proc *p = m->procs[i];

		if (p == NULL)
			continue;
		p->present = 0;
		if (p->pid != 0)
			stop(p);
		else
			retire(p);
	}
	m->mgr_handles = 3;
	m->tick.data = m;
	m->kick.data = m;
	uv_close((uv_handle_t *)&m->tick, on_mgr_closed);
	uv_close((uv_handle_t *)&m->kick, on_mgr_closed);
	inst_ipc_close(m, on_mgr_closed); /* ipc.c */
}
