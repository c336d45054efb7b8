/* Mods (mods.c and the per-mod Lua states of lua_core.c): which mods load,
 * in which order, the start lines, refused dependencies, and each mod's
 * control.lua in a state of its own that gets events, calls and commands
 * as in the game, with its storage kept in the save. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tests/lib/cmocka_all.h"
#include "tests/unit/standin/fixture.h"

struct mods {
	char dir[64];
};

static void mods_new(struct mods *m)
{
	snprintf(m->dir, sizeof(m->dir), "/tmp/standin-unit-mods-XXXXXX");
	assert_non_null(mkdtemp(m->dir));
}

static void mods_free(struct mods *m)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->dir);
	assert_int_equal(system(cmd), 0);
}

/* A folder mod: info.json with name, version and dependencies (a JSON
 * array's inside, NULL for none given), and an optional control.lua. */
static void mod_add(struct mods *m, const char *folder, const char *name,
		    const char *version, const char *deps, const char *control)
{
	char rel[256], info[1024];
	snprintf(info, sizeof(info),
		 "{\"name\": \"%s\", \"version\": \"%s\"%s%s%s}", name,
		 version, deps ? ", \"dependencies\": [" : "",
		 deps ? deps : "", deps ? "]" : "");
	snprintf(rel, sizeof(rel), "%s/info.json", folder);
	fx_write(m->dir, rel, info);
	if (control) {
		snprintf(rel, sizeof(rel), "%s/control.lua", folder);
		fx_write(m->dir, rel, control);
	}
}

static int line_of(struct fx *f, const char *s)
{
	int i = fx_find(f, s, 0);
	assert_true(i >= 0);
	return i;
}

static void test_order_and_lines(void **state)
{
	(void)state;
	struct mods m;
	mods_new(&m);
	mod_add(&m, "b_lib_1.0.0", "b_lib", "1.0.0", NULL, NULL);
	fx_write(m.dir, "b_lib_1.0.0/data.lua", "-- prototypes");
	mod_add(&m, "c_opt", "c_opt", "0.2.0", "\"base\"", NULL);
	fx_write(m.dir, "c_opt/settings.lua", "-- settings");
	mod_add(&m, "a_user_1.0.0", "a_user", "1.0.0",
		"\"base >= 1.1\", \"b_lib >= 1.0\", \"? c_opt\", "
		"\"? absent\", \"(?) hidden\", \"~ d_noorder\"",
		NULL);
	mod_add(&m, "d_noorder", "d_noorder", "3.0.0", NULL, NULL);
	mod_add(&m, "e_off", "e_off", "1.0.0", NULL, NULL);
	/* Two versions of one mod: the higher one loads. */
	mod_add(&m, "f_two_1.0.0", "f_two", "1.0.0", NULL, NULL);
	mod_add(&m, "f_two_1.10.0", "f_two", "1.10.0", NULL, NULL);
	mod_add(&m, "f_two_1.9.0", "f_two", "1.9.0", NULL, NULL);
	mod_add(&m, "N_mod10", "N_mod10", "1.0.0", NULL, NULL);
	mod_add(&m, "n_mod2", "n_mod2", "1.0.0", NULL, NULL);
	fx_write(m.dir, "mod-list.json",
		 "{\"mods\": [{\"name\": \"base\", \"enabled\": true},"
		 " {\"name\": \"e_off\", \"enabled\": false}]}");
	struct fx *f = fx_new_with(NULL, m.dir, NULL);
	assert_int_equal(f->mods_rc, 0);
	/* Dependency depth first: a_user (on b_lib and c_opt; d_noorder is
	 * "~" and does not count) comes after every mod of depth 1, although
	 * its name sorts first; then names in natural order, ignoring case. */
	const char *const want[] = {"b_lib", "c_opt", "d_noorder", "f_two",
				    "n_mod2", "N_mod10", "a_user"};
	assert_int_equal(f->g.nmods, 7);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(f->g.mods[i].name, want[i]);
	assert_string_equal(sg_mod_find(&f->g, "f_two")->version, "1.10.0");
	assert_null(sg_mod_find(&f->g, "e_off"));
	int settings = line_of(f, "Loading mod settings c_opt 0.2.0 "
				  "(settings.lua)");
	int core = line_of(f, "Loading mod core 0.0.0 (data.lua)");
	int base = line_of(f, "Loading mod base 2.0.28 (data.lua)");
	int lib = line_of(f, "Loading mod b_lib 1.0.0 (data.lua)");
	int csum = line_of(f, "Checksum of b_lib: ");
	assert_true(settings < core && core < base && base < lib && lib < csum);
	assert_true(line_of(f, "Checksum of c_opt: ") <
		    line_of(f, "Checksum of a_user: "));
	assert_int_equal(fx_find(f, "Loading mod c_opt", 0), -1);
	/* No control.lua, no Lua state. */
	assert_null(f->g.mods[0].L);
	fx_start(f);
	assert_string_equal(fx_lua(f, "rcon.print(script.active_mods.f_two)"),
			    "1.10.0\n");
	fx_free(f);
	mods_free(&m);
}

