/* A stand-in game for unit tests: captured output lines, a temporary
 * write-data folder, and helpers to run console commands and Lua. */
#ifndef CLUSTERD_TESTS_STANDIN_FIXTURE_H
#define CLUSTERD_TESTS_STANDIN_FIXTURE_H

#include <stdbool.h>

#include "tools/factorio-standin/standin.h"

#define FX_LINES_MAX 4096

struct fx {
	struct sg_game g;
	char dir[256];
	char *lines[FX_LINES_MAX];
	int nlines;
	char reply[1 << 16];
	char version[32];  /* "" = the install's */
	char mod_dir[256]; /* "" = no mods */
	int mods_rc;       /* what sg_mods_load answered */
};

/* A new game whose control.lua is `control` (NULL: the freeplay one),
 * started (on_init ran), Lua commands already enabled, no auto-pause. */
struct fx *fx_new(const char *control);
/* Adds a file to the save before fx_start (fx_new_unstarted). */
struct fx *fx_new_unstarted(const char *control);
void fx_start(struct fx *f);
/* As fx_new_unstarted, for a game of `version` (NULL: the install's)
 * with the mods of mod_dir loaded first (NULL: none; the result of
 * sg_mods_load is in mods_rc, and the game is not started). */
struct fx *fx_new_with(const char *version, const char *mod_dir,
		       const char *control);
/* Writes text to dir/rel, creating the folders on the way. */
void fx_write(const char *dir, const char *rel, const char *text);
void fx_free(struct fx *f);
/* Runs a console command; returns the reply (valid until the next). */
const char *fx_cmd(struct fx *f, const char *cmd);
/* Runs /sc code and returns what rcon.print wrote. */
const char *fx_lua(struct fx *f, const char *code);
/* Index of the first captured line containing s at or after `from`, or
 * -1. */
int fx_find(struct fx *f, const char *s, int from);
void fx_clear_lines(struct fx *f);
/* Saves to <dir>/name and loads it into a fresh game (on_load runs). */
struct fx *fx_reload(struct fx *f, const char *name);
/* As fx_reload, with the mods of mod_dir (NULL: none) in the new game. */
struct fx *fx_reload_mods(struct fx *f, const char *name, const char *mod_dir);

#endif
