/*
 * sdisk.c: a simulated node's Raft state and state machine in the real
 * storage module (storage/storage.h), opened on its in-memory disk
 * (stor_memdisk) in virtual time: raft-sim --disk stor.
 *
 * What goes where:
 *   - log entries: stor_log_append (a conflicting suffix is replaced in
 *     the same batch), stor_log_truncate, stor_log_compact after a
 *     snapshot; raft's entry types map onto stor's (NORMAL -> COMMAND,
 *     CONFIG -> CONFIG, BARRIER -> NOOP);
 *   - hard state: stor_hs_save;
 *   - the state machine: stor_apply, in one batch per update with the
 *     applied index (exactly once across crashes). Two domains of the
 *     simulator: "simkv" holds the registers and the session table of
 *     kv.h (so retries deduplicate from storage), "simconf" the
 *     configuration as of the applied index. Raft's entry bytes are
 *     wrapped into stor's command envelope [version, domain, body] as
 *     they are applied, so the network carries the same bytes as with
 *     the journal disk. After a configuration entry, stor_conf_save
 *     keeps the meta record the snapshot stream carries;
 *   - snapshots: the bytes raft keeps and sends are a stor snapshot
 *     stream (stor_snap_reader chunks, each framed by a u32le length);
 *     a follower installs them with stor_snap_writer_* and
 *     stor_log_reset.
 *
 * Durability: every synced write gets a latency drawn from the journal
 * disk's distribution (stor_memdisk_set_faults), and the memdisk makes it
 * durable at that virtual time, in issue order. The driver keeps the
 * deadline of its last synced write as the "gate" for what it just wrote
 * (a persisted report, the hard state that held messages wait for, an
 * installed snapshot) and steps raft when stor_memdisk_advance has moved
 * past it; EV_FSYNC_DONE is scheduled at stor_memdisk_next_durable(). The
 * driver checks that its gates and the memdisk agree.
 *
 * A crash closes the store and calls stor_memdisk_crash: unsynced writes
 * are lost (a random prefix survives) and the first lost one may be torn,
 * which recovery detects by its checksum. A restart reopens the store and
 * hands raft_restore the hard state, a snapshot of the state at the
 * applied index (what the store holds), and the log after it.
 */
#include "tests/sim/raft/simint.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/storage.h"

#define SD_DOMAIN_KV	200
#define SD_DOMAIN_CONF	201
#define SD_KEY_VAL	1 /* [1, key] -> u64le value */
#define SD_KEY_SESS	2 /* [2, client] -> u64le seq | u64le out */
#define SD_CHUNK	STOR_SNAP_CHUNK_MIN
#define SD_READ_BYTES	(4u << 20)
#define SD_ENVELOPE_MAX (64u << 10)

/* The faults of the memdisk; the latency is drawn per write. */
static const struct stor_mem_faults sd_faults = {
    .fsync_latency_us = 0,
    .keep_unsynced = 0.5, /* the OS wrote some dirty pages on its own */
    .torn = 0.7,	  /* as the journal disk's p_torn */
};

/* A storage error. The one the disk fault armed stops the node (fail-
 * stop: the store refuses service from now on, as storage.h says, so the
 * node can only restart); any other is a violation. */
static void sd_fail(struct sim *s, struct sim_node *nd, const char *what,
		    int rv)
{
	char text[256] = "";

	if (nd->st_dead)
		return;
	if (nd->st != NULL)
		stor_last_error(nd->st, text, sizeof(text));
	if (nd->st_inject && (rv == ERR_IO || rv == ERR_NOSPACE)) {
		nd->st_inject = 0;
		nd->st_dead = 1;
		sim_trace(s, "n%d: storage %s failed: %s (%s): the node stops",
			  nd->slot, what, err_name(rv), text);
		sim_push(s, s->now_us, EV_CRASH, nd->slot, nd->incarnation, 1,
			 NULL, 0);
		return;
	}
	sim_violation(s, "n%d: storage %s failed: %s (%s)", nd->slot, what,
		      err_name(rv), text);
}

void sdisk_inject(struct sim_node *nd, int code)
{
	stor_memdisk_fail_next_write(nd->md, code);
	nd->st_inject = code != 0;
}

/* ---- durability gates ---- */

/* Before a synced write: the memdisk's clock is now, and the write gets
 * a drawn latency. Returns it, for sd_sync_done. */
