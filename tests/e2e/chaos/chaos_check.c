/*
 * chaos_check.c: the linearizability verdict on a history recorded by the
 * chaos test (chaos.py), with the simulator's checker (tests/sim/raft/lin.h:
 * Wing & Gong with Lowe's memoisation, each key on its own).
 *
 * Usage: chaos-check HISTORY [--states-max N]
 * HISTORY has one operation a line (lines starting with '#' are comments):
 *   KEY put|get known|unknown ARG OUT CALL_US RET_US
 * a put writes ARG (0 = the key is deleted), a get read OUT (0 = absent).
 * Prints one line "lin: verdict=ok|violation|unknown keys=K ops=N
 * pruned=P states=S [bad_key=K [first_bad_us=T]]" (T: the earliest time
 * at which that key's history is already not linearizable, the return
 * of the operation that completes the violation) and exits 0
 * (linearizable), 1 (a violation), 2 (the bounded search gave up:
 * unknown, never "yes") or 3 (the file could not be read).
 *
 * Before the search, an unknown-outcome put of a value no read ever saw is
 * dropped: values are unique per write, so in any linearization that
 * includes such a put no operation sits between it and the next write (a
 * read there would have returned its value), and removing it leaves a
 * valid linearization; the reverse is trivial. The put of 0 (a delete) is
 * never dropped, since reads of 0 are not unique to one write. This keeps
 * the writes lost in a failover from filling the search with choices that
 * cannot matter.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/raft/lin.h"

/* A history holds at most this many operations: a long run at a few
 * hundred operations a second stays far below it. */
#define CHECK_OPS_MAX 20000000u
/* The search's memory per key: cache entries cost (ops / 64 + 1) words. */
#define CHECK_CACHE_BYTES_MAX (768u * 1024u * 1024u)
#define CHECK_STATES_MAX_DEFAULT 5000000u

struct hist {
	struct lin_op *op;
	size_t n, cap;
};

static int hist_push(struct hist *h, const struct lin_op *o)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4096;
		struct lin_op *p;

		if (cap > CHECK_OPS_MAX)
			return -1;
		p = realloc(h->op, cap * sizeof(*p));
		if (p == NULL)
			return -1;
		h->op = p;
		h->cap = cap;
	}
	h->op[h->n++] = *o;
	return 0;
}

/* One line into *o; 0, or -1 when the line is malformed. */
static int parse_line(const char *line, struct lin_op *o)
{
	char kind[8], known[8];
	unsigned long long arg, out, call, ret;
	unsigned key;

	if (sscanf(line, "%u %7s %7s %llu %llu %llu %llu", &key, kind, known,
		   &arg, &out, &call, &ret) != 7)
		return -1;
	memset(o, 0, sizeof(*o));
	o->key = key;
	if (strcmp(kind, "put") == 0)
		o->kind = LIN_PUT;
	else if (strcmp(kind, "get") == 0)
		o->kind = LIN_GET;
	else
		return -1;
	if (strcmp(known, "known") == 0)
		o->known = 1;
	else if (strcmp(known, "unknown") != 0)
		return -1;
	o->arg = arg;
	o->out = out;
	o->call_us = call;
	o->ret_us = ret;
	if (o->known && o->ret_us < o->call_us)
		return -1;
	return 0;
}

static int hist_read(const char *path, struct hist *h)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t lineno = 0;
	int rv = 0;

	if (f == NULL) {
		fprintf(stderr, "chaos-check: cannot open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while (rv == 0 && fgets(line, sizeof(line), f) != NULL) {
		struct lin_op o;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (parse_line(line, &o) != 0) {
			fprintf(stderr, "chaos-check: %s:%zu: malformed line\n",
				path, lineno);
			rv = -1;
		} else if (hist_push(h, &o) != 0) {
			fprintf(stderr, "chaos-check: %s: over %u operations "
					"or out of memory\n",
				path, CHECK_OPS_MAX);
			rv = -1;
		}
	}
	if (rv == 0 && ferror(f)) {
		fprintf(stderr, "chaos-check: cannot read %s\n", path);
		rv = -1;
	}
	fclose(f);
	return rv;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : (x > y);
}

/* Drops unknown puts of values never read (see the opening comment);
 * returns how many, or -1 when out of memory. */
static long prune_unread(struct hist *h)
{
	uint64_t *seen = malloc((h->n + 1) * sizeof(*seen));
	size_t ns = 0, k = 0;
	long pruned = 0;

	if (seen == NULL)
		return -1;
	for (size_t i = 0; i < h->n; i++)
		if (h->op[i].kind == LIN_GET && h->op[i].known)
			seen[ns++] = h->op[i].out;
	qsort(seen, ns, sizeof(*seen), u64_cmp);
	for (size_t i = 0; i < h->n; i++) {
		const struct lin_op *o = &h->op[i];

		if (o->kind == LIN_PUT && !o->known && o->arg != 0 &&
		    bsearch(&o->arg, seen, ns, sizeof(*seen), u64_cmp) == NULL) {
			pruned++;
			continue;
		}
		h->op[k++] = *o;
	}
	h->n = k;
	free(seen);
	return pruned;
}

