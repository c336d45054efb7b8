/*
 * heartbeat.c: the leader's periodic work, ReadIndex and transfers.
 *
 * Heartbeats (paper 5.2) keep followers from campaigning, carry the
 * commit index (bounded by what each follower is known to hold, so a
 * follower never commits an entry it might not share with the leader), and
 * confirm ReadIndex rounds (thesis 6.4): a read waits until a quorum has
 * answered a heartbeat sent after the read arrived, which proves that no
 * other leader had been elected when it was registered. Reads are only
 * accepted once the leader has committed an entry of its term, so its
 * commit index is at least that of any earlier leader.
 *
 * CheckQuorum (thesis 6.2): a leader that has not heard from a quorum of
 * voters within the minimum election timeout steps down.
 *
 * Leadership transfer (thesis 3.10): the leader stops taking proposals,
 * brings the target up to date, and sends it TimeoutNow; the target
 * campaigns at once with the force flag, which bypasses the vote lease.
 */
#include "raft/internal.h"

static void send_heartbeat(struct raft *r, struct raft_progress *pr)
{
	struct raft_message *m = raft__msg_new(r, pr->id, RAFT_MSG_HEARTBEAT);

	if (m == NULL)
		return;
	m->u.heartbeat.commit = u64_min(r->commit, pr->match);
	m->u.heartbeat.read_seq = r->read_seq;
}

void raft__heartbeat_broadcast(struct raft *r)
{
	for (uint32_t i = 0; i < r->prs_n; i++)
		send_heartbeat(r, &r->prs[i]);
	r->read_seq_sent = r->read_seq;
	r->heartbeat_deadline_ms = r->now_ms + r->cfg.heartbeat_ms;
}

static int quorum_active(struct raft *r)
{
	uint32_t active = 0;

	if (raft__conf_is_voter(&r->conf, r->cfg.id))
		active++;
	for (uint32_t i = 0; i < r->prs_n; i++) {
		const struct raft_progress *pr = &r->prs[i];

		if (raft__conf_is_voter(&r->conf, pr->id) &&
		    r->now_ms - pr->last_heard_ms <
			    r->cfg.election_timeout_ms_min)
			active++;
	}
	return active >= raft__conf_quorum(&r->conf);
}

/* Resends to followers whose last messages seem lost. */
static void retransmit(struct raft *r, struct raft_progress *pr)
{
	uint64_t stale_ms = 2 * (uint64_t)r->cfg.heartbeat_ms;

	if (pr->state == RAFT_SNAPSHOT) {
		if (r->now_ms - pr->snap_sent_ms >= stale_ms)
			raft__snapshot_send(r, pr);
		return;
	}
	if (pr->state == RAFT_REPLICATE && pr->inflight_n > 0 &&
	    r->now_ms - pr->last_progress_ms >= stale_ms)
		raft__progress_to_probe(r, pr);
}

void raft__heartbeat_tick(struct raft *r)
{
	if (r->transfer_to != 0 && r->now_ms >= r->transfer_deadline_ms) {
		TRACE_I(r->tracer, RAFT_MOD, "%llu: transfer to %llu timed out",
			(unsigned long long)r->cfg.id,
			(unsigned long long)r->transfer_to);
		r->transfer_to = 0;
	}
	if (r->cfg.check_quorum && !quorum_active(r)) {
		TRACE_I(r->tracer, RAFT_MOD,
			"%llu: lost contact with a quorum; stepping down",
			(unsigned long long)r->cfg.id);
		raft__become_follower(r, r->term, 0);
		return;
	}
	if (r->now_ms < r->heartbeat_deadline_ms)
		return;
	raft__heartbeat_broadcast(r);
	for (uint32_t i = 0; i < r->prs_n; i++) {
		struct raft_progress *pr = &r->prs[i];

		retransmit(r, pr);
		if (pr->state == RAFT_PROBE)
			pr->paused = 0;
		raft__replicate_to(r, pr);
	}
}

void raft__recv_heartbeat(struct raft *r, const struct raft_message *m)
{
	struct raft_message *resp;

	raft__commit_advance(r, u64_min(m->u.heartbeat.commit, log_last(r)));
	resp = raft__msg_new(r, m->from, RAFT_MSG_HEARTBEAT_RESP);
	if (resp == NULL)
		return;
	resp->u.heartbeat_resp.read_seq = m->u.heartbeat.read_seq;
}

