/*
 * members.c: the member table (stable slots, a name index), the
 * shuffled round-robin probe order of SWIM section 4.3, and each
 * member's bounded key/value state.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "gossip/internal.h"

void *gossip__ovec_push(struct out_vec *v)
{
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 16;
		void *p = realloc(v->p, cap * v->elem);

		if (p == NULL)
			return NULL;
		v->p = p;
		v->cap = cap;
	}
	return (uint8_t *)v->p + (size_t)v->n++ * v->elem;
}

void gossip__ovec_free(struct out_vec *v)
{
	free(v->p);
	v->p = NULL;
	v->n = v->cap = 0;
}

uint32_t gossip__mem_name_hash(const char *s, uint32_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (uint32_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

static void hash_insert(struct gossip *g, int32_t slot)
{
	const char *n = g->m[slot].name;
	uint32_t mask = g->hash_cap - 1;
	uint32_t i = gossip__mem_name_hash(n, (uint32_t)strlen(n)) & mask;

	while (g->hash[i] != NO_SLOT)
		i = (i + 1) & mask;
	g->hash[i] = slot;
}

/* Rebuilds the index with room for twice the slots; used on growth and
 * on removal (rare: reaping), which keeps probing free of tombstones. */
static int hash_rebuild(struct gossip *g, uint32_t slots)
{
	uint32_t cap = 16;
	int32_t *h;

	while (cap < slots * 2)
		cap *= 2;
	if (cap != g->hash_cap) {
		h = malloc(cap * sizeof(*h));
		if (h == NULL)
			return ERR_NOMEM;
		free(g->hash);
		g->hash = h;
		g->hash_cap = cap;
	}
	for (uint32_t i = 0; i < g->hash_cap; i++)
		g->hash[i] = NO_SLOT;
	for (uint32_t s = 0; s < g->m_used; s++)
		if (g->m[s].status != 0)
			hash_insert(g, (int32_t)s);
	return 0;
}

int32_t gossip__mem_find(const struct gossip *g, const char *name, uint32_t len)
{
	uint32_t mask = g->hash_cap - 1;
	uint32_t i = gossip__mem_name_hash(name, len) & mask;

	for (uint32_t probes = 0; probes < g->hash_cap; probes++) {
		int32_t s = g->hash[i];

		if (s == NO_SLOT)
			return NO_SLOT;
		if (strlen(g->m[s].name) == len &&
		    memcmp(g->m[s].name, name, len) == 0)
			return s;
		i = (i + 1) & mask;
	}
	return NO_SLOT;
}

static int grow(struct gossip *g)
{
	uint32_t cap = g->m_cap ? g->m_cap * 2 : 16;
	struct member *m;
	int32_t *o, *f, *s;

	if (cap > g->cfg.members_max)
		cap = g->cfg.members_max;
	if (cap <= g->m_cap)
		return ERR_AGAIN;
	m = realloc(g->m, cap * sizeof(*m));
	if (m == NULL)
		return ERR_NOMEM;
	g->m = m;
	o = realloc(g->order, cap * sizeof(*o));
	if (o == NULL)
		return ERR_NOMEM;
	g->order = o;
	f = realloc(g->free_slots, cap * sizeof(*f));
	if (f == NULL)
		return ERR_NOMEM;
	g->free_slots = f;
	s = realloc(g->suspects, cap * sizeof(*s));
	if (s == NULL)
		return ERR_NOMEM;
	g->suspects = s;
	g->m_cap = cap;
	return hash_rebuild(g, cap);
}

int gossip__mem_init(struct gossip *g)
{
	int32_t self;

	if (grow(g) != 0)
		return ERR_NOMEM;
	self = gossip__mem_add(g, g->name, (uint32_t)strlen(g->name), g->addr,
		       (uint32_t)strlen(g->addr));
	if (self != 0)
		return ERR_NOMEM;
	g->m[0].inc = g->cfg.incarnation;
	g->state_ver = g->cfg.state_version;
	return 0;
}

static void kv_free_all(struct member *m)
{
	for (uint32_t i = 0; i < m->n_kv; i++)
		free(m->kv[i].value);
	free(m->kv);
	m->kv = NULL;
	m->n_kv = 0;
}

void gossip__mem_free(struct gossip *g)
{
	for (uint32_t s = 0; s < g->m_used; s++)
		if (g->m[s].status != 0)
			kv_free_all(&g->m[s]);
	free(g->m);
	free(g->order);
	free(g->free_slots);
	free(g->suspects);
	free(g->hash);
}

