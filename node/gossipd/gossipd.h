/*
 * gossipd.h: the gossip driver of a node, loop-independent.
 *
 * gossip/ is a pure SWIM + Lifeguard core: it takes events and returns an
 * update (packets to send, membership and state changes, a deadline).
 * gossipd carries that update out through an env of callbacks, so the same
 * code runs in the node (libuv timer, the transport's UDP datagrams and
 * TCP channel GOSSIP) and in the gossip simulator (virtual clock and
 * network). It includes no uv.h and reads no clock: every call takes the
 * caller's now_ms (any monotonic origin, never going back).
 *
 * On top of the core it adds what a node needs:
 *  - the node's published state keys (`id`, `http`, `ver`, `role`), each
 *    rate limited: at most one new version per publish_interval_ms, the
 *    latest value wins, a deferred value goes out from gossipd_tick;
 *  - a member table fed by the core's change reports (status, address,
 *    incarnation and since when this node has seen that status), listed
 *    with the published keys for `clusterctl members` and read by the
 *    leader's autopilot (gossip status of a Raft server by its id);
 *  - counters for /metrics.
 *
 * The contract with the owner, after every call that steps the core
 * (join, leave, tick, receive, set_state, publish; gossipd_new calls none):
 *  1. env.send for every packet, in the core's order;
 *  2. env.on_member / env.on_state for every change, in order;
 *  3. env.set_timer(deadline): the owner calls gossipd_tick at deadline
 *     at the latest (sooner is harmless). Each set_timer replaces the
 *     previous deadline.
 * Callbacks run synchronously inside the gossipd call and must not call
 * back into the same gossipd (no function of this header on it).
 * Threads: none inside; every call on one instance comes from one thread
 * at a time (the node's loop, or one simulator). Instances share nothing.
 */
#ifndef CLUSTERD_NODE_GOSSIPD_GOSSIPD_H
#define CLUSTERD_NODE_GOSSIPD_GOSSIPD_H

#include <stddef.h>
#include <stdint.h>

#include "base/trace.h"
#include "gossip/gossip.h"

/* The published keys (gossip state keys of this member). Their values are
 * short strings: at most GOSSIPD_VALUE_MAX bytes. */
enum gossipd_key {
	GOSSIPD_KEY_ID = 0, /* "id": the Raft id, 16 lowercase hex digits */
	GOSSIPD_KEY_HTTP,   /* "http": the HTTP address, "IP:PORT" */
	GOSSIPD_KEY_VER,    /* "ver": the clusterd version string */
	GOSSIPD_KEY_ROLE,   /* "role": "leader", "follower", "candidate",
			     * "learner", "none" (the owner's words) */
	GOSSIPD_KEY_METRICS, /* "mv": the version of the node's metrics
			      * snapshot, lowercase hex (node/cmetrics); a
			      * peer that changed it has new figures */
	GOSSIPD_KEYS_N,
};
#define GOSSIPD_VALUE_MAX 63 /* bytes of a published value; bounds the
			      * member listing (GOSSIP_VALUE_MAX is 255) */

/* The state key string of a published key ("id", "http", ...). Static. */
const char *gossipd_key_name(enum gossipd_key k);

struct gossipd_env {
	void *ctx; /* passed to every callback */
	/* Sends one packet to addr ("IP:PORT"). GOSSIP_UNRELIABLE -> a UDP
	 * datagram; GOSSIP_RELIABLE -> a frame on the TCP channel GOSSIP.
	 * addr and buf are borrowed for the call (copy what you keep).
	 * Returns 0 or an error; an error is counted (send_failed) and
	 * otherwise ignored: gossip tolerates lost packets. Required. */
	int (*send)(void *ctx, const char *addr, enum gossip_channel ch,
		    const uint8_t *buf, size_t len);
	/* Arms the one timer: gossipd_tick at deadline_ms at the latest.
	 * Replaces the previous deadline. Required. */
	void (*set_timer)(void *ctx, uint64_t deadline_ms);
	/* Observers, optional (NULL: not called). The change is borrowed
	 * for the call. Self is reported too (name == the config's name). */
	void (*on_member)(void *ctx, const struct gossip_member_change *c);
	void (*on_state)(void *ctx, const struct gossip_state_change *c);
};

