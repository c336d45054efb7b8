/*
 * lua_ext.c: the LuaObjects inventory sync needs beyond lua_game.c's:
 * LuaItemStack (a slot of an inventory, with export_stack/import_stack
 * for items with data), LuaGuiElement (a player's GUI tree, enough for a
 * frame with a progress bar and a label), and the player's cursor stack,
 * quick bar, crafting queue, personal logistic slots (Factorio 1.1's API,
 * offered on both versions), tag and colour. The model is player_ext.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/factorio-standin/lua_priv.h"

static struct sg_obj *self_of(lua_State *L)
{
	if (lua_gettop(L) >= 1 && lua_rawequal(L, 1, lua_upvalueindex(1)))
		lua_remove(L, 1);
	return lua_touserdata(L, lua_upvalueindex(1));
}

static void push_closure(lua_State *L, lua_CFunction fn)
{
	lua_pushvalue(L, 1);
	lua_pushcclosure(L, fn, 1);
}

struct named_fn {
	const char *name;
	lua_CFunction fn;
};

/* Pushes the method k of the table m (bound to the object at 1). */
static bool push_named(lua_State *L, const struct named_fn *m, const char *k)
{
	for (; m->name; m++)
		if (strcmp(k, m->name) == 0) {
			push_closure(L, m->fn);
			return true;
		}
	return false;
}

void sg_lua_ext_push_slot(lua_State *L, const struct sg_obj *inv,
			  uint32_t slot)
{
	sg_lua_push_obj(L, SG_OBJ_STACK, inv->sub, inv->id << 8 | slot);
}

static struct sg_player *player_of(struct sg_game *g, const struct sg_obj *o)
{
	return sg_player_get(g, o->kind == SG_OBJ_STACK ? o->id >> 8 : o->id);
}

bool sg_lua_ext_valid(struct sg_game *g, const struct sg_obj *o)
{
	struct sg_player *p;

	if (o->kind == SG_OBJ_STACK)
		return sg_lua_inv_of(g, o) != NULL;
	p = sg_player_get(g, o->id);
	return p != NULL &&
	       (o->sub == 0 || (o->sub <= SG_GUI_MAX && p->x->gui[o->sub - 1].used));
}

/* ---- LuaItemStack ---- */

struct slot {
	struct sg_inventory *inv;
	uint32_t slot;
	struct sg_data_stack *data;
	const char *name;
	uint32_t count;
};

static void slot_read(lua_State *L, const struct sg_obj *o, struct slot *s)
{
	s->inv = sg_lua_inv_of(sg_lua_game(L), o);
	s->slot = o->id & 0xff;
	sg_inv_slot(s->inv, s->slot, &s->data, &s->name, &s->count);
	if (s->data != NULL) {
		s->name = s->data->name;
		s->count = 1;
	}
}

static int stack_export(lua_State *L)
{
	struct slot s;

	slot_read(L, self_of(L), &s);
	if (s.count == 0)
		return luaL_error(L, "LuaItemStack API call when LuaItemStack "
				     "was not valid for read.");
	lua_pushstring(L, s.data ? s.data->data : "");
	return 1;
}

/* 0: imported; 1: failed (a plain item is in the slot), as the game. */
static int stack_import(lua_State *L)
{
	struct slot s;
	const char *str;

	slot_read(L, self_of(L), &s);
	str = luaL_checkstring(L, 1);
	if (strlen(str) > SG_DATA_MAX || (s.count > 0 && s.data == NULL)) {
		lua_pushinteger(L, 1);
		return 1;
	}
	if (s.data != NULL) {
		char *copy = strdup(str);

		if (copy == NULL)
			return luaL_error(L, "not enough memory");
		free(s.data->data);
		s.data->data = copy;
	} else if (sg_inv_add_data(s.inv, "blueprint", str, s.slot) == 0) {
		lua_pushinteger(L, 1);
		return 1;
	}
	lua_pushinteger(L, 0);
	return 1;
}

static void slot_clear(struct slot *s)
{
	if (s->data != NULL)
		sg_inv_remove_data(s->inv, s->slot);
	else if (s->count > 0)
		(void)sg_inv_remove(s->inv, s->name, s->count);
}

