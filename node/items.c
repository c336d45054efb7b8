/*
 * items.c: the node side of the item ledger. See items.h.
 *
 * The outbox is a FIFO in the local column family: "items/outbox/meta"
 * holds "HEAD TAIL", entry n lives at "items/outbox/<n as 16 hex>" as
 * the JSON {"i": instance, "s": seq, "l": [[name, quality, count], ...]}.
 * An append writes the entry and the new TAIL in one synced batch; a
 * drained entry is deleted with the new HEAD in one batch, so a crash
 * leaves either state whole. Entries are proposed one at a time, in
 * order, each until the ledger answers: the ledger applies an (instance,
 * seq) once, so a retry after a lost answer is harmless.
 *
 * A grant is pushed while no push or confirmation of it is under way; a
 * push that failed (RCON down, the game restarting) is retried, and the
 * module inserts a grant id at most once, so a retry after a lost answer
 * is harmless too. A grant never pushed is not pushed once half its
 * timeout has passed (it would race its expiry); it returns to stock.
 */
#include "node/items.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/instances/instances.h"
#include "node/metrics.h"

#define TICK_MS 200
#define RETRY_MS 500
#define OB_PREFIX "items/outbox/"
#define OB_META OB_PREFIX "meta"
#define DEAD_PREFIX "items/dead/"
#define KEY_MAX 48
/* An export or request JSON from the game (64 lines) stays below this. */
#define ARGS_MAX 8192

enum push_state { P_IDLE = 0, P_CALLING, P_AWAIT_SAVE, P_CONFIRMING };
/* How often the node asks a game for a save while a grant waits on one. */
#define SAVE_ASK_MS 2000

struct push {
	uint64_t instance;
	uint64_t grant;     /* being pushed or confirmed */
	int state;          /* enum push_state */
	int tried;          /* a push of this grant was sent */
	int reconfirm;      /* the game took it; its CONFIRM is retried */
	uint64_t retry_at;  /* now_ms */
	struct items_svc *s;
	struct core_item_line ret[CORE_ITEM_LINES_MAX];
	size_t nret;
	/* P_AWAIT_SAVE: the game's run and save count at its answer. */
	int64_t pid_at;
	uint32_t saves_at;
	uint64_t save_asked; /* now_ms; 0: not yet */
};

struct items_stats {
	uint64_t ipc_exports, ipc_requests, ipc_malformed, outbox_full;
	uint64_t exports_applied, exports_duplicate, exports_dead;
	uint64_t propose_retries, requests_refused;
	uint64_t pushes, push_failures, confirms, confirms_late, save_waits;
	uint64_t allocations;
};

struct items_svc {
	uv_loop_t *loop;
	const struct tracer *log;
	const struct core *core;
	struct inst_mgr *im;
	int confirm_after_save;
	uv_timer_t timer;
	int stopping;
	uint64_t self; /* this node's raft id, once known */
	int leader;
	/* outbox */
	int ob_loaded;
	uint64_t ob_head, ob_tail;
	int ob_busy;
	uint64_t ob_retry_at;
	/* allocation */
	int alloc_busy;
	uint64_t alloc_next;
	/* grants, one slot per local instance */
	struct push push[INST_LOCAL_MAX];
	size_t npush;
	uint64_t local_refresh_at;
	struct items_stats st;
};

static void on_tick(uv_timer_t *t);

static uint64_t now_ms(struct items_svc *s)
{
	return s->core->ops->now_ms(s->core->ctx);
}

/* ---- the outbox ---- */

static void ob_key(char *k, uint64_t n)
{
	snprintf(k, KEY_MAX, OB_PREFIX "%016" PRIx64, n);
}

static int ob_meta_put(struct items_svc *s, const char *key, const char *val,
		       size_t vl, int del_key, uint64_t head, uint64_t tail)
{
	char meta[48];
	const char *keys[2] = {key, OB_META};
	const uint8_t *vals[2] = {(const uint8_t *)val, (const uint8_t *)meta};
	size_t lens[2] = {vl, 0};
	int del[2] = {del_key, 0};

	lens[1] = (size_t)snprintf(meta, sizeof(meta), "%" PRIu64 " %" PRIu64,
				   head, tail);
	return s->core->ops->local_batch(s->core->ctx, keys, vals, lens, del,
					 2);
}

