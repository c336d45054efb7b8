/* Unit tests of the transport's pure parts (node/transport/wire.h) and
 * key helpers: the handshake run between two state machines in memory,
 * sealed frames, the framer, datagrams, the replay cache, tokens. */
#include "tests/lib/cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/err.h"
#include "node/transport/transport.h"
#include "node/transport/wire.h"

struct side {
	uint8_t pk[32], sk[32];
	struct tpw_hs hs;
	uint8_t tx[32], rx[32];
};

/* Runs the three messages between i and r with PSKs psk_i and psk_r;
 * returns the first error, 0 when both hold session keys. */
static int handshake(struct side *i, struct side *r, const uint8_t *psk_i,
		     const uint8_t *psk_r, const char *token_id)
{
	uint8_t m1[TPW_HS_MSG_MAX], m2[TPW_HS_MSG_MAX], m3[TPW_HS_MSG_MAX];
	size_t n1, n2, n3;
	struct tpw_msg1 m;
	char addr[TP_ADDR_MAX];
	int rv;

	tpw_hs_init(&i->hs, 1, i->pk, i->sk);
	tpw_hs_init(&r->hs, 0, r->pk, r->sk);
	tpw_hs_write1(&i->hs, token_id ? TPW_MODE_JOIN : TPW_MODE_CLUSTER,
		      token_id, m1, &n1);
	assert_int_equal(tpw_msg1_parse(m1, n1, &m), 0);
	assert_string_equal(m.token_id, token_id ? token_id : "");
	rv = tpw_hs_write2(&r->hs, m1, n1, &m, tpw_version_pick(m.vmin, m.vmax),
			   psk_r, m2, &n2);
	assert_int_equal(rv, 0);
	if ((rv = tpw_hs_read2(&i->hs, m1, n1, psk_i, m2, n2)) != 0)
		return rv;
	assert_memory_equal(i->hs.rs_pk, r->pk, 32);
	tpw_hs_write3(&i->hs, "127.0.0.1:7946", m3, &n3);
	if ((rv = tpw_hs_read3(&r->hs, m3, n3, addr)) != 0)
		return rv;
	assert_string_equal(addr, "127.0.0.1:7946");
	assert_memory_equal(r->hs.rs_pk, i->pk, 32);
	tpw_hs_split(&i->hs, i->tx, i->rx);
	tpw_hs_split(&r->hs, r->tx, r->rx);
	return 0;
}

static void keys(struct side *s)
{
	memset(s, 0, sizeof(*s));
	tp_keypair(s->pk, s->sk);
}

static void test_handshake_keys_agree(void **state)
{
	struct side i, r;
	uint8_t secret[32], psk[32];

	(void)state;
	keys(&i);
	keys(&r);
	tp_secret_new(secret);
	tp_cluster_psk(secret, psk);
	assert_int_equal(handshake(&i, &r, psk, psk, NULL), 0);
	assert_memory_equal(i.tx, r.rx, 32);
	assert_memory_equal(i.rx, r.tx, 32);
	assert_memory_not_equal(i.tx, i.rx, 32);
}

static void test_handshake_wrong_psk(void **state)
{
	struct side i, r;
	uint8_t a[32], b[32];

	(void)state;
	keys(&i);
	keys(&r);
	randombytes_buf(a, 32);
	randombytes_buf(b, 32);
	assert_int_equal(handshake(&i, &r, a, b, NULL), ERR_AUTH);
}

static void test_handshake_fresh_keys(void **state)
{
	struct side i, r;
	uint8_t psk[32] = {1}, first[32];

	(void)state;
	keys(&i);
	keys(&r);
	assert_int_equal(handshake(&i, &r, psk, psk, NULL), 0);
	memcpy(first, i.tx, 32);
	/* Same static keys and PSK, new ephemerals: new session keys. */
	assert_int_equal(handshake(&i, &r, psk, psk, NULL), 0);
	assert_memory_not_equal(first, i.tx, 32);
}

