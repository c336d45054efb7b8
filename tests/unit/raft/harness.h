/*
 * harness.h: a tiny deterministic cluster for raft unit tests.
 *
 * Up to H_NODES raft cores (ids 1..n) with a "disk" each (hard state,
 * entries, snapshot) and a FIFO network carrying ENCODED messages, so every
 * test also exercises the codec. Time advances in fixed steps; each step
 * ticks every live node and then delivers every queued message. Links can
 * be cut per direction or held (messages queue up undelivered). Disks
 * persist synchronously unless a node is put in manual mode, where
 * RAFT_EV_PERSISTED is only stepped by h_persist(). Not a simulator: no
 * latency, no faults beyond what a test sets by hand (tests/sim/ does
 * that).
 */
#ifndef CLUSTERD_TESTS_UNIT_RAFT_HARNESS_H
#define CLUSTERD_TESTS_UNIT_RAFT_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define H_NODES 7
#define H_QUEUE 65536
#define H_APPLIED_MAX 4096

struct h_entry {
	raft_term term;
	uint8_t type;
	uint32_t len;
	uint8_t *data;
};

struct h_node {
	struct raft r;
	struct raft_config cfg;
	int alive;
	int manual_persist; /* PERSISTED only via h_persist */
	/* disk */
	struct raft_hard_state hs;
	struct h_entry *log; /* log[i] is index snap.index + 1 + i */
	uint64_t log_n;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	uint64_t snap_len;
	raft_index handed_last; /* last entry handed by raft (manual mode) */
	raft_term handed_term;
	/* state machine: what was applied */
	raft_index applied;
	raft_term applied_term[H_APPLIED_MAX];
	uint64_t applied_sum; /* checksum over applied data */
	uint32_t snapshots_installed;
	/* reads */
	uint32_t reads_n;
	struct raft_read reads[64];
	/* statistics */
	uint64_t sent[RAFT_MSG_TYPE_MAX_];
	uint64_t append_entries_sent; /* entries carried by appends */
	uint64_t rejects_sent;        /* failed append responses */
	uint64_t appends_to[H_NODES + 1];
	uint64_t max_append_entries;
};

struct h_msg {
	int to;
	int from;
	uint8_t *buf;
	size_t len;
};

struct h {
	uint64_t now;
	int n;
	struct h_node nodes[H_NODES + 1]; /* by id; [0] unused */
	int cut[H_NODES + 1][H_NODES + 1]; /* cut[from][to] drops */
	int hold[H_NODES + 1];             /* messages to it wait */
	struct h_msg *q;
	size_t q_head, q_n;
	uint64_t delivered, dropped;
	uint64_t step_ms;
};

/* Default test configuration: 100-200 ms election timeouts, 20 ms
 * heartbeat, prevote and check-quorum on. */
void h_config(struct raft_config *c, raft_id id);

/* Starts n nodes whose disks hold the bootstrap configuration (voters
 * 1..voters, learners voters+1..n). cfg_fn may adjust each config. */
void h_init(struct h *h, int n, int voters,
	    void (*cfg_fn)(struct raft_config *c, void *arg), void *arg);
/* As h_init, but only nodes 1..members are in the bootstrap
 * configuration; the others start empty (to be added later). */
void h_init2(struct h *h, int n, int members, int voters,
	     void (*cfg_fn)(struct raft_config *c, void *arg), void *arg);
void h_free(struct h *h);

/* A lone raft (id, bugs) whose storage holds the configuration {1,2,3}
 * at index 1 and then entries of terms[0..n) at indexes 2..n+1, with
 * hard-state term `term`. For tests that step messages by hand. */
void h_bare(struct raft *r, raft_id id, const raft_term *terms, int n,
	    raft_term term, uint32_t bugs);
/* Steps a hand-made message into a lone raft; returns raft_step's code. */
int h_bare_recv(struct raft *r, uint64_t now, const struct raft_message *m,
		struct raft_update *up);

/* Steps an event on node id and carries out the resulting update. */
int h_step(struct h *h, int id, struct raft_event *ev);
/* Carries out an update of node id (persist, send, apply). */
void h_handle(struct h *h, int id, const struct raft_update *up);

/* Advances time by ms in steps of h->step_ms (ticks and deliveries). */
void h_run(struct h *h, uint64_t ms);
/* Runs until a leader exists (returns its id) or ms pass (returns 0). */
int h_run_until_leader(struct h *h, uint64_t ms);
/* Runs until a leader exists (failing the test if none appears within
 * 2 s), then settle_ms more so followers hear it; returns its id. */
int h_elect(struct h *h, uint64_t settle_ms);
/* Delivers queued messages until the queue is empty (bounded). */
void h_drain(struct h *h);

/* The leader with the highest term among live nodes, or 0. */
int h_leader(const struct h *h);
/* Number of live nodes that consider themselves leader in term t. */
int h_leaders_in_term(const struct h *h, raft_term t);

int h_propose(struct h *h, int id, const char *data);
int h_change(struct h *h, int id, uint8_t op, raft_id target);
int h_read(struct h *h, int id, uint64_t ctx);
int h_snapshot(struct h *h, int id);

/* Manual persistence: reports everything handed so far as durable. */
void h_persist(struct h *h, int id);

/* Crash (lose nothing: disks are synchronous here) and restart. */
void h_crash(struct h *h, int id);
void h_restart(struct h *h, int id);

/* Cuts (1) or heals (0) both directions between a and b. */
void h_cut(struct h *h, int a, int b, int on);
/* Isolates (1) or reconnects (0) a node from every other. */
void h_isolate(struct h *h, int id, int on);

/* Checks that every pair of nodes applied the same terms at the same
 * indexes (a cmocka failure otherwise). */
void h_check_applied(const struct h *h);

#endif
