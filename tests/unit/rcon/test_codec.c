/* Unit tests of the Source RCON codec (rcon/codec.h). */
#include "tests/lib/cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/prng.h"
#include "rcon/codec.h"

/* Feeds the whole of p in pieces of `step` bytes, collecting up to `max`
 * packets; bodies are copied into bodies[i] (caller frees). Returns the
 * packet count, or the error the decoder returned. */
static int feed_all(struct rcon_decoder *d, const uint8_t *p, size_t n,
		    size_t step, struct rcon_packet *pk, char **bodies,
		    int max)
{
	size_t off = 0;
	int count = 0;

	while (off < n) {
		size_t chunk = n - off < step ? n - off : step;
		size_t used = 0;

		while (chunk > 0) {
			int rv = rcon_decoder_feed(d, p + off, chunk, &used,
						   &pk[count < max ? count : max - 1]);

			if (rv < 0)
				return rv;
			assert_true(used <= chunk);
			off += used;
			chunk -= used;
			if (rv == 1) {
				assert_true(count < max);
				bodies[count] = malloc(pk[count].body_len + 1);
				assert_non_null(bodies[count]);
				memcpy(bodies[count], pk[count].body,
				       pk[count].body_len + 1);
				count++;
			} else {
				assert_int_equal(chunk, 0);
			}
		}
	}
	return count;
}

static void encode_layout(void **state)
{
	uint8_t buf[64];
	size_t w = 0;
	const uint8_t want[] = {9 + 5, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0,
				'h', 'e', 'l', 'o', 0, 0};

	(void)state;
	assert_int_equal(rcon_encode(buf, sizeof(buf), 7, RCON_TYPE_EXEC,
				     "helo", 4, &w), 0);
	assert_int_equal(w, sizeof(want));
	/* The length counts id + type + body + 2 NULs: 4 + 4 + 4 + 2. */
	assert_int_equal(buf[0], 14);
	assert_memory_equal(buf + 1, want + 1, sizeof(want) - 1);
	/* Too small a buffer writes nothing. */
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(rcon_encode(buf, 17, 7, 2, "helo", 4, &w),
			 ERR_TOOBIG);
	assert_int_equal(buf[0], 0xaa);
	/* Negative ids (the auth failure) encode as two's complement. */
	assert_int_equal(rcon_encode(buf, sizeof(buf), -1, 2, NULL, 0, &w), 0);
	assert_int_equal(w, 14);
	assert_int_equal(buf[4], 0xff);
	assert_int_equal(buf[7], 0xff);
}

static void roundtrip_many(void **state)
{
	struct wbuf b;
	struct rcon_decoder d;
	struct rcon_packet pk[8];
	char *bodies[8] = {0};
	const char *texts[] = {"", "a", "/sc rcon.print('x')",
			       "with\nnewline", "Ünïcödé"};
	int n = (int)(sizeof(texts) / sizeof(texts[0]));

	(void)state;
	wbuf_init(&b, 1 << 16);
	for (int i = 0; i < n; i++)
		assert_int_equal(rcon_encode_wbuf(&b, i * 1000 - 2,
						  i % 2 ? 0 : 2, texts[i],
						  strlen(texts[i])), 0);
	rcon_decoder_init(&d, RCON_LEN_MAX_TO_CLIENT);
	assert_int_equal(feed_all(&d, b.p, b.len, b.len, pk, bodies, 8), n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(pk[i].id, i * 1000 - 2);
		assert_int_equal(pk[i].type, i % 2 ? 0 : 2);
		assert_string_equal(bodies[i], texts[i]);
		free(bodies[i]);
	}
	assert_false(rcon_decoder_partial(&d));
	assert_int_equal(d.packets, (uint64_t)n);
	rcon_decoder_free(&d);
	wbuf_free(&b);
}

/* Every way of splitting a stream of three packets in two, and every
 * chunk size, decodes to the same packets. */
