/*
 * raft.c: construction, event dispatch and the update (raft.h explains
 * the driver contract).
 *
 * Every event runs to completion against the state in struct raft and
 * leaves its output in per-step buffers inside it (messages, read
 * results, the ranges of entries to persist and to apply); raft_step ends
 * by describing those buffers in the caller's struct raft_update. The
 * pointers stay valid until the next call because nothing touches the
 * log array between the end of one step and the start of the next.
 *
 * Term handling on receipt (paper 5.1, Figure 2 "All Servers") lives here,
 * before the per-message handlers, together with the two exceptions that
 * PreVote and the vote lease add: a PreVote request or a granted PreVote
 * answer for a higher term does not change our term, and a vote request
 * for a higher term is ignored while the lease holds (thesis 4.2.3, 9.6).
 */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

void raft_config_default(struct raft_config *c)
{
	memset(c, 0, sizeof(*c));
	/* 1-2 s: ten heartbeats of 100 ms fit in the minimum, and an fsync
	 * on a slow disk (tens of ms) stays far below it (paper 5.6). */
	c->election_timeout_ms_min = 1000;
	c->election_timeout_ms_max = 2000;
	c->heartbeat_ms = 100;
	/* 1 MiB per append or chunk: large enough to amortise per-message
	 * costs, small enough not to stall heartbeats on one connection. */
	c->msg_bytes_max = 1u << 20;
	/* 32 appends in flight: saturates a LAN link at our entry sizes. */
	c->inflight_max = 32;
	c->uncommitted_bytes_max = (uint64_t)64 << 20;
	c->snapshot_bytes_max = (uint64_t)1 << 30;
	c->prevote = 1;
	c->check_quorum = 1;
}

static int config_valid(const struct raft_config *c)
{
	if (c->id == 0 || c->id >= RAFT_NUM_MAX)
		return 0;
	if (c->election_timeout_ms_min == 0 ||
	    c->election_timeout_ms_max <= c->election_timeout_ms_min)
		return 0;
	if (c->heartbeat_ms == 0 ||
	    (uint64_t)c->heartbeat_ms * 2 >= c->election_timeout_ms_min)
		return 0;
	if (c->msg_bytes_max == 0 || c->inflight_max == 0 ||
	    c->inflight_max > RAFT_INFLIGHT_MAX)
		return 0;
	return c->uncommitted_bytes_max > 0;
}

int raft_init(struct raft *r, const struct raft_config *cfg)
{
	if (!config_valid(cfg))
		return ERR_INVAL;
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	r->tracer = cfg->tracer;
	prng_seed(&r->prng, cfg->seed);
	r->role = RAFT_FOLLOWER;
	r->unstable = 1;
	raft__election_reset_timer(r);
	return 0;
}

void raft_close(struct raft *r)
{
	raft__log_clear(r);
	free(r->log);
	free(r->snap_data);
	free(r->rcv_snap);
	r->log = NULL;
	r->snap_data = NULL;
	r->rcv_snap = NULL;
	r->log_cap = 0;
}

/* Checks what storage hands to raft_restore. */
static int restore_check(const struct raft_snapshot_meta *snap,
			 const struct raft_entry *entries, uint64_t n)
{
	raft_term t = snap->term;

	for (uint64_t i = 0; i < n; i++) {
		const struct raft_entry *e = &entries[i];
		struct raft_configuration c;

		if (e->index != snap->index + 1 + i || e->term < t ||
		    e->term >= RAFT_NUM_MAX)
			return ERR_INVAL;
		if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_BARRIER)
			return ERR_INVAL;
		if (e->type == RAFT_ENTRY_CONFIG &&
		    raft_conf_decode(e->data, e->len, &c) != 0)
			return ERR_INVAL;
		t = e->term;
	}
	return 0;
}

static int restore_snapshot(struct raft *r,
			    const struct raft_snapshot_meta *snap,
			    const uint8_t *data, uint64_t len)
{
	r->snap = *snap;
	r->snap_data = malloc((size_t)u64_max(len, 1));
	if (r->snap_data == NULL)
		return ERR_NOMEM;
	if (len > 0)
		memcpy(r->snap_data, data, (size_t)len);
	r->snap_len = len;
	r->snap_cap = len;
	return 0;
}