static int stack_clear(lua_State *L)
{
	struct slot s;

	slot_read(L, self_of(L), &s);
	slot_clear(&s);
	return 0;
}

/* set_stack{name, count} (nil clears). Plain items merge with the same
 * item elsewhere in the inventory (README: no slot order). */
static int stack_set(lua_State *L)
{
	struct slot s;
	const char *name;
	lua_Integer count = 1;
	uint32_t put;

	slot_read(L, self_of(L), &s);
	slot_clear(&s);
	if (lua_isnoneornil(L, 1)) {
		lua_pushboolean(L, 1);
		return 1;
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "name");
	name = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "count");
	if (lua_isnumber(L, -1))
		count = lua_tointeger(L, -1);
	if (sg_proto_stack_size(name) == 0)
		return luaL_error(L, "Unknown item name: %s", name);
	if (count < 1 || count > (lua_Integer)sg_proto_stack_size(name))
		return luaL_error(L, "Invalid item count.");
	if (sg_item_has_data(name))
		put = sg_inv_add_data(s.inv, name, "", s.slot) ? 1 : 0;
	else
		put = sg_inv_insert(s.inv, name, (uint32_t)count);
	lua_pushboolean(L, put > 0);
	return 1;
}

static bool stack_index(lua_State *L, struct sg_obj *o, const char *k)
{
	static const struct named_fn m[] = {
		{"export_stack", stack_export}, {"import_stack", stack_import},
		{"set_stack", stack_set},       {"clear", stack_clear},
		{NULL, NULL}};
	struct slot s;

	if (push_named(L, m, k))
		return true;
	slot_read(L, o, &s);
	if (strcmp(k, "valid_for_read") == 0) {
		lua_pushboolean(L, s.count > 0);
		return true;
	}
	if (strncmp(k, "is_", 3) == 0) {
		const char *want = strcmp(k, "is_blueprint") == 0 ? "blueprint"
			: strcmp(k, "is_blueprint_book") == 0 ? "blueprint-book"
			: strcmp(k, "is_deconstruction_item") == 0
				? "deconstruction-planner"
			: strcmp(k, "is_upgrade_item") == 0 ? "upgrade-planner"
							    : NULL;
		if (want == NULL)
			return false;
		lua_pushboolean(L, s.count > 0 && strcmp(s.name, want) == 0);
		return true;
	}
	if (strcmp(k, "name") && strcmp(k, "count") && strcmp(k, "quality"))
		return false;
	if (s.count == 0)
		luaL_error(L, "LuaItemStack API call when LuaItemStack was not "
			      "valid for read.");
	if (strcmp(k, "name") == 0)
		lua_pushstring(L, s.name);
	else if (strcmp(k, "count") == 0)
		lua_pushinteger(L, s.count);
	else
		lua_pushliteral(L, "normal");
	return true;
}

/* ---- LuaGuiElement ---- */

static struct sg_gui_elem *elem(struct sg_player *p, uint8_t sub)
{
	return sub == 0 ? NULL : &p->x->gui[sub - 1];
}

static int find_child(struct sg_player *p, uint8_t parent, const char *name)
{
	for (int i = 0; i < SG_GUI_MAX; i++)
		if (p->x->gui[i].used && p->x->gui[i].parent == parent &&
		    strcmp(p->x->gui[i].name, name) == 0)
			return i + 1;
	return 0;
}

static void destroy_tree(struct sg_player *p, uint8_t sub)
{
	for (int i = 0; i < SG_GUI_MAX; i++)
		if (p->x->gui[i].used && p->x->gui[i].parent == sub)
			destroy_tree(p, (uint8_t)(i + 1));
	if (sub != 0)
		p->x->gui[sub - 1].used = false;
}

