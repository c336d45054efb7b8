/*
 * A quick randomized run of the unit harness under the sanitizers: random
 * partitions, crashes and restarts, proposals, snapshots, transfers,
 * reads and membership changes, with the core's safety properties checked
 * after every step (at most one leader per term, Figure 3; every pair of
 * nodes applied the same entry at each index; commit indexes never move
 * back while a node runs), then a healed phase in which every node must
 * converge. tests/sim/ is the thorough version (latency, torn writes,
 * linearizability); this one is small enough to run under ASan and UBSan
 * with every unit test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cmocka_all.h"

#include "base/err.h"
#include "base/prng.h"
#include "raft/raft.h"
#include "tests/unit/raft/harness.h"

#define TERMS_MAX 4096
#define SEEDS 60
#define CHAOS_MS 8000
#define HEAL_MS 4000

struct watch {
	int leader_of[TERMS_MAX];
	raft_index commit[H_NODES + 1];
};

/* Totals over all seeds, to show the run exercised what it claims. */
static struct {
	uint64_t terms_with_leader, applied, installs, crashes, changes;
} tot;

static void check(struct h *h, struct watch *w, uint64_t seed)
{
	for (int id = 1; id <= h->n; id++) {
		const struct raft *r = &h->nodes[id].r;
		raft_term t;

		if (!h->nodes[id].alive)
			continue;
		t = raft_current_term(r);
		if (raft_current_role(r) == RAFT_LEADER && t < TERMS_MAX) {
			if (w->leader_of[t] != 0 && w->leader_of[t] != id)
				fail_msg("seed %llu: two leaders in term %llu",
					 (unsigned long long)seed,
					 (unsigned long long)t);
			w->leader_of[t] = id;
		}
		if (raft_commit_index(r) < w->commit[id])
			fail_msg("seed %llu: commit of %d moved back",
				 (unsigned long long)seed, id);
		w->commit[id] = raft_commit_index(r);
	}
	h_check_applied(h);
}

static int random_alive(struct h *h, struct prng *p)
{
	for (int k = 0; k < 16; k++) {
		int id = 1 + (int)prng_below(p, (uint64_t)h->n);

		if (h->nodes[id].alive)
			return id;
	}
	return 0;
}

static void chaos_action(struct h *h, struct prng *p, struct watch *w)
{
	int l = h_leader(h), id = random_alive(h, p);
	uint64_t dice = prng_below(p, 100);

	if (dice < 50) {
		if (l != 0)
			(void)h_propose(h, l, "chaos");
	} else if (dice < 53) {
		if (id != 0) {
			h_crash(h, id);
			tot.crashes++;
		}
	} else if (dice < 63) {
		for (int x = 1; x <= h->n; x++)
			if (!h->nodes[x].alive) {
				h_restart(h, x);
				w->commit[x] = 0; /* a restart may recompute it */
			}
	} else if (dice < 73) {
		int a = 1 + (int)prng_below(p, (uint64_t)h->n);
		int b = 1 + (int)prng_below(p, (uint64_t)h->n);

		if (a != b)
			h->cut[a][b] = !h->cut[a][b];
	} else if (dice < 78) {
		memset(h->cut, 0, sizeof(h->cut));
	} else if (dice < 84 && id != 0 && h->nodes[id].applied >
						raft_first_index(&h->nodes[id].r)) {
		(void)h_snapshot(h, id);
	} else if (dice < 88 && l != 0) {
		struct raft_event ev = {.type = RAFT_EV_TRANSFER};

		(void)h_step(h, l, &ev);
	} else if (dice < 93 && l != 0) {
		(void)h_read(h, l, prng_next(p));
	} else if (l != 0) {
		/* Node 4 wanders in and out as a learner or a voter. */
		static const uint8_t ops[] = {RAFT_ADD_LEARNER, RAFT_PROMOTE,
					      RAFT_DEMOTE, RAFT_REMOVE};

		if (h_change(h, l, ops[prng_below(p, 4)], 4) == 0)
			tot.changes++;
	}
}

static void one_seed(uint64_t seed)
{
	struct h h;
	struct watch w;
	struct prng p;
	raft_index target;
	int l;

	memset(&w, 0, sizeof(w));
	prng_seed(&p, seed);
	h_init2(&h, 4, 3, 3, NULL, NULL);
	for (int id = 1; id <= 4; id++)
		h.nodes[id].r.prng.s[0] ^= seed; /* vary timeouts per seed */
	for (uint64_t t = 0; t < CHAOS_MS; t += h.step_ms) {
		if (prng_chance(&p, 0.3))
			chaos_action(&h, &p, &w);
		h_run(&h, h.step_ms);
		check(&h, &w, seed);
	}
	/* Heal: everyone up, network whole; the cluster must converge. */
	memset(h.cut, 0, sizeof(h.cut));
	for (int id = 1; id <= h.n; id++)
		if (!h.nodes[id].alive) {
			h_restart(&h, id);
			w.commit[id] = 0;
		}
	h_run(&h, HEAL_MS / 2);
	l = h_leader(&h);
	if (l == 0)
		fail_msg("seed %llu: no leader after healing",
			 (unsigned long long)seed);
	if (h_propose(&h, l, "final") != 0)
		fail_msg("seed %llu: leader refuses a proposal after healing",
			 (unsigned long long)seed);
	h_run(&h, HEAL_MS / 2);
	check(&h, &w, seed);
	target = raft_last_index(&h.nodes[l].r);
	for (int t = 0; t < TERMS_MAX; t++)
		tot.terms_with_leader += w.leader_of[t] != 0;
	for (int id = 1; id <= h.n; id++)
		tot.installs += h.nodes[id].snapshots_installed;
	tot.applied += target;
	for (int id = 1; id <= 3; id++)
		if (h.nodes[id].applied != target &&
		    raft_conf_get(raft_configuration(&h.nodes[l].r),
				  (raft_id)id) != NULL)
			fail_msg("seed %llu: node %d applied %llu of %llu",
				 (unsigned long long)seed, id,
				 (unsigned long long)h.nodes[id].applied,
				 (unsigned long long)target);
	h_free(&h);
}

static void chaos_safety_and_convergence(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
		one_seed(seed);
	print_message("%d seeds: %llu terms with a leader, %llu entries, "
		      "%llu snapshot installs, %llu crashes, %llu changes\n",
		      SEEDS, (unsigned long long)tot.terms_with_leader,
		      (unsigned long long)tot.applied,
		      (unsigned long long)tot.installs,
		      (unsigned long long)tot.crashes,
		      (unsigned long long)tot.changes);
	assert_true(tot.terms_with_leader > 2 * SEEDS);
	assert_true(tot.applied > 100 * SEEDS);
	assert_true(tot.installs > 0);
	assert_true(tot.crashes > SEEDS);
	assert_true(tot.changes > SEEDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chaos_safety_and_convergence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
