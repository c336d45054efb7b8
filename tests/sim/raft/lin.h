/*
 * lin.h: a linearizability checker for histories of a key-value store.
 *
 * The search is Wing and Gong's (1993) with Lowe's memoisation (2017), as
 * Porcupine implements it: the calls and returns of a history form a list
 * sorted by time; the checker repeatedly picks a call whose operation can
 * be applied to the current model state (linearizes it: removes its call
 * and return from the list), and backtracks when it meets the return of an
 * operation it has not linearized. A cache of (set of linearized
 * operations, model state) pairs already explored cuts the search from
 * factorial to, in practice, near linear.
 *
 * Keys are independent (Herlihy and Wing's locality, which Porcupine calls
 * P-compositionality): each key's sub-history is checked on its own, with
 * a single register as the model (0 = never written; written values must
 * be non-zero).
 *
 * An operation whose outcome the client never learned (a timeout) may or
 * may not have taken effect, at any time after its call: it has no return
 * event, so it can be linearized anywhere after its call or not at all.
 * A get with unknown outcome constrains nothing and is left out. The
 * search succeeds once every operation with a known outcome is linearized.
 *
 * The search is bounded: past `states_max` cached states for one key the
 * verdict is LIN_UNKNOWN rather than a hang.
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_LIN_H
#define CLUSTERD_TESTS_SIM_RAFT_LIN_H

#include <stddef.h>
#include <stdint.h>

enum lin_kind {
	LIN_PUT = 1, /* arg = value written */
	LIN_GET = 2, /* out = value read */
	LIN_CAS = 3, /* arg = expected, arg2 = new; out = 1 swapped, 0 not */
};

struct lin_op {
	uint32_t key;
	uint8_t kind;
	uint8_t known; /* 0: outcome unknown, ret_us ignored */
	uint64_t arg, arg2, out;
	uint64_t call_us, ret_us;
};

enum lin_verdict {
	LIN_OK = 0,
	LIN_VIOLATION = 1,
	LIN_UNKNOWN = 2, /* the search hit states_max */
};

struct lin_report {
	enum lin_verdict verdict;
	uint32_t bad_key;   /* first key with a violation (or unknown) */
	uint64_t states;    /* cache entries made, all keys */
	size_t ops_checked; /* ops that took part in the search */
	size_t keys;
};

/* Checks ops[0..n) (borrowed). Returns 0 with *rep filled, or ERR_NOMEM. */
int lin_check(const struct lin_op *ops, size_t n, uint64_t states_max,
	      struct lin_report *rep);

#endif
