/* Unit tests of the stand-in's Lua API semantics (lua_core.c, lua_game.c,
 * lua_helpers.c, lua_store.c), driving the game without sockets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/cmocka_all.h"
#include "tests/unit/standin/fixture.h"

static void test_freeplay_new_game(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_string_equal(fx_lua(f, "rcon.print(storage.freeplay ~= nil)"),
			    "true\n");
	assert_string_equal(fx_cmd(f, "/standin join alice"), "ok\n");
	assert_true(fx_find(f, "2024-05-01 12:00:00 [JOIN] alice joined the "
			       "game", 0) >= 0);
	/* freeplay's on_player_created gave the starting items. */
	assert_string_equal(
		fx_lua(f, "rcon.print(game.players[1].get_main_inventory()"
			  ".get_item_count('iron-plate'))"),
		"8\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(remote.interfaces.freeplay."
			  "get_created_items)"),
		"true\n");
	fx_free(f);
}

static const char join_print[] =
	"script.on_event(defines.events.on_player_joined_game, function(e)\n"
	"  print('joined ' .. game.get_player(e.player_index).name)\n"
	"end)\n"
	"script.on_event(defines.events.on_pre_player_left_game, function(e)\n"
	"  print('pre-left ' .. e.player_index .. ' ' ..\n"
	"        tostring(game.players[e.player_index].connected))\n"
	"end)\n"
	"script.on_event(defines.events.on_player_left_game, function(e)\n"
	"  print('left ' .. e.player_index .. ' reason ' .. e.reason)\n"
	"end)\n";

static void test_join_leave_events(void **state)
{
	(void)state;
	struct fx *f = fx_new(join_print);
	fx_cmd(f, "/standin join alice");
	int join = fx_find(f, "[JOIN] alice joined the game", 0);
	int printed = fx_find(f, "joined alice", 0);
	assert_true(join >= 0 && printed > join);
	assert_string_equal(f->lines[printed], "joined alice");
	fx_cmd(f, "/standin leave alice afk");
	int pre = fx_find(f, "pre-left 1 true", 0);
	int leave = fx_find(f, "[LEAVE] alice left the game", 0);
	int left = fx_find(f, "left 1 reason 6", 0);
	assert_true(pre >= 0 && leave > pre && left > leave);
	assert_string_equal(fx_cmd(f, "/standin leave alice"),
			    "error: alice is not online\n");
	fx_free(f);
}

static void test_event_handler_module(void **state)
{
	(void)state;
	struct fx *f = fx_new_unstarted(
		"local handler = require(\"event_handler\")\n"
		"handler.add_lib(require(\"freeplay\"))\n"
		"handler.add_lib(require(\"silo-script\"))\n"
		"handler.add_lib(require(\"modules/hello/main\"))\n");
	sg_file_put(&f->g, "modules/hello/main.lua",
		    "local m = {}\n"
		    "m.on_init = function() storage.hello = 0 end\n"
		    "m.events = {[defines.events.on_player_joined_game] = "
		    "function(e)\n"
		    "  storage.hello = storage.hello + 1\n"
		    "  print('hello ' .. game.players[e.player_index].name)\n"
		    "end}\n"
		    "return m\n");
	fx_start(f);
	fx_cmd(f, "/standin join bob");
	assert_true(fx_find(f, "hello bob", 0) >= 0);
	/* freeplay's handler for on_player_created ran as well. */
	assert_string_equal(fx_lua(f, "rcon.print(storage.hello, "
				      "game.players.bob.get_item_count("
				      "'wood'))"),
			    "1\n");
	assert_string_equal(fx_lua(f, "rcon.print(game.players.bob."
				      "get_item_count('wood'))"),
			    "1\n");
	/* After a reload the module is registered again through on_load. */
	struct fx *n = fx_reload(f, "m.zip");
	fx_cmd(n, "/standin join bob");
	assert_true(fx_find(n, "hello bob", 0) >= 0);
	n->g.lua_used = true;
	assert_string_equal(fx_lua(n, "rcon.print(storage.hello)"), "2\n");
	fx_free(n);
	fx_free(f);
}

