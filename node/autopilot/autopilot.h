/*
 * autopilot.h: the leader's membership policy, as Consul's autopilot.
 *
 * Pure: no I/O, no clock, no libuv; the owner (the leader's node loop)
 * gathers the inputs (Raft configuration and match indexes, gossip status
 * of every server) and calls ap_decide, say once a second, and carries out
 * the one action it returns with raftd_change. Each call returns at most
 * one membership change, because Raft changes one server at a time
 * (Ongaro's thesis 4.2) and the next decision must see the new
 * configuration.
 *
 * Rules, in order of precedence:
 *  1. Nothing unless this node is the leader, and nothing while the
 *     current voters lack a quorum of alive voters (no change could
 *     commit; acting on a stale view is worse than waiting).
 *  2. A server whose gossip status is LEFT is removed (self excepted: a
 *     leaving leader hands leadership over first, then the new leader
 *     removes it).
 *  3. A voter DEAD for dead_threshold_ms is replaced: if a ready learner
 *     (below) exists and voters <= target, the learner is promoted FIRST;
 *     the dead voter is removed in a later call. A learner DEAD for the
 *     threshold is removed.
 *  4. While voters < target, the ready learner that joined first (then
 *     the lowest id) is promoted. target is voters_max (5) when at least
 *     voters_max servers are ready-or-voting and alive, else voters_min
 *     (3). A promotion to an even count (1 -> 2) waits until a second
 *     ready learner can follow at once: 2 voters tolerate no more failures
 *     than 1 and need both up. Conversely, 4 alive voters over a target
 *     of 3 demote the one that joined last.
 *  A learner is ready when it is ALIVE, its lag (leader's last index -
 *  its match index) is at most max_lag, and both have held continuously
 *  for stabilization_ms (measured across calls in struct ap_state, and
 *  never counted from before its gossip status last changed or before it
 *  joined). A flapping learner keeps resetting its clock, so it is never
 *  promoted.
 *  Safety: an action is returned only if, after it, the voters still
 *  include a quorum (more than half) of ALIVE voters. Self is never
 *  removed or demoted.
 * Every action carries a reason sentence for the log and `raft status`.
 */
#ifndef CLUSTERD_NODE_AUTOPILOT_AUTOPILOT_H
#define CLUSTERD_NODE_AUTOPILOT_AUTOPILOT_H

#include <stdint.h>

#include "raft/raft.h"

/* Gossip's view of a server (gossip_status values, plus unknown: the
 * server's id is not (yet) published by any gossip member). */
enum ap_health {
	AP_UNKNOWN = 0,
	AP_ALIVE = 1,
	AP_SUSPECT = 2,
	AP_DEAD = 3,
	AP_LEFT = 4,
};

struct ap_config {
	/* 10 s, Consul's ServerStabilizationTime default. */
	uint64_t stabilization_ms;
	/* 30 s dead before replacement: gossip already waits out its
	 * suspicion timeout (5-10 s at LAN defaults) before DEAD, and a
	 * restart of a process (kill -9 and a supervisor) takes seconds;
	 * a replacement costs a snapshot transfer, so it should not chase a
	 * reboot. */
	uint64_t dead_threshold_ms;
	uint32_t voters_min; /* 3 */
	uint32_t voters_max; /* 5: used once 5 servers are healthy */
	/* 250 entries: Consul's MaxTrailingLogs default (its unit is log
	 * entries too). */
	uint64_t max_lag;
};
void ap_config_default(struct ap_config *c);

/* One server of the Raft configuration as the owner sees it now. */
struct ap_server {
	raft_id id;             /* nonzero */
	uint8_t suffrage;       /* RAFT_VOTER or RAFT_LEARNER */
	raft_index match_index; /* from the leader's progress; for self: the
				 * leader's last index */
	enum ap_health health;  /* gossip status of the member whose `id`
				 * is this id (AP_UNKNOWN: none) */
	uint64_t health_since_ms; /* when that status began (gossipd's
				   * member since_ms); 0: unknown */
	uint64_t join_ms;       /* when it entered the configuration, as
				 * far as the owner knows; 0: unknown */
};

struct ap_input {
	uint64_t now_ms;
	int is_leader;          /* 0: ap_decide returns no action */
	raft_id self;           /* this node's id */
	raft_index last_index;  /* the leader's last log index */
	uint32_t n;             /* servers in the configuration */
	struct ap_server servers[RAFT_NODES_MAX];
};

/* What ap_decide remembers between calls: per server, since when it has
 * been continuously ALIVE and caught up (0: not now). The owner
 * zero-initialises it (ap_state_init) and passes the same one to every
 * call; reset it when leadership is regained (a new leader has no
 * history, so it waits one stabilisation time before promoting). */
struct ap_state {
	uint64_t last_now_ms; /* the previous call's now_ms */
	uint32_t n;
	struct {
		raft_id id;
		uint64_t ok_since_ms;
	} s[RAFT_NODES_MAX];
};
void ap_state_init(struct ap_state *st);

#define AP_REASON_MAX 160

struct ap_action {
	uint8_t op;   /* 0: nothing to do; else RAFT_PROMOTE, RAFT_DEMOTE or
		       * RAFT_REMOVE (enum raft_change_op) */
	raft_id id;   /* the server it applies to */
	char reason[AP_REASON_MAX]; /* a sentence, NUL-terminated; also set
				     * (why nothing) when op is 0 */
};

/* Decides at most one action. All pointers borrowed for the call; st is
 * updated. Returns 0 (out filled; out->op may be 0), or ERR_INVAL on an
 * inconsistent input (n > RAFT_NODES_MAX, a zero or duplicate id, an
 * unknown suffrage, time going back), with out->op 0. */
int ap_decide(const struct ap_config *c, const struct ap_input *in,
	      struct ap_state *st, struct ap_action *out);

/* The health of a gossip status code (enum gossip_status values 1..4;
 * anything else: AP_UNKNOWN). For the owner's glue. */
enum ap_health ap_health_of(int gossip_status);

/* "alive", "suspect", "dead", "left", "unknown". Static. */
const char *ap_health_name(enum ap_health h);

#endif
