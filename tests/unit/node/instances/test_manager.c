/* Unit tests of the instance manager (node/instances) against a fake core
 * (records in an array) and fake Factorio installs (shell scripts): ports
 * come from the node's range, a missing install is a clear cause, a server
 * that runs is marked running on the InGame line and stops on SIGTERM,
 * one that keeps crashing is restarted with backoff and given up after 5
 * crashes, with the cause kept. Real processes, a real loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>
#include <zip.h>

#include "base/err.h"
#include "node/instances/instances.h"
#include "tests/lib/cmocka_all.h"

#define SELF 7

struct fake {
	uv_loop_t loop;
	struct core core;
	struct core_instance recs[4];
	size_t n;
	unsigned writes;
	char dir[64];
};

static uint64_t f_now(void *ctx)
{
	return uv_now(&((struct fake *)ctx)->loop);
}

static int f_joined(void *ctx)
{
	(void)ctx;
	return 1;
}

static int f_raft_status(void *ctx, struct core_raft_status *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	out->id = SELF;
	return 0;
}

static int f_inst_list(void *ctx, struct core_instance *out, size_t max,
		       size_t *n)
{
	struct fake *f = ctx;

	*n = f->n < max ? f->n : max;
	memcpy(out, f->recs, *n * sizeof(*out));
	return 0;
}

/* Applies an ASSIGN at once, like a one-node cluster. */
static int f_write(void *ctx, const struct core_cmd *cmd, uint64_t deadline,
		   core_write_cb cb, void *arg)
{
	struct fake *f = ctx;
	struct core_write_result r = {0};

	(void)deadline;
	assert_int_equal(cmd->type, CORE_CMD_INST_ASSIGN);
	f->writes++;
	for (size_t i = 0; i < f->n; i++)
		if (f->recs[i].id == cmd->u.inst.id) {
			f->recs[i].game_port = cmd->u.inst.game_port;
			f->recs[i].rcon_port = cmd->u.inst.rcon_port;
		}
	cb(arg, &r);
	return 0;
}

static const struct core_ops fake_ops = {
	.now_ms = f_now,
	.joined = f_joined,
	.write = f_write,
	.raft_status = f_raft_status,
	.inst_list = f_inst_list,
};

/* A freeplay save to create from, and a Lua dir with the framework
 * module: the manager patches the save before each start (patch.h). */
static void make_template(struct fake *f)
{
	static const char control[] =
		"local handler = require(\"event_handler\")\n"
		"handler.add_lib(require(\"freeplay\"))\n"
		"handler.add_lib(require(\"silo-script\"))\n";
	char path[160];
	zip_t *z;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/template.zip", f->dir);
	z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, NULL);
	assert_non_null(z);
	assert_true(zip_file_add(z, "world/control.lua",
				 zip_source_buffer(z, control,
						   strlen(control), 0),
				 0) >= 0);
	assert_int_equal(zip_close(z), 0);
	snprintf(path, sizeof(path), "%s/lua/clusterd", f->dir);
	assert_int_equal(system(strcat(strcpy((char[200]){0}, "mkdir -p "),
				       path)), 0);
	strcat(path, "/main.lua");
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("return {}\n", fp);
	fclose(fp);
}

/* An install whose server runs `body` (a shell snippet). */
static void make_install(struct fake *f, const char *body)
{
	char path[128];
	FILE *fp;

	make_template(f);
	snprintf(path, sizeof(path), "%s/f/bin/x64", f->dir);
	assert_int_equal(system(strcat(strcpy((char[160]){0}, "mkdir -p "),
				       path)), 0);
	strcat(path, "/factorio");
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\n"
		    "for a; do [ \"$prev\" = --create ] &&"
		    " cp %s/template.zip \"$a\" && exit 0;"
		    " prev=$a; done\n%s\n", f->dir, body);
	fclose(fp);
	chmod(path, 0755);
}

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	uv_loop_init(&f->loop);
	f->core.ops = &fake_ops;
	f->core.ctx = f;
	snprintf(f->dir, sizeof(f->dir), "/tmp/inst_unitXXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->recs[0].id = 11;
	snprintf(f->recs[0].name, sizeof(f->recs[0].name), "alpha");
	snprintf(f->recs[0].save, sizeof(f->recs[0].save), "alpha");
	snprintf(f->recs[0].rcon_pw, sizeof(f->recs[0].rcon_pw), "pw");
	f->recs[0].node = SELF;
	f->recs[0].desired = CORE_INST_RUNNING;
	f->n = 1;
	return f;
}

static struct inst_mgr *mgr_new(struct fake *f, int with_install)
{
	char fdir[128], idir[128], ldir[128];
	struct inst_config c = {
		.loop = &f->loop, .core = &f->core, .factorio_dir = fdir,
		.instances_dir = idir, .lua_dir = ldir,
		.port_lo = 40000, .port_hi = 40003,
		.stop_timeout_ms = 5000, .backoff_min_ms = 10,
		.reconcile_ms = 20};
	struct inst_mgr *m;

	snprintf(fdir, sizeof(fdir), "%s", with_install ? f->dir : "");
	if (with_install)
		strcat(fdir, "/f");
	snprintf(idir, sizeof(idir), "%s/inst", f->dir);
	snprintf(ldir, sizeof(ldir), "%s/lua", f->dir);
	assert_int_equal(inst_mgr_new(&c, &m), 0);
	return m;
}

