/*
 * Unit tests of the event bus (node/events.h) without a loop: the tests
 * call ev_bus_flush and ev_bus_heartbeat where the timers would.
 */
#include "tests/lib/cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/events.h"

#define EPOCH 777

struct cl {
	struct ev_client *c;
	unsigned wakes;
	char got[1 << 21]; /* everything pulled so far */
	size_t len;
	int done;
};

static void on_wake(void *arg)
{
	((struct cl *)arg)->wakes++;
}

static struct cl *cl_open(struct ev_bus *b, unsigned flags, const char *last)
{
	struct cl *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(ev_client_open(b, flags, last, on_wake, c, &c->c), 0);
	return c;
}

static void cl_free(struct cl *c)
{
	ev_client_close(c->c);
	free(c);
}

/* One pull; returns the piece's length (0: nothing now). */
static size_t pull(struct cl *c)
{
	const uint8_t *p;
	size_t n;

	assert_int_equal(ev_client_pull(c->c, &p, &n, &c->done), 0);
	assert_true(c->len + n < sizeof(c->got));
	memcpy(c->got + c->len, p, n);
	c->len += n;
	c->got[c->len] = '\0';
	return n;
}

/* Pulls until nothing is left or the stream ended. */
static void drain(struct cl *c)
{
	while (!c->done && pull(c) > 0)
		;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static struct ev_bus *bus(void)
{
	struct ev_bus *b;

	assert_int_equal(ev_bus_new(NULL, EPOCH, "n1", &b), 0);
	return b;
}

static void test_hello_then_events(void **state)
{
	struct ev_bus *b = bus();
	struct cl *c;

	(void)state;
	ev_publish(b, "{\"type\":\"x\",\"n\":0}"); /* before: not sent */
	c = cl_open(b, 0, NULL);
	assert_true(pull(c) > 0);
	assert_non_null(strstr(c->got, "data: {\"type\":\"hello\",\"node\":\"n1\","
					"\"resumed\":false"));
	assert_non_null(strstr(c->got, "retry: 2000\n"));
	assert_null(strstr(c->got, "\"n\":0"));
	assert_int_equal(pull(c), 0); /* idle now */
	assert_int_equal(c->wakes, 0);
	ev_publish(b, "{\"type\":\"x\",\"n\":1}");
	ev_publish(b, "{\"type\":\"x\",\"n\":2}");
	assert_int_equal(c->wakes, 0); /* a publish never wakes directly */
	ev_bus_flush(b);
	assert_int_equal(c->wakes, 1);
	ev_bus_flush(b); /* not idle any more: no second wake */
	assert_int_equal(c->wakes, 1);
	assert_true(pull(c) > 0);
	assert_non_null(strstr(c->got, "id: 777-1\ndata: {\"type\":\"x\",\"n\":1}\n\n"
					"id: 777-2\ndata: {\"type\":\"x\",\"n\":2}\n\n"));
	assert_int_equal(pull(c), 0);
	ev_bus_flush(b); /* nothing new: idle clients are not woken */
	assert_int_equal(c->wakes, 1);
	cl_free(c);
	ev_bus_free(b);
}

static void test_refused(void **state)
{
	struct ev_bus *b = bus();
	struct cl *c = cl_open(b, 0, NULL);
	struct ev_stats st;
	char big[EV_EVENT_MAX + 64];

	(void)state;
	drain(c);
	ev_publish(b, "not json");
	ev_publish(b, "{\"no_type\":1}");
	ev_publish(b, "{\"type\":\"a\",\n\"b\":1}");
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"type\":\"", 9);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	ev_publish(b, big);
	ev_bus_stats(b, &st);
	assert_int_equal(st.refused, 4);
	assert_int_equal(st.published, 0);
	ev_bus_flush(b);
	assert_int_equal(c->wakes, 0);
	ev_publish(NULL, "{\"type\":\"a\"}"); /* no bus: a no-op */
	cl_free(c);
	ev_bus_free(b);
}

static void test_logs_only_for_log_clients(void **state)
{
	struct ev_bus *b = bus();
	struct cl *plain, *logs;
	struct ev_stats st;

	(void)state;
	ev_publish_log(b, 1, "alpha", "nobody listens", 14);
	ev_bus_stats(b, &st);
	assert_int_equal(st.published, 0); /* skipped without log clients */
	plain = cl_open(b, 0, NULL);
	logs = cl_open(b, EV_F_LOG, NULL);
	drain(plain);
	drain(logs);
	ev_publish_log(b, 1, "alpha", "line \"one\"\tend", 14);
	ev_publish(b, "{\"type\":\"after\"}");
	ev_bus_flush(b);
	drain(plain);
	drain(logs);
	assert_null(strstr(plain->got, "\"type\":\"log\""));
	assert_non_null(strstr(plain->got, "\"type\":\"after\""));
	assert_non_null(strstr(logs->got, "{\"type\":\"log\",\"instance\":1,"
					  "\"name\":\"alpha\",\"line\":"
					  "\"line \\\"one\\\"\\tend\"}"));
	assert_non_null(strstr(logs->got, "\"type\":\"after\""));
	cl_free(plain);
	cl_free(logs);
	ev_bus_free(b);
}

