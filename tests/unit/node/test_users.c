/* Unit tests of node/users.c on a real libuv loop, with a fake core (users
 * in an array, writes applied at once) and a fake RCON that records what
 * each instance was sent:
 *   - action lines are parsed, chat lines quoting one are not;
 *   - a change is pushed to every local instance but the one it came from;
 *   - the line our own command causes is dropped (echo), a line the
 *     cluster already holds writes nothing, a real change from a game is
 *     written once with its origin;
 *   - commands for an instance whose RCON is not up wait, in order;
 *   - a game change that finds no leader is written once one is back;
 *   - the list files hold the lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/users.h"
#include "tests/lib/cmocka_all.h"

#define USERS_N 16
#define SENT_MAX 64

struct fake {
	uv_loop_t loop;
	struct core core;
	struct core_user users[USERS_N];
	size_t nusers;
	uint64_t index;
	unsigned writes;
	int write_status;      /* delivered to write callbacks */
	struct core_user_upd last; /* last update written */
	uint64_t last_origin;
	struct users *u;
	/* RCON: what each instance got, and which are not up. */
	char sent[SENT_MAX][128];
	uint64_t sent_to[SENT_MAX];
	size_t nsent;
	uint64_t down; /* this instance answers ERR_AGAIN */
	/* defer: answers wait in held[] until answer_all (as a server that
	 * takes a tick per command) */
	int defer;
	core_rcon_cb held_cb[SENT_MAX];
	void *held_arg[SENT_MAX];
	size_t nheld;
	/* IPC acknowledgements: (instance, id, status). */
	uint64_t ack_inst[SENT_MAX], ack_id[SENT_MAX];
	int ack_status[SENT_MAX];
	size_t nacks;
};

static struct fake *F(void *ctx)
{
	return ctx;
}

static uint64_t f_now(void *ctx)
{
	return uv_now(&F(ctx)->loop);
}

static struct core_user *find(struct fake *f, const char *name)
{
	for (size_t i = 0; i < f->nusers; i++)
		if (strcasecmp(f->users[i].name, name) == 0)
			return &f->users[i];
	return NULL;
}

static int cmp_users(const void *a, const void *b)
{
	return strcasecmp(((const struct core_user *)a)->name,
			  ((const struct core_user *)b)->name);
}

/* Applies an update as the domain would, at the next index. */
static void apply_upd(struct fake *f, const struct core_user_upd *d,
		      uint64_t origin)
{
	struct core_user *u = find(f, d->u.name);

	if (u == NULL) {
		assert_true(f->nusers < USERS_N);
		u = &f->users[f->nusers++];
		memset(u, 0, sizeof(*u));
		snprintf(u->name, sizeof(u->name), "%s", d->u.name);
	}
	if (d->mask & CORE_USER_F_ADMIN)
		u->admin = d->u.admin;
	if (d->mask & CORE_USER_F_WHITELIST)
		u->whitelisted = d->u.whitelisted;
	if (d->mask & CORE_USER_F_BAN) {
		u->banned = d->u.banned;
		snprintf(u->reason, sizeof(u->reason), "%s",
			 d->u.banned ? d->u.reason : "");
	}
	u->updated = ++f->index;
	u->origin = origin;
	qsort(f->users, f->nusers, sizeof(f->users[0]), cmp_users);
}

static int f_write(void *ctx, const struct core_cmd *cmd, uint64_t deadline,
		   core_write_cb cb, void *arg)
{
	struct fake *f = ctx;
	struct core_write_result r = {.status = f->write_status};

	(void)deadline;
	assert_int_equal(cmd->type, CORE_CMD_USER_UPDATE);
	assert_int_equal(cmd->u.users.n, 1);
	f->writes++;
	if (r.status == 0) {
		f->last = cmd->u.users.upd[0];
		f->last_origin = cmd->u.users.origin;
		apply_upd(f, &cmd->u.users.upd[0], cmd->u.users.origin);
		r.index = f->index;
	}
	cb(arg, &r);
	return 0;
}

static int f_user_get(void *ctx, const char *name, struct core_user *out)
{
	struct core_user *u = find(F(ctx), name);

	if (u == NULL)
		return ERR_NOTFOUND;
	*out = *u;
	return 0;
}

static int f_user_list(void *ctx, struct core_user *out, size_t max,
		       size_t *n)
{
	struct fake *f = ctx;

	*n = f->nusers < max ? f->nusers : max;
	memcpy(out, f->users, *n * sizeof(*out));
	return 0;
}

