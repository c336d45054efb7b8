/*
 * node.c: one simulated node's driver. It carries out raft's update
 * contract (raft.h, THE DRIVER CONTRACT) over the simulated disk and
 * network: snapshot, entries and hard state go to the journal; messages
 * that depend on a changed hard state are held until an fsync covers it;
 * "persisted" is reported to raft only when an fsync covers the entries;
 * committed entries are applied to the key-value store. Along the way it
 * feeds the checkers (check.h) with everything it sees.
 */
#include "tests/sim/raft/simint.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/mp.h"
#include "tests/sim/raft/journal.h"

#define NODE_DISK_LIMIT	   (16u << 20)
#define NODE_COMPACT_BYTES (64u << 10)
#define NODE_MSG_BYTES_MAX (1u << 20)

static const struct sim_disk_params disk_params = {
    /* BENCH.md measured ~0.3 ms p50 for a 4 KiB fdatasync here; we
     * stretch it (and add stalls) so that the window between a write and
     * its durability is wide enough for crashes to land in. */
    .fsync_min_us = 300, .fsync_jitter_us = 5000, .fsync_slow_us = 100000,
    .p_slow = 0.05,	 .p_torn = 0.7,		  .p_garbage = 0.5,
};

uint64_t node_local_ms(const struct sim_node *nd, uint64_t sim_us)
{
	/* local = offset + t * (1 + drift); in integers, microseconds. */
	uint64_t scaled =
	    sim_us * (uint64_t)(1000000 + nd->drift_ppm) / 1000000;

	return nd->offset_ms + scaled / 1000;
}

