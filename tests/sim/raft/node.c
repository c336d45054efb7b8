/*
 * node.c: one simulated node. The node's own Raft driver (node/raftd)
 * runs it; the simulator supplies only its surroundings: the clock (each
 * node's drifting local time), the network (send goes through net.h's
 * links) and the disk (sdisk.c's port over storage's in-memory disk).
 * The checkers (check.h) watch through raftd's callbacks: every update
 * before it is carried out (the entries handed to disk, the hard state,
 * the entries to apply), every applied entry with the store's result
 * against the model's (kv.c), installed snapshots, and the status after
 * each step. The clients' requests go through raftd_propose and
 * raftd_read_index, and are answered from on_result and on_read.
 */
#include "tests/sim/raft/simint.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/storage.h"

uint64_t sim_node_local_ms(const struct sim_node *nd, uint64_t sim_us)
{
	/* local = offset + t * (1 + drift); in integers, microseconds. */
	uint64_t scaled =
	    sim_us * (uint64_t)(1000000 + nd->drift_ppm) / 1000000;

	return nd->offset_ms + scaled / 1000;
}

static uint64_t now_ms(const struct sim *s, const struct sim_node *nd)
{
	return sim_node_local_ms(nd, s->now_us);
}

/* The earliest sim time at which the node's clock reads local_ms. */
static uint64_t sim_us_at_local(const struct sim_node *nd, uint64_t now_us,
				uint64_t local_ms)
{
	uint64_t lo = now_us, hi = now_us + 1000;

	if (sim_node_local_ms(nd, lo) >= local_ms)
		return lo;
	while (sim_node_local_ms(nd, hi) < local_ms)
		hi += (hi - now_us) * 2;
	while (lo + 1 < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (sim_node_local_ms(nd, mid) >= local_ms)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

const struct raft *sim_raft(const struct sim_node *nd)
{
	return nd->d != NULL ? raftd_raft(nd->d) : NULL;
}

static int slot_of(const struct sim *s, raft_id id)
{
	return id >= 1 && id <= (raft_id)s->n ? (int)id - 1 : -1;
}

int sim_node_leader_hint(struct sim *s, const struct sim_node *nd)
{
	return nd->d != NULL ? slot_of(s, raft_leader(sim_raft(nd))) : -1;
}

/* ---- the checkers' mirror of the log ---- */

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

/* ---- the checks ---- */

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

/* Whether a majority of the voters in leader l's configuration hold
 * l's entry at index i (or a snapshot past it). Raft asks for more,
 * that they hold it durably; the mirrors know what each node was handed,
 * so this is the weaker rule, and a leader that breaks it commits an
 * entry most voters never saw. */
static int quorum_holds(struct sim *s, const struct sim_node *l, raft_index i)
{
	const struct raft_configuration *c = raft_configuration(sim_raft(l));
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
		  nd->slot, up->term, raft_last_index(sim_raft(nd)),
		  up->commit);
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

/* ---- raftd's environment ---- */

static void env_send(void *ctx, raft_id to_id, const uint8_t *buf, size_t len)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;
	int to = slot_of(s, to_id);
	uint64_t when[2];
	int k;

	if (to < 0) { /* the simulated servers are ids 1..n */
		sim_violation(s, "n%d sends a message to id %" PRIu64,
			      nd->slot, to_id);
		return;
	}
	k = sim_net_route(&s->net, s->now_us, nd->slot, to, when);
	for (int i = 0; i < k; i++) {
		uint8_t *copy = malloc(len);

		ASSERT(copy != NULL);
		memcpy(copy, buf, len);
		sim_push(s, when[i], EV_DELIVER, to, (uint64_t)nd->slot, 0,
			 copy, len);
	}
	s->res->msgs++;
}

static void env_set_timer(void *ctx, uint64_t deadline_ms)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;
	uint64_t at = sim_us_at_local(nd, s->now_us, deadline_ms);

	if (at < s->now_us + 1000)
		at = s->now_us + 1000; /* at most one tick per ms */
	if (at >= nd->tick_at_us)
		return;
	nd->tick_at_us = at;
	sim_push(s, at, EV_TICK, nd->slot, nd->incarnation, 0, NULL, 0);
}

