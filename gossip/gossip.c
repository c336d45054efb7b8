/*
 * gossip.c: the step function, the timers, the events, sending and the
 * queries. The rules for news about members live in news.c, the failure
 * detector in probe.c, dissemination in bcast.c, anti-entropy in
 * pushpull.c, the member table in members.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "gossip/internal.h"

#define MOD "gossip"
/* Reaping runs at most this often; it scans the member table. */
#define REAP_SCAN_MS 1000

void gossip_config_default(struct gossip_config *c)
{
	/* memberlist DefaultLANConfig (config.go), the Consul/Serf values. */
	*c = (struct gossip_config){
		.probe_interval_ms = 1000,
		.probe_timeout_ms = 500,
		.indirect_checks = 3,
		.suspicion_mult = 4,
		.suspicion_max_mult = 6,
		.retransmit_mult = 4,
		.gossip_interval_ms = 200,
		.gossip_nodes = 3,
		.gossip_to_dead_ms = 30000,
		.push_pull_interval_ms = 30000,
		.reconnect_interval_ms = 30000, /* Serf's ReconnectInterval */
		.reap_ms = 300000,
		.awareness_max = 8,
		.packet_max = 1400, /* memberlist UDPBufferSize, under 1500 MTU */
		.reliable_max = 4u << 20,
		.members_max = 8192,
		.bcast_max = 4096,
		.relay_max = 64,
		.reliable_ping = 1, /* memberlist: DisableTcpPings = false */
	};
}

uint64_t gossip_suspicion_min(uint32_t mult, uint32_t n, uint32_t interval_ms)
{
	double scale = n > 1 ? log10((double)n) : 1.0;

	if (scale < 1.0)
		scale = 1.0;
	return (uint64_t)((double)mult * scale * (double)interval_ms);
}

uint64_t gossip_suspicion_timeout(uint64_t min_ms, uint64_t max_ms, uint32_t k,
				  uint32_t c)
{
	double frac, t;

	if (k == 0 || max_ms <= min_ms)
		return min_ms;
	frac = log((double)c + 1.0) / log((double)k + 1.0);
	t = floor((double)max_ms - (double)(max_ms - min_ms) * frac);
	return t < (double)min_ms ? min_ms : (uint64_t)t;
}

uint32_t gossip_retransmit_limit(uint32_t mult, uint32_t n)
{
	return mult * (uint32_t)ceil(log10((double)n + 1.0));
}

int gossip__gstr_eq(struct gstr s, const char *c)
{
	return strlen(c) == s.len && memcmp(c, s.p, s.len) == 0;
}

void gossip__gstr_copy(char *dst, struct gstr s)
{
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
}

static int config_ok(const struct gossip_config *c)
{
	return c->name != NULL && c->addr != NULL && c->name[0] != '\0' &&
	       c->addr[0] != '\0' && strlen(c->name) <= GOSSIP_NAME_MAX &&
	       strlen(c->addr) <= GOSSIP_ADDR_MAX && c->probe_interval_ms > 0 &&
	       c->probe_timeout_ms > 0 &&
	       c->probe_timeout_ms <= c->probe_interval_ms &&
	       c->suspicion_mult >= 1 && c->suspicion_max_mult >= 1 &&
	       c->retransmit_mult >= 1 && c->gossip_interval_ms > 0 &&
	       c->push_pull_interval_ms > 0 && c->reconnect_interval_ms > 0 &&
	       c->awareness_max >= 1 && c->packet_max >= 256 &&
	       c->reliable_max >= c->packet_max && c->members_max >= 2 &&
	       c->members_max <= GOSSIP_PP_MEMBERS_MAX && c->bcast_max >= 16 &&
	       c->relay_max >= 1;
}

