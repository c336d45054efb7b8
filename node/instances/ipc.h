/*
 * ipc.h: the game -> node channel (issue 12), the pure parts: parsing a
 * stdout line, the duplicate window, file names and Lua quoting. The glue
 * to the manager (reading files, dispatch, acknowledgements over RCON,
 * hello) is in ipc.c too and declared in inst_int.h; the contract for
 * subscribers is in instances.h.
 *
 * The wire, as the game's module writes it (lua/clusterd/README.md):
 *   "\f$ipc:<channel>?j<json>"   the payload inline
 *   "\f$ipc:<channel>?f<file>"   the payload in <write-data>/script-output/<file>
 * Every payload is a JSON object with an integer "id" >= 1, increasing per
 * save. Delivery is at least once; the window below makes the node handle
 * each id once.
 */
#ifndef CLUSTERD_NODE_INSTANCES_IPC_H
#define CLUSTERD_NODE_INSTANCES_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_PREFIX "\f$ipc:"
#define IPC_PREFIX_LEN 6
/* The module's limit (lua/clusterd/api.lua). */
#define IPC_CHANNEL_MAX 64
/* "clusterd-ipc-<id>.json" and room for other writers. */
#define IPC_FILE_NAME_MAX 128
/* A payload file larger than this is refused (and deleted): the module
 * caps its whole outbox at 16 MiB; one message is far smaller. */
#define IPC_FILE_BYTES_MAX (8u << 20)
/* How many ids back the node remembers per instance: the module re-sends
 * at most 500 per pass, and messages are acknowledged within a loop turn;
 * 4096 leaves a wide margin. An id older than the window is handled as
 * new (counted): losing a message is worse than handling it twice. */
#define IPC_WINDOW 4096u

struct ipc_line {
	char channel[IPC_CHANNEL_MAX + 1];
	char kind;           /* 'j': inline JSON, 'f': a file */
	const char *payload; /* borrowed from the line */
	size_t len;
};

/* Parses one stdout line (without its newline). 1: not an IPC line (no
 * prefix); 0: *out filled; ERR_MALFORMED: the prefix, but a bad channel,
 * kind, or file name. */
int ipc_parse_line(const char *line, size_t len, struct ipc_line *out);

/* A payload file name: [A-Za-z0-9._-], not starting with '.', at most
 * IPC_FILE_NAME_MAX bytes (no '/': the file stays in script-output). */
int ipc_file_name_ok(const char *name, size_t len);

/* The id of a parsed payload: its "id" member, an integer >= 1 and below
 * 2^53. 0 or ERR_MALFORMED. */
struct cJSON;
int ipc_msg_id(const struct cJSON *msg, uint64_t *id);

/* What the node knows of an id of one instance. */
enum ipc_seen {
	IPC_NEW = 0,  /* not seen (or older than the window): handle it */
	IPC_INFLIGHT, /* handed to a subscriber that has not answered */
	IPC_DONE,     /* handled: acknowledge again, do not handle */
};

struct ipc_window {
	uint64_t hi; /* highest id marked; 0: none */
	uint8_t seen[IPC_WINDOW / 8];
	uint8_t done[IPC_WINDOW / 8];
	uint64_t too_old; /* ids below the window, handled as new */
};

enum ipc_seen ipc_window_get(const struct ipc_window *w, uint64_t id);
/* Marks id handed out (in flight). */
void ipc_window_take(struct ipc_window *w, uint64_t id);
/* The subscriber answered: ok marks it done, otherwise it is forgotten so
 * the game's re-send is handled again. Ids outside the window: no-op. */
void ipc_window_finish(struct ipc_window *w, uint64_t id, int ok);
/* The game says its next id is next_id (hello): ids at or above it that
 * the window holds belong to a timeline the game lost (a crash back to an
 * autosave) and are forgotten. */
void ipc_window_rewind(struct ipc_window *w, uint64_t next_id);

/* Writes s as a Lua string literal ("...", decimal escapes for quotes,
 * backslashes and bytes outside printable ASCII) into out. Returns the
 * length written (without the NUL), or ERR_TOOBIG if it does not fit. */
int ipc_lua_quote(const char *s, size_t len, char *out, size_t size);

/* The RCON command that calls remote function fn of interface "clusterd"
 * through call_json with args_json (NULL: no argument) and prints its
 * JSON result. Length, or ERR_TOOBIG / ERR_INVAL (fn not a plain name). */
int ipc_call_command(const char *fn, const char *args_json, char *out,
		     size_t size);

#endif
