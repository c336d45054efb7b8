/*
 * raftd.c: the Raft driver's event side. Every public call steps raft
 * (raft/raft.h) and carries out the update in the order of THE DRIVER
 * CONTRACT (see raftd.h for what each step becomes over storage/).
 *
 * Durability is tracked with gates (raftd.h, the disk port): each write
 * gets one, the port reports a mark, and work waits in two bounded
 * queues until the mark covers its gate: durable[] (RAFT_EV_PERSISTED and
 * RAFT_EV_SNAPSHOT_APPLIED reports to step) and held[] (encoded messages
 * waiting for a term or vote to be durable, thesis 3.8 / paper Figure 2:
 * "updated on stable storage before responding to RPCs"). Entries need
 * not be durable before messages go out: raft counts none before its
 * persisted report (thesis 10.2.1), so a leader writes its log in
 * parallel with replication.
 *
 * After the step that an event caused, pump() finishes what that step
 * made possible without another outside event: durability already
 * reached (a direct write drained the port), the next ReadIndex round
 * for reads that arrived during the previous one, and a snapshot due by
 * the cadence. Each of these steps raft again, so pump loops until none
 * is left; callbacks never re-enter (in_call).
 */
#include "node/raftd/raftd_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/mp.h"

/* From an SSD's fsync (well under 1 ms) to a stalled device (seconds). */
const uint64_t raftd_lat_bounds_ms[RAFTD_LAT_BUCKETS - 1] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000,
};

void raftd_config_default(struct raftd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	raft_config_default(&cfg->raft);
	/* A restart replays at most this much; a follower behind by less
	 * catches up from the log instead of a whole state transfer. */
	cfg->snapshot_entries = 10000;
	cfg->snapshot_bytes = 64u << 20;
	cfg->snapshot_stream_max = cfg->raft.snapshot_bytes_max;
}

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

/* ---- failure ---- */

static void held_free(struct raftd *d)
{
	for (uint32_t i = 0; i < d->held_n; i++)
		free(d->held[i].buf);
	d->held_n = 0;
}

void raftd__fail(struct raftd *d, int code, const char *what)
{
	if (d->failed)
		return;
	ASSERT(code != 0);
	d->failed = code;
	TRACE_E(d->tr, RAFTD_MOD, "%llu: storage %s failed: %s; the driver "
		"stops", ull(d->cfg.raft.id), what, err_name(code));
	held_free(d);
	d->dur_n = 0;
	if (d->opening)
		return; /* raftd_open returns the error instead */
	if (d->env.on_fail != NULL)
		d->env.on_fail(d->env.ctx, code, what);
	raftd__requests_fail(d, ERR_SHUTDOWN);
}

/* ---- durability ---- */

static uint64_t disk_gate(const struct raftd *d)
{
	if (d->cfg.bugs & RAFTD_BUG_EARLY_DURABLE)
		return 0; /* the planted bug: nothing waits */
	return d->gate;
}

void raftd__add_durable(struct raftd *d, raft_index index, raft_term term,
			raft_index snap)
{
	struct raftd_durable *p;

	if (d->dur_n == RAFTD_DURABLE_MAX) {
		p = &d->dur[d->dur_n - 1]; /* its later gate covers both */
	} else {
		p = &d->dur[d->dur_n++];
		memset(p, 0, sizeof(*p));
		p->issued_ms = d->now;
	}
	p->gate = disk_gate(d);
	if (index != 0) {
		p->index = index;
		p->term = term;
	}
	if (snap > p->snap)
		p->snap = snap;
}

int raftd__direct_begin(struct raftd *d, int boot)
{
	int rv = d->port.direct_begin(d->port.ctx, boot);

	if (rv != 0)
		raftd__fail(d, rv, "write drain");
	return rv;
}

void raftd__direct_end(struct raftd *d)
{
	uint64_t g = 0;

	d->port.direct_end(d->port.ctx, &g);
	if (g > d->gate)
		d->gate = g;
}

