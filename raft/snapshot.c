/*
 * snapshot.c: log compaction and InstallSnapshot (thesis chapter 5).
 *
 * The application tells raft it has captured its state up to an applied
 * index (RAFT_EV_SNAPSHOT_TAKEN); raft keeps a copy of those bytes, frees
 * the entries it covers and remembers the configuration in force there.
 * A follower that needs a compacted entry gets the snapshot in chunks of
 * at most cfg.msg_bytes_max bytes, stop-and-wait: one chunk outstanding,
 * resent after two heartbeat intervals without an answer. The follower
 * reassembles chunks in order (a gap or a different snapshot restarts it
 * at the offset it reports), hands the whole snapshot to the driver, and
 * acknowledges only once the driver reports it durable.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

void raft__snapshot_send(struct raft *r, struct raft_progress *pr)
{
	struct raft_message *m;
	uint64_t left, len;

	if (pr->snap_index != r->snap.index) {
		pr->snap_index = r->snap.index;
		pr->snap_offset = 0;
	}
	m = raft__msg_new(r, pr->id, RAFT_MSG_SNAPSHOT);
	if (m == NULL)
		return;
	left = r->snap_len - u64_min(pr->snap_offset, r->snap_len);
	len = u64_min(left, r->cfg.msg_bytes_max);
	m->u.snapshot.meta = r->snap;
	m->u.snapshot.total_len = r->snap_len;
	m->u.snapshot.offset = r->snap_len - left;
	m->u.snapshot.len = (uint32_t)len;
	m->u.snapshot.data = r->snap_data + (r->snap_len - left);
	m->u.snapshot.done = (uint8_t)(len == left);
	pr->snap_sent_ms = r->now_ms;
	TRACE_D(r->tracer, RAFT_MOD, "%llu: snapshot %llu to %llu: offset "
		"%llu, %llu of %llu bytes", (unsigned long long)r->cfg.id,
		(unsigned long long)r->snap.index, (unsigned long long)pr->id,
		(unsigned long long)m->u.snapshot.offset,
		(unsigned long long)len, (unsigned long long)r->snap_len);
}

void raft__recv_snapshot_resp(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_snapshot_resp *s = &m->u.snapshot_resp;
	struct raft_progress *pr = raft__progress_get(r, m->from);

	if (r->role != RAFT_LEADER || pr == NULL)
		return;
	pr->last_heard_ms = r->now_ms;
	TRACE_D(r->tracer, RAFT_MOD, "%llu: snapshot answer from %llu: index "
		"%llu next %llu done %u reject %u (state %u, sending %llu)",
		(unsigned long long)r->cfg.id, (unsigned long long)m->from,
		(unsigned long long)s->index,
		(unsigned long long)s->next_offset, s->done, s->reject,
		pr->state, (unsigned long long)pr->snap_index);
	if (s->done) {
		if (s->index > pr->match && s->index <= log_last(r)) {
			pr->match = s->index;
			pr->last_progress_ms = r->now_ms;
		}
		if (pr->state == RAFT_SNAPSHOT) {
			if (pr->match < r->snap.index) {
				/* It holds the entries but not yet durably:
				 * its append ack will follow its fsync; until
				 * then only the retransmit timer resends. */
				raft__replicate_maybe_commit(r);
				return;
			}
			pr->next = pr->match + 1;
			raft__progress_to_probe(r, pr);
		}
		raft__replicate_maybe_commit(r);
		if (r->role != RAFT_LEADER)
			return;
		raft__replicate_to(r, pr);
		return;
	}
	if (pr->state != RAFT_SNAPSHOT || s->index != pr->snap_index)
		return;
	if (s->reject)
		pr->snap_offset = u64_min(s->next_offset, r->snap_len);
	else if (s->next_offset > pr->snap_offset)
		pr->snap_offset = u64_min(s->next_offset, r->snap_len);
	else
		return; /* a duplicate answer */
	if (pr->snap_offset < r->snap_len)
		raft__snapshot_send(r, pr);
}

static void send_snapshot_resp(struct raft *r, raft_id to, raft_index index,
			       uint64_t next_offset, int done, int reject)
{
	struct raft_message *m = raft__msg_new(r, to, RAFT_MSG_SNAPSHOT_RESP);

	if (m == NULL)
		return;
	m->u.snapshot_resp.index = index;
	m->u.snapshot_resp.next_offset = next_offset;
	m->u.snapshot_resp.done = (uint8_t)done;
	m->u.snapshot_resp.reject = (uint8_t)reject;
}

/* Starts reassembling a snapshot; 0 or ERR_NOMEM. */
static int rcv_start(struct raft *r, const struct raft_msg_snapshot *s)
{
	uint8_t *p;

	if (s->total_len > r->rcv_snap_cap || r->rcv_snap == NULL) {
		p = realloc(r->rcv_snap, (size_t)u64_max(s->total_len, 1));
		if (p == NULL)
			return ERR_NOMEM;
		r->rcv_snap = p;
		r->rcv_snap_cap = s->total_len;
	}
	r->rcv_snap_meta = s->meta;
	r->rcv_snap_len = 0;
	r->rcv_total = s->total_len;
	return 0;
}

/* Replaces the whole log by the received snapshot and hands it to the
 * driver (update step 1). */
