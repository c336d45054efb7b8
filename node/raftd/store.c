/*
 * store.c: the driver's storage side (storage/storage.h): what raft's
 * entries become in the store, the state machine's apply, snapshots out
 * and in, bootstrap, and the restart path.
 *
 * Entry types map onto the store's: NORMAL -> COMMAND, CONFIG -> CONFIG,
 * BARRIER -> NOOP. A NORMAL entry's data is a command envelope already
 * (the proposer's); a CONFIG entry's data is raft_conf_encode()d, and is
 * applied as a command of the RAFTD_DOMAIN_CONF domain (its bytes in a
 * bin), so that the configuration as of the applied index is part of the
 * state: applied exactly once with its index, carried by every snapshot.
 *
 * Restart (raftd__boot) reads back, in order: the hard state; the applied
 * index and term (the state machine's point); the snapshot metadata (an
 * installed snapshot is never ahead of the applied index); the log, made
 * to continue right after the applied index (a crash between a snapshot
 * install and its log reset leaves a log that does not hold it: reset;
 * otherwise the applied prefix is compacted away); the configuration from
 * the state, with the meta record stor_conf_save keeps repaired if a
 * crash fell between an apply and that save; the state as raft's
 * snapshot; the log after it. raft_restore takes all of it with applied
 * = the applied index, so nothing is applied twice.
 */
#include "node/raftd/raftd_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"

#define READ_BYTES (4u << 20)	  /* log read per call at boot */
#define ENVELOPE_SLACK 16	  /* [version, domain, bin header] */
#define CONF_KEY "c"

uint8_t raftd__type_to_stor(uint8_t t)
{
	return t == RAFT_ENTRY_NORMAL	? STOR_ENTRY_COMMAND
	       : t == RAFT_ENTRY_CONFIG ? STOR_ENTRY_CONFIG
					: STOR_ENTRY_NOOP;
}

uint8_t raftd__type_from_stor(uint8_t t)
{
	return t == STOR_ENTRY_COMMAND	? RAFT_ENTRY_NORMAL
	       : t == STOR_ENTRY_CONFIG ? RAFT_ENTRY_CONFIG
					: RAFT_ENTRY_BARRIER;
}

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

/* The configuration domain: body = bin(raft_conf_encode). */
static int apply_conf(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		      const msgpack_object *body)
{
	struct raft_configuration c;
	const uint8_t *p;
	size_t len;

	(void)ctx;
	(void)index;
	if (mp_get_bin(body, &p, &len) != 0 ||
	    raft_conf_decode(p, len, &c) != 0)
		return ERR_MALFORMED;
	stor_ax_put(ax, CONF_KEY, 1, p, len);
	return 0;
}

/* ---- bootstrap ---- */

int raftd_bootstrap(struct stor *s, const struct raft_configuration *conf)
{
	struct stor_hard_state hs;
	struct mp_writer w;
	struct stor_entry e;
	int rv;

	if (conf->n == 0 || raft_conf_voters(conf) == 0)
		return ERR_INVAL;
	rv = stor_hs_load(s, &hs);
	if (rv != 0)
		return rv;
	if (stor_log_last(s) != 0 || stor_applied_index(s) != 0 ||
	    hs.term != 0 || hs.vote != 0)
		return ERR_EXISTS;
	mp_writer_init(&w, STOR_CONF_MAX);
	raft_conf_encode(conf, &w);
	rv = mp_writer_error(&w);
	if (rv == 0) {
		struct raft_configuration check;

		rv = raft_conf_decode(mp_writer_data(&w), mp_writer_len(&w),
				      &check) != 0
			 ? ERR_INVAL
			 : 0;
	}
	if (rv == 0) {
		/* stor borrows the data for the call and does not write it. */
		e = (struct stor_entry){1, 1, STOR_ENTRY_CONFIG,
					(uint8_t *)(uintptr_t)mp_writer_data(&w),
					mp_writer_len(&w)};
		rv = stor_log_append(s, &e, 1);
	}
	mp_writer_free(&w);
	return rv;
}

/* ---- snapshots ---- */