static void lat_record(struct raftd *d, uint64_t issued_ms)
{
	uint64_t ms = d->now > issued_ms ? d->now - issued_ms : 0;
	uint32_t b = 0;

	while (b < RAFTD_LAT_BUCKETS - 1 && ms > raftd_lat_bounds_ms[b])
		b++;
	d->m.append_lat[b]++;
	d->m.append_lat_sum_ms += ms;
}

static void send_now(struct raftd *d, raft_id to, const uint8_t *buf,
		     size_t len)
{
	d->m.msgs_sent++;
	d->env.send(d->env.ctx, to, buf, len);
}

static uint32_t release_held(struct raftd *d)
{
	uint32_t k = 0, sent = 0;

	for (uint32_t i = 0; i < d->held_n; i++) {
		struct raftd_held *h = &d->held[i];

		if (h->gate <= d->mark) {
			send_now(d, h->to, h->buf, h->len);
			free(h->buf);
			sent++;
		} else {
			d->held[k++] = *h;
		}
	}
	d->held_n = k;
	return sent;
}

/* Reports what the durable mark now covers. Returns 1 if it did work. */
static int complete_durable(struct raftd *d)
{
	struct raftd_durable done[RAFTD_DURABLE_MAX];
	uint32_t n = 0, k = 0, sent;

	for (uint32_t i = 0; i < d->dur_n; i++) {
		if (d->dur[i].gate <= d->mark)
			done[n++] = d->dur[i];
		else
			d->dur[k++] = d->dur[i];
	}
	d->dur_n = k;
	sent = release_held(d);
	for (uint32_t i = 0; i < n && !d->failed; i++) {
		struct raft_event ev;

		lat_record(d, done[i].issued_ms);
		memset(&ev, 0, sizeof(ev));
		if (done[i].snap != 0) {
			ev.type = RAFT_EV_SNAPSHOT_APPLIED;
			ev.u.snapshot_applied.index = done[i].snap;
			/* ERR_INVAL: a report raft no longer waits for. */
			(void)raftd__step(d, &ev);
		}
		if (done[i].index != 0) {
			ev.type = RAFT_EV_PERSISTED;
			ev.u.persisted.index = done[i].index;
			ev.u.persisted.term = done[i].term;
			(void)raftd__step(d, &ev);
		}
	}
	return n > 0 || sent > 0;
}

/* ---- carrying out an update ---- */

static int write_log(struct raftd *d, const struct raft_update *up,
		     const struct stor_hard_state *hs)
{
	struct stor_entry *v = NULL;
	uint64_t g = 0;
	int rv;

	if (up->n_entries > 0) {
		/* A truncation with entries starts at the first of them: the
		 * append replaces the conflicting suffix in the same write. */
		ASSERT(up->truncate_from == 0 ||
		       up->truncate_from == up->entries[0].index);
		v = calloc((size_t)up->n_entries, sizeof(*v));
		if (v == NULL)
			return ERR_NOMEM;
		for (uint64_t i = 0; i < up->n_entries; i++)
			v[i] = (struct stor_entry){
			    up->entries[i].index, up->entries[i].term,
			    raftd__type_to_stor(up->entries[i].type),
			    (uint8_t *)(uintptr_t)up->entries[i].data,
			    up->entries[i].len};
	}
	rv = d->port.write(d->port.ctx, v, (size_t)up->n_entries, hs, &g);
	free(v);
	if (rv == 0 && g > d->gate)
		d->gate = g;
	d->m.disk_writes += rv == 0;
	return rv;
}

/* A truncation with no entries to write after it (direct, synced). */
static int truncate_log(struct raftd *d, raft_index from)
{
	int rv;

	if (raftd__direct_begin(d, 0) != 0)
		return -1;
	rv = from <= stor_log_last(d->st) ? stor_log_truncate(d->st, from) : 0;
	raftd__direct_end(d);
	if (rv != 0)
		raftd__fail(d, rv, "log truncate");
	return rv != 0 ? -1 : 0;
}

