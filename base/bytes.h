/*
 * bytes.h: bounded byte cursors for fixed binary layouts (RCON framing,
 * checksummed storage records). A read cursor never reads past its end:
 * every getter returns ERR_MALFORMED on a short buffer and leaves the
 * cursor where it was. A write buffer grows up to a stated limit and
 * returns ERR_TOOBIG past it, so a hostile peer cannot make it grow
 * without bound.
 */
#ifndef CLUSTERD_BASE_BYTES_H
#define CLUSTERD_BASE_BYTES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* A read cursor over borrowed memory. */
struct rcur {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static inline void rcur_init(struct rcur *c, const void *p, size_t len)
{
	c->p = (const uint8_t *)p;
	c->len = len;
	c->off = 0;
}

static inline size_t rcur_left(const struct rcur *c)
{
	return c->len - c->off;
}

int rcur_u8(struct rcur *c, uint8_t *out);
int rcur_u16le(struct rcur *c, uint16_t *out);
int rcur_u32le(struct rcur *c, uint32_t *out);
int rcur_i32le(struct rcur *c, int32_t *out);
int rcur_u64le(struct rcur *c, uint64_t *out);
int rcur_u32be(struct rcur *c, uint32_t *out);
int rcur_u64be(struct rcur *c, uint64_t *out);
/* Copies n bytes out. */
int rcur_copy(struct rcur *c, void *out, size_t n);
/* Points *out at the next n bytes (borrowed from the cursor's memory). */
int rcur_view(struct rcur *c, const uint8_t **out, size_t n);
int rcur_skip(struct rcur *c, size_t n);

/* A growable write buffer that owns its memory (free with wbuf_free). */
struct wbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t limit; /* len never exceeds this */
};

void wbuf_init(struct wbuf *b, size_t limit);
void wbuf_free(struct wbuf *b);
void wbuf_reset(struct wbuf *b);
/* Makes room for n more bytes; ERR_TOOBIG past the limit, ERR_NOMEM. */
int wbuf_reserve(struct wbuf *b, size_t n);
int wbuf_put(struct wbuf *b, const void *p, size_t n);
int wbuf_u8(struct wbuf *b, uint8_t v);
int wbuf_u32le(struct wbuf *b, uint32_t v);
int wbuf_i32le(struct wbuf *b, int32_t v);
int wbuf_u64le(struct wbuf *b, uint64_t v);
int wbuf_u32be(struct wbuf *b, uint32_t v);
int wbuf_u64be(struct wbuf *b, uint64_t v);
/* Appends printf-formatted text (without a NUL). ERR_TOOBIG past the
 * limit (the buffer is then unchanged), ERR_NOMEM, ERR_INVAL on a bad
 * format. */
int wbuf_printf(struct wbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int wbuf_vprintf(struct wbuf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Hands the buffer to the caller (free() it); b is left empty. */
uint8_t *wbuf_take(struct wbuf *b, size_t *len);

/* Fixed-width integer encoding into raw memory the caller has sized. */
void put_u32le(uint8_t *p, uint32_t v);
void put_u64le(uint8_t *p, uint64_t v);
void put_u64be(uint8_t *p, uint64_t v);
uint32_t get_u32le(const uint8_t *p);
uint64_t get_u64le(const uint8_t *p);
uint64_t get_u64be(const uint8_t *p);

/* CRC-32C (Castagnoli), for stored records. `crc` is 0 for a new sum. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
/* The same sum a byte at a time from a table: what crc32c() uses where the
 * CPU has no CRC-32C instruction, and what the tests check it against. */
uint32_t crc32c_portable(uint32_t crc, const void *p, size_t n);
/* 1 when crc32c() uses the CPU's instruction (SSE4.2). */
int crc32c_hw(void);

#endif