static uint64_t sd_sync_prep(struct sim *s, struct sim_node *nd, int boot)
{
	struct stor_mem_faults f = sd_faults;

	stor_memdisk_advance(nd->md, s->now_us);
	nd->st_durable = s->now_us;
	/* Recovery syncs what it repairs before the node serves. */
	f.fsync_latency_us = boot ? 0 : sim_disk_fsync_us(&nd->disk);
	stor_memdisk_set_faults(nd->md, &f);
	return f.fsync_latency_us;
}

/* After it: durable once the memdisk reaches now + latency, and not
 * before anything written earlier (writes become durable in order). */
static void sd_sync_done(struct sim *s, struct sim_node *nd, uint64_t lat)
{
	uint64_t t = s->now_us + lat;

	if (t > nd->st_gate)
		nd->st_gate = t;
}

void sdisk_schedule(struct sim *s, struct sim_node *nd)
{
	uint64_t next = stor_memdisk_next_durable(nd->md);

	if (next == 0 || (nd->st_fsync_at != 0 && nd->st_fsync_at <= next))
		return;
	if (next < s->now_us)
		next = s->now_us;
	nd->st_fsync_at = next;
	sim_push(s, next, EV_FSYNC_DONE, nd->slot, 0, nd->disk_epoch, NULL, 0);
}

/* EV_FSYNC_DONE: moves the memdisk to now and checks that the driver's
 * gate agrees with it. The caller then completes what is durable. */
void sdisk_advance(struct sim *s, struct sim_node *nd)
{
	uint64_t next;

	nd->st_fsync_at = 0;
	stor_memdisk_advance(nd->md, s->now_us);
	nd->st_durable = s->now_us;
	next = stor_memdisk_next_durable(nd->md);
	if (nd->st_gate <= s->now_us ? next != 0
				     : next == 0 || next > nd->st_gate)
		sim_violation(s,
			      "n%d: memdisk says next durable at %" PRIu64
			      ", driver's last synced write at %" PRIu64
			      " (now %" PRIu64 ")",
			      nd->slot, next, nd->st_gate, s->now_us);
}

/* ---- the state machine domains ---- */

static int body_u64(const msgpack_object *arr, uint32_t i, uint64_t *out)
{
	const msgpack_object *o;
	int rv = mp_array_at(arr, i, &o);

	return rv != 0 ? rv : mp_get_u64(o, out);
}

/* Decodes kv.h's command from the envelope's body (the same array
 * kv_cmd_encode writes). */
static int sd_kv_decode(const msgpack_object *body, struct kv_cmd *cmd)
{
	uint64_t f[7];
	uint32_t n;
	int rv = mp_get_array(body, &n);

	if (rv == 0 && n != 7)
		rv = ERR_MALFORMED;
	for (uint32_t i = 0; rv == 0 && i < 7; i++)
		rv = body_u64(body, i, &f[i]);
	if (rv != 0)
		return rv;
	if (f[0] != 1)
		return ERR_VERSION;
	if (f[1] >= SIM_KV_CLIENTS || f[3] < KV_PUT || f[3] > KV_CAS ||
	    f[4] >= SIM_KV_KEYS)
		return ERR_MALFORMED;
	*cmd = (struct kv_cmd){(uint32_t)f[1], f[2], (uint8_t)f[3],
			       (uint32_t)f[4], f[5], f[6]};
	return 0;
}

static uint64_t ax_u64(struct stor_apply_ctx *ax, uint8_t kind, uint32_t id,
		       size_t off)
{
	uint8_t k[2] = {kind, (uint8_t)id};
	const uint8_t *v;
	size_t vl;

	if (stor_ax_get(ax, k, 2, &v, &vl) != 0 || vl < off + 8)
		return 0;
	return get_u64le(v + off);
}

