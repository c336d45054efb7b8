/*
 * invdomain.h: the "inventory" domain of the state machine (issue 14):
 * per player, the lock that gives one instance exclusive use of the
 * player's synced inventory, and the stored inventory itself.
 *
 * The lock is a lease with a fencing token (Kleppmann's "How to do
 * distributed locking", and Chubby's sequencers): every grant to a new
 * holder increments the player's generation, and every write that
 * depends on the lock names the generation it holds. A server restarted
 * from an older autosave still believes it holds an older generation, so
 * whatever it uploads is refused, and a newer stored inventory is never
 * overwritten by an older one. A lock ends only by its holder's RELEASE,
 * by an EXPIRE the leader proposes (the holder instance stopped, or the
 * holder's node was dead in gossip past a threshold: the node decides
 * from its own clock and gossip; this domain never reads a clock), or by
 * an ADMIN_RELEASE that records the admin's name.
 *
 * Records (domain key -> value, values msgpack [version, record]):
 *   "l" | player   the lock: [instance, node, gen, state, since, reason,
 *                  by]: holder instance and its node (0 when free), the
 *                  generation, STOR_INVD_FREE or _HELD, the log index of
 *                  the last change, why it was last freed
 *                  (STOR_INVD_WHY_*) and by whom (an admin's name, or "").
 *   "r" | player   the stored inventory: [gen, instance, index, raw_len,
 *                  codec, data]: the generation it was written under, the
 *                  instance that wrote it (0: an import), the log index,
 *                  the JSON's length, STOR_INVD_RAW or _ZLIB, and the bytes.
 *   "c"            the number of players with a lock record (u64 BE), to
 *                  bound the domain at STOR_INVD_PLAYERS_MAX.
 *   "h" | player   present while the player's lock is held (an index:
 *                  expiry looks at held locks only).
 * Every record of a player is written by one entry, after every check:
 * a refused command changes nothing (storage.h: results do not undo).
 *
 * Commands: body [op, player, ...]:
 *   ACQUIRE [0, player, instance, node]  free -> held by instance with
 *           gen + 1; already held by this instance: unchanged (a retried
 *           proposal); held by another: ERR_BUSY.
 *   RELEASE [1, player, instance, gen]   held by instance at gen -> free;
 *           already freed after this holder's own release: 0 (retry);
 *           otherwise ERR_CONFLICT.
 *   UPLOAD  [2, player, instance, gen, release, raw_len, codec, data]
 *           only from the holder at the current gen (ERR_CONFLICT
 *           otherwise); release 1 also frees the lock in the same entry.
 *           The same upload again (the record holds these very bytes,
 *           written by instance at gen): 0, nothing written (a retried
 *           proposal); other bytes under that generation: ERR_CONFLICT.
 *   EXPIRE  [3, player, gen, reason]     held at gen -> free (ERR_CONFLICT
 *           if not held or held at another gen: a newer holder is safe
 *           from a late expiry).
 *   ADMIN_RELEASE [4, player, admin]     held -> free, recording admin;
 *           ERR_CONFLICT if free.
 *   IMPORT  [5, player, admin, raw_len, codec, data]  free only (ERR_BUSY
 *           if held): gen + 1 and the record written under it, so every
 *           game sees a generation it does not know and downloads.
 * Players: names as instances' (stor_inst_name_ok), at most
 * STOR_INVD_PLAYER_MAX bytes.
 */
#ifndef CLUSTERD_STORAGE_INVDOMAIN_H
#define CLUSTERD_STORAGE_INVDOMAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

struct stor;

#define STOR_DOMAIN_INVENTORY 8

#define STOR_INVD_PLAYER_MAX 64
#define STOR_INVD_ADMIN_MAX 64
/* An inventory's JSON at most: 50 blueprint books of 100 blueprints of a
 * few kB each stay below it; the record is compressed, and a Raft entry
 * may carry 16 MiB (storage.h). */
#define STOR_INVD_RAW_MAX (4u << 20)
/* Stored bytes at most (compressed, or raw when that is not smaller): a
 * write forwarded to the leader travels in one RPC message of at most
 * 1 MiB + 4 kB (node/rpc.h), envelope included. */
#define STOR_INVD_DATA_MAX ((1u << 20) - 8192)
/* Below this many bytes the JSON is stored as is (compression of a
 * kilobyte gains little and costs a call on every read). */
