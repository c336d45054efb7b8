/*
 * console.c: the server console commands, as sent over RCON (or typed on
 * the server's stdin), and the stand-in's own /standin test commands.
 *
 * Each command appends its answer to the reply buffer that becomes the
 * single RCON response packet. Game effects (admins, bans, whitelist) go
 * to the world, the list files and the action lines on stdout, and raise
 * the events the game raises. Commands run as the server (<server>), which
 * may run any of them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tools/factorio-standin/standin.h"

#define CMD_MAX (1u << 20) /* one command; RCON bodies are smaller */

/* Factorio's answer to the first Lua command of a save. */
static const char achievements_warning[] =
	"Using Lua console commands will disable achievements, please "
	"repeat the command to proceed.\n";

void sg_replyf(struct wbuf *r, const char *fmt, ...)
{
	va_list ap;

	if (!r)
		return;
	va_start(ap, fmt);
	/* A reply cut at the RCON reply limit is still a reply; the limit
	 * error is deliberately not propagated to the command. */
	(void)wbuf_vprintf(r, fmt, ap);
	va_end(ap);
}

/* Splits off the next space-separated word (modifies the string). */
char *sg_next_word(char **p)
{
	char *s = *p;
	char *w;

	while (*s == ' ')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	w = s;
	while (*s && *s != ' ')
		s++;
	if (*s)
		*s++ = 0;
	*p = s;
	return w;
}

static void store_list(struct sg_game *g, const struct sg_namelist *l,
		       const char *path, const char *deflt, bool bans)
{
	char buf[4200];
	if (!path && g->write_data) {
		snprintf(buf, sizeof(buf), "%s/%s", g->write_data, deflt);
		path = buf;
	}
	if (path && sg_list_store(l, path, bans) < 0)
		sg_logf(g, "Warning", "ServerMultiplayerManager.cpp:1168",
			"Could not write %s", path);
}

/* ---- Lua commands ------------------------------------------------------ */

static void lua_cmd(struct sg_game *g, const char *code, bool echo,
		    struct wbuf *reply)
{
	if (echo)
		sg_actionf(g, "COMMAND", "<server> (command): %s", code);
	if (!g->lua_used) {
		g->lua_used = true;
		sg_replyf(reply, "%s", achievements_warning);
		return;
	}
	struct wbuf *prev = g->reply;
	g->reply = reply;
	/* "/sc __modname__ code" runs in that mod's Lua state. */
	char mod[SG_NAME_MAX];
	const char *end = strncmp(code, "__", 2) == 0 ? strstr(code + 2, "__ ")
						       : NULL;
	if (end && end > code + 2 && (size_t)(end - code - 2) < sizeof(mod)) {
		snprintf(mod, sizeof(mod), "%.*s", (int)(end - code - 2),
			 code + 2);
		const char *rest = end + 3;
		if (!sg_lua_mod_command(g, mod, rest, strlen(rest)))
			sg_replyf(reply, "Cannot execute command. Error: "
					 "Unknown mod: %s\n", mod);
	} else {
		sg_lua_command(g, code, strlen(code));
	}
	g->reply = prev;
}

/* ---- players and user lists ------------------------------------------ */

static void cmd_players(struct sg_game *g, char *args, struct wbuf *reply)
{
	char *what = sg_next_word(&args);
	bool online = what && (strcmp(what, "online") == 0 ||
			       strcmp(what, "o") == 0);
	bool count = what && (strcmp(what, "count") == 0 ||
			      strcmp(what, "c") == 0);
	uint32_t n = 0;
	for (size_t i = 0; i < g->nplayers; i++)
		n += !online || g->players[i].connected;
	sg_replyf(reply, "%s (%u)%s\n", online ? "Online players" : "Players", n,
	       count ? "" : ":");
	for (size_t i = 0; i < g->nplayers && !count; i++) {
		const struct sg_player *p = &g->players[i];
		if (online && !p->connected)
			continue;
		sg_replyf(reply, "  %s%s\n", p->name,
		       p->connected ? " (online)" : "");
	}
}

static void name_event(struct sg_game *g, int32_t id, const char *name,
		       const char *reason)
{
	struct sg_player *p = sg_player_find(g, name);
	sg_event_begin(g);
	if (p)
		sg_event_setint(g, "player_index", p->index);
	sg_event_setstr(g, "player_name", name);
	if (reason)
		sg_event_setstr(g, "reason", reason);
	sg_event(g, id);
}