/* Instances 10 and 11 run here (node 1); 12 runs on node 2. */
static int f_inst_list(void *ctx, struct core_instance *out, size_t max,
		       size_t *n)
{
	(void)ctx;
	assert_true(max >= 3);
	memset(out, 0, 3 * sizeof(*out));
	for (int i = 0; i < 3; i++) {
		out[i].id = 10 + (uint64_t)i;
		out[i].node = i < 2 ? 1 : 2;
	}
	*n = 3;
	return 0;
}

static const struct core_ops fake_ops = {
	.now_ms = f_now,
	.write = f_write,
	.inst_list = f_inst_list,
	.user_get = f_user_get,
	.user_list = f_user_list,
};

static int f_rcon(void *arg, uint64_t inst, const char *cmd, size_t len,
		  uint64_t timeout_ms, core_rcon_cb cb, void *cb_arg)
{
	struct fake *f = arg;

	(void)timeout_ms;
	if (inst == f->down)
		return ERR_AGAIN;
	if (inst == 12)
		return ERR_NOTFOUND;
	assert_true(f->nsent < SENT_MAX);
	snprintf(f->sent[f->nsent], sizeof(f->sent[0]), "%.*s", (int)len, cmd);
	f->sent_to[f->nsent++] = inst;
	if (f->defer) {
		assert_true(f->nheld < SENT_MAX);
		f->held_cb[f->nheld] = cb;
		f->held_arg[f->nheld++] = cb_arg;
		return 0;
	}
	cb(cb_arg, 0, "", 0); /* the real client answers later; fine here */
	return 0;
}

static void answer_all(struct fake *f)
{
	size_t n = f->nheld;

	f->nheld = 0;
	for (size_t i = 0; i < n; i++)
		f->held_cb[i](f->held_arg[i], 0, "", 0);
}

static void f_ipc_done(void *arg, uint64_t inst, uint64_t id, int status)
{
	struct fake *f = arg;

	assert_true(f->nacks < SENT_MAX);
	f->ack_inst[f->nacks] = inst;
	f->ack_id[f->nacks] = id;
	f->ack_status[f->nacks++] = status;
}

/* The Lua module's event for an action, as the IPC layer hands it. */
static int event(struct fake *f, uint64_t inst, uint64_t id, const char *json)
{
	cJSON *m = cJSON_Parse(json);
	int rc;

	assert_non_null(m);
	rc = users_game_event(f->u, inst, id, m);
	cJSON_Delete(m);
	return rc;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct users_config c;

	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->core.ops = &fake_ops;
	f->core.ctx = f;
	memset(&c, 0, sizeof(c));
	c.loop = &f->loop;
	c.core = &f->core;
	c.self_id = 1;
	c.rcon = f_rcon;
	c.rcon_arg = f;
	c.ipc_done = f_ipc_done;
	c.ipc_arg = f;
	assert_int_equal(users_new(&c, &f->u), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	users_close(f->u);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

/* Runs the loop until nothing is due now (timers of 0 ms fire). */
static void turn(struct fake *f)
{
	uv_run(&f->loop, UV_RUN_NOWAIT);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Runs the loop for about ms (timers due in that time fire). */
static void run_for(struct fake *f, unsigned ms)
{
	uint64_t end = uv_now(&f->loop) + ms;

	while (uv_now(&f->loop) < end) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(5000);
		uv_update_time(&f->loop);
	}
}

static size_t count_sent(const struct fake *f, uint64_t inst, const char *cmd)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nsent; i++)
		n += f->sent_to[i] == inst && strcmp(f->sent[i], cmd) == 0;
	return n;
}

/* A change made through the API (origin 0). */
static void api_change(struct fake *f, const char *name, int mask, int on,
		       const char *reason)
{
	struct core_user_upd d;

	memset(&d, 0, sizeof(d));
	snprintf(d.u.name, sizeof(d.u.name), "%s", name);
	d.mask = (uint8_t)mask;
	d.u.admin = d.u.whitelisted = d.u.banned = (uint8_t)on;
	snprintf(d.u.reason, sizeof(d.u.reason), "%s", reason);
	apply_upd(f, &d, 0);
	users_kick(f->u);
	turn(f);
}

