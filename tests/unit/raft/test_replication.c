/*
 * Replication tests: paper 5.3 (log replication, fast backtracking), 5.4.2
 * (commitment of current-term entries only, Figure 8), flow control and
 * batching, back-pressure, the persistence contract of raft.h, and
 * ReadIndex (thesis 6.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cmocka_all.h"

#include "base/err.h"
#include "raft/raft.h"
#include "tests/unit/raft/harness.h"

static int other(int l, int k)
{
	/* The k-th (1-based) node id of 1..3 that is not l. */
	int n = 0;

	for (int id = 1; id <= 3; id++)
		if (id != l && ++n == k)
			return id;
	return 0;
}

/* Paper 5.3: entries proposed on the leader are applied by every server,
 * in the same order. */
static void sec5_3_replication_all_apply_same(void **state)
{
	struct h h;
	int l;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	for (int i = 0; i < 100; i++) {
		char buf[16];

		snprintf(buf, sizeof(buf), "e%d", i);
		assert_int_equal(h_propose(&h, l, buf), 0);
		if (i % 7 == 0)
			h_run(&h, 5);
	}
	h_run(&h, 200);
	for (int id = 1; id <= 3; id++) {
		assert_int_equal(h.nodes[id].applied, raft_last_index(&h.nodes[l].r));
		assert_int_equal(raft_commit_index(&h.nodes[id].r),
				 raft_last_index(&h.nodes[l].r));
	}
	h_check_applied(&h);
	h_free(&h);
}

/* Paper 5.3 (last paragraphs): a follower with a long conflicting suffix
 * is repaired in a few round trips, one per term, not one per entry. */
static void sec5_3_fast_backtracking(void **state)
{
	struct h h;
	int l, l2, l3;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	h_isolate(&h, l, 1);
	for (int i = 0; i < 50; i++)
		assert_int_equal(h_propose(&h, l, "stale"), 0);
	h_run(&h, 1000);
	l2 = h_leader(&h);
	assert_true(l2 != 0 && l2 != l);
	for (int i = 0; i < 60; i++)
		assert_int_equal(h_propose(&h, l2, "fresh"), 0);
	h_run(&h, 100);
	/* The third node, which holds the fresh entries, takes over with
	 * its progress for l starting at its own last index + 1. */
	h_crash(&h, l2);
	h.nodes[l].rejects_sent = 0;
	h_isolate(&h, l, 0);
	h_run(&h, 1000);
	l3 = h_leader(&h);
	assert_true(l3 != 0 && l3 != l && l3 != l2);
	assert_true(h.nodes[l].rejects_sent >= 1);
	assert_true(h.nodes[l].rejects_sent <= 3);
	assert_int_equal(raft_last_index(&h.nodes[l].r),
			 raft_last_index(&h.nodes[l3].r));
	for (raft_index i = 1; i <= raft_last_index(&h.nodes[l3].r); i++)
		assert_int_equal(raft_term_at(&h.nodes[l].r, i),
				 raft_term_at(&h.nodes[l3].r, i));
	h_check_applied(&h);
	h_free(&h);
}

/* Makes a bare node 1 leader of term 3 over a log whose index 2 holds an
 * entry of term 2 (Figure 8's situation). */
static void figure8_leader(struct raft *r, uint32_t bugs)
{
	const raft_term terms[] = {2};
	struct raft_event tick = {.type = RAFT_EV_TICK, .now_ms = 1000};
	struct raft_message m;
	struct raft_update up;

	h_bare(r, 1, terms, 1, 2, bugs);
	tick.now_ms = 0; /* starts the clock: the first timeout runs from here */
	assert_int_equal(raft_step(r, &tick, &up), 0);
	assert_int_equal(raft_current_role(r), RAFT_FOLLOWER);
	tick.now_ms = 1000;
	assert_int_equal(raft_step(r, &tick, &up), 0);
	assert_int_equal(raft_current_role(r), RAFT_PRECANDIDATE);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_VOTE_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 3;
	m.u.vote_resp.granted = 1;
	m.u.vote_resp.prevote = 1;
	assert_int_equal(h_bare_recv(r, 1000, &m, &up), 0);
	assert_int_equal(raft_current_role(r), RAFT_CANDIDATE);
	m.u.vote_resp.prevote = 0;
	assert_int_equal(h_bare_recv(r, 1000, &m, &up), 0);
	assert_int_equal(raft_current_role(r), RAFT_LEADER);
	assert_int_equal(raft_current_term(r), 3);
	/* Its barrier (index 3, term 3) is handed out for persistence. */
	assert_int_equal(up.n_entries, 1);
	assert_int_equal(up.entries[0].index, 3);
	assert_int_equal(up.entries[0].type, RAFT_ENTRY_BARRIER);
}

