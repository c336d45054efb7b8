/*
 * query.c: gossipd's read side: the member listing (clusterctl members,
 * GET /api/v1/cluster/members), lookups by name and by Raft id (the
 * autopilot's gossip view of a server), and the counters for /metrics.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/gossipd/internal.h"

static void fill(const struct gossipd *d, const struct gd_member *m,
		 struct gossipd_member *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->name, m->name, sizeof(out->name));
	memcpy(out->addr, m->addr, sizeof(out->addr));
	out->status = (enum gossip_status)m->status;
	out->incarnation = m->inc;
	out->since_ms = m->since_ms;
	out->self = strcmp(m->name, d->name) == 0;
	out->raft_id = m->raft_id;
	for (uint32_t k = 0; k < GOSSIPD_KEYS_N; k++) {
		const uint8_t *v;
		uint64_t ver;
		size_t len;

		if (gossip_state_get(d->g, m->name,
				     gossipd_key_name((enum gossipd_key)k), &ver,
				     &v, &len) != 0)
			continue;
		if (len > GOSSIPD_VALUE_MAX)
			len = GOSSIPD_VALUE_MAX;
		memcpy(out->values[k], v, len);
		out->values[k][len] = '\0';
	}
}

uint32_t gossipd_count(const struct gossipd *d)
{
	return d->t.n;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct gd_member *)a)->name,
		      ((const struct gd_member *)b)->name);
}

int gossipd_members(struct gossipd *d, struct gossipd_member *out,
		    uint32_t cap, uint32_t *total)
{
	struct gd_member *sorted;
	int rc;

	rc = tbl_prune(&d->t, d->g);
	if (rc != 0)
		return rc;
	*total = d->t.n;
	if (cap == 0 || d->t.n == 0)
		return 0;
	/* Sort a copy: the table's row order is its index's. */
	sorted = malloc(d->t.n * sizeof(*sorted));
	if (sorted == NULL)
		return ERR_NOMEM;
	memcpy(sorted, d->t.rows, d->t.n * sizeof(*sorted));
	qsort(sorted, d->t.n, sizeof(*sorted), by_name);
	for (uint32_t i = 0; i < d->t.n && i < cap; i++)
		fill(d, &sorted[i], &out[i]);
	free(sorted);
	return 0;
}

int gossipd_member_get(struct gossipd *d, const char *name,
		       struct gossipd_member *out)
{
	const struct gd_member *m = tbl_find(&d->t, name);
	enum gossip_status st;
	uint64_t inc;

	/* Reaped by the core but not yet pruned here: gone. */
	if (m == NULL || gossip_lookup(d->g, name, &st, &inc) != 0)
		return ERR_NOTFOUND;
	fill(d, m, out);
	return 0;
}

static int live(uint8_t st)
{
	return st == GOSSIP_ALIVE || st == GOSSIP_SUSPECT;
}

/* Whether a is a better answer than b for one id: live over not, then
 * the newer status. */
static int better(const struct gd_member *a, const struct gd_member *b)
{
	if (live(a->status) != live(b->status))
		return live(a->status);
	return a->since_ms > b->since_ms;
}

int gossipd_member_by_id(struct gossipd *d, uint64_t raft_id,
			 struct gossipd_member *out)
{
	const struct gd_member *best = NULL;

	if (raft_id == 0)
		return ERR_NOTFOUND;
	for (uint32_t r = 0; r < d->t.n; r++) {
		const struct gd_member *m = &d->t.rows[r];
		enum gossip_status st;
		uint64_t inc;

		if (m->raft_id != raft_id ||
		    gossip_lookup(d->g, m->name, &st, &inc) != 0)
			continue;
		if (best == NULL || better(m, best))
			best = m;
	}
	if (best == NULL)
		return ERR_NOTFOUND;
	fill(d, best, out);
	return 0;
}

