#include "tests/lib/cmocka_all.h"

#include <string.h>

#include "base/trace.h"

struct sink {
	int calls;
	enum trace_level last_level;
	char last_module[32];
	char last[TRACE_MSG_MAX];
};

static void sink_emit(void *ctx, enum trace_level level, const char *module,
		      const char *msg)
{
	struct sink *s = ctx;

	s->calls++;
	s->last_level = level;
	strncpy(s->last_module, module, sizeof(s->last_module) - 1);
	strncpy(s->last, msg, sizeof(s->last) - 1);
}

static void levels_filter_and_format(void **state)
{
	struct sink s = {0};
	struct tracer t = {sink_emit, &s, TRACE_INFO};

	(void)state;
	TRACE_D(&t, "raft", "dropped %d", 1);
	assert_int_equal(s.calls, 0);
	TRACE_W(&t, "raft", "term %u -> %u", 3u, 4u);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.last_level, TRACE_WARN);
	assert_string_equal(s.last_module, "raft");
	assert_string_equal(s.last, "term 3 -> 4");
	/* A NULL tracer is valid and silent. */
	TRACE_E((const struct tracer *)NULL, "x", "nothing");
}

static void long_messages_are_cut(void **state)
{
	struct sink s = {0};
	struct tracer t = {sink_emit, &s, TRACE_DEBUG};
	char big[TRACE_MSG_MAX * 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	TRACE_I(&t, "m", "%s", big);
	assert_int_equal(strlen(s.last), TRACE_MSG_MAX - 1);
	assert_string_equal(s.last + TRACE_MSG_MAX - 4, "...");
}

static void level_names_parse(void **state)
{
	(void)state;
	assert_int_equal(trace_level_parse("warn"), TRACE_WARN);
	assert_int_equal(trace_level_parse("loud"), -1);
	assert_string_equal(trace_level_name(TRACE_ERROR), "error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(levels_filter_and_format),
		cmocka_unit_test(long_messages_are_cut),
		cmocka_unit_test(level_names_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