/* kv_apply (kv.c), over storage: the session table deduplicates. */
static int sd_apply_kv(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		       const msgpack_object *body)
{
	struct sim_node *nd = ctx;
	struct sdisk_result *r;
	struct kv_cmd cmd;
	uint64_t seq, cur;
	uint8_t k[2], v[16];
	int rv = sd_kv_decode(body, &cmd);

	if (rv != 0)
		return rv;
	ASSERT(index >= nd->st_res_base &&
	       index - nd->st_res_base < nd->st_res_n);
	r = &nd->st_res[index - nd->st_res_base];
	r->client = cmd.client;
	r->seq = cmd.seq;
	seq = ax_u64(ax, SD_KEY_SESS, cmd.client, 0);
	if (cmd.seq <= seq) {
		r->out = ax_u64(ax, SD_KEY_SESS, cmd.client, 8);
		r->stale = cmd.seq < seq;
		return 0;
	}
	cur = ax_u64(ax, SD_KEY_VAL, cmd.key, 0);
	k[0] = SD_KEY_VAL;
	k[1] = (uint8_t)cmd.key;
	r->out = 0;
	if (cmd.op == KV_PUT) {
		put_u64le(v, cmd.a);
		stor_ax_put(ax, k, 2, v, 8);
	} else if (cmd.op == KV_GET) {
		r->out = cur;
	} else {
		r->out = cur == cmd.a;
		put_u64le(v, cmd.b);
		if (r->out)
			stor_ax_put(ax, k, 2, v, 8);
	}
	k[0] = SD_KEY_SESS;
	k[1] = (uint8_t)cmd.client;
	put_u64le(v, cmd.seq);
	put_u64le(v + 8, r->out);
	stor_ax_put(ax, k, 2, v, 16);
	return 0;
}

static int sd_apply_conf(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
			 const msgpack_object *body)
{
	const uint8_t *p;
	size_t len;

	(void)ctx;
	(void)index;
	if (mp_get_bin(body, &p, &len) != 0)
		return ERR_MALFORMED;
	stor_ax_put(ax, "c", 1, p, len);
	return 0;
}

/* ---- opening, booting ---- */

static int sd_open(struct sim *s, struct sim_node *nd)
{
	struct stor_options o;
	uint64_t lat;
	int rv;

	stor_options_default(&o);
	o.mem = nd->md;
	lat = sd_sync_prep(s, nd, 1);
	rv = stor_open(&o, &nd->st);
	sd_sync_done(s, nd, lat);
	if (rv != 0) {
		nd->st = NULL;
		return rv;
	}
	rv = stor_register_domain(nd->st, SD_DOMAIN_KV, "simkv", sd_apply_kv,
				  nd);
	if (rv == 0)
		rv = stor_register_domain(nd->st, SD_DOMAIN_CONF, "simconf",
					  sd_apply_conf, nd);
	return rv;
}

static uint8_t type_to_stor(uint8_t t)
{
	return t == RAFT_ENTRY_NORMAL	? STOR_ENTRY_COMMAND
	       : t == RAFT_ENTRY_CONFIG ? STOR_ENTRY_CONFIG
					: STOR_ENTRY_NOOP;
}

static uint8_t type_from_stor(uint8_t t)
{
	return t == STOR_ENTRY_COMMAND	? RAFT_ENTRY_NORMAL
	       : t == STOR_ENTRY_CONFIG ? RAFT_ENTRY_CONFIG
					: RAFT_ENTRY_BARRIER;
}

int sdisk_init(struct sim *s, struct sim_node *nd, int bootstrap,
	       const struct raft_configuration *conf)
{
	struct prng rng;
	int rv;

	prng_fork(&nd->rng, &rng);
	rv = stor_memdisk_new(&sd_faults, &rng, &nd->md);
	if (rv != 0)
		return rv;
	if (!bootstrap)
		return 0;
	rv = sd_open(s, nd);
	if (rv == 0) {
		struct mp_writer w;
		struct stor_entry e;
		uint64_t lat;

		mp_writer_init(&w, 64 * 1024);
		raft_conf_encode(conf, &w);
		ASSERT(mp_writer_error(&w) == 0);
		/* stor borrows the data for the call and does not write it. */
		e = (struct stor_entry){1, 1, STOR_ENTRY_CONFIG,
					(uint8_t *)mp_writer_data(&w),
					mp_writer_len(&w)};
		lat = sd_sync_prep(s, nd, 1);
		rv = stor_log_append(nd->st, &e, 1);
		sd_sync_done(s, nd, lat);
		mp_writer_free(&w);
	}
	if (nd->st != NULL)
		stor_close(nd->st);
	nd->st = NULL;
	return rv;
}

void sdisk_free(struct sim_node *nd)
{
	if (nd->st != NULL)
		stor_close(nd->st);
	nd->st = NULL;
	stor_memdisk_free(nd->md);
	nd->md = NULL;
	free(nd->st_res);
	nd->st_res = NULL;
	nd->st_res_cap = 0;
}

