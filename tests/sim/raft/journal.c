/*
 * journal.c: a node's Raft state on its simulated disk. See journal.h.
 */
#include "tests/sim/raft/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"

#define JOURNAL_REC_MAX (8u << 20)

void jstate_free(struct jstate *j)
{
	for (uint64_t i = 0; i < j->n; i++)
		free((void *)j->ents[i].data);
	free(j->ents);
	free(j->snap_data);
	memset(j, 0, sizeof(*j));
}

static int put_wbuf(struct sim_disk *d, uint8_t type, struct wbuf *b, int rv)
{
	if (rv == 0)
		rv = sim_disk_append(d, type, b->p, b->len);
	wbuf_free(b);
	return rv;
}

int journal_put_hs(struct sim_disk *d, const struct raft_hard_state *hs)
{
	struct wbuf b;
	int rv;

	wbuf_init(&b, 64);
	rv = wbuf_u64le(&b, hs->term);
	rv = rv ? rv : wbuf_u64le(&b, hs->vote);
	rv = rv ? rv : wbuf_u64le(&b, hs->commit);
	return put_wbuf(d, REC_HS, &b, rv);
}

int journal_put_entries(struct sim_disk *d, raft_index truncate_from,
			const struct raft_entry *e, uint64_t n)
{
	struct wbuf b;
	int rv;

	wbuf_init(&b, JOURNAL_REC_MAX);
	rv = wbuf_u64le(&b, truncate_from);
	rv = rv ? rv : wbuf_u64le(&b, n);
	for (uint64_t i = 0; i < n && rv == 0; i++) {
		rv = wbuf_u64le(&b, e[i].index);
		rv = rv ? rv : wbuf_u64le(&b, e[i].term);
		rv = rv ? rv : wbuf_u8(&b, e[i].type);
		rv = rv ? rv : wbuf_u32le(&b, e[i].len);
		rv = rv ? rv : wbuf_put(&b, e[i].data, e[i].len);
	}
	return put_wbuf(d, REC_ENTRIES, &b, rv);
}

int journal_put_snap(struct sim_disk *d, int installed,
		     const struct raft_snapshot_meta *meta, const uint8_t *data,
		     uint64_t len)
{
	struct mp_writer w;
	struct wbuf b;
	int rv;

	mp_writer_init(&w, 64 * 1024);
	raft_conf_encode(&meta->conf, &w);
	rv = mp_writer_error(&w);
	wbuf_init(&b, JOURNAL_REC_MAX);
	rv = rv ? rv : wbuf_u8(&b, (uint8_t)installed);
	rv = rv ? rv : wbuf_u64le(&b, meta->index);
	rv = rv ? rv : wbuf_u64le(&b, meta->term);
	rv = rv ? rv : wbuf_u32le(&b, (uint32_t)mp_writer_len(&w));
	rv = rv ? rv : wbuf_put(&b, mp_writer_data(&w), mp_writer_len(&w));
	rv = rv ? rv : wbuf_u64le(&b, len);
	rv = rv ? rv : wbuf_put(&b, data, (size_t)len);
	mp_writer_free(&w);
	return put_wbuf(d, REC_SNAP, &b, rv);
}

/* Drops log entries with index >= from. */
static void drop_from(struct jstate *j, raft_index from)
{
	while (j->n > 0 && j->ents[j->n - 1].index >= from)
		free((void *)j->ents[--j->n].data);
}

static int add_entry(struct jstate *j, struct rcur *c)
{
	struct raft_entry e;
	const uint8_t *p;
	uint8_t *copy;
	raft_index want = j->snap.index + j->n + 1;

	if (rcur_u64le(c, &e.index) || rcur_u64le(c, &e.term) ||
	    rcur_u8(c, &e.type) || rcur_u32le(c, &e.len) ||
	    rcur_view(c, &p, e.len))
		return -1;
	if (e.index <= j->snap.index)
		return 0; /* covered by a later-taken snapshot */
	if (e.index != want) {
		snprintf(j->err, sizeof(j->err),
			 "journal: entry %llu where %llu was expected",
			 (unsigned long long)e.index, (unsigned long long)want);
		return -1;
	}
	if (j->n == j->cap) {
		uint64_t cap = j->cap ? 2 * j->cap : 64;
		struct raft_entry *ne = realloc(j->ents, cap * sizeof(*ne));

		if (ne == NULL)
			return -1;
		j->ents = ne;
		j->cap = cap;
	}
	copy = malloc(e.len ? e.len : 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, p, e.len);
	e.data = copy;
	j->ents[j->n++] = e;
	return 0;
}