static void ack(struct raft *r, raft_id from, raft_index index,
		struct raft_update *up)
{
	struct raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND_RESP;
	m.from = from;
	m.to = 1;
	m.term = raft_current_term(r);
	m.u.append_resp.success = 1;
	m.u.append_resp.index = index;
	m.u.append_resp.last_index = index;
	assert_int_equal(h_bare_recv(r, 1000, &m, up), 0);
}

static void persist(struct raft *r, raft_index index, raft_term term)
{
	struct raft_event ev = {.type = RAFT_EV_PERSISTED, .now_ms = 1000};
	struct raft_update up;

	ev.u.persisted.index = index;
	ev.u.persisted.term = term;
	assert_int_equal(raft_step(r, &ev, &up), 0);
}

/* Paper 5.4.2 and Figure 8: a leader never commits an entry of an earlier
 * term by counting replicas; it commits it only with a current-term entry
 * above it. RAFT_BUG_COMMIT_OLD_TERM plants exactly this mistake. */
static void sec5_4_2_commit_only_current_term(void **state)
{
	struct raft r;
	struct raft_update up;

	(void)state;
	figure8_leader(&r, 0);
	persist(&r, 3, 3);
	ack(&r, 2, 2, &up); /* a majority (1, 2) holds index 2 of term 2 */
	assert_int_equal(raft_commit_index(&r), 0);
	ack(&r, 2, 3, &up); /* and now index 3 of term 3 */
	assert_int_equal(raft_commit_index(&r), 3);
	raft_close(&r);

	figure8_leader(&r, RAFT_BUG_COMMIT_OLD_TERM);
	persist(&r, 3, 3);
	ack(&r, 2, 2, &up);
	assert_int_equal(raft_commit_index(&r), 2);
	raft_close(&r);
}

/* Thesis 4.2 / the 2015 fix: a new leader may not change the
 * configuration before an entry of its own term commits; then only one
 * change may be uncommitted at a time. Also, ReadIndex waits for the same
 * own-term commit (thesis 6.4). */
static void bug2015_change_waits_for_own_term_commit(void **state)
{
	struct raft r;
	struct raft_update up;
	struct raft_event ev = {.type = RAFT_EV_PROPOSE, .now_ms = 1000};
	struct raft_event rd = {.type = RAFT_EV_READ_INDEX, .now_ms = 1000};

	(void)state;
	figure8_leader(&r, 0);
	ev.u.propose.type = RAFT_ENTRY_CONFIG;
	ev.u.propose.change.op = RAFT_ADD_LEARNER;
	ev.u.propose.change.id = 9;
	assert_int_equal(raft_step(&r, &ev, &up), ERR_AGAIN);
	assert_int_equal(raft_step(&r, &rd, &up), ERR_AGAIN);
	persist(&r, 3, 3);
	ack(&r, 2, 3, &up);
	assert_int_equal(raft_commit_index(&r), 3);
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	assert_int_equal(up.proposed_index, 4);
	assert_non_null(raft_conf_get(raft_configuration(&r), 9));
	ev.u.propose.change.id = 10;
	assert_int_equal(raft_step(&r, &ev, &up), ERR_BUSY);
	persist(&r, 4, 3);
	ack(&r, 2, 4, &up);
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	/* Changes that are not one-server-at-a-time sense are refused. */
	ack(&r, 2, 5, &up);
	persist(&r, 5, 3);
	ack(&r, 3, 5, &up);
	ev.u.propose.change.op = RAFT_PROMOTE;
	ev.u.propose.change.id = 2; /* already a voter */
	assert_int_equal(raft_step(&r, &ev, &up), ERR_INVAL);
	ev.u.propose.change.op = RAFT_ADD_LEARNER;
	ev.u.propose.change.id = 3; /* already present */
	assert_int_equal(raft_step(&r, &ev, &up), ERR_INVAL);
	raft_close(&r);
}

