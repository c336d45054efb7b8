/*
 * session.h: client sessions in the state machine, so that a command
 * retried after a failover is applied at most once (Raft thesis 6.3,
 * "Implementing linearizable semantics").
 *
 * A session command wraps an ordinary command envelope (a kvrev or cluster
 * domain command) with the client's id, a sequence number, the proposer's
 * wall time and two window parameters. Applying it:
 *   - if the client's record holds a result for seq, the result is answered
 *     from the record and the inner command is NOT applied again;
 *   - if seq is at or below the record's floor (older than what the record
 *     remembers), the answer is ERR_EXPIRED: not applied now, and the first
 *     attempt's outcome is no longer known;
 *   - otherwise the inner command is applied (dispatched to its domain in
 *     the same batch) and (seq -> result code, entry index) is recorded.
 * The record keeps at most `window` results (the proposer's choice, at most
 * STOR_SESS_WINDOW_MAX): past it the lowest seq is evicted and becomes the
 * floor. A proposer that knows which answers it holds passes `ack`, the
 * lowest seq it still waits for: results below it are dropped at once
 * (the thesis' "discard responses the client has acknowledged"), so the
 * record of a node's own session holds about as many results as the node
 * has writes in flight.
 *
 * Sessions are created by their first command and expire through the log:
 * the leader proposes "expire sessions idle for ttl_ms before now_ms" with
 * its wall time. Apply never reads a clock: a session's last activity is
 * the largest proposer time among its commands. Because the records are
 * replicated state, they travel in snapshots like every domain's.
 *
 * The dedup answer carries the ORIGINAL entry's result; its index (the KV
 * revision of a deduplicated put) is read back from the record with
 * stor_sess_lookup on the node that applied the entry.
 *
 * Domain key: the client id (1..STOR_SESS_CLIENT_MAX bytes). Domain value:
 * version (u8, 1) | last_ms (u64 BE) | floor (u64 BE) | n (u16 BE) |
 * n x { seq (u64 BE), index (u64 BE), -result (u32 LE) }, seq ascending.
 *
 * Command bodies:
 *   apply  [0, client (str), seq (u64 > 0), wall_ms, ack, window, inner (bin)]
 *   expire [1, now_ms, ttl_ms]
 */
#ifndef CLUSTERD_STORAGE_SESSION_H
#define CLUSTERD_STORAGE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

struct stor;

#define STOR_DOMAIN_SESSION 5

/* A client id: an HTTP client's (64 bytes of [A-Za-z0-9_.-]) or a node's
 * own ("node:<id hex>:<nonce hex>", 39 bytes). */
#define STOR_SESS_CLIENT_MAX 80
/* Results one session may remember: 64 for an HTTP client (issue 11);
 * a node's own session passes more, since its ack keeps the record short
 * and the window only bounds a burst of reordered writes. */
#define STOR_SESS_WINDOW_CLIENT 64
#define STOR_SESS_WINDOW_MAX	1024
/* Sessions one expire command removes at most (the leader proposes again
 * at its next period; the bound keeps one apply batch small). */
#define STOR_SESS_EXPIRE_MAX 4096

enum {
	STOR_SESS_APPLY = 0,
	STOR_SESS_EXPIRE = 1,
};

/* Registers the domain (stor_open does so already). */
int stor_sess_register(struct stor *s);

/* Encodes a session command around inner[0..inner_len) (a full command
 * envelope, copied). On success the caller frees *out. ERR_INVAL past a
 * bound (client length 0 or too long, seq 0, window 0 or too big, a
 * nested session command). */
int stor_sess_encode(const char *client, size_t client_len, uint64_t seq,
		     uint64_t wall_ms, uint64_t ack, uint32_t window,
		     const uint8_t *inner, size_t inner_len, uint8_t **out,
		     size_t *len);
/* Encodes "expire sessions idle since before now_ms - ttl_ms". */
int stor_sess_expire_encode(uint64_t now_ms, uint64_t ttl_ms, uint8_t **out,
			    size_t *len);
/* Decodes and checks a body without applying it (the fuzzer). */
int stor_sess_check(const msgpack_object *body);

/* What the record says about (client, seq), read outside apply (the owner
 * thread): the entry index that applied it and its result. ERR_NOTFOUND
 * if the session or the seq is not remembered. */
int stor_sess_lookup(struct stor *s, const char *client, size_t client_len,
		     uint64_t seq, uint64_t *index, int *result);
/* Whether a session exists, and its last activity (proposer ms). */
int stor_sess_last(struct stor *s, const char *client, size_t client_len,
		   uint64_t *last_ms);

/* Counters of this node's applies (not replicated): retries answered from
 * a record, and attempts refused as too old. */
struct stor_sess_stats {
	uint64_t deduplicated;
	uint64_t expired;
	uint64_t sessions_expired;
};
void stor_sess_stats(struct stor *s, struct stor_sess_stats *out);

#endif
