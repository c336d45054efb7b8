/*
 * world.c: the simulated world around the nodes: the event loop, the
 * fault schedule, the clients and their history, and the end-of-run
 * checks (liveness after the heal, linearizability). See sim.h.
 */
#include "tests/sim/raft/simint.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/mp.h"

#define SIM_QUEUE_CAP	   (1u << 18)
#define SIM_KEYS_USED	   4 /* few keys: contention makes histories hard */
#define CLIENT_ATTEMPT_US  300000
#define CLIENT_DEADLINE_US 4000000
#define LIN_STATES_MAX	   500000
/* The clients' timing, which the progress oracle's model uses: a think
 * time between operations, and a hop each way between a client and a
 * node (no loss: the clients sit next to the nodes). */
#define CLIENT_THINK_MIN_US  2000
#define CLIENT_THINK_SPAN_US 80000
#define CLIENT_HOP_MIN_US    100
#define CLIENT_HOP_SPAN_US   900
/* The progress oracle (progress_check): its window opens this long after
 * the first leader after the heal, and is only judged if it is at least
 * PROGRESS_WINDOW_MIN_US long. */
#define PROGRESS_SETTLE_US     1000000
#define PROGRESS_WINDOW_MIN_US 2000000
#define PROGRESS_MARGIN	       0.9

/* The assertion hook has no context argument: the run in progress. */
static struct sim *assert_sim;
static char assert_msg[300];

void sim_trace(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->o->trace)
		return;
	fprintf(s->o->out, "%3" PRIu64 ".%06" PRIu64 " ", s->now_us / 1000000,
		s->now_us % 1000000);
	va_start(ap, fmt);
	vfprintf(s->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', s->o->out);
}

void sim_violation(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failed)
		return;
	s->failed = 1;
	s->res->violation = 1;
	va_start(ap, fmt);
	vsnprintf(s->res->what, sizeof(s->res->what), fmt, ap);
	va_end(ap);
	sim_trace(s, "VIOLATION: %s", s->res->what);
}

void sim_push(struct sim *s, uint64_t at_us, int kind, int node, uint64_t a,
	      uint64_t b, void *payload, size_t len)
{
	struct sim_event ev = {at_us, 0, kind, node, a, b, payload, len};

	ASSERT(at_us >= s->now_us);
	if (sim_queue_push(&s->q, &ev) != 0) {
		free(payload);
		sim_violation(s, "event queue full (%zu events)",
			      sim_queue_len(&s->q));
	}
}

static void raft_emit(void *ctx, enum trace_level level, const char *module,
		      const char *msg)
{
	struct sim *s = ctx;

	(void)level;
	sim_trace(s, "n%d %s: %s", s->cur_node, module, msg);
}

static void on_assert(const char *expr, const char *file, int line,
		      const char *func)
{
	snprintf(assert_msg, sizeof(assert_msg),
		 "assertion failed: %s (%s:%d %s)", expr, file, line, func);
	if (assert_sim != NULL)
		longjmp(assert_sim->assert_jmp, 1);
}

/* ---- clients ---- */

static void client_send(struct sim *s, int ci)
{
	struct client *c = &s->cl[ci];

	sim_push(s,
		 s->now_us + CLIENT_HOP_MIN_US +
		     prng_below(&s->rng, CLIENT_HOP_SPAN_US),
		 EV_CLIENT_REQ, c->target, (uint64_t)ci, c->seq, NULL, 0);
	sim_push(s, s->now_us + CLIENT_ATTEMPT_US, EV_CLIENT_TIMER, -1,
		 (uint64_t)ci, c->attempt, NULL, 0);
}

/* The last time a client starts an operation: each may take up to
 * SIM_LIVE_OP_MS, and then the cluster has at least a second of quiet
 * before the end-of-run checks (check_converged). */
static uint64_t clients_stop_us(const struct sim *s)
{
	uint64_t tail = SIM_LIVE_OP_MS * 1000ULL + 1000000;

	return s->o->duration_ms * 1000 > tail ? s->o->duration_ms * 1000 - tail
						: 0;
}

