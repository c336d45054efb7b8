/*
 * test_models.c: the simulator's building blocks on their own: the event
 * queue's (time, seq) order, the network's faults, and the disk's crash
 * and torn-write behaviour. A simulator whose models are wrong proves
 * nothing, so each fault is shown to happen and to be undone.
 */
#include "tests/lib/cmocka_all.h"

#include <string.h>

#include "base/err.h"
#include "base/prng.h"
#include "tests/sim/raft/disk.h"
#include "tests/sim/raft/net.h"
#include "tests/sim/raft/queue.h"

static void queue_orders_by_time_then_push_order(void **state)
{
	struct sim_queue q;
	struct sim_event ev = {0}, out;
	struct prng r;
	uint64_t last_t = 0, last_seq = 0;

	(void)state;
	assert_int_equal(sim_queue_init(&q, 1000), 0);
	prng_seed(&r, 1);
	for (int i = 0; i < 1000; i++) {
		ev.time_us = prng_below(&r, 50); /* many ties */
		ev.a = (uint64_t)i;
		assert_int_equal(sim_queue_push(&q, &ev), 0);
	}
	assert_int_equal(sim_queue_push(&q, &ev), ERR_AGAIN);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(sim_queue_pop(&q, &out), 0);
		assert_true(out.time_us >= last_t);
		if (i > 0 && out.time_us == last_t)
			assert_true(out.seq > last_seq);
		assert_int_equal(out.seq, out.a); /* seq is push order */
		last_t = out.time_us;
		last_seq = out.seq;
	}
	assert_int_equal(sim_queue_pop(&q, &out), ERR_NOTFOUND);
	assert_null(sim_queue_peek(&q));
	sim_queue_free(&q);
}

static const struct sim_net_params netp = {
    .lat_min_us = 100,
    .lat_jitter_us = 400,
    .lat_tail_us = 10000,
    .p_tail = 0.01,
    .p_loss = 0.1,
    .p_dup = 0.1,
    .p_reorder = 0.1,
};

static void net_loses_duplicates_and_reorders(void **state)
{
	struct sim_net net;
	struct prng seed;
	uint64_t when[2], prev = 0;
	int lost = 0, dup = 0, reordered = 0;

	(void)state;
	prng_seed(&seed, 5);
	sim_net_init(&net, 3, &netp, &seed);
	for (int i = 0; i < 10000; i++) {
		int k = sim_net_route(&net, (uint64_t)i * 10, 0, 1, when);

		lost += k == 0;
		dup += k == 2;
		for (int j = 0; j < k; j++) {
			assert_true(when[j] >= (uint64_t)i * 10 + 100);
			reordered += when[j] < prev;
			prev = when[j];
			assert_int_equal(sim_net_arrive(&net, 0, 1), 1);
		}
	}
	assert_true(lost > 800 && lost < 1200);
	assert_true(dup > 700 && dup < 1100);
	assert_true(reordered > 100);
	assert_int_equal(net.link[0][1].inflight, 0);
}

static void net_partitions_and_clogs(void **state)
{
	struct sim_net net;
	struct sim_net_params p = netp;
	struct prng seed;
	uint64_t when[2];

	(void)state;
	p.p_loss = p.p_dup = 0;
	prng_seed(&seed, 6);
	sim_net_init(&net, 5, &p, &seed);
	sim_net_partition(&net, 0x3); /* {0,1} | {2,3,4} */
	assert_int_equal(sim_net_route(&net, 0, 0, 2, when), 0);
	assert_int_equal(sim_net_route(&net, 0, 3, 1, when), 0);
	assert_int_equal(sim_net_route(&net, 0, 0, 1, when), 1);
	assert_int_equal(sim_net_arrive(&net, 0, 1), 1);
	assert_int_equal(sim_net_route(&net, 0, 2, 4, when), 1);
	/* A cut while the message is in flight drops it. */
	sim_net_set_link(&net, 2, 4, 0);
	assert_int_equal(sim_net_arrive(&net, 2, 4), 0);
	sim_net_heal(&net);
	/* Asymmetric: 0 hears 1, 1 does not hear 0. */
	sim_net_set_link(&net, 0, 1, 0);
	assert_int_equal(sim_net_route(&net, 0, 0, 1, when), 0);
	assert_int_equal(sim_net_route(&net, 0, 1, 0, when), 1);
	sim_net_arrive(&net, 1, 0);
	/* A clog holds messages until it ends. */
	sim_net_clog(&net, 3, 4, 1000000);
	assert_int_equal(sim_net_route(&net, 10, 3, 4, when), 1);
	assert_true(when[0] >= 1000000);
	sim_net_arrive(&net, 3, 4);
	/* A slow link adds its latency both ways; heal removes it. */
	sim_net_slow(&net, 1, 2, 50000);
	assert_int_equal(sim_net_route(&net, 0, 2, 1, when), 1);
	assert_true(when[0] >= 50100);
	sim_net_arrive(&net, 2, 1);
	sim_net_heal(&net);
	assert_int_equal(sim_net_route(&net, 0, 1, 2, when), 1);
	assert_true(when[0] < 50000); /* at most 100 + 400 + 10000 + 1600 */
	sim_net_arrive(&net, 1, 2);
}

