/*
 * patch.c: clusterd's Lua modules into a save (see patch.h for the
 * contract). Three steps: read the modules of the Lua dir into memory
 * (bounded), work out the wanted control.lua and clusterd.json from what
 * the save holds, then compare the save's managed entries with the wanted
 * ones and rewrite the zip only when they differ.
 *
 * Managed entries, all below the save's root folder: control.lua,
 * clusterd.json and modules/<name>/... for every module patched now or
 * named in the save's old clusterd.json (so a module removed from the Lua
 * dir leaves the save too). Everything else is the game's and is copied
 * as it is.
 */
#include "node/instances/patch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <uv.h>
#include <zip.h>

#include "base/assert.h"
#include "base/err.h"

/* Factorio's freeplay control.lua, byte for byte (a new game's). */
static const char FREEPLAY[] =
	"local handler = require(\"event_handler\")\n"
	"handler.add_lib(require(\"freeplay\"))\n"
	"handler.add_lib(require(\"silo-script\"))\n";

/* 2000-01-01 00:00:00 UTC: the time of every entry we add, so that the
 * same patch gives the same bytes. */
#define PATCH_MTIME ((time_t)946684800)

struct pfile {
	char *name; /* below the save root: "modules/x/main.lua" */
	uint8_t *data;
	size_t len;
	int seen; /* the save holds it with these bytes */
};

struct pset {
	struct pfile v[PATCH_FILES_MAX + 2]; /* + control.lua, clusterd.json */
	size_t n;
	size_t bytes;
	char mods[PATCH_MODULES_MAX][PATCH_NAME_MAX];
	size_t nmods;
	/* Modules the save's old clusterd.json names (removed if gone). */
	char old[PATCH_MODULES_MAX][PATCH_NAME_MAX];
	size_t nold;
};

static int why(struct patch_result *res, int rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why(struct patch_result *res, int rv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
	return rv;
}

static void pset_free(struct pset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].data);
	}
	s->n = 0;
}

static int pset_add(struct pset *s, char *name, uint8_t *data, size_t len)
{
	if (name == NULL || data == NULL) {
		free(name);
		free(data);
		return ERR_NOMEM;
	}
	if (s->n >= sizeof(s->v) / sizeof(s->v[0])) {
		free(name);
		free(data);
		return ERR_TOOBIG;
	}
	s->v[s->n].name = name;
	s->v[s->n].data = data;
	s->v[s->n].len = len;
	s->v[s->n].seen = 0;
	s->n++;
	s->bytes += len;
	return 0;
}

