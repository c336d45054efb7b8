/*
 * transport.h: the node's cluster transport, one port for TCP and UDP,
 * everything encrypted and authenticated with libsodium.
 *
 * TCP carries length-framed messages, each tagged with a channel byte
 * (TP_CH_RAFT, TP_CH_GOSSIP, TP_CH_RPC); the transport does not look
 * inside. UDP carries single datagrams sealed with a key derived from the
 * cluster secret (gossip's unreliable packets).
 *
 * Connections. A transport SENDS only on connections it dialled itself:
 * one outbound connection per destination address ("IP:PORT"), created on
 * the first tp_send to it. It RECEIVES on every connection, mostly on the
 * ones others dialled to it. A reply to a frame therefore goes out on our
 * own connection to the sender's advertised address (tp_peer.addr), never
 * back on the connection it came from. Delivery is at-most-once and in
 * order per destination while one connection lasts: frames queued or in
 * flight when a connection breaks may be lost (Raft retransmits; RPC
 * callers time out).
 *
 * Reconnect is lazy: a broken outbound connection is re-dialled only when
 * frames are queued for it, after a capped exponential backoff with
 * jitter. Each destination has a bounded send queue (bytes and frames);
 * tp_send returns ERR_AGAIN when it is full and the caller drops.
 *
 * Handshake (docs/decisions.md, "transport handshake"): a Noise-XX-like
 * exchange of three messages with a 32-byte pre-shared key mixed in from
 * the start. Both sides prove their static X25519 identity key, both send
 * fresh ephemeral X25519 keys (forward secrecy), and the session keys of
 * the two directions come from a BLAKE2b chain over the transcript, the
 * PSK and the four Diffie-Hellman results. Frames are then sealed with
 * XChaCha20-Poly1305 under counter nonces, one key per direction. The
 * PSK is the cluster PSK (tp_cluster_psk) in cluster mode, or the join
 * PSK (tp_token_psk) in join mode. A protocol version range travels in
 * the first message; a peer outside ours is refused with a trace line
 * naming both ranges.
 *
 * Threading: one libuv loop; every function must be called on it, and
 * every callback runs on it. Nothing here blocks. Owner callbacks may call
 * any tp_ function, tp_stop included.
 */
#ifndef CLUSTERD_NODE_TRANSPORT_H
#define CLUSTERD_NODE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/trace.h"

/* Channels: the byte in front of each TCP frame's payload. Any value
 * 1..255 is carried; these are the ones the node uses. */
enum {
	TP_CH_RAFT = 1,
	TP_CH_GOSSIP = 2,
	TP_CH_RPC = 3,
};

#define TP_KEY_LEN 32   /* keys, secrets, PSKs, hashes: all 32 bytes */
#define TP_ADDR_MAX 64  /* "IP:PORT" incl. "[v6]:port", with the NUL */
#define TP_TOKEN_ID_HEX 16     /* join token id: 8 random bytes, hex */
#define TP_TOKEN_SECRET_HEX 64 /* join token secret: 32 bytes, hex */
/* "ID.SECRET" plus the NUL. */
#define TP_TOKEN_STR_MAX (TP_TOKEN_ID_HEX + 1 + TP_TOKEN_SECRET_HEX + 1)
#define TP_HEX_MAX (2 * TP_KEY_LEN + 1) /* a key in hex, with the NUL */

/* Protocol versions this build speaks (the range sent in every hello). */
#define TP_PROTO_MIN 1
#define TP_PROTO_MAX 1

/* Defaults for struct tp_config fields left 0. */
#define TP_FRAME_MAX_DEFAULT (16u * 1024 * 1024) /* the limit */
/* 4096 frames / 32 MiB per destination: a few seconds of Raft traffic at
 * the rates bench/ measured, and two maximal frames. */
#define TP_QUEUE_FRAMES_DEFAULT 4096
#define TP_QUEUE_BYTES_DEFAULT (32u * 1024 * 1024)
/* Reconnect backoff: 50 ms doubles to 2 s, each wait jittered by +-25 %.
 * Two seconds is a fraction of the failover budget (issue 10: p99 1 s
 * counts from the leader's death, and that peer is the one not dialled). */
