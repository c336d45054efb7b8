/*
 * Unit tests for node/cmetrics: the snapshot parser accepts what nodes
 * write and refuses the rest; the cache pulls a member only when gossip
 * advertises a newer version, never twice at once, retries after a
 * timeout or failure, forgets members that are gone and drops the
 * figures of members that are down; the renderer merges every member's
 * families under one HELP/TYPE each, with a node label on every sample,
 * and its output is what promtool-style parsing (our own parser) reads
 * back.
 */
#include "tests/lib/cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/cmetrics/cmetrics.h"

static const char node_text[] =
	"# HELP process_open_fds Number of open file descriptors.\n"
	"# TYPE process_open_fds gauge\n"
	"process_open_fds 12\n"
	"# HELP clusterd_raft_append_seconds Time from a log write to its fsync.\n"
	"# TYPE clusterd_raft_append_seconds histogram\n"
	"clusterd_raft_append_seconds_bucket{le=\"0.001\"} 3\n"
	"clusterd_raft_append_seconds_bucket{le=\"+Inf\"} 4\n"
	"clusterd_raft_append_seconds_sum 0.25\n"
	"clusterd_raft_append_seconds_count 4\n"
	"# HELP clusterd_instance_players_online Players connected.\n"
	"# TYPE clusterd_instance_players_online gauge\n"
	"clusterd_instance_players_online{instance=\"alpha\"} 2\n"
	"clusterd_instance_players_online{instance=\"be\\\"ta\"} 0\n";

static struct cm_snap *parse_ok(const char *t)
{
	struct cm_snap *s = NULL;
	uint32_t line = 0;
	int rv = cm_snap_parse(t, strlen(t), &s, &line);

	if (rv != 0)
		fail_msg("parse failed: %s at line %u", err_name(rv), line);
	return s;
}

static void test_parse_families(void **state)
{
	struct cm_snap *s = parse_ok(node_text);

	(void)state;
	assert_int_equal(s->nfam, 3);
	assert_int_equal(s->nsmp, 7);
	assert_int_equal(s->fam[1].n, 4); /* _bucket, _sum, _count belong */
	assert_int_equal(s->fam[1].type_len, 9);
	assert_memory_equal(s->text + s->fam[2].name_off,
			    "clusterd_instance_players_online", 32);
	assert_int_equal(s->smp[6].labels_len, strlen("instance=\"be\\\"ta\""));
	cm_snap_free(s);
}

static void test_parse_untyped_and_node_label(void **state)
{
	struct cm_snap *s = parse_ok("a 1\nb{x=\"1\"} 2\nb{node=\"n9\"} 3\n\n# c\n");

	(void)state;
	assert_int_equal(s->nfam, 2);
	assert_int_equal(s->nsmp, 2);
	assert_int_equal(s->dropped, 1); /* a node label is the renderer's */
	cm_snap_free(s);
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"a\n",                    /* no value */
		"a 1 1700000000\n",       /* a timestamp */
		"a{x=1} 2\n",             /* unquoted label value */
		"a{x=\"1\" 2\n",          /* unclosed labels */
		"a{x=\"\\q\"} 2\n",       /* bad escape */
		"9a 1\n",                 /* bad name */
		"# TYPE a bogus\na 1\n",  /* bad type */
		"a one\n",                /* bad value */
		"a 1\r\n",                /* CR */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cm_snap *s = (struct cm_snap *)1;
		uint32_t line = 0;

		assert_int_equal(cm_snap_parse(bad[i], strlen(bad[i]), &s, &line),
				 ERR_MALFORMED);
		assert_null(s);
		assert_true(line <= 1); /* each fails on its first line */
	}
}

static void test_parse_bounds(void **state)
{
	size_t n = CM_TEXT_MAX + 1;
	char *big = malloc(n);
	struct cm_snap *s;

	(void)state;
	memset(big, '\n', n);
	assert_int_equal(cm_snap_parse(big, n, &s, NULL), ERR_TOOBIG);
	/* More families than CM_FAMILIES_MAX. */
	{
		size_t off = 0;
		char *t = malloc(CM_TEXT_MAX);

		for (int i = 0; i <= CM_FAMILIES_MAX; i++)
			off += (size_t)snprintf(t + off, CM_TEXT_MAX - off,
						"f%d 1\n", i);
		assert_int_equal(cm_snap_parse(t, off, &s, NULL), ERR_TOOBIG);
		free(t);
	}
	free(big);
}

/* ---- cache ---- */

static void sync3(struct cm_cache *c, int up3, uint64_t v2, uint64_t v3)
{
	struct cm_member m[] = {
		{.id = 1, .name = "n1", .up = 1, .version = 0},
		{.id = 2, .name = "n2", .up = 1, .version = v2},
		{.id = 3, .name = "n3", .up = up3, .version = v3},
	};
	cm_cache_sync(c, m, 3);
}

static struct cm_cache *new_cache(void)
{
	struct cm_cache *c = malloc(sizeof(*c));

	cm_cache_init(c, 1);
	return c;
}

static void free_cache(struct cm_cache *c)
{
	cm_cache_clear(c);
	free(c);
}

