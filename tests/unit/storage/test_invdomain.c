/* Unit and model tests of the inventory domain (invdomain): the lock's
 * generation rules, uploads fenced by holder and generation, expiry,
 * admin release and import, compression, and that a refused command
 * changes nothing. The model test drives random interleavings of four
 * instances (with autosaves and restarts from them, so stale generations
 * come back) against a reference model written from invdomain.h's rules,
 * and checks after every step that the store agrees with it and that a
 * stored inventory is never replaced by an upload of an older generation.
 * Seed from the first argument or CLUSTERD_SEED (default fixed); a
 * failure prints the seed and step. Each test runs on the simulated disk
 * and on RocksDB. */
#include "tests/unit/storage/fixture.h"

#include "base/prng.h"
#include "storage/invdomain.h"

static uint64_t g_seed = 1;

static int run_raw(struct fx *f, uint8_t *data, size_t len)
{
	struct stor_entry e = {.index = f->next, .term = 1,
			       .type = STOR_ENTRY_COMMAND, .data = data,
			       .len = len};
	int result = 99;

	assert_int_equal(stor_log_append(f->s, &e, 1), 0);
	assert_int_equal(stor_apply(f->s, &e, 1, &result, 0), 0);
	f->next++;
	return result;
}

static int run(struct fx *f, const struct stor_invd_cmd *c)
{
	uint8_t *data;
	size_t len;
	int rc;

	assert_int_equal(stor_invd_encode(c, &data, &len), 0);
	rc = run_raw(f, data, len);
	free(data);
	return rc;
}

static int acquire(struct fx *f, const char *p, uint64_t inst)
{
	struct stor_invd_cmd c = {.op = STOR_INVD_ACQUIRE, .instance = inst,
				  .node = inst * 10};

	snprintf(c.player, sizeof(c.player), "%s", p);
	return run(f, &c);
}

static int upload(struct fx *f, const char *p, uint64_t inst, uint64_t gen,
		  int release, const char *json)
{
	struct stor_invd_cmd c = {.op = STOR_INVD_UPLOAD, .instance = inst,
				  .gen = gen, .release = (uint8_t)release,
				  .json = json, .json_len = strlen(json)};

	snprintf(c.player, sizeof(c.player), "%s", p);
	return run(f, &c);
}

static int lock_op(struct fx *f, int op, const char *p, uint64_t inst,
		   uint64_t gen)
{
	struct stor_invd_cmd c = {.op = op, .instance = inst, .gen = gen,
				  .why = STOR_INVD_WHY_NODE_DEAD};

	snprintf(c.player, sizeof(c.player), "%s", p);
	snprintf(c.admin, sizeof(c.admin), "root");
	return run(f, &c);
}

static uint64_t gen_of(struct fx *f, const char *p)
{
	struct stor_invd_lock l;

	assert_int_equal(stor_invd_lock_get(f->s, p, &l), 0);
	return l.gen;
}