#define TP_BACKOFF_MIN_MS_DEFAULT 50
#define TP_BACKOFF_MAX_MS_DEFAULT 2000
/* A handshake not finished in 5 s is dropped (slowloris, dead peers). */
#define TP_HANDSHAKE_MS_DEFAULT 5000
/* Connections dialled to us, open at once; more are accepted and closed
 * at once (counted as refused). The test opens 1,000 idle ones. */
#define TP_INBOUND_MAX_DEFAULT 4096
/* A join waits this long for its reply (the server may need a commit). */
#define TP_JOIN_MS_DEFAULT 30000
/* UDP replay window: datagrams stamped more than this far from our wall
 * clock are dropped. Nodes run NTP; 30 s covers poor clocks. */
#define TP_UDP_WINDOW_MS_DEFAULT 30000
/* Largest datagram payload (what tp_sendto accepts): gossip's default
 * packet_max. The sealed envelope adds at most TP_DATAGRAM_OVERHEAD
 * bytes; on a 1500-byte MTU path set gossip's packet_max to 1350 so the
 * IP packet is never fragmented. */
#define TP_DATAGRAM_MAX 1400
#define TP_DATAGRAM_OVERHEAD (2 + 24 + 16 + 1 + TP_ADDR_MAX + 8)

struct tp;
struct tp_join_req;

/* The authenticated identity of the sender of a frame. Borrowed for the
 * duration of the callback only. */
struct tp_peer {
	uint64_t id;               /* what check_peer returned for its key */
	const char *addr;          /* its advertised "IP:PORT" (authenticated) */
	const uint8_t *static_pk;  /* TP_KEY_LEN bytes */
};

struct tp_config {
	uv_loop_t *loop;        /* borrowed; must outlive the transport */
	const char *bind;       /* "IP:PORT" for TCP and UDP; copied. Port 0
				 * picks a free port (tp_local_addr). */
	const char *advertise;  /* "IP:PORT" peers reach us at (sent in the
				 * handshake and in every datagram); copied.
				 * NULL: the bound address, which is useless
				 * to peers when binding 0.0.0.0. */
	uint8_t static_pk[TP_KEY_LEN]; /* this node's identity (tp_keypair) */
	uint8_t static_sk[TP_KEY_LEN]; /* copied; wiped on tp_stop */
	int has_secret;                /* 1: secret below is valid */
	uint8_t secret[TP_KEY_LEN];    /* the cluster secret; copied. Without
					* it only join mode works (see
					* tp_set_secret). */

	/* Limits; 0 takes the default above. */
	uint32_t frame_max;       /* largest frame payload, bytes */
	uint32_t queue_frames;    /* per destination */
	uint32_t queue_bytes;     /* per destination */
	uint32_t backoff_min_ms;
	uint32_t backoff_max_ms;
	uint32_t handshake_ms;
	uint32_t inbound_max;
	uint32_t join_ms;
	uint32_t udp_window_ms;

	/* The protocol versions this transport speaks. Both 0: this build's
	 * TP_PROTO_MIN..TP_PROTO_MAX, which is what the node uses; the rule
	 * for moving them is in docs/decisions.md ("Rolling upgrades"). The
	 * tests set other ranges to play an older or a newer build. */
	uint16_t proto_min, proto_max;

	const struct tracer *tracer; /* borrowed; NULL drops traces */

	/* Owner callbacks; ctx is passed back to each. All run on the loop.
	 * Pointer arguments are borrowed for the duration of the call. */
	void *ctx;

	/* Cluster mode, both sides of every handshake (the dialler about
	 * the responder's key, the responder about the dialler's): is this
	 * static key a member? Return 0 and set *peer_id to accept, or an
	 * error (ERR_NOTFOUND for an unknown or removed key) to refuse; the
	 * refusal is counted as unknown_peer. Not called in join mode, where
	 * the token's PSK authenticates both ends. Required. */
	int (*check_peer)(void *ctx, const uint8_t static_pk[TP_KEY_LEN],
			  uint64_t *peer_id);

