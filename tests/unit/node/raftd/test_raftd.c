/*
 * test_raftd.c: the node's Raft driver (node/raftd) on the real store:
 * RocksDB in scratch directories, the built-in disk port over the
 * store's writer threads, and a small loop of the test's own (a poll of
 * every writer's descriptor, a message queue for the network, a virtual
 * clock that jumps to the next timer when nothing else is left to do).
 *
 * Waiting is on conditions with generous bounds in virtual time, never on
 * wall-clock sleeps: the clock advances only when no message is queued
 * and no writer completed within a short poll, so a slow disk slows the
 * test, not raft's view of it.
 */
#include "tests/unit/storage/util.h"

#include "tests/lib/cmocka_all.h"

#include <poll.h>

#include "base/mp.h"
#include "node/raftd/raftd.h"

#define NODES_MAX 3
#define COOKIES_MAX 512
#define LIMIT_MS 120000 /* virtual time any one wait may take */

struct msg {
	int to;
	raft_id from;
	uint8_t *buf;
	size_t len;
	struct msg *next;
};

struct cluster;

struct tnode {
	struct cluster *c;
	raft_id id;
	char dir[64];
	struct stor *st;
	struct raftd *d;
	uint64_t timer;
	int up;
	int done[COOKIES_MAX], status[COOKIES_MAX], code[COOKIES_MAX];
	raft_index index[COOKIES_MAX];
	int reentry; /* on_result tries raftd_propose: must get ERR_BUSY */
	int reentry_rv;
};

struct cluster {
	int n;
	struct tnode nd[NODES_MAX];
	uint64_t now;
	struct msg *head, *tail;
};

static struct tnode *node_of(struct cluster *c, raft_id id)
{
	return id >= 1 && id <= (raft_id)c->n ? &c->nd[id - 1] : NULL;
}

static void env_send(void *ctx, raft_id to, const uint8_t *buf, size_t len)
{
	struct tnode *t = ctx;
	struct cluster *c = t->c;
	struct msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->to = (int)to;
	m->from = t->id;
	m->buf = malloc(len);
	assert_non_null(m->buf);
	memcpy(m->buf, buf, len);
	m->len = len;
	if (c->tail != NULL)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
}

static void env_set_timer(void *ctx, uint64_t deadline_ms)
{
	struct tnode *t = ctx;

	t->timer = deadline_ms;
}

static void env_on_result(void *ctx, uint64_t cookie, int status,
			  raft_index index, int result)
{
	struct tnode *t = ctx;

	assert_true(cookie < COOKIES_MAX);
	assert_false(t->done[cookie]); /* exactly once */
	t->done[cookie] = 1;
	t->status[cookie] = status;
	t->index[cookie] = index;
	t->code[cookie] = result;
	if (t->reentry)
		t->reentry_rv = raftd_propose(t->d, t->c->now,
					      (const uint8_t *)"x", 1, 1);
}

static void env_on_read(void *ctx, uint64_t cookie, int status,
			raft_index index)
{
	env_on_result(ctx, cookie, status, index, 0);
}

static void node_open(struct cluster *c, struct tnode *t)
{
	struct stor_options o;
	struct raftd_config cfg;
	struct raftd_env env = {
	    .ctx = t,
	    .send = env_send,
	    .set_timer = env_set_timer,
	    .on_result = env_on_result,
	    .on_read = env_on_read,
	};

	util_small_options(&o, t->dir);
	assert_int_equal(stor_open(&o, &t->st), 0);
	raftd_config_default(&cfg);
	cfg.raft.id = t->id;
	cfg.raft.seed = t->id * 7919;
	cfg.snapshot_entries = 0; /* the tests take them */
	cfg.snapshot_bytes = 0;
	assert_int_equal(raftd_open(t->st, &cfg, &env, c->now, &t->d), 0);
	t->up = 1;
	assert_int_equal(raftd_tick(t->d, c->now), 0);
}

static void node_close(struct tnode *t)
{
	raftd_close(t->d);
	stor_close(t->st);
	t->d = NULL;
	t->st = NULL;
	t->up = 0;
}

