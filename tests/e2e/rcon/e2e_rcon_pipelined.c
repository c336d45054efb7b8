/*
 * e2e_rcon_pipelined: our RCON client against tools/factorio-standin, a real
 * process on loopback.
 *
 *   pipeline   10,000 pipelined `/sc rcon.print(i)` commands: every reply
 *              arrives, once, matched to its command.
 *   chunked    a 200 kB binary payload and a 60 kB Lua program go through
 *              rcon_client_chunked and arrive intact.
 *   kill       SIGKILL of the server (by PID) mid-stream, restart on the
 *              same port: commands on the wire fail with ERR_CLOSED, short
 *              deadlines expire (ERR_TIMEOUT), long ones survive the
 *              outage and complete after the reconnect; no reply is lost
 *              or delivered to the wrong command.
 *
 * usage: e2e_rcon_pipelined <factorio-binary> <scratch-base> [phase...]
 * Works in <scratch-base>/run-<pid> (removed after a pass). Prints what
 * differs and exits 1 on a failure; E2E_ECHO=1 shows the server's stdout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "rcon/client.h"
#include "tests/lib/standin_proc.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,         \
				__LINE__, #cond);                             \
			fprintf(stderr, __VA_ARGS__);                         \
			fprintf(stderr, "\n");                                \
			exit(1);                                              \
		}                                                             \
	} while (0)

#define PASSWORD "e2e-secret"
#define N_PIPELINE 10000

static uv_loop_t loop;
static struct standin_proc srv;
static struct rcon_client *cli;
static const char *bin, *dir;
static uint16_t rcon_port;

/* One command's outcome. */
struct slot {
	int done;    /* completions seen (must end at exactly 1) */
	int status;
	int value;   /* the number the reply carried, -1 if none */
	int warning; /* the reply was the achievements warning */
};

static struct slot *slots;
static int completed;

static void on_slot(void *ud, int status, const char *body, size_t len)
{
	struct slot *s = ud;

	(void)len;
	s->done++;
	s->status = status;
	s->value = -1;
	if (status == 0) {
		if (strstr(body, "chievement") != NULL)
			s->warning = 1;
		else
			s->value = atoi(body);
	}
	completed++;
}

