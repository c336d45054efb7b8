/*
 * probe.c: the failure detector.
 *
 * One probe per protocol period (SWIM 3.1, 4.3): ping the next member of
 * the shuffled round-robin order; without an ack by probe_timeout, ask
 * indirect_checks other members to ping it (PING_REQ); without any ack
 * by the end of the period, suspect it.
 *
 * Lifeguard:
 *  - 4.1 nacks: an indirect prober that gets no ack answers NACK before
 *    the requester's period ends, so the requester can tell "the target
 *    is silent" from "I am not hearing anyone".
 *  - 4.3 local health: the score rises by one for a failed probe with no
 *    indirect help, by the number of missing nacks, and for each
 *    refutation; it falls by one per successful probe. The probe period
 *    and the probe timeout are scaled by (score + 1).
 *  - 4.4 buddy system: a probe of a suspect carries the suspicion first,
 *    so the suspect learns of it at once and can refute.
 */
#include <string.h>

#include "base/assert.h"
#include "gossip/internal.h"

#define MOD "gossip"
/* An indirect prober nacks after this share of its probe timeout, so the
 * nack reaches the requester before the requester's period ends (the
 * requester sends PING_REQ at probe_timeout and decides at
 * probe_interval; with the LAN profile: 500 + 400 < 1000 ms). */
#define NACK_AT_PERCENT 80

void gossip__awareness_add(struct gossip *g, int delta)
{
	int64_t v = (int64_t)g->awareness + delta;

	if (v < 0)
		v = 0;
	if (v > (int64_t)g->cfg.awareness_max - 1)
		v = (int64_t)g->cfg.awareness_max - 1;
	g->awareness = (uint32_t)v;
}

static uint64_t scaled(const struct gossip *g, uint32_t ms)
{
	return (uint64_t)ms * (g->awareness + 1);
}

static void start_probe(struct gossip *g)
{
	struct probe *p = &g->probe;
	const uint8_t *msgs[2];
	uint32_t lens[2], n = 0;
	int32_t s = gossip__mem_next_probe_target(g);
	const struct member *m;
	size_t first;

	g->next_probe_ms = g->now_ms + scaled(g, g->cfg.probe_interval_ms);
	if (s == NO_SLOT)
		return;
	m = &g->m[s];
	memset(p, 0, sizeof(*p));
	p->active = 1;
	p->slot = s;
	memcpy(p->name, m->name, sizeof(p->name));
	p->seq = ++g->seq;
	p->timeout_at_ms = g->now_ms + scaled(g, g->cfg.probe_timeout_ms);
	p->end_at_ms = g->next_probe_ms;
	g->st.probes++;
	mp_writer_reset(&g->w);
	if (m->status == GOSSIP_SUSPECT) /* buddy system */
		gossip_enc_accuse(&g->w, GMSG_SUSPECT, m->name, m->inc, g->name);
	first = mp_writer_len(&g->w);
	gossip_enc_ping(&g->w, GMSG_PING, p->seq, m->name, NULL);
	if (mp_writer_error(&g->w) != 0)
		return;
	if (first > 0) {
		msgs[n] = mp_writer_data(&g->w);
		lens[n++] = (uint32_t)first;
	}
	msgs[n] = mp_writer_data(&g->w) + first;
	lens[n++] = (uint32_t)(mp_writer_len(&g->w) - first);
	gossip__send_packet(g, m->addr, GOSSIP_UNRELIABLE, msgs, lens, n, 1);
}

static void send_one_ch(struct gossip *g, const char *to,
			enum gossip_channel ch, int piggyback)
{
	const uint8_t *msg = mp_writer_data(&g->w);
	uint32_t len = (uint32_t)mp_writer_len(&g->w);

	if (mp_writer_error(&g->w) == 0)
		gossip__send_packet(g, to, ch, &msg, &len, 1, piggyback);
	mp_writer_reset(&g->w);
}

static void send_one(struct gossip *g, const char *to, int piggyback)
{
	send_one_ch(g, to, GOSSIP_UNRELIABLE, piggyback);
}

static void send_indirect(struct gossip *g)
{
	struct probe *p = &g->probe;
	const struct member *t = &g->m[p->slot];
	int32_t chosen[16];
	uint32_t k = g->cfg.indirect_checks < 16 ? g->cfg.indirect_checks : 16;

	p->indirect = 1;
	if (g->cfg.reliable_ping) {
		mp_writer_reset(&g->w);
		gossip_enc_ping(&g->w, GMSG_PING, p->seq, t->name, NULL);
		send_one_ch(g, t->addr, GOSSIP_RELIABLE, 0);
	}
	for (uint32_t tries = 0; tries < k * 4 && p->nacks_expected < k;
	     tries++) {
		int32_t s = gossip__mem_random_live(g, p->slot, NO_SLOT);
		int dup = 0;

		if (s == NO_SLOT)
			break;
		for (uint32_t i = 0; i < p->nacks_expected; i++)
			dup |= chosen[i] == s;
		if (dup)
			continue;
		chosen[p->nacks_expected++] = s;
		mp_writer_reset(&g->w);
		gossip_enc_ping(&g->w, GMSG_PING_REQ, p->seq, t->name, t->addr);
		send_one(g, g->m[s].addr, 1);
		g->st.indirect_sent++;
	}
}

static void finish_probe(struct gossip *g)
{
	struct probe *p = &g->probe;
	struct member *t = &g->m[p->slot];
	struct gstr name, self;

	p->active = 0;
	g->st.probe_fails++;
	if (p->nacks_expected > 0)
		gossip__awareness_add(g, (int)(p->nacks_expected - p->nacks));
	else
		gossip__awareness_add(g, 1);
	/* The slot may have been reaped and reused meanwhile. */
	if (t->status != GOSSIP_ALIVE && t->status != GOSSIP_SUSPECT)
		return;
	if (strcmp(t->name, p->name) != 0)
		return;
	name.p = t->name;
	name.len = (uint32_t)strlen(t->name);
	self.p = g->name;
	self.len = (uint32_t)strlen(g->name);
	gossip__on_suspect(g, name, t->inc, self);
}

