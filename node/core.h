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

struct cJSON; /* cjson/cJSON.h: the Lua module's events (issue 13) */

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
	/* u.inst: id, auto_start, exclude_from_start_all, stop_timeout_ms,
	 * settings (the whole configuration, replaced). */
	CORE_CMD_INST_CONFIG = 9,
	/* Inventory sync (issue 14; numbers 70-79), u.inv. ACQUIRE player,
	 * instance, node; RELEASE player, instance, gen; UPLOAD player,
	 * instance, gen, release, json; EXPIRE player, gen, why;
	 * ADMIN_RELEASE player, admin; IMPORT player, admin, json. */
	CORE_CMD_INV_ACQUIRE = 70,
	CORE_CMD_INV_RELEASE = 71,
	CORE_CMD_INV_UPLOAD = 72,
	CORE_CMD_INV_EXPIRE = 73,
	CORE_CMD_INV_ADMIN_RELEASE = 74,
	CORE_CMD_INV_IMPORT = 75,
	/* Items (issue 13), u.items: the item ledger's commands
	 * (storage/ledger.h says what each does). */
	CORE_CMD_ITEMS_EXPORT = 80,
	CORE_CMD_ITEMS_REQUEST = 81,
	CORE_CMD_ITEMS_ALLOCATE = 82,
	CORE_CMD_ITEMS_CONFIRM = 83,
	CORE_CMD_ITEMS_CONFIG = 84,
	/* Player tracking (issue 12, lua helper; numbers 40-49), u.player:
	 * a join (joins + 1) or a leave (online_ms added) of a user on an
	 * instance, in the replicated "players" domain (10). */
	CORE_CMD_PLAYER_EVENT = 40,
	/* Users and roles (issue 13; numbers 60-69): USER_CREATE u.user;
	 * USER_UPDATE u.users; USER_DELETE u.user.name; ROLE_PUT u.role;
	 * ROLE_DEL u.role.name. */
	CORE_CMD_USER_CREATE = 60,
	CORE_CMD_USER_UPDATE = 61,
	CORE_CMD_USER_DELETE = 62,
	CORE_CMD_ROLE_PUT = 63,
	CORE_CMD_ROLE_DEL = 64,
};

/* Users, roles and permissions (issue 13; storage/udomain.h has the
 * rules). A user is a Factorio name (1..64 bytes of [A-Za-z0-9_.-],
 * unique without regard to case) with admin, whitelisted and banned
 * flags; a role is a set of permissions "resource.verb" where "*" matches
 * a whole part ("*.read", "instance.*", "*"). The built-in roles are
 * "admin" ("*") and "read" ("*.read"). A token's permissions are those of
 * its roles and of its user's roles; a token without roles (made before
 * roles existed) has the role its role field names. */
#define CORE_USER_NAME_MAX 64
#define CORE_USER_REASON_MAX 200
#define CORE_ROLE_NAME_MAX 32
#define CORE_ROLE_DESC_MAX 200
#define CORE_PERM_MAX 48
#define CORE_ROLE_PERMS_MAX 64
#define CORE_ROLES_PER_MAX 8   /* roles of one user or token */
#define CORE_USERS_MAX 10000   /* users a list returns at most */
#define CORE_ROLES_MAX 256     /* roles a list returns at most */
#define CORE_USER_BATCH_MAX 500 /* updates in one USER_UPDATE */

enum core_user_field {
	CORE_USER_F_ADMIN = 1,
	CORE_USER_F_WHITELIST = 2,
	CORE_USER_F_BAN = 4, /* banned and reason */
	CORE_USER_F_ROLES = 8,
};

struct core_user {
	char name[CORE_USER_NAME_MAX + 1];
	uint8_t admin, whitelisted, banned;
	char reason[CORE_USER_REASON_MAX + 1];
	uint8_t nroles;
	char roles[CORE_ROLES_PER_MAX][CORE_ROLE_NAME_MAX + 1];
	uint64_t updated; /* log index of the last change */
	uint64_t origin;  /* instance whose game made it; 0: the API */
};

