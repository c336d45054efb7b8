/*
 * sdisk.c: the simulator's disk port for the node's Raft driver
 * (node/raftd, struct raftd_disk): the real storage module
 * (storage/storage.h) opened on its in-memory disk (stor_memdisk), in
 * virtual time. raftd does everything else on the store itself (apply,
 * snapshots, the restart path), as it does on RocksDB in a node.
 *
 * Durability: every synced write gets a latency drawn from a disk model
 * (300 us to 5 ms, and now and then a stall of up to 100 ms: the window
 * between a write and its durability must be wide enough for crashes to
 * land in), and the memdisk makes it durable at that virtual time, in
 * issue order. A write's gate is the deadline of the last synced write
 * so far; EV_FSYNC_DONE is scheduled at stor_memdisk_next_durable(), and
 * then raftd learns that everything up to now is durable
 * (raftd_disk_done). The port checks that its gates and the memdisk
 * agree.
 *
 * The state machine: two domains of the simulator's own. "simkv" holds
 * the registers and the session table of kv.h (so retries deduplicate
 * from storage); commands reach it in stor's envelope [version, domain,
 * kv.h's command], which is what the clients propose. raftd's own
 * configuration domain holds the configuration.
 *
 * A crash closes the store and calls stor_memdisk_crash: unsynced writes
 * are lost (a random prefix survives) and the first lost one may be torn,
 * which recovery detects by its checksum.
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
#define SD_KEY_VAL	1 /* [1, key] -> u64le value */
#define SD_KEY_SESS	2 /* [2, client] -> u64le seq | u64le out */
#define SD_ENVELOPE_MAX (64u << 10)
/* The fsync latency model: BENCH.md-style measurements give ~0.3 ms p50
 * for a 4 KiB fdatasync; stretched, with stalls (p_slow). */
#define SD_FSYNC_SLOW_US   100000
#define SD_P_SLOW	   0.05

/* The faults of the memdisk; the latency is drawn per write. */
static const struct stor_mem_faults sd_faults = {
    .fsync_latency_us = 0,
    .keep_unsynced = 0.5, /* the OS wrote some dirty pages on its own */
    .torn = 0.7,	  /* as the journal disk's p_torn */
};

/* A storage error. The one the disk fault armed stops the node (fail-
 * stop: the store refuses service from now on, as storage.h says, so the
 * node can only restart); any other is a violation. */
void sdisk_fail(struct sim *s, struct sim_node *nd, const char *what, int rv)
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

/* How long a synced write issued now takes. */
static uint64_t fsync_us(struct sim_node *nd)
{
	uint64_t t = SIM_FSYNC_MIN_US + prng_below(&nd->lat_rng,
						  SIM_FSYNC_JITTER_US + 1ULL);

	/* No stalls after the heal (the progress oracle's model). */
	if (prng_chance(&nd->lat_rng, SD_P_SLOW) && !nd->s->healed)
		t += prng_below(&nd->lat_rng, SD_FSYNC_SLOW_US + 1ULL);
	return t;
}

/* Before a synced write: the memdisk's clock is now, and the write gets
 * a drawn latency. Returns it, for sd_sync_done. */
