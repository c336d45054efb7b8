/* harness.c: see harness.h. */
#include "tests/unit/raft/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cmocka_all.h"

#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"

void h_config(struct raft_config *c, raft_id id)
{
	raft_config_default(c);
	c->id = id;
	c->election_timeout_ms_min = 100;
	c->election_timeout_ms_max = 200;
	c->heartbeat_ms = 20;
	c->msg_bytes_max = 4096;
	c->inflight_max = 8;
	c->uncommitted_bytes_max = 1 << 20;
	c->seed = 1000 + id;
}

static void bootstrap_entry(int n, int voters, struct h_entry *e)
{
	struct raft_configuration c;
	struct mp_writer w;

	memset(&c, 0, sizeof(c));
	for (int i = 0; i < n; i++) {
		c.servers[i].id = (raft_id)(i + 1);
		c.servers[i].role = i < voters ? RAFT_VOTER : RAFT_LEARNER;
	}
	c.n = (uint32_t)n;
	mp_writer_init(&w, 4096);
	raft_conf_encode(&c, &w);
	e->term = 1;
	e->type = RAFT_ENTRY_CONFIG;
	e->len = (uint32_t)mp_writer_len(&w);
	e->data = malloc(e->len);
	memcpy(e->data, mp_writer_data(&w), e->len);
	mp_writer_free(&w);
}

static void node_boot(struct h *h, int id)
{
	struct h_node *nd = &h->nodes[id];
	struct raft_entry *ents = calloc(nd->log_n + 1, sizeof(*ents));
	int rv;

	for (uint64_t i = 0; i < nd->log_n; i++) {
		ents[i].term = nd->log[i].term;
		ents[i].index = nd->snap.index + 1 + i;
		ents[i].type = nd->log[i].type;
		ents[i].len = nd->log[i].len;
		ents[i].data = nd->log[i].data;
	}
	assert_int_equal(raft_init(&nd->r, &nd->cfg), 0);
	rv = raft_restore(&nd->r, &nd->hs, &nd->snap, nd->snap_data,
			  nd->snap_len, ents, nd->log_n, nd->applied);
	assert_int_equal(rv, 0);
	free(ents);
	nd->alive = 1;
	nd->handed_last = raft_last_index(&nd->r);
	nd->handed_term = raft_term_at(&nd->r, nd->handed_last);
}

void h_init(struct h *h, int n, int voters,
	    void (*cfg_fn)(struct raft_config *c, void *arg), void *arg)
{
	h_init2(h, n, n, voters, cfg_fn, arg);
}

void h_init2(struct h *h, int n, int members, int voters,
	     void (*cfg_fn)(struct raft_config *c, void *arg), void *arg)
{
	memset(h, 0, sizeof(*h));
	assert_true(n >= 1 && n <= H_NODES);
	h->n = n;
	h->step_ms = 5;
	h->q = calloc(H_QUEUE, sizeof(*h->q));
	for (int id = 1; id <= n; id++) {
		struct h_node *nd = &h->nodes[id];

		h_config(&nd->cfg, (raft_id)id);
		if (cfg_fn != NULL)
			cfg_fn(&nd->cfg, arg);
		nd->log = calloc(1, sizeof(*nd->log));
		if (id <= members) {
			bootstrap_entry(members, voters, &nd->log[0]);
			nd->log_n = 1;
		}
		node_boot(h, id);
	}
}

static void disk_free(struct h_node *nd)
{
	for (uint64_t i = 0; i < nd->log_n; i++)
		free(nd->log[i].data);
	free(nd->log);
	free(nd->snap_data);
	nd->log = NULL;
	nd->log_n = 0;
	nd->snap_data = NULL;
}

void h_free(struct h *h)
{
	for (int id = 1; id <= h->n; id++) {
		if (h->nodes[id].alive)
			raft_close(&h->nodes[id].r);
		disk_free(&h->nodes[id]);
	}
	while (h->q_n > 0) {
		free(h->q[h->q_head].buf);
		h->q_head = (h->q_head + 1) % H_QUEUE;
		h->q_n--;
	}
	free(h->q);
}

static void disk_truncate(struct h_node *nd, raft_index from)
{
	assert_true(from > nd->snap.index);
	while (nd->log_n > 0 && nd->snap.index + nd->log_n >= from) {
		free(nd->log[nd->log_n - 1].data);
		nd->log_n--;
	}
}

