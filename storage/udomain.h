/*
 * udomain.h: the "users" domain of the state machine (issue 13): the
 * Factorio players the cluster knows (admin, whitelisted, banned with a
 * reason), and the roles that carry API permissions. Every node pushes
 * the player lists to the servers it runs (node/users.c); the API checks
 * a token's roles against the permission of each route.
 *
 * Records (domain key -> value, values msgpack [version, record]):
 *   "u" | lowercase(name)   a user (below). Factorio names are unique
 *                           without regard to case, so the key is the
 *                           name folded to lowercase (ASCII: names are
 *                           ASCII) and the record keeps the spelling it
 *                           was created with.
 *   "r" | role name         a role: name, description, permissions.
 * The built-in roles "admin" (permission "*") and "read" ("*.read") are
 * not stored: readers synthesise them, and commands may not replace or
 * delete them.
 *
 * Commands: body [op, ...]:
 *   CREATE   [0, user]                 ERR_EXISTS if the name is taken
 *                                      (in any case)
 *   UPDATE   [1, [upd, ...], upsert, origin]
 *            1..STOR_USER_BATCH_MAX updates, applied together: each sets
 *            the fields its mask names. upsert 0: ERR_NOTFOUND if any
 *            name is unknown (nothing changes); upsert 1 creates unknown
 *            names (an import, or a ban typed in a game for a player the
 *            cluster has not seen). origin: the instance whose game made
 *            the change (0: the API), kept in each record so the node of
 *            that instance does not push the change back to it.
 *   DELETE   [2, name]                 ERR_NOTFOUND
 *   ROLE_PUT [3, role]                 creates or replaces; ERR_CONFLICT
 *                                      for a built-in role
 *   ROLE_DEL [4, name]                 ERR_NOTFOUND; ERR_CONFLICT for a
 *                                      built-in role
 * user = [name, admin, whitelisted, banned, reason, [role, ...], updated,
 * origin]; upd = [name, mask, admin, whitelisted, banned, reason,
 * [role, ...]]; role = [name, description, [permission, ...]].
 * `updated` is the log index of the entry that last changed the record
 * (set by apply, ignored in commands): a change that came back as a
 * second write would show as a newer index.
 *
 * A command is checked whole before its first write, so a refused one
 * changes nothing (storage.h: results do not undo).
 */
#ifndef CLUSTERD_STORAGE_UDOMAIN_H
#define CLUSTERD_STORAGE_UDOMAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

struct stor;

#define STOR_DOMAIN_USERS 6

/* Factorio user names: 1..64 bytes of [A-Za-z0-9_.-] (what the game's
 * account names use; no spaces, so a name is one word of an RCON
 * command). */
#define STOR_USER_NAME_MAX 64
/* A ban reason: up to 200 bytes, no control characters (it travels in an
 * RCON command line and in server-banlist.json). */
#define STOR_USER_REASON_MAX 200
/* Roles: names of 1..32 bytes of [a-z0-9_-]; permissions "resource.verb"
 * of 1..48 bytes of [a-z0-9_.*-] ("*" matches a whole part). */
#define STOR_ROLE_NAME_MAX 32
#define STOR_ROLE_DESC_MAX 200
#define STOR_PERM_MAX 48
#define STOR_ROLE_PERMS_MAX 64
#define STOR_USER_ROLES_MAX 8
/* Bounds on what a list returns (Clusterio's largest known cluster has
 * 400 players; imported ban lists run to a few thousand names). */
#define STOR_USERS_MAX 10000
#define STOR_ROLES_MAX 256
/* Updates in one UPDATE command: an import is cut into commands of this
 * many names (each well under a megabyte). */
#define STOR_USER_BATCH_MAX 500

enum {
	STOR_USER_CREATE = 0,
	STOR_USER_UPDATE = 1,
	STOR_USER_DELETE = 2,
	STOR_ROLE_PUT = 3,
	STOR_ROLE_DEL = 4,
};

/* Which fields an update sets. */
enum {
	STOR_USER_F_ADMIN = 1,
	STOR_USER_F_WHITELIST = 2,
	STOR_USER_F_BAN = 4, /* banned and reason */
	STOR_USER_F_ROLES = 8,
	STOR_USER_F_ALL = 15,
};

struct stor_user {
	char name[STOR_USER_NAME_MAX + 1];
	uint8_t admin, whitelisted, banned;
	char reason[STOR_USER_REASON_MAX + 1]; /* "" unless banned */
	uint8_t nroles;
	char roles[STOR_USER_ROLES_MAX][STOR_ROLE_NAME_MAX + 1];
	uint64_t updated; /* log index of the last change (records only) */
	uint64_t origin;  /* instance of the last change; 0: the API */
};

/* An update: u's fields that mask names (u.updated is ignored). */
struct stor_user_upd {
	struct stor_user u;
	uint8_t mask;
};

struct stor_role {
	char name[STOR_ROLE_NAME_MAX + 1];
	char desc[STOR_ROLE_DESC_MAX + 1];
	uint8_t builtin; /* readers only */
	uint8_t nperms;
	char perms[STOR_ROLE_PERMS_MAX][STOR_PERM_MAX + 1];
};

/* A command; which fields count depends on op (see above). */
struct stor_user_cmd {
	int op;
	struct stor_user user;             /* CREATE; user.name: DELETE */
	const struct stor_user_upd *upd;   /* UPDATE: borrowed, nupd items */
	size_t nupd;
	uint8_t upsert;                    /* UPDATE */
	uint64_t origin;                   /* UPDATE */
	struct stor_role role;             /* ROLE_PUT; role.name: ROLE_DEL */
};

/* Syntax checks (1 if valid), shared with the node and the API. */
int stor_user_name_ok(const char *s);
int stor_user_reason_ok(const char *s);
int stor_role_name_ok(const char *s);
int stor_perm_ok(const char *s);
/* 1 for "admin" and "read". */
int stor_role_builtin(const char *name);

/* Registers the domain (stor_open does so already). */
int stor_user_register(struct stor *s);
/* Encodes a command with its envelope; the caller frees *out. ERR_INVAL
 * for a field out of bounds or a built-in role in ROLE_PUT/ROLE_DEL. */
int stor_user_encode(const struct stor_user_cmd *c, uint8_t **out,
		     size_t *len);
/* Decodes and checks a body without applying it (the fuzzer). */
int stor_user_check(const msgpack_object *body);

/* Reads (outside apply, the owner thread). ERR_NOTFOUND when absent;
 * names are looked up without regard to case. */
int stor_user_get(struct stor *s, const char *name, struct stor_user *out);
/* Up to max users in key order (lowercase name); *n how many. */
int stor_user_list(struct stor *s, struct stor_user *out, size_t max,
		   size_t *n);
/* Built-in roles are found and listed (first) too. */
int stor_role_get(struct stor *s, const char *name, struct stor_role *out);
int stor_role_list(struct stor *s, struct stor_role *out, size_t max,
		   size_t *n);

#endif