static void cmd_promote(struct sg_game *g, char *args, struct wbuf *reply,
			bool promote)
{
	char *name = sg_next_word(&args);
	if (!name) {
		sg_replyf(reply, "%s\n", promote ? "Usage: /promote <player>"
					      : "Usage: /demote <player>");
		return;
	}
	struct sg_player *p = sg_player_find(g, name);
	bool is_admin = sg_list_has(&g->admins, name);
	if (promote == is_admin) {
		sg_replyf(reply, promote ? "%s is already an admin.\n"
				      : "%s is not an admin.\n",
		       name);
		return;
	}
	if (promote) {
		if (sg_list_add(&g->admins, name, NULL) < 0) {
			sg_replyf(reply, "Admin list is full.\n");
			return;
		}
		if (!p)
			sg_replyf(reply, "Player %s doesn't exist. Adding to "
				      "admin list.\n", name);
	} else {
		sg_list_remove(&g->admins, name);
	}
	store_list(g, &g->admins, g->adminlist_path, "server-adminlist.json",
		   false);
	if (p)
		p->admin = promote;
	const char *verb = promote ? "promoted to" : "demoted from";
	sg_actionf(g, promote ? "PROMOTE" : "DEMOTE",
		   "%s was %s admin by <server>.", name, verb);
	sg_replyf(reply, "%s was %s admin by <server>.\n", name, verb);
	if (p)
		name_event(g, promote ? SG_EV_PLAYER_PROMOTED
				      : SG_EV_PLAYER_DEMOTED,
			   name, NULL);
}

static void cmd_ban(struct sg_game *g, char *args, struct wbuf *reply)
{
	char *name = sg_next_word(&args);
	if (!name) {
		sg_replyf(reply, "Usage: /ban <player> <reason>\n");
		return;
	}
	const char *reason = args[0] ? args : NULL;
	if (sg_list_add(&g->bans, name, reason) < 0) {
		sg_replyf(reply, "Ban list is full.\n");
		return;
	}
	store_list(g, &g->bans, g->banlist_path, "server-banlist.json", true);
	struct sg_player *p = sg_player_find(g, name);
	if (p && p->connected)
		sg_player_leave(g, name, SG_DR_BANNED);
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s was banned by <server>.%s%s%s", name,
		 reason ? " Reason: " : "", reason ? reason : "",
		 reason ? "." : "");
	sg_actionf(g, "BAN", "%s", msg);
	sg_replyf(reply, "%s\n", msg);
	name_event(g, SG_EV_PLAYER_BANNED, name, reason);
}

static void cmd_unban(struct sg_game *g, char *args, struct wbuf *reply)
{
	char *name = sg_next_word(&args);
	if (!name) {
		sg_replyf(reply, "Usage: /unban <player>\n");
		return;
	}
	if (!sg_list_remove(&g->bans, name)) {
		sg_replyf(reply, "Player %s is not banned.\n", name);
		return;
	}
	store_list(g, &g->bans, g->banlist_path, "server-banlist.json", true);
	sg_actionf(g, "UNBANNED", "%s was unbanned by <server>.", name);
	sg_replyf(reply, "%s was unbanned by <server>.\n", name);
	name_event(g, SG_EV_PLAYER_UNBANNED, name, NULL);
}

static void cmd_kick(struct sg_game *g, char *args, struct wbuf *reply)
{
	char *name = sg_next_word(&args);
	struct sg_player *p = name ? sg_player_find(g, name) : NULL;
	if (!p || !p->connected) {
		sg_replyf(reply, "Player %s is not online.\n", name ? name : "");
		return;
	}
	const char *reason = args[0] ? args : NULL;
	sg_player_leave(g, name, SG_DR_KICKED);
	sg_actionf(g, "KICK", "%s was kicked by <server>.%s%s%s", name,
		   reason ? " Reason: " : "", reason ? reason : "",
		   reason ? "." : "");
	name_event(g, SG_EV_PLAYER_KICKED, name, reason);
}

