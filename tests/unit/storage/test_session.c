/* Unit tests of the session domain (storage/session.h, Raft thesis 6.3):
 * a retried command is answered from the record and not applied again,
 * with the original entry's index; the window keeps the last 64 results
 * and answers ERR_EXPIRED below it; acknowledged results are dropped;
 * sessions expire through the log; the records survive a snapshot; and
 * the outcome does not depend on how entries are batched. Run on the
 * in-memory store and on RocksDB. */
#include "tests/unit/storage/fixture.h"

#include "storage/kvrev.h"
#include "storage/session.h"
#include "tests/lib/cmocka_all.h"

#define TTL_MS 3600000ull

/* Appends and applies n commands (freed here) in ONE stor_apply call;
 * results in res[]. */
static void run_batch(struct fx *f, uint8_t **data, size_t *len, size_t n,
		      int *res)
{
	struct stor_entry e[8];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		e[i] = (struct stor_entry){.index = f->next + i,
					   .term = 1,
					   .type = STOR_ENTRY_COMMAND,
					   .data = data[i],
					   .len = len[i]};
	assert_int_equal(stor_log_append(f->s, e, n), 0);
	assert_int_equal(stor_apply(f->s, e, n, res, 0), 0);
	for (size_t i = 0; i < n; i++)
		free(data[i]);
	f->next += n;
}

/* A put of key=val by (client, seq), encoded; the caller frees. */
static void sess_put(const char *client, uint64_t seq, uint64_t wall,
		     uint64_t ack, uint32_t window, const char *key,
		     const char *val, uint64_t cas, uint8_t **out, size_t *n)
{
	uint8_t *inner;
	size_t il;

	assert_int_equal(stor_kvr_encode(STOR_KVR_PUT, "app", 3, key,
					 strlen(key), cas, val, strlen(val),
					 &inner, &il),
			 0);
	assert_int_equal(stor_sess_encode(client, strlen(client), seq, wall,
					  ack, window, inner, il, out, n),
			 0);
	free(inner);
}

/* Applies one session put; returns its result, its entry in *index. */
static int put(struct fx *f, const char *client, uint64_t seq, uint64_t ack,
	       uint32_t window, const char *key, const char *val,
	       uint64_t *index)
{
	uint8_t *d;
	size_t n;
	int res = 99;

	sess_put(client, seq, 1000 + seq, ack, window, key, val, STOR_KVR_ANY,
		 &d, &n);
	if (index)
		*index = f->next;
	run_batch(f, &d, &n, 1, &res);
	return res;
}

static uint64_t rev_of(struct fx *f, const char *key)
{
	uint64_t rev = 0;

	assert_int_equal(
	    stor_kvr_get(f->s, "app", 3, key, strlen(key), NULL, NULL, &rev),
	    0);
	return rev;
}

static void test_dedup_keeps_first_index(void **state)
{
	struct fx *f = *state;
	struct stor_sess_stats st;
	uint64_t i1, i2, idx = 0;
	int res = 99;

	assert_int_equal(put(f, "c1", 1, 0, 64, "k", "v1", &i1), 0);
	assert_int_equal(rev_of(f, "k"), i1);
	/* The retry (same seq, other value to prove it is not applied). */
	assert_int_equal(put(f, "c1", 1, 0, 64, "k", "v2", &i2), 0);
	assert_true(i2 > i1);
	assert_int_equal(rev_of(f, "k"), i1);
	assert_int_equal(stor_sess_lookup(f->s, "c1", 2, 1, &idx, &res), 0);
	assert_int_equal(idx, i1);
	assert_int_equal(res, 0);
	stor_sess_stats(f->s, &st);
	assert_int_equal(st.deduplicated, 1);
	/* Another client with the same seq is its own session. */
	assert_int_equal(put(f, "c2", 1, 0, 64, "k", "v3", &i2), 0);
	assert_int_equal(rev_of(f, "k"), i2);
}

/* A failed CAS result is remembered too: the retry answers ERR_CONFLICT
 * again even though the condition would now hold. */
static void test_dedup_keeps_result(void **state)
{
	struct fx *f = *state;
	uint8_t *d;
	size_t n;
	int res = 99;

	sess_put("c", 1, 5, 0, 64, "k", "v", 7, &d, &n); /* rev 7: absent */
	run_batch(f, &d, &n, 1, &res);
	assert_int_equal(res, ERR_CONFLICT);
	sess_put("c", 1, 5, 0, 64, "k", "v", STOR_KVR_ANY, &d, &n);
	run_batch(f, &d, &n, 1, &res);
	assert_int_equal(res, ERR_CONFLICT);
}