static void test_require(void **state)
{
	(void)state;
	struct fx *f = fx_new_unstarted("a = require('lib.x')\n"
					"b = require('lib/x')\n"
					"u = require('util')\n");
	sg_file_put(&f->g, "lib/x.lua", "return {n = 7}\n");
	fx_start(f);
	assert_string_equal(fx_lua(f, "rcon.print(a.n, a == b, "
				      "type(u.table_deepcopy))"),
			    "7\n");
	assert_string_equal(fx_lua(f, "rcon.print(a == b)"), "true\n");
	assert_string_equal(fx_lua(f, "rcon.print(type(u.table_deepcopy))"),
			    "function\n");
	const char *r = fx_lua(f, "require('nope')");
	assert_non_null(strstr(r, "module nope not found"));
	r = fx_lua(f, "require('../etc/passwd')");
	assert_non_null(strstr(r, "not found"));
	/* No file access for scripts. */
	assert_string_equal(fx_lua(f, "rcon.print(tostring(io) .. "
				      "tostring(os) .. tostring(dofile) .. "
				      "tostring(loadfile))"),
			    "nilnilnilnil\n");
	fx_free(f);
}

static void test_ticks(void **state)
{
	(void)state;
	struct fx *f = fx_new("storage.t = 0 storage.n = 0\n"
			      "script.on_event(defines.events.on_tick, "
			      "function(e) storage.t = storage.t + 1 "
			      "storage.last = e.tick end)\n"
			      "script.on_nth_tick(60, function(e) storage.n = "
			      "storage.n + 1 storage.nth = e.nth_tick end)\n");
	assert_string_equal(fx_cmd(f, "/standin tick 120"), "120\n");
	assert_string_equal(fx_lua(f, "rcon.print(storage.t .. ' ' .. "
				      "storage.n .. ' ' .. storage.last .. "
				      "' ' .. storage.nth .. ' ' .. "
				      "game.tick)"),
			    "120 2 120 60 120\n");
	fx_lua(f, "script.on_nth_tick(nil)");
	fx_cmd(f, "/standin tick 60");
	assert_string_equal(fx_lua(f, "rcon.print(storage.n)"), "2\n");
	fx_free(f);
}

static void test_auto_pause(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	f->g.settings.auto_pause = true;
	sg_tick(&f->g);
	assert_int_equal(f->g.tick, 0);
	assert_true(sg_paused(&f->g));
	fx_cmd(f, "/standin join alice");
	sg_tick(&f->g);
	assert_int_equal(f->g.tick, 1);
	assert_string_equal(fx_lua(f, "rcon.print(game.players[1]"
				      ".online_time)"),
			    "1\n");
	fx_free(f);
}

static void test_remote(void **state)
{
	(void)state;
	struct fx *f = fx_new("remote.add_interface('calc', {\n"
			      "  add = function(a, b) return a + b, 'x' end,\n"
			      "})\n");
	assert_string_equal(fx_lua(f, "local s, x = remote.call('calc', "
				      "'add', 2, 3) rcon.print(s .. x)"),
			    "5x\n");
	assert_string_equal(fx_lua(f, "rcon.print(remote.interfaces.calc.add)"),
			    "true\n");
	assert_non_null(strstr(fx_lua(f, "remote.add_interface('calc', {})"),
			       "already exists"));
	assert_non_null(strstr(fx_lua(f, "remote.call('nope', 'f')"),
			       "Unknown interface: nope"));
	assert_non_null(strstr(fx_lua(f, "remote.call('calc', 'mul')"),
			       "No such function: mul"));
	assert_string_equal(fx_lua(f, "rcon.print(remote.remove_interface("
				      "'calc'), remote.interfaces.calc)"),
			    "true\n");
	fx_free(f);
}

