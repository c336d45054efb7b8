/*
 * Unit tests for node/identity.h: the identity is created once and then
 * reloaded unchanged, files are private (0600), damage is reported as
 * ERR_CORRUPT naming the file, and forget removes both files.
 */
#include "tests/lib/cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "node/identity.h"

static char dir[64];
static char err[512];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/clusterd-ident-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_create_then_reload(void **state)
{
	struct node_identity a, b;
	struct stat st;
	char path[128];

	(void)state;
	assert_int_equal(identity_load_or_create(dir, &a, err, sizeof(err)), 0);
	assert_true(a.id != 0);
	assert_int_equal(identity_load_or_create(dir, &b, err, sizeof(err)), 0);
	assert_true(a.id == b.id);
	assert_memory_equal(a.pk, b.pk, sizeof(a.pk));
	assert_memory_equal(a.sk, b.sk, sizeof(a.sk));
	snprintf(path, sizeof(path), "%s/identity", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_corrupt_identity(void **state)
{
	struct node_identity a;

	(void)state;
	write_text("identity", "id zz\n");
	assert_int_equal(identity_load_or_create(dir, &a, err, sizeof(err)),
			 ERR_CORRUPT);
	assert_non_null(strstr(err, "identity"));
	write_text("identity", "id 0000000000000001\npk 00\n");
	assert_int_equal(identity_load_or_create(dir, &a, err, sizeof(err)),
			 ERR_CORRUPT);
	write_text("identity", "id 0000000000000001\n");
	assert_int_equal(identity_load_or_create(dir, &a, err, sizeof(err)),
			 ERR_CORRUPT);
	assert_non_null(strstr(err, "missing"));
}

static void test_cluster_file(void **state)
{
	struct node_cluster_secret c, d;
	struct stat st;
	char path[128];

	(void)state;
	assert_int_equal(identity_cluster_load(dir, &d, err, sizeof(err)),
			 ERR_NOTFOUND);
	identity_cluster_new(&c);
	assert_int_equal(strlen(c.cluster_id), 32);
	assert_int_equal(identity_cluster_save(dir, &c, err, sizeof(err)), 0);
	assert_int_equal(identity_cluster_load(dir, &d, err, sizeof(err)), 0);
	assert_memory_equal(c.secret, d.secret, sizeof(c.secret));
	assert_string_equal(c.cluster_id, d.cluster_id);
	snprintf(path, sizeof(path), "%s/cluster", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	write_text("cluster", "secret 1234\ncluster_id x\n");
	assert_int_equal(identity_cluster_load(dir, &d, err, sizeof(err)),
			 ERR_CORRUPT);
	assert_int_equal(identity_forget(dir, err, sizeof(err)), 0);
	assert_int_equal(identity_cluster_load(dir, &d, err, sizeof(err)),
			 ERR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_then_reload, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_identity, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cluster_file, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