/* Inserts a slot into the probe order at a random place, as memberlist
 * does, so a newcomer is probed within about one round. */
static void order_insert(struct gossip *g, int32_t slot)
{
	uint32_t at;

	ASSERT(g->n_order < g->m_cap);
	g->order[g->n_order++] = slot;
	at = (uint32_t)prng_below(&g->rng, g->n_order);
	g->order[g->n_order - 1] = g->order[at];
	g->order[at] = slot;
}

int32_t gossip__mem_add(struct gossip *g, const char *name, uint32_t name_len,
		const char *addr, uint32_t addr_len)
{
	struct member *m;
	int32_t slot;

	ASSERT(name_len <= GOSSIP_NAME_MAX && addr_len <= GOSSIP_ADDR_MAX);
	if (g->n_members >= g->cfg.members_max)
		return NO_SLOT;
	if (g->n_free > 0) {
		slot = g->free_slots[--g->n_free];
	} else {
		if (g->m_used == g->m_cap && grow(g) != 0)
			return NO_SLOT;
		slot = (int32_t)g->m_used++;
	}
	m = &g->m[slot];
	memset(m, 0, sizeof(*m));
	memcpy(m->name, name, name_len);
	memcpy(m->addr, addr, addr_len);
	m->status = GOSSIP_ALIVE;
	m->change_ms = g->now_ms;
	m->bcast = NO_SLOT;
	g->n_members++;
	g->n_live++;
	hash_insert(g, slot);
	if (slot != 0)
		order_insert(g, slot);
	return slot;
}

static void suspects_remove(struct gossip *g, int32_t slot)
{
	for (uint32_t i = 0; i < g->n_suspects; i++) {
		if (g->suspects[i] == slot) {
			g->suspects[i] = g->suspects[--g->n_suspects];
			return;
		}
	}
}

void gossip__mem_set_status(struct gossip *g, int32_t slot, uint8_t status,
		    uint64_t inc)
{
	struct member *m = &g->m[slot];
	int was_live = m->status == GOSSIP_ALIVE || m->status == GOSSIP_SUSPECT;
	int live = status == GOSSIP_ALIVE || status == GOSSIP_SUSPECT;

	/* SWIM 4.2: a member's incarnation only ever grows. */
	ASSERT(inc >= m->inc);
	if (m->status == GOSSIP_SUSPECT && status != GOSSIP_SUSPECT)
		suspects_remove(g, slot);
	if (status == GOSSIP_SUSPECT && m->status != GOSSIP_SUSPECT)
		g->suspects[g->n_suspects++] = slot;
	if (was_live && !live)
		g->n_live--;
	/* A revived member rejoins the probe order at the next round
	 * (order_rebuild); inserting it now could list it twice. */
	if (!was_live && live)
		g->n_live++;
	if (m->status != status)
		m->change_ms = g->now_ms;
	m->status = status;
	m->inc = inc;
}

void gossip__mem_remove(struct gossip *g, int32_t slot)
{
	struct member *m = &g->m[slot];

	ASSERT(slot != 0 && m->status != 0);
	if (m->bcast != NO_SLOT)
		gossip__bcast_drop(g, m->bcast);
	for (uint32_t i = 0; i < m->n_kv; i++)
		if (m->kv[i].bcast != NO_SLOT)
			gossip__bcast_drop(g, m->kv[i].bcast);
	gossip__mem_set_status(g, slot, GOSSIP_DEAD, m->inc);
	for (uint32_t i = 0; i < g->n_order; i++) {
		if (g->order[i] == slot) {
			memmove(&g->order[i], &g->order[i + 1],
				(g->n_order - i - 1) * sizeof(int32_t));
			g->n_order--;
			if (g->order_pos > i)
				g->order_pos--;
			break;
		}
	}
	kv_free_all(m);
	m->status = 0;
	g->n_members--;
	g->free_slots[g->n_free++] = slot;
	(void)hash_rebuild(g, g->m_cap);
}

