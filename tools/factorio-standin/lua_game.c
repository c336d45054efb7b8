/*
 * lua_game.c: game, its players, surfaces, entities and inventories as
 * Factorio LuaObjects, plus prototypes and defines.
 *
 * A LuaObject here is a small userdata holding a kind and an id (never a
 * pointer), resolved against the world on every access; an object whose
 * target is gone reads as invalid and any other access raises the game's
 * "... API call when ... was invalid." error. Methods may be called with
 * `.` or `:` as in Factorio: a method closure drops a first argument that
 * is its own object.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "tools/factorio-standin/lua_priv.h"

#define OBJ_META "standin.LuaObject"

static const char *const kind_names[] = {
	"?",	       "LuaPlayer",	   "LuaEntity",
	"LuaInventory", "LuaSurface",	   "LuaCustomTable",
	"LuaCustomTable", "LuaCustomTable", "LuaItemStack",
	"LuaGuiElement",
};

void sg_lua_push_obj(lua_State *L, enum sg_obj_kind kind, uint8_t sub,
		     uint32_t id)
{
	struct sg_obj *o = lua_newuserdata(L, sizeof(*o));
	o->kind = (uint8_t)kind;
	o->sub = sub;
	o->id = id;
	luaL_setmetatable(L, OBJ_META);
}

struct sg_obj *sg_lua_to_obj(lua_State *L, int idx)
{
	return luaL_testudata(L, idx, OBJ_META);
}

static struct sg_inventory *inv_of(struct sg_game *g, const struct sg_obj *o)
{
	uint32_t id = o->kind == SG_OBJ_STACK ? o->id >> 8 : o->id;
	if (o->sub == SG_INV_OWNER_PLAYER) {
		struct sg_player *p = sg_player_get(g, id);
		return p ? &p->main : NULL;
	}
	if (o->sub >= SG_INV_PLAYER_X) {
		struct sg_player *p = sg_player_get(g, id);
		return p && o->sub < SG_INV_PLAYER_X + SG_PINV_N
			       ? &p->x->inv[o->sub - SG_INV_PLAYER_X]
			       : NULL;
	}
	struct sg_entity *e = sg_entity_get(g, id);
	return e && e->inv.slots ? &e->inv : NULL;
}

static bool obj_valid(struct sg_game *g, const struct sg_obj *o)
{
	switch (o->kind) {
	case SG_OBJ_PLAYER:
		return sg_player_get(g, o->id) != NULL;
	case SG_OBJ_ENTITY:
		return sg_entity_get(g, o->id) != NULL;
	case SG_OBJ_INVENTORY:
		return inv_of(g, o) != NULL;
	case SG_OBJ_STACK:
	case SG_OBJ_GUI:
		return sg_lua_ext_valid(g, o);
	default:
		return true;
	}
}

static struct sg_obj *method_self(lua_State *L)
{
	if (lua_gettop(L) >= 1 && lua_rawequal(L, 1, lua_upvalueindex(1)))
		lua_remove(L, 1);
	struct sg_obj *o = lua_touserdata(L, lua_upvalueindex(1));
	if (!obj_valid(sg_lua_game(L), o))
		luaL_error(L, "%s API call when %s was invalid.",
			   kind_names[o->kind], kind_names[o->kind]);
	return o;
}

/* ---- item stacks and positions --------------------------------------- */

static void check_item(lua_State *L, const char *name)
{
	if (sg_proto_stack_size(name) == 0)
		luaL_error(L, "Unknown item name: %s", name);
}

/* Reads an ItemStackIdentification: "name" or {name=, count=}. */
static const char *read_stack(lua_State *L, int idx, uint32_t *count)
{
	const char *name;
	lua_Number c = 1;
	if (lua_type(L, idx) == LUA_TSTRING) {
		name = lua_tostring(L, idx);
	} else {
		luaL_checktype(L, idx, LUA_TTABLE);
		lua_getfield(L, idx, "name");
		name = lua_tostring(L, -1);
		lua_pop(L, 1); /* the table keeps the string alive */
		if (!name)
			luaL_error(L, "Missing field: name");
		lua_getfield(L, idx, "count");
		if (!lua_isnil(L, -1))
			c = luaL_checknumber(L, -1);
		lua_pop(L, 1);
	}
	check_item(L, name);
	if (!(c >= 1) || c > 4294967295.0)
		luaL_error(L, "Item count must be positive.");
	*count = (uint32_t)c;
	return name;
}

static bool read_pos(lua_State *L, int idx, double *x, double *y)
{
	if (!lua_istable(L, idx))
		return false;
	lua_getfield(L, idx, "x");
	lua_getfield(L, idx, "y");
	if (lua_isnil(L, -2)) {
		lua_pop(L, 2);
		lua_rawgeti(L, idx, 1);
		lua_rawgeti(L, idx, 2);
	}
	bool ok = lua_isnumber(L, -2) && lua_isnumber(L, -1);
	*x = lua_tonumber(L, -2);
	*y = lua_tonumber(L, -1);
	lua_pop(L, 2);
	return ok;
}

