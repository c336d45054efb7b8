/*
 * frame.h: Source RCON framing as the stand-in's server reads it.
 *
 * Kept apart from the libuv code so it can be tested on its own with
 * hostile input. rcon/ has the project's general codec; the stand-in keeps
 * its own so the two implementations check each other in the e2e tests.
 */
#ifndef CLUSTERD_STANDIN_FRAME_H
#define CLUSTERD_STANDIN_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct sg_frame {
	int32_t id;
	int32_t type;
	const char *body; /* borrowed from the input; not NUL-terminated */
	size_t body_len;  /* up to the first NUL */
};

/* Reads one packet from p[0..len). Returns the bytes it spans (> 0) with
 * *out filled, 0 if more input is needed, or ERR_MALFORMED (length outside
 * [10, 10 + body_max] or no two terminating NULs). Types are not checked. */
long sg_frame_next(const uint8_t *p, size_t len, size_t body_max,
		   struct sg_frame *out);

/* Writes a packet into out (sized len >= 14 + body_len); returns its
 * size. */
size_t sg_frame_put(uint8_t *out, int32_t id, int32_t type, const void *body,
		    size_t body_len);

#endif