static void disk_append(struct h_node *nd, const struct raft_entry *e)
{
	struct h_entry *x;

	assert_int_equal(e->index, nd->snap.index + nd->log_n + 1);
	nd->log = realloc(nd->log, (size_t)(nd->log_n + 1) * sizeof(*nd->log));
	x = &nd->log[nd->log_n++];
	x->term = e->term;
	x->type = e->type;
	x->len = e->len;
	x->data = NULL;
	if (e->len > 0) {
		x->data = malloc(e->len);
		memcpy(x->data, e->data, e->len);
	}
}

static void disk_snapshot(struct h_node *nd, const struct raft_snapshot *s)
{
	for (uint64_t i = 0; i < nd->log_n; i++)
		free(nd->log[i].data);
	nd->log_n = 0;
	free(nd->snap_data);
	nd->snap = s->meta;
	nd->snap_data = malloc(s->len + 1);
	memcpy(nd->snap_data, s->data, s->len);
	nd->snap_len = s->len;
	/* The state machine becomes the snapshot's (forged snapshots from
	 * the codec tests carry arbitrary bytes). */
	nd->applied = s->meta.index;
	nd->applied_sum = s->len >= 16 ? get_u64le(s->data + 8) : 0;
	nd->snapshots_installed++;
}

static void disk_compact(struct h_node *nd, raft_index upto)
{
	uint64_t drop;

	if (upto <= nd->snap.index)
		return;
	drop = upto - nd->snap.index;
	if (drop > nd->log_n)
		drop = nd->log_n;
	for (uint64_t i = 0; i < drop; i++)
		free(nd->log[i].data);
	memmove(nd->log, nd->log + drop,
		(size_t)(nd->log_n - drop) * sizeof(*nd->log));
	nd->log_n -= drop;
	/* The snapshot metadata was recorded by h_snapshot. */
}

static void apply(struct h_node *nd, const struct raft_entry *e)
{
	assert_int_equal(e->index, nd->applied + 1);
	nd->applied = e->index;
	if (e->index < H_APPLIED_MAX)
		nd->applied_term[e->index] = e->term;
	for (uint32_t i = 0; i < e->len; i++)
		nd->applied_sum = nd->applied_sum * 31 + e->data[i];
	nd->applied_sum = nd->applied_sum * 31 + e->term;
}

static void h_send(struct h *h, int from, const struct raft_message *m)
{
	struct h_node *nd = &h->nodes[from];
	struct mp_writer w;
	struct h_msg *q;
	uint8_t *buf;
	size_t len;
	int to = (int)m->to;

	nd->sent[m->type]++;
	if (m->type == RAFT_MSG_APPEND_RESP && !m->u.append_resp.success)
		nd->rejects_sent++;
	if (m->type == RAFT_MSG_APPEND && to >= 1 && to <= H_NODES)
		nd->appends_to[to]++;
	if (m->type == RAFT_MSG_APPEND) {
		nd->append_entries_sent += m->u.append.n_entries;
		if (m->u.append.n_entries > nd->max_append_entries)
			nd->max_append_entries = m->u.append.n_entries;
	}
	if (to < 1 || to > h->n || h->cut[from][to] || h->q_n == H_QUEUE) {
		h->dropped++;
		return;
	}
	mp_writer_init(&w, 64u << 20);
	raft_encode(m, &w);
	assert_int_equal(mp_writer_take(&w, &buf, &len), 0);
	mp_writer_free(&w);
	q = &h->q[(h->q_head + h->q_n) % H_QUEUE];
	q->from = from;
	q->to = to;
	q->buf = buf;
	q->len = len;
	h->q_n++;
}

void h_handle(struct h *h, int id, const struct raft_update *up)
{
	struct h_node *nd = &h->nodes[id];
	int snap_applied = 0;

	if (up->snapshot != NULL) {
		disk_snapshot(nd, up->snapshot);
		snap_applied = 1;
	}
	if (up->truncate_from != 0)
		disk_truncate(nd, up->truncate_from);
	for (uint64_t i = 0; i < up->n_entries; i++)
		disk_append(nd, &up->entries[i]);
	if (up->n_entries > 0) {
		nd->handed_last = up->entries[up->n_entries - 1].index;
		nd->handed_term = up->entries[up->n_entries - 1].term;
	}
	if (up->compact_to != 0)
		disk_compact(nd, up->compact_to);
	if (up->hard_state_changed)
		nd->hs = up->hard_state;
	for (uint32_t i = 0; i < up->n_msgs; i++)
		h_send(h, id, &up->msgs[i]);
	for (uint64_t i = 0; i < up->n_committed; i++)
		apply(nd, &up->committed[i]);
	for (uint32_t i = 0; i < up->n_reads && nd->reads_n < 64; i++)
		nd->reads[nd->reads_n++] = up->reads[i];
	if (snap_applied) {
		struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_APPLIED,
					.now_ms = h->now};

		ev.u.snapshot_applied.index = up->snapshot->meta.index;
		assert_int_equal(h_step(h, id, &ev), 0);
	}
	if (up->n_entries > 0 && !nd->manual_persist)
		h_persist(h, id);
}

