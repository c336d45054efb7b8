/* Unit tests of every console command of the stand-in (console.c) and of
 * its /standin test control (standin_cmd.c), plus saves and autosaves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zip.h>

#include "tests/lib/cmocka_all.h"
#include "tests/unit/standin/fixture.h"

static char *read_in(struct fx *f, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	return sg_read_file(path, 1 << 20, NULL);
}

static void test_achievements_warning(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	f->g.lua_used = false;
	const char *r = fx_cmd(f, "/sc storage.ran = true rcon.print('disabled')");
	assert_string_equal(r, "Using Lua console commands will disable "
			       "achievements, please repeat the command to "
			       "proceed.\n");
	assert_string_equal(fx_cmd(f, "/sc rcon.print(storage.ran)"), "nil\n");
	assert_string_equal(fx_cmd(f, "/silent-command rcon.print('disabled')"),
			    "disabled\n");
	/* The flag is part of the save. */
	struct fx *n = fx_reload(f, "a.zip");
	assert_string_equal(fx_cmd(n, "/sc rcon.print('again')"), "again\n");
	fx_free(n);
	fx_free(f);
}

static void test_sc_and_c(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	fx_clear_lines(f);
	assert_string_equal(fx_cmd(f, "/sc rcon.print(1 + 1)"), "2\n");
	assert_int_equal(f->nlines, 0); /* /sc echoes nothing */
	assert_string_equal(fx_cmd(f, "/c rcon.print('x')"), "x\n");
	assert_string_equal(f->lines[0], "2024-05-01 12:00:00 [COMMAND] "
					 "<server> (command): rcon.print('x')");
	assert_string_equal(fx_cmd(f, "/sc error('boom')"),
			    "Cannot execute command. Error: [string "
			    "\"error('boom')\"]:1: boom\n");
	assert_string_equal(fx_cmd(f, "/sc (("),
			    "Cannot execute command. Error: [string "
			    "\"((\"]:1: unexpected symbol near <eof>\n");
	assert_string_equal(fx_cmd(f, "/sc local x = 1"), "");
	fx_free(f);
}

static void test_players(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_string_equal(fx_cmd(f, "/players online"),
			    "Online players (0):\n");
	fx_cmd(f, "/standin join alice");
	fx_cmd(f, "/standin join bob");
	fx_cmd(f, "/standin leave bob");
	assert_string_equal(fx_cmd(f, "/players online"),
			    "Online players (1):\n  alice (online)\n");
	assert_string_equal(fx_cmd(f, "/players"),
			    "Players (2):\n  alice (online)\n  bob\n");
	assert_string_equal(fx_cmd(f, "/players count"), "Players (2)\n");
	fx_free(f);
}

static void test_promote_demote(void **state)
{
	(void)state;
	struct fx *f = fx_new("script.on_event(defines.events."
			      "on_player_promoted, function(e) print('promoted "
			      "' .. e.player_index) end)\n"
			      "script.on_event(defines.events."
			      "on_player_demoted, function(e) print('demoted "
			      "' .. e.player_index) end)\n");
	fx_cmd(f, "/standin join alice");
	assert_string_equal(fx_cmd(f, "/promote alice"),
			    "alice was promoted to admin by <server>.\n");
	assert_true(fx_find(f, "2024-05-01 12:00:00 [PROMOTE] alice was "
			       "promoted to admin by <server>.", 0) >= 0);
	assert_true(fx_find(f, "promoted 1", 0) >= 0);
	assert_string_equal(fx_lua(f, "rcon.print(game.players.alice.admin)"),
			    "true\n");
	assert_string_equal(fx_cmd(f, "/promote alice"),
			    "alice is already an admin.\n");
	char *list = read_in(f, "server-adminlist.json");
	assert_non_null(list);
	assert_non_null(strstr(list, "\"alice\""));
	free(list);
	assert_string_equal(fx_cmd(f, "/demote alice"),
			    "alice was demoted from admin by <server>.\n");
	assert_true(fx_find(f, "[DEMOTE] alice was demoted from admin by "
			       "<server>.", 0) >= 0);
	assert_true(fx_find(f, "demoted 1", 0) >= 0);
	assert_string_equal(fx_cmd(f, "/demote alice"),
			    "alice is not an admin.\n");
	/* Promoting someone who never joined puts them on the list. */
	assert_non_null(strstr(fx_cmd(f, "/promote zed"), "doesn't exist"));
	fx_cmd(f, "/standin join zed");
	assert_string_equal(fx_lua(f, "rcon.print(game.players.zed.admin)"),
			    "true\n");
	assert_non_null(strstr(fx_cmd(f, "/admins"), "  zed\n"));
	fx_free(f);
}

