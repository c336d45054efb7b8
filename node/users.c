/*
 * users.c: the cluster's player lists on this node's game servers, both
 * ways, with echo suppression. See users.h for the design.
 */
#include "node/users.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/instances/instances.h"
#include "node/metrics.h"
#include "storage/udomain.h"

#define MOD "users"
/* An RCON command: "/ban " + name + " " + reason, with room. */
#define CMD_MAX (16 + CORE_USER_NAME_MAX + CORE_USER_REASON_MAX)

/* Where a game reported an action: its stdout line, or the clusterd Lua
 * module's event (instances running the module report both). */
enum { SRC_LINE = 1, SRC_IPC = 2, SRC_BOTH = 3 };

struct pending {
	uint64_t inst;
	uint64_t expires_ms;
	int action;
	uint8_t seen; /* SRC_* already matched */
	char name[CORE_USER_NAME_MAX + 1]; /* lowercase */
};

/* IPC messages one change may answer (its line and event, repeats). */
#define GW_IPC_MAX 4

/* A command waiting for its instance's RCON. */
struct queued {
	uint64_t inst;
	uint64_t since_ms;
	int action;
	char name[CORE_USER_NAME_MAX + 1];
	char cmd[CMD_MAX];
};

/* A change from a game, until it is written, and for
 * USERS_PENDING_TTL_MS after (so the other report of the same action,
 * line or event, is known as the same change). */
struct game_write {
	struct users *u;
	struct core_user_upd upd;
	uint64_t inst;
	uint64_t since_ms, done_ms;
	int action;
	uint8_t waiting; /* 1: in flight; 0: due for another try */
	uint8_t done;    /* written */
	uint8_t seen;    /* SRC_* that reported it */
	uint8_t nipc;
	uint64_t ipc[GW_IPC_MAX]; /* message ids to acknowledge once written */
};

struct users {
	uv_loop_t *loop;
	const struct tracer *log;
	const struct core *core;
	struct inst_mgr *im;
	uint64_t self_id;
	users_rcon_fn rcon;
	void *rcon_arg;
	users_ipc_done_fn ipc_done;
	void *ipc_arg;
	uint8_t closing;
	uv_timer_t kick, retry;
	struct queued *queue; /* FIFO of nqueue, USERS_QUEUE_MAX slots */
	size_t nqueue;
	struct game_write *writes[USERS_WRITES_MAX];
	size_t nwrites;
	/* What the last pass saw, in key order (lowercase name). */
	struct core_user *cache;
	size_t ncache;
	struct pending pending[USERS_PENDING_MAX];
	size_t npending;
	/* Commands sent and not answered yet, per instance and in all. */
	struct inflight {
		uint64_t inst;
		uint32_t n;
	} inflight[INST_LOCAL_MAX];
	size_t ninflight;
	uint32_t inflight_total;
	struct users_stats stats;
};

/* --- action lines --------------------------------------------------------- */

static const struct {
	const char *tag, *verb;
	int action;
} actions[] = {
	{"[BAN] ", " was banned by ", USERS_ACT_BAN},
	{"[UNBANNED] ", " was unbanned by ", USERS_ACT_UNBAN},
	{"[PROMOTE] ", " was promoted to admin by ", USERS_ACT_PROMOTE},
	{"[DEMOTE] ", " was demoted from admin by ", USERS_ACT_DEMOTE},
};

/* The reason of "... by alice. Reason: griefing." without its last dot. */
static void ban_reason(const char *after_verb, char *out, size_t size)
{
	const char *r = strstr(after_verb, ". Reason: ");
	size_t n;

	out[0] = '\0';
	if (r == NULL)
		return;
	r += strlen(". Reason: ");
	n = strlen(r);
	if (n > 0 && r[n - 1] == '.')
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, r, n);
	out[n] = '\0';
	if (!stor_user_reason_ok(out))
		out[0] = '\0';
}

int users_parse_line(const char *line, struct users_event *ev)
{
	const char *tag = strchr(line, '[');
	size_t pre = tag ? (size_t)(tag - line) : 0;

	memset(ev, 0, sizeof(*ev));
	/* An action line starts with its date and time: only digits, '-',
	 * ':' and spaces come before the tag. */
	if (tag == NULL || pre == 0 || strspn(line, "0123456789-: ") != pre)
		return 0;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		size_t tl = strlen(actions[i].tag);
		const char *name = tag + tl, *verb;
		size_t nl;

		if (strncmp(tag, actions[i].tag, tl) != 0)
			continue;
		verb = strstr(name, actions[i].verb);
		nl = verb ? (size_t)(verb - name) : 0;
		if (verb == NULL || nl == 0 || nl > CORE_USER_NAME_MAX)
			return 0;
		memcpy(ev->name, name, nl);
		ev->name[nl] = '\0';
		if (!stor_user_name_ok(ev->name))
			return 0;
		ev->action = actions[i].action;
		if (ev->action == USERS_ACT_BAN)
			ban_reason(verb + strlen(actions[i].verb), ev->reason,
				   sizeof(ev->reason));
		return 1;
	}
	return 0;
}

