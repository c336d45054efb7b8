/*
 * game.c: the world of the stand-in: output lines, inventories, user lists,
 * players, entities and the tick.
 *
 * Everything here is plain C state; Lua sees it through lua_game.c, which
 * holds only indexes into these arrays (as Factorio's LuaObjects hold
 * references that become invalid when the object goes away).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/assert.h"
#include "base/err.h"
#include "tools/factorio-standin/standin.h"

const char *const sg_event_names[SG_EV_COUNT_] = {
	"on_tick",
	"on_player_created",
	"on_player_joined_game",
	"on_player_left_game",
	"on_pre_player_left_game",
	"on_player_banned",
	"on_player_unbanned",
	"on_player_promoted",
	"on_player_demoted",
	"on_built_entity",
	"on_entity_died",
	"on_console_chat",
	"on_console_command",
	"on_player_kicked",
	"script_raised_built",
	"script_raised_destroy",
	"on_rocket_launched",
	"on_player_removed",
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

bool sg_changelog_version(const char *read_data, char *out, size_t len)
{
	char path[4200];
	if (!read_data)
		return false;
	snprintf(path, sizeof(path), "%s/changelog.txt", read_data);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[256];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned a, b, c;
		char tail;
		if (sscanf(line, "Version: %u.%u.%u%c", &a, &b, &c, &tail) >= 3 &&
		    a < 1000 && b < 1000 && c < 100000) {
			snprintf(out, len, "%u.%u.%u", a, b, c);
			found = true;
		}
	}
	fclose(f);
	return found;
}

int sg_game_set_version(struct sg_game *g, const char *version)
{
	snprintf(g->version, sizeof(g->version), "%s", version);
	g->api = strncmp(version, "1.", 2) == 0 ? SG_API_1_1 : SG_API_2_0;
	if (!g->level_L)
		return 0;
	sg_lua_close(g);
	return sg_lua_open(g);
}

int sg_game_init(struct sg_game *g, const struct sg_out *out,
		 const char *read_data, const char *write_data)
{
	memset(g, 0, sizeof(*g));
	g->out = *out;
	sg_settings_defaults(&g->settings);
	g->read_data = dup_or_null(read_data);
	g->write_data = dup_or_null(write_data);
	if ((read_data && !g->read_data) || (write_data && !g->write_data))
		goto err_free;
	g->next_custom_event = SG_EV_CUSTOM_BASE;
	snprintf(g->root, sizeof(g->root), "%s", "level");
	char version[32];
	if (!sg_changelog_version(read_data, version, sizeof(version)))
		snprintf(version, sizeof(version), "%s", SG_VERSION);
	(void)sg_game_set_version(g, version);
	return sg_lua_open(g);
err_free:
	sg_game_free(g);
	return ERR_NOMEM;
}

void sg_game_free(struct sg_game *g)
{
	sg_lua_close(g);
	sg_mods_free(g);
	free(g->saved_mods);
	for (size_t i = 0; i < g->nplayers; i++) {
		sg_inv_free(&g->players[i].main);
		sg_pext_free(&g->players[i]);
		for (size_t m = 0; m < SG_MSGS_MAX; m++)
			free(g->players[i].msgs[m]);
	}
	free(g->players);
	for (size_t i = 0; i < g->nentities; i++)
		sg_inv_free(&g->entities[i].inv);
	free(g->entities);
	sg_list_free(&g->admins);
	sg_list_free(&g->bans);
	sg_list_free(&g->whitelist);
	sg_files_clear(g);
	free(g->pending_storage);
	free(g->save_path);
	free(g->read_data);
	free(g->write_data);
	free(g->adminlist_path);
	free(g->banlist_path);
	free(g->whitelist_path);
	memset(g, 0, sizeof(*g));
}

/* ---- output ---------------------------------------------------------- */

static void emit(struct sg_game *g, const char *line)
{
	if (g->out.line)
		g->out.line(g->out.ctx, line);
}

static double uptime(struct sg_game *g)
{
	return g->out.uptime ? g->out.uptime(g->out.ctx) : 0.0;
}

