/*
 * cluster_metrics.c: the cluster-wide /metrics on a node (issue 15),
 * the runtime around node/cmetrics (whose header explains the design).
 *
 * Once a second (the autopilot timer) the node:
 *  1. every CLM_SAMPLE_MS, samples its own figures into a snapshot: the
 *     node hooks' text (node.c's process, Raft, gossip, transport and API
 *     figures come first), then its instances (cluster_minst.c), and
 *     publishes the snapshot's version in gossip (key "mv");
 *  2. updates the cache from the member list and gossip: who is up, which
 *     version each advertises;
 *  3. while it was scraped within CLM_INTEREST_MS, sends the pulls that
 *     are due (RPC_METRICS_GET on the transport's RPC channel).
 * A node nobody scrapes pulls nothing: the cost of cluster-wide metrics
 * is then the gossiped version alone. The first scrape after a quiet
 * spell answers with what the cache holds (itself, and clusterd_up of
 * every member) and starts the pulls; the next scrape has everyone.
 */
#include "node/cluster_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/cmetrics/cmetrics.h"
#include "node/metrics.h"

static void clm_free_text(struct cl_mx *mx)
{
	free(mx->text);
	mx->text = NULL;
	mx->len = 0;
}

struct cl_mx *cl_mx_get(struct cluster *c)
{
	if (c->mx != NULL)
		return c->mx;
	if (c->ident.id == 0)
		return NULL;
	c->mx = calloc(1, sizeof(*c->mx));
	if (c->mx == NULL)
		return NULL;
	cm_cache_init(&c->mx->cache, c->ident.id);
	c->mx->share = 1;
	return c->mx;
}

void cl_metrics_free(struct cluster *c)
{
	if (c->mx == NULL)
		return;
	cm_cache_clear(&c->mx->cache);
	clm_free_text(c->mx);
	cl_minst_free(c->mx);
	free(c->mx);
	c->mx = NULL;
}

int cluster_metrics_hook(struct cluster *c, enum cluster_metrics_scope scope,
			 cluster_metrics_fn fn, void *arg)
{
	struct cl_mx *mx = cl_mx_get(c);

	if (mx == NULL)
		return ERR_NOMEM;
	if (mx->nhooks >= CLM_HOOKS_MAX)
		return ERR_AGAIN;
	mx->hooks[mx->nhooks].scope = scope;
	mx->hooks[mx->nhooks].fn = fn;
	mx->hooks[mx->nhooks].arg = arg;
	mx->nhooks++;
	return 0;
}

void cluster_metrics_share(struct cluster *c, int on)
{
	struct cl_mx *mx = cl_mx_get(c);

	if (mx != NULL)
		mx->share = on != 0;
}

/* The figures of the metrics machinery itself (cluster_metrics appends
 * them, so they are in every snapshot and in /metrics?scope=node). */
int cl_metrics_own(struct cluster *c, struct http_reply *rep)
{
	struct cl_mx *mx = cl_mx_get(c);
	const struct cm_cache_stats *s;

	if (mx == NULL)
		return 0;
	s = &mx->cache.st;
	const struct metric_sample m[] = {
		{"clusterd_metrics_snapshot_bytes", "gauge",
		 "Size of this node's last metrics snapshot.", (double)mx->len},
		{"clusterd_metrics_pulls_total", "counter",
		 "Snapshots this node asked peers for.", (double)s->pulls},
		{"clusterd_metrics_pull_failures_total", "counter",
		 "Pulls that failed, timed out or brought a bad snapshot.",
		 (double)(s->pull_failures + s->pull_timeouts + s->snaps_rejected)},
		{"clusterd_metrics_pull_bytes_total", "counter",
		 "Snapshot bytes received from peers.", (double)s->pull_bytes},
		{"clusterd_metrics_served_total", "counter",
		 "Snapshots this node sent to peers.", (double)mx->served},
		{"clusterd_metrics_served_bytes_total", "counter",
		 "Snapshot bytes this node sent to peers.", (double)mx->served_bytes},
		{"clusterd_metrics_hook_errors_total", "counter",
		 "Metrics hooks whose text was left out of a snapshot.",
		 (double)mx->hook_errors},
	};
	return metrics_samples(rep, m, sizeof(m) / sizeof(m[0]));
}

