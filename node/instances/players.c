/*
 * players.c: who is online on the instances of this node (issue 12),
 * from the in-game framework's events on channel "clusterd" (join,
 * leave, chat, ban, unban, promote, demote; lua/clusterd/README.md).
 *
 * The online list lives with the server process (inst_ipc_proc) and is
 * emptied when a new process connects: a server that starts has nobody
 * online. Each join and leave is also handed to the node core's
 * player_event op when it has one (the replicated per-user join count
 * and online time, storage/pdomain.h); the message is acknowledged to the
 * game once that write is committed, so a failed write comes again. The
 * game reports no leave when the server stops or dies: the node ends those
 * sessions itself when the process exits (inst_players_gone).
 */
#include "node/instances/inst_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/events.h"

/* storage/pdomain.h's bound on one session (30 days); node/instances does
 * not include storage headers. */
#define PLAYERS_SESSION_MS_MAX (30ull * 24 * 3600 * 1000)

static const char *field(const cJSON *msg, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(msg, name);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n < CORE_PLAYER_NAME_MAX;
}

static int index_of(const struct inst_ipc_proc *ip, const char *name)
{
	for (uint32_t i = 0; i < ip->nplayers; i++)
		if (strcmp(ip->players[i], name) == 0)
			return (int)i;
	return -1;
}

static void online_add(struct inst_proc *p, const char *name, uint64_t now)
{
	struct inst_ipc_proc *ip = &p->ipc;

	if (index_of(ip, name) >= 0 || ip->nplayers == CORE_INST_PLAYERS_MAX)
		return;
	memcpy(ip->players[ip->nplayers], name, strlen(name) + 1);
	ip->joined_ms[ip->nplayers] = now;
	ip->nplayers++;
}

static void online_remove(struct inst_proc *p, const char *name)
{
	struct inst_ipc_proc *ip = &p->ipc;
	int i = index_of(ip, name);

	if (i < 0)
		return;
	ip->nplayers--;
	memcpy(ip->players[i], ip->players[ip->nplayers],
	       sizeof(ip->players[0]));
	ip->joined_ms[i] = ip->joined_ms[ip->nplayers];
}

static int known(const char *type)
{
	static const char *const types[] = {"chat", "ban", "unban", "promote",
					    "demote"};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return 1;
	return 0;
}

struct pending {
	struct inst_mgr *m;
	uint64_t instance, msg_id;
};

static void on_written(void *arg, const struct core_write_result *r)
{
	struct pending *w = arg;

	if (w->msg_id != 0) /* 0: no message to answer (inst_players_gone) */
		inst_mgr_ipc_done(w->m, w->instance, w->msg_id,
				  r->status != 0 ? r->status : 0);
	free(w);
}

/* The replicated part: a join counts, a leave adds its session's time.
 * 0 when the write was proposed (done follows), else done right away. */
static int record(struct inst_mgr *m, uint64_t instance, uint64_t msg_id,
		  const char *name, int join, uint64_t session_ms)
{
	const struct core *c = m->core;
	struct core_cmd *cmd;
	struct pending *w;
	int rv;

	if (c->ops->write == NULL)
		return ERR_NOTFOUND;
	cmd = calloc(1, sizeof(*cmd));
	w = malloc(sizeof(*w));
	if (cmd == NULL || w == NULL) {
		free(cmd);
		free(w);
		return ERR_NOMEM;
	}
	cmd->type = CORE_CMD_PLAYER_EVENT;
	snprintf(cmd->u.player.name, sizeof(cmd->u.player.name), "%s", name);
	cmd->u.player.instance = instance;
	cmd->u.player.join = (uint8_t)join;
	cmd->u.player.online_ms = session_ms;
	w->m = m;
	w->instance = instance;
	w->msg_id = msg_id;
	rv = c->ops->write(c->ctx, cmd, c->ops->now_ms(c->ctx) + 10000,
			   on_written, w);
	free(cmd);
	if (rv != 0)
		free(w);
	return rv;
}