static int ob_load(struct items_svc *s)
{
	uint8_t *v = NULL;
	size_t n = 0;
	char buf[48];
	int rc;

	if (s->ob_loaded)
		return 0;
	if (s->core->ops->local_get == NULL)
		return ERR_NOTFOUND;
	rc = s->core->ops->local_get(s->core->ctx, OB_META, &v, &n);
	if (rc == ERR_NOTFOUND) {
		s->ob_head = s->ob_tail = 0;
		s->ob_loaded = 1;
		return 0;
	}
	if (rc != 0)
		return rc;
	snprintf(buf, sizeof(buf), "%.*s", (int)(n < 47 ? n : 47), (char *)v);
	free(v);
	if (sscanf(buf, "%" SCNu64 " %" SCNu64, &s->ob_head, &s->ob_tail) != 2 ||
	    s->ob_head > s->ob_tail)
		return ERR_CORRUPT;
	s->ob_loaded = 1;
	if (s->ob_tail > s->ob_head)
		TRACE_I(s->log, "items", "outbox: %" PRIu64 " exports to drain",
			s->ob_tail - s->ob_head);
	return 0;
}

static cJSON *lines_json(const struct core_item_line *l, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		cJSON *e = cJSON_CreateArray();

		cJSON_AddItemToArray(e, cJSON_CreateString(l[i].name));
		cJSON_AddItemToArray(e, cJSON_CreateString(l[i].quality));
		cJSON_AddItemToArray(e, cJSON_CreateNumber((double)l[i].count));
		cJSON_AddItemToArray(a, e);
	}
	return a;
}

static int ob_append(struct items_svc *s, uint64_t instance, uint64_t seq,
		     const struct core_item_line *l, size_t n)
{
	char key[KEY_MAX], *txt;
	cJSON *j;
	int rc;

	rc = ob_load(s);
	if (rc != 0)
		return rc;
	if (s->ob_tail - s->ob_head >= ITEMS_OUTBOX_MAX)
		return ERR_AGAIN;
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "i", (double)instance);
	cJSON_AddNumberToObject(j, "s", (double)seq);
	cJSON_AddItemToObject(j, "l", lines_json(l, n));
	txt = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (txt == NULL)
		return ERR_NOMEM;
	ob_key(key, s->ob_tail);
	rc = ob_meta_put(s, key, txt, strlen(txt), 0, s->ob_head,
			 s->ob_tail + 1);
	free(txt);
	if (rc == 0)
		s->ob_tail++;
	return rc;
}

/* Reads [name, quality, count] triples (the outbox's) or {name, count,
 * quality} objects (the game's); 0 or ERR_MALFORMED. */
static int parse_lines(const cJSON *a, struct core_item_line *l, size_t *n)
{
	const cJSON *e;
	size_t k = 0;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > CORE_ITEM_LINES_MAX)
		return ERR_MALFORMED;
	cJSON_ArrayForEach(e, a) {
		const cJSON *nm, *q, *c;

		if (cJSON_IsArray(e)) {
			nm = cJSON_GetArrayItem(e, 0);
			q = cJSON_GetArrayItem(e, 1);
			c = cJSON_GetArrayItem(e, 2);
		} else {
			nm = cJSON_GetObjectItemCaseSensitive(e, "name");
			q = cJSON_GetObjectItemCaseSensitive(e, "quality");
			c = cJSON_GetObjectItemCaseSensitive(e, "count");
		}
		if (!cJSON_IsString(nm) || !cJSON_IsNumber(c) ||
		    (q != NULL && !cJSON_IsString(q)) ||
		    strlen(nm->valuestring) > CORE_ITEM_NAME_MAX ||
		    (q && strlen(q->valuestring) > CORE_ITEM_QUALITY_MAX) ||
		    c->valuedouble < 0 || c->valuedouble > 9007199254740992.0)
			return ERR_MALFORMED;
		memset(&l[k], 0, sizeof(l[k]));
		snprintf(l[k].name, sizeof(l[k].name), "%s", nm->valuestring);
		snprintf(l[k].quality, sizeof(l[k].quality), "%s",
			 q ? q->valuestring : "normal");
		/* A fraction or a negative number reaches the ledger as a
		 * count it refuses (0 or too big), and is counted there. */
		l[k].count = c->valuedouble == (double)(uint64_t)c->valuedouble
				     ? (uint64_t)c->valuedouble
				     : 0;
		k++;
	}
	*n = k;
	return 0;
}