static void small_window(struct raft_config *c, void *arg)
{
	(void)arg;
	c->inflight_max = 2;
	c->msg_bytes_max = 100;
}

/* Flow control: at most inflight_max appends outstanding to a follower
 * that does not answer; batching: at most msg_bytes_max payload bytes per
 * append (pipelining fills the window with several). */
static void flow_control_window_and_batching(void **state)
{
	struct h h;
	const char *e30 = "012345678901234567890123456789";
	int l, f;
	uint64_t before;

	(void)state;
	h_init(&h, 3, 3, small_window, NULL);
	l = h_elect(&h, 50);
	f = other(l, 1);
	assert_int_equal(raft_progress_of(&h.nodes[l].r, (raft_id)f)->state,
			 RAFT_REPLICATE);
	h.hold[f] = 1;
	before = h.nodes[l].appends_to[f];
	for (int i = 0; i < 20; i++)
		assert_int_equal(h_propose(&h, l, e30), 0);
	assert_int_equal(h.nodes[l].appends_to[f] - before, 2);
	assert_int_equal(raft_progress_of(&h.nodes[l].r, (raft_id)f)->inflight_n,
			 2);
	h.hold[f] = 0;
	h_run(&h, 300);
	assert_int_equal(h.nodes[f].applied, raft_last_index(&h.nodes[l].r));
	assert_true(h.nodes[l].max_append_entries <= 3); /* 3 * 30 <= 100 */
	assert_true(h.nodes[l].max_append_entries >= 2); /* but batched */
	h_check_applied(&h);
	h_free(&h);
}

static void tight_budget(struct raft_config *c, void *arg)
{
	(void)arg;
	c->uncommitted_bytes_max = 100;
}

/* Proposal back-pressure: past uncommitted_bytes_max, ERR_AGAIN; once the
 * backlog commits, proposals are accepted again. */
static void backpressure_uncommitted_bytes(void **state)
{
	struct h h;
	const char *e30 = "012345678901234567890123456789";
	int l;

	(void)state;
	h_init(&h, 3, 3, tight_budget, NULL);
	l = h_elect(&h, 50);
	h.hold[other(l, 1)] = 1;
	h.hold[other(l, 2)] = 1;
	assert_int_equal(h_propose(&h, l, e30), 0);
	assert_int_equal(h_propose(&h, l, e30), 0);
	assert_int_equal(h_propose(&h, l, e30), 0);
	assert_int_equal(h_propose(&h, l, e30), ERR_AGAIN);
	h.hold[other(l, 1)] = 0;
	h.hold[other(l, 2)] = 0;
	h_run(&h, 100);
	assert_int_equal(h_propose(&h, l, e30), 0);
	h_free(&h);
}

/* The persistence contract (raft.h): nothing is acknowledged, counted
 * towards commitment or applied before RAFT_EV_PERSISTED covers it; a
 * quorum of durable followers commits even before the leader's own write
 * lands, but the leader applies only what it holds durably. */
static void contract_ack_and_apply_only_after_persist(void **state)
{
	struct h h;
	int l, f1, f2;
	raft_index last;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	f1 = other(l, 1);
	f2 = other(l, 2);
	for (int id = 1; id <= 3; id++)
		h.nodes[id].manual_persist = 1;
	assert_int_equal(h_propose(&h, l, "durable?"), 0);
	last = raft_last_index(&h.nodes[l].r);
	h_run(&h, 60);
	assert_true(raft_commit_index(&h.nodes[l].r) < last);
	assert_true(raft_progress_of(&h.nodes[l].r, (raft_id)f1)->match < last);
	h_persist(&h, f1);
	h_persist(&h, f2);
	h_run(&h, 10);
	assert_int_equal(raft_commit_index(&h.nodes[l].r), last);
	assert_true(h.nodes[l].applied < last);
	h_persist(&h, l);
	assert_int_equal(h.nodes[l].applied, last);
	h_free(&h);
}

static void bug_send_before_persist(struct raft_config *c, void *arg)
{
	(void)arg;
	c->bugs = RAFT_BUG_SEND_BEFORE_PERSIST;
}

/* RAFT_BUG_SEND_BEFORE_PERSIST acknowledges undurable entries: the same
 * scenario commits with nothing persisted. */