static void expect_refused(struct mods *m, const char *line)
{
	struct fx *f = fx_new_with(NULL, m->dir, NULL);
	assert_int_equal(f->mods_rc, ERR_CONFIG);
	assert_int_equal(f->g.nmods, 0);
	if (fx_find(f, line, 0) < 0)
		fail_msg("no line %s", line);
	fx_free(f);
}

static void test_refused(void **state)
{
	(void)state;
	struct mods m;
	mods_new(&m);
	mod_add(&m, "x", "x", "1.0.0", "\"y >= 2.0.0\"", NULL);
	expect_refused(&m, "Error Util.cpp:83: Failed to load mods: Mod x "
			   "(1.0.0) is missing required dependency y >= 2.0.0.");
	mod_add(&m, "y", "y", "1.5.0", NULL, NULL);
	expect_refused(&m, "Mod x (1.0.0) is missing required dependency "
			   "y >= 2.0.0.");
	mod_add(&m, "y", "y", "2.0.0", "\"! z\"", NULL);
	mod_add(&m, "z", "z", "1.0.0", NULL, NULL);
	expect_refused(&m, "Mod y (2.0.0) is incompatible with z.");
	mod_add(&m, "z", "z", "1.0.0", "\"x\"", NULL);
	mod_add(&m, "y", "y", "2.0.0", "\"z\"", NULL);
	expect_refused(&m, "Dependency cycle");
	mod_add(&m, "w", "w", "1.0.0", "\"base >= 3.0\"", NULL);
	fx_write(m.dir, "mod-list.json",
		 "{\"mods\": [{\"name\": \"x\", \"enabled\": false},"
		 " {\"name\": \"y\", \"enabled\": false},"
		 " {\"name\": \"z\", \"enabled\": false}]}");
	expect_refused(&m, "Mod w (1.0.0) is missing required dependency "
			   "base >= 3.0.");
	mods_free(&m);
	/* No mod directory: base only. */
	struct fx *f = fx_new_with(NULL, "/nonexistent/mods", NULL);
	assert_int_equal(f->mods_rc, 0);
	assert_int_equal(f->g.nmods, 0);
	fx_free(f);
}

static const char lib_control[] =
	"print('lib control ' .. script.mod_name)\n"
	"script.on_init(function() storage.ticks = 0 print('lib on_init') end)\n"
	"script.on_load(function() print('lib on_load') end)\n"
	"script.on_configuration_changed(function(d)\n"
	"  for name, c in pairs(d.mod_changes) do\n"
	"    print('lib changed ' .. name .. ' ' .. tostring(c.old_version) ..\n"
	"          ' ' .. tostring(c.new_version))\n"
	"  end\n"
	"end)\n"
	"script.on_event(defines.events.on_tick, function(e)\n"
	"  storage.ticks = storage.ticks + 1\n"
	"  if e.tick == 2 then print('lib tick') end\n"
	"end)\n"
	"script.on_event(defines.events.on_player_joined_game, function(e)\n"
	"  print('lib joined ' .. game.get_player(e.player_index).name)\n"
	"end)\n"
	"commands.add_command('libcmd', 'help', function(c)\n"
	"  rcon.print('libcmd ' .. tostring(c.parameter))\n"
	"end)\n"
	"remote.add_interface('lib', {\n"
	"  echo = function(t) return t, type(t.p) end,\n"
	"  name = function() return script.mod_name end,\n"
	"  fail = function() error('lib failure') end,\n"
	"  back = function() return remote.call('level_if', 'hi') end,\n"
	"})\n";

static const char level_control[] =
	"remote.add_interface('level_if', {hi = function() return "
	"'hi from ' .. script.mod_name end})\n"
	"script.on_event(defines.events.on_tick, function(e)\n"
	"  if e.tick == 2 then print('level tick') end\n"
	"end)\n"
	"script.on_event(defines.events.on_player_joined_game, function(e)\n"
	"  print('level joined')\n"
	"end)\n";

