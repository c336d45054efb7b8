/*
 * election.c: roles, election timers and votes (paper 5.2, 5.4.1).
 *
 * Timeouts are drawn from [min, max) with the core's own PRNG after every
 * reset, which is what keeps split votes rare (paper 5.2). Three guards
 * keep a server that cannot reach the leader from disrupting it:
 *  - PreVote (thesis 9.6): a server first asks whether it could win, at
 *    term + 1, without changing any term; only a granted PreVote round
 *    starts a real election.
 *  - The vote lease (thesis 4.2.3): a server that heard from a leader
 *    within the minimum election timeout ignores vote requests for higher
 *    terms, unless they carry the force flag of a leadership transfer.
 *    This is what the 2020 partial-partition outage needed: a server cut
 *    off from the leader but reachable by others cannot win votes while
 *    the others still hear the leader.
 *  - CheckQuorum (thesis 6.2, in heartbeat.c): a leader that has not heard
 *    from a quorum within an election timeout steps down, so followers'
 *    leases and a stale leader cannot keep the cluster leaderless.
 */
#include <string.h>

#include "raft/internal.h"

void raft__election_reset_timer(struct raft *r)
{
	uint64_t lo = r->cfg.election_timeout_ms_min;
	uint64_t hi = r->cfg.election_timeout_ms_max;

	r->election_deadline_ms = r->now_ms + prng_range(&r->prng, lo, hi - 1);
}

int raft__election_in_lease(const struct raft *r)
{
	if (r->role == RAFT_LEADER)
		return 1;
	return r->leader != 0 &&
	       r->now_ms - r->leader_heard_ms < r->cfg.election_timeout_ms_min;
}

static void votes_reset(struct raft *r)
{
	r->votes_n = 0;
}

/* Records a vote from a voter of the current configuration; returns
 * whether it was new. */
static int votes_record(struct raft *r, raft_id id, int granted)
{
	if (!raft__conf_is_voter(&r->conf, id))
		return 0;
	for (uint32_t i = 0; i < r->votes_n; i++)
		if (r->votes_id[i] == id)
			return 0;
	ASSERT(r->votes_n < RAFT_NODES_MAX);
	r->votes_id[r->votes_n] = id;
	r->votes[r->votes_n] = (uint8_t)(granted != 0);
	r->votes_n++;
	return 1;
}

static void votes_count(const struct raft *r, uint32_t *yes, uint32_t *no)
{
	*yes = 0;
	*no = 0;
	for (uint32_t i = 0; i < r->votes_n; i++) {
		if (r->votes[i])
			(*yes)++;
		else
			(*no)++;
	}
}

void raft__become_follower(struct raft *r, raft_term term, raft_id leader)
{
	ASSERT(term >= r->term);
	if (leader != r->leader || term != r->term) {
		r->ack_match = 0;
		r->ack_sent = 0;
	}
	if (term > r->term) {
		r->term = term;
		r->vote = 0;
		r->hs_dirty = 1;
	}
	if (r->role == RAFT_LEADER)
		raft__reads_fail_all(r);
	r->role = RAFT_FOLLOWER;
	r->leader = leader;
	if (leader != 0)
		r->leader_heard_ms = r->now_ms;
	r->transfer_to = 0;
	r->prs_n = 0;
	r->campaign_forced = 0;
	raft__election_reset_timer(r);
}

static void send_vote_requests(struct raft *r, raft_term term, int prevote,
			       int force)
{
	for (uint32_t i = 0; i < r->conf.n; i++) {
		const struct raft_server *s = &r->conf.servers[i];
		struct raft_message *m;

		if (s->id == r->cfg.id || s->role != RAFT_VOTER)
			continue;
		m = raft__msg_new(r, s->id, RAFT_MSG_VOTE);
		if (m == NULL)
			return;
		m->term = term;
		m->u.vote.last_index = log_last(r);
		m->u.vote.last_term = log_last_term(r);
		m->u.vote.prevote = (uint8_t)prevote;
		m->u.vote.force = (uint8_t)force;
	}
}

static void campaign_real(struct raft *r, int force)
{
	uint32_t yes, no;

	r->term++;
	r->vote = r->cfg.id;
	r->hs_dirty = 1;
	r->role = RAFT_CANDIDATE;
	r->leader = 0;
	r->campaign_forced = force;
	votes_reset(r);
	votes_record(r, r->cfg.id, 1);
	raft__election_reset_timer(r);
	TRACE_I(r->tracer, RAFT_MOD, "%llu: campaigning in term %llu%s",
		(unsigned long long)r->cfg.id, (unsigned long long)r->term,
		force ? " (transfer)" : "");
	votes_count(r, &yes, &no);
	if (yes >= raft__conf_quorum(&r->conf)) {
		raft__become_leader(r);
		return;
	}
	send_vote_requests(r, r->term, 0, force);
}

void raft__campaign(struct raft *r, int force)
{
	uint32_t yes, no;

	ASSERT(raft__conf_is_voter(&r->conf, r->cfg.id));
	if (!r->cfg.prevote || force) {
		campaign_real(r, force);
		return;
	}
	r->role = RAFT_PRECANDIDATE;
	r->leader = 0;
	votes_reset(r);
	votes_record(r, r->cfg.id, 1);
	raft__election_reset_timer(r);
	TRACE_D(r->tracer, RAFT_MOD, "%llu: pre-vote for term %llu",
		(unsigned long long)r->cfg.id, (unsigned long long)r->term + 1);
	votes_count(r, &yes, &no);
	if (yes >= raft__conf_quorum(&r->conf)) {
		campaign_real(r, 0);
		return;
	}
	send_vote_requests(r, r->term + 1, 1, 0);
}

