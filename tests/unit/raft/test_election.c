/*
 * Election tests, tied to the paper (Ongaro and Ousterhout 2014, "paper")
 * and the thesis (Ongaro 2014), and to the outages they prevent.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cmocka_all.h"

#include "base/err.h"
#include "raft/raft.h"
#include "tests/unit/raft/harness.h"

static void no_prevote(struct raft_config *c, void *arg)
{
	(void)arg;
	c->prevote = 0;
}

static void no_prevote_no_cq(struct raft_config *c, void *arg)
{
	(void)arg;
	c->prevote = 0;
	c->check_quorum = 0;
}

/* Paper 5.2: a cluster elects exactly one leader, and the others learn it. */
static void sec5_2_elects_one_leader(void **state)
{
	struct h h;
	int l;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 100);
	assert_int_equal(h_leaders_in_term(&h, raft_current_term(&h.nodes[l].r)),
			 1);
	for (int id = 1; id <= 3; id++)
		assert_int_equal(raft_leader(&h.nodes[id].r), (raft_id)l);
	h_free(&h);
}

/* raft.h's contract: heartbeat_ms < election_timeout_ms_min / 2, so one
 * lost heartbeat is followed by another before any election timer fires.
 * raft_init refuses anything else with ERR_INVAL. */
static void heartbeat_below_half_the_election_timeout(void **state)
{
	struct raft_config c;
	struct raft r;

	(void)state;
	h_config(&c, 1); /* election 100-200 ms */
	c.heartbeat_ms = 50;
	assert_int_equal(raft_init(&r, &c), ERR_INVAL);
	c.heartbeat_ms = 99;
	assert_int_equal(raft_init(&r, &c), ERR_INVAL);
	c.heartbeat_ms = 0;
	assert_int_equal(raft_init(&r, &c), ERR_INVAL);
	c.heartbeat_ms = 49;
	assert_int_equal(raft_init(&r, &c), 0);
	raft_close(&r);
	raft_config_default(&c);
	c.id = 1;
	assert_true(c.heartbeat_ms * 2 < c.election_timeout_ms_min);
}

/* Paper 5.2: election timeouts are random in [min, max), drawn from the
 * seeded PRNG: the same seed gives the same timeout, different seeds
 * different ones. */
static void sec5_2_randomized_timeouts_from_prng(void **state)
{
	struct raft_config c;
	struct raft a, b, d;
	uint64_t seen_min = UINT64_MAX, seen_max = 0;

	(void)state;
	h_config(&c, 1);
	assert_int_equal(raft_init(&a, &c), 0);
	assert_int_equal(raft_init(&b, &c), 0);
	assert_int_equal(a.election_deadline_ms, b.election_deadline_ms);
	for (uint64_t s = 0; s < 200; s++) {
		c.seed = s;
		assert_int_equal(raft_init(&d, &c), 0);
		assert_true(d.election_deadline_ms >= 100);
		assert_true(d.election_deadline_ms < 200);
		if (d.election_deadline_ms < seen_min)
			seen_min = d.election_deadline_ms;
		if (d.election_deadline_ms > seen_max)
			seen_max = d.election_deadline_ms;
		raft_close(&d);
	}
	assert_true(seen_max - seen_min > 50); /* spread, not a constant */
	raft_close(&a);
	raft_close(&b);
}

static int vote(struct raft *r, raft_id from, raft_term term,
		raft_index last_index, raft_term last_term, int prevote,
		struct raft_update *up)
{
	struct raft_message m;
	struct raft_event ev = {.type = RAFT_EV_RECEIVE, .now_ms = 10000};

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_VOTE;
	m.from = from;
	m.to = r->cfg.id;
	m.term = term;
	m.u.vote.last_index = last_index;
	m.u.vote.last_term = last_term;
	m.u.vote.prevote = (uint8_t)prevote;
	ev.u.msg = &m;
	assert_int_equal(raft_step(r, &ev, up), 0);
	assert_int_equal(up->n_msgs, 1);
	assert_int_equal(up->msgs[0].type, RAFT_MSG_VOTE_RESP);
	return up->msgs[0].u.vote_resp.granted;
}