void sdisk_crash(struct sim *s, struct sim_node *nd)
{
	uint64_t torn = stor_memdisk_torn_detected(nd->md);

	stor_close(nd->st);
	nd->st = NULL;
	/* A failure armed but not reached goes with the crash: recovery
	 * starts on a working disk. */
	sdisk_inject(nd, 0);
	nd->st_dead = 0;
	stor_memdisk_crash(nd->md);
	s->res->torn += stor_memdisk_torn_detected(nd->md) - torn;
	nd->st_gate = 0;
	nd->st_fsync_at = 0;
}

/* The simulator's KV mirror, read back from the store's state. */
int sdisk_load_kv(struct sim *s, struct sim_node *nd)
{
	kv_init(&nd->kv);
	for (uint32_t i = 0; i < SIM_KV_KEYS + SIM_KV_CLIENTS; i++) {
		int sess = i >= SIM_KV_KEYS;
		uint8_t k[2] = {sess ? SD_KEY_SESS : SD_KEY_VAL,
				(uint8_t)(sess ? i - SIM_KV_KEYS : i)};
		uint8_t *v;
		size_t vl;
		int rv = stor_state_get(nd->st, SD_DOMAIN_KV, k, 2, &v, &vl);

		if (rv == ERR_NOTFOUND)
			continue;
		if (rv != 0 || vl != (sess ? 16u : 8u)) {
			if (rv == 0)
				free(v);
			sd_fail(s, nd, "state read", rv ? rv : ERR_CORRUPT);
			return -1;
		}
		if (sess) {
			nd->kv.sess[k[1]].seq = get_u64le(v);
			nd->kv.sess[k[1]].out = get_u64le(v + 8);
		} else {
			nd->kv.val[k[1]] = get_u64le(v);
		}
		free(v);
	}
	return 0;
}

/* stor_conf_save follows the apply of a configuration in its own write:
 * a crash between them leaves the meta record (which the snapshot stream
 * carries) behind the state. Recovery writes it again. */
static int sd_conf_meta_repair(struct sim *s, struct sim_node *nd,
			       const uint8_t *blob, size_t len)
{
	uint8_t *meta = NULL;
	size_t ml = 0;
	uint64_t lat;
	int rv = stor_conf_load(nd->st, &meta, &ml);

	if (rv == 0 && ml == len && memcmp(meta, blob, len) == 0) {
		free(meta);
		return 0;
	}
	free(meta);
	if (rv != 0 && rv != ERR_NOTFOUND)
		return rv;
	sim_trace(s, "n%d: configuration meta record repaired", nd->slot);
	lat = sd_sync_prep(s, nd, 1);
	rv = stor_conf_save(nd->st, blob, len);
	sd_sync_done(s, nd, lat);
	return rv;
}

/* The configuration as of the applied index (the simconf domain). */
static int sd_conf(struct sim *s, struct sim_node *nd,
		   struct raft_configuration *c)
{
	uint8_t *blob;
	size_t len;
	int rv = stor_state_get(nd->st, SD_DOMAIN_CONF, "c", 1, &blob, &len);

	if (rv == 0) {
		rv = raft_conf_decode(blob, len, c);
		rv = rv ? rv : sd_conf_meta_repair(s, nd, blob, len);
		free(blob);
	}
	if (rv != 0)
		sd_fail(s, nd, "configuration", rv);
	return rv != 0 ? -1 : 0;
}

/* Reads the state as a snapshot stream: chunks framed by u32le lengths.
 * *data is the caller's (free). */
static int sd_stream(struct sim *s, struct sim_node *nd, uint8_t **data,
		     size_t *len)
{
	struct stor_snap_reader *r;
	struct wbuf b;
	int done = 0, rv;

	rv = stor_snap_reader_open(nd->st, SD_CHUNK, &r);
	if (rv != 0) {
		sd_fail(s, nd, "snapshot reader", rv);
		return -1;
	}
	wbuf_init(&b, 64u << 20);
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
		sd_fail(s, nd, "snapshot read", rv);
		return -1;
	}
	*data = b.p;
	*len = b.len;
	return 0;
}

/* Makes the log continue from the applied index: after a crash between
 * a snapshot install and the log reset that follows it, the log may not
 * hold the applied entry. Entries at or before it are compacted. */