static void test_ban_unban(void **state)
{
	(void)state;
	struct fx *f = fx_new("script.on_event(defines.events.on_player_banned"
			      ", function(e) print('banned ' .. e.player_name "
			      ".. ' ' .. tostring(e.reason)) end)\n"
			      "script.on_event(defines.events."
			      "on_player_left_game, function(e) print('left "
			      "reason ' .. e.reason) end)\n"
			      "script.on_event(defines.events."
			      "on_player_unbanned, function(e) print('unbanned "
			      "' .. e.player_name) end)\n");
	fx_cmd(f, "/standin join bob");
	assert_string_equal(fx_cmd(f, "/ban bob griefing the base"),
			    "bob was banned by <server>. Reason: griefing the "
			    "base.\n");
	int leave = fx_find(f, "[LEAVE] bob left the game", 0);
	int ban = fx_find(f, "2024-05-01 12:00:00 [BAN] bob was banned by "
			     "<server>. Reason: griefing the base.", 0);
	assert_true(leave >= 0 && ban > leave);
	assert_true(fx_find(f, "left reason 9", 0) >= 0);
	assert_true(fx_find(f, "banned bob griefing the base", 0) >= 0);
	assert_string_equal(fx_cmd(f, "/standin join bob"),
			    "error: bob cannot join: banned\n");
	char *list = read_in(f, "server-banlist.json");
	assert_non_null(list);
	assert_non_null(strstr(list, "\"username\":\t\"bob\""));
	assert_non_null(strstr(list, "griefing the base"));
	free(list);
	assert_string_equal(fx_cmd(f, "/unban bob"),
			    "bob was unbanned by <server>.\n");
	assert_true(fx_find(f, "[UNBANNED] bob was unbanned by <server>.",
			    0) >= 0);
	assert_true(fx_find(f, "unbanned bob", 0) >= 0);
	assert_string_equal(fx_cmd(f, "/unban bob"),
			    "Player bob is not banned.\n");
	assert_string_equal(fx_cmd(f, "/standin join bob"), "ok\n");
	/* A ban without a reason, of someone never seen. */
	assert_string_equal(fx_cmd(f, "/ban eve"),
			    "eve was banned by <server>.\n");
	fx_free(f);
}

static void test_whitelist(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_string_equal(fx_cmd(f, "/whitelist enable"),
			    "Whitelist enabled.\n");
	assert_string_equal(fx_cmd(f, "/standin join alice"),
			    "error: alice cannot join: not whitelisted\n");
	assert_string_equal(fx_cmd(f, "/whitelist add alice"),
			    "Added alice to the whitelist.\n");
	assert_string_equal(fx_cmd(f, "/standin join alice"), "ok\n");
	char *list = read_in(f, "server-whitelist.json");
	assert_non_null(list);
	assert_non_null(strstr(list, "\"alice\""));
	free(list);
	assert_string_equal(fx_cmd(f, "/whitelist get"),
			    "Whitelist is enabled; 1 players:\n  alice\n");
	assert_string_equal(fx_cmd(f, "/whitelist remove alice"),
			    "Removed alice from the whitelist.\n");
	fx_cmd(f, "/whitelist add bob");
	assert_string_equal(fx_cmd(f, "/whitelist clear"),
			    "Whitelist cleared.\n");
	assert_string_equal(fx_cmd(f, "/standin join bob"),
			    "error: bob cannot join: not whitelisted\n");
	assert_string_equal(fx_cmd(f, "/whitelist disable"),
			    "Whitelist disabled.\n");
	assert_string_equal(fx_cmd(f, "/standin join bob"), "ok\n");
	assert_non_null(strstr(fx_cmd(f, "/whitelist frobnicate"), "Usage"));
	fx_free(f);
}