static void test_parse(void **state)
{
	struct users_event ev;

	(void)state;
	assert_true(users_parse_line("2024-05-01 12:00:00 [BAN] bob was banned "
				     "by alice. Reason: griefing.", &ev));
	assert_int_equal(ev.action, USERS_ACT_BAN);
	assert_string_equal(ev.name, "bob");
	assert_string_equal(ev.reason, "griefing");
	assert_true(users_parse_line("2024-05-01 12:00:00 [BAN] bob was banned "
				     "by <server>.", &ev));
	assert_string_equal(ev.reason, "");
	assert_true(users_parse_line("2024-05-01 12:00:00 [UNBANNED] Bob_2 was "
				     "unbanned by <server>.", &ev));
	assert_int_equal(ev.action, USERS_ACT_UNBAN);
	assert_string_equal(ev.name, "Bob_2");
	assert_true(users_parse_line("2024-05-01 12:00:00 [PROMOTE] carol was "
				     "promoted to admin by alice.", &ev));
	assert_int_equal(ev.action, USERS_ACT_PROMOTE);
	assert_true(users_parse_line("2024-05-01 12:00:00 [DEMOTE] carol was "
				     "demoted from admin by <server>.", &ev));
	assert_int_equal(ev.action, USERS_ACT_DEMOTE);
	/* A player quoting an action line in chat changes nothing. */
	assert_false(users_parse_line("2024-05-01 12:00:00 [CHAT] eve: [BAN] "
				      "bob was banned by alice.", &ev));
	assert_false(users_parse_line("[BAN] bob was banned by alice.", &ev));
	assert_false(users_parse_line("   1.306 Info Foo.cpp:1: [BAN] bob was "
				      "banned by x.", &ev));
	assert_false(users_parse_line("2024-05-01 12:00:00 [BAN] b b was "
				      "banned by x.", &ev));
	assert_false(users_parse_line("2024-05-01 12:00:00 [JOIN] bob joined "
				      "the game", &ev));
}

static void test_push_and_echo(void **state)
{
	struct fake *f = *state;
	struct users_stats st;

	api_change(f, "bob", CORE_USER_F_BAN, 1, "griefing");
	assert_int_equal(count_sent(f, 10, "/ban bob griefing"), 1);
	assert_int_equal(count_sent(f, 11, "/ban bob griefing"), 1);
	assert_int_equal(f->nsent, 2); /* 12 runs elsewhere */
	/* The echoes: dropped, nothing written. */
	users_game_line(f->u, 10, "2024-05-01 12:00:00 [BAN] bob was banned by "
				  "<server>. Reason: griefing.");
	users_game_line(f->u, 11, "2024-05-01 12:00:00 [BAN] bob was banned by "
				  "<server>. Reason: griefing.");
	users_get_stats(f->u, &st);
	assert_int_equal(st.echo_suppressed, 2);
	assert_int_equal(f->writes, 0);
	/* The same line again, no command pending: the cluster holds it. */
	users_game_line(f->u, 11, "2024-05-01 12:00:00 [BAN] bob was banned by "
				  "<server>. Reason: griefing.");
	users_get_stats(f->u, &st);
	assert_int_equal(st.already, 1);
	assert_int_equal(f->writes, 0);
	/* An echo is per instance and action: an unban typed in 10 is a
	 * change. */
	users_game_line(f->u, 10, "2024-05-01 12:00:01 [UNBANNED] bob was "
				  "unbanned by alice.");
	assert_int_equal(f->writes, 1);
	assert_int_equal(f->last_origin, 10);
	assert_false(find(f, "bob")->banned);
	/* Its apply goes to 11 only (10 has it). */
	f->nsent = 0;
	users_kick(f->u);
	turn(f);
	assert_int_equal(count_sent(f, 11, "/unban bob"), 1);
	assert_int_equal(f->nsent, 1);
	users_game_line(f->u, 11, "2024-05-01 12:00:01 [UNBANNED] bob was "
				  "unbanned by <server>.");
	assert_int_equal(f->writes, 1);
}

/* A promotion typed in a game: written once with its origin, upserting
 * a name the cluster did not know; pushed to the other local instance. */
static void test_change_from_game(void **state)
{
	struct fake *f = *state;

	users_game_line(f->u, 11, "2024-05-01 12:00:00 [PROMOTE] Carol was "
				  "promoted to admin by alice.");
	assert_int_equal(f->writes, 1);
	assert_int_equal(f->last.mask, CORE_USER_F_ADMIN);
	assert_true(f->last.u.admin);
	assert_int_equal(f->last_origin, 11);
	assert_non_null(find(f, "carol"));
	users_kick(f->u);
	turn(f);
	assert_int_equal(count_sent(f, 10, "/promote Carol"), 1);
	assert_int_equal(count_sent(f, 11, "/promote Carol"), 0);
	/* Whitelist and deletion. */
	f->nsent = 0;
	api_change(f, "carol", CORE_USER_F_WHITELIST, 1, "");
	assert_int_equal(count_sent(f, 10, "/whitelist add Carol"), 1);
	assert_int_equal(count_sent(f, 11, "/whitelist add Carol"), 1);
	f->nsent = 0;
	f->nusers = 0; /* carol deleted */
	users_kick(f->u);
	turn(f);
	assert_int_equal(count_sent(f, 10, "/demote Carol"), 1);
	assert_int_equal(count_sent(f, 10, "/whitelist remove Carol"), 1);
}