static void test_custom_command(void **state)
{
	(void)state;
	struct fx *f = fx_new("commands.add_command('hi', 'says hi', "
			      "function(c) rcon.print('hi ' .. "
			      "tostring(c.parameter) .. ' ' .. c.name .. ' ' "
			      ".. tostring(c.player_index)) end)\n");
	assert_string_equal(fx_cmd(f, "/hi there you"),
			    "hi there you hi nil\n");
	assert_string_equal(fx_cmd(f, "/hi"), "hi nil hi nil\n");
	assert_non_null(strstr(fx_lua(f, "commands.add_command('sc', '', "
				      "function() end)"),
			       "already exists"));
	assert_string_equal(fx_lua(f, "rcon.print(commands.commands.hi)"),
			    "says hi\n");
	fx_free(f);
}

static void test_custom_events(void **state)
{
	(void)state;
	struct fx *f = fx_new("ev = script.generate_event_name()\n"
			      "script.on_event(ev, function(e) "
			      "storage.got = e.value .. ':' .. (e.name == ev "
			      "and 'ok' or 'bad') end)\n");
	assert_string_equal(fx_lua(f, "script.raise_event(ev, {value = 'v'}) "
				      "rcon.print(storage.got)"),
			    "v:ok\n");
	assert_non_null(strstr(fx_lua(f, "script.raise_event(defines.events"
				      ".on_tick, {})"),
			       "Only custom events"));
	fx_free(f);
}

static void test_json(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_string_equal(fx_lua(f, "rcon.print(helpers.table_to_json({1, "
				      "2, 'a'}))"),
			    "[1,2,\"a\"]\n");
	assert_string_equal(fx_lua(f, "rcon.print(helpers.table_to_json({}))"),
			    "[]\n");
	assert_string_equal(fx_lua(f, "rcon.print(helpers.table_to_json({a = "
				      "{b = true}}))"),
			    "{\"a\":{\"b\":true}}\n");
	assert_string_equal(
		fx_lua(f, "local t = helpers.json_to_table('{\"x\":[1,2,"
			  "{\"y\":\"z\"}],\"n\":1.5}') rcon.print(t.x[3].y "
			  ".. #t.x .. t.n)"),
		"z31.5\n");
	assert_string_equal(fx_lua(f, "rcon.print(helpers.json_to_table('{"
				      "bad'))"),
			    "nil\n");
	assert_non_null(strstr(fx_lua(f, "helpers.table_to_json({f = "
				      "print})"),
			       "can't be converted"));
	fx_free(f);
}

static void test_serpent(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_string_equal(fx_lua(f, "rcon.print(serpent.line({1, 'a', b = "
				      "true, [5] = 2.5, c = {d = 'x'}}))"),
			    "{1, \"a\", [5] = 2.5, b = true, c = {d = "
			    "\"x\"}}\n");
	assert_string_equal(fx_lua(f, "local ok, v = serpent.load(serpent."
				      "dump({x = {1, 2}, ['end'] = 1})) "
				      "rcon.print(tostring(ok) .. v.x[2] .. "
				      "v['end'])"),
			    "true21\n");
	assert_string_equal(fx_lua(f, "rcon.print(serpent.block({a = 1}))"),
			    "{\n  a = 1\n}\n");
	fx_free(f);
}

static void test_encode_string(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_string_equal(
		fx_lua(f, "local s = string.rep('abc', 1000) .. '\\0x' "
			  "local e = helpers.encode_string(s) "
			  "rcon.print(helpers.decode_string(e) == s, #e < 200)"),
		"true\n");
	assert_string_equal(fx_lua(f, "rcon.print(helpers.decode_string("
				      "'not base64!'))"),
			    "nil\n");
	assert_string_equal(fx_lua(f, "rcon.print(helpers.decode_string("
				      "'AAAA'))"),
			    "nil\n");
	fx_free(f);
}

static void test_write_file(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_string_equal(fx_lua(f, "helpers.write_file('d/out.txt', 'a') "
				      "helpers.write_file('d/out.txt', 'b', "
				      "true) rcon.print('ok')"),
			    "ok\n");
	char path[512];
	snprintf(path, sizeof(path), "%s/script-output/d/out.txt", f->dir);
	size_t len;
	char *text = sg_read_file(path, 100, &len);
	assert_non_null(text);
	assert_string_equal(text, "ab");
	free(text);
	assert_non_null(strstr(fx_lua(f, "helpers.write_file('../x', 'a')"),
			       "not allowed"));
	assert_non_null(strstr(fx_lua(f, "helpers.write_file('/tmp/x', 'a')"),
			       "not allowed"));
	assert_non_null(strstr(fx_lua(f, "helpers.write_file('a/../../x', "
				      "'a')"),
			       "not allowed"));
	fx_free(f);
}

