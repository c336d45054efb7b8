/*
 * test_models.c: the simulator's building blocks on their own: the event
 * queue's (time, seq) order and the network's faults (the disk is
 * storage's own stor_memdisk, tested with the storage module). A
 * simulator whose models are wrong proves nothing, so each fault is shown
 * to happen and to be undone.
 */
#include "tests/lib/cmocka_all.h"

#include <string.h>

#include "base/err.h"
#include "base/prng.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(queue_orders_by_time_then_push_order),
	    cmocka_unit_test(net_loses_duplicates_and_reorders),
	    cmocka_unit_test(net_partitions_and_clogs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
