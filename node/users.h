/*
 * users.h: the player lists of the cluster on this node's game servers
 * (issue 13). The replicated users domain (storage/udomain.h) says who is
 * an admin, whitelisted or banned; this module makes the servers this
 * node runs agree, both ways:
 *
 *   cluster -> game   After users entries are applied (users_kick), the
 *       module compares the domain with what it last saw and sends each
 *       difference to every instance running here: /promote, /demote,
 *       /ban NAME REASON, /unban, /whitelist add|remove. Kicks within one
 *       loop turn are coalesced into one pass. An instance that starts
 *       gets the full lists as server-adminlist.json, server-banlist.json
 *       and server-whitelist.json in its folder (users_write_files).
 *   game -> cluster   The game prints an action line when an admin bans,
 *       unbans, promotes or demotes in the game ([BAN] bob was banned by
 *       alice. Reason: x.), and the clusterd Lua module (where the save
 *       was patched with it) sends an event for the same action on
 *       channel "clusterd", re-sent until acknowledged. Either becomes a
 *       replicated update carrying the instance as its origin; the node
 *       of that instance does not send the change back to it. The two
 *       reports of one action are one change: the second finds the first
 *       under way (or just written) and is dropped. An event is
 *       acknowledged only once its change is written, so a ban typed
 *       while the cluster cannot write (or the node restarts) is not
 *       lost; a line has no such second chance, which is why the event
 *       is the durable source and the line the one for saves without
 *       the module.
 *
 * Echo suppression. Our own /ban on instance B makes B print the same
 * [BAN] line as an admin typing it would (the game names "<server>" as
 * the author of every console or RCON command, so the line cannot tell
 * them apart). Each command sent is therefore recorded in a pending set
 * (instance, action, name) for USERS_PENDING_TTL_MS; the line it causes,
 * and the module's event for it, match the entry and are dropped. A line with no pending entry whose
 * change the domain already holds (the same ban, the same admin flag) is
 * dropped too, so a line that outlives its entry still writes nothing.
 * Only a real change from the game becomes a write.
 *
 * Retries. A command for an instance whose RCON is not up yet (it is
 * starting: its list files were written before the change) waits in a
 * queue and is sent, in order, once RCON answers; an instance that goes
 * away, or whose RCON stays down for USERS_RETRY_FOR_MS, drops its
 * commands (its next start writes the files). A server that is answering
 * keeps its queue however long a bulk change takes. A change from
 * a game that could not be written (no leader during an election) is
 * proposed again until it is written or USERS_RETRY_FOR_MS passed.
 *
 * Everything runs on the loop thread. Memory is bounded: the pending set
 * holds USERS_PENDING_MAX entries (the oldest is dropped, and counted,
 * when full), the command queue USERS_QUEUE_MAX, the write retries
 * USERS_WRITES_MAX (a change beyond either is dropped and counted), the
 * cache at most CORE_USERS_MAX users.
 */
#ifndef CLUSTERD_NODE_USERS_H
#define CLUSTERD_NODE_USERS_H

#include <stdint.h>

#include <uv.h>

#include "base/trace.h"
#include "node/core.h"

struct inst_mgr;

/* Commands in flight whose echo we expect; a node runs up to 64
 * instances and a change makes at most two lines per instance, so this
 * holds several bulk changes at once. */
#define USERS_PENDING_MAX 1024
/* How long an echo is expected: the game prints the line when it runs
 * the command, on the next tick (17 ms) after RCON delivers it; ten
 * seconds covers a server that lags badly. */
#define USERS_PENDING_TTL_MS 10000
/* RCON timeout of a list command (the game answers on the next tick). */
#define USERS_RCON_TIMEOUT_MS 5000
/* Commands in flight per instance. The RCON client sends ordered
 * commands one at a time (the game may run a long command after a later
 * short one), and the game runs each at its next tick: about 30 a second
 * (measured with the stand-in). A bulk change (an import) therefore waits
 * in our queue, refilled as answers come, and only a few of ours stand
 * before another feature's command on the same connection. */
#define USERS_INFLIGHT_MAX 8
/* Deadline of a write caused by a game line. */
#define USERS_WRITE_DEADLINE_MS 10000
/* Commands waiting for an instance's RCON, and game changes waiting to be
 * written again; both retried every USERS_RETRY_MS for USERS_RETRY_FOR_MS
 * (a server takes seconds to start; an election takes under one). */
#define USERS_QUEUE_MAX 4096
#define USERS_WRITES_MAX 256
#define USERS_RETRY_MS 250
#define USERS_RETRY_FOR_MS 60000

