/*
 * gossip.h: a pure SWIM + Lifeguard membership core.
 *
 * What it implements:
 *  - SWIM (Das, Gupta, Motivala, DSN 2002): one probe per protocol period
 *    to a member chosen by shuffled round-robin (section 4.3), indirect
 *    probes through k members when the direct probe fails (section 3.1),
 *    suspicion before death and incarnation numbers so that a suspected
 *    member refutes by raising its own (section 4.2), and dissemination
 *    piggybacked on probe traffic (section 4.1), each update sent about
 *    lambda*log(N) times.
 *  - Lifeguard (Dadgar, Phillips, Currey, arXiv:1707.00788): local health
 *    awareness (section 4.3: a member that misses its own acks and nacks
 *    raises a multiplier that slows its probes and lengthens its
 *    timeouts), dynamic suspicion timeouts (section 4.2: a timeout that
 *    shrinks from max to min as independent confirmations arrive), nacks
 *    from indirect probers (section 4.1) and the buddy system (section
 *    4.4: a suspicion is piggybacked on the probe sent to the suspect).
 *  - memberlist-style push-pull anti-entropy over a reliable channel (on
 *    join and periodically) and a small versioned key/value state per
 *    member, newest version wins.
 *
 * Like raft/, it does no I/O and reads no clock: the driver feeds events
 * with the current time (milliseconds, any monotonic origin) and carries
 * out the update. Addresses are opaque strings that the driver maps to
 * sockets. Randomness comes from a seeded struct prng, text goes out
 * through an injected tracer.
 *
 * Threads: none inside. An instance is not thread-safe: every call on one
 * instance (gossip_step, the getters, gossip_free) must come from one
 * thread at a time, normally the node's loop thread. Separate instances
 * share nothing and may run on separate threads, as the simulator's do.
 */
#ifndef CLUSTERD_GOSSIP_GOSSIP_H
#define CLUSTERD_GOSSIP_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#include "base/trace.h"

/* Bounds of the identifiers and of the per-member state. They bound every
 * message, so a hostile peer cannot make a member's record grow. */
#define GOSSIP_NAME_MAX 63      /* bytes of a member name */
#define GOSSIP_ADDR_MAX 63      /* bytes of an address string */
#define GOSSIP_KEY_MAX 31       /* bytes of a state key */
#define GOSSIP_VALUE_MAX 255    /* bytes of a state value */
#define GOSSIP_STATE_KEYS_MAX 16 /* keys per member */
#define GOSSIP_SEEDS_MAX 16     /* seed addresses per join request */

enum gossip_channel {
	GOSSIP_UNRELIABLE = 0, /* datagrams: may be lost, at most packet_max */
	GOSSIP_RELIABLE = 1,   /* a stream: push-pull, at most reliable_max */
};

enum gossip_status {
	GOSSIP_ALIVE = 1,
	GOSSIP_SUSPECT = 2,
	GOSSIP_DEAD = 3,
	GOSSIP_LEFT = 4, /* announced its own departure */
};

/* Tunables. gossip_config_default() gives memberlist's DefaultLANConfig
 * values (memberlist/config.go), which are the ones Consul and Serf ship. */
struct gossip_config {
	const char *name; /* this member's unique name (copied) */
	const char *addr; /* the address others reach it at (copied) */
	uint64_t incarnation; /* starting incarnation (a restart may pass a
			       * persisted one; refutation raises it anyway) */
	uint64_t state_version; /* versions of this member's own state keys
				 * count up from here: a restart passes the
				 * wall clock so its keys outrank what the
				 * others still hold from its past life */
	uint32_t probe_interval_ms;   /* 1000: one probe per period */
	uint32_t probe_timeout_ms;    /* 500: direct ack deadline */
	uint32_t indirect_checks;     /* 3: k members asked to probe */
	uint32_t suspicion_mult;      /* 4: min timeout = mult*log10(N)*interval */
	uint32_t suspicion_max_mult;  /* 6: max timeout = this * min timeout */
	uint32_t retransmit_mult;     /* 4: sends per update = mult*ceil(log10(N+1)) */
	uint32_t gossip_interval_ms;  /* 200 */
	uint32_t gossip_nodes;        /* 3 members per gossip round */
	uint32_t gossip_to_dead_ms;   /* 30000: dead members still get gossip */
	uint32_t push_pull_interval_ms; /* 30000, scaled up with N as memberlist */
	uint32_t reconnect_interval_ms; /* 30000: push-pull to a dead member,
					 * with probability dead/alive (Serf) */
	uint32_t reap_ms;             /* 300000: forget dead/left members after */
	uint32_t awareness_max;       /* 8: local health multiplier is 1..8 */
	uint32_t packet_max;          /* 1400 bytes per unreliable packet */
	uint32_t reliable_max;        /* 4 MiB per reliable message */
	uint32_t members_max;         /* 8192: bound on the member table */
	uint32_t bcast_max;           /* 4096: bound on queued updates */
	uint32_t relay_max;           /* 64: indirect probes run for others */
	uint32_t reliable_ping;       /* 1: when the direct probe times out,
				       * also ping over the reliable channel
				       * (memberlist's TCP fallback ping), so
				       * datagram loss alone rarely suspects */
};

void gossip_config_default(struct gossip_config *c);

