/*
 * pushpull.c: anti-entropy. On join and every push_pull_interval (scaled
 * up with N as memberlist's pushPullScale does: x(ceil(log2(N) - 5) + 1)
 * past 32 members) a member starts an exchange over the reliable channel
 * so that an update missed by every piggyback is repaired.
 *
 * The exchange is digest first, unlike memberlist's full-state push-pull:
 *  1. A sends PP_DIGEST: per member [name, incarnation, status, signature
 *     of its state keys and versions];
 *  2. B answers in one packet: PUSHPULL(REPLY) with its full entries
 *     where it knows more (a newer incarnation or status, a member A
 *     lacks, a different state signature) and PP_WANT naming the entries
 *     where A knows more (or B lacks, or the signatures differ);
 *  3. A sends those entries as PUSHPULL(REPLY), which is not answered.
 * When nothing differs, the exchange costs one digest and an empty reply.
 *
 * Merging follows memberlist's mergeState: a remote "dead" is taken only
 * as a suspicion, which gives the member a chance to refute stale news,
 * and a remote "left" is final. State learned here is not re-gossiped.
 *
 * Partitions (Serf's reconnect, which memberlist leaves to its user):
 * every reconnect_interval, with probability dead/live, a member starts
 * an exchange with a random dead member, so two sides that declared each
 * other dead find each other again once the network heals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "gossip/internal.h"

#define MOD "gossip"

static void enc_full(struct mp_writer *w, const struct member *m)
{
	gossip_enc_pp_member(w, m->name, m->addr, m->inc, m->status, m->n_kv);
	for (uint32_t i = 0; i < m->n_kv; i++)
		gossip_enc_pp_kv(w, m->kv[i].key, m->kv[i].version, m->kv[i].value,
				 m->kv[i].len);
}

static uint32_t kv_sig(const struct member *m)
{
	uint32_t sig = 0;

	for (uint32_t i = 0; i < m->n_kv; i++)
		sig = gossip_kv_sig_add(sig, m->kv[i].key, m->kv[i].version);
	return sig;
}

/* Hands a finished reliable message to the driver, or drops it with a
 * trace when it outgrew reliable_max. */
static void finish_reliable(struct gossip *g, struct mp_writer *w,
			    const char *to)
{
	uint8_t *buf;
	size_t len;

	if (mp_writer_take(w, &buf, &len) != 0) {
		TRACE_E(g->tr, MOD, "push-pull over %u bytes",
			g->cfg.reliable_max);
		mp_writer_free(w);
		return;
	}
	mp_writer_free(w);
	gossip__send_owned(g, to, GOSSIP_RELIABLE, buf, len);
}

/* Starts an exchange: a digest of every member we know. */
void gossip__pp_send(struct gossip *g, const char *to, uint32_t flags)
{
	struct mp_writer w;

	mp_writer_init(&w, g->cfg.reliable_max);
	gossip_enc_header(&w, g->name, g->addr, 1);
	gossip_enc_digest_begin(&w, flags, g->n_members);
	for (uint32_t s = 0; s < g->m_used; s++) {
		const struct member *m = &g->m[s];

		if (m->status != 0)
			gossip_enc_digest_entry(&w, m->name, m->inc, m->status,
						kv_sig(m));
	}
	finish_reliable(g, &w, to);
}

/* Full entries of the given slots, with flags (REPLY: not answered). */
static void send_full(struct gossip *g, const char *to, uint32_t flags,
		      const int32_t *slots, uint32_t n)
{
	struct mp_writer w;

	mp_writer_init(&w, g->cfg.reliable_max);
	gossip_enc_header(&w, g->name, g->addr, 1);
	gossip_enc_pp_begin(&w, flags, n);
	for (uint32_t i = 0; i < n; i++)
		enc_full(&w, &g->m[slots[i]]);
	finish_reliable(g, &w, to);
}

/* SWIM's order of news about one member: a higher incarnation wins; at
 * equal incarnations suspect beats alive and dead beats suspect. */
static int newer(uint64_t inc_a, uint32_t st_a, uint64_t inc_b, uint32_t st_b)
{
	return inc_a > inc_b || (inc_a == inc_b && st_a > st_b);
}