static int sd_boot_log(struct sim *s, struct sim_node *nd, uint64_t a,
		       uint64_t at)
{
	uint64_t t = 0, lat;
	int rv;

	if (a + 1 < stor_log_first(nd->st)) {
		sim_violation(s,
			      "n%d: the stored log starts at %" PRIu64
			      " after the applied index %" PRIu64,
			      nd->slot, stor_log_first(nd->st), a);
		return -1;
	}
	if (a == 0)
		return 0;
	rv = stor_log_term(nd->st, a, &t);
	if (rv != 0 && rv != ERR_NOTFOUND) {
		sd_fail(s, nd, "log term", rv);
		return -1;
	}
	lat = sd_sync_prep(s, nd, 1);
	if (rv == ERR_NOTFOUND || t != at) {
		sim_trace(s, "n%d: log reset to the applied index %" PRIu64,
			  nd->slot, a);
		rv = stor_log_reset(nd->st, a, at);
	} else {
		rv = stor_log_compact(nd->st, a);
	}
	sd_sync_done(s, nd, lat);
	if (rv != 0)
		sd_fail(s, nd, "log repair", rv);
	return rv != 0 ? -1 : 0;
}

/* Reads the log after the applied index into raft entries (data owned
 * by *ents; free with sdisk_boot_free). */
static int sd_boot_entries(struct sim *s, struct sim_node *nd, uint64_t a,
			   struct sdisk_boot *b)
{
	uint64_t last = stor_log_last(nd->st);

	if (last <= a)
		return 0;
	b->ents = calloc((size_t)(last - a), sizeof(*b->ents));
	if (b->ents == NULL)
		return ERR_NOMEM;
	while (a + b->n < last) {
		struct stor_entry *v;
		size_t n;
		int rv = stor_log_read(nd->st, a + b->n + 1, last + 1,
				       SD_READ_BYTES, &v, &n);

		if (rv != 0) {
			sd_fail(s, nd, "log read", rv);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			struct raft_entry *e = &b->ents[b->n++];

			e->index = v[i].index;
			e->term = v[i].term;
			e->type = type_from_stor(v[i].type);
			e->len = (uint32_t)v[i].len;
			e->data = v[i].data; /* ownership moves */
			v[i].data = NULL;
		}
		stor_entries_free(v, n);
	}
	return 0;
}

void sdisk_boot_free(struct sdisk_boot *b)
{
	for (uint64_t i = 0; i < b->n; i++)
		free((void *)b->ents[i].data);
	free(b->ents);
	free(b->snap_data);
	memset(b, 0, sizeof(*b));
}

int sdisk_boot(struct sim *s, struct sim_node *nd, struct sdisk_boot *b)
{
	struct stor_hard_state hs;
	struct stor_snap_meta sm;
	uint64_t a, at;
	int rv;

	memset(b, 0, sizeof(*b));
	rv = sd_open(s, nd);
	if (rv == 0)
		rv = stor_hs_load(nd->st, &hs);
	if (rv != 0) {
		sd_fail(s, nd, "open", rv);
		return -1;
	}
	b->hs = (struct raft_hard_state){hs.term, hs.vote, hs.commit};
	a = stor_applied_index(nd->st);
	at = stor_applied_term(nd->st);
	rv = stor_snap_meta_load(nd->st, &sm);
	if (rv == 0 && sm.index > a)
		sim_violation(s,
			      "n%d: installed snapshot %" PRIu64
			      " is ahead of the applied index %" PRIu64,
			      nd->slot, sm.index, a);
	else if (rv != 0 && rv != ERR_NOTFOUND)
		sd_fail(s, nd, "snapshot metadata", rv);
	stor_snap_meta_free(&sm);
	if (s->failed || sd_boot_log(s, nd, a, at) != 0)
		return -1;
	if (a > 0) {
		b->snap.index = a;
		b->snap.term = at;
		if (sd_conf(s, nd, &b->snap.conf) != 0 ||
		    sd_stream(s, nd, &b->snap_data, &b->snap_len) != 0)
			return -1;
	}
	rv = sd_boot_entries(s, nd, a, b);
	if (rv != 0) {
		if (rv != -1)
			sd_fail(s, nd, "boot", rv);
		return -1;
	}
	return sdisk_load_kv(s, nd);
}

/* ---- the update contract ---- */