/* One user's update: the fields of u that mask names. */
struct core_user_upd {
	struct core_user u;
	uint8_t mask; /* enum core_user_field bits */
};

struct core_role_def {
	char name[CORE_ROLE_NAME_MAX + 1];
	char desc[CORE_ROLE_DESC_MAX + 1];
	uint8_t builtin;
	uint8_t nperms;
	char perms[CORE_ROLE_PERMS_MAX][CORE_PERM_MAX + 1];
};

/* Inventory sync (issue 14): player names as instance names; the JSON of
 * one inventory up to CORE_INV_JSON_MAX bytes (compressed when stored,
 * and at most about 1 MiB then: a forwarded write's bound). */
#define CORE_INV_PLAYER_MAX 64
#define CORE_INV_JSON_MAX (4u << 20)
/* Why a lock was freed (core_inv_lock.why, and EXPIRE's reason). */
enum core_inv_why {
	CORE_INV_WHY_NONE = 0,
	CORE_INV_WHY_RELEASED = 1,
	CORE_INV_WHY_INSTANCE_STOPPED = 2,
	CORE_INV_WHY_NODE_DEAD = 3,
	CORE_INV_WHY_ADMIN = 4,
};

/* A player's lock and the header of their stored inventory. */
struct core_inv_lock {
	char player[CORE_INV_PLAYER_MAX + 1];
	uint8_t held;
	uint64_t instance, node, gen; /* holder (0 when free), generation */
	uint64_t since;               /* log index of the last change */
	uint8_t why;                  /* enum core_inv_why of the last free */
	char by[CORE_NAME_MAX + 1];   /* the admin who released or imported */
	uint8_t stored;               /* 1: an inventory is stored */
	uint64_t stored_gen, stored_instance, stored_index;
	uint32_t raw_len, stored_len;
};

/* Instances: names (instance and save) match
 * [A-Za-z0-9_-][A-Za-z0-9_.-]{0,63} (one plain path component); the RCON
 * password is CORE_INST_PW_LEN hex characters, drawn by the proposer. */
#define CORE_INST_NAME_MAX 64
#define CORE_INST_PW_LEN 32
#define CORE_INST_MAX 1024
#define CORE_INST_CAUSE_MAX 200
/* Overridden server settings: JSON text of an object (storage bound). */
#define CORE_INST_SETTINGS_MAX 2048

enum core_inst_act {
	CORE_INST_KILL = 1,
	CORE_INST_RESTART = 2,
};

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
	uint8_t exclude_from_start_all; /* start-all leaves it alone */
	uint64_t stop_timeout_ms;       /* 0: the node's default */
	/* server-settings.json fields that override the defaults, as JSON
	 * text of an object; "" for none. May hold secrets (game_password,
	 * token): the API masks them. */
	char settings[CORE_INST_SETTINGS_MAX + 1];
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
	/* The install's version (data/changelog.txt) at the last start. */
	char factorio_version[CORE_WORD_MAX];
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
	/* Issue 13: roles of an API token and the user it belongs to (""
	 * none); nroles 0 means the role field decides. */
	uint8_t nroles;
	char roles[CORE_ROLES_PER_MAX][CORE_ROLE_NAME_MAX + 1];
	char user[CORE_USER_NAME_MAX + 1];
};

/* ---- Items (issue 13): the item ledger, as storage/ledger.h keeps it.
 * Names and qualities match [a-z0-9_-] (1..64 and 1..32 characters). */