/* --- the pending set ---------------------------------------------------- */

static void lower(char *dst, const char *src, size_t size)
{
	size_t i = 0;

	for (; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32
							       : src[i]);
	dst[i] = '\0';
}

static void pending_expire(struct users *u, uint64_t now)
{
	size_t j = 0;

	for (size_t i = 0; i < u->npending; i++)
		if (u->pending[i].expires_ms > now)
			u->pending[j++] = u->pending[i];
	u->npending = j;
}

static void pending_add(struct users *u, uint64_t inst, int action,
			const char *name)
{
	uint64_t now = uv_now(u->loop);
	struct pending *p;

	pending_expire(u, now);
	if (u->npending == USERS_PENDING_MAX) {
		/* Full: the oldest entry goes (its echo, if it still comes,
		 * meets the already-held check instead). */
		memmove(&u->pending[0], &u->pending[1],
			(USERS_PENDING_MAX - 1) * sizeof(u->pending[0]));
		u->npending--;
		u->stats.pending_dropped++;
	}
	p = &u->pending[u->npending++];
	p->inst = inst;
	p->action = action;
	p->expires_ms = now + USERS_PENDING_TTL_MS;
	p->seen = 0;
	lower(p->name, name, sizeof(p->name));
}

/* 1 if (inst, action, name) was pending and src had not matched it yet;
 * an entry matched by both sources goes. */
static int pending_take(struct users *u, uint64_t inst, int action,
			const char *name, int src)
{
	char low[CORE_USER_NAME_MAX + 1];

	pending_expire(u, uv_now(u->loop));
	lower(low, name, sizeof(low));
	for (size_t i = 0; i < u->npending; i++) {
		struct pending *p = &u->pending[i];

		if (p->inst != inst || p->action != action ||
		    (p->seen & src) || strcmp(p->name, low) != 0)
			continue;
		p->seen |= (uint8_t)src;
		if (p->seen == SRC_BOTH) {
			memmove(p, p + 1, (u->npending - i - 1) * sizeof(*p));
			u->npending--;
		}
		return 1;
	}
	return 0;
}

/* Undoes the last pending_add of (inst, action, name): the command was
 * not sent. */
static void pending_drop(struct users *u, uint64_t inst, int action,
			 const char *name)
{
	char low[CORE_USER_NAME_MAX + 1];

	lower(low, name, sizeof(low));
	for (size_t i = u->npending; i-- > 0;) {
		struct pending *p = &u->pending[i];

		if (p->inst == inst && p->action == action && p->seen == 0 &&
		    strcmp(p->name, low) == 0) {
			memmove(p, p + 1, (u->npending - i - 1) * sizeof(*p));
			u->npending--;
			return;
		}
	}
}

/* --- cluster -> game ------------------------------------------------------ */

static void on_retry(uv_timer_t *t);

struct push {
	struct users *u;
	uint64_t inst;
	char cmd[CMD_MAX];
};

/* The in-flight count of an instance (a slot is made for a new one; NULL
 * when the table is full, which then does not limit). */
static struct inflight *inflight_of(struct users *u, uint64_t inst, int make)
{
	for (size_t i = 0; i < u->ninflight; i++)
		if (u->inflight[i].inst == inst)
			return &u->inflight[i];
	if (!make || u->ninflight == INST_LOCAL_MAX)
		return NULL;
	u->inflight[u->ninflight].inst = inst;
	u->inflight[u->ninflight].n = 0;
	return &u->inflight[u->ninflight++];
}

static void users_free(struct users *u)
{
	for (size_t i = 0; i < u->nwrites; i++)
		free(u->writes[i]);
	free(u->queue);
	free(u->cache);
	free(u);
}

/* Freed once both timers closed and no command is in flight. */
static int users_gone(const struct users *u)
{
	return u->closing == 3 && u->inflight_total == 0;
}

static void on_pushed(void *arg, int status, const char *body, size_t len)
{
	struct push *p = arg;
	struct users *u = p->u;
	struct inflight *f = inflight_of(u, p->inst, 0);

	if (status != 0) {
		u->stats.push_failed++;
		TRACE_W(u->log, MOD, "instance %llu: %s: %s",
			(unsigned long long)p->inst, p->cmd, err_str(status));
	} else {
		TRACE_D(u->log, MOD, "instance %llu: %s: %.*s",
			(unsigned long long)p->inst, p->cmd, (int)len, body);
	}
	if (f != NULL && f->n > 0)
		f->n--;
	ASSERT(u->inflight_total > 0);
	u->inflight_total--;
	free(p);
	if (users_gone(u))
		users_free(u);
	else if (!u->closing && u->nqueue > 0) /* room: send what waits */
		uv_timer_start(&u->retry, on_retry, 0, 0);
}

