/*
 * requests.c: what the driver's users wait for. Proposals and membership
 * changes are kept in a ring in index order until their entry is applied
 * (on_result with the index, the KV revision, and the state machine's
 * result) or replaced (ERR_NOTLEADER). Reads are batched into ReadIndex
 * rounds (thesis 6.4): one round is in flight at a time; reads arriving
 * meanwhile wait and share the next one, so a heartbeat round serves any
 * number of them, each still confirmed by a quorum after it arrived. A
 * confirmed read is served (on_read) once the state machine has applied
 * its index; rounds confirm in order and their indexes never decrease, so
 * serving from the head of the ring keeps that order.
 */
#include "node/raftd/raftd_int.h"

#include <string.h>

#include "base/assert.h"
#include "base/err.h"

/* ---- proposals ---- */

static struct raftd_pending *pend_at(struct raftd *d, uint32_t i)
{
	return &d->pend[(d->pend_head + i) % RAFTD_PENDING_MAX];
}

static void pend_result(struct raftd *d, const struct raftd_pending *p,
			int status, raft_index index, int result)
{
	struct raftd_pending copy = *p;

	d->m.proposals_failed += status != 0;
	d->env.on_result(d->env.ctx, copy.cookie, status, index, result);
}

static void pend_pop_head(struct raftd *d, int status, raft_index index,
			  int result)
{
	struct raftd_pending p = *pend_at(d, 0);

	d->pend_head = (d->pend_head + 1) % RAFTD_PENDING_MAX;
	d->pend_n--;
	pend_result(d, &p, status, index, result);
}

/* Entries from `from` on were deleted: proposals there never apply. */
void raftd__pend_truncated(struct raftd *d, raft_index from)
{
	while (d->pend_n > 0 && pend_at(d, d->pend_n - 1)->index >= from) {
		struct raftd_pending p = *pend_at(d, d->pend_n - 1);

		d->pend_n--;
		pend_result(d, &p, ERR_NOTLEADER, p.index, 0);
	}
}

void raftd__pend_push(struct raftd *d, uint64_t cookie, raft_index index,
		      raft_term term)
{
	ASSERT(d->pend_n < RAFTD_PENDING_MAX);
	ASSERT(index > 0);
	/* A leader appends after its whole log, so a lower index means the
	 * entries there were replaced (reported already, but be sure). */
	raftd__pend_truncated(d, index);
	*pend_at(d, d->pend_n) = (struct raftd_pending){cookie, index, term};
	d->pend_n++;
	d->m.proposals++;
}

/* The entry at res->index was applied: its proposer learns the outcome. */
void raftd__pend_applied(struct raftd *d, const struct raftd_applied *res)
{
	while (d->pend_n > 0 && pend_at(d, 0)->index < res->index)
		pend_pop_head(d, ERR_TIMEOUT, pend_at(d, 0)->index, 0);
	if (d->pend_n == 0 || pend_at(d, 0)->index != res->index)
		return;
	if (pend_at(d, 0)->term == res->term)
		pend_pop_head(d, 0, res->index, res->result);
	else
		pend_pop_head(d, ERR_NOTLEADER, res->index, 0);
}

/* A snapshot replaced the log up to index: proposals at or below it can
 * no longer learn their outcome (the entries that would tell are gone). */
void raftd__pend_snapshot(struct raftd *d, raft_index index)
{
	while (d->pend_n > 0 && pend_at(d, 0)->index <= index)
		pend_pop_head(d, ERR_TIMEOUT, pend_at(d, 0)->index, 0);
}

/* ---- reads ---- */

static struct raftd_read *read_at(struct raftd *d, uint32_t i)
{
	return &d->reads[(d->reads_head + i) % RAFTD_READS_MAX];
}

/* Ends every read of `round` (0: those waiting for a round) with status,
 * keeping the order of the others. */
static void reads_fail(struct raftd *d, uint64_t round, int status)
{
	uint32_t k = 0, n = d->reads_n;

	for (uint32_t i = 0; i < n; i++) {
		struct raftd_read rd = *read_at(d, i);

		if (rd.round == round && !rd.confirmed) {
			d->env.on_read(d->env.ctx, rd.cookie, status, 0);
			continue;
		}
		*read_at(d, k++) = rd;
	}
	d->reads_n = k;
}

void raftd__reads_confirm(struct raftd *d, const struct raft_read *rr)
{
	if (!d->round_inflight || rr->ctx != d->round)
		return; /* not ours (cannot happen: one round at a time) */
	d->round_inflight = 0;
	if (rr->status != 0) {
		reads_fail(d, rr->ctx, rr->status);
		return;
	}
	for (uint32_t i = 0; i < d->reads_n; i++) {
		struct raftd_read *rd = read_at(d, i);

		if (rd->round == rr->ctx) {
			rd->confirmed = 1;
			rd->index = rr->index;
		}
	}
}