void sg_logf(struct sg_game *g, const char *level, const char *where,
	     const char *fmt, ...)
{
	char msg[8192], line[8400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (where)
		snprintf(line, sizeof(line), "%8.3f %s %s: %s", uptime(g),
			 level, where, msg);
	else
		snprintf(line, sizeof(line), "%8.3f %s %s", uptime(g), level,
			 msg);
	emit(g, line);
}

void sg_plainf(struct sg_game *g, const char *fmt, ...)
{
	char msg[8192], line[8300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%8.3f %s", uptime(g), msg);
	emit(g, line);
}

void sg_actionf(struct sg_game *g, const char *action, const char *fmt, ...)
{
	char msg[8192], line[8300], date[32] = "1970-01-01 00:00:00";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g->out.date)
		g->out.date(g->out.ctx, date);
	snprintf(line, sizeof(line), "%s [%s] %s", date, action, msg);
	emit(g, line);
}

void sg_raw(struct sg_game *g, const char *text)
{
	emit(g, text);
}

/* ---- inventories ----------------------------------------------------- */

int sg_inv_init(struct sg_inventory *inv, uint32_t slots)
{
	memset(inv, 0, sizeof(*inv));
	if (slots == 0)
		return 0;
	inv->items = calloc(slots, sizeof(*inv->items));
	if (!inv->items)
		return ERR_NOMEM;
	inv->slots = slots;
	return 0;
}

void sg_inv_free(struct sg_inventory *inv)
{
	for (uint32_t i = 0; i < inv->ndata; i++)
		free(inv->data[i].data);
	free(inv->data);
	free(inv->items);
	memset(inv, 0, sizeof(*inv));
}

static uint32_t stacks_for(uint32_t count, uint32_t stack)
{
	return (count + stack - 1) / stack;
}

uint32_t sg_inv_used_slots(const struct sg_inventory *inv)
{
	uint32_t used = inv->ndata;
	for (uint32_t i = 0; i < inv->n; i++)
		used += stacks_for(inv->items[i].count,
				   sg_proto_stack_size(inv->items[i].name));
	return used;
}

static int find_item(const struct sg_inventory *inv, const char *item)
{
	for (uint32_t i = 0; i < inv->n; i++)
		if (strcmp(inv->items[i].name, item) == 0)
			return (int)i;
	return -1;
}

/* Fills the partial stack of the item first, then free slots, as the
 * game does; returns how many fit. */
uint32_t sg_inv_insert(struct sg_inventory *inv, const char *item,
		       uint32_t count)
{
	if (sg_item_has_data(item)) { /* each one a stack of its own */
		uint32_t put = 0;
		while (put < count && sg_inv_add_data(inv, item, "", 0) != 0)
			put++;
		return put;
	}
	uint32_t stack = sg_proto_stack_size(item);
	if (stack == 0 || inv->slots == 0 || count == 0)
		return 0;
	int at = find_item(inv, item);
	uint32_t have = at >= 0 ? inv->items[at].count : 0;
	uint32_t free_slots = inv->slots - sg_inv_used_slots(inv);
	uint64_t room = (uint64_t)free_slots * stack;
	if (have % stack)
		room += stack - have % stack;
	uint32_t put = room < count ? (uint32_t)room : count;
	if (put == 0)
		return 0;
	if (at < 0) {
		ASSERT(inv->n < inv->slots);
		at = (int)inv->n++;
		snprintf(inv->items[at].name, SG_NAME_MAX, "%s", item);
		inv->items[at].count = 0;
	}
	inv->items[at].count += put;
	DASSERT(sg_inv_used_slots(inv) <= inv->slots);
	return put;
}

uint32_t sg_inv_remove(struct sg_inventory *inv, const char *item,
		       uint32_t count)
{
	if (sg_item_has_data(item)) {
		uint32_t took = 0;
		for (uint32_t i = inv->ndata; i > 0 && took < count; i--)
			if (strcmp(inv->data[i - 1].name, item) == 0) {
				sg_inv_remove_data(inv, inv->data[i - 1].slot);
				took++;
			}
		return took;
	}
	int at = find_item(inv, item);
	if (at < 0)
		return 0;
	ASSERT((uint32_t)at < inv->n && inv->items[at].count > 0);
	uint32_t take = inv->items[at].count < count ? inv->items[at].count
						     : count;
	inv->items[at].count -= take;
	if (inv->items[at].count == 0) {
		inv->n--;
		memmove(&inv->items[at], &inv->items[at + 1],
			(inv->n - (uint32_t)at) * sizeof(inv->items[0]));
	}
	return take;
}

uint32_t sg_inv_count(const struct sg_inventory *inv, const char *item)
{
	uint32_t data = 0;
	for (uint32_t i = 0; i < inv->ndata; i++)
		data += !item || strcmp(inv->data[i].name, item) == 0;
	if (item) {
		int at = find_item(inv, item);
		return data + (at < 0 ? 0 : inv->items[at].count);
	}
	uint32_t total = data;
	for (uint32_t i = 0; i < inv->n; i++)
		total += inv->items[i].count;
	return total;
}

void sg_inv_clear(struct sg_inventory *inv)
{
	for (uint32_t i = 0; i < inv->ndata; i++)
		free(inv->data[i].data);
	inv->ndata = 0;
	inv->n = 0;
}

/* ---- user lists ------------------------------------------------------ */

static long list_find(const struct sg_namelist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return (long)i;
	return -1;
}

bool sg_list_has(const struct sg_namelist *l, const char *name)
{
	return list_find(l, name) >= 0;
}

int sg_list_add(struct sg_namelist *l, const char *name, const char *reason)
{
	long at = list_find(l, name);
	if (at >= 0) {
		char *r = dup_or_null(reason);
		free(l->reasons[at]);
		l->reasons[at] = r;
		return 0;
	}
	if (l->n == SG_LIST_MAX)
		return ERR_AGAIN;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **n = realloc(l->names, cap * sizeof(*n));
		if (!n)
			return ERR_NOMEM;
		l->names = n;
		char **r = realloc(l->reasons, cap * sizeof(*r));
		if (!r)
			return ERR_NOMEM;
		l->reasons = r;
		l->cap = cap;
	}
	l->names[l->n] = strdup(name);
	l->reasons[l->n] = dup_or_null(reason);
	if (!l->names[l->n])
		return ERR_NOMEM;
	l->n++;
	return 0;
}

