/*
 * lin.c: Wing & Gong search with memoisation, per key. See lin.h.
 */
#include "tests/sim/raft/lin.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

/* One call or return in a key's sub-history. */
struct ev {
	uint64_t time_us;
	uint32_t op; /* index into the key's op array */
	uint8_t ret; /* 0 call, 1 return */
};

/* The explored-states cache: open addressing over an arena of entries,
 * each `words` bitset words followed by the model state. */
struct cache {
	uint64_t *arena;
	uint32_t *slot; /* 1 + entry index, 0 = empty */
	size_t words, n, max, nslots;
};

struct search {
	const struct lin_op **op; /* this key's ops */
	size_t m;
	struct ev *ev;
	int32_t *next, *prev; /* doubly linked list over ev; -1 = end */
	int32_t head;
	int32_t *call_of, *ret_of; /* per op: its event indices (-1 none) */
	uint64_t *bits;
	struct cache c;
	/* Backtracking stack: the call event linearized and the prior state. */
	int32_t *st_ev;
	uint64_t *st_state;
	size_t depth;
};

static int ev_cmp(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	/* Calls before returns at the same instant: the more permissive
	 * reading (the two operations overlap). */
	if (x->ret != y->ret)
		return x->ret < y->ret ? -1 : 1;
	return x->op < y->op ? -1 : (x->op > y->op);
}