#define CORE_ITEM_NAME_MAX 64
#define CORE_ITEM_QUALITY_MAX 32
#define CORE_ITEM_LINES_MAX 64
#define CORE_ITEM_COUNT_MAX (1ull << 30)
#define CORE_ITEMS_MAX 4096
#define CORE_ITEMS_HISTORY 64
#define CORE_ITEMS_GRANTS_MAX 1024
#define CORE_ITEMS_REFUSED_N 6
/* Names of the refusal counters, in order (core_items_info.refused). */
#define CORE_ITEMS_REFUSED_NAMES                                              \
	{"malformed", "unknown_instance", "wrong_node", "forged_seq",        \
	 "duplicate", "bad_grant"}

struct core_item_line {
	char name[CORE_ITEM_NAME_MAX + 1];
	char quality[CORE_ITEM_QUALITY_MAX + 1];
	uint64_t count;
};

struct core_item {
	char name[CORE_ITEM_NAME_MAX + 1];
	char quality[CORE_ITEM_QUALITY_MAX + 1];
	uint64_t stock, exported, delivered, in_flight;
};

struct core_item_event {
	uint64_t index;            /* the log entry */
	char kind[CORE_WORD_MAX];  /* export, grant, deliver, return, expire */
	uint64_t instance, count;
};

struct core_item_grant {
	uint64_t id, instance, created_ms;
	size_t n;
	struct core_item_line lines[CORE_ITEM_LINES_MAX];
};

struct core_item_flow {
	uint64_t instance;
	uint64_t exported, delivered, returned;
};

struct core_items_info {
	char mode[CORE_WORD_MAX]; /* proportional, simple */
	uint64_t timeout_ms, now_ms;
	uint64_t refused[CORE_ITEMS_REFUSED_N];
	uint64_t demands, grants; /* waiting requests, grants in flight */
};

