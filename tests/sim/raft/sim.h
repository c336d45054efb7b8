/*
 * sim.h: the deterministic cluster simulator for the Raft core and the
 * node's Raft driver.
 *
 * One process, one virtual clock, one event queue ordered by (time, seq)
 * (queue.h). N nodes (3 to 5 slots), each running the node's own driver
 * (node/raftd) over the storage module on a simulated disk (storage's
 * stor_memdisk, with drawn fsync latencies and crash faults; sdisk.c), a
 * clock that drifts, and links of a simulated network (net.h) through
 * which every message travels encoded by raft's own codec. Only the
 * clock, the network and the disk are the simulator's. A
 * client workload drives a replicated key-value store (kv.h) and is
 * recorded as a history for the linearizability checker (lin.h); the
 * safety checkers (check.h) run after every step. Everything is derived
 * from one 64-bit seed (prng_fork per node and per component), so a run is
 * a pure function of its seed and a failure replays with --seed N; this is
 * the method of FoundationDB's simulator and TigerBeetle's VOPR.
 *
 * A run has two phases: faults (crashes with torn writes, partitions of
 * every shape, clogs, loss, slow disks, membership changes, snapshots,
 * leadership transfers), then heal (everything up and connected), after
 * which liveness is required: a leader within SIM_LIVE_LEADER_MS and every
 * client operation completed within SIM_LIVE_OP_MS.
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_SIM_H
#define CLUSTERD_TESTS_SIM_RAFT_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raft/raft.h"
#include "tests/sim/raft/check.h"
#include "tests/sim/raft/kv.h"
#include "tests/sim/raft/lin.h"
#include "tests/sim/raft/net.h"
#include "tests/sim/raft/queue.h"

/* Liveness bounds after the heal (stated in the terms: a leader
 * must exist, every pending proposal must commit). Election timeouts are
 * 300-600 ms here, so 5 s allows several rounds of split votes and
 * PreVote; 12 s covers catch-up by snapshot of a node that was down. */
#define SIM_LIVE_LEADER_MS 5000
#define SIM_LIVE_OP_MS	   12000

#define SIM_CLIENTS	5
#define SIM_WAITERS_MAX 64 /* client requests waiting on one node */

struct sim_opts {
	uint64_t seed;
	uint32_t bugs;	      /* RAFT_BUG_* planted in every node */
	uint64_t duration_ms; /* whole run */
	uint64_t heal_ms;     /* end of the fault phase */
	int trace;	      /* print the trace to `out` */
	int raft_trace;	      /* include raft's own debug lines */
	/* 1: skip the checks that watch a single rule of the protocol (one
	 * vote per term, apply only committed, the 5.4.2 commit rule), to
	 * see whether the end-to-end checkers alone catch a planted bug. */
	int end_to_end_only;
	/* 1: no faults at all (no crashes, partitions, loss or duplication):
	 * the steady state, for the benchmark. */
	int calm;
	/* A bug planted in the driver (node/raftd, RAFTD_BUG_EARLY_DURABLE)
	 * rather than the core: it treats every write as durable as soon as
	 * it is issued, so it sends votes and acknowledges entries a crash
	 * may still take back. The checkers must catch it, or the store's
	 * crash faults would not be reaching raft. */
	int bug_early_durable;
	FILE *out;
};

struct sim_result {
	int violation;	/* 1 if any checker failed */
	char what[600]; /* the first failure */
	uint64_t ops, ops_ok, ops_unknown;
	/* The progress oracle: operations completed in the calm window after
	 * the heal, its length, and the model's floor (0: not judged). */
	uint64_t calm_ops, calm_ms;
	double calm_rate, calm_floor; /* operations per simulated second */
	enum lin_verdict lin;
	uint64_t lin_states;
	uint64_t sim_ms;
	uint64_t committed; /* highest committed index */
	uint64_t elections, crashes, snapshots, transfers, conf_changes;
	uint64_t msgs, torn;
};

/* Runs one seed. Returns 0 (see *res for violations) or ERR_NOMEM. */
int sim_run(const struct sim_opts *opts, struct sim_result *res);

#endif
