/*
 * test_gossipd.c: the gossip driver over an in-memory network with a
 * manual clock: the env contract (packets, observers, one timer), the
 * member listing with the published keys, lookups by Raft id, the rate
 * limit of published keys, crash and leave seen with their times, and
 * rejected input counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "node/gossipd/gossipd.h"

#define NODES 4
#define QUEUE_MAX 4096

struct pkt {
	int to;
	enum gossip_channel ch;
	uint8_t *data;
	size_t len;
};

struct tnode {
	struct gossipd *d;
	int idx, up;
	uint64_t timer;
	uint32_t timers_set, sends;
	int fail_sends;
	/* values of "role" of node 0 as seen here, in order */
	char roles[16][GOSSIPD_VALUE_MAX + 1];
	uint32_t n_roles;
	uint32_t member_reports;
};

struct net {
	struct tnode n[NODES];
	struct pkt q[QUEUE_MAX];
	uint32_t nq;
	uint64_t now;
};

static struct net *net_g;

static int addr_to_idx(const char *addr)
{
	int i;

	if (sscanf(addr, "127.0.0.1:%d", &i) != 1)
		return -1;
	return i - 7000;
}

static int env_send(void *ctx, const char *addr, enum gossip_channel ch,
		    const uint8_t *buf, size_t len)
{
	struct tnode *t = ctx;
	struct pkt *p;

	t->sends++;
	if (t->fail_sends)
		return ERR_AGAIN;
	assert_true(net_g->nq < QUEUE_MAX);
	p = &net_g->q[net_g->nq++];
	p->to = addr_to_idx(addr);
	p->ch = ch;
	p->data = malloc(len);
	assert_non_null(p->data);
	memcpy(p->data, buf, len);
	p->len = len;
	return 0;
}

static void env_set_timer(void *ctx, uint64_t deadline_ms)
{
	struct tnode *t = ctx;

	t->timer = deadline_ms;
	t->timers_set++;
}

static void env_on_member(void *ctx, const struct gossip_member_change *c)
{
	struct tnode *t = ctx;

	(void)c;
	t->member_reports++;
}

static void env_on_state(void *ctx, const struct gossip_state_change *c)
{
	struct tnode *t = ctx;

	if (strcmp(c->name, "node-0") != 0 || strcmp(c->key, "role") != 0 ||
	    t->n_roles == 16)
		return;
	assert_true(c->len <= GOSSIPD_VALUE_MAX);
	memcpy(t->roles[t->n_roles], c->value, c->len);
	t->roles[t->n_roles][c->len] = '\0';
	t->n_roles++;
}

