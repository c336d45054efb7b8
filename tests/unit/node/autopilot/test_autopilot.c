/*
 * test_autopilot.c: the autopilot's policy in scenarios, each driven the
 * way the leader drives it: one ap_decide a second, the action applied to
 * the configuration before the next call. After every applied action the
 * tests check the safety rule (more than half of the voters alive).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/prng.h"
#include "node/autopilot/autopilot.h"

struct cl {
	struct ap_config c;
	struct ap_input in;
	struct ap_state st;
	uint32_t actions;
};

static void cl_init(struct cl *k, uint32_t voters)
{
	memset(k, 0, sizeof(*k));
	ap_config_default(&k->c);
	k->c.max_lag = 50; /* last_index is 100: a match of 10 lags */
	ap_state_init(&k->st);
	k->in.is_leader = 1;
	k->in.self = 1;
	k->in.now_ms = 1000;
	k->in.last_index = 100;
	for (uint32_t i = 0; i < voters; i++) {
		struct ap_server *s = &k->in.servers[k->in.n++];

		s->id = i + 1;
		s->suffrage = RAFT_VOTER;
		s->match_index = 100;
		s->health = AP_ALIVE;
		s->health_since_ms = 1;
		s->join_ms = 1;
	}
}

static struct ap_server *srv(struct cl *k, raft_id id)
{
	for (uint32_t i = 0; i < k->in.n; i++)
		if (k->in.servers[i].id == id)
			return &k->in.servers[i];
	return NULL;
}

static void join(struct cl *k, raft_id id, raft_index match)
{
	struct ap_server *s = &k->in.servers[k->in.n++];

	s->id = id;
	s->suffrage = RAFT_LEARNER;
	s->match_index = match;
	s->health = AP_ALIVE;
	s->health_since_ms = k->in.now_ms;
	s->join_ms = k->in.now_ms;
}

static void set_health(struct cl *k, raft_id id, enum ap_health h)
{
	struct ap_server *s = srv(k, id);

	assert_non_null(s);
	if (s->health != h) {
		s->health = h;
		s->health_since_ms = k->in.now_ms;
	}
}

static uint32_t voters(const struct cl *k, uint32_t *alive)
{
	uint32_t v = 0, a = 0;

	for (uint32_t i = 0; i < k->in.n; i++) {
		const struct ap_server *s = &k->in.servers[i];

		if (s->suffrage != RAFT_VOTER)
			continue;
		v++;
		if (s->id == k->in.self || s->health == AP_ALIVE)
			a++;
	}
	if (alive != NULL)
		*alive = a;
	return v;
}

static int has_quorum(const struct cl *k)
{
	uint32_t a, v = voters(k, &a);

	return v > 0 && a > v / 2;
}

/* Applies an action as Raft would once it commits. */
static void apply(struct cl *k, const struct ap_action *a)
{
	struct ap_server *s = srv(k, a->id);
	int before = has_quorum(k);

	assert_non_null(s);
	if (a->op != RAFT_PROMOTE)
		assert_true(a->id != k->in.self);
	if (a->op == RAFT_PROMOTE) {
		assert_int_equal(s->suffrage, RAFT_LEARNER);
		s->suffrage = RAFT_VOTER;
	} else if (a->op == RAFT_DEMOTE) {
		assert_int_equal(s->suffrage, RAFT_VOTER);
		s->suffrage = RAFT_LEARNER;
	} else {
		assert_int_equal(a->op, RAFT_REMOVE);
		*s = k->in.servers[--k->in.n];
	}
	/* The safety rule: no step loses a quorum that existed. */
	if (before && !has_quorum(k))
		fail_msg("quorum lost by %s of %llu (%s)",
			 a->op == RAFT_PROMOTE  ? "promote"
			 : a->op == RAFT_DEMOTE ? "demote"
						: "remove",
			 (unsigned long long)a->id, a->reason);
	k->actions++;
}

/* Runs ms of time in 1 s steps, applying each action; returns the last
 * action seen (op 0 if none). */
static struct ap_action run(struct cl *k, uint64_t ms)
{
	struct ap_action a, last;

	memset(&last, 0, sizeof(last));
	for (uint64_t t = 0; t < ms; t += 1000) {
		k->in.now_ms += 1000;
		assert_int_equal(ap_decide(&k->c, &k->in, &k->st, &a), 0);
		assert_true(a.reason[0] != '\0');
		if (a.op != 0) {
			apply(k, &a);
			last = a;
		}
	}
	return last;
}

/* One call a second later; the action is returned, not applied. */
static struct ap_action decide(struct cl *k)
{
	struct ap_action a;

	k->in.now_ms += 1000;
	assert_int_equal(ap_decide(&k->c, &k->in, &k->st, &a), 0);
	return a;
}

/* The next call must be op on id; applies it. */
static struct ap_action expect(struct cl *k, uint8_t op, raft_id id)
{
	struct ap_action a = decide(k);

