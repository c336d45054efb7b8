/* Unit tests of storage/: the log, metadata, the state machine and the
 * kv domain, snapshots, the writer thread, on RocksDB and on the
 * in-memory variant alike. */
#include "tests/unit/storage/fixture.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/assert.h"
#include "tests/lib/cmocka_all.h"

static void fx_reopen(struct fx *f)
{
	stor_close(f->s);
	fx_open(f);
}

/* Appends entries lo..hi (inclusive) of term t, data "e<index>". */
static void append_range(struct stor *s, uint64_t lo, uint64_t hi, uint64_t t)
{
	struct stor_entry *e = calloc(hi - lo + 1, sizeof(*e));
	char (*buf)[32] = calloc(hi - lo + 1, 32);

	for (uint64_t i = lo; i <= hi; i++) {
		size_t k = i - lo;

		snprintf(buf[k], 32, "e%llu", (unsigned long long)i);
		e[k] = (struct stor_entry){.index = i, .term = t,
					   .type = STOR_ENTRY_NOOP,
					   .data = (uint8_t *)buf[k],
					   .len = strlen(buf[k])};
	}
	assert_int_equal(stor_log_append(s, e, hi - lo + 1), 0);
	free(buf);
	free(e);
}

static void check_entry(struct stor *s, uint64_t i, uint64_t term)
{
	struct stor_entry e;
	char want[32];

	snprintf(want, sizeof(want), "e%llu", (unsigned long long)i);
	assert_int_equal(stor_log_entry(s, i, &e), 0);
	assert_int_equal(e.index, i);
	assert_int_equal(e.term, term);
	assert_int_equal(e.len, strlen(want));
	assert_memory_equal(e.data, want, e.len);
	free(e.data);
}

