/*
 * gossip-sim: many gossip nodes in one process, one virtual clock, one
 * event queue ordered by (time, sequence), a simulated network with
 * latency, loss and partitions, crashed nodes and a CPU-starved node.
 * Everything is drawn from one seed, so any run replays from --seed.
 *
 * Per seed: nodes start within one second and join through node 0; once
 * every view is complete, one node sets a state key and another crashes.
 * Measured: join convergence, time until the first and until every
 * survivor declares the crashed node dead, time until every node has the
 * state change, false deaths, bytes sent per node per second.
 * Checked (any failure is a violation, exit status 1):
 *  - with no loss, no partition: no live node is ever declared dead;
 *  - no node's view of an incarnation ever goes back, nor its own;
 *  - every survivor declares the crash, and gets the state, within a bound;
 *  - at the end (after any partition healed), every view equals the truth.
 *
 * Each node is the node runtime's gossip driver (node/gossipd) around the
 * core, exactly as clusterd runs it; only its env differs: the simulated
 * network behind send, the event queue behind set_timer, and the checkers
 * behind the member and state observers.
 *
 * The slow node (--slow-ms D) models a CPU-starved process: it runs only
 * at wake-ups spaced D/2..D apart, and at each it runs its timers first
 * and reads its packets after, as a libuv loop would, so its timers can
 * fire before it reads the ack that arrived in time.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/prng.h"
#include "gossip/gossip.h"
#include "node/gossipd/gossipd.h"

enum ev_kind { EV_TIMER, EV_DELIVER, EV_START, EV_FAULT, EV_HEAL, EV_WAKE,
	       EV_DIGEST };

struct ev {
	uint64_t t, seq;
	uint8_t kind, ch;
	int32_t node;
	uint64_t aux; /* EV_TIMER: the due time it was scheduled for */
	uint8_t *data;
	uint32_t len;
};

struct heap {
	struct ev *a;
	size_t n, cap;
	uint64_t seq;
};

struct inbox_item {
	uint8_t *data;
	uint32_t len;
	uint8_t ch;
};

struct sim;

struct snode {
	struct gossipd *d;
	struct sim *s; /* the env's context is the node: these find the rest */
	uint32_t i;
	int up, started;
	uint64_t timer_due;
	int side; /* partition side */
	uint64_t last_own_inc;
	/* --metrics-ms: the metrics version it publishes, and since when */
	uint64_t mv, mv_ms;
	/* slow node */
	struct inbox_item *inbox;
	uint32_t n_inbox, cap_inbox;
};

struct opts {
	uint32_t nodes, seeds, seed0;
	double loss;
	int partition, crash;
	uint32_t slow_ms;
	uint64_t duration_ms; /* after the fault; 0: derived from N */
	uint64_t settle_ms;   /* from complete views to the fault */
	uint32_t state_keys;  /* keys each node sets at start (0..8) */
	int verbose;
	int no_lifeguard; /* for comparison: no LHM, fixed suspicion timeout */
	int trace_node;   /* -1: none; else its tracer prints at debug level */
	uint32_t bugs;    /* GOSSIPD_BUG_* planted in every node's driver */
	uint32_t metrics_ms; /* each node publishes a new metrics version
			      * ("mv", as clusterd's cluster-wide /metrics)
			      * this often; 0: never */
};

static uint64_t trace_now;

static void trace_emit(void *ctx, enum trace_level level, const char *module,
		       const char *msg)
{
	(void)ctx;
	fprintf(stderr, "t=%" PRIu64 " %s %s: %s\n", trace_now,
		trace_level_name(level), module, msg);
}

static struct tracer sim_tracer = {.emit = trace_emit, .level = TRACE_DEBUG};

struct sim {
	struct opts o;
	struct prng rng;
	struct heap h;
	struct snode *n;
	uint32_t N;
	uint64_t now;
	uint8_t *view;   /* N*N status as reported */
	uint64_t *vinc;  /* N*N incarnation as reported */
	int64_t alive_pairs;
	uint32_t up_count;
	int partitioned, partition_seen;
	int32_t crashed, state_node, slow;
	uint64_t t_fault, t_heal, t_end, t_repair_end;
	int64_t t_conv, t_heal_conv;
	int64_t detect_first, detect_all;
	uint32_t detect_count, spread_count;
	int64_t spread_all;
	uint64_t bytes_window, bytes_window_rel, window_start;
	uint32_t false_dead, violations, partition_deaths;
	uint64_t packets;
	uint32_t n_started;
	uint32_t false_suspect, slow_health_max, slow_suspected;
	uint64_t t_last_start;
	/* --metrics-ms: deliveries of a node's current version, and their
	 * delay since it was published */
	uint64_t mv_seen, mv_delay_sum, mv_delay_max;
};

/* ---- event heap ---- */

