/* Unit tests of the RCON client (rcon/client.h) against the in-process
 * fake server (fake_server.h), on one libuv loop. */
#include "tests/lib/cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "rcon/client.h"
#include "tests/unit/rcon/fake_server.h"

#define REPLIES_MAX 2048
/* Tests wait for events, never for time: a command's default deadline and
 * the overall limit of a wait are both far beyond what any test needs, so
 * a loaded machine (ticks late, the process descheduled) only makes the
 * tests slower. Tests of deadlines give their commands short ones. */
#define DEFAULT_TIMEOUT_MS 60000
#define WAIT_MS 120000

struct reply {
	int status;
	char body[128];
	size_t len;
	int done;
};

struct env {
	uv_loop_t loop;
	struct fake_server *srv;
	struct rcon_client *c;
	struct reply r[REPLIES_MAX];
	int completed;
	int closed;
	int states[8]; /* count of transitions into each state */
	char *big;     /* body of the last large reply */
	size_t big_len;
};

static void on_reply(void *ud, int status, const char *body, size_t len)
{
	struct reply *r = ud;

	assert_false(r->done);
	r->done = 1;
	r->status = status;
	r->len = len;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
	assert_int_equal(body[len], '\0');
}

static struct env *global_env;

static void on_reply_count(void *ud, int status, const char *body, size_t len)
{
	on_reply(ud, status, body, len);
	global_env->completed++;
}

static void on_big(void *ud, int status, const char *body, size_t len)
{
	struct env *e = ud;

	assert_int_equal(status, 0);
	free(e->big);
	e->big = malloc(len + 1);
	assert_non_null(e->big);
	memcpy(e->big, body, len + 1);
	e->big_len = len;
	e->completed++;
}

static void on_state(void *ud, enum rcon_state s, int err)
{
	struct env *e = ud;

	(void)err;
	e->states[s]++;
}

static void on_closed(void *ud)
{
	struct env *e = ud;

	e->closed = 1;
}

static struct env *env_new(const char *password, uint32_t inflight,
			   uint32_t queue)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rcon_client_config cfg = {0};

	assert_non_null(e);
	global_env = e;
	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->srv = fake_server_start(&e->loop, 0, "pw");
	assert_non_null(e->srv);
	cfg.host = "127.0.0.1";
	cfg.port = fake_server_port(e->srv);
	cfg.password = password;
	cfg.inflight_max = inflight;
	cfg.queue_max = queue;
	cfg.backoff_min_ms = 10;
	cfg.backoff_max_ms = 40;
	cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	cfg.on_state = on_state;
	cfg.state_ud = e;
	assert_int_equal(rcon_client_new(&e->c, &e->loop, &cfg), 0);
	return e;
}

/* Runs the loop until pred(e) holds or limit_ms of loop time pass. */
static void run_until(struct env *e, int (*pred)(struct env *),
		      uint64_t limit_ms)
{
	uint64_t end = uv_now(&e->loop) + limit_ms;

	while (!pred(e) && uv_now(&e->loop) < end)
		uv_run(&e->loop, UV_RUN_ONCE);
	assert_true(pred(e));
}

static int target;
static int reached(struct env *e)
{
	return e->completed >= target;
}

static int is_ready(struct env *e)
{
	return rcon_client_state(e->c) == RCON_STATE_READY;
}

static int not_ready(struct env *e)
{
	return rcon_client_state(e->c) != RCON_STATE_READY;
}

static void env_free(struct env *e)
{
	rcon_client_close(e->c, on_closed, e);
	fake_server_stop(e->srv);
	while (uv_run(&e->loop, UV_RUN_DEFAULT) != 0)
		;
	assert_true(e->closed);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	free(e->big);
	free(e);
}

static int submit(struct env *e, int i, const char *cmd, unsigned flags,
		  uint64_t timeout_ms)
{
	return rcon_client_command(e->c, cmd, strlen(cmd), flags, timeout_ms,
				   on_reply_count, &e->r[i]);
}

/* Commands submitted before the connection is up are pipelined once it
 * is; replies answered in reverse order still reach their commands. */