static void push_pos(lua_State *L, double x, double y)
{
	lua_createtable(L, 0, 2);
	lua_pushnumber(L, x);
	lua_setfield(L, -2, "x");
	lua_pushnumber(L, y);
	lua_setfield(L, -2, "y");
}

/* ---- LuaInventory ---------------------------------------------------- */

static struct sg_inventory *self_inv(lua_State *L)
{
	struct sg_obj *o = method_self(L);
	return inv_of(sg_lua_game(L), o);
}

static int do_insert(lua_State *L, struct sg_inventory *inv)
{
	uint32_t count;
	const char *name = read_stack(L, 1, &count);
	lua_pushinteger(L, sg_inv_insert(inv, name, count));
	return 1;
}

static int do_remove(lua_State *L, struct sg_inventory *inv)
{
	uint32_t count;
	const char *name = read_stack(L, 1, &count);
	lua_pushinteger(L, sg_inv_remove(inv, name, count));
	return 1;
}

/* 1.1: {[name] = count}; 2.0: an array of {name, count, quality}. */
/* Items with data, counted by name (each is one stack). */
static void add_data_contents(lua_State *L, const struct sg_inventory *inv,
			      bool v2)
{
	for (uint32_t i = 0; i < inv->ndata; i++) {
		const char *name = inv->data[i].name;
		bool seen = false;
		for (uint32_t j = 0; j < i && !seen; j++)
			seen = strcmp(inv->data[j].name, name) == 0;
		if (seen)
			continue;
		lua_Integer c = (lua_Integer)sg_inv_count(inv, name);
		if (!v2) {
			lua_pushinteger(L, c);
			lua_setfield(L, -2, name);
			continue;
		}
		lua_createtable(L, 0, 3);
		lua_pushstring(L, name);
		lua_setfield(L, -2, "name");
		lua_pushinteger(L, c);
		lua_setfield(L, -2, "count");
		lua_pushliteral(L, "normal");
		lua_setfield(L, -2, "quality");
		lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
	}
}

static int inv_get_contents(lua_State *L)
{
	struct sg_inventory *inv = self_inv(L);
	if (sg_lua_game(L)->api == SG_API_1_1) {
		lua_createtable(L, 0, (int)inv->n);
		for (uint32_t i = 0; i < inv->n; i++) {
			lua_pushinteger(L, inv->items[i].count);
			lua_setfield(L, -2, inv->items[i].name);
		}
		add_data_contents(L, inv, false);
		return 1;
	}
	lua_createtable(L, (int)inv->n, 0);
	for (uint32_t i = 0; i < inv->n; i++) {
		lua_createtable(L, 0, 3);
		lua_pushstring(L, inv->items[i].name);
		lua_setfield(L, -2, "name");
		lua_pushinteger(L, inv->items[i].count);
		lua_setfield(L, -2, "count");
		lua_pushliteral(L, "normal");
		lua_setfield(L, -2, "quality");
		lua_rawseti(L, -2, (int)i + 1);
	}
	add_data_contents(L, inv, true);
	return 1;
}

static int do_get_item_count(lua_State *L, struct sg_inventory *inv)
{
	const char *name = NULL;
	if (lua_istable(L, 1)) {
		lua_getfield(L, 1, "name");
		name = lua_tostring(L, -1);
	} else if (!lua_isnoneornil(L, 1)) {
		name = luaL_checkstring(L, 1);
	}
	if (name)
		check_item(L, name);
	lua_pushinteger(L, sg_inv_count(inv, name));
	return 1;
}

static int inv_insert(lua_State *L)
{
	return do_insert(L, self_inv(L));
}

static int inv_remove(lua_State *L)
{
	return do_remove(L, self_inv(L));
}

static int inv_get_item_count(lua_State *L)
{
	return do_get_item_count(L, self_inv(L));
}

static int inv_clear(lua_State *L)
{
	sg_inv_clear(self_inv(L));
	return 0;
}

static int inv_is_empty(lua_State *L)
{
	lua_pushboolean(L, self_inv(L)->n == 0);
	return 1;
}

static int inv_get_insertable_count(lua_State *L)
{
	struct sg_inventory *inv = self_inv(L);
	const char *name = lua_istable(L, 1) ? NULL : luaL_checkstring(L, 1);
	if (!name) {
		lua_getfield(L, 1, "name");
		name = luaL_checkstring(L, -1);
	}
	check_item(L, name);
	uint32_t stack = sg_proto_stack_size(name);
	uint32_t have = sg_inv_count(inv, name);
	uint64_t room = (uint64_t)(inv->slots - sg_inv_used_slots(inv)) * stack;
	if (have % stack)
		room += stack - have % stack;
	lua_pushnumber(L, (lua_Number)room);
	return 1;
}

