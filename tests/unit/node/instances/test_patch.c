/* Unit tests of save patching (node/instances/patch.h) on real zips in a
 * temporary folder: a freeplay save gets the modules, control.lua and
 * clusterd.json; patching again leaves the same bytes (and equal inputs
 * give equal bytes); removed and changed modules follow; a bad zip, a
 * damaged entry, a save without control.lua and a control.lua we cannot
 * patch are refused with their reason and leave the save as it was; a
 * failed write leaves the old save whole (temp file + rename). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "base/err.h"
#include "node/instances/patch.h"
#include "tests/lib/cmocka_all.h"

static const char FREEPLAY[] =
	"local handler = require(\"event_handler\")\n"
	"handler.add_lib(require(\"freeplay\"))\n"
	"handler.add_lib(require(\"silo-script\"))\n";

struct t {
	char dir[64];
	char lua[128];
	char save[128];
};

static void put_file(const char *dir, const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A save with root folder world/: control.lua (stored, not compressed,
 * so a test can damage it in place), level.dat0 and the folder entry. */
static void make_save(const char *path, const char *control)
{
	zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, NULL);
	zip_int64_t i;

	assert_non_null(z);
	assert_true(zip_dir_add(z, "world", 0) >= 0);
	if (control != NULL) {
		i = zip_file_add(z, "world/control.lua",
				 zip_source_buffer(z, control, strlen(control), 0), 0);
		assert_true(i >= 0);
		assert_int_equal(zip_set_file_compression(z, (zip_uint64_t)i,
							  ZIP_CM_STORE, 0), 0);
	}
	i = zip_file_add(z, "world/level.dat0",
			 zip_source_buffer(z, "{\"tick\":5}", 10, 0), 0);
	assert_true(i >= 0);
	assert_int_equal(zip_close(z), 0);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/patch_unitXXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->lua, sizeof(t->lua), "%s/lua", t->dir);
	snprintf(t->save, sizeof(t->save), "%s/world.zip", t->dir);
	put_file(t->lua, "clusterd/main.lua", "return {}\n");
	put_file(t->lua, "clusterd/api.lua", "return {api = true}\n");
	put_file(t->lua, "zeta/main.lua", "return {zeta = 1}\n");
	put_file(t->lua, "zeta/sub/x.lua", "return 42\n");
	put_file(t->lua, "notamodule/readme.txt", "no main.lua here\n");
	put_file(t->lua, ".hidden/main.lua", "return {}\n");
	put_file(t->lua, "zeta/.swp", "editor junk\n");
	make_save(t->save, FREEPLAY);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* The text of entry name of the zip at path, or NULL when absent. */
static char *entry(const char *path, const char *name)
{
	zip_t *z = zip_open(path, ZIP_RDONLY, NULL);
	zip_stat_t st;
	zip_file_t *f;
	char *buf = NULL;

	assert_non_null(z);
	if (zip_stat(z, name, 0, &st) == 0) {
		buf = calloc(1, (size_t)st.size + 1);
		f = zip_fopen(z, name, 0);
		assert_non_null(f);
		assert_int_equal(zip_fread(f, buf, st.size), (zip_int64_t)st.size);
		zip_fclose(f);
	}
	zip_discard(z);
	return buf;
}

static int same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	int same = la == lb && memcmp(x, y, la) == 0;

	free(x);
	free(y);
	return same;
}

static void no_temp_left(const struct t *t)
{
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s.patch.tmp", t->save);
	assert_int_not_equal(access(tmp, F_OK), 0);
}