/* A ledger command (CORE_CMD_ITEMS_*); lines borrowed for the write. */
struct core_items_cmd {
	uint64_t instance, node, seq, wall_ms, grant;
	char mode[CORE_WORD_MAX]; /* CONFIG: proportional or simple */
	uint64_t timeout_ms;      /* CONFIG */
	size_t n;
	const struct core_item_line *lines;
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
		struct core_items_cmd items; /* CORE_CMD_ITEMS_* */
		struct {
			const char *player;
			uint64_t instance, node, gen;
			uint8_t release, why;
			const char *admin; /* may be NULL */
			const char *json;  /* UPLOAD, IMPORT */
			size_t json_len;
		} inv; /* CORE_CMD_INV_* */
		struct {
			char name[CORE_PLAYER_NAME_MAX];
			uint64_t instance;
			uint8_t join;       /* 1: join, 0: leave */
			uint64_t online_ms; /* leave: the session's length */
		} player; /* CORE_CMD_PLAYER_EVENT */
		/* Issue 13. USER_UPDATE: upd[0..n) borrowed for the call;
		 * upsert 1 creates unknown names; origin: the instance whose
		 * game made the change (0: the API). */
		struct {
			const struct core_user_upd *upd;
			size_t n;
			uint8_t upsert;
			uint64_t origin;
		} users;
		struct core_user user; /* USER_CREATE, USER_DELETE */
		struct core_role_def role; /* ROLE_PUT, ROLE_DEL */
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

/* --- Saves (issue 12; node/instances/saves.c, pull.c) -----------------
 * A save is the file "<name>.zip" in <instances_dir>/<instance>/saves/
 * on the node its instance is assigned to; <name> follows the instance
 * name rule above (so no '/', no "..", no leading '.'). Files whose name
 * starts with '.' in that folder are work in progress (uploads, copies,
 * creations) and never listed. An upload comes in parts of at most
 * CORE_SAVE_PART_MAX bytes (h2o 2.2 buffers a request body whole, so a
 * part bounds the memory a request takes on every node it crosses);
 * the parts of one upload share an upload id (1..CORE_UPLOAD_ID_MAX of
 * [A-Za-z0-9_-]) and append, in order, to a hidden temporary file; the
 * last one checks the file as a save zip (libzip) and renames it into
 * place, or removes it and changes nothing. */
#define CORE_SAVE_NAME_MAX (CORE_INST_NAME_MAX + 4)
#define CORE_SAVES_MAX 256
#define CORE_SAVE_PART_MAX (1u << 20)
#define CORE_UPLOAD_ID_MAX 32
/* A save larger than this is refused (the largest known saves are a
 * few hundred MiB). */
#define CORE_SAVE_SIZE_MAX (64ull << 30)

struct core_save {
	char name[CORE_SAVE_NAME_MAX + 1];
	uint64_t size;
	uint64_t mtime_ms; /* wall clock */
};

/* One part of an upload; every pointer is borrowed for the call. */
struct core_save_part {
	const char *inst;   /* instance name */
	const char *save;   /* "<name>.zip" */
	const char *upload; /* upload id */
	uint64_t offset;    /* where data goes; 0 starts the upload over */
	uint64_t total;     /* the whole file's size */
	int overwrite;      /* 1: replace an existing save of that name */
	const uint8_t *data;
	size_t len;
};

/* A new map (Factorio's --create). Pointers borrowed for the call. */
struct core_save_create {
	uint64_t id;        /* the instance's id (for its status) */
	const char *inst;   /* instance name */
	const char *save;   /* "<name>.zip" */
	int has_seed;
	uint64_t seed;            /* --map-gen-seed */
	const char *map_gen_json; /* --map-gen-settings content, or NULL */
	const char *map_json;     /* --map-settings content, or NULL */
};

struct core_save_rd;
struct core_pull;

/* The outcome of one upload part (core_ops.save_put): status, the bytes
 * the upload holds now (on ERR_CONFLICT: where the next part must
 * start), and for a refused save what is wrong with it (or NULL). */
typedef void (*core_save_put_cb)(void *arg, int status, uint64_t received,
				 const char *why);

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
	/* Issue 12 (ops): acts on an instance assigned to this node.
	 * CORE_INST_KILL: SIGKILL now (no save), then this node proposes
	 * desired stopped; cb runs once that write is applied (or failed).
	 * CORE_INST_RESTART: SIGTERM (the server saves and exits), then it
	 * starts again; cb runs at once. ERR_NOTFOUND: not here. */
	int (*inst_act)(void *ctx, uint64_t id, int what, uint64_t deadline_ms,
			void (*cb)(void *arg, int status), void *arg);
	/* The newest lines of an instance's log kept on this node (its
	 * memory ring, else the tail of its log file), oldest first, each
	 * ending in '\n': a malloc'd text the caller frees. ERR_NOTFOUND
	 * when this node has no log of it. */
	int (*inst_log_tail)(void *ctx, uint64_t id, size_t max_lines,
			     char **out, size_t *len);
	/* Follows an instance's log: cb gets each new line (borrowed for the
	 * call, without '\n') until inst_log_unfollow(handle). cb with line
	 * NULL: the instance is gone from this node (the follow ended; call
	 * unfollow still). ERR_NOTFOUND when it is not here. */
	int (*inst_log_follow)(void *ctx, uint64_t id,
			       void (*cb)(void *arg, const char *line,
					  size_t len),
			       void *arg, void **handle);
	void (*inst_log_unfollow)(void *ctx, void *handle);
	/* A GET to another node's API ("IP:PORT") whose answer streams
	 * (path and auth copied, CORE_FORWARDED_HEADER sent): on_data for
	 * each piece as it arrives (borrowed for the call), then on_end once
	 * (status 0 with the HTTP code, or an error). After
	 * http_stream_cancel(handle) neither runs again. ERR_AGAIN: too many
	 * streams at once. */
	int (*http_stream_open)(void *ctx, const char *http_addr,
				const char *path, const char *auth,
				void (*on_data)(void *arg, const char *p,
						size_t n),
				void (*on_end)(void *arg, int status, int code),
				void *arg, void **handle);
	void (*http_stream_cancel)(void *ctx, void *handle);
	/* Items (issue 13, node/items_core.c). Local reads of the applied
	 * ledger, like kv_get. items_get: ERR_NOTFOUND for an item never
	 * exported. Lists: up to max, in key order; history oldest first. */
	int (*items_list)(void *ctx, struct core_item *out, size_t max,
			  size_t *n);
	int (*items_get)(void *ctx, const char *name, const char *quality,
			 struct core_item *out);
	int (*items_history)(void *ctx, const char *name, const char *quality,
			     struct core_item_event *out, size_t max,
			     size_t *n);
	int (*items_grants)(void *ctx, struct core_item_grant *out, size_t max,
			    size_t *n);
	int (*items_flows)(void *ctx, struct core_item_flow *out, size_t max,
			   size_t *n);
	int (*items_info)(void *ctx, struct core_items_info *out);
	/* The grant in flight to an instance; ERR_NOTFOUND if none. */
	int (*items_grant_of)(void *ctx, uint64_t instance,
			      struct core_item_grant *out);
	/* Node-local data (not replicated; the items outbox uses keys
	 * "items/outbox/..."): synced; one batch of puts and deletes is
	 * atomic. local_get: ERR_NOTFOUND if absent, else the caller frees
	 * *v. del[i] != 0 deletes keys[i] (vals[i] unused). */
	int (*local_get)(void *ctx, const char *key, uint8_t **v, size_t *n);
	int (*local_batch)(void *ctx, const char *const *keys,
			   const uint8_t *const *vals, const size_t *lens,
			   const int *del, size_t n);

