/*
 * core.h: the interface through which the HTTP API (node/api) reaches the
 * node core (node/cluster.c), and nothing else.
 *
 * The API's handlers are thin (docs/contributing.md: thin handlers): each parses a request,
 * calls ONE operation of this interface and formats the answer. The core
 * is an ops table of function pointers plus a context, so the handlers can
 * be tested against a fake core without Raft, storage or sockets, and so
 * node/api never includes raft/ or storage/ headers (the layering check).
 *
 * Three kinds of operations:
 *   - replicated writes (`write`): a typed command (struct core_cmd) that
 *     the core encodes for the state machine, proposes (forwarding to the
 *     leader when it is not the leader) and completes once the entry was
 *     committed and applied, or the deadline passed;
 *   - reads: a barrier (`read_barrier`: linearizable through Raft's
 *     ReadIndex, or stale = the local copy as it is) followed by LOCAL reads
 *     of the node's applied state (`kv_get`, `kv_list`, `token_get`,
 *     `token_list`), which are synchronous;
 *   - node operations: the cluster views (`members`, `raft_status`,
 *     synchronous) and `join`, `leave`, `transfer_leader` (asynchronous).
 *
 * Asynchronous operations follow one rule: a call that returns 0 runs its
 * callback exactly once, either inside the call or later on the loop
 * thread; a call that returns an error never runs it. Every callback runs
 * on the loop thread. At shutdown the core completes what is pending with
 * ERR_SHUTDOWN. Callers must cope with either timing (the API does).
 *
 * Deadlines are in the core's monotonic milliseconds (`now_ms`). Status
 * codes (base/err.h) and what the API makes of them:
 *   0               done (for a write: committed and applied);
 *   ERR_NOTLEADER   no leader known, or leadership lost: 503 + Retry-After;
 *   ERR_TIMEOUT     the deadline passed: 503 + Retry-After (a write may or
 *                   may not have been applied);
 *   ERR_AGAIN       back-pressure (queues full): 503 + Retry-After;
 *   ERR_SHUTDOWN    the node is stopping: 503;
 *   ERR_INVAL       a command the core refuses before proposing: 400.
 * A write's domain result (core_write_result.result) is separate: it is
 * what the state machine answered (0, ERR_CONFLICT, ERR_NOTFOUND, ERR_AUTH,
 * ERR_EXISTS, ...), and a non-zero result means the command changed
 * nothing.
 *
 * Tokens (join and API tokens alike) are strings "ID.SECRET": ID is
 * CORE_TOKEN_ID_LEN lowercase hex characters, public (it names the token in
 * lists and travels in clear in a join handshake); SECRET is
 * CORE_TOKEN_SECRET_LEN base64url characters from 32 random bytes. Only
 * hash = crypto_generichash(CORE_HASH_LEN bytes, no key) over the SECRET's
 * characters is stored, in the replicated cluster domain. A join PSK is
 * derived from that hash (both sides can compute it). core_token_new,
 * core_token_parse and core_token_hash below implement this format, for
 * the API, `clusterd init` and the transport alike.
 *
 * clusterctl's token comes from --token, $CLUSTERD_TOKEN, or the file
 * CORE_CTL_CONFIG_NAME ("clusterctl.json") that `clusterd init` writes into
 * the data dir (mode 0600) and, when $HOME is set, into
 * $HOME/.config/clusterd/clusterctl.json: {"node": "http://IP:PORT",
 * "token": "ID.SECRET"}. clusterctl reads `--config FILE`, else the file
 * $CLUSTERD_CONFIG names, else the $HOME one; --token and $CLUSTERD_TOKEN
 * (and --node, $CLUSTERD_NODE) take precedence over the file's fields.
 */
#ifndef CLUSTERD_NODE_CORE_H
#define CLUSTERD_NODE_CORE_H

#include <stddef.h>
#include <stdint.h>

/* Limits of the public API (issue 10): a namespace matches
 * [A-Za-z0-9_.-]{1,64}; a key is 1..512 bytes; a value up to 1 MiB. */
#define CORE_NS_MAX 64
#define CORE_KEY_MAX 512
#define CORE_VALUE_MAX (1u << 20)
/* Keys one list call returns at most (a client pages with `after`). */
#define CORE_LIST_MAX 1000
/* Names (node --name, token names), addresses "IP:PORT" and short words. */
#define CORE_NAME_MAX 64
#define CORE_ADDR_MAX 64
#define CORE_WORD_MAX 16
/* Raft servers in a status view (raft.h's RAFT_NODES_MAX) and gossip
 * members in a members view (the views are bounded copies). */