struct gossipd_config {
	struct gossip_config gossip; /* gossip_config_default() values; name
				      * and addr are copied by gossipd_new */
	uint64_t seed;               /* the core's PRNG seed */
	const struct tracer *tracer; /* borrowed for the instance's life;
				      * NULL: silent */
	/* At most one new version of each published key per interval.
	 * 1000 ms: the gossip interval is 200 ms and an update needs about
	 * retransmit_mult*log10(N) rounds to spread, so a key changing faster
	 * than once a second would only queue superseded versions. 0: no
	 * limit. */
	uint32_t publish_interval_ms;
	uint32_t bugs; /* GOSSIPD_BUG_* below; 0 outside tests */
};

/* Planted mistakes, for the simulator's test that its checkers catch a
 * broken driver (as raft.h's RAFT_BUG_*). Never set outside tests.
 *  - GOSSIPD_BUG_DROP_RELIABLE: reliable packets are counted but never
 *    handed to env.send (a driver that lost its TCP path).
 *  - GOSSIPD_BUG_FIRST_CHANGE_ONLY: of an update's member changes only the
 *    first is applied and reported (a loop bound off by the rest), so the
 *    table and the observers miss members a push-pull brought at once. */
enum {
	GOSSIPD_BUG_DROP_RELIABLE = 1u << 0,
	GOSSIPD_BUG_FIRST_CHANGE_ONLY = 1u << 1,
};

/* gossip_config_default() for .gossip, publish_interval_ms 1000, seed 1,
 * tracer NULL. The caller sets gossip.name and gossip.addr. */
void gossipd_config_default(struct gossipd_config *c);

struct gossipd;

/* Creates the driver and its core (a member list of itself). The config is
 * copied; env is copied (its ctx is borrowed for the instance's life).
 * Calls no callback: the first set_timer comes from the first stepping
 * call (normally gossipd_join, with n = 0 for the first node). Returns 0,
 * ERR_INVAL (an invalid gossip config, as gossip_new, or a missing
 * send/set_timer/name), ERR_NOMEM. *out is freed with gossipd_free. */
int gossipd_new(const struct gossipd_config *c, const struct gossipd_env *env,
		uint64_t now_ms, struct gossipd **out);
/* Frees everything; sends nothing (call gossipd_leave and keep ticking a
 * little first for a graceful departure). NULL is a no-op. */
void gossipd_free(struct gossipd *d);

/* Joins through seed addresses (copied during the call; n <=
 * GOSSIP_SEEDS_MAX, 0 allowed: a cluster of one). 0 or ERR_INVAL. */
int gossipd_join(struct gossipd *d, uint64_t now_ms, const char *const *seeds,
		 uint32_t n);
/* Announces this member's departure (status LEFT). Keep calling
 * gossipd_tick for about a gossip interval or two so the news goes out. */
int gossipd_leave(struct gossipd *d, uint64_t now_ms);
/* Runs the timers: the core's, and the deferred publications. */
int gossipd_tick(struct gossipd *d, uint64_t now_ms);
/* A packet or reliable message arrived. from is the transport's
 * (authenticated) sender address, informational; buf borrowed for the
 * call. Returns 0, or the reason the packet was rejected (ERR_MALFORMED,
 * ERR_VERSION, ...), already counted in stats.recv_rejected: the owner
 * need not do anything with it. */
int gossipd_receive(struct gossipd *d, uint64_t now_ms, const char *from,
		    enum gossip_channel ch, const uint8_t *buf, size_t len);

/* Sets any key of this member's state now, without rate limiting (for keys
 * other than the published ones, and for the simulator). key and value
 * copied. 0 or ERR_INVAL (bounds of gossip.h). */
int gossipd_set_state(struct gossipd *d, uint64_t now_ms, const char *key,
		      const uint8_t *value, size_t len);
