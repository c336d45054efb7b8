/*
 * orphan.c: servers left running by an earlier run of this node (it was
 * killed, or crashed). adopt.c takes them over on the instance's first
 * reconciliation; one it could not adopt (no stdout file to follow) is
 * stopped here when the instance starts (SIGTERM: it saves; SIGKILL after
 * the stop timeout) and the instance then starts afresh, without a port
 * clash. A server is recognised by DIR/server.pid and by its command
 * line naming the instance folder (a recycled pid is left alone).
 */
#include "node/instances/inst_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/err.h"

#define CMDLINE_MAX 8192

static void pid_path(const struct inst_proc *p, char *path, size_t size)
{
	(void)inst_fmt(path, size, "%s/server.pid", p->dir);
}

void inst_pidfile_write(struct inst_proc *p)
{
	char path[INST_PATH_MAX + 16];
	FILE *f;

	pid_path(p, path, sizeof(path));
	f = fopen(path, "w");
	if (f == NULL)
		return; /* only a later restart of the node needs it */
	fprintf(f, "%lld\n", (long long)p->pid);
	fclose(f);
}

void inst_pidfile_remove(struct inst_proc *p)
{
	char path[INST_PATH_MAX + 16];

	pid_path(p, path, sizeof(path));
	(void)unlink(path);
}

/* 1 if pid runs a command line that names dir. */
int inst_runs_in(long long pid, const char *dir)
{
	char path[64], *buf;
	size_t n;
	FILE *f;
	int hit = 0;

	snprintf(path, sizeof(path), "/proc/%lld/cmdline", pid);
	f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	buf = malloc(CMDLINE_MAX + 1);
	if (buf != NULL) {
		n = fread(buf, 1, CMDLINE_MAX, f);
		for (size_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		hit = strstr(buf, dir) != NULL;
		free(buf);
	}
	fclose(f);
	return hit;
}

long long inst_pidfile_read(const struct inst_proc *p)
{
	char path[INST_PATH_MAX + 16];
	long long pid = 0;
	FILE *f;

	pid_path(p, path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%lld", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

int inst_orphan_check(struct inst_proc *p, uint64_t now)
{
	char path[INST_PATH_MAX + 16];
	long long pid = inst_pidfile_read(p);

	if (pid < 0)
		return 0;
	pid_path(p, path, sizeof(path));
	if (pid <= 1 || !inst_runs_in(pid, p->dir)) {
		(void)unlink(path);
		p->orphan_since_ms = 0;
		return 0;
	}
	if (p->orphan_since_ms == 0) {
		p->orphan_since_ms = now;
		(void)inst_fmt(p->cause, sizeof(p->cause),
			       "stopping server pid %lld left by an earlier run "
			       "of this node", pid);
		TRACE_W(p->m->log, "instances", "%s: %s", p->rec.name,
			p->cause);
		(void)kill((pid_t)pid, SIGTERM);
	} else if (now - p->orphan_since_ms > p->m->stop_timeout_ms) {
		(void)kill((pid_t)pid, SIGKILL);
	}
	return 1;
}