#define CORE_SERVERS_MAX 32
#define CORE_MEMBERS_MAX 1024
/* Autopilot decisions kept for `raft status`, newest last. */
#define CORE_DECISIONS_MAX 8
#define CORE_DECISION_TEXT_MAX 160
/* Tokens listed at most. */
#define CORE_TOKENS_MAX 256

/* The token format described above. */
#define CORE_TOKEN_ID_LEN 16
#define CORE_TOKEN_SECRET_LEN 43
#define CORE_TOKEN_STR_LEN (CORE_TOKEN_ID_LEN + 1 + CORE_TOKEN_SECRET_LEN)
#define CORE_HASH_LEN 32
/* Default lifetime of a join token (issue 10: 24 h). */
#define CORE_JOIN_TOKEN_TTL_MS (24ull * 3600 * 1000)

#define CORE_CTL_CONFIG_NAME "clusterctl.json"

/* An Idempotency-Key's client: 1..64 bytes of [A-Za-z0-9_.-]. The state
 * machine remembers each client's results for its last
 * CORE_IDEM_WINDOW sequence numbers. */
#define CORE_IDEM_CLIENT_MAX 64
#define CORE_IDEM_WINDOW 64
/* "No compare-and-set" for core_cmd.u.kv.cas; 0 means "only if absent". */
#define CORE_CAS_NONE UINT64_MAX

enum core_cmd_type {
	CORE_CMD_KV_PUT = 1,    /* u.kv */
	CORE_CMD_KV_DEL = 2,    /* u.kv (value unused) */
	CORE_CMD_TOKEN_ADD = 3, /* u.token */
	CORE_CMD_TOKEN_REVOKE = 4, /* u.revoke */
	/* Instances (issue 12), u.inst: CREATE the whole record (id
	 * ignored); ASSIGN id, node, game_port, rcon_port; DESIRED id,
	 * desired; DELETE id. */
	CORE_CMD_INST_CREATE = 5,
	CORE_CMD_INST_ASSIGN = 6,
	CORE_CMD_INST_DESIRED = 7,
	CORE_CMD_INST_DELETE = 8,
	/* Player tracking (issue 12, lua helper; numbers 40-49), u.player:
	 * a join (joins + 1) or a leave (online_ms added) of a user on an
	 * instance, in the replicated "players" domain (10). */
	CORE_CMD_PLAYER_EVENT = 40,
};

/* Instances: names (instance and save) match
 * [A-Za-z0-9_-][A-Za-z0-9_.-]{0,63} (one plain path component); the RCON
 * password is CORE_INST_PW_LEN hex characters, drawn by the proposer. */
#define CORE_INST_NAME_MAX 64
#define CORE_INST_PW_LEN 32
#define CORE_INST_MAX 1024
#define CORE_INST_CAUSE_MAX 200

enum core_inst_desired {
	CORE_INST_STOPPED = 0,
	CORE_INST_RUNNING = 1,
};

/* An instance record as the replicated state keeps it. rcon_pw is a
 * secret: the API never shows it and nothing logs it. */
struct core_instance {
	uint64_t id;
	char name[CORE_INST_NAME_MAX + 1];
	uint64_t node; /* raft id; 0: unassigned */
	uint16_t game_port, rcon_port; /* 0: not allocated yet */
	char rcon_pw[CORE_INST_PW_LEN + 1];
	uint8_t auto_start;
	uint8_t desired; /* enum core_inst_desired */
	char save[CORE_INST_NAME_MAX + 1];
};

/* Players listed per instance (a big server has ~100 online; more are
 * not listed) and the longest name kept (Factorio allows 60 characters). */
#define CORE_INST_PLAYERS_MAX 128
#define CORE_PLAYER_NAME_MAX 64

/* A user's counters over every instance of the cluster (the replicated
 * "players" domain). */
struct core_player {
	char name[CORE_PLAYER_NAME_MAX];
	uint64_t joins;
	uint64_t online_ms;     /* summed over finished sessions */
	uint64_t last_instance; /* of the last join or leave */
};
#define CORE_PLAYERS_LIST_MAX 1000

