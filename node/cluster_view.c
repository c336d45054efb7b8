/*
 * cluster_view.c: what the node shows of the cluster (members, Raft
 * status, metrics) and the leader's autopilot, which acts on the same
 * view: the Raft configuration and match indexes from raftd, liveness
 * from gossip (node/autopilot/autopilot.h has the policy).
 */
#include "node/cluster_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/metrics.h"

const char *cl_role_word(const struct cluster *c)
{
	const struct raft_server *me;

	if (c->rd == NULL)
		return "none";
	me = raft_conf_get(raftd_configuration(c->rd), c->ident.id);
	if (me == NULL)
		return "none";
	if (me->role == RAFT_LEARNER)
		return "learner";
	switch (c->role) {
	case RAFT_LEADER:
		return "leader";
	case RAFT_CANDIDATE:
	case RAFT_PRECANDIDATE:
		return "candidate";
	default:
		return "follower";
	}
}

/* Copies a string, cut to fit: the views hold short fields, and a longer
 * value (a peer's published word) is shown cut rather than refused. */
static void set_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *status_word(enum gossip_status s)
{
	switch (s) {
	case GOSSIP_ALIVE:
		return "alive";
	case GOSSIP_SUSPECT:
		return "suspect";
	case GOSSIP_DEAD:
		return "dead";
	case GOSSIP_LEFT:
		return "left";
	}
	return "unknown";
}

int cl_members_view(void *ctx, struct core_member *out, size_t max,
		    size_t *n)
{
	struct cluster *c = ctx;
	struct gossipd_member *m;
	uint32_t total = 0, cap = (uint32_t)(max < CORE_MEMBERS_MAX ? max
							       : CORE_MEMBERS_MAX);
	int rv;

	*n = 0;
	if (c->gd == NULL)
		return 0;
	/* Our own role as of now (the published one is rate limited). */
	(void)gossipd_publish(c->gd, cl_now(c), GOSSIPD_KEY_ROLE,
			      cl_role_word(c));
	m = calloc(cap ? cap : 1, sizeof(*m));
	if (m == NULL)
		return ERR_NOMEM;
	rv = gossipd_members(c->gd, m, cap, &total);
	for (uint32_t i = 0; rv == 0 && i < total && i < cap; i++) {
		struct core_member *o = &out[i];

		memset(o, 0, sizeof(*o));
		set_str(o->name, sizeof(o->name), m[i].name);
		set_str(o->addr, sizeof(o->addr), m[i].addr);
		set_str(o->http, sizeof(o->http), m[i].values[GOSSIPD_KEY_HTTP]);
		set_str(o->state, sizeof(o->state), status_word(m[i].status));
		set_str(o->role, sizeof(o->role),
			m[i].self ? cl_role_word(c)
			: m[i].values[GOSSIPD_KEY_ROLE][0]
				? m[i].values[GOSSIPD_KEY_ROLE]
				: "none");
		set_str(o->version, sizeof(o->version),
			m[i].values[GOSSIPD_KEY_VER]);
		o->raft_id = m[i].raft_id;
		*n = i + 1;
	}
	free(m);
	return rv;
}

int cl_caught_up(const struct cluster *c)
{
	struct raftd_status st;

	if (c->rd == NULL)
		return 0;
	raftd_status(c->rd, &st);
	/* A commit index of an older term may still grow (a leader just
	 * elected has not committed its barrier): not caught up yet. */
	return st.failed == 0 && st.leader != 0 && st.term != 0 &&
	       st.commit_term == st.term && st.applied >= st.commit;
}