	/* Saves (issue 12; see above). Every op is about this node's files
	 * (the caller checked that the instance is assigned here) and
	 * answers ERR_NOTFOUND when this node runs no instance manager.
	 * save_list: up to max in name order. save_put: writes one part
	 * off the loop thread (part->data borrowed until cb) and calls cb;
	 * the last part completes with 0 once the save is in place,
	 * ERR_MALFORMED (why says what is wrong with the zip) or
	 * ERR_EXISTS (no overwrite); ERR_INVAL for a part out of bounds.
	 * save_open/read/close: a save's bytes, one buffer at a time (*p
	 * borrowed until the next read or close), read ahead off the loop
	 * thread: save_read answers ERR_AGAIN while the next buffer is
	 * not in, and wake(arg) runs when it is (or a read failed). save_rename and
	 * save_delete are synchronous; save_copy (also into another
	 * instance of this node) and save_create complete through cb (the
	 * latter once the game wrote the new map; the instance shows
	 * creating_save meanwhile). ERR_EXISTS: the target name is taken;
	 * ERR_BUSY: a creation runs already for that instance. */
	int (*save_list)(void *ctx, const char *inst, struct core_save *out,
			 size_t max, size_t *n);
	int (*save_put)(void *ctx, const struct core_save_part *part,
			core_save_put_cb cb, void *arg);
	int (*save_open)(void *ctx, const char *inst, const char *save,
			 void (*wake)(void *arg), void *arg,
			 struct core_save_rd **out, uint64_t *size);
	int (*save_read)(void *ctx, struct core_save_rd *r, const uint8_t **p,
			 size_t *len, int *done);
	void (*save_close)(void *ctx, struct core_save_rd *r);
	int (*save_rename)(void *ctx, const char *inst, const char *save,
			   const char *to);
	int (*save_delete)(void *ctx, const char *inst, const char *save);
	int (*save_copy)(void *ctx, const char *inst, const char *save,
			 const char *dst_inst, const char *to, core_done_cb cb,
			 void *arg);
	int (*save_create)(void *ctx, const struct core_save_create *c,
			   core_done_cb cb, void *arg);
	/* A streamed GET from another node's API (http_forward's rules
	 * otherwise): pull_next gives the answer's body a piece at a
	 * time, with a bounded buffer between the socket and the caller;
	 * ERR_AGAIN: nothing yet, and wake(arg) runs on the loop thread
	 * when there is (head known, data, end or failure). pull_head:
	 * ERR_AGAIN until the answer's status is known; *length -1 when
	 * it has none. pull_close ends it (also early: the transfer is
	 * aborted) and frees p; wake never runs after it. */
	int (*http_pull)(void *ctx, const char *http_addr, const char *path,
			 const char *auth, void (*wake)(void *arg), void *arg,
			 struct core_pull **out);
	int (*pull_head)(void *ctx, struct core_pull *p, int *code,
			 int64_t *length);
	int (*pull_next)(void *ctx, struct core_pull *p, const uint8_t **data,
			 size_t *len, int *done);
	void (*pull_close)(void *ctx, struct core_pull *p);
	/* Inventory sync (issue 14): local reads of the applied state.
	 * inv_get: ERR_NOTFOUND for a player never seen. inv_list: up to max
	 * in player order strictly after `after` ("" or NULL: from the
	 * first); held_only: held locks only, without the stored record's
	 * header (what lock expiry looks at, cheaply). inv_data: the stored JSON (the caller frees *json,
	 * NUL-terminated), with its header in *lock; ERR_NOTFOUND when none
	 * is stored. May be NULL in a core without them. */
	int (*inv_get)(void *ctx, const char *player, struct core_inv_lock *out);
	int (*inv_list)(void *ctx, const char *after, int held_only,
			struct core_inv_lock *out, size_t max, size_t *n);
	int (*inv_data)(void *ctx, const char *player, struct core_inv_lock *lock,
			char **json, size_t *len);
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
	/* Users, roles and permissions (issue 13; NULL in a core without
	 * them). Local reads of the applied state, like kv_get: user_get
	 * finds a name without regard to case; ERR_NOTFOUND when absent.
	 * Lists: up to max records in key order (users by lowercase name;
	 * roles with the built-in ones first). */
	int (*user_get)(void *ctx, const char *name, struct core_user *out);
	int (*user_list)(void *ctx, struct core_user *out, size_t max,
			 size_t *n);
	int (*role_get)(void *ctx, const char *name, struct core_role_def *out);
	int (*role_list)(void *ctx, struct core_role_def *out, size_t max,
			 size_t *n);
	/* The instance manager's hooks into node/users.c (through
	 * core_users_game_line and core_users_write_files below): a line
	 * of an instance's stdout (borrowed for the call), and the user list
	 * files to write into an instance's folder before it starts (0 or
	 * an error, which fails the start). */
	void (*users_game_line)(void *ctx, uint64_t instance,
				const char *line);
	int (*users_write_files)(void *ctx, uint64_t instance,
				 const char *dir);
	/* An event of the clusterd Lua module (node/users.h's
	 * users_game_event): 1 if taken (a ban, unban, promote or demote,
	 * acknowledged by node/users.c), 0 to handle it yourself. */
	int (*users_game_event)(void *ctx, uint64_t instance, uint64_t msg_id,
				const struct cJSON *msg);
	/* A server this node adopted (it kept running while the node was
	 * down, so its list files predate what changed meanwhile): send it
	 * the lists as they are now. */
	void (*users_adopted)(void *ctx, uint64_t instance);
};

