/*
 * cmetrics.h: the cluster-wide /metrics, as pure logic (no I/O, no clock).
 *
 * Every node samples its own figures on a cadence into a snapshot: the
 * Prometheus text exposition (format 0.0.4) of the node itself, without
 * a `node` label. A snapshot has a version, a number that grows with
 * every new snapshot (a node starts counting at its wall clock in ms, so
 * it grows across restarts too); gossip carries only that version (a few bytes per
 * member, see docs/metrics.md). A node that is being scraped pulls a
 * peer's snapshot over the cluster transport when the version gossip
 * advertises differs from the one it holds, and keeps it in this cache.
 * A scrape renders from the cache alone: it never waits on a peer, on
 * RCON or on a game.
 *
 * Three parts, each testable without sockets:
 *  - cm_snap_parse: a snapshot's text, parsed and checked into families
 *    and samples (bounded: a peer is authenticated, but a bug or a newer
 *    version must not be able to break the whole scrape);
 *  - struct cm_cache: one entry per member of the cluster: its name, its
 *    liveness as gossip sees it, the advertised version, the snapshot
 *    held and the pull in flight; it decides which pulls are due;
 *  - cm_render: every member's `clusterd_up`, the age of each snapshot,
 *    then the families of all live members merged, HELP and TYPE once per
 *    family, each sample with `node="NAME"` added.
 * A member that leaves the member list leaves the cache (and the output);
 * a member that is not up keeps only its `clusterd_up 0`.
 */
#ifndef CLUSTERD_NODE_CMETRICS_CMETRICS_H
#define CLUSTERD_NODE_CMETRICS_CMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"

/* Largest snapshot text: it travels in one RPC frame (RPC_DATA_MAX is
 * 1 MiB + 4 KiB). A node with 64 instances reporting 256 items each in
 * both directions writes about 64 * 512 * 90 bytes = 2.9 MB of item
 * lines, so the per-instance item lists are bounded by the sampler
 * (CM_ITEMS_MAX) to keep a snapshot under this. */
#define CM_TEXT_MAX (1u << 20)
/* Families and samples in one snapshot. A node's own figures are about
 * 80 families and 150 samples; the rest is for instances and hooks. */
#define CM_FAMILIES_MAX 1024
#define CM_SAMPLES_MAX 32768
/* Bytes of a metric name, of a sample's label text, of a HELP text. */
#define CM_NAME_MAX 200
#define CM_LABELS_MAX 1024
#define CM_HELP_MAX 1024
/* Members in the cache: the node's member list holds at most 256
 * (CL_MEMBERS_MAX). */
#define CM_PEERS_MAX 256
/* Bytes of a member name (node names are at most 63). */
#define CM_PEER_NAME_MAX 63
/* Pulls in flight at once; more due ones wait for the next call of
 * cm_cache_due. Bounds memory and the answer burst at a big cluster. */
#define CM_PULLS_INFLIGHT_MAX 16
/* A pull not answered within this is given up and retried after the
 * backoff. Peers answer from memory in a millisecond; 5 s is far above
 * a loaded loopback and below a typical 15 s scrape interval. */
#define CM_PULL_TIMEOUT_MS 5000
/* After a failed pull, this long before the next try of that member. */
#define CM_RETRY_MS 2000

/* ---- the digest's share of gossip ---- */

/* Every member relays each published version E = 4*ceil(log10(N+1))
 * times (gossip.h's retransmit limit with the default multiplier) in a
 * state message of about CM_DIGEST_MSG_BYTES, so N members publishing
 * every T ms cost each member about N*E*40*1000/T bytes per second. */
#define CM_DIGEST_MSG_BYTES 40
/* What the digest may cost each member, bytes per second. The simulator
 * measured 1,000 members publishing every 5 s: 23.7 kB per member per
 * second, the piggyback capacity saturated, and a Raft role change took
 * 139 s instead of 1.3 s to spread (docs/metrics.md). 500 B/s is about
 * what gossip itself costs a member at that size (383 B/s). */
#define CM_DIGEST_BUDGET_BPS 500

/* The period at which a member of a cluster of `members` publishes its
 * version: the budget's, and never below min_ms (the sampling period).
 * 5 s (min_ms) up to 9 members, 6.4 s at 10, 32 s at 50, 96 s at 100,
 * 21 min at 1,000. */
uint64_t cm_publish_ms(uint32_t members, uint64_t min_ms);

/* ---- snapshots ---- */

struct cm_sample {
	uint32_t name_off, labels_off, value_off; /* into the snapshot text */
	uint16_t name_len, labels_len;            /* labels: inside {} */
	uint8_t value_len;
};

struct cm_family {
	uint32_t name_off, type_off, help_off;
	uint16_t name_len, type_len, help_len; /* type "": untyped */
	uint32_t first, n; /* its samples: smp[first .. first+n) */
};

struct cm_snap {
	char *text; /* owned */
	size_t len;
	struct cm_family *fam; /* owned */
	uint32_t nfam;
	struct cm_sample *smp; /* owned */
	uint32_t nsmp;
	uint32_t dropped; /* samples left out: a `node` label (it is the
			   * renderer's), or a sample without its family */
};

