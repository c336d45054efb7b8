/*
 * bcast.c: the dissemination queue (SWIM section 4.1, as memberlist's
 * TransmitLimitedQueue). Each update is piggybacked until it has been
 * sent retransmit_mult * ceil(log10(N+1)) times, least-sent first and,
 * among equals, newest first, so fresh news overtakes old news; and
 * membership news before state news, because failure detection depends
 * on the former (with every node publishing 8 state keys, gossip-sim
 * N=100 took 5.7 s instead of 0.6 s to converge on membership when both
 * shared one queue). A newer
 * update about the same member (or the same state key) replaces the
 * queued one. Entries live in buckets by transmit count (heads newest),
 * so choosing a packet's worth costs only the entries chosen.
 *
 * Bound: cfg.bcast_max entries. When full, the most-sent, oldest entry is
 * dropped and counted (stats.bcast_dropped); push-pull repairs whatever a
 * dropped update would have told.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "gossip/internal.h"

int gossip__bcast_init(struct gossip *g)
{
	g->bc_cap = g->cfg.bcast_max;
	g->bc = calloc(g->bc_cap, sizeof(*g->bc));
	if (g->bc == NULL)
		return ERR_NOMEM;
	for (uint32_t i = 0; i < g->bc_cap; i++)
		g->bc[i].next = i + 1 < g->bc_cap ? (int32_t)(i + 1) : NO_SLOT;
	g->bc_free = 0;
	for (int b = 0; b < 2 * BCAST_BUCKETS; b++)
		g->bc_head[b] = g->bc_tail[b] = NO_SLOT;
	return 0;
}

void gossip__bcast_free(struct gossip *g)
{
	for (uint32_t i = 0; i < g->bc_cap; i++)
		if (g->bc[i].used)
			free(g->bc[i].msg);
	free(g->bc);
}

static uint32_t bucket_of(const struct bcast *b)
{
	uint32_t t = b->transmits < BCAST_BUCKETS ? b->transmits
						  : BCAST_BUCKETS - 1;

	return b->owner_kv < 0 ? t : BCAST_BUCKETS + t;
}

static void unlink_entry(struct gossip *g, int32_t idx)
{
	struct bcast *b = &g->bc[idx];
	uint32_t k = bucket_of(b);

	if (b->prev != NO_SLOT)
		g->bc[b->prev].next = b->next;
	else
		g->bc_head[k] = b->next;
	if (b->next != NO_SLOT)
		g->bc[b->next].prev = b->prev;
	else
		g->bc_tail[k] = b->prev;
}

static void link_head(struct gossip *g, int32_t idx)
{
	struct bcast *b = &g->bc[idx];
	uint32_t k = bucket_of(b);

	b->prev = NO_SLOT;
	b->next = g->bc_head[k];
	if (b->next != NO_SLOT)
		g->bc[b->next].prev = idx;
	else
		g->bc_tail[k] = idx;
	g->bc_head[k] = idx;
}

static int32_t *owner_ref(struct gossip *g, const struct bcast *b)
{
	struct member *m = &g->m[b->owner];

	return b->owner_kv < 0 ? &m->bcast : &m->kv[b->owner_kv].bcast;
}

void gossip__bcast_drop(struct gossip *g, int32_t idx)
{
	struct bcast *b = &g->bc[idx];
	int32_t *ref = owner_ref(g, b);

	ASSERT(b->used && *ref == idx);
	unlink_entry(g, idx);
	*ref = NO_SLOT;
	free(b->msg);
	b->msg = NULL;
	b->used = 0;
	b->next = g->bc_free;
	g->bc_free = idx;
	g->bc_len--;
}

/* Makes room by dropping the oldest of the most-sent entries, state
 * before membership. */
static void evict_one(struct gossip *g)
{
	for (int k = 2 * BCAST_BUCKETS - 1; k >= 0; k--) {
		if (g->bc_tail[k] != NO_SLOT) {
			gossip__bcast_drop(g, g->bc_tail[k]);
			g->st.bcast_dropped++;
			return;
		}
	}
	UNREACHABLE();
}

