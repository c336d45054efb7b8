/*
 * autopilot.c: the membership policy of autopilot.h.
 *
 * The design follows Consul's autopilot (server stabilisation time, dead
 * server cleanup, a voter count of 3 or 5): a joining server is a Raft
 * learner (Ongaro's thesis 4.2.1, catching up as a non-voting member)
 * until it has proven that it keeps up, and a voter is replaced only by a
 * learner already promoted, so the number of healthy voters never dips.
 * Every candidate action is checked against one safety rule before it is
 * returned: afterwards, more than half of the voters are alive.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/autopilot/autopilot.h"

void ap_config_default(struct ap_config *c)
{
	memset(c, 0, sizeof(*c));
	c->stabilization_ms = 10000;
	c->dead_threshold_ms = 30000;
	c->voters_min = 3;
	c->voters_max = 5;
	c->max_lag = 250;
}

void ap_state_init(struct ap_state *st)
{
	memset(st, 0, sizeof(*st));
}

enum ap_health ap_health_of(int gossip_status)
{
	return gossip_status >= AP_ALIVE && gossip_status <= AP_LEFT
		       ? (enum ap_health)gossip_status
		       : AP_UNKNOWN;
}

const char *ap_health_name(enum ap_health h)
{
	static const char *const names[] = {"unknown", "alive", "suspect",
					    "dead", "left"};

	return (unsigned)h <= AP_LEFT ? names[h] : "unknown";
}

/* Everything one decision looks at, derived once from the input. */
struct view {
	const struct ap_config *c;
	const struct ap_input *in;
	uint64_t ready_since[RAFT_NODES_MAX]; /* 0: not ready-eligible */
	uint32_t voters, alive_voters, healthy, target;
};

static void say(struct ap_action *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct ap_action *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
}

static int validate(const struct ap_input *in, const struct ap_state *st)
{
	if (in->n > RAFT_NODES_MAX || in->now_ms < st->last_now_ms)
		return ERR_INVAL;
	for (uint32_t i = 0; i < in->n; i++) {
		const struct ap_server *s = &in->servers[i];

		if (s->id == 0 ||
		    (s->suffrage != RAFT_VOTER && s->suffrage != RAFT_LEARNER))
			return ERR_INVAL;
		for (uint32_t j = 0; j < i; j++)
			if (in->servers[j].id == s->id)
				return ERR_INVAL;
	}
	return 0;
}

/* Self is alive by definition: it is running this code. */
static int alive(const struct ap_input *in, const struct ap_server *s)
{
	return s->id == in->self || s->health == AP_ALIVE;
}

static uint64_t lag(const struct ap_input *in, const struct ap_server *s)
{
	return s->match_index >= in->last_index ? 0
						: in->last_index - s->match_index;
}

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a > b ? a : b;

	return m > c ? m : c;
}

/* Rewrites st to the servers of this input, each with since when it has
 * been alive and caught up without a break (0: it is not now). */
static void track(const struct ap_config *c, const struct ap_input *in,
		  struct ap_state *st, struct view *v)
{
	struct ap_state next;

	memset(&next, 0, sizeof(next));
	next.last_now_ms = in->now_ms;
	for (uint32_t i = 0; i < in->n; i++) {
		const struct ap_server *s = &in->servers[i];
		uint64_t since = 0;

		for (uint32_t j = 0; j < st->n; j++)
			if (st->s[j].id == s->id)
				since = st->s[j].ok_since_ms;
		if (!alive(in, s) || lag(in, s) > c->max_lag)
			since = 0;
		else if (since == 0)
			since = in->now_ms;
		next.s[i].id = s->id;
		next.s[i].ok_since_ms = since;
		/* Never count from before the status or the membership. */
		v->ready_since[i] =
			since == 0 ? 0 : max3(since, s->health_since_ms, s->join_ms);
	}
	next.n = in->n;
	*st = next;
}

static int ready(const struct view *v, uint32_t i)
{
	const struct ap_server *s = &v->in->servers[i];

	return s->suffrage == RAFT_LEARNER && v->ready_since[i] != 0 &&
	       v->in->now_ms >= v->ready_since[i] + v->c->stabilization_ms;
}

static void count(struct view *v)
{
	const struct ap_input *in = v->in;

	for (uint32_t i = 0; i < in->n; i++) {
		const struct ap_server *s = &in->servers[i];

		if (s->suffrage == RAFT_VOTER) {
			v->voters++;
			v->alive_voters += alive(in, s) ? 1u : 0u;
			v->healthy += alive(in, s) ? 1u : 0u;
		} else if (ready(v, i)) {
			v->healthy++;
		}
	}
	v->target = v->healthy >= v->c->voters_max ? v->c->voters_max
						   : v->c->voters_min;
}

static int quorum(uint32_t voters, uint32_t alive_voters)
{
	return voters > 0 && alive_voters >= voters / 2 + 1;
}

/* The safety rule: after op on server i, more than half the voters are
 * alive. */
static int safe(const struct view *v, uint8_t op, uint32_t i)
{
	const struct ap_server *s = &v->in->servers[i];
	uint32_t voters = v->voters, up = v->alive_voters;
	uint32_t a = alive(v->in, s) ? 1u : 0u;

	if (s->id == v->in->self && op != RAFT_PROMOTE)
		return 0;
	if (op == RAFT_PROMOTE && s->suffrage == RAFT_LEARNER) {
		voters++;
		up += a;
	} else if (op != RAFT_PROMOTE && s->suffrage == RAFT_VOTER) {
		voters--;
		up -= a;
	}
	return quorum(voters, up);
}