static void test_handshake_altered(void **state)
{
	struct side i, r;
	uint8_t psk[32] = {7}, m1[512], m2[512];
	size_t n1, n2;
	struct tpw_msg1 m;

	(void)state;
	keys(&i);
	keys(&r);
	tpw_hs_init(&i.hs, 1, i.pk, i.sk);
	tpw_hs_init(&r.hs, 0, r.pk, r.sk);
	tpw_hs_write1(&i.hs, TPW_MODE_CLUSTER, NULL, m1, &n1);
	assert_int_equal(tpw_msg1_parse(m1, n1, &m), 0);
	assert_int_equal(tpw_hs_write2(&r.hs, m1, n1, &m, 1, psk, m2, &n2), 0);
	m2[60] ^= 1; /* inside the sealed static key */
	assert_int_equal(tpw_hs_read2(&i.hs, m1, n1, psk, m2, n2), ERR_AUTH);
}

static void test_msg1_parse_bounds(void **state)
{
	struct side i;
	uint8_t m1[512];
	size_t n1;
	struct tpw_msg1 m;

	(void)state;
	keys(&i);
	tpw_hs_init(&i.hs, 1, i.pk, i.sk);
	tpw_hs_write1(&i.hs, TPW_MODE_JOIN, "0123456789abcdef", m1, &n1);
	for (size_t k = 0; k < n1; k++)
		assert_int_equal(tpw_msg1_parse(m1, k, &m), ERR_MALFORMED);
	assert_int_equal(tpw_msg1_parse(m1, n1, &m), 0);
	m1[10] = 'G'; /* token ids are lower-case hex */
	assert_int_equal(tpw_msg1_parse(m1, n1, &m), ERR_MALFORMED);
	assert_int_equal(tpw_version_pick(9, 12), 0);
	assert_int_equal(tpw_version_pick(0, 5), TP_PROTO_MAX);
}

static void test_frames(void **state)
{
	uint8_t key[32], buf[64 + TPW_FRAME_OVERHEAD], ch;
	const uint8_t *pt;
	size_t len;

	(void)state;
	randombytes_buf(key, 32);
	tpw_frame_seal(key, 5, TP_CH_RAFT, (const uint8_t *)"hello", 5, buf);
	assert_int_equal(tpw_frame_open(key, 5, buf, buf + 4, 5 + 17, &ch, &pt,
					&len),
			 0);
	assert_int_equal(ch, TP_CH_RAFT);
	assert_int_equal(len, 5);
	assert_memory_equal(pt, "hello", 5);
	/* A replayed frame is opened under the next sequence number. */
	tpw_frame_seal(key, 5, TP_CH_RAFT, (const uint8_t *)"hello", 5, buf);
	assert_int_equal(tpw_frame_open(key, 6, buf, buf + 4, 22, &ch, &pt,
					&len),
			 ERR_AUTH);
	tpw_frame_seal(key, 5, TP_CH_RAFT, (const uint8_t *)"hello", 5, buf);
	buf[9] ^= 0x40;
	assert_int_equal(tpw_frame_open(key, 5, buf, buf + 4, 22, &ch, &pt,
					&len),
			 ERR_AUTH);
	assert_int_equal(tpw_frame_open(key, 5, buf, buf + 4, 16, &ch, &pt,
					&len),
			 ERR_MALFORMED);
}