int raft_restore(struct raft *r, const struct raft_hard_state *hs,
		 const struct raft_snapshot_meta *snap, const uint8_t *snap_data,
		 uint64_t snap_len, const struct raft_entry *entries, uint64_t n,
		 raft_index applied)
{
	struct raft_snapshot_meta none;
	raft_index last;
	int rv;

	memset(&none, 0, sizeof(none));
	if (snap == NULL)
		snap = &none;
	if (r->log_n != 0 || r->term != 0 || r->snap.index != 0)
		return ERR_INVAL;
	rv = restore_check(snap, entries, n);
	if (rv != 0)
		return rv;
	last = snap->index + n;
	if (applied < snap->index || applied > last)
		return ERR_INVAL;
	if (snap->index > 0) {
		rv = restore_snapshot(r, snap, snap_data, snap_len);
		if (rv != 0)
			return rv;
	}
	for (uint64_t i = 0; i < n; i++) {
		/* log_append checks term <= r->term: raise it as we go. */
		r->term = entries[i].term;
		rv = raft__log_append(r, entries[i].term, entries[i].type,
				entries[i].data, entries[i].len);
		if (rv != 0)
			goto err_clear_log;
	}
	r->term = u64_max(hs != NULL ? hs->term : 0, log_last_term(r));
	r->vote = hs != NULL && hs->term == r->term ? hs->vote : 0;
	r->commit = u64_max(hs != NULL ? hs->commit : 0, applied);
	r->commit = u64_max(u64_min(r->commit, last), snap->index);
	r->persisted = last;
	r->unstable = last + 1;
	r->applied = applied;
	r->hs_commit = r->commit;
	raft__conf_recompute(r);
	raft__election_reset_timer(r);
	return 0;

err_clear_log:
	raft__log_clear(r);
	free(r->snap_data);
	r->snap_data = NULL;
	memset(&r->snap, 0, sizeof(r->snap));
	r->term = 0;
	return rv;
}

struct raft_message *raft__msg_new(struct raft *r, raft_id to, uint8_t type)
{
	struct raft_message *m;

	if (r->msgs_n == RAFT_MSGS_MAX) {
		r->msgs_dropped++;
		return NULL;
	}
	m = &r->msgs[r->msgs_n];
	memset(m, 0, sizeof(*m));
	r->msgs_from[r->msgs_n] = 0;
	r->msgs_n++;
	m->type = type;
	m->from = r->cfg.id;
	m->to = to;
	m->term = r->term;
	return m;
}

void raft__read_result(struct raft *r, uint64_t ctx, raft_index index, int status)
{
	struct raft_read *o;

	ASSERT(r->out_reads_n < RAFT_READS_MAX);
	o = &r->out_reads[r->out_reads_n++];
	o->ctx = ctx;
	o->index = index;
	o->seq = 0;
	o->status = status;
}

/* Answers a message from a stale term so its sender catches up. */
static void answer_stale(struct raft *r, const struct raft_message *m)
{
	struct raft_message *resp;

	if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
	    m->type == RAFT_MSG_SNAPSHOT) {
		resp = raft__msg_new(r, m->from, RAFT_MSG_APPEND_RESP);
	} else if (m->type == RAFT_MSG_VOTE) {
		resp = raft__msg_new(r, m->from, RAFT_MSG_VOTE_RESP);
		if (resp != NULL)
			resp->u.vote_resp.prevote = m->u.vote.prevote;
	} else {
		return;
	}
	(void)resp;
}

/* Applies the rules for a message of a higher term; returns 1 if the
 * message must be dropped afterwards. */
