/*
 * test_lin.c: the linearizability checker on hand-made histories, so a
 * green simulator run means something: it must accept linearizable
 * histories, reject the classic non-linearizable ones, and treat
 * unknown-outcome operations as "maybe happened, at any time after the
 * call".
 */
#include "tests/lib/cmocka_all.h"

#include <stdlib.h>

#include "tests/sim/raft/lin.h"

#define PUT(k, v, c, r)                                                        \
	{                                                                      \
		k, LIN_PUT, 1, v, 0, 0, c, r                                   \
	}
#define GET(k, v, c, r)                                                        \
	{                                                                      \
		k, LIN_GET, 1, 0, 0, v, c, r                                   \
	}
#define CAS(k, e, n, ok, c, r)                                                 \
	{                                                                      \
		k, LIN_CAS, 1, e, n, ok, c, r                                  \
	}
#define PUT_LOST(k, v, c)                                                      \
	{                                                                      \
		k, LIN_PUT, 0, v, 0, 0, c, 0                                   \
	}
#define CAS_LOST(k, e, n, c)                                                   \
	{                                                                      \
		k, LIN_CAS, 0, e, n, 0, c, 0                                   \
	}

static enum lin_verdict run(const struct lin_op *ops, size_t n)
{
	struct lin_report rep;

	assert_int_equal(lin_check(ops, n, 100000, &rep), 0);
	return rep.verdict;
}

static void sequential_history_is_linearizable(void **state)
{
	struct lin_op h[] = {
	    PUT(1, 5, 0, 1),	   GET(1, 5, 2, 3), CAS(1, 5, 6, 1, 4, 5),
	    CAS(1, 5, 7, 0, 6, 7), GET(1, 6, 8, 9), GET(2, 0, 10, 11),
	};

	(void)state;
	assert_int_equal(run(h, 6), LIN_OK);
}

static void concurrent_overlap_is_linearizable(void **state)
{
	/* The get overlaps both puts and may see either. */
	struct lin_op h[] = {
	    PUT(1, 1, 0, 10),
	    PUT(1, 2, 5, 15),
	    GET(1, 1, 6, 20),
	    GET(1, 2, 21, 22),
	};

	(void)state;
	assert_int_equal(run(h, 4), LIN_OK);
}

static void stale_read_is_rejected(void **state)
{
	/* put 2 completes before the get starts, yet the get sees 1. */
	struct lin_op h[] = {
	    PUT(1, 1, 0, 1),
	    PUT(1, 2, 2, 3),
	    GET(1, 1, 4, 5),
	};

	(void)state;
	assert_int_equal(run(h, 3), LIN_VIOLATION);
}

static void read_of_never_written_value_is_rejected(void **state)
{
	struct lin_op h[] = {PUT(1, 1, 0, 10), GET(1, 9, 2, 12)};

	(void)state;
	assert_int_equal(run(h, 2), LIN_VIOLATION);
}

static void two_successful_cas_from_same_value_rejected(void **state)
{
	/* Both swap 0 -> x concurrently: only one may succeed. */
	struct lin_op h[] = {
	    CAS(3, 0, 1, 1, 0, 10),
	    CAS(3, 0, 2, 1, 1, 11),
	};

	(void)state;
	assert_int_equal(run(h, 2), LIN_VIOLATION);
}

static void reads_flip_back_rejected(void **state)
{
	/* Two sequential reads see 2 then 1 while one writer wrote 1 then 2:
	 * the second read goes back in time. */
	struct lin_op h[] = {
	    PUT(1, 1, 0, 2),
	    PUT(1, 2, 3, 100),
	    GET(1, 2, 10, 11),
	    GET(1, 1, 12, 13),
	};

	(void)state;
	assert_int_equal(run(h, 4), LIN_VIOLATION);
}

static void unknown_put_may_have_happened(void **state)
{
	/* The put timed out, yet a later read sees its value: fine. */
	struct lin_op h[] = {PUT_LOST(1, 7, 0), GET(1, 7, 50, 60)};
	/* ... or it never happened: also fine. */
	struct lin_op g[] = {PUT_LOST(1, 7, 0), GET(1, 0, 50, 60)};

	(void)state;
	assert_int_equal(run(h, 2), LIN_OK);
	assert_int_equal(run(g, 2), LIN_OK);
}