/* What the node an instance is assigned to knows of it (in memory). */
struct core_inst_state {
	char status[CORE_WORD_MAX]; /* stopped, creating_save, starting,
				       running, stopping */
	int64_t pid;                /* 0: no process */
	uint32_t crashes;           /* since this node started */
	uint8_t given_up;           /* 5 crashes in 10 minutes */
	uint32_t saves;             /* "Saving finished" lines seen */
	uint64_t start_to_running_ms; /* last start (save creation
					 included) to InGame; 0: not yet */
	char cause[CORE_INST_CAUSE_MAX]; /* last failure; "" if none */
	/* Issue 12, player tracking (lua helper): who is online, from the
	 * in-game module's join/leave events; empty unless running. */
	uint32_t players_n;
	char players[CORE_INST_PLAYERS_MAX][CORE_PLAYER_NAME_MAX];
	uint64_t ipc_received, ipc_duplicates; /* game -> node messages */
};

/* An RCON reply: status 0 with body[0..len) (borrowed for the call), or an
 * error (ERR_TIMEOUT, ERR_CLOSED, ...). */
typedef void (*core_rcon_cb)(void *arg, int status, const char *body,
			     size_t len);
/* A forwarded HTTP request's answer: status 0 with the peer's HTTP code
 * and body (borrowed for the call), or an error (the peer unreachable). */
typedef void (*core_http_cb)(void *arg, int status, int code,
			     const char *body, size_t len);

enum core_token_kind {
	CORE_TOKEN_API = 0,
	CORE_TOKEN_JOIN = 1,
};

/* API token roles: admin may do everything; read may only GET. */
enum core_role {
	CORE_ROLE_ADMIN = 0,
	CORE_ROLE_READ = 1,
};

/* A token record as the replicated state keeps it (never the secret). */
struct core_token {
	char id[CORE_TOKEN_ID_LEN + 1];
	uint8_t kind; /* enum core_token_kind */
	uint8_t role; /* enum core_role; API tokens only */
	uint8_t revoked;
	char name[CORE_NAME_MAX + 1]; /* a label; may be empty */
	uint8_t hash[CORE_HASH_LEN];
	uint64_t created_ms; /* wall clock of the proposer */
	uint64_t expires_ms; /* wall clock; 0: never */
};

/* A replicated command. Pointers are borrowed for the duration of the
 * `write` call only: the core encodes (copies) the command before it
 * returns. */
struct core_cmd {
	int type; /* enum core_cmd_type */
	union {
		struct {
			const char *ns; /* validated by the caller */
			size_t ns_len;
			const uint8_t *key;
			size_t key_len;
			const uint8_t *value; /* PUT only; may be NULL if 0 */
			size_t value_len;
			uint64_t cas; /* CORE_CAS_NONE, 0 (absent) or R */
		} kv;
		struct core_token token; /* TOKEN_ADD: the whole record */
		struct {
			char id[CORE_TOKEN_ID_LEN + 1];
			uint64_t now_ms; /* proposer's wall clock */
		} revoke;
		struct core_instance inst; /* CORE_CMD_INST_* */
		struct {
			char name[CORE_PLAYER_NAME_MAX];
			uint64_t instance;
			uint8_t join;       /* 1: join, 0: leave */
			uint64_t online_ms; /* leave: the session's length */
		} player; /* CORE_CMD_PLAYER_EVENT */
	} u;
	/* An HTTP client's Idempotency-Key (client_len 0: none). With one,
	 * the command is applied at most once per (client, seq): a repeat
	 * is answered with the first attempt's result and index, and a seq
	 * older than the client's last CORE_IDEM_WINDOW gets the result
	 * ERR_EXPIRED (not applied; the first outcome is no longer known).
	 * Without one, the core still proposes the write in a session of
	 * its own, so its retries across a failover apply once. */
	struct {
		char client[CORE_IDEM_CLIENT_MAX + 1];
		size_t client_len;
		uint64_t seq;     /* > 0 */
		uint64_t wall_ms; /* the proposer's wall clock */
	} idem;
};

struct core_write_result {
	int status;     /* see the table above; 0: committed and applied */
	uint64_t index; /* status 0: the entry's log index = KV revision */
	int result;     /* status 0: the state machine's answer */
	/* A KV command whose result is ERR_CONFLICT or ERR_NOTFOUND: the
	 * key's revision read on the node that applied the entry, right
	 * after it applied (0 = absent). */
	uint64_t current_rev;
};

typedef void (*core_write_cb)(void *arg, const struct core_write_result *r);
typedef void (*core_status_cb)(void *arg, int status);
/* msg: a one-line reason when status != 0 (borrowed for the call), or
 * NULL. */
