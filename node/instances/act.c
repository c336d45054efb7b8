/*
 * act.c: kill and restart, which act on the process where it runs
 * (issue 12). The desired state stays the replicated truth:
 *   kill     SIGKILL at once (no save), then this node proposes desired
 *            stopped. Until that is applied the instance is held, so the
 *            reconciliation does not start it again meanwhile; a failed
 *            proposal lifts the hold (the instance should still run).
 *   restart  SIGTERM (the server saves and exits); as the desired state
 *            is still running, the next reconciliation starts it again.
 *            A given-up instance gets a fresh start.
 */
#include "node/instances/inst_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

struct kill_op {
	struct inst_mgr *m;
	uint64_t id;
	void (*cb)(void *arg, int status);
	void *arg;
};

static void on_desired_stopped(void *arg, const struct core_write_result *r)
{
	struct kill_op *k = arg;
	struct inst_proc *p = inst_find(k->m, k->id);
	int status = r->status != 0 ? r->status : r->result;

	if (status != 0 && p != NULL)
		p->hold = 0;
	inst_mgr_kick(k->m);
	k->cb(k->arg, status);
	free(k);
}

static int do_kill(struct inst_proc *p, uint64_t deadline_ms,
		   void (*cb)(void *arg, int status), void *arg)
{
	struct inst_mgr *m = p->m;
	struct kill_op *k = calloc(1, sizeof(*k));
	struct core_cmd cmd;
	int rc;

	if (k == NULL)
		return ERR_NOMEM;
	if (p->pid != 0) {
		TRACE_I(m->log, "instances", "%s: killed (SIGKILL, no save)",
			p->rec.name);
		p->stop_wanted = 1;
		inst_set_state(p, ST_STOPPING);
		inst_signal(p, SIGKILL);
	}
	p->hold = 1;
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_INST_DESIRED;
	cmd.u.inst.id = p->id;
	cmd.u.inst.desired = CORE_INST_STOPPED;
	k->m = m;
	k->id = p->id;
	k->cb = cb;
	k->arg = arg;
	rc = m->core->ops->write(m->core->ctx, &cmd, deadline_ms,
				 on_desired_stopped, k);
	if (rc != 0) {
		p->hold = 0;
		free(k);
	}
	return rc;
}

int inst_mgr_act(struct inst_mgr *m, uint64_t id, int what,
		 uint64_t deadline_ms, void (*cb)(void *arg, int status),
		 void *arg)
{
	struct inst_proc *p = inst_find(m, id);

	if (p == NULL || !p->present || m->stopping)
		return ERR_NOTFOUND;
	if (what == CORE_INST_KILL)
		return do_kill(p, deadline_ms, cb, arg);
	if (what != CORE_INST_RESTART)
		return ERR_INVAL;
	p->given_up = 0;
	p->backoff_ms = 0;
	p->next_start_ms = 0;
	p->hold = 0;
	if (p->pid != 0 && p->state != ST_STOPPING) {
		TRACE_I(m->log, "instances", "%s: restarting", p->rec.name);
		inst_stop(p);
	}
	inst_mgr_kick(m);
	cb(arg, 0);
	return 0;
}
