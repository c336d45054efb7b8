/*
 * instances.h: the instance manager (issue 12). Each node runs one; it
 * makes this machine match what the replicated instances domain says
 * should run HERE (declarative reconciliation, as Kubernetes' kubelet):
 *
 *   record assigned here, desired running, not running  -> start
 *   running, but desired stopped, deleted or moved away  -> stop
 *   process exited on its own                            -> crash: restart
 *       after a backoff (1 s doubling to 60 s); after INST_CRASHES_MAX
 *       crashes within INST_CRASH_WINDOW_MS, give up and keep the cause.
 *
 * Reconciliation runs when an instances entry is applied (inst_mgr_kick)
 * and once a second (backoffs, and a node that learns its raft id late).
 * A record assigned here without ports gets them from this node's range:
 * the manager proposes an ASSIGN with the lowest free pair (the domain
 * refuses a clash, and the next pass tries again).
 *
 * Start: writes config.ini and server-settings.json into
 * <instances_dir>/<name>/, creates saves/<save>.zip with --create when it
 * is missing, then spawns the server with the real command line. Its
 * stdout is read line by line: "Starting RCON interface" connects RCON
 * (rcon/client.h), the InGame state line marks it running, "Saving
 * finished" counts saves, "already in use" records a port clash as the
 * cause. Stop: SIGTERM (the server saves and exits), SIGKILL after
 * stop_timeout_ms.
 *
 * State is in memory; statuses are those Clusterio users know (core.h's
 * core_inst_state). Everything runs on the loop thread.
 */
#ifndef CLUSTERD_NODE_INSTANCES_INSTANCES_H
#define CLUSTERD_NODE_INSTANCES_INSTANCES_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/trace.h"
#include "node/core.h"

/* Instances one node runs at most (a big machine runs a few dozen). */
#define INST_LOCAL_MAX 64
/* Clusterio's rule: 5 crashes in 10 minutes and the instance is given up. */
#define INST_CRASHES_MAX 5
#define INST_CRASH_WINDOW_MS (10ull * 60 * 1000)
/* The default: a server that does not exit within 300 s of
 * SIGTERM is killed. */
#define INST_STOP_TIMEOUT_MS_DEFAULT (300ull * 1000)

struct inst_mgr;
struct cJSON;

struct ev_bus;
struct inst_config {
	uv_loop_t *loop;             /* borrowed */
	const struct tracer *log;    /* borrowed */
	const struct core *core;     /* borrowed until inst_mgr_stop's cb */
	const char *factorio_dir;    /* copied; "" or NULL: none */
	const char *instances_dir;   /* copied */
	unsigned port_lo, port_hi;   /* inclusive */
	uint64_t stop_timeout_ms;    /* 0: the default */
	/* Restart backoff after a crash: the first delay, doubled per crash
	 * up to 60 s. 0: 1 s (tests make it short). */
	uint64_t backoff_min_ms;
	/* How often reconciliation runs without a kick; 0: 1 s. */
	uint64_t reconcile_ms;
	/* The Lua modules patched into every save before a start (patch.h);
	 * copied. "" or NULL: <executable dir>/../share/clusterd/lua. */
	const char *lua_dir;
	/* The node's event bus (node/events.h), borrowed; NULL: none. Local
	 * status changes are published on it. */
	struct ev_bus *events;
};

/* Creates the manager and starts its timer. 0, ERR_NOMEM or a libuv
 * error. */
int inst_mgr_new(const struct inst_config *cfg, struct inst_mgr **out);
/* The replicated state changed: reconcile on the next loop turn. */
void inst_mgr_kick(struct inst_mgr *m);
/* See core.h's inst_state and inst_rcon. */
int inst_mgr_state(struct inst_mgr *m, uint64_t id,
		   struct core_inst_state *out);
int inst_mgr_rcon(struct inst_mgr *m, uint64_t id, const char *cmd,
		  size_t len, uint64_t timeout_ms, core_rcon_cb cb, void *arg);
/* core.h's http_forward, on loop's thread pool (forward.c); timeout_ms
 * bounds the whole request. */
int inst_http_forward(uv_loop_t *loop, const char *http_addr,
		      const char *method, const char *path, const char *auth,
		      const uint8_t *body, size_t body_len,
		      uint64_t timeout_ms, core_http_cb cb, void *arg);

/*
 * The game -> node channel (ipc.c; the game's side is lua/clusterd).
 * Messages arrive per channel ("clusterd", "items", "inventory", ...), each
 * with an id that increases per instance save; a message comes again
 * until it is acknowledged, and an id already handled is dropped here
 * (and acknowledged again), so a subscriber sees each id once per node
 * run. One subscriber per channel.
 *
 * A handler owns the message until it calls inst_mgr_ipc_done(m, instance,
 * msg_id, status) exactly once: status 0 acknowledges it to the game
 * (handled durably); non-zero leaves it unacknowledged, and the game sends
 * it again later. msg is borrowed for the callback only (copy what you
 * keep); done may be called from the callback or later.
 */
typedef void (*inst_ipc_cb)(void *arg, uint64_t instance, const char *channel,
			    uint64_t msg_id, const struct cJSON *msg);
/* 0, ERR_EXISTS (the channel has a subscriber), ERR_INVAL, ERR_TOOBIG
 * (INST_IPC_SUBS_MAX channels). channel is copied. */
int inst_mgr_ipc_subscribe(struct inst_mgr *m, const char *channel,
			   inst_ipc_cb cb, void *arg);
void inst_mgr_ipc_done(struct inst_mgr *m, uint64_t instance, uint64_t msg_id,
		       int status);
/* Calls remote.call("clusterd", fn, args) in the game over RCON (through
 * the module's call_json); the reply is what the Lua function returns,
 * JSON-encoded (rcon.print), without the trailing newline. args: a JSON
 * text, may be NULL. Commands stay under 10 kB (ERR_TOOBIG); a caller
 * chunks larger payloads itself. cb gets status ERR_INVAL and the game's
 * error text when the Lua function raised an error; ERR_NOTFOUND (not
 * here) and ERR_AGAIN (RCON not up) are returned without calling cb. */
int inst_mgr_call(struct inst_mgr *m, uint64_t instance, const char *fn,
		  const char *args_json, uint64_t timeout_ms, core_rcon_cb cb,
		  void *arg);

/* Stops every server (SIGTERM, SIGKILL after the timeout), closes every
 * handle, frees m and calls done(arg). */
void inst_mgr_stop(struct inst_mgr *m, void (*done)(void *arg), void *arg);

#endif
