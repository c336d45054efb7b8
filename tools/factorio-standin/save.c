/*
 * save.c: saves as Factorio lays them out, and the stand-in's world state.
 *
 * A save is a zip holding one root folder named after the save, with the
 * scenario's Lua files (control.lua and what it requires) next to
 * level.dat0. In the game level.dat0 is the binary map; here it is the
 * stand-in's world as JSON: a format version first, then the tick, the
 * players with their inventories, the entities with theirs, and `storage`
 * as the Lua chunk of lua_store.c. Saves are written to a temporary file
 * and renamed, so a crash mid-save leaves the previous save intact (the
 * game behaves the same way).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <zip.h>

#include "base/err.h"
#include "tools/factorio-standin/standin.h"

#define WORLD_FILE "level.dat0"
#define WORLD_FORMAT 1
#define ZIP_ENTRIES_MAX 10000
#define ZIP_BYTES_MAX (256u << 20) /* uncompressed, the whole save */
#define STORAGE_MAX (128u << 20)

/* Factorio 2.0's freeplay control.lua, which managers recognise byte for
 * byte as an unmodified freeplay save (README.md, "Saves"). */
static const char freeplay_control[] =
	"local handler = require(\"event_handler\")\n"
	"handler.add_lib(require(\"freeplay\"))\n"
	"handler.add_lib(require(\"silo-script\"))\n";

void sg_files_clear(struct sg_game *g)
{
	for (size_t i = 0; i < g->nfiles; i++) {
		free(g->files[i].path);
		free(g->files[i].data);
	}
	free(g->files);
	g->files = NULL;
	g->nfiles = 0;
}

/* Takes ownership of data (also on failure). */
static int files_add(struct sg_game *g, const char *path, char *data,
		     size_t len)
{
	struct sg_file *f = realloc(g->files, (g->nfiles + 1) * sizeof(*f));
	if (!f) {
		free(data);
		return ERR_NOMEM;
	}
	g->files = f;
	f[g->nfiles].path = strdup(path);
	f[g->nfiles].data = data;
	f[g->nfiles].len = len;
	if (!f[g->nfiles].path) {
		free(data);
		return ERR_NOMEM;
	}
	g->nfiles++;
	return 0;
}

int sg_file_put(struct sg_game *g, const char *path, const char *text)
{
	char *copy = strdup(text);
	if (!copy)
		return ERR_NOMEM;
	for (size_t i = 0; i < g->nfiles; i++) {
		if (strcmp(g->files[i].path, path) == 0) {
			free(g->files[i].data);
			g->files[i].data = copy;
			g->files[i].len = strlen(copy);
			return 0;
		}
	}
	return files_add(g, path, copy, strlen(copy));
}

/* The file name without folders and without ".zip". */
static void save_stem(const char *path, char *out, size_t len)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(out, len, "%s", base);
	size_t n = strlen(out);
	if (n > 4 && strcmp(out + n - 4, ".zip") == 0)
		out[n - 4] = 0;
}

int sg_new_game(struct sg_game *g, const char *save_name, uint64_t seed)
{
	sg_files_clear(g);
	save_stem(save_name, g->root, sizeof(g->root));
	char *control = strdup(freeplay_control);
	if (!control)
		return ERR_NOMEM;
	int rc = files_add(g, "control.lua", control, strlen(control));
	if (rc < 0)
		return rc;
	g->tick = 0;
	g->map_seed = seed;
	g->new_world = true;
	return 0;
}

/* ---- world state ---------------------------------------------------- */

static cJSON *inv_json(const struct sg_inventory *inv)
{
	cJSON *arr = cJSON_CreateArray();
	for (uint32_t i = 0; arr && i < inv->n; i++) {
		cJSON *pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair,
				     cJSON_CreateString(inv->items[i].name));
		cJSON_AddItemToArray(pair,
				     cJSON_CreateNumber(inv->items[i].count));
		cJSON_AddItemToArray(arr, pair);
	}
	return arr;
}