struct ob_op {
	struct items_svc *s;
	uint64_t n;
	struct core_item_line lines[CORE_ITEM_LINES_MAX];
	char *txt; /* the entry as stored (for a dead letter) */
};

static void ob_done(struct items_svc *s, struct ob_op *o, int dead)
{
	char key[KEY_MAX], dkey[KEY_MAX];
	const char *keys[3] = {key, OB_META, dkey};
	const uint8_t *vals[3];
	char meta[48];
	size_t lens[3];
	int del[3] = {1, 0, 0}, rc;

	ob_key(key, o->n);
	snprintf(dkey, sizeof(dkey), DEAD_PREFIX "%016" PRIx64, o->n);
	lens[1] = (size_t)snprintf(meta, sizeof(meta), "%" PRIu64 " %" PRIu64,
				   o->n + 1, s->ob_tail);
	vals[1] = (const uint8_t *)meta;
	vals[0] = NULL;
	lens[0] = 0;
	vals[2] = (const uint8_t *)o->txt;
	lens[2] = strlen(o->txt);
	rc = s->core->ops->local_batch(s->core->ctx, keys, vals, lens, del,
				       dead ? 3 : 2);
	if (rc != 0) {
		TRACE_E(s->log, "items", "outbox: cannot remove entry %" PRIu64
			": %s", o->n, err_str(rc));
		s->ob_retry_at = now_ms(s) + RETRY_MS;
		return;
	}
	s->ob_head = o->n + 1;
}

static void on_export(void *arg, const struct core_write_result *r)
{
	struct ob_op *o = arg;
	struct items_svc *s = o->s;

	s->ob_busy = 0;
	if (r->status != 0) {
		s->st.propose_retries++;
		s->ob_retry_at = now_ms(s) + RETRY_MS;
	} else if (r->result == 0 || r->result == ERR_EXISTS ||
		   r->result == ERR_EXPIRED) {
		if (r->result == 0)
			s->st.exports_applied++;
		else
			s->st.exports_duplicate++;
		ob_done(s, o, 0);
	} else {
		TRACE_W(s->log, "items",
			"export %" PRIu64 " refused by the ledger (%s); kept "
			"under " DEAD_PREFIX,
			o->n, err_name(r->result));
		s->st.exports_dead++;
		ob_done(s, o, 1);
	}
	free(o->txt);
	free(o);
	items_kick(s);
}

/* Proposes the outbox's oldest entry. */
static void ob_drain(struct items_svc *s)
{
	char key[KEY_MAX];
	struct core_cmd cmd;
	struct ob_op *o;
	uint8_t *v = NULL;
	size_t vl = 0, n = 0;
	cJSON *j;
	int rc;

	if (s->ob_busy || s->self == 0 || ob_load(s) != 0 ||
	    s->ob_head == s->ob_tail || now_ms(s) < s->ob_retry_at)
		return;
	ob_key(key, s->ob_head);
	rc = s->core->ops->local_get(s->core->ctx, key, &v, &vl);
	if (rc != 0) {
		TRACE_E(s->log, "items", "outbox entry %" PRIu64 ": %s",
			s->ob_head, err_str(rc));
		s->ob_retry_at = now_ms(s) + RETRY_MS;
		return;
	}
	o = calloc(1, sizeof(*o));
	j = cJSON_ParseWithLength((const char *)v, vl);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_ITEMS_EXPORT;
	if (o == NULL || j == NULL ||
	    parse_lines(cJSON_GetObjectItemCaseSensitive(j, "l"), o->lines,
			&n) != 0 ||
	    !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "i")) ||
	    !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "s"))) {
		TRACE_E(s->log, "items", "outbox entry %" PRIu64
			" does not decode", s->ob_head);
		s->ob_retry_at = now_ms(s) + 10 * RETRY_MS;
		goto out;
	}
	o->s = s;
	o->n = s->ob_head;
	o->txt = strndup((const char *)v, vl);
	cmd.u.items.instance =
		(uint64_t)cJSON_GetObjectItemCaseSensitive(j, "i")->valuedouble;
	cmd.u.items.seq =
		(uint64_t)cJSON_GetObjectItemCaseSensitive(j, "s")->valuedouble;
	cmd.u.items.node = s->self;
	cmd.u.items.wall_ms = s->core->ops->wall_ms(s->core->ctx);
	cmd.u.items.n = n;
	cmd.u.items.lines = o->lines;
	rc = o->txt ? s->core->ops->write(s->core->ctx, &cmd,
					  now_ms(s) + 5000, on_export, o)
		    : ERR_NOMEM;
	if (rc != 0) {
		s->st.propose_retries++;
		s->ob_retry_at = now_ms(s) + RETRY_MS;
		free(o->txt);
		goto out;
	}
	s->ob_busy = 1;
	o = NULL;
