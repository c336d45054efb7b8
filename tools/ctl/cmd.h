/*
 * cmd.h: clusterctl's cluster, kv and token commands (cmd_*.c), and what
 * they share: where to send requests, with which token, and the options a
 * command may take.
 *
 * Each command is one function `int ctl_cmd_...(const struct ctl_ctx *c,
 * int argc, char **argv)` with argv the positional arguments after the
 * command's words; it returns the exit status:
 *   0 success; 1 the node is unreachable or failed (a 503 says to retry);
 *   2 usage; 3 not found (404); 4 compare-and-set conflict (409; the
 *   current revision on stderr); 5 refused (401/403: token missing, wrong,
 *   revoked or without the role).
 *
 * The API token comes from --token, else $CLUSTERD_TOKEN, else the config
 * file (node/core.h): --config FILE, else $CLUSTERD_CONFIG, else
 * $HOME/.config/clusterd/clusterctl.json, a JSON object {"node": URL,
 * "token": "ID.SECRET"}; `clusterd init` writes one. The node URL comes
 * from --node, else $CLUSTERD_NODE, else the file, else the default.
 */
#ifndef CLUSTERD_CTL_CMD_H
#define CLUSTERD_CTL_CMD_H

#include <stddef.h>
#include <stdint.h>

#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_NOTFOUND 3
#define CTL_EXIT_CONFLICT 4
#define CTL_EXIT_REFUSED 5

/* A kv value read from stdin or given as an argument (the API's bound). */
#define CTL_VALUE_MAX (1u << 20)

struct ctl_ctx {
	const char *url;     /* "http://host:port", no trailing slash */
	const char *token;   /* API token, or NULL */
	int token_from_flag; /* the token came from --token (join uses it) */
	int json;            /* --json: print the node's JSON */
	/* Per-command options (given anywhere on the line). */
	int has_cas;
	uint64_t cas;      /* --cas R */
	int stale;         /* --stale */
	const char *role;  /* --role admin|read */
	const char *name;  /* --name LABEL */
	long ttl_s;        /* --ttl SECONDS, 0: default */
};

/* Fills url and token from flags, environment and the config file (see
 * above). Strings land in buffers owned by the call's static storage, so
 * *c stays valid for the process. Returns 0, or CTL_EXIT_USAGE with a
 * message on stderr (an unreadable or malformed config file). */
int ctl_ctx_resolve(struct ctl_ctx *c, const char *node_flag,
		    const char *token_flag, const char *config_flag,
		    const char *default_url);

/* The commands (cmd_cluster.c, cmd_kv.c, cmd_token.c). */
int ctl_cmd_join(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_leave(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_members(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_raft_status(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_raft_transfer(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_kv_get(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_kv_put(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_kv_delete(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_kv_list(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_token_create(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_token_list(const struct ctl_ctx *c, int argc, char **argv);
int ctl_cmd_token_revoke(const struct ctl_ctx *c, int argc, char **argv);

/* --- Shared by the commands (cmd_common.c) ---------------------------- */

struct ctl_http_resp {
	long status;      /* HTTP status */
	char *body;       /* NUL-terminated; free() */
	size_t len;
	char revision[32]; /* X-Clusterd-Revision, or "" */
};

/* One request: METHOD url+path with body[0..len) (may be NULL), the
 * bearer token when auth is 1. 0 with *r filled (any status), or -1 with
 * a message on stderr (unreachable, timeout, answer too large). */
int ctl_http(const struct ctl_ctx *c, const char *method, const char *path,
	     const void *body, size_t len, int auth, struct ctl_http_resp *r);
/* Maps a non-2xx answer to a message on stderr (the node's "error" text)
 * and an exit status. */
int ctl_http_fail(const struct ctl_http_resp *r, const char *what);
/* Appends s percent-encoded (all but unreserved characters and, when
 * keep_slash, '/') to buf; 0, or -1 if it does not fit. */
int ctl_pct_encode(const char *s, size_t n, int keep_slash, char *buf,
		   size_t size);

#endif