/* Paper 5.4.1: a vote goes only to a candidate whose log is at least as
 * up to date (last term, then last index). */
static void sec5_4_1_election_restriction(void **state)
{
	const raft_term terms[] = {1, 2, 2, 2}; /* indexes 2..5 */
	struct raft r;
	struct raft_update up;

	(void)state;
	h_bare(&r, 1, terms, 4, 2, 0);
	assert_false(vote(&r, 2, 3, 10, 1, 0, &up)); /* older last term */
	assert_false(vote(&r, 2, 3, 4, 2, 0, &up));  /* shorter */
	assert_true(vote(&r, 2, 3, 5, 2, 0, &up));   /* as up to date */
	assert_true(up.hard_state_changed);
	assert_int_equal(up.hard_state.vote, 2);
	assert_int_equal(up.hard_state.term, 3);
	raft_close(&r);
	h_bare(&r, 1, terms, 4, 2, 0);
	assert_true(vote(&r, 3, 3, 1, 3, 0, &up)); /* higher last term wins */
	raft_close(&r);
}

/* Paper 5.2: at most one vote per term (first come, first served); the
 * planted RAFT_BUG_DOUBLE_VOTE breaks exactly this. */
static void sec5_2_one_vote_per_term(void **state)
{
	struct raft r;
	struct raft_update up;

	(void)state;
	h_bare(&r, 1, NULL, 0, 1, 0);
	assert_true(vote(&r, 2, 2, 1, 1, 0, &up));
	assert_true(vote(&r, 2, 2, 1, 1, 0, &up)); /* a retry: same answer */
	assert_false(vote(&r, 3, 2, 1, 1, 0, &up));
	assert_int_equal(raft_current_term(&r), 2);
	raft_close(&r);
	h_bare(&r, 1, NULL, 0, 1, RAFT_BUG_DOUBLE_VOTE);
	assert_true(vote(&r, 2, 2, 1, 1, 0, &up));
	assert_true(vote(&r, 3, 2, 1, 1, 0, &up));
	raft_close(&r);
}

/* Thesis 9.6: a PreVote is answered without changing anyone's term, and a
 * pre-candidate does not bump its own term. */
static void sec9_6_prevote_keeps_terms(void **state)
{
	struct raft r;
	struct raft_update up;

	(void)state;
	h_bare(&r, 1, NULL, 0, 4, 0);
	assert_true(vote(&r, 2, 5, 1, 1, 1, &up));
	assert_int_equal(up.msgs[0].term, 5);
	assert_int_equal(raft_current_term(&r), 4);
	assert_false(up.hard_state_changed);
	/* A stale pre-candidate is refused with our term, so it catches up. */
	assert_false(vote(&r, 2, 3, 1, 1, 1, &up));
	assert_int_equal(up.msgs[0].term, 4);
	raft_close(&r);
}

/* Thesis 9.6: a node partitioned away keeps running pre-votes, which fail,
 * so its term stays put and the leader is not deposed when it returns. */
static void sec9_6_isolated_node_does_not_disrupt(void **state)
{
	struct h h;
	int l, other;
	raft_term t;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 0);
	t = raft_current_term(&h.nodes[l].r);
	other = l == 3 ? 2 : 3;
	h_isolate(&h, other, 1);
	h_run(&h, 3000);
	assert_int_equal(raft_current_term(&h.nodes[other].r), t);
	h_isolate(&h, other, 0);
	h_run(&h, 1000);
	assert_int_equal(h_leader(&h), l);
	assert_int_equal(raft_current_term(&h.nodes[l].r), t);
	h_free(&h);
}

/* Thesis 4.2.3: while a follower hears from its leader, it ignores vote
 * requests for higher terms (here PreVote is off, so the disruptive
 * server does bump its own term): the leader's term is untouched. */
