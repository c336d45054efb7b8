/*
 * hs.c: the handshake, a pure state machine (wire.h has the messages).
 *
 * The pattern is Noise XX with a pre-shared key (Perrin, "The Noise
 * Protocol Framework", rev. 34, sections 5 and 9): the initiator sends an
 * ephemeral key; the responder answers with its ephemeral key and its
 * static key sealed under ee; the initiator sends its static key sealed
 * under ee+es, and a payload under ee+es+se. Each side therefore proves
 * possession of its static secret key (es, se) and of the PSK (mixed into
 * the chaining key before any sealing). Differences from Noise: BLAKE2b
 * replaces HMAC-HKDF as the key chain (keyed BLAKE2b is a PRF), the PSK
 * is mixed after msg1 (the responder learns which PSK from msg1: cluster
 * mode or a join token id), and XChaCha20-Poly1305 seals.
 */
#include <string.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "node/transport/wire.h"

static const char proto_name[] = "clusterd transport v1 XXpsk";
static const uint8_t magic[4] = {'C', 'L', 'T', 'P'};

static void mix_hash(struct tpw_hs *hs, const uint8_t *p, size_t n)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, hs->h, 32);
	crypto_generichash_update(&st, p, n);
	crypto_generichash_final(&st, hs->h, 32);
}

/* ck, k = BLAKE2b-512(key = ck, ikm), split in halves. */
static void mix_key(struct tpw_hs *hs, const uint8_t *ikm, size_t n)
{
	uint8_t out[64];

	crypto_generichash(out, sizeof(out), ikm, n, hs->ck, 32);
	memcpy(hs->ck, out, 32);
	memcpy(hs->k, out + 32, 32);
	hs->n = 0;
	sodium_memzero(out, sizeof(out));
}

static int mix_dh(struct tpw_hs *hs, const uint8_t *sk, const uint8_t *pk)
{
	uint8_t shared[32];
	int rv = crypto_scalarmult(shared, sk, pk);

	/* A low-order point gives all zeros; refuse it. */
	if (rv == 0)
		mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return rv == 0 ? 0 : ERR_AUTH;
}

static void hs_nonce(uint64_t n, uint8_t nonce[TPW_NONCE])
{
	memset(nonce, 0, TPW_NONCE);
	put_u64be(nonce, n);
}

/* Seals pt (n bytes) into out (n + 16) with h as associated data. */
static void seal_hash(struct tpw_hs *hs, const uint8_t *pt, size_t n,
		      uint8_t *out)
{
	uint8_t nonce[TPW_NONCE];
	unsigned long long clen = 0;

	hs_nonce(hs->n++, nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out, &clen, pt, n, hs->h,
						   32, NULL, nonce, hs->k);
	mix_hash(hs, out, (size_t)clen);
}

static int open_hash(struct tpw_hs *hs, const uint8_t *ct, size_t n,
		     uint8_t *out)
{
	uint8_t nonce[TPW_NONCE];
	unsigned long long mlen = 0;

	if (n < TPW_TAG)
		return ERR_MALFORMED;
	hs_nonce(hs->n++, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct, n,
						       hs->h, 32, nonce,
						       hs->k) != 0)
		return ERR_AUTH;
	mix_hash(hs, ct, n);
	return 0;
}

void tpw_hs_init(struct tpw_hs *hs, int initiator,
		 const uint8_t s_pk[TP_KEY_LEN], const uint8_t s_sk[TP_KEY_LEN])
{
	memset(hs, 0, sizeof(*hs));
	hs->initiator = initiator;
	memcpy(hs->s_pk, s_pk, 32);
	memcpy(hs->s_sk, s_sk, 32);
	crypto_generichash(hs->h, 32, (const uint8_t *)proto_name,
			   sizeof(proto_name) - 1, NULL, 0);
	memcpy(hs->ck, hs->h, 32);
	hs->vmin = TP_PROTO_MIN;
	hs->vmax = TP_PROTO_MAX;
	randombytes_buf(hs->e_sk, 32);
	ASSERT(crypto_scalarmult_base(hs->e_pk, hs->e_sk) == 0);
}