int gossip_new(const struct gossip_config *c, uint64_t seed,
	       const struct tracer *t, uint64_t now_ms, struct gossip **out)
{
	struct gossip *g;

	if (!config_ok(c))
		return ERR_INVAL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return ERR_NOMEM;
	g->cfg = *c;
	strcpy(g->name, c->name);
	strcpy(g->addr, c->addr);
	g->cfg.name = g->name;
	g->cfg.addr = g->addr;
	g->tr = t;
	g->now_ms = now_ms;
	g->created_ms = now_ms;
	prng_seed(&g->rng, seed);
	mp_writer_init(&g->w, c->reliable_max);
	g->out_pkts.elem = sizeof(struct gossip_packet);
	g->out_bufs.elem = sizeof(uint8_t *);
	g->out_changes.elem = sizeof(struct gossip_member_change);
	g->out_states.elem = sizeof(struct gossip_state_change);
	g->relays = calloc(c->relay_max, sizeof(*g->relays));
	if (g->relays == NULL || gossip__bcast_init(g) != 0 || gossip__mem_init(g) != 0) {
		gossip_free(g);
		return ERR_NOMEM;
	}
	/* Spread the first probe and the periodic exchanges over a period,
	 * so that members started together do not tick in lock-step. */
	g->next_probe_ms = now_ms + prng_below(&g->rng, c->probe_interval_ms);
	g->next_gossip_ms = now_ms + prng_below(&g->rng, c->gossip_interval_ms);
	g->next_pp_ms = now_ms + prng_below(&g->rng, c->push_pull_interval_ms);
	g->next_reconnect_ms =
		now_ms + prng_below(&g->rng, c->reconnect_interval_ms);
	g->next_reap_ms = now_ms + REAP_SCAN_MS;
	*out = g;
	return 0;
}

static void out_reset(struct gossip *g)
{
	uint8_t **bufs = g->out_bufs.p;

	for (uint32_t i = 0; i < g->out_bufs.n; i++)
		free(bufs[i]);
	g->out_bufs.n = 0;
	g->out_pkts.n = 0;
	g->out_changes.n = 0;
	g->out_states.n = 0;
}

void gossip_free(struct gossip *g)
{
	if (g == NULL)
		return;
	out_reset(g);
	gossip__ovec_free(&g->out_bufs);
	gossip__ovec_free(&g->out_pkts);
	gossip__ovec_free(&g->out_changes);
	gossip__ovec_free(&g->out_states);
	if (g->bc != NULL)
		gossip__bcast_free(g);
	if (g->m != NULL)
		gossip__mem_free(g);
	free(g->relays);
	mp_writer_free(&g->w);
	free(g);
}

void gossip__send_owned(struct gossip *g, const char *to, enum gossip_channel ch,
		uint8_t *buf, size_t len)
{
	struct gossip_packet *p;
	uint8_t **keep = gossip__ovec_push(&g->out_bufs);

	if (keep == NULL) {
		free(buf);
		return;
	}
	*keep = buf;
	p = gossip__ovec_push(&g->out_pkts);
	if (p == NULL)
		return;
	memset(p->to, 0, sizeof(p->to));
	strncpy(p->to, to, GOSSIP_ADDR_MAX);
	p->channel = ch;
	p->data = buf;
	p->len = len;
}

static uint32_t str_hdr(size_t len)
{
	return len < 32 ? 1u : len < 256 ? 2u : 3u;
}