static int name_ok(const char *n, int module)
{
	size_t len = strlen(n);

	if (len == 0 || len >= PATCH_NAME_MAX || n[0] == '.')
		return 0;
	for (const char *c = n; *c; c++) {
		int alnum = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			    (*c >= '0' && *c <= '9');

		if (!alnum && *c != '_' && *c != '-' && (module || *c != '.'))
			return 0;
	}
	return 1;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;
	int rv = 0;

	if (f == NULL)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return ERR_IO;
	}
	if ((size_t)n > PATCH_FILE_BYTES_MAX) {
		fclose(f);
		return ERR_TOOBIG;
	}
	buf = malloc((size_t)n + 1);
	if (buf == NULL) {
		fclose(f);
		return ERR_NOMEM;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		rv = ERR_IO;
	fclose(f);
	if (rv != 0) {
		free(buf);
		return rv;
	}
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Adds every file below dir (rel: its path below the save root) to s, in
 * name order. Depth is bounded by PATCH_DEPTH_MAX. */
static int add_tree(struct pset *s, const char *dir, const char *rel,
		    int depth, struct patch_result *res)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, by_name), rv = 0;

	if (n < 0)
		return why(res, ERR_IO, "cannot list %s: %s", dir,
			   strerror(errno));
	for (int i = 0; i < n && rv == 0; i++) {
		char path[4096], sub[1024];
		struct stat st;

		if (!name_ok(ents[i]->d_name, 0))
			continue; /* hidden files, editor backups with odd names */
		if (snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) >=
			    (int)sizeof(path) ||
		    snprintf(sub, sizeof(sub), "%s/%s", rel, ents[i]->d_name) >=
			    (int)sizeof(sub)) {
			rv = why(res, ERR_TOOBIG, "path too long: %s", path);
			break;
		}
		if (stat(path, &st) != 0) {
			rv = why(res, ERR_IO, "cannot stat %s: %s", path,
				 strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (depth >= PATCH_DEPTH_MAX)
				rv = why(res, ERR_TOOBIG, "%s: folders nested "
					 "deeper than %d", path, PATCH_DEPTH_MAX);
			else
				rv = add_tree(s, path, sub, depth + 1, res);
		} else if (S_ISREG(st.st_mode)) {
			uint8_t *data = NULL;
			size_t len = 0;
			char *name = strdup(sub);

			rv = name ? read_file(path, &data, &len) : ERR_NOMEM;
			if (rv == 0)
				rv = pset_add(s, name, data, len);
			else
				free(name);
			if (rv == 0 && s->bytes > PATCH_TOTAL_BYTES_MAX)
				rv = ERR_TOOBIG;
			if (rv != 0)
				(void)why(res, rv, "cannot take %s: %s", path,
					  err_str(rv));
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rv;
}

/* The modules of lua_dir: folders with a main.lua, "clusterd" first.
 * A plugin's dir (plugin 1) adds its modules after ours and may not hold
 * "clusterd" nor a name already taken. */
static int load_modules(struct pset *s, const char *lua_dir, int plugin,
			struct patch_result *res)
{
	struct dirent **ents = NULL;
	int n = scandir(lua_dir, &ents, NULL, by_name), rv = 0;
	int framework = -1;

	if (n < 0)
		return why(res, ERR_NOTFOUND, "no Lua modules: cannot read "
			   "%s (%s): %s", lua_dir,
			   plugin ? "a plugin's Lua dir" : "lua_dir",
			   strerror(errno));
	for (int i = 0; i < n; i++)
		if (strcmp(ents[i]->d_name, "clusterd") == 0)
			framework = i;
	if (plugin && framework >= 0)
		rv = why(res, ERR_INVAL, "%s: a plugin's Lua dir may not hold "
			 "a module named clusterd", lua_dir);
	for (int k = -1; k < n && rv == 0; k++) {
		int i = k < 0 ? framework : k;
		char dir[4096], main_lua[4200], rel[PATCH_NAME_MAX + 300];

		if (i < 0 || (k >= 0 && i == framework) ||
		    !name_ok(ents[i]->d_name, 1))
			continue;
		(void)snprintf(dir, sizeof(dir), "%s/%s", lua_dir,
			       ents[i]->d_name);
		(void)snprintf(main_lua, sizeof(main_lua), "%s/main.lua", dir);
		if (access(main_lua, R_OK) != 0)
			continue;
		for (size_t m = 0; m < s->nmods && rv == 0; m++)
			if (strcmp(s->mods[m], ents[i]->d_name) == 0)
				rv = why(res, ERR_INVAL, "%s: a module named %s "
					 "is patched in already (names are one "
					 "namespace across clusterd and plugins)",
					 lua_dir, ents[i]->d_name);
		if (rv != 0)
			break;
		if (s->nmods >= PATCH_MODULES_MAX) {
			rv = why(res, ERR_TOOBIG, "%s holds more than %d modules",
				 lua_dir, PATCH_MODULES_MAX);
			break;
		}
		(void)snprintf(rel, sizeof(rel), "modules/%s", ents[i]->d_name);
		memcpy(s->mods[s->nmods++], ents[i]->d_name,
		       strlen(ents[i]->d_name) + 1);
		rv = add_tree(s, dir, rel, 0, res);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (rv == 0 && framework < 0 && !plugin)
		rv = why(res, ERR_NOTFOUND, "%s (lua_dir) has no clusterd/main.lua",
			 lua_dir);
	return rv;
}

/* Reads entry i (at most max bytes) into a NUL-terminated buffer. */
static int zread(zip_t *z, zip_uint64_t i, size_t max, uint8_t **out,
		 size_t *len)
{
	zip_stat_t st;
	zip_file_t *f;
	uint8_t *buf;
	zip_int64_t got;

	if (zip_stat_index(z, i, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
		return ERR_MALFORMED;
	if (st.size > max)
		return ERR_TOOBIG;
	buf = malloc((size_t)st.size + 1);
	if (buf == NULL)
		return ERR_NOMEM;
	f = zip_fopen_index(z, i, 0);
	got = f ? zip_fread(f, buf, st.size) : -1;
	/* A read at the end makes libzip check the CRC: a mismatch fails
	 * it (and zip_fclose), where the data read before looked fine. */
	if (f != NULL && got >= 0 && zip_fread(f, buf + st.size, 1) != 0)
		got = -1;
	if (f == NULL || zip_fclose(f) != 0 || got < 0 ||
	    (zip_uint64_t)got != st.size) {
		free(buf);
		return ERR_CORRUPT;
	}
	buf[st.size] = '\0';
	*out = buf;
	*len = (size_t)st.size;
	return 0;
}

/* The save's root folder: the one holding control.lua. */
static int find_root(zip_t *z, zip_int64_t n, char *root, size_t size,
		     zip_uint64_t *control, struct patch_result *res)
{
	int found = 0;

	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
		const char *slash = name ? strchr(name, '/') : NULL;

		if (slash == NULL || strcmp(slash, "/control.lua") != 0)
			continue;
		if (found++ || (size_t)(slash - name) + 1 > size)
			return why(res, ERR_MALFORMED, "the save has more than "
				   "one root folder with a control.lua");
		memcpy(root, name, (size_t)(slash - name));
		root[slash - name] = '\0';
		*control = (zip_uint64_t)i;
	}
	if (!found)
		return why(res, ERR_MALFORMED, "the save has no control.lua "
			   "in its root folder (not a Factorio save?)");
	return 0;
}

/* The old clusterd.json's module names go to s->old. */
static void read_old_record(zip_t *z, const char *root, struct pset *s)
{
	char name[300];
	zip_int64_t i;
	uint8_t *data = NULL;
	size_t len = 0;
	cJSON *j, *mods, *m;

	(void)snprintf(name, sizeof(name), "%s/clusterd.json", root);
	i = zip_name_locate(z, name, 0);
	if (i < 0 || zread(z, (zip_uint64_t)i, 1u << 20, &data, &len) != 0)
		return;
	j = cJSON_ParseWithLength((const char *)data, len);
	free(data);
	mods = cJSON_GetObjectItemCaseSensitive(j, "modules");
	cJSON_ArrayForEach(m, mods) {
		cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "name");

		if (cJSON_IsString(nm) && name_ok(nm->valuestring, 1) &&
		    s->nold < PATCH_MODULES_MAX)
			memcpy(s->old[s->nold++], nm->valuestring,
			       strlen(nm->valuestring) + 1);
	}
	cJSON_Delete(j);
}

/* The wanted control.lua from the save's: freeplay's, or freeplay's
 * followed by what we added last time. */
static int make_control(struct pset *s, const uint8_t *old, size_t len,
			struct patch_result *res)
{
	const char *text = (const char *)old;
	const char *mark = strstr(text, "\n" PATCH_MARKER);
	size_t base = mark ? (size_t)(mark - text) + 1 : len;
	size_t cap = sizeof(FREEPLAY) + 256 + s->nmods * (PATCH_NAME_MAX + 48);
	char *out;
	size_t o;

	if (strlen(text) != len)
		return why(res, ERR_INVAL, "control.lua holds a NUL byte; "
			   "it is not one clusterd can patch");
	if (base != sizeof(FREEPLAY) - 1 || memcmp(text, FREEPLAY, base) != 0)
		return why(res, ERR_INVAL, "control.lua is not Factorio's "
			   "freeplay control.lua (nor one clusterd patched): "
			   "clusterd cannot tell how to load its modules into "
			   "this scenario; start from a freeplay save");
	out = malloc(cap);
	if (out == NULL)
		return ERR_NOMEM;
	o = (size_t)snprintf(out, cap, "%s%s (clusterd.json lists them); "
			     "clusterd rewrites them before each start.\n",
			     FREEPLAY, PATCH_MARKER);
	for (size_t i = 0; i < s->nmods; i++)
		o += (size_t)snprintf(out + o, cap - o,
				      "handler.add_lib(require(\"modules/%s/"
				      "main\"))\n", s->mods[i]);
	ASSERT(o < cap);
	return pset_add(s, strdup("control.lua"), (uint8_t *)out, o);
}

/* clusterd.json: the modules, their files and a hash of each. */
static int make_record(struct pset *s)
{
	cJSON *j = cJSON_CreateObject(), *mods = cJSON_AddArrayToObject(j, "modules");
	char *text;

	cJSON_AddNumberToObject(j, "version", 1);
	for (size_t m = 0; m < s->nmods; m++) {
		cJSON *o = cJSON_CreateObject(), *files = cJSON_CreateArray();
		char prefix[PATCH_NAME_MAX + 16], hex[65];
		uint8_t h[32];
		crypto_generichash_state st;

		(void)snprintf(prefix, sizeof(prefix), "modules/%s/", s->mods[m]);
		crypto_generichash_init(&st, NULL, 0, sizeof(h));
		for (size_t i = 0; i < s->n; i++) {
			const char *rel = s->v[i].name + strlen(prefix);

			if (strncmp(s->v[i].name, prefix, strlen(prefix)) != 0)
				continue;
			cJSON_AddItemToArray(files, cJSON_CreateString(rel));
			crypto_generichash_update(&st, (const uint8_t *)rel,
						  strlen(rel) + 1);
			crypto_generichash_update(&st, s->v[i].data, s->v[i].len);
		}
		crypto_generichash_final(&st, h, sizeof(h));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		cJSON_AddStringToObject(o, "name", s->mods[m]);
		cJSON_AddStringToObject(o, "hash", hex);
		cJSON_AddItemToObject(o, "files", files);
		cJSON_AddItemToArray(mods, o);
	}
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (text == NULL)
		return ERR_NOMEM;
	return pset_add(s, strdup("clusterd.json"), (uint8_t *)text,
			strlen(text));
}

static int in_list(char list[][PATCH_NAME_MAX], size_t n,
		   const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
			return 1;
	return 0;
}

/* Whether rel (below the root) is ours to write. */
static int managed(struct pset *s, const char *rel)
{
	const char *m, *end;

	if (strcmp(rel, "control.lua") == 0 || strcmp(rel, "clusterd.json") == 0)
		return 1;
	if (strncmp(rel, "modules/", 8) != 0)
		return 0;
	m = rel + 8;
	end = strchr(m, '/');
	if (end == NULL)
		return 0;
	return in_list(s->mods, s->nmods, m, (size_t)(end - m)) ||
	       in_list(s->old, s->nold, m, (size_t)(end - m));
}

static struct pfile *wanted(struct pset *s, const char *rel)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, rel) == 0)
			return &s->v[i];
	return NULL;
}