typedef void (*core_done_cb)(void *arg, int status, const char *msg);

/* A backup being streamed (snapshot_open): the bytes of a snapshot file
 * (node/snapfile.h) of this node's applied state. */
struct core_snap;
struct core_snap_info {
	uint64_t index, term; /* the last entry the state includes */
};
/* status 0: s is the caller's until snapshot_close; else s is NULL. */
typedef void (*core_snap_cb)(void *arg, int status, struct core_snap *s,
			     const struct core_snap_info *info);

/* A value read locally: value is malloc'd, the caller frees it. */
struct core_kv_value {
	uint8_t *value;
	size_t len;
	uint64_t rev;
};

/* One listed key: key is malloc'd (core_kv_keys_free frees the array). */
struct core_kv_key {
	uint8_t *key;
	size_t len;
	uint64_t rev;
	size_t value_len;
};

/* A gossip member as `clusterctl members` shows it. */
struct core_member {
	char name[CORE_NAME_MAX + 1];
	char addr[CORE_ADDR_MAX + 1]; /* cluster address */
	char http[CORE_ADDR_MAX + 1]; /* "" if not published yet */
	char state[CORE_WORD_MAX];    /* alive, suspect, dead, left */
	char role[CORE_WORD_MAX];     /* leader, follower, candidate,
					 learner, none */
	char version[CORE_WORD_MAX * 2];
	uint64_t raft_id; /* 0 if not published yet */
};

struct core_server {
	uint64_t id;
	char name[CORE_NAME_MAX + 1]; /* "" if unknown */
	uint8_t voter;                /* 1 voter, 0 learner */
	uint64_t match_index;
	uint64_t lag; /* leader's last index - match (0 when unknown) */
};

struct core_decision {
	uint64_t at_ms; /* wall clock */
	char text[CORE_DECISION_TEXT_MAX];
};

/* Raft as this node sees it. leader_id 0: no leader known. servers and
 * match indexes are exact on the leader; elsewhere match_index is 0. */
struct core_raft_status {
	uint64_t id; /* this node */
	char role[CORE_WORD_MAX];
	uint64_t term;
	uint64_t leader_id;
	char leader_name[CORE_NAME_MAX + 1];
	uint64_t commit_index, applied_index, last_index;
	size_t nservers;
	struct core_server servers[CORE_SERVERS_MAX];
	size_t ndecisions;
	struct core_decision decisions[CORE_DECISIONS_MAX];
};

/* One plugin's process on this node (node/plugins/plugins.h). */
struct core_plugin_state {
	char name[CORE_NAME_MAX + 1];
	char status[CORE_WORD_MAX]; /* stopped, starting, running, backoff,
				       stopping */
	int64_t pid;                /* 0: none */
	uint32_t restarts;
	int last_exit;              /* the last exit's status; a signal
				       n gives 128 + n */
};

struct core_ops {
	/* Clocks: monotonic (deadlines) and wall (token times), in ms. */
	uint64_t (*now_ms)(void *ctx);
	uint64_t (*wall_ms)(void *ctx);
	/* 1 when the node belongs to a cluster (initialised or joined);
	 * 0 on an unjoined node, which serves only status and join. */
	int (*joined)(void *ctx);
	/* 1 when this node's applied state is as recent as it can know
	 * (a leader is known and every committed entry is applied), so a
	 * record it lacks is really absent; 0 while it is still catching up
	 * (just started or just joined). NULL: always 1. */
	int (*caught_up)(void *ctx);

	/* Proposes cmd (copied before return) and calls cb once it was
	 * applied, failed, or the deadline passed. */
	int (*write)(void *ctx, const struct core_cmd *cmd,
		     uint64_t deadline_ms, core_write_cb cb, void *arg);
	/* stale 0: completes once this node's applied state includes every
	 * write committed before the call (ReadIndex); stale 1: completes
	 * at once if the node has state. Then local reads are current. */
	int (*read_barrier)(void *ctx, int stale, uint64_t deadline_ms,
			    core_status_cb cb, void *arg);