static void on_stopped(void *arg)
{
	*(int *)arg = 1;
}

static void fake_free(struct fake *f, struct inst_mgr *m)
{
	char cmd[128];
	int done = 0;

	inst_mgr_stop(m, on_stopped, &done);
	while (!done)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

/* Runs the loop until the state of alpha satisfies want (or 20 s). */
static int run_until(struct fake *f, struct inst_mgr *m,
		     int (*want)(const struct core_inst_state *))
{
	struct core_inst_state st;
	uint64_t end = uv_now(&f->loop) + 20000;

	while (uv_now(&f->loop) < end) {
		if (inst_mgr_state(m, 11, &st) == 0 && want(&st))
			return 1;
		uv_run(&f->loop, UV_RUN_ONCE);
		uv_update_time(&f->loop);
	}
	return 0;
}

static int has_cause(const struct core_inst_state *s)
{
	return s->cause[0] != '\0';
}

static int is_running(const struct core_inst_state *s)
{
	return strcmp(s->status, "running") == 0;
}

static int is_stopped(const struct core_inst_state *s)
{
	return strcmp(s->status, "stopped") == 0 && s->pid == 0;
}

static int is_given_up(const struct core_inst_state *s)
{
	return s->given_up;
}

static void missing_install_is_the_cause(void **state)
{
	struct fake *f = fake_new();
	struct inst_mgr *m = mgr_new(f, 0);
	struct core_inst_state st;

	(void)state;
	assert_true(run_until(f, m, has_cause));
	assert_int_equal(inst_mgr_state(m, 11, &st), 0);
	assert_non_null(strstr(st.cause, "factorio_dir is not set"));
	assert_string_equal(st.status, "stopped");
	/* Ports came from the range, in one proposal. */
	assert_int_equal(f->recs[0].game_port, 40000);
	assert_int_equal(f->recs[0].rcon_port, 40001);
	assert_int_equal(f->writes, 1);
	assert_int_equal(inst_mgr_state(m, 99, &st), ERR_NOTFOUND);
	fake_free(f, m);
}

static void runs_then_stops(void **state)
{
	struct fake *f = fake_new();
	struct inst_mgr *m;
	struct core_inst_state st;
	char path[160];

	(void)state;
	/* A second instance holds 40000/40001: alpha gets the next pair. */
	f->recs[1] = f->recs[0];
	f->recs[1].id = 12;
	snprintf(f->recs[1].name, sizeof(f->recs[1].name), "other");
	f->recs[1].game_port = 40000;
	f->recs[1].rcon_port = 40001;
	f->recs[1].desired = CORE_INST_STOPPED;
	f->n = 2;
	make_install(f, "echo ' 0.5 Info Main: changing state from(CreatingGame) to(InGame)'\n"
			"exec sleep 60");
	m = mgr_new(f, 1);
	assert_true(run_until(f, m, is_running));
	assert_int_equal(f->recs[0].game_port, 40002);
	assert_int_equal(inst_mgr_state(m, 11, &st), 0);
	assert_true(st.pid > 0);
	snprintf(path, sizeof(path), "%s/inst/alpha/config.ini", f->dir);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/inst/alpha/saves/alpha.zip", f->dir);
	assert_int_equal(access(path, R_OK), 0);
	/* RCON before the server said it listens: not running yet. */
	assert_int_equal(inst_mgr_rcon(m, 11, "/sc 1", 5, 100, NULL, NULL),
			 ERR_AGAIN);
	f->recs[0].desired = CORE_INST_STOPPED;
	inst_mgr_kick(m);
	assert_true(run_until(f, m, is_stopped));
	assert_int_equal(inst_mgr_state(m, 11, &st), 0);
	assert_int_equal(st.crashes, 0);
	assert_string_equal(st.cause, "");
	fake_free(f, m);
}

static void crash_loop_is_given_up(void **state)
{
	struct fake *f = fake_new();
	struct inst_mgr *m;
	struct core_inst_state st;

	(void)state;
	make_install(f, "echo ' 0.1 Error Main: Host address is already in use.'; exit 1");
	m = mgr_new(f, 1);
	assert_true(run_until(f, m, is_given_up));
	assert_int_equal(inst_mgr_state(m, 11, &st), 0);
	assert_int_equal(st.crashes, INST_CRASHES_MAX);
	assert_non_null(strstr(st.cause, "exited with status 1: game port"));
	assert_non_null(strstr(st.cause, "in use"));
	assert_non_null(strstr(st.cause, "given up after 5 crashes"));
	/* A new wish (stop, then start) lifts the give-up. */
	f->recs[0].desired = CORE_INST_STOPPED;
	inst_mgr_kick(m);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_true(run_until(f, m, is_stopped));
	f->recs[0].desired = CORE_INST_RUNNING;
	make_install(f, "echo ' 0.5 Info Main: changing state from(CreatingGame) to(InGame)'\n"
			"exec sleep 60");
	inst_mgr_kick(m);
	assert_true(run_until(f, m, is_running));
	fake_free(f, m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_install_is_the_cause),
		cmocka_unit_test(runs_then_stops),
		cmocka_unit_test(crash_loop_is_given_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