static void retry_arm(struct users *u)
{
	if (!u->closing && !uv_is_active((uv_handle_t *)&u->retry))
		uv_timer_start(&u->retry, on_retry, USERS_RETRY_MS, 0);
}

/* Sends one command now: 0, or the error (ERR_AGAIN: RCON not up, or
 * USERS_INFLIGHT_MAX commands of that instance already in flight). */
static int send_now(struct users *u, uint64_t inst, int action,
		    const char *name, const char *cmd)
{
	struct inflight *f = inflight_of(u, inst, 1);
	struct push *p;
	int rc;

	if (u->closing)
		return ERR_NOTFOUND;
	if (f != NULL && f->n >= USERS_INFLIGHT_MAX)
		return ERR_AGAIN;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return ERR_NOMEM;
	p->u = u;
	p->inst = inst;
	snprintf(p->cmd, sizeof(p->cmd), "%s", cmd);
	if (action != USERS_ACT_NONE)
		pending_add(u, inst, action, name);
	/* Counted before the call: a client may answer inside it. */
	if (f != NULL)
		f->n++;
	u->inflight_total++;
	u->stats.pushed++;
	rc = u->rcon(u->rcon_arg, inst, p->cmd, strlen(p->cmd),
		     USERS_RCON_TIMEOUT_MS, on_pushed, p);
	if (rc != 0) {
		if (action != USERS_ACT_NONE)
			pending_drop(u, inst, action, name);
		if (f != NULL)
			f->n--;
		u->inflight_total--;
		u->stats.pushed--;
		free(p);
	}
	return rc;
}

static int queued_for(const struct users *u, uint64_t inst)
{
	for (size_t i = 0; i < u->nqueue; i++)
		if (u->queue[i].inst == inst)
			return 1;
	return 0;
}

static void enqueue(struct users *u, uint64_t inst, int action,
		    const char *name, const char *cmd)
{
	struct queued *q;

	if (u->nqueue == USERS_QUEUE_MAX) {
		u->stats.dropped++;
		TRACE_W(u->log, MOD, "instance %llu: command queue full, "
				     "dropped: %s",
			(unsigned long long)inst, cmd);
		return;
	}
	q = &u->queue[u->nqueue++];
	q->inst = inst;
	q->since_ms = uv_now(u->loop);
	q->action = action;
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->cmd, sizeof(q->cmd), "%s", cmd);
	u->stats.queued++;
	retry_arm(u);
}

/* Sends one list command to every local instance but skip; action is
 * the echo it causes (USERS_ACT_NONE: none). An instance with commands
 * queued gets this one queued behind them, so its order holds. */
static void push(struct users *u, const uint64_t *inst, size_t ninst,
		 uint64_t skip, int action, const char *name, const char *fmt,
		 const char *arg)
{
	char cmd[CMD_MAX];

	snprintf(cmd, sizeof(cmd), fmt, name, arg);
	for (size_t i = 0; i < ninst; i++) {
		int rc;

		if (inst[i] == skip)
			continue;
		rc = queued_for(u, inst[i]) ? ERR_AGAIN
					    : send_now(u, inst[i], action, name,
						       cmd);
		if (rc == ERR_AGAIN)
			enqueue(u, inst[i], action, name, cmd);
		else if (rc != 0 && rc != ERR_NOTFOUND)
			u->stats.push_failed++;
		/* ERR_NOTFOUND: not running here; its files, written at
		 * its next start, carry the change. */
	}
}

/* Sends what waits, in order per instance: an instance still not ready
 * keeps its commands (and blocks its later ones); one that went away, or
 * waited too long, loses them. */
static void drain_queue(struct users *u, uint64_t now)
{
	uint64_t blocked[INST_LOCAL_MAX];
	size_t nblocked = 0, j = 0;

	for (size_t i = 0; i < u->nqueue; i++) {
		struct queued *q = &u->queue[i];
		struct inflight *f = inflight_of(u, q->inst, 0);
		int rc = ERR_AGAIN, skip = 0;

		for (size_t k = 0; k < nblocked; k++)
			skip |= blocked[k] == q->inst;
		if (!skip)
			rc = send_now(u, q->inst, q->action, q->name, q->cmd);
		/* A server with answers coming is slow, not gone: its
		 * commands wait however long a bulk change takes. */
		if (rc == ERR_AGAIN &&
		    ((f != NULL && f->n > 0) ||
		     now - q->since_ms < USERS_RETRY_FOR_MS)) {
			if (!skip && nblocked < INST_LOCAL_MAX)
				blocked[nblocked++] = q->inst;
			u->queue[j++] = *q;
			continue;
		}
		if (rc != 0 && rc != ERR_NOTFOUND) {
			u->stats.dropped++;
			TRACE_W(u->log, MOD, "instance %llu: gave up on: %s",
				(unsigned long long)q->inst, q->cmd);
		}
	}
	u->nqueue = j;
}

