/*
 * replication.c: AppendEntries both ways and commitment (paper 5.3, 5.4).
 *
 * Flow control follows etcd-raft's progress tracking: a follower whose
 * match is unknown is probed with one append at a time; once an append
 * succeeds it is replicated to with pipelined appends, at most
 * cfg.inflight_max outstanding and cfg.msg_bytes_max payload bytes each
 * (batching). A rejection carries the follower's conflicting term and the
 * first index it holds of that term, so the leader skips a whole term per
 * round trip (paper 5.3, the optimisation of its last paragraphs).
 *
 * Durability: a follower acknowledges index i only when entries up to i
 * are durable (RAFT_EV_PERSISTED) and known to match the current leader;
 * the leader counts itself only up to its own durable index. The leader
 * commits index N only when a quorum of voters holds N durably and N is of
 * the current term (paper 5.4.2, Figure 8).
 */
#include <string.h>

#include "raft/internal.h"

struct raft_progress *raft__progress_get(struct raft *r, raft_id id)
{
	for (uint32_t i = 0; i < r->prs_n; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

void raft__progress_reset(struct raft *r, struct raft_progress *pr)
{
	pr->match = 0;
	pr->next = log_last(r) + 1;
	pr->state = RAFT_PROBE;
	pr->paused = 0;
	pr->inflight_n = 0;
	pr->inflight_head = 0;
	pr->last_heard_ms = r->now_ms;
	pr->last_progress_ms = r->now_ms;
	pr->read_seq_acked = 0;
	pr->snap_offset = 0;
	pr->snap_index = 0;
	pr->snap_sent_ms = 0;
}

void raft__progress_to_probe(struct raft *r, struct raft_progress *pr)
{
	(void)r;
	pr->state = RAFT_PROBE;
	pr->paused = 0;
	pr->inflight_n = 0;
	pr->inflight_head = 0;
	if (pr->next <= pr->match)
		pr->next = pr->match + 1;
}

void raft__progress_to_replicate(struct raft *r, struct raft_progress *pr)
{
	pr->state = RAFT_REPLICATE;
	pr->paused = 0;
	pr->next = pr->match + 1;
	pr->inflight_n = 0;
	pr->inflight_head = 0;
	pr->last_progress_ms = r->now_ms;
}

static void inflight_add(struct raft *r, struct raft_progress *pr,
			 raft_index last)
{
	uint32_t slot;

	ASSERT(pr->inflight_n < r->cfg.inflight_max);
	if (pr->inflight_n == 0)
		pr->last_progress_ms = r->now_ms;
	slot = (pr->inflight_head + pr->inflight_n) % RAFT_INFLIGHT_MAX;
	pr->inflight[slot] = last;
	pr->inflight_n++;
}

static void inflight_free_to(struct raft_progress *pr, raft_index index)
{
	while (pr->inflight_n > 0 && pr->inflight[pr->inflight_head] <= index) {
		pr->inflight_head = (pr->inflight_head + 1) % RAFT_INFLIGHT_MAX;
		pr->inflight_n--;
	}
}

/* How many entries from `from` fit in one message. */
static uint32_t batch_count(const struct raft *r, raft_index from)
{
	raft_index last = log_last(r);
	uint64_t bytes = 0;
	uint32_t n = 0;

	for (raft_index i = from; i <= last && n < RAFT_BATCH_MAX; i++) {
		uint64_t sz = raft__log_get(r, i)->len;

		if (n > 0 && bytes + sz > r->cfg.msg_bytes_max)
			break;
		bytes += sz;
		n++;
	}
	return n;
}

/* Sends one append to pr if flow control allows; returns 1 if sent. */
static int send_append(struct raft *r, struct raft_progress *pr)
{
	raft_index prev = pr->next - 1;
	struct raft_message *m;
	uint32_t n;

	if (pr->state == RAFT_SNAPSHOT) {
		/* Stop-and-wait: the next chunk goes out when the last one is
		 * answered (snapshot.c) or retransmitted (heartbeat.c); only a
		 * newer snapshot restarts the transfer here. */
		if (pr->snap_index != r->snap.index)
			raft__snapshot_send(r, pr);
		return 0;
	}
	if (pr->state == RAFT_PROBE && pr->paused)
		return 0;
	if (pr->state == RAFT_REPLICATE && pr->inflight_n >= r->cfg.inflight_max)
		return 0;
	if (prev < r->snap.index) {
		/* What the follower needs is compacted: send the snapshot. */
		pr->state = RAFT_SNAPSHOT;
		pr->snap_index = 0;
		raft__snapshot_send(r, pr);
		return 0;
	}
	n = batch_count(r, pr->next);
	if (n == 0 && pr->state == RAFT_REPLICATE)
		return 0;
	m = raft__msg_new(r, pr->id, RAFT_MSG_APPEND);
	if (m == NULL)
		return 0;
	m->u.append.prev_index = prev;
	m->u.append.prev_term = raft__log_term(r, prev);
	m->u.append.commit = r->commit;
	m->u.append.n_entries = n;
	r->msgs_from[msg_pos(r, m)] = pr->next;
	if (pr->state == RAFT_PROBE) {
		pr->paused = 1;
	} else {
		pr->next += n;
		inflight_add(r, pr, pr->next - 1);
	}
	return 1;
}

void raft__replicate_to(struct raft *r, struct raft_progress *pr)
{
	/* Bounded by the in-flight window (replicate) or one (probe). */
	for (uint32_t i = 0; i <= RAFT_INFLIGHT_MAX; i++) {
		if (!send_append(r, pr) || pr->state != RAFT_REPLICATE)
			return;
	}
}

void raft__replicate_all(struct raft *r)
{
	for (uint32_t i = 0; i < r->prs_n; i++)
		raft__replicate_to(r, &r->prs[i]);
}

/* ---- follower side ---- */

static void send_append_resp(struct raft *r, raft_id to, int success,
			     raft_index index, raft_term hint_term,
			     raft_index hint_index)
{
	struct raft_message *m = raft__msg_new(r, to, RAFT_MSG_APPEND_RESP);

	if (m == NULL)
		return;
	m->u.append_resp.success = (uint8_t)success;
	m->u.append_resp.index = index;
	m->u.append_resp.hint_term = hint_term;
	m->u.append_resp.hint_index = hint_index;
	m->u.append_resp.last_index = log_last(r);
}

void raft__replicate_send_ack(struct raft *r)
{
	raft_index ack;

	if (r->role != RAFT_FOLLOWER || r->leader == 0 || r->snap_installing)
		return;
	ack = u64_min(r->ack_match, raft__log_durable(r));
	if (ack <= r->ack_sent)
		return;
	r->ack_sent = ack;
	send_append_resp(r, r->leader, 1, ack, 0, 0);
}

static void reject_append(struct raft *r, const struct raft_message *m)
{
	raft_index prev = m->u.append.prev_index;
	raft_index last = log_last(r);
	raft_index first;
	raft_term t;

	if (prev > last) {
		send_append_resp(r, m->from, 0, prev, 0, last + 1);
		return;
	}
	t = raft__log_term(r, prev);
	first = prev;
	/* Walk back to the first index of term t; bounded by the log. */
	while (first > r->snap.index + 1 && first > r->commit + 1 &&
	       raft__log_term(r, first - 1) == t)
		first--;
	send_append_resp(r, m->from, 0, prev, t, first);
}

/* Appends the entries of m after prev, truncating a conflicting suffix.
 * Returns 0, ERR_MALFORMED (the leader contradicts committed entries), or
 * ERR_NOMEM. */
static int append_entries(struct raft *r, const struct raft_msg_append *a)
{
	for (uint32_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *e = &a->entries[i];
		raft_index idx = a->prev_index + 1 + i;
		int rv;

		if (idx <= r->snap.index)
			continue;
		if (idx <= log_last(r)) {
			if (raft__log_term(r, idx) == e->term)
				continue;
			if (idx <= r->commit)
				return ERR_MALFORMED;
			raft__log_truncate(r, idx);
		}
		if (e->type == RAFT_ENTRY_CONFIG) {
			struct raft_configuration c;

			if (raft_conf_decode(e->data, e->len, &c) != 0)
				return ERR_MALFORMED;
		}
		rv = raft__log_append(r, e->term, e->type, e->data, e->len);
		if (rv != 0)
			return rv;
	}
	return 0;
}

void raft__recv_append(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_append *a = &m->u.append;
	raft_index last_new = a->prev_index + a->n_entries;
	raft_index ack;
	int rv;

	/* raft.c made us a follower of m->from in m->term. */
	if (a->prev_index >= r->snap.index &&
	    (a->prev_index > log_last(r) ||
	     raft__log_term(r, a->prev_index) != a->prev_term)) {
		reject_append(r, m);
		return;
	}
	if (a->prev_index < r->snap.index && last_new >= r->snap.index &&
	    a->entries[r->snap.index - a->prev_index - 1].term != r->snap.term) {
		TRACE_E(r->tracer, RAFT_MOD, "%llu: append from %llu "
			"contradicts snapshot", (unsigned long long)r->cfg.id,
			(unsigned long long)m->from);
		return;
	}
	rv = append_entries(r, a);
	if (rv != 0) {
		TRACE_E(r->tracer, RAFT_MOD, "%llu: append from %llu: %s",
			(unsigned long long)r->cfg.id,
			(unsigned long long)m->from, err_name(rv));
		return;
	}
	if (a->n_entries > 0)
		TRACE_D(r->tracer, RAFT_MOD, "%llu: append %llu..%llu from %llu "
			"(commit %llu, durable %llu, last %llu)",
			(unsigned long long)r->cfg.id,
			(unsigned long long)a->prev_index + 1,
			(unsigned long long)last_new,
			(unsigned long long)m->from,
			(unsigned long long)a->commit,
			(unsigned long long)raft__log_durable(r),
			(unsigned long long)log_last(r));
	/* Entries up to last_new now match the leader's log. */
	r->ack_match = u64_max(r->ack_match, last_new);
	raft__commit_advance(r, u64_min(a->commit, last_new));
	if (r->snap_installing)
		return;
	ack = u64_min(r->ack_match, raft__log_durable(r));
	if (ack >= last_new) {
		/* Durable already (or a probe, or a duplicate): answer now. */
		r->ack_sent = u64_max(r->ack_sent, ack);
		send_append_resp(r, m->from, 1, ack, 0, 0);
	}
	/* Otherwise the ack follows RAFT_EV_PERSISTED. */
}

/* ---- leader side ---- */

static void handle_reject(struct raft *r, struct raft_progress *pr,
			  const struct raft_msg_append_resp *a)
{
	raft_index next;

	if (a->index <= pr->match)
		return; /* stale */
	if (pr->state == RAFT_PROBE && a->index != pr->next - 1)
		return; /* answers an older probe */
	if (pr->state == RAFT_SNAPSHOT)
		return;
	if (a->hint_term == 0) {
		next = a->hint_index;
	} else {
		raft_index j = a->index;

		while (j > r->snap.index && raft__log_term(r, j) > a->hint_term)
			j--;
		next = raft__log_term(r, j) == a->hint_term && j > r->snap.index
			       ? j + 1
			       : a->hint_index;
	}
	next = u64_min(next, a->index);
	next = u64_max(next, pr->match + 1);
	pr->next = next;
	raft__progress_to_probe(r, pr);
	raft__replicate_to(r, pr);
}

void raft__recv_append_resp(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_append_resp *a = &m->u.append_resp;
	struct raft_progress *pr = raft__progress_get(r, m->from);

	if (r->role != RAFT_LEADER || pr == NULL)
		return;
	pr->last_heard_ms = r->now_ms;
	if (!a->success) {
		handle_reject(r, pr, a);
		return;
	}
	if (a->index > log_last(r))
		return; /* impossible for an honest follower; ignore */
	if (a->index > pr->match) {
		pr->match = a->index;
		pr->last_progress_ms = r->now_ms;
		if (pr->next <= pr->match)
			pr->next = pr->match + 1;
		inflight_free_to(pr, pr->match);
		if (pr->state == RAFT_PROBE ||
		    (pr->state == RAFT_SNAPSHOT && pr->match >= pr->snap_index))
			raft__progress_to_replicate(r, pr);
		raft__replicate_maybe_commit(r);
		if (r->role != RAFT_LEADER)
			return;
		raft__transfer_check(r, pr);
	}
	raft__replicate_to(r, pr);
}

void raft__commit_advance(struct raft *r, raft_index index)
{
	raft_index old = r->commit;

	if (index <= r->commit)
		return;
	ASSERT(index <= log_last(r));
	r->commit = index;
	if (r->role == RAFT_LEADER) {
		for (raft_index i = old + 1; i <= index; i++) {
			uint64_t len = raft__log_get(r, i)->len;

			r->uncommitted_bytes -= u64_min(len, r->uncommitted_bytes);
		}
	}
}

void raft__replicate_maybe_commit(struct raft *r)
{
	raft_index m[RAFT_NODES_MAX];
	uint32_t n = 0, q = raft__conf_quorum(&r->conf);
	raft_index cand;

	if (r->role != RAFT_LEADER || raft_conf_voters(&r->conf) == 0)
		return;
	if (raft__conf_is_voter(&r->conf, r->cfg.id))
		m[n++] = raft__log_durable(r);
	for (uint32_t i = 0; i < r->prs_n; i++)
		if (raft__conf_is_voter(&r->conf, r->prs[i].id))
			m[n++] = r->prs[i].match;
	if (n < q)
		return;
	ASSERT(q >= 1 && n <= RAFT_NODES_MAX);
	/* Insertion sort, descending: at most RAFT_NODES_MAX values. */
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && m[j] > m[j - 1]; j--) {
			raft_index t = m[j];

			m[j] = m[j - 1];
			m[j - 1] = t;
		}
	cand = m[q - 1];
	if (cand <= r->commit)
		return;
	if (raft__log_term(r, cand) != r->term &&
	    !(r->cfg.bugs & RAFT_BUG_COMMIT_OLD_TERM))
		return;
	raft__commit_advance(r, cand);
	raft__membership_after_commit(r);
}