static struct waiter *take_waiter(struct sim_node *nd, uint64_t cookie,
				  struct waiter *out)
{
	for (int i = 0; i < nd->waiters_n; i++) {
		if (nd->waiters[i].cookie != cookie)
			continue;
		*out = nd->waiters[i];
		nd->waiters[i] = nd->waiters[--nd->waiters_n];
		return out;
	}
	return NULL;
}

static void env_on_result(void *ctx, uint64_t cookie, int status,
			  raft_index index, int result)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;
	struct waiter w;

	if (nd->closing || take_waiter(nd, cookie, &w) == NULL)
		return; /* a membership change, or the node is crashing */
	if (status != 0) {
		sim_respond(s, w.client, w.seq, status, 0,
			    sim_node_leader_hint(s, nd));
		return;
	}
	if (result != 0 || nd->last_out_index != index) {
		sim_violation(s,
			      "n%d: proposal at index %" PRIu64
			      " ends with result %s, last applied %" PRIu64,
			      nd->slot, index, err_name(result),
			      nd->last_out_index);
		return;
	}
	sim_respond(s, w.client, w.seq, 0, nd->last_out, -1);
}

uint64_t sim_node_read_value(struct sim *s, struct sim_node *nd,
			     uint32_t key)
{
	uint64_t v = sdisk_value(s, nd, key);

	if (!nd->st_dead && v != nd->kv.val[key])
		sim_violation(s,
			      "n%d: the store holds %" PRIu64 " for key %u, "
			      "the model %" PRIu64,
			      nd->slot, v, key, nd->kv.val[key]);
	return v;
}

static void env_on_read(void *ctx, uint64_t cookie, int status,
			raft_index index)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;
	struct client *c;
	struct waiter w;

	if (nd->closing || take_waiter(nd, cookie, &w) == NULL)
		return;
	if (status != 0) {
		sim_respond(s, w.client, w.seq, status, 0, -1);
		return;
	}
	if (nd->applied < index)
		sim_violation(s,
			      "n%d serves a read at index %" PRIu64
			      " having applied %" PRIu64,
			      nd->slot, index, nd->applied);
	c = &s->cl[w.client];
	if (c->busy && c->seq == w.seq)
		sim_respond(s, w.client, w.seq, 0,
			    sim_node_read_value(s, nd, c->cmd.key), -1);
}

/* With the store, the results come from its simkv domain; the model
 * (kv.c) must agree with every one of them. */
static void env_on_apply(void *ctx, const struct raft_entry *e, int result)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;
	struct sdisk_result sr, *r = &sr;
	struct kv_result res;
	struct kv_cmd cmd;

	nd->applied = e->index;
	if (result != 0) {
		sim_violation(s, "n%d: the store rejects index %" PRIu64 ": %s",
			      nd->slot, e->index, err_name(result));
		return;
	}
	if (e->type != RAFT_ENTRY_NORMAL)
		return;
	if (sdisk_cmd_decode(e->data, e->len, &cmd) != 0) {
		sim_violation(s, "n%d: command does not decode", nd->slot);
		return;
	}
	kv_apply(&nd->kv, &cmd, &res);
	if (sdisk_take_result(nd, e->index, &sr) != 0)
		memset(&sr, 0xff, sizeof(sr)); /* differs from any result */
	if (r->client != cmd.client ||
	    r->seq != cmd.seq || r->out != res.out || r->stale != res.stale)
		sim_violation(s,
			      "n%d: the store applied index %" PRIu64
			      " as out=%" PRIu64 " stale=%d, the model as "
			      "out=%" PRIu64 " stale=%d",
			      nd->slot, e->index, r->out, r->stale, res.out,
			      res.stale);
	nd->last_out = res.out;
	nd->last_out_index = e->index;
}

static void env_on_fail(void *ctx, int code, const char *what)
{
	struct sim_node *nd = ctx;

	sdisk_fail(nd->s, nd, what, code);
}

/* Before raftd carries an update out: what it hands to disk and to the
 * state machine. */
static void env_on_update(void *ctx, const struct raft_update *up)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;

	s->cur_node = nd->slot;
	if (up->truncate_from != 0 || up->n_entries > 0)
		mirror_append(s, nd, up->truncate_from, up->entries,
			      up->n_entries);
	if (up->hard_state_changed)
		check_hard_state(s, nd, &up->hard_state);
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
	for (uint64_t i = 0; i < up->n_committed && !s->failed; i++)
		apply_check(s, nd, &up->committed[i], i);
}