	assert_int_equal(a.op, op);
	assert_int_equal(a.id, id);
	apply(k, &a);
	return a;
}

static uint8_t suffrage(struct cl *k, raft_id id)
{
	struct ap_server *s = srv(k, id);

	return s == NULL ? 0 : s->suffrage;
}

/* One voter (clusterd init), two joins: both promoted one at a time after
 * the stabilisation time, never before; a 4th stays a learner (3 voters
 * is the target below 5 healthy servers). */
static void test_three_then_fourth(void **state)
{
	struct cl k;

	(void)state;
	cl_init(&k, 1);
	join(&k, 2, 100);
	join(&k, 3, 100);
	run(&k, 9000);
	assert_int_equal(k.actions, 0);
	assert_int_equal(suffrage(&k, 2), RAFT_LEARNER);
	run(&k, 3000);
	assert_int_equal(voters(&k, NULL), 3);
	assert_int_equal(k.actions, 2);
	join(&k, 4, 100);
	run(&k, 60000);
	assert_int_equal(voters(&k, NULL), 3);
	assert_int_equal(suffrage(&k, 4), RAFT_LEARNER);
}

/* One voter and one learner stay so (2 voters would need both up); the
 * next join brings both to voters, two calls in a row. */
static void test_no_even_stop(void **state)
{
	struct cl k;

	(void)state;
	cl_init(&k, 1);
	join(&k, 2, 100);
	run(&k, 60000);
	assert_int_equal(voters(&k, NULL), 1);
	assert_int_equal(k.actions, 0);
	join(&k, 3, 100);
	run(&k, 9000);
	assert_int_equal(voters(&k, NULL), 1);
	run(&k, 3000); /* first seen caught up 1 s after the join, +10 s */
	assert_int_equal(voters(&k, NULL), 3);
}

/* Five healthy servers: five voters, well within a minute. */
static void test_five_healthy_five_voters(void **state)
{
	struct cl k;

	(void)state;
	cl_init(&k, 3);
	join(&k, 4, 100);
	join(&k, 5, 100);
	run(&k, 15000);
	assert_int_equal(voters(&k, NULL), 5);
	assert_int_equal(k.actions, 2);
	/* A sixth stays a learner. */
	join(&k, 6, 100);
	run(&k, 30000);
	assert_int_equal(voters(&k, NULL), 5);
}

/* A learner that lags is not promoted until it catches up. */
static void test_lagging_learner_waits(void **state)
{
	struct cl k;

	(void)state;
	cl_init(&k, 2);
	join(&k, 3, 10);
	run(&k, 30000);
	assert_int_equal(suffrage(&k, 3), RAFT_LEARNER);
	srv(&k, 3)->match_index = 95; /* within max_lag (50) */
	run(&k, 9000);
	assert_int_equal(suffrage(&k, 3), RAFT_LEARNER); /* clock started now */
	run(&k, 2000);
	assert_int_equal(suffrage(&k, 3), RAFT_VOTER);
}

/* A dead voter is replaced: the learner is promoted first, then the dead
 * voter is removed; 3 voters again, and never fewer than a quorum of alive
 * ones at any step. */
static void test_dead_voter_replaced(void **state)
{
	struct cl k;
	struct ap_action a;

	(void)state;
	cl_init(&k, 3);
	join(&k, 4, 100);
	run(&k, 15000);
	assert_int_equal(suffrage(&k, 4), RAFT_LEARNER);
	set_health(&k, 2, AP_DEAD);
	run(&k, 29000);
	assert_int_equal(suffrage(&k, 2), RAFT_VOTER); /* below the threshold */
	assert_int_equal(k.actions, 0);
	a = expect(&k, RAFT_PROMOTE, 4);
	assert_non_null(strstr(a.reason, "replace"));
	expect(&k, RAFT_REMOVE, 2);
	assert_int_equal(voters(&k, NULL), 3);
	assert_null(srv(&k, 2));
	run(&k, 30000);
	assert_int_equal(voters(&k, NULL), 3);
}

/* Two of three voters dead: no quorum, so nothing at all happens, even
 * with a ready learner (a change could not commit). */
static void test_no_quorum_no_action(void **state)
{
	struct cl k;
	struct ap_action a;

	(void)state;
	cl_init(&k, 3);
	join(&k, 4, 100);
	run(&k, 15000);
	set_health(&k, 2, AP_DEAD);
	set_health(&k, 3, AP_DEAD);
	run(&k, 120000);
	assert_int_equal(k.actions, 0);
	a = decide(&k);
	assert_int_equal(a.op, 0);
	assert_non_null(strstr(a.reason, "quorum"));
}

/* A flapping learner (alive 5 s, suspect 1 s, ...) is never promoted; once
 * it holds steady for the stabilisation time it is. */
