/* Unit tests of the token format (node/core.c): what core_token_new makes
 * parses back to the same id and hash; anything of another shape is
 * refused; a record authorises only its own secret, and only while live. */
#include <string.h>

#include "base/err.h"
#include "node/core.h"
#include "tests/lib/cmocka_all.h"

static void test_new_and_parse(void **state)
{
	char str[CORE_TOKEN_STR_LEN + 1], str2[CORE_TOKEN_STR_LEN + 1];
	char id[CORE_TOKEN_ID_LEN + 1];
	uint8_t hash[CORE_HASH_LEN];
	struct core_token t = {0}, t2 = {0};

	(void)state;
	core_token_new(&t, str);
	core_token_new(&t2, str2);
	assert_int_equal(strlen(str), CORE_TOKEN_STR_LEN);
	assert_int_equal(str[CORE_TOKEN_ID_LEN], '.');
	assert_memory_equal(str, t.id, CORE_TOKEN_ID_LEN);
	assert_string_not_equal(str, str2); /* fresh randomness each time */
	assert_int_equal(core_token_parse(str, strlen(str), id, hash), 0);
	assert_string_equal(id, t.id);
	assert_memory_equal(hash, t.hash, CORE_HASH_LEN);
	assert_int_equal(core_token_ok(&t, hash, 1), 1);
	assert_int_equal(core_token_ok(&t2, hash, 1), 0);
}

static void test_parse_refuses_shapes(void **state)
{
	char str[CORE_TOKEN_STR_LEN + 2], bad[CORE_TOKEN_STR_LEN + 2];
	char id[CORE_TOKEN_ID_LEN + 1];
	uint8_t hash[CORE_HASH_LEN];
	struct core_token t = {0};

	(void)state;
	core_token_new(&t, str);
	assert_int_equal(core_token_parse(str, CORE_TOKEN_STR_LEN - 1, id,
					  hash),
			 ERR_MALFORMED);
	assert_int_equal(core_token_parse("", 0, id, hash), ERR_MALFORMED);
	memcpy(bad, str, sizeof(str));
	bad[CORE_TOKEN_ID_LEN] = ':';
	assert_int_equal(core_token_parse(bad, CORE_TOKEN_STR_LEN, id, hash),
			 ERR_MALFORMED);
	memcpy(bad, str, sizeof(str));
	bad[0] = 'A'; /* ids are lower-case hex */
	assert_int_equal(core_token_parse(bad, CORE_TOKEN_STR_LEN, id, hash),
			 ERR_MALFORMED);
	memcpy(bad, str, sizeof(str));
	bad[CORE_TOKEN_STR_LEN - 1] = '='; /* no padding, no '+' or '/' */
	assert_int_equal(core_token_parse(bad, CORE_TOKEN_STR_LEN, id, hash),
			 ERR_MALFORMED);
	bad[CORE_TOKEN_STR_LEN - 1] = '/';
	assert_int_equal(core_token_parse(bad, CORE_TOKEN_STR_LEN, id, hash),
			 ERR_MALFORMED);
}

static void test_live(void **state)
{
	char str[CORE_TOKEN_STR_LEN + 1], id[CORE_TOKEN_ID_LEN + 1];
	uint8_t hash[CORE_HASH_LEN];
	struct core_token t = {0};

	(void)state;
	core_token_new(&t, str);
	assert_int_equal(core_token_parse(str, strlen(str), id, hash), 0);
	t.expires_ms = 1000;
	assert_int_equal(core_token_live(&t, 999), 1);
	assert_int_equal(core_token_ok(&t, hash, 999), 1);
	assert_int_equal(core_token_live(&t, 1000), 0);
	assert_int_equal(core_token_ok(&t, hash, 1000), 0);
	t.expires_ms = 0;
	t.revoked = 1;
	assert_int_equal(core_token_ok(&t, hash, 5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_parse),
		cmocka_unit_test(test_parse_refuses_shapes),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
