/*
 * net.c: the simulated network. See net.h.
 */
#include "tests/sim/raft/net.h"

#include <string.h>

#include "base/assert.h"

void sim_net_init(struct sim_net *net, int n, const struct sim_net_params *p,
		  struct prng *parent)
{
	ASSERT(n > 0 && n <= SIM_NODES_MAX);
	memset(net, 0, sizeof(*net));
	net->n = n;
	net->p = *p;
	prng_fork(parent, &net->rng);
	for (int i = 0; i < SIM_NODES_MAX; i++)
		for (int j = 0; j < SIM_NODES_MAX; j++)
			net->link[i][j].up = 1;
}

static uint64_t latency(struct sim_net *net)
{
	const struct sim_net_params *p = &net->p;
	uint64_t d =
	    p->lat_min_us + prng_below(&net->rng, p->lat_jitter_us + 1ULL);

	if (prng_chance(&net->rng, p->p_tail))
		d += prng_below(&net->rng, p->lat_tail_us + 1ULL);
	if (prng_chance(&net->rng, p->p_reorder))
		d += prng_below(&net->rng, 4ULL * p->lat_jitter_us + 1ULL);
	return d;
}

int sim_net_route(struct sim_net *net, uint64_t now, int from, int to,
		  uint64_t when_us[2])
{
	struct sim_link *l;
	int k;

	ASSERT(from >= 0 && from < net->n && to >= 0 && to < net->n);
	l = &net->link[from][to];
	net->stats.sent++;
	if (!l->up) {
		net->stats.cut++;
		return 0;
	}
	if (prng_chance(&net->rng, net->p.p_loss)) {
		net->stats.lost++;
		return 0;
	}
	k = prng_chance(&net->rng, net->p.p_dup) ? 2 : 1;
	for (int i = 0; i < k; i++) {
		uint64_t t = now + l->extra_us + latency(net);

		if (t < l->clog_until_us)
			t = l->clog_until_us + prng_below(&net->rng, 1000);
		if (l->inflight >= SIM_NET_INFLIGHT_MAX) {
			net->stats.overflow++;
			return i;
		}
		l->inflight++;
		when_us[i] = t;
	}
	net->stats.dup += (uint64_t)(k - 1);
	return k;
}

int sim_net_arrive(struct sim_net *net, int from, int to)
{
	struct sim_link *l = &net->link[from][to];

	ASSERT(l->inflight > 0);
	l->inflight--;
	if (!l->up) {
		net->stats.cut++;
		return 0;
	}
	net->stats.delivered++;
	return 1;
}

void sim_net_set_link(struct sim_net *net, int from, int to, int up)
{
	net->link[from][to].up = up;
}

void sim_net_partition(struct sim_net *net, uint32_t side)
{
	for (int i = 0; i < net->n; i++)
		for (int j = 0; j < net->n; j++) {
			int a = (side >> i) & 1, b = (side >> j) & 1;

			if (a != b)
				net->link[i][j].up = 0;
		}
}

void sim_net_clog(struct sim_net *net, int from, int to, uint64_t until_us)
{
	net->link[from][to].clog_until_us = until_us;
}

void sim_net_slow(struct sim_net *net, int a, int b, uint32_t extra_us)
{
	net->link[a][b].extra_us = extra_us;
	net->link[b][a].extra_us = extra_us;
}

void sim_net_heal(struct sim_net *net)
{
	for (int i = 0; i < SIM_NODES_MAX; i++)
		for (int j = 0; j < SIM_NODES_MAX; j++) {
			net->link[i][j].up = 1;
			net->link[i][j].clog_until_us = 0;
			net->link[i][j].extra_us = 0;
		}
}