static void client_start(struct sim *s, int ci)
{
	struct client *c = &s->cl[ci];
	struct lin_op *h;
	uint64_t r = prng_below(&s->rng, 100);

	if (s->hist_n == SIM_HIST_MAX || s->now_us > clients_stop_us(s))
		return; /* the run is ending: no new operations */
	memset(&c->cmd, 0, sizeof(c->cmd));
	c->cmd.client = (uint32_t)ci;
	c->cmd.seq = ++c->seq;
	c->cmd.key = (uint32_t)prng_below(&s->rng, SIM_KEYS_USED);
	c->cmd.op = r < 40 ? KV_PUT : r < 75 ? KV_GET : KV_CAS;
	c->use_read_index = c->cmd.op == KV_GET && prng_chance(&s->rng, 0.5);
	h = &s->hist[s->hist_n];
	memset(h, 0, sizeof(*h));
	h->key = c->cmd.key;
	h->call_us = s->now_us;
	if (c->cmd.op == KV_PUT) {
		c->cmd.a = ++s->value_next;
		s->key_last[c->cmd.key] = c->cmd.a;
		h->kind = LIN_PUT;
		h->arg = c->cmd.a;
	} else if (c->cmd.op == KV_GET) {
		h->kind = LIN_GET;
	} else {
		/* Expect a value the key may hold: the last one issued for it
		 * (or 0, never written), so that many swaps succeed. */
		c->cmd.a =
		    prng_chance(&s->rng, 0.2) ? 0 : s->key_last[c->cmd.key];
		c->cmd.b = ++s->value_next;
		s->key_last[c->cmd.key] = c->cmd.b;
		h->kind = LIN_CAS;
		h->arg = c->cmd.a;
		h->arg2 = c->cmd.b;
	}
	c->hist = s->hist_n++;
	c->busy = 1;
	c->attempt = 0;
	c->deadline_us = s->now_us + (s->healed ? SIM_LIVE_OP_MS * 1000ULL
						: CLIENT_DEADLINE_US);
	s->res->ops++;
	client_send(s, ci);
}

static void client_next(struct sim *s, int ci)
{
	s->cl[ci].busy = 0;
	sim_push(s,
		 s->now_us + CLIENT_THINK_MIN_US +
		     prng_below(&s->rng, CLIENT_THINK_SPAN_US),
		 EV_CLIENT_NEXT, -1, (uint64_t)ci, 0, NULL, 0);
}

/* Where a client tries next without a hint: a cursor of its own that
 * goes round every node. (Trying the node after the one that failed
 * would let two stale nodes, each naming the other or nobody as leader,
 * hold a client forever.) */
static int client_next_node(struct sim *s, struct client *c)
{
	c->cursor = (c->cursor + 1) % s->n;
	return c->cursor;
}

/* The operation's deadline passed without a success (no answer, or only
 * errors): its outcome is unknown, and after the heal that is a liveness
 * failure. */
static void client_give_up(struct sim *s, int ci, const char *last)
{
	struct client *c = &s->cl[ci];

	s->res->ops_unknown++;
	sim_trace(s, "c%d seq=%" PRIu64 " gives up (outcome unknown, %s)", ci,
		  c->seq, last);
	if (s->healed)
		sim_violation(s,
			      "liveness: client %d op seq %" PRIu64
			      " not done %d ms after the heal (last: %s)",
			      ci, c->seq, SIM_LIVE_OP_MS, last);
	client_next(s, ci);
}

static void client_resp(struct sim *s, int ci, uint64_t seq,
			const struct resp *r)
{
	struct client *c = &s->cl[ci];
	struct lin_op *h = &s->hist[c->hist];

	if (!c->busy || c->seq != seq)
		return; /* an answer to an earlier attempt's duplicate */
	if (r->status != 0) {
		/* An error is not progress: past its deadline the operation
		 * fails as if it had never been answered. */
		if (s->now_us >= c->deadline_us) {
			client_give_up(s, ci, err_name(r->status));
			return;
		}
		c->attempt++;
		c->target = r->leader_hint >= 0 ? r->leader_hint
						: client_next_node(s, c);
		sim_push(s, s->now_us + 2000 + prng_below(&s->rng, 20000),
			 EV_CLIENT_RETRY, -1, (uint64_t)ci, c->attempt, NULL,
			 0);
		return;
	}
	h->known = 1;
	h->ret_us = s->now_us;
	h->out = r->out;
	s->res->ops_ok++;
	if (s->now_us >= s->calm_from_us && s->now_us < s->calm_to_us)
		s->res->calm_ops++;
	sim_trace(s,
		  "c%d seq=%" PRIu64 " %s k=%u a=%" PRIu64 " b=%" PRIu64
		  " -> %" PRIu64,
		  ci, seq,
		  c->cmd.op == KV_PUT	? "put"
		  : c->cmd.op == KV_GET ? "get"
					: "cas",
		  c->cmd.key, c->cmd.a, c->cmd.b, r->out);
	client_next(s, ci);
}

