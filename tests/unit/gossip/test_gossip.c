/*
 * Unit tests of the gossip core, each tied to a rule of SWIM or
 * Lifeguard. A hand-driven network (tnet.h) delivers packets when the
 * test says so; white-box checks read the instance through internal.h.
 */
#include "tests/lib/cmocka_all.h"

#include "base/err.h"
#include "gossip/internal.h"
#include "tests/unit/gossip/tnet.h"

static struct tnet *net_new(int n, const struct gossip_config *c)
{
	struct tnet *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	for (int i = 0; i < n; i++)
		tnet_add(t, c, 100);
	return t;
}

/* Joins nodes 1..n-1 through node 0 and lets gossip settle. */
static struct tnet *cluster(int n, const struct gossip_config *c)
{
	struct tnet *t = net_new(n, c);

	for (int i = 1; i < n; i++) {
		tnet_join(t, i, 0);
		tnet_deliver(t, 8);
	}
	tnet_run(t, t->now + 3000, 50);
	for (int i = 0; i < n; i++)
		assert_int_equal(gossip_num_live(t->g[i]), n);
	return t;
}

static void reset_reports(struct tnet *t)
{
	memset(t->n_changes, 0, sizeof(t->n_changes));
	memset(t->n_states, 0, sizeof(t->n_states));
}

/* SWIM 3.1: a probe answered by an ack keeps the member alive and the
 * prober healthy; an unanswered one (no one to ask indirectly) makes
 * the prober suspect it at the end of the protocol period. */
static void probe_ack_and_suspect(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_stats st;

	(void)state;
	tnet_cfg(&c);
	t = cluster(2, &c);
	tnet_run(t, t->now + 10000, 10);
	gossip_get_stats(t->g[0], &st);
	assert_true(st.probes >= 9);
	assert_int_equal(st.probe_fails, 0);
	assert_int_equal(gossip_health(t->g[0]), 0);
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_ALIVE);
	/* Now node 1 stops answering. */
	t->down[1] = 1;
	for (uint64_t end = t->now + 2001; t->now < end; t->now++) {
		tnet_tick_all(t);
		tnet_deliver(t, 8);
		gossip_get_stats(t->g[0], &st);
		if (st.probe_fails > 0)
			break;
	}
	/* A probe in flight when it went down fails within two periods. */
	assert_int_equal(st.probe_fails, 1);
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_SUSPECT);
	tnet_free(t);
	free(t);
}

/* SWIM 3.1: when the direct path fails, k others probe for us, and their
 * forwarded ack keeps the target alive. */
static void indirect_probe_saves_target(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_stats st;

	(void)state;
	tnet_cfg(&c);
	c.indirect_checks = 1;
	t = cluster(3, &c);
	t->drop[0][1] = t->drop[1][0] = 1;
	tnet_run(t, t->now + 20000, 10);
	gossip_get_stats(t->g[0], &st);
	assert_true(st.indirect_sent >= 5);
	assert_int_equal(st.probe_fails, 0);
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_ALIVE);
	assert_int_equal(tnet_status(t, 2, 1), GOSSIP_ALIVE);
	tnet_free(t);
	free(t);
}

/* A suspicion with nobody to confirm it (k = 0 for 2 members) lasts
 * exactly the minimum timeout: suspicion_mult * max(1, log10 N) * interval. */
static void suspicion_to_dead_timing(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	uint64_t t_suspect = 0;

	(void)state;
	tnet_cfg(&c);
	t = cluster(2, &c);
	t->down[1] = 1;
	reset_reports(t);
	while (tnet_status(t, 0, 1) == GOSSIP_ALIVE) {
		t->now += 1;
		tnet_tick(t, 0);
		tnet_clear(t);
	}
	t_suspect = t->now;
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_SUSPECT);
	while (tnet_status(t, 0, 1) == GOSSIP_SUSPECT) {
		t->now += 1;
		tnet_tick(t, 0);
		tnet_clear(t);
	}
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_DEAD);
	assert_int_equal(t->now - t_suspect, 4000);
	/* Reported in order: suspect, then dead, same incarnation. */
	assert_int_equal(t->n_changes[0], 2);
	assert_int_equal(t->changes[0][0].status, GOSSIP_SUSPECT);
	assert_int_equal(t->changes[0][1].status, GOSSIP_DEAD);
	assert_string_equal(t->changes[0][1].name, "node1");
	tnet_free(t);
	free(t);
}