/* Step 2 and 3: entries (and truncation), compaction, hard state. */
static int persist(struct raftd *d, const struct raft_update *up)
{
	struct stor_hard_state hs;
	const struct raft_hard_state *h = &up->hard_state;
	int term_vote = 0, rv;

	if (up->truncate_from != 0) {
		raftd__pend_truncated(d, up->truncate_from);
		if (up->n_entries == 0 && truncate_log(d, up->truncate_from))
			return -1;
	}
	if (up->hard_state_changed) {
		hs = (struct stor_hard_state){h->term, h->vote, h->commit};
		term_vote = h->term != d->hs_term || h->vote != d->hs_vote;
	}
	if (up->n_entries > 0 || up->hard_state_changed) {
		rv = write_log(d, up, up->hard_state_changed ? &hs : NULL);
		if (rv != 0) {
			raftd__fail(d, rv, "log append");
			return -1;
		}
	}
	if (up->n_entries > 0)
		raftd__add_durable(d, up->entries[up->n_entries - 1].index,
				   up->entries[up->n_entries - 1].term, 0);
	if (term_vote) {
		/* Messages from now on rest on this term and vote. */
		d->hs_gate = disk_gate(d);
		d->hs_term = h->term;
		d->hs_vote = h->vote;
	}
	if (up->compact_to != 0) {
		rv = stor_log_compact(d->st, up->compact_to);
		if (rv != 0) {
			raftd__fail(d, rv, "log compact");
			return -1;
		}
	}
	return 0;
}

static void hold(struct raftd *d, raft_id to, const uint8_t *buf, size_t len)
{
	struct raftd_held *h;

	if (d->held_n == RAFTD_HELD_MAX) {
		d->m.msgs_dropped++; /* as a full send queue would */
		return;
	}
	h = &d->held[d->held_n];
	h->buf = malloc(len);
	if (h->buf == NULL) {
		d->m.msgs_dropped++;
		return;
	}
	memcpy(h->buf, buf, len);
	h->gate = d->hs_gate;
	h->to = to;
	h->len = len;
	d->held_n++;
	d->m.msgs_held++;
}

/* Step 4. */
static void send_msgs(struct raftd *d, const struct raft_update *up)
{
	for (uint32_t i = 0; i < up->n_msgs; i++) {
		const struct raft_message *m = &up->msgs[i];

		mp_writer_reset(&d->enc);
		raft_encode(m, &d->enc);
		if (mp_writer_error(&d->enc) != 0) {
			/* Larger than any message raft builds: a bug. */
			TRACE_E(d->tr, RAFTD_MOD, "%llu: encoding a %s failed: "
				"%s", ull(d->cfg.raft.id),
				raft_msg_type_name(m->type),
				err_name(mp_writer_error(&d->enc)));
			d->m.msgs_dropped++;
			continue;
		}
		if (d->hs_gate <= d->mark)
			send_now(d, m->to, mp_writer_data(&d->enc),
				 mp_writer_len(&d->enc));
		else
			hold(d, m->to, mp_writer_data(&d->enc),
			     mp_writer_len(&d->enc));
	}
}

static void install(struct raftd *d, const struct raft_snapshot *snap)
{
	if (raftd__install(d, snap) != 0)
		return;
	d->applied = snap->meta.index;
	d->snap_index = snap->meta.index;
	d->since_snap_entries = d->since_snap_bytes = 0;
	d->m.snapshots_installed++;
	raftd__add_durable(d, 0, 0, snap->meta.index);
	raftd__pend_snapshot(d, snap->meta.index);
	if (d->env.on_install != NULL)
		d->env.on_install(d->env.ctx, &snap->meta);
	TRACE_I(d->tr, RAFTD_MOD, "%llu: installed snapshot index=%llu "
		"term=%llu", ull(d->cfg.raft.id), ull(snap->meta.index),
		ull(snap->meta.term));
}

