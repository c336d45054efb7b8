/*
 * assert.h: assertions for programmer errors and safety invariants.
 *
 * ASSERT is always on: it guards invariants whose violation would corrupt
 * replicated state (a term that moves back, a second vote in one term), so
 * it stays in release builds, as TigerBeetle keeps its assertions.
 * DASSERT marks checks that are costly or merely defensive. It compiles
 * away only under NDEBUG, and the build removes NDEBUG from every build
 * type (CMakeLists.txt), so today DASSERT is checked everywhere, like
 * ASSERT; defining NDEBUG by hand is the switch that drops it. Never
 * assert on input from the network, the disk or a user: such input
 * returns ERR_MALFORMED or ERR_CORRUPT instead.
 */
#ifndef CLUSTERD_BASE_ASSERT_H
#define CLUSTERD_BASE_ASSERT_H

/* Called when an assertion fails; does not return. */
_Noreturn void base_assert_fail(const char *expr, const char *file, int line,
				const char *func);

/* Replace what happens before abort() (tests catch failures with it; the
 * node flushes its log). The hook may not return to the asserting code:
 * it either longjmps away or returns, after which abort() runs. */
typedef void (*base_assert_hook)(const char *expr, const char *file, int line,
				 const char *func);
void base_assert_set_hook(base_assert_hook hook);

#define ASSERT(expr)                                                          \
	((expr) ? (void)0 : base_assert_fail(#expr, __FILE__, __LINE__, __func__))

#ifdef NDEBUG
#define DASSERT(expr) ((void)sizeof(expr))
#else
#define DASSERT(expr) ASSERT(expr)
#endif

#define UNREACHABLE() base_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#endif
