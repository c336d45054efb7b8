/* Unit tests of the saves of an instance (node/instances/saves.c) and the
 * names they accept (node/core.c): names with "..", '/', a leading dot or
 * no .zip are refused; the zip check tells a save from garbage and from a
 * zip without a level; an upload in parts appends only in order, refuses a
 * part at the wrong offset (and says where to resume), lands under its
 * name only when whole and checked, and a refused one leaves nothing; a
 * download reads back the same bytes; rename, copy (on the loop) and
 * delete; --create passes the seed and settings to the install and the
 * instance shows as creating meanwhile. Real files in a temporary folder,
 * a real loop, a fake install (a shell script). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>
#include <unistd.h>

#include <uv.h>
#include <zip.h>

#include "base/err.h"
#include "node/instances/inst_int.h"
#include "tests/lib/cmocka_all.h"

struct fx {
	uv_loop_t loop;
	struct inst_mgr *m;
	char dir[64];
	char path[512];
	uint8_t *zip; /* a valid save's bytes */
	size_t zip_len;
	unsigned wakes;
};

static void on_wake(void *arg)
{
	((struct fx *)arg)->wakes++;
}

/* Writes a zip with the given entries (name, content) to path. */
static void make_zip(const char *path, const char *const *names, size_t n)
{
	int err = 0;
	zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);

	assert_non_null(z);
	for (size_t i = 0; i < n; i++) {
		zip_source_t *s = zip_source_buffer(z, names[i], strlen(names[i]),
						    0);

		assert_non_null(s);
		assert_true(zip_file_add(z, names[i], s, ZIP_FL_OVERWRITE) >= 0);
	}
	assert_int_equal(zip_close(z), 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static int setup(void **state)
{
	static const char *const entries[] = {"w/control.lua", "w/level.dat0"};
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/clusterd-saves.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->m = calloc(1, sizeof(*f->m));
	f->m->loop = &f->loop;
	snprintf(f->m->instances_dir, sizeof(f->m->instances_dir), "%s/inst",
		 f->dir);
	snprintf(f->path, sizeof(f->path), "%s/good.zip", f->dir);
	make_zip(f->path, entries, 2);
	f->zip = slurp(f->path, &f->zip_len);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->zip);
	free(f->m);
	free(f);
	return 0;
}