static void sec4_2_3_vote_lease_ignores_disruptive_candidate(void **state)
{
	struct h h;
	int l, other;
	raft_term t;

	(void)state;
	h_init(&h, 3, 3, no_prevote, NULL);
	l = h_elect(&h, 100);
	t = raft_current_term(&h.nodes[l].r);
	other = l == 3 ? 2 : 3;
	/* other stops hearing the leader but can still reach the rest. */
	h.cut[l][other] = 1;
	h_run(&h, 2000);
	assert_true(raft_current_term(&h.nodes[other].r) > t);
	assert_int_equal(h_leader(&h), l);
	assert_int_equal(raft_current_term(&h.nodes[l].r), t);
	h_free(&h);
}

/* The 2020 partial-partition outage (Cloudflare, November 2020, etcd):
 * a node that cannot reach the leader but reaches the other followers
 * kept forcing elections. With PreVote and CheckQuorum the stable leader
 * stays, and writes keep committing throughout. */
static void outage2020_partial_partition_keeps_leader(void **state)
{
	struct h h;
	int l, cutoff;
	raft_term t;
	raft_index c0;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 100);
	t = raft_current_term(&h.nodes[l].r);
	cutoff = l == 3 ? 2 : 3;
	h_cut(&h, l, cutoff, 1);
	c0 = raft_commit_index(&h.nodes[l].r);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(h_propose(&h, l, "x"), 0);
		h_run(&h, 100);
	}
	assert_int_equal(h_leader(&h), l);
	assert_int_equal(raft_current_term(&h.nodes[l].r), t);
	assert_int_equal(raft_current_term(&h.nodes[cutoff].r), t);
	assert_true(raft_commit_index(&h.nodes[l].r) >= c0 + 40);
	h_free(&h);
}

/* Thesis 6.2: a leader cut off from a quorum steps down within about an
 * election timeout; the majority elects another leader. */
static void sec6_2_check_quorum_leader_steps_down(void **state)
{
	struct h h;
	int l, l2;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 0);
	h_isolate(&h, l, 1);
	h_run(&h, 150);
	assert_int_not_equal(raft_current_role(&h.nodes[l].r), RAFT_LEADER);
	h_run(&h, 1000);
	l2 = h_leader(&h);
	assert_true(l2 != 0 && l2 != l);
	h_free(&h);
}

/* Without CheckQuorum, the isolated leader keeps believing it leads (the
 * behaviour CheckQuorum exists to fix): a control for the test above. */
static void sec6_2_without_check_quorum_stale_leader_stays(void **state)
{
	struct h h;
	int l;

	(void)state;
	h_init(&h, 3, 3, no_prevote_no_cq, NULL);
	l = h_elect(&h, 0);
	h_isolate(&h, l, 1);
	h_run(&h, 1000);
	assert_int_equal(raft_current_role(&h.nodes[l].r), RAFT_LEADER);
	h_free(&h);
}

/* PreVote with CheckQuorum liveness (etcd issues #8501 and #9290
 * territory): after the leader dies, followers holding a lease refuse
 * votes only until it expires, so a new leader is elected within a
 * bounded time; and a node whose term ran ahead (restarted with a higher
 * term) does not keep the cluster leaderless. */
static void prevote_checkquorum_liveness(void **state)
{
	struct h h;
	int l, l2;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 0);
	h_crash(&h, l);
	l2 = h_run_until_leader(&h, 1000);
	assert_true(l2 != 0 && l2 != l);
	/* The dead leader comes back with a term far ahead. */
	h.nodes[l].hs.term += 10;
	h.nodes[l].hs.vote = 0;
	h_restart(&h, l);
	h_run(&h, 3000);
	l2 = h_leader(&h);
	assert_true(l2 != 0);
	assert_int_equal(h_leaders_in_term(&h, raft_current_term(&h.nodes[l2].r)),
			 1);
	for (int id = 1; id <= 3; id++)
		assert_int_equal(raft_leader(&h.nodes[id].r), (raft_id)l2);
	assert_int_equal(h_propose(&h, l2, "after"), 0);
	h_run(&h, 200);
	for (int id = 1; id <= 3; id++)
		assert_int_equal(raft_commit_index(&h.nodes[id].r),
				 raft_last_index(&h.nodes[l2].r));
	h_free(&h);
}

