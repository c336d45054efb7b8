/*
 * wire.h: the transport's pure parts, no libuv: the handshake state
 * machine, the stream framer, frame and datagram sealing, the datagram
 * replay cache. Internal to node/transport; the fuzz target and the unit
 * tests use it directly.
 *
 * Every TCP message, handshake or frame, is a 4-byte big-endian length
 * followed by that many bytes. Handshake messages are at most
 * TPW_HS_MSG_MAX bytes; after the handshake each message is a sealed
 * frame: XChaCha20-Poly1305 over (channel byte, payload) with the length
 * prefix as associated data and the frame's sequence number as nonce.
 */
#ifndef CLUSTERD_NODE_TRANSPORT_WIRE_H
#define CLUSTERD_NODE_TRANSPORT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "node/transport/transport.h"

#define TPW_LEN_BYTES 4
#define TPW_TAG 16   /* Poly1305 tag */
#define TPW_NONCE 24 /* XChaCha20 nonce */
/* Handshake messages are small: the largest, msg1 in join mode, is 4 +
 * 2 + 2 + 1 + 1 + 16 + 32 = 58 bytes; msg3 carries an address. 512
 * leaves room for later fields and caps what an unauthenticated peer
 * makes us buffer. */
#define TPW_HS_MSG_MAX 512
/* Frame body = channel byte + payload + tag. */
#define TPW_FRAME_OVERHEAD (TPW_LEN_BYTES + 1 + TPW_TAG)

enum { TPW_MODE_CLUSTER = 1, TPW_MODE_JOIN = 2 };

/* The channel of join requests and replies (owners use 1..255). */
#define TPW_CH_JOIN 0

/* ---- Stream framer ---- */

/* Reassembles length-prefixed messages from a TCP byte stream. The
 * message buffer is allocated once its length is known and checked
 * against max, so a peer cannot make it grow past max. */
struct tpw_framer {
	uint8_t hdr[TPW_LEN_BYTES];
	size_t hdr_got;
	uint8_t *body; /* owned */
	size_t body_len, body_got;
	size_t max; /* largest accepted message body */
};

void tpw_framer_init(struct tpw_framer *f, size_t max);
void tpw_framer_free(struct tpw_framer *f);
/* Changes the limit for messages not yet started (after the handshake). */
void tpw_framer_set_max(struct tpw_framer *f, size_t max);
/* Consumes from p[0..n); *used says how much. Returns 1 with *msg and *len
 * set to a complete message (borrowed until the next call), 0 when all
 * of the input is consumed without completing one, ERR_TOOBIG when a
 * length exceeds max, ERR_MALFORMED for a zero length, ERR_NOMEM. */
int tpw_framer_feed(struct tpw_framer *f, const uint8_t *p, size_t n,
		    size_t *used, uint8_t **msg, size_t *len);
/* 1 when a message has begun but not completed (an end of stream now
 * truncates it), else 0. */
int tpw_framer_partial(const struct tpw_framer *f);
/* The 4-byte length prefix of the message just returned (it is the
 * associated data of a sealed frame). */
const uint8_t *tpw_framer_hdr(const struct tpw_framer *f);

/* ---- Sealed frames ---- */

/* Writes the length prefix and the sealed body of one frame into out,
 * which holds at least len + TPW_FRAME_OVERHEAD bytes. */
void tpw_frame_seal(const uint8_t key[TP_KEY_LEN], uint64_t seq, uint8_t ch,
		    const uint8_t *p, size_t len, uint8_t *out);
/* Opens a frame body in place (body/len as the framer returned them,
 * hdr its prefix). Returns 0 with *ch and *pt and *pt_len set (pointing into
 * body), ERR_MALFORMED when shorter than a tag and a channel byte,
 * ERR_AUTH when it fails authentication. */
int tpw_frame_open(const uint8_t key[TP_KEY_LEN], uint64_t seq,
		   const uint8_t hdr[TPW_LEN_BYTES], uint8_t *body, size_t len,
		   uint8_t *ch, const uint8_t **pt, size_t *pt_len);