static void start(struct net *w, int i, uint32_t publish_interval_ms)
{
	struct gossipd_config c;
	struct gossipd_env env = {.send = env_send,
				  .set_timer = env_set_timer,
				  .on_member = env_on_member,
				  .on_state = env_on_state};
	char name[32], addr[32], seed[32];
	const char *seeds[1] = {seed};
	struct tnode *t = &w->n[i];

	snprintf(name, sizeof(name), "node-%d", i);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", 7000 + i);
	snprintf(seed, sizeof(seed), "127.0.0.1:%d", 7000);
	gossipd_config_default(&c);
	c.gossip.name = name;
	c.gossip.addr = addr;
	c.seed = (uint64_t)i + 1;
	c.publish_interval_ms = publish_interval_ms;
	t->idx = i;
	t->up = 1;
	env.ctx = t;
	assert_int_equal(gossipd_new(&c, &env, w->now, &t->d), 0);
	assert_int_equal(t->timers_set, 0); /* new calls nothing */
	assert_int_equal(gossipd_join(t->d, w->now, seeds, i == 0 ? 0 : 1), 0);
	assert_int_equal(t->timers_set, 1);
	assert_int_equal(gossipd_publish_id(t->d, w->now, 0xab00 + (uint64_t)i), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", 8000 + i);
	assert_int_equal(gossipd_publish(t->d, w->now, GOSSIPD_KEY_HTTP, addr), 0);
	assert_int_equal(gossipd_publish(t->d, w->now, GOSSIPD_KEY_VER, "0.1.0"), 0);
}

static struct net *net_new(uint32_t publish_interval_ms)
{
	struct net *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	net_g = w;
	w->now = 1000;
	for (int i = 0; i < NODES; i++)
		start(w, i, publish_interval_ms);
	return w;
}

static void net_free(struct net *w)
{
	for (uint32_t k = 0; k < w->nq; k++)
		free(w->q[k].data);
	for (int i = 0; i < NODES; i++)
		gossipd_free(w->n[i].d);
	free(w);
	net_g = NULL;
}

/* Runs ms of time in 5 ms steps: packets queued in one step arrive in the
 * next; timers fire when due. Down nodes neither receive nor tick. */
static void run(struct net *w, uint64_t ms)
{
	for (uint64_t end = w->now + ms; w->now < end;) {
		uint32_t n = w->nq;
		struct pkt batch[QUEUE_MAX];

		w->now += 5;
		memcpy(batch, w->q, n * sizeof(*batch));
		w->nq = 0;
		for (uint32_t k = 0; k < n; k++) {
			struct pkt *p = &batch[k];

			if (p->to >= 0 && p->to < NODES && w->n[p->to].up)
				assert_int_equal(gossipd_receive(w->n[p->to].d, w->now,
								 "test", p->ch,
								 p->data, p->len),
						 0);
			free(p->data);
		}
		for (int i = 0; i < NODES; i++)
			if (w->n[i].up && w->n[i].timer <= w->now)
				assert_int_equal(gossipd_tick(w->n[i].d, w->now), 0);
	}
}

/* Everyone lists everyone, sorted, alive, with the published keys. */
static void test_members_listing(void **state)
{
	struct net *w = net_new(1000);
	struct gossipd_member m[NODES + 1];
	uint32_t total = 0;

	(void)state;
	run(w, 5000);
	for (int i = 0; i < NODES; i++) {
		struct gossipd_stats st;

		assert_int_equal(gossipd_count(w->n[i].d), NODES);
		assert_int_equal(gossipd_members(w->n[i].d, m, NODES + 1, &total), 0);
		assert_int_equal(total, NODES);
		for (int j = 0; j < NODES; j++) {
			char want[32];

			snprintf(want, sizeof(want), "node-%d", j);
			assert_string_equal(m[j].name, want);
			snprintf(want, sizeof(want), "127.0.0.1:%d", 7000 + j);
			assert_string_equal(m[j].addr, want);
			assert_int_equal(m[j].status, GOSSIP_ALIVE);
			assert_int_equal(m[j].self, i == j);
			snprintf(want, sizeof(want), "%016x", 0xab00 + j);
			assert_string_equal(m[j].values[GOSSIPD_KEY_ID], want);
			assert_int_equal(m[j].raft_id, 0xab00 + (uint64_t)j);
			snprintf(want, sizeof(want), "127.0.0.1:%d", 8000 + j);
			assert_string_equal(m[j].values[GOSSIPD_KEY_HTTP], want);
			assert_string_equal(m[j].values[GOSSIPD_KEY_VER], "0.1.0");
			assert_string_equal(m[j].values[GOSSIPD_KEY_ROLE], "");
		}
		gossipd_get_stats(w->n[i].d, &st);
		assert_int_equal(st.alive, NODES);
		assert_true(st.packets_out > 0 && st.bytes_out_udp > 0);
		assert_true(st.packets_in > 0);
		assert_true(w->n[i].member_reports >= NODES - 1); /* others */
	}
	/* A short array gets the first ones and the true total. */
	assert_int_equal(gossipd_members(w->n[1].d, m, 2, &total), 0);
	assert_int_equal(total, NODES);
	assert_string_equal(m[1].name, "node-1");
	assert_int_equal(gossipd_member_by_id(w->n[2].d, 0xab03, &m[0]), 0);
	assert_string_equal(m[0].name, "node-3");
	assert_int_equal(gossipd_member_by_id(w->n[2].d, 0x1234, &m[0]),
			 ERR_NOTFOUND);
	assert_int_equal(gossipd_member_get(w->n[2].d, "node-0", &m[0]), 0);
	assert_int_equal(gossipd_member_get(w->n[2].d, "nobody", &m[0]),
			 ERR_NOTFOUND);
	net_free(w);
}

/* The metrics carry the stats under fixed names, families consecutive. */
static void test_metrics(void **state)
{
	struct net *w = net_new(1000);
	struct gossipd_metric m[GOSSIPD_METRICS_MAX];
	struct gossipd_stats st;
	uint32_t n, found = 0;

	(void)state;
	run(w, 5000);
	gossipd_get_stats(w->n[1].d, &st);
	n = gossipd_metrics(w->n[1].d, m, GOSSIPD_METRICS_MAX);
	assert_true(n > 10 && n <= GOSSIPD_METRICS_MAX);
	for (uint32_t i = 0; i < n; i++) {
		assert_non_null(m[i].name);
		assert_true(strncmp(m[i].name, "clusterd_gossip_", 16) == 0);
		/* a family never comes back after another one */
		for (uint32_t j = 0; j + 1 < i; j++)
			if (strcmp(m[j].name, m[i].name) == 0)
				assert_string_equal(m[i - 1].name, m[i].name);
		if (strcmp(m[i].name, "clusterd_gossip_sent_bytes_total") == 0) {
			found++;
			assert_non_null(m[i].labels);
			assert_true(m[i].value == (double)(strstr(m[i].labels, "udp")
								   ? st.bytes_out_udp
								   : st.bytes_out_tcp));
		}
		if (strcmp(m[i].name, "clusterd_gossip_members") == 0 &&
		    strstr(m[i].labels, "alive"))
			assert_true(m[i].value == NODES);
	}
	assert_int_equal(found, 2);
	assert_true(st.bytes_out_udp > 0 && st.bytes_out_tcp > 0);
	assert_int_equal(gossipd_metrics(w->n[1].d, m, 3), 3);
	net_free(w);
}

/* Role flaps follower -> candidate -> leader within a second: the first
 * goes out at once, the candidate is superseded before its turn and never
 * sent, the leader goes out when the interval ends (from the timer). */
static void test_publish_rate_limit(void **state)
{
	struct net *w = net_new(1000);
	struct tnode *t0 = &w->n[0];
	struct gossipd_stats st;
	uint64_t t_first;

	(void)state;
	run(w, 3000);
	t_first = w->now;
	assert_int_equal(gossipd_publish(t0->d, w->now, GOSSIPD_KEY_ROLE, "follower"), 0);
	run(w, 100);
	assert_int_equal(gossipd_publish(t0->d, w->now, GOSSIPD_KEY_ROLE, "candidate"), 0);
	run(w, 100);
	assert_int_equal(gossipd_publish(t0->d, w->now, GOSSIPD_KEY_ROLE, "leader"), 0);
	/* The timer asks for the end of the interval at the latest. */
	assert_true(t0->timer <= t_first + 1000);
	assert_int_equal(gossipd_publish(t0->d, w->now, GOSSIPD_KEY_ROLE, "leader"), 0);
	gossipd_get_stats(t0->d, &st);
	assert_int_equal(st.publishes, 4); /* id, http, ver, follower */
	assert_int_equal(st.publishes_deferred, 2);
	run(w, 3000);
	gossipd_get_stats(t0->d, &st);
	assert_int_equal(st.publishes, 5);
	for (int i = 1; i < NODES; i++) {
		struct gossipd_member m;

		assert_int_equal(w->n[i].n_roles, 2);
		assert_string_equal(w->n[i].roles[0], "follower");
		assert_string_equal(w->n[i].roles[1], "leader");
		assert_int_equal(gossipd_member_get(w->n[i].d, "node-0", &m), 0);
		assert_string_equal(m.values[GOSSIPD_KEY_ROLE], "leader");
	}
	/* Changing back to the value everyone has cancels a pending one. */
	assert_int_equal(gossipd_publish(t0->d, w->now, GOSSIPD_KEY_ROLE, "follower"), 0);
	assert_int_equal(gossipd_publish(t0->d, w->now, GOSSIPD_KEY_ROLE, "candidate"), 0);
	assert_int_equal(gossipd_publish(t0->d, w->now, GOSSIPD_KEY_ROLE, "follower"), 0);
	run(w, 3000);
	assert_int_equal(w->n[1].n_roles, 3);
	assert_string_equal(w->n[1].roles[2], "follower");
	net_free(w);
}

/* With the limit off, every change goes out at once. */
static void test_publish_unlimited(void **state)
{
	struct net *w = net_new(0);
	struct gossipd_stats st;

	(void)state;
	run(w, 2000);
	assert_int_equal(gossipd_publish(w->n[0].d, w->now, GOSSIPD_KEY_ROLE, "a"), 0);
	assert_int_equal(gossipd_publish(w->n[0].d, w->now, GOSSIPD_KEY_ROLE, "b"), 0);
	gossipd_get_stats(w->n[0].d, &st);
	assert_int_equal(st.publishes, 5);
	assert_int_equal(st.publishes_deferred, 0);
	net_free(w);
}

/* A crashed node is declared dead everywhere, with the time it happened;
 * a leaving one is seen as left. */
static void test_crash_and_leave(void **state)
{
	struct net *w = net_new(1000);
	struct gossipd_member m;
	struct gossipd_stats st;
	uint64_t t_crash;

	(void)state;
	run(w, 3000);
	w->n[3].up = 0;
	t_crash = w->now;
	run(w, 30000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(gossipd_member_by_id(w->n[i].d, 0xab03, &m), 0);
		assert_int_equal(m.status, GOSSIP_DEAD);
		assert_true(m.since_ms > t_crash && m.since_ms <= w->now);
		gossipd_get_stats(w->n[i].d, &st);
		assert_int_equal(st.dead, 1);
		assert_int_equal(st.alive, 3);
		assert_true(st.core.probes > 0);
	}
	assert_int_equal(gossipd_leave(w->n[2].d, w->now), 0);
	run(w, 3000);
	assert_int_equal(gossipd_member_get(w->n[0].d, "node-2", &m), 0);
	assert_int_equal(m.status, GOSSIP_LEFT);
	net_free(w);
}

/* The core forgets a dead member after reap_ms (5 min); the table follows
 * it within the prune interval, in counts, listings and lookups. */
static void test_reaped_member_leaves_table(void **state)
{
	struct net *w = net_new(1000);
	struct gossipd_member m[NODES];
	uint32_t total;

	(void)state;
	run(w, 3000);
	w->n[3].up = 0;
	run(w, 30000);
	assert_int_equal(gossipd_count(w->n[0].d), NODES);
	run(w, 300000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(gossipd_count(w->n[i].d), NODES - 1);
		assert_int_equal(gossipd_members(w->n[i].d, m, NODES, &total), 0);
		assert_int_equal(total, NODES - 1);
		assert_int_equal(gossipd_member_get(w->n[i].d, "node-3", &m[0]),
				 ERR_NOTFOUND);
		assert_int_equal(gossipd_member_by_id(w->n[i].d, 0xab03, &m[0]),
				 ERR_NOTFOUND);
		/* The survivors are all still there and findable. */
		assert_int_equal(gossipd_member_by_id(w->n[i].d, 0xab02, &m[0]), 0);
		assert_int_equal(m[0].status, GOSSIP_ALIVE);
	}
	net_free(w);
}

/* Garbage is rejected and counted; failed sends are counted; bad local
 * requests are refused. */
static void test_rejects_and_errors(void **state)
{
	struct net *w = net_new(1000);
	struct gossipd_stats st;
	uint8_t junk[64];
	char big[GOSSIPD_VALUE_MAX + 2];
	struct gossipd_config c;
	struct gossipd_env env = {.send = env_send};
	struct gossipd *d = NULL;
	uint32_t sent_before;

	(void)state;
	memset(junk, 0xc1, sizeof(junk));
	assert_int_not_equal(gossipd_receive(w->n[0].d, w->now, "x", GOSSIP_UNRELIABLE,
					     junk, sizeof(junk)),
			     0);
	gossipd_get_stats(w->n[0].d, &st);
	assert_int_equal(st.recv_rejected, 1);
	assert_int_equal(st.core.malformed, 1);
	sent_before = w->n[1].sends;
	w->n[1].fail_sends = 1;
	run(w, 2000);
	gossipd_get_stats(w->n[1].d, &st);
	assert_true(w->n[1].sends > sent_before);
	assert_int_equal(st.send_failed, w->n[1].sends - sent_before);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(gossipd_publish(w->n[0].d, w->now, GOSSIPD_KEY_ROLE, big),
			 ERR_INVAL);
	assert_int_equal(gossipd_publish(w->n[0].d, w->now, GOSSIPD_KEYS_N, "x"),
			 ERR_INVAL);
	assert_string_equal(gossipd_key_name(GOSSIPD_KEY_HTTP), "http");
	gossipd_config_default(&c);
	c.gossip.name = "n";
	c.gossip.addr = "a";
	assert_int_equal(gossipd_new(&c, &env, 0, &d), ERR_INVAL); /* no timer */
	assert_null(d);
	net_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_listing),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_publish_rate_limit),
		cmocka_unit_test(test_publish_unlimited),
		cmocka_unit_test(test_crash_and_leave),
		cmocka_unit_test(test_reaped_member_leaves_table),
		cmocka_unit_test(test_rejects_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
