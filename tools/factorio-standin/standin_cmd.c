/*
 * standin_cmd.c: /standin, the test control the real game does not have.
 *
 * Tests and the demo use these to simulate what players and factories do
 * (join, leave, chat, fill chests, build, let time pass). They act through
 * the same code paths as the game, so they raise the same events and print
 * the same lines. Every answer is one line per fact, for scripts to parse.
 * README.md lists them all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tools/factorio-standin/standin.h"

#define TICKS_PER_COMMAND_MAX 10000000u


/* Parses a whole non-negative number; false if it is not one. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	if (!s || !*s)
		return false;
	char *end;
	unsigned long long n = strtoull(s, &end, 10);
	if (*end || s[0] == '-' || n > max)
		return false;
	*v = n;
	return true;
}

static bool parse_f(const char *s, double *v)
{
	if (!s || !*s)
		return false;
	char *end;
	*v = strtod(s, &end);
	return *end == 0;
}

static const char *const reason_names[] = {
	"quit", "dropped", "reconnect", "wrong_input", "desync_limit_reached",
	"cannot_keep_up", "afk", "kicked", "kicked_and_deleted", "banned",
	NULL,
};

static void print_inv(const struct sg_inventory *inv, struct wbuf *r)
{
	for (uint32_t i = 0; i < inv->n; i++)
		sg_replyf(r, "%s %u\n", inv->items[i].name, inv->items[i].count);
}

/* The GUI tree as lines "path type value caption" (path: names joined
 * by '/', from the screen root). */
static void print_gui(const struct sg_player *p, struct wbuf *r)
{
	for (int i = 0; i < SG_GUI_MAX; i++) {
		const struct sg_gui_elem *e = &p->x->gui[i];
		char path[4 * SG_NAME_MAX] = "";
		const struct sg_gui_elem *chain[4];
		int n = 0;
		if (!e->used)
			continue;
		for (const struct sg_gui_elem *c = e; c && n < 4;
		     c = c->parent ? &p->x->gui[c->parent - 1] : NULL)
			chain[n++] = c;
		for (int k = n - 1; k >= 0; k--) {
			size_t l = strlen(path);
			snprintf(path + l, sizeof(path) - l, "%s%s",
				 k == n - 1 ? "" : "/",
				 chain[k]->name[0] ? chain[k]->name : "-");
		}
		sg_replyf(r, "%s %s %g %s\n", path, e->type, e->value,
			  e->caption);
	}
}

/* Inventory sync's test commands: dump, gui, controller, data. */
static bool st_player_x(const char *op, struct sg_player *p, char *a,
			struct wbuf *r)
{
	static const char *const invs[] = {"guns", "ammo", "armor", "trash",
					   "cursor"};
	if (!strcmp(op, "dump")) {
		char *d = sg_player_dump(p);
		sg_replyf(r, "%s\n", d ? d : "error: out of memory");
		free(d);
	} else if (!strcmp(op, "gui")) {
		print_gui(p, r);
	} else if (!strcmp(op, "controller")) {
		sg_replyf(r, "%u\n", p->controller);
	} else if (!strcmp(op, "data")) {
		char *inv = sg_next_word(&a), *item = sg_next_word(&a);
		struct sg_inventory *to = NULL;
		for (int i = 0; inv && i < SG_PINV_N; i++)
			if (!strcmp(inv, invs[i]))
				to = &p->x->inv[i];
		if (inv && !strcmp(inv, "main"))
			to = &p->main;
		if (!to || !item || !sg_item_has_data(item) || !a) {
			sg_replyf(r, "error: usage /standin data NAME "
				     "main|guns|ammo|armor|trash|cursor "
				     "blueprint|blueprint-book|... DATA\n");
			return true;
		}
		uint32_t slot = sg_inv_add_data(to, item, a, 0);
		sg_replyf(r, slot ? "%u\n" : "error: no room\n", slot);
	} else {
		return false;
	}
	return true;
}

