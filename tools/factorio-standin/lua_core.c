/*
 * lua_core.c: the Lua 5.2 VM of the stand-in and the script-facing
 * runtime: script.*, remote.*, commands.*, print, log, rcon.print, require,
 * event dispatch and the handling of script errors.
 *
 * Semantics follow Factorio 2.0 (lua-api.factorio.com, "Data lifecycle"):
 * control.lua runs once per VM; a new game then runs on_init, a loaded one
 * restores `storage` and runs on_load. Handlers registered with
 * script.on_event replace each other per event (one per event, as in the
 * game; event_handler.lua multiplexes libraries over that). An error in a
 * handler is reported as Factorio reports a non-recoverable script error;
 * the server then stops (the game does too) unless the stand-in option
 * --standin-continue-on-script-error is given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "base/assert.h"
#include "base/err.h"
#include "tools/factorio-standin/lua_priv.h"

static const char game_key = 'g';
static const char script_key = 's';
static const char mod_key = 'm';
static const char hidden_game_key = 'h'; /* `game` while hidden */

#define XCOPY_DEPTH_MAX 32 /* table nesting copied between Lua states */

struct sg_game *sg_lua_game(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &game_key);
	struct sg_game *g = lua_touserdata(L, -1);
	lua_pop(L, 1);
	ASSERT(g != NULL);
	return g;
}

void sg_lua_script_field(lua_State *L, const char *field)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_key);
	lua_getfield(L, -1, field);
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, -3, field);
	}
	lua_remove(L, -2);
}

/* The mod whose state L is, or NULL for the level's. */
static struct sg_mod *state_mod(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &mod_key);
	struct sg_mod *m = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return m;
}

/* Whether the state's control.lua ran (its handlers may be called). */
static bool state_loaded(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_key);
	lua_getfield(L, -1, "control_ran");
	bool ok = lua_toboolean(L, -1);
	lua_pop(L, 2);
	return ok;
}

lua_State *sg_lua_enter(struct sg_game *g, lua_State *L)
{
	ASSERT(L != NULL && g->level_L != NULL);
	lua_State *prev = g->L;
	g->L = L;
	return prev;
}

/* Copies the value at idx of `from` onto `to`: nil, booleans, numbers,
 * strings, LuaObjects and tables of those, as the game copies values
 * between Lua states. Returns false, pushing nothing, for anything else
 * (functions, cycles, nesting deeper than XCOPY_DEPTH_MAX). */
static bool xcopy(lua_State *from, int idx, lua_State *to, int depth)
{
	idx = lua_absindex(from, idx);
	if (!lua_checkstack(to, 4) || !lua_checkstack(from, 4))
		return false;
	switch (lua_type(from, idx)) {
	case LUA_TNIL:
		lua_pushnil(to);
		return true;
	case LUA_TBOOLEAN:
		lua_pushboolean(to, lua_toboolean(from, idx));
		return true;
	case LUA_TNUMBER:
		lua_pushnumber(to, lua_tonumber(from, idx));
		return true;
	case LUA_TSTRING: {
		size_t n;
		const char *str = lua_tolstring(from, idx, &n);
		lua_pushlstring(to, str, n);
		return true;
	}
	case LUA_TUSERDATA: {
		const struct sg_obj *o = sg_lua_to_obj(from, idx);
		if (!o)
			return false;
		sg_lua_push_obj(to, (enum sg_obj_kind)o->kind, o->sub, o->id);
		return true;
	}
	case LUA_TTABLE:
		break;
	default:
		return false;
	}
	if (depth >= XCOPY_DEPTH_MAX)
		return false;
	lua_newtable(to);
	lua_pushnil(from);
	while (lua_next(from, idx) != 0) {
		if (!xcopy(from, -2, to, depth + 1)) {
			lua_pop(from, 2);
			lua_pop(to, 1);
			return false;
		}
		if (!xcopy(from, -1, to, depth + 1)) {
			lua_pop(from, 2);
			lua_pop(to, 2);
			return false;
		}
		lua_rawset(to, -3);
		lua_pop(from, 1);
	}
	return true;
}

/* ---- error reporting --------------------------------------------------- */

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg)
		msg = luaL_typename(L, 1);
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static void script_error(struct sg_game *g, const char *what, const char *msg)
{
	const struct sg_mod *m = state_mod(g->L);
	if (m)
		sg_logf(g, "Error", "MainLoop.cpp:1429",
			"Exception at tick %llu: The mod %s (%s) caused a "
			"non-recoverable error.\nPlease report this error to "
			"the mod author.\n\nError while running event "
			"%s::%s\n%s",
			(unsigned long long)g->tick, m->name, m->version,
			m->name, what, msg);
	else
		sg_logf(g, "Error", "MainLoop.cpp:1429",
			"Exception at tick %llu: The scenario level caused a "
			"non-recoverable error.\nPlease report this error to "
			"the scenario author.\n\nError while running event "
			"level::%s\n%s",
			(unsigned long long)g->tick, what, msg);
	if (g->continue_on_script_error)
		return;
	g->quit = true;
	g->exit_code = 1;
}