/* Marks a request forwarded by another node (see http_forward). */
#define CORE_FORWARDED_HEADER "x-clusterd-forwarded"

struct core {
	const struct core_ops *ops; /* borrowed, static */
	void *ctx;
};

/* The hooks above, for the instance manager: no-ops (0) when the core
 * has none (node/users_hook.c). */
void core_users_game_line(const struct core *c, uint64_t instance,
			  const char *line);
int core_users_write_files(const struct core *c, uint64_t instance,
			   const char *dir);
int core_users_game_event(const struct core *c, uint64_t instance,
			  uint64_t msg_id, const struct cJSON *msg);
void core_users_adopted(const struct core *c, uint64_t instance);
/* 1 if the permission pattern (a role's entry) grants perm. */
int core_perm_match(const char *pattern, const char *perm);

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
/* 1 if s is a valid save file name: "<name>.zip", name as above. */
int core_save_name_ok(const char *s);
/* 1 if s is a valid upload id (1..CORE_UPLOAD_ID_MAX of [A-Za-z0-9_-]). */
int core_upload_id_ok(const char *s);
/* Server settings (node/inst_settings.c). check: 0 if the text ("" or a
 * JSON object) names only known server-settings.json fields with values
 * of their type; else ERR_INVAL with the reason in err. core_inst_settings
 * returns the settings a server gets: the defaults with the overrides
 * applied (mask: secrets shown as "********"), a cJSON object the caller
 * frees with cJSON_Delete; NULL without memory. */