static int higher_term(struct raft *r, const struct raft_message *m)
{
	switch (m->type) {
	case RAFT_MSG_VOTE:
		if (!m->u.vote.force && raft__election_in_lease(r)) {
			TRACE_D(r->tracer, RAFT_MOD, "%llu: ignores %svote "
				"request from %llu: leader lease",
				(unsigned long long)r->cfg.id,
				m->u.vote.prevote ? "pre-" : "",
				(unsigned long long)m->from);
			return 1;
		}
		if (m->u.vote.prevote)
			return 0;
		raft__become_follower(r, m->term, 0);
		return 0;
	case RAFT_MSG_VOTE_RESP:
		if (m->u.vote_resp.prevote && m->u.vote_resp.granted)
			return 0;
		raft__become_follower(r, m->term, 0);
		return 1;
	case RAFT_MSG_APPEND:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAPSHOT:
	case RAFT_MSG_TIMEOUT_NOW:
		raft__become_follower(r, m->term, m->from);
		return 0;
	default:
		raft__become_follower(r, m->term, 0);
		return 0;
	}
}

/* A message from the leader of our term: follow it. Returns 1 to drop. */
static int from_leader(struct raft *r, const struct raft_message *m)
{
	if (r->role == RAFT_LEADER) {
		TRACE_E(r->tracer, RAFT_MOD, "%llu: %s from %llu, another "
			"leader in term %llu", (unsigned long long)r->cfg.id,
			raft_msg_type_name(m->type),
			(unsigned long long)m->from,
			(unsigned long long)r->term);
		return 1;
	}
	if (r->role != RAFT_FOLLOWER || r->leader != m->from) {
		raft__become_follower(r, r->term, m->from);
	} else {
		r->leader_heard_ms = r->now_ms;
		raft__election_reset_timer(r);
	}
	return 0;
}

static int recv_message(struct raft *r, const struct raft_message *m)
{
	int rv = raft_message_check(m);

	if (rv != 0)
		return rv;
	if (m->to != r->cfg.id || m->from == r->cfg.id)
		return 0;
	if (m->term > r->term && higher_term(r, m))
		return 0;
	if (m->term < r->term) {
		answer_stale(r, m);
		return 0;
	}
	switch (m->type) {
	case RAFT_MSG_VOTE:
		raft__recv_vote(r, m);
		break;
	case RAFT_MSG_VOTE_RESP:
		raft__recv_vote_resp(r, m);
		break;
	case RAFT_MSG_APPEND_RESP:
		raft__recv_append_resp(r, m);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		raft__recv_heartbeat_resp(r, m);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		raft__recv_snapshot_resp(r, m);
		break;
	default:
		if (from_leader(r, m))
			break;
		if (m->type == RAFT_MSG_APPEND)
			raft__recv_append(r, m);
		else if (m->type == RAFT_MSG_HEARTBEAT)
			raft__recv_heartbeat(r, m);
		else if (m->type == RAFT_MSG_SNAPSHOT)
			raft__recv_snapshot(r, m);
		else
			raft__recv_timeout_now(r, m);
	}
	return 0;
}

static int propose(struct raft *r, const struct raft_event *ev,
		   struct raft_update *up)
{
	uint32_t len = ev->u.propose.len;
	int rv;

	if (r->role != RAFT_LEADER)
		return ERR_NOTLEADER;
	if (r->transfer_to != 0)
		return ERR_AGAIN;
	if (ev->u.propose.type == RAFT_ENTRY_CONFIG) {
		rv = raft__membership_propose(r, ev->u.propose.change.op,
					ev->u.propose.change.id);
	} else if (ev->u.propose.type == RAFT_ENTRY_NORMAL) {
		if (len > r->cfg.msg_bytes_max)
			return ERR_TOOBIG;
		if (r->uncommitted_bytes > 0 &&
		    r->uncommitted_bytes + len > r->cfg.uncommitted_bytes_max)
			return ERR_AGAIN;
		rv = raft__log_append(r, r->term, RAFT_ENTRY_NORMAL,
				ev->u.propose.data, len);
		if (rv == 0)
			r->uncommitted_bytes += len;
	} else {
		return ERR_INVAL;
	}
	if (rv != 0)
		return rv;
	up->proposed_index = log_last(r);
	up->proposed_term = r->term;
	raft__replicate_all(r);
	raft__replicate_maybe_commit(r);
	return 0;
}

