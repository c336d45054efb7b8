#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/assert.h"
#include "tests/unit/standin/fixture.h"

static void on_line(void *ctx, const char *line)
{
	struct fx *f = ctx;
	if (getenv("FX_VERBOSE"))
		fprintf(stderr, "| %s\n", line);
	if (f->nlines < FX_LINES_MAX)
		f->lines[f->nlines++] = strdup(line);
}

static double uptime(void *ctx)
{
	(void)ctx;
	return 1.5;
}

static void date(void *ctx, char out[32])
{
	(void)ctx;
	snprintf(out, 32, "2024-05-01 12:00:00");
}

static struct fx *fx_alloc(const char *dir, const char *version,
			   const char *mod_dir)
{
	struct fx *f = calloc(1, sizeof(*f));
	ASSERT(f);
	if (dir) {
		snprintf(f->dir, sizeof(f->dir), "%s", dir);
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/standin-unit-XXXXXX");
		ASSERT(mkdtemp(f->dir));
	}
	struct sg_out out = {on_line, uptime, date, f};
	ASSERT(sg_game_init(&f->g, &out, STANDIN_DATA_DIR, f->dir) == 0);
	f->g.settings.auto_pause = false;
	if (version) {
		snprintf(f->version, sizeof(f->version), "%s", version);
		ASSERT(sg_game_set_version(&f->g, version) == 0);
	}
	if (mod_dir) {
		snprintf(f->mod_dir, sizeof(f->mod_dir), "%s", mod_dir);
		f->mods_rc = sg_mods_load(&f->g, mod_dir);
	}
	return f;
}

struct fx *fx_new_with(const char *version, const char *mod_dir,
		       const char *control)
{
	struct fx *f = fx_alloc(NULL, version, mod_dir);
	ASSERT(sg_new_game(&f->g, "test.zip", 42) == 0);
	if (control)
		ASSERT(sg_file_put(&f->g, "control.lua", control) == 0);
	return f;
}

void fx_write(const char *dir, const char *rel, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')) != NULL;
	     s++) {
		*s = 0;
		(void)mkdir(path, 0755);
		*s = '/';
	}
	FILE *fp = fopen(path, "w");
	ASSERT(fp);
	ASSERT(fputs(text, fp) >= 0);
	ASSERT(fclose(fp) == 0);
}

struct fx *fx_new_unstarted(const char *control)
{
	struct fx *f = fx_alloc(NULL, NULL, NULL);
	ASSERT(sg_new_game(&f->g, "test.zip", 42) == 0);
	if (control)
		ASSERT(sg_file_put(&f->g, "control.lua", control) == 0);
	return f;
}

void fx_start(struct fx *f)
{
	ASSERT(sg_start(&f->g) == 0);
	f->g.lua_used = true;
}

struct fx *fx_new(const char *control)
{
	struct fx *f = fx_new_unstarted(control);
	fx_start(f);
	return f;
}

void fx_clear_lines(struct fx *f)
{
	for (int i = 0; i < f->nlines; i++)
		free(f->lines[i]);
	f->nlines = 0;
}

void fx_free(struct fx *f)
{
	fx_clear_lines(f);
	sg_game_free(&f->g);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (strncmp(f->dir, "/tmp/standin-unit-", 18) == 0)
		ASSERT(system(cmd) == 0);
	free(f);
}

const char *fx_cmd(struct fx *f, const char *cmd)
{
	struct wbuf r;
	wbuf_init(&r, sizeof(f->reply) - 1);
	sg_command(&f->g, cmd, strlen(cmd), &r);
	memcpy(f->reply, r.p ? (const char *)r.p : "", r.len);
	f->reply[r.len] = 0;
	wbuf_free(&r);
	return f->reply;
}

const char *fx_lua(struct fx *f, const char *code)
{
	char *cmd = malloc(strlen(code) + 8);
	ASSERT(cmd);
	sprintf(cmd, "/sc %s", code);
	const char *r = fx_cmd(f, cmd);
	free(cmd);
	return r;
}

int fx_find(struct fx *f, const char *s, int from)
{
	for (int i = from < 0 ? 0 : from; i < f->nlines; i++)
		if (strstr(f->lines[i], s))
			return i;
	return -1;
}

struct fx *fx_reload(struct fx *f, const char *name)
{
	return fx_reload_mods(f, name, f->mod_dir[0] ? f->mod_dir : NULL);
}

struct fx *fx_reload_mods(struct fx *f, const char *name, const char *mod_dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	ASSERT(sg_write(&f->g, path) == 0);
	struct fx *n = fx_alloc(f->dir, f->version[0] ? f->version : NULL,
				mod_dir);
	ASSERT(n->mods_rc == 0);
	ASSERT(sg_load(&n->g, path) == 0);
	ASSERT(sg_start(&n->g) == 0);
	return n;
}
