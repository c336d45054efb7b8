/*
 * A model test of the item ledger (storage/ledger.h) under random
 * interleavings: exports (some delayed and applied out of order, some
 * retried as duplicates), requests, allocations with expiry, confirmations
 * with returns, duplicate confirmations, configuration changes and bad
 * input, on an in-memory store. After EVERY step it checks:
 *   - per item: exported = stock + delivered + in flight;
 *   - per item: in flight = the sum of the grants' lines;
 *   - per item: exported and delivered equal what the model (the games)
 *     handed over and had confirmed: nothing lost, nothing counted twice;
 *   - a refused command left stocks, grants and high water marks alone.
 * Every few steps the whole log so far (duplicates included) is replayed
 * on a fresh store in random batch sizes, as a new leader or a restarted
 * follower would apply it, and the state digests must match.
 *
 * Why not the Raft simulator: it drives its own small state machine
 * (tests/sim/raft/kv.h), and Raft's part (every node applies the same
 * committed prefix, once) is what it checks already. What the ledger adds
 * is determinism and idempotence over any such log, with retries and
 * duplicates in it, and that is what this test drives.
 *
 * LEDGER_SEEDS=N (default 60) and LEDGER_STEPS=N (default 400) scale it;
 * a failure prints the seed, and LEDGER_SEED=S replays that one.
 */
#include "tests/unit/storage/util.h"

#include "storage/idomain.h"
#include "storage/ledger.h"
#include "tests/lib/cmocka_all.h"

#define M_INST 3
#define M_NAMES 3
#define M_QUALS 2
#define M_ITEMS (M_NAMES * M_QUALS)
#define M_SENT 32
#define M_DELAYED 4
#define M_DONE 16

static const char *m_names[M_NAMES] = {"iron-plate", "copper-cable",
				       "processing-unit"};
static const char *m_quals[M_QUALS] = {"normal", "rare"};

struct m_export {
	struct stor_items_cmd c;
	int used;
};

struct model {
	struct stor_memdisk *md;
	struct stor *s;
	uint64_t next;
	struct stor_entry *log;
	size_t nlog, caplog;
	struct prng rng;
	uint64_t seed;
	uint64_t inst[M_INST], node[M_INST], seq[M_INST];
	struct m_export sent[M_SENT];    /* applied: for retries */
	struct m_export delayed[M_DELAYED]; /* not yet applied */
	uint64_t done[M_DONE];           /* confirmed grant ids */
	uint64_t exported[M_ITEMS], delivered[M_ITEMS];
	uint64_t wall;
	unsigned steps, refusals, grants_made, expiries;
};

static void open_store(struct stor_memdisk **md, struct stor **s)
{
	struct stor_options o;

	assert_int_equal(stor_memdisk_new(NULL, NULL, md), 0);
	util_small_options(&o, NULL);
	o.mem = *md;
	assert_int_equal(stor_open(&o, s), 0);
}

/* Appends and applies one encoded command; keeps it for replays. */
static int run_raw(struct model *m, uint8_t *data, size_t len)
{
	struct stor_entry e = {.index = m->next, .term = 1,
			       .type = STOR_ENTRY_COMMAND,
			       .data = data, .len = len};
	int result = 99;

	assert_int_equal(stor_log_append(m->s, &e, 1), 0);
	assert_int_equal(stor_apply(m->s, &e, 1, &result, 0), 0);
	if (m->nlog == m->caplog) {
		m->caplog = m->caplog ? m->caplog * 2 : 256;
		m->log = realloc(m->log, m->caplog * sizeof(*m->log));
		assert_non_null(m->log);
	}
	m->log[m->nlog++] = e;
	m->next++;
	return result;
}

static int run(struct model *m, const struct stor_items_cmd *c)
{
	uint8_t *data;
	size_t len;

	assert_int_equal(stor_items_encode(c, &data, &len), 0);
	return run_raw(m, data, len);
}