void gossip__bcast_queue(struct gossip *g, int32_t owner, int32_t owner_kv,
		 const uint8_t *msg, uint32_t len)
{
	struct member *m = &g->m[owner];
	int32_t *ref = owner_kv < 0 ? &m->bcast : &m->kv[owner_kv].bcast;
	uint8_t *copy;
	int32_t idx;

	if (*ref != NO_SLOT)
		gossip__bcast_drop(g, *ref);
	copy = malloc(len);
	if (copy == NULL) {
		g->st.bcast_dropped++;
		return;
	}
	memcpy(copy, msg, len);
	if (g->bc_free == NO_SLOT)
		evict_one(g);
	idx = g->bc_free;
	g->bc_free = g->bc[idx].next;
	g->bc[idx] = (struct bcast){.msg = copy, .len = len, .owner = owner,
				    .owner_kv = owner_kv, .used = 1};
	link_head(g, idx);
	*ref = idx;
	g->bc_len++;
}

uint32_t gossip__bcast_select(struct gossip *g, int32_t *idx, uint32_t max_msgs,
		      uint32_t room)
{
	uint32_t limit = gossip_retransmit_limit(g->cfg.retransmit_mult,
						 g->n_members);
	uint32_t n = 0;

	if (limit > BCAST_BUCKETS - 1)
		limit = BCAST_BUCKETS - 1;
	for (uint32_t c = 0; c < 2; c++) {
		for (uint32_t k = 0; k < limit && n < max_msgs && room > 0; k++) {
			int32_t i = g->bc_head[c * BCAST_BUCKETS + k];

			for (; i != NO_SLOT && n < max_msgs; i = g->bc[i].next) {
				if (g->bc[i].len <= room) {
					idx[n++] = i;
					room -= g->bc[i].len;
				}
			}
		}
	}
	return n;
}

void gossip__bcast_sent(struct gossip *g, const int32_t *idx, uint32_t n)
{
	uint32_t limit = gossip_retransmit_limit(g->cfg.retransmit_mult,
						 g->n_members);

	for (uint32_t i = 0; i < n; i++) {
		struct bcast *b = &g->bc[idx[i]];

		unlink_entry(g, idx[i]);
		b->transmits++;
		if (b->transmits >= limit) {
			link_head(g, idx[i]); /* bcast_drop unlinks it */
			gossip__bcast_drop(g, idx[i]);
		} else {
			link_head(g, idx[i]);
		}
	}
}

static void queue_scratch(struct gossip *g, int32_t slot, int32_t kv)
{
	if (mp_writer_error(&g->w) == 0)
		gossip__bcast_queue(g, slot, kv, mp_writer_data(&g->w),
			    (uint32_t)mp_writer_len(&g->w));
	mp_writer_reset(&g->w);
}

void gossip__bcast_queue_alive(struct gossip *g, int32_t slot)
{
	const struct member *m = &g->m[slot];

	mp_writer_reset(&g->w);
	gossip_enc_alive(&g->w, m->name, m->addr, m->inc);
	queue_scratch(g, slot, -1);
}

void gossip__bcast_queue_accuse(struct gossip *g, int32_t slot, uint32_t type,
			const char *from)
{
	const struct member *m = &g->m[slot];

	mp_writer_reset(&g->w);
	gossip_enc_accuse(&g->w, type, m->name, m->inc, from);
	queue_scratch(g, slot, -1);
}

void gossip__bcast_queue_state(struct gossip *g, int32_t slot, int32_t kv)
{
	const struct member *m = &g->m[slot];
	const struct kv *e = &m->kv[kv];

	mp_writer_reset(&g->w);
	gossip_enc_state(&g->w, m->name, e->key, e->version, e->value, e->len);
	queue_scratch(g, slot, kv);
}