static void split_at_every_boundary(void **state)
{
	struct wbuf b;
	struct rcon_decoder d;
	struct rcon_packet pk[4];
	char *bodies[4] = {0};

	(void)state;
	wbuf_init(&b, 4096);
	assert_int_equal(rcon_encode_wbuf(&b, 1, 3, "secret", 6), 0);
	assert_int_equal(rcon_encode_wbuf(&b, 2, 2, "", 0), 0);
	assert_int_equal(rcon_encode_wbuf(&b, 3, 0, "reply body", 10), 0);
	for (size_t cut = 0; cut <= b.len; cut++) {
		size_t used = 0, off = 0;
		int count = 0;

		rcon_decoder_init(&d, RCON_LEN_MAX_TO_SERVER);
		/* First part, then second part, draining each. */
		for (int part = 0; part < 2; part++) {
			size_t end = part == 0 ? cut : b.len;

			while (off < end) {
				int rv = rcon_decoder_feed(&d, b.p + off,
							   end - off, &used,
							   &pk[count]);
				assert_true(rv == 0 || rv == 1);
				off += used;
				if (rv == 1)
					count++;
			}
		}
		assert_int_equal(count, 3);
		assert_int_equal(pk[0].id, 1);
		assert_int_equal(pk[1].id, 2);
		assert_int_equal(pk[2].id, 3);
		assert_int_equal(pk[2].body_len, 10);
		assert_memory_equal(pk[2].body, "reply body", 11);
		rcon_decoder_free(&d);
	}
	for (size_t step = 1; step <= b.len; step++) {
		rcon_decoder_init(&d, RCON_LEN_MAX_TO_SERVER);
		assert_int_equal(feed_all(&d, b.p, b.len, step, pk, bodies, 4),
				 3);
		assert_string_equal(bodies[0], "secret");
		assert_string_equal(bodies[1], "");
		assert_string_equal(bodies[2], "reply body");
		for (int i = 0; i < 3; i++)
			free(bodies[i]);
		rcon_decoder_free(&d);
	}
	wbuf_free(&b);
}

static void expect_malformed(const uint8_t *p, size_t n, uint32_t len_max)
{
	struct rcon_decoder d;
	struct rcon_packet pk;
	size_t used = 0, off = 0;
	int rv = 0;

	rcon_decoder_init(&d, len_max);
	while (off < n) {
		rv = rcon_decoder_feed(&d, p + off, n - off, &used, &pk);
		off += used;
		if (rv < 0)
			break;
	}
	assert_int_equal(rv, ERR_MALFORMED);
	/* Sticky: later input is refused too. */
	assert_int_equal(rcon_decoder_feed(&d, p, n, &used, &pk),
			 ERR_MALFORMED);
	assert_int_equal(used, 0);
	rcon_decoder_reset(&d);
	assert_int_equal(rcon_decoder_feed(&d, p, 1, &used, &pk), 0);
	rcon_decoder_free(&d);
}

static void lengths_checked(void **state)
{
	uint8_t p[32] = {0};
	struct rcon_decoder d;
	struct rcon_packet pk;
	size_t used;

	(void)state;
	/* Undersized: 9 cannot hold id, type and two NULs. */
	for (uint32_t len = 0; len < RCON_LEN_MIN; len++) {
		put_u32le(p, len);
		expect_malformed(p, sizeof(p), 4096);
	}
	/* Negative lengths. */
	put_u32le(p, (uint32_t)-1);
	expect_malformed(p, 4, 4096);
	put_u32le(p, 0x80000000u);
	expect_malformed(p, 4, 4096);
	/* Oversized: one past the limit fails before any allocation;
	 * exactly the limit is accepted (it only needs more bytes). */
	put_u32le(p, 4097);
	expect_malformed(p, 4, 4096);
	put_u32le(p, RCON_LEN_MAX_TO_SERVER + 1);
	expect_malformed(p, 4, RCON_LEN_MAX_TO_SERVER);
	rcon_decoder_init(&d, RCON_LEN_MAX_TO_SERVER);
	put_u32le(p, RCON_LEN_MAX_TO_SERVER);
	assert_int_equal(rcon_decoder_feed(&d, p, 4, &used, &pk), 0);
	assert_true(rcon_decoder_partial(&d));
	rcon_decoder_free(&d);
	/* The minimum, 10, is a legal empty body. */
	memset(p, 0, sizeof(p));
	put_u32le(p, 10);
	put_u32le(p + 4, 5);
	rcon_decoder_init(&d, 4096);
	assert_int_equal(rcon_decoder_feed(&d, p, 14, &used, &pk), 1);
	assert_int_equal(used, 14);
	assert_int_equal(pk.id, 5);
	assert_int_equal(pk.body_len, 0);
	assert_string_equal(pk.body, "");
	rcon_decoder_free(&d);
}