/* Runs the hooks of one scope into rep; a hook that fails, or writes
 * what does not parse, is left out (counted), the others stay. */
static void run_hooks(struct cl_mx *mx, enum cluster_metrics_scope scope,
		      struct http_reply *rep)
{
	for (uint32_t i = 0; i < mx->nhooks; i++) {
		size_t before = rep->body.len;
		struct cm_snap *check = NULL;
		int rv;

		if (mx->hooks[i].scope != scope)
			continue;
		rv = mx->hooks[i].fn(mx->hooks[i].arg, rep);
		if (rv == 0)
			rv = cm_snap_parse((const char *)rep->body.p + before,
					   rep->body.len - before, &check, NULL);
		cm_snap_free(check);
		if (rv != 0) {
			rep->body.len = before;
			mx->hook_errors++;
		}
	}
}

static void sample(struct cluster *c, struct cl_mx *mx, uint64_t now)
{
	struct http_reply rep;
	struct cm_snap *snap = NULL;
	char hex[24];
	int rv;

	memset(&rep, 0, sizeof(rep));
	wbuf_init(&rep.body, CM_TEXT_MAX);
	run_hooks(mx, CLUSTER_METRICS_NODE, &rep);
	rv = cl_minst_render(c, mx, &rep, now);
	if (rv == 0)
		rv = cm_snap_parse((const char *)rep.body.p, rep.body.len, &snap,
				   NULL);
	if (rv != 0) {
		mx->sample_errors++;
		TRACE_W(c->log, "metrics", "sampling failed: %s", err_str(rv));
		wbuf_free(&rep.body);
		return;
	}
	/* Versions grow across restarts: the first is the wall clock. */
	mx->version = mx->version == 0 ? cl_wall_ms() : mx->version + 1;
	clm_free_text(mx);
	mx->text = wbuf_take(&rep.body, &mx->len);
	cm_cache_set_self(&mx->cache, mx->version, snap, now);
	if (mx->share && c->gd && now >= mx->next_publish_ms) {
		mx->next_publish_ms = now + cm_publish_ms(gossipd_count(c->gd), CLM_SAMPLE_MS);
		snprintf(hex, sizeof(hex), "%" PRIx64, mx->version);
		(void)gossipd_publish(c->gd, now, GOSSIPD_KEY_METRICS, hex);
	}
	wbuf_free(&rep.body);
}