static void test_cache_pulls_on_new_version_only(void **state)
{
	struct cm_cache *c = new_cache();
	struct cm_pull p[8];
	size_t n;

	(void)state;
	sync3(c, 1, 0, 0);
	assert_int_equal(cm_cache_due(c, 1000, p, 8), 0); /* nothing advertised */
	sync3(c, 1, 100, 200);
	n = cm_cache_due(c, 1000, p, 8);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].id, 2);
	assert_int_equal(p[1].id, 3);
	/* In flight: not again. */
	assert_int_equal(cm_cache_due(c, 1001, p, 8), 0);
	assert_int_equal(cm_cache_answer(c, 2, p[0].req, 0, 100, "a 1\n", 4, 1010), 0);
	/* The peer sampled meanwhile: its answer is newer than the news. */
	assert_int_equal(cm_cache_answer(c, 3, p[1].req, 0, 201, "a 2\n", 4, 1010), 0);
	assert_int_equal(cm_cache_get(c, 3)->have, 201);
	/* The same versions advertised again (or the older news of n3): no pull. */
	sync3(c, 1, 100, 200);
	sync3(c, 1, 100, 201);
	assert_int_equal(cm_cache_due(c, 2000, p, 8), 0);
	/* A new version: one pull. */
	sync3(c, 1, 101, 201);
	n = cm_cache_due(c, 2000, p, 8);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].id, 2);
	/* A stale answer (wrong request id) is ignored. */
	assert_int_equal(cm_cache_answer(c, 2, p[0].req + 7, 0, 101, "a 3\n", 4, 2001),
			 ERR_NOTFOUND);
	assert_int_equal(c->st.answers_stale, 1);
	assert_int_equal(cm_cache_get(c, 2)->have, 100);
	free_cache(c);
}

static void test_cache_timeout_and_failure_retry(void **state)
{
	struct cm_cache *c = new_cache();
	struct cm_pull p[8];

	(void)state;
	sync3(c, 1, 5, 0);
	assert_int_equal(cm_cache_due(c, 0, p, 8), 1);
	/* No answer: given up after the timeout, retried after the backoff. */
	assert_int_equal(cm_cache_due(c, CM_PULL_TIMEOUT_MS - 1, p, 8), 0);
	assert_int_equal(cm_cache_due(c, CM_PULL_TIMEOUT_MS, p, 8), 0);
	assert_int_equal(c->st.pull_timeouts, 1);
	assert_int_equal(cm_cache_due(c, CM_PULL_TIMEOUT_MS + CM_RETRY_MS, p, 8), 1);
	/* A failed send backs off too. */
	cm_cache_failed(c, p[0].id, p[0].req, 20000);
	assert_int_equal(cm_cache_due(c, 20000 + CM_RETRY_MS - 1, p, 8), 0);
	assert_int_equal(cm_cache_due(c, 20000 + CM_RETRY_MS, p, 8), 1);
	/* A malformed answer is refused, counted, and retried later. */
	assert_int_equal(cm_cache_answer(c, 2, p[0].req, 0, 5, "a\n", 2, 30000),
			 ERR_MALFORMED);
	assert_int_equal(c->st.snaps_rejected, 1);
	assert_null(cm_cache_get(c, 2)->snap);
	assert_int_equal(cm_cache_due(c, 30000 + CM_RETRY_MS, p, 8), 1);
	free_cache(c);
}

static void test_cache_inflight_bound(void **state)
{
	struct cm_cache *c = new_cache();
	struct cm_member m[40];
	char names[40][8];
	struct cm_pull p[64];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "n%02d", i + 1);
		m[i] = (struct cm_member){.id = (uint64_t)i + 1, .name = names[i],
					  .up = 1, .version = 9};
	}
	cm_cache_sync(c, m, 40);
	assert_int_equal(cm_cache_due(c, 0, p, 64), CM_PULLS_INFLIGHT_MAX);
	assert_int_equal(cm_cache_due(c, 1, p, 64), 0);
	free_cache(c);
}

static void test_cache_down_and_gone(void **state)
{
	struct cm_cache *c = new_cache();
	struct cm_pull p[8];
	struct cm_member two[] = {
		{.id = 1, .name = "n1", .up = 1},
		{.id = 2, .name = "n2", .up = 1, .version = 7},
	};

	(void)state;
	sync3(c, 1, 7, 7);
	assert_int_equal(cm_cache_due(c, 0, p, 8), 2);
	assert_int_equal(cm_cache_answer(c, 2, p[0].req, 0, 7, "a 1\n", 4, 1), 0);
	assert_int_equal(cm_cache_answer(c, 3, p[1].req, 0, 7, "a 1\n", 4, 1), 0);
	/* n3 down: its figures go, the member stays (clusterd_up 0). */
	sync3(c, 0, 7, 7);
	assert_int_equal(c->n, 3);
	assert_null(cm_cache_get(c, 3)->snap);
	assert_int_equal(cm_cache_due(c, 2, p, 8), 0); /* no pull while down */
	/* Back, same version advertised: it is pulled again (it was dropped). */
	sync3(c, 1, 7, 7);
	assert_int_equal(cm_cache_due(c, 3, p, 8), 1);
	/* Removed from the member list: gone from the cache, pull too. */
	cm_cache_sync(c, two, 2);
	assert_int_equal(c->n, 2);
	assert_null(cm_cache_get(c, 3));
	assert_int_equal(c->inflight, 0);
	free_cache(c);
}