void tpw_hs_wipe(struct tpw_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

static uint16_t pick(uint16_t our_min, uint16_t our_max, uint16_t vmin,
		     uint16_t vmax)
{
	uint16_t hi = vmax < our_max ? vmax : our_max;
	uint16_t lo = vmin > our_min ? vmin : our_min;

	return lo <= hi ? hi : 0;
}

uint16_t tpw_version_pick(uint16_t vmin, uint16_t vmax)
{
	return pick(TP_PROTO_MIN, TP_PROTO_MAX, vmin, vmax);
}

void tpw_hs_set_range(struct tpw_hs *hs, uint16_t vmin, uint16_t vmax)
{
	ASSERT(vmin >= 1 && vmin <= vmax);
	hs->vmin = vmin;
	hs->vmax = vmax;
}

uint16_t tpw_hs_version_pick(const struct tpw_hs *hs, uint16_t vmin,
			     uint16_t vmax)
{
	return pick(hs->vmin, hs->vmax, vmin, vmax);
}

void tpw_hs_write1(struct tpw_hs *hs, uint8_t mode, const char *token_id,
		   uint8_t *out, size_t *len)
{
	size_t idlen = token_id ? strlen(token_id) : 0, off = 0;

	ASSERT(idlen <= TP_TOKEN_ID_HEX);
	hs->mode = mode;
	memcpy(out, magic, 4);
	off = 4;
	out[off++] = (uint8_t)(hs->vmin >> 8);
	out[off++] = (uint8_t)(hs->vmin & 0xff);
	out[off++] = (uint8_t)(hs->vmax >> 8);
	out[off++] = (uint8_t)(hs->vmax & 0xff);
	out[off++] = mode;
	out[off++] = (uint8_t)idlen;
	memcpy(out + off, token_id ? token_id : "", idlen);
	off += idlen;
	memcpy(out + off, hs->e_pk, 32);
	*len = off + 32;
}

int tpw_msg1_parse(const uint8_t *p, size_t n, struct tpw_msg1 *m)
{
	struct rcur c;
	uint8_t idlen = 0;
	uint8_t mg[4];
	uint8_t v[4];

	rcur_init(&c, p, n);
	if (rcur_copy(&c, mg, 4) || memcmp(mg, magic, 4) != 0 ||
	    rcur_copy(&c, v, 4) || rcur_u8(&c, &m->mode) ||
	    rcur_u8(&c, &idlen))
		return ERR_MALFORMED;
	m->vmin = (uint16_t)(v[0] << 8 | v[1]);
	m->vmax = (uint16_t)(v[2] << 8 | v[3]);
	if (m->mode != TPW_MODE_CLUSTER && m->mode != TPW_MODE_JOIN)
		return ERR_MALFORMED;
	if ((m->mode == TPW_MODE_CLUSTER) != (idlen == 0) ||
	    (idlen != 0 && idlen != TP_TOKEN_ID_HEX))
		return ERR_MALFORMED;
	if (rcur_copy(&c, m->token_id, idlen))
		return ERR_MALFORMED;
	m->token_id[idlen] = '\0';
	for (size_t i = 0; i < idlen; i++)
		if (!strchr("0123456789abcdef", m->token_id[i]) ||
		    m->token_id[i] == '\0')
			return ERR_MALFORMED;
	if (rcur_view(&c, &m->e_pk, 32) || rcur_left(&c) != 0)
		return ERR_MALFORMED;
	return 0;
}

static size_t write2_hdr(uint8_t *out, uint8_t status, uint16_t a, uint16_t b)
{
	memcpy(out, magic, 4);
	out[4] = status;
	out[5] = (uint8_t)(a >> 8);
	out[6] = (uint8_t)a;
	out[7] = (uint8_t)(b >> 8);
	out[8] = (uint8_t)b;
	return 9;
}

void tpw_hs_write2_refuse(const struct tpw_hs *hs, uint8_t status,
			  uint8_t *out, size_t *len)
{
	ASSERT(status == TPW_HS2_VERSION || status == TPW_HS2_AGAIN);
	*len = write2_hdr(out, status, hs->vmin, hs->vmax);
}

int tpw_msg2_hdr_parse(const uint8_t *p, size_t n, struct tpw_msg2_hdr *h)
{
	if (n < 9 || memcmp(p, magic, 4) != 0 || p[4] > TPW_HS2_AGAIN)
		return ERR_MALFORMED;
	h->status = p[4];
	h->ver = (uint16_t)(p[5] << 8 | p[6]);
	h->vmax = (uint16_t)(p[7] << 8 | p[8]);
	if (h->status == 0 && n != 9 + 32 + 48 + 16)
		return ERR_MALFORMED;
	return 0;
}

/* Both sides: absorb msg1 and the PSK; the responder's copy of msg1 is
 * the one it received, the initiator's the one it sent. */
static void absorb_msg1(struct tpw_hs *hs, const uint8_t *msg1, size_t len,
			const uint8_t psk[TP_KEY_LEN])
{
	mix_hash(hs, msg1, len);
	mix_key(hs, psk, TP_KEY_LEN);
}

int tpw_hs_write2(struct tpw_hs *hs, const uint8_t *msg1, size_t msg1_len,
		  const struct tpw_msg1 *m, uint16_t version,
		  const uint8_t psk[TP_KEY_LEN], uint8_t *out, size_t *len)
{
	size_t off;
	int rv;

	ASSERT(!hs->initiator && version != 0);
	hs->version = version;
	hs->mode = m->mode;
	memcpy(hs->re_pk, m->e_pk, 32);
	absorb_msg1(hs, msg1, msg1_len, psk);
	off = write2_hdr(out, 0, version, version);
	memcpy(out + off, hs->e_pk, 32);
	off += 32;
	mix_hash(hs, out, off);
	/* A low-order ephemeral key from the peer fails here. */
	if ((rv = mix_dh(hs, hs->e_sk, hs->re_pk)) != 0)
		return rv;
	seal_hash(hs, hs->s_pk, 32, out + off);
	off += 48;
	if ((rv = mix_dh(hs, hs->s_sk, hs->re_pk)) != 0)
		return rv;
	seal_hash(hs, NULL, 0, out + off);
	*len = off + 16;
	return 0;
}

int tpw_hs_read2(struct tpw_hs *hs, const uint8_t *msg1, size_t msg1_len,
		 const uint8_t psk[TP_KEY_LEN], const uint8_t *p, size_t n)
{
	struct tpw_msg2_hdr h;
	uint8_t empty[1];
	int rv;

	ASSERT(hs->initiator);
	if (tpw_msg2_hdr_parse(p, n, &h) != 0 || h.status != 0)
		return ERR_MALFORMED;
	if (h.ver < hs->vmin || h.ver > hs->vmax)
		return ERR_VERSION;
	hs->version = h.ver;
	absorb_msg1(hs, msg1, msg1_len, psk);
	memcpy(hs->re_pk, p + 9, 32);
	mix_hash(hs, p, 9 + 32);
	if ((rv = mix_dh(hs, hs->e_sk, hs->re_pk)) != 0)
		return rv;
	if ((rv = open_hash(hs, p + 41, 48, hs->rs_pk)) != 0)
		return rv;
	if ((rv = mix_dh(hs, hs->e_sk, hs->rs_pk)) != 0)
		return rv;
	return open_hash(hs, p + 89, 16, empty);
}

void tpw_hs_write3(struct tpw_hs *hs, const char *addr, uint8_t *out,
		   size_t *len)
{
	uint8_t pt[TP_ADDR_MAX];
	size_t alen = strlen(addr);

	ASSERT(hs->initiator && alen < TP_ADDR_MAX);
	seal_hash(hs, hs->s_pk, 32, out);
	/* se: our static with their ephemeral. The peer's ephemeral was
	 * checked in read2 (ee succeeded), so this cannot fail. */
	ASSERT(mix_dh(hs, hs->s_sk, hs->re_pk) == 0);
	pt[0] = (uint8_t)alen;
	memcpy(pt + 1, addr, alen);
	seal_hash(hs, pt, 1 + alen, out + 48);
	*len = 48 + 1 + alen + 16;
}

int tpw_hs_read3(struct tpw_hs *hs, const uint8_t *p, size_t n, char *addr)
{
	uint8_t pt[TPW_HS_MSG_MAX];
	int rv;

	ASSERT(!hs->initiator);
	if (n < 48 + 1 + 16 || n > TPW_HS_MSG_MAX)
		return ERR_MALFORMED;
	if ((rv = open_hash(hs, p, 48, hs->rs_pk)) != 0)
		return rv;
	if ((rv = mix_dh(hs, hs->e_sk, hs->rs_pk)) != 0)
		return rv;
	if ((rv = open_hash(hs, p + 48, n - 48, pt)) != 0)
		return rv;
	if (pt[0] >= TP_ADDR_MAX || (size_t)pt[0] + 1 + 16 + 48 != n)
		return ERR_MALFORMED;
	memcpy(addr, pt + 1, pt[0]);
	addr[pt[0]] = '\0';
	return tpw_addr_check(addr, 0) == 0 ? 0 : ERR_MALFORMED;
}

void tpw_hs_split(struct tpw_hs *hs, uint8_t k_tx[TP_KEY_LEN],
		  uint8_t k_rx[TP_KEY_LEN])
{
	static const uint8_t label[] = "split";
	uint8_t out[64];

	crypto_generichash(out, sizeof(out), label, sizeof(label) - 1, hs->ck,
			   32);
	/* The first half keys initiator-to-responder. */
	memcpy(hs->initiator ? k_tx : k_rx, out, 32);
	memcpy(hs->initiator ? k_rx : k_tx, out + 32, 32);
	sodium_memzero(out, sizeof(out));
	tpw_hs_wipe(hs);
}
