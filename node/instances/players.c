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
 * game once that write is committed, so a failed write comes again.
 */
#include "node/instances/inst_int.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/events.h"

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

struct pending {
	struct inst_mgr *m;
	uint64_t instance, msg_id;
};

static void on_written(void *arg, const struct core_write_result *r)
{
	struct pending *w = arg;

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
	join = strcmp(type, "join") == 0;
	if (!join && strcmp(type, "leave") != 0) {
		TRACE_I(m->log, "instances", "%s: %s %s%s%s", p->rec.name, type,
			name ? name : "?", field(msg, "message") ? ": " : "",
			field(msg, "message") ? field(msg, "message") : "");
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

int inst_players_init(struct inst_mgr *m)
{
	return inst_mgr_ipc_subscribe(m, "clusterd", on_event, m);
}

void inst_players_state(const struct inst_proc *p, struct core_inst_state *out)
{
	out->ipc_received = p->ipc.received;
	out->ipc_duplicates = p->ipc.duplicates;
	if (p->state != ST_RUNNING)
		return;
	out->players_n = p->ipc.nplayers;
	memcpy(out->players, p->ipc.players,
	       p->ipc.nplayers * sizeof(out->players[0]));
}
