/*
 * gossipd.c: the executor of gossip updates (gossip/gossip.h's driver
 * contract: send the packets, report the changes, tick by the deadline)
 * and the rate limit of the node's published keys.
 *
 * Every public call that steps the core ends in one env.set_timer with
 * the earliest of the core's deadline and the pending publications', so
 * the owner keeps a single timer. Each core update is carried out before
 * the next step, since its buffers live only until then.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/gossipd/internal.h"

/* How often the table is checked against the core for reaped members. The
 * core reaps after reap_ms (5 min), so a few seconds' delay is invisible. */
#define PRUNE_INTERVAL_MS 10000

static const char *const key_names[GOSSIPD_KEYS_N] = {"id", "http", "ver",
						      "role", "mv"};

const char *gossipd_key_name(enum gossipd_key k)
{
	return (unsigned)k < GOSSIPD_KEYS_N ? key_names[k] : "?";
}

void gossipd_config_default(struct gossipd_config *c)
{
	memset(c, 0, sizeof(*c));
	gossip_config_default(&c->gossip);
	c->seed = 1;
	c->publish_interval_ms = 1000;
}

/* Carries out one update: packets, then changes, then states. */
static void execute(struct gossipd *d, const struct gossip_update *u)
{
	for (uint32_t i = 0; i < u->n_packets; i++) {
		const struct gossip_packet *p = &u->packets[i];

		d->st.packets_out++;
		if (p->channel == GOSSIP_RELIABLE)
			d->st.bytes_out_tcp += p->len;
		else
			d->st.bytes_out_udp += p->len;
		if (p->channel == GOSSIP_RELIABLE &&
		    (d->bugs & GOSSIPD_BUG_DROP_RELIABLE))
			continue;
		if (d->env.send(d->env.ctx, p->to, p->channel, p->data, p->len) != 0)
			d->st.send_failed++;
	}
	for (uint32_t i = 0; i < u->n_changes; i++) {
		const struct gossip_member_change *c = &u->changes[i];

		if (i > 0 && (d->bugs & GOSSIPD_BUG_FIRST_CHANGE_ONLY))
			break;
		struct gd_member *m;

		if (tbl_apply(&d->t, c, d->now_ms) == ERR_NOMEM)
			TRACE_W(d->tracer, "gossipd", "member %s not tracked: out of memory",
				c->name);
		m = tbl_find(&d->t, c->name);
		if (m != NULL && m->raft_id == 0) {
			const uint8_t *v;
			uint64_t ver;
			size_t len;

			/* The id may have arrived before the member's first
			 * report (a push-pull carries both). */
			if (gossip_state_get(d->g, c->name, "id", &ver, &v, &len) == 0)
				m->raft_id = gd_parse_id(v, len);
		}
		if (d->env.on_member != NULL)
			d->env.on_member(d->env.ctx, c);
	}
	for (uint32_t i = 0; i < u->n_states; i++) {
		const struct gossip_state_change *c = &u->states[i];

		if (strcmp(c->key, "id") == 0) {
			struct gd_member *m = tbl_find(&d->t, c->name);

			if (m != NULL)
				m->raft_id = gd_parse_id(c->value, c->len);
		}
		if (d->env.on_state != NULL)
			d->env.on_state(d->env.ctx, c);
	}
	d->core_deadline_ms = u->deadline_ms;
}

static int step(struct gossipd *d, const struct gossip_event *ev)
{
	struct gossip_update u;
	int rc;

	ASSERT(ev->now_ms == d->now_ms);
	rc = gossip_step(d->g, ev, &u);
	/* The core ran its timers even if the request failed: carry the
	 * update out either way. */
	execute(d, &u);
	if (ev->type == GOSSIP_EV_RECV && u.recv_err != 0) {
		d->st.recv_rejected++;
		TRACE_D(d->tracer, "gossipd", "packet from %s rejected: %s",
			ev->recv.from ? ev->recv.from : "?", err_name(u.recv_err));
		if (rc == 0)
			rc = u.recv_err;
	}
	return rc;
}