/* Sends what differs between o (before) and n (now) for one user; a
 * user absent on one side is passed as a blank record of the same
 * name. */
static void push_diff(struct users *u, const struct core_user *o,
		      const struct core_user *n, const uint64_t *inst,
		      size_t ninst)
{
	/* The game the change came from has it already. */
	uint64_t skip = n->updated != o->updated ? n->origin : 0;
	const char *name = n->name;

	if (o->admin != n->admin)
		push(u, inst, ninst, skip,
		     n->admin ? USERS_ACT_PROMOTE : USERS_ACT_DEMOTE, name,
		     n->admin ? "/promote %s%s" : "/demote %s%s", "");
	if (o->banned && (!n->banned || strcmp(o->reason, n->reason) != 0))
		push(u, inst, ninst, skip, USERS_ACT_UNBAN, name, "/unban %s%s",
		     "");
	if (n->banned && (!o->banned || strcmp(o->reason, n->reason) != 0))
		push(u, inst, ninst, skip, USERS_ACT_BAN, name,
		     n->reason[0] ? "/ban %s %s" : "/ban %s%s", n->reason);
	if (o->whitelisted != n->whitelisted)
		push(u, inst, ninst, skip, USERS_ACT_NONE, name,
		     n->whitelisted ? "/whitelist add %s%s"
				    : "/whitelist remove %s%s",
		     "");
}

/* The instances assigned to this node (the manager tells which run). */
static size_t local_instances(struct users *u, uint64_t *ids, size_t max)
{
	struct core_instance *v;
	size_t n = 0, k = 0;

	if (u->core->ops->inst_list == NULL)
		return 0;
	if (u->self_id == 0) { /* a node that joined after it started */
		struct core_raft_status *st = calloc(1, sizeof(*st));

		if (st != NULL &&
		    u->core->ops->raft_status(u->core->ctx, st) == 0)
			u->self_id = st->id;
		free(st);
		if (u->self_id == 0)
			return 0;
	}
	v = calloc(CORE_INST_MAX, sizeof(*v));
	if (v == NULL)
		return 0;
	if (u->core->ops->inst_list(u->core->ctx, v, CORE_INST_MAX, &n) != 0)
		n = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (v[i].node == u->self_id)
			ids[k++] = v[i].id;
	free(v);
	return k;
}

