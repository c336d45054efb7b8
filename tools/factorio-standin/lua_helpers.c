/*
 * lua_helpers.c: Factorio 2.0's `helpers` global: table_to_json,
 * json_to_table, encode_string, decode_string, write_file, remove_path.
 *
 * JSON goes through cJSON. A Lua table becomes a JSON array when its keys
 * are exactly 1..n (an empty table too, as the game writes "[]"), an
 * object otherwise. encode_string is zlib deflate then base64, as the
 * game's blueprint-style strings. write_file only writes below
 * <write-data>/script-output and refuses any path that could leave it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "base/err.h"
#include "tools/factorio-standin/lua_priv.h"

#define JSON_DEPTH_MAX 100
#define DECODE_MAX (64u << 20) /* bound on an inflated string */

/* ---- table_to_json ------------------------------------------------------ */

static bool is_array(lua_State *L, int idx, size_t *n)
{
	*n = lua_rawlen(L, idx);
	size_t count = 0;
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		count++;
		if (lua_type(L, -1) != LUA_TNUMBER) {
			lua_pop(L, 1);
			return false;
		}
	}
	return count == *n;
}

/* Creates the node for one value; a table gets an empty array or object
 * that fill() completes. Raises before allocating on bad input. */
static cJSON *new_node(lua_State *L, int idx)
{
	size_t n;
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return cJSON_CreateNull();
	case LUA_TBOOLEAN:
		return cJSON_CreateBool(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		return cJSON_CreateNumber(lua_tonumber(L, idx));
	case LUA_TSTRING:
		return cJSON_CreateString(lua_tostring(L, idx));
	case LUA_TTABLE:
		return is_array(L, idx, &n) ? cJSON_CreateArray()
					    : cJSON_CreateObject();
	default:
		luaL_error(L, "Value of type %s can't be converted to JSON.",
			   luaL_typename(L, idx));
		return NULL;
	}
}

/* Fills node from the table at idx. Every child is attached to its parent
 * before anything below it can raise, so the holder's tree owns all
 * memory when a Lua error unwinds. */
static void fill(lua_State *L, int idx, cJSON *node, int depth)
{
	if (depth > JSON_DEPTH_MAX)
		luaL_error(L, "Table too deep to convert to JSON.");
	luaL_checkstack(L, 8, "JSON");
	bool arr = cJSON_IsArray(node);
	size_t n = arr ? lua_rawlen(L, idx) : 0;
	if (arr) {
		for (size_t i = 1; i <= n; i++) {
			lua_rawgeti(L, idx, (int)i);
			cJSON *v = new_node(L, lua_gettop(L));
			if (!v)
				luaL_error(L, "Out of memory.");
			cJSON_AddItemToArray(node, v);
			if (lua_istable(L, -1))
				fill(L, lua_gettop(L), v, depth + 1);
			lua_pop(L, 1);
		}
		return;
	}
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pushvalue(L, -2);
		const char *k = lua_tostring(L, -1); /* a copy: keys untouched */
		if (!k)
			luaL_error(L, "Key can't be converted to JSON.");
		cJSON *v = new_node(L, lua_gettop(L) - 1);
		if (!v)
			luaL_error(L, "Out of memory.");
		cJSON_AddItemToObject(node, k, v);
		if (lua_istable(L, -2))
			fill(L, lua_gettop(L) - 1, v, depth + 1);
		lua_pop(L, 2);
	}
}

/* The cJSON tree is held in a userdata while converting so a Lua error
 * (raised by fill) does not leak it: its __gc frees the tree. */
static int json_holder_gc(lua_State *L)
{
	cJSON **h = lua_touserdata(L, 1);
	cJSON_Delete(*h);
	*h = NULL;
	return 0;
}