static void cluster_start(struct cluster *c, int n, int voters)
{
	struct raft_configuration conf;

	memset(c, 0, sizeof(*c));
	c->n = n;
	c->now = 1000;
	memset(&conf, 0, sizeof(conf));
	for (int i = 0; i < voters; i++)
		conf.servers[conf.n++] =
		    (struct raft_server){(raft_id)i + 1, RAFT_VOTER};
	for (int i = 0; i < n; i++) {
		struct tnode *t = &c->nd[i];
		struct stor_options o;

		t->c = c;
		t->id = (raft_id)i + 1;
		assert_non_null(util_tmpdir(t->dir, "raftdtest"));
		if (i < voters) {
			util_small_options(&o, t->dir);
			assert_int_equal(stor_open(&o, &t->st), 0);
			assert_int_equal(raftd_bootstrap(t->st, &conf), 0);
			/* Twice is refused: the store holds a log now. */
			assert_int_equal(raftd_bootstrap(t->st, &conf),
					 ERR_EXISTS);
			stor_close(t->st);
		}
		node_open(c, t);
	}
}

static void cluster_stop(struct cluster *c)
{
	while (c->head != NULL) {
		struct msg *m = c->head;

		c->head = m->next;
		free(m->buf);
		free(m);
	}
	for (int i = 0; i < c->n; i++) {
		if (c->nd[i].up)
			node_close(&c->nd[i]);
		util_rm_rf(c->nd[i].dir);
	}
}

/* Delivers the messages queued so far (those sent meanwhile wait for the
 * next round). Returns how many. */
static int deliver(struct cluster *c)
{
	struct msg *m = c->head;
	int k = 0;

	c->head = c->tail = NULL;
	while (m != NULL) {
		struct msg *next = m->next;
		struct tnode *t = node_of(c, (raft_id)m->to);

		if (t != NULL && t->up) {
			int rv = raftd_receive(t->d, c->now, m->from, m->buf,
					       m->len);

			assert_int_equal(rv, 0);
		}
		free(m->buf);
		free(m);
		m = next;
		k++;
	}
	return k;
}

/* Polls every writer; reaps the ready ones. Returns how many. */
static int reap(struct cluster *c, int timeout_ms)
{
	struct pollfd p[NODES_MAX];
	int k = 0, n = 0;

	for (int i = 0; i < c->n; i++) {
		if (!c->nd[i].up)
			continue;
		p[n].fd = raftd_disk_fd(c->nd[i].d);
		p[n].events = POLLIN;
		p[n].revents = 0;
		assert_true(p[n].fd >= 0);
		n++;
	}
	if (poll(p, (nfds_t)n, timeout_ms) <= 0)
		return 0;
	for (int i = 0, j = 0; i < c->n; i++) {
		if (!c->nd[i].up)
			continue;
		if (p[j++].revents & POLLIN) {
			assert_int_equal(raftd_disk_reap(c->nd[i].d, c->now), 0);
			k++;
		}
	}
	return k;
}

/* One round of the loop: messages, disks, else time. */
static void round_once(struct cluster *c)
{
	uint64_t next = UINT64_MAX;

	if (deliver(c) > 0 || reap(c, 0) > 0)
		return;
	if (reap(c, 5) > 0)
		return;
	for (int i = 0; i < c->n; i++)
		if (c->nd[i].up && c->nd[i].timer < next)
			next = c->nd[i].timer;
	c->now = next != UINT64_MAX && next > c->now ? next : c->now + 1;
	for (int i = 0; i < c->n; i++)
		if (c->nd[i].up && c->nd[i].timer <= c->now)
			assert_int_equal(raftd_tick(c->nd[i].d, c->now), 0);
}

typedef int (*cond_fn)(struct cluster *c, void *arg);

static void run_until(struct cluster *c, cond_fn cond, void *arg);

/* The leader has heard every follower acknowledge `want`: a follower may
 * apply an index before its acknowledgement reaches the leader, so this
 * is waited for, not assumed. */