/* Reads every user; *out is the caller's (free). */
static int load(struct users *u, struct core_user **out, size_t *n)
{
	struct core_user *v, *shrunk;
	int rc;

	*out = NULL;
	*n = 0;
	if (u->core->ops->user_list == NULL)
		return ERR_NOTFOUND;
	v = calloc(CORE_USERS_MAX, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	rc = u->core->ops->user_list(u->core->ctx, v, CORE_USERS_MAX, n);
	if (rc != 0) {
		free(v);
		return rc;
	}
	shrunk = realloc(v, (*n ? *n : 1) * sizeof(*v));
	*out = shrunk ? shrunk : v;
	return 0;
}

static void blank(struct core_user *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
}

/* Compares the domain with the cache, pushes the differences, and makes
 * the domain the cache. Both lists are in lowercase-name order. */
static void pass(struct users *u)
{
	uint64_t inst[INST_LOCAL_MAX];
	struct core_user *now, b;
	size_t n, ninst, i = 0, j = 0;
	int rc = load(u, &now, &n);

	if (rc != 0) {
		TRACE_W(u->log, MOD, "cannot read the users: %s", err_str(rc));
		return;
	}
	u->stats.passes++;
	ninst = local_instances(u, inst, INST_LOCAL_MAX);
	while (ninst > 0 && (i < u->ncache || j < n)) {
		int c = i == u->ncache ? 1
			: j == n       ? -1
				       : strcasecmp(u->cache[i].name,
						    now[j].name);

		if (c < 0) { /* deleted */
			blank(&b, u->cache[i].name);
			push_diff(u, &u->cache[i++], &b, inst, ninst);
		} else if (c > 0) { /* new */
			blank(&b, now[j].name);
			push_diff(u, &b, &now[j++], inst, ninst);
		} else {
			push_diff(u, &u->cache[i++], &now[j++], inst, ninst);
		}
	}
	free(u->cache);
	u->cache = now;
	u->ncache = n;
}

static void on_kick(uv_timer_t *t)
{
	pass(t->data);
}

void users_kick(struct users *u)
{
	if (!uv_is_active((uv_handle_t *)&u->kick))
		uv_timer_start(&u->kick, on_kick, 0, 0);
}

/* --- game -> cluster ------------------------------------------------------ */

/* 1 if the domain already holds what ev says. */
static int already_held(struct users *u, const struct users_event *ev)
{
	struct core_user cur;

	if (u->core->ops->user_get == NULL ||
	    u->core->ops->user_get(u->core->ctx, ev->name, &cur) != 0)
		return ev->action == USERS_ACT_UNBAN ||
		       ev->action == USERS_ACT_DEMOTE;
	switch (ev->action) {
	case USERS_ACT_BAN:
		return cur.banned && strcmp(cur.reason, ev->reason) == 0;
	case USERS_ACT_UNBAN:
		return !cur.banned;
	case USERS_ACT_PROMOTE:
		return cur.admin;
	default:
		return !cur.admin;
	}
}

static void ack(struct users *u, int src, uint64_t inst, uint64_t msg_id,
		int status)
{
	if (src == SRC_IPC)
		u->ipc_done(u->ipc_arg, inst, msg_id, status);
}

/* Acknowledges every event the change answers (status 0: handled). */
static void ack_all(struct users *u, struct game_write *w, int status)
{
	for (size_t i = 0; i < w->nipc; i++)
		ack(u, SRC_IPC, w->inst, w->ipc[i], status);
	w->nipc = 0;
}

static void writes_remove(struct users *u, struct game_write *w)
{
	for (size_t i = 0; i < u->nwrites; i++)
		if (u->writes[i] == w) {
			u->writes[i] = u->writes[--u->nwrites];
			break;
		}
	free(w);
}

/* Forgets written changes older than the echo window. */
static void writes_expire(struct users *u, uint64_t now)
{
	for (size_t i = 0; i < u->nwrites;) {
		struct game_write *w = u->writes[i];

		if (w->done && now - w->done_ms >= USERS_PENDING_TTL_MS)
			writes_remove(u, w); /* moved the last one here */
		else
			i++;
	}
}

static void write_done(struct users *u, struct game_write *w)
{
	w->done = 1;
	w->waiting = 0;
	w->done_ms = uv_now(u->loop);
	ack_all(u, w, 0);
}

/* Gives up on a change: its events stay unacknowledged, so the game
 * sends them again later and they are handled afresh. */
static void write_give_up(struct users *u, struct game_write *w, int rc)
{
	u->stats.dropped++;
	TRACE_W(u->log, MOD, "instance %llu: the change to %s was not "
			     "written: %s",
		(unsigned long long)w->inst, w->upd.u.name, err_str(rc));
	ack_all(u, w, rc != 0 ? rc : ERR_TIMEOUT);
	writes_remove(u, w);
}

static void on_game_written(void *arg, const struct core_write_result *r)
{
	struct game_write *w = arg;
	struct users *u = w->u;
	int rc = r->status != 0 ? r->status : r->result;

	w->waiting = 0;
	if (rc == 0) {
		TRACE_I(u->log, MOD, "instance %llu: %s: written at index %llu",
			(unsigned long long)w->inst, w->upd.u.name,
			(unsigned long long)r->index);
		write_done(u, w);
	} else if (!u->closing && r->status != 0 && r->status != ERR_SHUTDOWN &&
		   uv_now(u->loop) - w->since_ms < USERS_RETRY_FOR_MS) {
		/* No leader, a timeout, back-pressure: try again. */
		TRACE_I(u->log, MOD, "instance %llu: %s: not written yet (%s); "
				     "trying again",
			(unsigned long long)w->inst, w->upd.u.name,
			err_str(rc));
		retry_arm(u);
	} else {
		write_give_up(u, w, rc);
	}
}

static int propose_one(struct users *u, struct game_write *w)
{
	const struct core *c = u->core;
	struct core_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_USER_UPDATE;
	cmd.u.users.upd = &w->upd;
	cmd.u.users.n = 1;
	cmd.u.users.upsert = 1;
	cmd.u.users.origin = w->inst;
	w->waiting = 1;
	return c->ops->write(c->ctx, &cmd,
			     c->ops->now_ms(c->ctx) + USERS_WRITE_DEADLINE_MS,
			     on_game_written, w);
}

/* A slot for a new change: written changes make room first. */
static int writes_room(struct users *u)
{
	if (u->nwrites < USERS_WRITES_MAX)
		return 1;
	for (size_t i = 0; i < u->nwrites; i++)
		if (u->writes[i]->done) {
			writes_remove(u, u->writes[i]);
			return 1;
		}
	return 0;
}

static void propose(struct users *u, uint64_t inst,
		    const struct users_event *ev, int src, uint64_t msg_id)
{
	struct game_write *w;
	int rc;

	if (!writes_room(u) || (w = calloc(1, sizeof(*w))) == NULL) {
		u->stats.dropped++;
		TRACE_W(u->log, MOD, "instance %llu: too many changes waiting; "
				     "dropped the one to %s",
			(unsigned long long)inst, ev->name);
		ack(u, src, inst, msg_id, ERR_AGAIN);
		return;
	}
	w->u = u;
	w->inst = inst;
	w->action = ev->action;
	w->seen = (uint8_t)src;
	w->since_ms = uv_now(u->loop);
	if (src == SRC_IPC)
		w->ipc[w->nipc++] = msg_id;
	memcpy(w->upd.u.name, ev->name, sizeof(w->upd.u.name));
	if (ev->action == USERS_ACT_BAN || ev->action == USERS_ACT_UNBAN) {
		w->upd.mask = CORE_USER_F_BAN;
		w->upd.u.banned = ev->action == USERS_ACT_BAN;
		memcpy(w->upd.u.reason, ev->reason, sizeof(w->upd.u.reason));
	} else {
		w->upd.mask = CORE_USER_F_ADMIN;
		w->upd.u.admin = ev->action == USERS_ACT_PROMOTE;
	}
	u->writes[u->nwrites++] = w;
	u->stats.proposed++;
	rc = propose_one(u, w);
	if (rc != 0) {
		w->waiting = 0;
		TRACE_I(u->log, MOD, "instance %llu: cannot write %s yet: %s",
			(unsigned long long)inst, ev->name, err_str(rc));
		retry_arm(u);
	}
}

/* Proposes again the changes whose last try failed; a change the domain
 * holds by now (the try that timed out was applied after all) is done. */
static void retry_writes(struct users *u, uint64_t now)
{
	for (size_t i = 0; i < u->nwrites;) {
		struct game_write *w = u->writes[i];
		struct users_event ev = {.action = w->action};

		if (w->waiting || w->done) {
			i++;
			continue;
		}
		memcpy(ev.name, w->upd.u.name, sizeof(ev.name));
		memcpy(ev.reason, w->upd.u.reason, sizeof(ev.reason));
		if (already_held(u, &ev)) {
			write_done(u, w);
			i++;
			continue;
		}
		if (now - w->since_ms >= USERS_RETRY_FOR_MS) {
			write_give_up(u, w, ERR_TIMEOUT); /* moved the last */
			continue;
		}
		if (propose_one(u, w) != 0)
			w->waiting = 0;
		i++;
	}
}

static void on_retry(uv_timer_t *t)
{
	struct users *u = t->data;
	uint64_t now = uv_now(u->loop);
	int again;

	drain_queue(u, now);
	retry_writes(u, now);
	writes_expire(u, now);
	again = u->nqueue > 0;
	for (size_t i = 0; i < u->nwrites; i++)
		again |= !u->writes[i]->waiting && !u->writes[i]->done;
	if (again)
		retry_arm(u);
}

/* The change a game already reported through its other source. */
static struct game_write *write_find(struct users *u, uint64_t inst,
				     const struct users_event *ev, int src)
{
	for (size_t i = 0; i < u->nwrites; i++) {
		struct game_write *w = u->writes[i];

		if (w->inst == inst && w->action == ev->action &&
		    !(w->seen & src) &&
		    strcasecmp(w->upd.u.name, ev->name) == 0 &&
		    (ev->action != USERS_ACT_BAN ||
		     strcmp(w->upd.u.reason, ev->reason) == 0))
			return w;
	}
	return NULL;
}

/* One action reported by a game, from either source: an echo of our own
 * command, the other report of a change already under way, something
 * the cluster holds, or a change to write. src SRC_IPC: msg_id is
 * acknowledged here or once the change is written. */
static void handle(struct users *u, uint64_t inst,
		   const struct users_event *ev, int src, uint64_t msg_id,
		   const char *what)
{
	struct game_write *w;

	u->stats.game_events++;
	writes_expire(u, uv_now(u->loop));
	if (pending_take(u, inst, ev->action, ev->name, src)) {
		u->stats.echo_suppressed++;
		TRACE_I(u->log, MOD, "instance %llu: echo of our command "
				     "dropped: %s",
			(unsigned long long)inst, what);
		ack(u, src, inst, msg_id, 0);
		return;
	}
	w = write_find(u, inst, ev, src);
	if (w != NULL) {
		w->seen |= (uint8_t)src;
		TRACE_I(u->log, MOD, "instance %llu: the same change again: %s",
			(unsigned long long)inst, what);
		if (src == SRC_IPC && !w->done && w->nipc < GW_IPC_MAX)
			w->ipc[w->nipc++] = msg_id;
		else
			ack(u, src, inst, msg_id, 0);
		return;
	}
	if (already_held(u, ev)) {
		u->stats.already++;
		TRACE_I(u->log, MOD, "instance %llu: the cluster holds it "
				     "already: %s",
			(unsigned long long)inst, what);
		ack(u, src, inst, msg_id, 0);
		return;
	}
	TRACE_I(u->log, MOD, "instance %llu: change from the game: %s",
		(unsigned long long)inst, what);
	propose(u, inst, ev, src, msg_id);
}

void users_game_line(struct users *u, uint64_t instance, const char *line)
{
	struct users_event ev;

	if (u != NULL && users_parse_line(line, &ev))
		handle(u, instance, &ev, SRC_LINE, 0, line);
}

int users_parse_event(const cJSON *msg, struct users_event *ev)
{
	static const struct {
		const char *type;
		int action;
	} types[] = {
		{"ban", USERS_ACT_BAN},
		{"unban", USERS_ACT_UNBAN},
		{"promote", USERS_ACT_PROMOTE},
		{"demote", USERS_ACT_DEMOTE},
	};
	const char *type = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(msg, "type"));
	const char *player = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(msg, "player"));
	const char *reason = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(msg, "reason"));

	memset(ev, 0, sizeof(*ev));
	for (size_t i = 0; type != NULL && i < sizeof(types) / sizeof(types[0]);
	     i++)
		if (strcmp(type, types[i].type) == 0)
			ev->action = types[i].action;
	if (ev->action == USERS_ACT_NONE)
		return 0;
	if (player == NULL || strlen(player) > CORE_USER_NAME_MAX ||
	    !stor_user_name_ok(player))
		return -1;
	memcpy(ev->name, player, strlen(player) + 1);
	if (ev->action == USERS_ACT_BAN && reason != NULL &&
	    strlen(reason) <= CORE_USER_REASON_MAX &&
	    stor_user_reason_ok(reason))
		memcpy(ev->reason, reason, strlen(reason) + 1);
	return 1;
}