/* The stored JSON of p must be want (NULL: none stored). */
static void expect_json(struct fx *f, const char *p, const char *want)
{
	char *json = NULL;
	size_t len = 0;
	int rc = stor_invd_data(f->s, p, NULL, &json, &len);

	if (want == NULL) {
		assert_int_equal(rc, ERR_NOTFOUND);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(json, want);
	free(json);
}

static void test_lock_and_upload(void **state)
{
	struct fx *f = *state;
	struct stor_invd_lock l;

	assert_int_equal(stor_invd_lock_get(f->s, "alice", &l), ERR_NOTFOUND);
	assert_int_equal(acquire(f, "alice", 7), 0);
	assert_int_equal(gen_of(f, "alice"), 1);
	/* A retried acquire by the holder changes nothing. */
	assert_int_equal(acquire(f, "alice", 7), 0);
	assert_int_equal(gen_of(f, "alice"), 1);
	assert_int_equal(acquire(f, "alice", 8), ERR_BUSY);
	assert_int_equal(upload(f, "alice", 8, 1, 0, "{\"x\":1}"),
			 ERR_CONFLICT);
	assert_int_equal(upload(f, "alice", 7, 2, 0, "{\"x\":1}"),
			 ERR_CONFLICT);
	expect_json(f, "alice", NULL);
	assert_int_equal(upload(f, "alice", 7, 1, 1, "{\"main\":[]}"), 0);
	expect_json(f, "alice", "{\"main\":[]}");
	assert_int_equal(stor_invd_lock_get(f->s, "alice", &l), 0);
	assert_int_equal(l.state, STOR_INVD_FREE);
	assert_int_equal(l.why, STOR_INVD_WHY_RELEASED);
	/* The same upload again (a retried proposal): 0, nothing written;
	 * other bytes under that generation: refused. */
	assert_int_equal(upload(f, "alice", 7, 1, 1, "{\"main\":[]}"), 0);
	assert_int_equal(upload(f, "alice", 7, 1, 1, "{\"other\":1}"),
			 ERR_CONFLICT);
	expect_json(f, "alice", "{\"main\":[]}");
	assert_int_equal(lock_op(f, STOR_INVD_RELEASE, "alice", 7, 1), 0);
	/* B gets it at gen 2; A's stale release and upload are refused. */
	assert_int_equal(acquire(f, "alice", 8), 0);
	assert_int_equal(gen_of(f, "alice"), 2);
	assert_int_equal(lock_op(f, STOR_INVD_RELEASE, "alice", 7, 1),
			 ERR_CONFLICT);
	assert_int_equal(upload(f, "alice", 7, 2, 0, "{\"a\":1}"),
			 ERR_CONFLICT);
	assert_int_equal(lock_op(f, STOR_INVD_EXPIRE, "alice", 0, 1),
			 ERR_CONFLICT);
	assert_int_equal(stor_invd_lock_get(f->s, "alice", &l), 0);
	assert_int_equal(l.instance, 8);
	assert_int_equal(l.node, 80);
	assert_int_equal(lock_op(f, STOR_INVD_EXPIRE, "alice", 0, 2), 0);
	assert_int_equal(stor_invd_lock_get(f->s, "alice", &l), 0);
	assert_int_equal(l.state, STOR_INVD_FREE);
	assert_int_equal(l.why, STOR_INVD_WHY_NODE_DEAD);
	assert_int_equal(lock_op(f, STOR_INVD_ADMIN_RELEASE, "alice", 0, 0),
			 ERR_CONFLICT);
	assert_int_equal(acquire(f, "alice", 9), 0);
	assert_int_equal(lock_op(f, STOR_INVD_ADMIN_RELEASE, "alice", 0, 0), 0);
	assert_int_equal(stor_invd_lock_get(f->s, "alice", &l), 0);
	assert_string_equal(l.by, "root");
	assert_int_equal(l.why, STOR_INVD_WHY_ADMIN);
	assert_int_equal(lock_op(f, STOR_INVD_RELEASE, "nobody", 1, 1),
			 ERR_NOTFOUND);
	expect_json(f, "alice", "{\"main\":[]}");
}

static void test_import_and_compression(void **state)
{
	struct fx *f = *state;
	struct stor_invd_cmd c = {.op = STOR_INVD_IMPORT};
	struct stor_invd_meta m;
	size_t big = 200000;
	char *json = malloc(big + 1);
	uint64_t players;

	memset(json, 'a', big);
	json[0] = '"';
	json[big - 1] = '"';
	json[big] = '\0';
	snprintf(c.player, sizeof(c.player), "bob");
	snprintf(c.admin, sizeof(c.admin), "root");
	c.json = json;
	c.json_len = big;
	assert_int_equal(run(f, &c), 0);
	assert_int_equal(gen_of(f, "bob"), 1);
	assert_int_equal(stor_invd_meta_get(f->s, "bob", &m), 0);
	assert_int_equal(m.codec, STOR_INVD_ZLIB);
	assert_int_equal(m.raw_len, big);
	assert_true(m.stored_len < big / 50);
	assert_int_equal(m.instance, 0);
	expect_json(f, "bob", json);
	/* Held: import refused; the stored record stays. */
	assert_int_equal(acquire(f, "bob", 3), 0);
	c.json = "{}";
	c.json_len = 2;
	assert_int_equal(run(f, &c), ERR_BUSY);
	expect_json(f, "bob", json);
	/* Too big never reaches the log. */
	c.json_len = STOR_INVD_RAW_MAX + 1;
	{
		uint8_t *d;
		size_t dl;

		assert_int_equal(stor_invd_encode(&c, &d, &dl), ERR_TOOBIG);
	}
	assert_int_equal(stor_invd_counts(f->s, &players), 0);
	assert_int_equal(players, 1);
	free(json);
}

/* Bodies that do not decode are refused alike and change nothing. */
static void test_malformed(void **state)
{
	struct fx *f = *state;
	struct mp_writer w;
	uint8_t *d;
	size_t dl;

	assert_int_equal(acquire(f, "carol", 1), 0);
	assert_int_equal(upload(f, "carol", 1, 1, 0, "{\"k\":1}"), 0);
	for (int i = 0; i < 5; i++) {
		mp_writer_init(&w, 4096);
		mp_w_array(&w, 3);
		mp_w_uint(&w, STOR_CMD_VERSION);
		mp_w_uint(&w, STOR_DOMAIN_INVENTORY);
		switch (i) {
		case 0: /* raw codec, length disagrees */
			mp_w_array(&w, 8);
			mp_w_uint(&w, STOR_INVD_UPLOAD);
			mp_w_cstr(&w, "carol");
			mp_w_uint(&w, 1);
			mp_w_uint(&w, 1);
			mp_w_uint(&w, 0);
			mp_w_uint(&w, 99);
			mp_w_uint(&w, STOR_INVD_RAW);
			mp_w_bin(&w, "{}", 2);
			break;
		case 1: /* a bad player name */
			mp_w_array(&w, 4);
			mp_w_uint(&w, STOR_INVD_ACQUIRE);
			mp_w_cstr(&w, "a/b");
			mp_w_uint(&w, 1);
			mp_w_uint(&w, 1);
			break;
		case 2: /* unknown op */
			mp_w_array(&w, 3);
			mp_w_uint(&w, 77);
			mp_w_cstr(&w, "carol");
			mp_w_uint(&w, 1);
			break;
		case 3: /* a field missing */
			mp_w_array(&w, 3);
			mp_w_uint(&w, STOR_INVD_RELEASE);
			mp_w_cstr(&w, "carol");
			mp_w_uint(&w, 1);
			break;
		default: /* over the size bound */
			mp_w_array(&w, 8);
			mp_w_uint(&w, STOR_INVD_UPLOAD);
			mp_w_cstr(&w, "carol");
			mp_w_uint(&w, 1);
			mp_w_uint(&w, 1);
			mp_w_uint(&w, 0);
			mp_w_uint(&w, (uint64_t)STOR_INVD_RAW_MAX + 1);
			mp_w_uint(&w, STOR_INVD_ZLIB);
			mp_w_bin(&w, "xx", 2);
			break;
		}
		assert_int_equal(mp_writer_take(&w, &d, &dl), 0);
		assert_int_equal(run_raw(f, d, dl), ERR_MALFORMED);
		free(d);
	}
	expect_json(f, "carol", "{\"k\":1}");
	assert_int_equal(gen_of(f, "carol"), 1);
}

/* The case: A's game autosaves while holding gen 1, the player
 * leaves (upload, release), plays on B (gen 2, upload), and A restarts
 * from its autosave and re-sends an upload of gen 1: refused, and B's
 * newer inventory stays. */
static void test_stale_autosave(void **state)
{
	struct fx *f = *state;

	assert_int_equal(acquire(f, "dave", 1), 0);
	assert_int_equal(upload(f, "dave", 1, 1, 1, "{\"on\":\"A\"}"), 0);
	assert_int_equal(acquire(f, "dave", 2), 0);
	assert_int_equal(upload(f, "dave", 2, 2, 1, "{\"on\":\"B\"}"), 0);
	assert_int_equal(upload(f, "dave", 1, 1, 1, "{\"on\":\"A-old\"}"),
			 ERR_CONFLICT);
	assert_int_equal(upload(f, "dave", 1, 1, 0, "{\"on\":\"A-old\"}"),
			 ERR_CONFLICT);
	expect_json(f, "dave", "{\"on\":\"B\"}");
	/* Even while A holds the lock again, its old generation is stale. */
	assert_int_equal(acquire(f, "dave", 1), 0);
	assert_int_equal(upload(f, "dave", 1, 1, 0, "{\"on\":\"A-old\"}"),
			 ERR_CONFLICT);
	expect_json(f, "dave", "{\"on\":\"B\"}");
	assert_int_equal(gen_of(f, "dave"), 3);
}

/* ---- the model ---- */

#define M_INST 4
#define M_PLAYERS 3
#define M_STEPS 3000
#define M_JSON 48

struct m_player {
	int known;
	uint64_t gen, holder, node;
	int held;
	int why; /* STOR_INVD_WHY_* of the last free */
	int stored;
	uint64_t rgen, rinst;
	char json[M_JSON];
};

/* What an instance's game believes: the generation it holds per player
 * (0: none). An autosave copies it; a restart from it brings it back. */
struct m_view {
	uint64_t gen[M_PLAYERS];
};

struct model {
	struct m_player p[M_PLAYERS];
	struct m_view live[M_INST + 1], saved[M_INST + 1];
	uint64_t serial;
};

static const char *m_name(int i)
{
	static const char *const n[M_PLAYERS] = {"p0", "p1", "p2"};

	return n[i];
}

static int m_acquire(struct m_player *p, uint64_t inst)
{
	if (p->held)
		return p->holder == inst ? 0 : ERR_BUSY;
	p->known = 1;
	p->gen++;
	p->held = 1;
	p->holder = inst;
	p->node = inst * 10;
	p->why = STOR_INVD_WHY_NONE;
	return 0;
}

static int m_upload(struct m_player *p, uint64_t inst, uint64_t gen,
		    int release, const char *json)
{
	if (!(p->held && p->holder == inst && p->gen == gen)) {
		if (p->stored && p->rgen == gen && p->rinst == inst &&
		    strcmp(p->json, json) == 0)
			return 0;
		return ERR_CONFLICT;
	}
	p->stored = 1;
	p->rgen = gen;
	p->rinst = inst;
	snprintf(p->json, sizeof(p->json), "%s", json);
	if (release) {
		p->held = 0;
		p->holder = 0;
		p->why = STOR_INVD_WHY_RELEASED;
	}
	return 0;
}

static int m_release(struct m_player *p, uint64_t inst, uint64_t gen)
{
	if (!p->known)
		return ERR_NOTFOUND;
	if (p->held && p->holder == inst && p->gen == gen) {
		p->held = 0;
		p->holder = 0;
		p->why = STOR_INVD_WHY_RELEASED;
		return 0;
	}
	if (!p->held && p->gen == gen && p->why == STOR_INVD_WHY_RELEASED)
		return 0;
	return ERR_CONFLICT;
}

static int m_expire(struct m_player *p, uint64_t gen)
{
	if (!p->known)
		return ERR_NOTFOUND;
	if (!p->held || p->gen != gen)
		return ERR_CONFLICT;
	p->held = 0;
	p->holder = 0;
	p->why = STOR_INVD_WHY_INSTANCE_STOPPED;
	return 0;
}

/* The held index lists exactly the players the model says are held. */
static void m_check_held(struct fx *f, const struct model *m)
{
	struct stor_invd_lock l[M_PLAYERS + 1];
	size_t n = 0, want = 0;

	assert_int_equal(stor_invd_list_held(f->s, NULL, l, M_PLAYERS + 1, &n),
			 0);
	for (int i = 0; i < M_PLAYERS; i++)
		want += m->p[i].held;
	assert_int_equal(n, want);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(l[k].state, STOR_INVD_HELD);
		assert_true(m->p[l[k].player[1] - '0'].held);
	}
}

