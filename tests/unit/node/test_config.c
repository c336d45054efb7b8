#include "tests/unit/base/cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "base/err.h"
#include "base/trace.h"
#include "node/config.h"

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
		{"[1, 2]", "not a JSON object"},
		{"{\"http\": \"nowhere\"}", "invalid HTTP address \"nowhere\""},
		{"", "not a JSON object"},
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
	assert_non_null(strstr(err, "too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_parse),
		cmocka_unit_test(file_then_flags),
		cmocka_unit_test(defaults_without_file),
		cmocka_unit_test(bad_files_name_the_problem),
		cmocka_unit_test(overlong_values_are_refused),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