static void test_kick(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	fx_cmd(f, "/standin join alice");
	fx_cmd(f, "/kick alice afk too long");
	assert_true(fx_find(f, "[LEAVE] alice left the game", 0) >= 0);
	assert_true(fx_find(f, "[KICK] alice was kicked by <server>. Reason: "
			       "afk too long.", 0) >= 0);
	assert_string_equal(fx_cmd(f, "/kick alice"),
			    "Player alice is not online.\n");
	fx_free(f);
}

static void test_config(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_string_equal(fx_cmd(f, "/config set autosave-interval 3"), "");
	assert_int_equal(f->g.settings.autosave_interval_min, 3);
	assert_int_equal(sg_autosave_interval(&f->g), 3 * 3600);
	assert_string_equal(fx_cmd(f, "/config get autosave-interval"), "3\n");
	fx_cmd(f, "/config set max-players 1");
	fx_cmd(f, "/standin join a");
	assert_string_equal(fx_cmd(f, "/standin join b"),
			    "error: b cannot join: server is full\n");
	assert_string_equal(fx_cmd(f, "/config set password secret"), "");
	assert_string_equal(f->g.settings.game_password, "secret");
	assert_string_equal(fx_cmd(f, "/config set colour blue"),
			    "Unknown config option: colour\n");
	assert_non_null(strstr(fx_cmd(f, "/config"), "Usage"));
	fx_free(f);
}

static void test_misc_commands(void **state)
{
	(void)state;
	struct fx *f = fx_new("script.on_event(defines.events.on_console_chat,"
			      " function(e) print('chat ' .. tostring("
			      "e.player_index) .. ' ' .. e.message) end)\n"
			      "script.on_event(defines.events."
			      "on_console_command, function(e) print('cmd ' "
			      ".. e.command .. ' [' .. e.parameters .. ']') "
			      "end)\n");
	assert_string_equal(fx_cmd(f, "/frobnicate"),
			    "Unknown command \"frobnicate\".\n");
	assert_string_equal(fx_cmd(f, "/version"), SG_VERSION "\n");
	assert_string_equal(fx_cmd(f, "/seed"), "42\n");
	assert_non_null(strstr(fx_cmd(f, "/help"), "whitelist"));
	fx_cmd(f, "hello everyone");
	assert_true(fx_find(f, "2024-05-01 12:00:00 [CHAT] <server>: hello "
			       "everyone", 0) >= 0);
	assert_true(fx_find(f, "chat nil hello everyone", 0) >= 0);
	fx_cmd(f, "/standin join alice");
	assert_string_equal(fx_cmd(f, "/standin chat alice hi there"), "ok\n");
	assert_true(fx_find(f, "[CHAT] alice: hi there", 0) >= 0);
	assert_true(fx_find(f, "chat 1 hi there", 0) >= 0);
	fx_cmd(f, "/players online");
	assert_true(fx_find(f, "cmd players [online]", 0) >= 0);
	assert_false(f->g.quit);
	fx_cmd(f, "/quit");
	assert_true(f->g.quit);
	assert_true(fx_find(f, "Quitting: remote-quit.", 0) >= 0);
	fx_free(f);
}

