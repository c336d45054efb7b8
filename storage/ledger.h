/*
 * ledger.h: the "items" domain of the state machine: the item ledger of
 * cross-server item transfer (issue 13). Export chests hand items to the
 * cluster, import chests ask for them; the ledger is exact.
 *
 * Per item (name, quality) one stock record keeps four totals, and every
 * command that changes one keeps the invariant
 *     exported = stock + delivered + in_flight
 * (items enter only by EXPORT, leave only by CONFIRM; a grant moves them
 * from stock to in flight, EXPIRE moves them back).
 *
 * Records (domain key -> msgpack [version, ...]):
 *   "c"                            config [mode, timeout_ms, now_ms,
 *                                  items]; now_ms is the
 *                                  ledger's own clock: the largest
 *                                  proposer wall time any command carried.
 *   "r"                            refusal counters, STOR_ITEMS_REFUSED_N
 *   "s" | name NUL quality         stock [stock, exported, delivered,
 *                                  in_flight, history_count]
 *   "h" | name NUL quality NUL | slot (u16 BE)   one history event [index,
 *                                  kind, instance, count] in a ring of
 *                                  STOR_ITEMS_HISTORY slots
 *   "e" | instance (u64 BE)        export dedup: [high_water, window]
 *                                  (bit i of window: seq high_water-1-i
 *                                  applied)
 *   "d" | instance (u64 BE)        the instance's demand: [index, lines]
 *   "g" | grant (u64 BE)           a grant: [instance, created_ms, lines]
 *   "q" | instance (u64 BE)        the instance's grant in flight
 *   "f" | instance | name NUL quality   fractional carry (micro-items)
 *   "x" | instance (u64 BE)        flows [exported, delivered, returned,
 *                                  refused]
 *
 * Commands (body [op, ...]); lines = [[name, quality, count], ...]:
 *   EXPORT   [0, instance, node, seq, wall_ms, lines]  adds to stock once
 *            per (instance, seq): a repeat is ERR_EXISTS and changes
 *            nothing; a seq more than STOR_ITEMS_SEQ_AHEAD beyond the high
 *            water mark is forged (ERR_CONFLICT); one below the window is
 *            ERR_EXPIRED (it may or may not have been applied: the node
 *            drains in order, so it was).
 *   REQUEST  [1, instance, node, wall_ms, lines]  replaces the instance's
 *            demand; grants come from the next ALLOCATE.
 *   ALLOCATE [2, wall_ms]  the leader's cycle (about 1 s): first EXPIRE
 *            every grant created at least timeout_ms before now_ms, then
 *            divide stock among the demands of instances with no grant in
 *            flight, one grant per instance (its id: the entry's index
 *            times 2^16 plus a serial). Demands are consumed.
 *   CONFIRM  [3, grant, node, returned_lines]  the game delivered the
 *            grant but for returned_lines (which go back to stock).
 *            ERR_NOTFOUND if the grant is gone (confirmed or expired).
 *   CONFIG   [4, mode, timeout_ms]
 * EXPORT, REQUEST and CONFIRM name the proposing node: it must be the
 * node the instance is assigned to (instances domain), else ERR_PERM.
 *
 * Division under shortage (mode):
 *   PROPORTIONAL: each instance gets stock * demand / total demand; the
 *     fraction it was not given is carried to its next share of the item
 *     (in micro-items), so over time the shares are exact. Ties and the
 *     rounding surplus go in instance id order. Deterministic.
 *   SIMPLE: first come (by the index of the REQUEST), first served.
 *
 * A refused command changes no ledger record; it only counts the refusal
 * (the "r" record and the instance's flow record). The domain never reads
 * a clock: time comes in commands as the proposer's wall time.
 */
#ifndef CLUSTERD_STORAGE_LEDGER_H
#define CLUSTERD_STORAGE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

struct stor;

#define STOR_DOMAIN_ITEMS 7

/* Factorio's prototype names are lowercase words with '-' and '_'; the
 * longest in the base game and the big mods are about 40 characters. */
#define STOR_ITEM_NAME_MAX 64
#define STOR_ITEM_QUALITY_MAX 32
/* Lines in one command: an export of one cycle of many chests fits
 * (Clusterio's exports carry one entry per item type). */
#define STOR_ITEMS_LINES_MAX 64
/* A bound on one line's count: a wagon holds 40 stacks of 200 and a
 * warehouse mod's chest less than 2^20 items; 2^30 is "huge". */
#define STOR_ITEMS_COUNT_MAX (1ull << 30)
/* How far an export's seq may run ahead of the high water mark: the
 * module numbers its exports 1, 2, 3, ... and a node drains its outbox
 * in order, so a gap larger than this is a forgery. */
#define STOR_ITEMS_SEQ_AHEAD 4096
/* The dedup window below the high water mark (bits of a u64). */
#define STOR_ITEMS_WINDOW 64
/* Demands ALLOCATE divides at most (instances x lines it reads). */
#define STOR_ITEMS_DEMANDS_MAX 1024
/* Grants in flight at most; ALLOCATE makes no more beyond it. */
#define STOR_ITEMS_GRANTS_MAX 1024
/* History events kept per item. */
#define STOR_ITEMS_HISTORY 64
/* A grant not confirmed within this returns to stock; long against an
 * RCON command (10 s), short against a player's patience. */
