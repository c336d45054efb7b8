/*
 * mods.c: the mods of the stand-in, found and ordered as the game does.
 *
 * The mod directory holds mods as zips or folders, each with an info.json
 * (name, version, dependencies) at its root (a zip's root is its single
 * top folder); mod-list.json says which are enabled (a mod it does not
 * list is enabled, as the game enables newly found mods). Of several
 * versions of one mod the highest is used. Required dependencies must be
 * present in a matching version and incompatible ones ("!") absent, or the
 * start fails. Mods are ordered as the game orders them (its "Data
 * Lifecycle" page): by the depth of their dependency chain (optional
 * dependencies count, "~" ones do not), then by name in natural order. Every .lua and .json file of an enabled mod is read into memory;
 * a mod with a control.lua gets its own Lua state (lua_core.c).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <lua.h>
#include <zip.h>
#include <zlib.h>

#include "base/assert.h"
#include "base/err.h"
#include "tools/factorio-standin/standin.h"

#define MOD_PATH_MAX 4096
#define MOD_DIR_DEPTH_MAX 16 /* folder nesting read inside a mod */
#define MOD_ENTRIES_MAX 10000 /* entries of the mod directory looked at */

int sg_version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		char *end;
		unsigned long x = strtoul(a, &end, 10);
		a = end;
		unsigned long y = strtoul(b, &end, 10);
		b = end;
		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
		if ((*a && (*a < '0' || *a > '9')) ||
		    (*b && (*b < '0' || *b > '9')))
			break;
	}
	return 0;
}

struct sg_mod *sg_mod_find(struct sg_game *g, const char *name)
{
	for (size_t i = 0; i < g->nmods; i++)
		if (strcmp(g->mods[i].name, name) == 0)
			return &g->mods[i];
	return NULL;
}

static void mod_free(struct sg_mod *m)
{
	for (size_t i = 0; i < m->nfiles; i++) {
		free(m->files[i].path);
		free(m->files[i].data);
	}
	free(m->files);
	free(m->pending_storage);
	if (m->L)
		lua_close(m->L);
}

void sg_mods_free(struct sg_game *g)
{
	for (size_t i = 0; i < g->nmods; i++)
		mod_free(&g->mods[i]);
	free(g->mods);
	g->mods = NULL;
	g->nmods = 0;
}

/* ---- the candidates: what the mod directory offers -------------------- */

struct dep {
	char kind; /* 0 required, '?' optional, '!' incompatible, '~' no order */
	char name[SG_NAME_MAX];
	char op[3]; /* "", ">=", ">", "=", "<=", "<" */
	char version[32];
};

struct cand {
	char name[SG_NAME_MAX];
	char version[32];
	char path[MOD_PATH_MAX]; /* zip file or folder */
	bool zip;
	char root[256]; /* a zip's top folder, with its '/' */
	struct dep deps[SG_MOD_DEPS_MAX];
	size_t ndeps;
};