/* Publishes a value of one of the node's keys (copied; NUL-terminated,
 * at most GOSSIPD_VALUE_MAX bytes). The same value as the last one
 * published (or pending) is a no-op. Within publish_interval_ms of the
 * key's last version, the value is kept as pending (replacing an older
 * pending one) and goes out at the interval's end from gossipd_tick.
 * Returns 0, or ERR_INVAL (unknown key, value too long). */
int gossipd_publish(struct gossipd *d, uint64_t now_ms, enum gossipd_key key,
		    const char *value);
/* gossipd_publish(GOSSIPD_KEY_ID) of id as 16 lowercase hex digits. */
int gossipd_publish_id(struct gossipd *d, uint64_t now_ms, uint64_t raft_id);

/* ---- queries (no callbacks, no stepping) ---- */

/* One member as this node sees it; a copy, owned by the caller. */
struct gossipd_member {
	char name[GOSSIP_NAME_MAX + 1];
	char addr[GOSSIP_ADDR_MAX + 1]; /* its cluster address */
	enum gossip_status status;
	uint64_t incarnation;
	uint64_t since_ms; /* when this node saw the current status begin
			    * (the now_ms of that call) */
	int self;          /* 1 for this node's own entry */
	/* The published keys as last received ("" when not (yet) known);
	 * longer values than GOSSIPD_VALUE_MAX are cut. */
	char values[GOSSIPD_KEYS_N][GOSSIPD_VALUE_MAX + 1];
	uint64_t raft_id; /* values[ID] parsed; 0 if absent or not hex */
};

/* Members in the table (self included, any status). Members the core has
 * forgotten (reaped dead/left members) leave the table at the next tick
 * or listing. */
uint32_t gossipd_count(const struct gossipd *d);
/* Copies up to cap members, sorted by name, into out (caller's array) and
 * sets *total to how many there are (may be > cap: call again with a
 * bigger array). Returns 0 or ERR_NOMEM. */
int gossipd_members(struct gossipd *d, struct gossipd_member *out,
		    uint32_t cap, uint32_t *total);
/* One member by name, or by Raft id (published `id` key); 0 or
 * ERR_NOTFOUND. With several members claiming the same id (a node that
 * restarted under a new name), the live one with the newest status wins. */
int gossipd_member_get(struct gossipd *d, const char *name,
		       struct gossipd_member *out);
int gossipd_member_by_id(struct gossipd *d, uint64_t raft_id,
			 struct gossipd_member *out);

/* The core, borrowed until gossipd_free: for read-only queries of gossip.h
 * (gossip_lookup, gossip_health, ...). Never step it directly. */
const struct gossip *gossipd_core(const struct gossipd *d);

struct gossipd_stats {
	struct gossip_stats core;   /* probes, suspicions, deaths, ... */
	uint32_t alive, suspect, dead, left; /* members by status, self
					      * included */
	uint64_t packets_out, bytes_out_udp, bytes_out_tcp, send_failed;
	uint64_t packets_in, bytes_in, recv_rejected;
	uint64_t publishes, publishes_deferred; /* versions sent; values
						 * held by the rate limit */
};
void gossipd_get_stats(const struct gossipd *d, struct gossipd_stats *s);

/* The stats as Prometheus samples, so the names are fixed here (the gossip
 * benchmark reads clusterd_gossip_sent_bytes_total). Samples of one family
 * are consecutive and share name, type and help: print HELP/TYPE when the
 * name changes, then `name{labels} value` (labels NULL: `name value`).
 * All strings are static. */
struct gossipd_metric {
	const char *name, *type, *help;
	const char *labels; /* e.g. `channel="udp"`, or NULL */
	double value;
};
#define GOSSIPD_METRICS_MAX 24
/* Fills up to cap samples (GOSSIPD_METRICS_MAX is enough) and returns
 * how many were written. */
uint32_t gossipd_metrics(const struct gossipd *d, struct gossipd_metric *out,
			 uint32_t cap);

#endif
