/*
 * Fuzz target: the transport's decoders (node/transport/wire.h). The
 * first byte picks what the rest is:
 *   0  a TCP byte stream, cut into chunks whose sizes come from the input,
 *      through the framer; every message goes to the hello decoders and to
 *      the frame opener under a fixed key;
 *   1  a hello reply (msg2) to a live initiator;
 *   2  a hello finish (msg3) to a live responder that accepted a hello;
 *   3  a datagram under a fixed key, then the replay cache;
 *   4  a payload sealed as a frame and a datagram, which must open to
 *      the same bytes (a roundtrip property).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/transport/transport.h"
#include "node/transport/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[TP_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
static uint8_t scratch[1 << 17];

static void on_message(uint8_t *msg, size_t len, const uint8_t *hdr,
		       uint64_t seq)
{
	struct tpw_msg1 m1;
	struct tpw_msg2_hdr m2;
	const uint8_t *pt;
	size_t pt_len;
	uint8_t ch;
	int rv;

	rv = tpw_msg1_parse(msg, len, &m1);
	ASSERT(rv == 0 || rv == ERR_MALFORMED);
	if (rv == 0)
		ASSERT(strlen(m1.token_id) == 0 ||
		       strlen(m1.token_id) == TP_TOKEN_ID_HEX);
	rv = tpw_msg2_hdr_parse(msg, len, &m2);
	ASSERT(rv == 0 || rv == ERR_MALFORMED);
	rv = tpw_frame_open(key, seq, hdr, msg, len, &ch, &pt, &pt_len);
	ASSERT(rv == ERR_AUTH || rv == ERR_MALFORMED);
}

static void fuzz_stream(const uint8_t *p, size_t n)
{
	struct tpw_framer f;
	uint8_t *msg;
	size_t off = 0, used, len, chunk;
	uint64_t seq = 0;
	int rv;

	tpw_framer_init(&f, 4096);
	/* Bounded: every turn consumes at least one byte. */
	while (off < n) {
		chunk = 1 + p[off] % 64;
		off++;
		if (chunk > n - off)
			chunk = n - off;
		rv = tpw_framer_feed(&f, p + off, chunk, &used, &msg, &len);
		ASSERT(used <= chunk);
		off += used;
		if (rv < 0)
			break;
		if (rv == 1)
			on_message(msg, len, tpw_framer_hdr(&f), seq++);
	}
	tpw_framer_free(&f);
}

static void fuzz_msg2(const uint8_t *p, size_t n)
{
	struct tpw_hs hs;
	uint8_t pk[32], sk[32], m1[TPW_HS_MSG_MAX];
	size_t n1;
	int rv;

	tp_keypair(pk, sk);
	tpw_hs_init(&hs, 1, pk, sk);
	tpw_hs_write1(&hs, TPW_MODE_CLUSTER, NULL, m1, &n1);
	rv = tpw_hs_read2(&hs, m1, n1, key, p, n);
	ASSERT(rv == ERR_AUTH || rv == ERR_MALFORMED || rv == ERR_VERSION);
	tpw_hs_wipe(&hs);
}

static void fuzz_msg3(const uint8_t *p, size_t n)
{
	struct tpw_hs i, r;
	struct tpw_msg1 m;
	uint8_t pk[32], sk[32], m1[TPW_HS_MSG_MAX], m2[TPW_HS_MSG_MAX];
	size_t n1, n2;
	char addr[TP_ADDR_MAX];
	int rv;

	tp_keypair(pk, sk);
	tpw_hs_init(&i, 1, pk, sk);
	tpw_hs_init(&r, 0, pk, sk);
	tpw_hs_write1(&i, TPW_MODE_CLUSTER, NULL, m1, &n1);
	ASSERT(tpw_msg1_parse(m1, n1, &m) == 0);
	ASSERT(tpw_hs_write2(&r, m1, n1, &m, 1, key, m2, &n2) == 0);
	rv = tpw_hs_read3(&r, p, n, addr);
	ASSERT(rv == ERR_AUTH || rv == ERR_MALFORMED);
	tpw_hs_wipe(&i);
	tpw_hs_wipe(&r);
}

static void fuzz_dgram(const uint8_t *p, size_t n)
{
	static struct tpw_replay replay;
	static int init;
	struct tpw_dgram d;
	int rv;

	if (n > sizeof(scratch))
		return;
	if (!init) {
		tpw_replay_init(&replay);
		init = 1;
	}
	rv = tpw_dgram_open(key, p, n, scratch, &d);
	ASSERT(rv == 0 || rv == ERR_AUTH || rv == ERR_MALFORMED ||
	       rv == ERR_VERSION);
	if (n >= 2 + TPW_NONCE + 8) {
		uint64_t ts = 0;

		memcpy(&ts, p + 2 + TPW_NONCE, 8);
		rv = tpw_replay_check(&replay, p + 2, ts, 1u << 30, 30000);
		ASSERT(rv == 0 || rv == ERR_AGAIN);
	}
}

static void fuzz_roundtrip(const uint8_t *p, size_t n)
{
	static uint8_t buf[TP_DATAGRAM_MAX + TP_DATAGRAM_OVERHEAD + 64];
	struct tpw_dgram d;
	const uint8_t *pt;
	size_t pt_len, len;
	uint8_t ch;

	if (n > TP_DATAGRAM_MAX)
		n = TP_DATAGRAM_MAX;
	tpw_frame_seal(key, 9, TP_CH_GOSSIP, p, n, buf);
	ASSERT(tpw_frame_open(key, 9, buf, buf + 4, n + 17, &ch, &pt,
			      &pt_len) == 0);
	ASSERT(ch == TP_CH_GOSSIP && pt_len == n &&
	       (n == 0 || memcmp(pt, p, n) == 0));
	tpw_dgram_seal(key, 77, "127.0.0.1:1", p, n, buf, &len);
	ASSERT(tpw_dgram_open(key, buf, len, scratch, &d) == 0);
	ASSERT(d.ts_ms == 77 && d.payload_len == n &&
	       strcmp(d.addr, "127.0.0.1:1") == 0 &&
	       (n == 0 || memcmp(d.payload, p, n) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_stream(data + 1, size - 1);
		break;
	case 1:
		fuzz_msg2(data + 1, size - 1);
		break;
	case 2:
		fuzz_msg3(data + 1, size - 1);
		break;
	case 3:
		fuzz_dgram(data + 1, size - 1);
		break;
	default:
		fuzz_roundtrip(data + 1, size - 1);
		break;
	}
	return 0;
}