	/* An authenticated frame. buf holds len bytes of payload (the channel
	 * byte already stripped). Required. */
	void (*on_frame)(void *ctx, uint8_t channel, const struct tp_peer *from,
			 const uint8_t *buf, size_t len);

	/* An authenticated, fresh datagram; from_addr is the sender's
	 * advertised address from inside the sealed envelope. NULL: UDP
	 * input is dropped (still counted). */
	void (*on_datagram)(void *ctx, const char *from_addr,
			    const uint8_t *buf, size_t len);

	/* Join mode, server side: the PSK for the token with this id
	 * (tp_token_psk over the stored hash), or an error to refuse
	 * (ERR_NOTFOUND: unknown, ERR_AUTH: expired or revoked; ERR_AGAIN:
	 * cannot tell yet, the joiner's callback gets ERR_AGAIN and may
	 * dial again, where every other error gives it ERR_AUTH). token_id is
	 * TP_TOKEN_ID_HEX hex characters, NUL-terminated, already checked to
	 * be lower-case hex. NULL: this node answers no joins. */
	int (*join_psk)(void *ctx, const char *token_id,
			uint8_t psk_out[TP_KEY_LEN]);

	/* Join mode, server side: the joiner's one request, after a
	 * handshake with the token's PSK. jr is owned by the transport but
	 * the owner MUST answer it exactly once, with tp_join_reply or
	 * tp_join_refuse, now or later (even after the connection closed or
	 * tp_stop ran: the answer then only frees jr). Required if join_psk
	 * is set. */
	void (*on_join)(void *ctx, struct tp_join_req *jr, const uint8_t *buf,
			size_t len);

	/* Optional: the wall clock in ms since the epoch for datagram
	 * timestamps (tests inject one). NULL: CLOCK_REALTIME. */
	uint64_t (*wall_ms)(void *ctx);
};

/* Counters, all monotonic except conns_open/conns_inbound. Rejections
 * are counted once per frame, datagram or handshake refused. */
enum tp_reason {
	TP_REJ_MALFORMED = 0, /* not our format: bad magic, length, field */
	TP_REJ_AUTH,          /* failed decryption/MAC: wrong key or altered */
	TP_REJ_REPLAY,        /* datagram nonce seen, or stamp outside window */
	TP_REJ_TOO_BIG,       /* frame length over frame_max */
	TP_REJ_UNKNOWN_PEER,  /* check_peer / join_psk refused */
	TP_REJ_VERSION,       /* no common protocol version */
	TP_REJ_COUNT_
};

struct tp_stats {
	uint64_t bytes_in, bytes_out;   /* on the wire, TCP + UDP */
	uint64_t frames_in, frames_out; /* TCP frames delivered / written */
	uint64_t datagrams_in, datagrams_out;
	uint64_t conns_open;            /* now, both directions */
	uint64_t conns_inbound;         /* now, dialled to us */
	uint64_t conns_refused;         /* over inbound_max */
	uint64_t handshakes_ok, handshakes_failed;
	uint64_t send_dropped;          /* tp_send/tp_sendto ERR_AGAIN */
	uint64_t frames_rejected[TP_REJ_COUNT_];
	uint64_t datagrams_rejected[TP_REJ_COUNT_];
};

/* "malformed", "auth", "replay", "too_big", "unknown_peer", "version":
 * the label for metrics. Static string. */
const char *tp_reason_name(enum tp_reason r);

/* Binds cfg->bind (TCP listener and UDP socket on the same port) and
 * starts serving. On success *out is the new transport (free it with
 * tp_stop). Returns 0, ERR_INVAL (bad address, missing callback),
 * ERR_NOMEM, or a libuv error (UV_EADDRINUSE ...); on error the handles
 * opened so far close (and free everything) on the loop's next turn.
 * cfg is copied; its strings and keys need not outlive the call. */
int tp_start(struct tp **out, const struct tp_config *cfg);

