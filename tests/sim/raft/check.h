/*
 * check.h: the safety checkers the simulator runs after every step.
 *
 * The simulator is omniscient: it sees every node's log, role, term and
 * commit index. It feeds what it sees here, and these checks hold the
 * properties of Raft's Figure 3 (§5.2-§5.4):
 *   - Election Safety: at most one leader per term.
 *   - Log Matching: if two logs hold an entry with the same index and term,
 *     the logs are identical up to it. Checked in O(1) per appended entry:
 *     each node keeps a running hash of its log prefix (the "chain hash" of
 *     entry i covers entries 1..i), and every (index, term) pair must map to
 *     one chain hash across all nodes and all time.
 *   - Leader Completeness and State Machine Safety: once an index is known
 *     committed (any node applied it or reported a commit index covering
 *     it) its entry never changes; a new leader's log must hold every
 *     committed entry (its chain hash at the highest committed index equals
 *     the committed one); every node applies exactly the committed entries.
 * A violation stores a message and returns non-zero; the simulator prints
 * it with the seed and the trace.
 *
 * Tables grow with the run (terms and indexes are bounded by the run's
 * length); allocation failure is reported as a violation-free ERR_NOMEM.
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_CHECK_H
#define CLUSTERD_TESTS_SIM_RAFT_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* One committed entry as first seen. */
struct check_committed {
	uint64_t term;
	uint64_t chain; /* chain hash up to and including it */
};

struct check_pair {
	uint64_t index, term, chain;
};

struct sim_check {
	int32_t *leader; /* by term; -1 none */
	size_t terms_cap;
	struct check_pair *pairs; /* open addressing on (index, term) */
	size_t pairs_n, pairs_cap;
	struct check_committed *com; /* by index, [1..com_n] */
	size_t com_n, com_cap;
	char msg[512];
	uint64_t violations;
};

int sim_check_init(struct sim_check *c);
void sim_check_free(struct sim_check *c);

/* The chain hash of an entry from its predecessor's chain hash. */
uint64_t sim_chain(uint64_t prev_chain, uint64_t term, const void *data,
		   size_t len, int type);

/* Node `node` is leader in `term`. */
int sim_check_leader(struct sim_check *c, uint64_t term, int node);

/* Node holds entry (index, term) with this chain hash (Log Matching). */
int sim_check_entry(struct sim_check *c, int node, uint64_t index,
		    uint64_t term, uint64_t chain);

/* Node knows (index, term, chain) committed; it is recorded the first
 * time, and must match afterwards. Indexes must be fed in order per node
 * (the caller feeds every index up to its commit). */
int sim_check_committed(struct sim_check *c, int node, uint64_t index,
			uint64_t term, uint64_t chain);

/* The highest index known committed anywhere, and its chain hash. */
uint64_t sim_check_commit_max(const struct sim_check *c);
const struct check_committed *sim_check_committed_at(const struct sim_check *c,
						     uint64_t index);

#endif
