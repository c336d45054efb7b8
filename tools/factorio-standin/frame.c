/*
 * frame.c: Source RCON framing (README.md, "RCON"): int32 LE length
 * counting id, type, body and the two NULs; int32 LE id; int32 LE type;
 * body; NUL; NUL.
 */
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "tools/factorio-standin/frame.h"

long sg_frame_next(const uint8_t *p, size_t len, size_t body_max,
		   struct sg_frame *out)
{
	if (len < 4)
		return 0;
	int32_t n = (int32_t)get_u32le(p);
	if (n < 10 || (size_t)n > 10 + body_max)
		return ERR_MALFORMED;
	if (len - 4 < (size_t)n)
		return 0;
	size_t body_len = (size_t)n - 10;
	if (p[12 + body_len] != 0 || p[13 + body_len] != 0)
		return ERR_MALFORMED;
	out->id = (int32_t)get_u32le(p + 4);
	out->type = (int32_t)get_u32le(p + 8);
	out->body = (const char *)p + 12;
	const void *nul = memchr(out->body, 0, body_len);
	out->body_len = nul ? (size_t)((const char *)nul - out->body)
			    : body_len;
	return 4 + (long)n;
}

size_t sg_frame_put(uint8_t *out, int32_t id, int32_t type, const void *body,
		    size_t body_len)
{
	put_u32le(out, (uint32_t)(body_len + 10));
	put_u32le(out + 4, (uint32_t)id);
	put_u32le(out + 8, (uint32_t)type);
	if (body_len)
		memcpy(out + 12, body, body_len);
	out[12 + body_len] = 0;
	out[13 + body_len] = 0;
	return body_len + 14;
}
