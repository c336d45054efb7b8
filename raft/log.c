/*
 * log.c: the in-memory log (paper Figure 2, "log[]").
 *
 * raft keeps every entry after its latest snapshot in one array, which the
 * driver mirrors on disk: entries the driver has not been handed yet start
 * at r->unstable, a pending truncation for the driver is r->truncate_from,
 * and r->persisted is the prefix the driver reported durable. Data
 * buffers are copied in and owned here, so a proposal's or a message's
 * memory can be reused as soon as raft_step returns.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

struct raft_entry *raft__log_get(const struct raft *r, raft_index index)
{
	if (index <= r->snap.index || index > log_last(r))
		return NULL;
	return &r->log[index - r->snap.index - 1];
}

raft_term raft__log_term(const struct raft *r, raft_index index)
{
	const struct raft_entry *e;

	if (index == r->snap.index)
		return r->snap.term;
	e = raft__log_get(r, index);
	return e != NULL ? e->term : 0;
}

raft_index raft__log_durable(const struct raft *r)
{
	if (r->cfg.bugs & RAFT_BUG_SEND_BEFORE_PERSIST)
		return log_last(r);
	return r->persisted;
}

static int log_grow(struct raft *r)
{
	uint64_t cap = r->log_cap == 0 ? 64 : r->log_cap * 2;
	struct raft_entry *p;

	p = realloc(r->log, (size_t)cap * sizeof(*p));
	if (p == NULL)
		return ERR_NOMEM;
	r->log = p;
	r->log_cap = cap;
	return 0;
}

int raft__log_append(struct raft *r, raft_term term, uint8_t type,
	       const uint8_t *data, uint32_t len)
{
	struct raft_entry *e;
	uint8_t *copy = NULL;
	int rv;

	ASSERT(term >= log_last_term(r));
	ASSERT(term <= r->term);
	if (r->log_n == r->log_cap) {
		rv = log_grow(r);
		if (rv != 0)
			return rv;
	}
	if (len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			return ERR_NOMEM;
		memcpy(copy, data, len);
	}
	e = &r->log[r->log_n];
	e->term = term;
	e->index = log_last(r) + 1;
	e->type = type;
	e->len = len;
	e->data = copy;
	r->log_n++;
	if (type == RAFT_ENTRY_CONFIG)
		raft__conf_on_append(r, e);
	return 0;
}

static void entry_free(struct raft_entry *e)
{
	free((void *)(uintptr_t)e->data);
	e->data = NULL;
}

void raft__log_truncate(struct raft *r, raft_index from)
{
	raft_index last = log_last(r);
	int had_conf = r->conf_index >= from;

	ASSERT(from > r->snap.index);
	ASSERT(from > r->commit);
	if (from > last)
		return;
	for (raft_index i = from; i <= last; i++)
		entry_free(raft__log_get(r, i));
	r->log_n = from - r->snap.index - 1;
	/* Entries already handed to the driver must be deleted from disk. */
	if (from < r->unstable) {
		if (r->truncate_from == 0 || from < r->truncate_from)
			r->truncate_from = from;
		r->unstable = from;
	}
	if (r->persisted >= from)
		r->persisted = from - 1;
	if (had_conf)
		raft__conf_recompute(r);
}

void raft__log_compact(struct raft *r, raft_index upto)
{
	uint64_t drop;

	ASSERT(upto > r->snap.index && upto <= log_last(r));
	drop = upto - r->snap.index;
	for (uint64_t i = 0; i < drop; i++)
		entry_free(&r->log[i]);
	memmove(r->log, r->log + drop,
		(size_t)(r->log_n - drop) * sizeof(*r->log));
	r->log_n -= drop;
	/* The caller updates r->snap; entries keep their absolute indexes. */
}

void raft__log_clear(struct raft *r)
{
	for (uint64_t i = 0; i < r->log_n; i++)
		entry_free(&r->log[i]);
	r->log_n = 0;
}