static int ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct heap *h, struct ev e)
{
	size_t i;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 1024;
		h->a = realloc(h->a, h->cap * sizeof(*h->a));
		if (h->a == NULL)
			abort();
	}
	e.seq = h->seq++;
	i = h->n++;
	while (i > 0 && ev_less(&e, &h->a[(i - 1) / 2])) {
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = e;
}

static struct ev heap_pop(struct heap *h)
{
	struct ev top = h->a[0], last = h->a[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && ev_less(&h->a[c + 1], &h->a[c]))
			c++;
		if (!ev_less(&h->a[c], &last))
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (h->n > 0)
		h->a[i] = last;
	return top;
}

/* ---- helpers ---- */

static void node_name(uint32_t i, char *buf, size_t size)
{
	snprintf(buf, size, "node-%u", i);
}

static void node_addr(uint32_t i, char *buf, size_t size)
{
	snprintf(buf, size, "n%u", i);
}

static int32_t addr_index(const struct sim *s, const char *addr)
{
	char *end;
	unsigned long v;

	if (addr[0] != 'n')
		return -1;
	v = strtoul(addr + 1, &end, 10);
	if (*end != '\0' || v >= s->N)
		return -1;
	return (int32_t)v;
}

static int32_t name_index(const struct sim *s, const char *name)
{
	char *end;
	unsigned long v;

	if (strncmp(name, "node-", 5) != 0)
		return -1;
	v = strtoul(name + 5, &end, 10);
	if (*end != '\0' || v >= s->N)
		return -1;
	return (int32_t)v;
}

static void violation(struct sim *s, const char *fmt, const char *a,
		      const char *b)
{
	s->violations++;
	if (s->violations <= 10) {
		fprintf(stderr, "VIOLATION seed=%u t=%" PRIu64 ": ", s->o.seed0,
			s->now);
		fprintf(stderr, fmt, a, b);
		fputc('\n', stderr);
	}
}

static int is_live(uint8_t st)
{
	return st == GOSSIP_ALIVE || st == GOSSIP_SUSPECT;
}

static void recount_pairs(struct sim *s)
{
	s->alive_pairs = 0;
	s->up_count = 0;
	for (uint32_t i = 0; i < s->N; i++) {
		if (!s->n[i].up)
			continue;
		s->up_count++;
		for (uint32_t j = 0; j < s->N; j++)
			if (j != i && s->n[j].up && is_live(s->view[i * s->N + j]))
				s->alive_pairs++;
	}
}

static int converged(const struct sim *s)
{
	return s->alive_pairs ==
	       (int64_t)s->up_count * (int64_t)(s->up_count - 1);
}

/* ---- reports ---- */

static void on_change(struct sim *s, uint32_t i,
		      const struct gossip_member_change *c)
{
	int32_t j = name_index(s, c->name);
	size_t k;
	uint8_t old;

	if (j < 0) {
		violation(s, "unknown member %s reported by %s", c->name, "?");
		return;
	}
	if ((uint32_t)j == i)
		return; /* own incarnation is checked after each step */
	k = i * s->N + (uint32_t)j;
	if (c->incarnation < s->vinc[k])
		violation(s, "incarnation of %s went back at %s", c->name,
			  "a node");
	old = s->view[k];
	s->vinc[k] = c->incarnation;
	s->view[k] = (uint8_t)c->status;
	if (s->n[i].up && s->n[j].up && is_live(old) != is_live((uint8_t)c->status))
		s->alive_pairs += is_live((uint8_t)c->status) ? 1 : -1;
	if (c->status == GOSSIP_SUSPECT && old != GOSSIP_SUSPECT && s->n[j].up &&
	    !s->partition_seen) {
		s->false_suspect++;
		if (j == s->slow) {
			s->slow_suspected++;
			/* It answers within the probe timeout: no reason. */
			if (s->o.slow_ms < 500 && s->o.loss == 0)
				violation(s, "%s suspected though it answers in time%s",
					  c->name, "");
		}
	}
	if (c->status == GOSSIP_DEAD && old != GOSSIP_DEAD) {
		if (j == s->crashed && !s->n[j].up) {
			if (s->detect_first < 0)
				s->detect_first = (int64_t)(s->now - s->t_fault);
			if (++s->detect_count == s->up_count)
				s->detect_all = (int64_t)(s->now - s->t_fault);
		} else if (s->n[j].up) {
			if (s->partitioned || s->partition_seen)
				s->partition_deaths++;
			else
				s->false_dead++;
			if (s->o.verbose)
				fprintf(stderr, "t=%" PRIu64 " %s declared dead at node %u\n",
					s->now, c->name, i);
		}
	}
	if (s->t_conv < 0 && s->n_started == s->N && converged(s))
		s->t_conv = (int64_t)(s->now - s->t_last_start);
	if (s->partition_seen && !s->partitioned && s->t_heal_conv < 0 &&
	    converged(s))
		s->t_heal_conv = (int64_t)(s->now - s->t_heal);
}

