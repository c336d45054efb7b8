/*
 * table.c: gossipd's member table. The core keeps its own table but shows
 * it only through change reports and lookups by name; a node needs to list
 * every member (clusterctl members) and to find one by Raft id (the
 * autopilot), so the driver keeps this mirror of the reports. It is
 * bounded by the core's members_max and pruned of the members the core
 * has reaped.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/gossipd/internal.h"

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

static void index_put(struct gd_table *t, uint32_t row)
{
	uint32_t mask = t->index_cap - 1;
	uint32_t i = name_hash(t->rows[row].name) & mask;

	while (t->index[i] != 0)
		i = (i + 1) & mask;
	t->index[i] = row + 1;
}

/* Rebuilds the index for row capacity cap (reallocating the rows when cap
 * grows). With cap unchanged nothing is allocated, so pruning cannot fail
 * halfway with rows moved and the index stale. */
static int rebuild(struct gd_table *t, uint32_t cap)
{
	uint32_t icap = 16;

	ASSERT(cap >= t->n);
	while (icap < 2 * cap)
		icap *= 2;
	if (cap != t->cap) {
		struct gd_member *rows = realloc(t->rows, cap * sizeof(*rows));

		if (rows == NULL)
			return ERR_NOMEM;
		t->rows = rows;
		t->cap = cap;
	}
	if (icap != t->index_cap) {
		uint32_t *index = calloc(icap, sizeof(*index));

		if (index == NULL)
			return ERR_NOMEM;
		free(t->index);
		t->index = index;
		t->index_cap = icap;
	} else {
		memset(t->index, 0, icap * sizeof(*t->index));
	}
	for (uint32_t r = 0; r < t->n; r++)
		index_put(t, r);
	return 0;
}

int tbl_init(struct gd_table *t, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	ASSERT(max > 0);
	t->max = max;
	return rebuild(t, max < 8 ? max : 8);
}

void tbl_free(struct gd_table *t)
{
	free(t->rows);
	free(t->index);
	memset(t, 0, sizeof(*t));
}

struct gd_member *tbl_find(const struct gd_table *t, const char *name)
{
	uint32_t mask = t->index_cap - 1;
	uint32_t i = name_hash(name) & mask;

	/* At most half full, so the probe ends at an empty slot. */
	for (uint32_t k = 0; k < t->index_cap && t->index[i] != 0; k++) {
		struct gd_member *m = &t->rows[t->index[i] - 1];

		if (strcmp(m->name, name) == 0)
			return m;
		i = (i + 1) & mask;
	}
	return NULL;
}

int tbl_apply(struct gd_table *t, const struct gossip_member_change *c,
	      uint64_t now_ms)
{
	struct gd_member *m = tbl_find(t, c->name);
	int rc;

	if (m == NULL) {
		if (t->n == t->max) {
			t->dropped++;
			return ERR_AGAIN;
		}
		if (t->n == t->cap) {
			uint32_t cap = t->cap * 2 < t->max ? t->cap * 2 : t->max;

			rc = rebuild(t, cap);
			if (rc != 0)
				return rc;
		}
		m = &t->rows[t->n];
		memset(m, 0, sizeof(*m));
		memcpy(m->name, c->name, sizeof(m->name));
		m->name[GOSSIP_NAME_MAX] = '\0';
		index_put(t, t->n++);
	}
	if (m->status != (uint8_t)c->status || m->since_ms == 0)
		m->since_ms = now_ms;
	m->status = (uint8_t)c->status;
	m->inc = c->incarnation;
	memcpy(m->addr, c->addr, sizeof(m->addr));
	m->addr[GOSSIP_ADDR_MAX] = '\0';
	ASSERT(t->n <= t->cap && t->cap <= t->max);
	return 0;
}

int tbl_prune(struct gd_table *t, const struct gossip *g)
{
	uint32_t kept = 0, n = t->n;

	for (uint32_t r = 0; r < n; r++) {
		enum gossip_status st;
		uint64_t inc;

		if (gossip_lookup(g, t->rows[r].name, &st, &inc) != 0)
			continue;
		if (kept != r)
			t->rows[kept] = t->rows[r];
		kept++;
	}
	if (kept == n)
		return 0;
	t->n = kept;
	return rebuild(t, t->cap);
}

uint64_t gd_parse_id(const uint8_t *s, size_t len)
{
	uint64_t v = 0;

	if (len == 0 || len > 16)
		return 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = s[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return 0;
		v = v << 4 | d;
	}
	return v;
}