/* A client that stops reading falls out of the ring and is dropped; one
 * that reads keeps up; memory stays the ring's. */
static void test_slow_client_dropped(void **state)
{
	struct ev_bus *b = bus();
	struct cl *slow = cl_open(b, 0, NULL), *fast = cl_open(b, 0, NULL);
	struct ev_stats st;
	char ev[64];
	unsigned n = EV_RING_EVENTS_MAX + 10;

	(void)state;
	drain(slow);
	drain(fast);
	for (unsigned i = 0; i < n; i++) {
		snprintf(ev, sizeof(ev), "{\"type\":\"x\",\"i\":%u}", i);
		ev_publish(b, ev);
		if (i % 100 == 0)
			drain(fast);
	}
	drain(fast);
	assert_false(fast->done);
	assert_int_equal(count(fast->got, "\"type\":\"x\""), n);
	assert_int_equal(pull(slow) > 0, 1);
	assert_true(slow->done);
	assert_non_null(strstr(slow->got, ": dropped: this client fell too far "
					  "behind"));
	ev_bus_stats(b, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.clients, 1);
	cl_free(slow);
	cl_free(fast);
	ev_bus_free(b);
}

/* The byte bound drops a lagging client before the count bound does. */
static void test_byte_bound(void **state)
{
	struct ev_bus *b = bus();
	struct cl *c = cl_open(b, 0, NULL);
	static char ev[EV_EVENT_MAX];
	unsigned n = 2 * EV_RING_BYTES_MAX / (EV_EVENT_MAX - 100);

	(void)state;
	assert_true(n < EV_RING_EVENTS_MAX);
	drain(c);
	memset(ev, 'y', sizeof(ev));
	memcpy(ev, "{\"type\":\"big\",\"p\":\"", 19);
	memcpy(ev + EV_EVENT_MAX - 100, "\"}", 3);
	for (unsigned i = 0; i < n; i++)
		ev_publish(b, ev);
	pull(c);
	assert_true(c->done);
	cl_free(c);
	ev_bus_free(b);
}

static void test_batches_in_order(void **state)
{
	struct ev_bus *b = bus();
	struct cl *c = cl_open(b, 0, NULL);
	char ev[1200], want[32];
	size_t before, biggest = 0;
	unsigned pulls = 0;

	(void)state;
	drain(c);
	memset(ev, 'z', sizeof(ev));
	for (unsigned i = 0; i < 300; i++) {
		int k = snprintf(ev, sizeof(ev), "{\"type\":\"x\",\"i\":%u,\"p\":\"", i);

		memset(ev + k, 'z', 1000);
		memcpy(ev + k + 1000, "\"}", 3);
		ev_publish(b, ev);
	}
	before = c->len;
	while (!c->done) {
		size_t n = pull(c);

		if (n == 0)
			break;
		pulls++;
		biggest = n > biggest ? n : biggest;
	}
	assert_true(biggest <= EV_PIECE_MAX);
	assert_true(pulls >= (c->len - before) / EV_PIECE_MAX);
	for (unsigned i = 0; i < 300; i++) {
		snprintf(want, sizeof(want), "\"i\":%u,", i);
		assert_int_equal(count(c->got, want), 1);
		if (i > 0) {
			char prev[32];

			snprintf(prev, sizeof(prev), "\"i\":%u,", i - 1);
			assert_true(strstr(c->got, prev) < strstr(c->got, want));
		}
	}
	cl_free(c);
	ev_bus_free(b);
}

static void test_resume(void **state)
{
	struct ev_bus *b = bus();
	struct cl *a = cl_open(b, 0, NULL), *r, *other;

	(void)state;
	drain(a);
	ev_publish(b, "{\"type\":\"x\",\"n\":1}"); /* seq 0 */
	ev_publish(b, "{\"type\":\"x\",\"n\":2}"); /* seq 1 */
	drain(a);
	assert_non_null(strstr(a->got, "id: 777-0\n"));
	cl_free(a);
	ev_publish(b, "{\"type\":\"x\",\"n\":3}"); /* missed while away */
	r = cl_open(b, 0, "777-0");
	drain(r);
	assert_non_null(strstr(r->got, "\"resumed\":true"));
	assert_null(strstr(r->got, "\"n\":1}"));
	assert_non_null(strstr(r->got, "\"n\":2}"));
	assert_non_null(strstr(r->got, "\"n\":3}"));
	other = cl_open(b, 0, "778-0"); /* another node's (or run's) id */
	drain(other);
	assert_non_null(strstr(other->got, "\"resumed\":false"));
	assert_null(strstr(other->got, "\"n\":"));
	cl_free(r);
	cl_free(other);
	r = cl_open(b, 0, "777-99"); /* from the future: not resumed */
	drain(r);
	assert_non_null(strstr(r->got, "\"resumed\":false"));
	cl_free(r);
	ev_bus_free(b);
}

