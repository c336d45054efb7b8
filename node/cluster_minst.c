/*
 * cluster_minst.c: the figures of this node's instances for its metrics
 * snapshot (cluster_metrics.c).
 *
 * What the manager knows (status, crashes, saves, start time) is read at
 * each sample. What only the game knows (its tick, the players online,
 * the items produced and consumed) arrives on its own schedule and is
 * kept here until the next sample:
 *  - from the game's Lua module over the IPC channel `metrics`
 *    (cluster_metrics_ipc; the instance manager's IPC dispatch calls it);
 *  - for an instance whose module has not reported within two sampling
 *    periods (a save without the module, or before the IPC lands), from
 *    one RCON command per sampling period that prints the same figures.
 * Neither ever runs inside a scrape: a scrape renders the snapshot.
 * UPS is derived here: ticks between two readings over the time between
 * them.
 */
#include "node/cluster_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/cmetrics/cmetrics.h"
#include "node/metrics.h"
#include "storage/idomain.h"

/* The sampling command: one line of Lua (silent: /sc), the same on 1.1
 * (force.item_production_statistics) and 2.0 (per-surface statistics,
 * summed). Output: "TICK PLAYERS", then "p ITEM COUNT" / "c ITEM COUNT"
 * lines, at most 256 items per direction. The statistics are read under
 * pcall: a game (or stand-in) without them still reports tick and
 * players. */
static const char sample_cmd[] =
	"/sc local o={game.tick..\" \"..#game.connected_players} "
	"local function add(k,t) local n=0 for name,v in pairs(t) do n=n+1 "
	"if n>256 then break end o[#o+1]=k..\" \"..name..\" \"..string.format(\"%.0f\",v) end end "
	"pcall(function() local f=game.forces[\"player\"] "
	"if f.get_item_production_statistics then local p,c={},{} "
	"for _,s in pairs(game.surfaces) do local st=f.get_item_production_statistics(s) "
	"for k,v in pairs(st.input_counts) do p[k]=(p[k] or 0)+v end "
	"for k,v in pairs(st.output_counts) do c[k]=(c[k] or 0)+v end end "
	"add(\"p\",p) add(\"c\",c) else local st=f.item_production_statistics "
	"add(\"p\",st.input_counts) add(\"c\",st.output_counts) end end) "
	"rcon.print(table.concat(o,\"\\n\"))";

_Static_assert(CLM_ITEM_NAME_MAX == 64, "parse_reply's %65s");

struct rcon_req {
	struct cluster *c;
	uint64_t id;
};

static struct clm_inst *slot_find(struct cl_mx *mx, uint64_t id, int create)
{
	struct clm_inst *free_slot = NULL;

	for (size_t i = 0; i < INST_LOCAL_MAX; i++) {
		if (mx->inst[i].id == id)
			return &mx->inst[i];
		if (mx->inst[i].id == 0 && free_slot == NULL)
			free_slot = &mx->inst[i];
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->id = id;
	return free_slot;
}

static void slot_clear_game(struct clm_inst *s)
{
	free(s->items);
	s->items = NULL;
	s->nitems = 0;
	s->known = 0;
	s->ups_known = 0;
}

void cl_minst_free(struct cl_mx *mx)
{
	for (size_t i = 0; i < INST_LOCAL_MAX; i++)
		slot_clear_game(&mx->inst[i]);
}

/* A new reading of tick and players at now. */
static void slot_reading(struct clm_inst *s, uint64_t tick, uint64_t players,
			 uint64_t now)
{
	if (s->known && tick >= s->tick && now > s->at_ms) {
		s->ups = (double)(tick - s->tick) * 1000.0 / (double)(now - s->at_ms);
		s->ups_known = 1;
	} else {
		s->ups_known = 0; /* first reading, or another game loaded */
	}
	s->tick = tick;
	s->players = players;
	s->at_ms = now;
	s->known = 1;
}

static int item_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > CLM_ITEM_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == '"' || p[i] == '\\' ||
		    (unsigned char)p[i] >= 0x7f)
			return 0;
	return 1;
}