static int act(const struct view *v, uint8_t op, uint32_t i,
	       struct ap_action *out)
{
	if (!safe(v, op, i))
		return 0;
	out->op = op;
	out->id = v->in->servers[i].id;
	return 1;
}

/* The ready learner that joined first (then the lowest id); -1: none. */
static int32_t best_learner(const struct view *v)
{
	int32_t best = -1;

	for (uint32_t i = 0; i < v->in->n; i++) {
		const struct ap_server *s = &v->in->servers[i], *b;

		if (!ready(v, i))
			continue;
		b = best < 0 ? NULL : &v->in->servers[best];
		if (b == NULL || s->join_ms < b->join_ms ||
		    (s->join_ms == b->join_ms && s->id < b->id))
			best = (int32_t)i;
	}
	return best;
}

static int past_dead(const struct view *v, const struct ap_server *s)
{
	return s->id != v->in->self && s->health == AP_DEAD &&
	       s->health_since_ms != 0 &&
	       v->in->now_ms >= s->health_since_ms + v->c->dead_threshold_ms;
}

/* Rules 2 and 3: departed and dead servers. */
static int cleanup(const struct view *v, struct ap_action *out)
{
	const struct ap_input *in = v->in;

	for (uint32_t i = 0; i < in->n; i++) {
		const struct ap_server *s = &in->servers[i];
		int32_t l;

		if (s->id != in->self && s->health == AP_LEFT &&
		    act(v, RAFT_REMOVE, i, out)) {
			say(out, "remove %016" PRIx64 ": it left the cluster (gossip)",
			    s->id);
			return 1;
		}
		if (!past_dead(v, s))
			continue;
		l = best_learner(v);
		if (s->suffrage == RAFT_VOTER && l >= 0 && v->voters <= v->target &&
		    act(v, RAFT_PROMOTE, (uint32_t)l, out)) {
			say(out, "promote %016" PRIx64 " to replace voter %016" PRIx64
				 ", dead for %" PRIu64 " ms (removed next)",
			    out->id, s->id, in->now_ms - s->health_since_ms);
			return 1;
		}
		if (act(v, RAFT_REMOVE, i, out)) {
			say(out, "remove %s %016" PRIx64 ": dead for %" PRIu64 " ms",
			    s->suffrage == RAFT_VOTER ? "voter" : "learner", s->id,
			    in->now_ms - s->health_since_ms);
			return 1;
		}
	}
	return 0;
}

/* Rule 4, and its mirror: an even surplus of voters over the target (4
 * voters, target 3) costs a larger quorum for no more tolerance, so the
 * voter that joined last steps down, but only while every voter is alive
 * (a surplus caused by a failing voter is cleanup's business).
 * Growth avoids stopping at an even count: 2 voters need both for a
 * quorum, worse than 1, so a promotion to an even count waits until a
 * second ready learner can follow at once (1 -> 2 -> 3 in two calls). */
static int resize(const struct view *v, struct ap_action *out)
{
	const struct ap_input *in = v->in;
	int32_t l = best_learner(v), last = -1;
	uint32_t ready_n = 0;

	for (uint32_t i = 0; i < in->n; i++)
		ready_n += ready(v, i) ? 1u : 0u;
	if (v->voters < v->target && l >= 0 &&
	    ((v->voters + 1) % 2 == 1 || ready_n >= 2) &&
	    act(v, RAFT_PROMOTE, (uint32_t)l, out)) {
		say(out, "promote %016" PRIx64 ": caught up and alive for %" PRIu64
			 " ms; voters %u < target %u",
		    out->id, in->now_ms - v->ready_since[l], v->voters, v->target);
		return 1;
	}
	if (v->voters <= v->target || v->alive_voters < v->voters)
		return 0;
	for (uint32_t i = 0; i < in->n; i++) {
		const struct ap_server *s = &in->servers[i];

		if (s->suffrage != RAFT_VOTER || s->id == in->self)
			continue;
		if (last < 0 || s->join_ms > in->servers[last].join_ms ||
		    (s->join_ms == in->servers[last].join_ms &&
		     s->id > in->servers[last].id))
			last = (int32_t)i;
	}
	if (last >= 0 && act(v, RAFT_DEMOTE, (uint32_t)last, out)) {
		say(out, "demote %016" PRIx64 ": voters %u > target %u (%u healthy)",
		    out->id, v->voters, v->target, v->healthy);
		return 1;
	}
	return 0;
}

int ap_decide(const struct ap_config *c, const struct ap_input *in,
	      struct ap_state *st, struct ap_action *out)
{
	struct view v;
	int rc;

	memset(out, 0, sizeof(*out));
	ASSERT(c->voters_min > 0 && c->voters_min <= c->voters_max);
	rc = validate(in, st);
	if (rc != 0) {
		say(out, "invalid input");
		return rc;
	}
	memset(&v, 0, sizeof(v));
	v.c = c;
	v.in = in;
	track(c, in, st, &v);
	if (!in->is_leader) {
		say(out, "not the leader");
		return 0;
	}
	count(&v);
	if (!quorum(v.voters, v.alive_voters)) {
		say(out, "waiting: %u of %u voters alive, no quorum", v.alive_voters,
		    v.voters);
		return 0;
	}
	if (cleanup(&v, out) || resize(&v, out)) {
		ASSERT(out->op != 0 && out->id != 0);
		return 0;
	}
	say(out, "stable: %u voters, target %u, %u healthy", v.voters, v.target,
	    v.healthy);
	return 0;
}