bool sg_lua_call_handler(struct sg_game *g, int nargs, const char *what)
{
	lua_State *L = g->L;
	int base = lua_gettop(L) - nargs;
	lua_pushcfunction(L, traceback);
	lua_insert(L, base);
	int rc = lua_pcall(L, nargs, 0, base);
	if (rc != LUA_OK) {
		script_error(g, what, lua_tostring(L, -1) ? lua_tostring(L, -1)
							  : "(error object)");
		lua_pop(L, 1);
	}
	lua_remove(L, base);
	return rc == LUA_OK;
}

/* ---- events ------------------------------------------------------------ */

void sg_event_begin(struct sg_game *g)
{
	lua_newtable(g->L);
}

void sg_event_setint(struct sg_game *g, const char *key, int64_t v)
{
	lua_pushinteger(g->L, (lua_Integer)v);
	lua_setfield(g->L, -2, key);
}

void sg_event_setstr(struct sg_game *g, const char *key, const char *v)
{
	lua_pushstring(g->L, v);
	lua_setfield(g->L, -2, key);
}

void sg_event_setentity(struct sg_game *g, const char *key,
			const struct sg_entity *e)
{
	sg_lua_push_obj(g->L, SG_OBJ_ENTITY, 0, e->unit_number);
	lua_setfield(g->L, -2, key);
}

static void event_name(int32_t id, char *out, size_t len)
{
	if (id >= 0 && id < SG_EV_COUNT_)
		snprintf(out, len, "%s (ID %d)", sg_event_names[id], id);
	else
		snprintf(out, len, "%d (ID %d)", id, id);
}

/* Calls the handler of `id` with the event table on top of the stack. */
static void dispatch(struct sg_game *g, int32_t id)
{
	lua_State *L = g->L;
	lua_pushinteger(L, id);
	lua_setfield(L, -2, "name");
	lua_pushinteger(L, (lua_Integer)g->tick);
	lua_setfield(L, -2, "tick");
	sg_lua_script_field(L, "events");
	lua_rawgeti(L, -1, id);
	lua_remove(L, -2);
	if (!lua_isfunction(L, -1) || g->quit) {
		lua_pop(L, 2);
		return;
	}
	lua_insert(L, -2);
	char what[96];
	event_name(id, what, sizeof(what));
	sg_lua_call_handler(g, 1, what);
}

/* Dispatches the event table on top of src in state S (a copy of it). */
static void dispatch_in(struct sg_game *g, lua_State *src, lua_State *S,
			int32_t id)
{
	if (!S || g->quit || !state_loaded(S))
		return;
	if (S == src)
		lua_pushvalue(src, -1);
	else if (!xcopy(src, -1, S, 0))
		return;
	lua_State *prev = sg_lua_enter(g, S);
	dispatch(g, id);
	g->L = prev;
}

/* Every state gets the event: the mods' in load order, then the level's,
 * as the game runs the scenario's script after the mods'. */
void sg_event(struct sg_game *g, int32_t id)
{
	lua_State *src = g->L;
	for (size_t i = 0; i < g->nmods; i++)
		dispatch_in(g, src, g->mods[i].L, id);
	dispatch_in(g, src, g->level_L, id);
	lua_pop(src, 1);
}

static void tick_state(struct sg_game *g)
{
	lua_State *L = g->L;
	if (!state_loaded(L))
		return;
	sg_event_begin(g);
	dispatch(g, SG_EV_ON_TICK);
	/* Collect the due periods first: a handler may change the table. */
	sg_lua_script_field(L, "nth");
	lua_Integer due[64];
	int ndue = 0;
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {
		lua_Integer n = lua_tointeger(L, -2);
		if (n > 0 && g->tick % (uint64_t)n == 0 && ndue < 64)
			due[ndue++] = n;
		lua_pop(L, 1);
	}
	for (int i = 0; i < ndue && !g->quit; i++) {
		lua_rawgeti(L, -1, (int)due[i]);
		if (!lua_isfunction(L, -1)) {
			lua_pop(L, 1);
			continue;
		}
		lua_newtable(L);
		lua_pushinteger(L, (lua_Integer)g->tick);
		lua_setfield(L, -2, "tick");
		lua_pushinteger(L, due[i]);
		lua_setfield(L, -2, "nth_tick");
		char what[64];
		snprintf(what, sizeof(what), "on_nth_tick(%ld)", (long)due[i]);
		sg_lua_call_handler(g, 1, what);
	}
	lua_pop(L, 1);
}

void sg_lua_tick(struct sg_game *g)
{
	for (size_t i = 0; i < g->nmods && !g->quit; i++) {
		if (!g->mods[i].L)
			continue;
		lua_State *prev = sg_lua_enter(g, g->mods[i].L);
		tick_state(g);
		g->L = prev;
	}
	if (!g->quit)
		tick_state(g);
}

/* ---- script.* ---------------------------------------------------------- */

static void set_handler(lua_State *L, const char *field, lua_Integer key,
			int fn_idx)
{
	sg_lua_script_field(L, field);
	if (lua_isnil(L, fn_idx))
		lua_pushnil(L);
	else
		lua_pushvalue(L, fn_idx);
	lua_rawseti(L, -2, (int)key);
	lua_pop(L, 1);
}

static void check_handler(lua_State *L, int idx)
{
	if (!lua_isnoneornil(L, idx))
		luaL_checktype(L, idx, LUA_TFUNCTION);
}

