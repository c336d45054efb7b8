/*
 * assert.c: the failure path of ASSERT. This is the one place below node/
 * that writes to stderr: a process about to abort has no tracer it can
 * trust, and the message is what turns a core dump into a bug report.
 * The layering check allows this file by name.
 */
#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>

static base_assert_hook current_hook;

void base_assert_set_hook(base_assert_hook hook)
{
	current_hook = hook;
}

_Noreturn void base_assert_fail(const char *expr, const char *file, int line,
				const char *func)
{
	if (current_hook)
		current_hook(expr, file, line, func);
	fprintf(stderr, "assertion failed: %s (%s:%d in %s)\n", expr, file, line,
		func);
	fflush(stderr);
	abort();
}
