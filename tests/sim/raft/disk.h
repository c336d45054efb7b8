/*
 * disk.h: a simulated disk holding one node's append-only journal.
 *
 * The journal is a byte array of records, each
 *     u32le payload length | u32le CRC-32C of (type, payload) | u8 type |
 * payload The disk remembers how much of it is durable (`synced`): an fsync
 * started at some length makes that prefix durable when it completes, after a
 * latency the driver draws from sim_disk_fsync_us (sometimes slow). A crash
 * keeps the durable prefix and a random part of the rest, as a real disk
 * keeps whatever pages happened to reach the platter: the last record kept
 * may be cut short or carry garbage (a torn write). sim_disk_replay detects
 * the torn record by its length or checksum on restart, drops it and
 * everything after it, and truncates the journal there, which is what a
 * real log must do (cf. the torn-write handling of SQLite's WAL and etcd's
 * WAL repair).
 *
 * Compaction rewrites the journal as a whole (sim_disk_rewrite): it models
 * the write-new-file, fsync, rename sequence, which is atomic; the new
 * content is durable at once.
 *
 * The journal is bounded (`limit` bytes); an append past it returns
 * ERR_NOSPACE, which the driver treats as a reason to compact.
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_DISK_H
#define CLUSTERD_TESTS_SIM_RAFT_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "base/prng.h"

#define SIM_DISK_HDR 9 /* length, crc, type */

struct sim_disk_params {
	uint32_t fsync_min_us;
	uint32_t fsync_jitter_us;
	uint32_t fsync_slow_us; /* added with p_slow: a stalled device */
	double p_slow;
	double p_torn;	  /* on crash: the kept tail ends in a torn record */
	double p_garbage; /* on crash: the torn bytes are scribbled over */
};

struct sim_disk_stats {
	uint64_t appends, bytes, fsyncs, crashes, torn_dropped, rewrites;
};

struct sim_disk {
	uint8_t *buf; /* owned */
	size_t len, cap, limit;
	size_t synced; /* durable prefix */
	struct sim_disk_params p;
	struct prng rng;
	struct sim_disk_stats stats;
};

/* An empty disk; rng forked from parent. ERR_NOMEM. */
int sim_disk_init(struct sim_disk *d, size_t limit,
		  const struct sim_disk_params *p, struct prng *parent);
void sim_disk_free(struct sim_disk *d);

/* Appends one record (payload copied). ERR_NOSPACE past the limit. */
int sim_disk_append(struct sim_disk *d, uint8_t type, const void *payload,
		    size_t len);

/* How long an fsync issued now takes. */
uint64_t sim_disk_fsync_us(struct sim_disk *d);

/* An fsync issued when the journal was `len` bytes long has completed. */
void sim_disk_synced(struct sim_disk *d, size_t len);

/* Power loss: the unsynced tail is lost, except a random prefix of it that
 * may end in a torn record. */
void sim_disk_crash(struct sim_disk *d);

/* Replaces the whole journal atomically with buf[0..len) (copied), durable
 * at once. ERR_NOSPACE, ERR_NOMEM. */
int sim_disk_rewrite(struct sim_disk *d, const void *buf, size_t len);

/* Walks the journal, calling cb for each intact record in order (payload
 * borrowed for the call). A short or corrupt record ends the walk: it and
 * all after it are cut off (counted in torn_dropped). Returns the number of
 * intact records, or cb's first non-zero return. */
typedef int (*sim_disk_record_cb)(void *ctx, uint8_t type,
				  const uint8_t *payload, size_t len);
int sim_disk_replay(struct sim_disk *d, sim_disk_record_cb cb, void *ctx);

/* Encodes one record into out (which must hold SIM_DISK_HDR + len bytes);
 * used to build a compacted journal for sim_disk_rewrite. */
void sim_disk_encode(uint8_t *out, uint8_t type, const void *payload,
		     size_t len);

#endif