static int persisted(struct raft *r, raft_index index, raft_term term)
{
	/* Old news, or a write of entries truncated or replaced by a
	 * snapshot since (reports arrive after the log moved on). */
	if (index >= r->unstable || index <= r->persisted ||
	    raft__log_term(r, index) != term) {
		TRACE_D(r->tracer, RAFT_MOD, "%llu: ignores persisted %llu/%llu "
			"(durable %llu, handed up to %llu, term there %llu)",
			(unsigned long long)r->cfg.id,
			(unsigned long long)index, (unsigned long long)term,
			(unsigned long long)r->persisted,
			(unsigned long long)r->unstable - 1,
			(unsigned long long)raft__log_term(r, index));
		return 0;
	}
	r->persisted = index;
	if (r->role == RAFT_LEADER)
		raft__replicate_maybe_commit(r);
	else
		raft__replicate_send_ack(r);
	return 0;
}

static int dispatch(struct raft *r, const struct raft_event *ev,
		    struct raft_update *up)
{
	switch (ev->type) {
	case RAFT_EV_TICK:
		if (r->role == RAFT_LEADER)
			raft__heartbeat_tick(r);
		else
			raft__election_tick(r);
		return 0;
	case RAFT_EV_RECEIVE:
		if (ev->u.msg == NULL)
			return ERR_INVAL;
		return recv_message(r, ev->u.msg);
	case RAFT_EV_PROPOSE:
		return propose(r, ev, up);
	case RAFT_EV_PERSISTED:
		return persisted(r, ev->u.persisted.index,
				 ev->u.persisted.term);
	case RAFT_EV_SNAPSHOT_TAKEN:
		return raft__snapshot_taken(r, ev->u.snapshot_taken.index,
				      ev->u.snapshot_taken.data,
				      ev->u.snapshot_taken.len);
	case RAFT_EV_SNAPSHOT_APPLIED:
		return raft__snapshot_applied(r, ev->u.snapshot_applied.index);
	case RAFT_EV_READ_INDEX:
		if (r->role != RAFT_LEADER)
			return ERR_NOTLEADER;
		return raft__read_index_request(r, ev->u.read_index.ctx);
	case RAFT_EV_TRANSFER:
		if (r->role != RAFT_LEADER)
			return ERR_NOTLEADER;
		return raft__transfer_request(r, ev->u.transfer.to);
	default:
		return ERR_INVAL;
	}
}

/* Points append messages at their entries, now that the log array no
 * longer moves during this step. */
static void resolve_msgs(struct raft *r)
{
	for (uint32_t i = 0; i < r->msgs_n; i++) {
		struct raft_message *m = &r->msgs[i];
		raft_index from = r->msgs_from[i];

		if (m->type != RAFT_MSG_APPEND || m->u.append.n_entries == 0)
			continue;
		if (from <= r->snap.index ||
		    from + m->u.append.n_entries - 1 > log_last(r)) {
			/* Compacted or truncated meanwhile: send it empty, as
			 * if its entries were lost on the way. */
			m->u.append.n_entries = 0;
			continue;
		}
		m->u.append.entries = raft__log_get(r, from);
	}
}

static void finalize_log(struct raft *r, struct raft_update *up)
{
	raft_index last = log_last(r);
	raft_index hi;

	if (r->up_snap_ready) {
		up->snapshot = &r->up_snap;
		r->up_snap_ready = 0;
	}
	up->truncate_from = r->truncate_from;
	r->truncate_from = 0;
	if (r->unstable <= last) {
		up->entries = raft__log_get(r, r->unstable);
		up->n_entries = last - r->unstable + 1;
		r->unstable = last + 1;
	}
	up->compact_to = r->compacted_hint;
	r->compacted_hint = 0;
	if (r->cfg.bugs & RAFT_BUG_APPLY_BEFORE_COMMIT)
		hi = r->persisted;
	else
		hi = u64_min(r->commit, r->persisted);
	if (hi > r->applied) {
		ASSERT(r->applied >= r->snap.index && hi <= last);
		up->committed = raft__log_get(r, r->applied + 1);
		up->n_committed = hi - r->applied;
		r->applied = hi;
	}
}

