/*
 * standin.h: the game state of the Factorio stand-in, as a library.
 *
 * The stand-in (see README.md next to this file) imitates the Factorio 1.1
 * and 2.0 headless servers wherever a manager depends on them. This header
 * is the socket-free core: the world (players, their inventories,
 * containers, user lists, the tick), the Lua 5.2 VMs running the save's
 * control.lua and each mod's with the Factorio API subset of README.md
 * ("Lua"), the mods, the console commands, and saves. The event loop, the
 * RCON server and the command line live in server.c and main.c; unit tests
 * drive this core directly.
 *
 * Output follows Factorio's three line shapes (README.md, "Standard
 * output"); every line goes through struct sg_out so tests can capture it.
 * Time is injected the same way: the core never reads a clock itself.
 */
#ifndef CLUSTERD_STANDIN_H
#define CLUSTERD_STANDIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"

struct lua_State;

/* The version an install reports when its data/changelog.txt names none
 * (the build's own install says 2.0.28). The version chosen picks the Lua
 * API: 1.x is Factorio 1.1's, anything newer 2.0's (README, "Factorio 1.1
 * and 2.0"). */
#define SG_VERSION "2.0.28"
#define SG_BUILD "80710"
#define SG_BUILD_1_1 "62320"
#define SG_MODS_MAX 256        /* enabled mods loaded at once */
#define SG_MOD_FILES_MAX 4096  /* files kept per mod */
#define SG_MOD_BYTES_MAX (64u << 20) /* Lua and JSON bytes kept per mod */
#define SG_MOD_DEPS_MAX 64     /* dependencies read per mod */

#define SG_NAME_MAX 64 /* player, item and entity names, with the NUL */
/* Bounds on the world; Factorio has none this small, but a test world
 * never comes near them and every array needs a limit (docs/contributing.md: a limit on everything). */
#define SG_PLAYERS_MAX 4096
#define SG_ENTITIES_MAX 100000
#define SG_LIST_MAX 10000   /* admins, bans, whitelist entries each */
#define SG_MSGS_MAX 32      /* messages kept per player (player.print) */
#define SG_REPLY_MAX (4u << 20) /* one RCON reply; Factorio sends ~100 kB */
#define SG_TICKS_PER_SECOND 60
#define SG_MAIN_SLOTS 80    /* a 2.0 character's main inventory */

/* Where lines go. line() gets one line without its newline. uptime()
 * gives seconds since start, date() writes "YYYY-MM-DD HH:MM:SS". */
struct sg_out {
	void (*line)(void *ctx, const char *line);
	double (*uptime)(void *ctx);
	void (*date)(void *ctx, char out[32]);
	void *ctx;
};

struct sg_item_count {
	char name[SG_NAME_MAX];
	uint32_t count;
};

/* An inventory holds at most `slots` stacks. Items are kept merged by
 * name (no slot order), so `items` never needs more than `slots` entries. */
struct sg_inventory {
	uint32_t slots;
	uint32_t n;
	struct sg_item_count *items; /* owned, `slots` entries */
	/* Items with data (blueprints, books): each one stack of its own at
	 * a fixed slot (1-based); plain items fill the other slots in
	 * order. Owned, up to `slots` entries (player_ext.c). */
	uint32_t ndata;
	struct sg_data_stack *data;
};

/* An item that carries data (its export string). */
#define SG_DATA_MAX (1u << 20)
struct sg_data_stack {
	uint32_t slot;
	char name[SG_NAME_MAX];
	char *data; /* owned, NUL-terminated ("" for an empty blueprint) */
};

/* The player's inventories besides main (defines.inventory values in
 * lua_game.c), the cursor as a one-slot inventory, and what else
 * inventory sync moves (player_ext.c). */
enum {
	SG_PINV_GUNS = 0,
	SG_PINV_AMMO,
	SG_PINV_ARMOR,
	SG_PINV_TRASH,
	SG_PINV_CURSOR,
	SG_PINV_N,
};
#define SG_QUICKBAR_SLOTS 100
#define SG_CRAFT_MAX 64
#define SG_LOGI_SLOTS 100
#define SG_GUI_MAX 32
#define SG_TEXT_MAX 128
struct sg_gui_elem {
	bool used;
	uint8_t parent; /* 0: the screen root; else an index + 1 */
	char name[SG_NAME_MAX];
	char type[24];
	double value;
	char caption[SG_TEXT_MAX];
};
struct sg_pext {
	struct sg_inventory inv[SG_PINV_N];
	char quickbar[SG_QUICKBAR_SLOTS][SG_NAME_MAX];
	struct {
		char recipe[SG_NAME_MAX];
		uint32_t count;
	} craft[SG_CRAFT_MAX];
	uint32_t ncraft;
	struct {
		char name[SG_NAME_MAX]; /* "": empty */
		uint32_t min, max;
	} logi[SG_LOGI_SLOTS];
	char tag[SG_TEXT_MAX];
	double color[4];
	struct sg_gui_elem gui[SG_GUI_MAX];
};

