/*
 * client.h: a libuv RCON client for the Factorio headless server.
 *
 * Design (protocol facts in docs/factorio.md, "RCON"):
 * - One TCP connection, authenticated with the password (type 3); an auth
 *   reply with id -1 means a wrong password (ERR_AUTH, no retry: a wrong
 *   password does not get right by retrying).
 * - Commands are pipelined: up to inflight_max are on the wire at once,
 *   matched to replies by packet id (Factorio answers each command with
 *   exactly one packet, so there is no multi-packet reassembly). Beyond
 *   that, commands wait in a queue of queue_max; past it, submission fails
 *   with ERR_AGAIN (back-pressure, never an unbounded queue).
 * - Factorio answers a command no sooner than the next game tick (60/s),
 *   so a client that waits for each reply manages at most 60 commands/s;
 *   pipelining is what makes bulk work fast.
 * - Commands with RCON_CMD_ORDERED form one ordered stream: the next one
 *   is sent only after the previous one has been answered (or has failed:
 *   after a timeout the expired command may still run later, so a caller
 *   that needs strict order must treat a timeout as fatal to the stream),
 *   because the game may run a long command after a shorter later one.
 *   Unordered commands are independent of each other and of the stream.
 * - Each command has a deadline (from submission, loop time via uv_now).
 *   An expired command completes with ERR_TIMEOUT; if it was on the wire,
 *   its late reply is dropped (counted in stats.late_replies).
 * - When the connection drops, commands on the wire complete with
 *   ERR_CLOSED (they may or may not have run: RCON has no idempotency, so
 *   only the caller can decide to retry); queued commands stay queued and
 *   go out after the reconnect. Reconnects back off exponentially from
 *   backoff_min_ms, doubling to backoff_max_ms, reset by a successful auth.
 * - No command exceeds command_max bytes (default 10,000: Factorio up to
 *   1.1.60 crashed on commands of 13,340+ characters). Larger Lua payloads
 *   go through rcon_client_chunked (see below), which splits them.
 *
 * Threading: everything runs on the loop's thread; callbacks are called
 * from the loop, never from inside rcon_client_command or
 * rcon_client_chunked (only rcon_client_close completes commands
 * synchronously). Submitted commands leave on the next loop turn, in one
 * write per turn.
 */
#ifndef CLUSTERD_RCON_CLIENT_H
#define CLUSTERD_RCON_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/trace.h"

struct rcon_client;

enum rcon_state {
	RCON_STATE_IDLE = 0,     /* created, not started */
	RCON_STATE_CONNECTING,   /* TCP connect in progress */
	RCON_STATE_AUTHING,      /* connected, waiting for the auth reply */
	RCON_STATE_READY,        /* authenticated: commands flow */
	RCON_STATE_BACKOFF,      /* waiting before the next connect attempt */
	RCON_STATE_FAILED,       /* gave up (auth failure, or no reconnect) */
	RCON_STATE_CLOSING,      /* rcon_client_close called */
};

/*
 * A command's completion. status is 0 and body/len hold the reply (body is
 * NUL-terminated, borrowed: valid only during the call; copy what you
 * keep), or status is negative (ERR_TIMEOUT, ERR_CLOSED, ERR_AUTH,
 * ERR_SHUTDOWN) and body is "" with len 0. Called exactly once per
 * accepted command. The callback may submit commands or close the client.
 */
typedef void (*rcon_reply_cb)(void *ud, int status, const char *body,
			      size_t len);

/* Connection state changes (optional): err says why a connection ended
 * (0 for a normal transition). */
typedef void (*rcon_state_cb)(void *ud, enum rcon_state state, int err);

struct rcon_client_config {
	const char *host;      /* IPv4 or IPv6 literal, copied */
	uint16_t port;
	const char *password;  /* copied */
	uint32_t inflight_max; /* commands on the wire; 0 = 64, max 4096 */
	uint32_t queue_max;    /* waiting commands; 0 = 4096 */
	uint64_t timeout_ms;   /* default per-command deadline; 0 = 10,000 */
	uint64_t connect_timeout_ms; /* connect + auth; 0 = 5,000 */
	uint64_t backoff_min_ms;     /* first reconnect delay; 0 = 100 */
	uint64_t backoff_max_ms;     /* cap; 0 = 5,000 */
	int no_reconnect;      /* 1: a lost connection is final (FAILED) */
	size_t command_max;    /* largest command body; 0 = 10,000 */
	uint32_t reply_len_max; /* largest reply packet; 0 = 1 MiB */
	const struct tracer *tracer; /* borrowed; may be NULL */
	rcon_state_cb on_state;      /* may be NULL */
	void *state_ud;
};

