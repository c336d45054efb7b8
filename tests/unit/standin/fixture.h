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
};

/* A new game whose control.lua is `control` (NULL: the freeplay one),
 * started (on_init ran), Lua commands already enabled, no auto-pause. */
struct fx *fx_new(const char *control);
/* Adds a file to the save before fx_start (fx_new_unstarted). */
struct fx *fx_new_unstarted(const char *control);
void fx_start(struct fx *f);
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

#endif