/* 1 when the save's managed entries are exactly s, 0 when not, or an
 * error (a damaged entry). */
static int up_to_date(zip_t *z, zip_int64_t n, const char *root,
		      struct pset *s, struct patch_result *res)
{
	size_t rl = strlen(root), matched = 0;
	int same = 1;

	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
		struct pfile *f;
		uint8_t *data = NULL;
		size_t len = 0;
		int rv;

		if (name == NULL || strncmp(name, root, rl) != 0 ||
		    name[rl] != '/' || !managed(s, name + rl + 1))
			continue;
		f = wanted(s, name + rl + 1);
		if (f == NULL || f->seen) {
			same = 0; /* stale, or a duplicate name */
			continue;
		}
		rv = zread(z, (zip_uint64_t)i, PATCH_FILE_BYTES_MAX, &data, &len);
		if (rv != 0)
			return why(res, rv, "the save's %s cannot be read: %s",
				   name, err_str(rv));
		f->seen = len == f->len && memcmp(data, f->data, len) == 0;
		free(data);
		if (f->seen)
			matched++;
		else
			same = 0;
	}
	return same && matched == s->n;
}

static int add_wanted(zip_t *out, const char *root, struct pset *s,
		      struct patch_result *res)
{
	for (size_t i = 0; i < s->n; i++) {
		char name[1200];
		zip_source_t *src;
		zip_int64_t idx;

		(void)snprintf(name, sizeof(name), "%s/%s", root, s->v[i].name);
		src = zip_source_buffer(out, s->v[i].data, s->v[i].len, 0);
		if (src == NULL)
			return why(res, ERR_NOMEM, "zip: %s",
				   zip_strerror(out));
		idx = zip_file_add(out, name, src, ZIP_FL_ENC_UTF_8);
		if (idx < 0) {
			zip_source_free(src);
			return why(res, ERR_IO, "zip: adding %s: %s", name,
				   zip_strerror(out));
		}
		if (zip_file_set_mtime(out, (zip_uint64_t)idx, PATCH_MTIME, 0) != 0 ||
		    zip_set_file_compression(out, (zip_uint64_t)idx,
					     ZIP_CM_DEFLATE, 6) != 0)
			return why(res, ERR_IO, "zip: %s", zip_strerror(out));
	}
	return 0;
}