/* "? name >= 1.0", "(?) name", "! name", "~ name = 2.0", "name". */
static bool parse_dep(const char *text, struct dep *d)
{
	memset(d, 0, sizeof(*d));
	while (*text == ' ')
		text++;
	if (strncmp(text, "(?)", 3) == 0) {
		d->kind = '?';
		text += 3;
	} else if (*text == '?' || *text == '!' || *text == '~') {
		d->kind = *text++;
	}
	while (*text == ' ')
		text++;
	static const char *const ops[] = {">=", "<=", ">", "<", "=", NULL};
	const char *op_at = NULL;
	size_t oplen = 0;
	for (int i = 0; ops[i] && !op_at; i++) {
		op_at = strstr(text, ops[i]);
		oplen = strlen(ops[i]);
	}
	size_t n = op_at ? (size_t)(op_at - text) : strlen(text);
	while (n && text[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof(d->name))
		return false;
	memcpy(d->name, text, n);
	if (op_at) {
		memcpy(d->op, op_at, oplen);
		const char *v = op_at + oplen;
		while (*v == ' ')
			v++;
		snprintf(d->version, sizeof(d->version), "%s", v);
		size_t vl = strlen(d->version);
		while (vl && d->version[vl - 1] == ' ')
			d->version[--vl] = 0;
		if (!vl)
			return false;
	}
	return true;
}

static bool dep_accepts(const struct dep *d, const char *version)
{
	if (!d->op[0])
		return true;
	int c = sg_version_cmp(version, d->version);
	if (!strcmp(d->op, ">="))
		return c >= 0;
	if (!strcmp(d->op, ">"))
		return c > 0;
	if (!strcmp(d->op, "<="))
		return c <= 0;
	if (!strcmp(d->op, "<"))
		return c < 0;
	return c == 0;
}

/* Reads info.json text into c; false if it lacks a name or version. */
static bool parse_info(const char *text, size_t len, struct cand *c)
{
	cJSON *info = cJSON_ParseWithLength(text, len);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(info, "name");
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(info, "version");
	bool ok = cJSON_IsString(name) && cJSON_IsString(ver) &&
		  name->valuestring[0] &&
		  strlen(name->valuestring) < sizeof(c->name) &&
		  strlen(ver->valuestring) < sizeof(c->version);
	if (ok) {
		snprintf(c->name, sizeof(c->name), "%s", name->valuestring);
		snprintf(c->version, sizeof(c->version), "%s",
			 ver->valuestring);
		const cJSON *deps =
			cJSON_GetObjectItemCaseSensitive(info, "dependencies");
		const cJSON *d;
		c->ndeps = 0;
		cJSON_ArrayForEach(d, deps)
		{
			if (c->ndeps < SG_MOD_DEPS_MAX && cJSON_IsString(d) &&
			    parse_dep(d->valuestring, &c->deps[c->ndeps]))
				c->ndeps++;
		}
		/* No list means base is required, as in the game. */
		if (!cJSON_IsArray(deps))
			c->ndeps = parse_dep("base", &c->deps[0]) ? 1 : 0;
	}
	cJSON_Delete(info);
	return ok;
}

static bool cand_from_zip(struct cand *c)
{
	int zerr;
	zip_t *z = zip_open(c->path, ZIP_RDONLY, &zerr);
	if (!z)
		return false;
	bool ok = false;
	zip_int64_t n = zip_get_num_entries(z, 0);
	for (zip_int64_t i = 0; i < n && !ok; i++) {
		const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
		const char *slash = name ? strchr(name, '/') : NULL;
		zip_stat_t st;
		if (!slash || strcmp(slash + 1, "info.json") != 0 ||
		    (size_t)(slash - name) + 2 > sizeof(c->root) ||
		    zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0 ||
		    st.size > (1u << 20))
			continue;
		zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)i, 0);
		char *text = f ? malloc(st.size + 1) : NULL;
		if (text && zip_fread(f, text, st.size) == (zip_int64_t)st.size) {
			snprintf(c->root, sizeof(c->root), "%.*s/",
				 (int)(slash - name), name);
			ok = parse_info(text, st.size, c);
		}
		free(text);
		if (f)
			zip_fclose(f);
	}
	zip_close(z);
	return ok;
}

static bool cand_from_dir(struct cand *c)
{
	char path[MOD_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/info.json", c->path);
	size_t len;
	char *text = sg_read_file(path, 1u << 20, &len);
	if (!text)
		return false;
	bool ok = parse_info(text, len, c);
	free(text);
	return ok;
}

/* mod-list.json: the names it disables. NULL list when absent. */
static cJSON *read_mod_list(const char *dir)
{
	char path[MOD_PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/mod-list.json", dir);
	size_t len;
	char *text = sg_read_file(path, 1u << 20, &len);
	if (!text)
		return NULL;
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	return root;
}

static bool mod_enabled(const cJSON *list, const char *name)
{
	const cJSON *mods = cJSON_GetObjectItemCaseSensitive(list, "mods");
	const cJSON *m;
	cJSON_ArrayForEach(m, mods)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "name");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "enabled");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return !cJSON_IsFalse(e);
	}
	return true;
}