static int l_on_event(lua_State *L)
{
	check_handler(L, 2);
	lua_settop(L, 2);
	if (lua_istable(L, 1)) {
		int n = (int)lua_rawlen(L, 1);
		for (int i = 1; i <= n; i++) {
			lua_rawgeti(L, 1, i);
			lua_Integer id = luaL_checkinteger(L, -1);
			lua_pop(L, 1);
			set_handler(L, "events", id, 2);
		}
		return 0;
	}
	if (lua_type(L, 1) == LUA_TSTRING)
		return 0; /* custom-input names: no inputs in a headless game */
	set_handler(L, "events", luaL_checkinteger(L, 1), 2);
	return 0;
}

static int l_on_nth_tick(lua_State *L)
{
	check_handler(L, 2);
	lua_settop(L, 2);
	if (lua_isnil(L, 1)) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &script_key);
		lua_newtable(L);
		lua_setfield(L, -2, "nth");
		return 0;
	}
	if (lua_istable(L, 1)) {
		int n = (int)lua_rawlen(L, 1);
		for (int i = 1; i <= n; i++) {
			lua_rawgeti(L, 1, i);
			lua_Integer t = luaL_checkinteger(L, -1);
			lua_pop(L, 1);
			if (t <= 0)
				return luaL_error(L, "Invalid nth_tick: %d",
						  (int)t);
			set_handler(L, "nth", t, 2);
		}
		return 0;
	}
	lua_Integer t = luaL_checkinteger(L, 1);
	if (t <= 0)
		return luaL_error(L, "Invalid nth_tick: %d", (int)t);
	set_handler(L, "nth", t, 2);
	return 0;
}

static int set_lifecycle(lua_State *L, const char *which)
{
	check_handler(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_key);
	lua_pushvalue(L, 1);
	lua_setfield(L, -2, which);
	return 0;
}

static int l_on_init(lua_State *L)
{
	return set_lifecycle(L, "on_init");
}

static int l_on_load(lua_State *L)
{
	return set_lifecycle(L, "on_load");
}

static int l_on_configuration_changed(lua_State *L)
{
	return set_lifecycle(L, "on_configuration_changed");
}

static int l_generate_event_name(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	lua_pushinteger(L, g->next_custom_event++);
	return 1;
}

static int l_raise_event(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	lua_Integer id = luaL_checkinteger(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	if (id < SG_EV_CUSTOM_BASE && id != SG_EV_SCRIPT_RAISED_BUILT &&
	    id != SG_EV_SCRIPT_RAISED_DESTROY)
		return luaL_error(L, "Only custom events and script_raised_* "
				     "events can be raised.");
	/* A shallow copy, as the game copies the table it is given. */
	lua_newtable(L);
	lua_pushnil(L);
	while (lua_next(L, 2) != 0) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_settable(L, -4);
	}
	sg_event(g, (int32_t)id);
	return 0;
}

static int l_get_event_handler(lua_State *L)
{
	lua_Integer id = luaL_checkinteger(L, 1);
	sg_lua_script_field(L, "events");
	lua_rawgeti(L, -1, (int)id);
	return 1;
}

/* ---- remote.* ---------------------------------------------------------- */

/* Whether state S registered interface `name`. */
static bool has_interface(lua_State *S, const char *name)
{
	sg_lua_script_field(S, "interfaces");
	lua_getfield(S, -1, name);
	bool has = lua_istable(S, -1);
	lua_pop(S, 2);
	return has;
}

/* The state holding interface `name` (interfaces are one namespace across
 * the level and every mod), or NULL. */
static lua_State *interface_state(struct sg_game *g, const char *name)
{
	for (size_t i = 0; i < g->nmods; i++)
		if (g->mods[i].L && has_interface(g->mods[i].L, name))
			return g->mods[i].L;
	if (g->level_L && has_interface(g->level_L, name))
		return g->level_L;
	return NULL;
}

static int l_add_interface(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	const char *name = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	if (interface_state(g, name))
		return luaL_error(L, "Remote interface with name %s already "
				     "exists.", name);
	sg_lua_script_field(L, "interfaces");
	lua_pushvalue(L, 2);
	lua_setfield(L, -2, name);
	return 0;
}

static int l_remove_interface(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	bool had = has_interface(L, name);
	sg_lua_script_field(L, "interfaces");
	lua_pushnil(L);
	lua_setfield(L, -2, name);
	lua_pushboolean(L, had);
	return 1;
}

/* remote.interfaces: {name = {fn = true, ...}} over every state, built on
 * each read so it is never stale. */