static void m_check(struct fx *f, const struct model *m, uint64_t step)
{
	m_check_held(f, m);
	for (int i = 0; i < M_PLAYERS; i++) {
		const struct m_player *p = &m->p[i];
		struct stor_invd_lock l;
		struct stor_invd_meta meta;
		int rc = stor_invd_lock_get(f->s, m_name(i), &l);

		if (!p->known) {
			assert_int_equal(rc, ERR_NOTFOUND);
			continue;
		}
		assert_int_equal(rc, 0);
		if (l.gen != p->gen || l.state != (p->held ? 1 : 0) ||
		    l.instance != p->holder)
			fail_msg("seed %llu step %llu %s: lock gen %llu state "
				 "%d inst %llu, model %llu %d %llu",
				 (unsigned long long)g_seed,
				 (unsigned long long)step, m_name(i),
				 (unsigned long long)l.gen, l.state,
				 (unsigned long long)l.instance,
				 (unsigned long long)p->gen, p->held,
				 (unsigned long long)p->holder);
		if (!p->stored) {
			assert_int_equal(stor_invd_meta_get(f->s, m_name(i),
							    &meta),
					 ERR_NOTFOUND);
			continue;
		}
		assert_int_equal(stor_invd_meta_get(f->s, m_name(i), &meta),
				 0);
		assert_int_equal(meta.gen, p->rgen);
		expect_json(f, m_name(i), p->json);
	}
}

