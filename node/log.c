/*
 * log.c: timestamps and the stderr sink for the tracer. See log.h.
 */
#include "node/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

size_t node_log_escape(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		char esc[5];
		size_t n = 1;

		esc[0] = (char)*p;
		if (*p == '\n' || *p == '\r' || *p == '\t') {
			esc[0] = '\\';
			esc[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
			n = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[*p >> 4];
			esc[3] = hex[*p & 15];
			n = 4;
		}
		if (o + n >= size)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return o;
}

static void emit(void *ctx, enum trace_level level, const char *module,
		 const char *msg)
{
	/* Four output bytes per input byte at worst. */
	char text[TRACE_MSG_MAX * 4], mod[64];
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	node_log_escape(msg, text, sizeof(text));
	node_log_escape(module, mod, sizeof(mod));
	fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, ts.tv_nsec / 1000000,
		trace_level_name(level), mod, text);
}

void node_log_init(struct tracer *t, enum trace_level level)
{
	t->emit = emit;
	t->ctx = NULL;
	t->level = level;
}
