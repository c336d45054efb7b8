/*
 * news.c: how alive/suspect/dead/state news changes a member's record.
 * SWIM section 4.2: incarnation numbers order the news about one member
 * (a higher one wins; at equal ones suspect beats alive and dead beats
 * suspect), and a member refutes a suspicion about itself by raising its
 * own. Lifeguard section 4.2: a suspicion's timeout shrinks with each
 * independent confirmation. State keys: a newer version wins.
 */
#include <string.h>

#include "base/assert.h"
#include "gossip/internal.h"

#define MOD "gossip"

/* An accusation older than what we know means its sender missed a
 * refutation. Dissemination misses a given member with probability about
 * exp(-sends per member), which happens often enough in a cluster that
 * suspects a starved node many times (gossip-sim --slow-ms 1500: 2 false
 * deaths in 20 seeds); answering the sender directly closes that gap at
 * the cost of one packet per stale accusation. */
static void note_stale(struct gossip *g, int32_t slot)
{
	if (!g->in_packet || g->n_corr >= CORR_MAX)
		return;
	for (uint32_t i = 0; i < g->n_corr; i++)
		if (g->corr[i] == slot)
			return;
	g->corr[g->n_corr++] = slot;
}

void gossip__correct_sender(struct gossip *g, const struct gossip_wire *w)
{
	const uint8_t *msgs[CORR_MAX];
	uint32_t lens[CORR_MAX], n = 0;
	size_t off[CORR_MAX + 1];
	char to[GOSSIP_ADDR_MAX + 1];

	mp_writer_reset(&g->w);
	for (uint32_t i = 0; i < g->n_corr; i++) {
		const struct member *m = &g->m[g->corr[i]];

		if (m->status != GOSSIP_ALIVE || (g->corr[i] == 0 && g->left))
			continue;
		off[n] = mp_writer_len(&g->w);
		gossip_enc_alive(&g->w, m->name, m->addr, m->inc);
		lens[n] = (uint32_t)(mp_writer_len(&g->w) - off[n]);
		n++;
	}
	g->n_corr = 0;
	if (n == 0 || mp_writer_error(&g->w) != 0) {
		mp_writer_reset(&g->w);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		msgs[i] = mp_writer_data(&g->w) + off[i];
	gossip__gstr_copy(to, w->from_addr);
	gossip__send_packet(g, to, GOSSIP_UNRELIABLE, msgs, lens, n, 0);
	mp_writer_reset(&g->w);
}

void gossip__refute(struct gossip *g, uint64_t accused_inc)
{
	struct member *self = &g->m[0];
	uint64_t inc = (accused_inc > self->inc ? accused_inc : self->inc) + 1;

	if (g->left)
		return;
	gossip__mem_set_status(g, 0, GOSSIP_ALIVE, inc);
	gossip__bcast_queue_alive(g, 0);
	/* Lifeguard 4.3: being suspected hints that we are the slow one. */
	gossip__awareness_add(g, 1);
	g->st.refutes++;
	gossip__mem_report(g, 0);
	TRACE_D(g->tr, MOD, "%s refutes, incarnation %llu", g->name,
		(unsigned long long)inc);
}

void gossip__on_alive(struct gossip *g, struct gstr name, struct gstr addr,
	      uint64_t inc)
{
	int32_t s = gossip__mem_find(g, name.p, name.len);
	struct member *m;

	if (s == 0) {
		/* News of an older life of ours with a higher incarnation:
		 * outbid it, or the cluster would keep the stale record. */
		if (inc > g->m[0].inc)
			gossip__refute(g, inc);
		return;
	}
	if (s == NO_SLOT) {
		s = gossip__mem_add(g, name.p, name.len, addr.p, addr.len);
		if (s == NO_SLOT)
			return;
		g->m[s].inc = inc;
	} else {
		m = &g->m[s];
		if (inc <= m->inc)
			return;
		memset(m->addr, 0, sizeof(m->addr));
		memcpy(m->addr, addr.p, addr.len);
		gossip__mem_set_status(g, s, GOSSIP_ALIVE, inc);
	}
	gossip__mem_report(g, s);
	gossip__bcast_queue_alive(g, s);
}

static void start_suspicion(struct gossip *g, int32_t s, uint64_t inc,
			    struct gstr from)
{
	struct member *m = &g->m[s];
	uint32_t k = g->cfg.suspicion_mult >= 2 ? g->cfg.suspicion_mult - 2 : 0;
	uint32_t n = g->n_live;

	/* memberlist: expect k confirmations only if that many others
	 * could give one. */
	if (n < k + 2)
		k = 0;
	if (k > SUSP_CONFIRM_MAX - 1)
		k = SUSP_CONFIRM_MAX - 1;
	gossip__mem_set_status(g, s, GOSSIP_SUSPECT, inc);
	m->susp_start_ms = g->now_ms;
	m->susp_min_ms = gossip_suspicion_min(g->cfg.suspicion_mult, n,
					      g->cfg.probe_interval_ms);
	m->susp_max_ms = m->susp_min_ms * g->cfg.suspicion_max_mult;
	m->susp_k = k;
	m->susp_n = 0;
	m->susp_from[0] = gossip__mem_name_hash(from.p, from.len);
	m->susp_deadline_ms = g->now_ms + gossip_suspicion_timeout(
		m->susp_min_ms, m->susp_max_ms, k, 0);
	g->st.suspects_started++;
}

/* Lifeguard 4.2: an independent accuser shortens the timeout. Returns
 * whether it was new (then the news is worth passing on). */
static int confirm_suspicion(struct gossip *g, struct member *m,
			     struct gstr from)
{
	uint32_t h = gossip__mem_name_hash(from.p, from.len);

	if (m->susp_n >= m->susp_k)
		return 0;
	for (uint32_t i = 0; i <= m->susp_n; i++)
		if (m->susp_from[i] == h)
			return 0;
	m->susp_from[++m->susp_n] = h;
	m->susp_deadline_ms =
		m->susp_start_ms + gossip_suspicion_timeout(m->susp_min_ms,
							    m->susp_max_ms,
							    m->susp_k, m->susp_n);
	(void)g;
	return 1;
}

/* What suspect and dead news first do alike: an accusation of ourselves
 * is refuted (when self_answers) or noted stale, and one about a member we
 * know at an older incarnation, or already dead or gone, changes nothing.
 * Returns the slot the news acts on, or NO_SLOT. */
static int32_t accused(struct gossip *g, struct gstr name, uint64_t inc,
		       int self_answers)
{
	int32_t s = gossip__mem_find(g, name.p, name.len);
	struct member *m;

	if (s == NO_SLOT)
		return NO_SLOT;
	if (s == 0) {
		if (self_answers && inc >= g->m[0].inc)
			gossip__refute(g, inc);
		else if (self_answers)
			note_stale(g, 0);
		return NO_SLOT;
	}
	m = &g->m[s];
	if (inc < m->inc)
		note_stale(g, s);
	if (inc < m->inc || m->status == GOSSIP_DEAD ||
	    m->status == GOSSIP_LEFT)
		return NO_SLOT;
	return s;
}

void gossip__on_suspect(struct gossip *g, struct gstr name, uint64_t inc,
		struct gstr from)
{
	int32_t s = accused(g, name, inc, 1);
	struct member *m;
	char accuser[GOSSIP_NAME_MAX + 1];

	if (s == NO_SLOT)
		return;
	m = &g->m[s];
	gossip__gstr_copy(accuser, from);
	if (m->status == GOSSIP_SUSPECT && inc == m->inc) {
		if (confirm_suspicion(g, m, from))
			gossip__bcast_queue_accuse(g, s, GMSG_SUSPECT, accuser);
		return;
	}
	start_suspicion(g, s, inc, from);
	gossip__mem_report(g, s);
	gossip__bcast_queue_accuse(g, s, GMSG_SUSPECT, accuser);
	TRACE_D(g->tr, MOD, "%s suspects %s (inc %llu, by %s)", g->name,
		m->name, (unsigned long long)inc, accuser);
}

void gossip__on_dead(struct gossip *g, struct gstr name, uint64_t inc,
	     struct gstr from)
{
	/* Once we left, news of our death is true: nothing to refute. */
	int32_t s = accused(g, name, inc, !g->left);
	struct member *m;
	char accuser[GOSSIP_NAME_MAX + 1];

	if (s == NO_SLOT)
		return;
	m = &g->m[s];
	gossip__gstr_copy(accuser, from);
	gossip__mem_set_status(g, s, gossip__gstr_eq(from, m->name) ? GOSSIP_LEFT : GOSSIP_DEAD,
		       inc);
	gossip__mem_report(g, s);
	gossip__bcast_queue_accuse(g, s, GMSG_DEAD, accuser);
}

/* Someone holds a newer version of one of our own keys than we do (we
 * restarted and counted from zero): re-issue ours above it. */
static void own_key_seen(struct gossip *g, struct gstr key, uint64_t version)
{
	struct member *self = &g->m[0];
	int32_t kvi;

	if (version > g->state_ver)
		g->state_ver = version;
	for (uint32_t i = 0; i < self->n_kv; i++) {
		struct kv *kv = &self->kv[i];

		if (gossip__gstr_eq(key, kv->key) && kv->version < version) {
			uint8_t v[GOSSIP_VALUE_MAX];
			uint32_t len = kv->len;

			if (len > 0)
				memcpy(v, kv->value, len);
			if (gossip__mem_kv_set(g, self, kv->key, (uint32_t)strlen(kv->key),
				       ++g->state_ver, v, len, &kvi) == 1)
				gossip__bcast_queue_state(g, 0, kvi);
			return;
		}
	}
}

void gossip__on_state(struct gossip *g, struct gstr name, struct gstr key,
	      uint64_t version, const uint8_t *v, uint32_t len)
{
	int32_t s = gossip__mem_find(g, name.p, name.len);
	int32_t kvi;

	if (s == NO_SLOT)
		return; /* state of a member we do not know yet: push-pull */
	if (s == 0) {
		own_key_seen(g, key, version);
		return;
	}
	if (gossip__mem_kv_set(g, &g->m[s], key.p, key.len, version, v, len, &kvi) != 1)
		return;
	gossip__mem_report_state(g, s, kvi);
	if (!g->quiet_state)
		gossip__bcast_queue_state(g, s, kvi);
}

