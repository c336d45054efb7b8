/*
 * bytes.c: bounded cursors and buffers. See bytes.h.
 */
#include "base/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

void put_u32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void put_u64be(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[7 - i] = (uint8_t)(v >> (8 * i));
}

uint32_t get_u32le(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

uint64_t get_u64le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t get_u64be(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

int rcur_view(struct rcur *c, const uint8_t **out, size_t n)
{
	if (n > rcur_left(c))
		return ERR_MALFORMED;
	*out = c->p + c->off;
	c->off += n;
	return 0;
}

int rcur_copy(struct rcur *c, void *out, size_t n)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, n);

	if (rv == 0 && n > 0)
		memcpy(out, p, n);
	return rv;
}

int rcur_skip(struct rcur *c, size_t n)
{
	const uint8_t *p;

	return rcur_view(c, &p, n);
}

int rcur_u8(struct rcur *c, uint8_t *out)
{
	return rcur_copy(c, out, 1);
}

int rcur_u16le(struct rcur *c, uint16_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 2);

	if (rv == 0)
		*out = (uint16_t)(p[0] | (p[1] << 8));
	return rv;
}

int rcur_u32le(struct rcur *c, uint32_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 4);

	if (rv == 0)
		*out = get_u32le(p);
	return rv;
}

int rcur_i32le(struct rcur *c, int32_t *out)
{
	uint32_t v;
	int rv = rcur_u32le(c, &v);

	if (rv == 0)
		memcpy(out, &v, sizeof(v));
	return rv;
}

int rcur_u64le(struct rcur *c, uint64_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 8);

	if (rv == 0)
		*out = get_u64le(p);
	return rv;
}

int rcur_u32be(struct rcur *c, uint32_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 4);

	if (rv == 0)
		*out = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		       ((uint32_t)p[2] << 8) | p[3];
	return rv;
}

int rcur_u64be(struct rcur *c, uint64_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 8);

	if (rv == 0)
		*out = get_u64be(p);
	return rv;
}

void wbuf_init(struct wbuf *b, size_t limit)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

void wbuf_free(struct wbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void wbuf_reset(struct wbuf *b)
{
	b->len = 0;
}

int wbuf_reserve(struct wbuf *b, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (n > b->limit - b->len)
		return ERR_TOOBIG;
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->limit)
		cap = b->limit;
	p = realloc(b->p, cap);
	if (!p)
		return ERR_NOMEM;
	b->p = p;
	b->cap = cap;
	ASSERT(b->cap >= need);
	return 0;
}

int wbuf_put(struct wbuf *b, const void *p, size_t n)
{
	int rv;

	if (n == 0)
		return 0;
	rv = wbuf_reserve(b, n);
	if (rv)
		return rv;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int wbuf_u8(struct wbuf *b, uint8_t v)
{
	return wbuf_put(b, &v, 1);
}

int wbuf_u32le(struct wbuf *b, uint32_t v)
{
	uint8_t tmp[4];

	put_u32le(tmp, v);
	return wbuf_put(b, tmp, 4);
}

int wbuf_i32le(struct wbuf *b, int32_t v)
{
	uint32_t u;

	memcpy(&u, &v, sizeof(u));
	return wbuf_u32le(b, u);
}

int wbuf_u64le(struct wbuf *b, uint64_t v)
{
	uint8_t tmp[8];

	put_u64le(tmp, v);
	return wbuf_put(b, tmp, 8);
}

int wbuf_u32be(struct wbuf *b, uint32_t v)
{
	uint8_t tmp[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			  (uint8_t)(v >> 8), (uint8_t)v};

	return wbuf_put(b, tmp, 4);
}

int wbuf_u64be(struct wbuf *b, uint64_t v)
{
	uint8_t tmp[8];

	put_u64be(tmp, v);
	return wbuf_put(b, tmp, 8);
}

int wbuf_vprintf(struct wbuf *b, const char *fmt, va_list ap)
{
	va_list again;
	size_t room = b->cap - b->len;
	int n, rv;

	va_copy(again, ap);
	n = vsnprintf(room ? (char *)b->p + b->len : NULL, room, fmt, ap);
	if (n >= 0 && (size_t)n >= room) {
		/* Too long for the space left: make room for the text and
		 * vsnprintf's NUL, then format again. */
		rv = wbuf_reserve(b, (size_t)n + 1);
		if (rv == ERR_TOOBIG && (size_t)n <= b->limit - b->len)
			rv = wbuf_reserve(b, (size_t)n); /* NUL won't fit */
		if (rv) {
			va_end(again);
			return rv;
		}
		room = b->cap - b->len;
		if ((size_t)n < room) {
			n = vsnprintf((char *)b->p + b->len, room, fmt, again);
		} else {
			/* Exactly at the limit: format into a scratch copy. */
			char *tmp = malloc((size_t)n + 1);

			if (!tmp) {
				va_end(again);
				return ERR_NOMEM;
			}
			vsnprintf(tmp, (size_t)n + 1, fmt, again);
			memcpy(b->p + b->len, tmp, (size_t)n);
			free(tmp);
		}
	}
	va_end(again);
	if (n < 0)
		return ERR_INVAL;
	b->len += (size_t)n;
	return 0;
}

int wbuf_printf(struct wbuf *b, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = wbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return rv;
}

uint8_t *wbuf_take(struct wbuf *b, size_t *len)
{
	uint8_t *p = b->p;

	*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

/* Table-driven CRC-32C, reflected polynomial 0x82F63B78. The table is
 * built on first use; building it twice from two threads writes the same
 * values, which is harmless. */
static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
	crc_table_ready = 1;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (!crc_table_ready)
		crc_init();
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}
