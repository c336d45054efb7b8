#include "tests/lib/cmocka_all.h"

#include <string.h>

#include "base/assert.h"
#include "base/err.h"

static void names_are_distinct_and_known(void **state)
{
	(void)state;
	for (int c = ERR_NOMEM; c > ERR_LAST_; c--) {
		assert_int_equal(strncmp(err_name(c), "ERR_", 4), 0);
		assert_string_not_equal(err_str(c), "unknown error");
		for (int d = c - 1; d > ERR_LAST_; d--)
			assert_string_not_equal(err_name(c), err_name(d));
	}
	assert_string_equal(err_name(ERR_MALFORMED), "ERR_MALFORMED");
	assert_string_equal(err_name(0), "OK");
}

static void errno_codes_pass_through(void **state)
{
	(void)state;
	/* libuv returns negated errno values; they must print meaningfully. */
	assert_string_equal(err_name(-98), "EADDRINUSE");
	assert_string_equal(err_str(-2), strerror(2));
	assert_string_equal(err_name(ERR_LAST_), "ERR_UNKNOWN");
	assert_string_equal(err_str(-20000), "unknown error");
}

static jmp_buf assert_jmp;
static const char *assert_expr;

static void catch_assert(const char *expr, const char *file, int line,
			 const char *func)
{
	(void)file;
	(void)line;
	(void)func;
	assert_expr = expr;
	longjmp(assert_jmp, 1);
}

static void assert_hook_sees_failure(void **state)
{
	volatile int x = 1;

	(void)state;
	base_assert_set_hook(catch_assert);
	if (setjmp(assert_jmp) == 0) {
		ASSERT(x == 2);
		fail_msg("ASSERT did not fire");
	}
	assert_string_equal(assert_expr, "x == 2");
	ASSERT(x == 1); /* a true assertion does nothing */
	base_assert_set_hook(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_distinct_and_known),
		cmocka_unit_test(errno_codes_pass_through),
		cmocka_unit_test(assert_hook_sees_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
