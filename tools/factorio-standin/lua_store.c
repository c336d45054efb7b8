/*
 * lua_store.c: `storage` in and out of the save.
 *
 * Factorio persists `storage` with the map, keeping shared references and
 * cycles and the LuaObjects stored in it. The stand-in writes it as a flat
 * Lua chunk: every table gets a number, the chunk creates them all and then
 * fills them with one assignment per field, so shared tables, cycles and
 * deep nesting all survive without recursion (the walk is a work list) and
 * without hitting the Lua parser's nesting limit. LuaObjects are written
 * as constructor calls (P(3) for player 3, E(12) for entity 12, ...). The
 * chunk is loaded as text only, in an environment holding nothing but those
 * constructors. Functions in storage make the save fail, as in the game.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "tools/factorio-standin/lua_priv.h"

#define STORE_TABLES_MAX 2000000 /* tables in storage */
/* A chunk we wrote runs about 4 instructions per field; a save whose
 * chunk runs far longer was not written by us (or is hostile), and is
 * refused rather than hanging the start. */
#define RESTORE_STEPS_MAX 500u /* hook calls of 1M instructions each */
#define RESTORE_HOOK_EVERY 1000000

struct dumper {
	lua_State *L;
	struct wbuf *out;
	int ids;  /* stack index: table -> id */
	int list; /* stack index: id -> table */
	int ntables;
	char *err;
	size_t errlen;
	bool failed;
};

static void put(struct dumper *d, const char *s, size_t n)
{
	if (!d->failed && wbuf_put(d->out, s, n) < 0) {
		snprintf(d->err, d->errlen, "storage is too large to save");
		d->failed = true;
	}
}

static void puts_(struct dumper *d, const char *s)
{
	put(d, s, strlen(s));
}

static void put_string(struct dumper *d, const char *s, size_t n)
{
	puts_(d, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(d, esc, 2);
		} else if (c < 32 || c == 127) {
			snprintf(esc, sizeof(esc), "\\%03u", c);
			puts_(d, esc);
		} else {
			put(d, (const char *)&s[i], 1);
		}
	}
	puts_(d, "\"");
}

static void put_number(struct dumper *d, lua_Number v)
{
	char buf[64];
	if (isnan(v))
		snprintf(buf, sizeof(buf), "(0/0)");
	else if (isinf(v))
		snprintf(buf, sizeof(buf), v > 0 ? "(1/0)" : "(-1/0)");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(buf, sizeof(buf), "%.0f", v);
	else
		snprintf(buf, sizeof(buf), "%.17g", v);
	puts_(d, buf);
}

/* Returns the id of the table at idx, numbering it on first sight. */
static int table_id(struct dumper *d, int idx)
{
	lua_State *L = d->L;
	lua_pushvalue(L, idx);
	lua_rawget(L, d->ids);
	int id = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	if (id)
		return id;
	if (d->ntables == STORE_TABLES_MAX) {
		snprintf(d->err, d->errlen, "storage holds too many tables");
		d->failed = true;
		return 1;
	}
	id = ++d->ntables;
	lua_pushvalue(L, idx);
	lua_pushinteger(L, id);
	lua_rawset(L, d->ids);
	lua_pushvalue(L, idx);
	lua_rawseti(L, d->list, id);
	return id;
}

static void put_value(struct dumper *d, int idx)
{
	lua_State *L = d->L;
	char buf[64];
	struct sg_obj *o;
	switch (lua_type(L, idx)) {
	case LUA_TBOOLEAN:
		puts_(d, lua_toboolean(L, idx) ? "true" : "false");
		return;
	case LUA_TNUMBER:
		put_number(d, lua_tonumber(L, idx));
		return;
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		put_string(d, s, n);
		return;
	}
	case LUA_TTABLE:
		snprintf(buf, sizeof(buf), "T[%d]", table_id(d, idx));
		puts_(d, buf);
		return;
	case LUA_TUSERDATA:
		o = sg_lua_to_obj(L, idx);
		if (o) {
			snprintf(buf, sizeof(buf), "O(%u,%u,%lu)",
				 (unsigned)o->kind, (unsigned)o->sub,
				 (unsigned long)o->id);
			puts_(d, buf);
			return;
		}
		break;
	default:
		break;
	}
	if (!d->failed)
		snprintf(d->err, d->errlen,
			 "Cannot save: storage contains a value of type %s",
			 luaL_typename(L, idx));
	d->failed = true;
}

