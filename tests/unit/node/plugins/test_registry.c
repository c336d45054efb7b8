/* Unit tests of the plugin record (node/plugins/registry.c): what a valid
 * record is, that each kind of bad field is refused with a reason naming
 * it, that encoding and parsing round-trip, and which node runs what. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/plugins/plugins.h"
#include "tests/lib/cmocka_all.h"

static struct plug_rec rec;
static char why[200];

static int parse(const char *json)
{
	why[0] = '\0';
	return plug_rec_parse(json, strlen(json), &rec, why, sizeof(why));
}

static void test_valid(void **state)
{
	(void)state;
	assert_int_equal(parse("{\"name\":\"chat-relay\",\"command\":"
			       "[\"python3\",\"/opt/r.py\",\"-v\"],"
			       "\"permissions\":[\"events.read\","
			       "\"rcon.send\"]}"), 0);
	assert_string_equal(rec.name, "chat-relay");
	assert_string_equal(rec.node, "*"); /* default: every node */
	assert_int_equal(rec.enabled, 1);   /* default: enabled */
	assert_int_equal(rec.nargs, 3);
	assert_string_equal(rec.args[2], "-v");
	assert_int_equal(rec.nperms, 2);
	assert_string_equal(rec.perms[1], "rcon.send");
}

static void test_refusals(void **state)
{
	static const struct {
		const char *json, *words;
	} bad[] = {
		{"[1]", "not a JSON object"},
		{"{\"name\"", "not a JSON object"},
		{"{\"command\":[\"x\"]}", "bad name"},
		{"{\"name\":\"../x\",\"command\":[\"x\"]}", "bad name"},
		{"{\"name\":\"-x\",\"command\":[\"x\"]}", "bad name"},
		{"{\"name\":\"Upper\",\"command\":[\"x\"]}", "bad name"},
		{"{\"name\":\"x\"}", "bad command"},
		{"{\"name\":\"x\",\"command\":[]}", "bad command"},
		{"{\"name\":\"x\",\"command\":[1]}", "bad command"},
		{"{\"name\":\"x\",\"command\":[\"\"]}", "empty program"},
		{"{\"name\":\"x\",\"command\":\"sh\"}", "bad command"},
		{"{\"name\":\"x\",\"command\":[\"a\"],\"node\":\"\"}", "bad node"},
		{"{\"name\":\"x\",\"command\":[\"a\"],\"enabled\":1}",
		 "bad enabled"},
		{"{\"name\":\"x\",\"command\":[\"a\"],\"permissions\":"
		 "[\"everything\"]}", "bad permission"},
		{"{\"name\":\"abcdefghijabcdefghijabcdef\",\"command\":[\"a\"]}",
		 "bad name"},
		{"{\"name\":\"x\",\"command\":[\"a\"],\"permissions\":"
		 "[\"a.b.c\"]}", "bad permission"},
		{"{\"name\":\"x\",\"command\":[\"a\"],\"permissions\":\"kv.read\"}",
		 "bad permissions"},
		{"{\"name\":\"x\",\"command\":[\"a\"],\"lua\":\"rel/dir\"}",
		 "bad lua"},
		{"{\"name\":\"x\",\"command\":[\"a\"],\"lua\":7}", "bad lua"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].json), ERR_MALFORMED);
		if (strstr(why, bad[i].words) == NULL)
			fail_msg("%s: reason '%s' lacks '%s'", bad[i].json, why,
				 bad[i].words);
	}
}

static void test_limits(void **state)
{
	char *json = malloc(64 * 1024), *p = json;

	(void)state;
	p += sprintf(p, "{\"name\":\"x\",\"command\":[");
	for (int i = 0; i <= PLUG_ARGS_MAX; i++)
		p += sprintf(p, "%s\"a\"", i ? "," : "");
	sprintf(p, "]}");
	assert_int_equal(parse(json), ERR_MALFORMED); /* one too many */
	p = json;
	p += sprintf(p, "{\"name\":\"x\",\"command\":[\"");
	memset(p, 'a', PLUG_ARG_MAX + 1);
	sprintf(p + PLUG_ARG_MAX + 1, "\"]}");
	assert_int_equal(parse(json), ERR_MALFORMED); /* an argument too long */
	free(json);
	assert_int_equal(plug_name_ok("a", 1), 1);
	assert_int_equal(plug_name_ok("abcdefghijabcdefghijabcde", 25), 1);
	assert_int_equal(plug_name_ok("abcdefghijabcdefghijabcdef", 26), 0);
	assert_int_equal(plug_perm_ok("instance.*"), 1);
	assert_int_equal(plug_perm_ok("*.read"), 1);
	assert_int_equal(plug_perm_ok("*"), 1);
	assert_int_equal(plug_perm_ok("save_2.read"), 1);
	assert_int_equal(plug_perm_ok("a.b.c"), 0);
	assert_int_equal(plug_perm_ok(".read"), 0);
	assert_int_equal(plug_perm_ok("Kv.read"), 0);
	assert_int_equal(plug_name_ok("", 0), 0);
}

static void test_round_trip(void **state)
{
	struct plug_rec a;
	char *json;

	(void)state;
	assert_int_equal(parse("{\"name\":\"r\",\"node\":\"n2\",\"enabled\":false,"
			       "\"command\":[\"sh\",\"-c\",\"echo \\\"hi\\\"\"],"
			       "\"permissions\":[\"kv.read\"],\"lua\":\"/opt/r/lua\"}"), 0);
	assert_string_equal(rec.lua, "/opt/r/lua");
	a = rec;
	json = plug_rec_json(&a);
	assert_non_null(json);
	assert_int_equal(parse(json), 0);
	free(json);
	assert_memory_equal(&a, &rec, sizeof(a));
	assert_string_equal(rec.args[2], "echo \"hi\"");
}

static void test_here(void **state)
{
	(void)state;
	assert_int_equal(parse("{\"name\":\"r\",\"command\":[\"a\"]}"), 0);
	assert_int_equal(plug_rec_here(&rec, "n1"), 1);
	assert_int_equal(parse("{\"name\":\"r\",\"node\":\"n2\",\"command\":[\"a\"]}"), 0);
	assert_int_equal(plug_rec_here(&rec, "n1"), 0);
	assert_int_equal(plug_rec_here(&rec, "n2"), 1);
	rec.enabled = 0;
	assert_int_equal(plug_rec_here(&rec, "n2"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_here),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
