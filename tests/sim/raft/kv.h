/*
 * kv.h: the replicated state machine the simulator's clients drive.
 *
 * A tiny key-value store (SIM_KV_KEYS registers holding u64, 0 = never
 * written) with put, get and compare-and-set, plus a session table: every
 * command carries (client id, request seq), each client has at most one
 * request outstanding, and the store remembers each client's last seq and
 * its result. A retried command (the client timed out and asked another
 * node, so the log may hold it twice) returns the remembered result instead
 * of applying twice: exactly-once semantics as in Raft's dissertation §6.3.
 * The session table is part of the snapshot, or dedup would break after a
 * follower installs one.
 *
 * Commands and snapshots are msgpack with a version first (docs/decisions.md).
 * Decoding returns ERR_MALFORMED / ERR_VERSION, never asserts.
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_KV_H
#define CLUSTERD_TESTS_SIM_RAFT_KV_H

#include <stddef.h>
#include <stdint.h>

#define SIM_KV_KEYS    8
#define SIM_KV_CLIENTS 16

enum kv_op { KV_PUT = 1, KV_GET = 2, KV_CAS = 3 };

struct kv_cmd {
	uint32_t client;
	uint64_t seq; /* starts at 1 */
	uint8_t op;
	uint32_t key;
	uint64_t a, b; /* put: a = value; cas: a = expected, b = new */
};

struct kv_result {
	uint64_t seq; /* the command's seq */
	uint64_t out; /* get: value; cas: 1 swapped, 0 not; put: 0 */
	int stale;    /* an older seq than the session's: ignored */
};

struct kv_session {
	uint64_t seq;
	uint64_t out;
};

struct kv {
	uint64_t val[SIM_KV_KEYS];
	struct kv_session sess[SIM_KV_CLIENTS];
	uint64_t applied; /* commands applied, not counting duplicates */
	uint64_t dups;
};

void kv_init(struct kv *kv);

/* Applies cmd; fills *res. A duplicate returns the stored result. */
void kv_apply(struct kv *kv, const struct kv_cmd *cmd, struct kv_result *res);

/* Encodes into buf (size cap); returns the length, or ERR_TOOBIG. */
int kv_cmd_encode(const struct kv_cmd *cmd, uint8_t *buf, size_t cap);
int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *cmd);

/* Snapshot: *buf malloc'd, caller frees. ERR_NOMEM. */
int kv_snapshot(const struct kv *kv, uint8_t **buf, size_t *len);
int kv_restore(struct kv *kv, const uint8_t *buf, size_t len);

/* A digest of the whole state, to compare replicas. */
uint64_t kv_digest(const struct kv *kv);

#endif