static void pipelined_matched_by_id(void **state)
{
	struct env *e = env_new("pw", 8, 1024);
	struct rcon_client_stats cs;
	struct fake_server_stats ss;
	char cmd[32];
	int n = 500;

	(void)state;
	fake_server_set_reverse(e->srv, 1);
	fake_server_set_auth_quirk(e->srv, 1);
	assert_int_equal(rcon_client_start(e->c), 0);
	for (int i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd), "echo %d", i);
		assert_int_equal(submit(e, i, cmd, 0, 0), 0);
	}
	assert_int_equal(rcon_client_pending(e->c), (size_t)n);
	target = n;
	run_until(e, reached, WAIT_MS);
	for (int i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd), "%d", i);
		assert_int_equal(e->r[i].status, 0);
		assert_string_equal(e->r[i].body, cmd);
	}
	fake_server_get_stats(e->srv, &ss);
	rcon_client_stats(e->c, &cs);
	/* The in-flight bound held, and was used. */
	assert_int_equal(ss.max_outstanding, 8);
	assert_int_equal(cs.sent, (uint64_t)n);
	assert_int_equal(cs.replied, (uint64_t)n);
	assert_int_equal(cs.connects, 1);
	assert_int_equal(e->states[RCON_STATE_READY], 1);
	env_free(e);
}

static void wrong_password(void **state)
{
	struct env *e = env_new("nope", 8, 16);

	(void)state;
	assert_int_equal(rcon_client_start(e->c), 0);
	assert_int_equal(submit(e, 0, "echo a", 0, 0), 0);
	target = 1;
	run_until(e, reached, WAIT_MS);
	assert_int_equal(e->r[0].status, ERR_AUTH);
	assert_int_equal(rcon_client_state(e->c), RCON_STATE_FAILED);
	/* A failed client refuses new work instead of queueing it. */
	assert_int_equal(submit(e, 1, "echo b", 0, 0), ERR_CLOSED);
	env_free(e);
}

static void bounds_and_sizes(void **state)
{
	struct env *e = env_new("pw", 2, 4);
	char *big = malloc(10001);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 10001);
	/* Not started: everything queues, up to queue_max. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(submit(e, i, "echo q", 0, 0), 0);
	assert_int_equal(submit(e, 4, "echo q", 0, 0), ERR_AGAIN);
	assert_int_equal(rcon_client_command(e->c, big, 10001, 0, 0,
					     on_reply_count, &e->r[5]),
			 ERR_TOOBIG);
	assert_int_equal(rcon_client_queue_room(e->c), 0);
	assert_int_equal(rcon_client_start(e->c), 0);
	target = 4;
	run_until(e, reached, WAIT_MS);
	for (int i = 0; i < 4; i++)
		assert_string_equal(e->r[i].body, "q");
	assert_false(e->r[4].done);
	assert_false(e->r[5].done);
	/* Exactly command_max is accepted. */
	assert_int_equal(rcon_client_command(e->c, big, 10000, 0, 0,
					     on_reply_count, &e->r[6]),
			 0);
	target = 5;
	run_until(e, reached, WAIT_MS);
	assert_string_equal(e->r[6].body, "unknown");
	free(big);
	env_free(e);
}

static void timeouts_and_late_replies(void **state)
{
	struct env *e = env_new("pw", 8, 64);
	struct rcon_client_stats cs;

	(void)state;
	assert_int_equal(rcon_client_start(e->c), 0);
	assert_int_equal(submit(e, 0, "hang", 0, 100), 0);
	assert_int_equal(submit(e, 1, "late", 0, 100), 0);
	assert_int_equal(submit(e, 2, "echo fine", 0, 0), 0);
	target = 3;
	run_until(e, reached, WAIT_MS);
	assert_int_equal(e->r[0].status, ERR_TIMEOUT);
	assert_int_equal(e->r[1].status, ERR_TIMEOUT);
	assert_string_equal(e->r[2].body, "fine");
	/* The late reply arrives after 20 ticks and is dropped. */
	target = 4;
	assert_int_equal(submit(e, 3, "ord 1 30", 0, 0), 0);
	run_until(e, reached, WAIT_MS);
	rcon_client_stats(e->c, &cs);
	assert_int_equal(cs.timeouts, 2);
	assert_int_equal(cs.late_replies, 1);
	assert_int_equal(rcon_client_state(e->c), RCON_STATE_READY);
	env_free(e);
}

