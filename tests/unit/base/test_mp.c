#include "tests/lib/cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mp.h"
#include "base/prng.h"

static void roundtrip_map(void **state)
{
	struct mp_writer w;
	struct mp_doc doc;
	const msgpack_object *v;
	uint64_t u;
	int64_t i;
	const char *s;
	size_t len;
	char name[8];
	int b;

	(void)state;
	mp_writer_init(&w, 1024);
	mp_w_map(&w, 5);
	mp_w_cstr(&w, "v");
	mp_w_uint(&w, 1);
	mp_w_cstr(&w, "neg");
	mp_w_int(&w, -5);
	mp_w_cstr(&w, "name");
	mp_w_cstr(&w, "alice");
	mp_w_cstr(&w, "ok");
	mp_w_bool(&w, 1);
	mp_w_cstr(&w, "list");
	mp_w_array(&w, 2);
	mp_w_uint(&w, 10);
	mp_w_nil(&w);
	assert_int_equal(mp_writer_error(&w), 0);

	assert_int_equal(mp_parse(&doc, mp_writer_data(&w), mp_writer_len(&w)), 0);
	assert_int_equal(mp_map_u64(doc.root, "v", &u), 0);
	assert_int_equal(u, 1);
	assert_int_equal(mp_map_get(doc.root, "neg", &v), 0);
	assert_int_equal(mp_get_i64(v, &i), 0);
	assert_int_equal(i, -5);
	/* A negative number is not a u64. */
	assert_int_equal(mp_get_u64(v, &u), ERR_MALFORMED);
	assert_int_equal(mp_map_str(doc.root, "name", &s, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(s, "alice", 5);
	assert_int_equal(mp_map_get(doc.root, "name", &v), 0);
	assert_int_equal(mp_get_strcpy(v, name, sizeof(name)), 0);
	assert_string_equal(name, "alice");
	assert_int_equal(mp_get_strcpy(v, name, 5), ERR_MALFORMED);
	assert_int_equal(mp_map_get(doc.root, "ok", &v), 0);
	assert_int_equal(mp_get_bool(v, &b), 0);
	assert_true(b);
	assert_int_equal(mp_map_get(doc.root, "list", &v), 0);
	assert_int_equal(mp_array_at(v, 1, &v), 0);
	assert_true(mp_is_nil(v));
	assert_int_equal(mp_map_get(doc.root, "missing", &v), ERR_NOTFOUND);
	assert_int_equal(mp_map_u64(doc.root, "name", &u), ERR_MALFORMED);
	mp_doc_free(&doc);
	mp_writer_free(&w);
}

static void writer_limit_is_sticky(void **state)
{
	struct mp_writer w;
	char big[100];
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big));
	mp_writer_init(&w, 64);
	mp_w_str(&w, big, sizeof(big));
	mp_w_uint(&w, 1);
	assert_int_equal(mp_writer_error(&w), ERR_TOOBIG);
	assert_int_equal(mp_writer_take(&w, &buf, &len), ERR_TOOBIG);
	mp_writer_reset(&w);
	mp_w_uint(&w, 7);
	assert_int_equal(mp_writer_take(&w, &buf, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(buf[0], 7);
	free(buf);
	mp_writer_free(&w);
}

static int parse_rv(const uint8_t *buf, size_t len)
{
	struct mp_doc doc;
	int rv = mp_parse(&doc, buf, len);

	if (rv == 0)
		mp_doc_free(&doc);
	return rv;
}

static void malformed_inputs_are_rejected(void **state)
{
	/* An array32 header claiming 4 billion elements, with none present:
	 * msgpack-c alone would try to allocate 64 GB. */
	const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	const uint8_t map_bomb[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01};
	const uint8_t short_str[] = {0xa5, 'a', 'b'};
	const uint8_t str32_len[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
	const uint8_t never_used[] = {0xc1};
	const uint8_t trailing[] = {0x01, 0x02};
	const uint8_t short_u64[] = {0xcf, 0, 0, 0};
	const uint8_t ext_short[] = {0xc7, 0x05, 0x01, 0x00};
	uint8_t deep[MP_DEPTH_MAX + 2];

	(void)state;
	assert_int_equal(parse_rv(bomb, sizeof(bomb)), ERR_MALFORMED);
	assert_int_equal(parse_rv(map_bomb, sizeof(map_bomb)), ERR_MALFORMED);
	assert_int_equal(parse_rv(short_str, sizeof(short_str)), ERR_MALFORMED);
	assert_int_equal(parse_rv(str32_len, sizeof(str32_len)), ERR_MALFORMED);
	assert_int_equal(parse_rv(never_used, 1), ERR_MALFORMED);
	assert_int_equal(parse_rv(trailing, 2), ERR_MALFORMED);
	assert_int_equal(parse_rv(short_u64, sizeof(short_u64)), ERR_MALFORMED);
	assert_int_equal(parse_rv(ext_short, sizeof(ext_short)), ERR_MALFORMED);
	assert_int_equal(parse_rv(trailing, 0), ERR_MALFORMED);
	/* Nesting deeper than the bound: [[[[...1]]]] */
	memset(deep, 0x91, sizeof(deep));
	deep[sizeof(deep) - 1] = 0x01;
	assert_int_equal(parse_rv(deep, sizeof(deep)), ERR_MALFORMED);
	/* ...while exactly the bound is fine. */
	assert_int_equal(parse_rv(deep + 2, sizeof(deep) - 2), 0);
}

static void validate_reports_consumed(void **state)
{
	/* [1, "ab", {}] followed by garbage that validate must not read. */
	const uint8_t buf[] = {0x93, 0x01, 0xa2, 'a', 'b', 0x80, 0xc1, 0xc1};
	size_t consumed = 0;

	(void)state;
	assert_int_equal(mp_validate(buf, sizeof(buf), 4, &consumed), 0);
	assert_int_equal(consumed, 6);
	assert_int_equal(mp_validate(buf, 5, 4, &consumed), ERR_MALFORMED);
}

static void type_mismatches_are_malformed(void **state)
{
	const uint8_t arr[] = {0x92, 0xcd, 0x01, 0x00, 0xc3}; /* [256, true] */
	struct mp_doc doc;
	const msgpack_object *o;
	uint32_t n;
	const char *s;
	size_t len;
	double d;

	(void)state;
	assert_int_equal(mp_parse(&doc, arr, sizeof(arr)), 0);
	assert_int_equal(mp_get_map(doc.root, &n), ERR_MALFORMED);
	assert_int_equal(mp_get_array(doc.root, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(mp_array_at(doc.root, 2, &o), ERR_MALFORMED);
	assert_int_equal(mp_array_at(doc.root, 0, &o), 0);
	assert_int_equal(mp_get_str(o, &s, &len), ERR_MALFORMED);
	assert_int_equal(mp_get_double(o, &d), 0);
	assert_true(d == 256.0);
	assert_int_equal(mp_map_get(doc.root, "x", &o), ERR_MALFORMED);
	mp_doc_free(&doc);
}

static void random_bytes_never_crash(void **state)
{
	struct prng p;
	uint8_t buf[64];

	(void)state;
	/* A smoke test beside the fuzz target: arbitrary input either
	 * parses or is rejected; under ASan any overread would abort. */
	prng_seed(&p, 1234);
	for (int i = 0; i < 200000; i++) {
		size_t len = (size_t)prng_below(&p, sizeof(buf) + 1);

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)prng_next(&p);
		/* Bias toward container headers to reach deep paths. */
		if (len > 0 && prng_chance(&p, 0.5))
			buf[0] = (uint8_t)(0x90 | prng_below(&p, 16));
		int rv = parse_rv(buf, len);
		assert_true(rv == 0 || rv == ERR_MALFORMED);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip_map),
		cmocka_unit_test(writer_limit_is_sticky),
		cmocka_unit_test(malformed_inputs_are_rejected),
		cmocka_unit_test(validate_reports_consumed),
		cmocka_unit_test(type_mismatches_are_malformed),
		cmocka_unit_test(random_bytes_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