void gossip__send_packet(struct gossip *g, const char *to, enum gossip_channel ch,
		 const uint8_t *const *msgs, const uint32_t *lens, uint32_t n,
		 int piggyback)
{
	int32_t idx[GOSSIP_PKT_MSGS_MAX];
	size_t nl = strlen(g->name), al = strlen(g->addr);
	/* array(4), version, two strings, an array16 header */
	uint32_t used = 1 + 1 + str_hdr(nl) + (uint32_t)nl + str_hdr(al) +
			(uint32_t)al + 3;
	uint32_t nb = 0;
	struct mp_writer w;
	uint8_t *buf;
	size_t len;

	ASSERT(n <= CORR_MAX);
	for (uint32_t i = 0; i < n; i++)
		used += lens[i];
	if (piggyback && used < g->cfg.packet_max)
		nb = gossip__bcast_select(g, idx, GOSSIP_PKT_MSGS_MAX - n,
				  g->cfg.packet_max - used);
	if (n + nb == 0)
		return;
	mp_writer_init(&w, g->cfg.packet_max);
	gossip_enc_header(&w, g->name, g->addr, n + nb);
	for (uint32_t i = 0; i < n; i++)
		mp_w_raw(&w, msgs[i], lens[i]);
	for (uint32_t i = 0; i < nb; i++)
		mp_w_raw(&w, g->bc[idx[i]].msg, g->bc[idx[i]].len);
	if (mp_writer_take(&w, &buf, &len) != 0) {
		TRACE_E(g->tr, MOD, "packet over %u bytes", g->cfg.packet_max);
		mp_writer_free(&w);
		return;
	}
	mp_writer_free(&w);
	gossip__bcast_sent(g, idx, nb);
	gossip__send_owned(g, to, ch, buf, len);
}

/* ---- events ---- */

static void handle_msg(struct gossip *g, const struct gossip_wire *w,
		       const struct gmsg *m)
{
	switch (m->type) {
	case GMSG_PING:
		gossip__probe_on_ping(g, w, m);
		break;
	case GMSG_ACK:
		gossip__probe_on_ack(g, m);
		break;
	case GMSG_NACK:
		gossip__probe_on_nack(g, m);
		break;
	case GMSG_PING_REQ:
		gossip__probe_on_ping_req(g, w, m);
		break;
	case GMSG_ALIVE:
		gossip__on_alive(g, m->name, m->addr, m->inc);
		break;
	case GMSG_SUSPECT:
		gossip__on_suspect(g, m->name, m->inc, m->from);
		break;
	case GMSG_DEAD:
		gossip__on_dead(g, m->name, m->inc, m->from);
		break;
	case GMSG_STATE:
		gossip__on_state(g, m->name, m->key, m->inc, m->value, m->value_len);
		break;
	case GMSG_PUSHPULL:
		gossip__pp_merge(g, w, m);
		break;
	case GMSG_PP_DIGEST:
		gossip__pp_on_digest(g, w, m);
		break;
	case GMSG_PP_WANT:
		gossip__pp_on_want(g, w, m);
		break;
	default:
		break;
	}
}

static int on_recv(struct gossip *g, const struct gossip_event *ev)
{
	struct gossip_wire *w;
	size_t max = ev->recv.channel == GOSSIP_RELIABLE ? g->cfg.reliable_max
							 : g->cfg.packet_max;
	int rc;

	if (ev->recv.len > max)
		return ERR_MALFORMED;
	w = malloc(sizeof(*w));
	if (w == NULL)
		return ERR_NOMEM;
	rc = gossip_decode(w, ev->recv.data, ev->recv.len);
	if (rc != 0) {
		free(w);
		return rc;
	}
	/* Our own packet echoed back (a seed list naming ourselves). */
	g->recv_ch = ev->recv.channel;
	g->n_corr = 0;
	if (!gossip__gstr_eq(w->from_name, g->name)) {
		for (uint32_t i = 0; i < w->n; i++) {
			/* Push-pull replies carry our whole state already. */
			g->in_packet = w->msgs[i].type < GMSG_PUSHPULL;
			handle_msg(g, w, &w->msgs[i]);
		}
		g->in_packet = 0;
		gossip__correct_sender(g, w);
	}
	gossip_wire_free(w);
	free(w);
	return 0;
}

static int on_join(struct gossip *g, const struct gossip_event *ev)
{
	if (ev->join.n > GOSSIP_SEEDS_MAX)
		return ERR_INVAL;
	for (uint32_t i = 0; i < ev->join.n; i++)
		if (ev->join.seeds[i] == NULL ||
		    strlen(ev->join.seeds[i]) > GOSSIP_ADDR_MAX)
			return ERR_INVAL;
	g->joined = 1;
	/* Announce ourselves too (memberlist's setAlive): members that
	 * joined before us hear of us from us, not only from the seed. */
	gossip__bcast_queue_alive(g, 0);
	for (uint32_t i = 0; i < ev->join.n; i++)
		if (strcmp(ev->join.seeds[i], g->addr) != 0)
			gossip__pp_send(g, ev->join.seeds[i], GOSSIP_PP_JOIN);
	return 0;
}