static void test_standin_control(void **state)
{
	(void)state;
	struct fx *f = fx_new("script.on_event(defines.events.on_built_entity,"
			      " function(e) print('built ' .. e.entity.name .. "
			      "' by ' .. e.player_index) end)\n"
			      "script.on_event(defines.events.on_entity_died, "
			      "function(e) print('died ' .. "
			      "e.entity.unit_number) end)\n");
	fx_cmd(f, "/standin join alice");
	assert_string_equal(fx_cmd(f, "/standin give alice iron-plate 50"),
			    "50\n");
	assert_string_equal(fx_cmd(f, "/standin take alice iron-plate 20"),
			    "20\n");
	assert_string_equal(fx_cmd(f, "/standin inventory alice"),
			    "iron-plate 30\n");
	assert_non_null(strstr(fx_cmd(f, "/standin give alice nope 1"),
			       "error"));
	assert_string_equal(fx_cmd(f, "/standin chest create steel-chest 1 2"),
			    "1\n");
	assert_string_equal(fx_cmd(f, "/standin chest insert 1 coal 10000"),
			    "2400\n");
	assert_string_equal(fx_cmd(f, "/standin chest remove 1 coal 400"),
			    "400\n");
	assert_string_equal(fx_cmd(f, "/standin chest contents 1"),
			    "coal 2000\n");
	assert_string_equal(fx_cmd(f, "/standin chest list"),
			    "1 steel-chest 1 2\n");
	assert_string_equal(fx_cmd(f, "/standin build alice iron-chest 5 5"),
			    "2\n");
	assert_true(fx_find(f, "built iron-chest by 1", 0) >= 0);
	assert_string_equal(fx_cmd(f, "/standin destroy 2"), "ok\n");
	assert_true(fx_find(f, "died 2", 0) >= 0);
	assert_string_equal(fx_cmd(f, "/standin chest contents 2"),
			    "error: no such entity\n");
	assert_string_equal(fx_cmd(f, "/standin item modded-plate 400"),
			    "ok\n");
	assert_string_equal(fx_cmd(f, "/standin give alice modded-plate 500"),
			    "500\n");
	fx_lua(f, "game.players.alice.print('psst')");
	assert_string_equal(fx_cmd(f, "/standin messages alice"), "psst\n");
	assert_string_equal(fx_cmd(f, "/standin tick 5"), "5\n");
	assert_non_null(strstr(fx_cmd(f, "/standin state"), "tick 5\n"));
	assert_non_null(strstr(fx_cmd(f, "/standin bogus"), "error"));
	assert_non_null(strstr(fx_cmd(f, "/standin tick -1"), "error"));
	fx_free(f);
}

static void test_save_roundtrip(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	fx_cmd(f, "/standin join alice");
	fx_cmd(f, "/standin give alice coal 33");
	fx_cmd(f, "/standin chest create wooden-chest 7 8");
	fx_cmd(f, "/standin chest insert 1 stone 12");
	fx_cmd(f, "/standin tick 30");
	struct fx *n = fx_reload(f, "r.zip");
	assert_int_equal(n->g.tick, 30);
	assert_int_equal(n->g.nplayers, 1);
	assert_false(n->g.players[0].connected);
	assert_int_equal(n->g.players[0].online_ticks, 30);
	assert_int_equal(sg_inv_count(&n->g.players[0].main, "coal"), 33);
	assert_int_equal(sg_inv_count(&n->g.entities[0].inv, "stone"), 12);
	assert_string_equal(n->g.root, "r");
	/* The zip holds one root folder named after the save. */
	assert_int_equal(n->g.nfiles, 1);
	assert_string_equal(n->g.files[0].path, "control.lua");
	assert_non_null(strstr(n->g.files[0].data,
			       "handler.add_lib(require(\"freeplay\"))"));
	fx_free(n);
	fx_free(f);
}

static void test_autosave(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	f->g.settings.autosave_ticks = 10;
	f->g.settings.autosave_slots = 2;
	fx_cmd(f, "/standin tick 35");
	int a1 = fx_find(f, "Info AppManagerStates.cpp:2038: Saving to "
			    "_autosave1 (non-blocking).", 0);
	int a2 = fx_find(f, "Saving to _autosave2 (non-blocking).", 0);
	int a3 = fx_find(f, "Saving to _autosave1 (non-blocking).", a1 + 1);
	assert_true(a1 >= 0 && a2 > a1 && a3 > a2);
	assert_true(fx_find(f, "Saving finished", a1) == a1 + 1);
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/saves/_autosave2.zip", f->dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/saves/_autosave3.zip", f->dir);
	assert_int_not_equal(stat(path, &st), 0);
	fx_free(f);
}

