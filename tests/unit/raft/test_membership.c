/*
 * Membership and snapshot tests: non-voters and single-server changes
 * (thesis 4.1-4.3), a removed leader stepping down (thesis 4.2.2), and
 * log compaction with chunked InstallSnapshot (thesis chapter 5).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cmocka_all.h"

#include "base/err.h"
#include "raft/raft.h"
#include "tests/unit/raft/harness.h"

static void propose_n(struct h *h, int l, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(h_propose(h, l, "m"), 0);
	h_run(h, 100);
}

/* Thesis 4.2.1: a new server joins as a learner, catches up without
 * counting in any majority or campaigning, and is then promoted; after
 * that it counts (4 voters: a quorum is 3). */
static void sec4_2_1_learner_joins_then_promoted(void **state)
{
	struct h h;
	int l;
	raft_index c;

	(void)state;
	h_init2(&h, 4, 3, 3, NULL, NULL); /* node 4 starts empty */
	l = h_elect(&h, 50);
	assert_int_equal(raft_configuration(&h.nodes[4].r)->n, 0);
	propose_n(&h, l, 5);
	assert_int_equal(h_change(&h, l, RAFT_ADD_LEARNER, 4), 0);
	h_run(&h, 200);
	assert_int_equal(h.nodes[4].applied, raft_last_index(&h.nodes[l].r));
	assert_int_equal(raft_configuration(&h.nodes[4].r)->n, 4);
	/* A learner never campaigns, even when it hears no leader. */
	h_isolate(&h, 4, 1);
	h_run(&h, 1000);
	assert_int_equal(raft_current_role(&h.nodes[4].r), RAFT_FOLLOWER);
	h_isolate(&h, 4, 0);
	h_run(&h, 100);
	l = h_leader(&h);
	assert_int_equal(h_change(&h, l, RAFT_PROMOTE, 4), 0);
	h_run(&h, 100);
	assert_int_equal(raft_conf_voters(raft_configuration(&h.nodes[l].r)), 4);
	/* With two of four voters gone, nothing commits. */
	for (int id = 1; id <= 4; id++)
		if (id != l && id != 4) {
			h_crash(&h, id);
			break;
		}
	h_isolate(&h, 4, 1);
	c = raft_commit_index(&h.nodes[l].r);
	assert_int_equal(h_propose(&h, l, "no quorum"), 0);
	h_run(&h, 50);
	assert_int_equal(raft_commit_index(&h.nodes[l].r), c);
	h_isolate(&h, 4, 0);
	h_run(&h, 50);
	assert_true(raft_commit_index(&h.nodes[l].r) > c);
	h_check_applied(&h);
	h_free(&h);
}

/* Thesis 4.2.2: a leader that removes itself keeps leading until the
 * change commits, then steps down; the others elect a leader, and the
 * removed server, no longer a voter, never campaigns to disrupt them. */
static void sec4_2_2_removed_leader_steps_down(void **state)
{
	struct h h;
	int l, l2;
	raft_term t;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	assert_int_equal(h_change(&h, l, RAFT_REMOVE, (raft_id)l), 0);
	h_run(&h, 30);
	assert_int_not_equal(raft_current_role(&h.nodes[l].r), RAFT_LEADER);
	l2 = h_run_until_leader(&h, 1000);
	assert_true(l2 != 0 && l2 != l);
	assert_int_equal(raft_conf_voters(raft_configuration(&h.nodes[l2].r)), 2);
	t = raft_current_term(&h.nodes[l2].r);
	propose_n(&h, l2, 3);
	h_run(&h, 2000);
	assert_int_equal(h_leader(&h), l2);
	assert_int_equal(raft_current_term(&h.nodes[l2].r), t);
	assert_int_equal(raft_current_role(&h.nodes[l].r), RAFT_FOLLOWER);
	h_free(&h);
}