static int inv_can_insert(lua_State *L)
{
	inv_get_insertable_count(L);
	lua_pushboolean(L, lua_tonumber(L, -1) > 0);
	return 1;
}

static int inv_count_empty_stacks(lua_State *L)
{
	struct sg_inventory *inv = self_inv(L);
	lua_pushinteger(L, inv->slots - sg_inv_used_slots(inv));
	return 1;
}

/* ---- LuaPlayer and LuaEntity methods ----------------------------------- */

static int player_get_main_inventory(lua_State *L)
{
	struct sg_obj *o = method_self(L);
	sg_lua_push_obj(L, SG_OBJ_INVENTORY, SG_INV_OWNER_PLAYER, o->id);
	return 1;
}

static int player_get_inventory(lua_State *L)
{
	struct sg_obj *o = method_self(L);
	lua_Integer which = luaL_checkinteger(L, 1);
	/* defines.inventory: character_main 1, guns 3, ammo 4, armor 5,
	 * trash 8 */
	int sub = which == 1   ? SG_INV_OWNER_PLAYER
		  : which == 3 ? SG_INV_PLAYER_X + SG_PINV_GUNS
		  : which == 4 ? SG_INV_PLAYER_X + SG_PINV_AMMO
		  : which == 5 ? SG_INV_PLAYER_X + SG_PINV_ARMOR
		  : which == 8 ? SG_INV_PLAYER_X + SG_PINV_TRASH
			       : -1;
	if (sub < 0) {
		lua_pushnil(L);
		return 1;
	}
	sg_lua_push_obj(L, SG_OBJ_INVENTORY, (uint8_t)sub, o->id);
	return 1;
}

static int player_print(lua_State *L)
{
	struct sg_obj *o = method_self(L);
	const char *msg = luaL_tolstring(L, 1, NULL);
	sg_player_print(sg_player_get(sg_lua_game(L), o->id), msg);
	return 0;
}

/* set_controller{type = defines.controllers.x}: only the type is kept
 * (what a manager uses to park a player as a spectator). */
static int player_set_controller(lua_State *L)
{
	struct sg_obj *o = method_self(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "type");
	lua_Integer type = luaL_checkinteger(L, -1);
	if (type < 0 || type > 6)
		return luaL_error(L, "Invalid controller type: %d", (int)type);
	sg_player_get(sg_lua_game(L), o->id)->controller = (uint8_t)type;
	return 0;
}

static void push_force(lua_State *L)
{
	lua_createtable(L, 0, 4);
	lua_pushliteral(L, "player");
	lua_setfield(L, -2, "name");
	lua_pushinteger(L, 1);
	lua_setfield(L, -2, "index");
	lua_pushliteral(L, "LuaForce");
	lua_setfield(L, -2, "object_name");
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "valid");
}

static int entity_get_inventory(lua_State *L)
{
	struct sg_obj *o = method_self(L);
	lua_Integer which = luaL_checkinteger(L, 1);
	struct sg_entity *e = sg_entity_get(sg_lua_game(L), o->id);
	if (which != 1 || e->inv.slots == 0) { /* defines.inventory.chest */
		lua_pushnil(L);
		return 1;
	}
	sg_lua_push_obj(L, SG_OBJ_INVENTORY, SG_INV_OWNER_ENTITY, o->id);
	return 1;
}