/* SWIM 4.2: a suspected member that hears of it raises its incarnation
 * and the alive news overrides the suspicion everywhere. */
static void refutation(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct mp_writer w;
	uint64_t inc0;

	(void)state;
	tnet_cfg(&c);
	t = cluster(3, &c);
	inc0 = gossip_incarnation(t->g[1]);
	mp_writer_init(&w, 1400);
	gossip_enc_header(&w, "node2", "addr2", 1);
	gossip_enc_accuse(&w, GMSG_SUSPECT, "node1", inc0, "node2");
	tnet_recv(t, 0, mp_writer_data(&w), mp_writer_len(&w), GOSSIP_UNRELIABLE);
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_SUSPECT);
	tnet_recv(t, 1, mp_writer_data(&w), mp_writer_len(&w), GOSSIP_UNRELIABLE);
	assert_int_equal(gossip_incarnation(t->g[1]), inc0 + 1);
	/* Lifeguard 4.3: being suspected raises one's own health score. */
	assert_int_equal(gossip_health(t->g[1]), 1);
	assert_true(tnet_count_type(t, GMSG_ALIVE, -1) == 0); /* piggybacked later */
	tnet_run(t, t->now + 2000, 10);
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_ALIVE);
	assert_int_equal(tnet_status(t, 2, 1), GOSSIP_ALIVE);
	/* A stale suspicion (old incarnation) changes nothing now. */
	tnet_recv(t, 0, mp_writer_data(&w), mp_writer_len(&w), GOSSIP_UNRELIABLE);
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_ALIVE);
	mp_writer_free(&w);
	tnet_free(t);
	free(t);
}

/* Lifeguard 4.2 formula, and memberlist's scaling rules. */
static void suspicion_math(void **state)
{
	(void)state;
	assert_int_equal(gossip_suspicion_min(4, 2, 1000), 4000);
	assert_int_equal(gossip_suspicion_min(4, 10, 1000), 4000);
	assert_int_equal(gossip_suspicion_min(4, 100, 1000), 8000);
	assert_int_equal(gossip_suspicion_min(4, 1000, 1000), 12000);
	/* k = 2 expected confirmations, min 8 s, max 48 s */
	assert_int_equal(gossip_suspicion_timeout(8000, 48000, 2, 0), 48000);
	/* 48000 - 40000 * ln 2 / ln 3 = 22762.07... */
	assert_int_equal(gossip_suspicion_timeout(8000, 48000, 2, 1), 22762);
	assert_int_equal(gossip_suspicion_timeout(8000, 48000, 2, 2), 8000);
	assert_int_equal(gossip_suspicion_timeout(8000, 48000, 2, 5), 8000);
	assert_int_equal(gossip_suspicion_timeout(8000, 48000, 0, 0), 8000);
	assert_int_equal(gossip_retransmit_limit(4, 1), 4);
	assert_int_equal(gossip_retransmit_limit(4, 9), 4);
	assert_int_equal(gossip_retransmit_limit(4, 10), 8);
	assert_int_equal(gossip_retransmit_limit(4, 100), 12);
	assert_int_equal(gossip_retransmit_limit(4, 1000), 16);
}

static void feed_accuse(struct tnet *t, int i, uint32_t type, const char *who,
			uint64_t inc, const char *from)
{
	struct mp_writer w;

	mp_writer_init(&w, 1400);
	gossip_enc_header(&w, from, "elsewhere", 1);
	gossip_enc_accuse(&w, type, who, inc, from);
	tnet_recv(t, i, mp_writer_data(&w), mp_writer_len(&w), GOSSIP_UNRELIABLE);
	mp_writer_free(&w);
}

/* Lifeguard 4.2 in the instance: each independent confirmation pulls the
 * deadline in; a repeated accuser does not. */