static void test_heartbeat_stop_and_limits(void **state)
{
	struct ev_bus *b = bus();
	struct cl *c = cl_open(b, 0, NULL);
	struct ev_client *many[EV_CLIENTS_MAX];
	struct ev_client *x;
	unsigned i;

	(void)state;
	drain(c);
	ev_bus_heartbeat(b);
	assert_int_equal(c->wakes, 1);
	assert_true(pull(c) > 0);
	assert_non_null(strstr(c->got, ": heartbeat\n\n"));
	assert_int_equal(pull(c), 0);
	for (i = 0; i + 1 < EV_CLIENTS_MAX; i++)
		assert_int_equal(ev_client_open(b, 0, NULL, on_wake, NULL, &many[i]), 0);
	assert_int_equal(ev_client_open(b, 0, NULL, on_wake, NULL, &x), ERR_BUSY);
	for (i = 0; i + 1 < EV_CLIENTS_MAX; i++)
		ev_client_close(many[i]);
	ev_bus_stop(b);
	assert_int_equal(c->wakes, 2); /* the idle client is woken to end */
	pull(c);
	assert_true(c->done);
	assert_non_null(strstr(c->got, ": the node is stopping\n\n"));
	assert_int_equal(ev_client_open(b, 0, NULL, on_wake, NULL, &x), ERR_SHUTDOWN);
	ev_publish(b, "{\"type\":\"late\"}"); /* after stop: ignored */
	ev_bus_free(b);
	cl_free(c); /* a client may outlive the bus */
}

static void check_event(const char *got, const char *type, const char *key,
			const char *want)
{
	/* Finds the data line of the first event of type and checks a
	 * field by parsing it as JSON. */
	char pat[64];
	const char *p, *e;
	cJSON *j, *v;
	char *text;

	snprintf(pat, sizeof(pat), "data: {\"type\":\"%s\"", type);
	p = strstr(got, pat);
	assert_non_null(p);
	p += 6;
	e = strchr(p, '\n');
	assert_non_null(e);
	j = cJSON_ParseWithLength(p, (size_t)(e - p));
	assert_non_null(j);
	v = cJSON_GetObjectItemCaseSensitive(j, key);
	assert_non_null(v);
	text = cJSON_IsString(v) ? strdup(v->valuestring) : cJSON_PrintUnformatted(v);
	assert_string_equal(text, want);
	free(text);
	cJSON_Delete(j);
}

static void test_node_events(void **state)
{
	struct ev_bus *b = bus();
	struct cl *c = cl_open(b, 0, NULL);

	(void)state;
	drain(c);
	ev_publish_domain(b, 4, 17);
	ev_publish_leader(b, 0x0932b8806b203a58ull, "n\"2", 5);
	ev_publish_instance(b, 3, "alpha", "running");
	ev_publish_member(b, "n3", "dead");
	drain(c);
	check_event(c->got, "domain", "domain", "instances");
	check_event(c->got, "domain", "index", "17");
	check_event(c->got, "leader", "leader", "0932b8806b203a58");
	check_event(c->got, "leader", "name", "n\"2");
	check_event(c->got, "leader", "term", "5");
	check_event(c->got, "instance", "status", "running");
	check_event(c->got, "instance", "node", "n1");
	check_event(c->got, "member", "state", "dead");
	c->len = 0;
	ev_publish_domain(b, EV_DOMAIN_CONFIG, 18);
	ev_publish_leader(b, 0, NULL, 6);
	drain(c);
	check_event(c->got, "domain", "domain", "cluster");
	check_event(c->got, "leader", "leader", "null");
	c->len = 0;
	ev_publish_domain(b, 42, 19);
	drain(c);
	check_event(c->got, "domain", "domain", "domain42");
	c->len = 0;
	ev_publish_player(b, 7, "alpha", "chat", "ann"); /* not a player event */
	ev_publish_player(b, 7, "alpha", "join", "bob");
	ev_publish_chat(b, 7, "alpha", "ann", 3, "hi \"all\"", 8);
	drain(c);
	assert_int_equal(count(c->got, "\"type\":\"chat\""), 1);
	check_event(c->got, "chat", "message", "hi \"all\"");
	check_event(c->got, "chat", "instance_name", "alpha");
	check_event(c->got, "player", "event", "join");
	check_event(c->got, "player", "player", "bob");
	cl_free(c);
	ev_bus_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_then_events),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_logs_only_for_log_clients),
		cmocka_unit_test(test_slow_client_dropped),
		cmocka_unit_test(test_byte_bound),
		cmocka_unit_test(test_batches_in_order),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_heartbeat_stop_and_limits),
		cmocka_unit_test(test_node_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