static int load_entries(struct jstate *j, struct rcur *c)
{
	uint64_t tf, n;

	if (rcur_u64le(c, &tf) || rcur_u64le(c, &n))
		return -1;
	if (tf != 0)
		drop_from(j, tf);
	for (uint64_t i = 0; i < n; i++)
		if (add_entry(j, c) != 0)
			return -1;
	return 0;
}

static int load_snap(struct jstate *j, struct rcur *c)
{
	uint8_t installed;
	uint32_t clen;
	uint64_t dlen;
	const uint8_t *conf, *data;
	struct raft_snapshot_meta m;

	if (rcur_u8(c, &installed) || rcur_u64le(c, &m.index) ||
	    rcur_u64le(c, &m.term) || rcur_u32le(c, &clen) ||
	    rcur_view(c, &conf, clen) || rcur_u64le(c, &dlen) ||
	    rcur_view(c, &data, (size_t)dlen))
		return -1;
	if (raft_conf_decode(conf, clen, &m.conf) != 0)
		return -1;
	if (installed) {
		drop_from(j, 0);
	} else {
		/* Drop the entries the snapshot covers, keep the rest. */
		uint64_t k = 0;

		while (k < j->n && j->ents[k].index <= m.index)
			free((void *)j->ents[k++].data);
		memmove(j->ents, j->ents + k, (j->n - k) * sizeof(*j->ents));
		j->n -= k;
		if (j->n > 0 && j->ents[0].index != m.index + 1)
			drop_from(j, 0);
	}
	free(j->snap_data);
	j->snap_data = malloc(dlen ? (size_t)dlen : 1);
	if (j->snap_data == NULL)
		return -1;
	memcpy(j->snap_data, data, (size_t)dlen);
	j->snap_len = dlen;
	j->snap = m;
	return 0;
}

static int load_cb(void *ctx, uint8_t type, const uint8_t *p, size_t len)
{
	struct jstate *j = ctx;
	struct rcur c;

	rcur_init(&c, p, len);
	switch (type) {
	case REC_HS:
		j->have_hs = 1;
		if (rcur_u64le(&c, &j->hs.term) ||
		    rcur_u64le(&c, &j->hs.vote) ||
		    rcur_u64le(&c, &j->hs.commit))
			return -1;
		return 0;
	case REC_ENTRIES:
		return load_entries(j, &c);
	case REC_SNAP:
		return load_snap(j, &c);
	default:
		return -1;
	}
}

int journal_load(struct sim_disk *d, struct jstate *j)
{
	int rv;

	memset(j, 0, sizeof(*j));
	rv = sim_disk_replay(d, load_cb, j);
	if (rv < 0) {
		if (j->err[0] == 0)
			snprintf(j->err, sizeof(j->err),
				 "journal: an intact record failed to decode");
		return -1;
	}
	return 0;
}

int journal_compact(struct sim_disk *d, const struct jstate *j)
{
	struct sim_disk tmp;
	int rv;

	/* Build the new journal on a scratch disk, then swap it in. */
	tmp = *d;
	tmp.buf = malloc(d->limit);
	if (tmp.buf == NULL)
		return ERR_NOMEM;
	tmp.cap = d->limit;
	tmp.len = tmp.synced = 0;
	rv = 0;
	if (j->snap.index > 0)
		rv = journal_put_snap(&tmp, 1, &j->snap, j->snap_data,
				      j->snap_len);
	if (rv == 0 && j->have_hs)
		rv = journal_put_hs(&tmp, &j->hs);
	if (rv == 0 && j->n > 0)
		rv = journal_put_entries(&tmp, 0, j->ents, j->n);
	if (rv == 0)
		rv = sim_disk_rewrite(d, tmp.buf, tmp.len);
	free(tmp.buf);
	return rv;
}