/* The storage chunk of state L as a NUL-terminated wbuf. */
static int dump_state(struct sg_game *g, struct lua_State *L, struct wbuf *st,
		      char *err, size_t errlen)
{
	wbuf_init(st, STORAGE_MAX);
	struct lua_State *prev = sg_lua_enter(g, L);
	int rc = sg_storage_dump(g, st, err, errlen);
	g->L = prev;
	if (rc == 0 && wbuf_put(st, "", 1) < 0)
		rc = ERR_TOOBIG;
	if (rc < 0)
		wbuf_free(st);
	return rc;
}

/* {name: storage chunk} of every mod with a Lua state. */
static cJSON *mods_storage_json(struct sg_game *g, char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; o && i < g->nmods; i++) {
		struct wbuf st;
		if (!g->mods[i].L)
			continue;
		if (dump_state(g, g->mods[i].L, &st, err, errlen) < 0) {
			cJSON_Delete(o);
			return NULL;
		}
		cJSON_AddStringToObject(o, g->mods[i].name, (const char *)st.p);
		wbuf_free(&st);
	}
	return o;
}

static char *world_json(struct sg_game *g, char *err, size_t errlen)
{
	struct wbuf st;
	if (dump_state(g, g->level_L, &st, err, errlen) < 0)
		return NULL;
	cJSON *mods = mods_storage_json(g, err, errlen);
	if (!mods) {
		wbuf_free(&st);
		return NULL;
	}
	cJSON *w = cJSON_CreateObject();
	cJSON_AddNumberToObject(w, "standin_format", WORLD_FORMAT);
	cJSON_AddNumberToObject(w, "tick", (double)g->tick);
	cJSON_AddNumberToObject(w, "map_seed", (double)g->map_seed);
	cJSON_AddBoolToObject(w, "lua_commands_used", g->lua_used);
	cJSON_AddNumberToObject(w, "next_custom_event", g->next_custom_event);
	cJSON *players = cJSON_AddArrayToObject(w, "players");
	for (size_t i = 0; i < g->nplayers; i++) {
		const struct sg_player *p = &g->players[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", p->name);
		cJSON_AddNumberToObject(o, "online_ticks",
					(double)p->online_ticks);
		cJSON_AddItemToObject(o, "main", inv_json(&p->main));
		cJSON_AddItemToObject(o, "x", sg_player_dump_json(p));
		cJSON_AddItemToArray(players, o);
	}
	cJSON *ents = cJSON_AddArrayToObject(w, "entities");
	for (size_t i = 0; i < g->nentities; i++) {
		const struct sg_entity *e = &g->entities[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", e->name);
		cJSON_AddNumberToObject(o, "x", e->x);
		cJSON_AddNumberToObject(o, "y", e->y);
		cJSON_AddBoolToObject(o, "valid", e->valid);
		cJSON_AddItemToObject(o, "inventory", inv_json(&e->inv));
		cJSON_AddItemToArray(ents, o);
	}
	cJSON_AddStringToObject(w, "storage", (const char *)st.p);
	cJSON_AddItemToObject(w, "mod_storage", mods);
	cJSON *versions = cJSON_AddObjectToObject(w, "mods");
	cJSON_AddStringToObject(versions, "base", g->version);
	for (size_t i = 0; i < g->nmods; i++)
		cJSON_AddStringToObject(versions, g->mods[i].name,
					g->mods[i].version);
	wbuf_free(&st);
	char *text = cJSON_Print(w);
	cJSON_Delete(w);
	if (!text)
		snprintf(err, errlen, "out of memory");
	return text;
}

static int inv_from_json(struct sg_inventory *inv, const cJSON *arr)
{
	const cJSON *pair;
	cJSON_ArrayForEach(pair, arr)
	{
		const cJSON *n = cJSON_GetArrayItem(pair, 0);
		const cJSON *c = cJSON_GetArrayItem(pair, 1);
		if (!cJSON_IsString(n) || !cJSON_IsNumber(c) ||
		    c->valuedouble < 0 || c->valuedouble > 4294967295.0)
			return ERR_CORRUPT;
		uint32_t count = (uint32_t)c->valuedouble;
		if (sg_proto_stack_size(n->valuestring) == 0)
			continue; /* an item this run does not know */
		(void)sg_inv_insert(inv, n->valuestring, count);
	}
	return 0;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int world_players(struct sg_game *g, const cJSON *arr)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
		if (!cJSON_IsString(name))
			return ERR_CORRUPT;
		struct sg_player *p = sg_player_create(g, name->valuestring);
		if (!p)
			return ERR_CORRUPT;
		p->online_ticks = (uint64_t)num(o, "online_ticks");
		if (inv_from_json(&p->main,
				  cJSON_GetObjectItemCaseSensitive(o, "main")))
			return ERR_CORRUPT;
		(void)sg_player_load_json(p,
					  cJSON_GetObjectItemCaseSensitive(o, "x"));
	}
	return 0;
}

static int world_entities(struct sg_game *g, const cJSON *arr)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
		if (!cJSON_IsString(name))
			return ERR_CORRUPT;
		struct sg_entity *e = sg_entity_create(g, name->valuestring,
						       num(o, "x"), num(o, "y"));
		if (!e)
			return ERR_CORRUPT;
		if (inv_from_json(&e->inv, cJSON_GetObjectItemCaseSensitive(
						   o, "inventory")))
			return ERR_CORRUPT;
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "valid")))
			sg_entity_destroy(g, e);
	}
	return 0;
}