static void finalize(struct raft *r, struct raft_update *up)
{
	raft_index hs_commit;

	finalize_log(r, up);
	hs_commit = u64_max(u64_min(r->commit, r->persisted), r->hs_commit);
	if (r->hs_dirty || hs_commit != r->hs_commit) {
		up->hard_state_changed = 1;
		up->hard_state.term = r->term;
		up->hard_state.vote = r->vote;
		up->hard_state.commit = hs_commit;
		r->hs_commit = hs_commit;
		r->hs_dirty = 0;
	}
	resolve_msgs(r);
	up->msgs = r->msgs;
	up->n_msgs = r->msgs_n;
	up->reads = r->out_reads;
	up->n_reads = r->out_reads_n;
	if (r->role == RAFT_LEADER) {
		up->deadline_ms = r->heartbeat_deadline_ms;
		if (r->transfer_to != 0)
			up->deadline_ms =
				u64_min(up->deadline_ms, r->transfer_deadline_ms);
	} else {
		up->deadline_ms = r->election_deadline_ms;
	}
	up->role = r->role;
	up->leader = r->leader;
	up->term = r->term;
	up->commit = r->commit;
	up->role_changed = r->role != r->prev_role ||
			   r->leader != r->prev_leader ||
			   r->term != r->prev_term;
}

int raft_step(struct raft *r, const struct raft_event *ev,
	      struct raft_update *up)
{
	raft_term term0 = r->term;
	raft_index commit0 = r->commit;
	int rv;

	memset(up, 0, sizeof(*up));
	if (ev->now_ms > r->now_ms)
		r->now_ms = ev->now_ms;
	if (!r->clock_started) {
		/* The driver's clock has an arbitrary origin: a server that
		 * boots waits a full election timeout from its first event
		 * before campaigning (paper 5.2). */
		r->clock_started = 1;
		raft__election_reset_timer(r);
	}
	r->msgs_n = 0;
	r->out_reads_n = 0;
	r->prev_role = r->role;
	r->prev_leader = r->leader;
	r->prev_term = r->term;
	rv = dispatch(r, ev, up);
	/* Safety invariants of Figure 2 that every event must keep. */
	ASSERT(r->term >= term0);
	ASSERT(r->commit >= commit0);
	ASSERT(r->commit <= log_last(r));
	ASSERT(r->snap.index <= r->commit);
	ASSERT(r->persisted <= log_last(r));
	ASSERT(r->role != RAFT_LEADER ||
	       (r->leader == r->cfg.id && r->vote == r->cfg.id));
	finalize(r, up);
	/* Only committed entries reach the application (Figure 3, State
	 * Machine Safety), unless the test-only bug says otherwise. */
	ASSERT(r->applied <= r->commit ||
	       (r->cfg.bugs & RAFT_BUG_APPLY_BEFORE_COMMIT));
	return rv;
}

/* ---- accessors ---- */

raft_term raft_current_term(const struct raft *r)
{
	return r->term;
}

uint8_t raft_current_role(const struct raft *r)
{
	return r->role;
}

raft_id raft_leader(const struct raft *r)
{
	return r->leader;
}

raft_index raft_commit_index(const struct raft *r)
{
	return r->commit;
}

raft_index raft_last_index(const struct raft *r)
{
	return log_last(r);
}

raft_index raft_first_index(const struct raft *r)
{
	return r->snap.index + 1;
}

raft_term raft_term_at(const struct raft *r, raft_index index)
{
	if (index == 0)
		return 0;
	return raft__log_term(r, index);
}

const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index)
{
	return raft__log_get(r, index);
}

const struct raft_configuration *raft_configuration(const struct raft *r)
{
	return &r->conf;
}

const struct raft_progress *raft_progress_of(const struct raft *r, raft_id id)
{
	if (r->role != RAFT_LEADER)
		return NULL;
	for (uint32_t i = 0; i < r->prs_n; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

const char *raft_role_name(uint8_t role)
{
	switch (role) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_PRECANDIDATE:
		return "precandidate";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	default:
		return "?";
	}
}

const char *raft_msg_type_name(uint8_t type)
{
	static const char *const names[RAFT_MSG_TYPE_MAX_] = {
		"?", "vote", "vote_resp", "append", "append_resp",
		"heartbeat", "heartbeat_resp", "snapshot", "snapshot_resp",
		"timeout_now",
	};

	return type < RAFT_MSG_TYPE_MAX_ ? names[type] : "?";
}
