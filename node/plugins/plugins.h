/*
 * plugins.h: plugins (issue 15). A plugin adds a cross-server feature
 * without changing clusterd: its node side is a program in any language
 * that talks to the HTTP API (it follows /api/v1/events, keeps its state
 * in the KV namespace "plugin.<name>", calls instances over RCON), and its
 * game side, if any, is Lua modules patched into saves beside ours.
 *
 * The registry is replicated: one JSON record per plugin in the KV
 * namespace PLUG_NS ("_plugins"; the KV API refuses writes to namespaces
 * starting with '_', so only /api/v1/plugins changes it):
 *
 *   {"name": "chat-relay", "command": ["python3", "/opt/relay.py"],
 *    "node": "*", "enabled": true,
 *    "permissions": ["events.read", "instance.read", "rcon.send"],
 *    "lua": "/opt/chat-relay/lua"}
 *
 * "node" names the node that runs the plugin's process ("*": every node).
 *
 * Each node runs a supervisor (supervisor.c) that makes its machine match
 * the registry, as the instance manager does for instances: a plugin
 * enabled for this node runs, anything else is stopped (SIGTERM, SIGKILL
 * after PLUG_STOP_GRACE_MS). A process that exits is restarted after a
 * backoff (1 s doubling to 60 s; a run of 60 s resets it). Before the
 * first start on a node the supervisor creates an API token for the
 * plugin ("plugin:<name>@<node>", PLUG_TOKEN_TTL_MS) and revokes the
 * earlier ones of that name; the process gets it in its environment:
 *   CLUSTERD_NODE       this node's API base URL (http://IP:PORT)
 *   CLUSTERD_TOKEN      the plugin's token
 *   CLUSTERD_PLUGIN     its name
 *   CLUSTERD_PLUGIN_NS  its KV namespace, "plugin.<name>"
 *   CLUSTERD_NODE_NAME  this node's name
 * Its stdout and stderr become node log lines "plugin <name>: ...".
 * Everything runs on the loop thread; the node reaches the cluster only
 * through node/core.h.
 */
#ifndef CLUSTERD_NODE_PLUGINS_PLUGINS_H
#define CLUSTERD_NODE_PLUGINS_PLUGINS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/trace.h"
#include "node/core.h"

#define PLUG_NS "_plugins"
/* Plugins a cluster registers at most, and their limits. */
#define PLUG_MAX 64
/* "plugin-NAME" is the plugin's role (at most 32 bytes). */
#define PLUG_NAME_MAX 25
#define PLUG_ARGS_MAX 32
#define PLUG_ARG_MAX 1024
#define PLUG_PERMS_MAX 32
#define PLUG_PERM_MAX 32
#define PLUG_STOP_GRACE_MS 5000u
#define PLUG_TOKEN_TTL_MS (30ull * 86400 * 1000)

/* A registry record, parsed. Strings are NUL-terminated copies. */
struct plug_rec {
	char name[PLUG_NAME_MAX + 1];
	char node[CORE_NAME_MAX + 1]; /* "*": every node */
	uint8_t enabled;
	size_t nargs;
	char args[PLUG_ARGS_MAX][PLUG_ARG_MAX + 1];
	size_t nperms;
	char perms[PLUG_PERMS_MAX][PLUG_PERM_MAX + 1];
	/* The game side: an absolute path, on every node that runs
	 * instances, of a folder of Lua modules (each a folder with a
	 * main.lua) patched into every save beside clusterd's while the
	 * plugin is enabled; "" none. */
	char lua[PLUG_ARG_MAX + 1];
};

/* The Lua dirs of the enabled plugins in the registry (core's local
 * state), up to max, each malloc'd into dirs[]; returns how many. */
size_t plug_lua_dirs(const struct core *c, char **dirs, size_t max);

/* registry.c: 1 if s is a valid plugin name ([a-z0-9][a-z0-9_-]{0,24}). */
int plug_name_ok(const char *s, size_t len);
/* 1 if s is a permission "<resource>.<verb>", each part "*" or
 * [a-z0-9_-]+ (as roles have them: "instance.*", "*.read"). */
int plug_perm_ok(const char *s);
/* Parses and validates a record (JSON text of len bytes). 0, or
 * ERR_MALFORMED with a one-line reason in why[why_size]. */
int plug_rec_parse(const char *json, size_t len, struct plug_rec *out,
		   char *why, size_t why_size);
/* The record as JSON text (malloc'd, NUL-terminated; NULL: no memory). */
char *plug_rec_json(const struct plug_rec *r);
/* 1 if the record's plugin should run on the node named `node`. */
int plug_rec_here(const struct plug_rec *r, const char *node);

struct plug_config {
	uv_loop_t *loop;          /* borrowed */
	const struct tracer *log; /* borrowed */
	const struct core *core;  /* borrowed until plug_mgr_stop's cb */
	const char *node_name;    /* copied */
	const char *api_url;      /* copied: http://IP:PORT of this node */
	uint64_t reconcile_ms;    /* 0: 1 s */
	uint64_t backoff_min_ms;  /* 0: 1 s */
};

struct plug_mgr;

int plug_mgr_new(const struct plug_config *cfg, struct plug_mgr **out);
/* The registry may have changed: reconcile on the next loop turn. */
void plug_mgr_kick(struct plug_mgr *m);
/* Copies up to max local states; returns how many. */
size_t plug_mgr_states(struct plug_mgr *m, struct core_plugin_state *out,
		       size_t max);
/* Stops every plugin process, closes every handle, frees m, then
 * done(arg). */
void plug_mgr_stop(struct plug_mgr *m, void (*done)(void *arg), void *arg);

#endif
