/*
 * lua_priv.h: what the Lua binding files of the stand-in share.
 *
 * Every C function finds the game through the registry (sg_lua_game).
 * Script state that Factorio keeps per script (event handlers, remote
 * interfaces, commands, loaded modules) lives in one registry table,
 * the "script table", so a save reload simply builds a new VM.
 */
#ifndef CLUSTERD_STANDIN_LUA_PRIV_H
#define CLUSTERD_STANDIN_LUA_PRIV_H

#include <lauxlib.h>
#include <lua.h>

#include "tools/factorio-standin/standin.h"

struct sg_game *sg_lua_game(lua_State *L);
/* Pushes the script table's field `field` (a table, created on demand). */
void sg_lua_script_field(lua_State *L, const char *field);

/* LuaObjects: a kind tag and an id; they hold no pointers, so objects whose
 * target went away report invalid instead of dangling. */
enum sg_obj_kind {
	SG_OBJ_PLAYER = 1,
	SG_OBJ_ENTITY,
	SG_OBJ_INVENTORY, /* id: player index or unit number; sub: owner */
	SG_OBJ_SURFACE,
	SG_OBJ_PLAYERS, /* game.players */
	SG_OBJ_SURFACES,
	SG_OBJ_ITEMS, /* prototypes.item */
	SG_OBJ_STACK, /* id: owner << 8 | slot; sub: the inventory's sub */
	SG_OBJ_GUI,   /* id: player index; sub: element index + 1, 0 root */
};
/* An inventory's owner: a player's main, an entity's chest, or a
 * player's other inventories (SG_INV_PLAYER_X + SG_PINV_*). */
enum { SG_INV_OWNER_PLAYER = 0, SG_INV_OWNER_ENTITY = 1, SG_INV_PLAYER_X = 2 };

struct sg_obj {
	uint8_t kind;
	uint8_t sub;
	uint32_t id;
};

void sg_lua_push_obj(lua_State *L, enum sg_obj_kind kind, uint8_t sub,
		     uint32_t id);
/* Returns the object at idx or NULL if it is not a stand-in LuaObject. */
struct sg_obj *sg_lua_to_obj(lua_State *L, int idx);
/* The inventory an SG_OBJ_INVENTORY or SG_OBJ_STACK names, or NULL. */
struct sg_inventory *sg_lua_inv_of(struct sg_game *g, const struct sg_obj *o);
/* lua_ext.c: LuaItemStack, LuaGuiElement and the player's inventory-sync
 * members. Each returns true when it pushed the value (or handled the
 * assignment). */
bool sg_lua_ext_valid(struct sg_game *g, const struct sg_obj *o);
bool sg_lua_ext_index(lua_State *L, struct sg_game *g, struct sg_obj *o,
		      const char *k);
bool sg_lua_ext_player_index(lua_State *L, struct sg_game *g,
			     struct sg_obj *o, const char *k);
bool sg_lua_ext_newindex(lua_State *L, struct sg_game *g, struct sg_obj *o,
			 const char *k);
void sg_lua_ext_push_slot(lua_State *L, const struct sg_obj *inv,
			  uint32_t slot);
/* Installs game, prototypes and defines (lua_game.c). */
void sg_lua_open_game(lua_State *L);
/* Installs helpers (lua_helpers.c). */
void sg_lua_open_helpers(lua_State *L);
/* Pushes {base = version, <mod> = version ...} (active_mods). */
void sg_lua_push_active_mods(lua_State *L);
/* Calls the function below nargs arguments with Factorio's handling of a
 * script error (what names the event for the message). */
bool sg_lua_call_handler(struct sg_game *g, int nargs, const char *what);

#endif