/* After: the status the step left. */
static void env_on_done(void *ctx, const struct raft_update *up)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;

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
	if (up->role_changed && s->o->trace && up->role != RAFT_LEADER)
		sim_trace(s, "n%d %s term=%" PRIu64 " leader=%" PRIu64,
			  nd->slot, raft_role_name(up->role), up->term,
			  up->leader);
	nd->last_role = up->role;
	nd->last_leader = up->leader;
	nd->last_term = up->term;
	sdisk_schedule(s, nd);
}

static void env_on_install(void *ctx, const struct raft_snapshot_meta *m)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;

	nd->applied = m->index;
	nd->snap_index = m->index;
	mirror_reset(s, nd, m->index, m->term);
	if (sdisk_load_kv(s, nd) != 0)
		return;
	sim_trace(s, "n%d installs snapshot index=%" PRIu64 " term=%" PRIu64,
		  nd->slot, m->index, m->term);
}

/* ---- boot ---- */

static void node_config(struct sim *s, struct sim_node *nd,
			struct raftd_config *c)
{
	raftd_config_default(c);
	c->raft.id = nd->id;
	/* Short timeouts so a 60 s run sees many elections; ratios as in
	 * the paper (heartbeat well under half the minimum timeout). */
	c->raft.election_timeout_ms_min = 300;
	c->raft.election_timeout_ms_max = 600;
	c->raft.heartbeat_ms = 50;
	/* Per seed (world.c, tune_raft): small messages so that appends
	 * batch and snapshots go in chunks, windows from stop-and-wait to
	 * deep pipelines, PreVote and CheckQuorum mostly on. */
	c->raft.msg_bytes_max = s->tune.msg_bytes_max;
	c->raft.inflight_max = s->tune.inflight_max;
	c->raft.uncommitted_bytes_max = s->tune.uncommitted_bytes_max;
	c->raft.prevote = s->tune.prevote;
	c->raft.check_quorum = s->tune.check_quorum;
	c->raft.bugs = s->o->bugs;
	c->raft.seed = prng_next(&nd->rng);
	c->raft.tracer = &s->raft_tracer;
	/* The driver's own cadence, per node, besides world.c's timer. */
	c->snapshot_entries = nd->snap_entries;
	c->snapshot_bytes = 0;
	c->bugs = s->o->bug_early_durable ? RAFTD_BUG_EARLY_DURABLE : 0;
	sdisk_port(nd, &nd->port);
	c->disk = &nd->port;
	c->tracer = &s->raft_tracer;
}

/* What the checkers track of a node just rebuilt from its disk: applied
 * and snapshot point, the mirror of its log, and the role, term and
 * commit they compare against next. */
static void note_restored(struct sim *s, struct sim_node *nd)
{
	const struct raft *r = sim_raft(nd);
	struct raftd_status st;

	raftd_status(nd->d, &st);
	nd->applied = nd->snap_index = st.applied;
	mirror_reset(s, nd, st.applied, raft_term_at(r, st.applied));
	for (raft_index i = st.applied + 1; i <= st.last_index; i++)
		mirror_append(s, nd, 0, raft_entry_at(r, i), 1);
	nd->hs_term = r->term;
	nd->hs_vote = r->vote;
	nd->last_commit = st.commit;
	nd->last_role = st.role;
	nd->last_leader = raft_leader(r);
	nd->last_term = st.term;
}

/* Reopens the store and the driver on it. */
static int node_boot(struct sim *s, struct sim_node *nd)
{
	struct raftd_config cfg;
	struct raftd_env env = {
	    .ctx = nd,
	    .send = env_send,
	    .set_timer = env_set_timer,
	    .on_result = env_on_result,
	    .on_read = env_on_read,
	    .on_apply = env_on_apply,
	    .on_fail = env_on_fail,
	    .on_update = env_on_update,
	    .on_done = env_on_done,
	    .on_install = env_on_install,
	};
	int rv;

	if (sdisk_open(s, nd) != 0)
		return -1;
	node_config(s, nd, &cfg);
	s->cur_node = nd->slot;
	rv = raftd_open(nd->st, &cfg, &env, now_ms(s, nd), &nd->d);
	if (rv != 0) {
		char text[256] = "";

		stor_last_error(nd->st, text, sizeof(text));
		sim_violation(s, "n%d: raftd_open failed: %s (%s)", nd->slot,
			      err_name(rv), text);
		nd->d = NULL;
		return -1;
	}
	if (sdisk_load_kv(s, nd) != 0)
		return -1;
	note_restored(s, nd);
	return 0;
}

