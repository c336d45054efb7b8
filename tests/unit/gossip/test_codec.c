/*
 * The gossip wire format: every message type round-trips, every bound is
 * enforced, and no byte string makes the decoder misbehave.
 */
#include "tests/lib/cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/prng.h"
#include "gossip/codec.h"

/* One packet holding every message type. */
static void encode_all(struct mp_writer *w)
{
	const uint8_t val[3] = {1, 0, 2};

	gossip_enc_header(w, "alpha", "10.0.0.1:7946", 9);
	gossip_enc_ping(w, GMSG_PING, 7, "beta", NULL);
	gossip_enc_ack(w, GMSG_ACK, 7);
	gossip_enc_ack(w, GMSG_NACK, 8);
	gossip_enc_ping(w, GMSG_PING_REQ, 9, "gamma", "10.0.0.3:7946");
	gossip_enc_alive(w, "beta", "10.0.0.2:7946", 12345678901ULL);
	gossip_enc_accuse(w, GMSG_SUSPECT, "gamma", 3, "alpha");
	gossip_enc_accuse(w, GMSG_DEAD, "gamma", 4, "gamma");
	gossip_enc_state(w, "alpha", "role", 99, val, sizeof(val));
	gossip_enc_pp_begin(w, GOSSIP_PP_JOIN, 2);
	gossip_enc_pp_member(w, "alpha", "10.0.0.1:7946", 1, GOSSIP_ALIVE, 1);
	gossip_enc_pp_kv(w, "role", 5, val, sizeof(val));
	gossip_enc_pp_member(w, "beta", "10.0.0.2:7946", 2, GOSSIP_LEFT, 0);
}