static void suspicion_confirmations(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct member *m;
	int32_t s;
	uint64_t start;

	(void)state;
	tnet_cfg(&c);
	t = cluster(5, &c); /* n = 5: k = 2, min 4 s, max 24 s */
	s = gossip__mem_find(t->g[0], "node4", 5);
	assert_true(s > 0);
	m = &t->g[0]->m[s];
	start = t->now;
	feed_accuse(t, 0, GMSG_SUSPECT, "node4", m->inc, "node1");
	assert_int_equal(m->status, GOSSIP_SUSPECT);
	assert_int_equal(m->susp_deadline_ms - start, 24000);
	feed_accuse(t, 0, GMSG_SUSPECT, "node4", m->inc, "node1");
	assert_int_equal(m->susp_deadline_ms - start, 24000);
	feed_accuse(t, 0, GMSG_SUSPECT, "node4", m->inc, "node2");
	assert_int_equal(m->susp_deadline_ms - start,
			 gossip_suspicion_timeout(4000, 24000, 2, 1));
	feed_accuse(t, 0, GMSG_SUSPECT, "node4", m->inc, "node3");
	assert_int_equal(m->susp_deadline_ms - start, 4000);
	/* Each new confirmation is passed on (queued for piggyback). */
	assert_true(m->bcast != NO_SLOT);
	tnet_free(t);
	free(t);
}

/* Lifeguard 4.3: failed probes without nacks raise the local health
 * score, which stretches the protocol period; successes lower it. */
static void local_health_multiplier(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	uint64_t before;

	(void)state;
	tnet_cfg(&c);
	t = cluster(2, &c);
	t->down[1] = 1;
	for (uint64_t end = t->now + 2001; t->now < end; t->now++) {
		tnet_tick(t, 0);
		tnet_clear(t);
		if (gossip_health(t->g[0]) > 0)
			break;
	}
	assert_int_equal(gossip_health(t->g[0]), 1);
	t->now++;
	tnet_tick(t, 0);
	/* The next period is twice as long. */
	before = t->g[0]->probe.end_at_ms - t->now;
	assert_true(before > 1000 && before <= 2000);
	/* The score saturates at awareness_max - 1 and at 0. */
	gossip__awareness_add(t->g[0], 100);
	assert_int_equal(gossip_health(t->g[0]), c.awareness_max - 1);
	/* With the member back, each acked probe lowers it by one. */
	t->down[1] = 0;
	feed_accuse(t, 1, GMSG_DEAD, "node1", gossip_incarnation(t->g[1]), "x");
	tnet_run(t, t->now + 2000, 5);
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_ALIVE);
	gossip__awareness_add(t->g[0], -100);
	gossip__awareness_add(t->g[0], 3);
	tnet_run(t, t->now + 3 * 8000 + 1000, 5);
	assert_int_equal(gossip_health(t->g[0]), 0);
	tnet_free(t);
	free(t);
}

/* Lifeguard 4.1: an indirect prober that cannot reach the target nacks,
 * so the requester knows its own links work and keeps its health. */
static void nacks_keep_health(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_stats st0, st2;

	(void)state;
	tnet_cfg(&c);
	c.indirect_checks = 1;
	t = cluster(3, &c);
	t->down[1] = 1;
	/* Run until node 0 has probed node 1 and failed once. */
	for (int guard = 0; guard < 100000; guard++) {
		gossip_get_stats(t->g[0], &st0);
		if (st0.probe_fails > 0)
			break;
		t->now += 1;
		tnet_tick_all(t);
		tnet_deliver(t, 8);
	}
	gossip_get_stats(t->g[0], &st0);
	gossip_get_stats(t->g[2], &st2);
	assert_int_equal(st0.probe_fails, 1);
	assert_true(st2.nacks_sent >= 1);
	assert_true(st0.nacks_recv >= 1);
	assert_int_equal(gossip_health(t->g[0]), 0);
	tnet_free(t);
	free(t);
}