/* Reads the enabled candidates of dir (the highest version of each). */
static int scan(const char *dir, struct cand **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : ERR_IO;
	cJSON *list = read_mod_list(dir);
	struct cand *cs = calloc(SG_MODS_MAX, sizeof(*cs));
	if (!cs) {
		closedir(d);
		cJSON_Delete(list);
		return ERR_NOMEM;
	}
	size_t n = 0, seen = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && seen++ < MOD_ENTRIES_MAX) {
		struct cand c;
		struct stat st;
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		memset(&c, 0, sizeof(c));
		snprintf(c.path, sizeof(c.path), "%s/%s", dir, e->d_name);
		if (stat(c.path, &st) != 0)
			continue;
		c.zip = S_ISREG(st.st_mode) && len > 4 &&
			strcmp(e->d_name + len - 4, ".zip") == 0;
		if (!(c.zip ? cand_from_zip(&c)
			    : S_ISDIR(st.st_mode) && cand_from_dir(&c)))
			continue;
		if (!mod_enabled(list, c.name) || !strcmp(c.name, "base") ||
		    !strcmp(c.name, "core"))
			continue;
		size_t i = 0;
		while (i < n && strcmp(cs[i].name, c.name) != 0)
			i++;
		if (i < n) {
			if (sg_version_cmp(c.version, cs[i].version) > 0)
				cs[i] = c;
			continue;
		}
		if (n == SG_MODS_MAX) {
			rc = ERR_TOOBIG;
			break;
		}
		cs[n++] = c;
	}
	closedir(d);
	cJSON_Delete(list);
	if (rc < 0) {
		free(cs);
		return rc;
	}
	*out = cs;
	*nout = n;
	return 0;
}

/* ---- checks and order -------------------------------------------------- */

static const struct cand *cand_find(const struct cand *cs, size_t n,
				    const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cs[i].name, name) == 0)
			return &cs[i];
	return NULL;
}

static void dep_text(const struct dep *d, char *out, size_t len)
{
	if (d->op[0])
		snprintf(out, len, "%s %s %s", d->name, d->op, d->version);
	else
		snprintf(out, len, "%s", d->name);
}

/* The version of name among base and the candidates, or NULL. */
static const char *present(struct sg_game *g, const struct cand *cs,
			   size_t n, const char *name)
{
	if (!strcmp(name, "base") || !strcmp(name, "core"))
		return g->version;
	const struct cand *c = cand_find(cs, n, name);
	return c ? c->version : NULL;
}

static int check_deps(struct sg_game *g, const struct cand *cs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < cs[i].ndeps; k++) {
			const struct dep *d = &cs[i].deps[k];
			const char *v = present(g, cs, n, d->name);
			char text[128];
			dep_text(d, text, sizeof(text));
			if (d->kind == '!' && v) {
				sg_logf(g, "Error", "Util.cpp:83",
					"Failed to load mods: Mod %s (%s) is "
					"incompatible with %s.",
					cs[i].name, cs[i].version, d->name);
				return ERR_CONFIG;
			}
			if ((d->kind == 0 || d->kind == '~') &&
			    (!v || !dep_accepts(d, v))) {
				sg_logf(g, "Error", "Util.cpp:83",
					"Failed to load mods: Mod %s (%s) is "
					"missing required dependency %s.",
					cs[i].name, cs[i].version, text);
				return ERR_CONFIG;
			}
		}
	}
	return 0;
}

/* Natural order of names, as the game sorts mods: case-insensitive, runs
 * of digits compared as numbers ("mod2" before "mod10"). */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			char *ea, *eb;
			unsigned long x = strtoul(a, &ea, 10);
			unsigned long y = strtoul(b, &eb, 10);
			if (x != y)
				return x < y ? -1 : 1;
			a = ea;
			b = eb;
			continue;
		}
		int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
		if (ca != cb)
			return ca - cb;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

/* Depth of each candidate's dependency chain: 1 for a mod that depends on
 * nothing loaded but base, else one more than its deepest dependency that
 * orders it (required or optional and present; not "~" or "!"). More than
 * n rounds of raising depths means a cycle. */
static int depths(const struct cand *cs, size_t n, unsigned *depth)
{
	for (size_t i = 0; i < n; i++)
		depth[i] = 1;
	for (size_t round = 0; round <= n; round++) {
		bool changed = false;
		for (size_t i = 0; i < n; i++) {
			for (size_t k = 0; k < cs[i].ndeps; k++) {
				const struct dep *d = &cs[i].deps[k];
				if (d->kind == '!' || d->kind == '~')
					continue;
				const struct cand *o = cand_find(cs, n, d->name);
				size_t j = o ? (size_t)(o - cs) : n;
				if (j < n && depth[i] < depth[j] + 1) {
					depth[i] = depth[j] + 1;
					changed = true;
				}
			}
		}
		if (!changed)
			return 0;
	}
	return ERR_CONFIG;
}

