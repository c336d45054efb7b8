/*
 * wire.c: the stream framer, sealed frames, sealed datagrams, the replay
 * cache and address checks. Pure: no libuv, no clock (the caller passes
 * time in). See wire.h.
 */
#include "node/transport/wire.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"

/* ---- Stream framer ---- */

void tpw_framer_init(struct tpw_framer *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void tpw_framer_free(struct tpw_framer *f)
{
	free(f->body);
	f->body = NULL;
	f->hdr_got = f->body_len = f->body_got = 0;
}

void tpw_framer_set_max(struct tpw_framer *f, size_t max)
{
	f->max = max;
}

int tpw_framer_partial(const struct tpw_framer *f)
{
	/* A message returned and not yet released is complete. */
	if (f->body && f->body_got == f->body_len)
		return 0;
	return f->hdr_got > 0;
}

const uint8_t *tpw_framer_hdr(const struct tpw_framer *f)
{
	return f->hdr;
}

/* Starts a message once its prefix is complete. */
static int framer_begin(struct tpw_framer *f)
{
	uint32_t len = (uint32_t)f->hdr[0] << 24 | (uint32_t)f->hdr[1] << 16 |
		       (uint32_t)f->hdr[2] << 8 | f->hdr[3];

	if (len == 0)
		return ERR_MALFORMED;
	if (len > f->max)
		return ERR_TOOBIG;
	f->body = malloc(len);
	if (!f->body)
		return ERR_NOMEM;
	f->body_len = len;
	f->body_got = 0;
	return 0;
}

int tpw_framer_feed(struct tpw_framer *f, const uint8_t *p, size_t n,
		    size_t *used, uint8_t **msg, size_t *len)
{
	size_t off = 0, take;
	int rv;

	/* A message returned by the previous call is released now. */
	if (f->body && f->body_got == f->body_len) {
		free(f->body);
		f->body = NULL;
		f->hdr_got = 0;
	}
	while (off < n) {
		if (f->hdr_got < TPW_LEN_BYTES) {
			f->hdr[f->hdr_got++] = p[off++];
			if (f->hdr_got == TPW_LEN_BYTES &&
			    (rv = framer_begin(f)) != 0) {
				*used = off;
				return rv;
			}
			continue;
		}
		take = f->body_len - f->body_got;
		if (take > n - off)
			take = n - off;
		memcpy(f->body + f->body_got, p + off, take);
		f->body_got += take;
		off += take;
		if (f->body_got == f->body_len)
			break;
	}
	*used = off;
	if (f->body && f->body_got == f->body_len) {
		*msg = f->body;
		*len = f->body_len;
		return 1;
	}
	return 0;
}

/* ---- Sealed frames ---- */

static void seq_nonce(uint64_t seq, uint8_t nonce[TPW_NONCE])
{
	memset(nonce, 0, TPW_NONCE);
	put_u64be(nonce, seq);
}

void tpw_frame_seal(const uint8_t key[TP_KEY_LEN], uint64_t seq, uint8_t ch,
		    const uint8_t *p, size_t len, uint8_t *out)
{
	uint8_t nonce[TPW_NONCE];
	uint8_t *body = out + TPW_LEN_BYTES;
	size_t body_len = 1 + len + TPW_TAG;
	unsigned long long clen = 0;

	ASSERT(body_len <= UINT32_MAX);
	out[0] = (uint8_t)(body_len >> 24);
	out[1] = (uint8_t)(body_len >> 16);
	out[2] = (uint8_t)(body_len >> 8);
	out[3] = (uint8_t)body_len;
	body[0] = ch;
	if (len)
		memmove(body + 1, p, len);
	seq_nonce(seq, nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(body, &clen, body, 1 + len,
						   out, TPW_LEN_BYTES, NULL,
						   nonce, key);
	ASSERT(clen == body_len);
}

int tpw_frame_open(const uint8_t key[TP_KEY_LEN], uint64_t seq,
		   const uint8_t hdr[TPW_LEN_BYTES], uint8_t *body, size_t len,
		   uint8_t *ch, const uint8_t **pt, size_t *pt_len)
{
	uint8_t nonce[TPW_NONCE];
	unsigned long long mlen = 0;

	if (len < 1 + TPW_TAG)
		return ERR_MALFORMED;
	seq_nonce(seq, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    body, &mlen, NULL, body, len, hdr, TPW_LEN_BYTES, nonce,
		    key) != 0)
		return ERR_AUTH;
	ASSERT(mlen == len - TPW_TAG);
	*ch = body[0];
	*pt = body + 1;
	*pt_len = (size_t)mlen - 1;
	return 0;
}

/* ---- Datagrams ---- */

#define DGRAM_HDR 2
#define DGRAM_MIN (DGRAM_HDR + TPW_NONCE + TPW_TAG + 8 + 1)

void tpw_dgram_seal(const uint8_t key[TP_KEY_LEN], uint64_t ts_ms,
		    const char *addr, const uint8_t *p, size_t len,
		    uint8_t *out, size_t *out_len)
{
	size_t alen = strlen(addr);
	uint8_t *nonce = out + DGRAM_HDR;
	uint8_t *body = nonce + TPW_NONCE;
	size_t pt_len = 8 + 1 + alen + len;
	unsigned long long clen = 0;

	ASSERT(alen < TP_ADDR_MAX && len <= TP_DATAGRAM_MAX);
	out[0] = TPW_DGRAM_MAGIC;
	out[1] = TPW_DGRAM_VERSION;
	randombytes_buf(nonce, TPW_NONCE);
	put_u64be(body, ts_ms);
	body[8] = (uint8_t)alen;
	memcpy(body + 9, addr, alen);
	if (len)
		memcpy(body + 9 + alen, p, len);
	crypto_aead_xchacha20poly1305_ietf_encrypt(body, &clen, body, pt_len,
						   out, DGRAM_HDR, NULL, nonce,
						   key);
	*out_len = DGRAM_HDR + TPW_NONCE + (size_t)clen;
	ASSERT(*out_len <= TP_DATAGRAM_MAX + TP_DATAGRAM_OVERHEAD);
}

int tpw_dgram_open(const uint8_t key[TP_KEY_LEN], const uint8_t *p, size_t n,
		   uint8_t *scratch, struct tpw_dgram *d)
{
	unsigned long long mlen = 0;
	size_t alen;

	if (n < DGRAM_MIN || p[0] != TPW_DGRAM_MAGIC)
		return ERR_MALFORMED;
	if (p[1] != TPW_DGRAM_VERSION)
		return ERR_VERSION;
	d->nonce = p + DGRAM_HDR;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    scratch, &mlen, NULL, p + DGRAM_HDR + TPW_NONCE,
		    n - DGRAM_HDR - TPW_NONCE, p, DGRAM_HDR, d->nonce,
		    key) != 0)
		return ERR_AUTH;
	/* Authenticated from here on, but still checked: a peer holding
	 * the secret may be buggy. */
	alen = scratch[8];
	if (mlen < 9 + alen || alen >= TP_ADDR_MAX)
		return ERR_MALFORMED;
	d->ts_ms = get_u64be(scratch);
	memcpy(d->addr, scratch + 9, alen);
	d->addr[alen] = '\0';
	if (tpw_addr_check(d->addr, 0) != 0)
		return ERR_MALFORMED;
	d->payload = scratch + 9 + alen;
	d->payload_len = (size_t)mlen - 9 - alen;
	return 0;
}

