/*
 * inventory.c: inventory sync on the node. See inventory.h for the
 * protocol with the game and the expiry rules.
 *
 * Three kinds of work, each an object with a back-pointer to the inv:
 *   - a download (struct xfer): ACQUIRE proposed, inventory_grant called,
 *     then chunks called in one at a time;
 *   - an upload (struct up): chunks assembled, then one UPLOAD proposed;
 *   - a plain write (struct wr): RELEASE from the game, EXPIRE.
 * Writes that fail for a reason that may pass (no leader, deadline) are
 * tried again on the timer until INV_RETRY_MS_MAX has passed; the domain
 * makes every retry safe (a retried ACQUIRE or UPLOAD of the same holder
 * changes nothing, and an EXPIRE names its generation). Every callback
 * the inv waits for is counted in `pending`, so inv_stop frees only once
 * none can still arrive.
 */
#include "node/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/http.h"
#include "node/instances/instances.h"
#include "node/inv_chunk.h"
#include "node/metrics.h"

#define TM "inventory"
/* The timer's period; expiry runs every INV_SCAN_EVERY ticks. */
#define INV_TICK_MS 250
#define INV_SCAN_EVERY 4
/* A write's deadline, the pause before a retry, and how long retries go
 * on before the game is left to ask again. */
#define INV_WRITE_MS 10000
#define INV_RETRY_MS 500
#define INV_RETRY_MS_MAX 30000
/* A call into the game: RCON answers on the next tick; a busy server may
 * take seconds. */
#define INV_CALL_MS 15000
/* An upload whose chunks have not all come in this long is dropped (its
 * chunks stay unacknowledged: the game sends them again), so a game that
 * went away mid-upload does not hold a slot for good. */
#define INV_ASSEMBLY_MS_MAX (10ull * 60 * 1000)
/* Locks looked at per expiry pass (then the next pass goes on). */
#define INV_SCAN_PAGE 256
/* Expiry writes in flight at once. */
#define INV_EXPIRE_INFLIGHT_MAX 16
/* Locks of this node's instances watched at once: 64 instances of 64
 * players; beyond it, a lock is left to the leader's rules. */
#define INV_WATCHED_MAX 4096
/* Nodes whose death this node tracks (the gossip view's bound). */
#define INV_DEAD_MAX CORE_MEMBERS_MAX

/* A write that may be tried again: when it started, when to try next (0:
 * not scheduled), and whether a callback (a write or a call) is
 * outstanding. */
struct attempt {
	uint64_t started_ms, retry_at;
	int waiting;
};

enum xfer_state {
	X_ACQUIRE = 0, /* the ACQUIRE write is in flight or waits to retry */
	X_GRANT,       /* inventory_grant called */
	X_CHUNK,       /* a chunk called */
};

struct inv;

struct xfer {
	struct inv *v;
	int used;
	enum xfer_state state;
	uint64_t instance, msg_id;
	char player[CORE_INV_PLAYER_MAX + 1];
	uint64_t gen, stored;
	char *json; /* the stored JSON (download), owned */
	size_t len, off, seq, n;
	struct attempt at;
};

struct up {
	struct inv *v;
	int used;
	uint64_t instance;
	char player[CORE_INV_PLAYER_MAX + 1];
	uint64_t gen;
	uint32_t n, got;
	size_t len, bytes;
	uint8_t release;
	char **piece;    /* n entries, owned */
	size_t *piece_len;
	uint64_t *ids;   /* the message of each piece (0: none yet) */
	uint64_t *extra; /* ids of repeated pieces, acknowledged with them */
	uint32_t nextra;
	char *json; /* assembled, owned while proposing */
	struct attempt at;
	int proposing;
};

/* A plain write: a release from the game, or an expiry. */
struct wr {
	struct inv *v;
	struct wr *next;
	int type; /* CORE_CMD_INV_RELEASE or _EXPIRE */
	uint64_t instance, msg_id, gen; /* msg_id 0: not from the game */
	uint8_t why;
	char player[CORE_INV_PLAYER_MAX + 1];
	struct attempt at;
};

struct dead {
	uint64_t raft_id, since_ms;
};

/* A lock held by an instance of this node, as this node watches it: the
 * game's process id when the lock was taken (a new process is a restart:
 * the game went back to its last save, so its session of the player is
 * gone), and since when the instance has not been running (0: it runs). */
struct watched {
	char player[CORE_INV_PLAYER_MAX + 1];
	uint64_t gen, since_ms;
	int64_t pid;
	uint8_t seen; /* in the current pass */
};

struct inv_stats {
	uint64_t acquires, busy, downloads, download_bytes, download_chunks;
	uint64_t uploads, upload_bytes, refusals, expiries, releases;
	uint64_t malformed, call_errors;
	uint64_t locks_held, players; /* the last scan's view */
};

struct inv {
	uv_loop_t *loop;
	const struct tracer *log;
	const struct core *core;
	struct inst_mgr *im;
	uint64_t node_dead_ms, stopped_ms;
	size_t chunk_cost;
	uv_timer_t timer;
	unsigned ticks;
	struct xfer xf[INV_XFER_MAX];
	struct up up[INV_UPLOADS_MAX];
	size_t up_bytes;
	struct wr *writes;
	size_t expiring;
	struct dead dead[INV_DEAD_MAX];
	size_t ndead;
	struct watched watched[INV_WATCHED_MAX];
	size_t nwatched;
	char scan_after[CORE_INV_PLAYER_MAX + 1];
	uint64_t scan_held; /* held locks counted in the pass so far */
	struct inv_stats st;
	unsigned pending; /* callbacks still to come */
	int stopping, timer_closed;
	void (*stop_done)(void *arg);
	void *stop_arg;
};