/* Lifeguard 4.4: a probe of a suspect carries the suspicion first. */
static void buddy_system(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_wire *w = malloc(sizeof(*w));
	int found = 0;

	(void)state;
	tnet_cfg(&c);
	t = cluster(2, &c);
	feed_accuse(t, 0, GMSG_SUSPECT, "node1", gossip_incarnation(t->g[1]),
		    "someone");
	tnet_clear(t);
	for (int i = 0; i < 3000 && !found; i++) {
		t->now++;
		tnet_tick(t, 0);
		for (int k = 0; k < t->nq && !found; k++) {
			if (t->q[k].to != 1 ||
			    gossip_decode(w, t->q[k].data, t->q[k].len) != 0)
				continue;
			if (w->n >= 2 && w->msgs[1].type == GMSG_PING) {
				assert_int_equal(w->msgs[0].type, GMSG_SUSPECT);
				found = 1;
			}
			gossip_wire_free(w);
		}
		tnet_clear(t);
	}
	assert_true(found);
	free(w);
	tnet_free(t);
	free(t);
}

/* SWIM 4.1: an update goes out retransmit_mult * ceil(log10(N+1)) times
 * in all, then stops. */
static void dissemination_count(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_event ev = {.type = GOSSIP_EV_SET_STATE};
	int sent = 0;

	(void)state;
	tnet_cfg(&c);
	t = cluster(10, &c); /* N = 10: 4 * ceil(log10 11) = 8 */
	tnet_clear(t);
	ev.state.key = "role";
	ev.state.value = (const uint8_t *)"x";
	ev.state.len = 1;
	assert_int_equal(tnet_step(t, 0, &ev), 0);
	for (int i = 0; i < 20000; i++) {
		t->now++;
		tnet_tick(t, 0);
		sent += tnet_count_type(t, GMSG_STATE, -1);
		tnet_clear(t);
	}
	assert_int_equal(sent, 8);
	tnet_free(t);
	free(t);
}

/* Newest first, and never over the packet size limit. */
static void dissemination_order_and_size(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_wire *w = malloc(sizeof(*w));
	char key[16];
	uint8_t big[200];

	(void)state;
	tnet_cfg(&c);
	t = cluster(2, &c);
	tnet_clear(t);
	memset(big, 'v', sizeof(big));
	for (int i = 0; i < GOSSIP_STATE_KEYS_MAX; i++) {
		struct gossip_event ev = {.type = GOSSIP_EV_SET_STATE};

		snprintf(key, sizeof(key), "k%02d", i);
		ev.state.key = key;
		ev.state.value = big;
		ev.state.len = sizeof(big);
		assert_int_equal(tnet_step(t, 0, &ev), 0);
	}
	while (t->nq == 0) {
		t->now++;
		tnet_tick(t, 0);
	}
	assert_true(t->q[0].len <= c.packet_max);
	assert_int_equal(gossip_decode(w, t->q[0].data, t->q[0].len), 0);
	assert_true(w->n >= 2 && w->n < GOSSIP_STATE_KEYS_MAX);
	/* The first state message is the newest key. */
	for (uint32_t i = 0; i < w->n; i++) {
		if (w->msgs[i].type == GMSG_STATE) {
			assert_int_equal(w->msgs[i].key.len, 3);
			assert_memory_equal(w->msgs[i].key.p, "k15", 3);
			break;
		}
	}
	gossip_wire_free(w);
	free(w);
	tnet_free(t);
	free(t);
}

static void feed_state(struct tnet *t, int i, const char *who, const char *key,
		       uint64_t ver, const char *val)
{
	struct mp_writer w;

	mp_writer_init(&w, 1400);
	gossip_enc_header(&w, "other", "elsewhere", 1);
	gossip_enc_state(&w, who, key, ver, (const uint8_t *)val, strlen(val));
	tnet_recv(t, i, mp_writer_data(&w), mp_writer_len(&w), GOSSIP_UNRELIABLE);
	mp_writer_free(&w);
}

/* Own keys count up from cfg.state_version: a member restarted with the
 * wall clock there publishes above what the others kept from its past
 * (they hold version 5 of its key; it never hears of that version here). */