static void test_log_append_read(void **state)
{
	struct fx *f = *state;
	struct stor_entry *v;
	uint64_t t;
	size_t n;

	assert_int_equal(stor_log_first(f->s), 1);
	assert_int_equal(stor_log_last(f->s), 0);
	append_range(f->s, 1, 100, 1);
	append_range(f->s, 101, 150, 2);
	assert_int_equal(stor_log_last(f->s), 150);
	check_entry(f->s, 1, 1);
	check_entry(f->s, 150, 2);
	assert_int_equal(stor_log_term(f->s, 100, &t), 0);
	assert_int_equal(t, 1);
	assert_int_equal(stor_log_term(f->s, 0, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(stor_log_term(f->s, 151, &t), ERR_NOTFOUND);
	/* Bounded read: each entry is 2..4 bytes, 10 bytes => 3-5 entries. */
	assert_int_equal(stor_log_read(f->s, 10, 150, 10, &v, &n), 0);
	assert_true(n >= 3 && n <= 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i].index, 10 + i);
	stor_entries_free(v, n);
	assert_int_equal(stor_log_read(f->s, 1, 151, 1 << 20, &v, &n), 0);
	assert_int_equal(n, 150);
	stor_entries_free(v, n);
	assert_int_equal(stor_log_read(f->s, 1, 152, 1 << 20, &v, &n),
			 ERR_NOTFOUND);
	/* Gaps and stale indexes are refused. */
	{
		struct stor_entry e = {.index = 152, .term = 2};

		assert_int_equal(stor_log_append(f->s, &e, 1), ERR_INVAL);
	}
	fx_reopen(f);
	assert_int_equal(stor_log_last(f->s), 150);
	check_entry(f->s, 77, 1);
	assert_int_equal(stor_log_term(f->s, 150, &t), 0);
	assert_int_equal(t, 2);
}

static void test_log_truncate_compact(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	append_range(f->s, 1, 50, 1);
	/* A conflicting append replaces the suffix in one batch. */
	append_range(f->s, 41, 45, 3);
	assert_int_equal(stor_log_last(f->s), 45);
	check_entry(f->s, 41, 3);
	check_entry(f->s, 40, 1);
	assert_int_equal(stor_log_truncate(f->s, 43), 0);
	assert_int_equal(stor_log_last(f->s), 42);
	assert_int_equal(stor_log_term(f->s, 42, &t), 0);
	assert_int_equal(t, 3);
	assert_int_equal(stor_log_compact(f->s, 30), 0);
	assert_int_equal(stor_log_first(f->s), 31);
	assert_int_equal(stor_log_term(f->s, 30, &t), 0);
	assert_int_equal(t, 1);
	assert_int_equal(stor_log_term(f->s, 29, &t), ERR_NOTFOUND);
	{
		struct stor_entry e;

		assert_int_equal(stor_log_entry(f->s, 29, &e), ERR_NOTFOUND);
	}
	fx_reopen(f);
	assert_int_equal(stor_log_first(f->s), 31);
	assert_int_equal(stor_log_last(f->s), 42);
	check_entry(f->s, 31, 1);
	/* Compacting everything, then appending after it. */
	assert_int_equal(stor_log_compact(f->s, 42), 0);
	assert_int_equal(stor_log_first(f->s), 43);
	assert_int_equal(stor_log_last(f->s), 42);
	fx_reopen(f);
	assert_int_equal(stor_log_last(f->s), 42);
	append_range(f->s, 43, 44, 4);
	check_entry(f->s, 44, 4);
	/* Reset: as after installing a snapshot the log does not hold. */
	assert_int_equal(stor_log_reset(f->s, 1000, 7), 0);
	assert_int_equal(stor_log_first(f->s), 1001);
	assert_int_equal(stor_log_last(f->s), 1000);
	assert_int_equal(stor_log_term(f->s, 1000, &t), 0);
	assert_int_equal(t, 7);
	fx_reopen(f);
	assert_int_equal(stor_log_last(f->s), 1000);
	append_range(f->s, 1001, 1001, 7);
	check_entry(f->s, 1001, 7);
}

static void test_checksum_corrupt(void **state)
{
	struct fx *f = *state;
	struct stor_entry e, *v;
	uint8_t *raw;
	char err[256];
	size_t n;

	append_range(f->s, 1, 10, 1);
	/* Read entry 5's stored bytes through the log's own format: copy
	 * entry 6's value under key 5 (valid bytes, wrong index), which the
	 * checksum over the index must catch. */
	raw = (uint8_t *)"\x00\x00\x00\x00\x01garbage-bytes";
	assert_int_equal(stor_debug_put_log_raw(f->s, 5, raw, 18), 0);
	assert_int_equal(stor_log_entry(f->s, 5, &e), ERR_CORRUPT);
	stor_last_error(f->s, err, sizeof(err));
	assert_non_null(strstr(err, "log entry 5"));
	/* Sticky: the store refuses service from now on. */
	assert_int_equal(stor_failed(f->s), ERR_CORRUPT);
	assert_int_equal(stor_log_entry(f->s, 4, &e), ERR_CORRUPT);
	assert_int_equal(stor_log_read(f->s, 1, 11, 1 << 20, &v, &n),
			 ERR_CORRUPT);
	{
		struct stor_entry x = {.index = 11, .term = 1};

		assert_int_equal(stor_log_append(f->s, &x, 1), ERR_CORRUPT);
	}
	/* After a restart a read of the entry fails again. */
	fx_reopen(f);
	assert_int_equal(stor_log_read(f->s, 1, 11, 1 << 20, &v, &n),
			 ERR_CORRUPT);
	stor_last_error(f->s, err, sizeof(err));
	assert_non_null(strstr(err, "log entry 5"));
}

static void test_checksum_moved_value(void **state)
{
	struct fx *f = *state;
	struct stor_entry e;
	char err[256];

	append_range(f->s, 1, 3, 1);
	/* A value valid for index 2, stored under index 3: only a checksum
	 * covering the index catches it. Built by hand from the format. */
	{
		uint8_t v[16], key[8];
		uint32_t crc;

		put_u64be(key, 2);
		v[4] = 1;
		put_u64le(v + 5, 1);
		v[13] = STOR_ENTRY_NOOP;
		v[14] = 'e';
		v[15] = '2';
		crc = crc32c(crc32c(0, key, 8), v + 4, 12);
		put_u32le(v, crc);
		assert_int_equal(stor_debug_put_log_raw(f->s, 2, v, 16), 0);
		check_entry(f->s, 2, 1);
		assert_int_equal(stor_debug_put_log_raw(f->s, 3, v, 16), 0);
	}
	assert_int_equal(stor_log_entry(f->s, 3, &e), ERR_CORRUPT);
	stor_last_error(f->s, err, sizeof(err));
	assert_non_null(strstr(err, "log entry 3"));
}

static void test_log_hole(void **state)
{
	struct fx *f = *state;
	struct stor_entry *v;
	char err[256];
	size_t n;

	append_range(f->s, 1, 10, 1);
	assert_int_equal(stor_debug_del_log_raw(f->s, 5), 0);
	/* Starting at the hole: not there (as after a racing compaction). */
	assert_int_equal(stor_log_read(f->s, 5, 11, 1 << 20, &v, &n),
			 ERR_NOTFOUND);
	assert_int_equal(stor_failed(f->s), 0);
	/* A hole in the middle of a read is corruption. */
	assert_int_equal(stor_log_read(f->s, 1, 11, 1 << 20, &v, &n),
			 ERR_CORRUPT);
	stor_last_error(f->s, err, sizeof(err));
	assert_non_null(strstr(err, "log entry 5 is missing"));
	assert_int_equal(stor_failed(f->s), ERR_CORRUPT);
}

static void test_hard_state_meta(void **state)
{
	struct fx *f = *state;
	struct stor_hard_state hs = {0};
	struct stor_snap_meta m;
	uint8_t *p;
	size_t n;

	assert_int_equal(stor_hs_load(f->s, &hs), 0);
	assert_int_equal(hs.term + hs.vote + hs.commit, 0);
	hs = (struct stor_hard_state){.term = 7, .vote = 3, .commit = 99};
	assert_int_equal(stor_hs_save(f->s, &hs), 0);
	assert_int_equal(stor_conf_load(f->s, &p, &n), ERR_NOTFOUND);
	assert_int_equal(stor_conf_save(f->s, "conf-v1", 7), 0);
	assert_int_equal(stor_local_put(f->s, "node-id", "abc", 3), 0);
	assert_int_equal(stor_snap_meta_load(f->s, &m), ERR_NOTFOUND);
	fx_reopen(f);
	memset(&hs, 0, sizeof(hs));
	assert_int_equal(stor_hs_load(f->s, &hs), 0);
	assert_int_equal(hs.term, 7);
	assert_int_equal(hs.vote, 3);
	assert_int_equal(hs.commit, 99);
	assert_int_equal(stor_conf_load(f->s, &p, &n), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(p, "conf-v1", 7);
	free(p);
	assert_int_equal(stor_local_get(f->s, "node-id", &p, &n), 0);
	assert_memory_equal(p, "abc", 3);
	free(p);
}

static void apply_one(struct stor *s, struct stor_entry e, int want)
{
	int res = 12345;

	assert_int_equal(stor_apply(s, &e, 1, &res, 0), 0);
	assert_int_equal(res, want);
	free(e.data);
}

static void expect_kv(struct stor *s, const char *ns, const char *k,
		      const char *want)
{
	uint8_t *v;
	size_t n;
	int rc = stor_kv_get(s, ns, k, strlen(k), &v, &n);

	if (want == NULL) {
		assert_int_equal(rc, ERR_NOTFOUND);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(v, want, n);
	free(v);
}

static void test_apply_kv(void **state)
{
	struct fx *f = *state;
	struct stor_entry e = {.index = 0, .term = 1};
	uint64_t next = 1;

	apply_one(f->s, util_put_entry(next++, 1, "plug", "a", "1"), 0);
	apply_one(f->s, util_put_entry(next++, 1, "other", "a", "2"), 0);
	expect_kv(f->s, "plug", "a", "1");
	expect_kv(f->s, "other", "a", "2");
	/* cas: expected value matches / does not / must be absent. */
	e.index = next++;
	assert_int_equal(stor_kv_encode(STOR_KV_CAS, "plug", "a", 1, "1", 1,
					"3", 1, &e.data, &e.len), 0);
	apply_one(f->s, e, 0);
	e.index = next++;
	assert_int_equal(stor_kv_encode(STOR_KV_CAS, "plug", "a", 1, "1", 1,
					"4", 1, &e.data, &e.len), 0);
	apply_one(f->s, e, ERR_CONFLICT);
	e.index = next++;
	assert_int_equal(stor_kv_encode(STOR_KV_CAS, "plug", "a", 1, NULL, 0,
					"5", 1, &e.data, &e.len), 0);
	apply_one(f->s, e, ERR_CONFLICT);
	e.index = next++;
	assert_int_equal(stor_kv_encode(STOR_KV_CAS, "plug", "b", 1, NULL, 0,
					"6", 1, &e.data, &e.len), 0);
	apply_one(f->s, e, 0);
	expect_kv(f->s, "plug", "a", "3");
	expect_kv(f->s, "plug", "b", "6");
	e.index = next++;
	assert_int_equal(stor_kv_encode(STOR_KV_DEL, "plug", "a", 1, NULL, 0,
					NULL, 0, &e.data, &e.len), 0);
	apply_one(f->s, e, 0);
	expect_kv(f->s, "plug", "a", NULL);
	/* Undecodable and unknown commands are results, and still count. */
	e = (struct stor_entry){.index = next++, .term = 1,
				.data = (uint8_t *)strdup("\x93\x01\x63\x90"),
				.len = 4};
	apply_one(f->s, e, ERR_NOTFOUND);
	e = (struct stor_entry){.index = next++, .term = 1,
				.data = (uint8_t *)strdup("\xc1junk"), .len = 5};
	apply_one(f->s, e, ERR_MALFORMED);
	e = (struct stor_entry){.index = next++, .term = 1,
				.data = (uint8_t *)strdup("\x93\x02\x01\x90"),
				.len = 4};
	apply_one(f->s, e, ERR_VERSION);
	assert_int_equal(stor_applied_index(f->s), next - 1);
	fx_reopen(f);
	assert_int_equal(stor_applied_index(f->s), next - 1);
	assert_int_equal(stor_applied_term(f->s), 1);
	expect_kv(f->s, "plug", "b", "6");
	expect_kv(f->s, "other", "a", "2");
}

static void test_apply_exactly_once(void **state)
{
	struct fx *f = *state;
	struct stor_entry e[3];
	int res[3];

	/* Two cas in one batch: the second sees the first's write. */
	for (int i = 0; i < 3; i++) {
		char exp[4], val[4];

		snprintf(exp, sizeof(exp), "%d", i);
		snprintf(val, sizeof(val), "%d", i + 1);
		e[i] = (struct stor_entry){.index = (uint64_t)i + 1, .term = 2};
		assert_int_equal(stor_kv_encode(STOR_KV_CAS, "n", "ctr", 3,
						i ? exp : NULL, i ? 1 : 0, val,
						1, &e[i].data, &e[i].len), 0);
	}
	assert_int_equal(stor_apply(f->s, e, 3, res, 1), 0);
	assert_int_equal(res[0] + res[1] + res[2], 0);
	expect_kv(f->s, "n", "ctr", "3");
	/* Applying an index again is refused: exactly once. */
	assert_int_equal(stor_apply(f->s, &e[2], 1, res, 1), ERR_INVAL);
	fx_reopen(f);
	assert_int_equal(stor_applied_index(f->s), 3);
	assert_int_equal(stor_apply(f->s, &e[0], 1, res, 1), ERR_INVAL);
	expect_kv(f->s, "n", "ctr", "3");
	for (int i = 0; i < 3; i++)
		free(e[i].data);
}

static void fill_state(struct stor *s, uint64_t from, uint64_t n,
		       const char *tag)
{
	for (uint64_t i = 0; i < n; i++) {
		char k[32], v[64];

		snprintf(k, sizeof(k), "key%06llu", (unsigned long long)i);
		snprintf(v, sizeof(v), "%s-value-%llu", tag,
			 (unsigned long long)i);
		apply_one(s, util_put_entry(from + i, 1, "snap", k, v), 0);
	}
}

/* Streams the state of `src` into `dst` with small chunks, applying more
 * on src in the middle (writes go on during a snapshot). */
static void transfer(struct stor *src, struct stor *dst, uint64_t *digest)
{
	struct stor_snap_reader *r;
	struct stor_snap_writer *w;
	const uint8_t *chunk;
	uint64_t cnt, d_after;
	size_t len, chunks = 0;
	int done = 0;

	assert_int_equal(stor_state_digest(src, digest, &cnt), 0);
	assert_int_equal(stor_snap_reader_open(src, 4096, &r), 0);
	fill_state(src, stor_applied_index(src) + 1, 50, "later");
	assert_int_equal(stor_state_digest(src, &d_after, &cnt), 0);
	assert_true(d_after != *digest);
	assert_int_equal(stor_snap_writer_open(dst, &w), 0);
	while (!done) {
		assert_int_equal(stor_snap_reader_next(r, &chunk, &len, &done),
				 0);
		assert_true(len <= 4096 + 64);
		assert_int_equal(stor_snap_writer_chunk(w, chunk, len), 0);
		chunks++;
	}
	assert_true(chunks > 10);
	stor_snap_reader_close(r);
	assert_int_equal(stor_snap_writer_finish(w), 0);
}

static void test_snapshot_stream_install(void **state)
{
	struct fx *f = *state;
	struct fx g = {0};
	uint64_t d_src, d_dst, cnt;

	fill_state(f->s, 1, 2000, "a");
	assert_int_equal(stor_conf_save(f->s, "members:1,2,3", 13), 0);
	if (f->md)
		assert_int_equal(stor_memdisk_new(NULL, NULL, &g.md), 0);
	else
		assert_non_null(util_tmpdir(g.dir, "stortest"));
	fx_open(&g);
	/* The receiver has old state of its own, which must vanish. */
	fill_state(g.s, 1, 30, "old");
	transfer(f->s, g.s, &d_src);
	assert_int_equal(stor_state_digest(g.s, &d_dst, &cnt), 0);
	assert_int_equal(cnt, 2000);
	assert_true(d_src == d_dst);
	assert_int_equal(stor_applied_index(g.s), 2000);
	fx_reopen(&g);
	assert_int_equal(stor_state_digest(g.s, &d_dst, &cnt), 0);
	assert_true(d_src == d_dst);
	assert_int_equal(stor_applied_index(g.s), 2000);
	{
		struct stor_snap_meta m;

		assert_int_equal(stor_snap_meta_load(g.s, &m), 0);
		assert_int_equal(m.index, 2000);
		assert_int_equal(m.conf_len, 13);
		assert_memory_equal(m.conf, "members:1,2,3", 13);
		stor_snap_meta_free(&m);
	}
	expect_kv(g.s, "snap", "key000029", "a-value-29");
	stor_close(g.s);
	if (g.md)
		stor_memdisk_free(g.md);
	else
		util_rm_rf(g.dir);
}

static void test_snapshot_abort_and_damage(void **state)
{
	struct fx *f = *state;
	struct stor_snap_reader *r;
	struct stor_snap_writer *w;
	const uint8_t *chunk;
	uint64_t d0, d1, cnt;
	uint8_t *copy;
	size_t len;
	int done = 0, n = 0, rc = 0;

	fill_state(f->s, 1, 300, "x");
	assert_int_equal(stor_state_digest(f->s, &d0, &cnt), 0);
	/* Install our own state into ourselves, damaging one chunk: the
	 * trailer's digest catches it and the old state stays current. */
	assert_int_equal(stor_snap_reader_open(f->s, 4096, &r), 0);
	assert_int_equal(stor_snap_writer_open(f->s, &w), 0);
	while (!done && rc == 0) {
		assert_int_equal(stor_snap_reader_next(r, &chunk, &len, &done),
				 0);
		copy = malloc(len);
		memcpy(copy, chunk, len);
		if (n++ == 2)
			copy[len - 1] ^= 0x01; /* last byte of a value */
		rc = stor_snap_writer_chunk(w, copy, len);
		free(copy);
	}
	assert_int_equal(rc, ERR_CORRUPT);
	stor_snap_reader_close(r);
	stor_snap_writer_abort(w);
	assert_int_equal(stor_state_digest(f->s, &d1, &cnt), 0);
	assert_true(d0 == d1);
	/* An install cut short by a crash (a child process that dies in
	 * the middle) is dropped at the next open: RocksDB only, since the
	 * memory variant does not outlive a process. */
	if (f->md)
		return;
	stor_close(f->s);
	f->s = NULL;
	if (fork() == 0) {
		fx_open(f);
		if (stor_snap_reader_open(f->s, 4096, &r) != 0 ||
		    stor_snap_writer_open(f->s, &w) != 0)
			_exit(2);
		for (int i = 0; i < 3; i++)
			if (stor_snap_reader_next(r, &chunk, &len, &done) ||
			    stor_snap_writer_chunk(w, chunk, len))
				_exit(3);
		_exit(0); /* no finish, no close: the crash */
	}
	{
		int st = -1;

		assert_true(wait(&st) > 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	fx_open(f);
	assert_int_equal(stor_state_digest(f->s, &d1, &cnt), 0);
	assert_true(d0 == d1);
	assert_int_equal(cnt, 300);
	/* And the next install still works. */
	assert_int_equal(stor_snap_reader_open(f->s, 4096, &r), 0);
	assert_int_equal(stor_snap_writer_open(f->s, &w), 0);
	for (done = 0; !done;) {
		assert_int_equal(stor_snap_reader_next(r, &chunk, &len, &done),
				 0);
		assert_int_equal(stor_snap_writer_chunk(w, chunk, len), 0);
	}
	stor_snap_reader_close(r);
	assert_int_equal(stor_snap_writer_finish(w), 0);
	fx_reopen(f);
	assert_int_equal(stor_state_digest(f->s, &d1, &cnt), 0);
	assert_true(d0 == d1);
	assert_int_equal(cnt, 300);
}

struct wctx {
	int done;
	int status;
};

static void on_written(struct stor_wreq *req, int status)
{
	struct wctx *c = req->data;

	c->done++;
	c->status = status ? status : c->status;
}

static void test_writer_group_commit(void **state)
{
	struct fx *f = *state;
	enum { REQS = 200 };
	struct stor_wreq req[REQS];
	struct stor_entry e[REQS];
	struct stor_writer *w;
	struct wctx c = {0};
	uint64_t batches, entries;
	char data[REQS][16];

	if (f->md)
		skip(); /* the memory variant is single-threaded */
	assert_int_equal(stor_writer_start(f->s, &w), 0);
	for (int i = 0; i < REQS; i++) {
		snprintf(data[i], 16, "e%d", i + 1);
		e[i] = (struct stor_entry){.index = (uint64_t)i + 1, .term = 1,
					   .data = (uint8_t *)data[i],
					   .len = strlen(data[i])};
		req[i] = (struct stor_wreq){.entries = &e[i], .n = 1,
					    .cb = on_written, .data = &c};
		assert_int_equal(stor_writer_submit(w, &req[i]), 0);
	}
	while (c.done < REQS) {
		struct pollfd p = {.fd = stor_writer_fd(w), .events = POLLIN};

		assert_true(poll(&p, 1, 10000) == 1);
		stor_writer_reap(w);
	}
	assert_int_equal(c.status, 0);
	stor_writer_stats(w, &batches, &entries);
	assert_int_equal(entries, REQS);
	assert_true(batches < REQS); /* requests shared fsyncs */
	/* A request out of order fails alone. */
	{
		struct stor_entry bad = {.index = 500, .term = 1};
		struct stor_wreq br = {.entries = &bad, .n = 1,
				       .cb = on_written, .data = &c};

		assert_int_equal(stor_writer_submit(w, &br), 0);
		stor_writer_stop(w);
		assert_int_equal(c.status, ERR_INVAL);
	}
	assert_int_equal(stor_log_last(f->s), REQS);
	check_entry(f->s, REQS, 1);
}

/* The hard state rides with the entries, or alone. */
static void test_writer_hard_state(void **state)
{
	struct fx *f = *state;
	struct stor_hard_state hs1 = {.term = 4, .vote = 2, .commit = 0};
	struct stor_hard_state hs2 = {.term = 4, .vote = 2, .commit = 1};
	struct stor_hard_state got;
	struct stor_entry e = {.index = 1, .term = 4, .data = (uint8_t *)"x",
			       .len = 1};
	struct stor_wreq r1, r2;
	struct stor_writer *w;
	struct wctx c = {0};

	if (f->md)
		skip();
	r1 = (struct stor_wreq){.entries = &e, .n = 1, .hs = &hs1,
				.cb = on_written, .data = &c};
	r2 = (struct stor_wreq){.hs = &hs2, .cb = on_written, .data = &c};
	assert_int_equal(stor_writer_start(f->s, &w), 0);
	assert_int_equal(stor_writer_submit(w, &r1), 0);
	assert_int_equal(stor_writer_submit(w, &r2), 0);
	stor_writer_stop(w);
	assert_int_equal(c.done, 2);
	assert_int_equal(c.status, 0);
	fx_reopen(f);
	assert_int_equal(stor_log_last(f->s), 1);
	assert_int_equal(stor_hs_load(f->s, &got), 0);
	assert_int_equal(got.term, 4);
	assert_int_equal(got.vote, 2);
	assert_int_equal(got.commit, 1);
}

/* A later request replacing a suffix an earlier one wrote, possibly in
 * the same batch: the range delete and the puts apply in order. */
static void test_writer_overlap(void **state)
{
	struct fx *f = *state;
	struct stor_entry a[10], b[3];
	struct stor_wreq ra, rb;
	struct stor_writer *w;
	struct wctx c = {0};
	char da[10][16], db[3][16];

	if (f->md)
		skip();
	for (int i = 0; i < 10; i++) {
		snprintf(da[i], 16, "e%d", i + 1);
		a[i] = (struct stor_entry){.index = (uint64_t)i + 1, .term = 1,
					   .data = (uint8_t *)da[i],
					   .len = strlen(da[i])};
	}
	for (int i = 0; i < 3; i++) {
		snprintf(db[i], 16, "e%d", i + 6);
		b[i] = (struct stor_entry){.index = (uint64_t)i + 6, .term = 2,
					   .data = (uint8_t *)db[i],
					   .len = strlen(db[i])};
	}
	ra = (struct stor_wreq){.entries = a, .n = 10, .cb = on_written,
				.data = &c};
	rb = (struct stor_wreq){.entries = b, .n = 3, .cb = on_written,
				.data = &c};
	assert_int_equal(stor_writer_start(f->s, &w), 0);
	assert_int_equal(stor_writer_submit(w, &ra), 0);
	assert_int_equal(stor_writer_submit(w, &rb), 0);
	stor_writer_stop(w); /* finishes the queue and reaps */
	assert_int_equal(c.done, 2);
	assert_int_equal(c.status, 0);
	assert_int_equal(stor_log_last(f->s), 8);
	check_entry(f->s, 5, 1);
	check_entry(f->s, 6, 2);
	check_entry(f->s, 8, 2);
	fx_reopen(f);
	assert_int_equal(stor_log_last(f->s), 8);
	check_entry(f->s, 8, 2);
}

/* The pipeline's log: every event gets the next number, under one lock. */
enum { PL_REQS = 40, PL_SYNCS = PL_REQS + 1 };

struct plog {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t seq;
	uint64_t written_at[PL_REQS], acked_at[PL_REQS];
	int status[PL_REQS];
	uint64_t sync_begin[PL_SYNCS], sync_end[PL_SYNCS];
	size_t nsync;
	int nwritten, nacked, in_sync, overlaps, out_of_order;
	struct stor_wreq req[PL_REQS];
	struct stor_entry e[PL_REQS];
	char data[PL_REQS][16];
};

static int pl_id(struct plog *pl, struct stor_wreq *req)
{
	return (int)(req - pl->req);
}

static void pl_written(void *ctx, struct stor_wreq *req)
{
	struct plog *pl = ctx;

	pthread_mutex_lock(&pl->mu);
	pl->written_at[pl_id(pl, req)] = ++pl->seq;
	pl->nwritten++;
	pl->overlaps += pl->in_sync;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
}

/* The slow disk: a sync lasts until another batch was written during it
 * (or 2 s pass, or nothing is left to write). */
static void pl_sync_begin(void *ctx)
{
	struct plog *pl = ctx;
	struct timespec until;
	int seen;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&pl->mu);
	/* Each sync covers at least one written request: nsync <= PL_REQS
	 * (cmocka may not assert off the test's thread). */
	ASSERT(pl->nsync < PL_SYNCS);
	pl->sync_begin[pl->nsync] = ++pl->seq;
	pl->in_sync = 1;
	seen = pl->nwritten;
	while (pl->nwritten == seen && pl->nwritten < PL_REQS)
		if (pthread_cond_timedwait(&pl->cv, &pl->mu, &until) != 0)
			break;
	pthread_mutex_unlock(&pl->mu);
}

static void pl_sync_end(void *ctx, int status)
{
	struct plog *pl = ctx;

	pthread_mutex_lock(&pl->mu);
	pl->sync_end[pl->nsync++] = ++pl->seq;
	pl->in_sync = 0;
	pthread_mutex_unlock(&pl->mu);
	(void)status;
}

static void pl_acked(struct stor_wreq *req, int status)
{
	struct plog *pl = req->data;
	int id = pl_id(pl, req);

	pthread_mutex_lock(&pl->mu);
	pl->acked_at[id] = ++pl->seq;
	pl->status[id] = status;
	pl->out_of_order += id != pl->nacked;
	pl->nacked++;
	pthread_mutex_unlock(&pl->mu);
}

/* Was request i acknowledged after a sync that began after it was
 * written and ended before the acknowledgement? */
static int pl_covered(const struct plog *pl, int i)
{
	for (size_t k = 0; k < pl->nsync; k++)
		if (pl->sync_begin[k] > pl->written_at[i] &&
		    pl->sync_end[k] < pl->acked_at[i])
			return 1;
	return 0;
}

/* The pipeline's invariants (writer.c): with a slow sync during which the
 * next request is written, no request is acknowledged by a sync that began
 * before it was written; acknowledgements come in submission order; and
 * all of it is on disk after a reopen. */
static void test_writer_pipeline_acks(void **state)
{
	struct fx *f = *state;
	struct plog *pl;
	struct stor_writer_hooks h = {.written = pl_written,
				      .sync_begin = pl_sync_begin,
				      .sync_end = pl_sync_end};
	struct stor_writer *w;
	uint64_t batches, entries;

	if (f->md)
		skip();
	pl = calloc(1, sizeof(*pl));
	assert_non_null(pl);
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->cv, NULL);
	h.ctx = pl;
	assert_int_equal(stor_writer_start(f->s, &w), 0);
	stor_debug_writer_hooks(w, &h);
	for (int i = 0; i < PL_REQS; i++) {
		snprintf(pl->data[i], 16, "e%d", i + 1);
		pl->e[i] = (struct stor_entry){.index = (uint64_t)i + 1,
					       .term = 1,
					       .data = (uint8_t *)pl->data[i],
					       .len = strlen(pl->data[i])};
		pl->req[i] = (struct stor_wreq){.entries = &pl->e[i], .n = 1,
						.cb = pl_acked, .data = pl};
		assert_int_equal(stor_writer_submit(w, &pl->req[i]), 0);
		/* One request per batch: the next goes in once this one is
		 * written, that is while its (slow) sync runs. */
		pthread_mutex_lock(&pl->mu);
		while (pl->written_at[i] == 0)
			pthread_cond_wait(&pl->cv, &pl->mu);
		pthread_mutex_unlock(&pl->mu);
		stor_writer_reap(w);
	}
	while (pl->nacked < PL_REQS) {
		struct pollfd p = {.fd = stor_writer_fd(w), .events = POLLIN};

		assert_true(poll(&p, 1, 10000) == 1);
		stor_writer_reap(w);
	}
	stor_writer_stats(w, &batches, &entries);
	stor_writer_stop(w);
	assert_int_equal(pl->out_of_order, 0);
	for (int i = 0; i < PL_REQS; i++) {
		assert_int_equal(pl->status[i], 0);
		assert_true(pl_covered(pl, i));
	}
	/* The slow syncs did overlap writes (else this proved nothing). */
	assert_true(pl->overlaps >= PL_REQS / 2);
	assert_int_equal(entries, PL_REQS);
	assert_true(batches == pl->nsync);
	fx_reopen(f);
	assert_int_equal(stor_log_last(f->s), PL_REQS);
	check_entry(f->s, PL_REQS, 1);
	pthread_cond_destroy(&pl->cv);
	pthread_mutex_destroy(&pl->mu);
	free(pl);
}

/* Finds the WAL file of a closed store; returns its size or -1. */
static long wal_path(const char *dir, char *path, size_t n)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	struct stat st;
	long size = -1;

	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".log") != 0)
			continue;
		char p[600];

		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0 && st.st_size > size) {
			size = (long)st.st_size;
			snprintf(path, n, "%s", p);
		}
	}
	if (d != NULL)
		closedir(d);
	return size;
}

