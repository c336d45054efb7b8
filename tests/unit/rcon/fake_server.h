/*
 * fake_server.h: a small in-process RCON server for the client's unit
 * tests (libuv, same loop as the client). It answers between "ticks" of a
 * timer, as Factorio does, and can answer the commands of one tick in
 * reverse order to prove the client matches replies by id.
 *
 * Commands it understands:
 *   echo <text>       replies <text>
 *   hang              never replies
 *   late              replies "late" after 20 ticks
 *   drop              closes the connection (no reply)
 *   garbage           answers a packet with an illegal length (5)
 *   ord <n> <ticks>   replies "<n>" after <ticks> ticks; records a
 *                     violation if another "ord" is still unanswered
 *   /sc <lua>         runs Lua 5.2 with a persistent `storage` table and
 *                     rcon.print (output is the reply; errors reply
 *                     "error: <msg>")
 * Anything else replies "unknown".
 */
#ifndef CLUSTERD_TESTS_RCON_FAKE_SERVER_H
#define CLUSTERD_TESTS_RCON_FAKE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct fake_server;

struct fake_server_stats {
	uint64_t commands;        /* exec packets received */
	uint64_t auths;           /* successful auths */
	uint64_t connections;     /* accepted */
	size_t max_outstanding;   /* most unanswered commands on one conn */
	size_t max_command_len;   /* longest command body seen */
	int ordered_violations;   /* an "ord" arrived while one was pending */
};

/* Listens on 127.0.0.1:port (0 picks a free port). */
struct fake_server *fake_server_start(uv_loop_t *loop, uint16_t port,
				      const char *password);
uint16_t fake_server_port(const struct fake_server *s);
/* Reverse the order of replies within each tick. */
void fake_server_set_reverse(struct fake_server *s, int on);
/* Send an empty type-0 packet before each auth reply (a Source quirk). */
void fake_server_set_auth_quirk(struct fake_server *s, int on);
void fake_server_get_stats(const struct fake_server *s,
			   struct fake_server_stats *out);
/* Closes the listener and every connection; frees on the loop. */
void fake_server_stop(struct fake_server *s);

#endif