static void test_print_log(void **state)
{
	(void)state;
	struct fx *f = fx_new("log('loaded')\n");
	assert_true(fx_find(f, "   1.500 Script @__level__/control.lua:1: "
			       "loaded", 0) >= 0);
	fx_lua(f, "print('a', 1, nil)");
	assert_true(fx_find(f, "a\t1\tnil", 0) >= 0);
	/* game.print reaches players, not the server's stdout. */
	fx_clear_lines(f);
	fx_lua(f, "game.print('to players')");
	assert_int_equal(f->nlines, 0);
	fx_free(f);
}

static void test_objects(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	fx_cmd(f, "/standin join alice");
	fx_cmd(f, "/standin join bob");
	fx_cmd(f, "/standin leave bob");
	assert_string_equal(
		fx_lua(f, "rcon.print(#game.players, game.players.alice == "
			  "game.players[1], #game.connected_players, "
			  "game.get_player('bob').connected)"),
		"2\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(game.players.alice == game.players[1])"),
		"true\n");
	assert_string_equal(
		fx_lua(f, "local n = 0 for i, p in pairs(game.players) do "
			  "n = n + i end rcon.print(n .. ' ' .. "
			  "#game.connected_players .. ' ' .. "
			  "tostring(game.players.bob.connected))"),
		"3 1 false\n");
	assert_string_equal(fx_lua(f, "rcon.print(game.players[9])"), "nil\n");
	/* Methods work with '.' and ':'. */
	assert_string_equal(
		fx_lua(f, "local p = game.players[1] "
			  "rcon.print(p:get_main_inventory().get_item_count() "
			  "== p.get_main_inventory():get_item_count())"),
		"true\n");
	assert_string_equal(
		fx_lua(f, "local p = game.players.alice "
			  "p.set_controller{type = defines.controllers.spectator} "
			  "rcon.print(p.controller_type .. p.force.name)"),
		"5player\n");
	assert_non_null(strstr(fx_lua(f, "local x = game.players[1].nope"),
			       "LuaPlayer doesn't contain key nope."));
	assert_non_null(strstr(fx_lua(f, "game.tick = 5"),
			       "doesn't contain key tick"));
	/* An entity that is gone reads invalid; other access errors. */
	assert_string_equal(
		fx_lua(f, "local e = game.surfaces[1].create_entity{name = "
			  "'wooden-chest', position = {1, 1}} "
			  "storage.e = e e.destroy() rcon.print(e.valid)"),
		"false\n");
	assert_non_null(strstr(fx_lua(f, "local x = storage.e.name"),
			       "LuaEntity API call when LuaEntity was "
			       "invalid."));
	assert_non_null(strstr(fx_lua(f, "game.surfaces.nauvis.create_entity"
				      "{name = 'nope', position = {0, 0}}"),
			       "Unknown entity name: nope"));
	assert_string_equal(fx_lua(f, "rcon.print(prototypes.item['iron-plate']"
				      ".stack_size, prototypes.item.nope)"),
			    "100\n");
	fx_free(f);
}

