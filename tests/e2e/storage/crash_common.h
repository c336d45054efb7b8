/* The workload of the crash test, shared by the child that runs it and
 * the parent that checks what survived: entry i is a kv put of key
 * "k<i mod KEYS>" to the decimal text of i, so the state after applying
 * 1..n is known exactly. */
#ifndef CLUSTERD_TESTS_STORAGE_CRASH_COMMON_H
#define CLUSTERD_TESTS_STORAGE_CRASH_COMMON_H

#include <stdio.h>
#include <string.h>

#include "storage/storage.h"

#define CRASH_KEYS 50
#define CRASH_NS "crash"

static inline void crash_key(uint64_t i, char *k, size_t n)
{
	snprintf(k, n, "k%llu", (unsigned long long)(i % CRASH_KEYS));
}

/* The command of entry i; the caller frees *out. */
static inline int crash_cmd(uint64_t i, uint8_t **out, size_t *len)
{
	char k[24], v[64];

	crash_key(i, k, sizeof(k));
	/* Padding makes entries ~100 bytes, like small Raft commands. */
	snprintf(v, sizeof(v), "%llu-padding-padding-padding",
		 (unsigned long long)i);
	return stor_kv_encode(STOR_KV_PUT, CRASH_NS, k, strlen(k), NULL, 0, v,
			      strlen(v), out, len);
}

#endif