static void names(void **state)
{
	(void)state;
	assert_true(core_save_name_ok("world.zip"));
	assert_true(core_save_name_ok("_autosave1.zip"));
	assert_true(core_save_name_ok("a.b-c_d.zip"));
	assert_false(core_save_name_ok("world"));
	assert_false(core_save_name_ok(".zip"));
	assert_false(core_save_name_ok(".hidden.zip"));
	assert_false(core_save_name_ok("../x.zip"));
	assert_false(core_save_name_ok("a/b.zip"));
	assert_false(core_save_name_ok("..zip"));
	assert_false(core_save_name_ok("a b.zip"));
	assert_false(core_save_name_ok("world.ZIP"));
	assert_false(core_save_name_ok(""));
	/* 64 characters before .zip is the limit. */
	assert_true(core_save_name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.zip"));
	assert_false(core_save_name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.zip"));
	assert_true(core_upload_id_ok("0"));
	assert_true(core_upload_id_ok("a1B2_-"));
	assert_false(core_upload_id_ok(""));
	assert_false(core_upload_id_ok("../x"));
	assert_false(core_upload_id_ok("a.b"));
	assert_false(core_upload_id_ok("123456789012345678901234567890123"));
}

static void zip_check(void **state)
{
	static const char *const nolevel[] = {"w/control.lua"};
	static const char *const flat[] = {"level.dat0"};
	struct fx *f = *state;
	char path[600], why[160];
	FILE *g;

	assert_int_equal(inst_save_check_zip(f->path, why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/nolevel.zip", f->dir);
	make_zip(path, nolevel, 1);
	assert_int_equal(inst_save_check_zip(path, why, sizeof(why)),
			 ERR_MALFORMED);
	assert_non_null(strstr(why, "not a Factorio save"));
	snprintf(path, sizeof(path), "%s/flat.zip", f->dir);
	make_zip(path, flat, 1);
	assert_int_equal(inst_save_check_zip(path, why, sizeof(why)),
			 ERR_MALFORMED);
	snprintf(path, sizeof(path), "%s/junk.zip", f->dir);
	g = fopen(path, "wb");
	fputs("PK\003\004 this is not a zip at all", g);
	fclose(g);
	assert_int_equal(inst_save_check_zip(path, why, sizeof(why)),
			 ERR_MALFORMED);
	assert_non_null(strstr(why, "not a zip file"));
}

struct put_res {
	int called, status;
	uint64_t got;
	char *why;
};

static void on_put(void *arg, int status, uint64_t got, const char *why)
{
	struct put_res *r = arg;

	r->called++;
	r->status = status;
	r->got = got;
	snprintf(r->why, 160, "%s", why ? why : "");
}

/* One part through the thread pool: the synchronous refusal, or what
 * the callback said. */
static int put_part(struct fx *f, const struct core_save_part *pt,
		    uint64_t *got, char *why)
{
	struct put_res r = {0, 0, 0, why};
	int rc = inst_save_put(f->m, pt, on_put, &r);

	if (rc != 0)
		return rc;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(r.called, 1);
	assert_int_equal(f->m->save_works, 0);
	*got = r.got;
	return r.status;
}

static int put(struct fx *f, const char *save, const char *id, uint64_t off,
	       const uint8_t *p, size_t len, uint64_t total, uint64_t *got,
	       char *why)
{
	struct core_save_part pt = {.inst = "alpha", .save = save,
				    .upload = id, .offset = off,
				    .total = total, .data = p, .len = len};

	return put_part(f, &pt, got, why);
}

/* Files in alpha's saves folder, hidden ones included. */
static size_t count_files(struct fx *f)
{
	char path[INST_PATH_MAX + 16];
	size_t n = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/alpha/saves", f->m->instances_dir);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") != 0 &&
					     strcmp(e->d_name, "..") != 0);
	closedir(d);
	return n;
}

static void upload_in_parts(void **state)
{
	struct fx *f = *state;
	size_t a = f->zip_len / 3, b = 2 * f->zip_len / 3, n = 0, len;
	struct core_save list[4];
	struct core_save_rd *rd;
	const uint8_t *p;
	uint64_t got = 0, size = 0;
	uint8_t *back;
	size_t have = 0;
	char why[160];
	int done = 0;

	assert_int_equal(put(f, "w.zip", "u1", 0, f->zip, a, f->zip_len, &got,
			     why), 0);
	assert_int_equal(got, a);
	/* A part that skips ahead, or repeats, says where to resume. */
	assert_int_equal(put(f, "w.zip", "u1", b, f->zip + b, f->zip_len - b,
			     f->zip_len, &got, why), ERR_CONFLICT);
	assert_int_equal(got, a);
	/* A part past the total is refused outright. */
	assert_int_equal(put(f, "w.zip", "u1", a, f->zip, f->zip_len,
			     f->zip_len, &got, why), ERR_INVAL);
	/* Another upload id does not see this one's bytes. */
	assert_int_equal(put(f, "w.zip", "u2", a, f->zip + a, b - a,
			     f->zip_len, &got, why), ERR_CONFLICT);
	assert_int_equal(put(f, "w.zip", "u1", a, f->zip + a, b - a,
			     f->zip_len, &got, why), 0);
	assert_int_equal(inst_save_list(f->m, "alpha", list, 4, &n), 0);
	assert_int_equal(n, 0); /* not there before it is whole */
	assert_int_equal(put(f, "w.zip", "u1", b, f->zip + b, f->zip_len - b,
			     f->zip_len, &got, why), 0);
	assert_int_equal(got, f->zip_len);
	assert_int_equal(inst_save_list(f->m, "alpha", list, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "w.zip");
	assert_int_equal(list[0].size, f->zip_len);
	assert_int_equal(count_files(f), 1); /* no work file left */
	/* The same name again: refused unless overwrite. */
	assert_int_equal(put(f, "w.zip", "u3", 0, f->zip, f->zip_len,
			     f->zip_len, &got, why), ERR_EXISTS);
	/* Read back, a buffer at a time as the reads come in. */
	assert_int_equal(inst_save_open(f->m, "alpha", "w.zip", on_wake, f,
					&rd, &size), 0);
	assert_int_equal(size, f->zip_len);
	back = malloc(f->zip_len);
	while (!done) {
		int rc = inst_save_read(rd, &p, &len, &done);

		if (rc == ERR_AGAIN) {
			uv_run(&f->loop, UV_RUN_ONCE);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(have + len <= f->zip_len);
		memcpy(back + have, p, len);
		have += len;
	}
	assert_int_equal(have, f->zip_len);
	assert_memory_equal(back, f->zip, have);
	assert_true(f->wakes > 0);
	free(back);
	inst_save_close(rd);
}

/* A file of several read buffers comes back whole and in order; a reader
 * closed with a read in flight is freed when the read ends. */
static void reads_in_order(void **state)
{
	struct fx *f = *state;
	size_t n = 3 * SAVE_READ_BUF + 123, have = 0, len;
	char path[INST_PATH_MAX + 32];
	struct core_save_rd *rd;
	const uint8_t *p;
	uint64_t size = 0;
	int done = 0;
	FILE *g;

	snprintf(path, sizeof(path), "mkdir -p %s/alpha/saves",
		 f->m->instances_dir);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/alpha/saves/big.zip",
		 f->m->instances_dir);
	g = fopen(path, "wb");
	for (size_t i = 0; i < n; i++)
		fputc((int)(i % 251), g);
	fclose(g);
	assert_int_equal(inst_save_open(f->m, "alpha", "big.zip", on_wake, f,
					&rd, &size), 0);
	assert_int_equal(size, n);
	while (!done) {
		int rc = inst_save_read(rd, &p, &len, &done);

		if (rc == ERR_AGAIN) {
			uv_run(&f->loop, UV_RUN_ONCE);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(len <= SAVE_READ_BUF);
		for (size_t i = 0; i < len; i++)
			if (p[i] != (uint8_t)((have + i) % 251))
				fail_msg("byte %zu differs", have + i);
		have += len;
	}
	assert_int_equal(have, n);
	inst_save_close(rd);
	/* Open starts a read at once: close before it ends. */
	assert_int_equal(inst_save_open(f->m, "alpha", "big.zip", on_wake, f,
					&rd, &size), 0);
	inst_save_close(rd);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(inst_save_open(f->m, "alpha", "none.zip", on_wake, f,
					&rd, &size), ERR_NOTFOUND);
}

/* Work files left for an hour go with the next list; younger ones stay. */
static void stale_work_files_go(void **state)
{
	struct fx *f = *state;
	char old[INST_PATH_MAX + 32], young[INST_PATH_MAX + 32];
	struct utimbuf t = {.actime = time(NULL) - SAVE_STALE_S - 10,
			    .modtime = time(NULL) - SAVE_STALE_S - 10};
	struct core_save list[2];
	size_t n = 9;

	snprintf(old, sizeof(old), "mkdir -p %s/alpha/saves",
		 f->m->instances_dir);
	assert_int_equal(system(old), 0);
	snprintf(old, sizeof(old), "%s/alpha/saves/.upload-u-w.zip",
		 f->m->instances_dir);
	snprintf(young, sizeof(young), "%s/alpha/saves/.copy-w.zip",
		 f->m->instances_dir);
	fclose(fopen(old, "w"));
	fclose(fopen(young, "w"));
	assert_int_equal(utime(old, &t), 0);
	assert_int_equal(inst_save_list(f->m, "alpha", list, 2, &n), 0);
	assert_int_equal(n, 0); /* work files are never listed */
	assert_int_not_equal(access(old, F_OK), 0);
	assert_int_equal(access(young, F_OK), 0);
}

static void corrupt_upload_changes_nothing(void **state)
{
	struct fx *f = *state;
	uint8_t junk[4096];
	struct core_save list[4];
	uint64_t got = 0;
	size_t n = 0;
	char why[160];

	assert_int_equal(put(f, "w.zip", "u1", 0, f->zip, f->zip_len,
			     f->zip_len, &got, why), 0);
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(put(f, "bad.zip", "u1", 0, junk, sizeof(junk),
			     sizeof(junk), &got, why), ERR_MALFORMED);
	assert_non_null(strstr(why, "not a zip file"));
	/* Even over an existing save, with overwrite: it stays as it was. */
	{
		struct core_save_part pt = {.inst = "alpha", .save = "w.zip",
					    .upload = "u9", .total = 100,
					    .overwrite = 1, .data = junk,
					    .len = 100};

		assert_int_equal(put_part(f, &pt, &got, why), ERR_MALFORMED);
	}
	assert_int_equal(inst_save_list(f->m, "alpha", list, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].size, f->zip_len);
	assert_int_equal(count_files(f), 1);
	/* Names that would leave the folder never reach the disk. */
	assert_int_equal(put(f, "../x.zip", "u1", 0, f->zip, f->zip_len,
			     f->zip_len, &got, why), ERR_INVAL);
	{
		struct core_save_part pt = {.inst = "..", .save = "x.zip",
					    .upload = "u1",
					    .total = f->zip_len,
					    .data = f->zip,
					    .len = f->zip_len};

		assert_int_equal(put_part(f, &pt, &got, why), ERR_INVAL);
	}
}

static void on_copied(void *arg, int status, const char *msg)
{
	(void)msg;
	*(int *)arg = status == 0 ? 1 : status;
}

static void rename_copy_delete(void **state)
{
	struct fx *f = *state;
	struct core_save list[4];
	uint64_t got = 0;
	size_t n = 0;
	char why[160];
	int copied = 0;

	assert_int_equal(put(f, "a.zip", "u", 0, f->zip, f->zip_len,
			     f->zip_len, &got, why), 0);
	assert_int_equal(put(f, "b.zip", "u", 0, f->zip, f->zip_len,
			     f->zip_len, &got, why), 0);
	assert_int_equal(inst_save_rename(f->m, "alpha", "a.zip", "b.zip"),
			 ERR_EXISTS);
	assert_int_equal(inst_save_rename(f->m, "alpha", "a.zip", "c.zip"), 0);
	assert_int_equal(inst_save_rename(f->m, "alpha", "a.zip", "d.zip"),
			 ERR_NOTFOUND);
	assert_int_equal(inst_save_rename(f->m, "alpha", "c.zip", "../c.zip"),
			 ERR_INVAL);
	assert_int_equal(inst_save_copy(f->m, "alpha", "c.zip", "alpha",
					"b.zip", on_copied, &copied),
			 ERR_EXISTS);
	assert_int_equal(inst_save_copy(f->m, "alpha", "c.zip", "beta",
					"e.zip", on_copied, &copied), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(copied, 1);
	assert_int_equal(f->m->save_works, 0);
	assert_int_equal(inst_save_list(f->m, "beta", list, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "e.zip");
	assert_int_equal(list[0].size, f->zip_len);
	assert_int_equal(inst_save_delete(f->m, "alpha", "b.zip"), 0);
	assert_int_equal(inst_save_delete(f->m, "alpha", "b.zip"),
			 ERR_NOTFOUND);
	assert_int_equal(inst_save_list(f->m, "alpha", list, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "c.zip");
}

static void create_passes_seed(void **state)
{
	struct fx *f = *state;
	struct core_save_create c = {.id = 5, .inst = "alpha",
				     .save = "new.zip", .has_seed = 1,
				     .seed = 4242,
				     .map_gen_json = "{\"width\":64}"};
	char path[700], args[1024] = "";
	struct core_save list[4];
	int created = 0;
	size_t n = 0;
	FILE *g;

	/* The fake install copies our good zip to the --create path and
	 * records its arguments and the map settings it was given. */
	snprintf(path, sizeof(path), "%s/bin/x64", f->dir);
	snprintf(args, sizeof(args), "mkdir -p %s", path);
	assert_int_equal(system(args), 0);
	snprintf(path, sizeof(path), "%s/bin/x64/factorio", f->dir);
	g = fopen(path, "w");
	fprintf(g, "#!/bin/sh\necho \"$@\" > %s/args\n"
		   "while [ $# -gt 0 ]; do case $1 in\n"
		   "--create) out=$2;; --map-gen-settings) cat $2 > %s/mgs;;\n"
		   "esac; shift; done\ncp %s \"$out\"\n",
		f->dir, f->dir, f->path);
	fclose(g);
	chmod(path, 0755);
	snprintf(f->m->factorio_dir, sizeof(f->m->factorio_dir), "%s", f->dir);
	assert_int_equal(inst_save_create(f->m, &c, on_copied, &created), 0);
	assert_true(inst_save_creating(f->m, 5));
	assert_int_equal(inst_save_create(f->m, &c, on_copied, &created),
			 ERR_BUSY);
	assert_false(inst_save_idle(f->m));
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(created, 1);
	assert_false(inst_save_creating(f->m, 5));
	assert_true(inst_save_idle(f->m));
	assert_int_equal(inst_save_list(f->m, "alpha", list, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "new.zip");
	assert_int_equal(count_files(f), 1); /* settings file removed */
	snprintf(path, sizeof(path), "%s/args", f->dir);
	g = fopen(path, "r");
	assert_non_null(fgets(args, sizeof(args), g));
	fclose(g);
	assert_non_null(strstr(args, "--map-gen-seed 4242"));
	assert_non_null(strstr(args, "--create "));
	assert_non_null(strstr(args, "/alpha/config.ini"));
	snprintf(path, sizeof(path), "%s/mgs", f->dir);
	g = fopen(path, "r");
	assert_non_null(fgets(args, sizeof(args), g));
	fclose(g);
	assert_string_equal(args, "{\"width\":64}");
	/* Again: the name is taken now. */
	assert_int_equal(inst_save_create(f->m, &c, on_copied, &created),
			 ERR_EXISTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test_setup_teardown(zip_check, setup, teardown),
		cmocka_unit_test_setup_teardown(upload_in_parts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reads_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(stale_work_files_go, setup,
						teardown),
		cmocka_unit_test_setup_teardown(corrupt_upload_changes_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(rename_copy_delete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(create_passes_seed, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