/* Demoting a voter to learner and removing the last voter. */
static void sec4_2_demote_and_last_voter(void **state)
{
	struct h h;
	int l, f;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	f = l == 1 ? 2 : 1;
	assert_int_equal(h_change(&h, l, RAFT_DEMOTE, (raft_id)f), 0);
	h_run(&h, 50);
	assert_int_equal(raft_conf_get(raft_configuration(&h.nodes[f].r),
				       (raft_id)f)->role,
			 RAFT_LEARNER);
	for (int id = 1; id <= 3; id++)
		if (id != l && id != f)
			assert_int_equal(h_change(&h, l, RAFT_REMOVE,
						  (raft_id)id),
					 0);
	h_run(&h, 50);
	assert_int_equal(raft_conf_voters(raft_configuration(&h.nodes[l].r)), 1);
	assert_int_equal(h_change(&h, l, RAFT_REMOVE, (raft_id)l), ERR_INVAL);
	/* A single voter commits alone. */
	propose_n(&h, l, 2);
	assert_int_equal(raft_commit_index(&h.nodes[l].r),
			 raft_last_index(&h.nodes[l].r));
	h_free(&h);
}

/* The 2015 single-server change bug (Ongaro, raft-dev, July 2015), in
 * our vocabulary: old leader 1 appends "promote 5" and is cut off before
 * it commits; 2, 3 and 4 elect a new leader, which must not remove 4
 * until its own barrier is committed. Without that rule its removal
 * commits under {1,2,3} while 1 can still win {1,4,5} of the
 * configuration only it and 5 hold, and overwrite committed entries.
 * With it, the barrier reaches a majority of {1,2,3,4} first, so neither
 * 4 nor any such majority will vote for 1 again. */
static void bug2015_single_server_change_scenario(void **state)
{
	struct h h;
	struct raft_event tr = {.type = RAFT_EV_TRANSFER};
	int l, nl, gone;
	raft_term t;

	(void)state;
	h_init(&h, 5, 4, NULL, NULL); /* voters 1-4, learner 5 */
	l = h_elect(&h, 50);
	if (l != 1) {
		tr.u.transfer.to = 1;
		assert_int_equal(h_step(&h, l, &tr), 0);
		h_run(&h, 100);
	}
	assert_int_equal(h_leader(&h), 1);
	for (int id = 2; id <= 4; id++)
		h_cut(&h, 1, id, 1); /* 1 still reaches 5 */
	assert_int_equal(h_change(&h, 1, RAFT_PROMOTE, 5), 0);
	h_run(&h, 10);
	assert_int_equal(raft_conf_voters(raft_configuration(&h.nodes[5].r)), 5);
	/* 2-4 elect a leader whose barrier is not yet durable anywhere. */
	for (int id = 2; id <= 4; id++)
		h.nodes[id].manual_persist = 1;
	h_run(&h, 600);
	nl = h_leader(&h);
	assert_true(nl >= 2 && nl <= 4);
	t = raft_current_term(&h.nodes[nl].r);
	gone = nl == 4 ? 3 : 4;
	assert_int_equal(h_change(&h, nl, RAFT_REMOVE, (raft_id)gone),
			 ERR_AGAIN);
	for (int id = 2; id <= 4; id++) {
		h.nodes[id].manual_persist = 0;
		h_persist(&h, id);
	}
	h_run(&h, 20);
	assert_int_equal(h_leader(&h), nl);
	assert_int_equal(h_change(&h, nl, RAFT_REMOVE, (raft_id)gone), 0);
	propose_n(&h, nl, 5);
	/* Now 1 reaches only the removed voter and 5, as in the bug. */
	h_cut(&h, 1, gone, 0);
	h_isolate(&h, nl, 1);
	h_run(&h, 3000);
	for (int id = 1; id <= 5; id++)
		if (raft_current_role(&h.nodes[id].r) == RAFT_LEADER)
			assert_int_not_equal(id, 1);
	assert_true(raft_current_term(&h.nodes[nl].r) >= t);
	h_check_applied(&h);
	h_free(&h);
}

static void tiny_chunks(struct raft_config *c, void *arg)
{
	(void)arg;
	c->msg_bytes_max = 6; /* a 16-byte snapshot takes three chunks */
}

/* Thesis 5.1-5.3: the leader compacts its log at the application's
 * snapshot; a follower that needs compacted entries receives the snapshot
 * in chunks, installs it, acknowledges it only after it is durable, and
 * continues from there with the log. */