static int entity_destroy(lua_State *L)
{
	struct sg_obj *o = method_self(L);
	struct sg_game *g = sg_lua_game(L);
	struct sg_entity *e = sg_entity_get(g, o->id);
	bool raise = false;
	if (lua_istable(L, 1)) {
		lua_getfield(L, 1, "raise_destroy");
		raise = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (raise) {
		sg_event_begin(g);
		sg_event_setentity(g, "entity", e);
		sg_event(g, SG_EV_SCRIPT_RAISED_DESTROY);
		e = sg_entity_get(g, o->id);
	}
	if (e)
		sg_entity_destroy(g, e);
	lua_pushboolean(L, 1);
	return 1;
}

/* LuaControl.insert / get_item_count / remove_item on a player or entity
 * act on its main (or chest) inventory. */
static struct sg_inventory *control_inv(lua_State *L)
{
	struct sg_obj *o = method_self(L);
	struct sg_obj inv = {SG_OBJ_INVENTORY,
			     o->kind == SG_OBJ_PLAYER ? SG_INV_OWNER_PLAYER
						      : SG_INV_OWNER_ENTITY,
			     o->id};
	return inv_of(sg_lua_game(L), &inv);
}

static int control_insert(lua_State *L)
{
	struct sg_inventory *inv = control_inv(L);
	if (!inv) {
		lua_pushinteger(L, 0);
		return 1;
	}
	return do_insert(L, inv);
}

static int control_remove_item(lua_State *L)
{
	struct sg_inventory *inv = control_inv(L);
	if (!inv) {
		lua_pushinteger(L, 0);
		return 1;
	}
	return do_remove(L, inv);
}

static int control_get_item_count(lua_State *L)
{
	struct sg_inventory *inv = control_inv(L);
	if (!inv) {
		lua_pushinteger(L, 0);
		return 1;
	}
	return do_get_item_count(L, inv);
}

/* ---- LuaSurface ------------------------------------------------------ */

static int surface_create_entity(lua_State *L)
{
	method_self(L);
	struct sg_game *g = sg_lua_game(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "name");
	const char *name = luaL_checkstring(L, -1);
	uint32_t slots;
	if (!sg_proto_entity(name, &slots))
		return luaL_error(L, "Unknown entity name: %s", name);
	double x, y;
	lua_getfield(L, 1, "position");
	if (!read_pos(L, lua_gettop(L), &x, &y))
		return luaL_error(L, "Missing field: position");
	lua_getfield(L, 1, "raise_built");
	bool raise = lua_toboolean(L, -1);
	struct sg_entity *e = sg_entity_create(g, name, x, y);
	if (!e)
		return luaL_error(L, "Entity limit reached.");
	uint32_t unit = e->unit_number;
	if (raise) {
		sg_event_begin(g);
		sg_event_setentity(g, "entity", e);
		sg_event(g, SG_EV_SCRIPT_RAISED_BUILT);
	}
	sg_lua_push_obj(L, SG_OBJ_ENTITY, 0, unit);
	return 1;
}

/* A name or type filter: a string or an array of strings. */
static bool filter_match(lua_State *L, int idx, const char *value)
{
	if (lua_isnil(L, idx))
		return true;
	if (lua_type(L, idx) == LUA_TSTRING)
		return strcmp(lua_tostring(L, idx), value) == 0;
	if (!lua_istable(L, idx))
		return false;
	int n = (int)lua_rawlen(L, idx);
	bool hit = false;
	for (int i = 1; i <= n && !hit; i++) {
		lua_rawgeti(L, idx, i);
		const char *s = lua_tostring(L, -1);
		hit = s && strcmp(s, value) == 0;
		lua_pop(L, 1);
	}
	return hit;
}

struct area_filter {
	bool has_area, has_radius;
	double x1, y1, x2, y2, cx, cy, r;
};

static void read_area(lua_State *L, int t, struct area_filter *a)
{
	memset(a, 0, sizeof(*a));
	lua_getfield(L, t, "area");
	int ai = lua_gettop(L);
	if (lua_istable(L, ai)) {
		lua_getfield(L, ai, "left_top");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_rawgeti(L, ai, 1);
		}
		lua_getfield(L, ai, "right_bottom");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_rawgeti(L, ai, 2);
		}
		a->has_area = read_pos(L, ai + 1, &a->x1, &a->y1) &&
			      read_pos(L, ai + 2, &a->x2, &a->y2);
		if (!a->has_area)
			luaL_error(L, "Invalid area.");
	}
	lua_settop(L, ai - 1);
	lua_getfield(L, t, "position");
	if (read_pos(L, lua_gettop(L), &a->cx, &a->cy)) {
		lua_getfield(L, t, "radius");
		a->r = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0.5;
		a->has_radius = true;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static bool area_match(const struct area_filter *a, const struct sg_entity *e)
{
	if (a->has_area && (e->x < a->x1 || e->x > a->x2 || e->y < a->y1 ||
			    e->y > a->y2))
		return false;
	if (a->has_radius &&
	    hypot(e->x - a->cx, e->y - a->cy) > a->r)
		return false;
	return true;
}

/* Pushes the array of matching entities; returns how many. */
static int find_filtered(lua_State *L)
{
	method_self(L);
	struct sg_game *g = sg_lua_game(L);
	if (lua_isnone(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	struct area_filter a;
	read_area(L, 1, &a);
	lua_getfield(L, 1, "name");  /* 2 */
	lua_getfield(L, 1, "type");  /* 3 */
	lua_getfield(L, 1, "limit"); /* 4 */
	lua_getfield(L, 1, "invert"); /* 5 */
	lua_Number limit = lua_isnumber(L, 4) ? lua_tonumber(L, 4) : 1e18;
	bool invert = lua_toboolean(L, 5);
	lua_newtable(L);
	int n = 0;
	for (size_t i = 0; i < g->nentities && n < limit; i++) {
		const struct sg_entity *e = &g->entities[i];
		if (!e->valid)
			continue;
		bool m = filter_match(L, 2, e->name) &&
			 filter_match(L, 3, e->type);
		if (m == invert || !area_match(&a, e))
			continue;
		sg_lua_push_obj(L, SG_OBJ_ENTITY, 0, e->unit_number);
		lua_rawseti(L, -2, ++n);
	}
	return n;
}

static int surface_find_entities_filtered(lua_State *L)
{
	find_filtered(L);
	return 1;
}

static int surface_count_entities_filtered(lua_State *L)
{
	lua_pushinteger(L, find_filtered(L));
	return 1;
}

static int surface_find_entity(lua_State *L)
{
	method_self(L);
	struct sg_game *g = sg_lua_game(L);
	const char *name = luaL_checkstring(L, 1);
	double x, y;
	if (!read_pos(L, 2, &x, &y))
		return luaL_error(L, "Invalid position.");
	for (size_t i = 0; i < g->nentities; i++) {
		const struct sg_entity *e = &g->entities[i];
		if (e->valid && strcmp(e->name, name) == 0 &&
		    fabs(e->x - x) < 0.5 && fabs(e->y - y) < 0.5) {
			sg_lua_push_obj(L, SG_OBJ_ENTITY, 0, e->unit_number);
			return 1;
		}
	}
	lua_pushnil(L);
	return 1;
}

/* ---- __index --------------------------------------------------------- */

struct method {
	const char *name;
	lua_CFunction fn;
};

static const struct method player_methods[] = {
	{"get_main_inventory", player_get_main_inventory},
	{"get_inventory", player_get_inventory},
	{"print", player_print},
	{"set_controller", player_set_controller},
	{"insert", control_insert},
	{"remove_item", control_remove_item},
	{"get_item_count", control_get_item_count},
	{NULL, NULL},
};
static const struct method entity_methods[] = {
	{"get_inventory", entity_get_inventory},
	{"destroy", entity_destroy},
	{"insert", control_insert},
	{"remove_item", control_remove_item},
	{"get_item_count", control_get_item_count},
	{NULL, NULL},
};
static const struct method inventory_methods[] = {
	{"insert", inv_insert},
	{"remove", inv_remove},
	{"get_contents", inv_get_contents},
	{"get_item_count", inv_get_item_count},
	{"clear", inv_clear},
	{"is_empty", inv_is_empty},
	{"can_insert", inv_can_insert},
	{"get_insertable_count", inv_get_insertable_count},
	{"count_empty_stacks", inv_count_empty_stacks},
	{NULL, NULL},
};
static const struct method surface_methods[] = {
	{"create_entity", surface_create_entity},
	{"find_entities_filtered", surface_find_entities_filtered},
	{"count_entities_filtered", surface_count_entities_filtered},
	{"find_entity", surface_find_entity},
	{NULL, NULL},
};

static bool push_method(lua_State *L, const struct method *m, const char *k)
{
	for (; m && m->name; m++) {
		if (strcmp(m->name, k) == 0) {
			lua_pushvalue(L, 1);
			lua_pushcclosure(L, m->fn, 1);
			return true;
		}
	}
	return false;
}

static bool player_prop(lua_State *L, struct sg_game *g, uint32_t id,
			const char *k)
{
	const struct sg_player *p = sg_player_get(g, id);
	if (strcmp(k, "name") == 0)
		lua_pushstring(L, p->name);
	else if (strcmp(k, "index") == 0)
		lua_pushinteger(L, p->index);
	else if (strcmp(k, "connected") == 0)
		lua_pushboolean(L, p->connected);
	else if (strcmp(k, "admin") == 0)
		lua_pushboolean(L, p->admin);
	else if (strcmp(k, "online_time") == 0)
		lua_pushnumber(L, (lua_Number)p->online_ticks);
	else if (strcmp(k, "surface") == 0)
		sg_lua_push_obj(L, SG_OBJ_SURFACE, 0, 1);
	else if (strcmp(k, "position") == 0)
		push_pos(L, 0, 0);
	else if (strcmp(k, "controller_type") == 0)
		lua_pushinteger(L, p->controller);
	else if (strcmp(k, "force") == 0)
		push_force(L);
	else if (strcmp(k, "character") == 0 || strcmp(k, "opened") == 0)
		lua_pushnil(L); /* README: no characters */
	else
		return false;
	return true;
}

static bool entity_prop(lua_State *L, struct sg_game *g, uint32_t id,
			const char *k)
{
	const struct sg_entity *e = sg_entity_get(g, id);
	if (strcmp(k, "name") == 0)
		lua_pushstring(L, e->name);
	else if (strcmp(k, "type") == 0)
		lua_pushstring(L, e->type);
	else if (strcmp(k, "unit_number") == 0)
		lua_pushinteger(L, e->unit_number);
	else if (strcmp(k, "position") == 0)
		push_pos(L, e->x, e->y);
	else if (strcmp(k, "surface") == 0)
		sg_lua_push_obj(L, SG_OBJ_SURFACE, 0, 1);
	else if (strcmp(k, "quality") == 0)
		lua_pushliteral(L, "normal");
	else if (strcmp(k, "force") == 0)
		push_force(L);
	else
		return false;
	return true;
}

static bool plain_prop(lua_State *L, struct sg_game *g, struct sg_obj *o,
		       const char *k)
{
	switch (o->kind) {
	case SG_OBJ_PLAYER:
		return player_prop(L, g, o->id, k);
	case SG_OBJ_ENTITY:
		return entity_prop(L, g, o->id, k);
	case SG_OBJ_SURFACE:
		if (strcmp(k, "name") == 0)
			lua_pushliteral(L, "nauvis");
		else if (strcmp(k, "index") == 0)
			lua_pushinteger(L, 1);
		else
			return false;
		return true;
	default:
		return false;
	}
}

static const struct method *methods_of(uint8_t kind)
{
	switch (kind) {
	case SG_OBJ_PLAYER:
		return player_methods;
	case SG_OBJ_ENTITY:
		return entity_methods;
	case SG_OBJ_INVENTORY:
		return inventory_methods;
	case SG_OBJ_SURFACE:
		return surface_methods;
	default:
		return NULL;
	}
}

static int custom_table_index(lua_State *L, struct sg_game *g,
			      struct sg_obj *o);

static int obj_index(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	struct sg_obj *o = luaL_checkudata(L, 1, OBJ_META);
	if (o->kind >= SG_OBJ_PLAYERS && o->kind <= SG_OBJ_ITEMS)
		return custom_table_index(L, g, o);
	if (o->kind == SG_OBJ_INVENTORY && lua_type(L, 2) == LUA_TNUMBER) {
		struct sg_inventory *inv = inv_of(g, o);
		lua_Number n = lua_tonumber(L, 2);
		if (!inv)
			return luaL_error(L, "LuaInventory API call when "
					     "LuaInventory was invalid.");
		if (n < 1 || n > inv->slots || n > 255)
			return luaL_error(L, "Index out of range.");
		sg_lua_ext_push_slot(L, o, (uint32_t)n);
		return 1;
	}
	const char *k = luaL_checkstring(L, 2);
	bool valid = obj_valid(g, o);
	if (strcmp(k, "valid") == 0) {
		lua_pushboolean(L, valid);
		return 1;
	}
	if (strcmp(k, "object_name") == 0) {
		lua_pushstring(L, kind_names[o->kind]);
		return 1;
	}
	if (!valid)
		return luaL_error(L, "%s API call when %s was invalid.",
				  kind_names[o->kind], kind_names[o->kind]);
	if (push_method(L, methods_of(o->kind), k) ||
	    plain_prop(L, g, o, k) || sg_lua_ext_index(L, g, o, k) ||
	    (o->kind == SG_OBJ_PLAYER && sg_lua_ext_player_index(L, g, o, k)))
		return 1;
	return luaL_error(L, "%s doesn't contain key %s.", kind_names[o->kind],
			  k);
}

struct sg_inventory *sg_lua_inv_of(struct sg_game *g, const struct sg_obj *o)
{
	return inv_of(g, o);
}

static int obj_newindex(lua_State *L)
{
	struct sg_obj *o = luaL_checkudata(L, 1, OBJ_META);
	const char *k = luaL_checkstring(L, 2);
	struct sg_game *g = sg_lua_game(L);
	if (obj_valid(g, o) && sg_lua_ext_newindex(L, g, o, k))
		return 0;
	return luaL_error(L, "%s doesn't contain key %s.", kind_names[o->kind],
			  k);
}

static int obj_eq(lua_State *L)
{
	struct sg_obj *a = sg_lua_to_obj(L, 1), *b = sg_lua_to_obj(L, 2);
	lua_pushboolean(L, a && b && a->kind == b->kind && a->sub == b->sub &&
				   a->id == b->id);
	return 1;
}

static int obj_len(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	struct sg_obj *o = luaL_checkudata(L, 1, OBJ_META);
	if (o->kind == SG_OBJ_PLAYERS)
		lua_pushinteger(L, (lua_Integer)g->nplayers);
	else if (o->kind == SG_OBJ_SURFACES)
		lua_pushinteger(L, 1);
	else if (o->kind == SG_OBJ_INVENTORY && obj_valid(g, o))
		lua_pushinteger(L, inv_of(g, o)->slots);
	else
		return luaL_error(L, "%s has no length.", kind_names[o->kind]);
	return 1;
}

static int obj_tostring(lua_State *L)
{
	struct sg_obj *o = luaL_checkudata(L, 1, OBJ_META);
	lua_pushfstring(L, "[%s: %d]", kind_names[o->kind], (int)o->id);
	return 1;
}

/* ---- custom tables: game.players, game.surfaces, prototypes.item ----- */

static void push_item_proto(lua_State *L, const char *name)
{
	uint32_t stack = sg_proto_stack_size(name);
	if (stack == 0) {
		lua_pushnil(L);
		return;
	}
	lua_createtable(L, 0, 4);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "name");
	lua_pushinteger(L, stack);
	lua_setfield(L, -2, "stack_size");
	lua_pushliteral(L, "LuaItemPrototype");
	lua_setfield(L, -2, "object_name");
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "valid");
}

static void push_player_by_key(lua_State *L, struct sg_game *g, int idx)
{
	const struct sg_player *p = NULL;
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Number n = lua_tonumber(L, idx);
		if (n >= 1 && n <= (lua_Number)g->nplayers)
			p = sg_player_get(g, (uint32_t)n);
	} else if (lua_type(L, idx) == LUA_TSTRING) {
		p = sg_player_find(g, lua_tostring(L, idx));
	}
	if (p)
		sg_lua_push_obj(L, SG_OBJ_PLAYER, 0, p->index);
	else
		lua_pushnil(L);
}

