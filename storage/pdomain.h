/*
 * pdomain.h: the "players" domain (10) of the state machine (issue 12):
 * per Factorio user, how often they joined an instance of the cluster and
 * how long they were online, summed over every instance. Who is online
 * right now is not here (it changes too often for a log entry each time
 * to be worth it beyond joins and leaves): each node knows it for its own
 * instances (node/instances/players.c).
 *
 * Records: "u" | name -> msgpack [version, [name, joins, online_ms,
 * last_instance]].
 *
 * Commands: body [op, name, instance, online_ms]:
 *   JOIN  [0, name, instance, 0]          joins + 1, last_instance
 *   LEAVE [1, name, instance, online_ms]  online_ms + the session's
 *                                         (at most PLAYERS_SESSION_MS_MAX)
 * The in-game module sends each event until the node acknowledges it
 * after the commit; a node that crashes between the commit and the
 * acknowledgement makes the game send it again, and it counts twice (a
 * window of milliseconds, accepted for statistics).
 */
#ifndef CLUSTERD_STORAGE_PDOMAIN_H
#define CLUSTERD_STORAGE_PDOMAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

struct stor;

#define STOR_DOMAIN_PLAYERS 10

/* Factorio's names are at most 60 characters; any non-empty UTF-8 text
 * without control characters up to this many bytes is accepted. */
#define STOR_PLAYER_NAME_MAX 63
/* One session adds at most 30 days: a larger figure is a bug upstream. */
#define STOR_PLAYER_SESSION_MS_MAX (30ull * 24 * 3600 * 1000)
/* A bound on one list answer. */
#define STOR_PLAYERS_LIST_MAX 4096

enum {
	STOR_PLAYER_JOIN = 0,
	STOR_PLAYER_LEAVE = 1,
};

struct stor_player {
	char name[STOR_PLAYER_NAME_MAX + 1];
	uint64_t joins;
	uint64_t online_ms;
	uint64_t last_instance;
};

struct stor_player_cmd {
	int op;
	char name[STOR_PLAYER_NAME_MAX + 1];
	uint64_t instance;
	uint64_t online_ms; /* LEAVE */
};

int stor_player_name_ok(const char *s);
/* Registers the domain (stor_open does so already). */
int stor_players_register(struct stor *s);
/* Encodes a command with its envelope; the caller frees *out. */
int stor_player_encode(const struct stor_player_cmd *c, uint8_t **out,
		       size_t *len);
/* Decodes and checks a body without applying it (the fuzzer). */
int stor_player_check(const msgpack_object *body);
/* Reads (outside apply). ERR_NOTFOUND when absent. */
int stor_player_get(struct stor *s, const char *name, struct stor_player *out);
/* Up to max players in name order, starting after `after` ("" : from the
 * first); *n how many were written. */
int stor_players_list(struct stor *s, const char *after,
		      struct stor_player *out, size_t max, size_t *n);

#endif