static void missing_nuls(void **state)
{
	uint8_t p[64];
	size_t w;

	(void)state;
	assert_int_equal(rcon_encode(p, sizeof(p), 1, 2, "abc", 3, &w), 0);
	p[w - 1] = 'x'; /* the second NUL */
	expect_malformed(p, w, 4096);
	assert_int_equal(rcon_encode(p, sizeof(p), 1, 2, "abc", 3, &w), 0);
	p[w - 2] = 'x'; /* the body's terminator */
	expect_malformed(p, w, 4096);
	/* A body with an interior NUL is legal framing. */
	assert_int_equal(rcon_encode(p, sizeof(p), 1, 2, "a\0c", 3, &w), 0);
	{
		struct rcon_decoder d;
		struct rcon_packet pk;
		size_t used;

		rcon_decoder_init(&d, 4096);
		assert_int_equal(rcon_decoder_feed(&d, p, w, &used, &pk), 1);
		assert_int_equal(pk.body_len, 3);
		assert_int_equal(pk.body[2], 'c');
		rcon_decoder_free(&d);
	}
}

/* A 100 kB reply (Factorio's largest in practice) decodes byte by byte,
 * then the buffer shrinks back for the next small packet. */
static void large_reply(void **state)
{
	size_t n = 100 * 1000;
	char *body = malloc(n);
	struct wbuf b;
	struct rcon_decoder d;
	struct rcon_packet pk[2];
	char *bodies[2] = {0};

	(void)state;
	assert_non_null(body);
	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	wbuf_init(&b, 1 << 20);
	assert_int_equal(rcon_encode_wbuf(&b, 42, 0, body, n), 0);
	assert_int_equal(rcon_encode_wbuf(&b, 43, 0, "ok", 2), 0);
	rcon_decoder_init(&d, RCON_LEN_MAX_TO_CLIENT);
	assert_int_equal(feed_all(&d, b.p, b.len, 1, pk, bodies, 2), 2);
	assert_memory_equal(bodies[0], body, n);
	assert_string_equal(bodies[1], "ok");
	assert_true(d.buf_cap <= 65536);
	free(bodies[0]);
	free(bodies[1]);
	/* The same reply is refused by a decoder with the server's limit. */
	rcon_decoder_free(&d);
	rcon_decoder_init(&d, RCON_LEN_MAX_TO_SERVER);
	assert_int_equal(feed_all(&d, b.p, b.len, 7, pk, bodies, 2),
			 ERR_MALFORMED);
	rcon_decoder_free(&d);
	wbuf_free(&b);
	free(body);
}

/* Random streams of random packets split at random points. */
static void random_streams(void **state)
{
	struct prng r;

	(void)state;
	prng_seed(&r, 12345);
	for (int round = 0; round < 200; round++) {
		struct wbuf b;
		struct rcon_decoder d;
		struct rcon_packet pk[16];
		char *bodies[16] = {0};
		char tmp[600];
		int32_t ids[16];
		size_t lens[16];
		int n = (int)prng_range(&r, 1, 16);

		wbuf_init(&b, 1 << 16);
		for (int i = 0; i < n; i++) {
			lens[i] = (size_t)prng_below(&r, sizeof(tmp));
			for (size_t k = 0; k < lens[i]; k++)
				tmp[k] = (char)prng_range(&r, 1, 255);
			ids[i] = (int32_t)prng_next(&r);
			assert_int_equal(rcon_encode_wbuf(&b, ids[i], 0, tmp,
							  lens[i]), 0);
		}
		rcon_decoder_init(&d, 4096);
		assert_int_equal(feed_all(&d, b.p, b.len,
					  (size_t)prng_range(&r, 1, 700), pk,
					  bodies, 16), n);
		for (int i = 0; i < n; i++) {
			assert_int_equal(pk[i].id, ids[i]);
			assert_int_equal(strlen(bodies[i]), lens[i]);
			free(bodies[i]);
		}
		rcon_decoder_free(&d);
		wbuf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_layout),
		cmocka_unit_test(roundtrip_many),
		cmocka_unit_test(split_at_every_boundary),
		cmocka_unit_test(lengths_checked),
		cmocka_unit_test(missing_nuls),
		cmocka_unit_test(large_reply),
		cmocka_unit_test(random_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
