/*
 * test_kv.c: the model of the simulator's replicated store (kv.c), which
 * every applied command is checked against. It must deduplicate retries
 * (or the linearizability check would see double applies that are the
 * harness's fault, not raft's), and its codec must reject what it did not
 * write.
 */
#include "tests/lib/cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tests/sim/raft/kv.h"

static void kv_deduplicates_retries(void **state)
{
	struct kv kv;
	struct kv_result r;
	struct kv_cmd put = {1, 1, KV_PUT, 2, 10, 0};
	struct kv_cmd cas = {1, 2, KV_CAS, 2, 10, 11};

	(void)state;
	kv_init(&kv);
	kv_apply(&kv, &put, &r);
	kv_apply(&kv, &cas, &r);
	assert_int_equal(r.out, 1);
	assert_int_equal(kv.val[2], 11);
	/* The CAS again (a retry with the same seq): same answer, no effect. */
	kv_apply(&kv, &cas, &r);
	assert_int_equal(r.out, 1);
	assert_int_equal(kv.applied, 2);
	/* An older seq arriving late is stale and ignored. */
	put.a = 99;
	kv_apply(&kv, &put, &r);
	assert_true(r.stale);
	assert_int_equal(kv.val[2], 11);
}

static void kv_codec_and_snapshot_round_trip(void **state)
{
	struct kv a, b;
	struct kv_result r;
	struct kv_cmd c = {3, 7, KV_CAS, 5, 0, 42}, d;
	uint8_t buf[128], *snap;
	size_t len;
	int n;

	(void)state;
	n = kv_cmd_encode(&c, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(kv_cmd_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.client, 3);
	assert_int_equal(d.seq, 7);
	assert_int_equal(d.op, KV_CAS);
	assert_int_equal(d.key, 5);
	assert_int_equal(d.b, 42);
	/* Every truncation is rejected, never trusted. */
	for (int k = 0; k < n; k++)
		assert_int_not_equal(kv_cmd_decode(buf, (size_t)k, &d), 0);
	kv_init(&a);
	kv_apply(&a, &c, &r);
	assert_int_equal(kv_snapshot(&a, &snap, &len), 0);
	assert_true(len > 1536); /* spans several 512-byte chunks */
	assert_int_equal(kv_restore(&b, snap, len), 0);
	assert_int_equal(kv_digest(&a), kv_digest(&b));
	snap[len / 2] ^= 0xff;
	assert_int_not_equal(kv_restore(&b, snap, len - 1), 0);
	free(snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kv_deduplicates_retries),
	    cmocka_unit_test(kv_codec_and_snapshot_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
