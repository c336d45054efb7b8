#include "tests/lib/cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"

static void cursor_reads_and_stops_at_end(void **state)
{
	const uint8_t buf[] = {1, 2, 0, 3, 0, 0, 0xff, 0xff, 0xff, 0xff};
	struct rcur c;
	uint8_t b;
	uint16_t h;
	uint32_t w;
	int32_t i;

	(void)state;
	rcur_init(&c, buf, sizeof(buf));
	assert_int_equal(rcur_u8(&c, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(rcur_u16le(&c, &h), 0);
	assert_int_equal(h, 2);
	assert_int_equal(rcur_u32le(&c, &w), 0);
	assert_int_equal(w, 0xff000003u);
	assert_int_equal(rcur_left(&c), 3);
	/* A short read fails and leaves the cursor unmoved. */
	assert_int_equal(rcur_i32le(&c, &i), ERR_MALFORMED);
	assert_int_equal(rcur_left(&c), 3);
	assert_int_equal(rcur_skip(&c, 4), ERR_MALFORMED);
	assert_int_equal(rcur_skip(&c, SIZE_MAX), ERR_MALFORMED);
	assert_int_equal(rcur_skip(&c, 3), 0);
	assert_int_equal(rcur_u8(&c, &b), ERR_MALFORMED);
}

static void signed_roundtrip(void **state)
{
	struct wbuf b;
	struct rcur c;
	int32_t v;
	uint64_t u;

	(void)state;
	wbuf_init(&b, 64);
	assert_int_equal(wbuf_i32le(&b, -1), 0);
	assert_int_equal(wbuf_u64le(&b, 0x0102030405060708ULL), 0);
	assert_int_equal(wbuf_u64be(&b, 0x0102030405060708ULL), 0);
	rcur_init(&c, b.p, b.len);
	assert_int_equal(rcur_i32le(&c, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(rcur_u64le(&c, &u), 0);
	assert_int_equal(u, 0x0102030405060708ULL);
	assert_int_equal(rcur_u64be(&c, &u), 0);
	assert_int_equal(u, 0x0102030405060708ULL);
	assert_int_equal(b.p[12], 1);
	wbuf_free(&b);
}

static void wbuf_respects_limit(void **state)
{
	struct wbuf b;
	uint8_t chunk[100];
	uint8_t *p;
	size_t len;

	(void)state;
	memset(chunk, 0xab, sizeof(chunk));
	wbuf_init(&b, 250);
	assert_int_equal(wbuf_put(&b, chunk, 100), 0);
	assert_int_equal(wbuf_put(&b, chunk, 100), 0);
	assert_int_equal(wbuf_put(&b, chunk, 100), ERR_TOOBIG);
	assert_int_equal(b.len, 200);
	assert_true(b.cap <= 250);
	assert_int_equal(wbuf_put(&b, chunk, 50), 0);
	assert_int_equal(wbuf_u8(&b, 1), ERR_TOOBIG);
	p = wbuf_take(&b, &len);
	assert_int_equal(len, 250);
	assert_int_equal(p[249], 0xab);
	assert_null(b.p);
	free(p);
}

static void printf_appends_within_limit(void **state)
{
	struct wbuf b;

	(void)state;
	wbuf_init(&b, 16);
	assert_int_equal(wbuf_printf(&b, "%s=%d", "abc", 42), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.p, "abc=42", 6);
	/* Growth past the first allocation keeps what was there. */
	assert_int_equal(wbuf_printf(&b, "%08x", 0xbeefu), 0);
	assert_int_equal(b.len, 14);
	assert_memory_equal(b.p, "abc=420000beef", 14);
	/* Two more bytes fill the limit exactly (no room for a NUL). */
	assert_int_equal(wbuf_printf(&b, "%s", "xy"), 0);
	assert_int_equal(b.len, 16);
	assert_memory_equal(b.p + 14, "xy", 2);
	/* Past the limit: refused, buffer unchanged. */
	assert_int_equal(wbuf_printf(&b, "z"), ERR_TOOBIG);
	assert_int_equal(b.len, 16);
	wbuf_free(&b);
}

static void crc32c_known_vectors(void **state)
{
	uint8_t zeros[32] = {0};

	(void)state;
	/* RFC 3720 (iSCSI) appendix B.4 test vectors. */
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c(0, zeros, 32), 0x8a9136aau);
	/* Incremental equals one-shot. */
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
	assert_int_equal(crc32c_portable(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c_portable(0, zeros, 32), 0x8a9136aau);
}

/* The instruction path (where the CPU has one) and the table agree on
 * every length and alignment: the unaligned head, the 8-byte body and the
 * tail are separate loops, and a sum split anywhere equals the whole. */
static void crc32c_paths_agree(void **state)
{
	uint8_t buf[600];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; n + off <= 530; n += (n < 40 ? 1 : 37)) {
			uint32_t want = crc32c_portable(7, buf + off, n);

			assert_int_equal(crc32c(7, buf + off, n), want);
			assert_int_equal(
				crc32c(crc32c(7, buf + off, n / 3),
				       buf + off + n / 3, n - n / 3),
				want);
		}
	/* A flipped bit anywhere changes the sum. */
	for (size_t i = 0; i < 64; i++) {
		uint32_t before = crc32c(0, buf, 64);

		buf[i] ^= 0x10;
		assert_int_not_equal(crc32c(0, buf, 64), before);
		buf[i] ^= 0x10;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cursor_reads_and_stops_at_end),
		cmocka_unit_test(signed_roundtrip),
		cmocka_unit_test(wbuf_respects_limit),
		cmocka_unit_test(printf_appends_within_limit),
		cmocka_unit_test(crc32c_known_vectors),
		cmocka_unit_test(crc32c_paths_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