static void patches_freeplay(void **state)
{
	struct t *t = *state;
	struct patch_result r;
	char *c, *j, *s;

	assert_int_equal(patch_save(t->save, t->lua, &r), 0);
	assert_int_equal(r.changed, 1);
	assert_int_equal(r.modules, 2);
	assert_int_equal(r.files, 4); /* hidden and junk files skipped */
	c = entry(t->save, "world/control.lua");
	assert_non_null(c);
	assert_memory_equal(c, FREEPLAY, strlen(FREEPLAY));
	s = strstr(c, "handler.add_lib(require(\"modules/clusterd/main\"))\n");
	assert_non_null(s);
	/* The framework first, then the others by name. */
	assert_true(strstr(c, "modules/zeta/main") > s);
	assert_null(strstr(c, "notamodule"));
	assert_null(strstr(c, "hidden"));
	free(c);
	s = entry(t->save, "world/modules/zeta/sub/x.lua");
	assert_string_equal(s, "return 42\n");
	free(s);
	s = entry(t->save, "world/modules/clusterd/api.lua");
	assert_string_equal(s, "return {api = true}\n");
	free(s);
	assert_null(entry(t->save, "world/modules/zeta/.swp"));
	s = entry(t->save, "world/level.dat0"); /* the game's, untouched */
	assert_string_equal(s, "{\"tick\":5}");
	free(s);
	j = entry(t->save, "world/clusterd.json");
	assert_non_null(strstr(j, "\"name\":\"clusterd\""));
	assert_non_null(strstr(j, "\"name\":\"zeta\""));
	assert_non_null(strstr(j, "\"sub/x.lua\""));
	free(j);
	no_temp_left(t);
}