/* Instance 11 is starting (ERR_AGAIN): its commands wait and go out in
 * order once its RCON is up; 10 gets them at once. */
static void test_queue_until_rcon(void **state)
{
	struct fake *f = *state;
	struct users_stats st;

	f->down = 11;
	api_change(f, "dave", CORE_USER_F_ADMIN, 1, "");
	api_change(f, "dave", CORE_USER_F_BAN, 1, "spam");
	assert_int_equal(count_sent(f, 10, "/promote dave"), 1);
	assert_int_equal(count_sent(f, 10, "/ban dave spam"), 1);
	assert_int_equal(count_sent(f, 11, "/promote dave"), 0);
	run_for(f, 2 * USERS_RETRY_MS);
	assert_int_equal(count_sent(f, 11, "/promote dave"), 0);
	f->down = 0;
	run_for(f, 3 * USERS_RETRY_MS);
	assert_int_equal(f->nsent, 4);
	assert_int_equal(f->sent_to[2], 11);
	assert_string_equal(f->sent[2], "/promote dave");
	assert_string_equal(f->sent[3], "/ban dave spam");
	users_get_stats(f->u, &st);
	assert_int_equal(st.queued, 2);
	/* And their echoes are expected. */
	users_game_line(f->u, 11, "2024-05-01 12:00:00 [BAN] dave was banned "
				  "by <server>. Reason: spam.");
	users_get_stats(f->u, &st);
	assert_int_equal(st.echo_suppressed, 1);
}

/* A game change during an election (no leader) is written once a leader
 * is back. */
static void test_write_retry(void **state)
{
	struct fake *f = *state;

	f->write_status = ERR_NOTLEADER;
	users_game_line(f->u, 10, "2024-05-01 12:00:00 [BAN] erin was banned "
				  "by alice. Reason: x.");
	assert_int_equal(f->writes, 1);
	assert_null(find(f, "erin"));
	run_for(f, 2 * USERS_RETRY_MS);
	assert_true(f->writes >= 2);
	f->write_status = 0;
	run_for(f, 3 * USERS_RETRY_MS);
	assert_non_null(find(f, "erin"));
	assert_true(find(f, "erin")->banned);
	assert_int_equal(find(f, "erin")->origin, 10);
}

/* The line and the Lua module's event of one action are one change; the
 * event is acknowledged once the change is written. */
static void test_line_and_event(void **state)
{
	struct fake *f = *state;

	/* Line first (as the game prints it), then the event. */
	users_game_line(f->u, 10, "2024-05-01 12:00:00 [BAN] bob was banned by "
				  "alice. Reason: griefing.");
	assert_int_equal(f->writes, 1);
	assert_int_equal(event(f, 10, 7, "{\"type\": \"ban\", \"player\": "
					 "\"bob\", \"by\": \"alice\", \"reason\": "
					 "\"griefing\", \"id\": 7}"),
			 1);
	assert_int_equal(f->writes, 1);
	assert_int_equal(f->nacks, 1);
	assert_int_equal(f->ack_id[0], 7);
	assert_int_equal(f->ack_status[0], 0);
	/* Other events are not ours. */
	assert_int_equal(event(f, 10, 8, "{\"type\": \"join\", \"player\": "
					 "\"bob\"}"),
			 0);
	/* An event alone, with no leader at first: acknowledged only once
	 * written. */
	f->write_status = ERR_NOTLEADER;
	assert_int_equal(event(f, 11, 3, "{\"type\": \"promote\", "
					 "\"player\": \"Carol\"}"),
			 1);
	assert_int_equal(f->nacks, 1);
	run_for(f, 2 * USERS_RETRY_MS);
	assert_int_equal(f->nacks, 1);
	f->write_status = 0;
	run_for(f, 3 * USERS_RETRY_MS);
	assert_int_equal(f->nacks, 2);
	assert_int_equal(f->ack_inst[1], 11);
	assert_int_equal(f->ack_id[1], 3);
	assert_int_equal(f->ack_status[1], 0);
	assert_true(find(f, "carol")->admin);
	/* Its line, late: the same change, not a new one. */
	users_game_line(f->u, 11, "2024-05-01 12:00:00 [PROMOTE] Carol was "
				  "promoted to admin by alice.");
	assert_true(f->writes >= 2);
	{
		unsigned w = f->writes;

		users_game_line(f->u, 11, "2024-05-01 12:00:00 [DEMOTE] Carol "
					  "was demoted from admin by alice.");
		assert_int_equal(f->writes, w + 1); /* a new action */
	}
	/* A malformed player: acknowledged, nothing written. */
	assert_int_equal(event(f, 10, 9, "{\"type\": \"ban\", \"player\": "
					 "\"no good\"}"),
			 1);
	assert_int_equal(f->ack_id[f->nacks - 1], 9);
}