static int gui_add(lua_State *L)
{
	struct sg_obj *o = self_of(L);
	struct sg_player *p = player_of(sg_lua_game(L), o);
	struct sg_gui_elem *e = NULL;
	const char *type, *name = "";
	int i;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "type");
	type = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "name");
	if (lua_isstring(L, -1))
		name = lua_tostring(L, -1);
	if (name[0] && find_child(p, o->sub, name))
		return luaL_error(L, "Gui element with name %s already present "
				     "in the parent element.", name);
	for (i = 0; i < SG_GUI_MAX && e == NULL; i++)
		if (!p->x->gui[i].used)
			e = &p->x->gui[i];
	if (e == NULL)
		return luaL_error(L, "too many GUI elements (stand-in limit)");
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->parent = o->sub;
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->type, sizeof(e->type), "%s", type);
	lua_getfield(L, 1, "caption");
	if (lua_isstring(L, -1))
		snprintf(e->caption, sizeof(e->caption), "%s",
			 lua_tostring(L, -1));
	lua_getfield(L, 1, "value");
	e->value = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
	sg_lua_push_obj(L, SG_OBJ_GUI, (uint8_t)i, o->id);
	return 1;
}

static int gui_destroy(lua_State *L)
{
	struct sg_obj *o = self_of(L);

	destroy_tree(player_of(sg_lua_game(L), o), o->sub);
	return 0;
}

static int gui_clear(lua_State *L)
{
	struct sg_obj *o = self_of(L);
	struct sg_player *p = player_of(sg_lua_game(L), o);

	for (int i = 0; i < SG_GUI_MAX; i++)
		if (p->x->gui[i].used && p->x->gui[i].parent == o->sub)
			destroy_tree(p, (uint8_t)(i + 1));
	return 0;
}

static bool gui_index(lua_State *L, struct sg_game *g, struct sg_obj *o,
		      const char *k)
{
	struct sg_player *p = player_of(g, o);
	struct sg_gui_elem *e = elem(p, o->sub);
	int c;

	if (strcmp(k, "add") == 0)
		push_closure(L, gui_add);
	else if (strcmp(k, "destroy") == 0 && e)
		push_closure(L, gui_destroy);
	else if (strcmp(k, "clear") == 0)
		push_closure(L, gui_clear);
	else if (strcmp(k, "name") == 0)
		lua_pushstring(L, e ? e->name : "screen");
	else if (strcmp(k, "type") == 0)
		lua_pushstring(L, e ? e->type : "empty-widget");
	else if (strcmp(k, "value") == 0 && e)
		lua_pushnumber(L, e->value);
	else if (strcmp(k, "caption") == 0 && e)
		lua_pushstring(L, e->caption);
	else if ((c = find_child(p, o->sub, k)) != 0)
		sg_lua_push_obj(L, SG_OBJ_GUI, (uint8_t)c, o->id);
	else
		lua_pushnil(L); /* a child that is not there */
	return true;
}

bool sg_lua_ext_index(lua_State *L, struct sg_game *g, struct sg_obj *o,
		      const char *k)
{
	if (o->kind == SG_OBJ_STACK)
		return stack_index(L, o, k);
	if (o->kind == SG_OBJ_GUI)
		return gui_index(L, g, o, k);
	return false;
}

/* ---- LuaPlayer members ---- */

static int qb_index(lua_State *L, int arg)
{
	lua_Integer i = luaL_checkinteger(L, arg);

	if (i < 1 || i > SG_QUICKBAR_SLOTS)
		return luaL_error(L, "Index out of range.");
	return (int)i - 1;
}

static int get_quick_bar_slot(lua_State *L)
{
	struct sg_player *p = player_of(sg_lua_game(L), self_of(L));
	const char *name = p->x->quickbar[qb_index(L, 1)];

	if (name[0] == '\0') {
		lua_pushnil(L);
		return 1;
	}
	lua_createtable(L, 0, 3);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "name");
	lua_pushliteral(L, "LuaItemPrototype");
	lua_setfield(L, -2, "object_name");
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "valid");
	return 1;
}

static int set_quick_bar_slot(lua_State *L)
{
	struct sg_player *p = player_of(sg_lua_game(L), self_of(L));
	int i = qb_index(L, 1);
	const char *name = NULL;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "name");
		name = lua_tostring(L, -1);
	} else if (lua_isstring(L, 2)) {
		name = lua_tostring(L, 2);
	}
	if (name && sg_proto_stack_size(name) == 0)
		return luaL_error(L, "Unknown item name: %s", name);
	snprintf(p->x->quickbar[i], SG_NAME_MAX, "%s", name ? name : "");
	return 0;
}