static void cmd_whitelist(struct sg_game *g, char *args, struct wbuf *reply)
{
	char *op = sg_next_word(&args);
	char *name = sg_next_word(&args);
	bool changed = true;
	if (op && strcmp(op, "add") == 0 && name) {
		if (sg_list_add(&g->whitelist, name, NULL) < 0)
			sg_replyf(reply, "Whitelist is full.\n");
		else
			sg_replyf(reply, "Added %s to the whitelist.\n", name);
	} else if (op && strcmp(op, "remove") == 0 && name) {
		if (sg_list_remove(&g->whitelist, name))
			sg_replyf(reply, "Removed %s from the whitelist.\n", name);
		else
			sg_replyf(reply, "%s is not in the whitelist.\n", name);
	} else if (op && strcmp(op, "enable") == 0) {
		g->use_whitelist = true;
		sg_replyf(reply, "Whitelist enabled.\n");
	} else if (op && strcmp(op, "disable") == 0) {
		g->use_whitelist = false;
		sg_replyf(reply, "Whitelist disabled.\n");
	} else if (op && strcmp(op, "clear") == 0) {
		sg_list_clear(&g->whitelist);
		sg_replyf(reply, "Whitelist cleared.\n");
	} else if (op && strcmp(op, "get") == 0) {
		changed = false;
		sg_replyf(reply, "Whitelist is %s; %zu players:\n",
		       g->use_whitelist ? "enabled" : "disabled",
		       g->whitelist.n);
		for (size_t i = 0; i < g->whitelist.n; i++)
			sg_replyf(reply, "  %s\n", g->whitelist.names[i]);
	} else {
		changed = false;
		sg_replyf(reply, "Usage: /whitelist add|remove <player>, "
			      "/whitelist enable|disable|clear|get\n");
	}
	if (changed)
		store_list(g, &g->whitelist, g->whitelist_path,
			   "server-whitelist.json", false);
}

/* ---- /config ----------------------------------------------------------- */

static const char *const config_keys[] = {
	"afk-auto-kick", "allow-commands", "allow-debug-settings",
	"autosave-interval", "autosave-only-on-server",
	"ignore-player-limit-for-returning-players", "max-players",
	"max-upload-speed", "only-admins-can-pause", "password",
	"require-user-verification", "visibility-lan", "visibility-public",
	NULL,
};

static void cmd_config(struct sg_game *g, char *args, struct wbuf *reply)
{
	char *op = sg_next_word(&args);
	char *key = sg_next_word(&args);
	const char *value = args;
	bool known = false;
	for (size_t i = 0; key && config_keys[i]; i++)
		known = known || strcmp(config_keys[i], key) == 0;
	if (!op || !key || (strcmp(op, "set") && strcmp(op, "get"))) {
		sg_replyf(reply, "Usage: /config get|set <option> [value]\n");
		return;
	}
	if (!known) {
		sg_replyf(reply, "Unknown config option: %s\n", key);
		return;
	}
	struct sg_settings *s = &g->settings;
	bool set = strcmp(op, "set") == 0;
	if (strcmp(key, "autosave-interval") == 0) {
		if (set) {
			s->autosave_interval_min = (uint32_t)strtoul(value,
								     NULL, 10);
			s->autosave_ticks = 0;
			g->autosave_due = 0;
		}
		sg_replyf(reply, set ? "" : "%u\n", s->autosave_interval_min);
	} else if (strcmp(key, "max-players") == 0) {
		if (set)
			s->max_players = (uint32_t)strtoul(value, NULL, 10);
		sg_replyf(reply, set ? "" : "%u\n", s->max_players);
	} else if (strcmp(key, "password") == 0) {
		if (set)
			snprintf(s->game_password, sizeof(s->game_password),
				 "%s", value);
		sg_replyf(reply, set ? "" : "%s\n", s->game_password);
	} else if (strcmp(key, "allow-commands") == 0) {
		if (set)
			s->allow_commands_admins_only =
				strcmp(value, "admins-only") == 0;
		sg_replyf(reply, set ? "" : "%s\n",
		       s->allow_commands_admins_only ? "admins-only" : "true");
	} else if (strcmp(key, "afk-auto-kick") == 0) {
		if (set)
			s->afk_autokick_min = (uint32_t)strtoul(value, NULL, 10);
		sg_replyf(reply, set ? "" : "%u\n", s->afk_autokick_min);
	} else if (strcmp(key,
			  "ignore-player-limit-for-returning-players") == 0) {
		if (set)
			s->ignore_player_limit_for_returning_players =
				strcmp(value, "true") == 0;
		sg_replyf(reply, set ? "" : "%s\n",
			  s->ignore_player_limit_for_returning_players
				  ? "true"
				  : "false");
	} else if (!set) {
		sg_replyf(reply, "\n");
	}
}