static uint64_t hash_entry(const uint64_t *bits, size_t words, uint64_t st)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ st;

	for (size_t i = 0; i < words; i++) {
		h ^= bits[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h * 0x9e3779b97f4a7c15ULL;
}

static size_t slot_find(const struct cache *c, const uint64_t *bits,
			uint64_t st, uint64_t h, int *found)
{
	size_t i = (size_t)(h & (c->nslots - 1));
	size_t esz = c->words + 1;

	*found = 0;
	for (;;) {
		uint32_t s = c->slot[i];
		const uint64_t *e;

		if (s == 0)
			return i;
		e = c->arena + (size_t)(s - 1) * esz;
		if (e[c->words] == st &&
		    memcmp(e, bits, c->words * sizeof(*bits)) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & (c->nslots - 1);
	}
}

/* Doubles the slot table (and the arena with it); ERR_NOMEM. The cache
 * starts small and grows, so a short history costs little. */
static int cache_grow(struct cache *c)
{
	size_t esz = c->words + 1, nslots = c->nslots * 2;
	uint32_t *slot = calloc(nslots, sizeof(*slot));
	uint64_t *arena = realloc(c->arena, nslots / 2 * esz * sizeof(*arena));

	if (slot == NULL || arena == NULL) {
		free(slot);
		if (arena != NULL)
			c->arena = arena;
		return ERR_NOMEM;
	}
	c->arena = arena;
	free(c->slot);
	c->slot = slot;
	c->nslots = nslots;
	for (size_t k = 0; k < c->n; k++) {
		const uint64_t *e = c->arena + k * esz;
		int found;
		size_t i =
		    slot_find(c, e, e[c->words],
			      hash_entry(e, c->words, e[c->words]), &found);

		c->slot[i] = (uint32_t)(k + 1);
	}
	return 0;
}

/* Returns 1 if inserted, 0 if present, -1 when full, ERR_NOMEM. */
static int cache_add(struct cache *c, const uint64_t *bits, uint64_t st)
{
	uint64_t h = hash_entry(bits, c->words, st);
	size_t esz = c->words + 1, i;
	int found;

	i = slot_find(c, bits, st, h, &found);
	if (found)
		return 0;
	if (c->n == c->max)
		return -1;
	if (2 * (c->n + 1) > c->nslots) {
		int rv = cache_grow(c);

		if (rv != 0)
			return rv;
		i = slot_find(c, bits, st, h, &found);
	}
	memcpy(c->arena + c->n * esz, bits, c->words * sizeof(*bits));
	c->arena[c->n * esz + c->words] = st;
	c->slot[i] = (uint32_t)(++c->n);
	return 1;
}

/* The register model: 1 and *next if op may happen in state st. */
static int step(const struct lin_op *op, uint64_t st, uint64_t *next)
{
	switch (op->kind) {
	case LIN_PUT:
		*next = op->arg;
		return 1;
	case LIN_GET:
		*next = st;
		return op->out == st;
	case LIN_CAS:
		if (!op->known || op->out == 1) {
			if (st == op->arg) {
				*next = op->arg2;
				return 1;
			}
			*next = st;
			return !op->known; /* unknown: it failed */
		}
		*next = st;
		return st != op->arg;
	default:
		UNREACHABLE();
	}
}

static void lift(struct search *s, int32_t e)
{
	if (s->prev[e] >= 0)
		s->next[s->prev[e]] = s->next[e];
	else
		s->head = s->next[e];
	if (s->next[e] >= 0)
		s->prev[s->next[e]] = s->prev[e];
}

static void unlift(struct search *s, int32_t e)
{
	if (s->prev[e] >= 0)
		s->next[s->prev[e]] = e;
	else
		s->head = e;
	if (s->next[e] >= 0)
		s->prev[s->next[e]] = e;
}

static void lift_op(struct search *s, uint32_t op)
{
	lift(s, s->call_of[op]);
	if (s->ret_of[op] >= 0)
		lift(s, s->ret_of[op]);
}

static void unlift_op(struct search *s, uint32_t op)
{
	/* Reverse order of lift, so the neighbours' links are restored. */
	if (s->ret_of[op] >= 0)
		unlift(s, s->ret_of[op]);
	unlift(s, s->call_of[op]);
}

/* The search proper over s's list. */
static enum lin_verdict search_run(struct search *s, size_t known)
{
	uint64_t st = 0;
	int32_t e = s->head;

	while (known > 0) {
		ASSERT(e >= 0); /* a known op's return is still listed */
		if (!s->ev[e].ret) {
			uint32_t op = s->ev[e].op;
			uint64_t nst;

			if (step(s->op[op], st, &nst)) {
				int added;

				s->bits[op / 64] |= 1ULL << (op % 64);
				added = cache_add(&s->c, s->bits, nst);
				if (added < 0)
					return LIN_UNKNOWN; /* bound, or no
							       memory */
				if (added) {
					s->st_ev[s->depth] = e;
					s->st_state[s->depth++] = st;
					st = nst;
					lift_op(s, op);
					known -= s->op[op]->known;
					e = s->head;
					continue;
				}
				s->bits[op / 64] &= ~(1ULL << (op % 64));
			}
			/* Everything from head to here is a call, and a known
			 * op's return is still listed, so e stays valid. */
			e = s->next[e];
			continue;
		}
		/* A return whose op is not linearized: undo the last choice. */
		if (s->depth == 0)
			return LIN_VIOLATION;
		e = s->st_ev[--s->depth];
		st = s->st_state[s->depth];
		{
			uint32_t op = s->ev[e].op;

			s->bits[op / 64] &= ~(1ULL << (op % 64));
			unlift_op(s, op);
			known += s->op[op]->known;
		}
		e = s->next[e];
	}
	return LIN_OK;
}

static void search_free(struct search *s)
{
	free(s->ev);
	free(s->next);
	free(s->prev);
	free(s->call_of);
	free(s->ret_of);
	free(s->bits);
	free(s->c.arena);
	free(s->c.slot);
	free(s->st_ev);
	free(s->st_state);
}

static int search_alloc(struct search *s, size_t m, uint64_t states_max)
{
	size_t nev = 2 * m;

	s->c.words = (m + 63) / 64;
	s->c.max = (size_t)states_max;
	s->c.nslots = 1024;
	s->ev = calloc(nev, sizeof(*s->ev));
	s->next = calloc(nev, sizeof(*s->next));
	s->prev = calloc(nev, sizeof(*s->prev));
	s->call_of = calloc(m, sizeof(*s->call_of));
	s->ret_of = calloc(m, sizeof(*s->ret_of));
	s->bits = calloc(s->c.words, sizeof(*s->bits));
	s->c.arena =
	    calloc(s->c.nslots / 2 * (s->c.words + 1), sizeof(uint64_t));
	s->c.slot = calloc(s->c.nslots, sizeof(*s->c.slot));
	s->st_ev = calloc(m, sizeof(*s->st_ev));
	s->st_state = calloc(m, sizeof(*s->st_state));
	if (!s->ev || !s->next || !s->prev || !s->call_of || !s->ret_of ||
	    !s->bits || !s->c.arena || !s->c.slot || !s->st_ev || !s->st_state)
		return ERR_NOMEM;
	return 0;
}

/* Builds the sorted, linked event list for ops s->op[0..m). */
static size_t build_list(struct search *s)
{
	size_t nev = 0, known = 0;

	for (size_t i = 0; i < s->m; i++) {
		const struct lin_op *o = s->op[i];

		s->ev[nev++] = (struct ev){o->call_us, (uint32_t)i, 0};
		if (o->known) {
			ASSERT(o->ret_us >= o->call_us);
			s->ev[nev++] = (struct ev){o->ret_us, (uint32_t)i, 1};
			known++;
		}
		s->ret_of[i] = -1;
	}
	qsort(s->ev, nev, sizeof(*s->ev), ev_cmp);
	for (size_t i = 0; i < nev; i++) {
		s->next[i] = i + 1 < nev ? (int32_t)(i + 1) : -1;
		s->prev[i] = (int32_t)i - 1;
		if (s->ev[i].ret)
			s->ret_of[s->ev[i].op] = (int32_t)i;
		else
			s->call_of[s->ev[i].op] = (int32_t)i;
	}
	s->head = nev > 0 ? 0 : -1;
	return known;
}

static int check_key(const struct lin_op **ops, size_t m, uint64_t states_max,
		     struct lin_report *rep, enum lin_verdict *out)
{
	struct search s;
	size_t known;
	int rv;

	memset(&s, 0, sizeof(s));
	s.op = ops;
	s.m = m;
	rv = search_alloc(&s, m, states_max);
	if (rv != 0)
		goto out_free;
	known = build_list(&s);
	*out = search_run(&s, known);
	rep->states += s.c.n;
	rep->ops_checked += m;
out_free:
	search_free(&s);
	return rv;
}

static int op_cmp(const void *a, const void *b)
{
	const struct lin_op *x = *(const struct lin_op *const *)a;
	const struct lin_op *y = *(const struct lin_op *const *)b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->call_us != y->call_us)
		return x->call_us < y->call_us ? -1 : 1;
	return x < y ? -1 : (x > y);
}

int lin_check(const struct lin_op *ops, size_t n, uint64_t states_max,
	      struct lin_report *rep)
{
	const struct lin_op **v = calloc(n + 1, sizeof(*v));
	size_t m = 0;
	int rv = 0;

	memset(rep, 0, sizeof(*rep));
	if (v == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (ops[i].known || ops[i].kind != LIN_GET)
			v[m++] = &ops[i];
	qsort(v, m, sizeof(*v), op_cmp);
	for (size_t i = 0; i < m && rv == 0;) {
		size_t j = i;
		enum lin_verdict verdict = LIN_OK;

		while (j < m && v[j]->key == v[i]->key)
			j++;
		rep->keys++;
		rv = check_key(v + i, j - i, states_max, rep, &verdict);
		if (rv == 0 && verdict != LIN_OK &&
		    rep->verdict != LIN_VIOLATION) {
			rep->verdict = verdict;
			rep->bad_key = v[i]->key;
		}
		i = j;
	}
	free(v);
	return rv;
}