/* A metrics version arrived at node i: how long after its publication
 * (only the owner's current version counts; a superseded one is not
 * timed). */
static void on_metrics_version(struct sim *s, const struct gossip_state_change *c)
{
	int32_t j = name_index(s, c->name);
	char want[24];
	uint64_t d;

	if (j < 0 || s->n[j].mv == 0)
		return;
	snprintf(want, sizeof(want), "%" PRIx64, s->n[j].mv);
	if (c->len != strlen(want) || memcmp(c->value, want, c->len) != 0)
		return;
	d = s->now - s->n[j].mv_ms;
	s->mv_seen++;
	s->mv_delay_sum += d;
	if (d > s->mv_delay_max)
		s->mv_delay_max = d;
}

static void on_state(struct sim *s, uint32_t i,
		     const struct gossip_state_change *c)
{
	if (strcmp(c->key, "mv") == 0)
		on_metrics_version(s, c);
	if (s->state_node < 0 || (uint32_t)s->state_node == i ||
	    name_index(s, c->name) != s->state_node ||
	    strcmp(c->key, "role") != 0 || c->len != 6 ||
	    memcmp(c->value, "leader", 6) != 0)
		return;
	if (++s->spread_count == s->up_count - 1)
		s->spread_all = (int64_t)(s->now - s->t_fault);
}

/* ---- network ---- */

static int reachable(const struct sim *s, uint32_t a, uint32_t b)
{
	return !s->partitioned || s->n[a].side == s->n[b].side;
}

/* A stream does not lose data, but a lost segment costs a retransmit
 * timeout (Linux: 200 ms at least, doubling), which is what makes a
 * reliable ping slower, not surer, on a lossy path. */
static uint64_t reliable_delay(struct sim *s)
{
	uint64_t d = prng_range(&s->rng, 2, 6);

	for (unsigned k = 0; k < 4 && s->o.loss > 0 &&
			     prng_chance(&s->rng, s->o.loss);
	     k++)
		d += 200u << k;
	return d;
}

/* env.send of node `from`. */
static int send_packet(struct sim *s, uint32_t from, const char *addr,
		       enum gossip_channel ch, const uint8_t *buf, size_t len)
{
	int32_t to = addr_index(s, addr);
	struct ev e = {0};

	if (s->now >= s->window_start && s->window_start > 0) {
		s->bytes_window += len;
		if (ch == GOSSIP_RELIABLE)
			s->bytes_window_rel += len;
	}
	s->packets++;
	if (to < 0 || !reachable(s, from, (uint32_t)to))
		return 0;
	if (ch == GOSSIP_UNRELIABLE && s->o.loss > 0 &&
	    prng_chance(&s->rng, s->o.loss))
		return 0;
	e.kind = EV_DELIVER;
	e.node = to;
	e.ch = (uint8_t)ch;
	e.t = s->now + (ch == GOSSIP_RELIABLE ? reliable_delay(s)
					      : prng_range(&s->rng, 1, 3));
	e.data = malloc(len);
	if (e.data == NULL)
		abort();
	memcpy(e.data, buf, len);
	e.len = (uint32_t)len;
	heap_push(&s->h, e);
	return 0;
}

static void schedule_timer(struct sim *s, uint32_t i, uint64_t due)
{
	struct snode *nd = &s->n[i];

	if ((int32_t)i == s->slow)
		return; /* it runs at its wake-ups only */
	if (due < s->now)
		due = s->now;
	if (nd->timer_due != 0 && nd->timer_due <= due && nd->timer_due >= s->now)
		return; /* an earlier timer is pending; it will reschedule */
	nd->timer_due = due;
	heap_push(&s->h, (struct ev){.t = due, .kind = EV_TIMER,
				     .node = (int32_t)i, .aux = due});
}

/* The env of node i: gossipd calls these after every step, in the
 * order of gossip.h's contract (packets, changes, states, timer). */
static int env_send(void *ctx, const char *addr, enum gossip_channel ch,
		    const uint8_t *buf, size_t len)
{
	struct snode *nd = ctx;

	return send_packet(nd->s, nd->i, addr, ch, buf, len);
}

static void env_on_member(void *ctx, const struct gossip_member_change *c)
{
	struct snode *nd = ctx;

	on_change(nd->s, nd->i, c);
}

static void env_on_state(void *ctx, const struct gossip_state_change *c)
{
	struct snode *nd = ctx;

	on_state(nd->s, nd->i, c);
}