static void test_framer(void **state)
{
	struct tpw_framer f;
	uint8_t in[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'z',
			0, 0, 1, 0};
	uint8_t *msg;
	size_t used, len, off = 0;

	(void)state;
	tpw_framer_init(&f, 16);
	/* One byte at a time: messages complete at the right bytes. */
	for (; off < 6; off++)
		assert_int_equal(tpw_framer_feed(&f, in + off, 1, &used, &msg,
						 &len),
				 0);
	assert_int_equal(tpw_framer_partial(&f), 1);
	assert_int_equal(tpw_framer_feed(&f, in + 6, 1, &used, &msg, &len), 1);
	assert_int_equal(tpw_framer_partial(&f), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(msg, "abc", 3);
	assert_int_equal(tpw_framer_feed(&f, in + 7, 9, &used, &msg, &len), 1);
	assert_int_equal(used, 5);
	assert_memory_equal(msg, "z", 1);
	/* 256 > 16: refused as soon as the prefix is complete. */
	assert_int_equal(tpw_framer_feed(&f, in + 12, 4, &used, &msg, &len),
			 ERR_TOOBIG);
	tpw_framer_free(&f);
	tpw_framer_init(&f, 16);
	assert_int_equal(tpw_framer_feed(&f, (const uint8_t[]){0, 0, 0, 0}, 4,
					 &used, &msg, &len),
			 ERR_MALFORMED);
	tpw_framer_free(&f);
}

static void test_datagrams(void **state)
{
	uint8_t key[32], other[32], out[TP_DATAGRAM_MAX + TP_DATAGRAM_OVERHEAD];
	uint8_t scratch[sizeof(out)], big[TP_DATAGRAM_MAX];
	struct tpw_dgram d;
	size_t n;

	(void)state;
	randombytes_buf(key, 32);
	randombytes_buf(other, 32);
	memset(big, 0xab, sizeof(big));
	tpw_dgram_seal(key, 1234, "[::1]:7946", big, sizeof(big), out, &n);
	assert_true(n <= sizeof(out));
	assert_int_equal(tpw_dgram_open(key, out, n, scratch, &d), 0);
	assert_string_equal(d.addr, "[::1]:7946");
	assert_int_equal(d.ts_ms, 1234);
	assert_int_equal(d.payload_len, sizeof(big));
	assert_memory_equal(d.payload, big, sizeof(big));
	assert_int_equal(tpw_dgram_open(other, out, n, scratch, &d), ERR_AUTH);
	out[1] = 2;
	assert_int_equal(tpw_dgram_open(key, out, n, scratch, &d), ERR_VERSION);
	out[0] = 0;
	assert_int_equal(tpw_dgram_open(key, out, n, scratch, &d),
			 ERR_MALFORMED);
	assert_int_equal(tpw_dgram_open(key, out, 10, scratch, &d),
			 ERR_MALFORMED);
}

static void test_replay_cache(void **state)
{
	struct tpw_replay *r = malloc(sizeof(*r));
	uint8_t nonce[TPW_NONCE], first[TPW_NONCE];
	uint64_t now = 1000000;

	(void)state;
	tpw_replay_init(r);
	randombytes_buf(first, sizeof(first));
	assert_int_equal(tpw_replay_check(r, first, now, now, 100), 0);
	assert_int_equal(tpw_replay_check(r, first, now, now, 100), ERR_AGAIN);
	/* Outside the window on either side. */
	randombytes_buf(nonce, sizeof(nonce));
	assert_int_equal(tpw_replay_check(r, nonce, now - 101, now, 100),
			 ERR_AGAIN);
	assert_int_equal(tpw_replay_check(r, nonce, now + 101, now, 100),
			 ERR_AGAIN);
	/* Fill the cache so the first nonce is evicted: it still cannot
	 * come back, because the floor moved past its stamp. */
	for (int k = 0; k < TPW_REPLAY_N; k++) {
		randombytes_buf(nonce, sizeof(nonce));
		assert_int_equal(tpw_replay_check(r, nonce, now + 1, now, 100),
				 0);
	}
	assert_int_equal(tpw_replay_check(r, first, now, now, 100), ERR_AGAIN);
	randombytes_buf(nonce, sizeof(nonce));
	assert_int_equal(tpw_replay_check(r, nonce, now + 2, now, 100), 0);
	free(r);
}

static void test_tokens(void **state)
{
	char str[TP_TOKEN_STR_MAX], id[TP_TOKEN_ID_HEX + 1];
	char id2[TP_TOKEN_ID_HEX + 1], upper[TP_TOKEN_STR_MAX];
	uint8_t hash[32], secret[32], hash2[32], psk1[32], psk2[32];

	(void)state;
	tp_token_new(str, id, hash);
	assert_int_equal(strlen(str), TP_TOKEN_STR_MAX - 1);
	assert_int_equal(tp_token_parse(str, id2, secret), 0);
	assert_string_equal(id, id2);
	tp_token_hash(secret, hash2);
	assert_memory_equal(hash, hash2, 32);
	/* Both ends derive the same PSK: the server from (id, hash). */
	tp_token_psk(id, hash, psk1);
	tp_token_psk(id2, hash2, psk2);
	assert_memory_equal(psk1, psk2, 32);
	for (size_t k = 0; str[k]; k++)
		upper[k] = (char)(str[k] >= 'a' && str[k] <= 'f' ? str[k] - 32
								  : str[k]);
	upper[strlen(str)] = '\0';
	assert_int_equal(tp_token_parse(upper, id2, secret), 0);
	assert_string_equal(id, id2);
	str[TP_TOKEN_ID_HEX] = ':';
	assert_int_equal(tp_token_parse(str, id2, secret), ERR_MALFORMED);
	assert_int_equal(tp_token_parse("abc.def", id2, secret), ERR_MALFORMED);
	str[TP_TOKEN_ID_HEX] = '.';
	str[20] = 'x';
	assert_int_equal(tp_token_parse(str, id2, secret), ERR_MALFORMED);
}

static void test_key_helpers(void **state)
{
	uint8_t pk[32], sk[32], pk2[32], back[32], secret[32], a[32], b[32];
	char hex[TP_HEX_MAX];

	(void)state;
	tp_keypair(pk, sk);
	tp_public_key(sk, pk2);
	assert_memory_equal(pk, pk2, 32);
	tp_key_to_hex(pk, hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(tp_key_from_hex(hex, back), 0);
	assert_memory_equal(pk, back, 32);
	hex[63] = '\0';
	assert_int_equal(tp_key_from_hex(hex, back), ERR_MALFORMED);
	tp_secret_new(secret);
	tp_cluster_psk(secret, a);
	tp_udp_key(secret, b);
	assert_memory_not_equal(a, b, 32);
	assert_memory_not_equal(a, secret, 32);
}

static void test_addr_check(void **state)
{
	(void)state;
	assert_int_equal(tpw_addr_check("127.0.0.1:7946", 0), 0);
	assert_int_equal(tpw_addr_check("[::1]:1", 0), 0);
	assert_int_equal(tpw_addr_check("0.0.0.0:0", 1), 0);
	assert_int_equal(tpw_addr_check("0.0.0.0:0", 0), ERR_INVAL);
	assert_int_equal(tpw_addr_check("1.2.3.4:65536", 0), ERR_INVAL);
	assert_int_equal(tpw_addr_check("host:80", 0), ERR_INVAL);
	assert_int_equal(tpw_addr_check("::1:80", 0), ERR_INVAL);
	assert_int_equal(tpw_addr_check("1.2.3.4", 0), ERR_INVAL);
	assert_int_equal(tpw_addr_check("1.2.3.4:", 0), ERR_INVAL);
	assert_int_equal(tpw_addr_check("", 0), ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_keys_agree),
		cmocka_unit_test(test_handshake_wrong_psk),
		cmocka_unit_test(test_handshake_fresh_keys),
		cmocka_unit_test(test_handshake_altered),
		cmocka_unit_test(test_msg1_parse_bounds),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_framer),
		cmocka_unit_test(test_datagrams),
		cmocka_unit_test(test_replay_cache),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_key_helpers),
		cmocka_unit_test(test_addr_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
