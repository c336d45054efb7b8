/*
 * items.h: the node side of the item ledger (issue 13). Each node runs
 * one; it connects the games it runs (IPC channel "items", the in-game
 * module lua/subspace) with the replicated ledger (storage/ledger.h):
 *
 *   export   the game's message {"type":"export","seq":S,"items":[...]}
 *            goes first into a durable local outbox (this node's RocksDB,
 *            keys "items/outbox/...", not replicated), is acknowledged to
 *            the game, and is then proposed as EXPORT(instance, S) in
 *            order. While the cluster cannot commit, the outbox grows and
 *            drains once it can: no item is ever voided. An export the
 *            ledger refuses for good (its instance moved to another node,
 *            an unknown item) goes to "items/dead/..." for an operator,
 *            never silently away.
 *   request  {"type":"request","items":[...]} is proposed as REQUEST (the
 *            game asks again every cycle, so a lost one costs a cycle).
 *   grant    the ledger's grant to an instance of this node is pushed into
 *            the game (remote "subspace_grant" with the grant id; commands
 *            well under RCON's safe size); the module inserts it, once per
 *            id, and answers what it could not insert; then CONFIRM.
 *   allocate the leader proposes ALLOCATE every ITEMS_ALLOC_MS while
 *            demands or grants exist, with its wall clock (the ledger's
 *            clock for expiry).
 * Everything runs on the loop thread.
 */
#ifndef CLUSTERD_NODE_ITEMS_H
#define CLUSTERD_NODE_ITEMS_H

#include <stdint.h>

#include <uv.h>

#include "base/trace.h"
#include "node/core.h"
#include "node/http.h"

struct inst_mgr;
struct items_svc;

/* The leader's allocation cycle: Clusterio's subspace storage works in
 * cycles of 62 ticks (about 1 s). */
#define ITEMS_ALLOC_MS 1000
/* Exports the outbox holds at most (each up to 64 lines); beyond it the
 * node leaves the game's message unacknowledged and the game keeps it. */
#define ITEMS_OUTBOX_MAX 100000
/* How long a grant push (one RCON command) may take. */
#define ITEMS_PUSH_TIMEOUT_MS 10000

struct items_config {
	uv_loop_t *loop;          /* borrowed */
	const struct tracer *log; /* borrowed */
	const struct core *core;  /* borrowed until items_stop */
	struct inst_mgr *im;      /* borrowed until items_stop */
	/* Confirm a grant only after the game saved once it was inserted
	 * (the node sends /server-save), so a game crash loses no delivered
	 * item. 0: confirm on the game's answer. */
	int confirm_after_save;
};

/* Subscribes to the IPC channel and starts the timer. 0 or an error. */
int items_new(const struct items_config *cfg, struct items_svc **out);
/* An items entry was applied: push grants and drain soon. */
void items_kick(struct items_svc *s);
/* Node-local counters (outbox depth, pushes, ...) in Prometheus text
 * (part of the node's own figures; arg: s). */
int items_metrics(void *s, struct http_reply *rep);
/* Stops its work (timer closed, new IPC messages left unacknowledged).
 * Call before the instance manager stops. */
void items_stop(struct items_svc *s);
/* Frees s: after the instance manager and the cluster stopped (they
 * complete every call s made, so no callback of s runs afterwards). */
void items_free(struct items_svc *s);

#endif