/* The bound "IP:PORT" (with port 0 resolved). Borrowed; valid until
 * tp_stop. */
const char *tp_local_addr(const struct tp *t);

/* Installs the cluster secret (after a join, or on rotation): later
 * handshakes use its PSK and datagrams its key. Existing connections stay
 * up. secret is copied. */
void tp_set_secret(struct tp *t, const uint8_t secret[TP_KEY_LEN]);

/* Queues one frame to addr on channel (1..255); buf is copied. Dials addr
 * if no connection is open or in progress. Returns 0 when queued,
 * ERR_AGAIN when addr's queue is full (counted in send_dropped),
 * ERR_TOOBIG over frame_max, ERR_INVAL for a bad address or channel 0,
 * ERR_CONFIG without a cluster secret, ERR_SHUTDOWN after tp_stop,
 * ERR_NOMEM. */
int tp_send(struct tp *t, const char *addr, uint8_t channel, const void *buf,
	    size_t len);

/* Seals and sends one datagram to addr; buf is copied. Returns 0 (sent or
 * handed to the kernel; UDP may still lose it), ERR_TOOBIG over
 * TP_DATAGRAM_MAX, ERR_INVAL, ERR_CONFIG without a secret, ERR_AGAIN when
 * the socket's send buffer is full, ERR_SHUTDOWN. */
int tp_sendto(struct tp *t, const char *addr, const void *buf, size_t len);

/* Closes the outbound connection to addr, drops its queue and forgets
 * its backoff (a removed member). Inbound connections from a peer are
 * closed with tp_close_peer. No-op if none. */
void tp_close_addr(struct tp *t, const char *addr);

/* Closes every established connection whose peer has this static key,
 * both directions (a removed member: check_peer refuses it from now on, and
 * this drops what is already open). */
void tp_close_peer(struct tp *t, const uint8_t static_pk[TP_KEY_LEN]);

/* Join mode, client side: dials peer_addr, runs the handshake with the
 * PSK of token ("ID.SECRET"), sends req (copied) as one frame, waits for
 * one reply frame (up to join_ms), and calls cb exactly once:
 * cb(arg, 0, reply, len) with the reply borrowed for the call, or
 * cb(arg, err, NULL, 0) with ERR_AUTH
 * (handshake failed: wrong token or not a cluster member), ERR_AGAIN
 * (the server cannot check the token yet: join_psk said ERR_AGAIN; a
 * later tp_join may succeed), ERR_VERSION,
 * ERR_TIMEOUT, ERR_CLOSED, ERR_SHUTDOWN (tp_stop ran), or the refusal
 * status the server sent (tp_join_refuse). tp_join returns 0 (cb will
 * run, never before tp_join returns), or ERR_INVAL (bad token or
 * address), ERR_SHUTDOWN, ERR_NOMEM, and then cb never runs. Works with
 * or without a cluster secret. */
typedef void (*tp_join_cb)(void *arg, int status, const uint8_t *reply,
			   size_t len);
int tp_join(struct tp *t, const char *peer_addr, const char *token,
	    const void *req, size_t len, tp_join_cb cb, void *arg);

/* The same with the token already split: its id and the hash the
 * cluster domain stores for it (what the server derives the PSK from).
 * The node uses this with the token format of node/core.h, whose hash is
 * taken over the secret's characters; tp_join above is the same exchange
 * for tokens made with tp_token_new. */
int tp_join_hashed(struct tp *t, const char *peer_addr, const char *token_id,
		   const uint8_t hash[TP_KEY_LEN], const void *req, size_t len,
		   tp_join_cb cb, void *arg);

/* Accessors for a join request given to on_join; valid until it is
 * answered. The joiner's static key, advertised address and token id. */
const uint8_t *tp_join_req_static_pk(const struct tp_join_req *jr);
const char *tp_join_req_addr(const struct tp_join_req *jr);
const char *tp_join_req_token_id(const struct tp_join_req *jr);

/* Answers a join request with one reply frame (buf copied, at most
 * frame_max) and closes the connection once it is written; frees jr.
 * If the connection already closed, only frees jr. */