static uint64_t deadline(const struct gossipd *d)
{
	uint64_t t = d->core_deadline_ms;

	for (uint32_t k = 0; k < GOSSIPD_KEYS_N; k++) {
		const struct gd_pub *p = &d->pub[k];

		if (p->has_pend && p->last_ms + d->publish_interval_ms < t)
			t = p->last_ms + d->publish_interval_ms;
	}
	return t;
}

/* Ends every stepping call: one timer for everything. */
static int finish(struct gossipd *d, int rc)
{
	d->env.set_timer(d->env.ctx, deadline(d));
	return rc;
}

static void advance(struct gossipd *d, uint64_t now_ms)
{
	ASSERT(now_ms >= d->now_ms); /* the contract: time never goes back */
	d->now_ms = now_ms;
}

static int add_self(struct gossipd *d, const struct gossip_config *gc)
{
	struct gossip_member_change self;

	memset(&self, 0, sizeof(self));
	snprintf(self.name, sizeof(self.name), "%s", gc->name);
	snprintf(self.addr, sizeof(self.addr), "%s", gc->addr ? gc->addr : "");
	self.status = GOSSIP_ALIVE;
	self.incarnation = gossip_incarnation(d->g);
	return tbl_apply(&d->t, &self, d->now_ms);
}

int gossipd_new(const struct gossipd_config *c, const struct gossipd_env *env,
		uint64_t now_ms, struct gossipd **out)
{
	struct gossipd *d;
	int rc;

	*out = NULL;
	if (env == NULL || env->send == NULL || env->set_timer == NULL ||
	    c->gossip.name == NULL || c->gossip.members_max == 0)
		return ERR_INVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ERR_NOMEM;
	d->env = *env;
	d->tracer = c->tracer;
	d->publish_interval_ms = c->publish_interval_ms;
	d->bugs = c->bugs;
	d->now_ms = now_ms;
	d->core_deadline_ms = now_ms;
	d->next_prune_ms = now_ms + PRUNE_INTERVAL_MS;
	snprintf(d->name, sizeof(d->name), "%s", c->gossip.name);
	rc = tbl_init(&d->t, c->gossip.members_max);
	if (rc != 0)
		goto err_free;
	rc = gossip_new(&c->gossip, c->seed, c->tracer, now_ms, &d->g);
	if (rc != 0)
		goto err_table;
	/* The core reports its own member only when it changes (a
	 * refutation, a leave): list self from the start. */
	rc = add_self(d, &c->gossip);
	if (rc != 0)
		goto err_core;
	*out = d;
	return 0;
err_core:
	gossip_free(d->g);
err_table:
	tbl_free(&d->t);
err_free:
	free(d);
	return rc;
}

void gossipd_free(struct gossipd *d)
{
	if (d == NULL)
		return;
	gossip_free(d->g);
	tbl_free(&d->t);
	free(d);
}

int gossipd_join(struct gossipd *d, uint64_t now_ms, const char *const *seeds,
		 uint32_t n)
{
	struct gossip_event ev = {.type = GOSSIP_EV_JOIN, .now_ms = now_ms};

	advance(d, now_ms);
	ev.join.seeds = seeds;
	ev.join.n = n;
	return finish(d, step(d, &ev));
}

int gossipd_leave(struct gossipd *d, uint64_t now_ms)
{
	struct gossip_event ev = {.type = GOSSIP_EV_LEAVE, .now_ms = now_ms};

	advance(d, now_ms);
	return finish(d, step(d, &ev));
}

static int set_state(struct gossipd *d, const char *key, const uint8_t *value,
		     size_t len)
{
	struct gossip_event ev = {.type = GOSSIP_EV_SET_STATE,
				  .now_ms = d->now_ms};

	ev.state.key = key;
	ev.state.value = value;
	ev.state.len = len;
	return step(d, &ev);
}

