/*
 * internal.h: what the raft/ files share and nobody else may use.
 *
 * The core is split one concern per file, as cowsql/raft splits one file
 * per RPC: log.c (the in-memory log), election.c (timers, votes, roles),
 * replication.c (AppendEntries both ways, flow control, commitment),
 * heartbeat.c (heartbeats, ReadIndex, CheckQuorum, transfer),
 * snapshot.c (taking, sending and installing snapshots), membership.c
 * (configurations and one-server changes), codec.c (the wire format) and
 * raft.c (events and the update).
 */
#ifndef CLUSTERD_RAFT_INTERNAL_H
#define CLUSTERD_RAFT_INTERNAL_H

#include "base/assert.h"
#include "base/err.h"
#include "raft/raft.h"

#define RAFT_MOD "raft"

/* ---- log.c ---- */
static inline raft_index log_last(const struct raft *r)
{
	return r->snap.index + r->log_n;
}
struct raft_entry *raft__log_get(const struct raft *r, raft_index index);
raft_term raft__log_term(const struct raft *r, raft_index index);
static inline raft_term log_last_term(const struct raft *r)
{
	return raft__log_term(r, log_last(r));
}
/* Appends a copy of data as entry last+1. 0 or ERR_NOMEM. */
int raft__log_append(struct raft *r, raft_term term, uint8_t type,
	       const uint8_t *data, uint32_t len);
/* Removes entries >= from (from > commit), updating what the driver must
 * truncate, the persisted mark and the configuration. */
void raft__log_truncate(struct raft *r, raft_index from);
/* Frees entries <= upto (a snapshot now covers them). */
void raft__log_compact(struct raft *r, raft_index upto);
/* Frees every entry. */
void raft__log_clear(struct raft *r);
/* The durable index raft may claim: persisted, or last under the
 * planted send-before-persist bug. */
raft_index raft__log_durable(const struct raft *r);

/* ---- membership.c ---- */
struct msgpack_object;
/* Decodes a configuration from a parsed msgpack object (codec.c). */
int raft_conf_from_obj(const struct msgpack_object *o,
		       struct raft_configuration *c);
int raft__conf_is_voter(const struct raft_configuration *c, raft_id id);
uint32_t raft__conf_quorum(const struct raft_configuration *c);
/* Recomputes r->conf from the latest config entry or the snapshot. */
void raft__conf_recompute(struct raft *r);
/* The configuration in force at index (for a snapshot taken there). */
int raft__conf_at(const struct raft *r, raft_index index,
	    struct raft_configuration *out);
/* Called when a config entry is appended at index. */
void raft__conf_on_append(struct raft *r, const struct raft_entry *e);
/* Rebuilds the leader's progress array after a configuration change. */
void raft__conf_sync_progress(struct raft *r);
int raft__membership_propose(struct raft *r, uint8_t op, raft_id id);
/* Leader: once the latest configuration commits, a leader it removed or
 * demoted steps down (thesis 4.2.2). */
void raft__membership_after_commit(struct raft *r);

/* ---- election.c ---- */
void raft__election_reset_timer(struct raft *r);
void raft__become_follower(struct raft *r, raft_term term, raft_id leader);
void raft__become_leader(struct raft *r);
void raft__campaign(struct raft *r, int force);
void raft__election_tick(struct raft *r);
void raft__recv_vote(struct raft *r, const struct raft_message *m);
void raft__recv_vote_resp(struct raft *r, const struct raft_message *m);
void raft__recv_timeout_now(struct raft *r, const struct raft_message *m);
/* Whether a vote request at a higher term must be ignored because a
 * leader is known and was heard within the minimum election timeout. */
int raft__election_in_lease(const struct raft *r);

/* ---- replication.c ---- */
struct raft_progress *raft__progress_get(struct raft *r, raft_id id);
void raft__progress_reset(struct raft *r, struct raft_progress *pr);
/* Sends as many appends to pr as flow control allows. */
void raft__replicate_to(struct raft *r, struct raft_progress *pr);
void raft__replicate_all(struct raft *r);
void raft__recv_append(struct raft *r, const struct raft_message *m);
void raft__recv_append_resp(struct raft *r, const struct raft_message *m);
/* Follower: acknowledge what is durable and matches the leader. */
void raft__replicate_send_ack(struct raft *r);
/* Leader: advance commit by counting durable replicas (paper 5.4.2). */
void raft__replicate_maybe_commit(struct raft *r);
void raft__commit_advance(struct raft *r, raft_index index);
void raft__progress_to_probe(struct raft *r, struct raft_progress *pr);
void raft__progress_to_replicate(struct raft *r, struct raft_progress *pr);

/* ---- heartbeat.c ---- */
void raft__heartbeat_tick(struct raft *r);
void raft__heartbeat_broadcast(struct raft *r);
void raft__recv_heartbeat(struct raft *r, const struct raft_message *m);
void raft__recv_heartbeat_resp(struct raft *r, const struct raft_message *m);
int raft__read_index_request(struct raft *r, uint64_t ctx);
/* Fails every pending read with ERR_NOTLEADER (leadership lost). */
void raft__reads_fail_all(struct raft *r);
int raft__transfer_request(struct raft *r, raft_id to);
void raft__transfer_check(struct raft *r, struct raft_progress *pr);

/* ---- snapshot.c ---- */
void raft__snapshot_send(struct raft *r, struct raft_progress *pr);
void raft__recv_snapshot(struct raft *r, const struct raft_message *m);
void raft__recv_snapshot_resp(struct raft *r, const struct raft_message *m);
int raft__snapshot_taken(struct raft *r, raft_index index, const uint8_t *data,
		   uint64_t len);
int raft__snapshot_applied(struct raft *r, raft_index index);

/* ---- raft.c ---- */
/* Reserves the next outgoing message (to, type, term filled), or NULL
 * when RAFT_MSGS_MAX is reached (counted in msgs_dropped). */
struct raft_message *raft__msg_new(struct raft *r, raft_id to, uint8_t type);
/* Index of m in r->msgs (for msgs_from). */
static inline uint32_t msg_pos(const struct raft *r,
			       const struct raft_message *m)
{
	return (uint32_t)(m - r->msgs);
}
void raft__read_result(struct raft *r, uint64_t ctx, raft_index index, int status);

static inline uint64_t u64_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}
static inline uint64_t u64_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

#endif