/* ---- render ---- */

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_render_merges(void **state)
{
	struct cm_cache *c = new_cache();
	struct cm_pull p[8];
	struct cm_render_stats st;
	struct wbuf out;
	struct cm_snap *back;
	char *t;

	(void)state;
	sync3(c, 1, 3, 3);
	cm_cache_set_self(c, 50, parse_ok(node_text), 1000);
	assert_int_equal(cm_cache_due(c, 1000, p, 8), 2);
	assert_int_equal(cm_cache_answer(c, 2, p[0].req, 0, 3, node_text,
					 strlen(node_text), 1500), 0);
	/* n3 runs another version: its process_open_fds is a counter. */
	assert_int_equal(cm_cache_answer(c, 3, p[1].req, 0, 3,
					 "# TYPE process_open_fds counter\n"
					 "process_open_fds 1\n"
					 "# TYPE zeta gauge\nzeta 1\n",
					 strlen("# TYPE process_open_fds counter\n"
						"process_open_fds 1\n"
						"# TYPE zeta gauge\nzeta 1\n"), 1500), 0);
	sync3(c, 0, 3, 3); /* and is then seen dead */
	wbuf_init(&out, 1u << 20);
	assert_int_equal(cm_render(c, 3000, &out, &st), 0);
	assert_int_equal(wbuf_put(&out, "", 1), 0);
	t = (char *)out.p;
	assert_int_equal(st.nodes, 3);
	assert_int_equal(st.nodes_up, 2);
	assert_non_null(strstr(t, "clusterd_up{node=\"n1\"} 1\n"));
	assert_non_null(strstr(t, "clusterd_up{node=\"n3\"} 0\n"));
	assert_non_null(strstr(t, "clusterd_metrics_age_seconds{node=\"n1\"} 2.000\n"));
	assert_non_null(strstr(t, "clusterd_metrics_age_seconds{node=\"n2\"} 1.500\n"));
	assert_int_equal(count(t, "# TYPE process_open_fds "), 1);
	assert_int_equal(count(t, "# HELP clusterd_raft_append_seconds "), 1);
	assert_non_null(strstr(t, "process_open_fds{node=\"n1\"} 12\n"
				  "process_open_fds{node=\"n2\"} 12\n"));
	assert_non_null(strstr(t, "clusterd_raft_append_seconds_bucket{node=\"n2\",le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(t, "clusterd_instance_players_online{node=\"n1\",instance=\"be\\\"ta\"} 0\n"));
	assert_null(strstr(t, "zeta")); /* the dead member's figures are gone */
	assert_int_equal(st.samples, 14);
	/* The output parses back: one family per name. */
	out.len--;
	assert_int_equal(cm_snap_parse((const char *)out.p, out.len, &back, NULL), 0);
	assert_int_equal(back->dropped, st.samples + 3 + 2); /* every sample has node */
	cm_snap_free(back);
	wbuf_free(&out);
	free_cache(c);
}

static void test_render_type_conflict(void **state)
{
	struct cm_cache *c = new_cache();
	struct cm_pull p[8];
	struct cm_render_stats st;
	struct wbuf out;

	(void)state;
	sync3(c, 1, 3, 0);
	cm_cache_set_self(c, 50, parse_ok("# TYPE x gauge\nx 1\n"), 0);
	assert_int_equal(cm_cache_due(c, 0, p, 8), 1);
	assert_int_equal(cm_cache_answer(c, 2, p[0].req, 0, 3,
					 "# TYPE x counter\nx 2\n", 21, 0), 0);
	wbuf_init(&out, 1u << 20);
	assert_int_equal(cm_render(c, 0, &out, &st), 0);
	assert_int_equal(st.type_conflicts, 1);
	assert_int_equal(st.samples, 1);
	wbuf_free(&out);
	free_cache(c);
}

static void test_publish_interval(void **state)
{
	(void)state;
	assert_int_equal(cm_publish_ms(3, 5000), 5000);
	assert_int_equal(cm_publish_ms(9, 5000), 5000);
	assert_int_equal(cm_publish_ms(10, 5000), 6400);
	assert_int_equal(cm_publish_ms(50, 5000), 32000);
	assert_int_equal(cm_publish_ms(100, 5000), 96000);
	assert_int_equal(cm_publish_ms(1000, 5000), 1280000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_families),
		cmocka_unit_test(test_parse_untyped_and_node_label),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_cache_pulls_on_new_version_only),
		cmocka_unit_test(test_cache_timeout_and_failure_retry),
		cmocka_unit_test(test_cache_inflight_bound),
		cmocka_unit_test(test_cache_down_and_gone),
		cmocka_unit_test(test_render_merges),
		cmocka_unit_test(test_render_type_conflict),
		cmocka_unit_test(test_publish_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