/* Confirmed reads whose index is applied are served, oldest first (their
 * indexes never decrease: each round reads a later commit index). */
void raftd__reads_serve(struct raftd *d)
{
	while (d->reads_n > 0 && read_at(d, 0)->confirmed &&
	       read_at(d, 0)->index <= d->applied) {
		struct raftd_read rd = *read_at(d, 0);

		d->reads_head = (d->reads_head + 1) % RAFTD_READS_MAX;
		d->reads_n--;
		d->env.on_read(d->env.ctx, rd.cookie, 0, rd.index);
	}
}

/* Ends every proposal and read (raftd stopping or closing). */
void raftd__requests_fail(struct raftd *d, int status)
{
	while (d->pend_n > 0)
		pend_pop_head(d, status, pend_at(d, 0)->index, 0);
	while (d->reads_n > 0) {
		struct raftd_read rd = *read_at(d, 0);

		d->reads_head = (d->reads_head + 1) % RAFTD_READS_MAX;
		d->reads_n--;
		d->env.on_read(d->env.ctx, rd.cookie, status, 0);
	}
	d->round_inflight = 0;
}

/* Starts a heartbeat round for the last `waiting` reads (raft's
 * ReadIndex, thesis 6.4). 0, or raft's refusal. */
static int round_begin(struct raftd *d, uint32_t waiting)
{
	struct raft_event ev;
	int rv;

	ASSERT(!d->round_inflight && waiting <= d->reads_n);
	d->round++;
	for (uint32_t i = d->reads_n - waiting; i < d->reads_n; i++)
		read_at(d, i)->round = d->round;
	d->round_inflight = 1;
	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_EV_READ_INDEX;
	ev.u.read_index.ctx = d->round;
	rv = raftd__step(d, &ev);
	if (rv != 0 && !d->failed)
		d->round_inflight = 0;
	d->m.read_rounds += rv == 0;
	return rv;
}

int raftd__start_round(struct raftd *d)
{
	uint32_t waiting = 0;
	int rv;

	if (d->round_inflight)
		return 0;
	for (uint32_t i = d->reads_n; i > 0 && read_at(d, i - 1)->round == 0 &&
				      !read_at(d, i - 1)->confirmed;
	     i--)
		waiting++;
	if (waiting == 0)
		return 0;
	rv = round_begin(d, waiting);
	if (rv != 0 && !d->failed)
		reads_fail(d, d->round, rv);
	return 1;
}

/* ---- the public calls ---- */

static int propose(struct raftd *d, struct raft_event *ev, uint64_t cookie)
{
	if (d->pend_n == RAFTD_PENDING_MAX)
		return ERR_AGAIN;
	ev->type = RAFT_EV_PROPOSE;
	return raftd__step_ex(d, ev, &cookie);
}

int raftd_propose(struct raftd *d, uint64_t now_ms, const uint8_t *data,
		  size_t len, uint64_t cookie)
{
	struct raft_event ev;
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	if (len > UINT32_MAX)
		return raftd__leave(d, ERR_TOOBIG);
	memset(&ev, 0, sizeof(ev));
	ev.u.propose.type = RAFT_ENTRY_NORMAL;
	ev.u.propose.data = data;
	ev.u.propose.len = (uint32_t)len;
	return raftd__leave(d, propose(d, &ev, cookie));
}

int raftd_change(struct raftd *d, uint64_t now_ms, uint8_t op, raft_id id,
		 uint64_t cookie)
{
	struct raft_event ev;
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	memset(&ev, 0, sizeof(ev));
	ev.u.propose.type = RAFT_ENTRY_CONFIG;
	ev.u.propose.change.op = op;
	ev.u.propose.change.id = id;
	return raftd__leave(d, propose(d, &ev, cookie));
}

int raftd_read_index(struct raftd *d, uint64_t now_ms, uint64_t cookie)
{
	struct raftd_read *rd;
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	if (raft_current_role(&d->r) != RAFT_LEADER)
		return raftd__leave(d, ERR_NOTLEADER);
	if (d->reads_n == RAFTD_READS_MAX)
		return raftd__leave(d, ERR_AGAIN);
	rd = read_at(d, d->reads_n++);
	memset(rd, 0, sizeof(*rd));
	rd->cookie = cookie;
	d->m.reads++;
	if (!d->round_inflight) {
		/* Start its round now, so that an error is this call's. */
		rv = round_begin(d, 1);
		if (rv != 0 && !d->failed) {
			d->reads_n--; /* the last one: this read */
			d->m.reads--;
			return raftd__leave(d, rv);
		}
	}
	return raftd__leave(d, 0);
}