static int item_index(const struct stor_item_line *l)
{
	for (int n = 0; n < M_NAMES; n++)
		for (int q = 0; q < M_QUALS; q++)
			if (strcmp(l->name, m_names[n]) == 0 &&
			    strcmp(l->quality, m_quals[q]) == 0)
				return n * M_QUALS + q;
	fail_msg("seed %llu: unknown item %s/%s in the ledger",
		 (unsigned long long)0, l->name, l->quality);
	return -1;
}

static void rand_line(struct model *m, struct stor_item_line *l,
		      uint64_t max)
{
	int k = (int)prng_below(&m->rng, M_ITEMS);

	snprintf(l->name, sizeof(l->name), "%s", m_names[k / M_QUALS]);
	snprintf(l->quality, sizeof(l->quality), "%s", m_quals[k % M_QUALS]);
	l->count = prng_range(&m->rng, 1, max);
}

static void setup_instances(struct model *m)
{
	for (int i = 0; i < M_INST; i++) {
		struct stor_inst_cmd c = {.op = STOR_INST_CREATE};
		struct stor_entry e = {.index = m->next, .term = 1,
				       .type = STOR_ENTRY_COMMAND};
		int result = 99;

		snprintf(c.inst.name, sizeof(c.inst.name), "inst%d", i);
		snprintf(c.inst.save, sizeof(c.inst.save), "s%d", i);
		snprintf(c.inst.rcon_pw, sizeof(c.inst.rcon_pw), "pw");
		c.inst.node = (uint64_t)(i % 2) + 1;
		assert_int_equal(stor_inst_encode(&c, &e.data, &e.len), 0);
		m->inst[i] = m->next;
		m->node[i] = c.inst.node;
		result = run_raw(m, e.data, e.len);
		assert_int_equal(result, 0);
	}
}

/* The invariants, after every step. */
static void check(struct model *m)
{
	static struct stor_items_grant g[64];
	struct stor_item_stock st[M_ITEMS + 1];
	uint64_t fl[M_ITEMS] = {0}, ex[M_ITEMS] = {0}, de[M_ITEMS] = {0};
	size_t n, ng;

	assert_int_equal(stor_items_stock_list(m->s, st, M_ITEMS + 1, &n), 0);
	assert_true(n <= M_ITEMS);
	assert_int_equal(stor_items_grant_list(m->s, g, 64, &ng), 0);
	assert_true(ng < 64);
	for (size_t i = 0; i < ng; i++) {
		assert_true(g[i].n > 0);
		for (size_t j = 0; j < g[i].n; j++)
			fl[item_index(&g[i].lines[j])] += g[i].lines[j].count;
	}
	for (size_t i = 0; i < n; i++) {
		struct stor_item_line l;
		int k;

		memcpy(l.name, st[i].name, sizeof(l.name));
		memcpy(l.quality, st[i].quality, sizeof(l.quality));
		k = item_index(&l);
		if (st[i].exported !=
		    st[i].stock + st[i].delivered + st[i].in_flight)
			fail_msg("seed %llu step %u: %s/%s exported %llu != "
				 "stock %llu + delivered %llu + in flight %llu",
				 (unsigned long long)m->seed, m->steps,
				 st[i].name, st[i].quality,
				 (unsigned long long)st[i].exported,
				 (unsigned long long)st[i].stock,
				 (unsigned long long)st[i].delivered,
				 (unsigned long long)st[i].in_flight);
		if (st[i].in_flight != fl[k])
			fail_msg("seed %llu step %u: %s in flight %llu, grants "
				 "hold %llu",
				 (unsigned long long)m->seed, m->steps,
				 st[i].name, (unsigned long long)st[i].in_flight,
				 (unsigned long long)fl[k]);
		ex[k] = st[i].exported;
		de[k] = st[i].delivered;
	}
	for (int k = 0; k < M_ITEMS; k++)
		if (ex[k] != m->exported[k] || de[k] != m->delivered[k])
			fail_msg("seed %llu step %u: item %d ledger exported "
				 "%llu delivered %llu, games handed over %llu, "
				 "got %llu",
				 (unsigned long long)m->seed, m->steps, k,
				 (unsigned long long)ex[k],
				 (unsigned long long)de[k],
				 (unsigned long long)m->exported[k],
				 (unsigned long long)m->delivered[k]);
}

