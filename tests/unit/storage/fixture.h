/* The fixture the storage tests share: one store, on RocksDB in a scratch
 * directory or on a simulated disk, opened with small memory settings;
 * BOTH(fn) runs a test on each. */
#ifndef CLUSTERD_TESTS_STORAGE_FIXTURE_H
#define CLUSTERD_TESTS_STORAGE_FIXTURE_H

#include "tests/unit/storage/util.h"

#include "tests/lib/cmocka_all.h"

struct fx {
	char dir[64];
	struct stor_memdisk *md;
	struct stor *s;
	uint64_t next; /* next log index (the domain tests) */
};

static void fx_open(struct fx *f)
{
	struct stor_options o;

	util_small_options(&o, f->md ? NULL : f->dir);
	o.mem = f->md;
	assert_int_equal(stor_open(&o, &f->s), 0);
	f->next = stor_applied_index(f->s) + 1;
}

static int setup_rocks(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(util_tmpdir(f->dir, "stortest"));
	fx_open(f);
	*state = f;
	return 0;
}

static int setup_mem(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(stor_memdisk_new(NULL, NULL, &f->md), 0);
	fx_open(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stor_close(f->s);
	if (f->md)
		stor_memdisk_free(f->md);
	else
		util_rm_rf(f->dir);
	free(f);
	return 0;
}

/* Opens g on a fresh simulated disk and installs f's state in it through
 * a snapshot stream (g is closed with fx_close_mem). */
static inline void fx_snapshot_to(struct fx *f, struct fx *g)
{
	struct stor_snap_reader *r;
	struct stor_snap_writer *w;
	const uint8_t *chunk;
	size_t len;
	int done = 0;

	memset(g, 0, sizeof(*g));
	assert_int_equal(stor_memdisk_new(NULL, NULL, &g->md), 0);
	fx_open(g);
	assert_int_equal(stor_snap_reader_open(f->s, 4096, &r), 0);
	assert_int_equal(stor_snap_writer_open(g->s, &w), 0);
	while (!done) {
		assert_int_equal(stor_snap_reader_next(r, &chunk, &len, &done),
				 0);
		assert_int_equal(stor_snap_writer_chunk(w, chunk, len), 0);
	}
	stor_snap_reader_close(r);
	assert_int_equal(stor_snap_writer_finish(w), 0);
}

/* Appends and applies one command (data is freed here); returns its
 * result and, if index is not NULL, its log index. */
static inline int fx_apply(struct fx *f, uint8_t *data, size_t len,
			   uint64_t *index)
{
	struct stor_entry e = {.index = f->next, .term = 1,
			       .type = STOR_ENTRY_COMMAND, .data = data,
			       .len = len};
	int result = 99;

	assert_int_equal(stor_log_append(f->s, &e, 1), 0);
	assert_int_equal(stor_apply(f->s, &e, 1, &result, 0), 0);
	free(data);
	if (index)
		*index = f->next;
	f->next++;
	return result;
}

static inline void fx_close_mem(struct fx *g)
{
	stor_close(g->s);
	stor_memdisk_free(g->md);
}

#define BOTH(fn)                                                               \
	cmocka_unit_test_setup_teardown(fn, setup_mem, teardown),              \
	    cmocka_unit_test_setup_teardown(fn, setup_rocks, teardown)

#endif