/* ---- Replay cache ---- */

void tpw_replay_init(struct tpw_replay *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < TPW_REPLAY_BUCKETS; i++)
		r->bucket[i] = -1;
}

static uint32_t nonce_bucket(const uint8_t *nonce)
{
	/* Nonces are random, so their first bytes are a fine hash. */
	return get_u32le(nonce) % TPW_REPLAY_BUCKETS;
}

static int replay_seen(const struct tpw_replay *r, const uint8_t *nonce)
{
	int32_t i = r->bucket[nonce_bucket(nonce)];

	/* Chains hold TPW_REPLAY_N entries at most, in all. */
	for (int steps = 0; i >= 0 && steps < TPW_REPLAY_N; steps++) {
		if (memcmp(r->ent[i].nonce, nonce, TPW_NONCE) == 0)
			return 1;
		i = r->ent[i].next;
	}
	return 0;
}

static void replay_evict(struct tpw_replay *r, int32_t slot)
{
	struct tpw_replay_ent *e = &r->ent[slot];
	int32_t *link = &r->bucket[nonce_bucket(e->nonce)];

	for (int steps = 0; *link >= 0 && steps < TPW_REPLAY_N; steps++) {
		if (*link == slot) {
			*link = e->next;
			break;
		}
		link = &r->ent[*link].next;
	}
	if (e->ts_ms > r->floor_ms)
		r->floor_ms = e->ts_ms;
	e->used = 0;
}

int tpw_replay_check(struct tpw_replay *r, const uint8_t *nonce,
		     uint64_t ts_ms, uint64_t now_ms, uint64_t window_ms)
{
	int32_t slot = (int32_t)r->head;
	uint32_t b;

	if (ts_ms + window_ms < now_ms || ts_ms > now_ms + window_ms ||
	    ts_ms <= r->floor_ms)
		return ERR_AGAIN;
	if (replay_seen(r, nonce))
		return ERR_AGAIN;
	if (r->ent[slot].used)
		replay_evict(r, slot);
	b = nonce_bucket(nonce);
	memcpy(r->ent[slot].nonce, nonce, TPW_NONCE);
	r->ent[slot].ts_ms = ts_ms;
	r->ent[slot].used = 1;
	r->ent[slot].next = r->bucket[b];
	r->bucket[b] = slot;
	r->head = (r->head + 1) % TPW_REPLAY_N;
	return 0;
}

/* ---- Addresses ---- */

static int port_ok(const char *s, int zero_ok)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 5)
			return 0;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	return n > 0 && v <= 65535 && (v > 0 || zero_ok);
}

int tpw_addr_check(const char *addr, int zero_ok)
{
	size_t len = strnlen(addr, TP_ADDR_MAX);
	const char *colon;

	if (len == 0 || len >= TP_ADDR_MAX)
		return ERR_INVAL;
	if (addr[0] == '[') {
		colon = strstr(addr, "]:");
		if (!colon || colon == addr + 1)
			return ERR_INVAL;
		colon++;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || colon == addr || memchr(addr, ':', (size_t)(colon - addr)))
			return ERR_INVAL;
	}
	for (const char *c = addr; c < colon; c++)
		if (!strchr("0123456789abcdefABCDEF.:[]", *c))
			return ERR_INVAL;
	return port_ok(colon + 1, zero_ok) ? 0 : ERR_INVAL;
}
