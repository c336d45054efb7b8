/* Unit tests of the game -> node channel (node/instances/ipc.h): the line
 * parser (good lines, every kind of bad one, seeded garbage), payload ids,
 * the duplicate window (in order, out of order, failures, sliding, the
 * rewind after a crash), Lua quoting and call commands; then the manager's
 * side on a hand-built instance: inline and file payloads reach the
 * subscriber once, duplicates and in-flight re-sends do not, a file that
 * appears late is picked up, malformed lines are counted, and nothing is
 * handled before the game's hello. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "base/err.h"
#include "node/instances/inst_int.h"
#include "tests/lib/cmocka_all.h"

static int parse(const char *line, struct ipc_line *l)
{
	return ipc_parse_line(line, strlen(line), l);
}

static void parses_good_lines(void **state)
{
	struct ipc_line l;

	(void)state;
	assert_int_equal(parse("\f$ipc:items?j{\"id\":1}", &l), 0);
	assert_string_equal(l.channel, "items");
	assert_int_equal(l.kind, 'j');
	assert_int_equal(l.len, 8);
	assert_memory_equal(l.payload, "{\"id\":1}", 8);
	assert_int_equal(parse("\f$ipc:plugin.my-thing_2?fclusterd-ipc-7.json", &l), 0);
	assert_string_equal(l.channel, "plugin.my-thing_2");
	assert_int_equal(l.kind, 'f');
	assert_memory_equal(l.payload, "clusterd-ipc-7.json", l.len);
	/* A '?' inside the JSON is the payload's. */
	assert_int_equal(parse("\f$ipc:c?j{\"q\":\"a?b\",\"id\":2}", &l), 0);
	assert_string_equal(l.channel, "c");
}

static void refuses_bad_lines(void **state)
{
	static const char *const bad[] = {
		"\f$ipc:",                      /* nothing */
		"\f$ipc:items",                 /* no '?' */
		"\f$ipc:?j{}",                  /* empty channel */
		"\f$ipc:it ems?j{}",            /* space in the channel */
		"\f$ipc:it/ems?j{}",            /* slash in the channel */
		"\f$ipc:items?x{}",             /* unknown kind */
		"\f$ipc:items?j",               /* empty payload */
		"\f$ipc:items?",                /* no kind */
		"\f$ipc:items?f../../etc/passwd",
		"\f$ipc:items?fa/b.json",
		"\f$ipc:items?f.hidden",
		"\f$ipc:items?f",
		"\f$ipc:items?fa b.json",
	};
	char longc[200], longf[300];
	struct ipc_line l;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &l) != ERR_MALFORMED)
			fail_msg("accepted %s", bad[i] + 1);
	memset(longc, 'c', sizeof(longc));
	snprintf(longc, sizeof(longc), "\f$ipc:%065d?j{}", 0);
	assert_int_equal(parse(longc, &l), ERR_MALFORMED);
	snprintf(longc, sizeof(longc), "\f$ipc:%064d?j{}", 0);
	assert_int_equal(parse(longc, &l), 0);
	snprintf(longf, sizeof(longf), "\f$ipc:c?f%0129d", 0);
	assert_int_equal(parse(longf, &l), ERR_MALFORMED);
	/* Not IPC at all. */
	assert_int_equal(parse("   1.306 Info Main: hello", &l), 1);
	assert_int_equal(parse("\fsomething else", &l), 1);
	assert_int_equal(parse("", &l), 1);
}

static void survives_garbage(void **state)
{
	uint64_t x = 0x9E3779B97F4A7C15ull; /* seeded: failures replay */
	char line[300];
	struct ipc_line l;
	int ok = 0;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		size_t n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % sizeof(line);
		memcpy(line, "\f$ipc:", 6);
		for (size_t k = 6; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			line[k] = "ab?jf{}.\"-_/ \x01\xff"[x % 16];
		}
		if (ipc_parse_line(line, n < 6 ? 6 : n, &l) == 0) {
			ok++;
			assert_true(l.kind == 'j' || l.kind == 'f');
			assert_true(l.payload + l.len == line + (n < 6 ? 6 : n));
			assert_true(strlen(l.channel) <= IPC_CHANNEL_MAX);
		}
	}
	assert_true(ok > 0);
}

