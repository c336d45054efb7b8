#include "tests/lib/cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include "base/err.h"
#include "base/trace.h"
#include "node/config.h"
#include "node/log.h"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/clusterd-unit-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/clusterd.json", dir);
	unlink(path);
	return rmdir(dir);
}

static void write_config(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/clusterd.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void addresses_parse(void **state)
{
	struct sockaddr_storage ss;

	(void)state;
	assert_int_equal(node_parse_addr("127.0.0.1:8081", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8081);
	assert_int_equal(node_parse_addr("[::1]:0", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(node_parse_addr("0.0.0.0:65535", &ss), 0);
	assert_int_equal(node_parse_addr("127.0.0.1", &ss), ERR_CONFIG);
	assert_int_equal(node_parse_addr("127.0.0.1:", &ss), ERR_CONFIG);
	assert_int_equal(node_parse_addr("127.0.0.1:65536", &ss), ERR_CONFIG);
	assert_int_equal(node_parse_addr("127.0.0.1:-1", &ss), ERR_CONFIG);
	assert_int_equal(node_parse_addr("127.0.0.1:80x", &ss), ERR_CONFIG);
	assert_int_equal(node_parse_addr("localhost:80", &ss), ERR_CONFIG);
	assert_int_equal(node_parse_addr("[::1:80", &ss), ERR_CONFIG);
	assert_int_equal(node_parse_addr("::1:80", &ss), ERR_CONFIG);
	assert_int_equal(node_parse_addr("", &ss), ERR_CONFIG);
}

static void file_then_flags(void **state)
{
	struct node_config cfg;
	struct node_flags flags = {.data_dir = dir};
	char err[NODE_ERRMSG_MAX] = "";

	(void)state;
	write_config("{\"http\": \"127.0.0.1:9000\", \"node_name\": \"a\", \"log_level\": \"warn\"}");
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), 0);
	assert_string_equal(cfg.http_addr, "127.0.0.1:9000");
	assert_string_equal(cfg.node_name, "a");
	assert_int_equal(cfg.log_level, TRACE_WARN);
	flags.http_addr = "127.0.0.1:9001";
	flags.log_level = "debug";
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), 0);
	assert_string_equal(cfg.http_addr, "127.0.0.1:9001");
	assert_int_equal(cfg.log_level, TRACE_DEBUG);
	assert_string_equal(cfg.node_name, "a");
}

static void defaults_without_file(void **state)
{
	struct node_config cfg;
	struct node_flags flags = {.data_dir = dir};
	char err[NODE_ERRMSG_MAX] = "";
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/clusterd.json", dir);
	unlink(path);
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), 0);
	assert_string_equal(cfg.http_addr, NODE_HTTP_DEFAULT);
	assert_int_equal(cfg.log_level, TRACE_INFO);
	assert_true(strlen(cfg.node_name) > 0);
	assert_int_equal(cfg.instance_port_lo, 34100);
	assert_int_equal(cfg.instance_port_hi, 34199);
	assert_string_equal(cfg.factorio_dir, "");
	assert_true(strstr(cfg.instances_dir, "/instances") != NULL);
	write_config("{\"factorio_dir\": \"/opt/f\", \"instances_dir\": \"/srv/i\","
		     " \"instance_ports\": \"40000-40009\"}");
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), 0);
	assert_string_equal(cfg.factorio_dir, "/opt/f");
	assert_string_equal(cfg.instances_dir, "/srv/i");
	assert_int_equal(cfg.instance_port_lo, 40000);
	assert_int_equal(cfg.instance_port_hi, 40009);
	unlink(path);
}