int cl_raft_view(void *ctx, struct core_raft_status *out)
{
	struct cluster *c = ctx;
	const struct raft_configuration *conf;
	const struct stor_cl_member *lm;
	struct raftd_status st;

	memset(out, 0, sizeof(*out));
	out->id = c->ident.id;
	if (c->rd == NULL) {
		snprintf(out->role, sizeof(out->role), "none");
		return 0;
	}
	raftd_status(c->rd, &st);
	snprintf(out->role, sizeof(out->role), "%s", cl_role_word(c));
	out->term = st.term;
	out->leader_id = st.leader;
	lm = cl_member(c, st.leader);
	if (lm)
		snprintf(out->leader_name, sizeof(out->leader_name), "%s",
			 lm->name);
	out->commit_index = st.commit;
	out->applied_index = st.applied;
	out->last_index = st.last_index;
	conf = raftd_configuration(c->rd);
	for (uint32_t i = 0; i < conf->n && i < CORE_SERVERS_MAX; i++) {
		struct core_server *s = &out->servers[out->nservers++];
		const struct stor_cl_member *m = cl_member(c, conf->servers[i].id);
		raft_index match = 0;

		s->id = conf->servers[i].id;
		s->voter = conf->servers[i].role == RAFT_VOTER;
		if (m)
			snprintf(s->name, sizeof(s->name), "%s", m->name);
		if (raftd_match(c->rd, s->id, &match) == 0) {
			s->match_index = match;
			s->lag = st.last_index > match ? st.last_index - match : 0;
		}
	}
	for (uint32_t i = 0; i < c->decisions_n && i < CORE_DECISIONS_MAX; i++) {
		out->decisions[i].at_ms = c->decisions[i].at_ms;
		snprintf(out->decisions[i].text, sizeof(out->decisions[i].text),
			 "%s", c->decisions[i].text);
		out->ndecisions = i + 1;
	}
	return 0;
}

/* ---- autopilot ---- */

static void remember(struct cluster *c, const char *text)
{
	const size_t cap = sizeof(c->decisions) / sizeof(c->decisions[0]);

	if (c->decisions_n == cap) {
		memmove(c->decisions, c->decisions + 1,
			(cap - 1) * sizeof(c->decisions[0]));
		c->decisions_n--;
	}
	c->decisions[c->decisions_n].at_ms = cl_wall_ms();
	snprintf(c->decisions[c->decisions_n].text,
		 sizeof(c->decisions[0].text), "%s", text);
	c->decisions_n++;
}

/* When each server entered the configuration, as far as this node saw
 * (autopilot counts stabilisation from it). */
static uint64_t join_time(struct cluster *c, raft_id id, uint64_t now)
{
	for (size_t i = 0; i < RAFT_NODES_MAX; i++)
		if (c->conf_seen_id[i] == id)
			return c->conf_seen_ms[i];
	for (size_t i = 0; i < RAFT_NODES_MAX; i++)
		if (c->conf_seen_id[i] == 0 ||
		    raft_conf_get(raftd_configuration(c->rd),
				  c->conf_seen_id[i]) == NULL) {
			c->conf_seen_id[i] = id;
			c->conf_seen_ms[i] = now;
			return now;
		}
	return now;
}

static void fill_input(struct cluster *c, struct ap_input *in, uint64_t now)
{
	const struct raft_configuration *conf = raftd_configuration(c->rd);
	struct raftd_status st;

	raftd_status(c->rd, &st);
	memset(in, 0, sizeof(*in));
	in->now_ms = now;
	in->is_leader = st.role == RAFT_LEADER;
	in->self = c->ident.id;
	in->last_index = st.last_index;
	for (uint32_t i = 0; i < conf->n; i++) {
		struct ap_server *s = &in->servers[in->n++];
		struct gossipd_member m;
		raft_index match = 0;

		s->id = conf->servers[i].id;
		s->suffrage = conf->servers[i].role;
		if (raftd_match(c->rd, s->id, &match) == 0)
			s->match_index = match;
		if (s->id == c->ident.id) {
			s->match_index = st.last_index;
			s->health = AP_ALIVE;
			s->health_since_ms = 1;
		} else if (gossipd_member_by_id(c->gd, s->id, &m) == 0) {
			s->health = ap_health_of(m.status);
			s->health_since_ms = m.since_ms;
		}
		s->join_ms = join_time(c, s->id, now);
	}
}

