/*
 * codec.h: the gossip wire format (msgpack, docs/decisions.md).
 *
 * A packet, on either channel, is one msgpack array
 *     [version=1, sender_name, sender_addr, [msg, msg, ...]]
 * so every packet is a compound packet: a probe and the updates that
 * ride on it travel together. Each msg is an array whose first element
 * is its type:
 *     PING      [1, seq, target_name]
 *     ACK       [2, seq]
 *     NACK      [3, seq]
 *     PING_REQ  [4, seq, target_name, target_addr]
 *     ALIVE     [5, name, addr, incarnation]
 *     SUSPECT   [6, name, incarnation, accuser]
 *     DEAD      [7, name, incarnation, accuser]  (accuser == name: left)
 *     STATE     [8, name, key, version, value(bin)]
 *     PUSHPULL  [9, flags, [[name, addr, inc, status, [[key, ver, val]...]]...]]
 *     PP_DIGEST [10, flags, [[name, inc, status, kv_sig]...]]
 *     PP_WANT   [11, [name...]]
 * Anti-entropy is digest first (pushpull.c): the initiator sends a
 * PP_DIGEST; the peer answers, in one packet, a PUSHPULL (flag REPLY)
 * with the entries where it knows more and a PP_WANT naming the entries
 * where the initiator does, which the initiator sends as a last PUSHPULL.
 * Messages of an unknown type (a later version's) are skipped, so new
 * types can be added without a version bump; a changed layout of an
 * existing type bumps the version. The decoder checks every bound before
 * the core sees anything, and rejects the whole packet on any error.
 */
#ifndef CLUSTERD_GOSSIP_CODEC_H
#define CLUSTERD_GOSSIP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"
#include "gossip/gossip.h"

#define GOSSIP_WIRE_VERSION 1
/* Messages decoded per packet; a 1400-byte packet holds about 60 of the
 * smallest, so more than this is a hostile packet. */
#define GOSSIP_PKT_MSGS_MAX 128
/* Members in one push-pull: the member table's hard ceiling. */
#define GOSSIP_PP_MEMBERS_MAX 65536

enum gossip_msg_type {
	GMSG_PING = 1,
	GMSG_ACK = 2,
	GMSG_NACK = 3,
	GMSG_PING_REQ = 4,
	GMSG_ALIVE = 5,
	GMSG_SUSPECT = 6,
	GMSG_DEAD = 7,
	GMSG_STATE = 8,
	GMSG_PUSHPULL = 9,
	GMSG_PP_DIGEST = 10,
	GMSG_PP_WANT = 11,
};

#define GOSSIP_PP_JOIN 1u  /* sent by a joining member */
#define GOSSIP_PP_REPLY 2u /* the answer to a push-pull: do not answer it */

/* A string borrowed from the packet buffer, not NUL-terminated. */
struct gstr {
	const char *p;
	uint32_t len;
};

struct gmsg {
	uint32_t type;
	uint64_t seq;     /* PING ACK NACK PING_REQ */
	uint64_t inc;     /* ALIVE SUSPECT DEAD; STATE: version */
	struct gstr name; /* PING PING_REQ: target; others: subject */
	struct gstr addr; /* PING_REQ ALIVE */
	struct gstr from; /* SUSPECT DEAD: accuser */
	struct gstr key;  /* STATE */
	const uint8_t *value; /* STATE */
	uint32_t value_len;
	uint32_t flags;   /* PUSHPULL PP_DIGEST */
	uint32_t n_members; /* PUSHPULL PP_DIGEST PP_WANT: entries */
	/* The entries: read with gossip_pp_member, gossip_pp_digest or
	 * gossip_pp_want. */
	const msgpack_object *members;
};

struct gpp_kv {
	struct gstr key;
	uint64_t version;
	const uint8_t *value;
	uint32_t value_len;
};

struct gpp_member {
	struct gstr name, addr;
	uint64_t inc;
	uint32_t status; /* enum gossip_status */
	uint32_t n_kv;
	struct gpp_kv kv[GOSSIP_STATE_KEYS_MAX];
};

/* A decoded packet. Strings point into the buffer given to
 * gossip_decode, which must outlive the packet; free with
 * gossip_packet_free. */
struct gossip_wire {
	struct mp_doc doc;
	struct gstr from_name, from_addr;
	uint32_t n;
	struct gmsg msgs[GOSSIP_PKT_MSGS_MAX];
};

/* Decodes and validates a whole packet. 0, ERR_MALFORMED or ERR_VERSION;
 * on error nothing needs freeing. */
int gossip_decode(struct gossip_wire *w, const uint8_t *buf, size_t len);
void gossip_wire_free(struct gossip_wire *w);
/* Reads member i of a validated PUSHPULL message. */
int gossip_pp_member(const struct gmsg *m, uint32_t i, struct gpp_member *out);

struct gpp_digest {
	struct gstr name;
	uint64_t inc;
	uint32_t status;
	uint32_t sig; /* gossip_kv_sig of the member's state */
};
int gossip_pp_digest(const struct gmsg *m, uint32_t i, struct gpp_digest *out);
int gossip_pp_want(const struct gmsg *m, uint32_t i, struct gstr *name);

/* Order-independent signature of a state map: the sum of FNV-1a hashes
 * of (key, version); equal maps give equal signatures. Start at 0 and
 * add each pair. */
uint32_t gossip_kv_sig_add(uint32_t sig, const char *key, uint64_t version);

/* Encoders append one msg to w (sticky errors, see mp.h). Strings are
 * NUL-terminated and already within their bounds. */
void gossip_enc_header(struct mp_writer *w, const char *name, const char *addr,
		       uint32_t n_msgs);
void gossip_enc_ping(struct mp_writer *w, uint32_t type, uint64_t seq,
		     const char *target, const char *target_addr);
void gossip_enc_ack(struct mp_writer *w, uint32_t type, uint64_t seq);
void gossip_enc_alive(struct mp_writer *w, const char *name, const char *addr,
		      uint64_t inc);
void gossip_enc_accuse(struct mp_writer *w, uint32_t type, const char *name,
		       uint64_t inc, const char *from);
void gossip_enc_state(struct mp_writer *w, const char *name, const char *key,
		      uint64_t version, const uint8_t *value, size_t len);
/* A push-pull is written as: gossip_enc_pp_begin, then per member
 * gossip_enc_pp_member followed by its n_kv gossip_enc_pp_kv. */
void gossip_enc_pp_begin(struct mp_writer *w, uint32_t flags,
			 uint32_t n_members);
void gossip_enc_pp_member(struct mp_writer *w, const char *name,
			  const char *addr, uint64_t inc, uint32_t status,
			  uint32_t n_kv);
void gossip_enc_pp_kv(struct mp_writer *w, const char *key, uint64_t version,
		      const uint8_t *value, size_t len);
void gossip_enc_digest_begin(struct mp_writer *w, uint32_t flags, uint32_t n);
void gossip_enc_digest_entry(struct mp_writer *w, const char *name,
			     uint64_t inc, uint32_t status, uint32_t sig);
void gossip_enc_want_begin(struct mp_writer *w, uint32_t n);
void gossip_enc_want_name(struct mp_writer *w, struct gstr name);

#endif