static void state_version_start(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_event ev = {.type = GOSSIP_EV_SET_STATE};
	const uint8_t *v;
	size_t len;
	uint64_t ver;

	(void)state;
	tnet_cfg(&c);
	c.state_version = 1000;
	t = cluster(3, &c);
	feed_state(t, 0, "node1", "id", 5, "old-id");
	ev.state.key = "id";
	ev.state.value = (const uint8_t *)"new-id";
	ev.state.len = 6;
	assert_int_equal(tnet_step(t, 1, &ev), 0);
	tnet_run(t, t->now + 3000, 10);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(gossip_state_get(t->g[i], "node1", "id", &ver, &v, &len), 0);
		assert_int_equal(ver, 1001);
		assert_memory_equal(v, "new-id", 6);
	}
	tnet_free(t);
	free(t);
}

/* Newer version wins; an older or equal one is ignored; state spreads by
 * piggyback; a member outbids a newer version of its own key. */
static void state_versioning(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_event ev = {.type = GOSSIP_EV_SET_STATE};
	const uint8_t *v;
	size_t len;
	uint64_t ver;

	(void)state;
	tnet_cfg(&c);
	t = cluster(3, &c);
	reset_reports(t);
	feed_state(t, 0, "node1", "role", 5, "five");
	feed_state(t, 0, "node1", "role", 3, "three");
	feed_state(t, 0, "node1", "role", 5, "again");
	assert_int_equal(gossip_state_get(t->g[0], "node1", "role", &ver, &v, &len), 0);
	assert_int_equal(ver, 5);
	assert_memory_equal(v, "five", 4);
	assert_int_equal(t->n_states[0], 1);
	assert_int_equal(t->states[0][0].version, 5);
	/* Node 1 sets its key; its counter starts at 1, below the 5 above,
	 * so it must re-issue above 5 when it hears of version 5. */
	tnet_clear(t);
	ev.state.key = "role";
	ev.state.value = (const uint8_t *)"mine";
	ev.state.len = 4;
	assert_int_equal(tnet_step(t, 1, &ev), 0);
	feed_state(t, 1, "node1", "role", 5, "five");
	tnet_run(t, t->now + 3000, 10);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(gossip_state_get(t->g[i], "node1", "role", &ver, &v, &len), 0);
		assert_true(ver > 5);
		assert_memory_equal(v, "mine", 4);
	}
	/* Bounds on local requests. */
	ev.state.key = "a-key-that-is-far-too-long-for-the-bound";
	assert_int_equal(tnet_step(t, 1, &ev), ERR_INVAL);
	tnet_free(t);
	free(t);
}

/* Graceful leave is reported as LEFT, not DEAD; the member comes back
 * with a higher incarnation after hearing of its own departure. */
static void leave_and_rejoin(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_event ev = {.type = GOSSIP_EV_LEAVE};
	enum gossip_status st;
	uint64_t inc;

	(void)state;
	tnet_cfg(&c);
	t = cluster(3, &c);
	assert_int_equal(tnet_step(t, 2, &ev), 0);
	tnet_run(t, t->now + 2000, 10);
	assert_int_equal(tnet_status(t, 0, 2), GOSSIP_LEFT);
	assert_int_equal(tnet_status(t, 1, 2), GOSSIP_LEFT);
	/* A fresh process under the same name, incarnation 0, joins. */
	gossip_free(t->g[2]);
	c.name = t->name[2];
	c.addr = t->addr[2];
	assert_int_equal(gossip_new(&c, 999, NULL, t->now, &t->g[2]), 0);
	tnet_join(t, 2, 0);
	tnet_run(t, t->now + 3000, 10);
	assert_true(gossip_incarnation(t->g[2]) >= 1);
	assert_int_equal(gossip_lookup(t->g[0], "node2", &st, &inc), 0);
	assert_int_equal(st, GOSSIP_ALIVE);
	assert_int_equal(inc, gossip_incarnation(t->g[2]));
	assert_int_equal(tnet_status(t, 1, 2), GOSSIP_ALIVE);
	tnet_free(t);
	free(t);
}