/* ---- dispatch ---------------------------------------------------------- */

void sg_standin_command(struct sg_game *g, char *args, struct wbuf *reply);

static bool builtin(struct sg_game *g, const char *name, char *args,
		    struct wbuf *reply)
{
	if (!strcmp(name, "sc") || !strcmp(name, "silent-command"))
		lua_cmd(g, args, false, reply);
	else if (!strcmp(name, "c") || !strcmp(name, "command") ||
		 !strcmp(name, "measured-command"))
		lua_cmd(g, args, true, reply);
	else if (!strcmp(name, "players") || !strcmp(name, "p"))
		cmd_players(g, args, reply);
	else if (!strcmp(name, "promote"))
		cmd_promote(g, args, reply, true);
	else if (!strcmp(name, "demote"))
		cmd_promote(g, args, reply, false);
	else if (!strcmp(name, "ban"))
		cmd_ban(g, args, reply);
	else if (!strcmp(name, "unban"))
		cmd_unban(g, args, reply);
	else if (!strcmp(name, "kick"))
		cmd_kick(g, args, reply);
	else if (!strcmp(name, "whitelist"))
		cmd_whitelist(g, args, reply);
	else if (!strcmp(name, "config"))
		cmd_config(g, args, reply);
	else if (!strcmp(name, "help") || !strcmp(name, "h"))
		sg_replyf(reply, "Available commands: admins, ban, c, command, "
			      "config, demote, help, kick, measured-command, "
			      "players, promote, quit, sc, seed, server-save, "
			      "silent-command, unban, version, whitelist; "
			      "standin (test control, see the stand-in's "
			      "README).\n");
	else if (!strcmp(name, "version"))
		sg_replyf(reply, "%s\n", g->version);
	else if (!strcmp(name, "seed"))
		sg_replyf(reply, "%llu\n", (unsigned long long)g->map_seed);
	else if (!strcmp(name, "admins")) {
		sg_replyf(reply, "Admins (%zu):\n", g->admins.n);
		for (size_t i = 0; i < g->admins.n; i++)
			sg_replyf(reply, "  %s\n", g->admins.names[i]);
	} else if (!strcmp(name, "server-save") || !strcmp(name, "save"))
		(void)sg_server_save(g);
	else if (!strcmp(name, "quit")) {
		sg_plainf(g, "Quitting: remote-quit.");
		g->quit = true;
	} else
		return false;
	return true;
}

static void console_command_event(struct sg_game *g, const char *name,
				  const char *args)
{
	sg_event_begin(g);
	sg_event_setstr(g, "command", name);
	sg_event_setstr(g, "parameters", args);
	sg_event(g, SG_EV_CONSOLE_COMMAND);
}

void sg_command(struct sg_game *g, const char *cmd, size_t len,
		struct wbuf *reply)
{
	if (len > CMD_MAX)
		len = CMD_MAX;
	while (len && (cmd[len - 1] == '\n' || cmd[len - 1] == '\r'))
		len--;
	char *buf = malloc(len + 1);
	if (!buf)
		return;
	memcpy(buf, cmd, len);
	buf[len] = 0;
	if (buf[0] != '/') {
		if (buf[0]) {
			sg_actionf(g, "CHAT", "<server>: %s", buf);
			sg_event_begin(g);
			sg_event_setstr(g, "message", buf);
			sg_event(g, SG_EV_CONSOLE_CHAT);
		}
		free(buf);
		return;
	}
	char *args = buf + 1;
	char *name = sg_next_word(&args);
	if (!name) {
		sg_replyf(reply, "Unknown command \"\".\n");
	} else if (!strcmp(name, "standin")) {
		sg_standin_command(g, args, reply);
	} else if (builtin(g, name, args, reply)) {
		console_command_event(g, name, args);
	} else {
		struct wbuf *prev = g->reply;
		g->reply = reply;
		bool found = sg_lua_custom_command(g, name, args);
		g->reply = prev;
		if (found)
			console_command_event(g, name, args);
		else
			sg_replyf(reply, "Unknown command \"%s\".\n", name);
	}
	free(buf);
}