/* Step 5. */
static void apply(struct raftd *d, const struct raft_update *up)
{
	struct raftd_applied *res;
	uint64_t n = up->n_committed;

	res = calloc((size_t)n, sizeof(*res));
	if (res == NULL) {
		raftd__fail(d, ERR_NOMEM, "apply");
		return;
	}
	if (raftd__apply(d, up->committed, n, res) == 0) {
		for (uint64_t i = 0; i < n; i++) {
			const struct raft_entry *e = &up->committed[i];

			d->applied = e->index;
			d->since_snap_entries++;
			d->since_snap_bytes += e->len;
			d->m.applied++;
			if (d->env.on_apply != NULL)
				d->env.on_apply(d->env.ctx, e, res[i].result);
			raftd__pend_applied(d, &res[i]);
		}
	}
	free(res);
}

static void carry_out(struct raftd *d, const struct raft_update *up)
{
	if (up->snapshot != NULL)
		install(d, up->snapshot);
	if (d->failed || persist(d, up) != 0)
		return;
	send_msgs(d, up);
	if (up->n_committed > 0)
		apply(d, up);
	if (d->failed)
		return;
	for (uint32_t i = 0; i < up->n_reads; i++)
		raftd__reads_confirm(d, &up->reads[i]);
	raftd__reads_serve(d);
	d->env.set_timer(d->env.ctx, up->deadline_ms);
}

static void note_status(struct raftd *d, const struct raft_update *up)
{
	if (up->role == d->role && up->leader == d->leader &&
	    up->term == d->term)
		return;
	if (up->role == RAFT_CANDIDATE &&
	    (d->role != RAFT_CANDIDATE || up->term != d->term))
		d->m.elections++;
	if (up->leader != 0 && up->leader != d->leader)
		d->m.leader_changes++;
	d->role = up->role;
	d->leader = up->leader;
	d->term = up->term;
	if (d->env.on_role != NULL)
		d->env.on_role(d->env.ctx, up->role, up->leader, up->term);
}

/* Steps raft; a proposal (cookie not NULL) is registered before the
 * update is carried out, so no outcome can precede it. */
int raftd__step_ex(struct raftd *d, struct raft_event *ev,
		    const uint64_t *cookie)
{
	struct raft_update up;
	int rv;

	ASSERT(!d->failed);
	ev->now_ms = d->now;
	memset(&up, 0, sizeof(up));
	rv = raft_step(&d->r, ev, &up);
	/* On error the update holds no work, except after ERR_NOMEM. */
	if (rv != 0 && rv != ERR_NOMEM)
		return rv;
	if (rv == 0 && cookie != NULL)
		raftd__pend_push(d, *cookie, up.proposed_index, up.proposed_term);
	if (d->env.on_update != NULL)
		d->env.on_update(d->env.ctx, &up);
	carry_out(d, &up);
	if (d->failed)
		return rv;
	note_status(d, &up);
	if (d->env.on_done != NULL)
		d->env.on_done(d->env.ctx, &up);
	return rv;
}

int raftd__step(struct raftd *d, struct raft_event *ev)
{
	return raftd__step_ex(d, ev, NULL);
}

/* ---- what a step leaves to do ---- */

static int take_snapshot(struct raftd *d)
{
	struct raft_event ev;
	uint8_t *data;
	size_t len;
	int rv;

	if (d->applied <= d->snap_index)
		return 0;
	rv = raftd__stream(d, &data, &len);
	if (rv != 0)
		return rv;
	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_EV_SNAPSHOT_TAKEN;
	ev.u.snapshot_taken.index = d->applied;
	ev.u.snapshot_taken.data = data;
	ev.u.snapshot_taken.len = len;
	rv = raftd__step(d, &ev);
	free(data);
	if (rv == 0) {
		d->snap_index = ev.u.snapshot_taken.index;
		d->m.snapshots_taken++;
	}
	d->since_snap_entries = d->since_snap_bytes = 0;
	return rv;
}

static int snapshot_due(const struct raftd *d)
{
	return (d->cfg.snapshot_entries != 0 &&
		d->since_snap_entries >= d->cfg.snapshot_entries) ||
	       (d->cfg.snapshot_bytes != 0 &&
		d->since_snap_bytes >= d->cfg.snapshot_bytes);
}