int sim_node_init(struct sim *s, struct sim_node *nd, int slot,
		  int bootstrap, const struct raft_configuration *conf)
{
	int rv;

	memset(nd, 0, sizeof(*nd));
	nd->s = s;
	nd->slot = slot;
	nd->id = (raft_id)slot + 1;
	prng_fork(&s->rng, &nd->rng);
	/* Clocks drift by up to 1% either way (real quartz: ~0.01%; the
	 * exaggeration stresses every timer) and start at unrelated times. */
	nd->drift_ppm = (int64_t)prng_below(&nd->rng, 20001) - 10000;
	nd->offset_ms = prng_below(&nd->rng, 1000000);
	/* Snapshots every 30 to 330 applied entries besides the timer's:
	 * from frequent (followers often catch up by snapshot) to rare. */
	nd->snap_entries = 30 + prng_below(&nd->rng, 301);
	nd->tick_at_us = UINT64_MAX;
	rv = sdisk_init(s, nd, bootstrap, conf);
	if (rv != 0)
		return rv;
	nd->up = 1;
	return node_boot(s, nd);
}

static void close_driver(struct sim *s, struct sim_node *nd)
{
	struct raftd_metrics m;

	if (nd->d == NULL)
		return;
	raftd_metrics(nd->d, &m);
	s->res->snapshots += m.snapshots_taken;
	nd->closing = 1;
	raftd_close(nd->d);
	nd->closing = 0;
	nd->d = NULL;
}

void sim_node_free(struct sim *s, struct sim_node *nd)
{
	close_driver(s, nd);
	sdisk_free(nd);
	free(nd->chain);
	free(nd->terms);
	nd->chain = NULL;
	nd->terms = NULL;
}

/* ---- events ---- */

/* After every call into raftd: the disk's next durability event. */
static int called(struct sim *s, struct sim_node *nd, int rv)
{
	if (nd->up && !nd->st_dead)
		sdisk_schedule(s, nd);
	return rv;
}

static int live(const struct sim_node *nd)
{
	return nd->up && !nd->st_dead && nd->d != NULL;
}

void sim_node_tick(struct sim *s, struct sim_node *nd)
{
	if (live(nd))
		called(s, nd, raftd_tick(nd->d, now_ms(s, nd)));
}

void sim_node_deliver(struct sim *s, struct sim_node *nd, int from,
		      const uint8_t *buf, size_t len)
{
	char hex[2 * 48 + 1];
	size_t k = len < 48 ? len : 48;
	int rv;

	if (!live(nd))
		return;
	s->cur_node = nd->slot;
	rv = called(s, nd,
		    raftd_receive(nd->d, now_ms(s, nd), (raft_id)from + 1,
				  buf, len));
	if (rv == 0 || nd->st_dead)
		return;
	for (size_t i = 0; i < k; i++)
		snprintf(hex + 2 * i, 3, "%02x", buf[i]);
	hex[2 * k] = 0;
	sim_violation(s,
		      "n%d rejects a message from n%d: %s (%zu bytes: %s)",
		      nd->slot, from, err_name(rv), len, hex);
}

/* A proposal raft accepted is its last entry, of the type proposed (and
 * for a command, with its bytes), unless the node stopped on its disk
 * in the same call. */
static void check_proposed(struct sim *s, struct sim_node *nd, uint8_t type,
			   const uint8_t *data, size_t len)
{
	const struct raft *r;
	const struct raft_entry *e;

	if (!live(nd))
		return;
	r = sim_raft(nd);
	e = raft_entry_at(r, raft_last_index(r));
	if (e == NULL || e->type != type || e->term != raft_current_term(r) ||
	    (data != NULL &&
	     (e->len != len || memcmp(e->data, data, len) != 0)))
		sim_violation(s,
			      "n%d accepted a proposal (type %u) that is not "
			      "its last entry %" PRIu64,
			      nd->slot, type, raft_last_index(r));
}