static const struct sim_disk_params diskp = {
    .fsync_min_us = 100,
    .fsync_jitter_us = 100,
    .fsync_slow_us = 50000,
    .p_slow = 0.5,
    .p_torn = 1.0,
    .p_garbage = 0.5,
};

struct seen {
	int n;
	uint8_t types[64];
};

static int count_cb(void *ctx, uint8_t type, const uint8_t *p, size_t len)
{
	struct seen *s = ctx;

	/* Each record's payload is its type repeated. */
	for (size_t i = 0; i < len; i++)
		if (p[i] != type)
			return -1;
	s->types[s->n++] = type;
	return 0;
}

static void disk_append(struct sim_disk *d, uint8_t type)
{
	uint8_t p[40];

	memset(p, type, sizeof(p));
	assert_int_equal(sim_disk_append(d, type, p, type % 40), 0);
}

static void disk_crash_keeps_synced_and_drops_torn(void **state)
{
	struct prng seed;
	int torn_seen = 0;

	(void)state;
	prng_seed(&seed, 9);
	for (int round = 0; round < 200; round++) {
		struct sim_disk d;
		struct seen s = {0};
		size_t synced;
		int n;

		assert_int_equal(sim_disk_init(&d, 1 << 20, &diskp, &seed), 0);
		for (uint8_t t = 1; t <= 5; t++)
			disk_append(&d, t);
		synced = d.len;
		sim_disk_synced(&d, synced);
		for (uint8_t t = 6; t <= 12; t++)
			disk_append(&d, t);
		sim_disk_crash(&d);
		assert_true(d.len >= synced);
		n = sim_disk_replay(&d, count_cb, &s);
		/* Every synced record survives, in order; later ones may. */
		assert_true(n >= 5 && n <= 12);
		for (int i = 0; i < n; i++)
			assert_int_equal(s.types[i], i + 1);
		torn_seen += d.stats.torn_dropped > 0;
		/* After the repair the journal replays the same again. */
		memset(&s, 0, sizeof(s));
		assert_int_equal(sim_disk_replay(&d, count_cb, &s), n);
		/* And can be appended to. */
		disk_append(&d, 13);
		memset(&s, 0, sizeof(s));
		assert_int_equal(sim_disk_replay(&d, count_cb, &s), n + 1);
		sim_disk_free(&d);
	}
	assert_true(torn_seen > 50);
}

static void disk_rewrite_is_atomic_and_bounded(void **state)
{
	struct prng seed;
	struct sim_disk d;
	struct seen s = {0};
	uint8_t rec[SIM_DISK_HDR + 7], p[7];

	(void)state;
	prng_seed(&seed, 10);
	assert_int_equal(sim_disk_init(&d, 200, &diskp, &seed), 0);
	disk_append(&d, 3);
	memset(p, 7, sizeof(p));
	sim_disk_encode(rec, 7, p, sizeof(p));
	assert_int_equal(sim_disk_rewrite(&d, rec, sizeof(rec)), 0);
	sim_disk_crash(&d);
	assert_int_equal(sim_disk_replay(&d, count_cb, &s), 1);
	assert_int_equal(s.types[0], 7);
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 20; i++)
		if (sim_disk_append(&d, 1, p, 1) == ERR_NOSPACE)
			break;
	assert_true(d.len <= 200);
	assert_int_equal(sim_disk_append(&d, 1, p, 1), ERR_NOSPACE);
	sim_disk_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(queue_orders_by_time_then_push_order),
	    cmocka_unit_test(net_loses_duplicates_and_reorders),
	    cmocka_unit_test(net_partitions_and_clogs),
	    cmocka_unit_test(disk_crash_keeps_synced_and_drops_torn),
	    cmocka_unit_test(disk_rewrite_is_atomic_and_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
