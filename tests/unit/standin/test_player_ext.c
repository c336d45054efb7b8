/* Unit tests of the stand-in's player extensions for inventory sync
 * (player_ext.c, lua_ext.c): the other player inventories, items with
 * data at fixed slots (export/import, set_stack, clear, get_contents),
 * the slot layout of merged items, the cursor stack, quick bar, crafting
 * queue, logistic slots, tag and colour, the GUI tree and its test
 * command, errors the game raises, and that all of it survives a save. */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cmocka_all.h"
#include "tests/unit/standin/fixture.h"

static void test_slots_and_data(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	fx_cmd(f, "/standin join alice");
	fx_lua(f, "game.players.alice.get_main_inventory().clear()");
	assert_string_equal(fx_cmd(f, "/standin give alice iron-plate 250"),
			    "250\n");
	assert_string_equal(fx_cmd(f, "/standin data alice main blueprint BP1"),
			    "4\n");
	/* The merged plate is laid out 100, 100, 50; the blueprint is at 4. */
	assert_string_equal(
		fx_lua(f, "local inv = game.players.alice.get_main_inventory()"
			  " local t = {} for i = 1, 5 do local s = inv[i]"
			  " t[#t+1] = s.valid_for_read and (s.name .. ':' .."
			  " s.count) or '-' end rcon.print(table.concat(t, ' '))"),
		"iron-plate:100 iron-plate:100 iron-plate:50 blueprint:1 -\n");
	assert_string_equal(
		fx_lua(f, "local s = game.players.alice.get_main_inventory()[4]"
			  " rcon.print(table.concat({tostring(s.is_blueprint),"
			  " s.export_stack(), s.import_stack('BP2'),"
			  " s.export_stack()}, '\\t'))"),
		"true\tBP1\t0\tBP2\n");
	/* A plain slot refuses an import; an empty one takes a blueprint. */
	assert_string_equal(
		fx_lua(f, "local inv = game.players.alice.get_main_inventory()"
			  " rcon.print(inv[1].import_stack('X') .. '\\t' .."
			  " inv[10].import_stack('BP3') .. '\\t' .. inv[10].name)"),
		"1\t0\tblueprint\n");
	assert_string_equal(
		fx_lua(f, "local c = game.players.alice.get_main_inventory()"
			  ".get_contents() local n = 0 for _, e in ipairs(c) do"
			  " if e.name == 'blueprint' then n = e.count end end"
			  " rcon.print(n)"),
		"2\n");
	assert_string_equal(
		fx_lua(f, "local inv = game.players.alice.get_main_inventory()"
			  " inv[4].clear() inv[1].clear()"
			  " rcon.print(inv.get_item_count('iron-plate') .. '\\t' .."
			  " inv.get_item_count('blueprint'))"),
		"150\t1\n");
	/* Reading an empty stack is the game's error. */
	assert_non_null(strstr(fx_lua(f, "rcon.print(game.players.alice"
					 ".get_main_inventory()[30].name)"),
			       "not valid for read"));
	assert_non_null(strstr(fx_lua(f, "local x = game.players.alice"
					 ".get_main_inventory()[81]"),
			       "out of range"));
	fx_free(f);
}

static void test_player_members_survive_a_save(void **state)
{
	struct fx *f = fx_new(NULL), *g;
	char *before;

	(void)state;
	fx_cmd(f, "/standin join bob");
	assert_string_equal(
		fx_lua(f, "local p = game.players.bob"
			  " p.get_inventory(defines.inventory.character_trash)"
			  ".insert{name='coal', count=7}"
			  " p.get_inventory(defines.inventory.character_armor)"
			  ".insert{name='heavy-armor', count=1}"
			  " p.cursor_stack.set_stack{name='blueprint-book'}"
			  " p.cursor_stack.import_stack('BOOK')"
			  " p.set_quick_bar_slot(2, 'inserter')"
			  " p.begin_crafting{count=4, recipe='iron-gear-wheel'}"
			  " p.set_personal_logistic_slot(5, {name='coal', min=1,"
			  " max=9}) p.tag = 'x' p.color = {r=0.5, g=0.25, b=0,"
			  " a=1} rcon.print(table.concat({p.get_quick_bar_slot(2).name,"
			  " #p.crafting_queue, p.get_personal_logistic_slot(5).max,"
			  " p.cursor_stack.name}, '\\t'))"),
		"inserter\t1\t9\tblueprint-book\n");
	assert_string_equal(
		fx_lua(f, "local p = game.players.bob"
			  " p.cancel_crafting{index=1, count=1}"
			  " rcon.print(p.crafting_queue[1].count)"),
		"3\n");
	before = strdup(fx_cmd(f, "/standin dump bob"));
	assert_non_null(strstr(before, "\"cursor\":[[1,\"blueprint-book\",1,"
				       "\"BOOK\"]]"));
	assert_non_null(strstr(before, "\"trash\":[[1,\"coal\",7,null]]"));
	g = fx_reload(f, "ext.zip");
	assert_string_equal(fx_cmd(g, "/standin dump bob"), before);
	free(before);
	fx_free(g);
	fx_free(f);
}

static void test_gui_and_controller(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	fx_cmd(f, "/standin join carol");
	fx_lua(f, "local p = game.players.carol"
		  " p.set_controller{type=defines.controllers.spectator}"
		  " local fr = p.gui.screen.add{type='frame', name='sync'}"
		  " fr.add{type='label', name='text', caption='Downloading'}"
		  " fr.add{type='progressbar', name='bar', value=0.25}"
		  " p.gui.screen.sync.bar.value = 0.5");
	assert_string_equal(fx_cmd(f, "/standin controller carol"), "5\n");
	assert_string_equal(fx_cmd(f, "/standin gui carol"),
			    "sync frame 0 \nsync/text label 0 Downloading\n"
			    "sync/bar progressbar 0.5 \n");
	assert_non_null(strstr(fx_lua(f, "game.players.carol.gui.screen.add"
					 "{type='frame', name='sync'}"),
			       "already present"));
	fx_lua(f, "local p = game.players.carol p.gui.screen.sync.destroy()"
		  " p.create_character()");
	assert_string_equal(fx_cmd(f, "/standin gui carol"), "");
	assert_string_equal(fx_cmd(f, "/standin controller carol"), "1\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(game.players.carol.gui.screen.nope == nil)"),
		"true\n");
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_and_data),
		cmocka_unit_test(test_player_members_survive_a_save),
		cmocka_unit_test(test_gui_and_controller),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