/* Comes last in every gossipd call: the per-step checks, then the timer. */
static void env_set_timer(void *ctx, uint64_t deadline_ms)
{
	struct snode *nd = ctx;
	struct sim *s = nd->s;
	const struct gossip *g = gossipd_core(nd->d);
	uint64_t inc;

	if ((int32_t)nd->i == s->slow && gossip_health(g) > s->slow_health_max)
		s->slow_health_max = gossip_health(g);
	inc = gossip_incarnation(g);
	if (inc < nd->last_own_inc)
		violation(s, "own incarnation went back at %s%s", "node", "");
	nd->last_own_inc = inc;
	schedule_timer(s, nd->i, deadline_ms);
}

static void check_rc(struct sim *s, int rc, int received)
{
	if (rc == 0)
		return;
	fprintf(stderr, "%s: %s\n", received ? "packet rejected" : "step failed",
		err_name(rc));
	s->violations++;
}

static void tick(struct sim *s, uint32_t i)
{
	trace_now = s->now;
	check_rc(s, gossipd_tick(s->n[i].d, s->now), 0);
}

static void deliver(struct sim *s, uint32_t i, uint8_t ch, const uint8_t *data,
		    uint32_t len)
{
	trace_now = s->now;
	check_rc(s, gossipd_receive(s->n[i].d, s->now, "sim",
				    (enum gossip_channel)ch, data, len),
		 1);
}

static void set_state(struct sim *s, uint32_t i, const char *key,
		      const uint8_t *value, size_t len)
{
	trace_now = s->now;
	check_rc(s, gossipd_set_state(s->n[i].d, s->now, key, value, len), 0);
}

/* ---- the slow node ---- */

static void slow_enqueue(struct snode *nd, struct ev *e)
{
	if (nd->n_inbox == nd->cap_inbox) {
		nd->cap_inbox = nd->cap_inbox ? nd->cap_inbox * 2 : 64;
		nd->inbox = realloc(nd->inbox, nd->cap_inbox * sizeof(*nd->inbox));
		if (nd->inbox == NULL)
			abort();
	}
	nd->inbox[nd->n_inbox++] =
		(struct inbox_item){.data = e->data, .len = e->len, .ch = e->ch};
	e->data = NULL;
}

static void slow_wake(struct sim *s, uint32_t i)
{
	struct snode *nd = &s->n[i];
	uint32_t n = nd->n_inbox;

	if (!nd->up)
		return;
	/* Timers first, then the socket: the order of a libuv loop. */
	tick(s, i);
	for (uint32_t k = 0; k < n && nd->up; k++) {
		struct inbox_item *it = &nd->inbox[k];

		deliver(s, i, it->ch, it->data, it->len);
		free(it->data);
	}
	if (n > 0) {
		memmove(nd->inbox, nd->inbox + n,
			(nd->n_inbox - n) * sizeof(*nd->inbox));
		nd->n_inbox -= n;
	}
	heap_push(&s->h, (struct ev){.kind = EV_WAKE, .node = (int32_t)i,
				     .t = s->now + prng_range(&s->rng,
							      s->o.slow_ms / 2,
							      s->o.slow_ms)});
}

/* ---- scenario ---- */

/* A realistic per-node map (addresses, role, version, metrics): keys of
 * 24-byte values, set once at start. */
static void set_initial_state(struct sim *s, uint32_t i)
{
	static const char *keys[] = {"addr.api", "addr.raft", "role", "version",
				     "m.cpu", "m.mem", "m.instances", "m.players"};
	uint8_t v[24];

	for (uint32_t k = 0; k < s->o.state_keys && k < 8; k++) {
		memset(v, 'a' + (int)(i % 26), sizeof(v));
		set_state(s, i, keys[k], v, sizeof(v));
	}
}

static void start_node(struct sim *s, uint32_t i)
{
	struct gossipd_config c;
	struct gossipd_env env = {.send = env_send, .set_timer = env_set_timer,
				  .on_member = env_on_member,
				  .on_state = env_on_state};
	char name[32], addr[32], seed[32];
	const char *seeds[1] = {seed};
	int rc;

	node_name(i, name, sizeof(name));
	node_addr(i, addr, sizeof(addr));
	node_addr(0, seed, sizeof(seed));
	gossipd_config_default(&c);
	c.gossip.name = name;
	c.gossip.addr = addr;
	if (s->o.no_lifeguard) {
		c.gossip.awareness_max = 1;
		c.gossip.suspicion_max_mult = 1;
	}
	c.seed = prng_next(&s->rng);
	c.bugs = s->o.bugs;
	c.tracer = (int32_t)i == s->o.trace_node ? &sim_tracer : NULL;
	s->n[i].s = s;
	s->n[i].i = i;
	env.ctx = &s->n[i];
	rc = gossipd_new(&c, &env, s->now, &s->n[i].d);
	if (rc != 0) {
		fprintf(stderr, "gossipd_new: %s\n", err_name(rc));
		exit(2);
	}
	s->n[i].up = 1;
	s->n[i].started = 1;
	s->n_started++;
	s->t_last_start = s->now;
	recount_pairs(s);
	trace_now = s->now;
	check_rc(s, gossipd_join(s->n[i].d, s->now, seeds, i == 0 ? 0 : 1), 0);
	set_initial_state(s, i);
	if (s->o.metrics_ms > 0)
		heap_push(&s->h, (struct ev){.kind = EV_DIGEST, .node = (int32_t)i,
					     .t = s->now + 1 +
						  prng_below(&s->rng, s->o.metrics_ms)});
	if ((int32_t)i == s->slow)
		heap_push(&s->h, (struct ev){.kind = EV_WAKE, .node = (int32_t)i,
					     .t = s->now + 1});
}

