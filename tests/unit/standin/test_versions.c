/* Factorio 1.1 and 2.0: the version read from an install's changelog.txt,
 * the Lua API each version offers, the other version's API failing with
 * the game's error text, and the server-settings fields the stand-in
 * applies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "tests/lib/cmocka_all.h"
#include "tests/unit/standin/fixture.h"

static const char err_prefix[] = "Cannot execute command. Error: ";

/* The error of a failing /sc, without the "[string ...]:1: " part. */
static const char *lua_error(struct fx *f, const char *code)
{
	const char *r = fx_lua(f, code);
	assert_non_null(strstr(r, err_prefix));
	const char *m = strstr(r, "]:1: ");
	assert_non_null(m);
	return m + 5;
}

static void test_changelog_version(void **state)
{
	(void)state;
	char dir[] = "/tmp/standin-unit-XXXXXX", v[32];
	assert_non_null(mkdtemp(dir));
	assert_false(sg_changelog_version(dir, v, sizeof(v)));
	fx_write(dir, "changelog.txt", "-----\nDate: today\n");
	assert_false(sg_changelog_version(dir, v, sizeof(v)));
	fx_write(dir, "changelog.txt",
		 "---------\nVersion: 1.1.109\nDate: 1\n---------\n"
		 "Version: 1.1.108\n");
	assert_true(sg_changelog_version(dir, v, sizeof(v)));
	assert_string_equal(v, "1.1.109");
	/* The build's install says 2.0.28, and a game takes it from there. */
	struct fx *f = fx_new(NULL);
	assert_string_equal(f->g.version, "2.0.28");
	assert_int_equal(f->g.api, SG_API_2_0);
	assert_string_equal(fx_cmd(f, "/version"), "2.0.28\n");
	fx_free(f);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static const char control_1_1[] =
	"script.on_init(function()\n"
	"  global.created = game.table_to_json({tick = game.tick})\n"
	"  game.disable_replay()\n"
	"end)\n";

static void test_api_1_1(void **state)
{
	(void)state;
	struct fx *f = fx_new_with("1.1.110", NULL, control_1_1);
	fx_start(f);
	assert_int_equal(f->g.api, SG_API_1_1);
	assert_string_equal(fx_lua(f, "rcon.print(global.created)"),
			    "{\"tick\":0}\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(tostring(storage) .. tostring(helpers) "
			  ".. tostring(prototypes))"),
		"nilnilnil\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(game.json_to_table('{\"a\":[1,2]}').a[2])"),
		"2\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(game.decode_string(game.encode_string("
			  "'abc')))"),
		"abc\n");
	fx_lua(f, "game.write_file('v11/out.txt', 'hello')");
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/script-output/v11/out.txt", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_string_equal(fx_lua(f, "rcon.print(game.active_mods.base)"),
			    "1.1.110\n");
	assert_string_equal(fx_lua(f, "rcon.print(script.active_mods.base)"),
			    "1.1.110\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(game.item_prototypes['iron-plate']"
			  ".stack_size)"),
		"100\n");
	/* get_contents: {[name] = count}. */
	fx_cmd(f, "/standin chest create wooden-chest 1 2");
	fx_cmd(f, "/standin chest insert 1 iron-plate 7");
	fx_cmd(f, "/standin chest insert 1 copper-plate 3");
	assert_string_equal(
		fx_lua(f, "local c = game.surfaces[1].find_entity('wooden-chest',"
			  " {1, 2}).get_inventory(defines.inventory.chest)"
			  ".get_contents() rcon.print(c['iron-plate'] .. ' ' "
			  ".. c['copper-plate'] .. ' ' .. tostring(c[1]))"),
		"7 3 nil\n");
	/* 2.0's API is not there: Lua's own errors, as in the game. */
	assert_string_equal(lua_error(f, "helpers.table_to_json({})"),
			    "attempt to index global 'helpers' (a nil value)\n");
	assert_string_equal(lua_error(f, "storage.x = 1"),
			    "attempt to index global 'storage' (a nil value)\n");
	assert_string_equal(lua_error(f, "rcon.print(prototypes.item)"),
			    "attempt to index global 'prototypes' (a nil value)\n");
	/* global persists with the save under its 1.1 name. */
	fx_lua(f, "global.kept = {n = 5}");
	struct fx *n = fx_reload(f, "v11.zip");
	assert_string_equal(fx_lua(n, "rcon.print(global.kept.n)"), "5\n");
	assert_string_equal(fx_lua(n, "rcon.print(tostring(storage))"), "nil\n");
	fx_free(n);
	fx_free(f);
}