static int all_matched(struct cluster *c, void *arg)
{
	raft_index want = *(raft_index *)arg, match;

	for (int i = 0; i < c->n; i++) {
		struct raftd_status st;

		raftd_status(c->nd[i].d, &st);
		if (st.role != RAFT_LEADER)
			continue;
		for (int j = 0; j < c->n; j++)
			if (raftd_match(c->nd[i].d, c->nd[j].id, &match) != 0 ||
			    match < want)
				return 0;
		return 1;
	}
	return 0;
}

static void run_until(struct cluster *c, cond_fn cond, void *arg)
{
	uint64_t limit = c->now + LIMIT_MS;

	while (!cond(c, arg)) {
		assert_true(c->now < limit);
		round_once(c);
	}
}

static struct tnode *leader(struct cluster *c)
{
	for (int i = 0; i < c->n; i++) {
		struct raftd_status st;

		if (!c->nd[i].up)
			continue;
		raftd_status(c->nd[i].d, &st);
		if (st.role == RAFT_LEADER)
			return &c->nd[i];
	}
	return NULL;
}

static int has_leader(struct cluster *c, void *arg)
{
	(void)arg;
	return leader(c) != NULL;
}

static int is_leader(struct cluster *c, void *arg)
{
	return leader(c) == arg;
}

struct wait_cookie {
	struct tnode *t;
	uint64_t cookie;
};

static int cookie_done(struct cluster *c, void *arg)
{
	struct wait_cookie *w = arg;

	(void)c;
	return w->t->done[w->cookie];
}

/* Every up node applied at least *arg. */
static int all_applied(struct cluster *c, void *arg)
{
	raft_index want = *(raft_index *)arg;

	for (int i = 0; i < c->n; i++) {
		struct raftd_status st;

		if (!c->nd[i].up)
			continue;
		raftd_status(c->nd[i].d, &st);
		if (st.applied < want)
			return 0;
	}
	return 1;
}

static void put(struct tnode *t, uint64_t cookie, const char *key,
		const char *val, const char *expect)
{
	uint8_t *cmd;
	size_t len;
	int op = expect != NULL ? STOR_KV_CAS : STOR_KV_PUT;

	assert_int_equal(stor_kv_encode(op, "ns", key, strlen(key), expect,
					expect ? strlen(expect) : 0, val,
					strlen(val), &cmd, &len),
			 0);
	assert_int_equal(raftd_propose(t->d, t->c->now, cmd, len, cookie), 0);
	free(cmd);
}

static void check_value(struct tnode *t, const char *key, const char *val)
{
	uint8_t *v;
	size_t vl;

	assert_int_equal(stor_kv_get(t->st, "ns", key, strlen(key), &v, &vl),
			 0);
	assert_int_equal(vl, strlen(val));
	assert_memory_equal(v, val, vl);
	free(v);
}

static void wait_cookie(struct cluster *c, struct tnode *t, uint64_t cookie)
{
	struct wait_cookie w = {t, cookie};

	run_until(c, cookie_done, &w);
}

static raft_index applied_of(struct tnode *t)
{
	struct raftd_status st;

	raftd_status(t->d, &st);
	return st.applied;
}

/* Writes keys k<from>..k<to-1> through the leader, each answered with
 * its index (the revision) and result 0. */
static void write_keys(struct cluster *c, struct tnode *l, int from, int to,
		       uint64_t cookie0)
{
	raft_index last = 0;

	for (int i = from; i < to; i++) {
		char k[16], v[16];

		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "v%d", i);
		put(l, cookie0 + (uint64_t)(i - from), k, v, NULL);
	}
	for (int i = from; i < to; i++) {
		uint64_t ck = cookie0 + (uint64_t)(i - from);

		wait_cookie(c, l, ck);
		assert_int_equal(l->status[ck], 0);
		assert_int_equal(l->code[ck], 0);
		assert_true(l->index[ck] > last); /* revisions increase */
		last = l->index[ck];
	}
}

/* Three nodes on RocksDB with the writer port: an election, proposals
 * with results (revisions, a CAS conflict), batched reads, a restart
 * from the store, and a member brought back by snapshot. */