static void item_add(struct clm_inst *s, const char *name, size_t n,
		     int produced, double count)
{
	struct clm_item *it = NULL;

	if (!item_name_ok(name, n) || !(count >= 0))
		return;
	for (uint32_t i = 0; i < s->nitems && it == NULL; i++)
		if (strlen(s->items[i].name) == n &&
		    memcmp(s->items[i].name, name, n) == 0)
			it = &s->items[i];
	if (it == NULL) {
		if (s->items == NULL)
			s->items = calloc(CLM_ITEMS_MAX, sizeof(*s->items));
		if (s->items == NULL || s->nitems >= CLM_ITEMS_MAX)
			return;
		it = &s->items[s->nitems++];
		memset(it, 0, sizeof(*it));
		memcpy(it->name, name, n);
	}
	if (produced)
		it->produced = count;
	else
		it->consumed = count;
}

/* The RCON answer: "TICK PLAYERS" then item lines (sample_cmd). */
static void parse_reply(struct clm_inst *s, const char *body, size_t len,
			uint64_t now)
{
	char line[256];
	unsigned long long tick, players;
	size_t off = 0;
	int first = 1;

	while (off < len) {
		const char *nl = memchr(body + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - body - off) : len - off;
		char name[CLM_ITEM_NAME_MAX + 2], kind;
		double v;

		if (n < sizeof(line)) {
			memcpy(line, body + off, n);
			line[n] = '\0';
			if (first && sscanf(line, "%llu %llu", &tick, &players) == 2)
				slot_reading(s, tick, players, now);
			else if (first)
				return; /* not our answer: an error text */
			else if (sscanf(line, "%c %65s %lf", &kind, name, &v) == 3 &&
				 (kind == 'p' || kind == 'c'))
				item_add(s, name, strlen(name), kind == 'p', v);
		}
		first = 0;
		off += n + 1;
	}
}

static void on_rcon(void *arg, int status, const char *body, size_t len)
{
	struct rcon_req *r = arg;
	struct cl_mx *mx = r->c->mx;
	struct clm_inst *s = mx ? slot_find(mx, r->id, 0) : NULL;

	if (s != NULL) {
		s->busy = 0;
		if (status == 0) {
			s->nitems = 0;
			parse_reply(s, body, len, cl_now(r->c));
		}
	}
	free(r);
}

/* Starts an RCON sample of every running instance whose game module has
 * not reported lately and that has none in flight. */
void cl_minst_poll(struct cluster *c, struct cl_mx *mx, uint64_t now)
{
	for (size_t i = 0; i < INST_LOCAL_MAX && c->im; i++) {
		struct clm_inst *s = &mx->inst[i];
		struct rcon_req *r;

		if (s->id == 0 || !s->running || s->busy ||
		    (s->ipc_ms != 0 && now - s->ipc_ms < 2 * CLM_SAMPLE_MS) ||
		    now < s->next_rcon_ms)
			continue;
		r = malloc(sizeof(*r));
		if (r == NULL)
			return;
		r->c = c;
		r->id = s->id;
		s->next_rcon_ms = now + CLM_SAMPLE_MS;
		if (inst_mgr_rcon(c->im, s->id, sample_cmd, sizeof(sample_cmd) - 1,
				  CLM_RCON_TIMEOUT_MS, on_rcon, r) != 0) {
			free(r);
			continue;
		}
		s->busy = 1;
	}
}

/* The instance manager's dispatch of channel `metrics`. A report is
 * acknowledged whatever it held: sending it again would not make a bad
 * one good, and the next report replaces it anyway. */
static void on_ipc(void *arg, uint64_t instance, const char *channel,
		   uint64_t msg_id, const struct cJSON *msg)
{
	struct cluster *c = arg;

	(void)channel;
	if (cluster_metrics_ipc(c, instance, msg) == ERR_MALFORMED)
		TRACE_D(c->log, "metrics", "instance %" PRIu64 ": malformed report %" PRIu64,
			instance, msg_id);
	if (c->im)
		inst_mgr_ipc_done(c->im, instance, msg_id, 0);
}

void cl_minst_subscribe(struct cluster *c, struct cl_mx *mx)
{
	int rv;

	if (mx->ipc_subscribed || c->im == NULL)
		return;
	rv = inst_mgr_ipc_subscribe(c->im, "metrics", on_ipc, c);
	mx->ipc_subscribed = 1;
	if (rv != 0)
		TRACE_W(c->log, "metrics", "cannot subscribe to the games' metrics: %s",
			err_str(rv));
}

