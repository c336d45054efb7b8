/*
 * bench_rcon: RCON round trips per second and bytes per second into the
 * Factorio stand-in, with our client (rcon/client.h) and with npm's
 * rcon-client 4.2.5, in one run against one server process.
 *
 * The server answers no sooner than the next tick (60/s), so a client that
 * waits for each reply is bounded near 60 commands/s whatever its speed;
 * pipelining is what matters. Measured, alternating ours and theirs, R
 * times (median and spread reported):
 *   seq        one command at a time (both clients)
 *   pipelined  ours: 256 on the wire; rcon-client: Promise.all with
 *              maxPending 5, the setting Clusterio's hosts use
 *   bytes      9,000-byte commands, pipelined as above
 *   same window both with 256 commands on the wire; both are bounded by
 *              the server's ticks here, so the client's own cost is
 *              reported as CPU microseconds per command (getrusage for
 *              ours, process.cpuUsage for node; lower is better)
 *
 * usage: bench_rcon <factorio-binary> <scratch-dir> <rcon_client_bench.js>
 *                   <node_modules dir> [repetitions]
 * Prints `bench <name>: clusterd=<v> rcon-client=<v> ratio=<r> <unit>`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include "base/err.h"
#include "rcon/client.h"
#include "tests/lib/standin_proc.h"

#define PASSWORD "bench-secret"
#define N_SEQ 120
#define N_PIPE 6000
#define N_BYTES 600
#define N_THEIR_PIPE 900
#define N_THEIR_BYTES 300
#define BIG_BODY 9000
#define REPS_MAX 9

static uv_loop_t loop;
static struct rcon_client *cli;
static uint16_t port;
static int completed, bad;
static double last_cpu_us; /* CPU time of the last measured run */

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same command text as rcon_client_bench.js builds. */
static size_t command(char *out, size_t cap, int i, size_t size)
{
	size_t n = (size_t)snprintf(out, cap, "/sc rcon.print(%d)", i);

	if (size > n + 4) {
		memcpy(out + n, " --", 3);
		memset(out + n + 3, 'x', size - n - 3);
		n = size;
		out[n] = '\0';
	}
	return n;
}

static void on_reply(void *ud, int status, const char *body, size_t len)
{
	(void)len;
	if (status != 0 || atoi(body) != (int)(intptr_t)ud)
		bad++;
	completed++;
}

/* Runs n commands of `size` bytes with at most `window` outstanding at
 * the application level (1 = sequential). Returns seconds; adds bytes. */
static double ours(int n, size_t size, int window, double *bytes)
{
	static char buf[BIG_BODY + 64];
	double t0 = now_s(), c0 = cpu_us(), secs;
	int sent = 0;

	completed = 0;
	while (completed < n) {
		while (sent < n && sent - completed < window) {
			size_t len = command(buf, sizeof(buf), sent, size);

			if (rcon_client_command(cli, buf, len, 0, 60000, on_reply,
						(void *)(intptr_t)sent) != 0)
				break;
			*bytes += (double)len + 14;
			sent++;
		}
		uv_run(&loop, UV_RUN_ONCE);
	}
	secs = now_s() - t0;
	last_cpu_us = cpu_us() - c0;
	return secs;
}

/* Runs the rcon-client script; returns seconds, adds bytes. */
static double theirs(const char *js, const char *mods, const char *mode,
		     int n, size_t size, int max_pending, double *bytes)
{
	char cmd[4096], line[512];
	FILE *p;
	double secs = -1, b = 0;
	int nbad = 0;

	snprintf(cmd, sizeof(cmd), "node '%s' '%s' %u '%s' %s %d %zu %d", js,
		 mods, port, PASSWORD, mode, n, size, max_pending);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL) {
		const char *s = strstr(line, "\"secs\":");
		const char *bb = strstr(line, "\"bytes\":");
		const char *bd = strstr(line, "\"bad\":");
		const char *cu = strstr(line, "\"cpu_us\":");

		if (s && bb && bd && cu) {
			secs = atof(s + 7);
			b = atof(bb + 8);
			nbad = atoi(bd + 6);
			last_cpu_us = atof(cu + 9);
		}
	}
	if (pclose(p) != 0 || secs <= 0) {
		fprintf(stderr, "bench: rcon-client run failed\n");
		exit(1);
	}
	bad += nbad;
	*bytes += b;
	return secs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(const char *name, double *a, double *b, int reps,
		   const char *unit)
{
	double ma = median(a, reps), mb = median(b, reps);

	printf("bench %s: clusterd=%.1f rcon-client=%.1f ratio=%.3f %s\n", name,
	       ma, mb, ma / mb, unit);
	printf("#   %s spread: clusterd %.1f..%.1f, rcon-client %.1f..%.1f over %d runs\n",
	       name, a[0], a[reps - 1], b[0], b[reps - 1], reps);
}

static char prime_reply[256];
static int prime_done;
static void on_prime(void *ud, int status, const char *body, size_t len)
{
	(void)ud;
	(void)status;
	snprintf(prime_reply, sizeof(prime_reply), "%.*s", (int)len, body);
	prime_done = 1;
}