static void test_api_2_0(void **state)
{
	(void)state;
	struct fx *f = fx_new(
		"script.on_init(function() game.disable_replay() end)\n");
	assert_int_equal(f->g.api, SG_API_2_0);
	assert_string_equal(fx_lua(f, "rcon.print(script.active_mods.base)"),
			    "2.0.28\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(table_size({1, 2, a = 3, [10] = 4}))"),
		"4\n");
	assert_string_equal(fx_lua(f, "rcon.print(tostring(global))"), "nil\n");
	assert_string_equal(lua_error(f, "global.x = 1"),
			    "attempt to index global 'global' (a nil value)\n");
	const char *const gone[] = {"table_to_json", "json_to_table",
				    "write_file", "encode_string",
				    "active_mods", "item_prototypes", NULL};
	for (int i = 0; gone[i]; i++) {
		char code[128], want[128];
		snprintf(code, sizeof(code), "rcon.print(game.%s)", gone[i]);
		snprintf(want, sizeof(want),
			 "LuaGameScript doesn't contain key %s.\n", gone[i]);
		assert_string_equal(lua_error(f, code), want);
	}
	fx_cmd(f, "/standin chest create wooden-chest 0 0");
	fx_cmd(f, "/standin chest insert 1 iron-plate 7");
	assert_string_equal(
		fx_lua(f, "local c = game.surfaces[1].find_entity('wooden-chest',"
			  " {0, 0}).get_inventory(defines.inventory.chest)"
			  ".get_contents() rcon.print(c[1].name .. ' ' .. "
			  "c[1].count .. ' ' .. c[1].quality .. ' ' .. "
			  "tostring(c['iron-plate']))"),
		"iron-plate 7 normal nil\n");
	assert_string_equal(fx_lua(f, "game.disable_replay() rcon.print('ok')"),
			    "ok\n");
	fx_free(f);
}

/* Reopening the level's state for another version swaps the API. */
static void test_set_version(void **state)
{
	(void)state;
	struct fx *f = fx_new_unstarted(NULL);
	assert_int_equal(sg_game_set_version(&f->g, "1.1.0"), 0);
	fx_start(f);
	assert_string_equal(fx_lua(f, "rcon.print(type(global) .. "
				      "type(game.table_to_json))"),
			    "tablefunction\n");
	fx_free(f);
}

static void test_settings_fields(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	fx_write(f->dir, "s.json",
		 "{\"name\": \"n\", \"description\": \"d\", \"max_players\": 1,"
		 " \"auto_pause\": false, \"non_blocking_saving\": false,"
		 " \"ignore_player_limit_for_returning_players\": true,"
		 " \"auto_pause_when_players_connect\": true,"
		 " \"autosave_slots\": 2, \"afk_autokick_interval\": 5}");
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/s.json", f->dir);
	struct sg_settings *s = &f->g.settings;
	sg_settings_defaults(s);
	assert_true(s->auto_pause);
	assert_true(s->non_blocking_saving);
	assert_int_equal(sg_settings_load(s, path, err, sizeof(err)), 0);
	assert_string_equal(s->name, "n");
	assert_string_equal(s->description, "d");
	assert_false(s->auto_pause);
	assert_false(s->non_blocking_saving);
	assert_true(s->ignore_player_limit_for_returning_players);
	assert_true(s->auto_pause_when_players_connect);
	assert_int_equal(s->autosave_slots, 2);
	assert_int_equal(s->afk_autokick_min, 5);
	/* max_players 1: a returning player gets in past the limit, a new one
	 * does not. */
	assert_string_equal(fx_cmd(f, "/standin join alice"), "ok\n");
	fx_cmd(f, "/standin leave alice");
	assert_string_equal(fx_cmd(f, "/standin join bob"), "ok\n");
	assert_string_equal(fx_cmd(f, "/standin join alice"), "ok\n");
	assert_non_null(strstr(fx_cmd(f, "/standin join carol"),
			       "server is full"));
	s->ignore_player_limit_for_returning_players = false;
	fx_cmd(f, "/standin leave alice");
	assert_non_null(strstr(fx_cmd(f, "/standin join alice"),
			       "server is full"));
	/* non_blocking_saving false: the autosave line says (blocking). */
	assert_int_equal(sg_autosave(&f->g), 0);
	assert_true(fx_find(f, "Saving to _autosave1 (blocking).", 0) >= 0);
	s->non_blocking_saving = true;
	assert_int_equal(sg_autosave(&f->g), 0);
	assert_true(fx_find(f, "Saving to _autosave2 (non-blocking).", 0) >= 0);
	fx_free(f);
}