static void planted_send_before_persist_commits_undurable(void **state)
{
	struct h h;
	int l;
	raft_index last;

	(void)state;
	h_init(&h, 3, 3, bug_send_before_persist, NULL);
	l = h_elect(&h, 50);
	for (int id = 1; id <= 3; id++)
		h.nodes[id].manual_persist = 1;
	assert_int_equal(h_propose(&h, l, "durable?"), 0);
	last = raft_last_index(&h.nodes[l].r);
	h_run(&h, 60);
	assert_int_equal(raft_commit_index(&h.nodes[l].r), last);
	h_free(&h);
}

static void bug_apply(struct raft_config *c, void *arg)
{
	(void)arg;
	c->bugs = RAFT_BUG_APPLY_BEFORE_COMMIT;
}

/* RAFT_BUG_APPLY_BEFORE_COMMIT hands a follower entries it only holds,
 * before any commit; the correct core waits. */
static void planted_apply_before_commit(void **state)
{
	for (int bug = 0; bug <= 1; bug++) {
		struct h h;
		int l, f;
		raft_index last;

		(void)state;
		h_init(&h, 3, 3, bug ? bug_apply : NULL, NULL);
		l = h_elect(&h, 50);
		f = other(l, 1);
		h.cut[f][l] = 1; /* its acks are lost */
		h.hold[other(l, 2)] = 1;
		assert_int_equal(h_propose(&h, l, "not yet"), 0);
		last = raft_last_index(&h.nodes[l].r);
		h_run(&h, 10);
		assert_int_equal(raft_last_index(&h.nodes[f].r), last);
		assert_true(raft_commit_index(&h.nodes[f].r) < last);
		if (bug)
			assert_int_equal(h.nodes[f].applied, last);
		else
			assert_true(h.nodes[f].applied < last);
		h_free(&h);
	}
}

/* Thesis 6.4: ReadIndex. The leader answers after a heartbeat round with
 * its commit index; a follower refuses; a partitioned leader never
 * confirms, and fails its reads when CheckQuorum deposes it. */
static void sec6_4_read_index(void **state)
{
	struct h h;
	int l;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	assert_int_equal(h_propose(&h, l, "w"), 0);
	h_run(&h, 20);
	assert_int_equal(h_read(&h, other(l, 1), 5), ERR_NOTLEADER);
	h.hold[other(l, 1)] = 1;
	h.hold[other(l, 2)] = 1;
	assert_int_equal(h_read(&h, l, 7), 0);
	assert_int_equal(h.nodes[l].reads_n, 0); /* not before the round */
	h.hold[other(l, 1)] = 0;
	h.hold[other(l, 2)] = 0;
	h_drain(&h);
	assert_int_equal(h.nodes[l].reads_n, 1);
	assert_int_equal(h.nodes[l].reads[0].ctx, 7);
	assert_int_equal(h.nodes[l].reads[0].status, 0);
	assert_int_equal(h.nodes[l].reads[0].index,
			 raft_commit_index(&h.nodes[l].r));
	h_isolate(&h, l, 1);
	assert_int_equal(h_read(&h, l, 8), 0);
	h_run(&h, 50);
	assert_int_equal(h.nodes[l].reads_n, 1);
	h_run(&h, 200);
	assert_int_equal(h.nodes[l].reads_n, 2);
	assert_int_equal(h.nodes[l].reads[1].ctx, 8);
	assert_int_equal(h.nodes[l].reads[1].status, ERR_NOTLEADER);
	h_free(&h);
}

/* A follower that crashes and restarts from its disk catches up, and no
 * committed entry is lost or applied twice. */