static void idempotent_and_deterministic(void **state)
{
	struct t *t = *state;
	struct patch_result r;
	char copy[160], first[160], cmd[400];
	struct stat a, b;

	snprintf(copy, sizeof(copy), "%s/copy.zip", t->dir);
	snprintf(first, sizeof(first), "%s/first.zip", t->dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", t->save, copy);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(patch_save(t->save, t->lua, &r), 0);
	assert_int_equal(r.changed, 1);
	snprintf(cmd, sizeof(cmd), "cp %s %s", t->save, first);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(stat(t->save, &a), 0);
	/* Twice: nothing to do, the same file. */
	assert_int_equal(patch_save(t->save, t->lua, &r), 0);
	assert_int_equal(r.changed, 0);
	assert_int_equal(stat(t->save, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_true(same_file(t->save, first));
	/* The same input patched elsewhere: the same bytes. */
	assert_int_equal(patch_save(copy, t->lua, &r), 0);
	assert_int_equal(r.changed, 1);
	assert_true(same_file(copy, first));
}

static void modules_follow_the_lua_dir(void **state)
{
	struct t *t = *state;
	struct patch_result r;
	char cmd[300], *c, *s;

	assert_int_equal(patch_save(t->save, t->lua, &r), 0);
	/* A changed file is patched again. */
	put_file(t->lua, "clusterd/api.lua", "return {api = 2}\n");
	assert_int_equal(patch_save(t->save, t->lua, &r), 0);
	assert_int_equal(r.changed, 1);
	s = entry(t->save, "world/modules/clusterd/api.lua");
	assert_string_equal(s, "return {api = 2}\n");
	free(s);
	/* A module that is no longer installed leaves the save. */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/zeta", t->lua);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(patch_save(t->save, t->lua, &r), 0);
	assert_int_equal(r.changed, 1);
	assert_int_equal(r.modules, 1);
	assert_null(entry(t->save, "world/modules/zeta/main.lua"));
	assert_null(entry(t->save, "world/modules/zeta/sub/x.lua"));
	c = entry(t->save, "world/control.lua");
	assert_null(strstr(c, "zeta"));
	free(c);
	c = entry(t->save, "world/clusterd.json");
	assert_null(strstr(c, "zeta"));
	free(c);
}

/* A plugin's Lua dir (patch_save_with): its modules go in after ours and
 * come out when it is no longer passed; a dir that cannot be read, one
 * holding "clusterd", or a name already taken fails with the reason and
 * leaves the save as it was. */
static void plugin_dirs(void **state)
{
	struct t *t = *state;
	struct patch_result r;
	char plug[160], bad[160], before[160], cmd[400], *c;
	const char *dirs[2];

	snprintf(plug, sizeof(plug), "%s/plug", t->dir);
	put_file(plug, "relay/main.lua", "return {relay = 1}\n");
	dirs[0] = plug;
	assert_int_equal(patch_save_with(t->save, t->lua, dirs, 1, &r), 0);
	assert_int_equal(r.modules, 3); /* clusterd, zeta, relay */
	c = entry(t->save, "world/modules/relay/main.lua");
	assert_string_equal(c, "return {relay = 1}\n");
	free(c);
	c = entry(t->save, "world/control.lua");
	assert_non_null(strstr(c, "modules/relay/main"));
	free(c);
	/* The same again: nothing to do. */
	assert_int_equal(patch_save_with(t->save, t->lua, dirs, 1, &r), 0);
	assert_int_equal(r.changed, 0);

	snprintf(before, sizeof(before), "%s/before.bin", t->dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", t->save, before);
	assert_int_equal(system(cmd), 0);
	snprintf(bad, sizeof(bad), "%s/nosuch", t->dir);
	dirs[1] = bad;
	assert_int_equal(patch_save_with(t->save, t->lua, dirs, 2, &r),
			 ERR_NOTFOUND);
	assert_non_null(strstr(r.why, "a plugin's Lua dir"));
	snprintf(bad, sizeof(bad), "%s/evil", t->dir);
	put_file(bad, "clusterd/main.lua", "return {}\n");
	assert_int_equal(patch_save_with(t->save, t->lua, dirs, 2, &r),
			 ERR_INVAL);
	assert_non_null(strstr(r.why, "may not hold a module named clusterd"));
	snprintf(bad, sizeof(bad), "%s/twin", t->dir);
	put_file(bad, "zeta/main.lua", "return {}\n");
	assert_int_equal(patch_save_with(t->save, t->lua, dirs, 2, &r),
			 ERR_INVAL);
	assert_non_null(strstr(r.why, "a module named zeta is patched in"));
	assert_true(same_file(t->save, before));
	no_temp_left(t);

	/* The plugin gone: its module leaves the save. */
	assert_int_equal(patch_save(t->save, t->lua, &r), 0);
	assert_int_equal(r.changed, 1);
	assert_null(entry(t->save, "world/modules/relay/main.lua"));
}

/* The call fails with rv, why mentions text, and the save is unchanged. */
static void refused(struct t *t, const char *lua, int rv, const char *text)
{
	struct patch_result r;
	char before[160], cmd[400];

	snprintf(before, sizeof(before), "%s/before.bin", t->dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", t->save, before);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(patch_save(t->save, lua, &r), rv);
	if (strstr(r.why, text) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", r.why, text);
	assert_true(same_file(t->save, before));
	no_temp_left(t);
}

static void bad_zips_are_refused(void **state)
{
	struct t *t = *state;
	FILE *f;
	size_t len;
	char *good;

	f = fopen(t->save, "w");
	fputs("this is not a zip at all, just text\n", f);
	fclose(f);
	refused(t, t->lua, ERR_MALFORMED, "not a readable zip");
	/* The first half of a real save. */
	make_save(t->save, FREEPLAY);
	good = slurp(t->save, &len);
	f = fopen(t->save, "w");
	fwrite(good, 1, len / 2, f);
	fclose(f);
	free(good);
	refused(t, t->lua, ERR_MALFORMED, "not a readable zip");
	/* No control.lua in the root folder. */
	make_save(t->save, NULL);
	refused(t, t->lua, ERR_MALFORMED, "no control.lua");
}

static void damaged_entry_is_refused(void **state)
{
	struct t *t = *state;
	size_t len;
	char *buf = NULL, *at;
	FILE *f;

	/* control.lua is stored: flip a byte of its text (the CRC no
	 * longer matches). */
	make_save(t->save, FREEPLAY);
	buf = slurp(t->save, &len);
	at = memmem(buf, len, "silo-script", 11);
	assert_non_null(at);
	at[0] = 'S';
	f = fopen(t->save, "w");
	fwrite(buf, 1, len, f);
	fclose(f);
	free(buf);
	refused(t, t->lua, ERR_CORRUPT, "damaged");
}

static void unpatchable_control_is_refused(void **state)
{
	struct t *t = *state;
	char text[512];

	make_save(t->save, "script.on_init(function() game.print('mine') end)\n");
	refused(t, t->lua, ERR_INVAL, "not Factorio's freeplay control.lua");
	/* One we patched, then edited above our lines by someone. */
	snprintf(text, sizeof(text), "%s-- mine\n%s (x)\n", FREEPLAY,
		 PATCH_MARKER);
	make_save(t->save, text);
	refused(t, t->lua, ERR_INVAL, "freeplay");
	/* Freeplay with Windows line ends is not the exact text either. */
	make_save(t->save, "local handler = require(\"event_handler\")\r\n");
	refused(t, t->lua, ERR_INVAL, "freeplay");
}

static void missing_lua_dir_is_refused(void **state)
{
	struct t *t = *state;
	char lua[160];

	snprintf(lua, sizeof(lua), "%s/nowhere", t->dir);
	refused(t, lua, ERR_NOTFOUND, "nowhere");
	snprintf(lua, sizeof(lua), "%s/empty", t->dir);
	put_file(lua, "other/main.lua", "return {}\n");
	refused(t, lua, ERR_NOTFOUND, "no clusterd/main.lua");
}

static void failed_write_keeps_the_old_save(void **state)
{
	struct t *t = *state;
	char tmp[160], before[160], cmd[400];
	struct patch_result r;

	/* The temp file's name is taken by a folder: libzip cannot rename
	 * its output there, and the save must stay as it was. */
	snprintf(tmp, sizeof(tmp), "%s.patch.tmp", t->save);
	assert_int_equal(mkdir(tmp, 0755), 0);
	put_file(tmp, "keep", "x");
	snprintf(before, sizeof(before), "%s/before.bin", t->dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", t->save, before);
	assert_int_equal(system(cmd), 0);
	assert_int_not_equal(patch_save(t->save, t->lua, &r), 0);
	assert_true(r.why[0] != '\0');
	assert_true(same_file(t->save, before));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	assert_int_equal(system(cmd), 0);
	/* With the way clear it works, and leaves no temp file. */
	assert_int_equal(patch_save(t->save, t->lua, &r), 0);
	assert_int_equal(r.changed, 1);
	no_temp_left(t);
}

static void reads_the_install_version(void **state)
{
	struct t *t = *state;
	char v[16], dir[160];

	snprintf(dir, sizeof(dir), "%s/install", t->dir);
	assert_int_equal(patch_install_version(dir, v, sizeof(v)), ERR_NOTFOUND);
	put_file(dir, "data/changelog.txt",
		 "-------------\nVersion: 1.1.110\nDate: 2024\n"
		 "  Changes:\nVersion: 1.1.109\n");
	assert_int_equal(patch_install_version(dir, v, sizeof(v)), 0);
	assert_string_equal(v, "1.1.110");
	put_file(dir, "data/changelog.txt", "no version here\n");
	assert_int_equal(patch_install_version(dir, v, sizeof(v)), ERR_NOTFOUND);
	put_file(dir, "data/changelog.txt", "Version:   2.0.28\r\n");
	assert_int_equal(patch_install_version(dir, v, sizeof(v)), 0);
	assert_string_equal(v, "2.0.28");
	/* Too long for the buffer: not cut into a wrong version. */
	put_file(dir, "data/changelog.txt", "Version: 123456789.123456789.1\n");
	assert_int_equal(patch_install_version(dir, v, sizeof(v)), ERR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(patches_freeplay, setup, teardown),
		cmocka_unit_test_setup_teardown(idempotent_and_deterministic,
						setup, teardown),
		cmocka_unit_test_setup_teardown(modules_follow_the_lua_dir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(plugin_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_zips_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(damaged_entry_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(unpatchable_control_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(missing_lua_dir_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(failed_write_keeps_the_old_save,
						setup, teardown),
		cmocka_unit_test_setup_teardown(reads_the_install_version, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