struct sg_player {
	uint32_t index; /* 1-based, as game.players[i] */
	char name[SG_NAME_MAX];
	bool connected;
	bool admin;
	uint8_t controller; /* defines.controllers value, character = 1 */
	uint64_t online_ticks;
	uint64_t active_tick; /* last join or chat, for afk_autokick_interval */
	struct sg_inventory main;
	struct sg_pext *x; /* owned (player_ext.c) */
	uint32_t nmsgs; /* ring of the last SG_MSGS_MAX printed messages */
	char *msgs[SG_MSGS_MAX];
};

struct sg_entity {
	uint32_t unit_number; /* 1-based index into sg_game.entities */
	char name[SG_NAME_MAX];
	const char *type; /* static prototype type, "container" ... */
	double x, y;
	bool valid;
	struct sg_inventory inv; /* slots == 0 when it has none */
};

/* An admin, ban or whitelist list; reasons only for bans. */
struct sg_namelist {
	size_t n, cap;
	char **names;   /* owned */
	char **reasons; /* owned, entries may be NULL */
};

/* The Lua API a game offers: Factorio 1.1's or 2.0's. */
enum sg_api { SG_API_1_1 = 1, SG_API_2_0 = 2 };

struct sg_settings {
	char name[128];
	char description[256];
	uint32_t autosave_interval_min; /* 0 disables */
	uint32_t autosave_slots;
	uint64_t autosave_ticks; /* standin override; 0 = use minutes */
	bool auto_pause;
	uint32_t max_players; /* 0 = unlimited */
	bool allow_commands_admins_only;
	char game_password[128];
	bool non_blocking_saving;   /* autosave line says (non-blocking) */
	bool ignore_player_limit_for_returning_players;
	bool auto_pause_when_players_connect; /* 2.0; no effect here */
	uint32_t afk_autokick_min; /* 0 = never */
};

/* A file of the save's root folder (control.lua, modules, level.dat0). */
struct sg_file {
	char *path; /* relative to the root folder, owned */
	char *data; /* owned, NUL-terminated for convenience */
	size_t len;
};

/* An enabled mod (mods.c): its files and, when it has a control.lua, its
 * own Lua state, as each mod has in the game. */
struct sg_mod {
	char name[SG_NAME_MAX];
	char version[32];
	struct sg_file *files; /* owned: info.json and every .lua file */
	size_t nfiles;
	uint32_t checksum;     /* CRC-32 of its files, for the start lines */
	struct lua_State *L;   /* NULL without control.lua */
	bool in_save;          /* the loaded save holds its storage */
	char *pending_storage; /* owned, as sg_game's */
	size_t pending_storage_len;
};

/* A difference between the mods a save was written with and the running
 * ones; "" for a side that has none. */
struct sg_mod_change {
	char name[SG_NAME_MAX];
	char old_version[32];
	char new_version[32];
};

struct sg_game {
	struct sg_out out;
	/* The Lua state being driven: the level's, except while a mod's
	 * handler runs (lua_core.c switches it and switches it back). */
	struct lua_State *L;
	struct lua_State *level_L;
	char version[32]; /* from <read-data>/changelog.txt */
	enum sg_api api;
	struct sg_mod *mods; /* in load order (dependencies first), owned */
	size_t nmods;
	uint64_t tick;
	uint64_t map_seed;

	struct sg_player *players; /* players[i].index == i + 1 */
	size_t nplayers, players_cap;
	struct sg_entity *entities; /* entities[i].unit_number == i + 1 */
	size_t nentities, entities_cap;

	struct sg_namelist admins, bans, whitelist;
	bool use_whitelist;
	struct sg_settings settings;

	/* The save: its root folder name and scenario files. */
	char root[128];
	struct sg_file *files;
	size_t nfiles;
	char *save_path;  /* where quit saves; owned, may be NULL */
	char *read_data;  /* the install's data dir; owned */
	char *write_data; /* script-output/ and saves/ live here; owned */
	char *adminlist_path, *banlist_path, *whitelist_path; /* owned */