void raft__become_leader(struct raft *r)
{
	raft_index last = log_last(r);
	int rv;

	ASSERT(r->role == RAFT_CANDIDATE);
	ASSERT(r->vote == r->cfg.id);
	r->role = RAFT_LEADER;
	r->leader = r->cfg.id;
	r->transfer_to = 0;
	r->reads_n = 0;
	r->prs_n = 0;
	raft__conf_sync_progress(r);
	TRACE_I(r->tracer, RAFT_MOD, "%llu: leader of term %llu",
		(unsigned long long)r->cfg.id, (unsigned long long)r->term);
	r->uncommitted_bytes = 0;
	for (raft_index i = r->commit + 1; i <= last; i++)
		r->uncommitted_bytes += raft__log_get(r, i)->len;
	/* The barrier commits the previous terms' entries (paper 5.4.2) and
	 * gives ReadIndex and changes their own-term entry (thesis 6.4). */
	rv = raft__log_append(r, r->term, RAFT_ENTRY_BARRIER, NULL, 0);
	if (rv != 0)
		TRACE_E(r->tracer, RAFT_MOD, "barrier append: %s", err_name(rv));
	r->heartbeat_deadline_ms = r->now_ms + r->cfg.heartbeat_ms;
	raft__replicate_all(r);
	raft__replicate_maybe_commit(r);
}

void raft__election_tick(struct raft *r)
{
	if (r->now_ms < r->election_deadline_ms)
		return;
	if (!raft__conf_is_voter(&r->conf, r->cfg.id) || r->snap_installing) {
		raft__election_reset_timer(r);
		return;
	}
	raft__campaign(r, 0);
}

static int log_up_to_date(const struct raft *r, const struct raft_message *m)
{
	raft_term lt = log_last_term(r);

	return m->u.vote.last_term > lt ||
	       (m->u.vote.last_term == lt &&
		m->u.vote.last_index >= log_last(r));
}

void raft__recv_vote(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_vote *v = &m->u.vote;
	struct raft_message *resp;
	int can_vote, grant;

	/* raft.c has handled terms: m->term == r->term, or a PreVote for a
	 * later term. */
	if (v->prevote && m->term > r->term)
		can_vote = 1;
	else
		can_vote = r->vote == m->from ||
			   (r->vote == 0 && r->leader == 0);
	/* The planted bug: any server but a leader grants again in a term
	 * in which it already voted (a candidate for itself included). */
	if (!v->prevote && (r->cfg.bugs & RAFT_BUG_DOUBLE_VOTE) &&
	    r->role != RAFT_LEADER)
		can_vote = 1;
	grant = can_vote && log_up_to_date(r, m);
	if (grant && !v->prevote && r->role != RAFT_CANDIDATE) {
		r->vote = m->from;
		r->hs_dirty = 1;
		raft__election_reset_timer(r);
	}
	/* (A candidate grants only under the planted bug; it then keeps its
	 * own vote and campaign, so two leaders can win one term.) */
	TRACE_D(r->tracer, RAFT_MOD, "%llu: %s %svote to %llu for term %llu",
		(unsigned long long)r->cfg.id, grant ? "grants" : "refuses",
		v->prevote ? "pre-" : "", (unsigned long long)m->from,
		(unsigned long long)m->term);
	resp = raft__msg_new(r, m->from, RAFT_MSG_VOTE_RESP);
	if (resp == NULL)
		return;
	/* A granted PreVote answers at the term asked about; a refusal
	 * carries our term so a stale pre-candidate catches up. */
	resp->term = grant && v->prevote ? m->term : r->term;
	resp->u.vote_resp.granted = (uint8_t)grant;
	resp->u.vote_resp.prevote = v->prevote;
}

void raft__recv_vote_resp(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_vote_resp *v = &m->u.vote_resp;
	uint32_t yes, no, q = raft__conf_quorum(&r->conf);

	if (v->prevote) {
		if (r->role != RAFT_PRECANDIDATE || m->term != r->term + 1)
			return;
	} else if (r->role != RAFT_CANDIDATE || m->term != r->term) {
		return;
	}
	if (!votes_record(r, m->from, v->granted))
		return;
	votes_count(r, &yes, &no);
	if (yes >= q) {
		if (v->prevote)
			campaign_real(r, 0);
		else
			raft__become_leader(r);
	} else if (no >= q) {
		raft__become_follower(r, r->term, 0);
	}
}

void raft__recv_timeout_now(struct raft *r, const struct raft_message *m)
{
	if (m->from != r->leader || r->role != RAFT_FOLLOWER)
		return;
	if (!raft__conf_is_voter(&r->conf, r->cfg.id))
		return;
	TRACE_I(r->tracer, RAFT_MOD, "%llu: TimeoutNow from %llu",
		(unsigned long long)r->cfg.id, (unsigned long long)m->from);
	raft__campaign(r, 1);
}