/* Our own /ban makes the game print the line and send the event: both
 * are echoes. */
static void test_echo_both_sources(void **state)
{
	struct fake *f = *state;
	struct users_stats st;

	api_change(f, "mallory", CORE_USER_F_BAN, 1, "x");
	assert_int_equal(count_sent(f, 10, "/ban mallory x"), 1);
	users_game_line(f->u, 10, "2024-05-01 12:00:00 [BAN] mallory was "
				  "banned by <server>. Reason: x.");
	assert_int_equal(event(f, 10, 1, "{\"type\": \"ban\", \"player\": "
					 "\"mallory\", \"reason\": \"x\"}"),
			 1);
	users_get_stats(f->u, &st);
	assert_int_equal(st.echo_suppressed, 2);
	assert_int_equal(f->writes, 0);
	assert_int_equal(f->nacks, 1);
	assert_int_equal(f->ack_status[0], 0);
}

/* A bulk change: at most USERS_INFLIGHT_MAX commands wait for answers
 * per server; the rest follow, in order, as answers come. */
static void test_inflight_window(void **state)
{
	struct fake *f = *state;
	char cmd[64];
	size_t rounds = 0;

	f->defer = 1;
	for (int i = 0; i < 12; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%02d", i);
		api_change(f, name, CORE_USER_F_ADMIN, 1, "");
	}
	assert_int_equal(count_sent(f, 10, "/promote p00"), 1);
	assert_int_equal(f->nsent, 2 * USERS_INFLIGHT_MAX);
	while (f->nheld > 0 && rounds++ < 10) {
		answer_all(f);
		turn(f);
	}
	assert_int_equal(f->nsent, 2 * 12);
	for (int i = 0; i < 12; i++) {
		snprintf(cmd, sizeof(cmd), "/promote p%02d", i);
		assert_int_equal(count_sent(f, 10, cmd), 1);
		assert_int_equal(count_sent(f, 11, cmd), 1);
	}
	/* In order per server. */
	for (size_t i = 0, k = 0; i < f->nsent; i++) {
		if (f->sent_to[i] != 10)
			continue;
		snprintf(cmd, sizeof(cmd), "/promote p%02zu", k++);
		assert_string_equal(f->sent[i], cmd);
	}
}

static cJSON *read_json(const char *dir, const char *name)
{
	char path[512], buf[4096];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	return cJSON_ParseWithLength(buf, n);
}

static void test_files(void **state)
{
	struct fake *f = *state;
	char dir[] = "/tmp/users_filesXXXXXX";
	cJSON *a, *b, *w;
	char *s;

	assert_non_null(mkdtemp(dir));
	api_change(f, "Alice", CORE_USER_F_ADMIN, 1, "");
	api_change(f, "bob", CORE_USER_F_BAN, 1, "griefing");
	api_change(f, "carol", CORE_USER_F_WHITELIST, 1, "");
	assert_int_equal(users_write_files(f->u, 10, dir), 0);
	a = read_json(dir, "server-adminlist.json");
	b = read_json(dir, "server-banlist.json");
	w = read_json(dir, "server-whitelist.json");
	s = cJSON_PrintUnformatted(a);
	assert_string_equal(s, "[\"Alice\"]");
	free(s);
	s = cJSON_PrintUnformatted(b);
	assert_string_equal(s, "[{\"username\":\"bob\",\"reason\":\"griefing\"}]");
	free(s);
	s = cJSON_PrintUnformatted(w);
	assert_string_equal(s, "[\"carol\"]");
	free(s);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(w);
	/* A folder that cannot be written: an error, not a crash. */
	assert_int_not_equal(users_write_files(f->u, 10, "/nonexistent/x"), 0);
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = {"adminlist", "banlist",
						    "whitelist"};
		char path[512];

		snprintf(path, sizeof(path), "%s/server-%s.json", dir,
			 names[i]);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_push_and_echo, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_change_from_game, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_until_rcon, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_retry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_and_event, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_echo_both_sources, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inflight_window, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
