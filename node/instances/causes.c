/*
 * causes.c: why a server failed, from its last words on stdout (issue 12:
 * `instance show` names the cause of a crash and of a give-up). The game's
 * own texts (FACTORIO.md; the stand-in prints the same):
 *   "Failed to load map X: ..."            a damaged save
 *   "Map file X doesn't exist."            a missing save
 *   "...caused a non-recoverable error." then "Error while running event
 *       E" and the Lua message a line later      a Lua error
 *   "Failed to load mod ..." / LuaContext errors  a Lua error at load
 * Port clashes are matched in output.c.
 */
#include "node/instances/inst_int.h"

#include <stdio.h>
#include <string.h>

static void set(struct inst_proc *p, const char *what, const char *line)
{
	const char *s = strstr(line, ": ");

	/* Drop the "   1.234 Error File.cpp:12" prefix: keep the message. */
	if (s != NULL && strstr(line, " Error ") != NULL)
		line = s + 2;
	snprintf(p->clash, sizeof(p->clash), "%s: %s", what, line);
}

int inst_out_cause(struct inst_proc *p, const char *line)
{
	size_t n;

	if (p->clash_more) {
		p->clash_more = 0;
		n = strlen(p->clash);
		snprintf(p->clash + n, sizeof(p->clash) - n, ": %s", line);
		return 1;
	}
	if (strstr(line, "Failed to load map") != NULL) {
		set(p, "damaged or unreadable save", line);
	} else if (strstr(line, "Map file") != NULL &&
		   strstr(line, "doesn't exist") != NULL) {
		set(p, "missing save", line);
	} else if (strncmp(line, "Error while running event", 25) == 0) {
		snprintf(p->clash, sizeof(p->clash), "Lua error in %s",
			 line + 26);
		p->clash_more = 1;
	} else if (strstr(line, "Failed to load mod") != NULL ||
		   strstr(line, "LuaContext.cpp") != NULL) {
		set(p, "Lua error", line);
	} else {
		return 0;
	}
	return 1;
}