/* Copies what we do not manage from z to out, untouched. */
static int copy_kept(zip_t *z, zip_t *out, zip_int64_t n, const char *root,
		     struct pset *s, struct patch_result *res)
{
	size_t rl = strlen(root);

	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
		zip_source_t *src;
		zip_stat_t st;
		zip_int64_t idx;

		if (name == NULL)
			return why(res, ERR_MALFORMED, "zip entry %lld has no name",
				   (long long)i);
		if (strncmp(name, root, rl) == 0 && name[rl] == '/' &&
		    managed(s, name + rl + 1))
			continue;
		if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0)
			return why(res, ERR_MALFORMED, "zip: %s", zip_strerror(z));
		src = zip_source_zip(out, z, (zip_uint64_t)i, 0, 0, -1);
		if (src == NULL)
			return why(res, ERR_IO, "zip: %s", zip_strerror(out));
		idx = zip_file_add(out, name, src, ZIP_FL_ENC_RAW);
		if (idx < 0) {
			zip_source_free(src);
			return why(res, ERR_MALFORMED, "zip: copying %s: %s", name,
				   zip_strerror(out));
		}
		if ((st.valid & ZIP_STAT_MTIME) &&
		    zip_file_set_mtime(out, (zip_uint64_t)idx, st.mtime, 0) != 0)
			return why(res, ERR_IO, "zip: %s", zip_strerror(out));
	}
	return 0;
}

