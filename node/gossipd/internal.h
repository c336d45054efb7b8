/*
 * internal.h: gossipd's private structures, shared by gossipd.c (the
 * driver and the published keys) and table.c (the member table).
 */
#ifndef CLUSTERD_NODE_GOSSIPD_INTERNAL_H
#define CLUSTERD_NODE_GOSSIPD_INTERNAL_H

#include "node/gossipd/gossipd.h"

/* One row of the member table, fed by the core's change reports. The
 * published values are not copied here: listings read them from the core
 * (gossip_state_get), which keeps the newest version anyway. The Raft id is
 * cached because the autopilot looks servers up by it every second. */
struct gd_member {
	char name[GOSSIP_NAME_MAX + 1];
	char addr[GOSSIP_ADDR_MAX + 1];
	uint8_t status; /* enum gossip_status */
	uint64_t inc;
	uint64_t since_ms;
	uint64_t raft_id;
};

/* Rows in an array (order of arrival, swap-removed), found by name through
 * an open-addressing index of row numbers + 1 (0: empty) that is rebuilt
 * on growth and on removal (rare: the core reaps after minutes). */
struct gd_table {
	struct gd_member *rows;
	uint32_t n, cap, max;
	uint32_t *index;
	uint32_t index_cap; /* a power of two, at least 2 * cap */
	uint64_t dropped;   /* reports not tracked: the table was full */
};

/* The rate limit state of one published key. */
struct gd_pub {
	char cur[GOSSIPD_VALUE_MAX + 1]; /* the last version sent */
	char pend[GOSSIPD_VALUE_MAX + 1];
	uint8_t has_cur, has_pend;
	uint64_t last_ms; /* when cur was sent */
};

struct gossipd {
	struct gossip *g;
	struct gossipd_env env;
	uint32_t publish_interval_ms;
	uint32_t bugs; /* GOSSIPD_BUG_* */
	const struct tracer *tracer;
	char name[GOSSIP_NAME_MAX + 1];
	uint64_t now_ms;
	uint64_t core_deadline_ms; /* from the core's last update */
	uint64_t next_prune_ms;
	struct gd_pub pub[GOSSIPD_KEYS_N];
	struct gd_table t;
	struct gossipd_stats st; /* the counters kept here (not core, not
				  * the by-status counts) */
};

int tbl_init(struct gd_table *t, uint32_t max);
void tbl_free(struct gd_table *t);
/* The row of name, or NULL. Borrowed until the next change of t. */
struct gd_member *tbl_find(const struct gd_table *t, const char *name);
/* Applies one change report at time now; 0 or ERR_NOMEM / ERR_AGAIN
 * (full: counted in t->dropped). */
int tbl_apply(struct gd_table *t, const struct gossip_member_change *c,
	      uint64_t now_ms);
/* Drops rows whose member the core no longer knows. 0 or ERR_NOMEM. */
int tbl_prune(struct gd_table *t, const struct gossip *g);

/* Parses 1..16 hex digits; 0 when s is not that. */
uint64_t gd_parse_id(const uint8_t *s, size_t len);

#endif