/* --metrics-ms: the node publishes its next metrics version, as a node
 * does after each sample (versions start at a wall-clock-like 41-bit
 * number, so the value has the real length: 11 hex digits). */
static void publish_metrics(struct sim *s, uint32_t i)
{
	char hex[24];

	if (!s->n[i].up)
		return;
	s->n[i].mv = s->n[i].mv ? s->n[i].mv + 1 : 0x1a2b3c4d5e6ull + i;
	s->n[i].mv_ms = s->now;
	snprintf(hex, sizeof(hex), "%" PRIx64, s->n[i].mv);
	trace_now = s->now;
	check_rc(s, gossipd_publish(s->n[i].d, s->now, GOSSIPD_KEY_METRICS, hex), 0);
	heap_push(&s->h, (struct ev){.kind = EV_DIGEST, .node = (int32_t)i,
				     .t = s->now + s->o.metrics_ms});
}

static uint32_t pick_other(struct sim *s, int32_t a, int32_t b)
{
	for (;;) {
		uint32_t i = (uint32_t)prng_range(&s->rng, 1, s->N - 1);

		if ((int32_t)i != a && (int32_t)i != b)
			return i;
	}
}

static void fault(struct sim *s)
{
	s->t_fault = s->now;
	s->window_start = s->now;
	s->state_node = (int32_t)pick_other(s, s->slow, -1);
	if (s->o.crash) {
		s->crashed = (int32_t)pick_other(s, s->slow, s->state_node);
		s->n[s->crashed].up = 0;
	}
	if (s->o.partition) {
		for (uint32_t i = 0; i < s->N; i++)
			s->n[i].side = (int)prng_below(&s->rng, 2);
		s->partitioned = 1;
		s->partition_seen = 1;
	}
	recount_pairs(s);
	/* The key a node publishes when its Raft role changes, through the
	 * same rate-limited path (its first version goes out at once). */
	trace_now = s->now;
	check_rc(s, gossipd_publish(s->n[s->state_node].d, s->now,
				    GOSSIPD_KEY_ROLE, "leader"),
		 0);
}

static uint64_t suspicion_min_ms(uint32_t n)
{
	return gossip_suspicion_min(4, n, 1000);
}

static int incomplete(const struct sim *s)
{
	return s->spread_all < 0 || (s->o.crash && s->detect_all < 0) ||
	       !converged(s);
}

/* Two push-pull periods as gossip.c scales them, plus slack. */
static uint64_t repair_bound(uint32_t n)
{
	uint64_t iv = 30000;

	if (n > 32)
		iv *= (uint64_t)(ceil(log2((double)n) - 5.0) + 1.0);
	return 2 * iv + 10000;
}

static void dispatch(struct sim *s, struct ev *e)
{
	struct snode *nd = e->node >= 0 ? &s->n[e->node] : NULL;

	switch (e->kind) {
	case EV_START:
		start_node(s, (uint32_t)e->node);
		break;
	case EV_FAULT:
		fault(s);
		break;
	case EV_HEAL:
		s->partitioned = 0;
		s->t_heal = s->now;
		recount_pairs(s);
		break;
	case EV_WAKE:
		slow_wake(s, (uint32_t)e->node);
		break;
	case EV_DIGEST:
		publish_metrics(s, (uint32_t)e->node);
		break;
	case EV_TIMER:
		if (!nd->up || e->aux != nd->timer_due)
			break;
		nd->timer_due = 0;
		tick(s, (uint32_t)e->node);
		break;
	case EV_DELIVER:
		if (!nd->up || !nd->started)
			break;
		if (e->node == s->slow) {
			slow_enqueue(nd, e);
			break;
		}
		deliver(s, (uint32_t)e->node, e->ch, e->data, e->len);
		break;
	}
	free(e->data);
}

/* The end state every view must reach: up nodes live, the crashed one
 * dead (or forgotten). */
