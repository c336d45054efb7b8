/*
 * rpc.h: the node-to-node requests that travel on the transport's RPC
 * channel, and the join exchange.
 *
 * Any node serves every request (docs/design.md, "A write, from request to reply"): a follower that
 * receives a write forwards it to the leader, which proposes it and
 * answers after it was applied; a linearizable read on a follower asks the
 * leader for a read index (thesis 6.4: the leader confirms it is still
 * leader with a heartbeat round), then waits until its own state machine
 * has applied that index and serves from its local copy (thesis 6.4.1,
 * "follower reads"). Membership changes and leadership transfers are
 * forwarded the same way.
 *
 * Wire format (docs/decisions.md, "Message envelope"): a msgpack array
 *   [version, type, req_id, from, a, b, c, data]
 * with the same eight fields for every type; each type says which it uses
 * (unused integers are 0, unused data is an empty bin). One shape keeps the
 * decoder small and obviously bounded. req_id matches an answer to its
 * request; from is the sender's Raft id, so the answer can be routed to
 * its address.
 *
 * The join exchange is separate: it travels on a join-mode connection of
 * the transport (authenticated with the join token, not the cluster
 * secret) as a msgpack map, since it is an API-facing record that may
 * grow fields.
 */
#ifndef CLUSTERD_NODE_RPC_H
#define CLUSTERD_NODE_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

#define RPC_VERSION 1
/* Largest command a forwarded write may carry: the API's 1 MiB value plus
 * its namespace, key and envelope. */
#define RPC_DATA_MAX ((1u << 20) + 4096)

enum rpc_type {
	/* a = deadline in ms from receipt (the leader gives up after it);
	 * data = the command for stor_apply. Answered by RPC_RESULT. */
	RPC_WRITE = 1,
	/* a = status (0 or a negated ERR_*), b = log index of the entry (the
	 * KV revision), c = the state machine's result code, negated. */
	RPC_RESULT = 2,
	/* Asks the leader for a read index. Answered by RPC_READ_INDEX. */
	RPC_READ = 3,
	/* a = status, b = the read index. */
	RPC_READ_INDEX = 4,
	/* a = enum raft_change_op, b = the server's id. RPC_RESULT. */
	RPC_CHANGE = 5,
	/* a = the server to hand leadership to (0: the most up to date).
	 * RPC_RESULT. */
	RPC_TRANSFER = 6,
	/* Asks a peer for its metrics snapshot (node/cmetrics): a = the
	 * version gossip advertised (informational). Answered by
	 * RPC_METRICS. Any node serves it, leader or not. */
	RPC_METRICS_GET = 7,
	/* a = status, b = the snapshot's version, data = its Prometheus
	 * text (at most CM_TEXT_MAX bytes). */
	RPC_METRICS = 8,
	RPC_TYPE_MAX_ = 9,
};

struct rpc_msg {
	uint8_t type;
	uint64_t req_id;
	uint64_t from;
	uint64_t a, b, c;
	const uint8_t *data; /* borrowed: from the caller when encoding, from
			      * the decoded buffer after rpc_decode */
	size_t len;
};

/* Appends the encoding of m to w (errors sticky in w). */
void rpc_encode(const struct rpc_msg *m, struct mp_writer *w);
/* Decodes buf[0..len): 0, ERR_MALFORMED (any bound or type violated,
 * unknown type, data over RPC_DATA_MAX) or ERR_VERSION. m->data points
 * into buf. Does not allocate beyond msgpack's transient zone. */
int rpc_decode(const uint8_t *buf, size_t len, struct rpc_msg *m);

/* Status codes travel negated as unsigned integers; these convert. */
uint64_t rpc_status_put(int status);
int rpc_status_get(uint64_t wire);

/* ---- join ---- */

#define RPC_NAME_MAX 65 /* 64 bytes and the NUL, as the member records */
#define RPC_ADDR_MAX 65
#define RPC_KEY_BYTES 32
#define RPC_JOIN_MEMBERS_MAX 64

/* A member as the join reply lists it. */
struct rpc_member {
	uint64_t id;
	char name[RPC_NAME_MAX];
	char addr[RPC_ADDR_MAX]; /* cluster address */
	char http[RPC_ADDR_MAX];
	uint8_t pk[RPC_KEY_BYTES]; /* static public key */
};

/* The joiner introduces itself. */
struct rpc_join_req {
	struct rpc_member self;
};

struct rpc_join_resp {
	int status; /* 0, or why the join was refused */
	char error[256];
	uint8_t secret[RPC_KEY_BYTES];
	char cluster_id[40];
	uint32_t n_members;
	struct rpc_member members[RPC_JOIN_MEMBERS_MAX];
};

void rpc_join_req_encode(const struct rpc_join_req *r, struct mp_writer *w);
int rpc_join_req_decode(const uint8_t *buf, size_t len,
			struct rpc_join_req *out);
void rpc_join_resp_encode(const struct rpc_join_resp *r, struct mp_writer *w);
int rpc_join_resp_decode(const uint8_t *buf, size_t len,
			 struct rpc_join_resp *out);

#endif
