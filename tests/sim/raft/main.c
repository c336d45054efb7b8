/*
 * main.c: raft-sim, the command line of the simulator (sim.h).
 *
 *   raft-sim --seed N [--bug NAME] [--raft-trace] [--quiet]
 *       replays one seed and prints its trace (byte-identical every time;
 *       --quiet prints only the closing summary line)
 *   raft-sim --seeds N [--first S] [--jobs J] [--bug NAME] [--stop]
 *       runs seeds S..S+N-1 (in J worker processes), prints each failing
 *       seed, and ends with the line
 *       sim: seeds=N violations=V ops=O linearizable=L sim_s=S wall_s=W
 *       exit status 1 if any seed violated a checker.
 *   --end-to-end-only turns off the single-rule checks (see sim.h);
 *   --calm runs without faults (the benchmark's steady state).
 *   --duration-ms and --heal-ms set the length of the run and its fault
 *   phase (default 60000 and 40000).
 *   Nodes run the node's Raft driver (node/raftd) over the storage
 *   module on its in-memory disk (sdisk.c); --disk stor is accepted for
 *   old command lines (the journal disk is gone: raftd drives storage/
 *   only). --bug early-durable plants a bug in the driver (raftd.h,
 *   RAFTD_BUG_EARLY_DURABLE): writes count as durable as soon as they
 *   are issued.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/sim/raft/sim.h"

static const struct {
	const char *name;
	uint32_t flag;
} bugs[] = {
    {"double-vote", RAFT_BUG_DOUBLE_VOTE},
    {"commit-old-term", RAFT_BUG_COMMIT_OLD_TERM},
    {"apply-before-commit", RAFT_BUG_APPLY_BEFORE_COMMIT},
    {"send-before-persist", RAFT_BUG_SEND_BEFORE_PERSIST},
};

struct totals {
	uint64_t seeds, violations, ops, ops_ok, ops_unknown, lin_ok,
	    lin_unknown;
	uint64_t sim_ms, committed, elections, crashes, snapshots, transfers,
	    conf_changes, msgs, torn;
};

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: raft-sim --seed N | --seeds N [--first S] [--jobs J] "
	    "[--stop]\n"
	    "       [--bug double-vote|commit-old-term|apply-before-commit|"
	    "send-before-persist|\n"
	    "              early-durable (a bug in the driver, node/raftd)]\n"
	    "       [--disk stor] [--duration-ms MS] [--heal-ms MS] "
	    "[--raft-trace] "
	    "[--quiet] [--end-to-end-only] [--calm]\n");
	exit(2);
}

static void add(struct totals *t, const struct sim_result *r)
{
	t->seeds++;
	t->violations += r->violation != 0;
	t->ops += r->ops;
	t->ops_ok += r->ops_ok;
	t->ops_unknown += r->ops_unknown;
	t->lin_ok += r->lin == LIN_OK && !r->violation;
	t->lin_unknown += r->lin == LIN_UNKNOWN;
	t->sim_ms += r->sim_ms;
	t->committed += r->committed;
	t->elections += r->elections;
	t->crashes += r->crashes;
	t->snapshots += r->snapshots;
	t->transfers += r->transfers;
	t->conf_changes += r->conf_changes;
	t->msgs += r->msgs;
	t->torn += r->torn;
}

/* Runs seeds first + k, first + k + jobs, ...; reports on fd `out` one
 * line per seed: the numbers, then the violation text. */
static void worker(struct sim_opts o, uint64_t first, uint64_t n, int k,
		   int jobs, int stop, FILE *out)
{
	for (uint64_t i = (uint64_t)k; i < n; i += (uint64_t)jobs) {
		struct sim_result r;

		o.seed = first + i;
		if (sim_run(&o, &r) != 0) {
			fprintf(stderr, "seed %" PRIu64 ": out of memory\n",
				o.seed);
			exit(3);
		}
		fprintf(out,
			"%" PRIu64 " %d %" PRIu64 " %" PRIu64 " %" PRIu64
			" %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 " %s\n",
			o.seed, r.violation, r.ops, r.ops_ok, r.ops_unknown,
			(int)r.lin, r.sim_ms, r.committed, r.elections,
			r.crashes, r.snapshots, r.transfers, r.conf_changes,
			r.msgs, r.torn, r.violation ? r.what : "-");
		fflush(out);
		if (r.violation && stop)
			break;
	}
}

static int parse_line(char *line, uint64_t *seed, struct sim_result *r)
{
	int lin, used = 0;

	memset(r, 0, sizeof(*r));
	if (sscanf(line,
		   "%" SCNu64 " %d %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %d %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %n",
		   seed, &r->violation, &r->ops, &r->ops_ok, &r->ops_unknown,
		   &lin, &r->sim_ms, &r->committed, &r->elections, &r->crashes,
		   &r->snapshots, &r->transfers, &r->conf_changes, &r->msgs,
		   &r->torn, &used) < 15)
		return -1;
	r->lin = (enum lin_verdict)lin;
	snprintf(r->what, sizeof(r->what), "%s", line + used);
	r->what[strcspn(r->what, "\n")] = 0;
	return 0;
}