static int sync_path(const char *path)
{
	int fd = open(path, O_RDONLY);
	int rv = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rv = -errno;
	close(fd);
	return rv;
}

/* Writes the patched save to save_path.tmp, then renames it over the
 * save. */
static int rewrite(zip_t *z, zip_int64_t n, const char *save_path,
		   const char *root, struct pset *s, struct patch_result *res)
{
	char tmp[4200];
	zip_t *out;
	int zerr = 0, rv;

	if (snprintf(tmp, sizeof(tmp), "%s.patch.tmp", save_path) >=
	    (int)sizeof(tmp))
		return why(res, ERR_TOOBIG, "save path too long");
	out = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
	if (out == NULL)
		return why(res, ERR_IO, "cannot create %s (libzip error %d)",
			   tmp, zerr);
	rv = copy_kept(z, out, n, root, s, res);
	if (rv == 0)
		rv = add_wanted(out, root, s, res);
	if (rv != 0) {
		zip_discard(out);
		unlink(tmp);
		return rv;
	}
	if (zip_close(out) != 0) {
		(void)why(res, ERR_IO, "writing %s: %s", tmp, zip_strerror(out));
		zip_discard(out);
		unlink(tmp);
		return ERR_IO;
	}
	rv = sync_path(tmp);
	if (rv == 0 && rename(tmp, save_path) != 0)
		rv = -errno;
	if (rv != 0) {
		unlink(tmp);
		return why(res, rv, "cannot replace %s: %s", save_path,
			   err_str(rv));
	}
	return 0;
}

static int open_save(const char *path, zip_t **z, struct patch_result *res)
{
	int zerr = 0;
	zip_error_t e;
	int rv;

	if (access(path, F_OK) != 0)
		return why(res, ERR_NOTFOUND, "no save at %s", path);
	*z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	if (*z != NULL)
		return 0;
	zip_error_init_with_code(&e, zerr);
	rv = why(res, ERR_MALFORMED, "the save %s is not a readable zip: %s",
		 path, zip_error_strerror(&e));
	zip_error_fini(&e);
	return rv;
}

static int patch_open(zip_t *z, const char *save_path, struct pset *s,
		      struct patch_result *res)
{
	zip_int64_t n = zip_get_num_entries(z, 0);
	zip_uint64_t control = 0;
	char root[256];
	uint8_t *old = NULL;
	size_t len = 0;
	int rv;

	if (n < 0 || n > PATCH_ENTRIES_MAX)
		return why(res, ERR_TOOBIG, "the save has %lld entries",
			   (long long)n);
	rv = find_root(z, n, root, sizeof(root), &control, res);
	if (rv != 0)
		return rv;
	rv = zread(z, control, PATCH_CONTROL_MAX, &old, &len);
	if (rv != 0)
		return why(res, rv, "the save's control.lua: %s",
			   rv == ERR_TOOBIG ? "too long to be one clusterd "
					      "can patch" : "damaged entry");
	rv = make_control(s, old, len, res);
	free(old);
	if (rv == 0)
		rv = make_record(s);
	if (rv != 0)
		return res->why[0] ? rv : why(res, rv, "%s", err_str(rv));
	read_old_record(z, root, s);
	rv = up_to_date(z, n, root, s, res);
	if (rv < 0)
		return rv;
	if (rv == 1)
		return 0;
	res->changed = 1;
	return rewrite(z, n, save_path, root, s, res);
}