static void pump(struct raftd *d)
{
	/* Each round consumes durable work, a read round or a snapshot;
	 * the bound only guards against a bug looping forever. */
	for (int guard = 0; guard < 1000000 && !d->failed; guard++) {
		if (d->wd != NULL) {
			uint64_t mark = d->mark;
			int rv = raftd__wdisk_mark(d->wd, &mark);

			if (rv != 0) {
				raftd__fail(d, rv, "log append");
				break;
			}
			d->mark = mark > d->mark ? mark : d->mark;
		}
		if (d->dur_n > 0 || d->held_n > 0) {
			if (complete_durable(d))
				continue;
		}
		if (raftd__start_round(d))
			continue;
		if (snapshot_due(d)) {
			int rv;

			/* Due again only after as many more, even if refused
			 * (a state over snapshot_stream_max stays refused). */
			d->since_snap_entries = d->since_snap_bytes = 0;
			rv = take_snapshot(d);

			if (rv != 0 && !d->failed)
				TRACE_W(d->tr, RAFTD_MOD, "%llu: snapshot at "
					"%llu refused: %s", ull(d->cfg.raft.id),
					ull(d->applied), err_name(rv));
			continue;
		}
		break;
	}
}

/* ---- the public calls ---- */

int raftd__enter(struct raftd *d, uint64_t now_ms)
{
	if (d->in_call)
		return ERR_BUSY;
	if (d->failed)
		return d->failed;
	if (now_ms > d->now)
		d->now = now_ms;
	d->in_call = 1;
	return 0;
}

int raftd__leave(struct raftd *d, int rv)
{
	pump(d);
	d->in_call = 0;
	return rv;
}

int raftd_tick(struct raftd *d, uint64_t now_ms)
{
	struct raft_event ev;
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_EV_TICK;
	return raftd__leave(d, raftd__step(d, &ev));
}

int raftd_receive(struct raftd *d, uint64_t now_ms, raft_id from,
		  const uint8_t *buf, size_t len)
{
	struct raft_message m;
	struct raft_event ev;
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	rv = raft_decode(buf, len, &m, d->rx_ents, RAFT_BATCH_MAX);
	if (rv == 0 && from != 0 && m.from != from)
		rv = ERR_MALFORMED;
	if (rv == 0) {
		memset(&ev, 0, sizeof(ev));
		ev.type = RAFT_EV_RECEIVE;
		ev.u.msg = &m;
		rv = raftd__step(d, &ev);
	}
	if (rv == ERR_MALFORMED || rv == ERR_VERSION)
		d->m.msgs_malformed++;
	return raftd__leave(d, rv);
}

int raftd_transfer(struct raftd *d, uint64_t now_ms, raft_id to)
{
	struct raft_event ev;
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_EV_TRANSFER;
	ev.u.transfer.to = to;
	return raftd__leave(d, raftd__step(d, &ev));
}

int raftd_snapshot(struct raftd *d, uint64_t now_ms)
{
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	return raftd__leave(d, take_snapshot(d));
}

int raftd_disk_done(struct raftd *d, uint64_t now_ms, uint64_t mark)
{
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	if (mark > d->mark)
		d->mark = mark;
	return raftd__leave(d, 0);
}

int raftd_disk_fd(const struct raftd *d)
{
	return d->wd != NULL ? raftd__wdisk_fd(d->wd) : -1;
}

int raftd_disk_reap(struct raftd *d, uint64_t now_ms)
{
	uint64_t mark;
	int rv = raftd__enter(d, now_ms);

	if (rv != 0)
		return rv;
	if (d->wd != NULL) {
		rv = raftd__wdisk_reap(d->wd, &mark);
		if (rv != 0)
			raftd__fail(d, rv, "log append");
	}
	return raftd__leave(d, rv);
}

/* ---- status ---- */