void h_persist(struct h *h, int id)
{
	struct h_node *nd = &h->nodes[id];
	struct raft_event ev = {.type = RAFT_EV_PERSISTED, .now_ms = h->now};

	if (nd->handed_last == 0)
		return;
	ev.u.persisted.index = nd->handed_last;
	ev.u.persisted.term = nd->handed_term;
	(void)h_step(h, id, &ev);
}

int h_step(struct h *h, int id, struct raft_event *ev)
{
	struct raft_update up;
	int rv;

	if (!h->nodes[id].alive)
		return ERR_CLOSED;
	ev->now_ms = h->now;
	rv = raft_step(&h->nodes[id].r, ev, &up);
	h_handle(h, id, &up);
	return rv;
}

static void deliver(struct h *h, struct h_msg *q)
{
	struct raft_entry ents[RAFT_BATCH_MAX];
	struct raft_message m;
	struct raft_event ev = {.type = RAFT_EV_RECEIVE};
	int rv;

	rv = raft_decode(q->buf, q->len, &m, ents, RAFT_BATCH_MAX);
	assert_int_equal(rv, 0);
	ev.u.msg = &m;
	if (h->nodes[q->to].alive) {
		rv = h_step(h, q->to, &ev);
		assert_int_equal(rv, 0);
	}
	h->delivered++;
}

void h_drain(struct h *h)
{
	/* Held messages go back to the end of the queue; stop after one
	 * pass over them so a held node does not spin us forever. */
	for (uint64_t budget = 1000000; h->q_n > 0 && budget > 0; budget--) {
		struct h_msg q = h->q[h->q_head];
		size_t held = 0;

		h->q_head = (h->q_head + 1) % H_QUEUE;
		h->q_n--;
		if (h->hold[q.to] || h->cut[q.from][q.to]) {
			if (h->cut[q.from][q.to]) {
				free(q.buf);
				h->dropped++;
				continue;
			}
			h->q[(h->q_head + h->q_n) % H_QUEUE] = q;
			h->q_n++;
			for (size_t i = 0; i < h->q_n; i++) {
				struct h_msg *x =
					&h->q[(h->q_head + i) % H_QUEUE];

				held += h->hold[x->to] != 0;
			}
			if (held == h->q_n)
				return;
			continue;
		}
		deliver(h, &q);
		free(q.buf);
	}
}

int h_elect(struct h *h, uint64_t settle_ms)
{
	int l = h_run_until_leader(h, 2000);

	assert_true(l != 0);
	h_run(h, settle_ms);
	return l;
}

void h_run(struct h *h, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += h->step_ms) {
		h->now += h->step_ms;
		for (int id = 1; id <= h->n; id++) {
			struct raft_event ev = {.type = RAFT_EV_TICK};

			if (h->nodes[id].alive)
				(void)h_step(h, id, &ev);
		}
		h_drain(h);
	}
}

int h_leader(const struct h *h)
{
	int best = 0;
	raft_term t = 0;

	for (int id = 1; id <= h->n; id++) {
		const struct raft *r = &h->nodes[id].r;

		if (!h->nodes[id].alive || raft_current_role(r) != RAFT_LEADER)
			continue;
		if (best == 0 || raft_current_term(r) > t) {
			best = id;
			t = raft_current_term(r);
		}
	}
	return best;
}

int h_leaders_in_term(const struct h *h, raft_term t)
{
	int n = 0;

	for (int id = 1; id <= h->n; id++)
		n += h->nodes[id].alive &&
		     raft_current_role(&h->nodes[id].r) == RAFT_LEADER &&
		     raft_current_term(&h->nodes[id].r) == t;
	return n;
}

int h_run_until_leader(struct h *h, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += h->step_ms) {
		int l = h_leader(h);

		if (l != 0)
			return l;
		h_run(h, h->step_ms);
	}
	return h_leader(h);
}

int h_propose(struct h *h, int id, const char *data)
{
	struct raft_event ev = {.type = RAFT_EV_PROPOSE};

	ev.u.propose.type = RAFT_ENTRY_NORMAL;
	ev.u.propose.data = (const uint8_t *)data;
	ev.u.propose.len = (uint32_t)strlen(data);
	return h_step(h, id, &ev);
}

