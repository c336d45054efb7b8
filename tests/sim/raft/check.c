/*
 * check.c: Raft's safety properties as O(1) checks. See check.h.
 */
#include "tests/sim/raft/check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

int sim_check_init(struct sim_check *c)
{
	memset(c, 0, sizeof(*c));
	c->pairs_cap = 1024;
	c->pairs = calloc(c->pairs_cap, sizeof(*c->pairs));
	return c->pairs == NULL ? ERR_NOMEM : 0;
}

void sim_check_free(struct sim_check *c)
{
	free(c->leader);
	free(c->pairs);
	free(c->com);
	memset(c, 0, sizeof(*c));
}

uint64_t sim_chain(uint64_t prev_chain, uint64_t term, const void *data,
		   size_t len, int type)
{
	const uint8_t *p = data;
	uint64_t h = prev_chain ^ 0x9e3779b97f4a7c15ULL;

	h = (h ^ term) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)type) * 0x100000001b3ULL;
	h = (h ^ len) * 0x100000001b3ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h ^ (h >> 31);
}

static int fail(struct sim_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct sim_check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	c->violations++;
	return -1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem, int fill)
{
	size_t n = *cap ? *cap : 64;
	void *np;

	if (need < *cap)
		return 0;
	while (n <= need)
		n *= 2;
	np = realloc(*p, n * elem);
	if (np == NULL)
		return ERR_NOMEM;
	memset((uint8_t *)np + *cap * elem, fill, (n - *cap) * elem);
	*p = np;
	*cap = n;
	return 0;
}

int sim_check_leader(struct sim_check *c, uint64_t term, int node)
{
	if (grow((void **)&c->leader, &c->terms_cap, (size_t)term,
		 sizeof(*c->leader), 0xff) != 0)
		return ERR_NOMEM;
	if (c->leader[term] >= 0 && c->leader[term] != node)
		return fail(c,
			    "election safety: term %" PRIu64
			    " has two leaders, node %d and node %d",
			    term, c->leader[term], node);
	c->leader[term] = node;
	return 0;
}

static uint64_t pair_hash(uint64_t index, uint64_t term)
{
	uint64_t h =
	    index * 0x9e3779b97f4a7c15ULL ^ term * 0xc2b2ae3d27d4eb4fULL;

	return h ^ (h >> 29);
}

static int pairs_rehash(struct sim_check *c)
{
	struct check_pair *old = c->pairs;
	size_t old_cap = c->pairs_cap;

	c->pairs = calloc(old_cap * 2, sizeof(*c->pairs));
	if (c->pairs == NULL) {
		c->pairs = old;
		return ERR_NOMEM;
	}
	c->pairs_cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (old[i].index == 0)
			continue;
		j = pair_hash(old[i].index, old[i].term) & (c->pairs_cap - 1);
		while (c->pairs[j].index != 0)
			j = (j + 1) & (c->pairs_cap - 1);
		c->pairs[j] = old[i];
	}
	free(old);
	return 0;
}

int sim_check_entry(struct sim_check *c, int node, uint64_t index,
		    uint64_t term, uint64_t chain)
{
	size_t j;

	ASSERT(index > 0);
	if (2 * (c->pairs_n + 1) > c->pairs_cap && pairs_rehash(c) != 0)
		return ERR_NOMEM;
	j = pair_hash(index, term) & (c->pairs_cap - 1);
	while (c->pairs[j].index != 0) {
		struct check_pair *p = &c->pairs[j];

		if (p->index == index && p->term == term) {
			if (p->chain != chain)
				return fail(c,
					    "log matching: node %d holds "
					    "(index %" PRIu64 ", term %" PRIu64
					    ") with a different prefix",
					    node, index, term);
			return 0;
		}
		j = (j + 1) & (c->pairs_cap - 1);
	}
	c->pairs[j] = (struct check_pair){index, term, chain};
	c->pairs_n++;
	return 0;
}

int sim_check_committed(struct sim_check *c, int node, uint64_t index,
			uint64_t term, uint64_t chain)
{
	struct check_committed *e;

	ASSERT(index > 0);
	if (index <= c->com_n) {
		e = &c->com[index];
		if (e->term != term || e->chain != chain)
			return fail(c,
				    "committed entry changed: node %d has "
				    "index %" PRIu64 " term %" PRIu64
				    ", first committed with term %" PRIu64,
				    node, index, term, e->term);
		return 0;
	}
	if (index != c->com_n + 1)
		return fail(c,
			    "commit gap: node %d committed index %" PRIu64
			    " while only %zu are known",
			    node, index, c->com_n);
	if (grow((void **)&c->com, &c->com_cap, (size_t)index, sizeof(*c->com),
		 0) != 0)
		return ERR_NOMEM;
	c->com[index] = (struct check_committed){term, chain};
	c->com_n = index;
	return 0;
}

uint64_t sim_check_commit_max(const struct sim_check *c)
{
	return c->com_n;
}

const struct check_committed *sim_check_committed_at(const struct sim_check *c,
						     uint64_t index)
{
	if (index == 0 || index > c->com_n)
		return NULL;
	return &c->com[index];
}
