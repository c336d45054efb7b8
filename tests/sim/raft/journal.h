/*
 * journal.h: how a simulated node lays its Raft state out on its simulated
 * disk, and how it reads it back after a crash.
 *
 * Three record kinds in one append-only journal (disk.h frames and
 * checksums them): hard state; a batch of entries with an optional
 * truncation point; a snapshot (installed from a leader, which replaces
 * the whole log, or taken locally, which drops entries it covers). The
 * replay keeps the last of each and the surviving log, which is exactly
 * what raft_restore takes. This is the sim's own format, not a product
 * format: storage/ has the real one.
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_JOURNAL_H
#define CLUSTERD_TESTS_SIM_RAFT_JOURNAL_H

#include "raft/raft.h"
#include "tests/sim/raft/disk.h"

enum { REC_HS = 1, REC_ENTRIES = 2, REC_SNAP = 3 };

/* The state a journal holds; every pointer owned (jstate_free). */
struct jstate {
	int have_hs;
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	uint64_t snap_len;
	struct raft_entry *ents; /* contiguous from snap.index + 1 */
	uint64_t n, cap;
	char err[160];
};

void jstate_free(struct jstate *j);

/* Reads the journal (dropping a torn tail). 0, or -1 with j->err set
 * when the records are inconsistent (a driver bug). */
int journal_load(struct sim_disk *d, struct jstate *j);

int journal_put_hs(struct sim_disk *d, const struct raft_hard_state *hs);
int journal_put_entries(struct sim_disk *d, raft_index truncate_from,
			const struct raft_entry *e, uint64_t n);
int journal_put_snap(struct sim_disk *d, int installed,
		     const struct raft_snapshot_meta *meta, const uint8_t *data,
		     uint64_t len);

/* Rewrites the journal to just j's state (snapshot, hard state, log). */
int journal_compact(struct sim_disk *d, const struct jstate *j);

#endif