static int world_load(struct sg_game *g, const char *text, size_t len)
{
	cJSON *w = cJSON_ParseWithLength(text, len);
	int rc = ERR_CORRUPT;
	if (!cJSON_IsObject(w) || num(w, "standin_format") != WORLD_FORMAT)
		goto out;
	g->tick = (uint64_t)num(w, "tick");
	g->map_seed = (uint64_t)num(w, "map_seed");
	g->lua_used = cJSON_IsTrue(
		cJSON_GetObjectItemCaseSensitive(w, "lua_commands_used"));
	double nce = num(w, "next_custom_event");
	if (nce >= SG_EV_CUSTOM_BASE && nce < 1e9)
		g->next_custom_event = (int32_t)nce;
	if (world_players(g, cJSON_GetObjectItemCaseSensitive(w, "players")) ||
	    world_entities(g, cJSON_GetObjectItemCaseSensitive(w, "entities")))
		goto out;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(w, "storage");
	if (cJSON_IsString(st)) {
		g->pending_storage = strdup(st->valuestring);
		if (!g->pending_storage) {
			rc = ERR_NOMEM;
			goto out;
		}
		g->pending_storage_len = strlen(st->valuestring);
	}
	const cJSON *versions = cJSON_GetObjectItemCaseSensitive(w, "mods");
	if (cJSON_IsObject(versions)) {
		free(g->saved_mods);
		g->saved_mods = cJSON_PrintUnformatted(versions);
		if (!g->saved_mods) {
			rc = ERR_NOMEM;
			goto out;
		}
	}
	const cJSON *ms;
	cJSON_ArrayForEach(ms, cJSON_GetObjectItemCaseSensitive(w, "mod_storage"))
	{
		struct sg_mod *m = ms->string ? sg_mod_find(g, ms->string)
					      : NULL;
		if (!m || !cJSON_IsString(ms) || m->pending_storage)
			continue;
		m->pending_storage = strdup(ms->valuestring);
		if (!m->pending_storage) {
			rc = ERR_NOMEM;
			goto out;
		}
		m->pending_storage_len = strlen(ms->valuestring);
		m->in_save = true;
	}
	g->new_world = false;
	rc = 0;
out:
	cJSON_Delete(w);
	return rc;
}