int gossip__mem_kv_set(struct gossip *g, struct member *m, const char *key,
	       uint32_t key_len, uint64_t version, const uint8_t *v,
	       uint32_t len, int32_t *kv_index)
{
	struct kv *kv = NULL;
	uint8_t *copy = NULL;

	ASSERT(key_len <= GOSSIP_KEY_MAX && len <= GOSSIP_VALUE_MAX);
	for (uint32_t i = 0; i < m->n_kv; i++) {
		if (strlen(m->kv[i].key) == key_len &&
		    memcmp(m->kv[i].key, key, key_len) == 0) {
			kv = &m->kv[i];
			break;
		}
	}
	if (kv != NULL && kv->version >= version)
		return 0; /* newer version wins; equal means seen */
	if (len > 0 && (copy = malloc(len)) == NULL)
		return ERR_NOMEM;
	if (len > 0)
		memcpy(copy, v, len);
	if (kv == NULL) {
		struct kv *arr;

		if (m->n_kv >= GOSSIP_STATE_KEYS_MAX) {
			g->st.state_dropped++;
			free(copy);
			return ERR_TOOBIG;
		}
		arr = realloc(m->kv, (m->n_kv + 1) * sizeof(*arr));
		if (arr == NULL) {
			free(copy);
			return ERR_NOMEM;
		}
		m->kv = arr;
		kv = &m->kv[m->n_kv++];
		memset(kv, 0, sizeof(*kv));
		memcpy(kv->key, key, key_len);
		kv->bcast = NO_SLOT;
	}
	free(kv->value);
	kv->value = copy;
	kv->len = len;
	kv->version = version;
	*kv_index = (int32_t)(kv - m->kv);
	return 1;
}

void gossip__mem_report(struct gossip *g, int32_t slot)
{
	struct gossip_member_change *c = gossip__ovec_push(&g->out_changes);
	const struct member *m = &g->m[slot];

	if (c == NULL)
		return;
	memcpy(c->name, m->name, sizeof(c->name));
	memcpy(c->addr, m->addr, sizeof(c->addr));
	c->status = (enum gossip_status)m->status;
	c->incarnation = m->inc;
}

void gossip__mem_report_state(struct gossip *g, int32_t slot, int32_t kvi)
{
	const struct member *m = &g->m[slot];
	const struct kv *kv = &m->kv[kvi];
	struct gossip_state_change *c;
	uint8_t **keep;
	uint8_t *copy = NULL;

	if (kv->len > 0) {
		copy = malloc(kv->len);
		keep = gossip__ovec_push(&g->out_bufs);
		if (copy == NULL || keep == NULL) {
			free(copy);
			return;
		}
		memcpy(copy, kv->value, kv->len);
		*keep = copy;
	}
	c = gossip__ovec_push(&g->out_states);
	if (c == NULL)
		return;
	memcpy(c->name, m->name, sizeof(c->name));
	memcpy(c->key, kv->key, sizeof(c->key));
	c->version = kv->version;
	c->value = copy;
	c->len = kv->len;
}

static int is_live(const struct member *m)
{
	return m->status == GOSSIP_ALIVE || m->status == GOSSIP_SUSPECT;
}

int32_t gossip__mem_random_live(struct gossip *g, int32_t ex1, int32_t ex2)
{
	uint32_t start;

	if (g->m_used <= 1)
		return NO_SLOT;
	/* Rejection sampling is quick when most slots are live; the scan
	 * afterwards bounds the work when few are. */
	for (int tries = 0; tries < 16; tries++) {
		int32_t s = (int32_t)prng_range(&g->rng, 1, g->m_used - 1);

		if (s != ex1 && s != ex2 && is_live(&g->m[s]))
			return s;
	}
	start = (uint32_t)prng_below(&g->rng, g->m_used);
	for (uint32_t i = 0; i < g->m_used; i++) {
		int32_t s = (int32_t)((start + i) % g->m_used);

		if (s != 0 && s != ex1 && s != ex2 && is_live(&g->m[s]))
			return s;
	}
	return NO_SLOT;
}

static void order_rebuild(struct gossip *g)
{
	g->n_order = 0;
	for (uint32_t s = 1; s < g->m_used; s++)
		if (is_live(&g->m[s]))
			g->order[g->n_order++] = (int32_t)s;
	for (uint32_t i = g->n_order; i > 1; i--) { /* Fisher-Yates */
		uint32_t j = (uint32_t)prng_below(&g->rng, i);
		int32_t t = g->order[i - 1];

		g->order[i - 1] = g->order[j];
		g->order[j] = t;
	}
	g->order_pos = 0;
}

int32_t gossip__mem_next_probe_target(struct gossip *g)
{
	/* Two passes at most: the rest of this round, then a new round. */
	for (int pass = 0; pass < 2; pass++) {
		while (g->order_pos < g->n_order) {
			int32_t s = g->order[g->order_pos++];

			if (g->m[s].status != 0 && is_live(&g->m[s]))
				return s;
		}
		order_rebuild(g);
	}
	return NO_SLOT;
}
