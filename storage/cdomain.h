/*
 * cdomain.h: the "cluster" domain of the state machine: who belongs to
 * the cluster and who may talk to it (issue 10).
 *
 * Records (domain key -> value, values msgpack with a version first):
 *   "c"              the cluster id (16 bytes), set once;
 *   "m" | id (u64 BE) a member: raft id, name, cluster address, HTTP
 *                    address, static X25519 public key (the transport
 *                    refuses keys not listed here);
 *   "t" | token id   a token: kind (join or API), hash of the secret,
 *                    name, role, created, expiry, revoked.
 * Only hashes of token secrets are stored (crypto_generichash, computed by
 * the proposer; see node/core.h for the token format). The domain never
 * hashes, draws randomness or reads a clock: every time it compares (a
 * join token's expiry) comes IN the command, as the proposer's wall clock,
 * so every node applies the same entry to the same result.
 *
 * Commands: body [op, ...]:
 *   SET_ID       [0, id(bin 16)]                     ERR_EXISTS if set to
 *                                                    another id
 *   MEMBER_PUT   [1, member]                         adds or replaces
 *   MEMBER_JOIN  [2, member, token id, now_ms]       adds, if the join
 *                token exists, is a join token, not revoked, not expired at
 *                now_ms: else ERR_AUTH
 *   MEMBER_DEL   [3, raft id]                        ERR_NOTFOUND if absent
 *   TOKEN_ADD    [4, token]                          ERR_EXISTS if the id is
 *                                                    taken
 *   TOKEN_REVOKE [5, token id, now_ms]               ERR_NOTFOUND if absent;
 *                marks it revoked (records stay, so lists show them).
 * member = [id, name, addr, http, pk(bin 32)]; token = [id, kind, role,
 * name, hash(bin 32), created_ms, expires_ms, revoked] or, for a token
 * with roles or a user (issue 13), the same followed by [role, ...] and
 * user. Records of 8 fields (written before roles existed) stay valid:
 * such a token's permissions come from its role field (admin or read),
 * and a token without roles and user is still written with 8 fields.
 */
#ifndef CLUSTERD_STORAGE_CDOMAIN_H
#define CLUSTERD_STORAGE_CDOMAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

struct stor;

#define STOR_DOMAIN_CLUSTER 3

#define STOR_CL_ID_LEN 16
#define STOR_CL_NAME_MAX 64
#define STOR_CL_ADDR_MAX 64
#define STOR_CL_PK_LEN 32
#define STOR_CL_TOKEN_ID_LEN 16 /* hex characters */
#define STOR_CL_HASH_LEN 32
/* Roles a token carries (names as storage/udomain.h's roles), and the
 * user it belongs to (a Factorio name; "" none). */
#define STOR_CL_TOKEN_ROLES_MAX 8
#define STOR_CL_ROLE_NAME_MAX 32
#define STOR_CL_USER_MAX 64
/* Bounds on what a list returns (members follow RAFT_NODES_MAX's order
 * of magnitude with room for gossip-only members). */
#define STOR_CL_MEMBERS_MAX 1024
#define STOR_CL_TOKENS_MAX 4096

enum {
	STOR_CL_SET_ID = 0,
	STOR_CL_MEMBER_PUT = 1,
	STOR_CL_MEMBER_JOIN = 2,
	STOR_CL_MEMBER_DEL = 3,
	STOR_CL_TOKEN_ADD = 4,
	STOR_CL_TOKEN_REVOKE = 5,
};

enum {
	STOR_CL_TOKEN_API = 0,
	STOR_CL_TOKEN_JOIN = 1,
};

struct stor_cl_member {
	uint64_t id; /* raft id, nonzero */
	char name[STOR_CL_NAME_MAX + 1];
	char addr[STOR_CL_ADDR_MAX + 1];
	char http[STOR_CL_ADDR_MAX + 1];
	uint8_t pk[STOR_CL_PK_LEN];
};

struct stor_cl_token {
	char id[STOR_CL_TOKEN_ID_LEN + 1];
	uint8_t kind;
	uint8_t role;
	uint8_t revoked;
	char name[STOR_CL_NAME_MAX + 1];
	uint8_t hash[STOR_CL_HASH_LEN];
	uint64_t created_ms;
	uint64_t expires_ms; /* 0: never */
	uint8_t nroles;
	char roles[STOR_CL_TOKEN_ROLES_MAX][STOR_CL_ROLE_NAME_MAX + 1];
	char user[STOR_CL_USER_MAX + 1];
};

/* A command; which fields count depends on op (see above). */
struct stor_cl_cmd {
	int op;
	uint8_t cluster_id[STOR_CL_ID_LEN]; /* SET_ID */
	struct stor_cl_member member;       /* MEMBER_PUT, MEMBER_JOIN;
					       member.id for MEMBER_DEL */
	struct stor_cl_token token;         /* TOKEN_ADD; token.id for
					       MEMBER_JOIN, TOKEN_REVOKE */
	uint64_t now_ms;                    /* MEMBER_JOIN, TOKEN_REVOKE */
};

/* Registers the domain (stor_open does so already). */
int stor_cl_register(struct stor *s);
/* Encodes a command with its envelope; the caller frees *out. ERR_INVAL
 * for a field out of bounds (empty name, token id not 16 hex digits). */
int stor_cl_encode(const struct stor_cl_cmd *c, uint8_t **out, size_t *len);
/* Decodes and checks a body without applying it (the fuzzer). */
int stor_cl_check(const msgpack_object *body);

/* Reads (outside apply, the owner thread). ERR_NOTFOUND when absent. */
int stor_cl_cluster_id(struct stor *s, uint8_t id[STOR_CL_ID_LEN]);
int stor_cl_member_get(struct stor *s, uint64_t id, struct stor_cl_member *m);
int stor_cl_token_get(struct stor *s, const char *id, struct stor_cl_token *t);
/* Up to max records in key order (members by id, tokens by id); *n how
 * many were written. */
int stor_cl_members(struct stor *s, struct stor_cl_member *out, size_t max,
		    size_t *n);
int stor_cl_tokens(struct stor *s, struct stor_cl_token *out, size_t max,
		   size_t *n);

#endif
