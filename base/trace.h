/*
 * trace.h: the injected tracer.
 *
 * Code below node/ never prints. It formats messages through a struct
 * tracer handed in by its owner; node/ routes them to the log, the
 * simulator into its byte-exact trace, tests into a buffer. A NULL tracer
 * or one with a NULL emit drops everything, cheaply: the level test comes
 * before any formatting.
 */
#ifndef CLUSTERD_BASE_TRACE_H
#define CLUSTERD_BASE_TRACE_H

#include <stdarg.h>

enum trace_level {
	TRACE_DEBUG = 0,
	TRACE_INFO = 1,
	TRACE_WARN = 2,
	TRACE_ERROR = 3,
	TRACE_OFF = 4,
};

/* emit() receives a formatted, NUL-terminated message without a trailing
 * newline; it is borrowed for the duration of the call only. */
struct tracer {
	void (*emit)(void *ctx, enum trace_level level, const char *module,
		     const char *msg);
	void *ctx;
	enum trace_level level; /* messages below this level are dropped */
};

/* Longest formatted message; longer ones are cut (and end in "..."). */
#define TRACE_MSG_MAX 1024

static inline int trace_enabled(const struct tracer *t, enum trace_level lvl)
{
	return t != 0 && t->emit != 0 && lvl >= t->level;
}

void trace_emitf(const struct tracer *t, enum trace_level level,
		 const char *module, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void trace_emitv(const struct tracer *t, enum trace_level level,
		 const char *module, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

const char *trace_level_name(enum trace_level level);

/* Parses "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int trace_level_parse(const char *s);

#define TRACE(t, lvl, mod, ...)                                               \
	do {                                                                   \
		if (trace_enabled((t), (lvl)))                                 \
			trace_emitf((t), (lvl), (mod), __VA_ARGS__);           \
	} while (0)
#define TRACE_D(t, mod, ...) TRACE(t, TRACE_DEBUG, mod, __VA_ARGS__)
#define TRACE_I(t, mod, ...) TRACE(t, TRACE_INFO, mod, __VA_ARGS__)
#define TRACE_W(t, mod, ...) TRACE(t, TRACE_WARN, mod, __VA_ARGS__)
#define TRACE_E(t, mod, ...) TRACE(t, TRACE_ERROR, mod, __VA_ARGS__)

#endif