static int l_remote_index(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	if (strcmp(luaL_checkstring(L, 2), "interfaces") != 0)
		return 0;
	lua_newtable(L);
	int result = lua_gettop(L);
	/* S may be L itself, so every index below is absolute and nothing
	 * is pushed on L while a value of S is needed from the top. */
	for (size_t i = 0; i <= g->nmods; i++) {
		lua_State *S = i < g->nmods ? g->mods[i].L : g->level_L;
		if (!S)
			continue;
		sg_lua_script_field(S, "interfaces");
		int it = lua_gettop(S);
		lua_pushnil(S);
		while (lua_next(S, it) != 0) {
			int v = lua_gettop(S);
			if (lua_type(S, v - 1) != LUA_TSTRING ||
			    !lua_istable(S, v)) {
				lua_pop(S, 1);
				continue;
			}
			const char *iname = lua_tostring(S, v - 1);
			lua_newtable(L);
			int t = lua_gettop(L);
			lua_pushnil(S);
			while (lua_next(S, v) != 0) {
				const char *fk = lua_type(S, -2) == LUA_TSTRING
							 ? lua_tostring(S, -2)
							 : NULL;
				if (fk) {
					lua_pushboolean(L, 1);
					lua_setfield(L, t, fk);
				}
				lua_pop(S, 1);
			}
			lua_setfield(L, result, iname);
			lua_settop(S, v - 1);
		}
		lua_settop(S, it - 1);
	}
	lua_settop(L, result);
	return 1;
}

/* remote.call into another state: arguments and results are copied. */
static int call_across(lua_State *L, lua_State *S, int nargs)
{
	struct sg_game *g = sg_lua_game(L);
	int base = lua_gettop(S);
	if (!lua_checkstack(S, nargs + 8))
		return luaL_error(L, "remote.call: too many arguments");
	sg_lua_script_field(S, "interfaces");
	lua_getfield(S, -1, lua_tostring(L, 1));
	lua_getfield(S, -1, lua_tostring(L, 2));
	if (!lua_isfunction(S, -1)) {
		lua_settop(S, base);
		return luaL_error(L, "No such function: %s", lua_tostring(L, 2));
	}
	lua_replace(S, base + 1);
	lua_settop(S, base + 1);
	for (int i = 3; i < 3 + nargs; i++) {
		if (!xcopy(L, i, S, 0)) {
			lua_settop(S, base);
			return luaL_error(L, "Can't copy object of type %s.",
					  luaL_typename(L, i));
		}
	}
	lua_State *prev = sg_lua_enter(g, S);
	int rc = lua_pcall(S, nargs, LUA_MULTRET, 0);
	g->L = prev;
	if (rc != LUA_OK) {
		lua_pushstring(L, lua_tostring(S, -1) ? lua_tostring(S, -1)
						       : "(error object)");
		lua_settop(S, base);
		return lua_error(L);
	}
	int nres = lua_gettop(S) - base;
	luaL_checkstack(L, nres + 4, "remote.call results");
	for (int r = 1; r <= nres; r++)
		if (!xcopy(S, base + r, L, 0))
			lua_pushnil(L);
	lua_settop(S, base);
	return nres;
}

static int l_remote_call(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	const char *iface = luaL_checkstring(L, 1);
	const char *fn = luaL_checkstring(L, 2);
	int nargs = lua_gettop(L) - 2;
	lua_State *S = interface_state(g, iface);
	if (!S)
		return luaL_error(L, "Unknown interface: %s", iface);
	if (S != g->L)
		return call_across(L, S, nargs);
	sg_lua_script_field(L, "interfaces");
	lua_getfield(L, -1, iface);
	lua_getfield(L, -1, fn);
	if (!lua_isfunction(L, -1))
		return luaL_error(L, "No such function: %s", fn);
	lua_replace(L, 2); /* the function takes the name's place */
	lua_pop(L, 2);
	lua_remove(L, 1);
	lua_call(L, nargs, LUA_MULTRET);
	return lua_gettop(L);
}

/* ---- commands.* -------------------------------------------------------- */

static const char *const builtin_commands[] = {
	"c", "sc", "command", "silent-command", "measured-command", "quit",
	"players", "promote", "demote", "ban", "unban", "whitelist", "config",
	"admins", "kick", "help", "h", "version", "time", "seed", "save",
	"server-save", "p", "standin", NULL,
};

static int l_add_command(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	luaL_checkany(L, 2);
	luaL_checktype(L, 3, LUA_TFUNCTION);
	for (size_t i = 0; builtin_commands[i]; i++)
		if (strcmp(builtin_commands[i], name) == 0)
			return luaL_error(L, "Command with name \"%s\" already "
					     "exists.", name);
	sg_lua_script_field(L, "commands");
	lua_getfield(L, -1, name);
	if (!lua_isnil(L, -1))
		return luaL_error(L, "Command with name \"%s\" already exists.",
				  name);
	lua_pop(L, 1);
	lua_pushvalue(L, 3);
	lua_setfield(L, -2, name);
	lua_getglobal(L, "commands");
	lua_getfield(L, -1, "commands");
	lua_pushvalue(L, 2);
	lua_setfield(L, -2, name);
	return 0;
}

static int l_remove_command(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	sg_lua_script_field(L, "commands");
	lua_getfield(L, -1, name);
	bool had = !lua_isnil(L, -1);
	lua_pop(L, 1);
	lua_pushnil(L);
	lua_setfield(L, -2, name);
	lua_getglobal(L, "commands");
	lua_getfield(L, -1, "commands");
	lua_pushnil(L);
	lua_setfield(L, -2, name);
	lua_pushboolean(L, had);
	return 1;
}

