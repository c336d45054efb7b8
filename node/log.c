/*
 * log.c: timestamps and the stderr sink for the tracer. See log.h.
 */
#include "node/log.h"

#include <stdio.h>
#include <time.h>

static void emit(void *ctx, enum trace_level level, const char *module,
		 const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, ts.tv_nsec / 1000000,
		trace_level_name(level), module, msg);
}

void node_log_init(struct tracer *t, enum trace_level level)
{
	t->emit = emit;
	t->ctx = NULL;
	t->level = level;
}