static uint64_t now_ms(const struct inv *v)
{
	return v->core->ops->now_ms(v->core->ctx);
}

static void maybe_free(struct inv *v);
static void watch_granted(struct inv *v, const char *player, uint64_t gen,
			  uint64_t instance);

/* ---- small helpers ---- */

static int player_ok(const char *p)
{
	return p != NULL && core_inst_name_ok(p) &&
	       strlen(p) <= CORE_INV_PLAYER_MAX;
}

static int json_u64(const cJSON *o, const char *k, uint64_t *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(j) || j->valuedouble < 0 ||
	    j->valuedouble > 9007199254740992.0)
		return ERR_MALFORMED;
	*out = (uint64_t)j->valuedouble;
	return 0;
}

static const char *json_str(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int json_true(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void ipc_done(struct inv *v, uint64_t instance, uint64_t id, int st)
{
	if (id != 0 && v->im != NULL)
		inst_mgr_ipc_done(v->im, instance, id, st);
}

/* Proposes one inventory command; cb gets arg back. */
static int propose(struct inv *v, const struct core_cmd *cmd,
		   core_write_cb cb, void *arg)
{
	int rc = v->core->ops->write(v->core->ctx, cmd,
				     now_ms(v) + INV_WRITE_MS, cb, arg);

	if (rc == 0)
		v->pending++;
	return rc;
}

static int retryable(int status)
{
	return status == ERR_TIMEOUT || status == ERR_NOTLEADER ||
	       status == ERR_AGAIN || status == ERR_CLOSED;
}

/* After a failure with status: 1 when a is scheduled to be tried again
 * (a passing failure, within INV_RETRY_MS_MAX of its start). */
static int attempt_later(struct inv *v, struct attempt *a, int status)
{
	if (!retryable(status) || now_ms(v) - a->started_ms >= INV_RETRY_MS_MAX)
		return 0;
	a->retry_at = now_ms(v) + INV_RETRY_MS;
	return 1;
}

/* Proposes cmd for a: 0 when it is in flight or scheduled again, else
 * the error that ends it (cb will not run). */
static int attempt_propose(struct inv *v, struct attempt *a,
			   const struct core_cmd *cmd, core_write_cb cb,
			   void *arg)
{
	int rc;

	a->retry_at = 0;
	rc = propose(v, cmd, cb, arg);
	if (rc == 0) {
		a->waiting = 1;
		return 0;
	}
	return attempt_later(v, a, rc) ? 0 : rc;
}

/* The start of every callback: 1 if the inv is stopping. */
static int attempt_back(struct inv *v, struct attempt *a)
{
	ASSERT(v->pending > 0 && a->waiting);
	v->pending--;
	a->waiting = 0;
	return v->stopping;
}

static uint64_t self_id(struct inv *v)
{
	struct core_raft_status *rs = calloc(1, sizeof(*rs));
	uint64_t id = 0;

	if (rs != NULL && v->core->ops->raft_status(v->core->ctx, rs) == 0)
		id = rs->id;
	free(rs);
	return id;
}

/* ---- downloads ---- */

static void x_free(struct xfer *x)
{
	free(x->json);
	memset(x, 0, sizeof(*x));
}

/* Ends a download: acknowledges the acquire (st 0) or leaves it for the
 * game to send again. */
static void x_end(struct xfer *x, int st)
{
	struct inv *v = x->v;

	ipc_done(v, x->instance, x->msg_id, st);
	x_free(x);
	x->v = v;
}

static void x_call(struct xfer *x, const char *fn, char *text);

static void x_next_chunk(struct xfer *x)
{
	struct inv *v = x->v;
	size_t end = inv_chunk_end(x->json, x->len, x->off, v->chunk_cost);
	char *args = inv_chunk_args(x->player, x->gen, x->stored, x->seq + 1,
				    x->n, x->json + x->off, end - x->off);

	if (args == NULL) {
		x_end(x, ERR_NOMEM);
		return;
	}
	x->seq++;
	v->st.download_bytes += end - x->off;
	v->st.download_chunks++;
	x->off = end;
	x->state = X_CHUNK;
	x_call(x, "inventory_chunk", args);
}

static void x_on_reply(void *arg, int status, const char *body, size_t len)
{
	struct xfer *x = arg;
	struct inv *v = x->v;
	cJSON *r;

	if (attempt_back(v, &x->at) || !x->used) {
		if (x->used)
			x_end(x, ERR_SHUTDOWN);
		maybe_free(v);
		return;
	}
	r = status == 0 ? cJSON_ParseWithLength(body, len) : NULL;
	if (r == NULL) {
		v->st.call_errors++;
		TRACE_W(v->log, TM,
			"download of %s into instance %llu stopped at chunk "
			"%zu/%zu: %s%.*s",
			x->player, (unsigned long long)x->instance, x->seq, x->n,
			status ? err_str(status) : "unreadable reply: ",
			status ? 0 : (int)(len > 200 ? 200 : len), body);
		x_end(x, status ? status : ERR_MALFORMED);
		return;
	}
	if (json_true(r, "gone") ||
	    (x->state == X_GRANT &&
	     (!json_true(r, "download") || x->len == 0)) ||
	    (x->state == X_CHUNK && x->off >= x->len)) {
		if (x->state == X_CHUNK && x->off >= x->len && json_true(r, "done")) {
			v->st.downloads++;
			TRACE_I(v->log, TM,
				"%s: inventory gen %llu (%zu bytes, %zu chunks) "
				"streamed into instance %llu",
				x->player, (unsigned long long)x->stored, x->len,
				x->n, (unsigned long long)x->instance);
		}
		cJSON_Delete(r);
		x_end(x, 0);
		return;
	}
	cJSON_Delete(r);
	x_next_chunk(x);
}

static void x_call(struct xfer *x, const char *fn, char *text)
{
	struct inv *v = x->v;
	int rc;

	if (text == NULL) {
		x_end(x, ERR_NOMEM);
		return;
	}
	rc = inst_mgr_call(v->im, x->instance, fn, text, INV_CALL_MS,
			   x_on_reply, x);
	free(text);
	if (rc != 0) {
		v->st.call_errors++;
		TRACE_W(v->log, TM, "%s: cannot call %s in instance %llu: %s",
			x->player, fn, (unsigned long long)x->instance,
			err_str(rc));
		x_end(x, rc);
		return;
	}
	v->pending++;
	x->at.waiting = 1;
}

/* The lock is ours: tell the game what is stored; it answers whether it
 * wants the download. */
static void x_grant(struct xfer *x, int busy)
{
	struct inv *v = x->v;
	struct core_inv_lock l;
	cJSON *a = cJSON_CreateObject();
	size_t len = 0;

	if (a == NULL) {
		x_end(x, ERR_NOMEM);
		return;
	}
	cJSON_AddStringToObject(a, "player", x->player);
	if (busy) {
		cJSON_AddBoolToObject(a, "busy", 1);
	} else if (v->core->ops->inv_data(v->core->ctx, x->player, &l,
					  &x->json, &len) == 0) {
		x->gen = l.instance == x->instance && l.held ? l.gen : 0;
		x->stored = l.stored_gen;
		x->len = len;
		x->n = inv_chunk_count(x->json, len, v->chunk_cost);
	} else if (v->core->ops->inv_get(v->core->ctx, x->player, &l) == 0) {
		x->gen = l.instance == x->instance && l.held ? l.gen : 0;
	}
	if (!busy && x->gen == 0)
		cJSON_AddBoolToObject(a, "busy", 1); /* lost it already */
	cJSON_AddNumberToObject(a, "gen", (double)x->gen);
	cJSON_AddNumberToObject(a, "stored", (double)x->stored);
	cJSON_AddNumberToObject(a, "len", (double)x->len);
	x->state = X_GRANT;
	x_call(x, "inventory_grant", cJSON_PrintUnformatted(a));
	cJSON_Delete(a);
}

static void x_on_acquired(void *arg, const struct core_write_result *r)
{
	struct xfer *x = arg;
	struct inv *v = x->v;

	if (attempt_back(v, &x->at)) {
		x_end(x, ERR_SHUTDOWN);
		maybe_free(v);
		return;
	}
	if (r->status != 0) {
		if (attempt_later(v, &x->at, r->status))
			return;
		TRACE_W(v->log, TM, "%s: acquire for instance %llu failed: %s",
			x->player, (unsigned long long)x->instance,
			err_str(r->status));
		x_end(x, r->status);
		return;
	}
	if (r->result == ERR_BUSY) {
		v->st.busy++;
		x_grant(x, 1);
		return;
	}
	if (r->result != 0) {
		v->st.refusals++;
		TRACE_W(v->log, TM, "%s: acquire for instance %llu refused: %s",
			x->player, (unsigned long long)x->instance,
			err_str(r->result));
		x_end(x, 0);
		return;
	}
	v->st.acquires++;
	x_grant(x, 0);
	if (x->used && x->gen != 0)
		watch_granted(v, x->player, x->gen, x->instance);
}

static void x_propose(struct xfer *x)
{
	struct inv *v = x->v;
	struct core_cmd cmd;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_INV_ACQUIRE;
	cmd.u.inv.player = x->player;
	cmd.u.inv.instance = x->instance;
	cmd.u.inv.node = self_id(v);
	rc = attempt_propose(v, &x->at, &cmd, x_on_acquired, x);
	if (rc != 0)
		x_end(x, rc);
}

static struct xfer *x_find(struct inv *v, uint64_t instance,
			   const char *player)
{
	for (size_t i = 0; i < INV_XFER_MAX; i++)
		if (v->xf[i].used && v->xf[i].instance == instance &&
		    strcmp(v->xf[i].player, player) == 0)
			return &v->xf[i];
	return NULL;
}

static struct up *up_find(struct inv *v, uint64_t instance,
			  const char *player);

static void on_acquire(struct inv *v, uint64_t instance, uint64_t id,
		       const char *player)
{
	struct xfer *x = x_find(v, instance, player);

	if (x != NULL) {
		/* Already at work for this player: the game sent its
		 * message again, or asked anew; the work in progress
		 * answers the first, this one comes again later. */
		ipc_done(v, instance, id, ERR_AGAIN);
		return;
	}
	if (up_find(v, instance, player) != NULL) {
		/* Its upload first: a lock re-acquired before the upload
		 * committed would stream an older inventory in. */
		ipc_done(v, instance, id, ERR_AGAIN);
		return;
	}
	for (size_t i = 0; i < INV_XFER_MAX && x == NULL; i++)
		if (!v->xf[i].used)
			x = &v->xf[i];
	if (x == NULL) {
		ipc_done(v, instance, id, ERR_AGAIN);
		return;
	}
	memset(x, 0, sizeof(*x));
	x->v = v;
	x->used = 1;
	x->instance = instance;
	x->msg_id = id;
	snprintf(x->player, sizeof(x->player), "%s", player);
	x->at.started_ms = now_ms(v);
	x_propose(x);
}

/* ---- uploads ---- */

static struct up *up_find(struct inv *v, uint64_t instance,
			  const char *player)
{
	for (size_t i = 0; i < INV_UPLOADS_MAX; i++)
		if (v->up[i].used && v->up[i].instance == instance &&
		    strcmp(v->up[i].player, player) == 0)
			return &v->up[i];
	return NULL;
}

/* Frees an assembly, acknowledging its messages with st. */
static void up_end(struct up *u, int st)
{
	struct inv *v = u->v;

	for (uint32_t i = 0; i < u->n; i++) {
		ipc_done(v, u->instance, u->ids[i], st);
		free(u->piece[i]);
	}
	for (uint32_t i = 0; i < u->nextra; i++)
		ipc_done(v, u->instance, u->extra[i], st);
	v->up_bytes -= u->len;
	free(u->piece);
	free(u->piece_len);
	free(u->ids);
	free(u->extra);
	free(u->json);
	memset(u, 0, sizeof(*u));
	u->v = v;
}

static void up_propose(struct up *u);

static void up_on_written(void *arg, const struct core_write_result *r)
{
	struct up *u = arg;
	struct inv *v = u->v;

	if (attempt_back(v, &u->at)) {
		up_end(u, ERR_SHUTDOWN);
		maybe_free(v);
		return;
	}
	if (r->status != 0) {
		if (attempt_later(v, &u->at, r->status))
			return;
		TRACE_W(v->log, TM, "%s: upload gen %llu not written: %s",
			u->player, (unsigned long long)u->gen,
			err_str(r->status));
		up_end(u, r->status);
		return;
	}
	if (r->result != 0) {
		v->st.refusals++;
		TRACE_W(v->log, TM,
			"%s: upload of %zu bytes from instance %llu with gen "
			"%llu refused (%s): the stored inventory is unchanged",
			u->player, u->len, (unsigned long long)u->instance,
			(unsigned long long)u->gen, err_name(r->result));
	} else {
		v->st.uploads++;
		v->st.upload_bytes += u->len;
		TRACE_I(v->log, TM,
			"%s: inventory gen %llu (%zu bytes) stored from "
			"instance %llu%s",
			u->player, (unsigned long long)u->gen, u->len,
			(unsigned long long)u->instance,
			u->release ? ", lock released" : "");
	}
	up_end(u, 0); /* written or refused for good: acknowledged */
}

static void up_propose(struct up *u)
{
	struct inv *v = u->v;
	struct core_cmd cmd;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_INV_UPLOAD;
	cmd.u.inv.player = u->player;
	cmd.u.inv.instance = u->instance;
	cmd.u.inv.gen = u->gen;
	cmd.u.inv.release = u->release;
	cmd.u.inv.json = u->json;
	cmd.u.inv.json_len = u->len;
	rc = attempt_propose(v, &u->at, &cmd, up_on_written, u);
	if (rc == 0)
		return;
	v->st.refusals++;
	TRACE_W(v->log, TM, "%s: upload gen %llu refused: %s", u->player,
		(unsigned long long)u->gen, err_str(rc));
	up_end(u, rc == ERR_TOOBIG || rc == ERR_INVAL ? 0 : rc);
}

/* All pieces are in: join, check, propose. */
static void up_complete(struct up *u)
{
	struct inv *v = u->v;
	size_t off = 0;
	cJSON *doc;

	u->json = malloc(u->bytes + 1);
	if (u->json == NULL) {
		up_end(u, ERR_NOMEM);
		return;
	}
	for (uint32_t i = 0; i < u->n; i++) {
		memcpy(u->json + off, u->piece[i], u->piece_len[i]);
		off += u->piece_len[i];
	}
	u->json[off] = '\0';
	if (off != u->len) {
		v->st.refusals++;
		TRACE_W(v->log, TM,
			"%s: upload gen %llu from instance %llu refused: %zu "
			"bytes in %u chunks, %zu announced (truncated); the "
			"stored inventory is unchanged",
			u->player, (unsigned long long)u->gen,
			(unsigned long long)u->instance, off, u->n, u->len);
		up_end(u, 0);
		return;
	}
	doc = cJSON_ParseWithLength(u->json, off);
	if (!cJSON_IsObject(doc)) {
		v->st.refusals++;
		TRACE_W(v->log, TM,
			"%s: upload gen %llu from instance %llu refused: not "
			"a JSON object (malformed inventory); the stored "
			"inventory is unchanged",
			u->player, (unsigned long long)u->gen,
			(unsigned long long)u->instance);
		cJSON_Delete(doc);
		up_end(u, 0);
		return;
	}
	cJSON_Delete(doc);
	u->proposing = 1;
	u->at.started_ms = now_ms(v);
	up_propose(u);
}

static struct up *up_new(struct inv *v, uint64_t instance, const char *player,
			 uint64_t gen, uint32_t n, size_t len, int release)
{
	struct up *u = NULL;

	for (size_t i = 0; i < INV_UPLOADS_MAX && u == NULL; i++)
		if (!v->up[i].used)
			u = &v->up[i];
	if (u == NULL)
		return NULL;
	memset(u, 0, sizeof(*u));
	u->v = v;
	u->piece = calloc(n, sizeof(*u->piece));
	u->piece_len = calloc(n, sizeof(*u->piece_len));
	u->ids = calloc(n, sizeof(*u->ids));
	u->extra = calloc(2 * (size_t)n, sizeof(*u->extra));
	if (!u->piece || !u->piece_len || !u->ids || !u->extra) {
		free(u->piece);
		free(u->piece_len);
		free(u->ids);
		free(u->extra);
		memset(u, 0, sizeof(*u));
		u->v = v;
		return NULL;
	}
	u->used = 1;
	u->instance = instance;
	snprintf(u->player, sizeof(u->player), "%s", player);
	u->gen = gen;
	u->n = n;
	u->len = len;
	u->release = (uint8_t)(release != 0);
	u->at.started_ms = now_ms(v);
	return u;
}

/* Checks a chunk's header against the bounds; logs the refusal. */
static int chunk_ok(struct inv *v, uint64_t instance, const char *player,
		    uint64_t gen, uint64_t seq, uint64_t n, uint64_t len,
		    const char *data)
{
	const char *why = NULL;
	size_t dl = data ? strlen(data) : 0;

	if (data == NULL)
		why = "no data";
	else if (gen == 0)
		why = "generation 0 (no lock was granted)";
	else if (n == 0 || n > INV_UP_CHUNKS_MAX || seq == 0 || seq > n)
		why = "chunk number out of range";
	else if (len == 0 || len > CORE_INV_JSON_MAX)
		why = "announced size out of range (oversized)";
	else if (dl > INV_UP_CHUNK_MAX || dl > len)
		why = "chunk too large (oversized)";
	if (why == NULL)
		return 1;
	v->st.refusals++;
	TRACE_W(v->log, TM,
		"%s: upload chunk %llu/%llu from instance %llu refused: %s; "
		"the stored inventory is unchanged",
		player, (unsigned long long)seq, (unsigned long long)n,
		(unsigned long long)instance, why);
	return 0;
}

static void on_upload(struct inv *v, uint64_t instance, uint64_t id,
		      const char *player, const cJSON *m)
{
	uint64_t gen = 0, seq = 0, n = 0, len = 0;
	const char *data = json_str(m, "data");
	struct up *u;
	size_t dl;

	(void)json_u64(m, "gen", &gen);
	(void)json_u64(m, "seq", &seq);
	(void)json_u64(m, "n", &n);
	(void)json_u64(m, "len", &len);
	if (!chunk_ok(v, instance, player, gen, seq, n, len, data)) {
		ipc_done(v, instance, id, 0); /* refused for good */
		return;
	}
	dl = strlen(data);
	u = up_find(v, instance, player);
	if (u != NULL && (u->gen != gen || u->n != n || u->len != len)) {
		if (u->proposing || u->at.waiting) {
			ipc_done(v, instance, id, ERR_AGAIN);
			return;
		}
		/* A new upload replaces an unfinished one of this player
		 * (the game restarted from a save): its chunks come again
		 * if they still matter. */
		TRACE_W(v->log, TM,
			"%s: upload gen %llu from instance %llu replaces an "
			"unfinished one (gen %llu)",
			player, (unsigned long long)gen,
			(unsigned long long)instance,
			(unsigned long long)u->gen);
		up_end(u, 0);
		u = NULL;
	}
	if (u == NULL) {
		if (v->up_bytes + len > INV_UPLOAD_BYTES_MAX ||
		    (u = up_new(v, instance, player, gen, (uint32_t)n, len,
				json_true(m, "release"))) == NULL) {
			ipc_done(v, instance, id, ERR_AGAIN);
			return;
		}
		v->up_bytes += len;
	}
	if (u->piece[seq - 1] != NULL || u->proposing) {
		/* The same chunk again (re-sent): acknowledged with the rest. */
		if (u->nextra < 2 * u->n)
			u->extra[u->nextra++] = id;
		else
			ipc_done(v, instance, id, ERR_AGAIN);
		return;
	}
	if (u->bytes + dl > u->len) {
		v->st.refusals++;
		TRACE_W(v->log, TM,
			"%s: upload gen %llu from instance %llu refused: chunk "
			"%llu/%llu brings it past the %zu bytes announced "
			"(oversized); the stored inventory is unchanged",
			player, (unsigned long long)gen,
			(unsigned long long)instance, (unsigned long long)seq,
			(unsigned long long)n, u->len);
		up_end(u, 0);
		ipc_done(v, instance, id, 0);
		return;
	}
	u->piece[seq - 1] = strdup(data);
	if (u->piece[seq - 1] == NULL) {
		ipc_done(v, instance, id, ERR_NOMEM);
		return;
	}
	u->piece_len[seq - 1] = dl;
	u->ids[seq - 1] = id;
	u->bytes += dl;
	if (++u->got == u->n)
		up_complete(u);
}

/* ---- plain writes: releases from the game, expiries ---- */

static void wr_unlink(struct inv *v, struct wr *w)
{
	for (struct wr **p = &v->writes; *p != NULL; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	if (w->type == CORE_CMD_INV_EXPIRE)
		v->expiring--;
	free(w);
}

static void wr_propose(struct wr *w);

static void wr_on_written(void *arg, const struct core_write_result *r)
{
	struct wr *w = arg;
	struct inv *v = w->v;
	const char *what = w->type == CORE_CMD_INV_EXPIRE ? "expiry" : "release";

	if (attempt_back(v, &w->at)) {
		ipc_done(v, w->instance, w->msg_id, ERR_SHUTDOWN);
		wr_unlink(v, w);
		maybe_free(v);
		return;
	}
	if (r->status != 0 && attempt_later(v, &w->at, r->status))
		return;
	if (r->status != 0) {
		TRACE_W(v->log, TM, "%s: %s of gen %llu not written: %s",
			w->player, what, (unsigned long long)w->gen,
			err_str(r->status));
	} else if (r->result != 0) {
		v->st.refusals++;
		TRACE_W(v->log, TM, "%s: %s of gen %llu refused (%s)",
			w->player, what, (unsigned long long)w->gen,
			err_name(r->result));
	} else if (w->type == CORE_CMD_INV_EXPIRE) {
		v->st.expiries++;
		TRACE_I(v->log, TM, "%s: lock gen %llu expired (%s)", w->player,
			(unsigned long long)w->gen,
			w->why == CORE_INV_WHY_NODE_DEAD ? "holder's node dead"
							 : "instance stopped");
	} else {
		v->st.releases++;
	}
	ipc_done(v, w->instance, w->msg_id, r->status);
	wr_unlink(v, w);
}

static void wr_propose(struct wr *w)
{
	struct inv *v = w->v;
	struct core_cmd cmd;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = w->type;
	cmd.u.inv.player = w->player;
	cmd.u.inv.instance = w->instance;
	cmd.u.inv.gen = w->gen;
	cmd.u.inv.why = w->why;
	rc = attempt_propose(v, &w->at, &cmd, wr_on_written, w);
	if (rc == 0)
		return;
	ipc_done(v, w->instance, w->msg_id, rc);
	wr_unlink(v, w);
}

static int wr_start(struct inv *v, int type, uint64_t instance, uint64_t id,
		    const char *player, uint64_t gen, uint8_t why)
{
	struct wr *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return ERR_NOMEM;
	w->v = v;
	w->type = type;
	w->instance = instance;
	w->msg_id = id;
	w->gen = gen;
	w->why = why;
	snprintf(w->player, sizeof(w->player), "%s", player);
	w->at.started_ms = now_ms(v);
	w->next = v->writes;
	v->writes = w;
	if (type == CORE_CMD_INV_EXPIRE)
		v->expiring++;
	wr_propose(w);
	return 0;
}

static int expiring(const struct inv *v, const char *player)
{
	for (const struct wr *w = v->writes; w != NULL; w = w->next)
		if (w->type == CORE_CMD_INV_EXPIRE &&
		    strcmp(w->player, player) == 0)
			return 1;
	return 0;
}

/* ---- the IPC channel ---- */

static void on_ipc(void *arg, uint64_t instance, const char *channel,
		   uint64_t msg_id, const cJSON *msg)
{
	struct inv *v = arg;
	const char *op = json_str(msg, "op"), *player = json_str(msg, "player");
	uint64_t gen = 0;

	(void)channel;
	if (v->stopping) {
		ipc_done(v, instance, msg_id, ERR_SHUTDOWN);
		return;
	}
	if (op == NULL || !player_ok(player)) {
		v->st.malformed++;
		TRACE_W(v->log, TM,
			"message %llu from instance %llu refused: no op or a "
			"bad player name",
			(unsigned long long)msg_id,
			(unsigned long long)instance);
		ipc_done(v, instance, msg_id, 0);
		return;
	}
	if (strcmp(op, "acquire") == 0) {
		on_acquire(v, instance, msg_id, player);
	} else if (strcmp(op, "upload") == 0) {
		on_upload(v, instance, msg_id, player, msg);
	} else if (strcmp(op, "release") == 0 &&
		   json_u64(msg, "gen", &gen) == 0 && gen > 0) {
		if (wr_start(v, CORE_CMD_INV_RELEASE, instance, msg_id, player,
			     gen, 0) != 0)
			ipc_done(v, instance, msg_id, ERR_NOMEM);
	} else {
		v->st.malformed++;
		TRACE_W(v->log, TM,
			"message %llu from instance %llu refused: unknown op "
			"\"%.32s\" or missing fields",
			(unsigned long long)msg_id,
			(unsigned long long)instance, op);
		ipc_done(v, instance, msg_id, 0);
	}
}

/* ---- expiry ---- */

/* When this node first saw the node id dead or gone (0: it is alive). */
static uint64_t dead_since(struct inv *v, uint64_t id,
			   const struct core_member *m, size_t n)
{
	int alive = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].raft_id == id)
			alive = strcmp(m[i].state, "alive") == 0 ||
				strcmp(m[i].state, "suspect") == 0;
	for (i = 0; i < v->ndead && v->dead[i].raft_id != id; i++)
		;
	if (alive) {
		if (i < v->ndead)
			v->dead[i] = v->dead[--v->ndead];
		return 0;
	}
	if (i < v->ndead)
		return v->dead[i].since_ms;
	if (v->ndead == INV_DEAD_MAX)
		return 0;
	v->dead[v->ndead].raft_id = id;
	v->dead[v->ndead].since_ms = now_ms(v);
	return v->dead[v->ndead++].since_ms;
}

static struct watched *watch(struct inv *v, const char *player,
			     uint64_t gen)
{
	struct watched *w;

	for (size_t i = 0; i < v->nwatched; i++)
		if (v->watched[i].gen == gen &&
		    strcmp(v->watched[i].player, player) == 0)
			return &v->watched[i];
	if (v->nwatched == INV_WATCHED_MAX)
		return NULL;
	w = &v->watched[v->nwatched++];
	memset(w, 0, sizeof(*w));
	snprintf(w->player, sizeof(w->player), "%s", player);
	w->gen = gen;
	return w;
}

/* Called when a lock was granted here: the game's process now. */
static void watch_granted(struct inv *v, const char *player, uint64_t gen,
			  uint64_t instance)
{
	struct core_inst_state is;
	struct watched *w = watch(v, player, gen);

	if (w != NULL &&
	    v->core->ops->inst_state(v->core->ctx, instance, &is) == 0)
		w->pid = is.pid;
}

/* 0, or why this node expires l, held by one of its instances: the
 * instance restarted since the grant, or has not run for stopped_ms. */
static uint8_t local_verdict(struct inv *v, const struct core_inv_lock *l)
{
	struct core_inst_state is;
	struct watched *w = watch(v, l->player, l->gen);
	int running = v->core->ops->inst_state(v->core->ctx, l->instance,
					       &is) == 0 &&
		      strcmp(is.status, "running") == 0;

	if (w == NULL)
		return 0;
	w->seen = 1;
	if (running) {
		w->since_ms = 0;
		if (w->pid == 0)
			w->pid = is.pid;
		return is.pid != w->pid ? CORE_INV_WHY_INSTANCE_STOPPED : 0;
	}
	if (w->since_ms == 0)
		w->since_ms = now_ms(v);
	return now_ms(v) - w->since_ms >= v->stopped_ms
		       ? CORE_INV_WHY_INSTANCE_STOPPED
		       : 0;
}

/* 0, or the reason the leader expires l for (its instance is gone, no
 * longer wants to run, moved away, or its node is dead too long). */
static uint8_t leader_verdict(struct inv *v, const struct core_inv_lock *l,
			      const struct core_member *m, size_t nm)
{
	struct core_instance in;
	char id[24];
	uint64_t since;

	snprintf(id, sizeof(id), "%llu", (unsigned long long)l->instance);
	if (v->core->ops->inst_get(v->core->ctx, id, &in) != 0 ||
	    in.id != l->instance || in.desired != CORE_INST_RUNNING ||
	    in.node != l->node)
		return CORE_INV_WHY_INSTANCE_STOPPED;
	since = dead_since(v, l->node, m, nm);
	if (since != 0 && now_ms(v) - since >= v->node_dead_ms)
		return CORE_INV_WHY_NODE_DEAD;
	return 0;
}

static void scan_lock(struct inv *v, const struct core_inv_lock *l,
		      uint64_t self, int leader, const struct core_member *m,
		      size_t nm)
{
	uint8_t why = 0;

	if (!l->held)
		return;
	v->scan_held++;
	if (expiring(v, l->player) || x_find(v, l->instance, l->player) ||
	    v->expiring >= INV_EXPIRE_INFLIGHT_MAX)
		return;
	if (l->node == self && self != 0)
		why = local_verdict(v, l);
	if (why == 0 && leader)
		why = leader_verdict(v, l, m, nm);
	if (why != 0)
		(void)wr_start(v, CORE_CMD_INV_EXPIRE, 0, 0, l->player, l->gen,
			       why);
}

/* After a whole pass: locks no longer held here are no longer watched. */
static void forget_unseen(struct inv *v)
{
	for (size_t i = 0; i < v->nwatched;) {
		if (!v->watched[i].seen) {
			v->watched[i] = v->watched[--v->nwatched];
			continue;
		}
		v->watched[i++].seen = 0;
	}
}

static void scan(struct inv *v)
{
	struct core_raft_status *rs = calloc(1, sizeof(*rs));
	struct core_member *m = calloc(CORE_MEMBERS_MAX, sizeof(*m));
	struct core_inv_lock *l = calloc(INV_SCAN_PAGE, sizeof(*l));
	size_t nm = 0, n = 0;
	int leader;

	if (rs == NULL || m == NULL || l == NULL ||
	    v->core->ops->inv_list == NULL ||
	    v->core->ops->raft_status(v->core->ctx, rs) != 0)
		goto out;
	leader = strcmp(rs->role, "leader") == 0;
	if (leader &&
	    v->core->ops->members(v->core->ctx, m, CORE_MEMBERS_MAX, &nm) != 0)
		nm = 0;
	if (v->core->ops->inv_list(v->core->ctx, v->scan_after, 1, l,
				   INV_SCAN_PAGE, &n) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		scan_lock(v, &l[i], rs->id, leader, m, nm);
	if (n == INV_SCAN_PAGE) {
		snprintf(v->scan_after, sizeof(v->scan_after), "%s",
			 l[n - 1].player);
	} else {
		v->scan_after[0] = '\0';
		v->st.locks_held = v->scan_held;
		v->scan_held = 0;
		forget_unseen(v);
	}
out:
	free(rs);
	free(m);
	free(l);
}

/* ---- the timer: retries and expiry ---- */

static int due(const struct inv *v, const struct attempt *a)
{
	return !a->waiting && a->retry_at != 0 && now_ms(v) >= a->retry_at;
}

static void on_tick(uv_timer_t *t)
{
	struct inv *v = t->data;
	struct wr *w, *next;

	for (size_t i = 0; i < INV_XFER_MAX; i++)
		if (v->xf[i].used && v->xf[i].state == X_ACQUIRE &&
		    due(v, &v->xf[i].at))
			x_propose(&v->xf[i]);
	for (size_t i = 0; i < INV_UPLOADS_MAX; i++) {
		struct up *u = &v->up[i];

		if (u->used && u->proposing && due(v, &u->at)) {
			up_propose(u);
		} else if (u->used && !u->proposing &&
			   now_ms(v) - u->at.started_ms > INV_ASSEMBLY_MS_MAX) {
			TRACE_W(v->log, TM,
				"%s: upload gen %llu from instance %llu dropped "
				"after %u of %u chunks in 10 min",
				u->player, (unsigned long long)u->gen,
				(unsigned long long)u->instance, u->got, u->n);
			up_end(u, ERR_TIMEOUT);
		}
	}
	for (w = v->writes; w != NULL; w = next) {
		next = w->next;
		if (due(v, &w->at))
			wr_propose(w);
	}
	if (++v->ticks % INV_SCAN_EVERY == 0)
		scan(v);
}

int inv_new(const struct inv_config *cfg, struct inv **out)
{
	struct inv *v = calloc(1, sizeof(*v));
	int rc;

	if (v == NULL)
		return ERR_NOMEM;
	v->loop = cfg->loop;
	v->log = cfg->log;
	v->core = cfg->core;
	v->im = cfg->im;
	v->node_dead_ms = cfg->node_dead_ms ? cfg->node_dead_ms
					    : INV_NODE_DEAD_MS_DEFAULT;
	v->stopped_ms = cfg->stopped_ms ? cfg->stopped_ms
					: INV_STOPPED_MS_DEFAULT;
	v->chunk_cost = cfg->chunk_cost ? cfg->chunk_cost : INV_CALL_COST_MAX;
	for (size_t i = 0; i < INV_XFER_MAX; i++)
		v->xf[i].v = v;
	for (size_t i = 0; i < INV_UPLOADS_MAX; i++)
		v->up[i].v = v;
	rc = inst_mgr_ipc_subscribe(v->im, "inventory", on_ipc, v);
	if (rc != 0)
		goto err_free;
	uv_timer_init(v->loop, &v->timer);
	v->timer.data = v;
	uv_timer_start(&v->timer, on_tick, INV_TICK_MS, INV_TICK_MS);
	*out = v;
	return 0;

err_free:
	free(v);
	return rc;
}

static void maybe_free(struct inv *v)
{
	void (*done)(void *);
	void *arg;

	if (!v->stopping || v->pending > 0 || !v->timer_closed)
		return;
	for (size_t i = 0; i < INV_XFER_MAX; i++)
		if (v->xf[i].used)
			x_end(&v->xf[i], ERR_SHUTDOWN);
	for (size_t i = 0; i < INV_UPLOADS_MAX; i++)
		if (v->up[i].used)
			up_end(&v->up[i], ERR_SHUTDOWN);
	while (v->writes != NULL)
		wr_unlink(v, v->writes);
	done = v->stop_done;
	arg = v->stop_arg;
	free(v);
	if (done)
		done(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct inv *v = h->data;

	v->timer_closed = 1;
	maybe_free(v);
}

void inv_stop(struct inv *v, void (*done)(void *arg), void *arg)
{
	ASSERT(!v->stopping);
	v->stopping = 1;
	/* The instance manager stopped first (node.c): nothing more reaches
	 * it; the game sends again what was not acknowledged. */
	v->im = NULL;
	v->stop_done = done;
	v->stop_arg = arg;
	uv_close((uv_handle_t *)&v->timer, on_timer_closed);
}

int inv_metrics(struct inv *v, struct http_reply *rep)
{
	const struct inv_stats *s = &v->st;
	const struct metric_sample m[] = {
		{"clusterd_inventory_locks_held", "gauge",
		 "Player inventory locks held (as of the last expiry scan).",
		 (double)s->locks_held},
		{"clusterd_inventory_acquires_total", "counter",
		 "Locks granted to this node's instances.", (double)s->acquires},
		{"clusterd_inventory_busy_total", "counter",
		 "Acquires refused because another instance held the lock.",
		 (double)s->busy},
		{"clusterd_inventory_downloads_total", "counter",
		 "Inventories streamed into this node's games.",
		 (double)s->downloads},
		{"clusterd_inventory_download_bytes_total", "counter",
		 "Inventory bytes streamed into games.",
		 (double)s->download_bytes},
		{"clusterd_inventory_download_chunks_total", "counter",
		 "Download chunks sent into games.", (double)s->download_chunks},
		{"clusterd_inventory_uploads_total", "counter",
		 "Inventories stored from this node's games.",
		 (double)s->uploads},
		{"clusterd_inventory_upload_bytes_total", "counter",
		 "Inventory bytes stored from games.", (double)s->upload_bytes},
		{"clusterd_inventory_refusals_total", "counter",
		 "Inventory commands or chunks refused (stale generation, not "
		 "the holder, bad size, malformed JSON).",
		 (double)(s->refusals + s->malformed)},
		{"clusterd_inventory_expiries_total", "counter",
		 "Locks this node expired.", (double)s->expiries},
		{"clusterd_inventory_call_errors_total", "counter",
		 "Calls into a game that failed during a download.",
		 (double)s->call_errors},
	};

	return metrics_samples(rep, m, sizeof(m) / sizeof(m[0]));
}