/* ---- zip in ------------------------------------------------------------ */

/* Splits "root/rest" and checks the rest is a plain relative path. */
static bool split_entry(const char *name, char *root, size_t rlen,
			const char **rest)
{
	const char *slash = strchr(name, '/');
	if (!slash || slash == name || (size_t)(slash - name) >= rlen)
		return false;
	memcpy(root, name, (size_t)(slash - name));
	root[slash - name] = 0;
	*rest = slash + 1;
	return strstr(*rest, "..") == NULL && (*rest)[0] != '/';
}

static int read_entry(zip_t *z, zip_uint64_t i, size_t size, char **out)
{
	char *buf = malloc(size + 1);
	zip_file_t *f = buf ? zip_fopen_index(z, i, 0) : NULL;
	if (!f) {
		free(buf);
		return buf ? ERR_CORRUPT : ERR_NOMEM;
	}
	zip_int64_t n = zip_fread(f, buf, size);
	zip_fclose(f);
	if (n < 0 || (size_t)n != size) {
		free(buf);
		return ERR_CORRUPT;
	}
	buf[size] = 0;
	*out = buf;
	return 0;
}

static int load_entries(struct sg_game *g, zip_t *z, char **world,
			size_t *world_len)
{
	zip_int64_t n = zip_get_num_entries(z, 0);
	if (n <= 0 || n > ZIP_ENTRIES_MAX)
		return ERR_CORRUPT;
	size_t total = 0;
	g->root[0] = 0;
	for (zip_int64_t i = 0; i < n; i++) {
		zip_stat_t st;
		if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0 ||
		    !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_NAME))
			return ERR_CORRUPT;
		char root[128];
		const char *rest;
		if (!split_entry(st.name, root, sizeof(root), &rest))
			return ERR_CORRUPT;
		if (g->root[0] && strcmp(root, g->root) != 0)
			return ERR_CORRUPT; /* one root folder only */
		snprintf(g->root, sizeof(g->root), "%s", root);
		size_t nlen = strlen(rest);
		if (nlen == 0 || rest[nlen - 1] == '/')
			continue; /* a folder */
		total += st.size;
		if (st.size > ZIP_BYTES_MAX || total > ZIP_BYTES_MAX)
			return ERR_TOOBIG;
		char *data;
		int rc = read_entry(z, (zip_uint64_t)i, (size_t)st.size, &data);
		if (rc < 0)
			return rc;
		if (strcmp(rest, WORLD_FILE) == 0) {
			free(*world);
			*world = data;
			*world_len = (size_t)st.size;
			continue;
		}
		rc = files_add(g, rest, data, (size_t)st.size);
		if (rc < 0)
			return rc;
	}
	return g->root[0] ? 0 : ERR_CORRUPT;
}

int sg_load(struct sg_game *g, const char *path)
{
	int zerr = 0;
	zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
	if (!z)
		return zerr == ZIP_ER_NOENT ? -ENOENT : ERR_CORRUPT;
	sg_files_clear(g);
	char *world = NULL;
	size_t world_len = 0;
	int rc = load_entries(g, z, &world, &world_len);
	zip_discard(z);
	if (rc == 0) {
		/* A save without our world (made by another tool, or the
		 * real game) starts as a new world, running on_init. */
		g->new_world = true;
		if (world)
			rc = world_load(g, world, world_len);
	}
	free(world);
	return rc;
}

/* ---- scenario folders ------------------------------------------------- */

#define SCENARIO_DEPTH_MAX 16