bool sg_list_remove(struct sg_namelist *l, const char *name)
{
	long at = list_find(l, name);
	if (at < 0)
		return false;
	free(l->names[at]);
	free(l->reasons[at]);
	l->n--;
	memmove(&l->names[at], &l->names[at + 1],
		(l->n - (size_t)at) * sizeof(char *));
	memmove(&l->reasons[at], &l->reasons[at + 1],
		(l->n - (size_t)at) * sizeof(char *));
	return true;
}

void sg_list_clear(struct sg_namelist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		free(l->reasons[i]);
	}
	l->n = 0;
}

void sg_list_free(struct sg_namelist *l)
{
	sg_list_clear(l);
	free(l->names);
	free(l->reasons);
	memset(l, 0, sizeof(*l));
}

/* Reads a whole small file; NULL with errno set on failure. */
char *sg_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf || n > max) {
		free(buf);
		errno = buf ? EFBIG : ENOMEM;
		return NULL;
	}
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

int sg_list_load(struct sg_namelist *l, const char *path)
{
	size_t len;
	char *text = sg_read_file(path, 16u << 20, &len);
	if (!text)
		return errno == ENOENT ? 0 : ERR_IO;
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!cJSON_IsArray(root)) {
		cJSON_Delete(root);
		return ERR_MALFORMED;
	}
	int rc = 0;
	cJSON *it;
	cJSON_ArrayForEach(it, root)
	{
		const char *name = NULL, *reason = NULL;
		if (cJSON_IsString(it)) {
			name = it->valuestring;
		} else if (cJSON_IsObject(it)) {
			cJSON *u = cJSON_GetObjectItem(it, "username");
			cJSON *r = cJSON_GetObjectItem(it, "reason");
			name = cJSON_IsString(u) ? u->valuestring : NULL;
			reason = cJSON_IsString(r) ? r->valuestring : NULL;
		}
		if (!name || strlen(name) >= SG_NAME_MAX || !name[0]) {
			rc = ERR_MALFORMED;
			continue;
		}
		int r2 = sg_list_add(l, name, reason);
		if (r2 < 0)
			rc = r2;
	}
	cJSON_Delete(root);
	return rc;
}