static void run_until_completed(int target, uint64_t ms)
{
	uint64_t end = uv_now(&loop) + ms;

	while (completed < target && uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK(completed >= target, "%d of %d completed in %llu ms", completed,
	      target, (unsigned long long)ms);
}

static int send_number(int i, uint64_t timeout_ms)
{
	char cmd[64];
	int n = snprintf(cmd, sizeof(cmd), "/sc rcon.print(%d)", i);

	return rcon_client_command(cli, cmd, (size_t)n, 0, timeout_ms, on_slot,
				   &slots[i]);
}

/* Sends `/sc rcon.print('disabled')` until it answers: the first Lua
 * command of a save only prints the achievements warning. */
static char prime_reply[256];
static int prime_done;
static void on_prime(void *ud, int status, const char *body, size_t len)
{
	(void)ud;
	CHECK(status == 0, "prime: %s", err_name(status));
	snprintf(prime_reply, sizeof(prime_reply), "%.*s", (int)len, body);
	prime_done = 1;
}

static void prime(void)
{
	const char *cmd = "/sc rcon.print('disabled')";

	for (int attempt = 0; attempt < 3; attempt++) {
		prime_done = 0;
		CHECK(rcon_client_command(cli, cmd, strlen(cmd), 0, 10000,
					  on_prime, NULL) == 0, "submit");
		while (!prime_done)
			uv_run(&loop, UV_RUN_ONCE);
		if (strncmp(prime_reply, "disabled", 8) == 0)
			return;
	}
	CHECK(0, "server never answered 'disabled' (last: %s)", prime_reply);
}

static void start_server(void)
{
	CHECK(standin_start(&srv, &loop, bin, dir, rcon_port, PASSWORD) == 0,
	      "spawn");
	CHECK(standin_wait_rcon(&srv, 20000), "no RCON line from the server");
}

static void client_new(uint32_t inflight, uint32_t queue)
{
	struct rcon_client_config cfg = {0};

	cfg.host = "127.0.0.1";
	cfg.port = rcon_port;
	cfg.password = PASSWORD;
	cfg.inflight_max = inflight;
	cfg.queue_max = queue;
	cfg.backoff_min_ms = 50;
	cfg.backoff_max_ms = 400;
	cfg.timeout_ms = 30000;
	CHECK(rcon_client_new(&cli, &loop, &cfg) == 0, "client");
	CHECK(rcon_client_start(cli) == 0, "start");
}

static void client_close(void)
{
	rcon_client_close(cli, NULL, NULL);
	cli = NULL;
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void phase_pipeline(void)
{
	struct rcon_client_stats st;
	uint64_t t0;

	client_new(256, N_PIPELINE + 16);
	prime();
	completed = 0;
	memset(slots, 0, N_PIPELINE * sizeof(*slots));
	uv_update_time(&loop);
	t0 = uv_now(&loop);
	for (int i = 0; i < N_PIPELINE; i++)
		CHECK(send_number(i, 60000) == 0, "submit %d", i);
	run_until_completed(N_PIPELINE, 120000);
	for (int i = 0; i < N_PIPELINE; i++) {
		CHECK(slots[i].done == 1, "command %d completed %d times", i,
		      slots[i].done);
		CHECK(slots[i].status == 0, "command %d: %s", i,
		      err_name(slots[i].status));
		CHECK(slots[i].value == i, "command %d got reply %d", i,
		      slots[i].value);
	}
	rcon_client_stats(cli, &st);
	CHECK(st.late_replies == 0 && st.timeouts == 0, "late %llu timeouts %llu",
	      (unsigned long long)st.late_replies,
	      (unsigned long long)st.timeouts);
	fprintf(stderr, "pipeline: %d commands in %llu ms, none lost or mismatched\n",
		N_PIPELINE, (unsigned long long)(uv_now(&loop) - t0));
	client_close();
}

static char *big;
static size_t big_len;
static int big_status = 1;
static void on_big(void *ud, int status, const char *body, size_t len)
{
	(void)ud;
	free(big);
	big = malloc(len + 1);
	CHECK(big != NULL, "oom");
	memcpy(big, body, len + 1);
	big_len = len;
	big_status = status;
}

static void wait_big(void)
{
	uint64_t end = uv_now(&loop) + 120000;

	while (big_status == 1 && uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK(big_status != 1, "chunked: no completion");
}

static void phase_chunked(void)
{
	size_t n = 200 * 1000;
	char *p = malloc(n), want[64];
	char *code = malloc(80 * 1000);
	size_t len = 0;
	uint64_t h = 0;

	CHECK(p && code, "oom");
	client_new(64, 1024);
	prime();
	for (size_t i = 0; i < n; i++) {
		p[i] = (char)(uint8_t)((i * 131 + i / 97) & 0xff);
		h = (h * 31 + (uint8_t)p[i]) % 4294967296u;
	}
	CHECK(rcon_client_chunked(cli, p, n,
				  "function(d) local h=0 for i=1,#d do "
				  "h=(h*31+d:byte(i))%4294967296 end "
				  "rcon.print(#d..' '..string.format('%d',h)) end",
				  120000, on_big, NULL) == 0, "chunked submit");
	wait_big();
	snprintf(want, sizeof(want), "%zu %llu", n, (unsigned long long)h);
	CHECK(big_status == 0, "chunked: %s", err_name(big_status));
	CHECK(strncmp(big, want, strlen(want)) == 0,
	      "chunked binary: want '%s', got '%.200s'", want, big);
	/* A Lua program with CR LF, quotes and long-bracket look-alikes. */
	len += (size_t)snprintf(code, 80000, "local n=0\r\n");
	for (int i = 0; i < 2000; i++)
		len += (size_t)snprintf(code + len, 80000 - len,
					"n=n+#'\\'\"' -- ]] ]=] %d\r\n", i);
	len += (size_t)snprintf(code + len, 80000 - len, "rcon.print(n)");
	big_status = 1;
	CHECK(rcon_client_chunked(cli, code, len, NULL, 120000, on_big,
				  NULL) == 0, "chunked code submit");
	wait_big();
	CHECK(big_status == 0 && strncmp(big, "4000", 4) == 0,
	      "chunked code: got %s '%.200s'", err_name(big_status), big);
	fprintf(stderr, "chunked: %zu-byte binary payload and %zu-byte Lua program intact\n",
		n, len);
	free(p);
	free(code);
	client_close();
}

static int not_ready(void)
{
	return rcon_client_state(cli) != RCON_STATE_READY;
}

static void run_for(uint64_t ms)
{
	uint64_t end = uv_now(&loop) + ms;

	while (uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
}

static void phase_kill(void)
{
	struct rcon_client_stats st;
	int n_first = 2000, n_short = 200, n_long = 200;
	int total = n_first + n_short + n_long;
	int ok = 0, closed = 0, warnings = 0;
	uint64_t end;

	client_new(64, 4096);
	prime();
	completed = 0;
	memset(slots, 0, (size_t)total * sizeof(*slots));
	for (int i = 0; i < n_first; i++)
		CHECK(send_number(i, 20000) == 0, "submit %d", i);
	run_until_completed(300, 30000);
	/* Mid-stream: commands are on the wire and queued. */
	CHECK(rcon_client_pending(cli) > 64, "pending %zu",
	      rcon_client_pending(cli));
	standin_kill(&srv, SIGKILL);
	end = uv_now(&loop) + 10000;
	while (!not_ready() && uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK(not_ready(), "client did not notice the kill");
	for (int i = n_first; i < n_first + n_short; i++)
		CHECK(send_number(i, 500) == 0, "submit %d", i);
	for (int i = n_first + n_short; i < total; i++)
		CHECK(send_number(i, 30000) == 0, "submit %d", i);
	CHECK(standin_wait_exit(&srv, 10000), "server did not exit");
	CHECK(srv.term_signal == SIGKILL, "signal %d", srv.term_signal);
	run_for(1000); /* the outage: short deadlines expire */
	start_server();
	run_until_completed(total, 60000);
	for (int i = 0; i < total; i++) {
		struct slot *s = &slots[i];

		CHECK(s->done == 1, "command %d completed %d times", i, s->done);
		if (i >= n_first && i < n_first + n_short) {
			CHECK(s->status == ERR_TIMEOUT, "short %d: %s", i,
			      err_name(s->status));
			continue;
		}
		if (s->status == ERR_CLOSED && i < n_first) {
			closed++;
			continue;
		}
		CHECK(s->status == 0, "command %d: %s", i, err_name(s->status));
		if (s->warning) {
			warnings++;
			continue;
		}
		CHECK(s->value == i, "command %d got reply %d", i, s->value);
		ok++;
	}
	rcon_client_stats(cli, &st);
	CHECK(closed >= 1 && closed <= 64, "%d failed with ERR_CLOSED", closed);
	CHECK(warnings <= 1, "%d warnings", warnings);
	CHECK(st.connects == 2, "%llu connects", (unsigned long long)st.connects);
	CHECK(st.timeouts == (uint64_t)n_short, "%llu timeouts",
	      (unsigned long long)st.timeouts);
	fprintf(stderr, "kill: %d answered, %d lost on the wire (ERR_CLOSED), "
		"%d expired (ERR_TIMEOUT), %d achievement warnings, reconnected\n",
		ok, closed, n_short, warnings);
	client_close();
}

int main(int argc, char **argv)
{
	static char dirbuf[4096], rm[4200];
	int all = argc <= 3;

	if (argc < 3) {
		fprintf(stderr, "usage: %s <factorio-binary> <scratch-dir> [pipeline|chunked|kill]...\n",
			argv[0]);
		return 2;
	}
	bin = argv[1];
	mkdir(argv[2], 0755);
	snprintf(dirbuf, sizeof(dirbuf), "%s/run-%d", argv[2], (int)getpid());
	dir = dirbuf;
	srv.echo = getenv("E2E_ECHO") != NULL;
	slots = calloc(N_PIPELINE + 16, sizeof(*slots));
	CHECK(slots != NULL, "oom");
	CHECK(uv_loop_init(&loop) == 0, "loop");
	CHECK(standin_prepare(bin, dir) == 0, "prepare %s", dir);
	rcon_port = standin_free_port();
	start_server();
	for (int i = 3; i < argc || all; i++) {
		const char *ph = all ? NULL : argv[i];

		if (all || strcmp(ph, "pipeline") == 0)
			phase_pipeline();
		if (all || strcmp(ph, "chunked") == 0)
			phase_chunked();
		if (all || strcmp(ph, "kill") == 0)
			phase_kill();
		all = 0;
	}
	standin_kill(&srv, SIGINT);
	if (!standin_wait_exit(&srv, 10000)) {
		standin_kill(&srv, SIGKILL);
		standin_wait_exit(&srv, 5000);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0, "loop still has handles");
	free(slots);
	free(big);
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	fprintf(stderr, "e2e_rcon_pipelined: ok\n");
	return 0;
}