enum gossip_event_type {
	GOSSIP_EV_TICK = 0,  /* time passed */
	GOSSIP_EV_RECV,      /* a packet or reliable message arrived */
	GOSSIP_EV_JOIN,      /* join through seed addresses */
	GOSSIP_EV_LEAVE,     /* announce departure; keep stepping to flush */
	GOSSIP_EV_SET_STATE, /* set a key of this member's own state */
};

/* Every pointer in an event is borrowed for the duration of the call. */
struct gossip_event {
	enum gossip_event_type type;
	uint64_t now_ms;
	union {
		struct {
			const char *from; /* transport's idea of the sender;
					   * informational only */
			enum gossip_channel channel;
			const uint8_t *data;
			size_t len;
		} recv;
		struct {
			const char *const *seeds;
			uint32_t n;
		} join;
		struct {
			const char *key;
			const uint8_t *value;
			size_t len;
		} state;
	};
};

struct gossip_packet {
	char to[GOSSIP_ADDR_MAX + 1];
	enum gossip_channel channel;
	const uint8_t *data; /* owned by the gossip instance */
	size_t len;
};

struct gossip_member_change {
	char name[GOSSIP_NAME_MAX + 1];
	char addr[GOSSIP_ADDR_MAX + 1];
	enum gossip_status status;
	uint64_t incarnation;
};

struct gossip_state_change {
	char name[GOSSIP_NAME_MAX + 1];
	char key[GOSSIP_KEY_MAX + 1];
	uint64_t version;
	const uint8_t *value; /* owned by the gossip instance */
	size_t len;
};

/*
 * What the driver must do after a step. Everything it points to is owned
 * by the gossip instance and stays valid until the next gossip_step() or
 * gossip_free() on it; copy what must live longer.
 *  1. send every packet (order does not matter; losing some is fine on
 *     the unreliable channel, a failed reliable send may be dropped);
 *  2. report the membership and state changes, in order;
 *  3. call gossip_step with a tick at deadline_ms at the latest
 *     (sooner is harmless).
 */
struct gossip_update {
	const struct gossip_packet *packets;
	uint32_t n_packets;
	const struct gossip_member_change *changes;
	uint32_t n_changes;
	const struct gossip_state_change *states;
	uint32_t n_states;
	uint64_t deadline_ms;
	int recv_err; /* 0, or why a received packet was rejected */
};

struct gossip;

/* Creates an instance whose only member is itself. The config is copied.
 * The tracer is borrowed for the instance's life (NULL: silent). Returns
 * ERR_INVAL on an invalid config (as raft_init), ERR_NOMEM. */
int gossip_new(const struct gossip_config *c, uint64_t seed,
	       const struct tracer *t, uint64_t now_ms, struct gossip **out);
void gossip_free(struct gossip *g);

/* Handles one event. Returns 0, or ERR_INVAL for a bad local request (a
 * state key or value over its bound, too many keys, too many seeds).
 * A malformed received packet is not an error of the call: it is dropped
 * and its reason put in update->recv_err. Time must not go backwards. */
int gossip_step(struct gossip *g, const struct gossip_event *ev,
		struct gossip_update *u);

/* Queries (borrowed results valid until the next step). */
uint64_t gossip_incarnation(const struct gossip *g);
/* Lifeguard's local health score: 0 healthy .. awareness_max-1. */
uint32_t gossip_health(const struct gossip *g);
/* Members known (any status, self included) and alive-or-suspect ones. */
uint32_t gossip_num_members(const struct gossip *g);
uint32_t gossip_num_live(const struct gossip *g);
/* ERR_NOTFOUND if the name is unknown. */
int gossip_lookup(const struct gossip *g, const char *name,
		  enum gossip_status *status, uint64_t *incarnation);
/* The state value `key` of member `name`: 0 with *version, *value and *len
 * set (*value is owned by the instance, valid until the next gossip_step()
 * or gossip_free()), or ERR_NOTFOUND if the member or the key is unknown. */
int gossip_state_get(const struct gossip *g, const char *name,
		     const char *key, uint64_t *version, const uint8_t **value,
		     size_t *len);

/* Counters for tests and metrics. */
struct gossip_stats {
	uint64_t probes, probe_fails, indirect_sent, nacks_sent, nacks_recv;
	uint64_t suspects_started, deaths_declared, refutes;
	uint64_t malformed, bcast_dropped, relay_dropped, state_dropped;
	uint64_t push_pulls; /* digests answered */
};
void gossip_get_stats(const struct gossip *g, struct gossip_stats *s);

/* The dynamic suspicion timeout of Lifeguard section 4.2 as memberlist
 * computes it: max(min, max - (max-min) * log(c+1)/log(k+1)), where c
 * counts independent confirmations and k is how many are expected.
 * Exposed for the tests. */
uint64_t gossip_suspicion_timeout(uint64_t min_ms, uint64_t max_ms, uint32_t k,
				  uint32_t c);
/* Minimum suspicion timeout for n members:
 * mult * max(1, log10(n)) * interval, in ms. */
uint64_t gossip_suspicion_min(uint32_t mult, uint32_t n, uint32_t interval_ms);
/* How many times an update is sent with n members:
 * mult * ceil(log10(n+1)). */
uint32_t gossip_retransmit_limit(uint32_t mult, uint32_t n);

#endif
