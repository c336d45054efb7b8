/*
 * codec.h: the Source RCON packet codec (pure: no I/O, no clock).
 *
 * Implements the framing of Valve's Source RCON protocol as Factorio's
 * headless server speaks it over TCP (docs/factorio.md, "RCON"):
 *
 *   int32 LE length   counts id + type + body + 2 NULs (so >= 10)
 *   int32 LE id       chosen by the client, echoed in the reply
 *   int32 LE type     3 = auth, 2 = exec command / auth reply, 0 = response
 *   body              bytes (text in practice), no terminator of its own
 *   NUL NUL           the body's terminator and an empty second string
 *
 * The decoder is incremental: it accepts the TCP stream in chunks of any
 * size (down to one byte) and checks every length against a limit the
 * owner chooses before it allocates, so a hostile peer can neither make it
 * read out of bounds nor make it allocate more than the limit. Limits
 * differ by direction: Factorio accepts commands of a few kB (see
 * RCON_LEN_MAX_TO_SERVER) but answers one packet of up to ~100 kB
 * (RCON_LEN_MAX_TO_CLIENT allows ten times that).
 *
 * Used by rcon/client.c. tools/factorio-standin keeps a framing of its
 * own (its frame.h), written from the protocol description rather than
 * from this codec, so that a bug here cannot hide in both ends of the
 * e2e tests.
 */
#ifndef CLUSTERD_RCON_CODEC_H
#define CLUSTERD_RCON_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"

enum rcon_type {
	RCON_TYPE_RESPONSE = 0,   /* server -> client: a command's output */
	RCON_TYPE_EXEC = 2,       /* client -> server: run a command */
	RCON_TYPE_AUTH_REPLY = 2, /* server -> client: answer to an auth */
	RCON_TYPE_AUTH = 3,       /* client -> server: the password */
};

/* An auth reply with this id means the password was wrong. */
#define RCON_AUTH_FAILED_ID (-1)

/* Bytes before the body: length, id, type. */
#define RCON_HEADER_SIZE 12
/* Bytes counted by the length field around the body: id, type, 2 NULs. */
#define RCON_LEN_OVERHEAD 10
/* The smallest legal length field: an empty body. */
#define RCON_LEN_MIN RCON_LEN_OVERHEAD
/* Client -> server: Source's classic limit is a 4096-byte body. */
#define RCON_LEN_MAX_TO_SERVER (4096 + RCON_LEN_OVERHEAD)
/* The largest command clusterd's client sends by default (rcon/client.h,
 * command_max): Factorio accepts commands far above Source's 4096 bytes
 * (it crashed only at 13,340+ characters, up to 1.1.60), and chunked
 * payloads use 10,000-byte commands. A server standing in for Factorio
 * must therefore accept at least RCON_LEN_MAX_TO_GAME. */
#define RCON_COMMAND_SAFE_MAX 10000
#define RCON_LEN_MAX_TO_GAME (16384 + RCON_LEN_OVERHEAD)
/* Server -> client: Factorio answers one packet, up to ~100 kB in
 * practice (large rcon.print output); 1 MiB leaves a margin of ten. */
#define RCON_LEN_MAX_TO_CLIENT (1024 * 1024)
/* The largest limit a decoder accepts (the length field is an int32). */
#define RCON_LEN_LIMIT_MAX (64u * 1024 * 1024)

/* A decoded packet. `body` points into the decoder's buffer (borrowed:
 * valid until the next rcon_decoder_feed or rcon_decoder_free call) and is
 * NUL-terminated at body[body_len]; the body may itself contain NULs. */
struct rcon_packet {
	int32_t id;
	int32_t type;
	const char *body;
	size_t body_len;
};

/* Bytes an encoded packet with a body of body_len bytes takes. */
static inline size_t rcon_encoded_size(size_t body_len)
{
	return RCON_HEADER_SIZE + body_len + 2;
}

/*
 * Encodes one packet into out[0 .. cap) and sets *written to
 * rcon_encoded_size(body_len). Returns 0, or ERR_TOOBIG if cap is too small
 * or the body does not fit the int32 length field (nothing written then).
 * body is copied; it may be NULL when body_len is 0.
 */
int rcon_encode(uint8_t *out, size_t cap, int32_t id, int32_t type,
		const void *body, size_t body_len, size_t *written);

/* Appends one encoded packet to b. ERR_TOOBIG past b's limit (b is then
 * unchanged), ERR_NOMEM. */
int rcon_encode_wbuf(struct wbuf *b, int32_t id, int32_t type,
		     const void *body, size_t body_len);

/* The incremental decoder. Owns its buffer; free with rcon_decoder_free.
 * Fields are private. */
struct rcon_decoder {
	uint32_t len_max; /* largest accepted length field */
	uint8_t hdr[4];   /* the length field while it arrives */
	size_t hdr_have;
	uint32_t len;     /* the current packet's length field, once known */
	uint8_t *buf;     /* len + 1 bytes: id, type, body, NUL, NUL, NUL */
	size_t buf_cap;
	size_t have;      /* bytes of buf filled */
	int err;          /* sticky: once malformed, always malformed */
	uint64_t packets; /* packets decoded so far */
};

/* Prepares a decoder that accepts length fields in [RCON_LEN_MIN,
 * len_max]; len_max must lie in [RCON_LEN_MIN, RCON_LEN_LIMIT_MAX]. */
void rcon_decoder_init(struct rcon_decoder *d, uint32_t len_max);
void rcon_decoder_free(struct rcon_decoder *d);
/* Forgets any partial packet and error (for a new connection). */
void rcon_decoder_reset(struct rcon_decoder *d);

/*
 * Feeds bytes from the stream. Consumes bytes up to the end of the first
 * packet they complete, and sets *consumed to the count used (always set).
 * Returns:
 *   1  a packet is complete; *out describes it (body borrowed, see above).
 *      Feed the remaining n - *consumed bytes in the next call.
 *   0  all n bytes consumed, no packet complete yet.
 *   ERR_MALFORMED  the length is below RCON_LEN_MIN or above len_max, or
 *      the body's two terminating NULs are missing. The error is sticky:
 *      every later call returns it until rcon_decoder_reset. The stream
 *      cannot be resynchronised; close the connection.
 *   ERR_NOMEM  the buffer could not grow (sticky as well).
 */
int rcon_decoder_feed(struct rcon_decoder *d, const uint8_t *p, size_t n,
		      size_t *consumed, struct rcon_packet *out);

/* True if the decoder holds part of a packet (bytes were fed that do not
 * yet form a whole packet): a clean end of stream has none. */
int rcon_decoder_partial(const struct rcon_decoder *d);

#endif