static int on_set_state(struct gossip *g, const struct gossip_event *ev)
{
	size_t kl = ev->state.key != NULL ? strlen(ev->state.key) : 0;
	int32_t kvi;
	int rc;

	if (kl == 0 || kl > GOSSIP_KEY_MAX || ev->state.len > GOSSIP_VALUE_MAX ||
	    (ev->state.len > 0 && ev->state.value == NULL))
		return ERR_INVAL;
	rc = gossip__mem_kv_set(g, &g->m[0], ev->state.key, (uint32_t)kl,
			g->state_ver + 1, ev->state.value,
			(uint32_t)ev->state.len, &kvi);
	if (rc < 0)
		return rc == ERR_TOOBIG ? ERR_INVAL : rc;
	g->state_ver++;
	gossip__bcast_queue_state(g, 0, kvi);
	gossip__mem_report_state(g, 0, kvi);
	return 0;
}

/* Picks up to gossip_nodes members to gossip to: live ones, and dead ones
 * for gossip_to_dead_ms so that a member wrongly declared dead hears it
 * and refutes (memberlist does the same). */
static uint32_t gossip_targets(struct gossip *g, int32_t *out, uint32_t want)
{
	uint32_t n = 0;

	if (g->m_used <= 1)
		return 0;
	for (uint32_t tries = 0; tries < want * 8 && n < want; tries++) {
		int32_t s = (int32_t)prng_range(&g->rng, 1, g->m_used - 1);
		const struct member *m = &g->m[s];
		int ok = m->status == GOSSIP_ALIVE || m->status == GOSSIP_SUSPECT;

		if (m->status == GOSSIP_DEAD || m->status == GOSSIP_LEFT)
			ok = g->now_ms - m->change_ms < g->cfg.gossip_to_dead_ms;
		for (uint32_t i = 0; ok && i < n; i++)
			if (out[i] == s)
				ok = 0;
		if (ok)
			out[n++] = s;
	}
	return n;
}

static void gossip_round(struct gossip *g, uint32_t fanout)
{
	int32_t t[16];
	uint32_t n;

	if (fanout > 16)
		fanout = 16;
	n = gossip_targets(g, t, fanout);
	for (uint32_t i = 0; i < n && g->bc_len > 0; i++)
		gossip__send_packet(g, g->m[t[i]].addr, GOSSIP_UNRELIABLE, NULL, NULL, 0,
			    1);
}

static int on_leave(struct gossip *g)
{
	if (g->left)
		return 0;
	g->left = 1;
	g->probe.active = 0;
	gossip__mem_set_status(g, 0, GOSSIP_LEFT, g->m[0].inc);
	gossip__bcast_queue_accuse(g, 0, GMSG_DEAD, g->name);
	gossip__mem_report(g, 0);
	/* Tell a few members at once rather than waiting for a round. */
	gossip_round(g, g->cfg.gossip_nodes * 2);
	return 0;
}

static void reap(struct gossip *g)
{
	for (uint32_t s = 1; s < g->m_used; s++) {
		const struct member *m = &g->m[s];

		if ((m->status == GOSSIP_DEAD || m->status == GOSSIP_LEFT) &&
		    g->now_ms - m->change_ms >= g->cfg.reap_ms)
			gossip__mem_remove(g, (int32_t)s);
	}
}