static int key_cmp(const void *a, const void *b)
{
	const struct lin_op *x = a, *y = b;

	return x->key < y->key ? -1 : (x->key > y->key);
}

/* The states bound for a key with m operations: the smaller of the
 * given bound and what fits CHECK_CACHE_BYTES_MAX. */
static uint64_t states_for(size_t m, uint64_t states_max)
{
	uint64_t entry = ((uint64_t)m / 64 + 2) * sizeof(uint64_t);
	uint64_t fit = CHECK_CACHE_BYTES_MAX / entry;

	return fit < states_max ? fit : states_max;
}

/* The key's ops as seen at time t into dst: those called by t; one that
 * returned after t has an unknown outcome then (a get is left out).
 * Returns how many. */
static size_t cut_at(const struct lin_op *src, size_t m, uint64_t t,
		     struct lin_op *dst)
{
	size_t k = 0;

	for (size_t i = 0; i < m; i++) {
		struct lin_op o = src[i];

		if (o.call_us > t)
			continue;
		if (o.known && o.ret_us > t) {
			if (o.kind == LIN_GET)
				continue;
			o.known = 0;
		}
		dst[k++] = o;
	}
	return k;
}

/* For a key found not linearizable: the earliest time t at which the
 * history cut there (cut_at) is not linearizable either, by bisection
 * over the event times (a cut of a linearizable history is
 * linearizable, so the verdict is monotone in t). The operation that
 * returned at t completes the violation. 0 when it cannot be found
 * (memory, or the bound). */
static uint64_t first_bad(const struct lin_op *ops, size_t m,
			  uint64_t states_max)
{
	uint64_t *t = malloc(2 * m * sizeof(*t));
	struct lin_op *cut = malloc(m * sizeof(*cut));
	size_t nt = 0, lo = 0, hi;
	uint64_t bad_us = 0;

	if (t == NULL || cut == NULL)
		goto out;
	for (size_t i = 0; i < m; i++) {
		t[nt++] = ops[i].call_us;
		if (ops[i].known)
			t[nt++] = ops[i].ret_us;
	}
	qsort(t, nt, sizeof(*t), u64_cmp);
	/* Invariant: the cut at t[hi - 1] is a violation; below lo none. */
	hi = nt;
	while (lo + 1 < hi) {
		size_t mid = lo + (hi - lo) / 2, k;
		struct lin_report rep;

		k = cut_at(ops, m, t[mid - 1], cut);
		if (lin_check(cut, k, states_for(k, states_max), &rep) != 0 ||
		    rep.verdict == LIN_UNKNOWN)
			goto out;
		if (rep.verdict == LIN_VIOLATION)
			hi = mid;
		else
			lo = mid;
	}
	if (hi > 0)
		bad_us = t[hi - 1];
out:
	free(cut);
	free(t);
	return bad_us;
}

/* Checks each key alone, so each gets a bound that fits its size. */
static int check_all(struct hist *h, uint64_t states_max,
		     struct lin_report *all, uint64_t *bad_us)
{
	memset(all, 0, sizeof(*all));
	qsort(h->op, h->n, sizeof(*h->op), key_cmp);
	for (size_t i = 0; i < h->n;) {
		struct lin_report rep;
		size_t j = i;

		while (j < h->n && h->op[j].key == h->op[i].key)
			j++;
		if (lin_check(h->op + i, j - i, states_for(j - i, states_max),
			      &rep) != 0)
			return -1;
		all->keys++;
		all->states += rep.states;
		all->ops_checked += rep.ops_checked;
		if (rep.verdict != LIN_OK && all->verdict != LIN_VIOLATION) {
			all->verdict = rep.verdict;
			all->bad_key = h->op[i].key;
			if (rep.verdict == LIN_VIOLATION)
				*bad_us = first_bad(h->op + i, j - i,
						    states_max);
		}
		i = j;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *names[] = {"ok", "violation", "unknown"};
	uint64_t states_max = CHECK_STATES_MAX_DEFAULT, bad_us = 0;
	struct hist h = {0};
	struct lin_report rep;
	long pruned;
	int rc = 3;

	if (argc == 4 && strcmp(argv[2], "--states-max") == 0)
		states_max = strtoull(argv[3], NULL, 10);
	else if (argc != 2) {
		fprintf(stderr,
			"usage: chaos-check HISTORY [--states-max N]\n");
		return 3;
	}
	if (states_max == 0 || hist_read(argv[1], &h) != 0)
		goto out;
	pruned = prune_unread(&h);
	if (pruned < 0 || check_all(&h, states_max, &rep, &bad_us) != 0) {
		fprintf(stderr, "chaos-check: out of memory\n");
		goto out;
	}
	printf("lin: verdict=%s keys=%zu ops=%zu pruned=%ld states=%" PRIu64,
	       names[rep.verdict], rep.keys, rep.ops_checked, pruned,
	       rep.states);
	if (rep.verdict != LIN_OK)
		printf(" bad_key=%" PRIu32, rep.bad_key);
	if (bad_us != 0)
		printf(" first_bad_us=%" PRIu64, bad_us);
	printf("\n");
	rc = (int)rep.verdict;
out:
	free(h.op);
	return rc;
}