/* Highest ReadIndex round a quorum of voters has confirmed. */
static uint64_t reads_confirmed(const struct raft *r)
{
	uint64_t v[RAFT_NODES_MAX];
	uint32_t n = 0, q = raft__conf_quorum(&r->conf);

	if (raft__conf_is_voter(&r->conf, r->cfg.id))
		v[n++] = r->read_seq;
	for (uint32_t i = 0; i < r->prs_n; i++)
		if (raft__conf_is_voter(&r->conf, r->prs[i].id))
			v[n++] = r->prs[i].read_seq_acked;
	if (n < q || q == 0)
		return 0;
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && v[j] > v[j - 1]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[q - 1];
}

static void reads_release(struct raft *r)
{
	uint64_t ok = reads_confirmed(r);
	uint32_t done = 0;

	while (done < r->reads_n && r->reads[done].seq <= ok) {
		raft__read_result(r, r->reads[done].ctx, r->reads[done].index, 0);
		done++;
	}
	if (done == 0)
		return;
	for (uint32_t i = done; i < r->reads_n; i++)
		r->reads[i - done] = r->reads[i];
	r->reads_n -= done;
}

void raft__recv_heartbeat_resp(struct raft *r, const struct raft_message *m)
{
	struct raft_progress *pr = raft__progress_get(r, m->from);

	if (r->role != RAFT_LEADER || pr == NULL)
		return;
	pr->last_heard_ms = r->now_ms;
	if (m->u.heartbeat_resp.read_seq <= r->read_seq_sent)
		pr->read_seq_acked =
			u64_max(pr->read_seq_acked, m->u.heartbeat_resp.read_seq);
	reads_release(r);
	if (pr->match < log_last(r)) {
		if (pr->state == RAFT_PROBE)
			pr->paused = 0;
		raft__replicate_to(r, pr);
	}
}

int raft__read_index_request(struct raft *r, uint64_t ctx)
{
	if (raft__log_term(r, r->commit) != r->term)
		return ERR_AGAIN;
	if (r->reads_n == RAFT_READS_MAX ||
	    r->out_reads_n == RAFT_READS_MAX)
		return ERR_AGAIN;
	r->read_seq++;
	r->reads[r->reads_n].ctx = ctx;
	r->reads[r->reads_n].index = r->commit;
	r->reads[r->reads_n].seq = r->read_seq;
	r->reads[r->reads_n].status = 0;
	r->reads_n++;
	reads_release(r); /* a single voter confirms alone */
	if (r->reads_n > 0)
		raft__heartbeat_broadcast(r);
	return 0;
}

void raft__reads_fail_all(struct raft *r)
{
	for (uint32_t i = 0; i < r->reads_n; i++)
		raft__read_result(r, r->reads[i].ctx, 0, ERR_NOTLEADER);
	r->reads_n = 0;
}

static void send_timeout_now(struct raft *r, raft_id to)
{
	struct raft_message *m = raft__msg_new(r, to, RAFT_MSG_TIMEOUT_NOW);

	(void)m;
	TRACE_I(r->tracer, RAFT_MOD, "%llu: TimeoutNow to %llu",
		(unsigned long long)r->cfg.id, (unsigned long long)to);
}

void raft__transfer_check(struct raft *r, struct raft_progress *pr)
{
	if (r->transfer_to == pr->id && pr->match == log_last(r))
		send_timeout_now(r, pr->id);
}

static raft_id transfer_pick(struct raft *r)
{
	struct raft_progress *best = NULL;

	for (uint32_t i = 0; i < r->prs_n; i++) {
		struct raft_progress *pr = &r->prs[i];

		if (!raft__conf_is_voter(&r->conf, pr->id))
			continue;
		if (best == NULL || pr->match > best->match)
			best = pr;
	}
	return best != NULL ? best->id : 0;
}

int raft__transfer_request(struct raft *r, raft_id to)
{
	struct raft_progress *pr;

	if (to == r->cfg.id)
		return 0;
	if (to == 0)
		to = transfer_pick(r);
	pr = raft__progress_get(r, to);
	if (pr == NULL || !raft__conf_is_voter(&r->conf, to))
		return ERR_INVAL;
	r->transfer_to = to;
	r->transfer_deadline_ms = r->now_ms + r->cfg.election_timeout_ms_min;
	TRACE_I(r->tracer, RAFT_MOD, "%llu: transferring leadership to %llu",
		(unsigned long long)r->cfg.id, (unsigned long long)to);
	if (pr->match == log_last(r))
		send_timeout_now(r, to);
	else
		raft__replicate_to(r, pr);
	return 0;
}
