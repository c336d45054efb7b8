/*
 * Unit tests for node/snapfile.h, the backup file: a file written with
 * the encoder reads back with its header and frames intact; cut at EVERY
 * length it is refused as truncated (ERR_CORRUPT or, inside the magic,
 * ERR_MALFORMED); with ANY one bit flipped it is refused; trailing bytes,
 * a future format version and a frame length past the bound are refused
 * with a message naming the problem. Files live in memory (fmemopen).
 */
#include "tests/lib/cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/snapfile.h"

/* A file of three frames of 1, 300 and 5 bytes. */
static size_t make(uint8_t *out, size_t cap, uint32_t version)
{
	static const size_t lens[] = {1, 300, 5};
	struct snapfile_header h = {.version = version, .index = 1234,
				    .term = 7, .created_ms = 99};
	struct snapfile_enc e;
	uint8_t frame[300];
	size_t n = 0;

	for (size_t i = 0; i < SNAPFILE_ID_LEN; i++)
		h.cluster_id[i] = (uint8_t)(0xa0 + i);
	snapfile_enc_init(&e);
	snapfile_enc_header(&e, &h, out);
	n = SNAPFILE_HEADER_LEN;
	for (size_t f = 0; f < 3; f++) {
		memset(frame, (int)('a' + f), sizeof(frame));
		snapfile_enc_frame(&e, lens[f], out + n);
		n += 4;
		memcpy(out + n, frame, lens[f]);
		snapfile_enc_bytes(&e, frame, lens[f]);
		n += lens[f];
	}
	snapfile_enc_end(&e, out + n);
	n += 4 + SNAPFILE_SUM_LEN;
	assert_true(n <= cap);
	return n;
}

struct seen {
	size_t frames, bytes;
	uint8_t first[3];
};

static int on_frame(void *arg, const uint8_t *p, size_t n)
{
	struct seen *s = arg;

	if (s->frames < 3)
		s->first[s->frames] = p[0];
	s->frames++;
	s->bytes += n;
	return 0;
}

static int read_buf(uint8_t *buf, size_t n, struct snapfile_header *h,
		    struct seen *s, char *err, size_t errsz)
{
	/* fmemopen refuses size 0: an empty file is a 1-byte buffer read
	 * through a stream that ends at once. */
	FILE *f = fmemopen(buf, n ? n : 1, "rb");
	int rv;

	assert_non_null(f);
	if (n == 0)
		fseek(f, 0, SEEK_END);
	rv = snapfile_read(f, h, on_frame, s, err, errsz);
	fclose(f);
	return rv;
}

static void test_roundtrip(void **state)
{
	uint8_t buf[1024];
	struct snapfile_header h;
	struct seen s = {0};
	char err[SNAPFILE_ERR_MAX];
	size_t n = make(buf, sizeof(buf), SNAPFILE_VERSION);

	(void)state;
	assert_int_equal(read_buf(buf, n, &h, &s, err, sizeof(err)), 0);
	assert_int_equal(h.version, SNAPFILE_VERSION);
	assert_int_equal(h.index, 1234);
	assert_int_equal(h.term, 7);
	assert_int_equal(h.created_ms, 99);
	assert_int_equal(h.cluster_id[15], 0xaf);
	assert_int_equal(s.frames, 3);
	assert_int_equal(s.bytes, 306);
	assert_int_equal(s.first[0], 'a');
	assert_int_equal(s.first[2], 'c');
}

static void test_every_truncation(void **state)
{
	uint8_t buf[1024];
	struct snapfile_header h;
	char err[SNAPFILE_ERR_MAX];
	size_t n = make(buf, sizeof(buf), SNAPFILE_VERSION);

	(void)state;
	for (size_t cut = 0; cut < n; cut++) {
		struct seen s = {0};
		int rv = read_buf(buf, cut, &h, &s, err, sizeof(err));

		if (cut < SNAPFILE_MAGIC_LEN) {
			assert_int_equal(rv, ERR_MALFORMED);
			continue;
		}
		assert_int_equal(rv, ERR_CORRUPT);
		assert_non_null(strstr(err, "truncated"));
	}
}

static void test_every_bit_flip(void **state)
{
	uint8_t buf[1024];
	struct snapfile_header h;
	char err[SNAPFILE_ERR_MAX];
	size_t n = make(buf, sizeof(buf), SNAPFILE_VERSION);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct seen s = {0};
			int rv;

			buf[i] ^= (uint8_t)(1u << bit);
			rv = read_buf(buf, n, &h, &s, err, sizeof(err));
			buf[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(rv, 0);
			assert_true(err[0] != '\0');
		}
	}
}

static void test_trailing_version_bound(void **state)
{
	uint8_t buf[1024];
	struct snapfile_header h;
	struct seen s = {0};
	char err[SNAPFILE_ERR_MAX];
	size_t n = make(buf, sizeof(buf), SNAPFILE_VERSION);

	(void)state;
	buf[n] = 0;
	assert_int_equal(read_buf(buf, n + 1, &h, &s, err, sizeof(err)),
			 ERR_CORRUPT);
	assert_non_null(strstr(err, "bytes follow the checksum"));

	n = make(buf, sizeof(buf), SNAPFILE_VERSION + 1);
	assert_int_equal(read_buf(buf, n, &h, &s, err, sizeof(err)),
			 ERR_VERSION);
	assert_non_null(strstr(err, "version"));

	n = make(buf, sizeof(buf), SNAPFILE_VERSION);
	memset(buf + SNAPFILE_HEADER_LEN, 0xff, 4); /* the first frame's length */
	memset(&s, 0, sizeof(s));
	assert_int_equal(read_buf(buf, n, &h, &s, err, sizeof(err)),
			 ERR_CORRUPT);
	assert_non_null(strstr(err, "claims"));
	assert_int_equal(s.frames, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_trailing_version_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