out:
	free(o);
	cJSON_Delete(j);
	free(v);
}

/* ---- requests ---- */

static void on_request(void *arg, const struct core_write_result *r)
{
	struct items_svc *s = arg;

	if (r->status == 0 && r->result != 0)
		s->st.requests_refused++;
}

static void propose_request(struct items_svc *s, uint64_t instance,
			    const struct core_item_line *l, size_t n)
{
	struct core_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_ITEMS_REQUEST;
	cmd.u.items.instance = instance;
	cmd.u.items.node = s->self;
	cmd.u.items.wall_ms = s->core->ops->wall_ms(s->core->ctx);
	cmd.u.items.n = n;
	cmd.u.items.lines = l;
	/* A request lost here costs one cycle: the game asks again. */
	(void)s->core->ops->write(s->core->ctx, &cmd, now_ms(s) + 5000,
				  on_request, s);
}

/* ---- IPC from the games ---- */

static void on_ipc(void *arg, uint64_t instance, const char *channel,
		   uint64_t msg_id, const struct cJSON *msg)
{
	struct core_item_line l[CORE_ITEM_LINES_MAX];
	struct items_svc *s = arg;
	const cJSON *type, *seq;
	size_t n = 0;
	int rc = 0;

	(void)channel;
	if (s->stopping || s->self == 0) {
		inst_mgr_ipc_done(s->im, instance, msg_id, ERR_AGAIN);
		return;
	}
	type = cJSON_GetObjectItemCaseSensitive(msg, "type");
	seq = cJSON_GetObjectItemCaseSensitive(msg, "seq");
	if (!cJSON_IsString(type) ||
	    parse_lines(cJSON_GetObjectItemCaseSensitive(msg, "items"), l,
			&n) != 0) {
		/* Garbage the game would send forever: acknowledged and
		 * counted, never proposed. */
		s->st.ipc_malformed++;
		TRACE_W(s->log, "items", "instance %" PRIu64 ": message %" PRIu64
			" is malformed; dropped", instance, msg_id);
	} else if (strcmp(type->valuestring, "export") == 0) {
		s->st.ipc_exports++;
		if (!cJSON_IsNumber(seq) || seq->valuedouble < 0 ||
		    seq->valuedouble > 9007199254740992.0) {
			s->st.ipc_malformed++;
		} else {
			rc = ob_append(s, instance, (uint64_t)seq->valuedouble,
				       l, n);
			if (rc == ERR_AGAIN)
				s->st.outbox_full++;
			else if (rc != 0)
				TRACE_E(s->log, "items", "outbox append: %s",
					err_str(rc));
		}
	} else if (strcmp(type->valuestring, "request") == 0) {
		s->st.ipc_requests++;
		propose_request(s, instance, l, n);
	} else {
		s->st.ipc_malformed++;
	}
	inst_mgr_ipc_done(s->im, instance, msg_id, rc);
	if (rc == 0)
		items_kick(s);
}

/* ---- grants ---- */