static void client_timer(struct sim *s, int ci, uint64_t attempt)
{
	struct client *c = &s->cl[ci];

	if (!c->busy || c->attempt != attempt)
		return;
	if (s->now_us >= c->deadline_us) {
		client_give_up(s, ci, "no answer");
		return;
	}
	c->attempt++;
	c->target = client_next_node(s, c);
	client_send(s, ci);
}

void sim_respond(struct sim *s, int ci, uint64_t seq, int status,
		 uint64_t out, int hint)
{
	struct resp *r = malloc(sizeof(*r));

	ASSERT(r != NULL);
	r->status = status;
	r->out = out;
	r->leader_hint = hint;
	sim_push(s,
		 s->now_us + CLIENT_HOP_MIN_US +
		     prng_below(&s->rng, CLIENT_HOP_SPAN_US),
		 EV_CLIENT_RESP, -1, (uint64_t)ci, seq, r, sizeof(*r));
}

/* ---- faults ---- */

static struct sim_node *find_leader(struct sim *s)
{
	struct sim_node *best = NULL;

	for (int i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->node[i];

		if (nd->up && nd->d != NULL &&
		    raft_current_role(sim_raft(nd)) == RAFT_LEADER &&
		    (best == NULL || raft_current_term(sim_raft(nd)) >
					 raft_current_term(sim_raft(best))))
			best = nd;
	}
	return best;
}

static int nodes_down(struct sim *s)
{
	int k = 0;

	for (int i = 0; i < s->n; i++)
		k += !s->node[i].up;
	return k;
}

static void fault_crash(struct sim *s)
{
	int i = (int)prng_below(&s->rng, (uint64_t)s->n);
	struct sim_node *nd = &s->node[i];

	/* Crash a leader more often: that is where the bugs hide. */
	if (prng_chance(&s->rng, 0.5) && find_leader(s) != NULL)
		nd = find_leader(s);
	if (!nd->up || nodes_down(s) >= (s->n - 1) / 2 + 1)
		return;
	sim_node_crash(s, nd);
	sim_push(s, s->now_us + 200000 + prng_below(&s->rng, 4000000),
		 EV_RESTART, nd->slot, 0, 0, NULL, 0);
}

/* A correlated failure (a rack losing power): several nodes crash at the
 * same instant, each losing what it had not synced. This is what makes a
 * driver or core that acknowledges before persisting lose committed
 * entries. */
static void fault_power(struct sim *s)
{
	int k = 2 + (int)prng_below(&s->rng, (uint64_t)s->n - 1);

	sim_trace(s, "power failure: up to %d nodes", k);
	for (int i = 0; i < s->n && k > 0; i++) {
		struct sim_node *nd = &s->node[i];

		if (!nd->up)
			continue;
		sim_node_crash(s, nd);
		k--;
		sim_push(s, s->now_us + 100000 + prng_below(&s->rng, 1500000),
			 EV_RESTART, nd->slot, 0, 0, NULL, 0);
	}
}

/* Crashes the next leader soon after it is elected: leaders that die
 * with half-replicated entries of older terms set up Figure 8 of the
 * paper (commitment of old-term entries). */
static void fault_leader_churn(struct sim *s)
{
	s->kill_next_leader = 1 + (int)prng_below(&s->rng, 3);
	sim_trace(s, "churn: the next %d leaders will crash",
		  s->kill_next_leader);
}

void sim_node_became_leader(struct sim *s, struct sim_node *nd)
{
	if (s->kill_next_leader == 0 || s->healed)
		return;
	s->kill_next_leader--;
	sim_push(s, s->now_us + prng_below(&s->rng, 60000), EV_CRASH, nd->slot,
		 nd->incarnation, 0, NULL, 0);
}