static void test_inventory_api(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	fx_lua(f, "storage.c = game.surfaces[1].create_entity{name = "
		  "'iron-chest', position = {x = 3, y = 4}}");
	assert_string_equal(
		fx_lua(f, "local inv = storage.c.get_inventory("
			  "defines.inventory.chest) "
			  "rcon.print(#inv .. ' ' .. tostring(inv.is_empty()))"),
		"32 true\n");
	assert_string_equal(
		fx_lua(f, "local inv = storage.c.get_inventory(1) "
			  "rcon.print(inv.insert{name = 'iron-plate', count "
			  "= 5000})"),
		"3200\n");
	assert_string_equal(
		fx_lua(f, "local inv = storage.c.get_inventory(1) "
			  "rcon.print(inv.remove{name = 'iron-plate', count "
			  "= 150} .. ' ' .. inv.insert('coal') .. ' ' .. "
			  "inv.get_item_count() .. ' ' .. "
			  "inv.get_item_count('iron-plate'))"),
		"150 1 3051 3050\n");
	assert_string_equal(
		fx_lua(f, "local c = storage.c.get_inventory(1).get_contents() "
			  "rcon.print(#c .. c[1].name .. c[1].count .. "
			  "c[1].quality .. c[2].name .. c[2].count)"),
		"2iron-plate3050normalcoal1\n");
	assert_non_null(strstr(fx_lua(f, "storage.c.get_inventory(1).insert"
				      "{name = 'unobtainium'}"),
			       "Unknown item name: unobtainium"));
	assert_string_equal(
		fx_lua(f, "local inv = storage.c.get_inventory(1) inv.clear() "
			  "rcon.print(inv.is_empty(), storage.c.get_inventory("
			  "defines.inventory.character_guns))"),
		"true\n");
	assert_string_equal(fx_lua(f, "rcon.print(storage.c.get_inventory(3))"),
			    "nil\n");
	fx_free(f);
}

static void test_find_entities(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	fx_lua(f, "local s = game.surfaces[1] "
		  "s.create_entity{name = 'iron-chest', position = {0, 0}} "
		  "s.create_entity{name = 'steel-chest', position = {10, 10}} "
		  "s.create_entity{name = 'inserter', position = {5, 5}} "
		  "s.create_entity{name = 'iron-chest', position = {-20, 3}}");
	const char *q[][2] = {
		{"{name = 'iron-chest'}", "2"},
		{"{name = {'iron-chest', 'steel-chest'}}", "3"},
		{"{type = 'container'}", "3"},
		{"{area = {{-1, -1}, {6, 6}}}", "2"},
		{"{area = {left_top = {x = 9, y = 9}, right_bottom = {x = 11, "
		 "y = 11}}}", "1"},
		{"{position = {0, 0}, radius = 8}", "2"},
		{"{name = 'iron-chest', limit = 1}", "1"},
		{"{name = 'iron-chest', invert = true}", "2"},
		{"{}", "4"},
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		char code[512], want[16];
		snprintf(code, sizeof(code),
			 "rcon.print(#game.surfaces[1]."
			 "find_entities_filtered%s)",
			 q[i][0]);
		snprintf(want, sizeof(want), "%s\n", q[i][1]);
		assert_string_equal(fx_lua(f, code), want);
	}
	assert_string_equal(
		fx_lua(f, "local e = game.surfaces[1].find_entities_filtered{"
			  "name = 'steel-chest'}[1] rcon.print(e.position.x .. "
			  "',' .. e.position.y .. ' ' .. e.unit_number .. ' ' "
			  ".. e.type)"),
		"10,10 2 container\n");
	fx_free(f);
}

static void test_storage_persists(void **state)
{
	(void)state;
	struct fx *f = fx_new("script.on_load(function() print('on_load ' .. "
			      "tostring(storage.shared ~= nil)) end)\n"
			      "script.on_init(function() print('on_init') "
			      "end)\n");
	assert_true(fx_find(f, "on_init", 0) >= 0);
	fx_cmd(f, "/standin join alice");
	fx_lua(f, "local t = {v = 'x\\n\\0\"\\\\y'} storage.shared = t "
		  "storage.list = {t, t, 1.25, -3, 2^53 + 2, 1/0, true} "
		  "storage.cycle = {} storage.cycle.self = storage.cycle "
		  "storage[7] = 'seven' storage[{1}] = 'tablekey' "
		  "storage.player = game.players.alice "
		  "storage.chest = game.surfaces[1].create_entity{name = "
		  "'wooden-chest', position = {0, 0}} "
		  "storage.chest.get_inventory(1).insert{name = 'coal', "
		  "count = 7} "
		  "storage.inv = storage.chest.get_inventory(1)");
	struct fx *n = fx_reload(f, "s.zip");
	assert_true(fx_find(n, "on_load true", 0) >= 0);
	assert_true(fx_find(n, "on_init", 0) < 0);
	n->g.lua_used = true;
	const char *checks[] = {
		"storage.list[1] == storage.shared",
		"storage.list[2] == storage.list[1]",
		"storage.shared.v == 'x\\n\\0\"\\\\y'",
		"storage.list[3] == 1.25 and storage.list[4] == -3",
		"storage.list[5] == 2^53 + 2 and storage.list[6] == 1/0",
		"storage.list[7] == true",
		"storage.cycle.self == storage.cycle",
		"storage[7] == 'seven'",
		"next(storage, nil) ~= nil",
		"storage.player.name == 'alice'",
		"storage.player.connected == false",
		"storage.chest.valid and storage.chest.name == 'wooden-chest'",
		"storage.inv.get_item_count('coal') == 7",
		"game.tick == 0",
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		char code[256];
		snprintf(code, sizeof(code), "rcon.print(%s)", checks[i]);
		const char *r = fx_lua(n, code);
		if (strcmp(r, "true\n") != 0)
			fail_msg("check %s gave %s", checks[i], r);
	}
	fx_free(n);
	fx_free(f);
}