static cJSON **new_holder(lua_State *L)
{
	cJSON **h = lua_newuserdata(L, sizeof(*h));
	*h = NULL;
	if (luaL_newmetatable(L, "standin.json")) {
		lua_pushcfunction(L, json_holder_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return h;
}

static int l_table_to_json(lua_State *L)
{
	luaL_checkany(L, 1);
	lua_settop(L, 1);
	cJSON **h = new_holder(L);
	*h = new_node(L, 1);
	if (*h && lua_istable(L, 1))
		fill(L, 1, *h, 0);
	char *text = *h ? cJSON_PrintUnformatted(*h) : NULL;
	if (!text)
		return luaL_error(L, "Out of memory converting to JSON.");
	lua_pushstring(L, text);
	free(text);
	return 1;
}

/* ---- json_to_table ------------------------------------------------------ */

static void from_json(lua_State *L, const cJSON *j, int depth)
{
	luaL_checkstack(L, 4, "JSON");
	if (depth > JSON_DEPTH_MAX) {
		lua_pushnil(L);
		return;
	}
	if (cJSON_IsBool(j)) {
		lua_pushboolean(L, cJSON_IsTrue(j));
	} else if (cJSON_IsNumber(j)) {
		lua_pushnumber(L, j->valuedouble);
	} else if (cJSON_IsString(j)) {
		lua_pushstring(L, j->valuestring);
	} else if (cJSON_IsArray(j)) {
		lua_newtable(L);
		int i = 0;
		const cJSON *it;
		cJSON_ArrayForEach(it, j)
		{
			from_json(L, it, depth + 1);
			lua_rawseti(L, -2, ++i);
		}
	} else if (cJSON_IsObject(j)) {
		lua_newtable(L);
		const cJSON *it;
		cJSON_ArrayForEach(it, j)
		{
			from_json(L, it, depth + 1);
			lua_setfield(L, -2, it->string);
		}
	} else {
		lua_pushnil(L);
	}
}

static int l_json_to_table(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	cJSON **h = new_holder(L);
	*h = cJSON_ParseWithLength(text, len);
	if (!*h) {
		lua_pushnil(L);
		return 1;
	}
	from_json(L, *h, 0);
	return 1;
}

/* ---- encode_string / decode_string -------------------------------------- */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void push_base64(lua_State *L, const unsigned char *p, size_t n)
{
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		luaL_addchar(&b, b64[(v >> 18) & 63]);
		luaL_addchar(&b, b64[(v >> 12) & 63]);
		luaL_addchar(&b, i + 1 < n ? b64[(v >> 6) & 63] : '=');
		luaL_addchar(&b, i + 2 < n ? b64[v & 63] : '=');
	}
	luaL_pushresult(&b);
}

static int b64_value(char c)
{
	const char *at = c ? strchr(b64, c) : NULL;
	return at ? (int)(at - b64) : -1;
}

/* Decodes base64 into out (sized n / 4 * 3); returns the length or -1. */
static long unbase64(const char *s, size_t n, unsigned char *out)
{
	size_t o = 0;
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++)
			v[k] = s[i + k] == '=' ? -2 : b64_value(s[i + k]);
		if (v[0] < 0 || v[1] < 0 || v[2] == -1 || v[3] == -1 ||
		    (v[2] == -2 && v[3] != -2) || (v[3] == -2 && i + 4 != n))
			return -1;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
		out[o++] = (unsigned char)(w >> 16);
		if (v[2] >= 0) {
			w |= (uint32_t)v[2] << 6;
			out[o++] = (unsigned char)(w >> 8 & 255);
		}
		if (v[3] >= 0) {
			w |= (uint32_t)v[3];
			out[o++] = (unsigned char)(w & 255);
		}
	}
	return (long)o;
}

static int l_encode_string(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	uLongf out_len = compressBound((uLong)len);
	unsigned char *out = lua_newuserdata(L, out_len);
	if (compress2(out, &out_len, (const Bytef *)s, (uLong)len, 9) != Z_OK)
		return luaL_error(L, "Failed to encode string.");
	push_base64(L, out, out_len);
	return 1;
}