void cl_autopilot(uv_timer_t *t)
{
	struct cluster *c = t->data;
	struct ap_action act;
	struct ap_input in;
	struct cl_op *op;
	uint64_t now;

	if (c->rd == NULL || c->gd == NULL || c->stopping || c->leave)
		return;
	now = cl_now(c);
	(void)gossipd_publish(c->gd, now, GOSSIPD_KEY_ROLE, cl_role_word(c));
	cl_sessions_tick(c, now);
	cl_metrics_tick(c, now);
	if (c->role != RAFT_LEADER)
		return;
	fill_input(c, &in, now);
	if (ap_decide(&c->apc, &in, &c->ap, &act) != 0 || act.op == 0)
		return;
	/* One change at a time: skip while the previous one is running. */
	for (op = c->ops; op; op = op->next)
		if (op->kind == CL_OP_CHANGE && !op->remote)
			return;
	op = cl_op_new(c, CL_OP_CHANGE, now + 10000, NULL, NULL);
	if (op == NULL)
		return;
	op->change_op = act.op;
	op->change_id = act.id;
	TRACE_I(c->log, "autopilot", "%s", act.reason);
	remember(c, act.reason);
	cl_op_drive(c, op);
}

/* ---- metrics ---- */

static int raft_metrics(struct cluster *c, struct http_reply *rep)
{
	struct raftd_metrics m;
	struct raftd_status st;
	uint64_t cum = 0;
	int rv;

	raftd_status(c->rd, &st);
	raftd_metrics(c->rd, &m);
	const struct metric_sample s[] = {
		{"clusterd_raft_term", "gauge", "Current Raft term.",
		 (double)st.term},
		{"clusterd_raft_leader", "gauge",
		 "1 if this node is the Raft leader.", st.role == RAFT_LEADER},
		{"clusterd_raft_commit_index", "gauge", "Raft commit index.",
		 (double)st.commit},
		{"clusterd_raft_applied_index", "gauge",
		 "Index applied to the state machine.", (double)st.applied},
		{"clusterd_raft_last_index", "gauge", "Last Raft log index.",
		 (double)st.last_index},
		{"clusterd_raft_elections_total", "counter",
		 "Campaigns this node started.", (double)m.elections},
		{"clusterd_raft_leader_changes_total", "counter",
		 "Times the known leader changed.", (double)m.leader_changes},
		{"clusterd_raft_proposals_total", "counter",
		 "Proposals accepted by this node.", (double)m.proposals},
		{"clusterd_raft_proposals_failed_total", "counter",
		 "Proposals that ended with an error.",
		 (double)m.proposals_failed},
		{"clusterd_raft_read_rounds_total", "counter",
		 "ReadIndex heartbeat rounds.", (double)m.read_rounds},
		{"clusterd_raft_snapshots_total", "counter",
		 "Snapshots taken.", (double)m.snapshots_taken},
		{"clusterd_raft_snapshots_installed_total", "counter",
		 "Snapshots received and installed.",
		 (double)m.snapshots_installed},
		{"clusterd_raft_messages_malformed_total", "counter",
		 "Raft messages that did not decode.",
		 (double)m.msgs_malformed},
	};
	rv = metrics_samples(rep, s, sizeof(s) / sizeof(s[0]));
	if (rv == 0)
		rv = metrics_family(rep, "clusterd_raft_append_seconds",
				    "histogram",
				    "Time from a log write to its fsync.");
	for (size_t i = 0; rv == 0 && i < RAFTD_LAT_BUCKETS; i++) {
		cum += m.append_lat[i];
		if (i + 1 < RAFTD_LAT_BUCKETS)
			rv = http_printf(rep,
					 "clusterd_raft_append_seconds_bucket"
					 "{le=\"%g\"} %" PRIu64 "\n",
					 (double)raftd_lat_bounds_ms[i] / 1000.0,
					 cum);
		else
			rv = http_printf(rep,
					 "clusterd_raft_append_seconds_bucket"
					 "{le=\"+Inf\"} %" PRIu64 "\n"
					 "clusterd_raft_append_seconds_sum %g\n"
					 "clusterd_raft_append_seconds_count %"
					 PRIu64 "\n",
					 cum, (double)m.append_lat_sum_ms / 1000.0,
					 cum);
	}
	return rv;
}