/* afk_autokick_interval: minutes without joining or chatting. */
static void test_afk_autokick(void **state)
{
	(void)state;
	struct fx *f = fx_new(
		"script.on_event(defines.events.on_player_left_game, "
		"function(e) print('left reason ' .. e.reason) end)\n");
	f->g.settings.afk_autokick_min = 1;
	fx_cmd(f, "/standin join alice");
	fx_cmd(f, "/standin join bob");
	fx_cmd(f, "/standin tick 1800");
	fx_cmd(f, "/standin chat bob still here");
	fx_cmd(f, "/standin tick 1799");
	assert_int_equal(fx_find(f, "[LEAVE]", 0), -1);
	fx_cmd(f, "/standin tick 1");
	int i = fx_find(f, "[LEAVE] alice left the game", 0);
	assert_true(i >= 0);
	assert_true(fx_find(f, "left reason 6", i) > i); /* defines.disconnect_reason.afk */
	assert_int_equal(fx_find(f, "[LEAVE] bob", 0), -1);
	fx_cmd(f, "/standin tick 1800");
	assert_true(fx_find(f, "[LEAVE] bob left the game", 0) >= 0);
	/* The same setting through /config. */
	fx_cmd(f, "/config set afk-auto-kick 0");
	assert_string_equal(fx_cmd(f, "/config get afk-auto-kick"), "0\n");
	fx_cmd(f, "/standin join carol");
	fx_cmd(f, "/standin tick 7200");
	assert_int_equal(fx_find(f, "[LEAVE] carol", 0), -1);
	fx_cmd(f, "/config set ignore-player-limit-for-returning-players true");
	assert_string_equal(
		fx_cmd(f, "/config get ignore-player-limit-for-returning-players"),
		"true\n");
	assert_true(f->g.settings.ignore_player_limit_for_returning_players);
	fx_free(f);
}

/* `game` is nil while control.lua runs and in on_load, on both versions;
 * on_init and events have it. */
static void test_game_during_load(void **state)
{
	(void)state;
	const char *const versions[] = {"1.1.110", "2.0.28"};
	for (int v = 0; v < 2; v++) {
		struct fx *f = fx_new_with(
			versions[v], NULL,
			"print('main chunk game: ' .. tostring(game))\n"
			"script.on_init(function() print('on_init tick ' .. "
			"game.tick) end)\n"
			"script.on_load(function() print('on_load game: ' .. "
			"tostring(game)) end)\n");
		fx_start(f);
		assert_true(fx_find(f, "main chunk game: nil", 0) >= 0);
		assert_true(fx_find(f, "on_init tick 0", 0) >= 0);
		assert_string_equal(fx_lua(f, "rcon.print(game.tick)"), "0\n");
		struct fx *n = fx_reload(f, "load.zip");
		assert_true(fx_find(n, "on_load game: nil", 0) >= 0);
		assert_string_equal(fx_lua(n, "rcon.print(game.tick)"), "0\n");
		fx_free(n);
		fx_free(f);
	}
	struct fx *f = fx_new_unstarted("local t = game.tick\n");
	assert_int_equal(sg_start(&f->g), ERR_INVAL);
	assert_true(fx_find(f, "control.lua:1: attempt to index global 'game' "
			       "(a nil value)", 0) >= 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changelog_version),
		cmocka_unit_test(test_api_1_1),
		cmocka_unit_test(test_api_2_0),
		cmocka_unit_test(test_set_version),
		cmocka_unit_test(test_settings_fields),
		cmocka_unit_test(test_afk_autokick),
		cmocka_unit_test(test_game_during_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