#define STOR_INVD_COMPRESS_MIN 1024
/* Players the cluster keeps inventories for (Clusterio's largest known
 * cluster has about 400). */
#define STOR_INVD_PLAYERS_MAX 100000

enum {
	STOR_INVD_ACQUIRE = 0,
	STOR_INVD_RELEASE = 1,
	STOR_INVD_UPLOAD = 2,
	STOR_INVD_EXPIRE = 3,
	STOR_INVD_ADMIN_RELEASE = 4,
	STOR_INVD_IMPORT = 5,
};

enum {
	STOR_INVD_FREE = 0,
	STOR_INVD_HELD = 1,
};

/* Why a lock was last freed (also EXPIRE's reason). */
enum {
	STOR_INVD_WHY_NONE = 0,
	STOR_INVD_WHY_RELEASED = 1,      /* by its holder */
	STOR_INVD_WHY_INSTANCE_STOPPED = 2,
	STOR_INVD_WHY_NODE_DEAD = 3,
	STOR_INVD_WHY_ADMIN = 4,
	STOR_INVD_WHY_MAX = 4,
};

enum {
	STOR_INVD_RAW = 0,
	STOR_INVD_ZLIB = 1,
};

struct stor_invd_lock {
	char player[STOR_INVD_PLAYER_MAX + 1];
	uint64_t instance, node, gen;
	uint8_t state;
	uint64_t since;
	uint8_t why;
	char by[STOR_INVD_ADMIN_MAX + 1];
};

/* A stored inventory's header; the data is read with stor_invd_data. */
struct stor_invd_meta {
	uint64_t gen, instance, index;
	uint32_t raw_len, stored_len;
	uint8_t codec;
};

/* A command. json/json_len: UPLOAD and IMPORT only, borrowed for the
 * call (encode compresses it past STOR_INVD_COMPRESS_MIN). */
struct stor_invd_cmd {
	int op;
	char player[STOR_INVD_PLAYER_MAX + 1];
	uint64_t instance, node, gen;
	uint8_t release; /* UPLOAD: free the lock too */
	uint8_t why;     /* EXPIRE */
	char admin[STOR_INVD_ADMIN_MAX + 1]; /* ADMIN_RELEASE, IMPORT */
	const char *json;
	size_t json_len;
};

/* Registers the domain (stor_open does so already). */
int stor_invd_register(struct stor *s);
/* Encodes a command with its envelope; the caller frees *out. ERR_INVAL
 * for a field out of bounds, ERR_TOOBIG for JSON over STOR_INVD_RAW_MAX
 * or bytes to store (after compression) over STOR_INVD_DATA_MAX.
 * The JSON itself is not parsed here (the node checks it). */
int stor_invd_encode(const struct stor_invd_cmd *c, uint8_t **out,
		     size_t *len);
/* Decodes and checks a body without applying it (the fuzzer). */
int stor_invd_check(const msgpack_object *body);
/* The name of an op or a reason, for logs ("upload", "node dead"). */
const char *stor_invd_op_name(int op);
const char *stor_invd_why_name(int why);

/* Reads (outside apply, the owner thread). ERR_NOTFOUND when absent. */
int stor_invd_lock_get(struct stor *s, const char *player,
		       struct stor_invd_lock *out);
int stor_invd_meta_get(struct stor *s, const char *player,
		       struct stor_invd_meta *out);
/* The stored JSON, decompressed: on success the caller frees *json
 * (NUL-terminated, *len without the NUL) and *meta is filled (may be
 * NULL). ERR_CORRUPT if it does not decompress to its length. */
int stor_invd_data(struct stor *s, const char *player,
		   struct stor_invd_meta *meta, char **json, size_t *len);
/* Up to max locks in player order starting after `after` ("" or NULL:
 * from the first); *n how many were written. Every player with a stored
 * inventory has a lock record. */
int stor_invd_list(struct stor *s, const char *after,
		   struct stor_invd_lock *out, size_t max, size_t *n);
/* As stor_invd_list, the held locks only (through the "h" index). */
int stor_invd_list_held(struct stor *s, const char *after,
			struct stor_invd_lock *out, size_t max, size_t *n);
/* Players known (the "c" record). */
int stor_invd_counts(struct stor *s, uint64_t *players);

#endif