/* Runs the command in the current state; false if it has none. */
static bool custom_command_in(struct sg_game *g, const char *name,
			      const char *param)
{
	lua_State *L = g->L;
	sg_lua_script_field(L, "commands");
	lua_getfield(L, -1, name);
	lua_remove(L, -2);
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return false;
	}
	lua_newtable(L);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "name");
	lua_pushinteger(L, (lua_Integer)g->tick);
	lua_setfield(L, -2, "tick");
	if (param && param[0]) {
		lua_pushstring(L, param);
		lua_setfield(L, -2, "parameter");
	}
	char what[96];
	snprintf(what, sizeof(what), "command %s", name);
	sg_lua_call_handler(g, 1, what);
	return true;
}

bool sg_lua_custom_command(struct sg_game *g, const char *name,
			   const char *param)
{
	if (custom_command_in(g, name, param))
		return true;
	for (size_t i = 0; i < g->nmods; i++) {
		if (!g->mods[i].L || g->mods[i].L == g->L)
			continue;
		lua_State *prev = sg_lua_enter(g, g->mods[i].L);
		bool ran = custom_command_in(g, name, param);
		g->L = prev;
		if (ran)
			return true;
	}
	return false;
}

/* ---- output ------------------------------------------------------------ */

/* Pushes tostring() of arguments 1..n joined by sep. */
static void push_joined(lua_State *L, int n, const char *sep)
{
	luaL_checkstack(L, 2 * n + 2, "too many arguments");
	int parts = 0;
	for (int i = 1; i <= n; i++) {
		if (i > 1) {
			lua_pushstring(L, sep);
			parts++;
		}
		luaL_tolstring(L, i, NULL);
		parts++;
	}
	if (parts == 0)
		lua_pushliteral(L, "");
	else
		lua_concat(L, parts);
}

static int l_print(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	push_joined(L, lua_gettop(L), "\t");
	sg_raw(g, lua_tostring(L, -1));
	return 0;
}

/* table_size(t): the number of keys of t, a global of both versions. */
static int l_table_size(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = 0;
	lua_pushnil(L);
	while (lua_next(L, 1) != 0) {
		lua_pop(L, 1);
		n++;
	}
	lua_pushinteger(L, n);
	return 1;
}

static int l_log(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	const char *msg = luaL_tolstring(L, 1, NULL);
	luaL_where(L, 1);
	sg_logf(g, "Script", NULL, "@%s%s", lua_tostring(L, -1), msg);
	return 0;
}

static int l_rcon_print(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	size_t len;
	const char *msg = luaL_tolstring(L, 1, &len);
	if (!g->reply) {
		sg_raw(g, msg);
		return 0;
	}
	/* A reply past its bound is cut, as one packet has a limit too. */
	if (wbuf_put(g->reply, msg, len) < 0 || wbuf_put(g->reply, "\n", 1) < 0)
		return 0;
	return 0;
}

/* ---- require ----------------------------------------------------------- */

/* Turns a module name into a path: "a.b" -> "a/b.lua", "x/y" -> "x/y.lua".
 * Returns false for names that could leave their root. */
static bool module_path(const char *name, char *out, size_t len)
{
	bool has_slash = strchr(name, '/') != NULL;
	size_t n = strlen(name);
	bool has_ext = n > 4 && strcmp(name + n - 4, ".lua") == 0;
	if (n == 0 || n + 5 > len || name[0] == '/' || strstr(name, ".."))
		return false;
	for (size_t i = 0; i <= n; i++)
		out[i] = (!has_slash && !has_ext && name[i] == '.') ? '/'
								  : name[i];
	if (!has_ext)
		strcat(out, ".lua");
	return true;
}

static const struct sg_file *file_in(const struct sg_file *files, size_t n,
				     const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(files[i].path, path) == 0)
			return &files[i];
	return NULL;
}

/* Splits "__name__/rest" into the mod name and rest; false otherwise. */
static bool mod_prefix(const char *name, char *mod, size_t len,
		       const char **rest)
{
	if (strncmp(name, "__", 2) != 0)
		return false;
	const char *end = strstr(name + 2, "__/");
	if (!end || end == name + 2 || (size_t)(end - name - 2) >= len)
		return false;
	snprintf(mod, len, "%.*s", (int)(end - name - 2), name + 2);
	*rest = end + 3;
	return true;
}

/* Loads owner's file rel (relative to the owner's root: the save's root
 * folder for "level", a mod's folder, or the install's core/ or base/)
 * as chunk "@__owner__/rel"; false if it has no such file. */
static bool load_owned(lua_State *L, struct sg_game *g, const char *owner,
		       const char *rel, char chunk[600])
{
	char full[1200];
	int rc;
	snprintf(chunk, 600, "@__%s__/%s", owner, rel);
	if (!strcmp(owner, "core") || !strcmp(owner, "base")) {
		if (!g->read_data)
			return false;
		snprintf(full, sizeof(full), "%s/%s/%s", g->read_data, owner,
			 rel);
		size_t len;
		char *text = sg_read_file(full, 16u << 20, &len);
		if (!text)
			return false;
		rc = luaL_loadbufferx(L, text, len, chunk, "t");
		free(text);
	} else {
		const struct sg_mod *m = NULL;
		if (strcmp(owner, "level") != 0 &&
		    (m = sg_mod_find(g, owner)) == NULL)
			return false;
		const struct sg_file *f = m ? file_in(m->files, m->nfiles, rel)
					    : file_in(g->files, g->nfiles, rel);
		if (!f)
			return false;
		rc = luaL_loadbufferx(L, f->data, f->len, chunk, "t");
	}
	if (rc != LUA_OK)
		lua_error(L);
	return true;
}