static void check_final(struct sim *s)
{
	uint32_t bad = 0;
	char name[32];

	for (uint32_t i = 0; i < s->N; i++) {
		if (!s->n[i].up)
			continue;
		for (uint32_t j = 0; j < s->N; j++) {
			enum gossip_status st;
			uint64_t inc;
			int rc;

			if (i == j)
				continue;
			node_name(j, name, sizeof(name));
			rc = gossip_lookup(gossipd_core(s->n[i].d), name, &st,
					   &inc);
			/* A suspect is still a member: under loss a fresh
			 * suspicion may be open at the last instant. */
			if (s->n[j].up ? (rc != 0 || !is_live((uint8_t)st))
				       : (rc == 0 && is_live((uint8_t)st)))
				bad++;
			else if (rc == 0 && st != s->view[i * s->N + j])
				bad++; /* reports and lookups disagree */
		}
	}
	if (bad > 0) {
		char b[32];

		snprintf(b, sizeof(b), "%u", bad);
		violation(s, "views differ from the truth at the end in %s pairs%s",
			  b, "");
	}
}

struct result {
	uint64_t mv_seen, mv_delay_sum, mv_delay_max;
	int64_t t_conv, detect_first, detect_all, spread_all, heal_conv;
	double bytes_per_node_s, rel_share;
	uint32_t false_dead, partition_deaths, violations;
	uint32_t false_suspect, slow_health_max, slow_suspected;
	uint64_t packets;
};

static uint64_t run_length(const struct sim *s)
{
	uint64_t d = s->o.duration_ms;

	if (d == 0)
		d = 2 * (suspicion_min_ms(s->N) + 2000) + 2000;
	if (s->o.slow_ms > 0 && d < 30000)
		d = 30000;
	return d;
}

static void sim_init(struct sim *s, const struct opts *o, uint32_t seed)
{
	memset(s, 0, sizeof(*s));
	s->o = *o;
	s->o.seed0 = seed;
	s->N = o->nodes;
	prng_seed(&s->rng, seed);
	s->n = calloc(s->N, sizeof(*s->n));
	s->view = calloc((size_t)s->N * s->N, 1);
	s->vinc = calloc((size_t)s->N * s->N, sizeof(*s->vinc));
	if (s->n == NULL || s->view == NULL || s->vinc == NULL)
		abort();
	s->t_conv = s->t_heal_conv = s->detect_first = s->detect_all = -1;
	s->spread_all = -1;
	s->crashed = s->state_node = -1;
	s->slow = o->slow_ms > 0 ? 1 : -1;
	for (uint32_t i = 0; i < s->N; i++)
		heap_push(&s->h, (struct ev){.kind = EV_START, .node = (int32_t)i,
					     .t = i == 0 ? 0 : prng_range(&s->rng, 1, 1000)});
}

static void sim_free(struct sim *s)
{
	while (s->h.n > 0) {
		struct ev e = heap_pop(&s->h);

		free(e.data);
	}
	free(s->h.a);
	for (uint32_t i = 0; i < s->N; i++) {
		gossipd_free(s->n[i].d);
		for (uint32_t k = 0; k < s->n[i].n_inbox; k++)
			free(s->n[i].inbox[k].data);
		free(s->n[i].inbox);
	}
	free(s->n);
	free(s->view);
	free(s->vinc);
}

/* Schedules the fault (and the heal) once the views are complete, or
 * once the join has taken longer than push-pull repair allows. */
static void plan_fault(struct sim *s, uint64_t *fault_at)
{
	if (*fault_at == 0 && s->t_conv >= 0 && s->now > 1000)
		*fault_at = s->now + s->o.settle_ms;
	if (*fault_at == 0 && s->now >= repair_bound(s->N)) {
		*fault_at = s->now;
		violation(s, "join did not converge in %s%s",
			  "two push-pull periods", "");
	}
	if (*fault_at == 0 || s->t_end != 0)
		return;
	s->t_end = *fault_at + run_length(s);
	s->t_repair_end = *fault_at + repair_bound(s->N);
	heap_push(&s->h, (struct ev){.kind = EV_FAULT, .node = -1, .t = *fault_at});
	if (s->o.partition) {
		uint64_t heal = *fault_at + 2 * suspicion_min_ms(s->N) + 10000;

		heap_push(&s->h, (struct ev){.kind = EV_HEAL, .node = -1, .t = heal});
		s->t_end = heal + 120000;
		s->t_repair_end = heal + repair_bound(s->N);
	}
}

static void run_events(struct sim *s)
{
	uint64_t fault_at = 0;

	while (s->h.n > 0) {
		struct ev e = heap_pop(&s->h);

		s->now = e.t;
		plan_fault(s, &fault_at);
		/* A rare seed leaves one node without the news after every
		 * piggyback (all its packets in the burst lost or never sent):
		 * then run on until push-pull must have repaired it. */
		if (s->t_end != 0 && e.t > s->t_end &&
		    (!incomplete(s) || e.t > s->t_repair_end)) {
			free(e.data);
			break;
		}
		dispatch(s, &e);
	}
}

