/*
 * tnet.h: a hand-driven network of gossip instances for the unit tests.
 * Packets queue until the test delivers them; a drop rule decides which
 * ones are lost. Everything happens at times the test chooses.
 */
#ifndef CLUSTERD_TESTS_GOSSIP_TNET_H
#define CLUSTERD_TESTS_GOSSIP_TNET_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/codec.h"
#include "gossip/gossip.h"

#define TNET_MAX 16
#define TNET_Q 4096

struct tpkt {
	int from, to;
	enum gossip_channel ch;
	uint8_t *data;
	size_t len;
};

struct tnet {
	struct gossip *g[TNET_MAX];
	char name[TNET_MAX][16], addr[TNET_MAX][16];
	int n;
	uint64_t now;
	struct tpkt q[TNET_Q];
	int nq;
	/* drop[a][b]: packets from a to b are lost */
	int drop[TNET_MAX][TNET_MAX];
	int drop_unreliable[TNET_MAX][TNET_MAX]; /* datagrams only */
	int down[TNET_MAX];
	/* last reports, per node */
	struct gossip_member_change changes[TNET_MAX][64];
	int n_changes[TNET_MAX];
	struct gossip_state_change states[TNET_MAX][16];
	uint8_t state_vals[TNET_MAX][16][GOSSIP_VALUE_MAX];
	int n_states[TNET_MAX];
	uint64_t deadline[TNET_MAX];
	int last_recv_err;
	uint64_t sent_bytes;
};

static inline int tnet_index(const struct tnet *t, const char *addr)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->addr[i], addr) == 0)
			return i;
	return -1;
}

static inline void tnet_take(struct tnet *t, int i, const struct gossip_update *u)
{
	for (uint32_t p = 0; p < u->n_packets; p++) {
		struct tpkt *k;

		if (t->nq >= TNET_Q)
			abort();
		k = &t->q[t->nq++];
		k->from = i;
		k->to = tnet_index(t, u->packets[p].to);
		k->ch = u->packets[p].channel;
		k->len = u->packets[p].len;
		k->data = malloc(k->len);
		memcpy(k->data, u->packets[p].data, k->len);
		t->sent_bytes += k->len;
	}
	for (uint32_t c = 0; c < u->n_changes && t->n_changes[i] < 64; c++)
		t->changes[i][t->n_changes[i]++] = u->changes[c];
	for (uint32_t c = 0; c < u->n_states && t->n_states[i] < 16; c++) {
		int k = t->n_states[i]++;

		t->states[i][k] = u->states[c];
		memcpy(t->state_vals[i][k], u->states[c].value, u->states[c].len);
		t->states[i][k].value = t->state_vals[i][k];
	}
	t->deadline[i] = u->deadline_ms;
	if (u->recv_err != 0)
		t->last_recv_err = u->recv_err;
}

static inline int tnet_step(struct tnet *t, int i, struct gossip_event *ev)
{
	struct gossip_update u;
	int rc;

	ev->now_ms = t->now;
	rc = gossip_step(t->g[i], ev, &u);
	tnet_take(t, i, &u);
	return rc;
}

static inline void tnet_tick(struct tnet *t, int i)
{
	struct gossip_event ev = {.type = GOSSIP_EV_TICK};

	if (!t->down[i])
		tnet_step(t, i, &ev);
}

static inline void tnet_tick_all(struct tnet *t)
{
	for (int i = 0; i < t->n; i++)
		tnet_tick(t, i);
}

static inline void tnet_recv(struct tnet *t, int i, const uint8_t *d, size_t len,
			     enum gossip_channel ch)
{
	struct gossip_event ev = {.type = GOSSIP_EV_RECV};

	ev.recv.from = "test";
	ev.recv.channel = ch;
	ev.recv.data = d;
	ev.recv.len = len;
	tnet_step(t, i, &ev);
}

/* Delivers queued packets (and what they cause) until the queue is empty
 * or `rounds` batches passed. */
static inline void tnet_deliver(struct tnet *t, int rounds)
{
	for (int r = 0; r < rounds && t->nq > 0; r++) {
		struct tpkt batch[TNET_Q];
		int n = t->nq;

		memcpy(batch, t->q, sizeof(struct tpkt) * (size_t)n);
		t->nq = 0;
		for (int k = 0; k < n; k++) {
			struct tpkt *p = &batch[k];

			if (p->to >= 0 && !t->down[p->to] && !t->drop[p->from][p->to] &&
			    !(p->ch == GOSSIP_UNRELIABLE &&
			      t->drop_unreliable[p->from][p->to]))
				tnet_recv(t, p->to, p->data, p->len, p->ch);
			free(p->data);
		}
	}
}

static inline void tnet_clear(struct tnet *t)
{
	for (int k = 0; k < t->nq; k++)
		free(t->q[k].data);
	t->nq = 0;
}

/* Advances time in steps of `step_ms`, ticking every node and delivering
 * everything at once (a network with zero latency). */
static inline void tnet_run(struct tnet *t, uint64_t until, uint64_t step_ms)
{
	while (t->now < until) {
		t->now += step_ms;
		tnet_tick_all(t);
		tnet_deliver(t, 8);
	}
}

static inline void tnet_cfg(struct gossip_config *c)
{
	gossip_config_default(c);
}

static inline struct gossip *tnet_add(struct tnet *t, const struct gossip_config *base,
				     uint64_t seed)
{
	struct gossip_config c = *base;
	int i = t->n++;

	snprintf(t->name[i], sizeof(t->name[i]), "node%d", i);
	snprintf(t->addr[i], sizeof(t->addr[i]), "addr%d", i);
	c.name = t->name[i];
	c.addr = t->addr[i];
	if (gossip_new(&c, seed + (uint64_t)i, NULL, t->now, &t->g[i]) != 0)
		abort();
	return t->g[i];
}

static inline void tnet_join(struct tnet *t, int i, int seed)
{
	struct gossip_event ev = {.type = GOSSIP_EV_JOIN};
	const char *seeds[1] = {t->addr[seed]};

	ev.join.seeds = seeds;
	ev.join.n = 1;
	tnet_step(t, i, &ev);
}

static inline void tnet_free(struct tnet *t)
{
	tnet_clear(t);
	for (int i = 0; i < t->n; i++)
		gossip_free(t->g[i]);
}

static inline enum gossip_status tnet_status(struct tnet *t, int obs, int who)
{
	enum gossip_status st;
	uint64_t inc;

	if (gossip_lookup(t->g[obs], t->name[who], &st, &inc) != 0)
		return 0;
	return st;
}

/* Counts msgs of a type in queued packets (optionally only to `to`). */
static inline int tnet_count_type(struct tnet *t, uint32_t type, int to)
{
	int n = 0;

	for (int k = 0; k < t->nq; k++) {
		struct gossip_wire *w = malloc(sizeof(*w));

		if (to >= 0 && t->q[k].to != to) {
			free(w);
			continue;
		}
		if (gossip_decode(w, t->q[k].data, t->q[k].len) == 0) {
			for (uint32_t m = 0; m < w->n; m++)
				n += w->msgs[m].type == type;
			gossip_wire_free(w);
		}
		free(w);
	}
	return n;
}

#endif
