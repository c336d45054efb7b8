/*
 * inst_int.h: the instance manager's internals, shared by its files:
 *   manager.c  reconciliation, process start/stop, crashes and backoff
 *   files.c    the instance folder: config.ini, server-settings.json
 *   output.c   the server's stdout, line by line, and its RCON client
 */
#ifndef CLUSTERD_NODE_INSTANCES_INST_INT_H
#define CLUSTERD_NODE_INSTANCES_INST_INT_H

#include <sodium.h>

#include "node/instances/instances.h"
#include "node/instances/ipc.h"
#include "rcon/client.h"

#define INST_PATH_MAX 1024
/* Longest stdout line kept; the game keeps its IPC lines under 4 kB, a
 * longer line is cut and the rest skipped to its newline. */
#define INST_LINE_MAX 4096

/* ipc.c (issue 12, the game -> node channel). Ids acknowledged in one
 * RCON command at most (under 9 kB of command). */
#define INST_ACK_BATCH 512
/* Channels with a subscriber: clusterd, items, inventory, metrics and a
 * few plugins. */
#define INST_IPC_SUBS_MAX 16
/* File payloads waiting for their file; beyond this they are dropped and
 * the game re-sends them. */
#define INST_IPC_PENDING_MAX 64

struct inst_ipc_proc {
	struct ipc_window win; /* survives restarts of the server */
	uint8_t ready;         /* hello answered on this RCON connection */
	uint8_t hello_tries;
	uint32_t nacks;
	uint64_t acks[INST_ACK_BATCH];
	uint64_t received, handled, duplicates;
	/* Players online, from the clusterd channel (players.c). */
	uint32_t nplayers;
	char players[CORE_INST_PLAYERS_MAX][CORE_PLAYER_NAME_MAX];
	uint64_t joined_ms[CORE_INST_PLAYERS_MAX];
};

struct inst_ipc_sub {
	char channel[IPC_CHANNEL_MAX + 1];
	inst_ipc_cb cb;
	void *arg;
};

struct inst_ipc_pending {
	uint64_t inst;
	uint32_t tries;
	char channel[IPC_CHANNEL_MAX + 1];
	char file[IPC_FILE_NAME_MAX + 1];
};

struct inst_ipc_mgr {
	uv_timer_t timer; /* acks on the next turn, file retries */
	struct inst_ipc_sub subs[INST_IPC_SUBS_MAX];
	size_t nsubs;
	struct inst_ipc_pending pend[INST_IPC_PENDING_MAX];
	size_t npend;
	uint64_t malformed, unrouted, early, files_missing, acked, ack_failed;
};

enum inst_st {
	ST_STOPPED = 0,
	ST_CREATING,
	ST_STARTING,
	ST_RUNNING,
	ST_STOPPING,
};

struct inst_proc {
	struct inst_mgr *m;
	uint64_t id;
	struct core_instance rec; /* as of the last (re)start */
	char dir[INST_PATH_MAX];
	uint8_t present;     /* assigned here in the last reconciliation */
	uint8_t state;       /* enum inst_st */
	uint8_t stop_wanted; /* an exit now is a stop, not a crash */
	uint8_t given_up;
	uint8_t created_save; /* this start began with --create */
	unsigned handles;    /* open libuv handles of this slot */
	uv_timer_t kill_timer;
	uv_process_t proc;
	uv_pipe_t out;
	int64_t pid; /* 0: no process */
	char line[INST_LINE_MAX];
	size_t line_len;
	uint8_t line_skip;
	char rbuf[16384];
	struct rcon_client *rc;
	uint8_t rc_closing;
	uint32_t crashes, saves;
	uint64_t crash_at[INST_CRASHES_MAX];
	uint64_t backoff_ms, next_start_ms;
	/* From start() (the save creation included) to the InGame line. */
	uint64_t start_ms, start_to_running_ms;
	uint64_t orphan_since_ms; /* stopping a server of an earlier run */
	char clash[96]; /* a port clash seen on stdout during this run */
	char cause[CORE_INST_CAUSE_MAX];
	struct inst_ipc_proc ipc; /* ipc.c */
};

struct inst_mgr {
	uv_loop_t *loop;
	const struct tracer *log;
	const struct core *core;
	char factorio_dir[INST_PATH_MAX];
	char instances_dir[INST_PATH_MAX];
	unsigned port_lo, port_hi;
	uint64_t stop_timeout_ms, backoff_min_ms;
	uv_timer_t tick, kick;
	struct inst_proc *procs[INST_LOCAL_MAX];
	uint8_t ports_pending;
	uint8_t stopping;
	unsigned mgr_handles;
	void (*done)(void *arg);
	void *done_arg;
	char lua_dir[INST_PATH_MAX]; /* patch.c: the modules patched in */
	struct inst_ipc_mgr ipc;     /* ipc.c */
	struct ev_bus *events; /* borrowed; may be NULL */
};

/* Sets a slot's state (enum inst_st) and publishes the change on the
 * node's event stream (node/events.h). */
void inst_set_state(struct inst_proc *p, uint8_t st);

/* snprintf that says whether it cut: 0, or ERR_TOOBIG (dst then holds
 * the cut text). Paths are checked; messages may be cut. */
int inst_fmt(char *dst, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* manager.c */
void inst_close_h(struct inst_proc *p, uv_handle_t *h);
void inst_proc_free_if_idle(struct inst_mgr *m, struct inst_proc *p);
void inst_mgr_maybe_done(struct inst_mgr *m);

/* files.c: creates the folder and writes the settings files; 0, or an
 * error with p->cause set (and p->given_up: a disk problem). */
int inst_write_files(struct inst_mgr *m, struct inst_proc *p);

/* orphan.c: DIR/server.pid of the running server; inst_orphan_check
 * returns 1 while a server of an earlier run of this node still runs in
 * the instance folder (and stops it), 0 when the way is clear. */
void inst_pidfile_write(struct inst_proc *p);
void inst_pidfile_remove(struct inst_proc *p);
int inst_orphan_check(struct inst_proc *p, uint64_t now);

/* output.c */
void inst_out_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
void inst_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
/* Closes the RCON client, if any. */
void inst_rcon_drop(struct inst_proc *p);

/* ipc.c: inst_ipc_on_line returns 1 when the line was an IPC line (it
 * is then not logged); inst_ipc_connected runs when RCON is (re)made. */
void inst_ipc_init(struct inst_mgr *m);
void inst_ipc_close(struct inst_mgr *m, uv_close_cb cb);
int inst_ipc_on_line(struct inst_proc *p, const char *line, size_t len);
void inst_ipc_connected(struct inst_proc *p);
struct inst_proc *inst_ipc_find(struct inst_mgr *m, uint64_t id);

/* patch.c glue (patch_glue in ipc's neighbour players.c would be odd):
 * patches the save before a start; 0, or an error with p->cause set and
 * the instance given up (a save or install problem). */
int inst_patch_before_start(struct inst_mgr *m, struct inst_proc *p,
			    const char *save);

/* players.c: the subscriber of channel "clusterd". */
int inst_players_init(struct inst_mgr *m);
void inst_players_state(const struct inst_proc *p, struct core_inst_state *out);

#endif