/* "drop" closes the connection: commands on the wire fail with
 * ERR_CLOSED, queued ones survive and run after the reconnect. */
static void reconnect_after_drop(void **state)
{
	struct env *e = env_new("pw", 1, 64);
	struct rcon_client_stats cs;

	(void)state;
	assert_int_equal(rcon_client_start(e->c), 0);
	run_until(e, is_ready, WAIT_MS);
	assert_int_equal(submit(e, 0, "drop", 0, 0), 0);
	assert_int_equal(submit(e, 1, "echo after", 0, 0), 0);
	target = 2;
	run_until(e, reached, WAIT_MS);
	assert_int_equal(e->r[0].status, ERR_CLOSED);
	assert_int_equal(e->r[1].status, 0);
	assert_string_equal(e->r[1].body, "after");
	rcon_client_stats(e->c, &cs);
	assert_int_equal(cs.connects, 2);
	assert_int_equal(cs.failed_closed, 1);
	assert_true(e->states[RCON_STATE_BACKOFF] >= 1);
	env_free(e);
}

/* The server goes away entirely and comes back on the same port: the
 * client backs off, retries, and drains its queue afterwards. */
static void reconnect_after_server_restart(void **state)
{
	struct env *e = env_new("pw", 4, 64);
	uint16_t port = fake_server_port(e->srv);
	uint64_t t0;

	(void)state;
	assert_int_equal(rcon_client_start(e->c), 0);
	run_until(e, is_ready, WAIT_MS);
	fake_server_stop(e->srv);
	e->srv = NULL;
	run_until(e, not_ready, WAIT_MS);
	assert_int_equal(submit(e, 0, "echo back", 0, 5000), 0);
	/* Let several connect attempts fail (backoff 10, 20, 40, 40 ms). */
	t0 = uv_now(&e->loop);
	while (e->states[RCON_STATE_BACKOFF] < 4 && uv_now(&e->loop) < t0 + 5000)
		uv_run(&e->loop, UV_RUN_ONCE);
	assert_true(e->states[RCON_STATE_BACKOFF] >= 4);
	/* The delays doubled to the cap: 10 + 20 + 40 ms (less the time
	 * between the first backoff and t0). */
	assert_true(uv_now(&e->loop) - t0 >= 60);
	assert_false(e->r[0].done);
	e->srv = fake_server_start(&e->loop, port, "pw");
	assert_non_null(e->srv);
	target = 1;
	run_until(e, reached, WAIT_MS);
	assert_string_equal(e->r[0].body, "back");
	env_free(e);
}

/* Ordered commands never overlap on the wire, whatever their delays, and
 * complete in order; unordered ones flow around them. */
static int order_seen[64];
static int order_n;
static void on_ord(void *ud, int status, const char *body, size_t len)
{
	(void)ud;
	(void)len;
	assert_int_equal(status, 0);
	order_seen[order_n++] = atoi(body);
	global_env->completed++;
}

static void ordered_stream(void **state)
{
	struct env *e = env_new("pw", 16, 256);
	struct fake_server_stats ss;
	char cmd[32];

	(void)state;
	order_n = 0;
	assert_int_equal(rcon_client_start(e->c), 0);
	for (int i = 0; i < 40; i++) {
		/* Early ones are slow, late ones fast. */
		snprintf(cmd, sizeof(cmd), "ord %d %d", i, 1 + (40 - i) % 4);
		assert_int_equal(rcon_client_command(e->c, cmd, strlen(cmd),
						     RCON_CMD_ORDERED, 0,
						     on_ord, NULL), 0);
		snprintf(cmd, sizeof(cmd), "echo %d", i);
		assert_int_equal(submit(e, i, cmd, 0, 0), 0);
	}
	target = 80;
	run_until(e, reached, WAIT_MS);
	fake_server_get_stats(e->srv, &ss);
	assert_int_equal(ss.ordered_violations, 0);
	assert_int_equal(order_n, 40);
	for (int i = 0; i < 40; i++)
		assert_int_equal(order_seen[i], i);
	env_free(e);
}

