/* inst_mgr_call against the stand-in (a real process over RCON, on a
 * patched save): the hello that turns IPC on, a call's JSON reply without
 * its newline, a Lua error as ERR_INVAL with the game's text, arguments
 * as JSON (quoted for Lua), the size limit, an unknown instance. argv[1]:
 * the stand-in's binary; argv[2]: the Lua dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/err.h"
#include "node/instances/inst_int.h"
#include "node/instances/patch.h"
#include "tests/lib/cmocka_all.h"
#include "tests/lib/standin_proc.h"

static const char *bin, *lua_dir;

struct reply {
	int done, status;
	char body[4096];
};

static void on_reply(void *arg, int status, const char *body, size_t len)
{
	struct reply *r = arg;

	r->done = 1;
	r->status = status;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
}

static void run_until(uv_loop_t *loop, const int *flag)
{
	uint64_t end = uv_now(loop) + 20000;

	while (!*flag && uv_now(loop) < end)
		uv_run(loop, UV_RUN_ONCE);
	assert_true(*flag);
}

static void call(struct inst_mgr *m, const char *fn, const char *args,
		 struct reply *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(inst_mgr_call(m, 11, fn, args, 10000, on_reply, r), 0);
	run_until(m->loop, &r->done);
}

static void on_rc_closed(void *ud)
{
	*(int *)ud = 1;
}

static void calls_into_the_game(void **state)
{
	char dir[512], save[600], big[12000];
	struct standin_proc srv;
	struct rcon_client_config rc;
	struct patch_result pr;
	struct inst_mgr *m = calloc(1, sizeof(*m));
	struct inst_proc *p = calloc(1, sizeof(*p));
	struct reply r;
	uv_loop_t loop;
	uint16_t port = standin_free_port();
	int closed = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/call_unitXXXXXX");
	assert_non_null(mkdtemp(dir));
	strcat(dir, "/inst");
	assert_int_equal(standin_prepare(bin, dir), 0);
	snprintf(save, sizeof(save), "%s/saves/test.zip", dir);
	assert_int_equal(patch_save(save, lua_dir, &pr), 0);
	uv_loop_init(&loop);
	memset(&srv, 0, sizeof(srv));
	assert_int_equal(standin_start(&srv, &loop, bin, dir, port, "pw"), 0);
	assert_true(standin_wait_rcon(&srv, 20000));

	m->loop = &loop;
	m->procs[0] = p;
	inst_ipc_init(m);
	p->m = m;
	p->id = 11;
	p->present = 1;
	p->state = ST_RUNNING;
	snprintf(p->rec.name, sizeof(p->rec.name), "call");
	memset(&rc, 0, sizeof(rc));
	rc.host = "127.0.0.1";
	rc.port = port;
	rc.password = "pw";
	rc.no_reconnect = 1;
	assert_int_equal(rcon_client_new(&p->rc, &loop, &rc), 0);
	assert_int_equal(rcon_client_start(p->rc), 0);
	/* The game's first Lua command only warns; hello is asked again
	 * then, as after the manager's own warm-up. */
	inst_ipc_connected(p);
	{
		uint64_t end = uv_now(&loop) + 20000;

		while (!p->ipc.ready && uv_now(&loop) < end)
			uv_run(&loop, UV_RUN_ONCE);
	}
	assert_int_equal(p->ipc.ready, 1);

	call(m, "hello", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.body, "\"next_id\":1"));
	assert_true(r.body[strlen(r.body) - 1] == '}'); /* no newline */
	call(m, "ack", "[1,2,3]", &r);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.body, "0");
	call(m, "nope", NULL, &r);
	assert_int_equal(r.status, ERR_INVAL);
	assert_non_null(strstr(r.body, "no remote function nope"));
	call(m, "ack", "not json", &r);
	assert_int_equal(r.status, ERR_INVAL);
	/* Quotes, backslashes and non-ASCII reach the game intact: the
	 * framework's hello ignores its argument, so ack echoes nothing;
	 * call_json decodes it (an error would say "not JSON"). */
	call(m, "ack", "[\"a\\\"b\\\\c\", \"h\xc3\xa9\"]", &r);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.body, "0");
	memset(big, '1', sizeof(big) - 1);
	big[0] = '[';
	big[sizeof(big) - 2] = ']';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(inst_mgr_call(m, 11, "ack", big, 1000, on_reply, &r),
			 ERR_TOOBIG);
	assert_int_equal(inst_mgr_call(m, 99, "hello", NULL, 1000, on_reply, &r),
			 ERR_NOTFOUND);
	assert_int_equal(inst_mgr_call(m, 11, "bad name", NULL, 1000, on_reply,
				       &r), ERR_INVAL);

	rcon_client_close(p->rc, on_rc_closed, &closed);
	run_until(&loop, &closed);
	p->rc = NULL;
	standin_kill(&srv, 9);
	assert_true(standin_wait_exit(&srv, 20000));
	inst_ipc_close(m, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(p);
	free(m);
	*strrchr(dir, '/') = '\0';
	snprintf(save, sizeof(save), "rm -rf %s", dir);
	assert_int_equal(system(save), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(calls_into_the_game),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s STANDIN LUA_DIR\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	lua_dir = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