#define STOR_ITEMS_TIMEOUT_MS_DEFAULT 60000ull
#define STOR_ITEMS_TIMEOUT_MS_MIN 1000ull
#define STOR_ITEMS_TIMEOUT_MS_MAX (3600ull * 1000)
/* Distinct items the ledger holds at most (bounds list reads). */
#define STOR_ITEMS_MAX 4096

enum {
	STOR_ITEMS_EXPORT = 0,
	STOR_ITEMS_REQUEST = 1,
	STOR_ITEMS_ALLOCATE = 2,
	STOR_ITEMS_CONFIRM = 3,
	STOR_ITEMS_CONFIG = 4,
};

enum {
	STOR_ITEMS_PROPORTIONAL = 0,
	STOR_ITEMS_SIMPLE = 1,
};

/* History event kinds. */
enum {
	STOR_ITEMS_EV_EXPORT = 0,
	STOR_ITEMS_EV_GRANT = 1,
	STOR_ITEMS_EV_DELIVER = 2,
	STOR_ITEMS_EV_RETURN = 3, /* returned at CONFIRM */
	STOR_ITEMS_EV_EXPIRE = 4,
};

/* Refusal reasons (indexes into the "r" counters). */
enum {
	STOR_ITEMS_REF_MALFORMED = 0, /* bad shape, name, quality or count */
	STOR_ITEMS_REF_INSTANCE = 1,  /* unknown instance */
	STOR_ITEMS_REF_NODE = 2,      /* proposed by a node not its own */
	STOR_ITEMS_REF_SEQ = 3,       /* forged (far-future) sequence */
	STOR_ITEMS_REF_DUPLICATE = 4, /* an export applied before */
	STOR_ITEMS_REF_GRANT = 5,     /* confirm of an unknown grant, or
					 returning more than granted */
	STOR_ITEMS_REFUSED_N = 6,
};

struct stor_item_line {
	char name[STOR_ITEM_NAME_MAX + 1];
	char quality[STOR_ITEM_QUALITY_MAX + 1];
	uint64_t count; /* 1..STOR_ITEMS_COUNT_MAX */
};

struct stor_items_cmd {
	int op;
	uint64_t instance, node, seq, wall_ms, grant;
	uint8_t mode;        /* CONFIG */
	uint64_t timeout_ms; /* CONFIG */
	size_t n;
	struct stor_item_line lines[STOR_ITEMS_LINES_MAX];
};

struct stor_item_stock {
	char name[STOR_ITEM_NAME_MAX + 1];
	char quality[STOR_ITEM_QUALITY_MAX + 1];
	uint64_t stock, exported, delivered, in_flight;
	uint64_t events; /* history events ever recorded */
};

struct stor_items_grant {
	uint64_t id, instance, created_ms;
	size_t n;
	struct stor_item_line lines[STOR_ITEMS_LINES_MAX];
};

struct stor_items_event {
	uint64_t index; /* the log entry */
	uint8_t kind;   /* STOR_ITEMS_EV_* */
	uint64_t instance, count;
};

struct stor_items_flow {
	uint64_t instance;
	uint64_t exported, delivered, returned, refused;
};

struct stor_items_config {
	uint8_t mode;
	uint64_t timeout_ms, now_ms;
};

/* 1 if s is a valid item name ([a-z0-9_-], 1..STOR_ITEM_NAME_MAX) or
 * quality ([a-z0-9_-], 1..STOR_ITEM_QUALITY_MAX). */
int stor_item_name_ok(const char *s);
int stor_item_quality_ok(const char *s);

/* Registers the domain (stor_open does so already). */
int stor_items_register(struct stor *s);
/* Encodes a command with its envelope; the caller frees *out. ERR_INVAL
 * for an op out of range or too many lines. Fields are NOT validated
 * here (the domain refuses and counts bad ones; tests need to send
 * them). */
int stor_items_encode(const struct stor_items_cmd *c, uint8_t **out,
		      size_t *len);
/* Decodes and checks a body without applying it (the fuzzer). */
int stor_items_check(const msgpack_object *body);

/* Reads (outside apply, the owner thread). */
int stor_items_stock_get(struct stor *s, const char *name,
			 const char *quality, struct stor_item_stock *out);
/* Up to max stocks in (name, quality) order; *n how many. */
int stor_items_stock_list(struct stor *s, struct stor_item_stock *out,
			  size_t max, size_t *n);
/* An item's recorded events, oldest first; *n how many (<= max). */
int stor_items_history(struct stor *s, const char *name,
		       const char *quality, struct stor_items_event *out,
		       size_t max, size_t *n);
/* Grants in flight in id order. */
int stor_items_grant_list(struct stor *s, struct stor_items_grant *out,
			  size_t max, size_t *n);
int stor_items_flow_list(struct stor *s, struct stor_items_flow *out,
			 size_t max, size_t *n);
int stor_items_config_get(struct stor *s, struct stor_items_config *out);
int stor_items_refused(struct stor *s, uint64_t out[STOR_ITEMS_REFUSED_N]);
/* The grant in flight to an instance; ERR_NOTFOUND if none. */
int stor_items_grant_of(struct stor *s, uint64_t instance,
			struct stor_items_grant *out);
/* How many demands and grants the ledger holds (each counted up to a
 * bound): the leader proposes ALLOCATE only when either is non-zero. */
int stor_items_pending(struct stor *s, uint64_t *demands, uint64_t *grants);
/* The export high water mark of an instance (0: none yet). */
int stor_items_high_water(struct stor *s, uint64_t instance,
			  uint64_t *out);

#endif