int users_game_event(struct users *u, uint64_t instance, uint64_t msg_id,
		     const cJSON *msg)
{
	struct users_event ev;
	char what[64 + CORE_USER_NAME_MAX];
	int rc;

	if (u == NULL)
		return 0;
	rc = users_parse_event(msg, &ev);
	if (rc == 0)
		return 0;
	if (rc < 0) { /* malformed: nothing to do, ever */
		u->ipc_done(u->ipc_arg, instance, msg_id, 0);
		return 1;
	}
	snprintf(what, sizeof(what), "event %s %s",
		 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type")),
		 ev.name);
	handle(u, instance, &ev, SRC_IPC, msg_id, what);
	return 1;
}

/* --- list files --------------------------------------------------------- */

static int write_file(const char *dir, const char *name, cJSON *j)
{
	char path[1200], tmp[1210];
	char *text = cJSON_Print(j);
	size_t len;
	FILE *f;
	int ok;

	if (text == NULL)
		return ERR_NOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL) {
		cJSON_free(text);
		return -errno;
	}
	len = strlen(text);
	ok = fwrite(text, 1, len, f) == len && fputc('\n', f) != EOF;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	cJSON_free(text);
	if (!ok || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		return ERR_IO;
	}
	return 0;
}

void users_adopted(struct users *u, uint64_t instance)
{
	struct core_user *now, b;
	size_t n;

	if (u == NULL || load(u, &now, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		blank(&b, now[i].name);
		b.updated = now[i].updated; /* no origin to skip */
		push_diff(u, &b, &now[i], &instance, 1);
	}
	TRACE_I(u->log, MOD, "instance %llu adopted: its lists re-sent (%zu "
		"users)", (unsigned long long)instance, n);
	free(now);
}

int users_write_files(struct users *u, uint64_t instance, const char *dir)
{
	cJSON *admins = cJSON_CreateArray(), *bans = cJSON_CreateArray(),
	      *white = cJSON_CreateArray();
	struct core_user *v = NULL;
	size_t n = 0;
	int rc = admins && bans && white ? load(u, &v, &n) : ERR_NOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		cJSON *b;

		if (v[i].admin)
			cJSON_AddItemToArray(admins,
					     cJSON_CreateString(v[i].name));
		if (v[i].whitelisted)
			cJSON_AddItemToArray(white,
					     cJSON_CreateString(v[i].name));
		if (!v[i].banned)
			continue;
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "username", v[i].name);
		cJSON_AddStringToObject(b, "reason", v[i].reason);
		cJSON_AddItemToArray(bans, b);
	}
	if (rc == 0)
		rc = write_file(dir, "server-adminlist.json", admins);
	if (rc == 0)
		rc = write_file(dir, "server-banlist.json", bans);
	if (rc == 0)
		rc = write_file(dir, "server-whitelist.json", white);
	if (rc != 0)
		TRACE_E(u->log, MOD, "instance %llu: cannot write the user "
				     "lists into %s: %s",
			(unsigned long long)instance, dir, err_str(rc));
	else
		TRACE_I(u->log, MOD, "instance %llu: user lists written "
				     "(%zu users)",
			(unsigned long long)instance, n);
	free(v);
	cJSON_Delete(admins);
	cJSON_Delete(bans);
	cJSON_Delete(white);
	return rc;
}