static void test_window_of_64(void **state)
{
	struct fx *f = *state;
	struct stor_sess_stats st;
	uint64_t idx, before;
	int res;

	for (uint64_t s = 1; s <= 65; s++)
		assert_int_equal(
		    put(f, "w", s, 0, STOR_SESS_WINDOW_CLIENT, "k", "v", NULL),
		    0);
	/* seq 1 fell out of the window; 2..65 are remembered. */
	assert_int_equal(stor_sess_lookup(f->s, "w", 1, 1, &idx, &res),
			 ERR_NOTFOUND);
	assert_int_equal(stor_sess_lookup(f->s, "w", 1, 2, &idx, &res), 0);
	before = rev_of(f, "k");
	assert_int_equal(put(f, "w", 1, 0, 64, "k", "x", NULL), ERR_EXPIRED);
	assert_int_equal(rev_of(f, "k"), before); /* never applied again */
	assert_int_equal(put(f, "w", 2, 0, 64, "k", "x", NULL), 0);
	assert_int_equal(rev_of(f, "k"), before); /* deduplicated */
	stor_sess_stats(f->s, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.deduplicated, 1);
	/* Out of order above the floor is still new: 100 then 70. */
	assert_int_equal(put(f, "w", 100, 0, 64, "k", "a", NULL), 0);
	assert_int_equal(put(f, "w", 70, 0, 64, "k", "b", &idx), 0);
	assert_int_equal(rev_of(f, "k"), idx);
}

/* ack drops what the client holds: seqs below it are forgotten at once,
 * and a repeat of one is ERR_EXPIRED. */
static void test_ack_trims(void **state)
{
	struct fx *f = *state;
	uint64_t idx;
	int res;

	for (uint64_t s = 1; s <= 10; s++)
		assert_int_equal(put(f, "n", s, s, 1024, "k", "v", NULL), 0);
	assert_int_equal(stor_sess_lookup(f->s, "n", 1, 10, &idx, &res), 0);
	assert_int_equal(stor_sess_lookup(f->s, "n", 1, 9, &idx, &res),
			 ERR_NOTFOUND);
	assert_int_equal(put(f, "n", 9, 9, 1024, "k", "v", NULL), ERR_EXPIRED);
}

static int expire(struct fx *f, uint64_t now)
{
	uint8_t *d;
	size_t n;
	int res = 99;

	assert_int_equal(stor_sess_expire_encode(now, TTL_MS, &d, &n), 0);
	run_batch(f, &d, &n, 1, &res);
	return res;
}

static void test_expiry_through_the_log(void **state)
{
	struct fx *f = *state;
	uint64_t last = 0, i1, i2;

	assert_int_equal(put(f, "old", 1, 0, 64, "k", "v", &i1), 0);
	assert_int_equal(put(f, "new", 1, 0, 64, "j", "v", NULL), 0);
	assert_int_equal(stor_sess_last(f->s, "old", 3, &last), 0);
	assert_int_equal(last, 1001);
	/* Not idle long enough: kept. */
	assert_int_equal(expire(f, 1001 + TTL_MS), 0);
	assert_int_equal(stor_sess_last(f->s, "old", 3, &last), 0);
	/* "new" was active later (a put at wall 5000 refreshes it). */
	{
		uint8_t *d;
		size_t n;
		int res;

		sess_put("new", 2, 5000, 0, 64, "j", "w", STOR_KVR_ANY, &d, &n);
		run_batch(f, &d, &n, 1, &res);
		assert_int_equal(res, 0);
	}
	assert_int_equal(expire(f, 1002 + TTL_MS), 0);
	assert_int_equal(stor_sess_last(f->s, "old", 3, &last), ERR_NOTFOUND);
	assert_int_equal(stor_sess_last(f->s, "new", 3, &last), 0);
	assert_int_equal(last, 5000);
	/* An expired session starts afresh: seq 1 applies again. */
	assert_int_equal(put(f, "old", 1, 0, 64, "k", "v", &i2), 0);
	assert_int_equal(rev_of(f, "k"), i2);
	assert_true(i2 > i1);
}

/* The same entries applied one by one and all in one batch give the same
 * results and the same state: an expire inside a batch sees the sessions
 * that earlier entries of the batch created. */
