/*
 * settings.c: server-settings.json, as far as the stand-in acts on it.
 *
 * Keys and defaults follow Factorio's data/server-settings.example.json:
 * autosave every 10 minutes into 5 rotating slots, pause when nobody is
 * online. One stand-in key, standin_autosave_interval_ticks, lets tests
 * autosave in ticks instead of minutes (README, "Test control").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "tools/factorio-standin/standin.h"

void sg_settings_defaults(struct sg_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->autosave_interval_min = 10;
	s->autosave_slots = 5;
	s->auto_pause = true;
	s->allow_commands_admins_only = true;
	/* The game's example file says false, which prints "(blocking)";
	 * the stand-in defaults to the line managers match (README). */
	s->non_blocking_saving = true;
}

static bool get_uint(const cJSON *root, const char *key, double max,
		     double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max)
		return false;
	*out = v->valuedouble;
	return true;
}

static void get_str(const cJSON *root, const char *key, char *out, size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (cJSON_IsString(v))
		snprintf(out, n, "%s", v->valuestring);
}

static void get_bool(const cJSON *root, const char *key, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (cJSON_IsBool(v))
		*out = cJSON_IsTrue(v);
}

int sg_settings_load(struct sg_settings *s, const char *path, char *err,
		     size_t errlen)
{
	size_t len;
	char *text = sg_read_file(path, 1u << 20, &len);
	if (!text) {
		snprintf(err, errlen, "Cannot read %s", path);
		return ERR_IO;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		snprintf(err, errlen, "%s: not a JSON object", path);
		return ERR_MALFORMED;
	}
	double v;
	if (get_uint(root, "autosave_interval", 1e6, &v))
		s->autosave_interval_min = (uint32_t)v;
	if (get_uint(root, "autosave_slots", 1e4, &v))
		s->autosave_slots = v < 1 ? 1 : (uint32_t)v;
	if (get_uint(root, "afk_autokick_interval", 1e6, &v))
		s->afk_autokick_min = (uint32_t)v;
	if (get_uint(root, "max_players", 65535, &v))
		s->max_players = (uint32_t)v;
	if (get_uint(root, "standin_autosave_interval_ticks", 1e12, &v))
		s->autosave_ticks = (uint64_t)v;
	get_bool(root, "auto_pause", &s->auto_pause);
	get_bool(root, "auto_pause_when_players_connect",
		 &s->auto_pause_when_players_connect);
	get_bool(root, "non_blocking_saving", &s->non_blocking_saving);
	get_bool(root, "ignore_player_limit_for_returning_players",
		 &s->ignore_player_limit_for_returning_players);
	const cJSON *ac =
		cJSON_GetObjectItemCaseSensitive(root, "allow_commands");
	if (cJSON_IsString(ac))
		s->allow_commands_admins_only =
			strcmp(ac->valuestring, "admins-only") == 0;
	else if (cJSON_IsBool(ac))
		s->allow_commands_admins_only = false;
	get_str(root, "name", s->name, sizeof(s->name));
	get_str(root, "description", s->description, sizeof(s->description));
	get_str(root, "game_password", s->game_password,
		sizeof(s->game_password));
	cJSON_Delete(root);
	return 0;
}