static void on_event(void *arg, uint64_t instance, const char *channel,
		     uint64_t msg_id, const cJSON *msg)
{
	struct inst_mgr *m = arg;
	struct inst_proc *p = inst_ipc_find(m, instance);
	const char *type = field(msg, "type"), *name = field(msg, "player");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(msg, "session_ticks");
	int join, rv;
	uint64_t session_ms = 0;

	(void)channel;
	if (p == NULL || type == NULL) {
		inst_mgr_ipc_done(m, instance, msg_id, 0); /* nothing to do */
		return;
	}
	ev_publish_player(m->events, instance, p->rec.name, type, name);
	if (core_users_game_event(m->core, instance, msg_id, msg)) /* issue 13 */
		return; /* a ban or promotion: node/users.c acknowledges it */
	join = strcmp(type, "join") == 0;
	if (!join && strcmp(type, "leave") != 0) {
		/* chat, ban, unban, promote, demote: logged (the users helper
		 * acts on the game's own [BAN]/[PROMOTE] lines); other types
		 * (a newer module's) only at debug level. */
		if (known(type))
			TRACE_I(m->log, "instances", "%s: %s %s%s%s",
				p->rec.name, type, name ? name : "?",
				field(msg, "message") ? ": " : "",
				field(msg, "message") ? field(msg, "message") : "");
		else
			TRACE_D(m->log, "instances", "%s: event %s", p->rec.name,
				type);
		inst_mgr_ipc_done(m, instance, msg_id, 0);
		return;
	}
	if (!name_ok(name)) {
		inst_mgr_ipc_done(m, instance, msg_id, 0); /* malformed: drop */
		return;
	}
	if (join) {
		online_add(p, name, uv_now(m->loop));
	} else {
		online_remove(p, name);
		/* 60 ticks per second, as the game runs. */
		if (cJSON_IsNumber(st) && st->valuedouble > 0)
			session_ms = (uint64_t)(st->valuedouble * 1000.0 / 60.0);
	}
	TRACE_I(m->log, "instances", "%s: %s %s", p->rec.name, name,
		join ? "joined" : "left");
	rv = record(m, instance, msg_id, name, join, session_ms);
	if (rv != 0) /* ERR_NOTFOUND: no replicated part in this core */
		inst_mgr_ipc_done(m, instance, msg_id,
				  rv == ERR_NOTFOUND ? 0 : rv);
}

void inst_players_gone(struct inst_proc *p)
{
	struct inst_mgr *m = p->m;
	uint64_t now = uv_now(m->loop);

	/* The game does not say goodbye to players when the server stops or
	 * dies: their sessions end now, by this node's clock. */
	for (uint32_t i = 0; i < p->ipc.nplayers; i++) {
		uint64_t ms = now - p->ipc.joined_ms[i];

		if (record(m, p->id, 0, p->ipc.players[i], 0,
			   ms > PLAYERS_SESSION_MS_MAX ? PLAYERS_SESSION_MS_MAX : ms) != 0)
			TRACE_W(m->log, "instances", "%s: online time of %s "
				"not recorded", p->rec.name, p->ipc.players[i]);
	}
	p->ipc.nplayers = 0;
}

void inst_players_hello(struct inst_proc *p, const cJSON *online)
{
	const cJSON *n;

	if (!cJSON_IsArray(online))
		return; /* an empty table may come as {} */
	cJSON_ArrayForEach(n, online)
		if (cJSON_IsString(n) && name_ok(n->valuestring))
			online_add(p, n->valuestring, uv_now(p->m->loop));
}

int inst_players_init(struct inst_mgr *m)
{
	return inst_mgr_ipc_subscribe(m, "clusterd", on_event, m);
}

void inst_players_state(const struct inst_proc *p, struct core_inst_state *out)
{
	snprintf(out->factorio_version, sizeof(out->factorio_version), "%s",
		 p->ipc.version);
	out->ipc_received = p->ipc.received;
	out->ipc_duplicates = p->ipc.duplicates;
	if (p->state != ST_RUNNING)
		return;
	out->players_n = p->ipc.nplayers;
	memcpy(out->players, p->ipc.players,
	       p->ipc.nplayers * sizeof(out->players[0]));
}