static void install(struct raft *r)
{
	uint8_t *old = r->snap_data;
	uint64_t old_cap = r->snap_cap;

	raft__log_clear(r);
	r->snap = r->rcv_snap_meta;
	r->snap_data = r->rcv_snap;
	r->snap_len = r->rcv_snap_len;
	r->snap_cap = r->rcv_snap_cap;
	r->rcv_snap = old;
	r->rcv_snap_cap = old_cap;
	r->rcv_snap_len = 0;
	r->rcv_total = 0;
	r->unstable = r->snap.index + 1;
	r->truncate_from = 0;
	/* Nothing of the new state is durable until SNAPSHOT_APPLIED. */
	r->persisted = 0;
	r->applied = u64_max(r->applied, r->snap.index);
	raft__commit_advance(r, r->snap.index);
	r->ack_match = u64_max(r->ack_match, r->snap.index);
	r->snap_installing = 1;
	r->up_snap.meta = r->snap;
	r->up_snap.data = r->snap_data;
	r->up_snap.len = r->snap_len;
	r->up_snap_ready = 1;
	raft__conf_recompute(r);
	TRACE_I(r->tracer, RAFT_MOD, "%llu: installing snapshot at %llu "
		"(term %llu, %llu bytes)", (unsigned long long)r->cfg.id,
		(unsigned long long)r->snap.index,
		(unsigned long long)r->snap.term,
		(unsigned long long)r->snap_len);
}

void raft__recv_snapshot(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_snapshot *s = &m->u.snapshot;

	if (r->snap_installing)
		return; /* answered once the driver reports it durable */
	if (s->meta.index <= r->snap.index || s->meta.index <= r->commit ||
	    raft__log_term(r, s->meta.index) == s->meta.term) {
		/* We hold this state already: committed entries match the
		 * leader's, and so does a log holding the snapshot's last
		 * entry (Log Matching). Installing would throw away entries
		 * after it that we may have acknowledged (a snapshot sent
		 * while our acks were in flight). The snapshot covers only
		 * committed entries, so its index is committed. Claim only
		 * what is durable. */
		if (s->meta.index > r->commit && s->meta.index <= log_last(r))
			raft__commit_advance(r, s->meta.index);
		TRACE_D(r->tracer, RAFT_MOD, "%llu: holds snapshot %llu "
			"already (snap %llu commit %llu durable %llu last %llu)",
			(unsigned long long)r->cfg.id,
			(unsigned long long)s->meta.index,
			(unsigned long long)r->snap.index,
			(unsigned long long)r->commit,
			(unsigned long long)raft__log_durable(r),
			(unsigned long long)log_last(r));
		send_snapshot_resp(r, m->from,
				   u64_max(r->snap.index,
					   u64_min(s->meta.index,
						   raft__log_durable(r))),
				   s->total_len, 1, 0);
		return;
	}
	if (s->total_len > r->cfg.snapshot_bytes_max) {
		TRACE_E(r->tracer, RAFT_MOD, "%llu: snapshot of %llu bytes "
			"exceeds the limit", (unsigned long long)r->cfg.id,
			(unsigned long long)s->total_len);
		return;
	}
	if (s->offset == 0) {
		if (rcv_start(r, s) != 0)
			return;
	} else if (r->rcv_snap_meta.index != s->meta.index ||
		   r->rcv_snap_meta.term != s->meta.term ||
		   r->rcv_total != s->total_len ||
		   s->offset != r->rcv_snap_len) {
		int same = r->rcv_snap_meta.index == s->meta.index &&
			   r->rcv_snap_meta.term == s->meta.term &&
			   r->rcv_total == s->total_len;

		send_snapshot_resp(r, m->from, s->meta.index,
				   same ? r->rcv_snap_len : 0, 0, 1);
		return;
	}
	if (s->len > 0) {
		memcpy(r->rcv_snap + r->rcv_snap_len, s->data, s->len);
		r->rcv_snap_len += s->len;
	}
	if (s->done && r->rcv_snap_len == r->rcv_total) {
		install(r);
		return;
	}
	send_snapshot_resp(r, m->from, s->meta.index, r->rcv_snap_len, 0, 0);
}

int raft__snapshot_applied(struct raft *r, raft_index index)
{
	TRACE_D(r->tracer, RAFT_MOD, "%llu: snapshot %llu durable (installing "
		"%llu: %d)", (unsigned long long)r->cfg.id,
		(unsigned long long)index, (unsigned long long)r->snap.index,
		r->snap_installing);
	if (!r->snap_installing || index != r->snap.index)
		return ERR_INVAL;
	r->snap_installing = 0;
	r->persisted = u64_max(r->persisted, r->snap.index);
	if (r->role == RAFT_FOLLOWER && r->leader != 0) {
		send_snapshot_resp(r, r->leader, r->snap.index, r->snap_len, 1,
				   0);
		r->ack_sent = u64_max(r->ack_sent, r->snap.index);
	}
	raft__replicate_send_ack(r);
	return 0;
}

int raft__snapshot_taken(struct raft *r, raft_index index, const uint8_t *data,
		   uint64_t len)
{
	struct raft_configuration conf;
	uint8_t *copy;
	raft_term term;
	int rv;

	if (index <= r->snap.index || index > r->applied ||
	    index > r->commit || r->snap_installing)
		return ERR_INVAL;
	if (len > r->cfg.snapshot_bytes_max)
		return ERR_TOOBIG;
	rv = raft__conf_at(r, index, &conf);
	if (rv != 0)
		return rv;
	term = raft__log_term(r, index);
	copy = malloc((size_t)u64_max(len, 1));
	if (copy == NULL)
		return ERR_NOMEM;
	if (len > 0)
		memcpy(copy, data, (size_t)len);
	raft__log_compact(r, index);
	free(r->snap_data);
	r->snap_data = copy;
	r->snap_len = len;
	r->snap_cap = len;
	r->snap.index = index;
	r->snap.term = term;
	r->snap.conf = conf;
	r->compacted_hint = index;
	TRACE_D(r->tracer, RAFT_MOD, "%llu: snapshot at %llu, log compacted",
		(unsigned long long)r->cfg.id, (unsigned long long)index);
	return 0;
}