/* --- life cycle ----------------------------------------------------------- */

static void mgr_ipc_done(void *arg, uint64_t inst, uint64_t msg_id,
			 int status)
{
	if (arg != NULL)
		inst_mgr_ipc_done(arg, inst, msg_id, status);
}

static int mgr_rcon(void *arg, uint64_t inst, const char *cmd, size_t len,
		    uint64_t timeout_ms, core_rcon_cb cb, void *cb_arg)
{
	if (arg == NULL)
		return ERR_NOTFOUND;
	return inst_mgr_rcon(arg, inst, cmd, len, timeout_ms, cb, cb_arg);
}

int users_new(const struct users_config *cfg, struct users **out)
{
	struct users *u = calloc(1, sizeof(*u));
	int rc;

	ASSERT(cfg->loop != NULL && cfg->core != NULL);
	if (u == NULL)
		return ERR_NOMEM;
	u->queue = calloc(USERS_QUEUE_MAX, sizeof(*u->queue));
	if (u->queue == NULL) {
		free(u);
		return ERR_NOMEM;
	}
	u->loop = cfg->loop;
	u->log = cfg->log;
	u->core = cfg->core;
	u->im = cfg->im;
	u->self_id = cfg->self_id;
	u->rcon = cfg->rcon ? cfg->rcon : mgr_rcon;
	u->rcon_arg = cfg->rcon ? cfg->rcon_arg : (void *)cfg->im;
	u->ipc_done = cfg->ipc_done ? cfg->ipc_done : mgr_ipc_done;
	u->ipc_arg = cfg->ipc_done ? cfg->ipc_arg : (void *)cfg->im;
	/* libuv's uv_timer_init only fills the handle in: it returns 0. */
	rc = uv_timer_init(u->loop, &u->kick);
	ASSERT(rc == 0);
	rc = uv_timer_init(u->loop, &u->retry);
	ASSERT(rc == 0);
	u->kick.data = u;
	u->retry.data = u;
	/* What is there already is in the files of every server started
	 * from now on; only later changes are pushed. */
	if (load(u, &u->cache, &u->ncache) != 0) {
		u->cache = NULL;
		u->ncache = 0;
	}
	*out = u;
	return 0;
}