/* Dead members are forgotten after reap_ms. */
static void reap_dead(void **state)
{
	struct gossip_config c;
	struct tnet *t;

	(void)state;
	tnet_cfg(&c);
	c.reap_ms = 20000;
	t = cluster(3, &c);
	t->down[2] = 1;
	tnet_run(t, t->now + 15000, 10);
	assert_int_equal(tnet_status(t, 0, 2), GOSSIP_DEAD);
	assert_int_equal(gossip_num_members(t->g[0]), 3);
	tnet_run(t, t->now + 25000, 10);
	assert_int_equal(gossip_num_members(t->g[0]), 2);
	assert_int_equal(tnet_status(t, 0, 2), 0);
	tnet_free(t);
	free(t);
}

static void bad_config_and_requests(void **state)
{
	struct gossip_config c;
	struct gossip *g;
	struct gossip_update u;
	struct gossip_event ev = {.type = GOSSIP_EV_JOIN};
	const char *seeds[GOSSIP_SEEDS_MAX + 1];

	(void)state;
	gossip_config_default(&c);
	assert_int_equal(gossip_new(&c, 1, NULL, 0, &g), ERR_INVAL);
	c.name = "n";
	c.addr = "a";
	c.probe_timeout_ms = 2000; /* longer than the interval */
	assert_int_equal(gossip_new(&c, 1, NULL, 0, &g), ERR_INVAL);
	c.probe_timeout_ms = 500;
	assert_int_equal(gossip_new(&c, 1, NULL, 0, &g), 0);
	for (int i = 0; i <= GOSSIP_SEEDS_MAX; i++)
		seeds[i] = "x";
	ev.join.seeds = seeds;
	ev.join.n = GOSSIP_SEEDS_MAX + 1;
	assert_int_equal(gossip_step(g, &ev, &u), ERR_INVAL);
	/* A garbage packet is dropped and reported, not an error. */
	ev = (struct gossip_event){.type = GOSSIP_EV_RECV, .now_ms = 1};
	ev.recv.data = (const uint8_t *)"\x94\x01";
	ev.recv.len = 2;
	assert_int_equal(gossip_step(g, &ev, &u), 0);
	assert_int_equal(u.recv_err, ERR_MALFORMED);
	gossip_free(g);
}

/* memberlist's TCP fallback: with every datagram between two members
 * lost, the reliable ping still gets the ack through; without it the
 * member is suspected. */
static void reliable_fallback_ping(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_stats st;

	(void)state;
	for (int fallback = 1; fallback >= 0; fallback--) {
		tnet_cfg(&c);
		c.reliable_ping = (uint32_t)fallback;
		t = cluster(2, &c);
		t->drop_unreliable[0][1] = t->drop_unreliable[1][0] = 1;
		tnet_run(t, t->now + 3000, 10);
		gossip_get_stats(t->g[0], &st);
		if (fallback) {
			assert_int_equal(st.probe_fails, 0);
			assert_int_equal(tnet_status(t, 0, 1), GOSSIP_ALIVE);
		} else {
			assert_true(st.probe_fails >= 1);
			assert_int_not_equal(tnet_status(t, 0, 1), GOSSIP_ALIVE);
		}
		tnet_free(t);
		free(t);
	}
}

/* An accusation older than what a member knows is answered, to its
 * sender, with the newer ALIVE: a node that missed a refutation is told
 * before its suspicion timer declares a live member dead. */
static void stale_accusation_answered(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct mp_writer w;
	struct gossip_wire *d = malloc(sizeof(*d));
	uint64_t inc;
	int found = 0;

	(void)state;
	tnet_cfg(&c);
	t = cluster(3, &c);
	/* node1 refutes twice: incarnation 2 everywhere. */
	for (int i = 0; i < 2; i++) {
		feed_accuse(t, 1, GMSG_SUSPECT, "node1", gossip_incarnation(t->g[1]),
			    "node2");
		tnet_run(t, t->now + 2000, 10);
	}
	inc = gossip_incarnation(t->g[1]);
	assert_int_equal(inc, 2);
	tnet_clear(t);
	/* node2 (addr2) still gossips a suspicion at incarnation 0. */
	mp_writer_init(&w, 1400);
	gossip_enc_header(&w, "node2", "addr2", 1);
	gossip_enc_accuse(&w, GMSG_SUSPECT, "node1", 0, "node2");
	tnet_recv(t, 0, mp_writer_data(&w), mp_writer_len(&w), GOSSIP_UNRELIABLE);
	assert_int_equal(tnet_status(t, 0, 1), GOSSIP_ALIVE);
	for (int k = 0; k < t->nq; k++) {
		if (t->q[k].to != 2 || gossip_decode(d, t->q[k].data, t->q[k].len) != 0)
			continue;
		for (uint32_t m = 0; m < d->n; m++)
			if (d->msgs[m].type == GMSG_ALIVE && d->msgs[m].inc == inc &&
			    d->msgs[m].name.len == 5 &&
			    memcmp(d->msgs[m].name.p, "node1", 5) == 0)
				found = 1;
		gossip_wire_free(d);
	}
	assert_true(found);
	mp_writer_free(&w);
	free(d);
	tnet_free(t);
	free(t);
}