static void sec5_3_follower_restart_catches_up(void **state)
{
	struct h h;
	int l, f;

	(void)state;
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	f = other(l, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(h_propose(&h, l, "a"), 0);
	h_run(&h, 50);
	h_crash(&h, f);
	for (int i = 0; i < 10; i++)
		assert_int_equal(h_propose(&h, l, "b"), 0);
	h_run(&h, 50);
	h_restart(&h, f);
	h_run(&h, 300);
	assert_int_equal(h.nodes[f].applied, raft_last_index(&h.nodes[l].r));
	h_check_applied(&h);
	h_free(&h);
}

/* An AppendEntries from leader 1 in term 2 to node 2 whose one entry e
 * (index 3, term 2) conflicts with node 2's term-1 entry 3. */
static void conflicting_append(struct raft_message *m, struct raft_entry *e,
			       raft_index commit)
{
	memset(m, 0, sizeof(*m));
	m->type = RAFT_MSG_APPEND;
	m->from = 1;
	m->to = 2;
	m->term = 2;
	m->u.append.prev_index = 2;
	m->u.append.prev_term = 1;
	m->u.append.commit = commit;
	m->u.append.n_entries = 1;
	m->u.append.entries = e;
}

/* A stale PERSISTED (for entries truncated since) is ignored. */
static void persisted_after_truncation_is_ignored(void **state)
{
	const raft_term terms[] = {1, 1};
	struct raft r;
	struct raft_update up;
	struct raft_message m;
	struct raft_entry e = {.term = 2, .index = 3, .type = RAFT_ENTRY_NORMAL};
	struct raft_event ev = {.type = RAFT_EV_PERSISTED, .now_ms = 10};

	(void)state;
	h_bare(&r, 2, terms, 2, 1, 0); /* indexes 1..3, all term 1 */
	conflicting_append(&m, &e, 0);
	assert_int_equal(h_bare_recv(&r, 10, &m, &up), 0);
	assert_int_equal(up.truncate_from, 3);
	assert_int_equal(up.n_entries, 1);
	assert_int_equal(up.n_msgs, 0); /* the ack waits for PERSISTED */
	ev.u.persisted.index = 3;
	ev.u.persisted.term = 1; /* the old entry 3 */
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	assert_int_equal(up.n_msgs, 0);
	ev.u.persisted.term = 2;
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	assert_int_equal(up.n_msgs, 1);
	assert_int_equal(up.msgs[0].type, RAFT_MSG_APPEND_RESP);
	assert_int_equal(up.msgs[0].u.append_resp.success, 1);
	assert_int_equal(up.msgs[0].u.append_resp.index, 3);
	raft_close(&r);
}

/* The hard state's commit never covers entries that are not durable:
 * otherwise a crash between the (synchronous) hard-state write and the
 * (asynchronous) rewrite of a conflicting suffix would restart with a
 * commit index over the stale entry still on disk. */
static void hard_state_commit_bounded_by_durable_log(void **state)
{
	const raft_term terms[] = {1, 1};
	struct raft r;
	struct raft_update up;
	struct raft_message m;
	struct raft_entry e = {.term = 2, .index = 3, .type = RAFT_ENTRY_NORMAL};
	struct raft_event ev = {.type = RAFT_EV_PERSISTED, .now_ms = 10};

	(void)state;
	h_bare(&r, 2, terms, 2, 1, 0); /* indexes 1..3, all term 1 */
	conflicting_append(&m, &e, 3);
	assert_int_equal(h_bare_recv(&r, 10, &m, &up), 0);
	assert_int_equal(raft_commit_index(&r), 3);
	assert_true(up.hard_state_changed); /* the new term */
	assert_true(up.hard_state.commit <= 2);
	assert_int_equal(up.n_committed, 2); /* 1..2 are durable */
	ev.u.persisted.index = 3;
	ev.u.persisted.term = 2;
	assert_int_equal(raft_step(&r, &ev, &up), 0);
	assert_true(up.hard_state_changed);
	assert_int_equal(up.hard_state.commit, 3);
	assert_int_equal(up.n_committed, 1);
	assert_int_equal(up.committed[0].term, 2);
	raft_close(&r);
}

static void large_messages(struct raft_config *c, void *arg)
{
	(void)arg;
	c->msg_bytes_max = 1u << 20; /* the batch limit is the entry count */
}

/* A follower cut off while the leader appends more than RAFT_BATCH_MAX
 * entries catches up once it is back, through appends that carry exactly
 * RAFT_BATCH_MAX entries (the largest batch a receiver decodes). */
static void batch_max_follower_catches_up(void **state)
{
	struct h h;
	int l, f;

	(void)state;
	h_init(&h, 3, 3, large_messages, NULL);
	l = h_elect(&h, 50);
	f = other(l, 1);
	h_isolate(&h, f, 1);
	for (int i = 0; i < RAFT_BATCH_MAX + 100; i++) {
		assert_int_equal(h_propose(&h, l, "x"), 0);
		if (i % 512 == 0)
			h_run(&h, 5); /* the other follower keeps up */
	}
	h_run(&h, 300);
	assert_true(raft_commit_index(&h.nodes[l].r) > RAFT_BATCH_MAX + 100);
	assert_true(raft_last_index(&h.nodes[f].r) < 10);
	h.nodes[l].max_append_entries = 0;
	h_isolate(&h, f, 0);
	h_run(&h, 500);
	assert_int_equal(h_leader(&h), l);
	assert_int_equal(raft_last_index(&h.nodes[f].r),
			 raft_last_index(&h.nodes[l].r));
	assert_int_equal(h.nodes[f].applied, h.nodes[l].applied);
	assert_int_equal(h.nodes[l].max_append_entries, RAFT_BATCH_MAX);
	h_check_applied(&h);
	h_free(&h);
}

/* raft_restore takes the entries after the snapshot as they are stored;
 * a gap (or a repeat) in their indexes means storage lost or garbled
 * something, and must be refused rather than renumbered. */
static void restore_rejects_index_gap(void **state)
{
	struct raft r;
	struct raft_config c;
	struct raft_hard_state hs = {.term = 2};
	struct raft_snapshot_meta snap = {.index = 10, .term = 1};
	uint8_t sdata[1] = {0};
	struct raft_entry e[3];

	(void)state;
	h_config(&c, 1);
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 3; i++) {
		e[i].index = (raft_index)i + 1;
		e[i].term = 1;
		e[i].type = RAFT_ENTRY_NORMAL;
	}
	/* Contiguous: accepted (the control). */
	assert_int_equal(raft_init(&r, &c), 0);
	assert_int_equal(raft_restore(&r, &hs, NULL, NULL, 0, e, 3, 0), 0);
	assert_int_equal(raft_last_index(&r), 3);
	raft_close(&r);
	/* 1, 2, 4: a gap. */
	e[2].index = 4;
	assert_int_equal(raft_init(&r, &c), 0);
	assert_int_equal(raft_restore(&r, &hs, NULL, NULL, 0, e, 3, 0),
			 ERR_INVAL);
	assert_int_equal(raft_last_index(&r), 0);
	raft_close(&r);
	/* 1, 2, 2: a repeat. */
	e[2].index = 2;
	assert_int_equal(raft_init(&r, &c), 0);
	assert_int_equal(raft_restore(&r, &hs, NULL, NULL, 0, e, 3, 0),
			 ERR_INVAL);
	raft_close(&r);
	/* After a snapshot at 10 the entries must start at 11: 12.. is a
	 * gap, 11.. is accepted. */
	for (int i = 0; i < 3; i++)
		e[i].index = (raft_index)i + 12;
	assert_int_equal(raft_init(&r, &c), 0);
	assert_int_equal(raft_restore(&r, &hs, &snap, sdata, 1, e, 3, 10),
			 ERR_INVAL);
	raft_close(&r);
	for (int i = 0; i < 3; i++)
		e[i].index = (raft_index)i + 11;
	assert_int_equal(raft_init(&r, &c), 0);
	assert_int_equal(raft_restore(&r, &hs, &snap, sdata, 1, e, 3, 10), 0);
	assert_int_equal(raft_last_index(&r), 13);
	raft_close(&r);
}