int raftd__stream(struct raftd *d, uint8_t **data, size_t *len)
{
	struct stor_snap_reader *r;
	struct wbuf b;
	int done = 0, rv;

	rv = stor_snap_reader_open(d->st, RAFTD_SNAP_CHUNK, &r);
	if (rv != 0) {
		raftd__fail(d, rv, "snapshot reader");
		return rv;
	}
	wbuf_init(&b, (size_t)d->cfg.snapshot_stream_max);
	while (rv == 0 && !done) {
		const uint8_t *c;
		size_t cl;

		rv = stor_snap_reader_next(r, &c, &cl, &done);
		rv = rv ? rv : wbuf_u32le(&b, (uint32_t)cl);
		rv = rv ? rv : wbuf_put(&b, c, cl);
	}
	stor_snap_reader_close(r);
	if (rv != 0) {
		wbuf_free(&b);
		/* A state over the bound is refused, not a storage failure. */
		if (rv != ERR_TOOBIG)
			raftd__fail(d, rv, "snapshot read");
		return rv;
	}
	*len = b.len;
	*data = wbuf_take(&b, len);
	return 0;
}

static int install_chunks(struct raftd *d, struct stor_snap_writer *w,
			  const struct raft_snapshot *snap)
{
	struct rcur c;
	int rv = 0;

	rcur_init(&c, snap->data, (size_t)snap->len);
	while (rv == 0 && rcur_left(&c) > 0) {
		const uint8_t *p;
		uint32_t n;

		rv = rcur_u32le(&c, &n);
		rv = rv ? rv : rcur_view(&c, &p, n);
		rv = rv ? rv : stor_snap_writer_chunk(w, p, n);
	}
	(void)d;
	return rv;
}

int raftd__install(struct raftd *d, const struct raft_snapshot *snap)
{
	struct stor_snap_writer *w;
	int rv;

	rv = stor_snap_writer_open(d->st, &w);
	if (rv != 0) {
		raftd__fail(d, rv, "snapshot writer");
		return -1;
	}
	rv = install_chunks(d, w, snap);
	if (rv != 0) {
		stor_snap_writer_abort(w);
		raftd__fail(d, rv, "snapshot chunk");
		return -1;
	}
	if (raftd__direct_begin(d, 0) != 0) {
		stor_snap_writer_abort(w);
		return -1;
	}
	rv = stor_snap_writer_finish(w);
	rv = rv ? rv : stor_log_reset(d->st, snap->meta.index, snap->meta.term);
	raftd__direct_end(d);
	if (rv != 0) {
		raftd__fail(d, rv, "snapshot install");
		return -1;
	}
	if (stor_applied_index(d->st) != snap->meta.index ||
	    stor_applied_term(d->st) != snap->meta.term) {
		TRACE_E(d->tr, RAFTD_MOD, "%llu: installed snapshot says "
			"applied %llu term %llu, raft's is %llu term %llu",
			ull(d->cfg.raft.id), ull(stor_applied_index(d->st)),
			ull(stor_applied_term(d->st)), ull(snap->meta.index),
			ull(snap->meta.term));
		raftd__fail(d, ERR_CORRUPT, "snapshot install");
		return -1;
	}
	return 0;
}

/* ---- apply ---- */

/* The command stor_apply takes for a raft entry: a NORMAL entry's bytes
 * as they are; a configuration wrapped into the conf domain; a barrier as
 * a no-op. out->data is borrowed or owned: *owned says which. */
static int envelope(const struct raft_entry *e, struct stor_entry *out,
		    int *owned)
{
	struct mp_writer w;

	*out = (struct stor_entry){e->index, e->term,
				   raftd__type_to_stor(e->type), NULL, 0};
	*owned = 0;
	if (e->type == RAFT_ENTRY_NORMAL) {
		out->data = (uint8_t *)(uintptr_t)e->data;
		out->len = e->len;
		return 0;
	}
	if (e->type != RAFT_ENTRY_CONFIG)
		return 0;
	out->type = STOR_ENTRY_COMMAND;
	mp_writer_init(&w, (size_t)e->len + ENVELOPE_SLACK);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, RAFTD_DOMAIN_CONF);
	mp_w_bin(&w, e->data, e->len);
	*owned = 1;
	return mp_writer_take(&w, &out->data, &out->len);
}

/* stor_conf_save after a configuration's apply: the meta record the
 * snapshot stream carries (a direct write, synced). */