/* Sends the pending values whose interval has ended. */
static int flush_due(struct gossipd *d)
{
	int rc = 0;

	for (uint32_t k = 0; k < GOSSIPD_KEYS_N; k++) {
		struct gd_pub *p = &d->pub[k];
		int r;

		if (!p->has_pend || d->now_ms < p->last_ms + d->publish_interval_ms)
			continue;
		r = set_state(d, key_names[k], (const uint8_t *)p->pend,
			      strlen(p->pend));
		p->has_pend = 0;
		if (r != 0) {
			rc = rc ? rc : r;
			continue;
		}
		memcpy(p->cur, p->pend, sizeof(p->cur));
		p->has_cur = 1;
		p->last_ms = d->now_ms;
		d->st.publishes++;
	}
	return rc;
}

int gossipd_tick(struct gossipd *d, uint64_t now_ms)
{
	struct gossip_event ev = {.type = GOSSIP_EV_TICK, .now_ms = now_ms};
	int rc;

	advance(d, now_ms);
	rc = step(d, &ev);
	if (rc == 0)
		rc = flush_due(d);
	if (now_ms >= d->next_prune_ms) {
		d->next_prune_ms = now_ms + PRUNE_INTERVAL_MS;
		if (rc == 0)
			rc = tbl_prune(&d->t, d->g);
	}
	return finish(d, rc);
}

int gossipd_receive(struct gossipd *d, uint64_t now_ms, const char *from,
		    enum gossip_channel ch, const uint8_t *buf, size_t len)
{
	struct gossip_event ev = {.type = GOSSIP_EV_RECV, .now_ms = now_ms};

	advance(d, now_ms);
	d->st.packets_in++;
	d->st.bytes_in += len;
	ev.recv.from = from;
	ev.recv.channel = ch;
	ev.recv.data = buf;
	ev.recv.len = len;
	return finish(d, step(d, &ev));
}

int gossipd_set_state(struct gossipd *d, uint64_t now_ms, const char *key,
		      const uint8_t *value, size_t len)
{
	advance(d, now_ms);
	return finish(d, set_state(d, key, value, len));
}

/* The rate limit's decision for a new value; 1 if it goes out now. */
static int publish_now(struct gossipd *d, struct gd_pub *p, const char *value)
{
	if (p->has_pend && strcmp(p->pend, value) == 0)
		return 0;
	if (p->has_cur && strcmp(p->cur, value) == 0) {
		p->has_pend = 0; /* back to what the others already have */
		return 0;
	}
	if (!p->has_cur || d->publish_interval_ms == 0 ||
	    d->now_ms >= p->last_ms + d->publish_interval_ms) {
		p->has_pend = 0;
		return 1;
	}
	snprintf(p->pend, sizeof(p->pend), "%s", value);
	p->has_pend = 1;
	d->st.publishes_deferred++;
	return 0;
}

int gossipd_publish(struct gossipd *d, uint64_t now_ms, enum gossipd_key key,
		    const char *value)
{
	struct gd_pub *p;
	size_t len;
	int rc;

	if ((unsigned)key >= GOSSIPD_KEYS_N || value == NULL)
		return ERR_INVAL;
	len = strlen(value);
	if (len > GOSSIPD_VALUE_MAX)
		return ERR_INVAL;
	advance(d, now_ms);
	p = &d->pub[key];
	if (!publish_now(d, p, value))
		return finish(d, 0);
	rc = set_state(d, key_names[key], (const uint8_t *)value, len);
	if (rc == 0) {
		memcpy(p->cur, value, len + 1);
		p->has_cur = 1;
		p->last_ms = now_ms;
		d->st.publishes++;
	}
	return finish(d, rc);
}

int gossipd_publish_id(struct gossipd *d, uint64_t now_ms, uint64_t raft_id)
{
	char hex[17];

	snprintf(hex, sizeof(hex), "%016" PRIx64, raft_id);
	return gossipd_publish(d, now_ms, GOSSIPD_KEY_ID, hex);
}

const struct gossip *gossipd_core(const struct gossipd *d)
{
	return d->g;
}