/* Counts the appends to `to` in an update, and the first one's prev. */
static int appends_in(const struct raft_update *up, raft_id to,
		      raft_index *first_prev)
{
	int n = 0;

	for (uint32_t i = 0; i < up->n_msgs; i++) {
		const struct raft_message *m = &up->msgs[i];

		if (m->type != RAFT_MSG_APPEND || m->to != to)
			continue;
		if (n++ == 0 && first_prev != NULL)
			*first_prev = m->u.append.prev_index;
	}
	return n;
}

/* Pipelining (replication.c's flow control): with a window of 4 and one
 * entry per append, a backlog leaves as a burst of 4 appends as soon as
 * an answer frees the window, without waiting for more answers or the
 * heartbeat; and when the follower rejects a pipelined append (one
 * before it was lost), the leader backtracks at once, in the same step,
 * rather than waiting for the retransmission timer. */
static void pipeline_burst_and_reject_backtracks_at_once(void **state)
{
	struct raft r;
	struct raft_update up;
	struct raft_event ev = {.type = RAFT_EV_PROPOSE, .now_ms = 1000};
	struct raft_message m;
	raft_index prev = 0;
	int sent = 0;

	(void)state;
	figure8_leader(&r, 0);
	r.cfg.inflight_max = 4;
	r.cfg.msg_bytes_max = 10; /* one 10-byte entry per append */
	persist(&r, 3, 3);
	ack(&r, 2, 3, &up); /* 2 matches the barrier: pipelined from now */
	assert_int_equal(raft_progress_of(&r, 2)->state, RAFT_REPLICATE);
	/* Entries 4..13: the first 4 fill the window, 6 wait. */
	ev.u.propose.type = RAFT_ENTRY_NORMAL;
	ev.u.propose.data = (const uint8_t *)"0123456789";
	ev.u.propose.len = 10;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(raft_step(&r, &ev, &up), 0);
		sent += appends_in(&up, 2, NULL);
	}
	assert_int_equal(sent, 4);
	assert_int_equal(raft_progress_of(&r, 2)->inflight_n, 4);
	persist(&r, 13, 3);
	/* One answer for all four: the backlog leaves as 4 appends, 8..11. */
	ack(&r, 2, 7, &up);
	assert_int_equal(appends_in(&up, 2, &prev), 4);
	assert_int_equal(prev, 7);
	assert_int_equal(raft_progress_of(&r, 2)->next, 12);
	/* The append of 8 is lost; 2 (last 7) rejects the one after it. */
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 3;
	m.u.append_resp.success = 0;
	m.u.append_resp.index = 8;
	m.u.append_resp.hint_index = 8;
	m.u.append_resp.last_index = 7;
	assert_int_equal(h_bare_recv(&r, 1000, &m, &up), 0);
	assert_int_equal(appends_in(&up, 2, &prev), 1);
	assert_int_equal(prev, 7);
	raft_close(&r);
}