static void check_run(struct sim *s)
{
	if (s->o.crash && s->detect_all < 0)
		violation(s, "crash not seen by every survivor in %s%s", "time", "");
	if (s->spread_all < 0)
		violation(s, "state change did not reach every node%s%s", "", "");
	if (s->o.loss == 0 && !s->o.partition && s->false_dead > 0)
		violation(s, "live node declared dead without loss%s%s", "", "");
	if (s->o.partition && s->t_heal_conv < 0)
		violation(s, "views did not converge after the heal%s%s", "", "");
	check_final(s);
}

static void collect(const struct sim *s, struct result *r)
{
	r->mv_seen = s->mv_seen;
	r->mv_delay_sum = s->mv_delay_sum;
	r->mv_delay_max = s->mv_delay_max;
	r->t_conv = s->t_conv;
	r->detect_first = s->detect_first;
	r->detect_all = s->detect_all;
	r->spread_all = s->spread_all;
	r->heal_conv = s->t_heal_conv;
	r->false_dead = s->false_dead;
	r->partition_deaths = s->partition_deaths;
	r->violations = s->violations;
	r->packets = s->packets;
	r->false_suspect = s->false_suspect;
	r->slow_health_max = s->slow_health_max;
	r->slow_suspected = s->slow_suspected;
	r->rel_share = s->bytes_window ? (double)s->bytes_window_rel /
					       (double)s->bytes_window : 0;
	r->bytes_per_node_s = s->now > s->window_start
		? (double)s->bytes_window /
		  ((double)(s->up_count ? s->up_count : 1) *
		   (double)(s->now - s->window_start) / 1000.0)
		: 0;
}

