/*
 * inst_int.h: the instance manager's internals, shared by its files:
 *   manager.c  reconciliation, process start/stop, crashes and backoff
 *   files.c    the instance folder: config.ini, server-settings.json
 *   output.c   the server's stdout, line by line, and its RCON client
 *   tail.c     the server's stdout file, followed (see adopt.c)
 *   adopt.c    servers of an earlier run of this node, taken over
 *   logs.c     each instance's log: a memory ring, a file, followers
 *   act.c      kill and restart
 */
#ifndef CLUSTERD_NODE_INSTANCES_INST_INT_H
#define CLUSTERD_NODE_INSTANCES_INST_INT_H

#include <sodium.h>

#include "node/instances/instances.h"
#include "node/instances/saves.h"
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
	uint32_t acks_inflight; /* ack commands on their way */
	uint64_t acks[INST_ACK_BATCH];
	uint64_t received, handled, duplicates, stale;
	/* Players online, from the clusterd channel (players.c). */
	uint32_t nplayers;
	char players[CORE_INST_PLAYERS_MAX][CORE_PLAYER_NAME_MAX];
	uint64_t joined_ms[CORE_INST_PLAYERS_MAX];
	char version[CORE_WORD_MAX]; /* the install's, at the last start */
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
	char clash[160]; /* a port clash seen on stdout during this run */
	char cause[CORE_INST_CAUSE_MAX];
	/* ops (issue 12): stdout as a file (tail.c), adoption (adopt.c),
	 * the log (logs.c), kill (act.c). */
	uv_timer_t tail_timer;
	uv_fs_event_t tail_ev;
	int tail_fd;              /* -1: not following */
	uint64_t tail_off;        /* bytes of server.out consumed */
	uint64_t tail_punched;    /* bytes of it given back to the disk */
	uint64_t tail_pos_written_ms;
	uint8_t tail_ev_on;
	uint8_t adopted;          /* pid is not our child (adopt.c) */
	uint8_t adopt_checked;    /* looked for a server to adopt */
	uint8_t hold;             /* killed: no start until desired stopped */
	uint32_t adoptions;
	uint8_t clash_more;       /* the next line completes clash */
	struct inst_log *log;
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
	/* saves.c: running --create jobs; copies and upload parts on the
	 * thread pool. */
	struct save_job *save_jobs[SAVE_CREATES_MAX];
	unsigned save_works;
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
/* The pid in DIR/server.pid: -1 without the file, 0 if unreadable. */
long long inst_pidfile_read(const struct inst_proc *p);
/* 1 if pid runs a command line that names dir (/proc/PID/cmdline). */
int inst_runs_in(long long pid, const char *dir);

/* output.c */
void inst_out_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
void inst_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
/* Splits a chunk of stdout into lines and acts on each. */
void inst_out_feed(struct inst_proc *p, const char *buf, size_t n);
/* causes.c: a line that tells why a server is about to fail (Lua error,
 * damaged or missing save) is kept in p->clash, the crash's cause. 1 if
 * the line was such a line. */
int inst_out_cause(struct inst_proc *p, const char *line);
/* Connects RCON (once; an adopted server's port already listens). */
void inst_rcon_connect(struct inst_proc *p);
/* Closes the RCON client, if any. */
void inst_rcon_drop(struct inst_proc *p);

/* manager.c, for the files below */
struct inst_proc *inst_find(struct inst_mgr *m, uint64_t id);
void inst_stop(struct inst_proc *p);
/* The process ended: status/sig as uv's exit callback; known 0 for an
 * adopted server (its exit status is its parent's, not ours). */
void inst_proc_exited(struct inst_proc *p, int64_t status, int sig,
		      int known);

/* tail.c: the server writes stdout and stderr into DIR/server.out, a
 * file, never a pipe: a pipe would die with this node (and the server
 * with it, on SIGPIPE), a file outlives it, so a restarted node can read
 * on where it stopped. Consumed bytes are punched out of the file every
 * INST_TAIL_PUNCH_BYTES, so it takes no disk space beyond that, and the
 * consumed offset is kept in DIR/server.out.pos (at most a second old). */
#define INST_TAIL_PUNCH_BYTES (1u << 20)
/* Sets the slot's handles up (slot creation) and closes them (retire). */
void inst_tail_init(struct inst_proc *p);
void inst_tail_close(struct inst_proc *p);
/* Creates (truncates) DIR/server.out and follows it from 0; *wfd is the
 * descriptor the child gets as stdout and stderr (the caller closes it
 * after the spawn). 0, or a negative errno. */
int inst_tail_create(struct inst_proc *p, int *wfd);
/* Follows DIR/server.out of a running server from the saved offset. */
int inst_tail_attach(struct inst_proc *p);
/* Reads and feeds what was written since the last read. */
void inst_tail_poll(struct inst_proc *p);
/* Reads the rest and stops following. */
void inst_tail_stop(struct inst_proc *p);

/* adopt.c: on the first reconciliation of an instance, a server that an
 * earlier run of this node started and that still runs (DIR/server.pid,
 * its command line naming DIR) is adopted: its stdout file followed from
 * the saved offset, RCON connected, its exit noticed by polling (it is
 * not our child). 1 if one was adopted. */
int inst_adopt(struct inst_proc *p);
/* Sends sig to the server, ours or adopted. */
void inst_signal(struct inst_proc *p, int sig);
/* For an adopted server: 1 while it still runs. */
int inst_adopted_alive(struct inst_proc *p);

/* logs.c: each instance's log. Lines (not the IPC ones) go to a ring in
 * memory (INST_LOG_RING_LINES lines, INST_LOG_RING_BYTES bytes at most:
 * the oldest are dropped) and to DIR/log, which is rotated to DIR/log.1
 * past INST_LOG_FILE_MAX bytes; followers get each line as it comes. */
#define INST_LOG_RING_LINES 2000
#define INST_LOG_RING_BYTES (256u * 1024)
#define INST_LOG_FILE_MAX (8u * 1024 * 1024)
#define INST_LOG_FOLLOWERS_MAX 16
void inst_log_open(struct inst_proc *p);
void inst_log_line(struct inst_proc *p, const char *line);
/* Ends every follow (their cb gets NULL) and frees the log. */
void inst_log_close(struct inst_proc *p);
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
/* The server process ended: players still listed leave now. */
void inst_players_gone(struct inst_proc *p);
/* hello's "online": who is connected now (a node that connects to a
 * server that already runs learns it here). */
void inst_players_hello(struct inst_proc *p, const struct cJSON *online);
void inst_players_state(const struct inst_proc *p, struct core_inst_state *out);

#endif