/* The first Lua command of a save only prints the achievements warning. */
static int prime(void)
{
	const char *cmd = "/sc rcon.print('disabled')";

	for (int attempt = 0; attempt < 3; attempt++) {
		prime_done = 0;
		if (rcon_client_command(cli, cmd, strlen(cmd), 0, 20000, on_prime,
					NULL) != 0)
			return -1;
		while (!prime_done)
			uv_run(&loop, UV_RUN_ONCE);
		if (strncmp(prime_reply, "disabled", 8) == 0)
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct standin_proc srv = {0};
	struct rcon_client_config cfg = {0};
	double seq_a[REPS_MAX], seq_b[REPS_MAX], pipe_a[REPS_MAX],
		pipe_b[REPS_MAX], by_a[REPS_MAX], by_b[REPS_MAX],
		win_a[REPS_MAX], win_b[REPS_MAX], cpu_a[REPS_MAX],
		cpu_b[REPS_MAX];
	int reps = argc > 5 ? atoi(argv[5]) : 3;

	if (argc < 5 || reps < 1 || reps > REPS_MAX) {
		fprintf(stderr, "usage: %s <factorio-binary> <scratch-dir> <rcon_client_bench.js> <node_modules> [reps 1..9]\n",
			argv[0]);
		return 2;
	}
	if (uv_loop_init(&loop) != 0 || standin_prepare(argv[1], argv[2]) != 0)
		return 1;
	port = standin_free_port();
	if (standin_start(&srv, &loop, argv[1], argv[2], port, PASSWORD) != 0 ||
	    !standin_wait_rcon(&srv, 20000)) {
		fprintf(stderr, "bench: the server did not start\n");
		return 1;
	}
	cfg.host = "127.0.0.1";
	cfg.port = port;
	cfg.password = PASSWORD;
	cfg.inflight_max = 256;
	cfg.queue_max = N_PIPE + 16;
	cfg.no_reconnect = 1;
	if (rcon_client_new(&cli, &loop, &cfg) != 0 || rcon_client_start(cli) != 0 ||
	    prime() != 0) {
		fprintf(stderr, "bench: client setup failed\n");
		return 1;
	}
	for (int r = 0; r < reps; r++) {
		double ba = 0, bb = 0;

		seq_a[r] = N_SEQ / ours(N_SEQ, 0, 1, &ba);
		seq_b[r] = N_SEQ / theirs(argv[3], argv[4], "seq", N_SEQ, 0, 1, &bb);
		pipe_a[r] = N_PIPE / ours(N_PIPE, 0, N_PIPE, &ba);
		cpu_a[r] = last_cpu_us / N_PIPE;
		pipe_b[r] = N_THEIR_PIPE / theirs(argv[3], argv[4], "all",
						  N_THEIR_PIPE, 0, 5, &bb);
		double secs;

		win_a[r] = pipe_a[r];
		win_b[r] = N_PIPE / theirs(argv[3], argv[4], "all", N_PIPE, 0,
					   256, &bb);
		cpu_b[r] = last_cpu_us / N_PIPE;
		ba = bb = 0;
		secs = ours(N_BYTES, BIG_BODY, N_BYTES, &ba);
		by_a[r] = ba / secs;
		secs = theirs(argv[3], argv[4], "all", N_THEIR_BYTES, BIG_BODY,
			      5, &bb);
		by_b[r] = bb / secs;
		fprintf(stderr, "run %d: seq %.0f/%.0f pipelined %.0f/%.0f "
			"same-window %.0f/%.0f bytes %.0f/%.0f\n",
			r + 1, seq_a[r], seq_b[r], pipe_a[r], pipe_b[r], win_a[r],
			win_b[r], by_a[r], by_b[r]);
	}
	if (bad != 0) {
		fprintf(stderr, "bench: %d wrong or failed replies\n", bad);
		return 1;
	}
	report("rcon_rtt", pipe_a, pipe_b, reps, "ops/s");
	report("rcon_rtt_sequential", seq_a, seq_b, reps, "ops/s");
	report("rcon_bytes", by_a, by_b, reps, "bytes/s");
	report("rcon_rtt_same_window", win_a, win_b, reps, "ops/s");
	report("rcon_client_cpu", cpu_a, cpu_b, reps, "us/command");
	printf("#   rcon_rtt, rcon_bytes: clusterd 256 in flight; rcon-client "
	       "Promise.all with maxPending 5 (Clusterio's setting); %d-byte "
	       "commands for bytes/s\n", BIG_BODY);
	printf("#   rcon_rtt_same_window, rcon_client_cpu: both with 256 in flight, "
	       "%d commands; cpu is the client process's user+system time "
	       "(lower is better)\n", N_PIPE);
	rcon_client_close(cli, NULL, NULL);
	standin_kill(&srv, SIGKILL);
	standin_wait_exit(&srv, 10000);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}