/* Adds every regular file below dir/rel (rel "" for the top). */
static int load_tree(struct sg_game *g, const char *dir, const char *rel,
		     int depth, size_t *total)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s%s%s", dir, rel[0] ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d)
		return ERR_IO;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char sub[4096], full[8200];
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
			 e->d_name);
		snprintf(full, sizeof(full), "%s/%s", dir, sub);
		struct stat st;
		if (stat(full, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = depth < SCENARIO_DEPTH_MAX
				     ? load_tree(g, dir, sub, depth + 1, total)
				     : ERR_TOOBIG;
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		size_t len;
		char *data = sg_read_file(full, ZIP_BYTES_MAX, &len);
		*total += len;
		if (!data || *total > ZIP_BYTES_MAX) {
			free(data);
			rc = data ? ERR_TOOBIG : ERR_IO;
			continue;
		}
		rc = files_add(g, sub, data, len);
	}
	closedir(d);
	return rc;
}

/* The scenario NAME of a loaded mod: its files under scenarios/NAME/. */
static int mod_scenario(struct sg_game *g, const char *name)
{
	char mod[SG_NAME_MAX], prefix[256];
	const char *slash = strchr(name, '/');
	if ((size_t)(slash - name) >= sizeof(mod))
		return ERR_NOTFOUND;
	snprintf(mod, sizeof(mod), "%.*s", (int)(slash - name), name);
	const struct sg_mod *m = sg_mod_find(g, mod);
	if (!m)
		return ERR_NOTFOUND;
	snprintf(prefix, sizeof(prefix), "scenarios/%s/", slash + 1);
	size_t pl = strlen(prefix);
	bool control = false;
	sg_files_clear(g);
	for (size_t i = 0; i < m->nfiles; i++) {
		const struct sg_file *f = &m->files[i];
		if (strncmp(f->path, prefix, pl) != 0)
			continue;
		char *data = malloc(f->len + 1);
		if (!data)
			return ERR_NOMEM;
		memcpy(data, f->data, f->len + 1);
		int rc = files_add(g, f->path + pl, data, f->len);
		if (rc < 0)
			return rc;
		control = control || !strcmp(f->path + pl, "control.lua");
	}
	return control ? 0 : ERR_NOTFOUND;
}

int sg_load_scenario(struct sg_game *g, const char *name, uint64_t seed)
{
	if (!strcmp(name, "freeplay") || !strcmp(name, "base/freeplay"))
		return sg_new_game(g, "freeplay", seed);
	char dir[4096];
	if (!g->write_data || strstr(name, ".."))
		return ERR_NOTFOUND;
	int rc;
	if (strchr(name, '/')) {
		rc = mod_scenario(g, name);
	} else {
		snprintf(dir, sizeof(dir), "%s/scenarios/%s", g->write_data,
			 name);
		sg_files_clear(g);
		size_t total = 0;
		rc = load_tree(g, dir, "", 0, &total);
	}
	if (rc < 0)
		return rc == ERR_IO ? ERR_NOTFOUND : rc;
	save_stem(name, g->root, sizeof(g->root));
	g->tick = 0;
	g->map_seed = seed;
	g->new_world = true;
	return 0;
}

/* ---- zip out ------------------------------------------------------------ */

static int add_buffer(zip_t *z, const char *root, const char *rel,
		      const void *data, size_t len)
{
	char name[1024];
	snprintf(name, sizeof(name), "%s/%s", root, rel);
	zip_source_t *src = zip_source_buffer(z, data, len, 0);
	if (!src)
		return ERR_IO;
	if (zip_file_add(z, name, src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) <
	    0) {
		zip_source_free(src);
		return ERR_IO;
	}
	return 0;
}