static void count_export(struct model *m, const struct stor_items_cmd *c)
{
	for (size_t i = 0; i < c->n; i++)
		m->exported[item_index(&c->lines[i])] += c->lines[i].count;
}

static void remember(struct model *m, const struct stor_items_cmd *c)
{
	struct m_export *e = &m->sent[prng_below(&m->rng, M_SENT)];

	e->c = *c;
	e->used = 1;
}

static void new_export(struct model *m, struct stor_items_cmd *c, int i)
{
	memset(c, 0, sizeof(*c));
	c->op = STOR_ITEMS_EXPORT;
	c->instance = m->inst[i];
	c->node = m->node[i];
	c->seq = ++m->seq[i];
	c->wall_ms = m->wall;
	c->n = (size_t)prng_range(&m->rng, 1, 3);
	for (size_t k = 0; k < c->n; k++)
		rand_line(m, &c->lines[k], 50);
}

static void step_export(struct model *m)
{
	struct stor_items_cmd c;
	int i = (int)prng_below(&m->rng, M_INST);
	struct m_export *d = &m->delayed[prng_below(&m->rng, M_DELAYED)];

	new_export(m, &c, i);
	if (!d->used && prng_chance(&m->rng, 0.2)) {
		/* Its proposal is lost for now: a later one overtakes it,
		 * and the retry comes out of order. */
		d->c = c;
		d->used = 1;
		return;
	}
	assert_int_equal(run(m, &c), 0);
	count_export(m, &c);
	remember(m, &c);
}

static void step_delayed(struct model *m)
{
	struct m_export *d = &m->delayed[prng_below(&m->rng, M_DELAYED)];

	if (!d->used)
		return;
	assert_int_equal(run(m, &d->c), 0);
	count_export(m, &d->c);
	remember(m, &d->c);
	d->used = 0;
}

static void step_retry(struct model *m)
{
	struct m_export *e = &m->sent[prng_below(&m->rng, M_SENT)];
	int rc;

	if (!e->used)
		return;
	rc = run(m, &e->c);
	if (rc != ERR_EXISTS && rc != ERR_EXPIRED)
		fail_msg("seed %llu step %u: a repeated export answered %s",
			 (unsigned long long)m->seed, m->steps, err_name(rc));
}

static void step_request(struct model *m)
{
	struct stor_items_cmd c;
	int i = (int)prng_below(&m->rng, M_INST), seen[M_ITEMS] = {0};

	memset(&c, 0, sizeof(c));
	c.op = STOR_ITEMS_REQUEST;
	c.instance = m->inst[i];
	c.node = m->node[i];
	c.wall_ms = m->wall;
	for (int k = 0; k < 3; k++) {
		struct stor_item_line l;

		rand_line(m, &l, 100);
		if (seen[item_index(&l)]++ == 0)
			c.lines[c.n++] = l;
	}
	assert_int_equal(run(m, &c), 0);
}

static void step_allocate(struct model *m)
{
	struct stor_items_cmd c = {.op = STOR_ITEMS_ALLOCATE};

	m->wall += prng_below(&m->rng, 3000);
	c.wall_ms = m->wall;
	assert_int_equal(run(m, &c), 0);
}

static void step_confirm(struct model *m)
{
	static struct stor_items_grant g[64];
	struct stor_items_cmd c;
	size_t n, pick;
	int i = 0;

	assert_int_equal(stor_items_grant_list(m->s, g, 64, &n), 0);
	if (n == 0)
		return;
	pick = (size_t)prng_below(&m->rng, n);
	memset(&c, 0, sizeof(c));
	c.op = STOR_ITEMS_CONFIRM;
	c.grant = g[pick].id;
	while (m->inst[i] != g[pick].instance)
		i++;
	c.node = m->node[i];
	for (size_t j = 0; j < g[pick].n; j++) {
		uint64_t got = g[pick].lines[j].count;

		if (prng_chance(&m->rng, 0.2)) {
			c.lines[c.n] = g[pick].lines[j];
			c.lines[c.n].count = prng_range(&m->rng, 1, got);
			got -= c.lines[c.n++].count;
		}
		m->delivered[item_index(&g[pick].lines[j])] += got;
	}
	assert_int_equal(run(m, &c), 0);
	m->done[prng_below(&m->rng, M_DONE)] = c.grant;
}

