/* The in-memory variant's faults: fsync latency, unsynced writes lost at
 * a crash, torn writes detected by recovery, injected I/O errors and a
 * full disk. Seeded: a failure replays with the printed seed. */
#include "tests/unit/storage/util.h"

#include "tests/lib/cmocka_all.h"

static struct stor *open_mem(struct stor_memdisk *d)
{
	struct stor_options o;
	struct stor *s;

	stor_options_default(&o);
	o.mem = d;
	assert_int_equal(stor_open(&o, &s), 0);
	return s;
}

static void append1(struct stor *s, uint64_t i, uint64_t term)
{
	uint8_t data[8];
	struct stor_entry e = {.index = i, .term = term, .data = data,
			       .len = 8};

	put_u64le(data, i * 7919);
	assert_int_equal(stor_log_append(s, &e, 1), 0);
}

static void test_latency_and_loss(void **state)
{
	struct stor_mem_faults f = {.fsync_latency_us = 1000};
	struct stor_memdisk *d;
	struct stor *s;

	(void)state;
	assert_int_equal(stor_memdisk_new(&f, NULL, &d), 0);
	s = open_mem(d);
	stor_memdisk_advance(d, 5000);
	append1(s, 1, 1);
	append1(s, 2, 1);
	assert_int_equal(stor_memdisk_next_durable(d), 6000);
	stor_memdisk_advance(d, 5999);
	assert_int_equal(stor_memdisk_next_durable(d), 6000);
	stor_memdisk_advance(d, 6000);
	append1(s, 3, 1);
	/* 1 and 2 are durable, 3 is not: the crash loses exactly 3. */
	stor_close(s);
	stor_memdisk_crash(d);
	s = open_mem(d);
	assert_int_equal(stor_log_last(s), 2);
	stor_close(s);
	stor_memdisk_free(d);
}

static void test_keep_and_torn(void **state)
{
	struct stor_mem_faults keep = {.fsync_latency_us = 100,
				       .keep_unsynced = 1.0};
	struct stor_mem_faults torn = {.fsync_latency_us = 100, .torn = 1.0};
	struct stor_memdisk *d;
	struct stor *s;

	(void)state;
	/* The OS wrote everything on its own before the crash. */
	assert_int_equal(stor_memdisk_new(&keep, NULL, &d), 0);
	s = open_mem(d);
	for (uint64_t i = 1; i <= 5; i++)
		append1(s, i, 1);
	stor_close(s);
	stor_memdisk_crash(d);
	s = open_mem(d);
	assert_int_equal(stor_log_last(s), 5);
	stor_close(s);
	stor_memdisk_free(d);
	/* The first lost write is torn: recovery detects it and stops. */
	assert_int_equal(stor_memdisk_new(&torn, NULL, &d), 0);
	s = open_mem(d);
	append1(s, 1, 1);
	stor_memdisk_advance(d, 100);
	append1(s, 2, 1);
	append1(s, 3, 1);
	stor_close(s);
	stor_memdisk_crash(d);
	assert_int_equal(stor_memdisk_torn_detected(d), 1);
	s = open_mem(d);
	assert_int_equal(stor_log_last(s), 1);
	assert_int_equal(stor_failed(s), 0);
	stor_close(s);
	stor_memdisk_free(d);
}

/* Many rounds of appends and applies with random time steps and
 * crashes. After every crash: the log is contiguous and verifies; every
 * entry durable before the crash is there; the applied index never
 * exceeds what the state shows and the state matches it. */
