/* A fake node core for the API's unit tests: a real in-memory store with
 * the state machine's domains behind node/core.h's ops, commands applied
 * at once at consecutive indexes, and knobs for every failure the API must
 * map (a status returned by the call, a status delivered to the callback,
 * callbacks run inside the call or only at fake_flush). */
#ifndef CLUSTERD_TESTS_NODE_API_FAKE_CORE_H
#define CLUSTERD_TESTS_NODE_API_FAKE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "node/core.h"

#define FAKE_PENDING_MAX 64

struct fake_pending {
	int kind; /* 1 write, 2 barrier, 3 done */
	core_write_cb wcb;
	core_status_cb scb;
	core_done_cb dcb;
	void *arg;
	struct core_write_result res;
	int status;
	const char *msg;
};

struct fake_core {
	struct stor_memdisk *md;
	struct stor *s;
	uint64_t next_index;
	int joined;
	int lagging; /* 1: caught_up answers 0 */
	uint64_t now_ms, wall_ms;
	/* Knobs. */
	int call_status; /* returned by the next async call (then reset) */
	int cb_status;   /* delivered to callbacks (sticky) */
	const char *cb_msg;
	int deferred;    /* 1: callbacks wait for fake_flush */
	/* What the API asked. */
	unsigned writes, barriers, stale_barriers;
	unsigned deduplicated; /* writes answered from a session record */
	char join_peer[CORE_ADDR_MAX + 1];
	char join_token[CORE_TOKEN_STR_LEN + 1];
	char transfer_target[CORE_NAME_MAX + 1];
	unsigned leaves;
	/* Views. */
	struct core_member members[4];
	size_t nmembers;
	struct core_raft_status raft;
	struct fake_pending pending[FAKE_PENDING_MAX];
	size_t npending;
};

extern const struct core_ops fake_core_ops;

void fake_init(struct fake_core *f);
void fake_free(struct fake_core *f);
/* Runs the queued callbacks, in order. */
void fake_flush(struct fake_core *f);
/* Adds a token record straight to the state; str gets "ID.SECRET". */
void fake_add_token(struct fake_core *f, int kind, int role,
		    uint64_t expires_ms, char str[CORE_TOKEN_STR_LEN + 1]);

/* Adds an API token with roles (issue 13) and optionally a user. */
void fake_add_token_roles(struct fake_core *f, const char *const *roles,
			  size_t nroles, const char *user,
			  char str[CORE_TOKEN_STR_LEN + 1]);

#endif