/* Sorts the digest against our table: slots to send (we know more, or
 * the peer lacks them) and digest indexes to ask for. */
static void diff_digest(struct gossip *g, const struct gmsg *m, uint8_t *seen,
			int32_t *send, uint32_t *ns, uint32_t *want,
			uint32_t *nw)
{
	struct gpp_digest d;

	for (uint32_t i = 0; i < m->n_members; i++) {
		int32_t s;
		const struct member *me;
		int differ;

		if (gossip_pp_digest(m, i, &d) != 0)
			continue;
		s = gossip__mem_find(g, d.name.p, d.name.len);
		if (s == NO_SLOT) {
			if (d.status == GOSSIP_ALIVE || d.status == GOSSIP_SUSPECT)
				want[(*nw)++] = i;
			continue;
		}
		if (seen[s])
			continue; /* a name listed twice */
		seen[s] = 1;
		me = &g->m[s];
		differ = kv_sig(me) != d.sig;
		if (differ || newer(me->inc, me->status, d.inc, d.status))
			send[(*ns)++] = s;
		if (differ || newer(d.inc, d.status, me->inc, me->status))
			want[(*nw)++] = i;
	}
	for (uint32_t s = 0; s < g->m_used; s++)
		if (g->m[s].status != 0 && !seen[s])
			send[(*ns)++] = (int32_t)s;
}

void gossip__pp_on_digest(struct gossip *g, const struct gossip_wire *w,
		  const struct gmsg *m)
{
	uint8_t *seen = calloc(g->m_used, 1);
	int32_t *send = malloc(g->m_used * sizeof(*send));
	uint32_t *want = malloc((m->n_members + 1) * sizeof(*want));
	uint32_t ns = 0, nw = 0;
	struct mp_writer mw;
	struct gpp_digest d;
	char to[GOSSIP_ADDR_MAX + 1];

	g->st.push_pulls++;
	if (seen == NULL || send == NULL || want == NULL)
		goto err_free;
	diff_digest(g, m, seen, send, &ns, want, &nw);
	gossip__gstr_copy(to, w->from_addr);
	mp_writer_init(&mw, g->cfg.reliable_max);
	gossip_enc_header(&mw, g->name, g->addr, nw > 0 ? 2 : 1);
	gossip_enc_pp_begin(&mw, GOSSIP_PP_REPLY, ns);
	for (uint32_t i = 0; i < ns; i++)
		enc_full(&mw, &g->m[send[i]]);
	if (nw > 0) {
		gossip_enc_want_begin(&mw, nw);
		for (uint32_t i = 0; i < nw; i++)
			if (gossip_pp_digest(m, want[i], &d) == 0)
				gossip_enc_want_name(&mw, d.name);
	}
	finish_reliable(g, &mw, to);
err_free:
	free(seen);
	free(send);
	free(want);
}

void gossip__pp_on_want(struct gossip *g, const struct gossip_wire *w,
		const struct gmsg *m)
{
	int32_t *slots = malloc((m->n_members + 1) * sizeof(*slots));
	uint32_t n = 0;
	struct gstr name;
	char to[GOSSIP_ADDR_MAX + 1];

	if (slots == NULL)
		return;
	for (uint32_t i = 0; i < m->n_members; i++) {
		int32_t s;

		if (gossip_pp_want(m, i, &name) != 0)
			continue;
		s = gossip__mem_find(g, name.p, name.len);
		if (s != NO_SLOT)
			slots[n++] = s;
	}
	gossip__gstr_copy(to, w->from_addr);
	if (n > 0)
		send_full(g, to, GOSSIP_PP_REPLY, slots, n);
	free(slots);
}