int sg_write_as(struct sg_game *g, const char *path, char *err,
		size_t errlen)
{
	char root[128], tmp[4200], dir[256];
	save_stem(path, root, sizeof(root));
	char *world = world_json(g, err, errlen);
	if (!world)
		return ERR_INVAL;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int zerr = 0, rc = ERR_IO;
	zip_t *z = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
	if (!z) {
		snprintf(err, errlen, "cannot create %s", tmp);
		goto err_free_world;
	}
	snprintf(dir, sizeof(dir), "%s/", root);
	if (zip_dir_add(z, root, ZIP_FL_ENC_UTF_8) < 0)
		goto err_discard;
	for (size_t i = 0; i < g->nfiles; i++)
		if (add_buffer(z, root, g->files[i].path, g->files[i].data,
			       g->files[i].len) < 0)
			goto err_discard;
	if (add_buffer(z, root, WORLD_FILE, world, strlen(world)) < 0 ||
	    zip_close(z) != 0) {
		snprintf(err, errlen, "cannot write %s", tmp);
		goto err_discard;
	}
	free(world);
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot rename %s: %s", tmp,
			 strerror(errno));
		return ERR_IO;
	}
	return 0;
err_discard:
	zip_discard(z);
	(void)remove(tmp);
err_free_world:
	free(world);
	return rc;
}

int sg_write(struct sg_game *g, const char *path)
{
	char err[512];
	int rc = sg_write_as(g, path, err, sizeof(err));
	if (rc < 0)
		sg_logf(g, "Error", "AppManagerStates.cpp:1964",
			"Saving failed: %s", err);
	return rc;
}

/* The folder autosaves go to: <write-data>/saves, else the save's own. */
static void saves_dir(struct sg_game *g, char *out, size_t len)
{
	if (g->write_data) {
		snprintf(out, len, "%s/saves", g->write_data);
		(void)mkdir(out, 0755);
		return;
	}
	const char *slash = g->save_path ? strrchr(g->save_path, '/') : NULL;
	if (slash)
		snprintf(out, len, "%.*s", (int)(slash - g->save_path),
			 g->save_path);
	else
		snprintf(out, len, ".");
}