static void sec5_snapshot_install_in_chunks(void **state)
{
	struct h h;
	int l, f;

	(void)state;
	h_init(&h, 3, 3, tiny_chunks, NULL);
	l = h_elect(&h, 50);
	f = l == 1 ? 2 : 1;
	h_isolate(&h, f, 1);
	propose_n(&h, l, 30);
	assert_int_equal(h_snapshot(&h, l), 0);
	assert_int_equal(raft_first_index(&h.nodes[l].r),
			 h.nodes[l].applied + 1);
	assert_null(raft_entry_at(&h.nodes[l].r, 2));
	h_isolate(&h, f, 0);
	h_run(&h, 300);
	assert_int_equal(h.nodes[f].snapshots_installed, 1);
	assert_true(h.nodes[l].sent[RAFT_MSG_SNAPSHOT] >= 3);
	assert_int_equal(h.nodes[f].applied, h.nodes[l].applied);
	propose_n(&h, l, 5);
	assert_int_equal(h.nodes[f].applied, raft_last_index(&h.nodes[l].r));
	h_check_applied(&h);
	/* The follower restarts from its snapshot and log. */
	h_crash(&h, f);
	h_restart(&h, f);
	propose_n(&h, l, 2);
	assert_int_equal(h.nodes[f].applied, raft_last_index(&h.nodes[l].r));
	h_check_applied(&h);
	h_free(&h);
}

/* A snapshot index must be applied and committed; a second snapshot at
 * or below the first is refused. */
static void sec5_snapshot_index_checked(void **state)
{
	struct h h;
	struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
	uint8_t d[16] = {0};
	int l;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	propose_n(&h, l, 3);
	ev.u.snapshot_taken.index = h.nodes[l].applied + 1;
	ev.u.snapshot_taken.data = d;
	ev.u.snapshot_taken.len = sizeof(d);
	assert_int_equal(h_step(&h, l, &ev), ERR_INVAL);
	assert_int_equal(h_snapshot(&h, l), 0);
	assert_int_equal(h_snapshot(&h, l), ERR_INVAL);
	h_free(&h);
}

/* A snapshot that arrives after the follower already received (and maybe
 * acknowledged) entries beyond it must not wipe them: the follower keeps
 * its log, commits up to the snapshot, and answers "done". (Found by the
 * simulator, seed 20394: the leader believed the follower held entries
 * the install had discarded and stopped replicating to it.) */
static void sec5_snapshot_behind_log_keeps_entries(void **state)
{
	const raft_term terms[] = {1, 1, 1, 1}; /* indexes 2..5 */
	struct raft r;
	struct raft_update up;
	struct raft_message m;
	uint8_t d[16] = {0};

	(void)state;
	h_bare(&r, 2, terms, 4, 1, 0);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.from = 1;
	m.to = 2;
	m.term = 2;
	m.u.snapshot.meta.index = 3;
	m.u.snapshot.meta.term = 1;
	m.u.snapshot.meta.conf = *raft_configuration(&r);
	m.u.snapshot.total_len = sizeof(d);
	m.u.snapshot.len = sizeof(d);
	m.u.snapshot.data = d;
	m.u.snapshot.done = 1;
	assert_int_equal(h_bare_recv(&r, 10, &m, &up), 0);
	assert_null(up.snapshot);
	assert_int_equal(up.truncate_from, 0);
	assert_int_equal(raft_last_index(&r), 5);
	assert_int_equal(raft_commit_index(&r), 3);
	assert_int_equal(up.n_msgs, 1);
	assert_int_equal(up.msgs[0].type, RAFT_MSG_SNAPSHOT_RESP);
	assert_int_equal(up.msgs[0].u.snapshot_resp.done, 1);
	assert_int_equal(up.msgs[0].u.snapshot_resp.index, 3);
	/* A snapshot whose last entry conflicts is installed. */
	m.u.snapshot.meta.index = 4;
	m.u.snapshot.meta.term = 2;
	assert_int_equal(h_bare_recv(&r, 20, &m, &up), 0);
	assert_non_null(up.snapshot);
	assert_int_equal(raft_last_index(&r), 4);
	assert_int_equal(up.n_msgs, 0); /* acknowledged once durable */
	raft_close(&r);
}

static void chunk(struct raft_message *m, uint64_t off, uint32_t len,
		  const uint8_t *d)
{
	m->u.snapshot.offset = off;
	m->u.snapshot.len = len;
	m->u.snapshot.data = d + off;
	m->u.snapshot.done = off + len == m->u.snapshot.total_len;
}