static void three_nodes(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	struct raftd_metrics m0, m1;
	struct tnode *l, *lag;
	raft_index want;
	char k[16], v[16];

	(void)state;
	assert_non_null(c);
	cluster_start(c, 3, 3);
	run_until(c, has_leader, NULL);
	l = leader(c);

	/* Proposals: indexes are revisions; a failed CAS is a result. */
	write_keys(c, l, 0, 20, 10);
	put(l, 40, "k0", "new", "wrong");
	wait_cookie(c, l, 40);
	assert_int_equal(l->status[40], 0);
	assert_int_equal(l->code[40], ERR_CONFLICT);
	put(l, 41, "k0", "new", "v0");
	wait_cookie(c, l, 41);
	assert_int_equal(l->code[41], 0);
	assert_true(l->index[41] > l->index[40]);

	/* On a follower: not the leader, no callback. */
	for (int i = 0; i < 3; i++)
		if (&c->nd[i] != l)
			assert_int_equal(raftd_propose(c->nd[i].d, c->now,
						       (const uint8_t *)"x", 1,
						       99),
					 ERR_NOTLEADER);

	/* Reads: ten at once share heartbeat rounds. */
	raftd_metrics(l->d, &m0);
	for (uint64_t ck = 50; ck < 60; ck++)
		assert_int_equal(raftd_read_index(l->d, c->now, ck), 0);
	for (uint64_t ck = 50; ck < 60; ck++) {
		wait_cookie(c, l, ck);
		assert_int_equal(l->status[ck], 0);
		assert_true(l->index[ck] >= l->index[41]);
	}
	raftd_metrics(l->d, &m1);
	assert_int_equal(m1.reads - m0.reads, 10);
	assert_true(m1.read_rounds - m0.read_rounds <= 2);
	check_value(l, "k0", "new");

	want = applied_of(l);
	run_until(c, all_applied, &want);
	for (int i = 0; i < 3; i++) {
		check_value(&c->nd[i], "k19", "v19");
		check_value(&c->nd[i], "k0", "new");
	}

	/* A follower restarts from its store and keeps up. */
	lag = l == &c->nd[2] ? &c->nd[1] : &c->nd[2];
	node_close(lag);
	node_open(c, lag);
	assert_true(applied_of(lag) >= want - 0); /* applied state kept */
	write_keys(c, l, 20, 30, 100);
	want = applied_of(l);
	run_until(c, all_applied, &want);
	check_value(lag, "k29", "v29");

	/* A member down while the log is compacted past it comes back by
	 * snapshot. */
	node_close(lag);
	write_keys(c, l, 30, 80, 200);
	assert_int_equal(raftd_snapshot(l->d, c->now), 0);
	{
		struct raftd_status st;

		raftd_status(l->d, &st);
		assert_int_equal(st.snapshot_index, st.applied);
		assert_true(stor_log_first(l->st) > applied_of(l) - 1);
	}
	node_open(c, lag);
	want = applied_of(l);
	run_until(c, all_applied, &want);
	raftd_metrics(lag->d, &m1);
	assert_true(m1.snapshots_installed >= 1);
	for (int i = 0; i < 80; i += 7) {
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "v%d", i);
		if (i != 0)
			check_value(lag, k, v);
	}
	check_value(lag, "k0", "new");
	/* And it takes part again: a write through the same leader. */
	write_keys(c, l, 80, 81, 300);
	want = applied_of(l);
	run_until(c, all_applied, &want);
	check_value(lag, "k80", "v80");
	run_until(c, all_matched, &want);
	for (int i = 0; i < 3; i++) {
		raft_index match;

		assert_int_equal(raftd_match(l->d, c->nd[i].id, &match), 0);
		assert_true(match >= want);
	}
	assert_int_equal(raftd_match(lag->d, l->id, &want), ERR_NOTLEADER);
	raftd_metrics(l->d, &m1);
	assert_true(m1.leader_changes >= 1);
	assert_true(m1.applied >= 80);
	assert_true(m1.disk_writes > 0);
	{
		uint64_t sum = 0;

		for (int b = 0; b < RAFTD_LAT_BUCKETS; b++)
			sum += m1.append_lat[b];
		assert_true(sum > 0); /* every durable write measured */
	}

	/* Leadership moves to the member that came back. */
	assert_int_equal(raftd_transfer(l->d, c->now, lag->id), 0);
	run_until(c, is_leader, lag);
	write_keys(c, lag, 81, 82, 400);
	cluster_stop(c);
	free(c);
}

