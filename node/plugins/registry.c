/*
 * registry.c: the plugin record (plugins.h): parsing with validation, and
 * encoding. Pure: no I/O, no loop; unit-tested on its own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/plugins/plugins.h"

int plug_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > PLUG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '-' && c != '_')))
			return 0;
	}
	return 1;
}

/* One part: "*" or [a-z0-9_-]+. */
static int perm_part_ok(const char *p, size_t n)
{
	if (n == 1 && p[0] == '*')
		return 1;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
		      p[i] == '-'))
			return 0;
	return n > 0;
}

int plug_perm_ok(const char *s)
{
	size_t n = strlen(s);
	const char *dot = strchr(s, '.');

	if (n > PLUG_PERM_MAX)
		return 0;
	if (dot == NULL)
		return n == 1 && s[0] == '*';
	return strchr(dot + 1, '.') == NULL &&
	       perm_part_ok(s, (size_t)(dot - s)) &&
	       perm_part_ok(dot + 1, n - (size_t)(dot - s) - 1);
}

static int why_set(char *why, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return ERR_MALFORMED;
}

/* Copies a JSON string into dst[max + 1]; 0 or ERR_MALFORMED. */
static int str_copy(const cJSON *v, char *dst, size_t max)
{
	size_t n;

	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return ERR_MALFORMED;
	n = strlen(v->valuestring);
	if (n > max)
		return ERR_MALFORMED;
	memcpy(dst, v->valuestring, n + 1);
	return 0;
}

static int parse_obj(const cJSON *j, struct plug_rec *r, char *why,
		     size_t ws)
{
	const cJSON *v, *e;

	v = cJSON_GetObjectItemCaseSensitive(j, "name");
	if (str_copy(v, r->name, PLUG_NAME_MAX) != 0 ||
	    !plug_name_ok(r->name, strlen(r->name)))
		return why_set(why, ws, "bad name: 1 to %d characters of "
				       "[a-z0-9_-], starting with a letter "
				       "or digit", PLUG_NAME_MAX);
	v = cJSON_GetObjectItemCaseSensitive(j, "node");
	if (v == NULL)
		memcpy(r->node, "*", 2);
	else if (str_copy(v, r->node, CORE_NAME_MAX) != 0 || r->node[0] == 0)
		return why_set(why, ws, "bad node: a node name or \"*\"");
	v = cJSON_GetObjectItemCaseSensitive(j, "enabled");
	if (v != NULL && !cJSON_IsBool(v))
		return why_set(why, ws, "bad enabled: true or false");
	r->enabled = v == NULL || cJSON_IsTrue(v);
	v = cJSON_GetObjectItemCaseSensitive(j, "command");
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 ||
	    cJSON_GetArraySize(v) > PLUG_ARGS_MAX)
		return why_set(why, ws, "bad command: an array of 1 to %d "
				       "strings (the program, then its "
				       "arguments)", PLUG_ARGS_MAX);
	cJSON_ArrayForEach(e, v) {
		if (str_copy(e, r->args[r->nargs], PLUG_ARG_MAX) != 0)
			return why_set(why, ws, "bad command: each argument "
					       "a string of at most %d bytes",
				       PLUG_ARG_MAX);
		r->nargs++;
	}
	if (r->args[0][0] == '\0')
		return why_set(why, ws, "bad command: empty program");
	v = cJSON_GetObjectItemCaseSensitive(j, "lua");
	if (v != NULL && (str_copy(v, r->lua, PLUG_ARG_MAX) != 0 ||
			  (r->lua[0] != '\0' && r->lua[0] != '/')))
		return why_set(why, ws, "bad lua: an absolute path (a folder "
				       "of Lua modules on every node)");
	v = cJSON_GetObjectItemCaseSensitive(j, "permissions");
	if (v != NULL && (!cJSON_IsArray(v) ||
			  cJSON_GetArraySize(v) > PLUG_PERMS_MAX))
		return why_set(why, ws, "bad permissions: an array of at most "
				       "%d names", PLUG_PERMS_MAX);
	cJSON_ArrayForEach(e, v) {
		char *p = r->perms[r->nperms];

		if (str_copy(e, p, PLUG_PERM_MAX) != 0 || !plug_perm_ok(p))
			return why_set(why, ws, "bad permission: names are "
					       "\"resource.verb\" (e.g. "
					       "\"instance.read\")");
		r->nperms++;
	}
	return 0;
}

int plug_rec_parse(const char *json, size_t len, struct plug_rec *out,
		   char *why, size_t why_size)
{
	cJSON *j;
	int rc;

	memset(out, 0, sizeof(*out));
	j = cJSON_ParseWithLength(json, len);
	if (j == NULL || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return why_set(why, why_size, "not a JSON object");
	}
	rc = parse_obj(j, out, why, why_size);
	cJSON_Delete(j);
	return rc;
}

char *plug_rec_json(const struct plug_rec *r)
{
	cJSON *j = cJSON_CreateObject(), *cmd, *perms;
	char *s = NULL;

	if (j == NULL)
		return NULL;
	cmd = cJSON_AddArrayToObject(j, "command");
	perms = cJSON_AddArrayToObject(j, "permissions");
	if (cJSON_AddStringToObject(j, "name", r->name) == NULL ||
	    cJSON_AddStringToObject(j, "node", r->node) == NULL ||
	    cJSON_AddBoolToObject(j, "enabled", r->enabled) == NULL ||
	    (r->lua[0] != '\0' &&
	     cJSON_AddStringToObject(j, "lua", r->lua) == NULL) ||
	    cmd == NULL || perms == NULL)
		goto out;
	for (size_t i = 0; i < r->nargs; i++)
		if (!cJSON_AddItemToArray(cmd, cJSON_CreateString(r->args[i])))
			goto out;
	for (size_t i = 0; i < r->nperms; i++)
		if (!cJSON_AddItemToArray(perms,
					  cJSON_CreateString(r->perms[i])))
			goto out;
	s = cJSON_PrintUnformatted(j);
out:
	cJSON_Delete(j);
	return s;
}

int plug_rec_here(const struct plug_rec *r, const char *node)
{
	return r->enabled &&
	       (strcmp(r->node, "*") == 0 || strcmp(r->node, node) == 0);
}

size_t plug_lua_dirs(const struct core *c, char **dirs, size_t max)
{
	struct core_kv_key *keys = NULL;
	struct plug_rec *r = malloc(sizeof(*r));
	size_t nk = 0, n = 0;
	int more = 0;
	char why[160];

	if (r == NULL || c == NULL || c->ops->kv_list == NULL ||
	    c->ops->kv_list(c->ctx, PLUG_NS, strlen(PLUG_NS), NULL, 0, NULL, 0,
			    PLUG_MAX, &keys, &nk, &more) != 0) {
		free(r);
		return 0;
	}
	for (size_t i = 0; i < nk && n < max; i++) {
		struct core_kv_value v;

		if (c->ops->kv_get(c->ctx, PLUG_NS, strlen(PLUG_NS), keys[i].key,
				   keys[i].len, &v) != 0)
			continue;
		if (plug_rec_parse((const char *)v.value, v.len, r, why,
				   sizeof(why)) == 0 &&
		    r->enabled && r->lua[0] != '\0') {
			dirs[n] = strdup(r->lua);
			if (dirs[n] != NULL)
				n++;
		}
		free(v.value);
	}
	core_kv_keys_free(keys, nk);
	free(r);
	return n;
}
