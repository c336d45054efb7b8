/*
 * kvrev.h: the revisioned key/value domain of the state machine, the one
 * behind the public KV API (issue 10: PUT/GET/DELETE /api/v1/kv/NS/KEY).
 *
 * Each value is stored with its revision: the log index of the entry that
 * last wrote it. The index is unique and grows with every write, and every
 * node applies the same entry at the same index, so revisions agree across
 * the cluster without a counter of their own (etcd's mod_revision, minus
 * the global counter). A write may carry a compare-and-set condition on
 * the revision: R means "only if the key's revision is R", 0 "only if the
 * key is absent", STOR_KVR_ANY no condition. A failed condition is the
 * result ERR_CONFLICT and writes nothing; a delete of an absent key is
 * ERR_NOTFOUND.
 *
 * Domain key: ns length (u8) | ns | key, as in the plain kv domain, so
 * namespaces never overlap and a namespace's keys are contiguous in byte
 * order (list by prefix is one bounded range scan). Domain value: revision
 * (u64 big-endian) | value bytes.
 *
 * Command body: [op, ns, key, cas, value] for put, [op, ns, key, cas] for
 * delete; cas is a u64 (STOR_KVR_ANY encoded as nil).
 *
 * The older plain kv domain (storage.h, STOR_DOMAIN_KV) stays for the
 * storage tests, crash tests and benchmarks that drive it.
 */
#ifndef CLUSTERD_STORAGE_KVREV_H
#define CLUSTERD_STORAGE_KVREV_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

struct stor;

#define STOR_DOMAIN_KVREV 2

/* Public API bounds (issue 10): namespace [A-Za-z0-9_.-]{1,64}, key
 * 1..512 bytes (any bytes), value up to 1 MiB. */
#define STOR_KVR_NS_MAX 64
#define STOR_KVR_KEY_MAX 512
#define STOR_KVR_VALUE_MAX (1u << 20)
/* Keys one list call may return. */
#define STOR_KVR_LIST_MAX 1000

#define STOR_KVR_ANY UINT64_MAX

enum {
	STOR_KVR_PUT = 0,
	STOR_KVR_DEL = 1,
};

/* 1 if ns[0..len) is a valid namespace. */
int stor_kvr_ns_ok(const char *ns, size_t len);

/* Registers the domain (stor_open does so already). */
int stor_kvr_register(struct stor *s);

/* Encodes a command (envelope included); val unused for a delete. On
 * success the caller frees *out. ERR_INVAL past a bound. */
int stor_kvr_encode(int op, const char *ns, size_t ns_len, const void *key,
		    size_t klen, uint64_t cas, const void *val, size_t vlen,
		    uint8_t **out, size_t *len);
/* Decodes and checks a body without applying it (the fuzzer). */
int stor_kvr_check(const msgpack_object *body);

/* Reads a value and its revision (outside apply, the owner thread).
 * ERR_NOTFOUND if absent; on success the caller frees *v (may be NULL
 * when vlen is 0). v may be NULL to read only the revision. */
int stor_kvr_get(struct stor *s, const char *ns, size_t ns_len,
		 const void *key, size_t klen, uint8_t **v, size_t *vlen,
		 uint64_t *rev);

struct stor_kvr_item {
	uint8_t *key; /* malloc'd */
	size_t klen;
	uint64_t rev;
	size_t vlen;
};

/* Lists keys of ns starting with prefix, in byte order, strictly after
 * `after` (NULL: from the first), at most max (<= STOR_KVR_LIST_MAX).
 * *more is 1 when keys remain. The caller frees with
 * stor_kvr_items_free(*out, *n). */
int stor_kvr_list(struct stor *s, const char *ns, size_t ns_len,
		  const void *prefix, size_t plen, const void *after,
		  size_t alen, size_t max, struct stor_kvr_item **out,
		  size_t *n, int *more);
void stor_kvr_items_free(struct stor_kvr_item *v, size_t n);

#endif