int h_change(struct h *h, int id, uint8_t op, raft_id target)
{
	struct raft_event ev = {.type = RAFT_EV_PROPOSE};

	ev.u.propose.type = RAFT_ENTRY_CONFIG;
	ev.u.propose.change.op = op;
	ev.u.propose.change.id = target;
	return h_step(h, id, &ev);
}

int h_read(struct h *h, int id, uint64_t ctx)
{
	struct raft_event ev = {.type = RAFT_EV_READ_INDEX};

	ev.u.read_index.ctx = ctx;
	return h_step(h, id, &ev);
}

int h_snapshot(struct h *h, int id)
{
	struct h_node *nd = &h->nodes[id];
	struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
	uint8_t data[16];
	const struct raft_configuration *c;
	int rv;

	put_u64le(data, nd->applied);
	put_u64le(data + 8, nd->applied_sum);
	ev.u.snapshot_taken.index = nd->applied;
	ev.u.snapshot_taken.data = data;
	ev.u.snapshot_taken.len = sizeof(data);
	c = raft_configuration(&nd->r);
	(void)c;
	rv = h_step(h, id, &ev);
	if (rv == 0) {
		/* Mirror the snapshot on disk (raft compacts its own copy). */
		free(nd->snap_data);
		nd->snap_data = malloc(sizeof(data));
		memcpy(nd->snap_data, data, sizeof(data));
		nd->snap_len = sizeof(data);
		nd->snap.index = nd->r.snap.index;
		nd->snap.term = nd->r.snap.term;
		nd->snap.conf = nd->r.snap.conf;
	}
	return rv;
}

void h_crash(struct h *h, int id)
{
	struct h_node *nd = &h->nodes[id];

	raft_close(&nd->r);
	nd->alive = 0;
}

void h_restart(struct h *h, int id)
{
	node_boot(h, id);
}

void h_cut(struct h *h, int a, int b, int on)
{
	h->cut[a][b] = on;
	h->cut[b][a] = on;
}

void h_isolate(struct h *h, int id, int on)
{
	for (int j = 1; j <= h->n; j++)
		if (j != id)
			h_cut(h, id, j, on);
}

void h_check_applied(const struct h *h)
{
	for (int a = 1; a <= h->n; a++)
		for (int b = a + 1; b <= h->n; b++) {
			const struct h_node *x = &h->nodes[a], *y = &h->nodes[b];
			raft_index n = x->applied < y->applied ? x->applied
							       : y->applied;

			for (raft_index i = 1; i <= n && i < H_APPLIED_MAX; i++) {
				if (x->applied_term[i] == 0 ||
				    y->applied_term[i] == 0)
					continue;
				if (x->applied_term[i] != y->applied_term[i])
					fail_msg("nodes %d and %d applied "
						 "different terms at %llu", a, b,
						 (unsigned long long)i);
			}
			if (x->applied == y->applied &&
			    x->applied_sum != y->applied_sum)
				fail_msg("nodes %d and %d differ at applied "
					 "%llu", a, b,
					 (unsigned long long)x->applied);
		}
}

void h_bare(struct raft *r, raft_id id, const raft_term *terms, int n,
	    raft_term term, uint32_t bugs)
{
	struct raft_config c;
	struct raft_entry ents[64];
	struct raft_hard_state hs = {.term = term};
	struct h_entry boot;

	assert_true(n < 63);
	bootstrap_entry(3, 3, &boot);
	h_config(&c, id);
	c.bugs = bugs;
	ents[0].index = 1;
	ents[0].term = 1;
	ents[0].type = RAFT_ENTRY_CONFIG;
	ents[0].len = boot.len;
	ents[0].data = boot.data;
	for (int i = 0; i < n; i++) {
		ents[i + 1].index = (raft_index)i + 2;
		ents[i + 1].term = terms[i];
		ents[i + 1].type = RAFT_ENTRY_NORMAL;
		ents[i + 1].len = 0;
		ents[i + 1].data = NULL;
	}
	assert_int_equal(raft_init(r, &c), 0);
	assert_int_equal(raft_restore(r, &hs, NULL, NULL, 0, ents,
				      (uint64_t)n + 1, 0),
			 0);
	free(boot.data);
}

int h_bare_recv(struct raft *r, uint64_t now, const struct raft_message *m,
		struct raft_update *up)
{
	struct raft_event ev = {.type = RAFT_EV_RECEIVE, .now_ms = now};

	ev.u.msg = m;
	return raft_step(r, &ev, up);
}