int sg_list_store(const struct sg_namelist *l, const char *path, bool bans)
{
	cJSON *root = cJSON_CreateArray();
	if (!root)
		return ERR_NOMEM;
	for (size_t i = 0; i < l->n; i++) {
		cJSON *it;
		if (bans) {
			it = cJSON_CreateObject();
			if (it) {
				cJSON_AddStringToObject(it, "username",
							l->names[i]);
				cJSON_AddStringToObject(
					it, "reason",
					l->reasons[i] ? l->reasons[i] : "");
			}
		} else {
			it = cJSON_CreateString(l->names[i]);
		}
		if (!it) {
			cJSON_Delete(root);
			return ERR_NOMEM;
		}
		cJSON_AddItemToArray(root, it);
	}
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return ERR_NOMEM;
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	int rc = ERR_IO;
	if (f) {
		size_t n = strlen(text);
		bool ok = fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF;
		ok = (fclose(f) == 0) && ok;
		if (ok && rename(tmp, path) == 0)
			rc = 0;
	}
	free(text);
	return rc;
}

/* ---- players --------------------------------------------------------- */

struct sg_player *sg_player_find(struct sg_game *g, const char *name)
{
	for (size_t i = 0; i < g->nplayers; i++)
		if (strcmp(g->players[i].name, name) == 0)
			return &g->players[i];
	return NULL;
}

struct sg_player *sg_player_get(struct sg_game *g, uint32_t index)
{
	if (index == 0 || index > g->nplayers)
		return NULL;
	DASSERT(g->players[index - 1].index == index);
	return &g->players[index - 1];
}

/* Creates a player (not yet connected) and returns it, or NULL. */
struct sg_player *sg_player_create(struct sg_game *g, const char *name)
{
	if (g->nplayers == SG_PLAYERS_MAX || strlen(name) >= SG_NAME_MAX)
		return NULL;
	if (g->nplayers == g->players_cap) {
		size_t cap = g->players_cap ? g->players_cap * 2 : 16;
		struct sg_player *p = realloc(g->players, cap * sizeof(*p));
		if (!p)
			return NULL;
		g->players = p;
		g->players_cap = cap;
	}
	struct sg_player *p = &g->players[g->nplayers];
	memset(p, 0, sizeof(*p));
	if (sg_inv_init(&p->main, SG_MAIN_SLOTS) < 0)
		return NULL;
	if (sg_pext_init(p) < 0) {
		sg_pext_free(p);
		sg_inv_free(&p->main);
		return NULL;
	}
	p->index = (uint32_t)g->nplayers + 1;
	p->controller = 1; /* defines.controllers.character */
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->admin = sg_list_has(&g->admins, name);
	g->nplayers++;
	return p;
}

static uint32_t connected_count(const struct sg_game *g)
{
	uint32_t n = 0;
	for (size_t i = 0; i < g->nplayers; i++)
		n += g->players[i].connected;
	return n;
}

static void player_event(struct sg_game *g, int32_t id, uint32_t index);

int sg_player_join(struct sg_game *g, const char *name, const char **why)
{
	*why = NULL;
	if (!name[0] || strlen(name) >= SG_NAME_MAX) {
		*why = "invalid player name";
		return ERR_INVAL;
	}
	if (sg_list_has(&g->bans, name)) {
		*why = "banned";
		return ERR_PERM;
	}
	if (g->use_whitelist && !sg_list_has(&g->whitelist, name)) {
		*why = "not whitelisted";
		return ERR_PERM;
	}
	struct sg_player *p = sg_player_find(g, name);
	bool returning = p && g->settings.ignore_player_limit_for_returning_players;
	if (g->settings.max_players && !returning &&
	    connected_count(g) >= g->settings.max_players) {
		*why = "server is full";
		return ERR_AGAIN;
	}
	if (p && p->connected) {
		*why = "already connected";
		return ERR_EXISTS;
	}
	bool created = false;
	if (!p) {
		p = sg_player_create(g, name);
		if (!p) {
			*why = "cannot create player";
			return ERR_NOMEM;
		}
		created = true;
	}
	p->connected = true;
	p->active_tick = g->tick;
	p->admin = sg_list_has(&g->admins, name);
	uint32_t index = p->index;
	sg_actionf(g, "JOIN", "%s joined the game", name);
	if (created)
		player_event(g, SG_EV_PLAYER_CREATED, index);
	player_event(g, SG_EV_PLAYER_JOINED, index);
	return 0;
}

