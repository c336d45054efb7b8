/*
 * cmd.h: clusterctl's cluster, kv and token commands (cmd_*.c), and what
 * they share: where to send requests, with which token, and the options a
 * command may take.
 *
 * Each command is one function `int ctl_cmd_...(const struct ctl *c,
 * int argc, char **argv)`, an entry of main.c's command table, with argv
 * the positional arguments after the command's words; it returns the exit
 * status:
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

#include "tools/ctl/client.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_NOTFOUND 3
#define CTL_EXIT_CONFLICT 4
#define CTL_EXIT_REFUSED 5

/* A kv value read from stdin or given as an argument (the API's bound). */
#define CTL_VALUE_MAX (1u << 20)

/* What every command gets: where to send requests and with which token,
 * --json, and the options a command may take (given anywhere on the
 * line; main.c parses them). */
struct ctl {
	struct ctl_target target; /* url and API token (NULL: none) */
	char url[CTL_URL_MAX];
	int json;
	int token_from_flag; /* the token came from --token (join uses it) */
	int has_cas;
	uint64_t cas;     /* --cas R */
	int stale;        /* --stale */
	const char *role; /* --role admin|read */
	const char *name; /* --name LABEL */
	long ttl_s;       /* --ttl SECONDS; 0: the node's default */
	int progress;     /* --progress: snapshot save reports bytes */
	/* save create --seed N, --map-gen-settings F, --map-settings F;
	 * save upload --overwrite; save transfer --copy */
	int has_seed;
	uint64_t seed;
	const char *map_gen_settings, *map_settings;
	int overwrite, copy;
	const char *on;    /* --on NODE: plugin add */
	const char *perms; /* --perms P,P: plugin add */
	int disabled;      /* --disabled: plugin add */
	const char *lua;   /* --lua DIR: plugin add (its game side) */
	/* snapshot restore: passed to `clusterd restore` */
	const char *data_dir, *bind, *http, *advertise;
	/* Issue 13: --reason (user set-banned), --roles and --user (token
	 * create), --description (role set). */
	const char *reason, *roles, *user, *description;
	const char *instance; /* --instance NAME (log follow/query) */
	long lines;           /* --lines N (log); 0: the default */
};

/* Sets target.url and target.token from the flags (NULL when not given),
 * the environment and the config file, as described above. Returns 0, or
 * CTL_EXIT_USAGE with a message on stderr (a config file that was named
 * but is unreadable or not a JSON object, a URL that is not http(s)). */
int ctl_resolve(struct ctl *ctl, const char *node_flag, const char *token_flag,
		const char *config_flag, const char *default_url);

