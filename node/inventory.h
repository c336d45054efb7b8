/*
 * inventory.h: inventory sync on the node (issue 14). The game's module
 * (lua/inventory/) talks to it over the IPC channel "inventory"; the
 * replicated inventory domain (storage/invdomain.h) holds each player's
 * lock and stored inventory.
 *
 * Game -> node messages (JSON objects, each with the framework's "id"):
 *   {"op":"acquire","player":P,"known":G}   a player joined: propose
 *       ACQUIRE for this instance; then call inventory_grant (below) and,
 *       when the game asks for it, stream the stored inventory in.
 *       Acknowledged once the download finished (or none was needed), so
 *       a failure midway makes the game ask again and the download
 *       restarts from the first chunk.
 *   {"op":"upload","player":P,"gen":G,"seq":i,"n":N,"len":L,
 *    "release":true|false,"data":S}   chunk i of N of the inventory's JSON
 *       text (L bytes in all). Chunks are kept in memory until all N are
 *       there, then checked (length, JSON object) and proposed as ONE
 *       UPLOAD; every chunk is acknowledged once that entry committed (or
 *       was refused for good), so a node that dies meanwhile loses
 *       nothing: the game sends them all again.
 *   {"op":"release","player":P,"gen":G}     the player left before their
 *       inventory was synced: give the lock back without uploading.
 * Node -> game calls (remote interface "clusterd" through call_json):
 *   inventory_grant {player, gen, stored, len, busy}  -> {download, gone}
 *   inventory_chunk {player, gen, stored, seq, n, data} -> {done, gone}
 * Download chunks are cut so that the RCON command stays under
 * INV_CALL_COST_MAX characters after JSON and Lua escaping, at UTF-8
 * character boundaries, and sent one at a time (the game runs commands
 * in order only when they are not pipelined).
 *
 * Expiry: once a second this node looks at the locks (bounded pages): a
 * lock whose holder instance runs on THIS node is expired with "instance
 * stopped" when the instance has not been running for stopped_ms, or at
 * once when its game process changed since the grant (a crash and
 * restart: the game went back to its last save and lost the player's
 * session; players reconnect anyway); if this node leads,
 * a lock whose holder's node has been dead or gone in gossip for
 * node_dead_ms, or whose instance no longer exists, no longer wants to
 * run, or moved to another node, is expired too. EXPIRE names the
 * generation it saw, so it never ends a newer holder's lock.
 *
 * Everything runs on the loop thread. Bounds: INV_XFER_MAX downloads and
 * INV_UPLOADS_MAX assemblies (INV_UPLOAD_BYTES_MAX bytes) at once; a
 * message beyond them is left unacknowledged, and the game sends it again.
 */
#ifndef CLUSTERD_NODE_INVENTORY_H
#define CLUSTERD_NODE_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/trace.h"
#include "node/core.h"

struct inst_mgr;
struct http_reply;

#define INV_XFER_MAX 64
#define INV_UPLOADS_MAX 64
#define INV_UPLOAD_BYTES_MAX (64u << 20)
/* A chunk of an upload at most (the framework writes it to a file past
 * 4000 bytes), and chunks per upload at most. */
#define INV_UP_CHUNK_MAX (256u << 10)
#define INV_UP_CHUNKS_MAX 4096
/* An RCON command's size after escaping, per download chunk: well under
 * the 10 kB commands stay below (FACTORIO.md's 13,340-character crash). */
#define INV_CALL_COST_MAX 8000
/* Defaults: Clusterio's 60 s after the holder stopped is long for a
 * player waiting; gossip declares a node dead after seconds already. */
#define INV_NODE_DEAD_MS_DEFAULT (30ull * 1000)
#define INV_STOPPED_MS_DEFAULT (5ull * 1000)

struct inv;

struct inv_config {
	uv_loop_t *loop;           /* borrowed */
	const struct tracer *log;  /* borrowed */
	const struct core *core;   /* borrowed until inv_stop's cb */
	struct inst_mgr *im;       /* borrowed until inv_stop's cb */
	uint64_t node_dead_ms;     /* 0: the default */
	uint64_t stopped_ms;       /* 0: the default */
	/* Download chunk budget in escaped characters (0: INV_CALL_COST_MAX;
	 * the benchmark sets 1000 to compare with Clusterio's chunks). */
	size_t chunk_cost;
};

/* Subscribes to the channel and starts the timer. 0 or ERR_NOMEM. */
int inv_new(const struct inv_config *cfg, struct inv **out);
/* Stops the timer, waits for the writes and calls in flight (bounded by
 * their deadlines), frees v and calls done(arg). */
void inv_stop(struct inv *v, void (*done)(void *arg), void *arg);
/* Appends the inventory metrics (Prometheus text) to rep. */
int inv_metrics(struct inv *v, struct http_reply *rep);

#endif