static void unknown_put_cannot_act_before_its_call(void **state)
{
	/* The read completed before the lost put was even invoked. */
	struct lin_op h[] = {GET(1, 7, 0, 5), PUT_LOST(1, 7, 10)};

	(void)state;
	assert_int_equal(run(h, 2), LIN_VIOLATION);
}

static void unknown_cas_may_have_swapped(void **state)
{
	struct lin_op h[] = {
	    PUT(1, 4, 0, 1),
	    CAS_LOST(1, 4, 8, 2),
	    GET(1, 8, 30, 31),
	    GET(1, 8, 32, 33),
	};

	(void)state;
	assert_int_equal(run(h, 4), LIN_OK);
}

static void unknown_ops_do_not_hide_violation(void **state)
{
	/* The lost put writes 3; nothing can explain reading 9. */
	struct lin_op h[] = {
	    PUT_LOST(1, 3, 0),
	    PUT(1, 1, 1, 2),
	    GET(1, 9, 3, 4),
	};

	(void)state;
	assert_int_equal(run(h, 3), LIN_VIOLATION);
}

static void keys_are_checked_independently(void **state)
{
	/* Key 2's history alone is bad; key 1's is fine. */
	struct lin_op h[] = {
	    PUT(1, 1, 0, 1),
	    GET(1, 1, 2, 3),
	    PUT(2, 5, 0, 1),
	    GET(2, 6, 2, 3),
	};
	struct lin_report rep;

	(void)state;
	assert_int_equal(lin_check(h, 4, 1000, &rep), 0);
	assert_int_equal(rep.verdict, LIN_VIOLATION);
	assert_int_equal(rep.bad_key, 2);
	assert_int_equal(rep.keys, 2);
}

static void long_concurrent_history_within_bound(void **state)
{
	/* 600 ops in overlapping waves of four writers and readers: the
	 * memoised search must finish well under its state bound. */
	enum { N = 600 };
	struct lin_op *h = calloc(N, sizeof(*h));
	struct lin_report rep;
	uint64_t last = 0;

	(void)state;
	assert_non_null(h);
	for (int i = 0; i < N; i++) {
		uint64_t t = (uint64_t)(i / 4) * 10;

		if (i % 4 < 2) {
			h[i] = (struct lin_op)PUT(0, (uint64_t)i + 1, t, t + 8);
			last = (uint64_t)i + 1;
		} else {
			/* Reads after the wave, seeing its last write. */
			h[i] = (struct lin_op)GET(0, last, t + 9, t + 9);
		}
	}
	assert_int_equal(lin_check(h, N, 100000, &rep), 0);
	assert_int_equal(rep.verdict, LIN_OK);
	assert_true(rep.states < 100000);
	free(h);
}

static void state_bound_gives_unknown(void **state)
{
	/* Many fully concurrent puts and a final read no one wrote: the
	 * search must explore many subsets, and a tiny bound stops it. */
	enum { N = 30 };
	struct lin_op h[N + 1];
	struct lin_report rep;

	(void)state;
	for (int i = 0; i < N; i++)
		h[i] = (struct lin_op)PUT(0, (uint64_t)i + 1, 0, 100);
	h[N] = (struct lin_op)GET(0, 999, 0, 100);
	assert_int_equal(lin_check(h, N + 1, 50, &rep), 0);
	assert_int_equal(rep.verdict, LIN_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sequential_history_is_linearizable),
	    cmocka_unit_test(concurrent_overlap_is_linearizable),
	    cmocka_unit_test(stale_read_is_rejected),
	    cmocka_unit_test(read_of_never_written_value_is_rejected),
	    cmocka_unit_test(two_successful_cas_from_same_value_rejected),
	    cmocka_unit_test(reads_flip_back_rejected),
	    cmocka_unit_test(unknown_put_may_have_happened),
	    cmocka_unit_test(unknown_put_cannot_act_before_its_call),
	    cmocka_unit_test(unknown_cas_may_have_swapped),
	    cmocka_unit_test(unknown_ops_do_not_hide_violation),
	    cmocka_unit_test(keys_are_checked_independently),
	    cmocka_unit_test(long_concurrent_history_within_bound),
	    cmocka_unit_test(state_bound_gives_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