/* The commands (cmd_cluster.c, cmd_kv.c, cmd_token.c, cmd_snapshot.c). */
int ctl_cmd_join(const struct ctl *c, int argc, char **argv);
int ctl_cmd_leave(const struct ctl *c, int argc, char **argv);
int ctl_cmd_members(const struct ctl *c, int argc, char **argv);
int ctl_cmd_raft_status(const struct ctl *c, int argc, char **argv);
int ctl_cmd_raft_transfer(const struct ctl *c, int argc, char **argv);
int ctl_cmd_kv_get(const struct ctl *c, int argc, char **argv);
int ctl_cmd_kv_put(const struct ctl *c, int argc, char **argv);
int ctl_cmd_kv_delete(const struct ctl *c, int argc, char **argv);
int ctl_cmd_kv_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_token_create(const struct ctl *c, int argc, char **argv);
int ctl_cmd_token_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_token_revoke(const struct ctl *c, int argc, char **argv);
int ctl_cmd_snapshot_save(const struct ctl *c, int argc, char **argv);
int ctl_cmd_snapshot_inspect(const struct ctl *c, int argc, char **argv);
int ctl_cmd_snapshot_restore(const struct ctl *c, int argc, char **argv);
/* cmd_instance.c */
int ctl_cmd_instance_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_create(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_show(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_assign(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_start(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_stop(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_delete(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_rcon(const struct ctl *c, int argc, char **argv);
/* cmd_save.c */
int ctl_cmd_save_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_save_create(const struct ctl *c, int argc, char **argv);
int ctl_cmd_save_upload(const struct ctl *c, int argc, char **argv);
int ctl_cmd_save_download(const struct ctl *c, int argc, char **argv);
int ctl_cmd_save_rename(const struct ctl *c, int argc, char **argv);
int ctl_cmd_save_copy(const struct ctl *c, int argc, char **argv);
int ctl_cmd_save_transfer(const struct ctl *c, int argc, char **argv);
int ctl_cmd_save_delete(const struct ctl *c, int argc, char **argv);
/* cmd_player.c (issue 12, player tracking) */
int ctl_cmd_player_list(const struct ctl *c, int argc, char **argv);

/* /api/v1/instances/NAME[/ACTION] with NAME percent-encoded into path;
 * CTL_EXIT_USAGE if it does not fit. */
int ctl_inst_path(const char *name, const char *action, char *path,
		  size_t size);
/* cmd_inst_ops.c */
int ctl_cmd_instance_kill(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_restart(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_start_all(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_stop_all(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_config_get(const struct ctl *c, int argc, char **argv);
int ctl_cmd_instance_config_set(const struct ctl *c, int argc, char **argv);
int ctl_cmd_log_query(const struct ctl *c, int argc, char **argv);
int ctl_cmd_log_follow(const struct ctl *c, int argc, char **argv);
/* Inventory sync (issue 14): cmd_inventory.c. */
int ctl_cmd_inventory_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_inventory_show(const struct ctl *c, int argc, char **argv);
int ctl_cmd_inventory_export(const struct ctl *c, int argc, char **argv);
int ctl_cmd_inventory_import(const struct ctl *c, int argc, char **argv);
int ctl_cmd_inventory_release(const struct ctl *c, int argc, char **argv);
/* cmd_items.c */
int ctl_cmd_items_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_items_show(const struct ctl *c, int argc, char **argv);
int ctl_cmd_items_history(const struct ctl *c, int argc, char **argv);
int ctl_cmd_items_config(const struct ctl *c, int argc, char **argv);
/* cmd_plugin.c */
int ctl_cmd_plugin_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_plugin_add(const struct ctl *c, int argc, char **argv);
int ctl_cmd_plugin_remove(const struct ctl *c, int argc, char **argv);
int ctl_cmd_plugin_enable(const struct ctl *c, int argc, char **argv);
int ctl_cmd_plugin_disable(const struct ctl *c, int argc, char **argv);

/* cmd_user.c (issue 13) */
int ctl_cmd_user_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_show(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_create(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_delete(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_set_admin(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_set_whitelisted(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_set_banned(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_set_roles(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_import(const struct ctl *c, int argc, char **argv);
int ctl_cmd_user_export(const struct ctl *c, int argc, char **argv);
int ctl_cmd_role_list(const struct ctl *c, int argc, char **argv);
int ctl_cmd_role_show(const struct ctl *c, int argc, char **argv);
int ctl_cmd_role_set(const struct ctl *c, int argc, char **argv);
int ctl_cmd_role_delete(const struct ctl *c, int argc, char **argv);
/* "a,b,c" as a JSON array of strings ("" or "-": empty); caller frees. */
cJSON *ctl_split_list(const char *s);

/* --- Shared by the commands (cmd_common.c) ---------------------------- */

/* One request through ctl_request_bytes: the bearer token when auth is 1;
 * a PUT body goes as application/octet-stream, others as JSON. 0 with *r
 * filled (any status; caller frees r->body), or -1 with the reason on
 * stderr. */
int ctl_http(const struct ctl *c, const char *method, const char *path,
	     const void *body, size_t len, int auth, struct ctl_response *r);
/* GETs path (with the token): with --json prints the answer and leaves
 * *j NULL; else *j is the answer, a JSON object (caller frees). Returns
 * an exit status; *j is NULL unless it is 0 without --json. */
int ctl_get_json(const struct ctl *c, const char *path, const char *what,
		 cJSON **j);
/* Sends body (a JSON object, freed here; may be NULL) to path with the
 * token; prints the node's JSON with --json, else "OK_TEXT NAME". Returns
 * an exit status (a non-2xx answer's error on stderr). */
int ctl_send(const struct ctl *c, const char *method, const char *path,
	     cJSON *body, const char *what, const char *ok_text,
	     const char *name);
/* Prints a non-2xx answer's "error" text on stderr and returns its exit
 * status. */
int ctl_http_fail(const struct ctl_response *r, const char *what);
/* Appends s[0..n) percent-encoded (all but unreserved characters and,
 * when keep_slash, '/') to the string in buf; 0, or -1 if it does not
 * fit. */
int ctl_pct_encode(const char *s, size_t n, int keep_slash, char *buf,
		   size_t size);

#endif