int sg_player_leave(struct sg_game *g, const char *name, int reason)
{
	struct sg_player *p = sg_player_find(g, name);
	if (!p || !p->connected)
		return ERR_NOTFOUND;
	uint32_t index = p->index;
	sg_event_begin(g);
	sg_event_setint(g, "player_index", index);
	sg_event_setint(g, "reason", reason);
	sg_event(g, SG_EV_PRE_PLAYER_LEFT);
	p = sg_player_get(g, index);
	p->connected = false;
	sg_actionf(g, "LEAVE", "%s left the game", p->name);
	sg_event_begin(g);
	sg_event_setint(g, "player_index", index);
	sg_event_setint(g, "reason", reason);
	sg_event(g, SG_EV_PLAYER_LEFT);
	return 0;
}

static void player_event(struct sg_game *g, int32_t id, uint32_t index)
{
	sg_event_begin(g);
	sg_event_setint(g, "player_index", index);
	sg_event(g, id);
}

void sg_player_print(struct sg_player *p, const char *msg)
{
	uint32_t at = p->nmsgs % SG_MSGS_MAX;
	free(p->msgs[at]);
	p->msgs[at] = strdup(msg);
	p->nmsgs++;
}

/* ---- entities -------------------------------------------------------- */

struct sg_entity *sg_entity_create(struct sg_game *g, const char *name,
				   double x, double y)
{
	uint32_t slots;
	const char *type = sg_proto_entity(name, &slots);
	if (!type || g->nentities == SG_ENTITIES_MAX)
		return NULL;
	if (g->nentities == g->entities_cap) {
		size_t cap = g->entities_cap ? g->entities_cap * 2 : 64;
		struct sg_entity *e = realloc(g->entities, cap * sizeof(*e));
		if (!e)
			return NULL;
		g->entities = e;
		g->entities_cap = cap;
	}
	struct sg_entity *e = &g->entities[g->nentities];
	memset(e, 0, sizeof(*e));
	if (sg_inv_init(&e->inv, slots) < 0)
		return NULL;
	e->unit_number = (uint32_t)g->nentities + 1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->type = type;
	e->x = x;
	e->y = y;
	e->valid = true;
	g->nentities++;
	return e;
}

struct sg_entity *sg_entity_get(struct sg_game *g, uint32_t unit_number)
{
	if (unit_number == 0 || unit_number > g->nentities)
		return NULL;
	struct sg_entity *e = &g->entities[unit_number - 1];
	DASSERT(e->unit_number == unit_number);
	return e->valid ? e : NULL;
}

void sg_entity_destroy(struct sg_game *g, struct sg_entity *e)
{
	(void)g;
	e->valid = false;
	sg_inv_free(&e->inv);
}

/* ---- ticks ----------------------------------------------------------- */

bool sg_paused(const struct sg_game *g)
{
	return g->settings.auto_pause && connected_count(g) == 0;
}

uint64_t sg_autosave_interval(const struct sg_game *g)
{
	if (g->settings.autosave_ticks)
		return g->settings.autosave_ticks;
	return (uint64_t)g->settings.autosave_interval_min * 60u *
	       SG_TICKS_PER_SECOND;
}

/* afk_autokick_interval: a player without activity (here: joining or
 * chatting) for that many minutes is disconnected with reason afk. */
static void kick_afk(struct sg_game *g)
{
	uint64_t limit = (uint64_t)g->settings.afk_autokick_min * 60u *
			 SG_TICKS_PER_SECOND;
	for (size_t i = 0; limit && i < g->nplayers && !g->quit; i++) {
		struct sg_player *p = &g->players[i];
		if (!p->connected || g->tick - p->active_tick < limit)
			continue;
		char name[SG_NAME_MAX];
		snprintf(name, sizeof(name), "%s", p->name);
		(void)sg_player_leave(g, name, SG_DR_AFK);
	}
}

void sg_tick(struct sg_game *g)
{
	if (g->quit || sg_paused(g))
		return;
	g->tick++;
	for (size_t i = 0; i < g->nplayers; i++)
		g->players[i].online_ticks += g->players[i].connected;
	sg_lua_tick(g);
	kick_afk(g);
	uint64_t every = sg_autosave_interval(g);
	if (every == 0 || g->quit)
		return;
	if (g->autosave_due == 0)
		g->autosave_due = g->tick + every;
	if (g->tick >= g->autosave_due) {
		g->autosave_due = g->tick + every;
		(void)sg_autosave(g);
	}
}