static void on_confirm(void *arg, const struct core_write_result *r)
{
	struct push *p = arg;
	struct items_svc *s = p->s;

	if (r->status != 0) {
		/* Outcome unknown: confirm again (a repeat after a confirm
		 * that applied is NOTFOUND). */
		p->state = P_IDLE;
		p->reconfirm = 1;
		p->retry_at = now_ms(s) + RETRY_MS;
		return;
	}
	if (r->result == ERR_NOTFOUND && !p->reconfirm)
		s->st.confirms_late++;
	if (r->result == 0)
		s->st.confirms++;
	if (r->result != 0 && r->result != ERR_NOTFOUND)
		TRACE_W(s->log, "items", "confirm of grant %" PRIu64 ": %s",
			p->grant, err_name(r->result));
	p->state = P_IDLE;
	p->grant = 0;
	p->tried = 0;
	p->reconfirm = 0;
	items_kick(s);
}

static void confirm(struct items_svc *s, struct push *p)
{
	struct core_cmd cmd;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_ITEMS_CONFIRM;
	cmd.u.items.grant = p->grant;
	cmd.u.items.node = s->self;
	cmd.u.items.n = p->nret;
	cmd.u.items.lines = p->ret;
	p->state = P_CONFIRMING;
	rc = s->core->ops->write(s->core->ctx, &cmd, now_ms(s) + 5000,
				 on_confirm, p);
	if (rc != 0) {
		p->state = P_IDLE;
		p->retry_at = now_ms(s) + RETRY_MS;
	}
}

static void on_save_asked(void *arg, int status, const char *body,
			  size_t len)
{
	(void)arg;
	(void)status;
	(void)body;
	(void)len;
}

/* The game answered a push: wait for a save of it before confirming. */
static void await_save(struct items_svc *s, struct push *p)
{
	struct core_inst_state st;

	if (s->core->ops->inst_state(s->core->ctx, p->instance, &st) != 0) {
		p->state = P_IDLE; /* gone: push again later */
		p->retry_at = now_ms(s) + RETRY_MS;
		return;
	}
	p->pid_at = st.pid;
	p->saves_at = st.saves;
	p->save_asked = 0;
	p->state = P_AWAIT_SAVE;
	s->st.save_waits++;
}

/* P_AWAIT_SAVE: confirm once the same run of the game saved; push again
 * when the game restarted (it lost what it had not saved); ask for a save
 * now and then. */
static void check_saved(struct items_svc *s, struct push *p)
{
	static const char cmd[] = "/server-save";
	struct core_inst_state st;
	int rc = s->core->ops->inst_state(s->core->ctx, p->instance, &st);

	if (rc != 0 || st.pid != p->pid_at) {
		p->state = P_IDLE;
		p->retry_at = now_ms(s) + RETRY_MS;
		return;
	}
	if (st.saves != p->saves_at) {
		confirm(s, p);
		return;
	}
	if (p->save_asked == 0 || now_ms(s) >= p->save_asked + SAVE_ASK_MS) {
		p->save_asked = now_ms(s);
		(void)s->core->ops->inst_rcon(s->core->ctx, p->instance, cmd,
					      sizeof(cmd) - 1, now_ms(s) + 10000,
					      on_save_asked, NULL);
	}
}

static void on_pushed(void *arg, int status, const char *body, size_t len)
{
	struct push *p = arg;
	struct items_svc *s = p->s;
	const cJSON *ret;
	cJSON *j = NULL;

	if (status == 0)
		j = cJSON_ParseWithLength(body, len);
	ret = cJSON_GetObjectItemCaseSensitive(j, "returned");
	if (j == NULL || (ret != NULL && parse_lines(ret, p->ret, &p->nret) != 0)) {
		s->st.push_failures++;
		TRACE_W(s->log, "items", "grant %" PRIu64 " to instance %" PRIu64
			": %s%.*s", p->grant, p->instance,
			status ? err_str(status) : "bad answer ",
			(int)(len < 200 ? len : 200), body ? body : "");
		p->state = P_IDLE;
		p->retry_at = now_ms(s) + 2 * RETRY_MS;
		cJSON_Delete(j);
		return;
	}
	if (ret == NULL)
		p->nret = 0;
	cJSON_Delete(j);
	if (s->stopping) {
		p->state = P_IDLE;
		return;
	}
	if (s->confirm_after_save) {
		await_save(s, p);
		return;
	}
	confirm(s, p);
}