/* ---- Handshake ----
 * msg1 I->R: "CLTP" min:u16 max:u16 mode:u8 idlen:u8 id[idlen] e_i[32]
 * msg2 R->I: "CLTP" status:u8 ver:u16 max:u16, then on status 0:
 *            e_r[32] seal(s_r)[48] seal("")[16]
 *            (status 1: no common version; ver..max is R's range;
 *             status 2, join mode only: R cannot check the token yet,
 *             try again shortly; ver..max is R's range)
 * msg3 I->R: seal(s_i)[48] seal(alen:u8 addr[alen])[17 + alen]
 * Symmetric state as in Noise: h hashes the transcript, ck chains the
 * keys; the PSK is mixed right after msg1, then ee, es, se. */

struct tpw_hs {
	int initiator;
	uint8_t h[32], ck[32], k[32];
	uint64_t n;
	uint8_t e_pk[32], e_sk[32], re_pk[32];
	uint8_t s_pk[32], s_sk[32], rs_pk[32];
	uint16_t version;
	uint8_t mode;
	/* The range this side speaks: TP_PROTO_MIN..TP_PROTO_MAX from
	 * tpw_hs_init, narrowed or moved by tpw_hs_set_range. */
	uint16_t vmin, vmax;
};

struct tpw_msg1 {
	uint16_t vmin, vmax;
	uint8_t mode;
	char token_id[TP_TOKEN_ID_HEX + 1]; /* "" in cluster mode */
	const uint8_t *e_pk; /* points into the message */
};

struct tpw_msg2_hdr {
	uint8_t status; /* TPW_HS2_OK, _VERSION or _AGAIN */
	uint16_t ver, vmax;
};

void tpw_hs_init(struct tpw_hs *hs, int initiator,
		 const uint8_t s_pk[TP_KEY_LEN], const uint8_t s_sk[TP_KEY_LEN]);
void tpw_hs_wipe(struct tpw_hs *hs);

/* Initiator: writes msg1 (out holds TPW_HS_MSG_MAX); *len set. token_id
 * is NULL in cluster mode. */
void tpw_hs_write1(struct tpw_hs *hs, uint8_t mode, const char *token_id,
		   uint8_t *out, size_t *len);
/* Decodes msg1 (pure, fuzzed). 0 or ERR_MALFORMED. */
int tpw_msg1_parse(const uint8_t *p, size_t n, struct tpw_msg1 *m);
/* Picks the highest version both speak; 0 when none. */
uint16_t tpw_version_pick(uint16_t vmin, uint16_t vmax);
/* Sets the range hs speaks (1 <= vmin <= vmax); before the first message.
 * The transport sets its configured range (tp_config.proto_min/max). */
void tpw_hs_set_range(struct tpw_hs *hs, uint16_t vmin, uint16_t vmax);
/* The highest version in both hs's range and [vmin, vmax], 0 if none. */
uint16_t tpw_hs_version_pick(const struct tpw_hs *hs, uint16_t vmin,
			     uint16_t vmax);

/* Responder: after tpw_msg1_parse and a version pick, absorbs msg1 and
 * the PSK and writes msg2. 0, or ERR_AUTH for a low-order ephemeral key
 * from the peer. */
int tpw_hs_write2(struct tpw_hs *hs, const uint8_t *msg1, size_t msg1_len,
		  const struct tpw_msg1 *m, uint16_t version,
		  const uint8_t psk[TP_KEY_LEN], uint8_t *out, size_t *len);
/* msg2 statuses. TPW_HS2_AGAIN carries no secret and is not
 * authenticated: the joiner only waits and dials again on it, which a
 * man in the middle could make it do anyway by dropping the connection. */
enum {
	TPW_HS2_OK = 0,
	TPW_HS2_VERSION = 1, /* no common version */
	TPW_HS2_AGAIN = 2,   /* join token not checkable yet: retry */
};

/* Responder: msg2 refusing the handshake with status (TPW_HS2_VERSION or
 * TPW_HS2_AGAIN) and our range. */
void tpw_hs_write2_refuse(const struct tpw_hs *hs, uint8_t status,
			  uint8_t *out, size_t *len);