	/* Local reads of the applied state (synchronous). ERR_NOTFOUND when
	 * absent. kv_list: keys of ns starting with prefix, in byte order,
	 * strictly after `after` (NULL: from the start), at most max
	 * (<= CORE_LIST_MAX); *more = 1 if there are further keys. */
	int (*kv_get)(void *ctx, const char *ns, size_t ns_len,
		      const uint8_t *key, size_t key_len,
		      struct core_kv_value *out);
	int (*kv_list)(void *ctx, const char *ns, size_t ns_len,
		       const uint8_t *prefix, size_t prefix_len,
		       const uint8_t *after, size_t after_len, size_t max,
		       struct core_kv_key **out, size_t *n, int *more);
	int (*token_get)(void *ctx, const char *id, struct core_token *out);
	/* Up to max tokens in id order; *n how many were written. */
	int (*token_list)(void *ctx, struct core_token *out, size_t max,
			  size_t *n);

	/* Views (synchronous copies). */
	int (*members)(void *ctx, struct core_member *out, size_t max,
		       size_t *n);
	int (*raft_status)(void *ctx, struct core_raft_status *out);

	/* Joins the cluster of peer ("IP:PORT") with a join token ("ID.SECRET",
	 * copied). Completes once this node is a gossip member and a Raft
	 * learner, or with the reason it failed (ERR_AUTH: token refused,
	 * ERR_EXISTS: already joined). */
	int (*join)(void *ctx, const char *peer, const char *token,
		    uint64_t deadline_ms, core_done_cb cb, void *arg);
	/* Hands leadership over if this node leads, removes it from Raft
	 * and leaves gossip. */
	int (*leave)(void *ctx, uint64_t deadline_ms, core_done_cb cb,
		     void *arg);
	/* target: a node name or raft id in hex; NULL or "": the most
	 * caught-up voter. ERR_NOTFOUND: no such voter. Completes once the
	 * new leader is known (or the deadline passed). */
	int (*transfer_leader)(void *ctx, const char *target,
			       uint64_t deadline_ms, core_done_cb cb,
			       void *arg);

	/* Backups (may be NULL in a core without them). snapshot_open: a
	 * read barrier as read_barrier's (stale 0: linearizable, so the
	 * snapshot holds every write acknowledged before the call), then a
	 * pinned snapshot of the applied state. ERR_NOTFOUND: this node
	 * keeps no replica of the state. snapshot_next: the file's next
	 * bytes, borrowed until the next call or close; *done is 1 with
	 * the last piece (the checksum). ERR_SHUTDOWN once the node
	 * stopped; the storage's errors. snapshot_close frees s (also after
	 * the node stopped: it does not use ctx then). Memory: one chunk of
	 * the store's stream, whatever the state's size. */
	int (*snapshot_open)(void *ctx, int stale, uint64_t deadline_ms,
			     core_snap_cb cb, void *arg);
	int (*snapshot_next)(void *ctx, struct core_snap *s,
			     const uint8_t **p, size_t *len, int *done);
	void (*snapshot_close)(void *ctx, struct core_snap *s);
	/* Instances (issue 12). Local reads of the applied state, like
	 * kv_get: inst_get finds by name, or by id in decimal;
	 * ERR_NOTFOUND when absent. inst_list: up to max in id order. */
	int (*inst_get)(void *ctx, const char *name_or_id,
			struct core_instance *out);
	int (*inst_list)(void *ctx, struct core_instance *out, size_t max,
			 size_t *n);
	/* This node's view of an instance assigned to it: ERR_NOTFOUND when
	 * this node runs no instance manager or the instance is not here. */
	int (*inst_state)(void *ctx, uint64_t id, struct core_inst_state *out);
	/* Sends an RCON command (copied) to an instance running on this
	 * node. ERR_NOTFOUND: not here; ERR_AGAIN: its RCON is not up. */
	int (*inst_rcon)(void *ctx, uint64_t id, const char *cmd, size_t len,
			 uint64_t deadline_ms, core_rcon_cb cb, void *arg);
	/* Sends an HTTP request to another node's API ("IP:PORT"): method,
	 * path (with query), body and the caller's Authorization header
	 * value are copied. The request carries CORE_FORWARDED_HEADER, so
	 * the peer answers it itself and never forwards it again. */
	int (*http_forward)(void *ctx, const char *http_addr,
			    const char *method, const char *path,
			    const char *auth, const uint8_t *body,
			    size_t body_len, uint64_t deadline_ms,
			    core_http_cb cb, void *arg);

	/* --- plugins (node/plugins) --- */
	/* This node's plugin processes: up to max states into out; returns
	 * how many. NULL: the node runs no supervisor. */
	size_t (*plugin_states)(void *ctx, struct core_plugin_state *out,
				size_t max);
	/* Player tracking (issue 12, lua helper): a local read of the
	 * replicated per-user counters, up to max in name order after
	 * `after` ("": from the first). NULL in a core without them. */
	int (*player_list)(void *ctx, const char *after,
			   struct core_player *out, size_t max, size_t *n);
};