static int save_conf_meta(struct raftd *d)
{
	uint8_t *blob;
	size_t len;
	int rv = stor_state_get(d->st, RAFTD_DOMAIN_CONF, CONF_KEY, 1, &blob,
				&len);

	if (rv != 0)
		return rv;
	if (raftd__direct_begin(d, 0) == 0) {
		rv = stor_conf_save(d->st, blob, len);
		raftd__direct_end(d);
	} else {
		rv = d->failed;
	}
	free(blob);
	return rv;
}

int raftd__apply(struct raftd *d, const struct raft_entry *e, uint64_t n,
		 struct raftd_applied *res)
{
	struct stor_entry *v = calloc((size_t)n, sizeof(*v));
	uint8_t *owned = calloc((size_t)n, 1);
	int *codes = calloc((size_t)n, sizeof(*codes));
	int rv = 0, conf = 0;

	if (v == NULL || owned == NULL || codes == NULL)
		rv = ERR_NOMEM;
	ASSERT(n == 0 || e[0].index == stor_applied_index(d->st) + 1 ||
	       rv != 0);
	for (uint64_t i = 0; i < n && rv == 0; i++) {
		int own;

		rv = envelope(&e[i], &v[i], &own);
		owned[i] = (uint8_t)own;
		conf |= e[i].type == RAFT_ENTRY_CONFIG;
	}
	if (rv == 0)
		rv = stor_apply(d->st, v, (size_t)n, codes, 0);
	for (uint64_t i = 0; v != NULL && owned != NULL && i < n; i++)
		if (owned[i])
			free(v[i].data);
	for (uint64_t i = 0; rv == 0 && i < n; i++)
		res[i] = (struct raftd_applied){e[i].index, e[i].term,
						codes[i]};
	free(v);
	free(owned);
	free(codes);
	if (rv == 0 && conf)
		rv = save_conf_meta(d);
	if (rv != 0) {
		raftd__fail(d, rv, "apply");
		return -1;
	}
	return 0;
}

/* ---- the restart path ---- */

struct boot {
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap; /* index 0: none */
	uint8_t *snap_data;		/* owned */
	size_t snap_len;
	struct raft_entry *ents; /* owned, with their data */
	uint64_t n;
};

static void boot_free(struct boot *b)
{
	for (uint64_t i = 0; i < b->n; i++)
		free((void *)(uintptr_t)b->ents[i].data);
	free(b->ents);
	free(b->snap_data);
	memset(b, 0, sizeof(*b));
}

/* Makes the log continue from the applied index a (term at). */
static int boot_log(struct raftd *d, uint64_t a, uint64_t at)
{
	uint64_t t = 0;
	int rv, held;

	if (a + 1 < stor_log_first(d->st)) {
		TRACE_E(d->tr, RAFTD_MOD, "%llu: the stored log starts at %llu "
			"after the applied index %llu", ull(d->cfg.raft.id),
			ull(stor_log_first(d->st)), ull(a));
		return ERR_CORRUPT;
	}
	if (a == 0)
		return 0;
	rv = stor_log_term(d->st, a, &t);
	if (rv != 0 && rv != ERR_NOTFOUND)
		return rv;
	held = rv == 0 && t == at;
	if ((rv = raftd__direct_begin(d, 1)) != 0)
		return rv;
	if (!held) {
		TRACE_I(d->tr, RAFTD_MOD, "%llu: log reset to the applied index "
			"%llu", ull(d->cfg.raft.id), ull(a));
		rv = stor_log_reset(d->st, a, at);
	} else {
		rv = stor_log_compact(d->st, a);
	}
	raftd__direct_end(d);
	return rv;
}