int patch_save(const char *save_path, const char *lua_dir,
	       struct patch_result *res)
{
	return patch_save_with(save_path, lua_dir, NULL, 0, res);
}

int patch_save_with(const char *save_path, const char *lua_dir,
		    const char *const *extra, size_t nextra,
		    struct patch_result *res)
{
	struct pset *s = calloc(1, sizeof(*s));
	zip_t *z = NULL;
	int rv;

	memset(res, 0, sizeof(*res));
	if (s == NULL)
		return why(res, ERR_NOMEM, "out of memory");
	rv = load_modules(s, lua_dir, 0, res);
	for (size_t i = 0; rv == 0 && i < nextra; i++)
		rv = load_modules(s, extra[i], 1, res);
	if (rv == 0)
		rv = open_save(save_path, &z, res);
	if (rv == 0) {
		res->modules = s->nmods;
		res->files = s->n;
		rv = patch_open(z, save_path, s, res);
		zip_discard(z);
	}
	pset_free(s);
	free(s);
	return rv;
}

int patch_install_version(const char *factorio_dir, char *out, size_t size)
{
	char path[4096], line[256];
	FILE *f;
	int rv = ERR_NOTFOUND;

	if (snprintf(path, sizeof(path), "%s/data/changelog.txt",
		     factorio_dir) >= (int)sizeof(path))
		return ERR_TOOBIG;
	f = fopen(path, "r");
	if (f == NULL)
		return ERR_NOTFOUND;
	/* The first version line is near the top; 10,000 lines bound a
	 * file that has none. */
	for (int n = 0; n < 10000 && fgets(line, sizeof(line), f); n++) {
		size_t len;

		if (strncmp(line, "Version:", 8) != 0)
			continue;
		len = strspn(line + 8, " \t");
		len = strspn(line + 8 + len, "0123456789.");
		if (len > 0 && len < size) {
			const char *v = line + 8 + strspn(line + 8, " \t");

			memcpy(out, v, len);
			out[len] = '\0';
			rv = 0;
		}
		break;
	}
	fclose(f);
	return rv;
}

int patch_default_lua_dir(char *out, size_t size)
{
	char exe[4096];
	size_t len = sizeof(exe);
	char *slash;
	int rv = uv_exepath(exe, &len);

	if (rv != 0)
		return rv;
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return ERR_INVAL;
	*slash = '\0';
	if (snprintf(out, size, "%s/../share/clusterd/lua", exe) >= (int)size)
		return ERR_TOOBIG;
	return 0;
}

/* ---- the manager's side ------------------------------------------------ */

#include "node/instances/inst_int.h"
#include "node/plugins/plugins.h"

int inst_patch_before_start(struct inst_mgr *m, struct inst_proc *p,
			    const char *save)
{
	char dir[INST_PATH_MAX];
	struct patch_result *res = malloc(sizeof(*res));
	int rv;

	if (res == NULL)
		return ERR_NOMEM; /* the next reconciliation tries again */
	if (patch_install_version(m->factorio_dir, p->ipc.version,
				  sizeof(p->ipc.version)) != 0)
		snprintf(p->ipc.version, sizeof(p->ipc.version), "unknown");
	if (m->lua_dir[0] != '\0')
		rv = inst_fmt(dir, sizeof(dir), "%s", m->lua_dir);
	else
		rv = patch_default_lua_dir(dir, sizeof(dir));
	if (rv != 0) {
		(void)snprintf(res->why, sizeof(res->why), "no lua_dir: %s",
			       err_str(rv));
	} else {
		char *extra[PATCH_MODULES_MAX];
		size_t nextra = plug_lua_dirs(m->core, extra, PATCH_MODULES_MAX);

		rv = patch_save_with(save, dir, (const char *const *)extra,
				     nextra, res);
		for (size_t i = 0; i < nextra; i++)
			free(extra[i]);
	}
	if (rv != 0) {
		(void)inst_fmt(p->cause, sizeof(p->cause), "cannot patch the "
			       "save %s.zip: %s", p->rec.save, res->why);
		p->given_up = 1; /* a save or install problem: retrying does
				    not help; a new wish lifts it */
		TRACE_E(m->log, "instances", "%s: %s", p->rec.name, p->cause);
	} else if (res->changed) {
		TRACE_I(m->log, "instances", "%s: patched %zu Lua modules "
			"(%zu files) from %s into %s.zip", p->rec.name,
			res->modules, res->files, dir, p->rec.save);
	}
	free(res);
	return rv;
}