/* The WAL scan: damage followed by intact records refuses the open and
 * says why; a torn tail does not. RocksDB only. */
static void test_wal_scan(void **state)
{
	struct fx *f = *state;
	struct stor_options o;
	char path[600], err[600];
	long size;
	FILE *fp;
	int c;

	if (f->md)
		skip();
	/* One append (one WAL record) per entry, so a torn tail costs one. */
	for (uint64_t i = 1; i <= 400; i++)
		append_range(f->s, i, i, 1);
	stor_close(f->s);
	f->s = NULL;
	size = wal_path(f->dir, path, sizeof(path));
	assert_true(size > 4000);
	/* A torn tail first: cut the last bytes. */
	assert_int_equal(truncate(path, size - 3), 0);
	fx_open(f);
	assert_int_equal(stor_log_last(f->s), 399);
	/* The reopen moved the recovered WAL into a table file: refill a
	 * fresh WAL with many records. (Damage to the very last record looks
	 * exactly like a torn tail and is treated as one.) */
	for (uint64_t i = 400; i <= 800; i++)
		append_range(f->s, i, i, 1);
	stor_close(f->s);
	f->s = NULL;
	/* Now a flipped byte in the middle of the WAL. */
	size = wal_path(f->dir, path, sizeof(path));
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, size / 2, SEEK_SET);
	c = fgetc(fp);
	fseek(fp, size / 2, SEEK_SET);
	fputc(c ^ 0x10, fp);
	fclose(fp);
	util_small_options(&o, f->dir);
	o.open_err = err;
	o.open_err_size = sizeof(err);
	assert_int_equal(stor_open(&o, &f->s), ERR_CORRUPT);
	assert_non_null(strstr(err, "write-ahead log"));
	/* Undo the flip: the store opens with every entry. */
	fp = fopen(path, "r+b");
	fseek(fp, size / 2, SEEK_SET);
	fputc(c, fp);
	fclose(fp);
	fx_open(f);
	assert_int_equal(stor_log_last(f->s), 800);
	check_entry(f->s, 600, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_log_append_read),
		BOTH(test_log_truncate_compact),
		BOTH(test_checksum_corrupt),
		BOTH(test_checksum_moved_value),
		BOTH(test_log_hole),
		BOTH(test_hard_state_meta),
		BOTH(test_apply_kv),
		BOTH(test_apply_exactly_once),
		BOTH(test_snapshot_stream_install),
		BOTH(test_snapshot_abort_and_damage),
		BOTH(test_writer_group_commit),
		BOTH(test_writer_overlap),
		BOTH(test_writer_hard_state),
		BOTH(test_writer_pipeline_acks),
		BOTH(test_wal_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