struct rcon_client_stats {
	uint64_t sent;          /* commands written */
	uint64_t replied;       /* commands answered */
	uint64_t timeouts;      /* commands that expired */
	uint64_t failed_closed; /* on the wire when the connection dropped */
	uint64_t late_replies;  /* replies to expired commands, dropped */
	uint64_t connects;      /* successful authentications */
	uint64_t bytes_out;     /* command bytes (packets) written */
	uint64_t bytes_in;      /* bytes read */
};

/* Flags for rcon_client_command. */
#define RCON_CMD_ORDERED 1u /* part of the ordered stream */

/*
 * Creates a client on loop (borrowed: must outlive the client). cfg is
 * copied. Returns 0 and sets *out, or ERR_INVAL / ERR_NOMEM. Does not
 * connect until rcon_client_start.
 */
int rcon_client_new(struct rcon_client **out, uv_loop_t *loop,
		    const struct rcon_client_config *cfg);

/* Starts connecting (and reconnecting, unless no_reconnect). */
int rcon_client_start(struct rcon_client *c);

/*
 * Submits a command (cmd[0 .. len), copied; "/sc rcon.print(1)"). Commands
 * may be submitted in any state except FAILED and CLOSING; they wait for
 * the connection. timeout_ms 0 means the configured default. Returns 0
 * (cb will be called exactly once), or, without calling cb:
 *   ERR_TOOBIG  len > command_max
 *   ERR_AGAIN   the queue is full
 *   ERR_CLOSED  the client failed or is closing
 */
int rcon_client_command(struct rcon_client *c, const char *cmd, size_t len,
			unsigned flags, uint64_t timeout_ms, rcon_reply_cb cb,
			void *ud);

/*
 * Runs a Lua payload of any size (up to 16 MiB) that would not fit one
 * command, as successive ordered commands of at most command_max bytes.
 *
 * The Lua side is four lines of logic, no mod needed. Every part runs
 *   /sc local S=storage or global S.__cdc=S.__cdc or {}
 *       local t=S.__cdc[K] or {} S.__cdc[K]=t t[i]='<escaped part i>'
 * which stores part i of transfer K in the save's `storage` (`global` on
 * 1.1), so a part is never lost to a desync or to a player joining
 * mid-transfer. The final command takes the buffer out of storage
 * (always, even when parts are missing), checks that all N parts are
 * there, concatenates them and then either runs the payload as Lua code
 * (consumer NULL: load(payload)()) or calls the consumer, a Lua function
 * expression, with the payload string:
 *   (<consumer>)(payload)   e.g. "function(d) remote.call('x','put',d) end"
 * The reply of the final command is what the payload or the consumer
 * rcon.print()s. On missing parts the final replies
 * "clusterd-chunked: missing parts" and a Lua error is "clusterd-chunked:
 * <message>". Parts are escaped as Lua quoted strings (\ddd for bytes
 * outside printable ASCII), so any byte string arrives intact.
 *
 * All parts and the final are submitted at once into the ordered stream,
 * so an ordered command submitted after this runs after the final. cb is
 * called once: with the first part's error, or with the final's result.
 * Returns 0 or ERR_TOOBIG (payload too large or consumer too long),
 * ERR_AGAIN (not enough queue room for all parts), ERR_CLOSED, ERR_NOMEM.
 * payload and consumer are copied.
 */
int rcon_client_chunked(struct rcon_client *c, const char *payload,
			size_t len, const char *consumer, uint64_t timeout_ms,
			rcon_reply_cb cb, void *ud);

/* Current state and counters. */
enum rcon_state rcon_client_state(const struct rcon_client *c);
void rcon_client_stats(const struct rcon_client *c,
		       struct rcon_client_stats *out);
/* Commands queued plus on the wire. */
size_t rcon_client_pending(const struct rcon_client *c);
/* How many more commands the queue accepts now. */
size_t rcon_client_queue_room(const struct rcon_client *c);
/* The configured largest command body. */
size_t rcon_client_command_max(const struct rcon_client *c);
/* A fresh transfer number for rcon_client_chunked (internal use). */
uint32_t rcon_client_next_chunk_key(struct rcon_client *c);

/*
 * Closes the client: every pending command completes with ERR_SHUTDOWN,
 * the connection closes, and once all handles are closed the client is
 * freed and closed_cb (may be NULL) runs. c is invalid after this call
 * returns to the loop. Safe to call from any callback of this client.
 */
void rcon_client_close(struct rcon_client *c, void (*closed_cb)(void *ud),
		       void *ud);

const char *rcon_state_name(enum rcon_state s);

#endif