int sdisk_install(struct sim *s, struct sim_node *nd,
		  const struct raft_snapshot *snap)
{
	struct stor_snap_writer *w;
	struct rcur c;
	uint64_t lat;
	int rv;

	rv = stor_snap_writer_open(nd->st, &w);
	if (rv != 0) {
		sd_fail(s, nd, "snapshot writer", rv);
		return -1;
	}
	rcur_init(&c, snap->data, (size_t)snap->len);
	while (rv == 0 && rcur_left(&c) > 0) {
		const uint8_t *p;
		uint32_t n;

		rv = rcur_u32le(&c, &n);
		rv = rv ? rv : rcur_view(&c, &p, n);
		rv = rv ? rv : stor_snap_writer_chunk(w, p, n);
	}
	if (rv != 0) {
		stor_snap_writer_abort(w);
		sd_fail(s, nd, "snapshot chunk", rv);
		return -1;
	}
	lat = sd_sync_prep(s, nd, 0);
	rv = stor_snap_writer_finish(w);
	rv =
	    rv ? rv : stor_log_reset(nd->st, snap->meta.index, snap->meta.term);
	sd_sync_done(s, nd, lat);
	if (rv != 0) {
		sd_fail(s, nd, "snapshot install", rv);
		return -1;
	}
	if (stor_applied_index(nd->st) != snap->meta.index ||
	    stor_applied_term(nd->st) != snap->meta.term) {
		sim_violation(s,
			      "n%d: installed snapshot says applied %" PRIu64
			      " term %" PRIu64 ", raft's is %" PRIu64
			      " term %" PRIu64,
			      nd->slot, stor_applied_index(nd->st),
			      stor_applied_term(nd->st), snap->meta.index,
			      snap->meta.term);
		return -1;
	}
	return sdisk_load_kv(s, nd);
}