struct cJSON;
int core_inst_settings_check(const char *text, char *err, size_t size);
int core_inst_settings_check_json(const struct cJSON *o, char *err,
				  size_t size);
struct cJSON *core_inst_settings(const char *overrides, int mask);

/* --- Encoding for the state machine (node/cmd.c; links storage) -------- */

/* Encodes cmd as a storage command (storage/kvrev.h, storage/cdomain.h),
 * wrapped in its client's session (storage/session.h) when it carries an
 * Idempotency-Key. On success the caller frees *out. ERR_INVAL for a
 * command out of bounds. The core's `write` uses it; so does the fake
 * core in tests. */
int core_cmd_encode(const struct core_cmd *cmd, uint8_t **out, size_t *len);
/* node/items_core.c: a CORE_CMD_ITEMS_* command as a ledger command. */
int core_items_encode(const struct core_cmd *cmd, uint8_t **out,
		      size_t *len);

/* node/cmd_users.c, for node/cmd.c: the users domain's commands, and
 * the token fields issue 13 added. */
struct stor_cl_token;
int core_users_cmd_encode(const struct core_cmd *cmd, uint8_t **out,
			  size_t *len);
void core_token_roles_to_stor(const struct core_token *t,
			      struct stor_cl_token *o);
void core_token_roles_from_stor(const struct stor_cl_token *t,
				struct core_token *o);

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
/* The CORE_CMD_INV_* commands (node/inv_cmd.c), as core_cmd_encode. */
int core_inv_encode(const struct core_cmd *cmd, uint8_t **out, size_t *len);
int core_stor_inv_get(struct stor *s, const char *player,
		      struct core_inv_lock *out);
int core_stor_inv_list(struct stor *s, const char *after, int held_only,
		       struct core_inv_lock *out, size_t max, size_t *n);
int core_stor_inv_data(struct stor *s, const char *player,
		       struct core_inv_lock *lock, char **json, size_t *len);
/* Items (node/items_core.c). */
int core_stor_items_list(struct stor *s, struct core_item *out, size_t max,
			 size_t *n);
int core_stor_items_get(struct stor *s, const char *name,
			const char *quality, struct core_item *out);
int core_stor_items_history(struct stor *s, const char *name,
			    const char *quality, struct core_item_event *out,
			    size_t max, size_t *n);
int core_stor_items_grants(struct stor *s, struct core_item_grant *out,
			   size_t max, size_t *n);
int core_stor_items_flows(struct stor *s, struct core_item_flow *out,
			  size_t max, size_t *n);
int core_stor_items_info(struct stor *s, struct core_items_info *out);
int core_stor_items_grant_of(struct stor *s, uint64_t instance,
			     struct core_item_grant *out);
int core_stor_player_list(struct stor *s, const char *after,
			  struct core_player *out, size_t max, size_t *n);
int core_stor_user_get(struct stor *s, const char *name,
		       struct core_user *out);
int core_stor_user_list(struct stor *s, struct core_user *out, size_t max,
			size_t *n);
int core_stor_role_get(struct stor *s, const char *name,
		       struct core_role_def *out);
int core_stor_role_list(struct stor *s, struct core_role_def *out, size_t max,
			size_t *n);
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