/* Fills order[] with candidate indexes: shorter dependency chains first,
 * then names in natural order (the game's load and event order). */
static int order_cands(struct sg_game *g, struct cand *cs, size_t n,
		       size_t *order)
{
	ASSERT(n <= SG_MODS_MAX);
	unsigned depth[SG_MODS_MAX];
	if (depths(cs, n, depth) < 0) {
		sg_logf(g, "Error", "Util.cpp:83",
			"Failed to load mods: Dependency cycle among the "
			"enabled mods.");
		return ERR_CONFIG;
	}
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		for (; j > 0; j--) { /* insertion sort: n is small */
			size_t o = order[j - 1];
			if (depth[o] < depth[i] ||
			    (depth[o] == depth[i] &&
			     natural_cmp(cs[o].name, cs[i].name) <= 0))
				break;
			order[j] = o;
		}
		order[j] = i;
	}
	return 0;
}

/* ---- reading a mod's files --------------------------------------------- */

static bool wanted(const char *path)
{
	size_t n = strlen(path);
	return (n > 4 && strcmp(path + n - 4, ".lua") == 0) ||
	       (n > 5 && strcmp(path + n - 5, ".json") == 0);
}

static int add_file(struct sg_mod *m, const char *path, char *data,
		    size_t len, size_t *bytes)
{
	if (m->nfiles == SG_MOD_FILES_MAX || *bytes + len > SG_MOD_BYTES_MAX) {
		free(data);
		return ERR_TOOBIG;
	}
	struct sg_file *f = realloc(m->files, (m->nfiles + 1) * sizeof(*f));
	char *p = strdup(path);
	if (!f || !p) {
		if (f)
			m->files = f;
		free(p);
		free(data);
		return ERR_NOMEM;
	}
	m->files = f;
	f[m->nfiles++] = (struct sg_file){p, data, len};
	*bytes += len;
	return 0;
}

static int files_from_zip(struct sg_mod *m, const struct cand *c)
{
	int zerr;
	zip_t *z = zip_open(c->path, ZIP_RDONLY, &zerr);
	if (!z)
		return ERR_IO;
	size_t bytes = 0, rootlen = strlen(c->root);
	int rc = 0;
	zip_int64_t n = zip_get_num_entries(z, 0);
	for (zip_int64_t i = 0; i < n && rc == 0; i++) {
		const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
		zip_stat_t st;
		if (!name || strncmp(name, c->root, rootlen) != 0 ||
		    !wanted(name) || strstr(name, "..") ||
		    zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0)
			continue;
		if (st.size > SG_MOD_BYTES_MAX) {
			rc = ERR_TOOBIG;
			break;
		}
		zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)i, 0);
		char *data = f ? malloc(st.size + 1) : NULL;
		if (!data ||
		    zip_fread(f, data, st.size) != (zip_int64_t)st.size) {
			free(data);
			rc = ERR_IO;
		} else {
			data[st.size] = 0;
			rc = add_file(m, name + rootlen, data, st.size, &bytes);
		}
		if (f)
			zip_fclose(f);
	}
	zip_close(z);
	return rc;
}

static int files_from_dir(struct sg_mod *m, const char *dir, const char *rel,
			  int depth, size_t *bytes)
{
	if (depth > MOD_DIR_DEPTH_MAX)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return ERR_IO;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char path[MOD_PATH_MAX + 256], sub[MOD_PATH_MAX];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
			 e->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = files_from_dir(m, path, sub, depth + 1, bytes);
		} else if (S_ISREG(st.st_mode) && wanted(sub)) {
			size_t len;
			char *data = sg_read_file(path, SG_MOD_BYTES_MAX, &len);
			rc = data ? add_file(m, sub, data, len, bytes) : ERR_IO;
		}
	}
	closedir(d);
	return rc;
}

static bool has_file(const struct sg_mod *m, const char *path)
{
	for (size_t i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].path, path) == 0)
			return true;
	return false;
}