static void step_confirm_again(struct model *m)
{
	struct stor_items_cmd c = {.op = STOR_ITEMS_CONFIRM};
	uint64_t id = m->done[prng_below(&m->rng, M_DONE)];

	if (id == 0)
		return;
	c.grant = id;
	c.node = m->node[0];
	assert_int_equal(run(m, &c), ERR_NOTFOUND);
}

static void step_config(struct model *m)
{
	struct stor_items_cmd c = {.op = STOR_ITEMS_CONFIG};

	c.mode = (uint8_t)prng_below(&m->rng, 2);
	c.timeout_ms = prng_range(&m->rng, 1000, 10000);
	assert_int_equal(run(m, &c), 0);
}

/* What a refused command must not change. */
struct m_snap {
	struct stor_item_stock st[M_ITEMS];
	size_t n, ng;
	uint64_t gids[64], hw[M_INST];
};

static void snap(struct model *m, struct m_snap *s)
{
	static struct stor_items_grant g[64];

	memset(s, 0, sizeof(*s));
	assert_int_equal(stor_items_stock_list(m->s, s->st, M_ITEMS, &s->n), 0);
	assert_int_equal(stor_items_grant_list(m->s, g, 64, &s->ng), 0);
	for (size_t i = 0; i < s->ng; i++)
		s->gids[i] = g[i].id;
	for (int i = 0; i < M_INST; i++)
		assert_int_equal(stor_items_high_water(m->s, m->inst[i],
						       &s->hw[i]), 0);
}

/* One bad command of a random kind; returns its result. */
static int bad_command(struct model *m)
{
	struct stor_items_cmd c;
	int i = (int)prng_below(&m->rng, M_INST);
	/* A valid envelope whose body has an unknown op. */
	uint8_t junk[] = {0x93, 0x01, 0x07, 0x91, 0x09};

	new_export(m, &c, i);
	m->seq[i]--; /* the model's next seq stays unused */
	switch (prng_below(&m->rng, 9)) {
	case 0: snprintf(c.lines[0].name, sizeof(c.lines[0].name), "Iron Plate"); break;
	case 1: c.lines[0].count = 0; break;
	case 2: c.lines[0].count = STOR_ITEMS_COUNT_MAX + 1; break;
	case 3: c.seq = m->seq[i] + STOR_ITEMS_SEQ_AHEAD + 1 +
			prng_below(&m->rng, 1u << 20); break;
	case 4: c.node = m->node[i] + 7; break;
	case 5: c.instance = m->inst[M_INST - 1] + 100; break;
	case 6:
		c.op = STOR_ITEMS_CONFIRM;
		c.grant = 1 + prng_below(&m->rng, 1000);
		c.n = 0;
		break;
	case 7:
		c.op = STOR_ITEMS_REQUEST;
		c.lines[1] = c.lines[0];
		c.n = 2; /* the same item twice */
		break;
	default:
		return run_raw(m, memcpy(malloc(sizeof(junk)), junk,
					 sizeof(junk)), sizeof(junk));
	}
	return run(m, &c);
}