/* The configuration as of the applied index, its meta record repaired. */
static int boot_conf(struct raftd *d, struct raft_configuration *c)
{
	uint8_t *blob = NULL, *meta = NULL;
	size_t len = 0, ml = 0;
	int rv = stor_state_get(d->st, RAFTD_DOMAIN_CONF, CONF_KEY, 1, &blob,
				&len);

	if (rv == ERR_NOTFOUND)
		rv = ERR_CORRUPT; /* applied entries, yet no configuration */
	rv = rv ? rv : raft_conf_decode(blob, len, c);
	if (rv == 0) {
		rv = stor_conf_load(d->st, &meta, &ml);
		if (rv == 0 && ml == len && memcmp(meta, blob, len) == 0)
			goto out;
		if (rv != 0 && rv != ERR_NOTFOUND)
			goto out;
		TRACE_I(d->tr, RAFTD_MOD, "%llu: configuration meta record "
			"repaired", ull(d->cfg.raft.id));
		rv = raftd__direct_begin(d, 1);
		rv = rv ? rv : stor_conf_save(d->st, blob, len);
		raftd__direct_end(d);
	}
out:
	free(meta);
	free(blob);
	return rv;
}

/* Reads the log after the applied index a into raft entries. */
static int boot_entries(struct raftd *d, uint64_t a, struct boot *b)
{
	uint64_t last = stor_log_last(d->st);

	if (last <= a)
		return 0;
	b->ents = calloc((size_t)(last - a), sizeof(*b->ents));
	if (b->ents == NULL)
		return ERR_NOMEM;
	while (a + b->n < last) {
		struct stor_entry *v;
		size_t n;
		int rv = stor_log_read(d->st, a + b->n + 1, last + 1,
				       READ_BYTES, &v, &n);

		if (rv != 0)
			return rv;
		for (size_t i = 0; i < n; i++) {
			struct raft_entry *e = &b->ents[b->n++];

			e->index = v[i].index;
			e->term = v[i].term;
			e->type = raftd__type_from_stor(v[i].type);
			e->len = (uint32_t)v[i].len;
			e->data = v[i].data; /* ownership moves */
			v[i].data = NULL;
		}
		stor_entries_free(v, n);
	}
	return 0;
}

static int boot_read(struct raftd *d, struct boot *b)
{
	struct stor_hard_state hs;
	struct stor_snap_meta sm;
	uint64_t a, at;
	int rv = stor_hs_load(d->st, &hs);

	if (rv != 0)
		return rv;
	b->hs = (struct raft_hard_state){hs.term, hs.vote, hs.commit};
	d->hs_term = hs.term;
	d->hs_vote = hs.vote;
	a = stor_applied_index(d->st);
	at = stor_applied_term(d->st);
	memset(&sm, 0, sizeof(sm));
	rv = stor_snap_meta_load(d->st, &sm);
	if (rv == 0 && sm.index > a) {
		TRACE_E(d->tr, RAFTD_MOD, "%llu: installed snapshot %llu is "
			"ahead of the applied index %llu", ull(d->cfg.raft.id),
			ull(sm.index), ull(a));
		rv = ERR_CORRUPT;
	} else if (rv == ERR_NOTFOUND) {
		rv = 0;
	}
	stor_snap_meta_free(&sm);
	rv = rv ? rv : boot_log(d, a, at);
	if (rv == 0 && a > 0) {
		b->snap.index = a;
		b->snap.term = at;
		rv = boot_conf(d, &b->snap.conf);
		rv = rv ? rv : raftd__stream(d, &b->snap_data, &b->snap_len);
	}
	rv = rv ? rv : boot_entries(d, a, b);
	d->applied = d->snap_index = a;
	return rv;
}

int raftd__boot(struct raftd *d)
{
	struct boot b;
	int rv;

	memset(&b, 0, sizeof(b));
	rv = stor_register_domain(d->st, RAFTD_DOMAIN_CONF, "raftconf",
				  apply_conf, NULL);
	if (rv == ERR_EXISTS)
		rv = 0; /* ours, from an earlier raftd on this store */
	rv = rv ? rv : boot_read(d, &b);
	if (rv == 0 && d->failed)
		rv = d->failed;
	if (rv == 0)
		rv = raft_init(&d->r, &d->cfg.raft);
	if (rv == 0) {
		rv = raft_restore(&d->r, &b.hs, &b.snap, b.snap_data,
				  b.snap_len, b.ents, b.n, b.snap.index);
		if (rv != 0)
			raft_close(&d->r);
	}
	if (rv != 0)
		TRACE_E(d->tr, RAFTD_MOD, "%llu: open failed: %s",
			ull(d->cfg.raft.id), err_name(rv));
	boot_free(&b);
	return rv;
}