/* begin_crafting{count, recipe}: queued without taking ingredients
 * (README: no recipes here); returns the count. */
static int begin_crafting(lua_State *L)
{
	struct sg_player *p = player_of(sg_lua_game(L), self_of(L));
	const char *recipe;
	lua_Integer n;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "recipe");
	if (lua_istable(L, -1))
		lua_getfield(L, -1, "name");
	recipe = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "count");
	n = luaL_checkinteger(L, -1);
	if (sg_proto_stack_size(recipe) == 0)
		return luaL_error(L, "Unknown recipe name: %s", recipe);
	if (n < 1 || p->x->ncraft == SG_CRAFT_MAX) {
		lua_pushinteger(L, 0);
		return 1;
	}
	snprintf(p->x->craft[p->x->ncraft].recipe, SG_NAME_MAX, "%s", recipe);
	p->x->craft[p->x->ncraft++].count = (uint32_t)n;
	lua_pushinteger(L, n);
	return 1;
}

static int cancel_crafting(lua_State *L)
{
	struct sg_player *p = player_of(sg_lua_game(L), self_of(L));
	lua_Integer i, n;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "index");
	i = luaL_checkinteger(L, -1);
	lua_getfield(L, 1, "count");
	n = luaL_checkinteger(L, -1);
	if (i < 1 || i > (lua_Integer)p->x->ncraft || n < 1)
		return luaL_error(L, "Invalid crafting queue index.");
	if ((uint32_t)n < p->x->craft[i - 1].count) {
		p->x->craft[i - 1].count -= (uint32_t)n;
		return 0;
	}
	memmove(&p->x->craft[i - 1], &p->x->craft[i],
		(p->x->ncraft - (size_t)i) * sizeof(p->x->craft[0]));
	p->x->ncraft--;
	return 0;
}

static int logi_index(lua_State *L)
{
	lua_Integer i = luaL_checkinteger(L, 1);

	if (i < 1 || i > SG_LOGI_SLOTS)
		return luaL_error(L, "Index out of range.");
	return (int)i - 1;
}

static int get_logistic_slot(lua_State *L)
{
	struct sg_player *p = player_of(sg_lua_game(L), self_of(L));
	int i = logi_index(L);

	lua_createtable(L, 0, 3);
	if (p->x->logi[i].name[0] == '\0')
		return 1;
	lua_pushstring(L, p->x->logi[i].name);
	lua_setfield(L, -2, "name");
	lua_pushinteger(L, p->x->logi[i].min);
	lua_setfield(L, -2, "min");
	lua_pushinteger(L, p->x->logi[i].max);
	lua_setfield(L, -2, "max");
	return 1;
}

static int set_logistic_slot(lua_State *L)
{
	struct sg_player *p = player_of(sg_lua_game(L), self_of(L));
	int i = logi_index(L);
	const char *name;

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_getfield(L, 2, "name");
	name = luaL_checkstring(L, -1);
	if (sg_proto_stack_size(name) == 0)
		return luaL_error(L, "Unknown item name: %s", name);
	lua_getfield(L, 2, "min");
	lua_getfield(L, 2, "max");
	snprintf(p->x->logi[i].name, SG_NAME_MAX, "%s", name);
	p->x->logi[i].min = (uint32_t)lua_tointeger(L, -2);
	p->x->logi[i].max = lua_isnumber(L, -1) ? (uint32_t)lua_tointeger(L, -1)
						: UINT32_MAX;
	lua_pushboolean(L, 1);
	return 1;
}

static int clear_logistic_slot(lua_State *L)
{
	struct sg_player *p = player_of(sg_lua_game(L), self_of(L));

	p->x->logi[logi_index(L)].name[0] = '\0';
	return 0;
}

/* Back from a spectator: the game gives a new character. */
static int create_character(lua_State *L)
{
	struct sg_player *p = player_of(sg_lua_game(L), self_of(L));

	p->controller = 1;
	lua_pushboolean(L, 1);
	return 1;
}