static void step_bad(struct model *m)
{
	static struct m_snap a, b;
	uint64_t r0[STOR_ITEMS_REFUSED_N], r1[STOR_ITEMS_REFUSED_N], s0 = 0,
		s1 = 0;
	int rc;

	snap(m, &a);
	assert_int_equal(stor_items_refused(m->s, r0), 0);
	rc = bad_command(m);
	if (rc == 0)
		fail_msg("seed %llu step %u: a bad command was applied",
			 (unsigned long long)m->seed, m->steps);
	snap(m, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(stor_items_refused(m->s, r1), 0);
	for (int i = 0; i < STOR_ITEMS_REFUSED_N; i++) {
		s0 += r0[i];
		s1 += r1[i];
	}
	assert_int_equal(s1, s0 + 1);
	m->refusals++;
}

/* Replays the whole log on a fresh store in random batch sizes. */
static void step_replay(struct model *m)
{
	struct stor_memdisk *md;
	struct stor *s;
	uint64_t d0, d1, c0, c1;
	int results[8];

	open_store(&md, &s);
	assert_int_equal(stor_log_append(s, m->log, m->nlog), 0);
	for (size_t i = 0; i < m->nlog;) {
		size_t n = (size_t)prng_range(&m->rng, 1, 8);

		if (n > m->nlog - i)
			n = m->nlog - i;
		assert_int_equal(stor_apply(s, m->log + i, n, results, 0), 0);
		i += n;
	}
	assert_int_equal(stor_state_digest(m->s, &d0, &c0), 0);
	assert_int_equal(stor_state_digest(s, &d1, &c1), 0);
	if (d0 != d1 || c0 != c1)
		fail_msg("seed %llu step %u: a replay of %zu entries differs "
			 "(%llu records vs %llu)",
			 (unsigned long long)m->seed, m->steps, m->nlog,
			 (unsigned long long)c0, (unsigned long long)c1);
	stor_close(s);
	stor_memdisk_free(md);
}

static void one_step(struct model *m)
{
	uint64_t r = prng_below(&m->rng, 100);

	if (r < 25)
		step_export(m);
	else if (r < 33)
		step_delayed(m);
	else if (r < 40)
		step_retry(m);
	else if (r < 55)
		step_request(m);
	else if (r < 70)
		step_allocate(m);
	else if (r < 85)
		step_confirm(m);
	else if (r < 89)
		step_confirm_again(m);
	else if (r < 91)
		step_config(m);
	else if (r < 98)
		step_bad(m);
	else
		step_replay(m);
}

static void run_seed(uint64_t seed, unsigned steps, unsigned *stats)
{
	struct model *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->seed = seed;
	prng_seed(&m->rng, seed);
	open_store(&m->md, &m->s);
	m->next = stor_applied_index(m->s) + 1;
	m->wall = 1000000;
	setup_instances(m);
	for (m->steps = 0; m->steps < steps; m->steps++) {
		one_step(m);
		check(m);
	}
	/* The games stop: every delayed export is finally applied, every
	 * grant expires, and the stock holds all that was not delivered. */
	for (int i = 0; i < M_DELAYED; i++)
		if (m->delayed[i].used) {
			assert_int_equal(run(m, &m->delayed[i].c), 0);
			count_export(m, &m->delayed[i].c);
		}
	m->wall += STOR_ITEMS_TIMEOUT_MS_MAX;
	{
		struct stor_items_cmd c = {.op = STOR_ITEMS_ALLOCATE,
					   .wall_ms = m->wall};
		assert_int_equal(run(m, &c), 0);
	}
	check(m);
	step_replay(m);
	stats[0] += m->refusals;
	for (size_t i = 0; i < m->nlog; i++)
		free(m->log[i].data);
	free(m->log);
	stor_close(m->s);
	stor_memdisk_free(m->md);
	free(m);
}

static unsigned env_u(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

static void test_model(void **state)
{
	unsigned seeds = env_u("LEDGER_SEEDS", 60),
		 steps = env_u("LEDGER_STEPS", 400), stats[1] = {0};
	const char *one = getenv("LEDGER_SEED");

	(void)state;
	if (one && *one) {
		run_seed(strtoull(one, NULL, 10), steps, stats);
		return;
	}
	for (unsigned s = 1; s <= seeds; s++)
		run_seed(s, steps, stats);
	assert_true(stats[0] > seeds); /* bad input was exercised */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