int cluster_metrics_ipc(struct cluster *c, uint64_t instance,
			const cJSON *msg)
{
	struct cl_mx *mx = cl_mx_get(c);
	struct clm_inst *s;
	const cJSON *tick = cJSON_GetObjectItemCaseSensitive(msg, "tick");
	const cJSON *pl = cJSON_GetObjectItemCaseSensitive(msg, "players");
	const char *dirs[2] = {"produced", "consumed"};
	uint64_t now = cl_now(c);

	if (mx == NULL)
		return ERR_NOMEM;
	if (!cJSON_IsNumber(tick) || !cJSON_IsNumber(pl) || tick->valuedouble < 0 ||
	    pl->valuedouble < 0)
		return ERR_MALFORMED;
	s = slot_find(mx, instance, 1);
	if (s == NULL)
		return ERR_AGAIN;
	slot_reading(s, (uint64_t)tick->valuedouble, (uint64_t)pl->valuedouble, now);
	s->ipc_ms = now;
	s->nitems = 0;
	for (int d = 0; d < 2; d++) {
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(msg, dirs[d]);
		const cJSON *it;

		cJSON_ArrayForEach(it, obj)
			if (cJSON_IsNumber(it) && it->string)
				item_add(s, it->string, strlen(it->string), d == 0,
					 it->valuedouble);
	}
	return 0;
}

/* ---- rendering ---- */

struct minst {
	const struct stor_inst *rec;
	struct core_inst_state st;
	int have_st;
	struct clm_inst *s;
};

static int label_inst(struct http_reply *rep, const char *family,
		      const struct minst *m)
{
	int rv = http_printf(rep, "%s{instance=\"", family);

	if (rv == 0)
		rv = cm_label_escape(&rep->body, m->rec->name);
	return rv;
}

static int put(struct http_reply *rep, const char *family,
	       const struct minst *m, double v, uint64_t now)
{
	int rv = label_inst(rep, family, m);

	if (rv == 0 && strcmp(family, "clusterd_instance_figures_age_seconds") == 0)
		rv = http_printf(rep, "\",source=\"%s",
				 m->s->ipc_ms != 0 && now - m->s->ipc_ms < 2 * CLM_SAMPLE_MS
					 ? "ipc" : "rcon");
	return rv ? rv : http_printf(rep, "\"} %.17g\n", v);
}

enum fig { F_UP, F_CRASHES, F_SAVES, F_START, F_TICK, F_UPS, F_PLAYERS, F_AGE };

static const struct {
	const char *name, *type, *help;
	int game; /* only with figures from the game */
} figs[] = {
	[F_UP] = {"clusterd_instance_up", "gauge",
		  "1 while the instance's server is in game.", 0},
	[F_CRASHES] = {"clusterd_instance_crashes_total", "counter",
		       "Crashes of the instance since its node started.", 0},
	[F_SAVES] = {"clusterd_instance_saves_total", "counter",
		     "Saves the instance's server finished since its node started.", 0},
	[F_START] = {"clusterd_instance_start_seconds", "gauge",
		     "The last start's time from start to in game.", 0},
	[F_TICK] = {"clusterd_instance_game_tick", "gauge",
		    "The game's tick, as last read from the game.", 1},
	[F_UPS] = {"clusterd_instance_updates_per_second", "gauge",
		   "Game updates per second (UPS) between the last two readings.", 1},
	[F_PLAYERS] = {"clusterd_instance_players_online", "gauge",
		       "Players connected to the instance.", 1},
	[F_AGE] = {"clusterd_instance_figures_age_seconds", "gauge",
		   "How old the game's figures in this snapshot are; source: ipc "
		   "(the game's module reported them) or rcon (read by the node).", 1},
};

static int fig_value(enum fig f, const struct minst *m, uint64_t now, double *v)
{
	const struct clm_inst *s = m->s;
	int game = s != NULL && s->known;

	*v = 0;
	if (figs[f].game && !game)
		return 0;
	switch (f) {
	case F_UP:
		*v = m->have_st && strcmp(m->st.status, "running") == 0;
		return 1;
	case F_CRASHES:
		*v = m->st.crashes;
		return m->have_st;
	case F_SAVES:
		*v = m->st.saves;
		return m->have_st;
	case F_START:
		*v = (double)m->st.start_to_running_ms / 1000.0;
		return m->have_st && m->st.start_to_running_ms > 0;
	case F_TICK:
		*v = (double)s->tick;
		return 1;
	case F_UPS:
		*v = s->ups;
		return s->ups_known;
	case F_PLAYERS:
		*v = (double)s->players;
		return 1;
	case F_AGE:
		*v = now > s->at_ms ? (double)(now - s->at_ms) / 1000.0 : 0;
		return 1;
	}
	return 0;
}