void gossipd_get_stats(const struct gossipd *d, struct gossipd_stats *s)
{
	*s = d->st;
	gossip_get_stats(d->g, &s->core);
	s->alive = s->suspect = s->dead = s->left = 0;
	for (uint32_t r = 0; r < d->t.n; r++) {
		switch (d->t.rows[r].status) {
		case GOSSIP_ALIVE:
			s->alive++;
			break;
		case GOSSIP_SUSPECT:
			s->suspect++;
			break;
		case GOSSIP_DEAD:
			s->dead++;
			break;
		case GOSSIP_LEFT:
			s->left++;
			break;
		default:
			UNREACHABLE();
		}
	}
	ASSERT(s->alive + s->suspect + s->dead + s->left == d->t.n);
}

uint32_t gossipd_metrics(const struct gossipd *d, struct gossipd_metric *out,
			 uint32_t cap)
{
	struct gossipd_stats s;
	uint32_t n = 0;

	gossipd_get_stats(d, &s);
	const struct gossipd_metric all[] = {
#define M(name, type, help, labels, v) {name, type, help, labels, (double)(v)}
		M("clusterd_gossip_members", "gauge",
		  "Gossip members known to this node by state, itself included.",
		  "state=\"alive\"", s.alive),
		M("clusterd_gossip_members", "gauge", "", "state=\"suspect\"", s.suspect),
		M("clusterd_gossip_members", "gauge", "", "state=\"dead\"", s.dead),
		M("clusterd_gossip_members", "gauge", "", "state=\"left\"", s.left),
		M("clusterd_gossip_probes_total", "counter",
		  "SWIM probes started by this node.", NULL, s.core.probes),
		M("clusterd_gossip_probe_failures_total", "counter",
		  "Probes that got no ack, direct or indirect.", NULL,
		  s.core.probe_fails),
		M("clusterd_gossip_suspicions_total", "counter",
		  "Suspicions of other members started by this node.", NULL,
		  s.core.suspects_started),
		M("clusterd_gossip_deaths_declared_total", "counter",
		  "Members this node declared dead.", NULL, s.core.deaths_declared),
		M("clusterd_gossip_refutations_total", "counter",
		  "Suspicions of this node that it refuted.", NULL, s.core.refutes),
		M("clusterd_gossip_health_score", "gauge",
		  "Lifeguard local health multiplier minus one (0 is healthy).",
		  NULL, gossip_health(d->g)),
		M("clusterd_gossip_sent_bytes_total", "counter",
		  "Gossip payload bytes handed to the transport.",
		  "channel=\"udp\"", s.bytes_out_udp),
		M("clusterd_gossip_sent_bytes_total", "counter", "",
		  "channel=\"tcp\"", s.bytes_out_tcp),
		M("clusterd_gossip_sent_packets_total", "counter",
		  "Gossip packets and reliable messages sent.", NULL, s.packets_out),
		M("clusterd_gossip_send_failures_total", "counter",
		  "Gossip sends the transport refused.", NULL, s.send_failed),
		M("clusterd_gossip_received_bytes_total", "counter",
		  "Gossip payload bytes received.", NULL, s.bytes_in),
		M("clusterd_gossip_received_packets_total", "counter",
		  "Gossip packets and reliable messages received.", NULL, s.packets_in),
		M("clusterd_gossip_rejected_packets_total", "counter",
		  "Received gossip packets rejected as malformed or of another version.",
		  NULL, s.recv_rejected),
		M("clusterd_gossip_state_publishes_total", "counter",
		  "Versions of this node's published keys sent.", NULL, s.publishes),
		M("clusterd_gossip_state_deferred_total", "counter",
		  "Published values held back by the rate limit.", NULL,
		  s.publishes_deferred),
#undef M
	};

	ASSERT(sizeof(all) / sizeof(all[0]) <= GOSSIPD_METRICS_MAX);
	for (; n < cap && n < sizeof(all) / sizeof(all[0]); n++)
		out[n] = all[n];
	return n;
}