static int big_done(struct env *e)
{
	return e->completed >= target;
}

/* 30 kB of every byte value reaches a consumer function intact, in parts
 * that each stay under the command limit. */
static void chunked_binary_payload(void **state)
{
	struct env *e = env_new("pw", 8, 256);
	struct fake_server_stats ss;
	size_t n = 30000;
	char *p = malloc(n);
	uint64_t h = 0;
	char want[64];

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		p[i] = (char)(uint8_t)((i * 7 + i / 256) & 0xff);
		h = (h * 31 + (uint8_t)p[i]) % 4294967296u;
	}
	assert_int_equal(rcon_client_start(e->c), 0);
	assert_int_equal(
		rcon_client_chunked(e->c, p, n,
				    "function(d) local h=0 for i=1,#d do "
				    "h=(h*31+d:byte(i))%4294967296 end "
				    "rcon.print(#d..' '..string.format('%d',h)) end",
				    0, on_big, e),
		0);
	target = 1;
	run_until(e, big_done, WAIT_MS);
	snprintf(want, sizeof(want), "%zu %llu\n", n, (unsigned long long)h);
	assert_string_equal(e->big, want);
	fake_server_get_stats(e->srv, &ss);
	assert_true(ss.max_command_len <= 10000);
	/* Escaping grows the payload; it needed several parts. */
	assert_true(ss.commands >= 5);
	/* The buffer was taken out of storage. */
	e->completed = 0;
	assert_int_equal(rcon_client_command(e->c, "/sc rcon.print(next(storage.__cdc) == nil)",
					     42, 0, 0, on_big, e), 0);
	run_until(e, big_done, WAIT_MS);
	assert_string_equal(e->big, "true\n");
	free(p);
	env_free(e);
}

/* A Lua program of 40 kB (with CR LF, quotes, backslashes) runs whole. */
static void chunked_lua_code(void **state)
{
	struct env *e = env_new("pw", 8, 256);
	struct fake_server_stats ss;
	char *code = malloc(64 * 1024);
	size_t len = 0;
	int lines = 1500;

	(void)state;
	assert_non_null(code);
	len += (size_t)sprintf(code + len, "local n=0\r\n");
	for (int i = 0; i < lines; i++)
		len += (size_t)sprintf(code + len,
				       "n=n+#'\\'\"' -- pad ]] ]=] \\ %d\r\n", i);
	len += (size_t)sprintf(code + len, "rcon.print(n)");
	assert_true(len > 40000);
	assert_int_equal(rcon_client_start(e->c), 0);
	assert_int_equal(rcon_client_chunked(e->c, code, len, NULL, 0, on_big, e), 0);
	/* A Lua error in the payload comes back as text. */
	assert_int_equal(rcon_client_chunked(e->c, "error('boom', 0)", 16, NULL,
					     0, on_big, e), 0);
	target = 1;
	run_until(e, big_done, WAIT_MS);
	assert_string_equal(e->big, "3000\n");
	target = 2;
	run_until(e, big_done, WAIT_MS);
	assert_string_equal(e->big, "clusterd-chunked: boom\n");
	fake_server_get_stats(e->srv, &ss);
	assert_true(ss.max_command_len <= 10000);
	free(code);
	env_free(e);
}

/* Closing with work pending completes it with ERR_SHUTDOWN and frees
 * everything (the loop closes cleanly; ASan checks for leaks). */
static void close_with_pending(void **state)
{
	struct env *e = env_new("pw", 2, 64);

	(void)state;
	assert_int_equal(rcon_client_start(e->c), 0);
	run_until(e, is_ready, WAIT_MS);
	for (int i = 0; i < 10; i++)
		assert_int_equal(submit(e, i, "hang", i % 2 ? RCON_CMD_ORDERED : 0, 0), 0);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	rcon_client_close(e->c, on_closed, e);
	for (int i = 0; i < 10; i++)
		assert_int_equal(e->r[i].status, ERR_SHUTDOWN);
	assert_int_equal(submit(e, 11, "echo", 0, 0), ERR_CLOSED);
	env_free(e); /* a second close is a no-op */
}