static int custom_table_index(lua_State *L, struct sg_game *g,
			      struct sg_obj *o)
{
	if (lua_type(L, 2) == LUA_TSTRING &&
	    strcmp(lua_tostring(L, 2), "valid") == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	if (o->kind == SG_OBJ_PLAYERS) {
		push_player_by_key(L, g, 2);
	} else if (o->kind == SG_OBJ_SURFACES) {
		bool hit = (lua_type(L, 2) == LUA_TNUMBER &&
			    lua_tonumber(L, 2) == 1) ||
			   (lua_type(L, 2) == LUA_TSTRING &&
			    strcmp(lua_tostring(L, 2), "nauvis") == 0);
		if (hit)
			sg_lua_push_obj(L, SG_OBJ_SURFACE, 0, 1);
		else
			lua_pushnil(L);
	} else {
		push_item_proto(L, luaL_checkstring(L, 2));
	}
	return 1;
}

/* pairs(game.players): the iterator walks player indexes. */
static int players_next(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	struct sg_obj *o = luaL_checkudata(L, 1, OBJ_META);
	lua_Integer k = lua_isnil(L, 2) ? 0 : luaL_checkinteger(L, 2);
	lua_Integer n = o->kind == SG_OBJ_PLAYERS ? (lua_Integer)g->nplayers
						  : 1;
	if (k >= n || o->kind == SG_OBJ_ITEMS)
		return 0;
	lua_pushinteger(L, k + 1);
	if (o->kind == SG_OBJ_PLAYERS)
		sg_lua_push_obj(L, SG_OBJ_PLAYER, 0, (uint32_t)(k + 1));
	else
		sg_lua_push_obj(L, SG_OBJ_SURFACE, 0, 1);
	return 2;
}

static int obj_pairs(lua_State *L)
{
	struct sg_obj *o = luaL_checkudata(L, 1, OBJ_META);
	if (o->kind < SG_OBJ_PLAYERS)
		return luaL_error(L, "%s is not iterable.",
				  kind_names[o->kind]);
	lua_pushcfunction(L, players_next);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* ---- game ------------------------------------------------------------ */

static int game_get_player(lua_State *L)
{
	push_player_by_key(L, sg_lua_game(L), 1);
	return 1;
}

static int game_get_surface(lua_State *L)
{
	bool hit = (lua_type(L, 1) == LUA_TNUMBER && lua_tonumber(L, 1) == 1) ||
		   (lua_type(L, 1) == LUA_TSTRING &&
		    strcmp(lua_tostring(L, 1), "nauvis") == 0);
	if (hit)
		sg_lua_push_obj(L, SG_OBJ_SURFACE, 0, 1);
	else
		lua_pushnil(L);
	return 1;
}

static int game_print(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	const char *msg = luaL_tolstring(L, 1, NULL);
	for (size_t i = 0; i < g->nplayers; i++)
		if (g->players[i].connected)
			sg_player_print(&g->players[i], msg);
	return 0;
}

static int game_is_multiplayer(lua_State *L)
{
	lua_pushboolean(L, 1);
	return 1;
}

/* A headless server records no replay anyway; Clusterio calls it at
 * start. */
static int game_disable_replay(lua_State *L)
{
	(void)L;
	return 0;
}

static int game_index(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	const char *k = luaL_checkstring(L, 2);
	if (strcmp(k, "tick") == 0 || strcmp(k, "ticks_played") == 0) {
		lua_pushnumber(L, (lua_Number)g->tick);
	} else if (strcmp(k, "players") == 0) {
		sg_lua_push_obj(L, SG_OBJ_PLAYERS, 0, 0);
	} else if (strcmp(k, "surfaces") == 0) {
		sg_lua_push_obj(L, SG_OBJ_SURFACES, 0, 0);
	} else if (strcmp(k, "connected_players") == 0) {
		lua_newtable(L);
		int n = 0;
		for (size_t i = 0; i < g->nplayers; i++) {
			if (!g->players[i].connected)
				continue;
			sg_lua_push_obj(L, SG_OBJ_PLAYER, 0,
					g->players[i].index);
			lua_rawseti(L, -2, ++n);
		}
	} else if (strcmp(k, "player") == 0) {
		lua_pushnil(L); /* the server and RCON have no player */
	} else if (strcmp(k, "object_name") == 0) {
		lua_pushliteral(L, "LuaGameScript");
	} else if (strcmp(k, "tick_paused") == 0) {
		lua_pushboolean(L, sg_paused(g));
	} else if (g->api == SG_API_1_1 && strcmp(k, "active_mods") == 0) {
		sg_lua_push_active_mods(L);
	} else if (g->api == SG_API_1_1 &&
		   strcmp(k, "item_prototypes") == 0) {
		sg_lua_push_obj(L, SG_OBJ_ITEMS, 0, 0);
	} else {
		return luaL_error(L, "LuaGameScript doesn't contain key %s.",
				  k);
	}
	return 1;
}

static int game_newindex(lua_State *L)
{
	return luaL_error(L, "LuaGameScript doesn't contain key %s.",
			  luaL_checkstring(L, 2));
}

static void open_game_table(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"get_player", game_get_player},
		{"get_surface", game_get_surface},
		{"print", game_print},
		{"is_multiplayer", game_is_multiplayer},
		{"disable_replay", game_disable_replay},
		{NULL, NULL},
	};
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, game_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, game_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_setmetatable(L, -2);
	lua_setglobal(L, "game");
	lua_newtable(L);
	sg_lua_push_obj(L, SG_OBJ_ITEMS, 0, 0);
	lua_setfield(L, -2, "item");
	lua_setglobal(L, "prototypes");
}