/* Our own checksum (the game's algorithm is its own): CRC-32 over the
 * paths and contents of the files, in path order. */
static int cmp_files(const void *a, const void *b)
{
	return strcmp(((const struct sg_file *)a)->path,
		      ((const struct sg_file *)b)->path);
}

static void checksum(struct sg_mod *m)
{
	qsort(m->files, m->nfiles, sizeof(*m->files), cmp_files);
	uLong crc = crc32(0L, Z_NULL, 0);
	for (size_t i = 0; i < m->nfiles; i++) {
		crc = crc32(crc, (const Bytef *)m->files[i].path,
			    (uInt)strlen(m->files[i].path));
		crc = crc32(crc, (const Bytef *)m->files[i].data,
			    (uInt)m->files[i].len);
	}
	m->checksum = (uint32_t)crc;
}

/* ---- the start lines --------------------------------------------------- */

static void stage_lines(struct sg_game *g, const char *file, bool base)
{
	if (base)
		sg_plainf(g, "Loading mod base %s (%s)", g->version, file);
	for (size_t i = 0; i < g->nmods; i++)
		if (has_file(&g->mods[i], file))
			sg_plainf(g, "Loading mod %s %s (%s)", g->mods[i].name,
				  g->mods[i].version, file);
}

static void print_lines(struct sg_game *g)
{
	for (size_t i = 0; i < g->nmods; i++)
		if (has_file(&g->mods[i], "settings.lua"))
			sg_plainf(g, "Loading mod settings %s %s (settings.lua)",
				  g->mods[i].name, g->mods[i].version);
	sg_plainf(g, "Loading mod core 0.0.0 (data.lua)");
	stage_lines(g, "data.lua", true);
	stage_lines(g, "data-updates.lua", true);
	stage_lines(g, "data-final-fixes.lua", false);
	/* Fixed numbers for core and base: their files are the install's. */
	sg_plainf(g, "Checksum for core: 3725381254");
	sg_plainf(g, "Checksum of base: 1845197212");
	for (size_t i = 0; i < g->nmods; i++)
		sg_plainf(g, "Checksum of %s: %u", g->mods[i].name,
			  g->mods[i].checksum);
}

int sg_mods_load(struct sg_game *g, const char *dir)
{
	ASSERT(g->nmods == 0 && g->mods == NULL); /* loaded once per game */
	ASSERT(g->level_L != NULL);
	struct cand *cs;
	size_t n;
	int rc = scan(dir, &cs, &n);
	if (rc < 0) {
		if (rc == ERR_TOOBIG)
			sg_logf(g, "Error", "Util.cpp:83",
				"Failed to load mods: more than %d enabled "
				"mods in %s", SG_MODS_MAX, dir);
		else
			sg_logf(g, "Error", "Util.cpp:83",
				"Failed to load mods: cannot read %s", dir);
		return rc;
	}
	size_t *order = calloc(n ? n : 1, sizeof(*order));
	g->mods = calloc(n ? n : 1, sizeof(*g->mods));
	if (!order || !g->mods) {
		rc = ERR_NOMEM;
		goto out;
	}
	rc = check_deps(g, cs, n);
	if (rc == 0)
		rc = order_cands(g, cs, n, order);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct cand *c = &cs[order[i]];
		struct sg_mod *m = &g->mods[g->nmods++];
		snprintf(m->name, sizeof(m->name), "%s", c->name);
		snprintf(m->version, sizeof(m->version), "%s", c->version);
		size_t bytes = 0;
		rc = c->zip ? files_from_zip(m, c)
			    : files_from_dir(m, c->path, "", 0, &bytes);
		if (rc < 0)
			sg_logf(g, "Error", "Util.cpp:83",
				"Failed to load mods: cannot read mod %s (%s)",
				c->name, c->path);
		checksum(m);
	}
	if (rc == 0)
		print_lines(g);
	for (size_t i = 0; i < g->nmods && rc == 0; i++)
		if (has_file(&g->mods[i], "control.lua"))
			rc = sg_lua_open_mod(g, &g->mods[i]);
out:
	free(order);
	free(cs);
	if (rc < 0)
		sg_mods_free(g);
	return rc;
}