/* One random step; returns the op it took (for the counts). */
static int m_step(struct fx *f, struct model *m, struct prng *r)
{
	int pi = (int)prng_below(r, M_PLAYERS), k = (int)prng_below(r, 10);
	uint64_t inst = 1 + prng_below(r, M_INST);
	struct m_player *p = &m->p[pi];
	uint64_t *mine = &m->live[inst].gen[pi];
	char json[M_JSON];
	int want, got;

	snprintf(json, sizeof(json), "{\"from\":%llu,\"n\":%llu}",
		 (unsigned long long)inst, (unsigned long long)++m->serial);
	switch (k) {
	case 0:
	case 1: /* a player joins inst */
		want = m_acquire(p, inst);
		got = acquire(f, m_name(pi), inst);
		if (got == 0)
			*mine = p->gen;
		break;
	case 2:
	case 3: /* upload with what inst believes (maybe stale) */
	case 4: {
		int rel = (int)prng_below(r, 2);
		uint64_t old_rgen = p->rgen;
		int before = p->stored;

		want = m_upload(p, inst, *mine, rel, json);
		got = upload(f, m_name(pi), inst, *mine, rel, json);
		/* The fencing property itself: never an older generation
		 * over a newer record. */
		assert_true(!before || p->rgen >= old_rgen);
		if (got == 0 && rel)
			*mine = 0;
		break;
	}
	case 5: { /* forged: a generation inst was never given */
		uint64_t g = p->gen + 1;

		want = m_upload(p, inst, g, 0, json);
		got = upload(f, m_name(pi), inst, g, 0, json);
		break;
	}
	case 6:
		want = m_release(p, inst, *mine);
		got = lock_op(f, STOR_INVD_RELEASE, m_name(pi), inst, *mine);
		break;
	case 7: { /* the leader expires, sometimes with a stale gen */
		uint64_t g = p->gen - (p->gen > 0 ? prng_below(r, 2) : 0);
		struct stor_invd_cmd c = {.op = STOR_INVD_EXPIRE, .gen = g,
					  .why =
						  STOR_INVD_WHY_INSTANCE_STOPPED};

		snprintf(c.player, sizeof(c.player), "%s", m_name(pi));
		want = m_expire(p, g);
		got = run(f, &c);
		break;
	}
	case 8: /* autosave */
		m->saved[inst] = m->live[inst];
		return k;
	default: /* crash, restart from the last autosave */
		m->live[inst] = m->saved[inst];
		return k;
	}
	if (got != want)
		fail_msg("seed %llu: op %d on %s from %llu: got %s, model %s",
			 (unsigned long long)g_seed, k, m_name(pi),
			 (unsigned long long)inst, err_name(got),
			 err_name(want));
	return k;
}

static void test_model(void **state)
{
	struct fx *f = *state;
	struct model *m = calloc(1, sizeof(*m));
	unsigned counts[10] = {0};
	struct prng r;

	prng_seed(&r, g_seed);
	for (uint64_t step = 0; step < M_STEPS; step++) {
		counts[m_step(f, m, &r)]++;
		m_check(f, m, step);
	}
	/* Every kind of step ran often enough to matter. */
	for (int k = 0; k < 10; k++)
		assert_true(counts[k] > M_STEPS / 20);
	free(m);
}

int main(int argc, char **argv)
{
	const char *env = getenv("CLUSTERD_SEED");
	const struct CMUnitTest tests[] = {
		BOTH(test_lock_and_upload),
		BOTH(test_import_and_compression),
		BOTH(test_malformed),
		BOTH(test_stale_autosave),
		BOTH(test_model),
	};

	if (argc > 1)
		g_seed = strtoull(argv[1], NULL, 10);
	else if (env != NULL)
		g_seed = strtoull(env, NULL, 10);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
