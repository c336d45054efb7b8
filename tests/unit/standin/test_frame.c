/* Unit tests of the stand-in's RCON framing (frame.c): exact packets,
 * split input, every bound, and a seeded mutation run that checks the
 * reader never reads past its input and never accepts a bad length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/prng.h"
#include "tests/lib/cmocka_all.h"
#include "tools/factorio-standin/frame.h"

static void test_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = sg_frame_put(buf, 7, 2, "/players", 8);
	assert_int_equal(n, 22);
	assert_int_equal(buf[0], 18);
	struct sg_frame f;
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(sg_frame_next(buf, cut, 100, &f), 0);
	assert_int_equal(sg_frame_next(buf, n, 100, &f), (long)n);
	assert_int_equal(f.id, 7);
	assert_int_equal(f.type, 2);
	assert_int_equal(f.body_len, 8);
	assert_memory_equal(f.body, "/players", 8);
	/* Negative ids survive (the auth failure reply is -1). */
	n = sg_frame_put(buf, -1, 2, "", 0);
	assert_int_equal(sg_frame_next(buf, n, 100, &f), 14);
	assert_int_equal(f.id, -1);
	assert_int_equal(f.body_len, 0);
}

static void test_bounds(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct sg_frame f;
	size_t n = sg_frame_put(buf, 1, 2, "abcd", 4);
	assert_int_equal(sg_frame_next(buf, n, 4, &f), (long)n);
	assert_int_equal(sg_frame_next(buf, n, 3, &f), ERR_MALFORMED);
	buf[0] = 9; /* shorter than id + type + 2 NULs */
	assert_int_equal(sg_frame_next(buf, n, 100, &f), ERR_MALFORMED);
	memcpy(buf, "\xff\xff\xff\xff", 4); /* negative */
	assert_int_equal(sg_frame_next(buf, n, 100, &f), ERR_MALFORMED);
	n = sg_frame_put(buf, 1, 2, "abcd", 4);
	buf[n - 1] = 'x'; /* missing terminator */
	assert_int_equal(sg_frame_next(buf, n, 100, &f), ERR_MALFORMED);
	/* An embedded NUL ends the body, as Source RCON bodies are C strings. */
	n = sg_frame_put(buf, 1, 2, "ab\0cd", 5);
	assert_int_equal(sg_frame_next(buf, n, 100, &f), (long)n);
	assert_int_equal(f.body_len, 2);
}

static void test_stream_of_packets(void **state)
{
	(void)state;
	uint8_t buf[4096];
	size_t len = 0;
	for (int i = 0; i < 100; i++) {
		char body[32];
		int bl = snprintf(body, sizeof(body), "/sc rcon.print(%d)", i);
		len += sg_frame_put(buf + len, i, 2, body, (size_t)bl);
	}
	size_t off = 0;
	for (int i = 0; i < 100; i++) {
		struct sg_frame f;
		long n = sg_frame_next(buf + off, len - off, 100, &f);
		assert_true(n > 0);
		assert_int_equal(f.id, i);
		off += (size_t)n;
	}
	assert_int_equal(off, len);
}

static void test_mutations(void **state)
{
	(void)state;
	struct prng r;
	prng_seed(&r, 20241121);
	for (int round = 0; round < 20000; round++) {
		uint8_t pkt[96];
		size_t n = sg_frame_put(pkt, (int32_t)prng_next(&r), 2,
					"hello world", 11);
		int flips = (int)prng_below(&r, 4);
		for (int i = 0; i < flips; i++)
			pkt[prng_below(&r, n)] = (uint8_t)prng_next(&r);
		size_t len = (size_t)prng_below(&r, n + 1);
		/* Exactly len bytes on the heap, so ASan sees any overread. */
		uint8_t *in = malloc(len ? len : 1);
		assert_non_null(in);
		memcpy(in, pkt, len);
		struct sg_frame f;
		long got = sg_frame_next(in, len, 64, &f);
		if (got > 0) {
			assert_true((size_t)got <= len);
			assert_true(got >= 14 && got <= 14 + 64);
			assert_true(f.body_len <= (size_t)got - 14);
		}
		free(in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_stream_of_packets),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