/* Writes one table's fields; new tables found are appended to the list. */
static void dump_table(struct dumper *d, int id)
{
	lua_State *L = d->L;
	char buf[64];
	lua_rawgeti(L, d->list, id);
	int t = lua_gettop(L);
	lua_pushnil(L);
	while (!d->failed && lua_next(L, t) != 0) {
		snprintf(buf, sizeof(buf), "T[%d][", id);
		puts_(d, buf);
		put_value(d, lua_gettop(L) - 1);
		puts_(d, "]=");
		put_value(d, lua_gettop(L));
		puts_(d, "\n");
		lua_pop(L, 1);
	}
	lua_settop(L, t - 1);
}

int sg_storage_dump(struct sg_game *g, struct wbuf *out, char *err,
		    size_t errlen)
{
	lua_State *L = g->L;
	struct wbuf body;
	wbuf_init(&body, out->limit);
	struct dumper d = {L, &body, 0, 0, 0, err, errlen, false};
	luaL_checkstack(L, 16, "storage");
	lua_newtable(L);
	d.ids = lua_gettop(L);
	lua_newtable(L);
	d.list = lua_gettop(L);
	lua_getglobal(L, sg_storage_global(g));
	int root = lua_istable(L, -1) ? table_id(&d, lua_gettop(L)) : 0;
	lua_pop(L, 1);
	for (int id = 1; id <= d.ntables && !d.failed; id++)
		dump_table(&d, id);
	lua_pop(L, 2);
	if (!d.failed) {
		char head[128];
		snprintf(head, sizeof(head),
			 "local T={} for i=1,%d do T[i]={} end\n", d.ntables);
		d.out = out;
		puts_(&d, head);
		put(&d, (const char *)body.p, body.len);
		snprintf(head, sizeof(head), "return T[%d]\n", root);
		puts_(&d, root ? head : "return {}\n");
	}
	wbuf_free(&body);
	return d.failed ? ERR_TOOBIG : 0;
}

static int l_make_obj(lua_State *L)
{
	lua_Integer kind = luaL_checkinteger(L, 1);
	lua_Integer sub = luaL_checkinteger(L, 2);
	lua_Number id = luaL_checknumber(L, 3);
	if (kind < SG_OBJ_PLAYER || kind > SG_OBJ_ITEMS || sub < 0 || sub > 1 ||
	    id < 0 || id > 4294967295.0)
		return luaL_error(L, "bad object in storage");
	sg_lua_push_obj(L, (enum sg_obj_kind)kind, (uint8_t)sub, (uint32_t)id);
	return 1;
}

static void restore_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct sg_game *g = sg_lua_game(L);
	uint32_t max = g->restore_steps_max ? g->restore_steps_max
					    : RESTORE_STEPS_MAX;
	if (++g->restore_steps > max)
		luaL_error(L, "storage chunk runs too long");
}

int sg_storage_restore(struct sg_game *g, const char *chunk, size_t len,
		       char *err, size_t errlen)
{
	lua_State *L = g->L;
	int rc = 0;
	if (luaL_loadbufferx(L, chunk, len, "=storage", "t") != LUA_OK)
		goto err_msg;
	lua_newtable(L);
	lua_pushcfunction(L, l_make_obj);
	lua_setfield(L, -2, "O");
	if (!lua_setupvalue(L, -2, 1)) {
		lua_pop(L, 1);
		snprintf(err, errlen, "storage chunk has no environment");
		return ERR_CORRUPT;
	}
	g->restore_steps = 0;
	lua_sethook(L, restore_hook, LUA_MASKCOUNT, RESTORE_HOOK_EVERY);
	rc = lua_pcall(L, 0, 1, 0);
	lua_sethook(L, NULL, 0, 0);
	if (rc != LUA_OK)
		goto err_msg;
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
	}
	lua_setglobal(L, sg_storage_global(g));
	return 0;
err_msg:
	snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1)
							: "?");
	lua_pop(L, 1);
	return ERR_CORRUPT;
}