int sdisk_entries(struct sim *s, struct sim_node *nd, raft_index tf,
		  const struct raft_entry *e, uint64_t n)
{
	struct stor_entry *v;
	uint64_t lat;
	int rv = 0;

	if (n == 0) {
		if (tf == 0 || tf > stor_log_last(nd->st))
			return 0;
		lat = sd_sync_prep(s, nd, 0);
		rv = stor_log_truncate(nd->st, tf);
		sd_sync_done(s, nd, lat);
		if (rv != 0)
			sd_fail(s, nd, "log truncate", rv);
		return rv != 0 ? -1 : 0;
	}
	/* A truncation with entries starts at the first of them, which the
	 * append replaces along with the rest of the conflicting suffix. */
	ASSERT(tf == 0 || tf == e[0].index);
	v = calloc((size_t)n, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	for (uint64_t i = 0; i < n; i++)
		v[i] = (struct stor_entry){e[i].index, e[i].term,
					   type_to_stor(e[i].type),
					   (uint8_t *)e[i].data, e[i].len};
	lat = sd_sync_prep(s, nd, 0);
	rv = stor_log_append(nd->st, v, (size_t)n);
	sd_sync_done(s, nd, lat);
	free(v);
	if (rv != 0)
		sd_fail(s, nd, "log append", rv);
	return rv != 0 ? -1 : 0;
}

int sdisk_hard_state(struct sim *s, struct sim_node *nd,
		     const struct raft_hard_state *hs)
{
	struct stor_hard_state h = {hs->term, hs->vote, hs->commit};
	uint64_t lat = sd_sync_prep(s, nd, 0);
	int rv = stor_hs_save(nd->st, &h);

	sd_sync_done(s, nd, lat);
	if (rv != 0)
		sd_fail(s, nd, "hard state save", rv);
	return rv != 0 ? -1 : 0;
}

int sdisk_compact(struct sim *s, struct sim_node *nd, raft_index upto)
{
	int rv;

	if (upto > stor_log_last(nd->st)) {
		sim_violation(s,
			      "n%d: raft compacts to %" PRIu64
			      " beyond the stored log (last %" PRIu64 ")",
			      nd->slot, upto, stor_log_last(nd->st));
		return -1;
	}
	rv = stor_log_compact(nd->st, upto);
	if (rv != 0)
		sd_fail(s, nd, "log compact", rv);
	return rv != 0 ? -1 : 0;
}

/* The command envelope stor_apply takes: [version, domain, body], the
 * body being the raft entry's own bytes (a kv command) or, for a
 * configuration, a bin holding them. */
static int sd_envelope(const struct raft_entry *e, struct stor_entry *out)
{
	struct mp_writer w;
	int rv;

	*out = (struct stor_entry){e->index, e->term, type_to_stor(e->type),
				   NULL, 0};
	if (e->type == RAFT_ENTRY_BARRIER)
		return 0;
	out->type = STOR_ENTRY_COMMAND;
	mp_writer_init(&w, SD_ENVELOPE_MAX);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	if (e->type == RAFT_ENTRY_CONFIG) {
		mp_w_uint(&w, SD_DOMAIN_CONF);
		mp_w_bin(&w, e->data, e->len);
	} else {
		mp_w_uint(&w, SD_DOMAIN_KV);
		mp_w_raw(&w, e->data, e->len);
	}
	rv = mp_writer_take(&w, &out->data, &out->len);
	return rv;
}

static int sd_res_reserve(struct sim_node *nd, uint64_t n)
{
	struct sdisk_result *r;

	if (n <= nd->st_res_cap)
		return 0;
	r = realloc(nd->st_res, (size_t)n * sizeof(*r));
	if (r == NULL)
		return ERR_NOMEM;
	nd->st_res = r;
	nd->st_res_cap = n;
	return 0;
}

/* Applies committed entries e[0..n) in one batch with the applied index
 * (unsynced: the log replays what a crash loses). nd->st_res[i] receives
 * the result of e[i] (kv commands only); codes[i] the result code. */
int sdisk_apply(struct sim *s, struct sim_node *nd, const struct raft_entry *e,
		uint64_t n, int *codes)
{
	struct stor_entry *v;
	int rv, conf = 0;

	if (n == 0)
		return 0;
	v = calloc((size_t)n, sizeof(*v));
	if (v == NULL || sd_res_reserve(nd, n) != 0) {
		free(v);
		return ERR_NOMEM;
	}
	memset(nd->st_res, 0, (size_t)n * sizeof(*nd->st_res));
	nd->st_res_base = e[0].index;
	nd->st_res_n = n;
	rv = 0;
	for (uint64_t i = 0; i < n && rv == 0; i++) {
		rv = sd_envelope(&e[i], &v[i]);
		conf |= e[i].type == RAFT_ENTRY_CONFIG;
	}
	if (rv == 0)
		rv = stor_apply(nd->st, v, (size_t)n, codes, 0);
	for (uint64_t i = 0; i < n; i++)
		free(v[i].data);
	free(v);
	nd->st_res_n = 0;
	if (rv == 0 && conf) {
		/* The meta record the snapshot stream carries. */
		uint8_t *blob;
		size_t len;
		uint64_t lat;

		rv =
		    stor_state_get(nd->st, SD_DOMAIN_CONF, "c", 1, &blob, &len);
		if (rv == 0) {
			lat = sd_sync_prep(s, nd, 0);
			rv = stor_conf_save(nd->st, blob, len);
			sd_sync_done(s, nd, lat);
			free(blob);
		}
	}
	if (rv != 0)
		sd_fail(s, nd, "apply", rv);
	return rv != 0 ? -1 : 0;
}

int sdisk_snapshot(struct sim *s, struct sim_node *nd, uint8_t **data,
		   size_t *len)
{
	if (stor_applied_index(nd->st) != nd->applied) {
		sim_violation(
		    s,
		    "n%d: store applied %" PRIu64 ", driver applied %" PRIu64,
		    nd->slot, stor_applied_index(nd->st), nd->applied);
		return -1;
	}
	return sd_stream(s, nd, data, len);
}

uint64_t sdisk_value(struct sim *s, struct sim_node *nd, uint32_t key)
{
	uint8_t k[2] = {SD_KEY_VAL, (uint8_t)key}, *v;
	size_t vl;
	uint64_t out = 0;
	int rv = stor_state_get(nd->st, SD_DOMAIN_KV, k, 2, &v, &vl);

	if (rv == 0 && vl == 8)
		out = get_u64le(v);
	else if (rv != ERR_NOTFOUND)
		sd_fail(s, nd, "state read", rv ? rv : ERR_CORRUPT);
	if (rv == 0)
		free(v);
	return out;
}

int sdisk_digest(struct sim_node *nd, uint64_t *digest)
{
	uint64_t count;

	return stor_state_digest(nd->st, digest, &count);
}