static void test_states(void **state)
{
	(void)state;
	struct mods m;
	mods_new(&m);
	mod_add(&m, "lib_1.0.0", "lib", "1.0.0", NULL, lib_control);
	fx_write(m.dir, "lib_1.0.0/util.lua",
		 "return {where = function() return debug.getinfo(1, 'S')"
		 ".source end}");
	struct fx *f = fx_new_with(NULL, m.dir, level_control);
	assert_int_equal(f->mods_rc, 0);
	fx_start(f);
	assert_true(line_of(f, "lib control lib") < line_of(f, "lib on_init"));
	/* Separate states: the mod's storage is not the level's. */
	assert_string_equal(fx_lua(f, "rcon.print(tostring(storage.ticks))"),
			    "nil\n");
	assert_string_equal(fx_cmd(f, "/sc __lib__ rcon.print(storage.ticks)"),
			    "0\n");
	assert_string_equal(fx_cmd(f, "/sc __lib__ rcon.print(script.mod_name)"),
			    "lib\n");
	assert_string_equal(fx_cmd(f, "/sc __nomod__ rcon.print(1)"),
			    "Cannot execute command. Error: Unknown mod: nomod\n");
	/* Events reach the mod, then the level. */
	sg_tick(&f->g);
	sg_tick(&f->g);
	assert_true(line_of(f, "lib tick") < line_of(f, "level tick"));
	assert_string_equal(fx_cmd(f, "/sc __lib__ rcon.print(storage.ticks)"),
			    "2\n");
	fx_cmd(f, "/standin join alice");
	assert_true(line_of(f, "lib joined alice") < line_of(f, "level joined"));
	/* remote.call across states copies tables and LuaObjects. */
	assert_string_equal(
		fx_lua(f, "local t, k = remote.call('lib', 'echo', {a = {1, 2},"
			  " p = game.get_player(1)}) rcon.print(t.a[2] .. ' ' "
			  ".. t.p.name .. ' ' .. k)"),
		"2 alice userdata\n");
	assert_string_equal(fx_lua(f, "rcon.print(remote.call('lib', 'name'))"),
			    "lib\n");
	assert_string_equal(fx_lua(f, "rcon.print(remote.call('lib', 'back'))"),
			    "hi from level\n");
	assert_non_null(strstr(fx_lua(f, "remote.call('lib', 'fail')"),
			       "lib failure"));
	assert_non_null(strstr(fx_lua(f, "remote.call('lib', 'echo', print)"),
			       "Can't copy object of type function."));
	assert_non_null(strstr(fx_lua(f, "remote.call('nope', 'x')"),
			       "Unknown interface: nope"));
	assert_string_equal(
		fx_lua(f, "rcon.print(tostring(remote.interfaces.lib.echo) .. "
			  "tostring(remote.interfaces.level_if.hi))"),
		"truetrue\n");
	assert_non_null(strstr(fx_lua(f, "remote.add_interface('lib', {})"),
			       "Remote interface with name lib already exists."));
	/* A mod's command, a mod's file required from the level. */
	assert_string_equal(fx_cmd(f, "/libcmd x"), "libcmd x\n");
	assert_string_equal(
		fx_lua(f, "rcon.print(require('__lib__/util').where())"),
		"@__lib__/util.lua\n");
	/* The mod's storage is saved and restored; on_load runs in it. */
	fx_clear_lines(f);
	struct fx *n = fx_reload(f, "mods.zip");
	assert_true(fx_find(n, "lib on_load", 0) >= 0);
	assert_int_equal(fx_find(n, "lib on_init", 0), -1);
	assert_int_equal(fx_find(n, "lib changed", 0), -1);
	assert_string_equal(fx_cmd(n, "/sc __lib__ rcon.print(storage.ticks)"),
			    "2\n");
	fx_free(n);
	fx_free(f);
	mods_free(&m);
}