	struct wbuf *reply;   /* rcon.print target while a command runs */
	bool lua_used;        /* achievements disabled: Lua commands run */
	bool quit;            /* /quit or a fatal script error */
	int exit_code;
	bool continue_on_script_error; /* standin option, see README */
	uint32_t autosave_slot;  /* last autosave slot used, 0 = none */
	uint64_t autosave_due;   /* tick of the next autosave */
	int32_t next_custom_event;
	bool new_world;        /* no world state yet: on_init on start */
	char *saved_mods; /* {"name": "version"} of the loaded save, owned */
	char *pending_storage; /* storage chunk read from the save, owned */
	size_t pending_storage_len;
	uint32_t restore_steps;     /* millions of instructions restoring */
	uint32_t restore_steps_max; /* 0 = the default (lua_store.c) */
};

/* Lifecycle. init copies the paths, reads the version from
 * <read_data>/changelog.txt (SG_VERSION without one) and opens the
 * level's Lua state for that version; free releases everything. */
int sg_game_init(struct sg_game *g, const struct sg_out *out,
		 const char *read_data, const char *write_data);
void sg_game_free(struct sg_game *g);

/* Saves (save.c). sg_new_game fills a fresh freeplay scenario; sg_load
 * reads a zip. sg_start runs control.lua, then on_init (new world) or
 * on_load (a world read from the save). sg_write writes a zip atomically. */
int sg_new_game(struct sg_game *g, const char *save_name, uint64_t seed);
int sg_load(struct sg_game *g, const char *path);
/* A new world from a scenario: "freeplay" (or "base/freeplay"), the
 * folder <write-data>/scenarios/<name> with its control.lua, or "mod/name":
 * the folder scenarios/<name> of a loaded mod. */
int sg_load_scenario(struct sg_game *g, const char *name, uint64_t seed);
/* Adds or replaces a file of the save's root folder (a copy of text). */
int sg_file_put(struct sg_game *g, const char *path, const char *text);
int sg_start(struct sg_game *g);
int sg_write(struct sg_game *g, const char *path);
/* As sg_write, without logging: the reason goes to err. */
int sg_write_as(struct sg_game *g, const char *path, char *err,
		size_t errlen);
/* Saves to _autosaveN.zip in the saves folder, with Factorio's lines. */
int sg_autosave(struct sg_game *g);
/* The save on exit (quit, SIGINT): "Saving map as" ... "Saving finished";
 * /server-save: "Saving game as" / "Saving finished". Without a save path
 * (a scenario start) both print the game's "Can't save to default
 * location" line and return ERR_NOTFOUND. */
int sg_save_on_exit(struct sg_game *g);
int sg_server_save(struct sg_game *g);

/* One game tick: tick advances (unless auto-paused with nobody online),
 * on_tick and on_nth_tick run, an autosave happens when due. */
void sg_tick(struct sg_game *g);
bool sg_paused(const struct sg_game *g);
uint64_t sg_autosave_interval(const struct sg_game *g);

/* Runs one console command as the server (RCON or stdin). What the
 * command answers is appended to reply (may be NULL to drop it). */
