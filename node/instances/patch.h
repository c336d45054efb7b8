/*
 * patch.h: patching clusterd's Lua modules into a Factorio save (issue 12).
 *
 * A save is a zip with one root folder holding control.lua. Before each
 * start the manager copies every module folder of the installed Lua dir
 * (a folder holding main.lua; see lua/clusterd/README.md) to
 * <root>/modules/<name>/, rewrites control.lua so that Factorio's
 * event_handler loads them (the framework "clusterd" first, then the
 * others by name) and records what it patched in <root>/clusterd.json.
 *
 * Only control.lua files we understand are rewritten: Factorio's freeplay
 * control.lua, recognised by its exact content, or one this patcher wrote
 * (freeplay's lines, then our marker line and the add_lib lines). Any
 * other is refused with the reason; so is a file that is not a zip, a zip
 * without <root>/control.lua, or a damaged entry.
 *
 * Idempotent: when the save already holds exactly what would be written,
 * it is left alone (same bytes). Otherwise the new zip is written next to
 * the save and renamed over it, so a crash leaves either the old or the
 * new save, never half of one. Entries we do not manage are copied
 * without recompression and keep their times; entries we add get a fixed
 * time, so the same input gives the same bytes.
 *
 * Plain file I/O and libzip; no clock, no loop: unit tests call it
 * directly.
 */
#ifndef CLUSTERD_NODE_INSTANCES_PATCH_H
#define CLUSTERD_NODE_INSTANCES_PATCH_H

#include <stddef.h>

/* Limits: a Lua dir with more is refused (they are far above what the
 * modules need, and bound memory: every module file is held at once). */
#define PATCH_MODULES_MAX 32
#define PATCH_FILES_MAX 512          /* all modules together */
#define PATCH_FILE_BYTES_MAX (4u << 20)
#define PATCH_TOTAL_BYTES_MAX (32u << 20)
#define PATCH_DEPTH_MAX 6            /* folders inside a module */
#define PATCH_NAME_MAX 64            /* a module name */
/* A control.lua longer than this is not one we could have written. */
#define PATCH_CONTROL_MAX (64u << 10)
/* Entries in a save; a real save has a few dozen. */
#define PATCH_ENTRIES_MAX 100000
#define PATCH_WHY_MAX 512

/* The first line of what we add to control.lua. */
#define PATCH_MARKER "-- clusterd: the lines below load clusterd's modules"

struct patch_result {
	int changed;             /* 1: the save was rewritten */
	size_t modules;          /* module folders patched in */
	size_t files;            /* module files patched in */
	char why[PATCH_WHY_MAX]; /* on failure: the reason, for people */
};

/* Patches the save at save_path (a .zip) with the modules under lua_dir.
 * Both strings are borrowed. 0 on success (res->changed says whether the
 * file was rewritten); otherwise ERR_MALFORMED (not a zip, damaged, no
 * control.lua), ERR_INVAL (a control.lua we cannot patch), ERR_NOTFOUND
 * (no save, or lua_dir without the clusterd module), ERR_TOOBIG (a limit
 * above), ERR_IO or ERR_NOMEM, with res->why set. */
int patch_save(const char *save_path, const char *lua_dir,
	       struct patch_result *res);
/* patch_save, plus the module folders of each of the nextra extra dirs
 * (enabled plugins' Lua dirs, node/plugins): patched in after ours, by
 * name. A dir that cannot be read, one holding "clusterd" or a name
 * already taken fails the patch (ERR_NOTFOUND, ERR_INVAL) with the
 * reason: a plugin's game side is never silently left out. */
int patch_save_with(const char *save_path, const char *lua_dir,
		    const char *const *extra, size_t nextra,
		    struct patch_result *res);

/* The version of the Factorio install at factorio_dir: the first
 * "Version: X.Y.Z" line of data/changelog.txt (how an install says what
 * it is; 1.x and 2.x differ in the Lua API the modules meet). 0, or
 * ERR_NOTFOUND (no such file or line). */
int patch_install_version(const char *factorio_dir, char *out, size_t size);

/* The default Lua dir: <dir of the running executable>/../share/clusterd/lua
 * (where the build and `cmake --install` put lua/). 0 or an error. */
int patch_default_lua_dir(char *out, size_t size);

#endif