/* ---- defines --------------------------------------------------------- */

struct define {
	const char *name;
	int value;
};

static void push_defines(lua_State *L, const struct define *d)
{
	lua_newtable(L);
	for (; d->name; d++) {
		lua_pushinteger(L, d->value);
		lua_setfield(L, -2, d->name);
	}
}

static void open_defines(lua_State *L)
{
	static const struct define inventory[] = {
		{"chest", 1}, {"character_main", 1}, {"fuel", 1},
		{"furnace_source", 2}, {"furnace_result", 3},
		{"character_guns", 3}, {"character_ammo", 4},
		{"character_armor", 5}, {"character_vehicle", 7},
		{"character_trash", 8}, {"assembling_machine_input", 2},
		{"assembling_machine_output", 3}, {NULL, 0},
	};
	static const struct define reasons[] = {
		{"quit", SG_DR_QUIT}, {"dropped", SG_DR_DROPPED},
		{"reconnect", SG_DR_RECONNECT},
		{"wrong_input", SG_DR_WRONG_INPUT},
		{"desync_limit_reached", SG_DR_DESYNC_LIMIT},
		{"cannot_keep_up", SG_DR_CANNOT_KEEP_UP}, {"afk", SG_DR_AFK},
		{"kicked", SG_DR_KICKED},
		{"kicked_and_deleted", SG_DR_KICKED_AND_DELETED},
		{"banned", SG_DR_BANNED},
		{"switching_servers", SG_DR_SWITCHING_SERVERS}, {NULL, 0},
	};
	static const struct define controllers[] = {
		{"ghost", 0}, {"character", 1}, {"god", 2}, {"editor", 3},
		{"cutscene", 4}, {"spectator", 5}, {"remote", 6}, {NULL, 0},
	};
	lua_newtable(L);
	lua_newtable(L);
	for (int i = 0; i < SG_EV_COUNT_; i++) {
		lua_pushinteger(L, i);
		lua_setfield(L, -2, sg_event_names[i]);
	}
	lua_setfield(L, -2, "events");
	push_defines(L, inventory);
	lua_setfield(L, -2, "inventory");
	push_defines(L, reasons);
	lua_setfield(L, -2, "disconnect_reason");
	push_defines(L, controllers);
	lua_setfield(L, -2, "controllers");
	lua_setglobal(L, "defines");
}

void sg_lua_open_game(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{"__index", obj_index},	      {"__newindex", obj_newindex},
		{"__eq", obj_eq},	      {"__len", obj_len},
		{"__tostring", obj_tostring}, {"__pairs", obj_pairs},
		{"__ipairs", obj_pairs},      {NULL, NULL},
	};
	luaL_newmetatable(L, OBJ_META);
	luaL_setfuncs(L, meta, 0);
	lua_pop(L, 1);
	open_game_table(L);
	open_defines(L);
}