static void apply_script(struct fx *f, size_t per_batch, int *res)
{
	uint8_t *d[6];
	size_t n[6], done = 0;

	sess_put("a", 1, 10, 0, 64, "k", "1", STOR_KVR_ANY, &d[0], &n[0]);
	sess_put("b", 1, 20 + TTL_MS, 0, 64, "k", "2", STOR_KVR_ANY, &d[1],
		 &n[1]);
	assert_int_equal(
	    stor_sess_expire_encode(15 + TTL_MS, TTL_MS, &d[2], &n[2]), 0);
	sess_put("a", 1, 30 + TTL_MS, 0, 64, "k", "3", STOR_KVR_ANY, &d[3],
		 &n[3]);
	sess_put("b", 1, 40 + TTL_MS, 0, 64, "k", "4", STOR_KVR_ANY, &d[4],
		 &n[4]);
	sess_put("a", 2, 50 + TTL_MS, 1, 64, "k", "5", 0, &d[5], &n[5]);
	while (done < 6) {
		size_t k = 6 - done < per_batch ? 6 - done : per_batch;

		run_batch(f, d + done, n + done, k, res + done);
		done += k;
	}
}

static void test_deterministic_batches(void **state)
{
	struct fx *f = *state, g = {0};
	int r1[6], r2[6], want[6] = {0, 0, 0, 0, 0, ERR_CONFLICT};
	uint64_t d1, c1, d2, c2;

	assert_int_equal(stor_memdisk_new(NULL, NULL, &g.md), 0);
	fx_open(&g);
	apply_script(f, 1, r1);
	apply_script(&g, 6, r2);
	/* a expired at entry 3, so its seq 1 applied again at entry 4; b
	 * was fresh, so its repeat is deduplicated. */
	assert_memory_equal(r1, want, sizeof(want));
	assert_memory_equal(r2, want, sizeof(want));
	assert_int_equal(rev_of(f, "k"), f->next - 3);
	assert_int_equal(stor_state_digest(f->s, &d1, &c1), 0);
	assert_int_equal(stor_state_digest(g.s, &d2, &c2), 0);
	assert_int_equal(c1, c2);
	assert_true(d1 == d2);
	assert_int_equal(stor_applied_index(g.s), g.next - 1);
	fx_close_mem(&g);
}

/* Sessions are replicated state: after a snapshot install, a retry on the
 * receiving store is still deduplicated, with the original index. */
static void test_snapshot_then_retry(void **state)
{
	struct fx *f = *state, g;
	uint64_t i1, i2, idx = 0;
	int res = 99;

	assert_int_equal(put(f, "c", 7, 0, 64, "k", "v", &i1), 0);
	fx_snapshot_to(f, &g);
	assert_int_equal(stor_applied_index(g.s), i1);
	assert_int_equal(stor_log_reset(g.s, i1, 1), 0);
	g.next = i1 + 1;
	assert_int_equal(put(&g, "c", 7, 0, 64, "k", "other", &i2), 0);
	assert_int_equal(i2, i1 + 1);
	assert_int_equal(rev_of(&g, "k"), i1);
	assert_int_equal(stor_sess_lookup(g.s, "c", 1, 7, &idx, &res), 0);
	assert_int_equal(idx, i1);
	fx_close_mem(&g);
}

static void test_bounds_and_malformed(void **state)
{
	struct fx *f = *state;
	char big[STOR_SESS_CLIENT_MAX + 2];
	uint8_t *inner, *d;
	size_t il, n;
	int res = 99;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(stor_kvr_encode(STOR_KVR_DEL, "app", 3, "k", 1,
					 STOR_KVR_ANY, NULL, 0, &inner, &il),
			 0);
	assert_int_equal(
	    stor_sess_encode(big, strlen(big), 1, 0, 0, 64, inner, il, &d, &n),
	    ERR_INVAL);
	assert_int_equal(
	    stor_sess_encode("c", 1, 0, 0, 0, 64, inner, il, &d, &n),
	    ERR_INVAL);
	assert_int_equal(
	    stor_sess_encode("c", 1, 1, 0, 0, 0, inner, il, &d, &n), ERR_INVAL);
	assert_int_equal(stor_sess_encode("c", 1, 1, 0, 0,
					  STOR_SESS_WINDOW_MAX + 1, inner, il,
					  &d, &n),
			 ERR_INVAL);
	/* A session inside a session is refused when encoding... */
	assert_int_equal(
	    stor_sess_encode("c", 1, 1, 0, 0, 64, inner, il, &d, &n), 0);
	free(inner);
	inner = d;
	il = n;
	assert_int_equal(
	    stor_sess_encode("c", 1, 2, 0, 0, 64, inner, il, &d, &n),
	    ERR_INVAL);
	/* The valid one applies its inner delete. */
	run_batch(f, &inner, &il, 1, &res);
	assert_int_equal(res, ERR_NOTFOUND); /* delete of an absent key */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_dedup_keeps_first_index),
	    BOTH(test_dedup_keeps_result),
	    BOTH(test_window_of_64),
	    BOTH(test_ack_trims),
	    BOTH(test_expiry_through_the_log),
	    BOTH(test_deterministic_batches),
	    BOTH(test_snapshot_then_retry),
	    BOTH(test_bounds_and_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
