/*
 * codec.c: Source RCON framing. See codec.h for the format and the
 * decoder's contract.
 *
 * The decoder works in two phases per packet: it collects the 4-byte
 * length field (which may arrive split over several reads), validates it
 * against [RCON_LEN_MIN, len_max] before it allocates anything, then
 * collects exactly that many bytes into its own buffer and checks the two
 * terminating NULs. The buffer is reused between packets; after a large
 * packet it shrinks back to RETAIN_MAX so one 1 MiB reply does not pin a
 * megabyte per connection for the connection's lifetime.
 */
#include "rcon/codec.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

/* Buffer size kept between packets: covers every command and nearly every
 * reply (Factorio replies are mostly short text). */
#define RETAIN_MAX 65536u

int rcon_encode(uint8_t *out, size_t cap, int32_t id, int32_t type,
		const void *body, size_t body_len, size_t *written)
{
	size_t total;

	ASSERT(out != NULL || cap == 0);
	ASSERT(body != NULL || body_len == 0);
	if (body_len > (size_t)INT32_MAX - RCON_LEN_OVERHEAD)
		return ERR_TOOBIG;
	total = rcon_encoded_size(body_len);
	if (total > cap)
		return ERR_TOOBIG;
	put_u32le(out, (uint32_t)(body_len + RCON_LEN_OVERHEAD));
	put_u32le(out + 4, (uint32_t)id);
	put_u32le(out + 8, (uint32_t)type);
	if (body_len > 0)
		memcpy(out + RCON_HEADER_SIZE, body, body_len);
	out[RCON_HEADER_SIZE + body_len] = 0;
	out[RCON_HEADER_SIZE + body_len + 1] = 0;
	*written = total;
	return 0;
}

int rcon_encode_wbuf(struct wbuf *b, int32_t id, int32_t type,
		     const void *body, size_t body_len)
{
	size_t written = 0;
	int rv;

	if (body_len > (size_t)INT32_MAX - RCON_LEN_OVERHEAD)
		return ERR_TOOBIG;
	rv = wbuf_reserve(b, rcon_encoded_size(body_len));
	if (rv != 0)
		return rv;
	rv = rcon_encode(b->p + b->len, b->cap - b->len, id, type, body,
			 body_len, &written);
	ASSERT(rv == 0);
	b->len += written;
	DASSERT(b->len <= b->limit);
	return 0;
}

void rcon_decoder_init(struct rcon_decoder *d, uint32_t len_max)
{
	ASSERT(len_max >= RCON_LEN_MIN && len_max <= RCON_LEN_LIMIT_MAX);
	memset(d, 0, sizeof(*d));
	d->len_max = len_max;
}

void rcon_decoder_free(struct rcon_decoder *d)
{
	free(d->buf);
	d->buf = NULL;
	d->buf_cap = 0;
	rcon_decoder_reset(d);
}

void rcon_decoder_reset(struct rcon_decoder *d)
{
	d->hdr_have = 0;
	d->len = 0;
	d->have = 0;
	d->err = 0;
}

int rcon_decoder_partial(const struct rcon_decoder *d)
{
	return d->hdr_have > 0;
}

/* Validates the completed length field and sizes the buffer for it. */
static int begin_body(struct rcon_decoder *d)
{
	uint32_t len = get_u32le(d->hdr);
	size_t want;
	uint8_t *nb;

	/* The field is an int32: a negative value reads as > len_max here. */
	if (len < RCON_LEN_MIN || len > d->len_max)
		return ERR_MALFORMED;
	want = len;
	if (want > d->buf_cap || (d->buf_cap > RETAIN_MAX && want <= RETAIN_MAX)) {
		if (want < RETAIN_MAX / 16 && d->buf_cap == 0)
			want = RETAIN_MAX / 16; /* one small allocation */
		nb = realloc(d->buf, want);
		if (nb == NULL)
			return ERR_NOMEM;
		d->buf = nb;
		d->buf_cap = want;
	}
	d->len = len;
	d->have = 0;
	return 0;
}

/* The packet in buf is complete: check its terminators and describe it. */
static int finish_packet(struct rcon_decoder *d, struct rcon_packet *out)
{
	uint32_t len = d->len;

	DASSERT(d->have == len && len >= RCON_LEN_MIN);
	if (d->buf[len - 2] != 0 || d->buf[len - 1] != 0)
		return ERR_MALFORMED;
	out->id = (int32_t)get_u32le(d->buf);
	out->type = (int32_t)get_u32le(d->buf + 4);
	out->body = (const char *)(d->buf + 8);
	out->body_len = len - RCON_LEN_OVERHEAD;
	d->hdr_have = 0;
	d->have = 0;
	d->len = 0;
	d->packets++;
	return 1;
}

int rcon_decoder_feed(struct rcon_decoder *d, const uint8_t *p, size_t n,
		      size_t *consumed, struct rcon_packet *out)
{
	size_t used = 0;
	size_t take;
	int rv;

	ASSERT(p != NULL || n == 0);
	*consumed = 0;
	if (d->err != 0)
		return d->err;
	if (n == 0)
		return 0;
	if (d->hdr_have < 4) {
		take = 4 - d->hdr_have;
		if (take > n)
			take = n;
		memcpy(d->hdr + d->hdr_have, p, take);
		d->hdr_have += take;
		used += take;
		if (d->hdr_have < 4) {
			*consumed = used;
			return 0;
		}
		rv = begin_body(d);
		if (rv != 0)
			goto err_sticky;
	}
	take = d->len - d->have;
	if (take > n - used)
		take = n - used;
	memcpy(d->buf + d->have, p + used, take);
	d->have += take;
	used += take;
	*consumed = used;
	if (d->have < d->len)
		return 0;
	rv = finish_packet(d, out);
	if (rv < 0)
		goto err_sticky;
	return rv;

err_sticky:
	*consumed = used;
	d->err = rv;
	return rv;
}