/* Inflates src into a Lua string, or pushes nil if it is not valid zlib
 * data or inflates past DECODE_MAX. */
static void push_inflated(lua_State *L, const unsigned char *src, size_t n)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK) {
		lua_pushnil(L);
		return;
	}
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	int rc = Z_OK;
	size_t total = 0;
	while (rc == Z_OK && total <= DECODE_MAX) {
		char *p = luaL_prepbuffer(&b);
		z.next_out = (Bytef *)p;
		z.avail_out = LUAL_BUFFERSIZE;
		rc = inflate(&z, Z_NO_FLUSH);
		size_t got = LUAL_BUFFERSIZE - z.avail_out;
		luaL_addsize(&b, got);
		total += got;
		if (rc == Z_OK && got == 0 && z.avail_in == 0)
			rc = Z_DATA_ERROR; /* truncated input */
	}
	inflateEnd(&z);
	luaL_pushresult(&b);
	if (rc != Z_STREAM_END) {
		lua_pop(L, 1);
		lua_pushnil(L);
	}
}

static int l_decode_string(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	unsigned char *raw = lua_newuserdata(L, len / 4 * 3 + 3);
	long n = unbase64(s, len, raw);
	if (n < 0) {
		lua_pushnil(L);
		return 1;
	}
	push_inflated(L, raw, (size_t)n);
	return 1;
}

/* ---- write_file / remove_path ------------------------------------------ */

static bool safe_rel_path(const char *p)
{
	if (!p[0] || p[0] == '/' || strchr(p, '\\') || strchr(p, ':'))
		return false;
	for (const char *s = p; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 2 && s[0] == '.' && s[1] == '.') ||
		    (n == 1 && s[0] == '.'))
			return false;
		s += n + (e != NULL);
	}
	return true;
}

/* Builds <write-data>/script-output/<rel>, creating its folders. */
static void output_path(lua_State *L, const char *rel, char *out, size_t len,
			bool mkdirs)
{
	struct sg_game *g = sg_lua_game(L);
	if (!safe_rel_path(rel))
		luaL_error(L, "Path %s is not allowed: it must stay inside "
			      "script-output.", rel);
	if (!g->write_data)
		luaL_error(L, "No write-data directory.");
	int n = snprintf(out, len, "%s/script-output/%s", g->write_data, rel);
	if (n < 0 || (size_t)n >= len)
		luaL_error(L, "Path too long.");
	if (!mkdirs)
		return;
	size_t base = strlen(g->write_data);
	for (char *s = out + base + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = 0;
		if (mkdir(out, 0755) != 0 && errno != EEXIST)
			luaL_error(L, "Cannot create %s: %s", out,
				   strerror(errno));
		*s = '/';
	}
}

static int l_write_file(lua_State *L)
{
	const char *rel = luaL_checkstring(L, 1);
	size_t len;
	const char *data = luaL_tolstring(L, 2, &len);
	bool append = lua_toboolean(L, 3);
	char path[4096];
	output_path(L, rel, path, sizeof(path), true);
	FILE *f = fopen(path, append ? "ab" : "wb");
	if (!f)
		return luaL_error(L, "Cannot write %s: %s", rel,
				  strerror(errno));
	bool ok = fwrite(data, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	if (!ok)
		return luaL_error(L, "Cannot write %s", rel);
	return 0;
}

static int l_remove_path(lua_State *L)
{
	char path[4096];
	output_path(L, luaL_checkstring(L, 1), path, sizeof(path), false);
	(void)remove(path);
	return 0;
}

void sg_lua_open_helpers(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"table_to_json", l_table_to_json},
		{"json_to_table", l_json_to_table},
		{"encode_string", l_encode_string},
		{"decode_string", l_decode_string},
		{"write_file", l_write_file},
		{"remove_path", l_remove_path},
		{NULL, NULL},
	};
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
	lua_setglobal(L, "helpers");
}