static void run_seed(const struct opts *o, uint32_t seed, struct result *r)
{
	struct sim *s = malloc(sizeof(*s));

	if (s == NULL)
		abort();
	sim_init(s, o, seed);
	run_events(s);
	check_run(s);
	collect(s, r);
	sim_free(s);
	free(s);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile over the non-negative values (negative: not measured). */
static int64_t pct(int64_t *v, uint32_t n, double p)
{
	uint32_t m = 0;

	for (uint32_t i = 0; i < n; i++)
		if (v[i] >= 0)
			v[m++] = v[i];
	if (m == 0)
		return -1;
	qsort(v, m, sizeof(*v), cmp_i64);
	return v[(uint32_t)((double)(m - 1) * p + 0.5)];
}

static void usage(void)
{
	fprintf(stderr,
		"usage: gossip-sim [--nodes N] [--seeds S] [--seed FIRST] [--loss P]\n"
		"                  [--partition] [--no-crash] [--slow-ms D]\n"
		"                  [--duration-ms T] [--settle-ms T] [--no-lifeguard]\n"
		"                  [--state-keys K] [--trace NODE] [--verbose]\n"
		"                  [--bug drop-reliable|first-change-only]\n"
		"                  [--metrics-ms P]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.nodes = 10, .seeds = 1, .seed0 = 1, .crash = 1,
			   .settle_ms = 1000, .trace_node = -1};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--partition") == 0) {
			o->partition = 1;
		} else if (strcmp(a, "--no-crash") == 0) {
			o->crash = 0;
		} else if (strcmp(a, "--no-lifeguard") == 0) {
			o->no_lifeguard = 1;
		} else if (strcmp(a, "--verbose") == 0) {
			o->verbose = 1;
		} else if (v == NULL) {
			usage();
		} else if (strcmp(a, "--nodes") == 0) {
			o->nodes = (uint32_t)strtoul(v, NULL, 10), i++;
		} else if (strcmp(a, "--seeds") == 0) {
			o->seeds = (uint32_t)strtoul(v, NULL, 10), i++;
		} else if (strcmp(a, "--seed") == 0) {
			o->seed0 = (uint32_t)strtoul(v, NULL, 10), i++;
		} else if (strcmp(a, "--loss") == 0) {
			o->loss = strtod(v, NULL), i++;
		} else if (strcmp(a, "--slow-ms") == 0) {
			o->slow_ms = (uint32_t)strtoul(v, NULL, 10), i++;
		} else if (strcmp(a, "--state-keys") == 0) {
			o->state_keys = (uint32_t)strtoul(v, NULL, 10), i++;
		} else if (strcmp(a, "--bug") == 0) {
			if (strcmp(v, "drop-reliable") == 0)
				o->bugs |= GOSSIPD_BUG_DROP_RELIABLE;
			else if (strcmp(v, "first-change-only") == 0)
				o->bugs |= GOSSIPD_BUG_FIRST_CHANGE_ONLY;
			else
				usage();
			i++;
		} else if (strcmp(a, "--trace") == 0) {
			o->trace_node = (int)strtol(v, NULL, 10), i++;
		} else if (strcmp(a, "--settle-ms") == 0) {
			o->settle_ms = strtoull(v, NULL, 10), i++;
		} else if (strcmp(a, "--metrics-ms") == 0) {
			o->metrics_ms = (uint32_t)strtoul(v, NULL, 10), i++;
		} else if (strcmp(a, "--duration-ms") == 0) {
			o->duration_ms = strtoull(v, NULL, 10), i++;
		} else {
			usage();
		}
	}
	if (o->nodes < 4 || o->nodes > 5000 || o->seeds < 1 || o->loss < 0 ||
	    o->loss > 0.5)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o;
	struct result r;
	int64_t *conv, *first, *all, *spread, *heal;
	double bytes = 0, rel = 0;
	uint32_t false_dead = 0, violations = 0, pdeaths = 0, fsusp = 0, health = 0, ssusp = 0;
	uint64_t mv_seen = 0, mv_sum = 0, mv_max = 0;

	parse(argc, argv, &o);
	conv = calloc(o.seeds, sizeof(*conv));
	first = calloc(o.seeds, sizeof(*first));
	all = calloc(o.seeds, sizeof(*all));
	spread = calloc(o.seeds, sizeof(*spread));
	heal = calloc(o.seeds, sizeof(*heal));
	if (!conv || !first || !all || !spread || !heal)
		abort();
	for (uint32_t k = 0; k < o.seeds; k++) {
		uint32_t seed = o.seed0 + k;

		run_seed(&o, seed, &r);
		conv[k] = r.t_conv;
		first[k] = r.detect_first;
		all[k] = r.detect_all;
		spread[k] = r.spread_all;
		heal[k] = r.heal_conv;
		bytes += r.bytes_per_node_s;
		mv_seen += r.mv_seen;
		mv_sum += r.mv_delay_sum;
		if (r.mv_delay_max > mv_max)
			mv_max = r.mv_delay_max;
		rel += r.bytes_per_node_s * r.rel_share;
		false_dead += r.false_dead;
		pdeaths += r.partition_deaths;
		fsusp += r.false_suspect;
		ssusp += r.slow_suspected;
		if (r.slow_health_max > health)
			health = r.slow_health_max;
		violations += r.violations;
		if (o.verbose || r.violations > 0)
			fprintf(stderr,
				"seed=%u conv=%" PRId64 " first=%" PRId64 " all=%" PRId64
				" spread=%" PRId64 " heal=%" PRId64 " false_dead=%u"
				" bytes_per_node_s=%.1f packets=%" PRIu64
				" violations=%u\n",
				seed, r.t_conv, r.detect_first, r.detect_all,
				r.spread_all, r.heal_conv, r.false_dead,
				r.bytes_per_node_s, r.packets, r.violations);
	}
	printf("detail: join_conv_p50_ms=%" PRId64
	       " join_conv_p99_ms=%" PRId64 " detect_first_p50_ms=%" PRId64
	       " spread_all_p50_ms=%" PRId64 " heal_conv_p99_ms=%" PRId64
	       " partition_deaths=%u false_suspect=%u (of the slow node %u)"
	       " slow_health_max=%u"
	       " violations=%u loss=%.3f slow_ms=%u reliable_bytes_per_node_s=%.1f\n",
	       pct(conv, o.seeds, 0.5), pct(conv, o.seeds, 0.99),
	       pct(first, o.seeds, 0.5), pct(spread, o.seeds, 0.5),
	       pct(heal, o.seeds, 0.99), pdeaths, fsusp, ssusp, health, violations,
	       o.loss, o.slow_ms, rel / o.seeds);
	if (o.metrics_ms > 0)
		printf("metrics: every %u ms per node; versions delivered %" PRIu64
		       ", delay after publication mean_ms=%.0f max_ms=%" PRIu64 "\n",
		       o.metrics_ms, mv_seen,
		       mv_seen ? (double)mv_sum / (double)mv_seen : 0.0, mv_max);
	printf("gossip-sim: nodes=%u seeds=%u false_dead=%u detect_all_p50_ms=%" PRId64
	       " detect_all_p99_ms=%" PRId64 " spread_all_p99_ms=%" PRId64
	       " bytes_per_node_s=%.1f\n",
	       o.nodes, o.seeds, false_dead, pct(all, o.seeds, 0.5),
	       pct(all, o.seeds, 0.99), pct(spread, o.seeds, 0.99),
	       bytes / o.seeds);
	free(conv);
	free(first);
	free(all);
	free(spread);
	free(heal);
	return violations > 0 ? 1 : 0;
}