static int str_is(struct gstr s, const char *c)
{
	return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

static void roundtrip_every_type(void **state)
{
	struct mp_writer w;
	struct gossip_wire *d = malloc(sizeof(*d));
	struct gpp_member pm;
	const struct gmsg *m;

	(void)state;
	mp_writer_init(&w, 1 << 16);
	encode_all(&w);
	assert_int_equal(mp_writer_error(&w), 0);
	assert_int_equal(gossip_decode(d, mp_writer_data(&w), mp_writer_len(&w)), 0);
	assert_true(str_is(d->from_name, "alpha"));
	assert_true(str_is(d->from_addr, "10.0.0.1:7946"));
	assert_int_equal(d->n, 9);
	m = d->msgs;
	assert_int_equal(m[0].type, GMSG_PING);
	assert_int_equal(m[0].seq, 7);
	assert_true(str_is(m[0].name, "beta"));
	assert_int_equal(m[1].type, GMSG_ACK);
	assert_int_equal(m[2].type, GMSG_NACK);
	assert_int_equal(m[2].seq, 8);
	assert_int_equal(m[3].type, GMSG_PING_REQ);
	assert_true(str_is(m[3].addr, "10.0.0.3:7946"));
	assert_int_equal(m[4].inc, 12345678901ULL);
	assert_true(str_is(m[4].addr, "10.0.0.2:7946"));
	assert_int_equal(m[5].type, GMSG_SUSPECT);
	assert_true(str_is(m[5].from, "alpha"));
	assert_int_equal(m[6].type, GMSG_DEAD);
	assert_int_equal(m[6].inc, 4);
	assert_int_equal(m[7].type, GMSG_STATE);
	assert_true(str_is(m[7].key, "role"));
	assert_int_equal(m[7].inc, 99);
	assert_int_equal(m[7].value_len, 3);
	assert_int_equal(m[7].value[2], 2);
	assert_int_equal(m[8].type, GMSG_PUSHPULL);
	assert_int_equal(m[8].flags, GOSSIP_PP_JOIN);
	assert_int_equal(m[8].n_members, 2);
	assert_int_equal(gossip_pp_member(&m[8], 0, &pm), 0);
	assert_true(str_is(pm.name, "alpha"));
	assert_int_equal(pm.n_kv, 1);
	assert_int_equal(pm.kv[0].version, 5);
	assert_int_equal(gossip_pp_member(&m[8], 1, &pm), 0);
	assert_int_equal(pm.status, GOSSIP_LEFT);
	assert_int_equal(gossip_pp_member(&m[8], 2, &pm), ERR_INVAL);
	gossip_wire_free(d);
	free(d);
	mp_writer_free(&w);
}

static void roundtrip_digest_and_want(void **state)
{
	struct mp_writer w;
	struct gossip_wire *d = malloc(sizeof(*d));
	struct gpp_digest e;
	struct gstr s;
	struct gstr name = {"beta", 4};
	uint32_t sig = gossip_kv_sig_add(gossip_kv_sig_add(0, "a", 1), "b", 2);

	(void)state;
	/* The signature does not depend on the order of the keys. */
	assert_int_equal(sig, gossip_kv_sig_add(gossip_kv_sig_add(0, "b", 2), "a", 1));
	assert_int_not_equal(sig, gossip_kv_sig_add(gossip_kv_sig_add(0, "a", 1), "b", 3));
	mp_writer_init(&w, 4096);
	gossip_enc_header(&w, "alpha", "addr", 2);
	gossip_enc_digest_begin(&w, GOSSIP_PP_JOIN, 2);
	gossip_enc_digest_entry(&w, "alpha", 3, GOSSIP_ALIVE, sig);
	gossip_enc_digest_entry(&w, "beta", 9, GOSSIP_DEAD, 0);
	gossip_enc_want_begin(&w, 1);
	gossip_enc_want_name(&w, name);
	assert_int_equal(gossip_decode(d, mp_writer_data(&w), mp_writer_len(&w)), 0);
	assert_int_equal(d->n, 2);
	assert_int_equal(d->msgs[0].type, GMSG_PP_DIGEST);
	assert_int_equal(d->msgs[0].flags, GOSSIP_PP_JOIN);
	assert_int_equal(d->msgs[0].n_members, 2);
	assert_int_equal(gossip_pp_digest(&d->msgs[0], 0, &e), 0);
	assert_true(str_is(e.name, "alpha"));
	assert_int_equal(e.inc, 3);
	assert_int_equal(e.sig, sig);
	assert_int_equal(gossip_pp_digest(&d->msgs[0], 1, &e), 0);
	assert_int_equal(e.status, GOSSIP_DEAD);
	assert_int_equal(gossip_pp_digest(&d->msgs[0], 2, &e), ERR_INVAL);
	assert_int_equal(d->msgs[1].type, GMSG_PP_WANT);
	assert_int_equal(gossip_pp_want(&d->msgs[1], 0, &s), 0);
	assert_true(str_is(s, "beta"));
	gossip_wire_free(d);
	/* A digest entry with a status out of range is malformed. */
	mp_writer_reset(&w);
	gossip_enc_header(&w, "alpha", "addr", 1);
	gossip_enc_digest_begin(&w, 0, 1);
	gossip_enc_digest_entry(&w, "alpha", 3, 7, 0);
	assert_int_equal(gossip_decode(d, mp_writer_data(&w), mp_writer_len(&w)),
			 ERR_MALFORMED);
	free(d);
	mp_writer_free(&w);
}

static int decode_bytes(const uint8_t *b, size_t n)
{
	struct gossip_wire *d = malloc(sizeof(*d));
	int rc = gossip_decode(d, b, n);

	if (rc == 0)
		gossip_wire_free(d);
	free(d);
	return rc;
}

/* Builds [1, "a", "b", [msg]] around one msg written by fn. */
static int decode_one(void (*fn)(struct mp_writer *))
{
	struct mp_writer w;
	int rc;

	mp_writer_init(&w, 1 << 20);
	mp_w_array(&w, 4);
	mp_w_uint(&w, 1);
	mp_w_cstr(&w, "a");
	mp_w_cstr(&w, "b");
	mp_w_array(&w, 1);
	fn(&w);
	rc = decode_bytes(mp_writer_data(&w), mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

static void long_name(struct mp_writer *w)
{
	char n[GOSSIP_NAME_MAX + 2];

	memset(n, 'x', sizeof(n) - 1);
	n[sizeof(n) - 1] = '\0';
	gossip_enc_alive(w, n, "addr", 1);
}

static void empty_name(struct mp_writer *w)
{
	gossip_enc_alive(w, "", "addr", 1);
}

static void nul_in_name(struct mp_writer *w)
{
	mp_w_array(w, 4);
	mp_w_uint(w, GMSG_ALIVE);
	mp_w_str(w, "a\0b", 3);
	mp_w_cstr(w, "addr");
	mp_w_uint(w, 1);
}

static void big_value(struct mp_writer *w)
{
	uint8_t v[GOSSIP_VALUE_MAX + 1] = {0};

	gossip_enc_state(w, "a", "k", 1, v, sizeof(v));
}

static void negative_inc(struct mp_writer *w)
{
	mp_w_array(w, 4);
	mp_w_uint(w, GMSG_ALIVE);
	mp_w_cstr(w, "a");
	mp_w_cstr(w, "addr");
	mp_w_int(w, -1);
}

static void extra_field(struct mp_writer *w)
{
	mp_w_array(w, 3);
	mp_w_uint(w, GMSG_ACK);
	mp_w_uint(w, 1);
	mp_w_uint(w, 2);
}

static void too_many_kv(struct mp_writer *w)
{
	gossip_enc_pp_begin(w, 0, 1);
	gossip_enc_pp_member(w, "a", "b", 1, GOSSIP_ALIVE,
			     GOSSIP_STATE_KEYS_MAX + 1);
	for (int i = 0; i <= GOSSIP_STATE_KEYS_MAX; i++)
		gossip_enc_pp_kv(w, "k", 1, NULL, 0);
}

static void bad_status(struct mp_writer *w)
{
	gossip_enc_pp_begin(w, 0, 1);
	gossip_enc_pp_member(w, "a", "b", 1, 9, 0);
}

static void unknown_type(struct mp_writer *w)
{
	mp_w_array(w, 2);
	mp_w_uint(w, 200);
	mp_w_cstr(w, "from the future");
}

static void malformed_rejected(void **state)
{
	(void)state;
	assert_int_equal(decode_one(long_name), ERR_MALFORMED);
	assert_int_equal(decode_one(empty_name), ERR_MALFORMED);
	assert_int_equal(decode_one(nul_in_name), ERR_MALFORMED);
	assert_int_equal(decode_one(big_value), ERR_MALFORMED);
	assert_int_equal(decode_one(negative_inc), ERR_MALFORMED);
	assert_int_equal(decode_one(extra_field), ERR_MALFORMED);
	assert_int_equal(decode_one(too_many_kv), ERR_MALFORMED);
	assert_int_equal(decode_one(bad_status), ERR_MALFORMED);
	/* A type from a later version is skipped, not an error. */
	assert_int_equal(decode_one(unknown_type), 0);
}

static void version_and_shape(void **state)
{
	struct mp_writer w;

	(void)state;
	mp_writer_init(&w, 1024);
	mp_w_array(&w, 4);
	mp_w_uint(&w, 2);
	mp_w_cstr(&w, "a");
	mp_w_cstr(&w, "b");
	mp_w_array(&w, 0);
	assert_int_equal(decode_bytes(mp_writer_data(&w), mp_writer_len(&w)),
			 ERR_VERSION);
	mp_writer_reset(&w);
	mp_w_map(&w, 0);
	assert_int_equal(decode_bytes(mp_writer_data(&w), mp_writer_len(&w)),
			 ERR_MALFORMED);
	mp_writer_reset(&w);
	/* More msgs than a packet may carry. */
	gossip_enc_header(&w, "a", "b", GOSSIP_PKT_MSGS_MAX + 1);
	for (int i = 0; i <= GOSSIP_PKT_MSGS_MAX; i++)
		gossip_enc_ack(&w, GMSG_ACK, 1);
	assert_int_equal(decode_bytes(mp_writer_data(&w), mp_writer_len(&w)),
			 ERR_MALFORMED);
	assert_int_equal(decode_bytes(NULL, 0), ERR_MALFORMED);
	mp_writer_free(&w);
}

/* Every truncation of a valid packet is rejected, and random mutations
 * never crash (the fuzz target goes further; this runs under ASan). */
static void truncations_and_mutations(void **state)
{
	struct mp_writer w;
	struct prng r;
	uint8_t *buf;
	size_t len;

	(void)state;
	mp_writer_init(&w, 1 << 16);
	encode_all(&w);
	len = mp_writer_len(&w);
	buf = malloc(len);
	memcpy(buf, mp_writer_data(&w), len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, buf, n);
		assert_int_not_equal(decode_bytes(cut, n), 0);
		free(cut);
	}
	prng_seed(&r, 5);
	for (int i = 0; i < 20000; i++) {
		uint8_t *m = malloc(len);
		int flips = 1 + (int)prng_below(&r, 4);

		memcpy(m, buf, len);
		for (int f = 0; f < flips; f++)
			m[prng_below(&r, len)] = (uint8_t)prng_next(&r);
		(void)decode_bytes(m, len);
		free(m);
	}
	free(buf);
	mp_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip_every_type),
		cmocka_unit_test(roundtrip_digest_and_want),
		cmocka_unit_test(malformed_rejected),
		cmocka_unit_test(version_and_shape),
		cmocka_unit_test(truncations_and_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