void users_get_stats(const struct users *u, struct users_stats *out)
{
	*out = u->stats;
}

int users_metrics(const struct users *u, struct http_reply *rep)
{
	const struct users_stats *st = &u->stats;
	const struct metric_sample s[] = {
		{"clusterd_users_commands_total", "counter",
		 "List commands sent to this node's game servers.",
		 (double)st->pushed},
		{"clusterd_users_echoes_dropped_total", "counter",
		 "Action lines of game servers caused by our own commands.",
		 (double)st->echo_suppressed},
		{"clusterd_users_game_changes_total", "counter",
		 "Bans, unbans, promotions and demotions made in a game and "
		 "proposed to the cluster.",
		 (double)st->proposed},
		{"clusterd_users_already_held_total", "counter",
		 "Action lines whose change the cluster already held.",
		 (double)st->already},
		{"clusterd_users_dropped_total", "counter",
		 "List commands or game changes given up (queue full, too old, "
		 "refused).",
		 (double)(st->dropped + st->push_failed + st->pending_dropped)},
	};

	return metrics_samples(rep, s, sizeof(s) / sizeof(s[0]));
}

static void on_closed(uv_handle_t *h)
{
	struct users *u = h->data;

	u->closing++; /* 1 + the two timers */
	if (users_gone(u))
		users_free(u);
}

void users_close(struct users *u)
{
	if (u == NULL)
		return;
	ASSERT(!u->closing);
	u->closing = 1;
	uv_close((uv_handle_t *)&u->kick, on_closed);
	uv_close((uv_handle_t *)&u->retry, on_closed);
}