static void fault_net(struct sim *s, uint64_t kind)
{
	int a = (int)prng_below(&s->rng, (uint64_t)s->n);
	int b =
	    (int)((uint64_t)a + 1 + prng_below(&s->rng, (uint64_t)s->n - 1)) %
	    s->n;
	uint64_t dur = 300000 + prng_below(&s->rng, 5000000);

	switch (kind) {
	case 0: { /* symmetric partition into two sides */
		uint32_t side =
		    (uint32_t)prng_range(&s->rng, 1, (1u << s->n) - 2);

		sim_net_partition(&s->net, side);
		sim_trace(s, "net: partition side=0x%x", side);
		break;
	}
	case 1: /* asymmetric: a no longer hears b */
		sim_net_set_link(&s->net, b, a, 0);
		sim_trace(s, "net: cut n%d -> n%d", b, a);
		break;
	case 2: /* a cut off from some peers only, both ways */
		for (int j = 0; j < s->n; j++)
			if (j != a && prng_chance(&s->rng, 0.5)) {
				sim_net_set_link(&s->net, a, j, 0);
				sim_net_set_link(&s->net, j, a, 0);
			}
		sim_trace(s, "net: n%d partly isolated", a);
		break;
	default: /* a clogged link */
		sim_net_clog(&s->net, a, b, s->now_us + dur);
		sim_trace(s, "net: clog n%d -> n%d for %" PRIu64 " ms", a, b,
			  dur / 1000);
		break;
	}
	sim_push(s, s->now_us + dur, EV_UNFAULT, -1, 0, 0, NULL, 0);
}

static void fault_weather(struct sim *s)
{
	struct sim_net_params *p = &s->net.p;

	p->p_loss = prng_chance(&s->rng, 0.5) ? prng_double(&s->rng) * 0.2 : 0;
	p->p_dup = prng_double(&s->rng) * 0.1;
	p->p_reorder = prng_double(&s->rng) * 0.2;
	p->p_tail = prng_double(&s->rng) * 0.05;
	sim_trace(s, "net: loss=%.3f dup=%.3f reorder=%.3f tail=%.3f",
		  p->p_loss, p->p_dup, p->p_reorder, p->p_tail);
	if (prng_chance(&s->rng, 0.4)) {
		int a = (int)prng_below(&s->rng, (uint64_t)s->n);
		int b = (a + 1 + (int)prng_below(&s->rng, (uint64_t)s->n - 1)) %
			s->n;
		uint32_t extra = (uint32_t)prng_range(&s->rng, 5000, 80000);

		sim_net_slow(&s->net, a, b, extra);
		sim_trace(s, "net: link n%d <-> n%d slow by %u ms", a, b,
			  extra / 1000);
	}
}

static void fault_transfer(struct sim *s)
{
	struct sim_node *l = find_leader(s);
	raft_id to;
	int rv;

	if (l == NULL)
		return;
	to = prng_below(&s->rng, (uint64_t)s->n + 1);
	rv = sim_node_transfer(s, l, to);
	s->res->transfers += rv == 0;
	sim_trace(s, "n%d transfer leadership to %" PRIu64 ": %s", l->slot,
		  to, rv ? err_name(rv) : "started");
}

/* Picks one single-server change that keeps a quorum reachable. */
static int pick_change(struct sim *s, const struct raft_configuration *c,
		       uint8_t *op, raft_id *id)
{
	uint32_t voters = raft_conf_voters(c);
	uint32_t min_voters = s->n >= 4 ? 3 : 2;
	raft_id cand = (raft_id)prng_range(&s->rng, 1, (uint64_t)s->n);
	const struct raft_server *sv = raft_conf_get(c, cand);

	*id = cand;
	if (sv == NULL) {
		*op = RAFT_ADD_LEARNER;
		return 0;
	}
	if (sv->role == RAFT_LEARNER) {
		*op = prng_chance(&s->rng, 0.8) ? RAFT_PROMOTE : RAFT_REMOVE;
		return 0;
	}
	if (voters <= min_voters)
		return -1;
	*op = prng_chance(&s->rng, 0.5) ? RAFT_DEMOTE : RAFT_REMOVE;
	return 0;
}

static void fault_membership(struct sim *s)
{
	struct sim_node *l = find_leader(s);
	uint8_t op;
	raft_id id;
	int rv;

	if (l == NULL)
		return;
	if (pick_change(s, raft_configuration(sim_raft(l)), &op, &id) != 0)
		return;
	rv = sim_node_change(s, l, op, id);
	s->res->conf_changes += rv == 0;
	sim_trace(s, "n%d config change op=%u id=%" PRIu64 ": %s", l->slot,
		  op, id, rv ? err_name(rv) : "proposed");
}

/* A failed write (an I/O error or a full disk) on one node's store
 * (--disk stor only): the store stops, and so must the node, without
 * acknowledging what it could not write. */
static void fault_disk(struct sim *s)
{
	struct sim_node *nd = &s->node[prng_below(&s->rng, (uint64_t)s->n)];
	int code = prng_chance(&s->rng, 0.5) ? ERR_IO : ERR_NOSPACE;

	if (!nd->up)
		return;
	sdisk_inject(nd, code);
	sim_trace(s, "n%d: its next disk write fails with %s", nd->slot,
		  err_name(code));
}