void raftd_status(const struct raftd *d, struct raftd_status *st)
{
	memset(st, 0, sizeof(*st));
	st->role = raft_current_role(&d->r);
	st->id = d->cfg.raft.id;
	st->leader = raft_leader(&d->r);
	st->term = raft_current_term(&d->r);
	st->commit = raft_commit_index(&d->r);
	st->commit_term = raft_term_at(&d->r, st->commit);
	st->applied = d->applied;
	st->last_index = raft_last_index(&d->r);
	st->snapshot_index = d->snap_index;
	st->failed = d->failed;
}

const struct raft_configuration *raftd_configuration(const struct raftd *d)
{
	return raft_configuration(&d->r);
}

int raftd_match(const struct raftd *d, raft_id id, raft_index *match)
{
	const struct raft_progress *p;

	if (raft_current_role(&d->r) != RAFT_LEADER)
		return ERR_NOTLEADER;
	if (raft_conf_get(raft_configuration(&d->r), id) == NULL)
		return ERR_NOTFOUND;
	if (id == d->cfg.raft.id) {
		*match = d->r.persisted;
		return 0;
	}
	p = raft_progress_of(&d->r, id);
	if (p == NULL)
		return ERR_NOTFOUND;
	*match = p->match;
	return 0;
}

void raftd_metrics(const struct raftd *d, struct raftd_metrics *m)
{
	*m = d->m;
}

const struct raft *raftd_raft(const struct raftd *d)
{
	return &d->r;
}

struct stor *raftd_store(const struct raftd *d)
{
	return d->st;
}

/* ---- lifecycle ---- */

static int check_config(const struct raftd_config *cfg,
			const struct raftd_env *env)
{
	if (cfg->raft.id == 0 || env->send == NULL ||
	    env->set_timer == NULL || env->on_result == NULL ||
	    env->on_read == NULL)
		return ERR_INVAL;
	if (cfg->disk != NULL &&
	    (cfg->disk->write == NULL || cfg->disk->direct_begin == NULL ||
	     cfg->disk->direct_end == NULL))
		return ERR_INVAL;
	return 0;
}

int raftd_open(struct stor *s, const struct raftd_config *cfg,
	       const struct raftd_env *env, uint64_t now_ms,
	       struct raftd **out)
{
	struct raftd *d;
	int rv = check_config(cfg, env);

	if (rv != 0)
		return rv;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ERR_NOMEM;
	d->pend = calloc(RAFTD_PENDING_MAX, sizeof(*d->pend));
	d->reads = calloc(RAFTD_READS_MAX, sizeof(*d->reads));
	d->rx_ents = calloc(RAFT_BATCH_MAX, sizeof(*d->rx_ents));
	if (d->pend == NULL || d->reads == NULL || d->rx_ents == NULL) {
		rv = ERR_NOMEM;
		goto err_free;
	}
	d->cfg = *cfg;
	d->env = *env;
	d->st = s;
	d->tr = cfg->tracer;
	d->now = now_ms;
	mp_writer_init(&d->enc, cfg->raft.msg_bytes_max + RAFTD_MSG_SLACK);
	if (cfg->disk != NULL) {
		d->port = *cfg->disk;
	} else {
		rv = raftd__wdisk_start(d);
		if (rv != 0)
			goto err_enc;
	}
	d->opening = 1;
	rv = raftd__boot(d);
	d->opening = 0;
	if (rv != 0)
		goto err_wdisk;
	d->role = raft_current_role(&d->r);
	d->term = raft_current_term(&d->r);
	d->leader = raft_leader(&d->r);
	*out = d;
	return 0;

err_wdisk:
	raftd__wdisk_stop(d);
err_enc:
	mp_writer_free(&d->enc);
err_free:
	free(d->pend);
	free(d->reads);
	free(d->rx_ents);
	free(d);
	return rv;
}

void raftd_close(struct raftd *d)
{
	if (d == NULL)
		return;
	ASSERT(!d->in_call);
	d->in_call = 1;
	d->closing = 1;
	raftd__wdisk_stop(d);
	raftd__requests_fail(d, ERR_SHUTDOWN);
	held_free(d);
	raft_close(&d->r);
	mp_writer_free(&d->enc);
	free(d->pend);
	free(d->reads);
	free(d->rx_ents);
	free(d);
}