static void st_player(struct sg_game *g, const char *op, char *a,
		      struct wbuf *r)
{
	char *name = sg_next_word(&a);
	if (!name) {
		sg_replyf(r, "error: player name missing\n");
		return;
	}
	if (!strcmp(op, "join")) {
		const char *why;
		if (sg_player_join(g, name, &why) < 0)
			sg_replyf(r, "error: %s cannot join: %s\n", name, why);
		else
			sg_replyf(r, "ok\n");
		return;
	}
	if (!strcmp(op, "leave")) {
		char *rs = sg_next_word(&a);
		int reason = SG_DR_QUIT;
		for (int i = 0; rs && reason_names[i]; i++)
			if (!strcmp(rs, reason_names[i]))
				reason = i;
		sg_replyf(r, sg_player_leave(g, name, reason) < 0
			       ? "error: %s is not online\n"
			       : "ok\n",
		    name);
		return;
	}
	struct sg_player *p = sg_player_find(g, name);
	if (!p) {
		sg_replyf(r, "error: no player %s\n", name);
		return;
	}
	if (!strcmp(op, "chat")) {
		if (!p->connected) {
			sg_replyf(r, "error: %s is not online\n", name);
			return;
		}
		uint32_t index = p->index;
		p->active_tick = g->tick;
		sg_actionf(g, "CHAT", "%s: %s", name, a);
		sg_event_begin(g);
		sg_event_setint(g, "player_index", index);
		sg_event_setstr(g, "message", a);
		sg_event(g, SG_EV_CONSOLE_CHAT);
		sg_replyf(r, "ok\n");
	} else if (st_player_x(op, p, a, r)) {
		return;
	} else if (!strcmp(op, "inventory")) {
		print_inv(&p->main, r);
		for (uint32_t i = 0; i < p->main.ndata; i++)
			sg_replyf(r, "%s 1\n", p->main.data[i].name);
	} else if (!strcmp(op, "messages")) {
		uint32_t n = p->nmsgs < SG_MSGS_MAX ? p->nmsgs : SG_MSGS_MAX;
		for (uint32_t i = p->nmsgs - n; i < p->nmsgs; i++)
			sg_replyf(r, "%s\n", p->msgs[i % SG_MSGS_MAX]);
	} else {
		char *item = sg_next_word(&a);
		uint64_t count;
		if (!item || !parse_u64(sg_next_word(&a), UINT32_MAX, &count) ||
		    !sg_proto_stack_size(item)) {
			sg_replyf(r, "error: usage /standin %s NAME ITEM COUNT\n", op);
			return;
		}
		uint32_t n = !strcmp(op, "give")
				     ? sg_inv_insert(&p->main, item,
						     (uint32_t)count)
				     : sg_inv_remove(&p->main, item,
						     (uint32_t)count);
		sg_replyf(r, "%u\n", n);
	}
}

static struct sg_entity *entity_arg(struct sg_game *g, char **a,
				    struct wbuf *r)
{
	uint64_t unit;
	struct sg_entity *e = NULL;
	if (parse_u64(sg_next_word(a), UINT32_MAX, &unit))
		e = sg_entity_get(g, (uint32_t)unit);
	if (!e)
		sg_replyf(r, "error: no such entity\n");
	return e;
}

/* /standin chest create NAME X Y | insert|remove UNIT ITEM COUNT |
 * contents UNIT | list */
static void st_chest(struct sg_game *g, char *a, struct wbuf *r)
{
	char *op = sg_next_word(&a);
	if (op && !strcmp(op, "create")) {
		char *name = sg_next_word(&a);
		double x, y;
		struct sg_entity *e = NULL;
		if (name && parse_f(sg_next_word(&a), &x) && parse_f(sg_next_word(&a), &y))
			e = sg_entity_create(g, name, x, y);
		if (e)
			sg_replyf(r, "%u\n", e->unit_number);
		else
			sg_replyf(r, "error: usage /standin chest create NAME X Y "
			       "(a known entity name)\n");
		return;
	}
	if (op && !strcmp(op, "list")) {
		for (size_t i = 0; i < g->nentities; i++) {
			const struct sg_entity *e = &g->entities[i];
			if (e->valid)
				sg_replyf(r, "%u %s %g %g\n", e->unit_number,
				    e->name, e->x, e->y);
		}
		return;
	}
	if (!op || (strcmp(op, "insert") && strcmp(op, "remove") &&
		    strcmp(op, "contents"))) {
		sg_replyf(r, "error: usage /standin chest create|insert|remove|"
		       "contents|list ...\n");
		return;
	}
	struct sg_entity *e = entity_arg(g, &a, r);
	if (!e)
		return;
	if (!strcmp(op, "contents")) {
		print_inv(&e->inv, r);
		return;
	}
	char *item = sg_next_word(&a);
	uint64_t count;
	if (!item || !parse_u64(sg_next_word(&a), UINT32_MAX, &count) ||
	    !sg_proto_stack_size(item)) {
		sg_replyf(r, "error: usage /standin chest %s UNIT ITEM COUNT\n", op);
		return;
	}
	uint32_t n = !strcmp(op, "insert")
			     ? sg_inv_insert(&e->inv, item, (uint32_t)count)
			     : sg_inv_remove(&e->inv, item, (uint32_t)count);
	sg_replyf(r, "%u\n", n);
}