static void fault(struct sim *s)
{
	uint64_t r = prng_below(&s->rng, 100);

	if (s->healed)
		return; /* the fault phase is over */
	if (prng_chance(&s->rng, 0.04))
		fault_disk(s);
	else if (r < 14)
		fault_crash(s);
	else if (r < 19)
		fault_power(s);
	else if (r < 24)
		fault_leader_churn(s);
	else if (r < 48)
		fault_net(s, prng_below(&s->rng, 4));
	else if (r < 58)
		fault_weather(s);
	else if (r < 70)
		fault_transfer(s);
	else if (r < 85)
		fault_membership(s);
	else {
		sim_net_heal(&s->net);
		sim_trace(s, "net: heal");
	}
	if (s->now_us < s->heal_us)
		sim_push(s, s->now_us + 100000 + prng_below(&s->rng, 1000000),
			 EV_FAULT, -1, 0, 0, NULL, 0);
}

static void heal(struct sim *s)
{
	struct sim_net_params *p = &s->net.p;

	s->healed = 1;
	sim_net_heal(&s->net);
	for (int i = 0; i < s->n; i++)
		sdisk_inject(&s->node[i], 0);
	p->p_loss = p->p_dup = p->p_reorder = p->p_tail = 0.01;
	for (int i = 0; i < s->n; i++)
		if (!s->node[i].up && sim_node_restart(s, &s->node[i]) != 0)
			return;
	for (int i = 0; i < SIM_CLIENTS; i++) {
		uint64_t d = s->now_us + SIM_LIVE_OP_MS * 1000ULL;

		if (s->cl[i].busy && s->cl[i].deadline_us < d)
			s->cl[i].deadline_us = d;
	}
	sim_trace(s, "heal: all nodes up, network whole");
	sim_push(s, s->now_us + SIM_LIVE_LEADER_MS * 1000ULL, EV_LIVE_CHECK, -1,
		 0, 0, NULL, 0);
}

static void live_check(struct sim *s)
{
	if (s->leader_seen_us == 0)
		sim_violation(s, "liveness: no leader %d ms after the heal",
			      SIM_LIVE_LEADER_MS);
}

/* ---- the event loop ---- */

static void deliver(struct sim *s, const struct sim_event *ev)
{
	struct sim_node *nd = &s->node[ev->node];

	if (!sim_net_arrive(&s->net, (int)ev->a, ev->node) || !nd->up)
		return;
	sim_node_deliver(s, nd, (int)ev->a, ev->payload, ev->len);
}

static void on_tick(struct sim *s, struct sim_node *nd, uint64_t inc)
{
	if (!nd->up || inc != nd->incarnation || nd->tick_at_us != s->now_us)
		return;
	nd->tick_at_us = UINT64_MAX;
	sim_node_tick(s, nd);
}

static void on_snapshot_timer(struct sim *s, struct sim_node *nd)
{
	if (nd->up && nd->applied >= nd->snap_index + 20)
		sim_node_snapshot(s, nd);
	if (s->now_us < s->heal_us)
		sim_push(s, s->now_us + 300000 + prng_below(&s->rng, 2000000),
			 EV_SNAPSHOT, nd->slot, 0, 0, NULL, 0);
}

static void dispatch(struct sim *s, struct sim_event *ev)
{
	struct sim_node *nd = ev->node >= 0 ? &s->node[ev->node] : NULL;

	switch (ev->kind) {
	case EV_TICK:
		on_tick(s, nd, ev->a);
		break;
	case EV_DELIVER:
		deliver(s, ev);
		break;
	case EV_FSYNC_DONE:
		sim_node_fsync_done(s, nd, (uint32_t)ev->b);
		break;
	case EV_CLIENT_REQ:
		sim_node_request(s, nd, (int)ev->a, ev->b);
		break;
	case EV_CLIENT_RESP:
		client_resp(s, (int)ev->a, ev->b, ev->payload);
		break;
	case EV_CLIENT_TIMER:
		client_timer(s, (int)ev->a, ev->b);
		break;
	case EV_CLIENT_RETRY:
		if (s->cl[ev->a].busy && s->cl[ev->a].attempt == ev->b)
			client_send(s, (int)ev->a);
		break;
	case EV_CLIENT_NEXT:
		client_start(s, (int)ev->a);
		break;
	case EV_FAULT:
		fault(s);
		break;
	case EV_RESTART:
		if (!nd->up && (!s->healed || ev->b))
			sim_node_restart(s, nd);
		break;
	case EV_CRASH:
		/* b = 1: a node stopping on its failed disk (sdisk.c), which
		 * must come back even if the heal came first. */
		if (nd->up && nd->incarnation == ev->a &&
		    (!s->healed || ev->b)) {
			sim_node_crash(s, nd);
			sim_push(s,
				 s->now_us + 100000 +
				     prng_below(&s->rng, 1500000),
				 EV_RESTART, nd->slot, 0, ev->b, NULL, 0);
		}
		break;
	case EV_UNFAULT:
		if (!s->healed)
			sim_net_heal(&s->net);
		break;
	case EV_HEAL:
		heal(s);
		break;
	case EV_LIVE_CHECK:
		live_check(s);
		break;
	case EV_SNAPSHOT:
		on_snapshot_timer(s, nd);
		break;
	default:
		UNREACHABLE();
	}
	free(ev->payload);
	ev->payload = NULL;
}