void gossip__probe_tick(struct gossip *g)
{
	struct probe *p = &g->probe;

	if (g->left)
		return;
	if (p->active && !p->acked && !p->indirect &&
	    g->now_ms >= p->timeout_at_ms)
		send_indirect(g);
	if (p->active && g->now_ms >= p->end_at_ms)
		finish_probe(g);
	if (!p->active && g->now_ms >= g->next_probe_ms)
		start_probe(g);
}

uint64_t gossip__probe_deadline(const struct gossip *g)
{
	const struct probe *p = &g->probe;
	uint64_t d = g->left ? UINT64_MAX : g->next_probe_ms;

	if (p->active && !g->left) {
		d = p->end_at_ms;
		if (!p->indirect && p->timeout_at_ms < d)
			d = p->timeout_at_ms;
	}
	for (uint32_t i = 0; i < g->cfg.relay_max; i++)
		if (g->relays[i].used && g->relays[i].nack_at_ms < d)
			d = g->relays[i].nack_at_ms;
	for (uint32_t i = 0; i < g->n_suspects; i++) {
		const struct member *m = &g->m[g->suspects[i]];

		if (m->susp_deadline_ms < d)
			d = m->susp_deadline_ms;
	}
	return d;
}

void gossip__probe_on_ping(struct gossip *g, const struct gossip_wire *w,
		   const struct gmsg *m)
{
	char to[GOSSIP_ADDR_MAX + 1];

	/* A ping meant for an earlier holder of our address is not ours
	 * to answer (memberlist checks the same). */
	if (!gossip__gstr_eq(m->name, g->name))
		return;
	gossip__gstr_copy(to, w->from_addr);
	mp_writer_reset(&g->w);
	gossip_enc_ack(&g->w, GMSG_ACK, m->seq);
	/* Answer on the channel asked on: a reliable ping is the fallback
	 * for a lossy datagram path, so its ack must not take that path. */
	send_one_ch(g, to, g->recv_ch, g->recv_ch == GOSSIP_UNRELIABLE);
}

void gossip__probe_on_ack(struct gossip *g, const struct gmsg *m)
{
	struct probe *p = &g->probe;

	if (p->active && !p->acked && m->seq == p->seq) {
		p->acked = 1;
		p->active = 0;
		gossip__awareness_add(g, -1);
		return;
	}
	for (uint32_t i = 0; i < g->cfg.relay_max; i++) {
		struct relay *r = &g->relays[i];

		if (r->used && r->my_seq == m->seq) {
			mp_writer_reset(&g->w);
			gossip_enc_ack(&g->w, GMSG_ACK, r->orig_seq);
			send_one(g, r->req_addr, 0);
			r->used = 0;
			return;
		}
	}
}

void gossip__probe_on_nack(struct gossip *g, const struct gmsg *m)
{
	struct probe *p = &g->probe;

	g->st.nacks_recv++;
	if (p->active && m->seq == p->seq && p->nacks < p->nacks_expected)
		p->nacks++;
}

void gossip__probe_on_ping_req(struct gossip *g, const struct gossip_wire *w,
		       const struct gmsg *m)
{
	struct relay *r = NULL;
	char target_addr[GOSSIP_ADDR_MAX + 1];
	char target[GOSSIP_NAME_MAX + 1];

	for (uint32_t i = 0; i < g->cfg.relay_max && r == NULL; i++)
		if (!g->relays[i].used)
			r = &g->relays[i];
	if (r == NULL) {
		g->st.relay_dropped++;
		return;
	}
	memset(r, 0, sizeof(*r));
	r->used = 1;
	r->my_seq = ++g->seq;
	r->orig_seq = m->seq;
	r->nack_at_ms = g->now_ms + (uint64_t)g->cfg.probe_timeout_ms *
					    NACK_AT_PERCENT / 100;
	gossip__gstr_copy(r->req_addr, w->from_addr);
	gossip__gstr_copy(target_addr, m->addr);
	gossip__gstr_copy(target, m->name);
	mp_writer_reset(&g->w);
	gossip_enc_ping(&g->w, GMSG_PING, r->my_seq, target, NULL);
	send_one(g, target_addr, 1);
}

void gossip__relay_tick(struct gossip *g)
{
	for (uint32_t i = 0; i < g->cfg.relay_max; i++) {
		struct relay *r = &g->relays[i];

		if (!r->used || g->now_ms < r->nack_at_ms)
			continue;
		mp_writer_reset(&g->w);
		gossip_enc_ack(&g->w, GMSG_NACK, r->orig_seq);
		send_one(g, r->req_addr, 0);
		g->st.nacks_sent++;
		r->used = 0;
	}
}

void gossip__susp_tick(struct gossip *g)
{
	/* Declaring a death edits the suspects array: restart the scan. */
	for (uint32_t i = 0; i < g->n_suspects;) {
		int32_t s = g->suspects[i];
		struct member *m = &g->m[s];

		if (g->now_ms < m->susp_deadline_ms) {
			i++;
			continue;
		}
		gossip__mem_set_status(g, s, GOSSIP_DEAD, m->inc);
		g->st.deaths_declared++;
		gossip__mem_report(g, s);
		gossip__bcast_queue_accuse(g, s, GMSG_DEAD, g->name);
		TRACE_I(g->tr, MOD, "%s declares %s dead (inc %llu)", g->name,
			m->name, (unsigned long long)m->inc);
		i = 0;
	}
}