/* The owner and folder of the Lua file calling require: "@__o__/a/b.lua"
 * gives "o" and "a/". False when the caller is not such a file. */
static bool caller_dir(lua_State *L, char *owner, size_t olen, char *dir,
		       size_t dlen)
{
	lua_Debug ar;
	const char *rest;
	if (!lua_getstack(L, 1, &ar) || !lua_getinfo(L, "S", &ar) ||
	    ar.source[0] != '@' ||
	    !mod_prefix(ar.source + 1, owner, olen, &rest))
		return false;
	const char *slash = strrchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) + 1 : 0;
	if (n >= dlen)
		return false;
	snprintf(dir, dlen, "%.*s", (int)n, rest);
	return true;
}

/* Pushes the loaded chunk of a module; returns false if none found. A
 * plain name is looked up next to the file calling require, then in the
 * files of the state's owner (the save for the level, the mod's own files
 * for a mod), then in core/lualib and base/lualib of the install.
 * "__level__/", "__core__/", "__base__/" and "__<mod>__/" pick one
 * owner, relative to its root. */
static bool find_module(lua_State *L, struct sg_game *g, const char *name,
			char chunk[600])
{
	char path[512], rel[1100], owner[SG_NAME_MAX], dir[512];
	const char *rest;
	if (mod_prefix(name, owner, sizeof(owner), &rest))
		return module_path(rest, path, sizeof(path)) &&
		       load_owned(L, g, owner, path, chunk);
	if (!module_path(name, path, sizeof(path)))
		return false;
	if (caller_dir(L, owner, sizeof(owner), dir, sizeof(dir))) {
		snprintf(rel, sizeof(rel), "%s%s", dir, path);
		if (load_owned(L, g, owner, rel, chunk))
			return true;
	}
	const struct sg_mod *home = state_mod(L);
	if (load_owned(L, g, home ? home->name : "level", path, chunk))
		return true;
	snprintf(rel, sizeof(rel), "lualib/%s", path);
	return load_owned(L, g, "core", rel, chunk) ||
	       load_owned(L, g, "base", rel, chunk);
}

/* Modules are cached by the file they resolve to, so "a.b" and "a/b"
 * share one instance. */
static int l_require(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	const char *name = luaL_checkstring(L, 1);
	char chunk[600];
	sg_lua_script_field(L, "loaded");
	int loaded = lua_gettop(L);
	if (!find_module(L, g, name, chunk))
		return luaL_error(L, "module %s not found;  no such file %s",
				  name, name);
	const char *key = chunk + 1; /* without the '@' */
	lua_getfield(L, loaded, key);
	if (lua_toboolean(L, -1)) {
		if (lua_islightuserdata(L, -1))
			return luaL_error(L, "loop or previous error loading "
					     "module '%s'", name);
		return 1;
	}
	lua_pop(L, 1);
	lua_pushlightuserdata(L, (void *)&script_key); /* loading sentinel */
	lua_setfield(L, loaded, key);
	lua_pushstring(L, name);
	lua_call(L, 1, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, loaded, key);
	return 1;
}

/* ---- /sc and /c --------------------------------------------------------- */

void sg_lua_command(struct sg_game *g, const char *code, size_t len)
{
	lua_State *L = g->L;
	/* The chunk is named by its text (NUL-terminated by the caller), so
	 * Lua shortens it to [string "first line..."] in errors, as in the
	 * game, which runs the same Lua. */
	int rc = luaL_loadbufferx(L, code, len, code, "t");
	if (rc == LUA_OK) {
		lua_pushcfunction(L, traceback);
		lua_insert(L, -2);
		rc = lua_pcall(L, 0, 0, 0);
		lua_remove(L, -1 - (rc != LUA_OK));
	}
	if (rc != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		char buf[8192];
		snprintf(buf, sizeof(buf), "Cannot execute command. Error: %s\n",
			 msg ? msg : "(error object)");
		if (g->reply)
			(void)wbuf_put(g->reply, buf, strlen(buf));
		lua_pop(L, 1);
	}
}

/* ---- setup ------------------------------------------------------------- */

static void set_funcs(lua_State *L, const char *global, const luaL_Reg *fns)
{
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
	lua_setglobal(L, global);
}

/* {base = version, <mod> = version, ...}: script.active_mods (both
 * versions) and game.active_mods (1.1). */
void sg_lua_push_active_mods(lua_State *L)
{
	struct sg_game *g = sg_lua_game(L);
	lua_newtable(L);
	lua_pushstring(L, g->version);
	lua_setfield(L, -2, "base");
	for (size_t i = 0; i < g->nmods; i++) {
		lua_pushstring(L, g->mods[i].version);
		lua_setfield(L, -2, g->mods[i].name);
	}
}

static int l_script_index(lua_State *L)
{
	if (strcmp(luaL_checkstring(L, 2), "active_mods") != 0)
		return 0;
	sg_lua_push_active_mods(L);
	return 1;
}