static int render_status(struct http_reply *rep, const struct minst *m, size_t n)
{
	int rv = metrics_family(rep, "clusterd_instance_status", "gauge",
				"The instance's status on its node: 1 for the current one.");

	for (size_t i = 0; i < n && rv == 0; i++) {
		rv = label_inst(rep, "clusterd_instance_status", &m[i]);
		if (rv == 0)
			rv = http_printf(rep, "\",status=\"%s\"} 1\n",
					 m[i].have_st ? m[i].st.status : "unknown");
	}
	return rv;
}

static int render_items(struct http_reply *rep, const struct minst *m, size_t n,
			int produced)
{
	const char *fam = produced ? "clusterd_instance_items_produced_total"
				   : "clusterd_instance_items_consumed_total";
	int rv = metrics_family(rep, fam, "counter",
				produced ? "Items the instance's force produced (game statistics)."
					 : "Items the instance's force consumed (game statistics).");

	for (size_t i = 0; i < n && rv == 0; i++)
		for (uint32_t j = 0; m[i].s && m[i].s->known && j < m[i].s->nitems && rv == 0; j++) {
			const struct clm_item *it = &m[i].s->items[j];

			rv = label_inst(rep, fam, &m[i]);
			if (rv == 0)
				rv = http_printf(rep, "\",item=\"%s\"} %.17g\n", it->name,
						 produced ? it->produced : it->consumed);
		}
	return rv;
}

static int render(struct http_reply *rep, const struct minst *m, size_t n,
		  uint64_t now)
{
	int rv = render_status(rep, m, n);

	for (size_t f = 0; f < sizeof(figs) / sizeof(figs[0]) && rv == 0; f++) {
		rv = metrics_family(rep, figs[f].name, figs[f].type, figs[f].help);
		for (size_t i = 0; i < n && rv == 0; i++) {
			double v;

			if (fig_value((enum fig)f, &m[i], now, &v))
				rv = put(rep, figs[f].name, &m[i], v, now);
		}
	}
	if (rv == 0)
		rv = render_items(rep, m, n, 1);
	if (rv == 0)
		rv = render_items(rep, m, n, 0);
	return rv;
}

/* Frees the slots of instances no longer here, creates the new ones and
 * notes which run (for the RCON poll). */
static void follow_slots(struct cl_mx *mx, struct minst *m, size_t n)
{
	for (size_t i = 0; i < INST_LOCAL_MAX; i++) {
		struct clm_inst *s = &mx->inst[i];
		int here = 0;

		for (size_t j = 0; j < n && !here; j++)
			here = m[j].rec->id == s->id;
		if (s->id != 0 && !here && !s->busy) {
			slot_clear_game(s);
			s->id = 0;
		}
	}
	for (size_t j = 0; j < n; j++) {
		m[j].s = slot_find(mx, m[j].rec->id, 1);
		if (m[j].s == NULL)
			continue;
		m[j].s->running = m[j].have_st && strcmp(m[j].st.status, "running") == 0;
		if (!m[j].s->running)
			slot_clear_game(m[j].s);
	}
}

int cl_minst_render(struct cluster *c, struct cl_mx *mx, struct http_reply *rep,
		    uint64_t now)
{
	struct stor_inst *all;
	struct minst *m;
	size_t total = 0, n = 0;
	int rv;

	all = calloc(CLM_LIST_MAX, sizeof(*all));
	m = calloc(INST_LOCAL_MAX, sizeof(*m));
	if (all == NULL || m == NULL) {
		free(all);
		free(m);
		return ERR_NOMEM;
	}
	rv = stor_inst_list(c->st, all, CLM_LIST_MAX, &total);
	for (size_t i = 0; rv == 0 && i < total && n < INST_LOCAL_MAX; i++) {
		if (all[i].node != c->ident.id)
			continue;
		m[n].rec = &all[i];
		m[n].have_st = c->im && inst_mgr_state(c->im, all[i].id, &m[n].st) == 0;
		n++;
	}
	if (rv == 0) {
		follow_slots(mx, m, n);
		if (n > 0)
			rv = render(rep, m, n, now);
	}
	free(m);
	free(all);
	return rv;
}