static void reads_ids(void **state)
{
	static const char *const bad[] = {
		"{}", "{\"id\":0}", "{\"id\":-1}", "{\"id\":1.5}", "{\"id\":\"7\"}",
		"{\"id\":1e300}", "[1]", "{\"id\":null}"};
	uint64_t id = 0;
	cJSON *j;

	(void)state;
	j = cJSON_Parse("{\"id\":9007199254740991,\"x\":1}");
	assert_int_equal(ipc_msg_id(j, &id), 0);
	assert_true(id == 9007199254740991ull);
	cJSON_Delete(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(bad[i]);
		assert_int_equal(ipc_msg_id(j, &id), ERR_MALFORMED);
		cJSON_Delete(j);
	}
}

static void window_in_and_out_of_order(void **state)
{
	struct ipc_window *w = calloc(1, sizeof(*w));

	(void)state;
	assert_int_equal(ipc_window_get(w, 1), IPC_NEW);
	ipc_window_take(w, 1);
	assert_int_equal(ipc_window_get(w, 1), IPC_INFLIGHT);
	ipc_window_finish(w, 1, 1);
	assert_int_equal(ipc_window_get(w, 1), IPC_DONE);
	/* Out of order: 5 before 3 and 4. */
	ipc_window_take(w, 5);
	ipc_window_finish(w, 5, 1);
	assert_int_equal(ipc_window_get(w, 3), IPC_NEW);
	assert_int_equal(ipc_window_get(w, 4), IPC_NEW);
	ipc_window_take(w, 3);
	ipc_window_finish(w, 3, 1);
	assert_int_equal(ipc_window_get(w, 3), IPC_DONE);
	assert_int_equal(ipc_window_get(w, 5), IPC_DONE);
	/* A failure forgets the id: the re-send is handled again. */
	ipc_window_take(w, 4);
	ipc_window_finish(w, 4, 0);
	assert_int_equal(ipc_window_get(w, 4), IPC_NEW);
	/* Sliding: far ahead, the old ids leave the window and count as new
	 * (handled again rather than lost). */
	ipc_window_take(w, 5 + IPC_WINDOW);
	assert_int_equal(ipc_window_get(w, 5), IPC_NEW);
	assert_int_equal(ipc_window_get(w, 5 + IPC_WINDOW), IPC_INFLIGHT);
	ipc_window_take(w, 5);
	assert_int_equal(w->too_old, 1);
	/* A slot reused by the slide starts clean. */
	ipc_window_take(w, 6 + IPC_WINDOW);
	assert_int_equal(ipc_window_get(w, 6 + IPC_WINDOW), IPC_INFLIGHT);
	free(w);
}

static void window_rewinds_after_a_crash(void **state)
{
	struct ipc_window *w = calloc(1, sizeof(*w));

	(void)state;
	for (uint64_t i = 1; i <= 10; i++) {
		ipc_window_take(w, i);
		ipc_window_finish(w, i, 1);
	}
	/* The game restarted from a save whose next id was 6: 6..10 will be
	 * new messages, 1..5 may come again as re-sends. */
	ipc_window_rewind(w, 6);
	for (uint64_t i = 1; i <= 5; i++)
		assert_int_equal(ipc_window_get(w, i), IPC_DONE);
	for (uint64_t i = 6; i <= 10; i++)
		assert_int_equal(ipc_window_get(w, i), IPC_NEW);
	assert_true(w->hi == 5);
	/* A rewind ahead of what was seen changes nothing. */
	ipc_window_rewind(w, 100);
	assert_true(w->hi == 5);
	free(w);
}

static void quotes_for_lua(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(ipc_lua_quote("a\"b\\c\n\xc3\xa9", 8, out, sizeof(out)), 25);
	assert_string_equal(out, "\"a\\034b\\092c\\010\\195\\169\"");
	assert_int_equal(ipc_lua_quote("", 0, out, sizeof(out)), 2);
	assert_string_equal(out, "\"\"");
	assert_int_equal(ipc_lua_quote("abcdef", 6, out, 6), ERR_TOOBIG);
	assert_int_equal(ipc_call_command("ack", "[1,2]", out, sizeof(out)) > 0, 1);
	assert_string_equal(out, "/sc rcon.print(remote.call(\"clusterd\",\"call_json\",\"ack\",\"[1,2]\"))");
	assert_true(ipc_call_command("hello", NULL, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "\"hello\",nil))"));
	assert_int_equal(ipc_call_command("a\"b", NULL, out, sizeof(out)), ERR_INVAL);
	assert_int_equal(ipc_call_command("", NULL, out, sizeof(out)), ERR_INVAL);
	assert_int_equal(ipc_call_command("f", "[1,2,3,4,5,6,7,8,9]", out, 60),
			 ERR_TOOBIG);
}

