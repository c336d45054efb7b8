/*
 * log.h: the node's tracer sink: one line per message on stderr,
 * "2026-11-21T16:00:00.123Z info  node: text". Only node/ and the tools
 * print; every module below reaches the log through this tracer.
 *
 * Control characters in a message (a newline or an escape sequence in a
 * name read from a peer or a file) are written escaped, as \n or \x1b, so
 * nothing logged can start a forged line or drive the terminal.
 */
#ifndef CLUSTERD_NODE_LOG_H
#define CLUSTERD_NODE_LOG_H

#include <stddef.h>

#include "base/trace.h"

/* A tracer writing to stderr at `level` and above. */
void node_log_init(struct tracer *t, enum trace_level level);

/* Copies in to out (size bytes, NUL-terminated, truncated at a whole
 * escape), writing \n, \r, \t and \xNN for control bytes and DEL; other
 * bytes, UTF-8 included, pass unchanged. Returns the length written. */
size_t node_log_escape(const char *in, char *out, size_t size);

#endif