static void test_random_crashes(void **state)
{
	struct stor_mem_faults f = {.fsync_latency_us = 300,
				    .keep_unsynced = 0.5, .torn = 0.5};
	uint64_t seed = 20261121, now = 0, durable = 0;
	struct stor_memdisk *d;
	struct prng rng;
	struct stor *s;

	(void)state;
	prng_seed(&rng, seed);
	assert_int_equal(stor_memdisk_new(&f, &rng, &d), 0);
	s = open_mem(d);
	for (int round = 0; round < 300; round++) {
		uint64_t last = stor_log_last(s), n = prng_range(&rng, 1, 8);
		uint64_t applied = stor_applied_index(s);
		struct stor_entry *v;
		size_t cnt;

		for (uint64_t i = 1; i <= n; i++) {
			char k[16], val[24];

			snprintf(k, sizeof(k), "k%llu",
				 (unsigned long long)((last + i) % 7));
			snprintf(val, sizeof(val), "%llu",
				 (unsigned long long)(last + i));
			{
				struct stor_entry e = util_put_entry(
					last + i, 1, "sim", k, val);

				assert_int_equal(stor_log_append(s, &e, 1), 0);
				free(e.data);
			}
		}
		/* Apply a prefix of what is in the log. */
		if (prng_chance(&rng, 0.7) && stor_log_last(s) > applied) {
			uint64_t hi = prng_range(&rng, applied + 1,
						 stor_log_last(s));

			assert_int_equal(stor_log_read(s, applied + 1, hi + 1,
						       1 << 20, &v, &cnt), 0);
			assert_int_equal(stor_apply(s, v, cnt, NULL,
						    prng_chance(&rng, 0.5)), 0);
			stor_entries_free(v, cnt);
		}
		now += prng_range(&rng, 0, 400);
		stor_memdisk_advance(d, now);
		if (stor_memdisk_next_durable(d) == 0)
			durable = stor_log_last(s);
		if (!prng_chance(&rng, 0.2))
			continue;
		stor_close(s);
		stor_memdisk_crash(d);
		s = open_mem(d);
		if (stor_log_last(s) < durable)
			fail_msg("seed %llu round %d: durable %llu lost (last "
				 "%llu)", (unsigned long long)seed, round,
				 (unsigned long long)durable,
				 (unsigned long long)stor_log_last(s));
		durable = stor_log_last(s);
		applied = stor_applied_index(s);
		assert_true(applied <= stor_log_last(s));
		if (stor_log_last(s) > 0) {
			assert_int_equal(stor_log_read(s, 1,
						       stor_log_last(s) + 1,
						       1 << 30, &v, &cnt), 0);
			assert_int_equal(cnt, stor_log_last(s));
			stor_entries_free(v, cnt);
		}
		/* State = all puts up to applied, once. */
		for (uint64_t j = 0; j < 7; j++) {
			char k[16], want[24];
			uint64_t latest = 0;
			uint8_t *got;
			size_t gl;

			for (uint64_t i = 1; i <= applied; i++)
				if (i % 7 == j)
					latest = i;
			snprintf(k, sizeof(k), "k%llu", (unsigned long long)j);
			if (latest == 0) {
				assert_int_equal(stor_kv_get(s, "sim", k,
							     strlen(k), &got,
							     &gl),
						 ERR_NOTFOUND);
				continue;
			}
			snprintf(want, sizeof(want), "%llu",
				 (unsigned long long)latest);
			assert_int_equal(stor_kv_get(s, "sim", k, strlen(k),
						     &got, &gl), 0);
			assert_int_equal(gl, strlen(want));
			assert_memory_equal(got, want, gl);
			free(got);
		}
	}
	assert_true(stor_memdisk_torn_detected(d) > 0);
	stor_close(s);
	stor_memdisk_free(d);
}

static void test_injected_errors(void **state)
{
	struct stor_memdisk *d;
	struct stor_entry e;
	struct stor *s;
	char err[256];

	(void)state;
	assert_int_equal(stor_memdisk_new(NULL, NULL, &d), 0);
	s = open_mem(d);
	append1(s, 1, 1);
	stor_memdisk_fail_next_write(d, ERR_NOSPACE);
	{
		struct stor_entry x = {.index = 2, .term = 1};

		assert_int_equal(stor_log_append(s, &x, 1), ERR_NOSPACE);
		/* Writes stay refused; reads go on. */
		assert_int_equal(stor_log_append(s, &x, 1), ERR_NOSPACE);
	}
	stor_last_error(s, err, sizeof(err));
	assert_non_null(strstr(err, "No space left"));
	assert_int_equal(stor_failed(s), ERR_NOSPACE);
	assert_int_equal(stor_log_entry(s, 1, &e), 0);
	free(e.data);
	stor_close(s);
	/* A reopen (space freed) serves again; an I/O error is sticky. */
	s = open_mem(d);
	append1(s, 2, 1);
	stor_memdisk_fail_next_write(d, ERR_IO);
	{
		struct stor_hard_state hs = {.term = 2};

		assert_int_equal(stor_hs_save(s, &hs), ERR_IO);
	}
	assert_int_equal(stor_failed(s), ERR_IO);
	assert_int_equal(stor_log_entry(s, 1, &e), ERR_IO);
	stor_last_error(s, err, sizeof(err));
	assert_non_null(strstr(err, "injected"));
	stor_close(s);
	stor_memdisk_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_and_loss),
		cmocka_unit_test(test_keep_and_torn),
		cmocka_unit_test(test_random_crashes),
		cmocka_unit_test(test_injected_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
