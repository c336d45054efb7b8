/* Helpers shared by the storage tests: scratch directories and stores
 * opened with small RocksDB memory settings. */
#ifndef CLUSTERD_TESTS_STORAGE_UTIL_H
#define CLUSTERD_TESTS_STORAGE_UTIL_H

#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/err.h"
#include "storage/storage.h"

static int util_rm_one(const char *p, const struct stat *sb, int flag,
		       struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void util_rm_rf(const char *dir)
{
	nftw(dir, util_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Creates /tmp/<prefix>XXXXXX into buf (at least 64 bytes). */
static inline char *util_tmpdir(char *buf, const char *prefix)
{
	snprintf(buf, 64, "/tmp/%sXXXXXX", prefix);
	return mkdtemp(buf);
}

/* Small memory settings for tests (docs/decisions.md). */
static inline void util_small_options(struct stor_options *o, const char *dir)
{
	stor_options_default(o);
	o->dir = dir;
	o->write_buffer_bytes = 1u << 20;
	o->db_write_buffer_bytes = 4u << 20;
	o->block_cache_bytes = 2u << 20;
	o->max_open_files = 64;
}

/* A kv put command as a log entry (data owned by the caller: free). */
static inline struct stor_entry util_put_entry(uint64_t index, uint64_t term,
					       const char *ns, const char *k,
					       const char *v)
{
	struct stor_entry e = {.index = index, .term = term,
			       .type = STOR_ENTRY_COMMAND};
	int rc = stor_kv_encode(STOR_KV_PUT, ns, k, strlen(k), NULL, 0, v,
				strlen(v), &e.data, &e.len);

	if (rc != 0)
		abort();
	return e;
}

#endif
