/*
 * snapfile.h: the cluster backup file (`clusterctl snapshot save`,
 * `clusterd restore`), written by any node and read offline.
 *
 * Layout, every integer big-endian, nothing copied from a struct:
 *   header   magic "CLDSNAP\n" (8) | format version u32 | cluster id (16
 *            raw bytes) | index u64 | term u64 | created_ms u64   = 52
 *   frames   length u32 (1..SNAPFILE_FRAME_MAX) | that many bytes: one
 *            chunk of the store's snapshot stream (storage.h,
 *            stor_snap_reader_next), in order
 *   end      length 0 (u32)
 *   checksum BLAKE2b-512 (crypto_generichash, no key) of every byte
 *            before it                                           = 64
 * Nothing may follow the checksum. index and term are those of the last
 * entry the state includes, cluster id that of the cluster it came from.
 *
 * The writer (the node) produces the bytes in order with one hash state,
 * so a file streams out in bounded memory. The reader checks the framing
 * as it goes and the checksum at the end, so a truncated file, a flipped
 * byte or trailing garbage is refused with a message that says which;
 * its memory is one frame. The checksum guards against damage, not
 * against an adversary (anyone can recompute it): a backup is as secret
 * as the state it holds (API token hashes, KV data).
 */
#ifndef CLUSTERD_NODE_SNAPFILE_H
#define CLUSTERD_NODE_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sodium.h>

#define SNAPFILE_MAGIC "CLDSNAP\n"
#define SNAPFILE_MAGIC_LEN 8
#define SNAPFILE_VERSION 1
#define SNAPFILE_ID_LEN 16
#define SNAPFILE_HEADER_LEN 52
#define SNAPFILE_SUM_LEN 64
/* A frame holds one chunk of the store's stream: at most its chunk bound
 * plus one record (storage.h: a value of up to 8 MiB). The node writes
 * chunks of SNAPFILE_CHUNK bytes; the bound is what a reader accepts. */
#define SNAPFILE_FRAME_MAX (80u << 20)
#define SNAPFILE_CHUNK (256u << 10)
#define SNAPFILE_ERR_MAX 256

struct snapfile_header {
	uint32_t version;
	uint8_t cluster_id[SNAPFILE_ID_LEN];
	uint64_t index, term;
	uint64_t created_ms; /* wall clock of the node that wrote it */
};

/* --- Writing ----------------------------------------------------------- */

/* The running checksum of the bytes written so far. */
struct snapfile_enc {
	crypto_generichash_state h;
};

void snapfile_enc_init(struct snapfile_enc *e);
/* Encodes the header into out and hashes it. */
void snapfile_enc_header(struct snapfile_enc *e,
			 const struct snapfile_header *h,
			 uint8_t out[SNAPFILE_HEADER_LEN]);
/* A frame's 4-byte length prefix (len 1..SNAPFILE_FRAME_MAX), hashed; the
 * caller then hashes the frame's bytes with snapfile_enc_bytes. */
void snapfile_enc_frame(struct snapfile_enc *e, size_t len, uint8_t out[4]);
void snapfile_enc_bytes(struct snapfile_enc *e, const uint8_t *p, size_t n);
/* The end marker and the checksum: 4 + SNAPFILE_SUM_LEN bytes. */
void snapfile_enc_end(struct snapfile_enc *e,
		      uint8_t out[4 + SNAPFILE_SUM_LEN]);

/* --- Reading ----------------------------------------------------------- */

/* Called for each frame in order; p is borrowed for the call. A non-zero
 * return stops the read and is returned. */
typedef int (*snapfile_frame_fn)(void *arg, const uint8_t *p, size_t n);

/* Reads f from its current position to the end: the header into *h, each
 * frame to fn (NULL: none), then the checksum. Returns 0 only when the
 * whole file is well formed and its checksum matches. Otherwise
 * ERR_MALFORMED (not a snapshot file: bad magic), ERR_VERSION (a format
 * this build cannot read), ERR_CORRUPT (truncated, damaged: a frame
 * length out of bounds, a checksum mismatch, bytes after the checksum),
 * ERR_IO, ERR_NOMEM, or fn's code; err says which, for a human (e.g.
 * "truncated: the file ends inside frame 3 (at byte 123456)"). fn runs
 * before the checksum is known: a caller that acts on the frames must
 * undo what it did unless this returns 0. */
int snapfile_read(FILE *f, struct snapfile_header *h, snapfile_frame_fn fn,
		  void *arg, char *err, size_t errsz);

/* The cluster id as 32 lowercase hex characters (out[33]). */
void snapfile_id_hex(const uint8_t id[SNAPFILE_ID_LEN], char *out);

#endif