/* Writes a zip holding the given (name, text) pairs; returns its path. */
static const char *make_zip(struct fx *f, const char *name,
			    const char *const *entries)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	int err = 0;
	zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
	assert_non_null(z);
	for (size_t i = 0; entries[i]; i += 2) {
		zip_source_t *src = zip_source_buffer(z, entries[i + 1],
						      strlen(entries[i + 1]), 0);
		assert_true(zip_file_add(z, entries[i], src, 0) >= 0);
	}
	assert_int_equal(zip_close(z), 0);
	return path;
}

static void test_bad_saves(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct sg_game *g = &f->g;
	char path[512];
	snprintf(path, sizeof(path), "%s/garbage.zip", f->dir);
	FILE *out = fopen(path, "w");
	fputs("not a zip", out);
	fclose(out);
	assert_true(sg_load(g, path) < 0);
	snprintf(path, sizeof(path), "%s/missing.zip", f->dir);
	assert_true(sg_load(g, path) < 0);
	const char *two_roots[] = {"a/control.lua", "", "b/control.lua", "",
				   NULL};
	assert_true(sg_load(g, make_zip(f, "two.zip", two_roots)) < 0);
	const char *no_root[] = {"control.lua", "", NULL};
	assert_true(sg_load(g, make_zip(f, "flat.zip", no_root)) < 0);
	const char *escape[] = {"a/../../x.lua", "", NULL};
	assert_true(sg_load(g, make_zip(f, "esc.zip", escape)) < 0);
	const char *bad_world[] = {"a/control.lua", "", "a/level.dat0",
				   "{\"standin_format\": 99}", NULL};
	assert_true(sg_load(g, make_zip(f, "w.zip", bad_world)) < 0);
	fx_free(f);

	/* A save made elsewhere (no level.dat0 of ours) starts as a new world
	 * running its own control.lua and on_init. */
	f = fx_new_unstarted(NULL);
	const char *foreign[] = {"x/control.lua",
				 "script.on_init(function() print('init "
				 "ran') end)\n",
				 "x/level.dat", "binary map", NULL};
	assert_int_equal(sg_load(&f->g, make_zip(f, "x.zip", foreign)), 0);
	assert_int_equal(sg_start(&f->g), 0);
	assert_true(fx_find(f, "init ran", 0) >= 0);
	assert_string_equal(f->g.root, "x");
	fx_free(f);
}

static void test_inventory_bounds(void **state)
{
	(void)state;
	struct sg_inventory inv;
	assert_int_equal(sg_inv_init(&inv, 2), 0);
	assert_int_equal(sg_inv_insert(&inv, "iron-plate", 150), 150);
	assert_int_equal(sg_inv_insert(&inv, "coal", 100), 0);
	assert_int_equal(sg_inv_insert(&inv, "iron-plate", 100), 50);
	assert_int_equal(sg_inv_used_slots(&inv), 2);
	assert_int_equal(sg_inv_remove(&inv, "iron-plate", 1000), 200);
	assert_int_equal(inv.n, 0);
	assert_int_equal(sg_inv_insert(&inv, "nope", 1), 0);
	sg_inv_free(&inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_achievements_warning),
		cmocka_unit_test(test_sc_and_c),
		cmocka_unit_test(test_players),
		cmocka_unit_test(test_promote_demote),
		cmocka_unit_test(test_ban_unban),
		cmocka_unit_test(test_whitelist),
		cmocka_unit_test(test_kick),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_misc_commands),
		cmocka_unit_test(test_standin_control),
		cmocka_unit_test(test_save_roundtrip),
		cmocka_unit_test(test_autosave),
		cmocka_unit_test(test_bad_saves),
		cmocka_unit_test(test_inventory_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