static void bad_files_name_the_problem(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{"{\"http\": \"127.0.0.1:1\", \"port\": \"1\"}", "unknown key \"port\""},
		{"{\"log_level\": 3}", "\"log_level\" must be a string"},
		{"{\"log_level\": \"chatty\"}", "\"log_level\" must be one of"},
		{"[1, 2]", "expected a JSON object {...}, found an array"},
		{"\"x\"", "expected a JSON object {...}, found a single value"},
		{"{\"http\": \"nowhere\"}", "invalid HTTP address \"nowhere\""},
		{"", "is empty: write a JSON object"},
		{" \n\t\n", "is empty: write a JSON object"},
		{"{\n  \"http\": \"127.0.0.1:1\",\n  \"node_name\" \"x\"\n}", "clusterd.json:3:15: invalid JSON"},
		{"{\"http\": ", "clusterd.json:1:10: invalid JSON"},
		{"{} x", "clusterd.json:1:4: invalid JSON"},
		{"{\"node_name\": \"a\", \"node_name\": \"b\"}", "key \"node_name\" is given twice"},
		{"{\"node_name\": \"a\\nfake line\"}", "\"node_name\": node name: character 2 (0x0a) is not allowed; use 1 to 63"},
		{"{\"node_name\": \"\"}", "node name is 0 characters long"},
		{"{\"node_name\": \"-a\"}", "character 1 (0x2d) is not allowed"},
		{"{\"instance_ports\": \"100\"}", "\"instance_ports\" must be \"LO-HI\""},
		{"{\"instance_ports\": \"200-100\"}", "\"instance_ports\" must be \"LO-HI\""},
		{"{\"instance_ports\": \"1-70000\"}", "\"instance_ports\" must be \"LO-HI\""},
		{"{\"factorio_dir\": 1}", "\"factorio_dir\" must be a string"},
	};
	struct node_config cfg;
	struct node_flags flags = {.data_dir = dir};
	char err[NODE_ERRMSG_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		write_config(cases[i].text);
		assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)),
				 ERR_CONFIG);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err,
				 cases[i].want);
	}
}

static void overlong_values_are_refused(void **state)
{
	struct node_config cfg;
	struct node_flags flags = {.data_dir = dir};
	char err[NODE_ERRMSG_MAX] = "";
	char text[512];

	(void)state;
	memset(text, 0, sizeof(text));
	strcpy(text, "{\"node_name\": \"");
	memset(text + strlen(text), 'n', NODE_NAME_MAX + 10);
	strcat(text, "\"}");
	write_config(text);
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), ERR_CONFIG);
	if (!strstr(err, "node name is 74 characters long"))
		fail_msg("error: %s", err);

	memset(text, 0, sizeof(text));
	strcpy(text, "{\"http\": \"");
	memset(text + strlen(text), '1', NODE_ADDR_MAX + 10);
	strcat(text, "\"}");
	write_config(text);
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), ERR_CONFIG);
	if (!strstr(err, "value of \"http\" is longer than 127 bytes"))
		fail_msg("error: %s", err);

	write_config("{}");
	memset(text, 0, sizeof(text));
	memset(text, '1', NODE_ADDR_MAX + 10);
	flags.http_addr = text;
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), ERR_CONFIG);
	if (!strstr(err, "--http value is longer than 127 bytes"))
		fail_msg("error: %s", err);
	flags.http_addr = NULL;
	flags.node_name = "bad\x1b[31mname";
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), ERR_CONFIG);
	if (!strstr(err, "character 4 (0x1b) is not allowed") || strchr(err, 0x1b))
		fail_msg("error: %s", err);
	flags.node_name = "factory-1.eu_west";
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), 0);
	assert_string_equal(cfg.node_name, "factory-1.eu_west");
}

/* A config path that is no file: each case gets its own message. */
static void odd_config_paths_name_the_problem(void **state)
{
	struct node_config cfg;
	struct node_flags flags = {.data_dir = dir};
	char err[NODE_ERRMSG_MAX] = "", path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/clusterd.json", dir);
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), ERR_CONFIG);
	if (!strstr(err, "clusterd.json is a directory, expected a JSON file"))
		fail_msg("error: %s", err);
	assert_int_equal(rmdir(path), 0);

	assert_int_equal(symlink("/nonexistent/clusterd.json", path), 0);
	assert_int_equal(node_config_load(&cfg, &flags, err, sizeof(err)), ERR_CONFIG);
	if (!strstr(err, "clusterd.json is a symlink to nothing (dangling)"))
		fail_msg("error: %s", err);
	assert_int_equal(unlink(path), 0);
}

static void log_escapes_control_characters(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(node_log_escape("a\nb\x1b[0m\tc\x7f\\", out, sizeof(out)), 19);
	assert_string_equal(out, "a\\nb\\x1b[0m\\tc\\x7f\\");
	node_log_escape("caf\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "caf\xc3\xa9");
	/* Truncation keeps whole escapes. */
	assert_int_equal(node_log_escape("ab\n", out, 4), 2);
	assert_string_equal(out, "ab");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_parse),
		cmocka_unit_test(file_then_flags),
		cmocka_unit_test(defaults_without_file),
		cmocka_unit_test(bad_files_name_the_problem),
		cmocka_unit_test(overlong_values_are_refused),
		cmocka_unit_test(odd_config_paths_name_the_problem),
		cmocka_unit_test(log_escapes_control_characters),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
