/*
 * log.h: the node's tracer sink: one line per message on stderr,
 * "2026-11-21T16:00:00.123Z info  node: text". Only node/ and the tools
 * print; every module below reaches the log through this tracer.
 */
#ifndef CLUSTERD_NODE_LOG_H
#define CLUSTERD_NODE_LOG_H

#include "base/trace.h"

/* A tracer writing to stderr at `level` and above. */
void node_log_init(struct tracer *t, enum trace_level level);

#endif