static void open_script(lua_State *L, const char *mod_name)
{
	static const luaL_Reg script_fns[] = {
		{"on_event", l_on_event},
		{"on_nth_tick", l_on_nth_tick},
		{"on_init", l_on_init},
		{"on_load", l_on_load},
		{"on_configuration_changed", l_on_configuration_changed},
		{"generate_event_name", l_generate_event_name},
		{"raise_event", l_raise_event},
		{"get_event_handler", l_get_event_handler},
		{NULL, NULL},
	};
	static const luaL_Reg remote_fns[] = {
		{"add_interface", l_add_interface},
		{"remove_interface", l_remove_interface},
		{"call", l_remote_call},
		{NULL, NULL},
	};
	static const luaL_Reg commands_fns[] = {
		{"add_command", l_add_command},
		{"remove_command", l_remove_command},
		{NULL, NULL},
	};
	set_funcs(L, "script", script_fns);
	lua_getglobal(L, "script");
	lua_pushstring(L, mod_name);
	lua_setfield(L, -2, "mod_name");
	lua_newtable(L);
	lua_pushcfunction(L, l_script_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_pop(L, 1);
	set_funcs(L, "remote", remote_fns);
	lua_getglobal(L, "remote");
	lua_newtable(L);
	lua_pushcfunction(L, l_remote_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_pop(L, 1);
	set_funcs(L, "commands", commands_fns);
	lua_getglobal(L, "commands");
	lua_newtable(L);
	lua_setfield(L, -2, "commands");
	lua_newtable(L);
	for (size_t i = 0; builtin_commands[i]; i++) {
		lua_pushstring(L, "");
		lua_setfield(L, -2, builtin_commands[i]);
	}
	lua_setfield(L, -2, "game_commands");
	lua_pop(L, 1);
}

static void open_base(struct sg_game *g, lua_State *L)
{
	static const luaL_Reg libs[] = {
		{"_G", luaopen_base},       {LUA_TABLIBNAME, luaopen_table},
		{LUA_STRLIBNAME, luaopen_string},
		{LUA_MATHLIBNAME, luaopen_math},
		{LUA_BITLIBNAME, luaopen_bit32},
		{LUA_DBLIBNAME, luaopen_debug},
		{NULL, NULL},
	};
	for (const luaL_Reg *l = libs; l->func; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	/* Factorio's VM has no file access from scripts. */
	lua_pushnil(L);
	lua_setglobal(L, "dofile");
	lua_pushnil(L);
	lua_setglobal(L, "loadfile");
	lua_register(L, "print", l_print);
	lua_register(L, "log", l_log);
	lua_register(L, "require", l_require);
	lua_register(L, "table_size", l_table_size);
	lua_newtable(L);
	sg_lua_script_field(L, "loaded");
	lua_setfield(L, -2, "loaded");
	lua_setglobal(L, "package");
	lua_newtable(L);
	lua_pushcfunction(L, l_rcon_print);
	lua_setfield(L, -2, "print");
	lua_setglobal(L, "rcon");
	lua_newtable(L);
	lua_setglobal(L, sg_storage_global(g));
	/* Mod settings: none are defined (settings.lua is not run), so every
	 * lookup gives nil. */
	lua_newtable(L);
	const char *const kinds[3] = {"startup", "global", "player"};
	for (int i = 0; i < 3; i++) {
		lua_newtable(L);
		lua_setfield(L, -2, kinds[i]);
	}
	lua_setglobal(L, "settings");
}

/* The game provides `serpent` as a global; the stand-in's version is a
 * Lua file of the install. Without it (no read-data) serpent is absent. */
static void open_serpent(struct sg_game *g, lua_State *L)
{
	char path[4200];
	if (!g->read_data)
		return;
	snprintf(path, sizeof(path), "%s/core/lualib/serpent.lua",
		 g->read_data);
	size_t len;
	char *text = sg_read_file(path, 1u << 20, &len);
	if (!text)
		return;
	int rc = luaL_loadbufferx(L, text, len, "@__core__/lualib/serpent.lua",
				  "t");
	free(text);
	if (rc == LUA_OK)
		rc = lua_pcall(L, 0, 1, 0);
	if (rc != LUA_OK) {
		sg_logf(g, "Error", "LuaContext.cpp:92", "%s",
			lua_tostring(L, -1));
		lua_pop(L, 1);
		return;
	}
	lua_setglobal(L, "serpent");
}

/* Factorio 1.1 had the helpers on `game` (game.table_to_json ...) and no
 * `helpers` or `prototypes` global (README, "Factorio 1.1 and 2.0"). */
static void open_1_1(lua_State *L)
{
	lua_getglobal(L, "game");
	lua_getglobal(L, "helpers");
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, -5);
	}
	lua_pop(L, 2);
	lua_pushnil(L);
	lua_setglobal(L, "helpers");
	lua_pushnil(L);
	lua_setglobal(L, "prototypes");
}

/* A Lua state with the whole API for the level (m NULL) or a mod. */
static lua_State *new_state(struct sg_game *g, struct sg_mod *m)
{
	lua_State *L = luaL_newstate();
	if (!L)
		return NULL;
	lua_pushlightuserdata(L, g);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &game_key);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &script_key);
	lua_pushlightuserdata(L, m);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &mod_key);
	open_base(g, L);
	open_script(L, m ? m->name : "level");
	sg_lua_open_game(L);
	sg_lua_open_helpers(L);
	if (g->api == SG_API_1_1)
		open_1_1(L);
	open_serpent(g, L);
	return L;
}

