/*
 * adopt.c: a node that restarts takes over the servers it left running
 * (issue 12). When the node died, its servers did not: they were started
 * in a session of their own (UV_PROCESS_DETACHED), and their stdout is a
 * file (tail.c), not a pipe that would break. So on an instance's first
 * reconciliation after a start of the node, a server found through
 * DIR/server.pid whose command line still names DIR is adopted:
 *   - its stdout file is followed from the offset the last run saved
 *     (DIR/server.out.pos, at most a second old: a line of that last
 *     second may be read twice, which the IPC's ids make harmless);
 *   - RCON is connected at once (the port has listened since start-up);
 *   - it counts as running; the reconciliation then stops it if it should
 *     not run (desired stopped, moved to another node);
 *   - it is not our child, so its exit is noticed by polling every
 *     250 ms (tail.c) and its exit status is unknown: an exit nobody
 *     asked for counts as a crash, as for our own children.
 * A stop signals the pid directly (inst_signal).
 */
#include "node/instances/inst_int.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/err.h"

int inst_adopted_alive(struct inst_proc *p)
{
	return p->pid > 1 && kill((pid_t)p->pid, 0) == 0 &&
	       inst_runs_in(p->pid, p->dir);
}

void inst_signal(struct inst_proc *p, int sig)
{
	if (p->pid == 0)
		return;
	if (p->adopted)
		(void)kill((pid_t)p->pid, sig);
	else
		(void)uv_process_kill(&p->proc, sig);
}

int inst_adopt(struct inst_proc *p)
{
	char path[INST_PATH_MAX + 16];
	long long pid;
	int rv;

	if (p->adopt_checked)
		return 0;
	p->adopt_checked = 1;
	pid = inst_pidfile_read(p);
	if (pid <= 1 || !inst_runs_in(pid, p->dir))
		return 0;
	(void)inst_fmt(path, sizeof(path), "%s/server.out", p->dir);
	if (access(path, R_OK) != 0)
		return 0; /* started by a version without the file: orphan.c */
	p->pid = pid;
	p->adopted = 1;
	inst_set_state(p, ST_RUNNING);
	p->line_len = 0;
	p->clash[0] = '\0';
	rv = inst_tail_attach(p);
	if (rv != 0)
		TRACE_W(p->m->log, "instances",
			"%s: adopted server pid %lld, but cannot follow its "
			"output: %s", p->rec.name, pid, err_str(rv));
	inst_rcon_connect(p);
	core_users_adopted(p->m->core, p->id); /* issue 13: lists to date */
	p->adoptions++;
	TRACE_I(p->m->log, "instances",
		"%s: adopted server pid %lld left running by an earlier run of "
		"this node", p->rec.name, pid);
	return 1;
}