/* Decodes msg2's clear header (pure, fuzzed). 0 or ERR_MALFORMED. */
int tpw_msg2_hdr_parse(const uint8_t *p, size_t n, struct tpw_msg2_hdr *h);

/* Initiator: absorbs msg2 (whose header parsed with status 0); msg1 is
 * what tpw_hs_write1 wrote. Sets hs->rs_pk. 0, ERR_MALFORMED, ERR_AUTH
 * (wrong PSK or a peer without its static key). */
int tpw_hs_read2(struct tpw_hs *hs, const uint8_t *msg1, size_t msg1_len,
		 const uint8_t psk[TP_KEY_LEN], const uint8_t *p, size_t n);
/* Initiator: writes msg3 carrying our advertised address. */
void tpw_hs_write3(struct tpw_hs *hs, const char *addr, uint8_t *out,
		   size_t *len);
/* Responder: absorbs msg3; sets hs->rs_pk and addr (TP_ADDR_MAX bytes).
 * 0, ERR_MALFORMED, ERR_AUTH. */
int tpw_hs_read3(struct tpw_hs *hs, const uint8_t *p, size_t n, char *addr);
/* Both: the session keys once the handshake is done; wipes hs. */
void tpw_hs_split(struct tpw_hs *hs, uint8_t k_tx[TP_KEY_LEN],
		  uint8_t k_rx[TP_KEY_LEN]);

/* ---- Datagrams ----
 * magic:u8 (0xC7) version:u8 (1) nonce[24] seal(ts:u64 alen:u8 addr
 * payload); the first two bytes are associated data. */

#define TPW_DGRAM_MAGIC 0xC7
#define TPW_DGRAM_VERSION 1

/* Seals into out (TP_DATAGRAM_MAX + TP_DATAGRAM_OVERHEAD bytes); *out_len
 * set. addr is at most TP_ADDR_MAX - 1 bytes. */
void tpw_dgram_seal(const uint8_t key[TP_KEY_LEN], uint64_t ts_ms,
		    const char *addr, const uint8_t *p, size_t len,
		    uint8_t *out, size_t *out_len);

struct tpw_dgram {
	const uint8_t *nonce; /* into the input */
	uint64_t ts_ms;
	char addr[TP_ADDR_MAX];
	const uint8_t *payload; /* into scratch */
	size_t payload_len;
};

/* Opens a datagram into scratch (at least n bytes). ERR_MALFORMED,
 * ERR_VERSION, ERR_AUTH, or 0 with *d filled. */
int tpw_dgram_open(const uint8_t key[TP_KEY_LEN], const uint8_t *p, size_t n,
		   uint8_t *scratch, struct tpw_dgram *d);

/* Replay cache: the nonces of the last TPW_REPLAY_N datagrams accepted,
 * evicted first-in first-out. A datagram is fresh when its stamp lies
 * within the window of now, is above the newest stamp ever evicted (so
 * an evicted nonce can never come back), and its nonce is not cached. */
#define TPW_REPLAY_N 4096
#define TPW_REPLAY_BUCKETS 8192

struct tpw_replay_ent {
	uint8_t nonce[TPW_NONCE];
	uint64_t ts_ms;
	int32_t next; /* bucket chain, -1 ends */
	int32_t used;
};

struct tpw_replay {
	struct tpw_replay_ent ent[TPW_REPLAY_N];
	int32_t bucket[TPW_REPLAY_BUCKETS];
	uint32_t head;     /* next slot to fill (oldest when full) */
	uint64_t floor_ms; /* newest stamp evicted */
};

void tpw_replay_init(struct tpw_replay *r);
/* 0 and remembers the nonce when fresh; ERR_AGAIN (a replay) otherwise. */
int tpw_replay_check(struct tpw_replay *r, const uint8_t *nonce,
		     uint64_t ts_ms, uint64_t now_ms, uint64_t window_ms);

/* ---- Addresses ---- */

/* Checks "IP:PORT" / "[IP6]:PORT" shape: length, characters, a port
 * 1..65535 (0 allowed when zero_ok). Pure. 0 or ERR_INVAL. */
int tpw_addr_check(const char *addr, int zero_ok);

#endif