/* Parses text[0..len) (copied). Accepted: `# HELP name text`, `# TYPE
 * name type`, other comments (skipped), empty lines, and samples `name
 * value` or `name{labels} value` (no timestamps: a snapshot is of one
 * moment). A sample belongs to the family opened by the last HELP/TYPE
 * whose name is its name or its name minus `_bucket`, `_sum`, `_count`
 * (histograms, summaries); a sample of another name opens an untyped
 * family. Returns 0 with *out (free with cm_snap_free), ERR_TOOBIG (over
 * CM_TEXT_MAX, CM_FAMILIES_MAX, CM_SAMPLES_MAX or a name/labels/help
 * bound), ERR_MALFORMED (a line that is none of the above, with its
 * number in *bad_line when bad_line is not NULL), ERR_NOMEM. */
int cm_snap_parse(const char *text, size_t len, struct cm_snap **out,
		  uint32_t *bad_line);
void cm_snap_free(struct cm_snap *s);

/* ---- the cache of members ---- */

/* One member as the caller knows it now (the member list and gossip). */
struct cm_member {
	uint64_t id;                      /* Raft id; never 0 */
	const char *name;                 /* borrowed for the call */
	int up;                           /* gossip: alive or suspect */
	uint64_t version;                 /* advertised; 0: none yet */
};

struct cm_peer {
	uint64_t id;
	char name[CM_PEER_NAME_MAX + 1];
	uint8_t up;
	uint8_t self;
	uint64_t want;      /* the advertised version */
	uint64_t have;      /* the version of snap; 0 with snap NULL */
	struct cm_snap *snap;
	uint64_t got_ms;    /* when snap was taken (self) or arrived */
	uint64_t pull_req;  /* the request in flight, 0: none */
	uint64_t pull_ms;   /* when it was sent */
	uint64_t retry_ms;  /* no new pull before this */
};

struct cm_cache_stats {
	uint64_t pulls, pull_failures, pull_timeouts, answers_stale;
	uint64_t pull_bytes, snaps_rejected;
};

struct cm_cache {
	uint64_t self_id;
	struct cm_peer peers[CM_PEERS_MAX]; /* sorted by name */
	uint32_t n;
	uint32_t inflight;
	uint64_t next_req;
	struct cm_cache_stats st;
};

/* An empty cache for the node with Raft id self_id (not 0). */
void cm_cache_init(struct cm_cache *c, uint64_t self_id);
/* Frees every snapshot. */
void cm_cache_clear(struct cm_cache *c);

/* Makes the cache hold exactly the members listed (at most CM_PEERS_MAX;
 * more are ignored): new ones are added, missing ones removed with their
 * snapshot, the rest updated. A member that is not up loses its snapshot
 * (it is not rendered; a pull after its return fetches a fresh one) and
 * its pull in flight. Self should be listed (as up); its own snapshot is
 * set with cm_cache_set_self. */
void cm_cache_sync(struct cm_cache *c, const struct cm_member *m, size_t n);

/* Sets this node's own snapshot (ownership transferred; NULL clears). */
void cm_cache_set_self(struct cm_cache *c, uint64_t version,
		       struct cm_snap *snap, uint64_t now_ms);

/* A pull the caller must send: ask member id, with request id req. */
struct cm_pull {
	uint64_t id, req;
};

/* The pulls due at now: members other than self that are up, advertise a
 * version newer than the one held, have no pull in flight and no backoff
 * pending. A pull in flight for longer than CM_PULL_TIMEOUT_MS is given
 * up first (counted, backoff). At most cap, and at most
 * CM_PULLS_INFLIGHT_MAX in flight in all. Each returned pull is marked in
 * flight; the caller sends it, or reports cm_cache_failed at once. */
size_t cm_cache_due(struct cm_cache *c, uint64_t now_ms, struct cm_pull *out,
		    size_t cap);

/* An answer arrived from member id for request req: status 0 with the
 * snapshot text (borrowed; parsed and copied) of the given version, or
 * a non-zero status (the peer could not sample). Returns 0 when it was
 * taken, ERR_NOTFOUND for an answer nobody waits for (stale: counted and
 * ignored), or the parse error (counted; the member is retried after the
 * backoff). */
int cm_cache_answer(struct cm_cache *c, uint64_t id, uint64_t req, int status,
		    uint64_t version, const char *text, size_t len,
		    uint64_t now_ms);
/* The pull of member id with request req could not be sent. */
void cm_cache_failed(struct cm_cache *c, uint64_t id, uint64_t req,
		     uint64_t now_ms);

/* The entry of member id, or NULL. Borrowed until the next call that
 * changes the cache. */
const struct cm_peer *cm_cache_get(const struct cm_cache *c, uint64_t id);

/* ---- rendering ---- */

struct cm_render_stats {
	uint32_t nodes, nodes_up, families, samples;
	uint32_t type_conflicts; /* families of a member skipped because
				  * another member gave the name another
				  * type (nodes of two versions) */
};

/* Appends the cluster-wide exposition of the cache to out: clusterd_up
 * and clusterd_metrics_age_seconds for every member, then the merged
 * families of the members that are up and have a snapshot. The families
 * come in name order, members in name order within each, so the output
 * is deterministic. 0 or ERR_TOOBIG / ERR_NOMEM (from out's limit). */
int cm_render(const struct cm_cache *c, uint64_t now_ms, struct wbuf *out,
	      struct cm_render_stats *st);

/* Appends s to out escaped for a label value (backslash, quote, newline).
 * 0 or out's error. */
int cm_label_escape(struct wbuf *out, const char *s);

#endif