static int run_many(struct sim_opts o, uint64_t first, uint64_t n, int jobs,
		    int stop, const char *bug, const char *disk)
{
	struct totals t = {0};
	double t0 = wall_now();
	pid_t pids[64];
	int fds[2], stopped = 0;
	FILE *in;
	char line[1024];

	if (pipe(fds) != 0)
		return 3;
	fflush(stdout);
	for (int k = 0; k < jobs; k++) {
		pid_t pid = fork();

		if (pid < 0)
			return 3;
		pids[k] = pid;
		if (pid == 0) {
			FILE *out = fdopen(fds[1], "w");

			close(fds[0]);
			worker(o, first, n, k, jobs, stop, out);
			fclose(out);
			_exit(0);
		}
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	while (fgets(line, sizeof(line), in) != NULL) {
		struct sim_result r;
		uint64_t seed;

		if (parse_line(line, &seed, &r) != 0)
			continue;
		add(&t, &r);
		if (r.violation)
			printf("seed %" PRIu64 ": VIOLATION: %s\n"
			       "  replay: raft-sim --seed %" PRIu64
			       "%s%s%s%s\n",
			       seed, r.what, seed, bug ? " --bug " : "",
			       bug ? bug : "", disk ? " --disk " : "",
			       disk ? disk : "");
		if (r.violation && stop && !stopped) {
			/* One failing seed is the answer: end the others. */
			stopped = 1;
			for (int k = 0; k < jobs; k++)
				kill(pids[k], SIGTERM);
		}
	}
	fclose(in);
	for (int k = 0; k < jobs; k++) {
		int st;

		if (waitpid(pids[k], &st, 0) < 0 ||
		    (!stopped && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))) {
			printf("a worker process failed\n");
			t.violations++;
		}
	}
	printf("sim: committed=%" PRIu64 " ops_ok=%" PRIu64
	       " ops_unknown=%" PRIu64 " lin_unknown=%" PRIu64
	       " elections=%" PRIu64 " crashes=%" PRIu64 " snapshots=%" PRIu64
	       " transfers=%" PRIu64 " conf_changes=%" PRIu64 " msgs=%" PRIu64
	       " torn_dropped=%" PRIu64 "\n",
	       t.committed, t.ops_ok, t.ops_unknown, t.lin_unknown, t.elections,
	       t.crashes, t.snapshots, t.transfers, t.conf_changes, t.msgs,
	       t.torn);
	printf("sim: seeds=%" PRIu64 " violations=%" PRIu64 " ops=%" PRIu64
	       " linearizable=%" PRIu64 " sim_s=%.1f wall_s=%.2f\n",
	       t.seeds, t.violations, t.ops, t.lin_ok,
	       (double)t.sim_ms / 1000.0, wall_now() - t0);
	return t.violations ? 1 : 0;
}

static int run_one(struct sim_opts o)
{
	struct sim_result r;

	if (sim_run(&o, &r) != 0)
		return 3;
	printf("seed %" PRIu64 ": %s ops=%" PRIu64 " ok=%" PRIu64
	       " unknown=%" PRIu64 " calm=%.1f/s floor=%.1f/s"
	       " committed=%" PRIu64 " elections=%" PRIu64
	       " crashes=%" PRIu64 " torn=%" PRIu64 " snapshots=%" PRIu64
	       " lin=%s%s%s\n",
	       o.seed, r.violation ? "VIOLATION" : "ok", r.ops, r.ops_ok,
	       r.ops_unknown, r.calm_rate, r.calm_floor, r.committed, r.elections, r.crashes, r.torn,
	       r.snapshots,
	       r.lin == LIN_OK	      ? "ok"
	       : r.lin == LIN_UNKNOWN ? "unknown"
				      : "no",
	       r.violation ? ": " : "", r.violation ? r.what : "");
	return r.violation ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sim_opts o = {0};
	uint64_t first = 1, n = 0;
	int one = 0, jobs = 1, stop = 0, quiet = 0;
	const char *bug = NULL, *disk_arg = NULL;

	o.duration_ms = 60000;
	o.heal_ms = 40000;
	o.out = stdout;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--raft-trace") == 0) {
			o.raft_trace = 1;
			continue;
		}
		if (strcmp(a, "--stop") == 0) {
			stop = 1;
			continue;
		}
		if (strcmp(a, "--end-to-end-only") == 0) {
			o.end_to_end_only = 1;
			continue;
		}
		if (strcmp(a, "--calm") == 0) {
			o.calm = 1;
			continue;
		}
		if (strcmp(a, "--quiet") == 0) {
			quiet = 1;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--seed") == 0) {
			o.seed = strtoull(v, NULL, 10);
			one = 1;
		} else if (strcmp(a, "--seeds") == 0) {
			n = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--disk") == 0) {
			if (strcmp(v, "stor") != 0) {
				fprintf(stderr, "raft-sim: --disk %s: only the "
					"storage module (stor) remains\n", v);
				usage();
			}
			disk_arg = v;
		} else if (strcmp(a, "--first") == 0) {
			first = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--jobs") == 0) {
			jobs = atoi(v);
		} else if (strcmp(a, "--duration-ms") == 0) {
			o.duration_ms = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--heal-ms") == 0) {
			o.heal_ms = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--bug") == 0) {
			size_t k;

			for (k = 0; k < sizeof(bugs) / sizeof(bugs[0]); k++)
				if (strcmp(v, bugs[k].name) == 0)
					break;
			if (strcmp(v, "early-durable") == 0)
				o.bug_early_durable = 1;
			else if (k == sizeof(bugs) / sizeof(bugs[0]))
				usage();
			else
				o.bugs = bugs[k].flag;
			bug = v;
		} else {
			usage();
		}
	}
	if (jobs < 1 || jobs > 64 || o.heal_ms >= o.duration_ms ||
	    (!one && n == 0))
		usage();
	o.trace = one && !quiet;
	if (one)
		return run_one(o);
	return run_many(o, first, n, jobs, stop, bug, disk_arg);
}