int sg_lua_open(struct sg_game *g)
{
	lua_State *L = new_state(g, NULL);
	if (!L)
		return ERR_NOMEM;
	g->L = g->level_L = L;
	return 0;
}

int sg_lua_open_mod(struct sg_game *g, struct sg_mod *m)
{
	m->L = new_state(g, m);
	return m->L ? 0 : ERR_NOMEM;
}

void sg_lua_close(struct sg_game *g)
{
	if (g->level_L)
		lua_close(g->level_L);
	g->L = g->level_L = NULL;
}

bool sg_lua_mod_command(struct sg_game *g, const char *mod, const char *code,
			size_t len)
{
	struct sg_mod *m = sg_mod_find(g, mod);
	if (!m || !m->L)
		return false;
	lua_State *prev = sg_lua_enter(g, m->L);
	sg_lua_command(g, code, len);
	g->L = prev;
	return true;
}

static void configuration_changed_in(struct sg_game *g, lua_State *S,
				     const struct sg_mod_change *c, size_t n)
{
	if (!S || g->quit || !state_loaded(S))
		return;
	lua_rawgetp(S, LUA_REGISTRYINDEX, &script_key);
	lua_getfield(S, -1, "on_configuration_changed");
	lua_remove(S, -2);
	if (!lua_isfunction(S, -1)) {
		lua_pop(S, 1);
		return;
	}
	lua_newtable(S);
	lua_newtable(S);
	for (size_t i = 0; i < n; i++) {
		lua_newtable(S);
		if (c[i].old_version[0]) {
			lua_pushstring(S, c[i].old_version);
			lua_setfield(S, -2, "old_version");
		}
		if (c[i].new_version[0]) {
			lua_pushstring(S, c[i].new_version);
			lua_setfield(S, -2, "new_version");
		}
		lua_setfield(S, -2, c[i].name);
		/* A change of the game itself is also given at the top. */
		if (strcmp(c[i].name, "base") == 0) {
			lua_pushstring(S, c[i].old_version);
			lua_setfield(S, -3, "old_version");
			lua_pushstring(S, c[i].new_version);
			lua_setfield(S, -3, "new_version");
		}
	}
	lua_setfield(S, -2, "mod_changes");
	lua_pushboolean(S, 0);
	lua_setfield(S, -2, "mod_startup_settings_changed");
	lua_pushboolean(S, 0);
	lua_setfield(S, -2, "migration_applied");
	lua_State *prev = sg_lua_enter(g, S);
	sg_lua_call_handler(g, 1, "on_configuration_changed");
	g->L = prev;
}

void sg_lua_configuration_changed(struct sg_game *g,
				  const struct sg_mod_change *c, size_t n)
{
	for (size_t i = 0; i < g->nmods; i++)
		configuration_changed_in(g, g->mods[i].L, c, n);
	configuration_changed_in(g, g->level_L, c, n);
}

/* Runs a lifecycle handler (on_init, on_load) if the script set one. */
/* The game has no `game` while control.lua itself and on_load run (it
 * exists from on_init and the first event on). hide_game stores the
 * table in the registry and clears the global; show_game puts it back. */
static void hide_game(lua_State *L)
{
	lua_getglobal(L, "game");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &hidden_game_key);
	lua_pushnil(L);
	lua_setglobal(L, "game");
}

static void show_game(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &hidden_game_key);
	lua_setglobal(L, "game");
}

void sg_lua_lifecycle(struct sg_game *g, const char *which)
{
	lua_State *L = g->L;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_key);
	lua_getfield(L, -1, which);
	lua_remove(L, -2);
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	bool loading = strcmp(which, "on_load") == 0;
	if (loading)
		hide_game(L);
	sg_lua_call_handler(g, 0, which);
	if (loading)
		show_game(L);
}

/* Runs the control.lua of the current state's owner (the save's, or a
 * mod's). Returns false (and reports the error as the game does when a
 * script fails to load) on failure. */
bool sg_lua_run_control(struct sg_game *g)
{
	lua_State *L = g->L;
	const struct sg_mod *m = state_mod(L);
	lua_pushcfunction(L, l_require);
	lua_pushstring(L, m ? "control" : "__level__/control");
	lua_pushcfunction(L, traceback);
	lua_insert(L, -3);
	hide_game(L);
	int rc = lua_pcall(L, 1, 0, -3);
	show_game(L);
	if (rc != LUA_OK) {
		if (m)
			sg_logf(g, "Error", "MainLoop.cpp:1429",
				"Failed to load mod \"%s\": %s", m->name,
				lua_tostring(L, -1) ? lua_tostring(L, -1)
						    : "?");
		else
			sg_logf(g, "Error", "MainLoop.cpp:1429",
				"Error while loading the scenario script: %s",
				lua_tostring(L, -1) ? lua_tostring(L, -1)
						    : "?");
		lua_pop(L, 2);
		return false;
	}
	lua_pop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_key);
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "control_ran");
	lua_pop(L, 1);
	return true;
}
