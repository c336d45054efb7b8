/* Unit tests of the download chunks (node/inv_chunk.h): for seeded random
 * inventories of every kind of text (plain, quote-heavy, UTF-8, control
 * characters), every chunk's RCON command (node/instances/ipc.h's
 * call_json command) stays under the 10 kB commands must keep to, the
 * chunks put back together give the text, no chunk ends inside a UTF-8
 * character, and a large budget makes few chunks. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/prng.h"
#include "node/instances/ipc.h"
#include "node/inv_chunk.h"
#include "tests/lib/cmocka_all.h"

/* The bound inst_mgr_call enforces (FACTORIO.md: keep commands well under
 * 10 kB). */
#define CMD_MAX 10000

static const char *const alphabet[] = {
	"a", "Z", "0", " ", "{", "}", "[", "]", ":", ",", "\"", "\\", "\n",
	"\t", "\x01", "\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80",
};

static char *random_text(struct prng *r, size_t len, int kinds)
{
	char *s = malloc(len + 8);
	size_t n = 0;

	while (n < len) {
		const char *a = alphabet[prng_below(r, (uint64_t)kinds)];
		size_t l = strlen(a);

		memcpy(s + n, a, l);
		n += l;
	}
	s[n] = '\0';
	return s;
}

static void check_text(const char *s, size_t len, size_t budget)
{
	char *cmd = malloc(CMD_MAX + 1), *joined = malloc(len + 1);
	size_t off = 0, n = inv_chunk_count(s, len, budget), seq = 0;

	while (off < len) {
		size_t end = inv_chunk_end(s, len, off, budget);
		char *args = inv_chunk_args("alice", 7, 6, ++seq, n, s + off,
					    end - off);
		int rc;

		assert_true(end > off && end <= len);
		/* Never inside a character: the next byte starts one. */
		assert_true(end == len || ((unsigned char)s[end] & 0xc0) != 0x80);
		assert_non_null(args);
		rc = ipc_call_command("inventory_chunk", args, cmd, CMD_MAX + 1);
		if (rc < 0 || rc > CMD_MAX)
			fail_msg("chunk %zu of %zu (%zu bytes): command of %d "
				 "(budget %zu)", seq, n, end - off, rc, budget);
		memcpy(joined + off, s + off, end - off);
		free(args);
		off = end;
	}
	assert_int_equal(seq, n);
	assert_memory_equal(joined, s, len);
	free(joined);
	free(cmd);
}

static void commands_stay_under_the_bound(void **state)
{
	static const int kinds[] = {4, 11, 15, 18};
	struct prng r;

	(void)state;
	prng_seed(&r, 14);
	for (int round = 0; round < 200; round++) {
		int k = kinds[round % 4];
		size_t len = 1 + prng_below(&r, 40000);
		char *s = random_text(&r, len, k);

		check_text(s, strlen(s), 8000);
		check_text(s, strlen(s), 1000);
		free(s);
	}
}

static void plain_text_fills_chunks(void **state)
{
	size_t len = 100000;
	char *s = malloc(len + 1);

	(void)state;
	memset(s, 'b', len);
	s[len] = '\0';
	/* Base64-like blueprint strings cost one character a byte. */
	assert_int_equal(inv_chunk_count(s, len, 8000), 13);
	assert_int_equal(inv_chunk_end(s, len, 0, 8000), 8000);
	assert_int_equal(inv_chunk_count(s, len, 1000), 100);
	free(s);
}

static void a_character_larger_than_the_budget_still_moves(void **state)
{
	const char *s = "\xf0\x9f\x98\x80\xf0\x9f\x98\x80";

	(void)state;
	/* 16 characters of cost per emoji; a budget of 4 takes one whole. */
	assert_int_equal(inv_chunk_end(s, 8, 0, 4), 4);
	assert_int_equal(inv_chunk_count(s, 8, 4), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(commands_stay_under_the_bound),
		cmocka_unit_test(plain_text_fills_chunks),
		cmocka_unit_test(a_character_larger_than_the_budget_still_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