void tp_join_reply(struct tp_join_req *jr, const void *buf, size_t len);

/* Refuses a join request: the joiner's cb gets `status` (a negative
 * ERR_ code); frees jr. */
void tp_join_refuse(struct tp_join_req *jr, int status);

/* Copies the counters. */
void tp_stats(const struct tp *t, struct tp_stats *out);

/* Stops: closes the listener, the UDP socket and every connection, drops
 * every queue, calls pending tp_join callbacks with ERR_SHUTDOWN, and once
 * libuv has closed every handle frees t and calls done(arg). t must not
 * be used after tp_stop returns. Outstanding tp_join_req stay valid until
 * the owner answers them. done may be NULL. */
void tp_stop(struct tp *t, void (*done)(void *arg), void *arg);

/* ---- Keys and tokens (pure helpers; no loop needed) ---- */

/* A new static X25519 identity key pair for a node. */
void tp_keypair(uint8_t pk[TP_KEY_LEN], uint8_t sk[TP_KEY_LEN]);

/* The public key of a static secret key (to check a stored pair). */
void tp_public_key(const uint8_t sk[TP_KEY_LEN], uint8_t pk[TP_KEY_LEN]);

/* A new random cluster secret. */
void tp_secret_new(uint8_t secret[TP_KEY_LEN]);

/* The handshake PSK of cluster mode, and the datagram key: each a
 * one-way function of the secret (BLAKE2b KDF, distinct contexts), so
 * neither reveals the secret nor the other. */
void tp_cluster_psk(const uint8_t secret[TP_KEY_LEN], uint8_t psk[TP_KEY_LEN]);
void tp_udp_key(const uint8_t secret[TP_KEY_LEN], uint8_t key[TP_KEY_LEN]);

/* Join tokens: the string "ID.SECRET", ID = 16 lower-case hex characters
 * (8 random bytes), SECRET = 64 lower-case hex characters (32 random
 * bytes). The ID travels in clear in the first handshake message; the
 * SECRET never leaves the two ends.
 *
 * What the cluster domain stores for a token: the ID (string) and
 * hash = tp_token_hash(secret), 32 bytes (BLAKE2b-256 keyed by nothing,
 * over a fixed label and the 32 raw secret bytes), plus expiry/revoked.
 * The server derives the join PSK from (ID, hash) alone with
 * tp_token_psk; the joiner computes the same from the token string
 * (tp_token_parse, tp_token_hash, tp_token_psk). The plain secret is
 * shown once at creation and never stored. */

/* Creates a token: writes the NUL-terminated string into str (at least
 * TP_TOKEN_STR_MAX bytes), the id into id (at least TP_TOKEN_ID_HEX + 1
 * bytes), and the hash to store into hash. */
void tp_token_new(char *str, char *id, uint8_t hash[TP_KEY_LEN]);

/* Parses "ID.SECRET" (exact lengths, lower- or upper-case hex; no
 * surrounding space). On success writes id (lower-case, NUL-terminated,
 * TP_TOKEN_ID_HEX + 1 bytes) and the raw secret. Returns 0 or
 * ERR_MALFORMED. */
int tp_token_parse(const char *str, char *id, uint8_t secret[TP_KEY_LEN]);

void tp_token_hash(const uint8_t secret[TP_KEY_LEN], uint8_t hash[TP_KEY_LEN]);

/* The join PSK: a function of the id and the stored hash, so the server
 * needs no plain secret. id is the NUL-terminated token id. */
void tp_token_psk(const char *id, const uint8_t hash[TP_KEY_LEN],
		  uint8_t psk[TP_KEY_LEN]);

/* Lower-case hex of a 32-byte key into out (TP_HEX_MAX bytes), and back
 * (64 hex characters exactly; returns 0 or ERR_MALFORMED). For the key
 * files in the data dir. */
void tp_key_to_hex(const uint8_t key[TP_KEY_LEN], char *out);
int tp_key_from_hex(const char *hex, uint8_t key[TP_KEY_LEN]);

#endif