static void test_storage_function_fails_save(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	fx_lua(f, "storage.f = print");
	char path[512];
	snprintf(path, sizeof(path), "%s/bad.zip", f->dir);
	assert_true(sg_write(&f->g, path) < 0);
	assert_true(fx_find(f, "Cannot save: storage contains a value of type "
			       "function", 0) >= 0);
	struct stat st;
	assert_int_not_equal(stat(path, &st), 0);
	fx_free(f);
}

static void test_storage_restore_bounded(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	char err[256];
	const char loop[] = "while true do end";
	f->g.restore_steps_max = 2; /* keep the test quick */
	assert_true(sg_storage_restore(&f->g, loop, strlen(loop), err,
				       sizeof(err)) < 0);
	assert_non_null(strstr(err, "runs too long"));
	const char escape[] = "return os and io and print";
	assert_int_equal(sg_storage_restore(&f->g, escape, strlen(escape),
					    err, sizeof(err)),
			 0);
	/* The chunk saw none of the globals: storage became {}. */
	assert_string_equal(fx_lua(f, "rcon.print(next(storage) == nil)"),
			    "true\n");
	fx_free(f);
}

static const char failing[] =
	"script.on_event(defines.events.on_player_joined_game, function(e)\n"
	"  error('boom')\n"
	"end)\n";

static void test_script_error_stops(void **state)
{
	(void)state;
	struct fx *f = fx_new(failing);
	fx_cmd(f, "/standin join alice");
	int at = fx_find(f, "Error MainLoop.cpp", 0);
	assert_true(at >= 0);
	assert_non_null(strstr(f->lines[at], "non-recoverable error"));
	assert_non_null(strstr(f->lines[at], "on_player_joined_game (ID 2)"));
	assert_non_null(strstr(f->lines[at], "__level__/control.lua:2: boom"));
	assert_non_null(strstr(f->lines[at], "stack traceback:"));
	assert_true(f->g.quit);
	assert_int_equal(f->g.exit_code, 1);
	fx_free(f);

	f = fx_new(failing);
	f->g.continue_on_script_error = true;
	fx_cmd(f, "/standin join alice");
	assert_true(fx_find(f, "boom", 0) >= 0);
	assert_false(f->g.quit);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_freeplay_new_game),
		cmocka_unit_test(test_join_leave_events),
		cmocka_unit_test(test_event_handler_module),
		cmocka_unit_test(test_require),
		cmocka_unit_test(test_ticks),
		cmocka_unit_test(test_auto_pause),
		cmocka_unit_test(test_remote),
		cmocka_unit_test(test_custom_command),
		cmocka_unit_test(test_custom_events),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_serpent),
		cmocka_unit_test(test_encode_string),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_print_log),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_inventory_api),
		cmocka_unit_test(test_find_entities),
		cmocka_unit_test(test_storage_persists),
		cmocka_unit_test(test_storage_function_fails_save),
		cmocka_unit_test(test_storage_restore_bounded),
		cmocka_unit_test(test_script_error_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