static int gossip_metrics(struct cluster *c, struct http_reply *rep)
{
	struct gossipd_metric m[GOSSIPD_METRICS_MAX];
	uint32_t n = gossipd_metrics(c->gd, m, GOSSIPD_METRICS_MAX);
	int rv = 0;

	for (uint32_t i = 0; i < n && rv == 0; i++) {
		if (i == 0 || strcmp(m[i].name, m[i - 1].name) != 0)
			rv = metrics_family(rep, m[i].name, m[i].type, m[i].help);
		if (rv == 0 && m[i].labels)
			rv = http_printf(rep, "%s{%s} %.17g\n", m[i].name,
					 m[i].labels, m[i].value);
		else if (rv == 0)
			rv = http_printf(rep, "%s %.17g\n", m[i].name, m[i].value);
	}
	return rv;
}

static int transport_metrics(struct cluster *c, struct http_reply *rep)
{
	struct tp_stats t;
	int rv;

	tp_stats(c->tp, &t);
	const struct metric_sample s[] = {
		{"clusterd_transport_bytes_received_total", "counter",
		 "Bytes received on the cluster port.", (double)t.bytes_in},
		{"clusterd_transport_bytes_sent_total", "counter",
		 "Bytes sent on the cluster port.", (double)t.bytes_out},
		{"clusterd_transport_frames_received_total", "counter",
		 "TCP frames delivered.", (double)t.frames_in},
		{"clusterd_transport_frames_sent_total", "counter",
		 "TCP frames written.", (double)t.frames_out},
		{"clusterd_transport_connections", "gauge",
		 "Open cluster connections.", (double)t.conns_open},
		{"clusterd_transport_handshakes_failed_total", "counter",
		 "Handshakes that failed.", (double)t.handshakes_failed},
		{"clusterd_transport_send_dropped_total", "counter",
		 "Frames dropped on a full queue.", (double)t.send_dropped},
		{"clusterd_forwarded_total", "counter",
		 "Requests this node forwarded to the leader.",
		 (double)c->fwd_sent},
	};
	rv = metrics_samples(rep, s, sizeof(s) / sizeof(s[0]));
	if (rv == 0)
		rv = metrics_family(rep, "clusterd_transport_rejected_total",
				    "counter",
				    "Frames and datagrams dropped, by reason.");
	for (int i = 0; rv == 0 && i < TP_REJ_COUNT_; i++)
		rv = http_printf(rep,
				 "clusterd_transport_rejected_total{kind=\"frame\","
				 "reason=\"%s\"} %" PRIu64 "\n"
				 "clusterd_transport_rejected_total{kind=\"datagram\","
				 "reason=\"%s\"} %" PRIu64 "\n",
				 tp_reason_name((enum tp_reason)i),
				 t.frames_rejected[i],
				 tp_reason_name((enum tp_reason)i),
				 t.datagrams_rejected[i]);
	return rv;
}

static int session_metrics(struct cluster *c, struct http_reply *rep)
{
	struct stor_sess_stats st;

	stor_sess_stats(c->st, &st);
	const struct metric_sample s[] = {
		{"clusterd_sessions_deduplicated_total", "counter",
		 "Retried writes this node's state machine answered from the "
		 "session record instead of applying them again.",
		 (double)st.deduplicated},
		{"clusterd_sessions_too_old_total", "counter",
		 "Writes refused as older than their session remembers.",
		 (double)st.expired},
		{"clusterd_sessions_expired_total", "counter",
		 "Idle sessions removed through the log.",
		 (double)st.sessions_expired},
		{"clusterd_writes_retried_total", "counter",
		 "Writes this node sent again after losing the leader.",
		 (double)c->writes_retried},
		{"clusterd_writes_resent_total", "counter",
		 "Forwarded writes sent again after no answer.",
		 (double)c->writes_resent},
		{"clusterd_writes_deduplicated_total", "counter",
		 "Writes of this node answered with an earlier attempt's "
		 "entry.",
		 (double)c->writes_dedup_seen},
	};
	return metrics_samples(rep, s, sizeof(s) / sizeof(s[0]));
}

int cluster_metrics(struct cluster *c, struct http_reply *rep)
{
	int rv = 0;

	if (c->st)
		rv = session_metrics(c, rep);
	if (rv == 0 && c->tp)
		rv = transport_metrics(c, rep);
	if (rv == 0 && c->rd)
		rv = raft_metrics(c, rep);
	if (rv == 0 && c->gd)
		rv = gossip_metrics(c, rep);
	if (rv == 0 && c->joined)
		rv = cl_metrics_own(c, rep);
	return rv;
}