/* The earliest sim time at which the node's clock reads local_ms. */
static uint64_t sim_us_at_local(const struct sim_node *nd, uint64_t now_us,
				uint64_t local_ms)
{
	uint64_t lo = now_us, hi = now_us + 1000;

	if (node_local_ms(nd, lo) >= local_ms)
		return lo;
	while (node_local_ms(nd, hi) < local_ms)
		hi += (hi - now_us) * 2;
	while (lo + 1 < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (node_local_ms(nd, mid) >= local_ms)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

static int chain_reserve(struct sim_node *nd, size_t n)
{
	size_t cap = nd->chain_cap ? nd->chain_cap : 256;
	uint64_t *c;
	raft_term *t;

	if (n < nd->chain_cap)
		return 0;
	while (cap <= n)
		cap *= 2;
	c = realloc(nd->chain, cap * sizeof(*c));
	if (c == NULL)
		return ERR_NOMEM;
	nd->chain = c;
	t = realloc(nd->terms, cap * sizeof(*t));
	if (t == NULL)
		return ERR_NOMEM;
	nd->terms = t;
	nd->chain_cap = cap;
	return 0;
}

/* Resets the mirror to start after a snapshot at base. */
static void mirror_reset(struct sim *s, struct sim_node *nd, raft_index base,
			 raft_term term)
{
	const struct check_committed *c = sim_check_committed_at(&s->chk, base);

	nd->chain_base = base;
	nd->chain_n = 0;
	ASSERT(chain_reserve(nd, 1) == 0);
	nd->terms[0] = term;
	nd->chain[0] = 0;
	if (base == 0)
		return;
	if (c == NULL || c->term != term) {
		sim_violation(s,
			      "n%d holds a snapshot at index %" PRIu64
			      " term %" PRIu64 " that was never committed",
			      nd->slot, base, term);
		return;
	}
	nd->chain[0] = c->chain;
}

/* Appends entries to the mirror (after truncation) and checks Log
 * Matching for each. */
static void mirror_append(struct sim *s, struct sim_node *nd, raft_index tf,
			  const struct raft_entry *e, uint64_t n)
{
	if (tf != 0 && tf <= nd->chain_base + nd->chain_n) {
		ASSERT(tf > nd->chain_base);
		nd->chain_n = tf - nd->chain_base - 1;
	}
	for (uint64_t i = 0; i < n; i++) {
		size_t k = (size_t)(e[i].index - nd->chain_base);

		if (k != nd->chain_n + 1) {
			sim_violation(
			    s,
			    "n%d was handed entry %" PRIu64 " after %" PRIu64,
			    nd->slot, e[i].index, nd->chain_base + nd->chain_n);
			return;
		}
		ASSERT(chain_reserve(nd, k) == 0);
		nd->terms[k] = e[i].term;
		nd->chain[k] = sim_chain(nd->chain[k - 1], e[i].term, e[i].data,
					 e[i].len, e[i].type);
		nd->chain_n = k;
		if (sim_check_entry(&s->chk, nd->slot, e[i].index, e[i].term,
				    nd->chain[k]) != 0)
			sim_violation(s, "%s", s->chk.msg);
	}
}

static int mirror_has(const struct sim_node *nd, raft_index i)
{
	return i > nd->chain_base && i <= nd->chain_base + nd->chain_n;
}

static int use_stor(const struct sim *s)
{
	return s->o->disk == SIM_DISK_STOR;
}

/* The gate of what has been written so far, and the mark up to which
 * it is durable: journal lengths, or virtual times with the store. */
static uint64_t disk_gate(const struct sim *s, const struct sim_node *nd)
{
	if (use_stor(s) && s->o->bug_early_durable)
		return 0; /* the planted driver bug: nothing waits */
	return use_stor(s) ? nd->st_gate : nd->disk.len;
}

static uint64_t disk_mark(const struct sim *s, const struct sim_node *nd)
{
	return use_stor(s) ? nd->st_durable : nd->disk.synced;
}

static void schedule_fsync(struct sim *s, struct sim_node *nd)
{
	if (use_stor(s)) {
		sdisk_schedule(s, nd);
		/* The planted bug reports at once what is not durable. */
		if (s->o->bug_early_durable && nd->pend_n > 0)
			sim_push(s, s->now_us, EV_FSYNC_DONE, nd->slot, 0,
				 nd->disk_epoch, NULL, 0);
		return;
	}
	if (nd->fsync_inflight || nd->disk.len == nd->disk.synced)
		return;
	nd->fsync_inflight = 1;
	sim_push(s, s->now_us + sim_disk_fsync_us(&nd->disk), EV_FSYNC_DONE,
		 nd->slot, nd->disk.len, nd->disk_epoch, NULL, 0);
}

static void add_pending(struct sim *s, struct sim_node *nd, raft_index index,
			raft_term term, raft_index snap)
{
	struct pending *p;

	if (nd->pend_n == SIM_PENDING_MAX) {
		/* Full: fold into the last item; its later end covers both. */
		p = &nd->pend[nd->pend_n - 1];
	} else {
		p = &nd->pend[nd->pend_n++];
		memset(p, 0, sizeof(*p));
	}
	p->gate = disk_gate(s, nd);
	if (index != 0) {
		p->index = index;
		p->term = term;
	}
	if (snap > p->snap_applied)
		p->snap_applied = snap;
}

static void disk_fail(struct sim *s, struct sim_node *nd, int rv)
{
	sim_violation(s, "n%d: journal write failed: %s", nd->slot,
		      err_name(rv));
}

static void send_bytes(struct sim *s, struct sim_node *nd, int to,
		       const uint8_t *buf, size_t len)
{
	uint64_t when[2];
	int k = sim_net_route(&s->net, s->now_us, nd->slot, to, when);

	for (int i = 0; i < k; i++) {
		uint8_t *copy = malloc(len);

		ASSERT(copy != NULL);
		memcpy(copy, buf, len);
		sim_push(s, when[i], EV_DELIVER, to, (uint64_t)nd->slot, 0,
			 copy, len);
	}
	s->res->msgs++;
}

static int slot_of(struct sim *s, raft_id id)
{
	return id >= 1 && id <= (raft_id)s->n ? (int)id - 1 : -1;
}

static void send_msgs(struct sim *s, struct sim_node *nd,
		      const struct raft_update *up)
{
	struct mp_writer w;

	mp_writer_init(&w, NODE_MSG_BYTES_MAX);
	for (uint32_t i = 0; i < up->n_msgs; i++) {
		int to = slot_of(s, up->msgs[i].to);

		if (to < 0) { /* the simulated servers are ids 1..n */
			sim_violation(s, "n%d sends a %s to id %" PRIu64,
				      nd->slot,
				      raft_msg_type_name(up->msgs[i].type),
				      up->msgs[i].to);
			break;
		}
		mp_writer_reset(&w);
		raft_encode(&up->msgs[i], &w);
		if (mp_writer_error(&w) != 0) {
			sim_violation(s, "n%d: raft_encode failed: %s",
				      nd->slot, err_name(mp_writer_error(&w)));
			break;
		}
		/* Every message carries the current term and may rest on
		 * the latest vote, so it waits for the last hard state
		 * written, whether by this update or an earlier one. */
		if (nd->hs_gate <= disk_mark(s, nd)) {
			send_bytes(s, nd, to, mp_writer_data(&w),
				   mp_writer_len(&w));
			continue;
		}
		if (nd->held_n == SIM_HELD_MAX)
			continue; /* dropped, as a full send queue would */
		nd->held[nd->held_n].gate = nd->hs_gate;
		nd->held[nd->held_n].to = to;
		nd->held[nd->held_n].len = mp_writer_len(&w);
		nd->held[nd->held_n].buf = malloc(mp_writer_len(&w));
		ASSERT(nd->held[nd->held_n].buf != NULL);
		memcpy(nd->held[nd->held_n].buf, mp_writer_data(&w),
		       mp_writer_len(&w));
		nd->held_n++;
	}
	mp_writer_free(&w);
}

static void install_snapshot(struct sim *s, struct sim_node *nd,
			     const struct raft_snapshot *snap)
{
	int rv;

	if (use_stor(s)) {
		if (sdisk_install(s, nd, snap) != 0)
			return;
	} else if ((rv = journal_put_snap(&nd->disk, 1, &snap->meta, snap->data,
					  snap->len)) != 0) {
		disk_fail(s, nd, rv);
		return;
	} else if (kv_restore(&nd->kv, snap->data, (size_t)snap->len) != 0) {
		sim_violation(s, "n%d: snapshot data does not decode",
			      nd->slot);
		return;
	}
	nd->applied = snap->meta.index;
	nd->snap_index = snap->meta.index;
	nd->sm_conf = snap->meta.conf;
	mirror_reset(s, nd, snap->meta.index, snap->meta.term);
	add_pending(s, nd, 0, 0, snap->meta.index);
	sim_trace(s, "n%d installs snapshot index=%" PRIu64 " term=%" PRIu64,
		  nd->slot, snap->meta.index, snap->meta.term);
}

/* The checks before an entry may be applied as index applied + k. */
static int apply_check(struct sim *s, struct sim_node *nd,
		       const struct raft_entry *e, uint64_t k)
{
	if (e->index != nd->applied + 1 + k) {
		sim_violation(s, "n%d applies index %" PRIu64 " after %" PRIu64,
			      nd->slot, e->index, nd->applied + k);
		return -1;
	}
	if (!mirror_has(nd, e->index) ||
	    nd->terms[e->index - nd->chain_base] != e->term) {
		sim_violation(
		    s, "n%d applies index %" PRIu64 " it never persisted",
		    nd->slot, e->index);
		return -1;
	}
	if (sim_check_committed(&s->chk, nd->slot, e->index, e->term,
				nd->chain[e->index - nd->chain_base]) != 0) {
		sim_violation(s, "%s (on apply)", s->chk.msg);
		return -1;
	}
	return 0;
}

/* With the store, the results come from its simkv domain; the mirror
 * (kv.c) must agree with every one of them. */
static void apply_stor_result(struct sim *s, struct sim_node *nd,
			      const struct kv_cmd *cmd,
			      const struct kv_result *res, uint64_t k)
{
	const struct sdisk_result *r = &nd->st_res[k];

	if (r->client != cmd->client || r->seq != cmd->seq ||
	    r->out != res->out || r->stale != res->stale)
		sim_violation(s,
			      "n%d: the store applied index %" PRIu64
			      " as out=%" PRIu64 " stale=%d, the model as "
			      "out=%" PRIu64 " stale=%d",
			      nd->slot, nd->applied, r->out, r->stale, res->out,
			      res->stale);
}

static void apply_one(struct sim *s, struct sim_node *nd,
		      const struct raft_entry *e, uint64_t k)
{
	struct kv_cmd cmd;
	struct kv_result res;

	if (!use_stor(s) && apply_check(s, nd, e, 0) != 0)
		return;
	nd->applied = e->index;
	if (e->type == RAFT_ENTRY_CONFIG) {
		if (raft_conf_decode(e->data, e->len, &nd->sm_conf) != 0)
			sim_violation(s, "n%d: config entry does not decode",
				      nd->slot);
		return;
	}
	if (e->type != RAFT_ENTRY_NORMAL)
		return;
	if (kv_cmd_decode(e->data, e->len, &cmd) != 0) {
		sim_violation(s, "n%d: command does not decode", nd->slot);
		return;
	}
	kv_apply(&nd->kv, &cmd, &res);
	if (use_stor(s))
		apply_stor_result(s, nd, &cmd, &res, k);
	sim_node_applied(s, nd, cmd.client, cmd.seq, res.out, res.stale);
}

/* Whether a majority of the voters in leader l's configuration hold
 * l's entry at index i (or a snapshot past it). Raft asks for more,
 * that they hold it durably; the mirrors know what each node was handed,
 * so this is the weaker rule, and a leader that breaks it commits an
 * entry most voters never saw. */
static int quorum_holds(struct sim *s, const struct sim_node *l, raft_index i)
{
	const struct raft_configuration *c = raft_configuration(&l->r);
	uint64_t want = l->chain[i - l->chain_base];
	uint32_t voters = 0, hold = 0;

	for (uint32_t k = 0; k < c->n; k++) {
		int slot = slot_of(s, c->servers[k].id);
		const struct sim_node *v;

		if (c->servers[k].role != RAFT_VOTER || slot < 0)
			continue;
		v = &s->node[slot];
		voters++;
		hold += v->chain_base >= i ||
			(mirror_has(v, i) && v->chain[i - v->chain_base] == want);
	}
	return hold >= voters / 2 + 1;
}

static void check_commit(struct sim *s, struct sim_node *nd,
			 const struct raft_update *up)
{
	if (up->commit < nd->last_commit) {
		sim_violation(s,
			      "n%d commit index moved back from %" PRIu64
			      " to %" PRIu64,
			      nd->slot, nd->last_commit, up->commit);
		return;
	}
	/* Paper 5.4.2: a leader commits by counting replicas only entries
	 * of its own term (older ones follow by the Log Matching property),
	 * so whenever a leader moves its commit index, it lands on one. */
	if (!s->o->end_to_end_only && up->role == RAFT_LEADER &&
	    up->commit > nd->last_commit && mirror_has(nd, up->commit) &&
	    nd->terms[up->commit - nd->chain_base] != up->term) {
		sim_violation(s,
			      "n%d leads term %" PRIu64 " and commits up to "
			      "index %" PRIu64 " of term %" PRIu64
			      " by counting replicas (paper 5.4.2)",
			      nd->slot, up->term, up->commit,
			      nd->terms[up->commit - nd->chain_base]);
		return;
	}
	if (!s->o->end_to_end_only && up->role == RAFT_LEADER &&
	    up->commit > nd->last_commit && mirror_has(nd, up->commit) &&
	    !quorum_holds(s, nd, up->commit)) {
		sim_violation(s,
			      "n%d commits index %" PRIu64 " that most voters "
			      "of its configuration do not hold",
			      nd->slot, up->commit);
		return;
	}
	for (raft_index i = nd->last_commit + 1; i <= up->commit; i++) {
		if (!mirror_has(nd, i))
			continue; /* covered by a snapshot */
		if (sim_check_committed(&s->chk, nd->slot, i,
					nd->terms[i - nd->chain_base],
					nd->chain[i - nd->chain_base]) != 0) {
			sim_violation(s, "%s", s->chk.msg);
			return;
		}
	}
	nd->last_commit = up->commit;
}

/* Leader Completeness (paper 5.4.1): a new leader holds every entry any
 * node knows committed. */
static void check_new_leader(struct sim *s, struct sim_node *nd,
			     const struct raft_update *up)
{
	raft_index cm = sim_check_commit_max(&s->chk);
	const struct check_committed *c = sim_check_committed_at(&s->chk, cm);

	if (sim_check_leader(&s->chk, up->term, nd->slot) != 0) {
		sim_violation(s, "%s", s->chk.msg);
		return;
	}
	if (nd->last_role == RAFT_LEADER && nd->last_term == up->term)
		return;
	s->res->elections++;
	sim_node_became_leader(s, nd);
	sim_trace(s,
		  "n%d becomes leader term=%" PRIu64 " last=%" PRIu64
		  " commit=%" PRIu64,
		  nd->slot, up->term, raft_last_index(&nd->r), up->commit);
	if (cm <= nd->chain_base)
		return;
	if (!mirror_has(nd, cm) || nd->chain[cm - nd->chain_base] != c->chain)
		sim_violation(s,
			      "leader completeness: n%d leads term %" PRIu64
			      " without committed index %" PRIu64,
			      nd->slot, up->term, cm);
}

static void check_hard_state(struct sim *s, struct sim_node *nd,
			     const struct raft_hard_state *hs)
{
	if (hs->term < nd->last_term)
		sim_violation(
		    s, "n%d term moved back from %" PRIu64 " to %" PRIu64,
		    nd->slot, nd->last_term, hs->term);
	/* One vote per term (paper Figure 2: votedFor changes only with
	 * the term), across restarts too: the stored vote is the promise. */
	if (!s->o->end_to_end_only && hs->term == nd->hs_term &&
	    nd->hs_vote != 0 && hs->vote != nd->hs_vote)
		sim_violation(s,
			      "n%d votes for %" PRIu64 " in term %" PRIu64
			      " after voting for %" PRIu64,
			      nd->slot, hs->vote, hs->term, nd->hs_vote);
	nd->hs_term = hs->term;
	nd->hs_vote = hs->vote;
}

static void schedule_tick(struct sim *s, struct sim_node *nd,
			  uint64_t deadline_ms)
{
	uint64_t at = sim_us_at_local(nd, s->now_us, deadline_ms);

	if (at < s->now_us + 1000)
		at = s->now_us + 1000; /* at most one tick per ms */
	if (at >= nd->tick_at_us)
		return;
	nd->tick_at_us = at;
	sim_push(s, at, EV_TICK, nd->slot, nd->incarnation, 0, NULL, 0);
}

/* Step 5 with the store: every entry checked, then one stor_apply for
 * all of them, then each result handed out. */
static void apply_stor(struct sim *s, struct sim_node *nd,
		       const struct raft_update *up)
{
	uint64_t n;
	int *codes;

	for (n = 0; n < up->n_committed; n++)
		if (apply_check(s, nd, &up->committed[n], n) != 0)
			break;
	if (n == 0)
		return;
	codes = calloc((size_t)n, sizeof(*codes));
	ASSERT(codes != NULL);
	if (sdisk_apply(s, nd, up->committed, n, codes) == 0) {
		for (uint64_t i = 0; i < n; i++)
			if (codes[i] != 0)
				sim_violation(s,
					      "n%d: the store rejects index "
					      "%" PRIu64 ": %s",
					      nd->slot, up->committed[i].index,
					      err_name(codes[i]));
		for (uint64_t i = 0; i < n && !s->failed; i++)
			apply_one(s, nd, &up->committed[i], i);
	}
	free(codes);
}

static int persist_entries(struct sim *s, struct sim_node *nd,
			   const struct raft_update *up)
{
	int rv;

	if (use_stor(s))
		return sdisk_entries(s, nd, up->truncate_from, up->entries,
				     up->n_entries);
	rv = journal_put_entries(&nd->disk, up->truncate_from, up->entries,
				 up->n_entries);
	if (rv != 0)
		disk_fail(s, nd, rv);
	return rv;
}

static int persist_hard_state(struct sim *s, struct sim_node *nd,
			      const struct raft_hard_state *hs)
{
	int rv;

	if (use_stor(s))
		rv = sdisk_hard_state(s, nd, hs);
	else if ((rv = journal_put_hs(&nd->disk, hs)) != 0)
		disk_fail(s, nd, rv);
	nd->hs_gate = disk_gate(s, nd);
	return rv;
}

static void carry_out(struct sim *s, struct sim_node *nd,
		      const struct raft_update *up)
{
	if (up->snapshot != NULL)
		install_snapshot(s, nd, up->snapshot);
	if (nd->st_dead)
		return;
	if (up->truncate_from != 0 || up->n_entries > 0) {
		if (persist_entries(s, nd, up) != 0)
			return;
		mirror_append(s, nd, up->truncate_from, up->entries,
			      up->n_entries);
		if (up->n_entries > 0)
			add_pending(s, nd, up->entries[up->n_entries - 1].index,
				    up->entries[up->n_entries - 1].term, 0);
	}
	if (up->compact_to != 0 && use_stor(s) &&
	    sdisk_compact(s, nd, up->compact_to) != 0)
		return;
	if (up->hard_state_changed) {
		check_hard_state(s, nd, &up->hard_state);
		if (persist_hard_state(s, nd, &up->hard_state) != 0)
			return;
	}
	send_msgs(s, nd, up);
	schedule_fsync(s, nd);
	if (!s->o->end_to_end_only && up->n_committed > 0 &&
	    up->committed[up->n_committed - 1].index > up->commit) {
		sim_violation(s,
			      "n%d is handed index %" PRIu64
			      " to apply, beyond its commit index %" PRIu64,
			      nd->slot,
			      up->committed[up->n_committed - 1].index,
			      up->commit);
		return;
	}
	if (use_stor(s))
		apply_stor(s, nd, up);
	if (nd->st_dead)
		return; /* nothing more from a node whose disk failed */
	for (uint64_t i = 0; !use_stor(s) && i < up->n_committed && !s->failed;
	     i++)
		apply_one(s, nd, &up->committed[i], i);
	for (uint32_t i = 0; i < up->n_reads; i++)
		sim_node_read_done(s, nd, &up->reads[i]);
	sim_node_serve_reads(s, nd);
	schedule_tick(s, nd, up->deadline_ms);
}

static void check_status(struct sim *s, struct sim_node *nd,
			 const struct raft_update *up)
{
	if (up->term < nd->last_term)
		sim_violation(s, "n%d term moved back", nd->slot);
	if (up->role_changed != (up->role != nd->last_role ||
				 up->leader != nd->last_leader ||
				 up->term != nd->last_term))
		sim_violation(s, "n%d: role_changed says %d, wrongly", nd->slot,
			      up->role_changed);
	check_commit(s, nd, up);
	if (up->role == RAFT_LEADER)
		check_new_leader(s, nd, up);
	else if (nd->last_role == RAFT_LEADER)
		sim_node_lost_leadership(s, nd);
	if (up->role_changed && s->o->trace && up->role != RAFT_LEADER)
		sim_trace(s, "n%d %s term=%" PRIu64 " leader=%" PRIu64,
			  nd->slot, raft_role_name(up->role), up->term,
			  up->leader);
	nd->last_role = up->role;
	nd->last_leader = up->leader;
	nd->last_term = up->term;
}

int node_step(struct sim *s, struct sim_node *nd, struct raft_event *ev)
{
	struct raft_update up;
	int rv;

	ASSERT(nd->up);
	if (nd->st_dead)
		return 0; /* stopped on a failed disk; its crash is queued */
	ev->now_ms = node_local_ms(nd, s->now_us);
	s->cur_node = nd->slot;
	memset(&up, 0, sizeof(up));
	rv = raft_step(&nd->r, ev, &up);
	if (rv == 0) {
		carry_out(s, nd, &up);
		/* A node whose disk just failed stops here: raft moved on
		 * in memory, but none of it was carried out or will be. */
		if (!nd->st_dead)
			check_status(s, nd, &up);
	}
	return rv;
}

static void release_held(struct sim *s, struct sim_node *nd)
{
	int k = 0;

	for (int i = 0; i < nd->held_n; i++) {
		struct held_msg *h = &nd->held[i];

		if (h->gate <= disk_mark(s, nd)) {
			send_bytes(s, nd, h->to, h->buf, h->len);
			free(h->buf);
		} else {
			nd->held[k++] = *h;
		}
	}
	nd->held_n = k;
}

/* Reports everything the durable prefix now covers. */
static void complete_synced(struct sim *s, struct sim_node *nd)
{
	struct pending done[SIM_PENDING_MAX];
	int n = 0, k = 0;

	for (int i = 0; i < nd->pend_n; i++) {
		if (nd->pend[i].gate <= disk_mark(s, nd))
			done[n++] = nd->pend[i];
		else
			nd->pend[k++] = nd->pend[i];
	}
	nd->pend_n = k;
	release_held(s, nd);
	for (int i = 0; i < n && nd->up && !s->failed; i++) {
		struct raft_event ev;

		memset(&ev, 0, sizeof(ev));
		if (done[i].snap_applied != 0) {
			ev.type = RAFT_EV_SNAPSHOT_APPLIED;
			ev.u.snapshot_applied.index = done[i].snap_applied;
			node_step(s, nd, &ev);
		}
		if (done[i].index != 0) {
			ev.type = RAFT_EV_PERSISTED;
			ev.u.persisted.index = done[i].index;
			ev.u.persisted.term = done[i].term;
			node_step(s, nd, &ev);
		}
	}
}

void node_fsync_done(struct sim *s, struct sim_node *nd, size_t len,
		     uint32_t epoch)
{
	if (!nd->up || epoch != nd->disk_epoch || nd->st_dead)
		return;
	nd->fsync_inflight = 0;
	if (use_stor(s))
		sdisk_advance(s, nd);
	else
		sim_disk_synced(&nd->disk, len);
	complete_synced(s, nd);
	if (nd->up)
		schedule_fsync(s, nd);
}

static void raft_cfg(struct sim *s, struct sim_node *nd, struct raft_config *c)
{
	raft_config_default(c);
	c->id = nd->id;
	/* Short timeouts so a 60 s run sees many elections; ratios as in
	 * the paper (heartbeat well under half the minimum timeout). */
	c->election_timeout_ms_min = 300;
	c->election_timeout_ms_max = 600;
	c->heartbeat_ms = 50;
	/* Per seed (world.c, tune_raft): small messages so that appends
	 * batch and snapshots go in chunks, windows from stop-and-wait to
	 * deep pipelines, PreVote and CheckQuorum mostly on. */
	c->msg_bytes_max = s->tune.msg_bytes_max;
	c->inflight_max = s->tune.inflight_max;
	c->uncommitted_bytes_max = s->tune.uncommitted_bytes_max;
	c->prevote = s->tune.prevote;
	c->check_quorum = s->tune.check_quorum;
	c->bugs = s->o->bugs;
	c->seed = prng_next(&nd->rng);
	c->tracer = &s->raft_tracer;
}


/* What the driver tracks of a node just rebuilt from its disk (either
 * backend): applied and snapshot point, the checkers' mirror of its log,
 * and the role, term and commit the checkers compare against next. */
static void note_restored(struct sim *s, struct sim_node *nd,
			  const struct raft_snapshot_meta *snap,
			  const struct raft_entry *ents, uint64_t n)
{
	nd->applied = nd->snap_index = snap->index;
	nd->sm_conf = snap->conf;
	mirror_reset(s, nd, snap->index, snap->term);
	mirror_append(s, nd, 0, ents, n);
	nd->last_commit = raft_commit_index(&nd->r);
	nd->last_role = raft_current_role(&nd->r);
	nd->last_leader = raft_leader(&nd->r);
	nd->last_term = raft_current_term(&nd->r);
}

/* Reopens the store and hands what it holds to a fresh raft. */
static int node_boot_stor(struct sim *s, struct sim_node *nd)
{
	struct raft_config cfg;
	struct sdisk_boot b;
	int rv;

	if (sdisk_boot(s, nd, &b) != 0) {
		sdisk_boot_free(&b);
		return -1;
	}
	nd->hs_term = b.hs.term;
	nd->hs_vote = b.hs.vote;
	raft_cfg(s, nd, &cfg);
	rv = raft_init(&nd->r, &cfg);
	ASSERT(rv == 0);
	nd->raft_open = 1;
	rv = raft_restore(&nd->r, &b.hs, &b.snap, b.snap_data, b.snap_len,
			  b.ents, b.n, b.snap.index);
	if (rv != 0) {
		sim_violation(s, "n%d: raft_restore failed: %s", nd->slot,
			      err_name(rv));
		sdisk_boot_free(&b);
		return -1;
	}
	note_restored(s, nd, &b.snap, b.ents, b.n);
	sdisk_boot_free(&b);
	return 0;
}

/* Loads the journal and hands it to a fresh raft. */
static int node_boot(struct sim *s, struct sim_node *nd)
{
	struct raft_config cfg;
	uint64_t torn_before = nd->disk.stats.torn_dropped;
	struct jstate j;
	int rv;

	if (use_stor(s))
		return node_boot_stor(s, nd);
	if (journal_load(&nd->disk, &j) != 0) {
		sim_violation(s, "n%d: %s", nd->slot, j.err);
		jstate_free(&j);
		return -1;
	}
	/* What a restarted node reads back is on the platter: durable. */
	sim_disk_synced(&nd->disk, nd->disk.len);
	s->res->torn += nd->disk.stats.torn_dropped - torn_before;
	nd->hs_term = j.hs.term;
	nd->hs_vote = j.hs.vote;
	raft_cfg(s, nd, &cfg);
	rv = raft_init(&nd->r, &cfg);
	ASSERT(rv == 0);
	nd->raft_open = 1;
	rv = raft_restore(&nd->r, j.have_hs ? &j.hs : NULL, &j.snap,
			  j.snap_data, j.snap_len, j.ents, j.n, j.snap.index);
	if (rv != 0) {
		sim_violation(s, "n%d: raft_restore failed: %s", nd->slot,
			      err_name(rv));
		jstate_free(&j);
		return -1;
	}
	kv_init(&nd->kv);
	if (j.snap.index > 0 &&
	    kv_restore(&nd->kv, j.snap_data, (size_t)j.snap_len) != 0)
		sim_violation(s, "n%d: stored snapshot does not decode",
			      nd->slot);
	note_restored(s, nd, &j.snap, j.ents, j.n);
	jstate_free(&j);
	return 0;
}

int node_init(struct sim *s, struct sim_node *nd, int slot, int bootstrap,
	      const struct raft_configuration *conf)
{
	int rv;

	memset(nd, 0, sizeof(*nd));
	nd->slot = slot;
	nd->id = (raft_id)slot + 1;
	prng_fork(&s->rng, &nd->rng);
	/* Clocks drift by up to 1% either way (real quartz: ~0.01%; the
	 * exaggeration stresses every timer) and start at unrelated times. */
	nd->drift_ppm = (int64_t)prng_below(&nd->rng, 20001) - 10000;
	nd->offset_ms = prng_below(&nd->rng, 1000000);
	nd->tick_at_us = UINT64_MAX;
	rv = sim_disk_init(&nd->disk, NODE_DISK_LIMIT, &disk_params, &nd->rng);
	if (rv != 0)
		return rv;
	if (use_stor(s)) {
		rv = sdisk_init(s, nd, bootstrap, conf);
		if (rv != 0)
			return rv;
	} else if (bootstrap) {
		struct mp_writer w;
		struct raft_entry e;

		mp_writer_init(&w, 64 * 1024);
		raft_conf_encode(conf, &w);
		ASSERT(mp_writer_error(&w) == 0);
		e = (struct raft_entry){1, 1, RAFT_ENTRY_CONFIG,
					(uint32_t)mp_writer_len(&w),
					mp_writer_data(&w)};
		rv = journal_put_entries(&nd->disk, 0, &e, 1);
		mp_writer_free(&w);
		ASSERT(rv == 0);
		sim_disk_synced(&nd->disk, nd->disk.len);
	}
	nd->up = 1;
	return node_boot(s, nd);
}

void node_free(struct sim_node *nd)
{
	for (int i = 0; i < nd->held_n; i++)
		free(nd->held[i].buf);
	nd->held_n = 0;
	if (nd->raft_open)
		raft_close(&nd->r);
	nd->raft_open = 0;
	sim_disk_free(&nd->disk);
	sdisk_free(nd);
	free(nd->chain);
	free(nd->terms);
	nd->chain = NULL;
	nd->terms = NULL;
}

void node_crash(struct sim *s, struct sim_node *nd)
{
	ASSERT(nd->up);
	for (int i = 0; i < nd->held_n; i++)
		free(nd->held[i].buf);
	nd->held_n = 0;
	nd->pend_n = 0;
	nd->hs_gate = 0;
	nd->fsync_inflight = 0;
	nd->disk_epoch++;
	nd->incarnation++;
	nd->up = 0;
	nd->waiters_n = 0;
	nd->tick_at_us = UINT64_MAX;
	raft_close(&nd->r);
	nd->raft_open = 0;
	s->res->crashes++;
	if (use_stor(s)) {
		uint64_t torn = s->res->torn;

		sdisk_crash(s, nd);
		sim_trace(s, "n%d crashes (store: %" PRIu64 " torn write%s)",
			  nd->slot, s->res->torn - torn,
			  s->res->torn - torn == 1 ? "" : "s");
		return;
	}
	sim_disk_crash(&nd->disk);
	sim_trace(s, "n%d crashes (disk keeps %zu of %zu synced bytes)",
		  nd->slot, nd->disk.len, nd->disk.synced);
}

int node_restart(struct sim *s, struct sim_node *nd)
{
	struct raft_event ev;

	ASSERT(!nd->up);
	nd->up = 1;
	if (node_boot(s, nd) != 0)
		return -1;
	sim_trace(s,
		  "n%d restarts term=%" PRIu64 " last=%" PRIu64
		  " commit=%" PRIu64 " snap=%" PRIu64,
		  nd->slot, raft_current_term(&nd->r), raft_last_index(&nd->r),
		  raft_commit_index(&nd->r), nd->snap_index);
	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_EV_TICK;
	node_step(s, nd, &ev);
	return 0;
}

int node_take_snapshot(struct sim *s, struct sim_node *nd)
{
	struct raft_snapshot_meta meta;
	struct raft_event ev;
	uint8_t *data;
	size_t len;
	int rv;

	if (!nd->up || nd->applied <= nd->snap_index ||
	    !mirror_has(nd, nd->applied))
		return 0;
	if (use_stor(s)) {
		if (sdisk_snapshot(s, nd, &data, &len) != 0)
			return 0;
	} else if ((rv = kv_snapshot(&nd->kv, &data, &len)) != 0) {
		return rv;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_EV_SNAPSHOT_TAKEN;
	ev.u.snapshot_taken.index = nd->applied;
	ev.u.snapshot_taken.data = data;
	ev.u.snapshot_taken.len = len;
	meta.index = nd->applied;
	meta.term = nd->terms[nd->applied - nd->chain_base];
	meta.conf = nd->sm_conf;
	rv = node_step(s, nd, &ev);
	if (rv == 0 && use_stor(s)) {
		/* The store holds the state already; raft compacted the
		 * log through up->compact_to (carry_out). */
		nd->snap_index = meta.index;
		s->res->snapshots++;
	} else if (rv == 0) {
		rv = journal_put_snap(&nd->disk, 0, &meta, data, len);
		if (rv != 0)
			disk_fail(s, nd, rv);
		nd->snap_index = meta.index;
		s->res->snapshots++;
	} else {
		sim_violation(
		    s, "n%d: snapshot at applied index %" PRIu64 " refused: %s",
		    nd->slot, meta.index, err_name(rv));
	}
	free(data);
	if (rv == 0 && !use_stor(s) && nd->disk.len > NODE_COMPACT_BYTES) {
		struct jstate j;

		if (journal_load(&nd->disk, &j) != 0)
			sim_violation(s, "n%d: %s", nd->slot, j.err);
		else if ((rv = journal_compact(&nd->disk, &j)) != 0)
			disk_fail(s, nd, rv);
		jstate_free(&j);
		/* The rewrite made everything durable at once; the journal
		 * offsets the waiting work refers to are gone with it. */
		for (int i = 0; i < nd->pend_n; i++)
			nd->pend[i].gate = 0;
		for (int i = 0; i < nd->held_n; i++)
			nd->held[i].gate = 0;
		nd->hs_gate = 0;
		nd->disk_epoch++;
		nd->fsync_inflight = 0;
		complete_synced(s, nd);
	}
	if (nd->up)
		schedule_fsync(s, nd);
	return 0;
}

uint64_t node_read_value(struct sim *s, struct sim_node *nd, uint32_t key)
{
	uint64_t v;

	if (!use_stor(s))
		return nd->kv.val[key];
	v = sdisk_value(s, nd, key);
	if (!nd->st_dead && v != nd->kv.val[key])
		sim_violation(s,
			      "n%d: the store holds %" PRIu64 " for key %u, "
			      "the model %" PRIu64,
			      nd->slot, v, key, nd->kv.val[key]);
	return v;
}