struct users_stats {
	uint64_t passes;         /* comparison passes */
	uint64_t pushed;         /* commands sent to instances */
	uint64_t push_failed;    /* commands that could not be sent or
				    failed */
	uint64_t game_events;    /* action lines parsed */
	uint64_t proposed;       /* game changes written to the cluster */
	uint64_t echo_suppressed; /* lines our own commands caused */
	uint64_t already;        /* lines the domain already held */
	uint64_t pending_dropped; /* pending entries pushed out when full */
	uint64_t queued;         /* commands that waited for RCON */
	uint64_t dropped;        /* commands or changes given up */
};

/* Sends an RCON command to an instance of this node: inst_mgr_rcon's
 * contract (ERR_NOTFOUND not here, ERR_AGAIN RCON not up). */
typedef int (*users_rcon_fn)(void *arg, uint64_t instance, const char *cmd,
			     size_t len, uint64_t timeout_ms, core_rcon_cb cb,
			     void *cb_arg);
/* Acknowledges a game's IPC message: inst_mgr_ipc_done's contract. */
typedef void (*users_ipc_done_fn)(void *arg, uint64_t instance,
				  uint64_t msg_id, int status);

/* What an action line says (users_parse_line). */
enum users_action {
	USERS_ACT_NONE = 0,
	USERS_ACT_BAN,
	USERS_ACT_UNBAN,
	USERS_ACT_PROMOTE,
	USERS_ACT_DEMOTE,
};

struct users_event {
	int action; /* enum users_action */
	char name[CORE_USER_NAME_MAX + 1];
	char reason[CORE_USER_REASON_MAX + 1]; /* BAN; "" without */
};

/* Parses a server stdout line: 1 with *ev filled for a BAN, UNBANNED,
 * PROMOTE or DEMOTE action line (date, time, [ACTION], text) naming a
 * valid user, 0 for anything else (a chat line quoting one included). */
int users_parse_line(const char *line, struct users_event *ev);

struct users;

struct users_config {
	uv_loop_t *loop;          /* borrowed */
	const struct tracer *log; /* borrowed */
	const struct core *core;  /* borrowed until users_close */
	struct inst_mgr *im;      /* borrowed until users_close */
	uint64_t self_id;         /* this node's raft id; 0: ask the core */
	/* NULL: inst_mgr_rcon and inst_mgr_ipc_done on im. Tests give
	 * their own. */
	users_rcon_fn rcon;
	void *rcon_arg;
	users_ipc_done_fn ipc_done;
	void *ipc_arg;
};

/* Creates the module and reads the current lists (no commands are sent
 * for what is already there). 0, ERR_NOMEM or a libuv error. */
int users_new(const struct users_config *cfg, struct users **out);
/* A users entry was applied: compare and push on the next loop turn. */
void users_kick(struct users *u);
/* A stdout line of an instance running here (borrowed for the call). */
void users_game_line(struct users *u, uint64_t instance, const char *line);
/* An event of the clusterd Lua module (channel "clusterd"; msg borrowed
 * for the call): 1 if it is a ban, unban, promote or demote, which this
 * module then acknowledges (inst_mgr_ipc_done) exactly once: at once for
 * an echo, a repeat or a change the cluster holds, else once the change
 * is written (or with an error when it is given up, so the game sends it
 * again). 0 for any other event (the caller handles it). u NULL: 0. */
struct cJSON;
int users_game_event(struct users *u, uint64_t instance, uint64_t msg_id,
		     const struct cJSON *msg);
/* An event's action: 1 with *ev filled, 0 not a users event, -1 a users
 * event without a valid player name. */
int users_parse_event(const struct cJSON *msg, struct users_event *ev);
/* Writes the three list files into dir (an instance's write-data
 * folder), each atomically. 0 or an error. */
/* A server of this node adopted after a restart: the commands that give
 * it every admin, ban (with its reason) and whitelist entry the domain
 * holds now are queued for it (they go out once its RCON answers). What
 * was revoked while the node was down (an unban, a demotion) is not
 * known here; the server's next start writes the full files. */
void users_adopted(struct users *u, uint64_t instance);
int users_write_files(struct users *u, uint64_t instance, const char *dir);
void users_get_stats(const struct users *u, struct users_stats *out);
/* Appends the counters to a /metrics answer (Prometheus text):
 * clusterd_users_commands_total, _echoes_dropped_total,
 * _game_changes_total, _already_held_total, _dropped_total. */
struct http_reply;
int users_metrics(const struct users *u, struct http_reply *rep);
/* Closes the timers and frees u on the loop, once the commands in flight
 * have their answers (the instance manager closing its RCON clients ends
 * them). u may be NULL. */
void users_close(struct users *u);

#endif