/* /standin build PLAYER ENTITY X Y: a player places an entity. */
static void st_build(struct sg_game *g, char *a, struct wbuf *r)
{
	char *pname = sg_next_word(&a), *name = sg_next_word(&a);
	double x, y;
	struct sg_player *p = pname ? sg_player_find(g, pname) : NULL;
	if (!p || !p->connected || !name || !parse_f(sg_next_word(&a), &x) ||
	    !parse_f(sg_next_word(&a), &y)) {
		sg_replyf(r, "error: usage /standin build PLAYER ENTITY X Y (player "
		       "online)\n");
		return;
	}
	uint32_t index = p->index;
	struct sg_entity *e = sg_entity_create(g, name, x, y);
	if (!e) {
		sg_replyf(r, "error: unknown entity %s\n", name);
		return;
	}
	uint32_t unit = e->unit_number;
	sg_event_begin(g);
	sg_event_setentity(g, "entity", e);
	sg_event_setint(g, "player_index", index);
	sg_event(g, SG_EV_BUILT_ENTITY);
	sg_replyf(r, "%u\n", unit);
}

static void st_destroy(struct sg_game *g, char *a, struct wbuf *r)
{
	struct sg_entity *e = entity_arg(g, &a, r);
	if (!e)
		return;
	uint32_t unit = e->unit_number;
	sg_event_begin(g);
	sg_event_setentity(g, "entity", e);
	sg_event(g, SG_EV_ENTITY_DIED);
	e = sg_entity_get(g, unit);
	if (e)
		sg_entity_destroy(g, e);
	sg_replyf(r, "ok\n");
}

/* /standin tick N runs N ticks now, even while auto-paused. */
static void st_tick(struct sg_game *g, char *a, struct wbuf *r)
{
	uint64_t n;
	if (!parse_u64(sg_next_word(&a), TICKS_PER_COMMAND_MAX, &n)) {
		sg_replyf(r, "error: usage /standin tick N (N <= %u)\n",
		    TICKS_PER_COMMAND_MAX);
		return;
	}
	bool pause = g->settings.auto_pause;
	g->settings.auto_pause = false;
	for (uint64_t i = 0; i < n && !g->quit; i++)
		sg_tick(g);
	g->settings.auto_pause = pause;
	sg_replyf(r, "%llu\n", (unsigned long long)g->tick);
}

static void st_state(struct sg_game *g, struct wbuf *r)
{
	uint32_t online = 0;
	for (size_t i = 0; i < g->nplayers; i++)
		online += g->players[i].connected;
	sg_replyf(r, "tick %llu\n", (unsigned long long)g->tick);
	sg_replyf(r, "paused %s\n", sg_paused(g) ? "true" : "false");
	sg_replyf(r, "players %zu\n", g->nplayers);
	sg_replyf(r, "online %u\n", online);
	sg_replyf(r, "entities %zu\n", g->nentities);
	sg_replyf(r, "lua_commands_used %s\n", g->lua_used ? "true" : "false");
	sg_replyf(r, "whitelist %s\n", g->use_whitelist ? "enabled" : "disabled");
}

void sg_standin_command(struct sg_game *g, char *args, struct wbuf *r)
{
	char *op = sg_next_word(&args);
	if (!op) {
		sg_replyf(r, "error: usage /standin join|leave|chat|give|take|"
		       "inventory|messages|dump|gui|controller|data|chest|"
		       "build|destroy|tick|item|"
		       "autosave|state ...\n");
	} else if (!strcmp(op, "join") || !strcmp(op, "leave") ||
		   !strcmp(op, "chat") || !strcmp(op, "give") ||
		   !strcmp(op, "take") || !strcmp(op, "inventory") ||
		   !strcmp(op, "messages") || !strcmp(op, "dump") ||
		   !strcmp(op, "gui") || !strcmp(op, "controller") ||
		   !strcmp(op, "data")) {
		st_player(g, op, args, r);
	} else if (!strcmp(op, "chest")) {
		st_chest(g, args, r);
	} else if (!strcmp(op, "build")) {
		st_build(g, args, r);
	} else if (!strcmp(op, "destroy")) {
		st_destroy(g, args, r);
	} else if (!strcmp(op, "tick")) {
		st_tick(g, args, r);
	} else if (!strcmp(op, "item")) {
		char *name = sg_next_word(&args);
		uint64_t stack;
		int rc = ERR_INVAL;
		if (name && parse_u64(sg_next_word(&args), 1000000, &stack))
			rc = sg_proto_item_add(name, (uint32_t)stack);
		sg_replyf(r, rc < 0 ? "error: usage /standin item NAME STACK_SIZE "
				"(a new name)\n"
			      : "ok\n");
	} else if (!strcmp(op, "autosave")) {
		sg_replyf(r, sg_autosave(g) < 0 ? "error: autosave failed\n"
					  : "ok\n");
	} else if (!strcmp(op, "state")) {
		st_state(g, r);
	} else {
		sg_replyf(r, "error: unknown /standin command %s\n", op);
	}
}