static void run_timers(struct gossip *g)
{
	gossip__relay_tick(g);
	gossip__probe_tick(g);
	gossip__susp_tick(g);
	if (g->now_ms >= g->next_gossip_ms) {
		gossip_round(g, g->cfg.gossip_nodes);
		/* Stay on the grid even across a long gap. */
		g->next_gossip_ms += g->cfg.gossip_interval_ms;
		if (g->next_gossip_ms <= g->now_ms)
			g->next_gossip_ms = g->now_ms + g->cfg.gossip_interval_ms;
	}
	gossip__pp_tick(g);
	if (g->now_ms >= g->next_reap_ms) {
		reap(g);
		g->next_reap_ms = g->now_ms + REAP_SCAN_MS;
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t next_deadline(const struct gossip *g)
{
	uint64_t d = gossip__probe_deadline(g);

	if (g->bc_len > 0)
		d = min_u64(d, g->next_gossip_ms);
	d = min_u64(d, g->next_pp_ms);
	d = min_u64(d, g->next_reconnect_ms);
	if (g->n_members > g->n_live)
		d = min_u64(d, g->next_reap_ms);
	return d;
}

int gossip_step(struct gossip *g, const struct gossip_event *ev,
		struct gossip_update *u)
{
	int rc = 0;

	out_reset(g);
	memset(u, 0, sizeof(*u));
	if (ev->now_ms > g->now_ms)
		g->now_ms = ev->now_ms;
	/* While no bcast is queued, gossip rounds are skipped: move the
	 * grid point forward so the round after new news comes on time. */
	if (g->bc_len == 0 && g->next_gossip_ms < g->now_ms)
		g->next_gossip_ms += ((g->now_ms - g->next_gossip_ms) /
				      g->cfg.gossip_interval_ms + 1) *
				     g->cfg.gossip_interval_ms;
	run_timers(g);
	switch (ev->type) {
	case GOSSIP_EV_TICK:
		break;
	case GOSSIP_EV_RECV:
		u->recv_err = on_recv(g, ev);
		if (u->recv_err == ERR_MALFORMED || u->recv_err == ERR_VERSION)
			g->st.malformed++;
		break;
	case GOSSIP_EV_JOIN:
		rc = on_join(g, ev);
		break;
	case GOSSIP_EV_LEAVE:
		rc = on_leave(g);
		break;
	case GOSSIP_EV_SET_STATE:
		rc = on_set_state(g, ev);
		break;
	default:
		rc = ERR_INVAL;
	}
	u->packets = g->out_pkts.p;
	u->n_packets = g->out_pkts.n;
	u->changes = g->out_changes.p;
	u->n_changes = g->out_changes.n;
	u->states = g->out_states.p;
	u->n_states = g->out_states.n;
	u->deadline_ms = next_deadline(g);
	return rc;
}

/* ---- queries ---- */

uint64_t gossip_incarnation(const struct gossip *g)
{
	return g->m[0].inc;
}

uint32_t gossip_health(const struct gossip *g)
{
	return g->awareness;
}

uint32_t gossip_num_members(const struct gossip *g)
{
	return g->n_members;
}

uint32_t gossip_num_live(const struct gossip *g)
{
	return g->n_live;
}

int gossip_lookup(const struct gossip *g, const char *name,
		  enum gossip_status *status, uint64_t *incarnation)
{
	int32_t s = gossip__mem_find(g, name, (uint32_t)strlen(name));

	if (s == NO_SLOT)
		return ERR_NOTFOUND;
	*status = (enum gossip_status)g->m[s].status;
	*incarnation = g->m[s].inc;
	return 0;
}

int gossip_state_get(const struct gossip *g, const char *name,
		     const char *key, uint64_t *version, const uint8_t **value,
		     size_t *len)
{
	int32_t s = gossip__mem_find(g, name, (uint32_t)strlen(name));

	if (s == NO_SLOT)
		return ERR_NOTFOUND;
	for (uint32_t i = 0; i < g->m[s].n_kv; i++) {
		const struct kv *kv = &g->m[s].kv[i];

		if (strcmp(kv->key, key) == 0) {
			*version = kv->version;
			*value = kv->value;
			*len = kv->len;
			return 0;
		}
	}
	return ERR_NOTFOUND;
}

void gossip_get_stats(const struct gossip *g, struct gossip_stats *s)
{
	*s = g->st;
}