/* Appends formatted text to a console reply (r may be NULL: no reply). */
void sg_replyf(struct wbuf *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Splits the next space-separated word off *p, NUL-terminating it in
 * place; NULL when none is left. */
char *sg_next_word(char **p);
/* Frees the save's scenario files. */
void sg_files_clear(struct sg_game *g);

void sg_command(struct sg_game *g, const char *cmd, size_t len,
		struct wbuf *reply);

/* Players (game.c). join returns ERR_PERM if banned or not whitelisted. */
struct sg_player *sg_player_create(struct sg_game *g, const char *name);
struct sg_player *sg_player_find(struct sg_game *g, const char *name);
struct sg_player *sg_player_get(struct sg_game *g, uint32_t index);
int sg_player_join(struct sg_game *g, const char *name, const char **why);
int sg_player_leave(struct sg_game *g, const char *name, int reason);
void sg_player_print(struct sg_player *p, const char *msg);

/* Entities. name must be a known prototype (sg_proto_entity). */
struct sg_entity *sg_entity_create(struct sg_game *g, const char *name,
				   double x, double y);
struct sg_entity *sg_entity_get(struct sg_game *g, uint32_t unit_number);
void sg_entity_destroy(struct sg_game *g, struct sg_entity *e);

/* Prototypes (proto.c). Stack size 0 means "no such item". */
uint32_t sg_proto_stack_size(const char *item);
int sg_proto_item_add(const char *item, uint32_t stack_size);
/* Returns the entity type ("container", ...) or NULL; *slots gets the
 * chest size (0 for entities without a chest inventory). */
const char *sg_proto_entity(const char *name, uint32_t *slots);

/* Inventories: merged counts bounded by slots * stack size. */
int sg_inv_init(struct sg_inventory *inv, uint32_t slots);
void sg_inv_free(struct sg_inventory *inv);
uint32_t sg_inv_insert(struct sg_inventory *inv, const char *item,
		       uint32_t count);
uint32_t sg_inv_remove(struct sg_inventory *inv, const char *item,
		       uint32_t count);
uint32_t sg_inv_count(const struct sg_inventory *inv, const char *item);
uint32_t sg_inv_used_slots(const struct sg_inventory *inv);

/* player_ext.c: items with data, the other player inventories, and a
 * dump of everything inventory sync moves. */
bool sg_item_has_data(const char *item);
/* Adds an item with data at the first free slot (or `slot` if free and
 * not 0); returns its slot, or 0 when there is no room. data copied. */
uint32_t sg_inv_add_data(struct sg_inventory *inv, const char *item,
			 const char *data, uint32_t slot);
/* The stack at slot (1-based) as the game would lay it out: *data is
 * the data stack there or NULL; else *name and *count the plain stack (count
 * 0: empty slot). */
void sg_inv_slot(const struct sg_inventory *inv, uint32_t slot,
		 struct sg_data_stack **data, const char **name,
		 uint32_t *count);
void sg_inv_remove_data(struct sg_inventory *inv, uint32_t slot);
int sg_pext_init(struct sg_player *p);
void sg_pext_free(struct sg_player *p);
/* The player's inventories as JSON text (the caller frees), stable: the
 * same contents print the same text. */
char *sg_player_dump(const struct sg_player *p);
struct cJSON *sg_player_dump_json(const struct sg_player *p);
int sg_player_load_json(struct sg_player *p, const struct cJSON *o);
void sg_inv_clear(struct sg_inventory *inv);

/* User lists. */
bool sg_list_has(const struct sg_namelist *l, const char *name);
int sg_list_add(struct sg_namelist *l, const char *name, const char *reason);
bool sg_list_remove(struct sg_namelist *l, const char *name);
void sg_list_clear(struct sg_namelist *l);
void sg_list_free(struct sg_namelist *l);
/* Reads/writes the JSON list files (an array of names, or for bans of
 * {username, reason}). A missing file is an empty list. */
int sg_list_load(struct sg_namelist *l, const char *path);
int sg_list_store(const struct sg_namelist *l, const char *path, bool bans);

/* Reads a whole file of at most max bytes (NUL-terminated, caller frees);
 * NULL with errno set on failure. */
char *sg_read_file(const char *path, size_t max, size_t *len);

/* The first "Version: X.Y.Z" line of a changelog.txt into out; false if
 * the file or the line is missing. */
bool sg_changelog_version(const char *read_data, char *out, size_t len);
/* Sets g->version and g->api; the level's Lua state must not be open yet
 * or is reopened (tests use it to make a 1.1 game). */
int sg_game_set_version(struct sg_game *g, const char *version);
static inline const char *sg_storage_global(const struct sg_game *g)
{
	return g->api == SG_API_1_1 ? "global" : "storage";
}

/* Mods (mods.c). sg_mods_load reads <dir>/mod-list.json and the enabled
 * mods of dir (zips or folders with info.json), orders them so that
 * dependencies come first, prints the start lines the game prints for
 * mods, and opens a Lua state for each mod with a control.lua. A missing
 * or incompatible dependency is an Error line and ERR_CONFIG. dir may not
 * exist: then only base is loaded. */
int sg_mods_load(struct sg_game *g, const char *dir);
void sg_mods_free(struct sg_game *g);
struct sg_mod *sg_mod_find(struct sg_game *g, const char *name);
/* Compares dotted versions numerically: <0, 0, >0. */
int sg_version_cmp(const char *a, const char *b);

/* Settings (settings.c): server-settings.json into g->settings. */
void sg_settings_defaults(struct sg_settings *s);
int sg_settings_load(struct sg_settings *s, const char *path,
		     char *err, size_t errlen);

/* Output in Factorio's shapes. level is "Info", "Warning", "Error",
 * "Verbose" or "Script"; where is the "File.cpp:123" part (may be NULL). */
void sg_logf(struct sg_game *g, const char *level, const char *where,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void sg_plainf(struct sg_game *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sg_actionf(struct sg_game *g, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sg_raw(struct sg_game *g, const char *text);

/* Lua side (lua_core.c, lua_game.c). sg_lua_open opens the level's
 * state; sg_lua_open_mod a mod's (its script.mod_name is the mod's name,
 * require finds its files). */
int sg_lua_open(struct sg_game *g);
int sg_lua_open_mod(struct sg_game *g, struct sg_mod *m);
void sg_lua_close(struct sg_game *g);
/* Runs /sc code inside a mod's state (/sc __name__ code); false if there
 * is no such mod with a Lua state. */
bool sg_lua_mod_command(struct sg_game *g, const char *mod, const char *code,
			size_t len);
/* Makes L the state being driven (g->L) and returns the previous one,
 * which the caller puts back: g->L = prev. */
struct lua_State *sg_lua_enter(struct sg_game *g, struct lua_State *L);
/* Raises a built-in event: the event table must be on top of the Lua
 * stack (it is popped); name and tick are filled in here. */
void sg_event(struct sg_game *g, int32_t id);
/* Pushes a new event table for the next sg_event call; setint and setstr
 * add fields to it. */
void sg_event_begin(struct sg_game *g);
void sg_event_setint(struct sg_game *g, const char *key, int64_t v);
void sg_event_setstr(struct sg_game *g, const char *key, const char *v);
/* Sets event.entity to a LuaEntity of e. */
void sg_event_setentity(struct sg_game *g, const char *key,
			const struct sg_entity *e);
/* on_tick and on_nth_tick handlers for the current tick. */
void sg_lua_tick(struct sg_game *g);
/* Runs Lua text from /sc or /c (code[len] must be NUL); output goes to
 * g->reply through rcon.print. */
void sg_lua_command(struct sg_game *g, const char *code, size_t len);
/* Runs a command added with commands.add_command; false if none. */
bool sg_lua_custom_command(struct sg_game *g, const char *name,
			   const char *param);
/* Runs control.lua (false on a load error, reported); runs a lifecycle
 * handler ("on_init", "on_load") if the script registered one. Both act on
 * g->L; sg_start (save.c) drives every mod's state, then the level's. */
bool sg_lua_run_control(struct sg_game *g);
void sg_lua_lifecycle(struct sg_game *g, const char *which);
/* Calls on_configuration_changed in every state (mods, then the level)
 * with {mod_changes = {[name] = {old_version, new_version}}, ...}. */
void sg_lua_configuration_changed(struct sg_game *g,
				  const struct sg_mod_change *c, size_t n);
/* storage as a Lua-literal chunk, and back (lua_store.c). */
int sg_storage_dump(struct sg_game *g, struct wbuf *out, char *err,
		    size_t errlen);
int sg_storage_restore(struct sg_game *g, const char *chunk, size_t len,
		       char *err, size_t errlen);

/* Event ids (defines.events), stable numbers as in Factorio's table. */
enum sg_event_id {
	SG_EV_ON_TICK = 0,
	SG_EV_PLAYER_CREATED,
	SG_EV_PLAYER_JOINED,
	SG_EV_PLAYER_LEFT,
	SG_EV_PRE_PLAYER_LEFT,
	SG_EV_PLAYER_BANNED,
	SG_EV_PLAYER_UNBANNED,
	SG_EV_PLAYER_PROMOTED,
	SG_EV_PLAYER_DEMOTED,
	SG_EV_BUILT_ENTITY,
	SG_EV_ENTITY_DIED,
	SG_EV_CONSOLE_CHAT,
	SG_EV_CONSOLE_COMMAND,
	SG_EV_PLAYER_KICKED,
	SG_EV_SCRIPT_RAISED_BUILT,
	SG_EV_SCRIPT_RAISED_DESTROY,
	SG_EV_ROCKET_LAUNCHED,
	SG_EV_PLAYER_REMOVED,
	SG_EV_COUNT_,
};
#define SG_EV_CUSTOM_BASE 1000

/* defines.disconnect_reason */
enum sg_disconnect {
	SG_DR_QUIT = 0,
	SG_DR_DROPPED = 1,
	SG_DR_RECONNECT = 2,
	SG_DR_WRONG_INPUT = 3,
	SG_DR_DESYNC_LIMIT = 4,
	SG_DR_CANNOT_KEEP_UP = 5,
	SG_DR_AFK = 6,
	SG_DR_KICKED = 7,
	SG_DR_KICKED_AND_DELETED = 8,
	SG_DR_BANNED = 9,
	SG_DR_SWITCHING_SERVERS = 11,
};

extern const char *const sg_event_names[SG_EV_COUNT_];

#endif
