/*
 * trace.c: formatting for the injected tracer. Messages are formatted into
 * a stack buffer of TRACE_MSG_MAX bytes, so tracing never allocates.
 */
#include "base/trace.h"

#include <stdio.h>
#include <string.h>

void trace_emitv(const struct tracer *t, enum trace_level level,
		 const char *module, const char *fmt, va_list ap)
{
	char buf[TRACE_MSG_MAX];
	int n;

	if (!trace_enabled(t, level))
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0) {
		snprintf(buf, sizeof(buf), "(bad trace format: %s)", fmt);
	} else if ((size_t)n >= sizeof(buf)) {
		memcpy(buf + sizeof(buf) - 4, "...", 4);
	}
	t->emit(t->ctx, level, module, buf);
}

void trace_emitf(const struct tracer *t, enum trace_level level,
		 const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	trace_emitv(t, level, module, fmt, ap);
	va_end(ap);
}

static const char *const level_names[] = {"debug", "info", "warn", "error",
					  "off"};

const char *trace_level_name(enum trace_level level)
{
	if ((unsigned)level > TRACE_OFF)
		return "?";
	return level_names[level];
}

int trace_level_parse(const char *s)
{
	for (int i = 0; i <= (int)TRACE_OFF; i++) {
		if (strcmp(s, level_names[i]) == 0)
			return i;
	}
	return -1;
}