static void test_configuration_changed(void **state)
{
	(void)state;
	struct mods m, m2;
	mods_new(&m);
	mods_new(&m2);
	/* A save without mods, then the same save with lib added. */
	struct fx *f = fx_new(NULL);
	mod_add(&m, "lib", "lib", "1.0.0", NULL, lib_control);
	struct fx *n = fx_reload_mods(f, "a.zip", m.dir);
	assert_true(fx_find(n, "lib on_init", 0) >= 0);
	assert_true(fx_find(n, "lib changed lib nil 1.0.0", 0) >= 0);
	/* lib updated and another mod added. */
	mod_add(&m2, "lib", "lib", "1.1.0", NULL, lib_control);
	mod_add(&m2, "other", "other", "0.1.0", NULL, "");
	struct fx *o = fx_reload_mods(n, "b.zip", m2.dir);
	assert_true(fx_find(o, "lib on_load", 0) >= 0);
	assert_true(fx_find(o, "lib changed lib 1.0.0 1.1.0", 0) >= 0);
	assert_true(fx_find(o, "lib changed other nil 0.1.0", 0) >= 0);
	assert_string_equal(fx_cmd(o, "/sc __lib__ rcon.print(storage.ticks)"),
			    "0\n");
	/* lib removed: the level's handler would see old_version only. */
	struct fx *p = fx_reload_mods(o, "c.zip", NULL);
	assert_int_equal(p->g.nmods, 0);
	fx_free(p);
	fx_free(o);
	fx_free(n);
	fx_free(f);
	mods_free(&m2);
	mods_free(&m);
}

/* require looks next to the calling file first: a library mod's api.lua
 * loaded from elsewhere finds its sibling, as does a save's module. */
static void test_relative_require(void **state)
{
	(void)state;
	struct mods m;
	mods_new(&m);
	mod_add(&m, "clib_0.1.2", "clib", "0.1.2", NULL, NULL);
	fx_write(m.dir, "clib_0.1.2/compat.lua", "return {v = 'mod compat'}");
	fx_write(m.dir, "clib_0.1.2/api.lua",
		 "local compat = require('compat') return {v = compat.v}");
	struct fx *f = fx_new_with(NULL, m.dir, NULL);
	assert_int_equal(f->mods_rc, 0);
	assert_int_equal(sg_file_put(&f->g, "modules/x/a.lua",
				     "return require('b').v .. ' ' .. "
				     "require('__clib__/api').v"),
			 0);
	assert_int_equal(sg_file_put(&f->g, "modules/x/b.lua",
				     "return {v = 'sibling'}"),
			 0);
	/* A root-level file of the same name loses to the sibling. */
	assert_int_equal(sg_file_put(&f->g, "b.lua", "return {v = 'root'}"), 0);
	assert_int_equal(sg_file_put(&f->g, "compat.lua",
				     "return {v = 'level compat'}"),
			 0);
	fx_start(f);
	assert_string_equal(fx_lua(f, "rcon.print(require('modules/x/a'))"),
			    "sibling mod compat\n");
	assert_string_equal(fx_lua(f, "rcon.print(require('b').v .. ' ' .. "
				      "require('compat').v)"),
			    "root level compat\n");
	fx_free(f);
	mods_free(&m);
}

/* --start-server-load-scenario MOD/NAME: a scenario shipped in a mod. */
static void test_mod_scenario(void **state)
{
	(void)state;
	struct mods m;
	mods_new(&m);
	mod_add(&m, "pack", "pack", "1.0.0", NULL, NULL);
	fx_write(m.dir, "pack/scenarios/arena/control.lua",
		 "local r = require('rules') print('arena ' .. r.v)");
	fx_write(m.dir, "pack/scenarios/arena/rules.lua", "return {v = 7}");
	struct fx *f = fx_new_with(NULL, m.dir, NULL);
	assert_int_equal(sg_load_scenario(&f->g, "pack/none", 1), ERR_NOTFOUND);
	assert_int_equal(sg_load_scenario(&f->g, "nomod/arena", 1),
			 ERR_NOTFOUND);
	assert_int_equal(sg_load_scenario(&f->g, "pack/arena", 1), 0);
	fx_start(f);
	line_of(f, "arena 7");
	fx_free(f);
	mods_free(&m);
}

static void test_mod_script_error(void **state)
{
	(void)state;
	struct mods m;
	mods_new(&m);
	mod_add(&m, "bad", "bad", "0.0.1", NULL,
		"script.on_event(defines.events.on_tick, function() "
		"error('bad tick') end)\n");
	struct fx *f = fx_new_with(NULL, m.dir, NULL);
	fx_start(f);
	sg_tick(&f->g);
	assert_true(f->g.quit);
	assert_int_equal(f->g.exit_code, 1);
	line_of(f, "The mod bad (0.0.1) caused a non-recoverable error.");
	line_of(f, "Error while running event bad::on_tick (ID 0)");
	line_of(f, "__bad__/control.lua:1: bad tick");
	fx_free(f);
	mods_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_lines),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_configuration_changed),
		cmocka_unit_test(test_relative_require),
		cmocka_unit_test(test_mod_scenario),
		cmocka_unit_test(test_mod_script_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