/* Chunks are reassembled strictly in order: a gap is answered with a
 * reject naming the offset to resume from; offset 0 restarts. */
static void sec5_snapshot_chunks_in_order(void **state)
{
	struct raft r;
	struct raft_update up;
	struct raft_message m;
	struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_APPLIED, .now_ms = 50};
	uint8_t d[16];

	(void)state;
	for (int i = 0; i < 16; i++)
		d[i] = (uint8_t)i;
	h_bare(&r, 2, NULL, 0, 1, 0);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.from = 1;
	m.to = 2;
	m.term = 2;
	m.u.snapshot.meta.index = 9;
	m.u.snapshot.meta.term = 2;
	m.u.snapshot.meta.conf = *raft_configuration(&r);
	m.u.snapshot.total_len = sizeof(d);
	chunk(&m, 6, 6, d); /* a gap */
	assert_int_equal(h_bare_recv(&r, 10, &m, &up), 0);
	assert_int_equal(up.n_msgs, 1);
	assert_int_equal(up.msgs[0].u.snapshot_resp.reject, 1);
	assert_int_equal(up.msgs[0].u.snapshot_resp.next_offset, 0);
	chunk(&m, 0, 6, d);
	assert_int_equal(h_bare_recv(&r, 11, &m, &up), 0);
	assert_int_equal(up.msgs[0].u.snapshot_resp.next_offset, 6);
	assert_int_equal(h_bare_recv(&r, 12, &m, &up), 0); /* again */
	assert_int_equal(up.msgs[0].u.snapshot_resp.next_offset, 6);
	chunk(&m, 12, 4, d); /* skips 6..12 */
	assert_int_equal(h_bare_recv(&r, 13, &m, &up), 0);
	assert_int_equal(up.msgs[0].u.snapshot_resp.reject, 1);
	assert_int_equal(up.msgs[0].u.snapshot_resp.next_offset, 6);
	chunk(&m, 6, 6, d);
	assert_int_equal(h_bare_recv(&r, 14, &m, &up), 0);
	chunk(&m, 12, 4, d);
	assert_int_equal(h_bare_recv(&r, 15, &m, &up), 0);
	assert_non_null(up.snapshot);
	assert_int_equal(up.snapshot->len, sizeof(d));
	assert_memory_equal(up.snapshot->data, d, sizeof(d));
	assert_int_equal(up.n_msgs, 0);
	ev.u.snapshot_applied.index = 9;
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	assert_int_equal(up.n_msgs, 1);
	assert_int_equal(up.msgs[0].type, RAFT_MSG_SNAPSHOT_RESP);
	assert_int_equal(up.msgs[0].u.snapshot_resp.done, 1);
	assert_int_equal(up.msgs[0].u.snapshot_resp.index, 9);
	assert_int_equal(raft_commit_index(&r), 9);
	assert_int_equal(raft_step(&r, &ev, &up), ERR_INVAL); /* twice */
	raft_close(&r);
}

/* A single voter elects itself, commits alone, confirms reads alone. */
static void single_voter_cluster(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, 1, 1, NULL, NULL);
	assert_int_equal(h_run_until_leader(&h, 1000), 1);
	assert_int_equal(h_propose(&h, 1, "solo"), 0);
	assert_int_equal(h.nodes[1].applied, raft_last_index(&h.nodes[1].r));
	assert_int_equal(h_read(&h, 1, 3), 0);
	assert_int_equal(h.nodes[1].reads_n, 1);
	assert_int_equal(h.nodes[1].reads[0].status, 0);
	assert_int_equal(h.nodes[1].reads[0].index,
			 raft_commit_index(&h.nodes[1].r));
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sec4_2_1_learner_joins_then_promoted),
		cmocka_unit_test(sec4_2_2_removed_leader_steps_down),
		cmocka_unit_test(sec4_2_demote_and_last_voter),
		cmocka_unit_test(bug2015_single_server_change_scenario),
		cmocka_unit_test(sec5_snapshot_install_in_chunks),
		cmocka_unit_test(sec5_snapshot_index_checked),
		cmocka_unit_test(sec5_snapshot_behind_log_keeps_entries),
		cmocka_unit_test(sec5_snapshot_chunks_in_order),
		cmocka_unit_test(single_voter_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