static char *grant_args(const struct core_item_grant *g)
{
	char id[24];
	cJSON *j = cJSON_CreateObject(), *a;
	char *txt;

	snprintf(id, sizeof(id), "%" PRIu64, g->id);
	cJSON_AddStringToObject(j, "grant", id);
	a = cJSON_AddArrayToObject(j, "items");
	for (size_t i = 0; i < g->n; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "name", g->lines[i].name);
		cJSON_AddNumberToObject(e, "count", (double)g->lines[i].count);
		cJSON_AddStringToObject(e, "quality", g->lines[i].quality);
		cJSON_AddItemToArray(a, e);
	}
	txt = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return txt;
}

static void push_one(struct items_svc *s, struct push *p,
		     const struct core_items_info *info)
{
	struct core_item_grant *g;
	char *args;
	int rc;

	if (p->state == P_AWAIT_SAVE) {
		check_saved(s, p);
		return;
	}
	if (p->state != P_IDLE || now_ms(s) < p->retry_at)
		return;
	g = malloc(sizeof(*g));
	if (g == NULL)
		return;
	rc = s->core->ops->items_grant_of(s->core->ctx, p->instance, g);
	if (rc != 0) {
		p->grant = 0;
		p->tried = 0;
		p->reconfirm = 0;
		goto out;
	}
	if (g->id != p->grant) {
		p->grant = g->id;
		p->tried = 0;
		p->reconfirm = 0;
	}
	if (p->reconfirm) {
		confirm(s, p);
		goto out;
	}
	/* Never pushed and half its time gone: let it expire, rather than
	 * race the expiry with an insertion. */
	if (!p->tried && info->now_ms > g->created_ms + info->timeout_ms / 2)
		goto out;
	args = grant_args(g);
	rc = args ? inst_mgr_call(s->im, p->instance, "subspace_grant", args,
				  ITEMS_PUSH_TIMEOUT_MS, on_pushed, p)
		  : ERR_NOMEM;
	free(args);
	if (rc == 0) {
		p->state = P_CALLING;
		p->tried = 1;
		s->st.pushes++;
	} else {
		p->retry_at = now_ms(s) + RETRY_MS;
	}
out:
	free(g);
}

/* The local instances (assigned here), refreshed every second. */
static void refresh_local(struct items_svc *s)
{
	struct core_instance *all;
	size_t n = 0;

	if (now_ms(s) < s->local_refresh_at)
		return;
	s->local_refresh_at = now_ms(s) + 1000;
	all = calloc(CORE_INST_MAX, sizeof(*all));
	if (all == NULL ||
	    s->core->ops->inst_list(s->core->ctx, all, CORE_INST_MAX, &n) != 0)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		if (all[i].node != s->self)
			continue;
		while (k < s->npush && s->push[k].instance != all[i].id)
			k++;
		if (k == s->npush && s->npush < INST_LOCAL_MAX) {
			memset(&s->push[k], 0, sizeof(s->push[k]));
			s->push[k].instance = all[i].id;
			s->push[k].s = s;
			s->npush++;
		}
	}
	free(all);
}

static void push_grants(struct items_svc *s, const struct core_items_info *info)
{
	refresh_local(s);
	if (info->grants == 0)
		return;
	for (size_t i = 0; i < s->npush; i++)
		push_one(s, &s->push[i], info);
}

/* ---- allocation (leader) ---- */

static void on_allocated(void *arg, const struct core_write_result *r)
{
	struct items_svc *s = arg;

	s->alloc_busy = 0;
	if (r->status == 0)
		s->st.allocations++;
}

static void allocate(struct items_svc *s, const struct core_items_info *info)
{
	struct core_cmd cmd;

	if (!s->leader || s->alloc_busy || now_ms(s) < s->alloc_next ||
	    (info->demands == 0 && info->grants == 0))
		return;
	s->alloc_next = now_ms(s) + ITEMS_ALLOC_MS;
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_ITEMS_ALLOCATE;
	cmd.u.items.wall_ms = s->core->ops->wall_ms(s->core->ctx);
	if (s->core->ops->write(s->core->ctx, &cmd, now_ms(s) + 5000,
				on_allocated, s) == 0)
		s->alloc_busy = 1;
}