/* A malformed reply drops the connection; the client reconnects. */
static void malformed_reply(void **state)
{
	struct env *e = env_new("pw", 4, 64);
	struct rcon_client_stats cs;

	(void)state;
	assert_int_equal(rcon_client_start(e->c), 0);
	assert_int_equal(submit(e, 0, "garbage", 0, 0), 0);
	target = 1;
	run_until(e, reached, WAIT_MS);
	assert_int_equal(e->r[0].status, ERR_CLOSED);
	assert_int_equal(submit(e, 1, "echo ok", 0, 0), 0);
	target = 2;
	run_until(e, reached, WAIT_MS);
	assert_string_equal(e->r[1].body, "ok");
	rcon_client_stats(e->c, &cs);
	assert_int_equal(cs.connects, 2);
	env_free(e);
}

static void on_silent_conn(uv_stream_t *l, int status)
{
	(void)l;
	(void)status; /* never accepted: the kernel completes the handshake */
}

static void silent_closed(uv_handle_t *h)
{
	(void)h;
}

/* A server that accepts TCP but never answers the auth: the connect
 * timeout fires; without reconnect the client fails its queue. */
static void auth_never_answered(void **state)
{
	struct env *e = env_new("pw", 4, 64);
	struct rcon_client *c2;
	struct rcon_client_config cfg = {0};
	uv_tcp_t silent;
	struct sockaddr_in sa;
	int len = sizeof(sa);

	(void)state;
	uv_tcp_init(&e->loop, &silent);
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&silent, (struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&silent, 8, on_silent_conn), 0);
	uv_tcp_getsockname(&silent, (struct sockaddr *)&sa, &len);
	cfg.host = "127.0.0.1";
	cfg.port = ntohs(sa.sin_port);
	cfg.password = "pw";
	cfg.connect_timeout_ms = 100;
	cfg.no_reconnect = 1;
	cfg.on_state = on_state;
	cfg.state_ud = e;
	assert_int_equal(rcon_client_new(&c2, &e->loop, &cfg), 0);
	assert_int_equal(rcon_client_start(c2), 0);
	assert_int_equal(rcon_client_command(c2, "echo", 4, 0, 0, on_reply_count,
					     &e->r[0]), 0);
	target = 1;
	run_until(e, reached, WAIT_MS);
	assert_int_equal(e->r[0].status, ERR_CLOSED);
	assert_int_equal(rcon_client_state(c2), RCON_STATE_FAILED);
	assert_true(e->states[RCON_STATE_AUTHING] >= 1);
	rcon_client_close(c2, NULL, NULL);
	uv_close((uv_handle_t *)&silent, silent_closed);
	env_free(e);
}

/* Chunked transfers need queue room for every part at once. */
static void chunked_needs_room(void **state)
{
	struct env *e = env_new("pw", 4, 3);
	char *p = calloc(1, 30000);

	(void)state;
	assert_non_null(p);
	memset(p, 'a', 30000);
	assert_int_equal(rcon_client_chunked(e->c, p, 30000, NULL, 0, on_big, e),
			 ERR_AGAIN);
	assert_int_equal(rcon_client_pending(e->c), 0);
	assert_int_equal(rcon_client_chunked(e->c, p, 9000, NULL, 0,
					     on_reply_count, &e->r[0]), 0);
	assert_int_equal(rcon_client_pending(e->c), 2);
	/* Closing completes the transfer once, with the shutdown error. */
	rcon_client_close(e->c, on_closed, e);
	assert_int_equal(e->r[0].status, ERR_SHUTDOWN);
	assert_int_equal(e->completed, 1);
	free(p);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pipelined_matched_by_id),
		cmocka_unit_test(wrong_password),
		cmocka_unit_test(bounds_and_sizes),
		cmocka_unit_test(timeouts_and_late_replies),
		cmocka_unit_test(reconnect_after_drop),
		cmocka_unit_test(reconnect_after_server_restart),
		cmocka_unit_test(ordered_stream),
		cmocka_unit_test(chunked_binary_payload),
		cmocka_unit_test(chunked_lua_code),
		cmocka_unit_test(close_with_pending),
		cmocka_unit_test(malformed_reply),
		cmocka_unit_test(auth_never_answered),
		cmocka_unit_test(chunked_needs_room),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