static void merge_one(struct gossip *g, const struct gpp_member *pm,
		      struct gstr sender)
{
	switch (pm->status) {
	case GOSSIP_ALIVE:
		gossip__on_alive(g, pm->name, pm->addr, pm->inc);
		break;
	case GOSSIP_SUSPECT:
		gossip__on_suspect(g, pm->name, pm->inc, sender);
		break;
	case GOSSIP_DEAD:
		if (gossip__gstr_eq(pm->name, g->name))
			gossip__on_dead(g, pm->name, pm->inc, sender);
		else
			gossip__on_suspect(g, pm->name, pm->inc, sender);
		break;
	case GOSSIP_LEFT:
		gossip__on_dead(g, pm->name, pm->inc, pm->name);
		break;
	default:
		break;
	}
	/* State learned by anti-entropy is not passed on: its owner
	 * gossiped it when it changed, and re-gossiping every key of a
	 * joiner's first exchange flooded the network (gossip-sim
	 * --state-keys 8, N=100: join convergence 12 s instead of 0.6 s).
	 * Membership news still is, as memberlist does. */
	g->quiet_state = 1;
	for (uint32_t i = 0; i < pm->n_kv; i++)
		gossip__on_state(g, pm->name, pm->kv[i].key, pm->kv[i].version,
			 pm->kv[i].value, pm->kv[i].value_len);
	g->quiet_state = 0;
}

void gossip__pp_merge(struct gossip *g, const struct gossip_wire *w,
	      const struct gmsg *m)
{
	struct gpp_member *pm = malloc(sizeof(*pm));
	char from[GOSSIP_ADDR_MAX + 1];

	if (pm == NULL)
		return;
	/* Whatever is news to us is passed on, even from a join reply: a
	 * version that kept a joiner quiet left early members without the
	 * late ones until the next periodic push-pull (measured: join
	 * convergence p50 0.55 s became 25 s at N=100). */
	for (uint32_t i = 0; i < m->n_members; i++)
		if (gossip_pp_member(m, i, pm) == 0)
			merge_one(g, pm, w->from_name);
	free(pm);
	/* A full push-pull that asks for an answer (older peers of this
	 * format did so) gets our digest, which starts a normal exchange. */
	if (!(m->flags & GOSSIP_PP_REPLY)) {
		gossip__gstr_copy(from, w->from_addr);
		gossip__pp_send(g, from, 0);
	}
}

static uint64_t pp_interval(const struct gossip *g)
{
	uint64_t iv = g->cfg.push_pull_interval_ms;
	uint32_t n = g->n_live;

	if (n <= 32)
		return iv;
	return iv * (uint64_t)(ceil(log2((double)n) - 5.0) + 1.0);
}

static void reconnect(struct gossip *g)
{
	uint32_t n_dead = 0, pick;

	for (uint32_t s = 1; s < g->m_used; s++)
		n_dead += g->m[s].status == GOSSIP_DEAD;
	if (n_dead == 0)
		return;
	if (prng_double(&g->rng) * (double)(g->n_live > 0 ? g->n_live : 1) >=
	    (double)n_dead)
		return;
	pick = (uint32_t)prng_below(&g->rng, n_dead);
	for (uint32_t s = 1; s < g->m_used; s++) {
		if (g->m[s].status != GOSSIP_DEAD)
			continue;
		if (pick-- == 0) {
			gossip__pp_send(g, g->m[s].addr, 0);
			return;
		}
	}
}

void gossip__pp_tick(struct gossip *g)
{
	if (g->now_ms >= g->next_pp_ms) {
		uint64_t iv = pp_interval(g), base = g->cfg.push_pull_interval_ms;
		/* The first deadline was drawn in [0, base) after creation,
		 * before N was known. For the phases of all members to be
		 * uniform over the scaled interval [0, iv), keep it with
		 * probability base/iv, else move it to a uniform point of
		 * [base, iv) (measured: without this, a 90 s window at N=100
		 * saw half the push-pulls it should). */
		int skip = !g->pp_started &&
			   prng_double(&g->rng) * (double)iv >= (double)base;

		g->next_pp_ms = g->now_ms + iv;
		if (skip)
			g->next_pp_ms = g->created_ms + base +
					prng_below(&g->rng, iv - base);
		g->pp_started = 1;
		if (!g->left && !skip) {
			int32_t s = gossip__mem_random_live(g, NO_SLOT, NO_SLOT);

			if (s != NO_SLOT)
				gossip__pp_send(g, g->m[s].addr, 0);
		}
	}
	if (g->now_ms >= g->next_reconnect_ms) {
		g->next_reconnect_ms = g->now_ms + g->cfg.reconnect_interval_ms;
		if (!g->left)
			reconnect(g);
	}
}