static void push_gui(lua_State *L, const struct sg_obj *o)
{
	static const char *const roots[] = {"screen", "top", "left", "center"};

	lua_createtable(L, 0, 6);
	for (int i = 0; i < 4; i++) {
		sg_lua_push_obj(L, SG_OBJ_GUI, 0, o->id);
		lua_setfield(L, -2, roots[i]);
	}
	lua_pushliteral(L, "LuaGui");
	lua_setfield(L, -2, "object_name");
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "valid");
}

static void push_color(lua_State *L, const double *c)
{
	static const char *const k[] = {"r", "g", "b", "a"};

	lua_createtable(L, 0, 4);
	for (int i = 0; i < 4; i++) {
		lua_pushnumber(L, c[i]);
		lua_setfield(L, -2, k[i]);
	}
}

static void push_queue(lua_State *L, const struct sg_pext *x)
{
	if (x->ncraft == 0) {
		lua_pushnil(L);
		return;
	}
	lua_createtable(L, (int)x->ncraft, 0);
	for (uint32_t i = 0; i < x->ncraft; i++) {
		lua_createtable(L, 0, 3);
		lua_pushinteger(L, i + 1);
		lua_setfield(L, -2, "index");
		lua_pushstring(L, x->craft[i].recipe);
		lua_setfield(L, -2, "recipe");
		lua_pushinteger(L, x->craft[i].count);
		lua_setfield(L, -2, "count");
		lua_rawseti(L, -2, (int)i + 1);
	}
}

bool sg_lua_ext_player_index(lua_State *L, struct sg_game *g,
			     struct sg_obj *o, const char *k)
{
	static const struct named_fn m[] = {
		{"get_quick_bar_slot", get_quick_bar_slot},
		{"set_quick_bar_slot", set_quick_bar_slot},
		{"begin_crafting", begin_crafting},
		{"cancel_crafting", cancel_crafting},
		{"get_personal_logistic_slot", get_logistic_slot},
		{"set_personal_logistic_slot", set_logistic_slot},
		{"clear_personal_logistic_slot", clear_logistic_slot},
		{"create_character", create_character},
		{NULL, NULL},
	};
	struct sg_player *p = sg_player_get(g, o->id);
	struct sg_obj cursor = {SG_OBJ_INVENTORY,
				SG_INV_PLAYER_X + SG_PINV_CURSOR, o->id};

	if (push_named(L, m, k))
		return true;
	if (strcmp(k, "cursor_stack") == 0)
		sg_lua_ext_push_slot(L, &cursor, 1);
	else if (strcmp(k, "crafting_queue") == 0)
		push_queue(L, p->x);
	else if (strcmp(k, "crafting_queue_size") == 0)
		lua_pushinteger(L, p->x->ncraft);
	else if (strcmp(k, "tag") == 0)
		lua_pushstring(L, p->x->tag);
	else if (strcmp(k, "color") == 0)
		push_color(L, p->x->color);
	else if (strcmp(k, "gui") == 0)
		push_gui(L, o);
	else
		return false;
	return true;
}

bool sg_lua_ext_newindex(lua_State *L, struct sg_game *g, struct sg_obj *o,
			 const char *k)
{
	struct sg_player *p = player_of(g, o);
	static const char *const ck[] = {"r", "g", "b", "a"};

	if (o->kind == SG_OBJ_GUI && o->sub != 0) {
		struct sg_gui_elem *e = elem(p, o->sub);

		if (strcmp(k, "value") == 0)
			e->value = luaL_checknumber(L, 3);
		else if (strcmp(k, "caption") == 0)
			snprintf(e->caption, sizeof(e->caption), "%s",
				 luaL_checkstring(L, 3));
		else
			return false;
		return true;
	}
	if (o->kind != SG_OBJ_PLAYER)
		return false;
	if (strcmp(k, "tag") == 0) {
		snprintf(p->x->tag, sizeof(p->x->tag), "%s",
			 luaL_checkstring(L, 3));
		return true;
	}
	if (strcmp(k, "color") != 0)
		return false;
	luaL_checktype(L, 3, LUA_TTABLE);
	for (int i = 0; i < 4; i++) {
		lua_getfield(L, 3, ck[i]);
		if (lua_isnumber(L, -1))
			p->x->color[i] = lua_tonumber(L, -1);
		lua_pop(L, 1);
	}
	return true;
}