/* ---- the loop ---- */

static void learn_role(struct items_svc *s)
{
	struct core_raft_status *st = malloc(sizeof(*st));

	if (st != NULL && s->core->ops->raft_status(s->core->ctx, st) == 0) {
		s->self = st->id;
		s->leader = strcmp(st->role, "leader") == 0;
	}
	free(st);
}

static void on_tick(uv_timer_t *t)
{
	struct items_svc *s = t->data;
	struct core_items_info info;

	if (s->stopping || !s->core->ops->joined(s->core->ctx))
		return;
	learn_role(s);
	if (s->self == 0 || s->core->ops->items_info == NULL ||
	    s->core->ops->items_info(s->core->ctx, &info) != 0)
		return;
	ob_drain(s);
	allocate(s, &info);
	push_grants(s, &info);
}

void items_kick(struct items_svc *s)
{
	if (s->stopping)
		return;
	/* Runs a tick on the next loop turn, then every TICK_MS. */
	uv_timer_start(&s->timer, on_tick, 0, TICK_MS);
}

int items_new(const struct items_config *cfg, struct items_svc **out)
{
	struct items_svc *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return ERR_NOMEM;
	s->loop = cfg->loop;
	s->log = cfg->log;
	s->core = cfg->core;
	s->im = cfg->im;
	s->confirm_after_save = cfg->confirm_after_save;
	rc = uv_timer_init(s->loop, &s->timer);
	if (rc != 0) {
		free(s);
		return rc;
	}
	s->timer.data = s;
	rc = inst_mgr_ipc_subscribe(s->im, "items", on_ipc, s);
	if (rc != 0) {
		uv_close((uv_handle_t *)&s->timer, (uv_close_cb)free);
		return rc;
	}
	uv_timer_start(&s->timer, on_tick, TICK_MS, TICK_MS);
	*out = s;
	return 0;
}

void items_stop(struct items_svc *s)
{
	s->stopping = 1;
	uv_timer_stop(&s->timer);
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

void items_free(struct items_svc *s)
{
	ASSERT(s->stopping);
	uv_close((uv_handle_t *)&s->timer, on_closed);
}

int items_metrics(void *arg, struct http_reply *rep)
{
	struct items_svc *s = arg;
	const struct metric_sample m[] = {
		{"clusterd_items_outbox_exports", "gauge",
		 "Exports in this node's local outbox, not yet in the ledger.",
		 s->ob_loaded ? (double)(s->ob_tail - s->ob_head) : 0},
		{"clusterd_items_ipc_malformed_total", "counter",
		 "Item messages from this node's games that did not parse "
		 "(dropped, acknowledged).",
		 (double)s->st.ipc_malformed},
		{"clusterd_items_outbox_full_total", "counter",
		 "Exports left unacknowledged because the outbox was full.",
		 (double)s->st.outbox_full},
		{"clusterd_items_exports_dead_total", "counter",
		 "Exports the ledger refused for good, kept under items/dead/.",
		 (double)s->st.exports_dead},
		{"clusterd_items_exports_duplicate_total", "counter",
		 "Exports the ledger had applied already (a retry).",
		 (double)s->st.exports_duplicate},
		{"clusterd_items_grant_pushes_total", "counter",
		 "Grants pushed into this node's games.", (double)s->st.pushes},
		{"clusterd_items_grant_push_failures_total", "counter",
		 "Grant pushes that failed (retried).",
		 (double)s->st.push_failures},
		{"clusterd_items_save_waits_total", "counter",
		 "Grants whose confirmation waited for a save of the game.",
		 (double)s->st.save_waits},
		{"clusterd_items_confirms_late_total", "counter",
		 "Grants the game took after the ledger had expired them.",
		 (double)s->st.confirms_late},
	};

	return metrics_samples(rep, m, sizeof(m) / sizeof(m[0]));
}
