/*
 * snapfile.c: the cluster backup file (see snapfile.h for the layout).
 */
#include "node/snapfile.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"

static void put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

void snapfile_enc_init(struct snapfile_enc *e)
{
	crypto_generichash_init(&e->h, NULL, 0, SNAPFILE_SUM_LEN);
}

void snapfile_enc_bytes(struct snapfile_enc *e, const uint8_t *p, size_t n)
{
	crypto_generichash_update(&e->h, p, n);
}

void snapfile_enc_header(struct snapfile_enc *e,
			 const struct snapfile_header *h,
			 uint8_t out[SNAPFILE_HEADER_LEN])
{
	memcpy(out, SNAPFILE_MAGIC, SNAPFILE_MAGIC_LEN);
	put_u32be(out + 8, h->version);
	memcpy(out + 12, h->cluster_id, SNAPFILE_ID_LEN);
	put_u64be(out + 28, h->index);
	put_u64be(out + 36, h->term);
	put_u64be(out + 44, h->created_ms);
	snapfile_enc_bytes(e, out, SNAPFILE_HEADER_LEN);
}

void snapfile_enc_frame(struct snapfile_enc *e, size_t len, uint8_t out[4])
{
	ASSERT(len > 0 && len <= SNAPFILE_FRAME_MAX);
	put_u32be(out, (uint32_t)len);
	snapfile_enc_bytes(e, out, 4);
}

void snapfile_enc_end(struct snapfile_enc *e,
		      uint8_t out[4 + SNAPFILE_SUM_LEN])
{
	put_u32be(out, 0);
	snapfile_enc_bytes(e, out, 4);
	crypto_generichash_final(&e->h, out + 4, SNAPFILE_SUM_LEN);
}

void snapfile_id_hex(const uint8_t id[SNAPFILE_ID_LEN], char *out)
{
	sodium_bin2hex(out, 2 * SNAPFILE_ID_LEN + 1, id, SNAPFILE_ID_LEN);
}

/* --- Reading ----------------------------------------------------------- */

struct rd {
	FILE *f;
	crypto_generichash_state h;
	uint64_t off; /* bytes read so far */
	char *err;
	size_t errsz;
};

/* Reads exactly n bytes; 1 when the file ends first, ERR_IO on a read
 * error. Hashes what it read when hash is set. */
static int rd_exact(struct rd *r, uint8_t *p, size_t n, int hash)
{
	size_t got = fread(p, 1, n, r->f);

	r->off += got;
	if (got < n)
		return ferror(r->f) ? ERR_IO : 1;
	if (hash)
		crypto_generichash_update(&r->h, p, n);
	return 0;
}

static int rd_header(struct rd *r, struct snapfile_header *h)
{
	uint8_t b[SNAPFILE_HEADER_LEN];
	int rv = rd_exact(r, b, sizeof(b), 1);

	if (rv < 0) {
		snprintf(r->err, r->errsz, "cannot read: %s", err_str(rv));
		return rv;
	}
	if ((rv == 1 && r->off < SNAPFILE_MAGIC_LEN) ||
	    memcmp(b, SNAPFILE_MAGIC, SNAPFILE_MAGIC_LEN) != 0) {
		snprintf(r->err, r->errsz,
			 "not a clusterd snapshot file (no CLDSNAP header)");
		return ERR_MALFORMED;
	}
	if (rv == 1) {
		snprintf(r->err, r->errsz,
			 "truncated: the file ends inside its header (%llu "
			 "bytes)", (unsigned long long)r->off);
		return ERR_CORRUPT;
	}
	h->version = get_u32be(b + 8);
	memcpy(h->cluster_id, b + 12, SNAPFILE_ID_LEN);
	h->index = get_u64be(b + 28);
	h->term = get_u64be(b + 36);
	h->created_ms = get_u64be(b + 44);
	if (h->version != SNAPFILE_VERSION) {
		snprintf(r->err, r->errsz,
			 "snapshot format version %u; this build reads "
			 "version %u", h->version, SNAPFILE_VERSION);
		return ERR_VERSION;
	}
	return 0;
}