static uint64_t parse_hex(const char *s)
{
	uint64_t v = 0;

	for (int i = 0; s[i] && i < 16; i++) {
		char ch = s[i];

		if (ch >= '0' && ch <= '9')
			v = v * 16 + (uint64_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v * 16 + (uint64_t)(ch - 'a' + 10);
		else
			return 0;
	}
	return v;
}

/* The cache follows the member list; gossip says who is up and which
 * version each member advertises. */
static void sync_members(struct cluster *c, struct cl_mx *mx)
{
	struct cm_member m[CL_MEMBERS_MAX];
	struct gossipd_member *gm = malloc(sizeof(*gm));
	size_t n = 0;

	if (gm == NULL)
		return;
	if (c->members_dirty)
		cl_members_reload(c);
	for (size_t i = 0; i < c->members_n && n < CM_PEERS_MAX; i++) {
		const struct stor_cl_member *r = &c->members[i];
		int self = r->id == c->ident.id;

		m[n].id = r->id;
		m[n].name = r->name;
		m[n].up = self;
		m[n].version = 0;
		if (!self && c->gd && gossipd_member_by_id(c->gd, r->id, gm) == 0) {
			m[n].up = gm->status == GOSSIP_ALIVE ||
				  gm->status == GOSSIP_SUSPECT;
			m[n].version = parse_hex(gm->values[GOSSIPD_KEY_METRICS]);
		}
		n++;
	}
	free(gm);
	cm_cache_sync(&mx->cache, m, n);
}

static void send_pulls(struct cluster *c, struct cl_mx *mx, uint64_t now)
{
	struct cm_pull p[CM_PULLS_INFLIGHT_MAX];
	size_t n = cm_cache_due(&mx->cache, now, p, CM_PULLS_INFLIGHT_MAX);

	for (size_t i = 0; i < n; i++) {
		const struct cm_peer *peer = cm_cache_get(&mx->cache, p[i].id);
		struct rpc_msg msg = {
			.type = RPC_METRICS_GET,
			.req_id = p[i].req,
			.from = c->ident.id,
			.a = peer ? peer->want : 0,
		};

		if (cl_send_rpc(c, p[i].id, &msg) != 0)
			cm_cache_failed(&mx->cache, p[i].id, p[i].req, now);
	}
}

static int interested(const struct cl_mx *mx, uint64_t now)
{
	return mx->scraped_ms != 0 && now - mx->scraped_ms < CLM_INTEREST_MS;
}

void cl_metrics_tick(struct cluster *c, uint64_t now)
{
	struct cl_mx *mx = cl_mx_get(c);

	if (mx == NULL || !c->joined)
		return;
	if (now >= mx->next_sample_ms) {
		mx->next_sample_ms = now + CLM_SAMPLE_MS;
		sample(c, mx, now);
	}
	cl_minst_subscribe(c, mx);
	cl_minst_poll(c, mx, now);
	sync_members(c, mx);
	if (mx->share && interested(mx, now))
		send_pulls(c, mx, now);
}

void cl_metrics_rpc(struct cluster *c, const struct rpc_msg *m)
{
	struct cl_mx *mx = cl_mx_get(c);
	uint64_t now = cl_now(c);

	if (mx == NULL)
		return;
	if (m->type == RPC_METRICS) {
		(void)cm_cache_answer(&mx->cache, m->from, m->req_id,
				      rpc_status_get(m->a), m->b,
				      (const char *)m->data, m->len, now);
		return;
	}
	struct rpc_msg ans = {
		.type = RPC_METRICS,
		.req_id = m->req_id,
		.from = c->ident.id,
		.a = rpc_status_put(mx->text ? 0 : ERR_AGAIN),
		.b = mx->version,
		.data = mx->text,
		.len = mx->text ? mx->len : 0,
	};
	if (!mx->share) {
		ans.a = rpc_status_put(ERR_PERM);
		ans.len = 0;
	}
	if (cl_send_rpc(c, m->from, &ans) == 0 && ans.len > 0) {
		mx->served++;
		mx->served_bytes += ans.len;
	}
}

int cluster_metrics_all(struct cluster *c, struct http_reply *rep)
{
	struct cl_mx *mx = c->joined ? cl_mx_get(c) : NULL;
	uint64_t now = cl_now(c);
	int was;
	int rv;

	if (mx == NULL)
		return ERR_AGAIN; /* not joined: the caller answers locally */
	if (mx->text == NULL) {
		/* The first scrape came before the first sample: sampling
		 * waits on nothing, so take one now. */
		mx->next_sample_ms = now + CLM_SAMPLE_MS;
		sample(c, mx, now);
		sync_members(c, mx);
	}
	was = interested(mx, now);
	mx->scraped_ms = now;
	if (!was && mx->share) {
		sync_members(c, mx);
		send_pulls(c, mx, now);
	}
	rv = cm_render(&mx->cache, now, &rep->body, NULL);
	if (rv == 0)
		run_hooks(mx, CLUSTER_METRICS_CLUSTER, rep);
	return rv;
}