static void run_loop(struct sim *s)
{
	struct sim_event ev;
	uint64_t end_us = s->o->duration_ms * 1000;

	while (!s->failed && sim_queue_pop(&s->q, &ev) == 0) {
		if (ev.time_us > end_us) {
			/* Nothing else happens before the end: the clock runs
			 * out the full duration. */
			free(ev.payload);
			s->now_us = end_us;
			break;
		}
		s->now_us = ev.time_us;
		dispatch(s, &ev);
		if (s->healed && s->leader_seen_us == 0 && find_leader(s)) {
			s->leader_seen_us = s->now_us;
			s->calm_from_us = s->now_us + PROGRESS_SETTLE_US;
		}
	}
}

/* ---- a run ---- */

static const struct sim_net_params net_params = {
    .lat_min_us = 200, /* loopback-to-LAN round trips */
    .lat_jitter_us = 2000,
    .lat_tail_us = 50000,
    .p_tail = 0.01,
    .p_loss = 0.01,
    .p_dup = 0.01,
    .p_reorder = 0.05,
};

/* Varies the core's tunables per seed, so that many code paths run:
 * one-at-a-time and pipelined replication, single- and multi-chunk
 * snapshots, back-pressure, with and without PreVote and CheckQuorum. */
static void tune_raft(struct sim *s)
{
	static const uint32_t msg_bytes[] = {256, 512, 1024, 4096};
	static const uint64_t uncommitted[] = {4096, 16384, 65536};

	s->tune.msg_bytes_max = msg_bytes[prng_below(&s->rng, 4)];
	s->tune.inflight_max = 1 + (uint32_t)prng_below(&s->rng, 16);
	s->tune.uncommitted_bytes_max = uncommitted[prng_below(&s->rng, 3)];
	s->tune.prevote = (uint8_t)prng_chance(&s->rng, 0.85);
	s->tune.check_quorum = (uint8_t)prng_chance(&s->rng, 0.85);
	sim_trace(
	    s,
	    "raft: msg_bytes_max=%u inflight_max=%u uncommitted_max=%" PRIu64
	    " prevote=%u check_quorum=%u",
	    s->tune.msg_bytes_max, s->tune.inflight_max,
	    s->tune.uncommitted_bytes_max, s->tune.prevote,
	    s->tune.check_quorum);
}

static int world_init(struct sim *s)
{
	struct raft_configuration conf;
	int voters, rv;

	s->n = 3 + (int)prng_below(&s->rng, SIM_SLOTS_MAX - 2);
	voters = s->n == 5 && prng_chance(&s->rng, 0.5) ? 5 : 3;
	memset(&conf, 0, sizeof(conf));
	for (int i = 0; i < voters; i++)
		conf.servers[conf.n++] =
		    (struct raft_server){(raft_id)i + 1, RAFT_VOTER};
	sim_net_init(&s->net, s->n, &net_params, &s->rng);
	if (s->o->calm)
		s->net.p.p_loss = s->net.p.p_dup = 0;
	rv = sim_queue_init(&s->q, SIM_QUEUE_CAP);
	rv = rv ? rv : sim_check_init(&s->chk);
	s->hist = calloc(SIM_HIST_MAX, sizeof(*s->hist));
	if (rv != 0 || s->hist == NULL)
		return ERR_NOMEM;
	s->raft_tracer.emit = raft_emit;
	s->raft_tracer.ctx = s;
	s->raft_tracer.level = s->o->raft_trace ? TRACE_DEBUG : TRACE_OFF;
	sim_trace(s, "seed=%" PRIu64 " nodes=%d voters=%d bugs=0x%x%s",
		  s->o->seed, s->n, voters, s->o->bugs,
		  s->o->bug_early_durable ? " early-durable" : "");
	tune_raft(s);
	for (int i = 0; i < s->n; i++) {
		rv = sim_node_init(s, &s->node[i], i, i < voters, &conf);
		if (rv != 0)
			return rv;
		sim_trace(s, "n%d drift=%+" PRId64 "ppm", i,
			  s->node[i].drift_ppm);
	}
	return 0;
}