/* raft_init refuses a configuration with a zero message size or window,
 * or a window past RAFT_INFLIGHT_MAX, and takes RAFT_INFLIGHT_MAX itself;
 * raft_conf_get looks only at the configuration's n servers. */
static void config_bounds(void **state)
{
	struct raft r;
	struct raft_config c;
	struct raft_configuration conf;

	(void)state;
	h_config(&c, 1);
	c.msg_bytes_max = 0;
	assert_int_equal(raft_init(&r, &c), ERR_INVAL);
	h_config(&c, 1);
	c.inflight_max = 0;
	assert_int_equal(raft_init(&r, &c), ERR_INVAL);
	c.inflight_max = RAFT_INFLIGHT_MAX + 1;
	assert_int_equal(raft_init(&r, &c), ERR_INVAL);
	c.inflight_max = RAFT_INFLIGHT_MAX;
	assert_int_equal(raft_init(&r, &c), 0);
	raft_close(&r);
	memset(&conf, 0, sizeof(conf));
	conf.n = 2;
	conf.servers[0] = (struct raft_server){1, RAFT_VOTER};
	conf.servers[1] = (struct raft_server){2, RAFT_VOTER};
	conf.servers[2] = (struct raft_server){9, RAFT_VOTER}; /* past n */
	assert_non_null(raft_conf_get(&conf, 2));
	assert_null(raft_conf_get(&conf, 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sec5_3_replication_all_apply_same),
		cmocka_unit_test(sec5_3_fast_backtracking),
		cmocka_unit_test(sec5_4_2_commit_only_current_term),
		cmocka_unit_test(bug2015_change_waits_for_own_term_commit),
		cmocka_unit_test(flow_control_window_and_batching),
		cmocka_unit_test(backpressure_uncommitted_bytes),
		cmocka_unit_test(contract_ack_and_apply_only_after_persist),
		cmocka_unit_test(planted_send_before_persist_commits_undurable),
		cmocka_unit_test(planted_apply_before_commit),
		cmocka_unit_test(sec6_4_read_index),
		cmocka_unit_test(sec5_3_follower_restart_catches_up),
		cmocka_unit_test(persisted_after_truncation_is_ignored),
		cmocka_unit_test(hard_state_commit_bounded_by_durable_log),
		cmocka_unit_test(batch_max_follower_catches_up),
		cmocka_unit_test(restore_rejects_index_gap),
		cmocka_unit_test(pipeline_burst_and_reject_backtracks_at_once),
		cmocka_unit_test(config_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