/* One voter: membership change with its result, re-entry refused,
 * malformed input counted, the configuration record repaired on
 * restart, and a restart from a snapshot. */
static void single_node(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	struct raftd_metrics m;
	struct raftd_status st;
	const struct raft_configuration *conf;
	struct tnode *t;
	raft_index applied;
	uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t *blob;
	size_t len;

	(void)state;
	assert_non_null(c);
	cluster_start(c, 1, 1);
	t = &c->nd[0];
	assert_int_equal(raftd_propose(t->d, c->now, junk, 1, 1),
			 ERR_NOTLEADER);
	run_until(c, has_leader, NULL);
	put(t, 2, "a", "1", NULL);
	wait_cookie(c, t, 2);
	assert_int_equal(t->code[2], 0);

	/* A callback cannot step the driver again. */
	t->reentry = 1;
	put(t, 3, "a", "2", NULL);
	wait_cookie(c, t, 3);
	assert_int_equal(t->reentry_rv, ERR_BUSY);
	t->reentry = 0;

	/* Garbage, and a message claiming another sender. */
	assert_int_equal(raftd_receive(t->d, c->now, 0, junk, sizeof(junk)),
			 ERR_MALFORMED);
	raftd_metrics(t->d, &m);
	assert_int_equal(m.msgs_malformed, 1);

	/* A learner joins: its entry's apply is the result. */
	assert_int_equal(raftd_change(t->d, c->now, RAFT_ADD_LEARNER, 9, 4), 0);
	wait_cookie(c, t, 4);
	assert_int_equal(t->status[4], 0);
	conf = raftd_configuration(t->d);
	assert_non_null(raft_conf_get(conf, 9));
	assert_int_equal(raft_conf_get(conf, 9)->role, RAFT_LEARNER);

	/* A crash between an apply and the configuration record: the
	 * record is behind (here: gone back to one server). Restart
	 * repairs it from the state. */
	assert_int_equal(stor_conf_load(t->st, &blob, &len), 0);
	node_close(t);
	{
		struct stor_options o;
		struct mp_writer w;
		struct raft_configuration one = {
		    1, {{1, RAFT_VOTER}}};

		util_small_options(&o, t->dir);
		assert_int_equal(stor_open(&o, &t->st), 0);
		mp_writer_init(&w, 4096);
		raft_conf_encode(&one, &w);
		assert_int_equal(stor_conf_save(t->st, mp_writer_data(&w),
						mp_writer_len(&w)),
				 0);
		mp_writer_free(&w);
		stor_close(t->st);
	}
	node_open(c, t);
	{
		uint8_t *b2;
		size_t l2;

		assert_int_equal(stor_conf_load(t->st, &b2, &l2), 0);
		assert_int_equal(l2, len);
		assert_memory_equal(b2, blob, len);
		free(b2);
	}
	free(blob);

	/* A snapshot, then a restart from it. */
	run_until(c, has_leader, NULL);
	put(t, 5, "b", "3", NULL);
	wait_cookie(c, t, 5);
	assert_int_equal(raftd_snapshot(t->d, c->now), 0);
	raftd_status(t->d, &st);
	assert_int_equal(st.snapshot_index, st.applied);
	applied = st.applied;
	node_close(t);
	node_open(c, t);
	raftd_status(t->d, &st);
	assert_int_equal(st.applied, applied);
	check_value(t, "a", "2");
	check_value(t, "b", "3");
	assert_non_null(raft_conf_get(raftd_configuration(t->d), 9));
	run_until(c, has_leader, NULL);
	put(t, 6, "c", "4", NULL);
	wait_cookie(c, t, 6);
	assert_true(t->index[6] > applied);
	cluster_stop(c);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(single_node),
	    cmocka_unit_test(three_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