static void world_start(struct sim *s)
{
	for (int i = 0; i < s->n && !s->failed; i++) {
		sim_node_tick(s, &s->node[i]);
		sim_push(s, 500000 + prng_below(&s->rng, 1000000), EV_SNAPSHOT,
			 i, 0, 0, NULL, 0);
	}
	for (int i = 0; i < SIM_CLIENTS; i++)
		sim_push(s, 100000 + prng_below(&s->rng, 100000),
			 EV_CLIENT_NEXT, -1, (uint64_t)i, 0, NULL, 0);
	if (!s->o->calm)
		sim_push(s, 1000000, EV_FAULT, -1, 0, 0, NULL, 0);
	sim_push(s, s->heal_us, EV_HEAL, -1, 0, 0, NULL, 0);
}

static void world_free(struct sim *s, int raft_ok)
{
	struct sim_event ev;

	while (sim_queue_pop(&s->q, &ev) == 0)
		free(ev.payload);
	sim_queue_free(&s->q);
	for (int i = 0; i < s->n; i++) {
		if (!raft_ok)
			s->node[i].d = NULL; /* state unknown: leak it */
		sim_node_free(s, &s->node[i]);
	}
	sim_check_free(&s->chk);
	free(s->hist);
}

/* With the store: the replicated state (every key of every domain,
 * digested by storage itself) is the leader's. */
static int store_same(struct sim *s, struct sim_node *nd, struct sim_node *l)
{
	uint64_t a = 0, b = 0;
	int rv = sdisk_digest(nd, &a);

	rv = rv ? rv : sdisk_digest(l, &b);
	if (rv != 0) {
		sim_violation(s, "convergence: state digest: %s", err_name(rv));
		return 0;
	}
	if (a == b)
		return 1;
	sim_violation(s,
		      "convergence: n%d's store (applied %" PRIu64
		      ", digest %016" PRIx64 ") differs from leader n%d's "
		      "(applied %" PRIu64 ", digest %016" PRIx64 ")",
		      nd->slot, nd->applied, a, l->slot, l->applied, b);
	return 0;
}

/* The progress oracle's floor, in operations per simulated second, from
 * the model of the calm phase (README.md, "The progress oracle"): each
 * client's cycle is its mean think time, two hops, and an operation's
 * service time bounded by the slowest round to a follower (a message
 * each way at the network's longest untailed latency and the longest
 * fsync, which stalls no more after the heal: sdisk.c), twice over when
 * the window of appends in flight is one (an entry proposed while an
 * append is out waits for its answer). */
static double progress_floor(const struct sim *s)
{
	const struct sim_net_params *np = &s->net.p;
	double think = CLIENT_THINK_MIN_US + (CLIENT_THINK_SPAN_US - 1) / 2.0;
	double hops = 2 * (CLIENT_HOP_MIN_US + (CLIENT_HOP_SPAN_US - 1) / 2.0);
	double fsync = SIM_FSYNC_MIN_US + SIM_FSYNC_JITTER_US;
	double round = 2.0 * (np->lat_min_us + np->lat_jitter_us) + fsync;
	double service = (s->tune.inflight_max == 1 ? 2 : 1) * round;

	return PROGRESS_MARGIN * SIM_CLIENTS * 1e6 / (think + hops + service);
}

/* In the calm window after the heal (from PROGRESS_SETTLE_US after the
 * first leader to the last operation's start), the operations that
 * succeeded per simulated second must reach the model's floor: a
 * cluster that answers but slows down (a lost message waited out, a
 * pipeline that stalls) fails here although every operation completes. */
