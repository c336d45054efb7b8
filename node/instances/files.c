/*
 * files.c: the instance folder, as Clusterio's host lays it out: the
 * server reads config.ini (paths) and, without --server-settings, the
 * server-settings.json of its write-data folder. Files are written to a
 * temporary name and renamed, so a crash never leaves half a file.
 */
#include "node/instances/inst_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "base/err.h"

static int mkdir_one(const char *path)
{
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

/* Creates the folder chain of path (bounded by INST_PATH_MAX). */
static int mkdir_p(const char *path)
{
	char buf[INST_PATH_MAX];
	int rv;

	if (inst_fmt(buf, sizeof(buf), "%s", path) != 0)
		return ERR_TOOBIG;
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		rv = mkdir_one(buf);
		*s = '/';
		if (rv != 0)
			return rv;
	}
	return mkdir_one(buf);
}

static int write_atomic(const char *path, const char *text)
{
	char tmp[INST_PATH_MAX + 8];
	FILE *f;
	int ok;

	(void)inst_fmt(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	ok = fputs(text, f) >= 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0)
		return ERR_IO;
	return 0;
}

/* The defaults with the record's overrides (node/inst_settings.c); an
 * unset name is the instance's. */
static char *settings_json(const struct core_instance *rec)
{
	cJSON *o = core_inst_settings(rec->settings, 0);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	char *text;

	if (o == NULL)
		return NULL;
	if (cJSON_IsString(name) && name->valuestring[0] == '\0')
		cJSON_ReplaceItemInObjectCaseSensitive(
			o, "name", cJSON_CreateString(rec->name));
	text = cJSON_Print(o);
	cJSON_Delete(o);
	return text;
}

int inst_write_files(struct inst_mgr *m, struct inst_proc *p)
{
	char path[INST_PATH_MAX + 32], ini[3 * INST_PATH_MAX];
	char *json;
	int rv;

	(void)inst_fmt(path, sizeof(path), "%s/saves", p->dir);
	rv = mkdir_p(path);
	if (rv != 0)
		goto fail;
	(void)inst_fmt(ini, sizeof(ini), "[path]\nread-data=%s/data\nwrite-data=%s\n",
		 m->factorio_dir, p->dir);
	(void)inst_fmt(path, sizeof(path), "%s/config.ini", p->dir);
	rv = write_atomic(path, ini);
	if (rv != 0)
		goto fail;
	json = settings_json(&p->rec);
	if (json == NULL)
		return ERR_NOMEM;
	(void)inst_fmt(path, sizeof(path), "%s/server-settings.json", p->dir);
	rv = write_atomic(path, json);
	cJSON_free(json);
	if (rv != 0)
		goto fail;
	/* Issue 13: server-adminlist/banlist/whitelist.json (node/users.c). */
	(void)inst_fmt(path, sizeof(path), "%s/server-*list.json", p->dir);
	rv = core_users_write_files(m->core, p->id, p->dir);
	if (rv != 0)
		goto fail;
	return 0;
fail:
	(void)inst_fmt(p->cause, sizeof(p->cause), "cannot write %s: %s", path,
		       err_str(rv));
	p->given_up = 1;
	TRACE_E(m->log, "instances", "%s: %s", p->rec.name, p->cause);
	return rv;
}