/* Makes node i start a periodic push-pull now, and delivers it. */
static void force_push_pull(struct tnet *t, int i)
{
	struct gossip_stats a, b, c1, c2;

	gossip_get_stats(t->g[1], &a);
	gossip_get_stats(t->g[2], &b);
	t->g[i]->pp_started = 1;
	t->g[i]->next_pp_ms = t->now;
	tnet_tick(t, i);
	tnet_deliver(t, 8);
	/* a peer answered the digest (others may have run their own) */
	gossip_get_stats(t->g[1], &c1);
	gossip_get_stats(t->g[2], &c2);
	assert_true(c1.push_pulls + c2.push_pulls > a.push_pulls + b.push_pulls);
}

/* Anti-entropy: a digest exchange carries only what differs, in both
 * directions, and leaves both sides with the newest of everything. */
static void push_pull_digest_exchange(void **state)
{
	struct gossip_config c;
	struct tnet *t;
	struct gossip_event ev = {.type = GOSSIP_EV_SET_STATE};
	const uint8_t *v;
	size_t len;
	uint64_t ver, before;

	(void)state;
	tnet_cfg(&c);
	t = cluster(3, &c);
	/* node0 misses node2's state change (every packet to it is lost). */
	t->drop[2][0] = t->drop[1][0] = 1;
	ev.state.key = "role";
	ev.state.value = (const uint8_t *)"leader";
	ev.state.len = 6;
	assert_int_equal(tnet_step(t, 2, &ev), 0);
	tnet_run(t, t->now + 3000, 10);
	assert_int_equal(gossip_state_get(t->g[0], "node2", "role", &ver, &v, &len),
			 ERR_NOTFOUND);
	t->drop[2][0] = t->drop[1][0] = 0;
	tnet_clear(t);
	/* One exchange node0 -> node1 repairs it; an exchange with nothing
	 * to repair costs far less than the full state. */
	t->sent_bytes = 0;
	force_push_pull(t, 0);
	assert_int_equal(gossip_state_get(t->g[0], "node2", "role", &ver, &v, &len), 0);
	assert_memory_equal(v, "leader", 6);
	before = t->sent_bytes;
	t->sent_bytes = 0;
	force_push_pull(t, 0);
	assert_true(t->sent_bytes < before);
	tnet_free(t);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probe_ack_and_suspect),
		cmocka_unit_test(indirect_probe_saves_target),
		cmocka_unit_test(suspicion_to_dead_timing),
		cmocka_unit_test(refutation),
		cmocka_unit_test(suspicion_math),
		cmocka_unit_test(suspicion_confirmations),
		cmocka_unit_test(local_health_multiplier),
		cmocka_unit_test(nacks_keep_health),
		cmocka_unit_test(buddy_system),
		cmocka_unit_test(dissemination_count),
		cmocka_unit_test(dissemination_order_and_size),
		cmocka_unit_test(state_versioning),
		cmocka_unit_test(state_version_start),
		cmocka_unit_test(leave_and_rejoin),
		cmocka_unit_test(reap_dead),
		cmocka_unit_test(bad_config_and_requests),
		cmocka_unit_test(reliable_fallback_ping),
		cmocka_unit_test(stale_accusation_answered),
		cmocka_unit_test(push_pull_digest_exchange),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
