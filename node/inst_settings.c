/*
 * inst_settings.c: an instance's Factorio server settings (issue 12). The
 * record keeps only the fields a user overrode (JSON text); the server
 * gets Clusterio's defaults with those overrides on top, written as
 * server-settings.json into the instance folder. The API checks every
 * override against the schema below, so a typo is refused with its name
 * instead of being written into a file the game ignores.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/core.h"

enum kind {
	K_STR = 1,
	K_BOOL,
	K_NUM, /* a non-negative integer */
	K_TAGS, /* an array of strings */
	K_VIS,  /* {"public": bool, "lan": bool} */
	K_CMDS, /* "true", "false" or "admins-only" */
};

/* Factorio's server-settings.json fields (its example file, 1.1 and 2.0)
 * with Clusterio's defaults, except visibility.public: a public game
 * needs factorio.com credentials, which a fresh instance does not have,
 * so it starts unlisted. Secrets are masked when shown. */
static const struct field {
	const char *name;
	int kind;
	const char *deflt; /* JSON text */
	int secret;
} fields[] = {
	{"name", K_STR, "\"\"", 0},
	{"description", K_STR, "\"A clusterd instance\"", 0},
	{"tags", K_TAGS, "[\"clusterio\"]", 0},
	{"max_players", K_NUM, "0", 0},
	{"visibility", K_VIS, "{\"public\":false,\"lan\":true}", 0},
	{"username", K_STR, "\"\"", 0},
	{"password", K_STR, "\"\"", 1},
	{"token", K_STR, "\"\"", 1},
	{"game_password", K_STR, "\"\"", 1},
	{"require_user_verification", K_BOOL, "true", 0},
	{"max_upload_in_kilobytes_per_second", K_NUM, "0", 0},
	{"max_upload_slots", K_NUM, "5", 0},
	{"minimum_latency_in_ticks", K_NUM, "0", 0},
	{"max_heartbeats_per_second", K_NUM, "60", 0},
	{"ignore_player_limit_for_returning_players", K_BOOL, "false", 0},
	{"allow_commands", K_CMDS, "\"admins-only\"", 0},
	{"autosave_interval", K_NUM, "10", 0},
	{"autosave_slots", K_NUM, "5", 0},
	{"afk_autokick_interval", K_NUM, "0", 0},
	{"auto_pause", K_BOOL, "false", 0},
	{"auto_pause_when_players_connect", K_BOOL, "false", 0},
	{"only_admins_can_pause_the_game", K_BOOL, "true", 0},
	{"autosave_only_on_server", K_BOOL, "true", 0},
	{"non_blocking_saving", K_BOOL, "true", 0},
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))
/* Numbers: Factorio reads them as 32-bit integers. */
#define NUM_MAX 2147483647.0
#define TAGS_MAX 32

static const struct field *find(const char *name)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

static int vis_ok(const cJSON *v)
{
	const cJSON *e;

	if (!cJSON_IsObject(v))
		return 0;
	cJSON_ArrayForEach(e, v)
	{
		if ((strcmp(e->string, "public") != 0 &&
		     strcmp(e->string, "lan") != 0) ||
		    !cJSON_IsBool(e))
			return 0;
	}
	return 1;
}

static int value_ok(int kind, const cJSON *v)
{
	const cJSON *e;
	int n = 0;

	switch (kind) {
	case K_STR:
		return cJSON_IsString(v);
	case K_BOOL:
		return cJSON_IsBool(v);
	case K_NUM:
		return cJSON_IsNumber(v) && v->valuedouble >= 0 &&
		       v->valuedouble <= NUM_MAX &&
		       v->valuedouble == (double)(long long)v->valuedouble;
	case K_TAGS:
		if (!cJSON_IsArray(v))
			return 0;
		cJSON_ArrayForEach(e, v)
		{
			if (!cJSON_IsString(e) || ++n > TAGS_MAX)
				return 0;
		}
		return 1;
	case K_VIS:
		return vis_ok(v);
	default:
		return cJSON_IsString(v) &&
		       (strcmp(v->valuestring, "true") == 0 ||
			strcmp(v->valuestring, "false") == 0 ||
			strcmp(v->valuestring, "admins-only") == 0);
	}
}

static const char *kind_word(int kind)
{
	static const char *const w[] = {
		"", "a string", "true or false", "an integer 0..2147483647",
		"an array of strings (at most 32)",
		"{\"public\": bool, \"lan\": bool}",
		"\"true\", \"false\" or \"admins-only\""};

	return w[kind];
}

int core_inst_settings_check_json(const struct cJSON *o, char *err,
				  size_t size)
{
	const cJSON *e;

	if (!cJSON_IsObject(o)) {
		snprintf(err, size, "settings must be a JSON object");
		return ERR_INVAL;
	}
	cJSON_ArrayForEach(e, o)
	{
		const struct field *f = find(e->string);

		if (f == NULL) {
			snprintf(err, size,
				 "unknown server setting \"%s\" (see "
				 "Factorio's server-settings.example.json)",
				 e->string);
			return ERR_INVAL;
		}
		if (!value_ok(f->kind, e)) {
			snprintf(err, size, "server setting \"%s\" must be %s",
				 f->name, kind_word(f->kind));
			return ERR_INVAL;
		}
	}
	return 0;
}

int core_inst_settings_check(const char *text, char *err, size_t size)
{
	cJSON *o;
	int rc;

	if (text[0] == '\0')
		return 0;
	o = cJSON_Parse(text);
	rc = core_inst_settings_check_json(o, err, size);
	cJSON_Delete(o);
	return rc;
}

struct cJSON *core_inst_settings(const char *overrides, int mask)
{
	cJSON *o = cJSON_CreateObject(), *ov = NULL, *e;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < NFIELDS; i++)
		cJSON_AddItemToObject(o, fields[i].name,
				      cJSON_Parse(fields[i].deflt));
	if (overrides != NULL && overrides[0] != '\0')
		ov = cJSON_Parse(overrides);
	cJSON_ArrayForEach(e, ov)
	{
		const struct field *f = find(e->string);

		if (f == NULL || !value_ok(f->kind, e))
			continue; /* checked on the way in; never trusted */
		if (f->kind == K_VIS) {
			cJSON *vis = cJSON_GetObjectItemCaseSensitive(o, f->name);
			const cJSON *v;

			cJSON_ArrayForEach(v, e)
			{
				cJSON_ReplaceItemInObjectCaseSensitive(
					vis, v->string,
					cJSON_CreateBool(cJSON_IsTrue(v)));
			}
			continue;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(
			o, f->name, cJSON_Duplicate(e, 1));
	}
	cJSON_Delete(ov);
	for (size_t i = 0; mask && i < NFIELDS; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(
			o, fields[i].name);

		if (fields[i].secret && cJSON_IsString(v) &&
		    v->valuestring[0] != '\0')
			cJSON_ReplaceItemInObjectCaseSensitive(
				o, fields[i].name, cJSON_CreateString("********"));
	}
	return o;
}