int sg_autosave(struct sg_game *g)
{
	char dir[4096], path[4200], name[64];
	uint32_t slots = g->settings.autosave_slots ? g->settings.autosave_slots
						    : 1;
	g->autosave_slot = g->autosave_slot % slots + 1;
	snprintf(name, sizeof(name), "_autosave%u", g->autosave_slot);
	saves_dir(g, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s.zip", dir, name);
	sg_logf(g, "Info", "AppManagerStates.cpp:2038", "Saving to %s (%s).",
		name, g->settings.non_blocking_saving ? "non-blocking"
						       : "blocking");
	int rc = sg_write(g, path);
	if (rc == 0)
		sg_logf(g, "Info", "AppManagerStates.cpp:2091",
			"Saving finished");
	return rc;
}

/* A game started from a scenario has no file to save to. */
static bool has_save_path(struct sg_game *g)
{
	if (g->save_path)
		return true;
	sg_logf(g, "Warning", "AppManagerStates.cpp:1893",
		"Can't save to default location: Default location not known");
	return false;
}

int sg_server_save(struct sg_game *g)
{
	if (!has_save_path(g))
		return ERR_NOTFOUND;
	sg_logf(g, "Info", "AppManagerStates.cpp:1877", "Saving game as %s",
		g->save_path);
	int rc = sg_write(g, g->save_path);
	if (rc == 0)
		sg_logf(g, "Info", "AppManagerStates.cpp:2091",
			"Saving finished");
	return rc;
}

/* The lines a 2.0 server prints when it saves on quit: "Saving map as",
 * the progress line, then (our addition, see README) "Saving finished". */
int sg_save_on_exit(struct sg_game *g)
{
	if (!has_save_path(g))
		return ERR_NOTFOUND;
	sg_logf(g, "Info", "MainLoop.cpp:437", "Saving map as %s",
		g->save_path);
	int rc = sg_write(g, g->save_path);
	if (rc != 0)
		return rc;
	sg_logf(g, "Info", "MainLoop.cpp:448",
		"Saving progress: 100.000000%%");
	sg_logf(g, "Info", "AppManagerStates.cpp:2091", "Saving finished");
	return 0;
}

/* ---- start ------------------------------------------------------------- */

/* Restores the state's storage read from the save, then runs on_load. */
static int load_state(struct sg_game *g, char **pending, size_t len)
{
	if (*pending) {
		char err[512];
		int rc = sg_storage_restore(g, *pending, len, err, sizeof(err));
		free(*pending);
		*pending = NULL;
		if (rc < 0) {
			sg_logf(g, "Error", "Scenario.cpp:1016",
				"Cannot load storage: %s", err);
			return rc;
		}
	}
	sg_lua_lifecycle(g, "on_load");
	return 0;
}

/* The differences between the save's mods (g->saved_mods; a save
 * without the list had base only, of this version) and the running ones. */
static size_t mod_changes(struct sg_game *g, struct sg_mod_change *c,
			  size_t max)
{
	cJSON *saved = g->saved_mods ? cJSON_Parse(g->saved_mods) : NULL;
	size_t n = 0;
	for (size_t i = 0; i <= g->nmods && n < max; i++) {
		const char *name = i < g->nmods ? g->mods[i].name : "base";
		const char *now = i < g->nmods ? g->mods[i].version : g->version;
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(saved, name);
		const char *was = cJSON_IsString(v) ? v->valuestring
				  : (!saved && i == g->nmods) ? now : "";
		if (strcmp(was, now) == 0)
			continue;
		struct sg_mod_change *m = &c[n++];
		snprintf(m->name, sizeof(m->name), "%s", name);
		snprintf(m->old_version, sizeof(m->old_version), "%s", was);
		snprintf(m->new_version, sizeof(m->new_version), "%s", now);
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, saved)
	{
		if (n == max || !e->string || !strcmp(e->string, "base") ||
		    sg_mod_find(g, e->string) || !cJSON_IsString(e))
			continue;
		struct sg_mod_change *m = &c[n++];
		memset(m, 0, sizeof(*m));
		snprintf(m->name, sizeof(m->name), "%s", e->string);
		snprintf(m->old_version, sizeof(m->old_version), "%s",
			 e->valuestring);
	}
	cJSON_Delete(saved);
	return n;
}

/* Each mod's control.lua then the level's; then each mod's on_init (a new
 * world, or a mod the save did not have) or on_load, then the level's. */
int sg_start(struct sg_game *g)
{
	bool loaded = !g->new_world;
	for (size_t i = 0; i < g->nmods; i++) {
		struct sg_mod *m = &g->mods[i];
		if (!m->L)
			continue;
		struct lua_State *prev = sg_lua_enter(g, m->L);
		bool ok = sg_lua_run_control(g);
		g->L = prev;
		if (!ok)
			return ERR_INVAL;
	}
	if (!sg_lua_run_control(g))
		return ERR_INVAL;
	for (size_t i = 0; i < g->nmods && !g->quit; i++) {
		struct sg_mod *m = &g->mods[i];
		if (!m->L)
			continue;
		struct lua_State *prev = sg_lua_enter(g, m->L);
		int rc = 0;
		if (g->new_world || !m->in_save)
			sg_lua_lifecycle(g, "on_init");
		else
			rc = load_state(g, &m->pending_storage,
					m->pending_storage_len);
		g->L = prev;
		if (rc < 0)
			return rc;
	}
	if (g->quit)
		return ERR_INVAL;
	if (g->new_world) {
		sg_lua_lifecycle(g, "on_init");
		g->new_world = false;
		return g->quit ? ERR_INVAL : 0;
	}
	int rc = load_state(g, &g->pending_storage, g->pending_storage_len);
	if (rc < 0)
		return rc;
	struct sg_mod_change *changes = calloc(2 * SG_MODS_MAX + 1,
					       sizeof(*changes));
	if (!changes)
		return ERR_NOMEM;
	size_t n = loaded ? mod_changes(g, changes, 2 * SG_MODS_MAX + 1) : 0;
	if (n > 0 && !g->quit)
		sg_lua_configuration_changed(g, changes, n);
	free(changes);
	return g->quit ? ERR_INVAL : 0;
}