static uint64_t sd_sync_prep(struct sim *s, struct sim_node *nd, int boot)
{
	struct stor_mem_faults f = sd_faults;

	stor_memdisk_advance(nd->md, s->now_us);
	nd->st_durable = s->now_us;
	/* Recovery syncs what it repairs before the node serves. */
	f.fsync_latency_us = boot ? 0 : fsync_us(nd);
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

/* Results wait in a queue, in index order, until raftd reports each
 * entry applied (sdisk_take_result). */
static struct sdisk_result *res_push(struct sim_node *nd)
{
	if (nd->st_res_head + nd->st_res_n == nd->st_res_cap) {
		size_t cap = nd->st_res_cap ? 2 * nd->st_res_cap : 64;
		struct sdisk_result *r;

		if (nd->st_res_head > 0) {
			memmove(nd->st_res, nd->st_res + nd->st_res_head,
				nd->st_res_n * sizeof(*r));
			nd->st_res_head = 0;
			return &nd->st_res[nd->st_res_n++];
		}
		r = realloc(nd->st_res, cap * sizeof(*r));
		if (r == NULL)
			return NULL;
		nd->st_res = r;
		nd->st_res_cap = cap;
	}
	return &nd->st_res[nd->st_res_head + nd->st_res_n++];
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
	r = res_push(nd);
	if (r == NULL)
		return ERR_NOMEM;
	memset(r, 0, sizeof(*r));
	r->index = index;
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

/* ---- opening ---- */

int sdisk_open(struct sim *s, struct sim_node *nd)
{
	struct stor_options o;
	uint64_t lat;
	int rv;

	stor_options_default(&o);
	o.mem = nd->md;
	nd->st_res_head = nd->st_res_n = 0;
	lat = sd_sync_prep(s, nd, 1);
	rv = stor_open(&o, &nd->st);
	sd_sync_done(s, nd, lat);
	if (rv != 0) {
		nd->st = NULL;
		sdisk_fail(s, nd, "open", rv);
		return -1;
	}
	rv = stor_register_domain(nd->st, SD_DOMAIN_KV, "simkv", sd_apply_kv,
				  nd);
	if (rv != 0) {
		sdisk_fail(s, nd, "domain", rv);
		return -1;
	}
	return 0;
}

int sdisk_init(struct sim *s, struct sim_node *nd, int bootstrap,
	       const struct raft_configuration *conf)
{
	struct prng rng;
	uint64_t lat;
	int rv;

	prng_fork(&nd->rng, &rng);
	prng_fork(&nd->rng, &nd->lat_rng);
	rv = stor_memdisk_new(&sd_faults, &rng, &nd->md);
	if (rv != 0 || !bootstrap)
		return rv;
	if (sdisk_open(s, nd) != 0)
		return ERR_IO;
	lat = sd_sync_prep(s, nd, 1);
	rv = raftd_bootstrap(nd->st, conf);
	sd_sync_done(s, nd, lat);
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
			sdisk_fail(s, nd, "state read", rv ? rv : ERR_CORRUPT);
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

/* ---- the port ---- */

static int port_write(void *ctx, const struct stor_entry *e, size_t n,
		      const struct stor_hard_state *hs, uint64_t *gate)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->s;
	uint64_t lat;
	int rv = 0;

	if (n > 0) {
		lat = sd_sync_prep(s, nd, 0);
		rv = stor_log_append(nd->st, e, n);
		sd_sync_done(s, nd, lat);
	}
	if (rv == 0 && hs != NULL) {
		lat = sd_sync_prep(s, nd, 0);
		rv = stor_hs_save(nd->st, hs);
		sd_sync_done(s, nd, lat);
	}
	*gate = nd->st_gate;
	return rv;
}

static int port_direct_begin(void *ctx, int boot)
{
	struct sim_node *nd = ctx;

	nd->st_direct_lat = sd_sync_prep(nd->s, nd, boot);
	return 0;
}

static void port_direct_end(void *ctx, uint64_t *gate)
{
	struct sim_node *nd = ctx;

	sd_sync_done(nd->s, nd, nd->st_direct_lat);
	*gate = nd->st_gate;
}

void sdisk_port(struct sim_node *nd, struct raftd_disk *out)
{
	*out = (struct raftd_disk){nd, port_write, port_direct_begin,
				   port_direct_end};
}

/* ---- commands ---- */

int sdisk_envelope(const struct kv_cmd *cmd, uint8_t **out, size_t *len)
{
	uint8_t buf[128];
	struct mp_writer w;
	int n = kv_cmd_encode(cmd, buf, sizeof(buf));

	if (n < 0)
		return n;
	mp_writer_init(&w, SD_ENVELOPE_MAX);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, SD_DOMAIN_KV);
	mp_w_raw(&w, buf, (size_t)n);
	return mp_writer_take(&w, out, len);
}

int sdisk_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *cmd)
{
	const msgpack_object *body;
	struct mp_doc doc;
	uint8_t type;
	int rv = stor_cmd_decode(&doc, buf, len, &type, &body);

	if (rv != 0)
		return rv;
	rv = type == SD_DOMAIN_KV ? sd_kv_decode(body, cmd) : ERR_MALFORMED;
	mp_doc_free(&doc);
	return rv;
}

int sdisk_take_result(struct sim_node *nd, raft_index index,
		      struct sdisk_result *out)
{
	while (nd->st_res_n > 0 && nd->st_res[nd->st_res_head].index < index) {
		nd->st_res_head++;
		nd->st_res_n--;
	}
	if (nd->st_res_n == 0 || nd->st_res[nd->st_res_head].index != index)
		return ERR_NOTFOUND;
	*out = nd->st_res[nd->st_res_head++];
	nd->st_res_n--;
	if (nd->st_res_n == 0)
		nd->st_res_head = 0;
	return 0;
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
		sdisk_fail(s, nd, "state read", rv ? rv : ERR_CORRUPT);
	if (rv == 0)
		free(v);
	return out;
}

int sdisk_digest(struct sim_node *nd, uint64_t *digest)
{
	uint64_t count;

	return stor_state_digest(nd->st, digest, &count);
}