/* Thesis 3.10: leadership transfer. The target is brought up to date,
 * gets TimeoutNow, and wins well before any election timeout; proposals
 * are refused with ERR_AGAIN meanwhile. */
static void sec3_10_leadership_transfer(void **state)
{
	struct h h;
	struct raft_event ev = {.type = RAFT_EV_TRANSFER};
	int l, target;
	raft_term t;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	t = raft_current_term(&h.nodes[l].r);
	target = l == 1 ? 2 : 1;
	h.hold[target] = 1; /* so the transfer stays pending for a moment */
	assert_int_equal(h_propose(&h, l, "x"), 0);
	ev.u.transfer.to = (raft_id)target;
	assert_int_equal(h_step(&h, l, &ev), 0);
	assert_int_equal(h_propose(&h, l, "y"), ERR_AGAIN);
	h.hold[target] = 0;
	h_run(&h, 30); /* far below the 100 ms minimum election timeout */
	assert_int_equal(h_leader(&h), target);
	assert_int_equal(raft_current_term(&h.nodes[target].r), t + 1);
	h_free(&h);
}

/* Paper 5.2: a server starts as a follower and waits a whole election
 * timeout from its first event, whatever the origin of the driver's clock
 * (found by the simulator: all nodes campaigned at their first tick). */
static void sec5_2_boot_waits_one_timeout(void **state)
{
	struct raft r;
	struct raft_update up;
	struct raft_event ev = {.type = RAFT_EV_TICK};
	const uint64_t t0 = 1000000000;

	(void)state;
	h_bare(&r, 1, NULL, 0, 1, 0);
	ev.now_ms = t0;
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	assert_int_equal(raft_current_role(&r), RAFT_FOLLOWER);
	assert_true(up.deadline_ms >= t0 + 100 && up.deadline_ms < t0 + 200);
	ev.now_ms = t0 + 99;
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	assert_int_equal(raft_current_role(&r), RAFT_FOLLOWER);
	ev.now_ms = t0 + 200;
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	assert_int_equal(raft_current_role(&r), RAFT_PRECANDIDATE);
	assert_int_equal(up.n_msgs, 2);
	raft_close(&r);
}

/* A proposal on a follower fails with ERR_NOTLEADER and names the leader. */
static void notleader_hint(void **state)
{
	struct h h;
	struct raft_event ev = {.type = RAFT_EV_PROPOSE};
	struct raft_update up;
	int l, f;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	f = l == 1 ? 2 : 1;
	ev.u.propose.type = RAFT_ENTRY_NORMAL;
	ev.now_ms = h.now;
	assert_int_equal(raft_step(&h.nodes[f].r, &ev, &up), ERR_NOTLEADER);
	assert_int_equal(up.leader, (raft_id)l);
	assert_int_equal(up.n_msgs, 0);
	assert_int_equal(up.n_entries, 0);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sec5_2_elects_one_leader),
		cmocka_unit_test(sec5_2_randomized_timeouts_from_prng),
		cmocka_unit_test(heartbeat_below_half_the_election_timeout),
		cmocka_unit_test(sec5_4_1_election_restriction),
		cmocka_unit_test(sec5_2_one_vote_per_term),
		cmocka_unit_test(sec9_6_prevote_keeps_terms),
		cmocka_unit_test(sec9_6_isolated_node_does_not_disrupt),
		cmocka_unit_test(sec4_2_3_vote_lease_ignores_disruptive_candidate),
		cmocka_unit_test(outage2020_partial_partition_keeps_leader),
		cmocka_unit_test(sec6_2_check_quorum_leader_steps_down),
		cmocka_unit_test(sec6_2_without_check_quorum_stale_leader_stays),
		cmocka_unit_test(prevote_checkquorum_liveness),
		cmocka_unit_test(sec3_10_leadership_transfer),
		cmocka_unit_test(notleader_hint),
		cmocka_unit_test(sec5_2_boot_waits_one_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