/* Marks a request forwarded by another node (see http_forward). */
#define CORE_FORWARDED_HEADER "x-clusterd-forwarded"

struct core {
	const struct core_ops *ops; /* borrowed, static */
	void *ctx;
};

/* Frees a kv_list result. */
void core_kv_keys_free(struct core_kv_key *v, size_t n);

/* --- The token format (node/core.c; libsodium) ------------------------ */

/* Makes a fresh token: writes "ID.SECRET" (NUL-terminated) into
 * str[CORE_TOKEN_STR_LEN + 1] and fills id and hash of *t (other fields
 * are the caller's). Random from libsodium. */
void core_token_new(struct core_token *t, char *str);
/* Splits "ID.SECRET": 0 with id (NUL-terminated) and hash, or
 * ERR_MALFORMED for anything of the wrong shape. */
int core_token_parse(const char *str, size_t len,
		     char id[CORE_TOKEN_ID_LEN + 1],
		     uint8_t hash[CORE_HASH_LEN]);
/* hash = generichash(secret characters). */
void core_token_hash(const char *secret, size_t len,
		     uint8_t hash[CORE_HASH_LEN]);
/* 1 if a token record is usable at wall time now_ms: not revoked, not
 * expired (a join handshake checks this; the secret is proven by the PSK). */
int core_token_live(const struct core_token *t, uint64_t now_ms);
/* 1 if a token record authorises a request at wall time now_ms: live, and
 * its hash equals `hash` (compared in constant time, first). */
int core_token_ok(const struct core_token *t, const uint8_t *hash,
		  uint64_t now_ms);

/* Draws an RCON password: CORE_INST_PW_LEN lowercase hex characters and
 * a NUL into pw (libsodium). */
void core_inst_password(char pw[CORE_INST_PW_LEN + 1]);
/* 1 if s is a valid instance or save name (rule above). */
int core_inst_name_ok(const char *s);

/* --- Encoding for the state machine (node/cmd.c; links storage) -------- */

/* Encodes cmd as a storage command (storage/kvrev.h, storage/cdomain.h),
 * wrapped in its client's session (storage/session.h) when it carries an
 * Idempotency-Key. On success the caller frees *out. ERR_INVAL for a
 * command out of bounds. The core's `write` uses it; so does the fake
 * core in tests. */
int core_cmd_encode(const struct core_cmd *cmd, uint8_t **out, size_t *len);

/* The local reads of core_ops over a store (the owner thread), for the
 * core's implementation and the tests' fake alike: same contracts as the
 * ops of the same names. */
struct stor;
int core_stor_kv_get(struct stor *s, const char *ns, size_t ns_len,
		     const uint8_t *key, size_t key_len,
		     struct core_kv_value *out);
int core_stor_kv_list(struct stor *s, const char *ns, size_t ns_len,
		      const uint8_t *prefix, size_t prefix_len,
		      const uint8_t *after, size_t after_len, size_t max,
		      struct core_kv_key **out, size_t *n, int *more);
int core_stor_token_get(struct stor *s, const char *id,
			struct core_token *out);
int core_stor_token_list(struct stor *s, struct core_token *out, size_t max,
			 size_t *n);
int core_stor_inst_get(struct stor *s, const char *name_or_id,
		       struct core_instance *out);
int core_stor_inst_list(struct stor *s, struct core_instance *out,
			size_t max, size_t *n);
int core_stor_player_list(struct stor *s, const char *after,
			  struct core_player *out, size_t max, size_t *n);
/* Fills r->current_rev after a command applied on this store: for a KV
 * command whose result is ERR_CONFLICT or ERR_NOTFOUND, the key's
 * revision now (0 = absent); 0 otherwise. */
void core_stor_fill_rev(struct stor *s, const struct core_cmd *cmd,
			struct core_write_result *r);
/* After a command with an Idempotency-Key applied on this store: replaces
 * r->index and r->result with what the session record says for (client,
 * seq), the first attempt's, so a repeat answers like the first. Returns
 * 1 when the record names an earlier entry than r->index (deduplicated). */
int core_stor_session_answer(struct stor *s, const struct core_cmd *cmd,
			     struct core_write_result *r);

#endif