static void progress_check(struct sim *s)
{
	uint64_t len;

	if (!s->healed || s->calm_from_us >= s->calm_to_us ||
	    s->calm_to_us - s->calm_from_us < PROGRESS_WINDOW_MIN_US)
		return;
	len = s->calm_to_us - s->calm_from_us;
	s->res->calm_ms = len / 1000;
	s->res->calm_rate = (double)s->res->calm_ops * 1e6 / (double)len;
	s->res->calm_floor = progress_floor(s);
	sim_trace(s, "progress: %" PRIu64 " ops in %.2f s after the heal: "
		  "%.1f/s, floor %.1f/s", s->res->calm_ops, (double)len / 1e6,
		  s->res->calm_rate, s->res->calm_floor);
	if (s->res->calm_rate < s->res->calm_floor)
		sim_violation(s,
			      "progress: %.1f operations/s in the %.2f s after "
			      "the heal, below the model's floor of %.1f/s",
			      s->res->calm_rate, (double)len / 1e6,
			      s->res->calm_floor);
}

/* At the end, long after the heal and the last client operation, every
 * member must have applied the leader's last index (so every entry the
 * leader holds is committed and has reached everyone, by log or by
 * snapshot) and hold the same state. */
static void check_converged(struct sim *s)
{
	struct sim_node *l = find_leader(s);
	const struct raft_configuration *c;
	raft_index last;

	if (l == NULL) {
		sim_violation(s, "liveness: no leader at the end of the run");
		return;
	}
	c = raft_configuration(sim_raft(l));
	last = raft_last_index(sim_raft(l));
	for (uint32_t i = 0; i < c->n; i++) {
		int slot = (int)c->servers[i].id - 1;
		struct sim_node *nd;

		if (slot < 0 || slot >= s->n)
			continue;
		nd = &s->node[slot];
		if (!store_same(s, nd, l))
			return;
		if (nd->applied != last ||
		    kv_digest(&nd->kv) != kv_digest(&l->kv)) {
			sim_violation(s,
				      "convergence: n%d applied %" PRIu64
				      " (digest %016" PRIx64 "), leader n%d "
				      "holds up to %" PRIu64 " (digest %016" PRIx64
				      ")",
				      slot, nd->applied, kv_digest(&nd->kv),
				      l->slot, last, kv_digest(&l->kv));
			return;
		}
	}
	sim_trace(
	    s, "converged: %u members at index %" PRIu64 ", digest %016" PRIx64,
	    c->n, last, kv_digest(&l->kv));
}

static void check_history(struct sim *s)
{
	struct lin_report rep;

	if (lin_check(s->hist, s->hist_n, LIN_STATES_MAX, &rep) != 0) {
		s->res->lin = LIN_UNKNOWN;
		return;
	}
	s->res->lin = rep.verdict;
	s->res->lin_states = rep.states;
	sim_trace(s,
		  "history: %zu ops, %zu checked over %zu keys, %" PRIu64
		  " states: %s",
		  s->hist_n, rep.ops_checked, rep.keys, rep.states,
		  rep.verdict == LIN_OK		 ? "linearizable"
		  : rep.verdict == LIN_VIOLATION ? "NOT linearizable"
						 : "unknown (state bound)");
	if (rep.verdict == LIN_VIOLATION)
		sim_violation(s,
			      "linearizability: the history of key %u has "
			      "no valid order",
			      rep.bad_key);
}

int sim_run(const struct sim_opts *opts, struct sim_result *res)
{
	struct sim *s = calloc(1, sizeof(*s));
	int rv;

	memset(res, 0, sizeof(*res));
	if (s == NULL)
		return ERR_NOMEM;
	s->o = opts;
	s->res = res;
	s->heal_us = opts->heal_ms * 1000;
	s->calm_from_us = UINT64_MAX; /* set once a leader is seen */
	s->calm_to_us = clients_stop_us(s);
	prng_seed(&s->rng, opts->seed);
	assert_sim = s;
	base_assert_set_hook(on_assert);
	if (setjmp(s->assert_jmp) != 0) {
		s->failed = 0;
		sim_violation(s, "%s", assert_msg);
		s->n = 0; /* raft states are half-updated: do not touch */
		goto out_free;
	}
	rv = world_init(s);
	if (rv != 0) {
		world_free(s, 1);
		free(s);
		return rv;
	}
	world_start(s);
	run_loop(s);
	if (!s->failed)
		progress_check(s);
	if (!s->failed)
		check_converged(s);
	if (!s->failed)
		check_history(s);
out_free:
	base_assert_set_hook(NULL);
	assert_sim = NULL;
	res->sim_ms = s->now_us / 1000;
	res->committed = sim_check_commit_max(&s->chk);
	world_free(s, 1);
	free(s);
	return 0;
}