/* ---- the manager's side, on a hand-built instance ---- */

struct got {
	int n;
	uint64_t ids[16];
	char channel[16][IPC_CHANNEL_MAX + 1];
	int fail_next; /* answer the next one with an error */
	int defer;     /* do not answer (in flight) */
	struct inst_mgr *m;
};

static void on_msg(void *arg, uint64_t instance, const char *channel,
		   uint64_t msg_id, const cJSON *msg)
{
	struct got *g = arg;
	const cJSON *pad = cJSON_GetObjectItemCaseSensitive(msg, "pad");

	assert_true(instance == 11);
	assert_true(g->n < 16);
	assert_true(cJSON_IsObject(msg));
	if (strcmp(channel, "big") == 0)
		assert_int_equal(strlen(pad->valuestring), 5000);
	g->ids[g->n] = msg_id;
	snprintf(g->channel[g->n], sizeof(g->channel[0]), "%s", channel);
	g->n++;
	if (g->defer)
		return;
	inst_mgr_ipc_done(g->m, instance, msg_id, g->fail_next ? ERR_AGAIN : 0);
	g->fail_next = 0;
}

struct rig {
	uv_loop_t loop;
	struct inst_mgr *m;
	struct inst_proc *p;
	struct got g;
	char dir[64];
};

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	char path[128];

	uv_loop_init(&r->loop);
	r->m = calloc(1, sizeof(*r->m));
	r->p = calloc(1, sizeof(*r->p));
	r->m->loop = &r->loop;
	r->m->procs[0] = r->p;
	r->p->m = r->m;
	r->p->id = 11;
	r->p->present = 1;
	r->p->state = ST_RUNNING;
	snprintf(r->p->rec.name, sizeof(r->p->rec.name), "alpha");
	snprintf(r->dir, sizeof(r->dir), "/tmp/ipc_unitXXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->p->dir, sizeof(r->p->dir), "%s", r->dir);
	snprintf(path, sizeof(path), "%s/script-output", r->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	inst_ipc_init(r->m);
	r->g.m = r->m;
	assert_int_equal(inst_mgr_ipc_subscribe(r->m, "items", on_msg, &r->g), 0);
	assert_int_equal(inst_mgr_ipc_subscribe(r->m, "big", on_msg, &r->g), 0);
	assert_int_equal(inst_mgr_ipc_subscribe(r->m, "items", on_msg, &r->g),
			 ERR_EXISTS);
	return r;
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void rig_free(struct rig *r)
{
	char cmd[128];

	inst_ipc_close(r->m, on_closed);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	assert_int_equal(system(cmd), 0);
	free(r->p);
	free(r->m);
	free(r);
}

static void line(struct rig *r, const char *text)
{
	assert_int_equal(inst_ipc_on_line(r->p, text, strlen(text)), 1);
}

static void write_payload(struct rig *r, const char *name, uint64_t id)
{
	char path[256], pad[5001];
	FILE *f;

	memset(pad, 'x', 5000);
	pad[5000] = '\0';
	snprintf(path, sizeof(path), "%s/script-output/%s", r->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"pad\":\"%s\",\"id\":%llu}", pad, (unsigned long long)id);
	fclose(f);
}

static void dispatches_once(void **state)
{
	struct rig *r = rig_new();
	char path[256];

	(void)state;
	/* Before hello: dropped, unacknowledged (the game re-sends). */
	line(r, "\f$ipc:items?j{\"id\":1}");
	assert_int_equal(r->g.n, 0);
	assert_true(r->m->ipc.early == 1);
	r->p->ipc.ready = 1;
	/* Not IPC: left to the caller. */
	assert_int_equal(inst_ipc_on_line(r->p, "hello", 5), 0);
	line(r, "\f$ipc:items?j{\"id\":1}");
	line(r, "\f$ipc:items?j{\"id\":3}");
	line(r, "\f$ipc:items?j{\"id\":2}"); /* out of order */
	line(r, "\f$ipc:items?j{\"id\":1}"); /* a re-send: dropped */
	assert_int_equal(r->g.n, 3);
	assert_true(r->g.ids[0] == 1 && r->g.ids[1] == 3 && r->g.ids[2] == 2);
	assert_true(r->p->ipc.duplicates == 1);
	assert_true(r->p->ipc.nacks == 4); /* 1, 3, 2 and 1 again */
	/* A handler that fails leaves it to the re-send. */
	r->g.fail_next = 1;
	line(r, "\f$ipc:items?j{\"id\":4}");
	line(r, "\f$ipc:items?j{\"id\":4}");
	assert_int_equal(r->g.n, 5);
	/* A handler that has not answered yet: the re-send is not handed
	 * out a second time. */
	r->g.defer = 1;
	line(r, "\f$ipc:items?j{\"id\":5}");
	line(r, "\f$ipc:items?j{\"id\":5}");
	assert_int_equal(r->g.n, 6);
	inst_mgr_ipc_done(r->m, 11, 5, 0);
	r->g.defer = 0;
	line(r, "\f$ipc:items?j{\"id\":5}");
	assert_int_equal(r->g.n, 6);
	/* A file payload: read, handed over, deleted. */
	write_payload(r, "clusterd-ipc-6.json", 6);
	line(r, "\f$ipc:big?fclusterd-ipc-6.json");
	assert_int_equal(r->g.n, 7);
	assert_string_equal(r->g.channel[6], "big");
	snprintf(path, sizeof(path), "%s/script-output/clusterd-ipc-6.json", r->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	/* A file announced before it exists is picked up when it does. */
	line(r, "\f$ipc:big?fclusterd-ipc-7.json");
	assert_int_equal(r->g.n, 7);
	assert_true(r->m->ipc.npend == 1);
	write_payload(r, "clusterd-ipc-7.json", 7);
	for (int i = 0; i < 200 && r->g.n < 8; i++)
		uv_run(&r->loop, UV_RUN_ONCE);
	assert_int_equal(r->g.n, 8);
	assert_true(r->g.ids[7] == 7);
	/* No RCON here: the acknowledgements were given up (the game will
	 * re-send and they are acknowledged again then). */
	uv_run(&r->loop, UV_RUN_NOWAIT);
	assert_true(r->p->ipc.nacks == 0);
	rig_free(r);
}

static void counts_malformed(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	r->p->ipc.ready = 1;
	line(r, "\f$ipc:items?j{not json");
	line(r, "\f$ipc:items?j{\"no_id\":1}");
	line(r, "\f$ipc:items?j[1,2]");
	line(r, "\f$ipc:it ems?j{\"id\":1}");
	line(r, "\f$ipc:items?f../x");
	/* A file that is not JSON, and one far too large: dropped and
	 * deleted. */
	{
		char path[256];
		FILE *f;

		snprintf(path, sizeof(path), "%s/script-output/bad.json", r->dir);
		f = fopen(path, "w");
		fputs("{{{", f);
		fclose(f);
		line(r, "\f$ipc:big?fbad.json");
		assert_int_not_equal(access(path, F_OK), 0);
		snprintf(path, sizeof(path), "%s/script-output/huge.json", r->dir);
		f = fopen(path, "w");
		fclose(f);
		assert_int_equal(truncate(path, IPC_FILE_BYTES_MAX + 1), 0);
		line(r, "\f$ipc:big?fhuge.json");
		assert_int_not_equal(access(path, F_OK), 0);
	}
	assert_int_equal(r->g.n, 0);
	assert_true(r->m->ipc.malformed == 7);
	/* No subscriber: not handed out, not acknowledged. */
	line(r, "\f$ipc:metrics?j{\"id\":1}");
	assert_true(r->m->ipc.unrouted == 1);
	assert_true(r->p->ipc.nacks == 0);
	/* The channel still works. */
	line(r, "\f$ipc:items?j{\"id\":1}");
	assert_int_equal(r->g.n, 1);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_good_lines),
		cmocka_unit_test(refuses_bad_lines),
		cmocka_unit_test(survives_garbage),
		cmocka_unit_test(reads_ids),
		cmocka_unit_test(window_in_and_out_of_order),
		cmocka_unit_test(window_rewinds_after_a_crash),
		cmocka_unit_test(quotes_for_lua),
		cmocka_unit_test(dispatches_once),
		cmocka_unit_test(counts_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