static void test_flapping_not_promoted(void **state)
{
	struct cl k;

	(void)state;
	cl_init(&k, 2);
	join(&k, 3, 100);
	for (int i = 0; i < 20; i++) {
		run(&k, 5000);
		set_health(&k, 3, AP_SUSPECT);
		run(&k, 1000);
		set_health(&k, 3, AP_ALIVE);
	}
	assert_int_equal(suffrage(&k, 3), RAFT_LEARNER);
	assert_int_equal(k.actions, 0);
	run(&k, 11000);
	assert_int_equal(suffrage(&k, 3), RAFT_VOTER);
}

/* A server that left is removed; the leader itself never is, even dead
 * or left in its own gossip view; a follower decides nothing. */
static void test_left_removed_self_kept(void **state)
{
	struct cl k;
	struct ap_action a;

	(void)state;
	cl_init(&k, 5);
	set_health(&k, 5, AP_LEFT);
	set_health(&k, 1, AP_LEFT); /* self */
	expect(&k, RAFT_REMOVE, 5);
	run(&k, 120000);
	assert_non_null(srv(&k, 1));
	k.in.is_leader = 0;
	set_health(&k, 4, AP_LEFT);
	a = decide(&k);
	assert_int_equal(a.op, 0);
}

/* Five voters, one dies for good with no learner: removed (4 voters),
 * then the even surplus over the target 3 steps down (3 voters). */
static void test_shrink_to_three(void **state)
{
	struct cl k;

	(void)state;
	cl_init(&k, 5);
	set_health(&k, 5, AP_DEAD);
	run(&k, 40000);
	assert_null(srv(&k, 5));
	assert_int_equal(voters(&k, NULL), 3);
	assert_int_equal(suffrage(&k, 4), RAFT_LEARNER);
	assert_int_equal(k.actions, 2);
}

static void test_invalid_input(void **state)
{
	struct cl k;
	struct ap_action a;

	(void)state;
	cl_init(&k, 3);
	k.in.servers[1].id = 1; /* duplicate */
	assert_int_equal(ap_decide(&k.c, &k.in, &k.st, &a), ERR_INVAL);
	assert_int_equal(a.op, 0);
	cl_init(&k, 3);
	k.in.servers[2].suffrage = 9;
	assert_int_equal(ap_decide(&k.c, &k.in, &k.st, &a), ERR_INVAL);
	cl_init(&k, 3);
	assert_int_equal(ap_decide(&k.c, &k.in, &k.st, &a), 0);
	k.in.now_ms -= 1; /* time went back */
	assert_int_equal(ap_decide(&k.c, &k.in, &k.st, &a), ERR_INVAL);
	assert_int_equal(ap_health_of(3), AP_DEAD);
	assert_int_equal(ap_health_of(7), AP_UNKNOWN);
	assert_string_equal(ap_health_name(AP_SUSPECT), "suspect");
}

/* Random walks: servers join, die, come back, leave, lag; the autopilot
 * runs each second. Whatever happens, no applied action loses a quorum
 * that existed (apply() fails the test), the leader is never removed,
 * and voters never exceed voters_max + 1 (the replace-first step). */
static void test_random_walks_keep_quorum(void **state)
{
	struct prng rng;
	uint32_t total = 0;

	(void)state;
	prng_seed(&rng, 42);
	for (int walk = 0; walk < 300; walk++) {
		struct cl k;
		raft_id next = 4;

		cl_init(&k, 3);
		for (int step = 0; step < 200; step++) {
			uint32_t r = (uint32_t)prng_below(&rng, 100);
			struct ap_server *s =
				&k.in.servers[prng_below(&rng, k.in.n)];

			if (r < 8 && k.in.n < RAFT_NODES_MAX)
				join(&k, next++, prng_below(&rng, 2) ? 100 : 0);
			else if (r < 14 && s->id != 1)
				set_health(&k, s->id, AP_DEAD);
			else if (r < 22 && s->id != 1)
				set_health(&k, s->id, AP_ALIVE);
			else if (r < 25 && s->id != 1)
				set_health(&k, s->id, AP_SUSPECT);
			else if (r < 27 && s->id != 1)
				set_health(&k, s->id, AP_LEFT);
			else if (r < 35)
				s->match_index = 100;
			run(&k, 1000 * prng_range(&rng, 1, 20));
			assert_non_null(srv(&k, 1));
			assert_true(voters(&k, NULL) <= k.c.voters_max + 1);
		}
		total += k.actions;
	}
	/* The walks must actually exercise the policy. */
	assert_true(total > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_then_fourth),
		cmocka_unit_test(test_no_even_stop),
		cmocka_unit_test(test_five_healthy_five_voters),
		cmocka_unit_test(test_lagging_learner_waits),
		cmocka_unit_test(test_dead_voter_replaced),
		cmocka_unit_test(test_no_quorum_no_action),
		cmocka_unit_test(test_flapping_not_promoted),
		cmocka_unit_test(test_left_removed_self_kept),
		cmocka_unit_test(test_shrink_to_three),
		cmocka_unit_test(test_invalid_input),
		cmocka_unit_test(test_random_walks_keep_quorum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