/* The frames up to the end marker. */
static int rd_frames(struct rd *r, snapfile_frame_fn fn, void *arg)
{
	uint8_t *buf = NULL, lenb[4];
	size_t cap = 0;
	uint64_t nframe = 0;
	uint32_t len;
	int rv;

	for (;;) {
		rv = rd_exact(r, lenb, 4, 1);
		if (rv != 0)
			break;
		len = get_u32be(lenb);
		if (len == 0)
			break;
		nframe++;
		if (len > SNAPFILE_FRAME_MAX) {
			snprintf(r->err, r->errsz,
				 "damaged: frame %llu claims %u bytes (at byte "
				 "%llu)", (unsigned long long)nframe, len,
				 (unsigned long long)(r->off - 4));
			rv = ERR_CORRUPT;
			break;
		}
		if (len > cap) {
			uint8_t *p = realloc(buf, len);

			if (p == NULL) {
				rv = ERR_NOMEM;
				break;
			}
			buf = p;
			cap = len;
		}
		rv = rd_exact(r, buf, len, 1);
		if (rv != 0)
			break;
		rv = fn != NULL ? fn(arg, buf, len) : 0;
		if (rv != 0) {
			if (r->err[0] == '\0')
				snprintf(r->err, r->errsz,
					 "frame %llu refused: %s",
					 (unsigned long long)nframe,
					 err_str(rv));
			break;
		}
	}
	free(buf);
	if (rv == 1) {
		snprintf(r->err, r->errsz,
			 "truncated: the file ends after %llu bytes, inside "
			 "frame %llu, before its end marker and checksum",
			 (unsigned long long)r->off,
			 (unsigned long long)nframe);
		rv = ERR_CORRUPT;
	} else if (rv == ERR_IO || rv == ERR_NOMEM) {
		snprintf(r->err, r->errsz, "cannot read: %s", err_str(rv));
	}
	return rv;
}

static int rd_checksum(struct rd *r)
{
	uint8_t want[SNAPFILE_SUM_LEN], got[SNAPFILE_SUM_LEN], extra;
	int rv = rd_exact(r, got, sizeof(got), 0);

	if (rv < 0) {
		snprintf(r->err, r->errsz, "cannot read: %s", err_str(rv));
		return rv;
	}
	if (rv == 1) {
		snprintf(r->err, r->errsz,
			 "truncated: the file ends after %llu bytes, inside "
			 "its checksum", (unsigned long long)r->off);
		return ERR_CORRUPT;
	}
	crypto_generichash_final(&r->h, want, sizeof(want));
	if (sodium_memcmp(want, got, sizeof(want)) != 0) {
		snprintf(r->err, r->errsz,
			 "damaged: the checksum (BLAKE2b) does not match the "
			 "contents");
		return ERR_CORRUPT;
	}
	if (fread(&extra, 1, 1, r->f) != 0) {
		snprintf(r->err, r->errsz,
			 "damaged: bytes follow the checksum at byte %llu",
			 (unsigned long long)r->off);
		return ERR_CORRUPT;
	}
	return 0;
}

int snapfile_read(FILE *f, struct snapfile_header *h, snapfile_frame_fn fn,
		  void *arg, char *err, size_t errsz)
{
	struct rd r;
	int rv;

	ASSERT(errsz > 0);
	memset(&r, 0, sizeof(r));
	r.f = f;
	r.err = err;
	r.errsz = errsz;
	err[0] = '\0';
	crypto_generichash_init(&r.h, NULL, 0, SNAPFILE_SUM_LEN);
	memset(h, 0, sizeof(*h));
	rv = rd_header(&r, h);
	if (rv == 0)
		rv = rd_frames(&r, fn, arg);
	if (rv == 0)
		rv = rd_checksum(&r);
	return rv;
}