void sim_node_request(struct sim *s, struct sim_node *nd, int ci,
		      uint64_t seq)
{
	struct client *c = &s->cl[ci];
	struct waiter *w;
	uint8_t *buf;
	size_t len;
	int rv;

	if (!live(nd) || !c->busy || c->seq != seq)
		return;
	if (raft_current_role(sim_raft(nd)) != RAFT_LEADER ||
	    nd->waiters_n == SIM_WAITERS_MAX) {
		sim_respond(s, ci, seq, ERR_NOTLEADER, 0,
			    sim_node_leader_hint(s, nd));
		return;
	}
	w = &nd->waiters[nd->waiters_n++];
	*w = (struct waiter){ci, seq, ++nd->cookie_next};
	s->cur_node = nd->slot;
	if (c->use_read_index) {
		rv = raftd_read_index(nd->d, now_ms(s, nd), w->cookie);
	} else {
		rv = sdisk_envelope(&c->cmd, &buf, &len);
		ASSERT(rv == 0);
		rv = raftd_propose(nd->d, now_ms(s, nd), buf, len, w->cookie);
		if (rv == 0)
			check_proposed(s, nd, RAFT_ENTRY_NORMAL, buf, len);
		free(buf);
	}
	called(s, nd, rv);
	if (rv != 0 && !nd->st_dead) {
		struct waiter gone;

		/* Not accepted: no callback will come. */
		if (take_waiter(nd, nd->cookie_next, &gone) != NULL)
			sim_respond(s, ci, seq, rv, 0,
				    sim_node_leader_hint(s, nd));
	}
}

int sim_node_transfer(struct sim *s, struct sim_node *nd, raft_id to)
{
	if (!live(nd))
		return ERR_SHUTDOWN;
	s->cur_node = nd->slot;
	return called(s, nd, raftd_transfer(nd->d, now_ms(s, nd), to));
}

int sim_node_change(struct sim *s, struct sim_node *nd, uint8_t op,
		    raft_id id)
{
	int rv;

	if (!live(nd))
		return ERR_SHUTDOWN;
	s->cur_node = nd->slot;
	/* The result is not awaited: cookie 0 matches no waiter. */
	rv = called(s, nd, raftd_change(nd->d, now_ms(s, nd), op, id, 0));
	if (rv == 0)
		check_proposed(s, nd, RAFT_ENTRY_CONFIG, NULL, 0);
	return rv;
}

void sim_node_fsync_done(struct sim *s, struct sim_node *nd, uint32_t epoch)
{
	if (!live(nd) || epoch != nd->disk_epoch)
		return;
	sdisk_advance(s, nd);
	s->cur_node = nd->slot;
	called(s, nd, raftd_disk_done(nd->d, now_ms(s, nd), nd->st_durable));
}

void sim_node_crash(struct sim *s, struct sim_node *nd)
{
	uint64_t torn = s->res->torn;

	ASSERT(nd->up);
	close_driver(s, nd);
	nd->disk_epoch++;
	nd->incarnation++;
	nd->up = 0;
	nd->waiters_n = 0;
	nd->tick_at_us = UINT64_MAX;
	s->res->crashes++;
	sdisk_crash(s, nd);
	sim_trace(s, "n%d crashes (store: %" PRIu64 " torn write%s)", nd->slot,
		  s->res->torn - torn, s->res->torn - torn == 1 ? "" : "s");
}

int sim_node_restart(struct sim *s, struct sim_node *nd)
{
	struct raftd_status st;

	ASSERT(!nd->up);
	nd->up = 1;
	if (node_boot(s, nd) != 0)
		return -1;
	raftd_status(nd->d, &st);
	sim_trace(s,
		  "n%d restarts term=%" PRIu64 " last=%" PRIu64
		  " commit=%" PRIu64 " snap=%" PRIu64,
		  nd->slot, st.term, st.last_index, st.commit, nd->snap_index);
	sim_node_tick(s, nd);
	return 0;
}

int sim_node_snapshot(struct sim *s, struct sim_node *nd)
{
	int rv;

	if (!live(nd) || nd->applied <= nd->snap_index)
		return 0;
	s->cur_node = nd->slot;
	rv = called(s, nd, raftd_snapshot(nd->d, now_ms(s, nd)));
	if (rv != 0 && !nd->st_dead)
		sim_violation(
		    s, "n%d: snapshot at applied index %" PRIu64 " refused: %s",
		    nd->slot, nd->applied, err_name(rv));
	else if (rv == 0)
		nd->snap_index = nd->applied;
	return 0;
}
