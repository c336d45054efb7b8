/*
 * net.h: the simulated network between the simulator's nodes.
 *
 * The model decides, for every message a node sends, whether it arrives,
 * how many times, and when. It keeps one state per directed link, so a
 * partition can be symmetric (both directions cut), asymmetric (one
 * direction), or partial (a node cut off from some peers but not others,
 * the shape of the 2020 Cloudflare/etcd outage). A clogged link holds its
 * messages until the clog ends and then lets them through in a burst,
 * which is how a congested switch or a paused process looks to Raft.
 *
 * Latency is a base plus a uniform jitter, with a small chance of a long
 * tail; reordering follows from the jitter and from an explicit chance of
 * extra delay. Loss and duplication are per message. A link that is cut at
 * delivery time also drops what was in flight on it.
 *
 * Every decision draws from the net's own PRNG (forked from the seed), so
 * the network's behaviour is replayable. In-flight messages per link are
 * bounded (SIM_NET_INFLIGHT_MAX); past it the message is dropped and
 * counted, as a full socket buffer would drop it.
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_NET_H
#define CLUSTERD_TESTS_SIM_RAFT_NET_H

#include <stdint.h>

#include "base/prng.h"

#define SIM_NODES_MAX 8
/* A socket buffer's worth of messages; far above what Raft's flow control
 * keeps in flight, so reaching it means a clog lasted long. */
#define SIM_NET_INFLIGHT_MAX 4096

struct sim_net_params {
	uint32_t lat_min_us;	/* every message takes at least this */
	uint32_t lat_jitter_us; /* plus uniform [0, jitter] */
	uint32_t lat_tail_us;	/* plus uniform [0, tail] with p_tail */
	double p_tail;
	double p_loss;
	double p_dup;
	double p_reorder; /* extra delay of up to 4x jitter */
};

struct sim_link {
	int up;			/* 0: cut (messages dropped) */
	uint64_t clog_until_us; /* messages held until then */
	uint32_t extra_us;	/* a slow link: added to every message */
	uint32_t inflight;
};

struct sim_net_stats {
	uint64_t sent, delivered, lost, cut, dup, overflow;
};

struct sim_net {
	int n;
	struct sim_net_params p;
	struct sim_link link[SIM_NODES_MAX][SIM_NODES_MAX];
	struct prng rng;
	struct sim_net_stats stats;
};

/* All links up and unclogged; rng is forked from `parent`. */
void sim_net_init(struct sim_net *net, int n, const struct sim_net_params *p,
		  struct prng *parent);

/* Decides the fate of one message sent at `now`: fills when_us[0..k) with
 * arrival times and returns k (0 = lost or cut, 2 = duplicated). Each
 * arrival counts as in flight until sim_net_arrive. */
int sim_net_route(struct sim_net *net, uint64_t now, int from, int to,
		  uint64_t when_us[2]);

/* Called when an arrival's time has come: returns 1 if the message is
 * delivered, 0 if the link was cut meanwhile (dropped). */
int sim_net_arrive(struct sim_net *net, int from, int to);

/* Fault controls. */
void sim_net_set_link(struct sim_net *net, int from, int to, int up);
/* Cuts every link between the nodes in `side` (a bit mask) and the rest,
 * in both directions. */
void sim_net_partition(struct sim_net *net, uint32_t side);
void sim_net_clog(struct sim_net *net, int from, int to, uint64_t until_us);
/* A slow link (a WAN hop, a congested path): extra latency, both ways. */
void sim_net_slow(struct sim_net *net, int a, int b, uint32_t extra_us);
/* Everything up, unclogged and fast again (messages already in flight
 * keep their times). */
void sim_net_heal(struct sim_net *net);

#endif
