/*
 * main.c: the command line of the stand-in, as the Factorio headless
 * server's (FACTORIO.md, "Command line"), and its start-up output.
 *
 * Options take their value as the next argument or after '='. An unknown
 * option or a missing value fails before anything starts, with an Error
 * line and exit status 1, as the game's option parser does.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "base/err.h"
#include "tools/factorio-standin/server.h"
#include "tools/factorio-standin/standin.h"

struct opts {
	const char *create, *start, *config, *settings, *scenario;
	bool load_latest;
	const char *adminlist, *banlist, *whitelist, *console_log;
	const char *rcon_password, *bind;
	uint64_t seed;
	int port, rcon_port;
	bool version, use_whitelist, continue_on_error;
	uint64_t autosave_ticks;
};

static struct sg_stdout out_ctx;
static FILE *console_log;

static void out_line(void *ctx, const char *line)
{
	sg_stdout_line(ctx, line);
	if (console_log) {
		fputs(line, console_log);
		fputc('\n', console_log);
		fflush(console_log);
	}
}

static void early_error(const char *fmt, const char *arg)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), fmt, arg);
	printf("%8.3f Error Util.cpp:83: %s\n", sg_stdout_uptime(&out_ctx),
	       msg);
	/* The game says Goodbye after fatal errors too; the exit status is
	 * what tells a failure from a clean stop. */
	printf("%8.3f Goodbye\n", sg_stdout_uptime(&out_ctx));
	fflush(stdout);
}

/* Options and whether they take a value; ignored ones are accepted for
 * command-line compatibility and have no effect here. */
struct optdef {
	const char *name;
	bool value;
	bool ignored;
};

static const struct optdef optdefs[] = {
	{"--version", false, false},	     {"-v", false, false},
	{"--create", true, false},	     {"--map-gen-seed", true, false},
	{"--start-server", true, false},     {"--port", true, false},
	{"--start-server-load-latest", false, false},
	{"--start-server-load-scenario", true, false},
	{"--use-authserver-bans", false, true}, {"--verbose", false, true},
	{"--rcon-port", true, false},	     {"--rcon-password", true, false},
	{"--rcon-bind", true, false},	     {"--bind", true, false},
	{"--config", true, false},	     {"--server-settings", true, false},
	{"--server-adminlist", true, false}, {"--server-banlist", true, false},
	{"--server-whitelist", true, false}, {"--use-server-whitelist", false, false},
	{"--console-log", true, false},	     {"--map-gen-settings", true, true},
	{"--map-settings", true, true},	     {"--preset", true, true},
	{"--mod-directory", true, true},     {"--server-id", true, true},
	{"--executable-path", true, true},   {"--disable-audio", false, true},
	{"--standin-continue-on-script-error", false, false},
	{"--standin-autosave-ticks", true, false},
	{NULL, false, false},
};

static bool parse_port(const char *v, int *out)
{
	char *end;
	const char *colon = strrchr(v, ':');
	long p = strtol(colon ? colon + 1 : v, &end, 10);
	if (*end || p < 0 || p > 65535)
		return false;
	*out = (int)p;
	return true;
}

static bool apply(struct opts *o, const char *name, const char *v)
{
	char *end = NULL;
	if (!strcmp(name, "--version") || !strcmp(name, "-v"))
		o->version = true;
	else if (!strcmp(name, "--create"))
		o->create = v;
	else if (!strcmp(name, "--map-gen-seed"))
		o->seed = strtoull(v, &end, 10);
	else if (!strcmp(name, "--start-server"))
		o->start = v;
	else if (!strcmp(name, "--start-server-load-latest"))
		o->load_latest = true;
	else if (!strcmp(name, "--start-server-load-scenario"))
		o->scenario = v;
	else if (!strcmp(name, "--port"))
		return parse_port(v, &o->port);
	else if (!strcmp(name, "--rcon-port") || !strcmp(name, "--rcon-bind"))
		return parse_port(v, &o->rcon_port);
	else if (!strcmp(name, "--rcon-password"))
		o->rcon_password = v;
	else if (!strcmp(name, "--bind"))
		o->bind = v;
	else if (!strcmp(name, "--config"))
		o->config = v;
	else if (!strcmp(name, "--server-settings"))
		o->settings = v;
	else if (!strcmp(name, "--server-adminlist"))
		o->adminlist = v;
	else if (!strcmp(name, "--server-banlist"))
		o->banlist = v;
	else if (!strcmp(name, "--server-whitelist"))
		o->whitelist = v;
	else if (!strcmp(name, "--use-server-whitelist"))
		o->use_whitelist = true;
	else if (!strcmp(name, "--console-log"))
		o->console_log = v;
	else if (!strcmp(name, "--standin-continue-on-script-error"))
		o->continue_on_error = true;
	else if (!strcmp(name, "--standin-autosave-ticks"))
		o->autosave_ticks = strtoull(v, &end, 10);
	return !end || *end == 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		char name[128];
		const char *eq = strchr(argv[i], '=');
		size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		snprintf(name, sizeof(name), "%.*s", (int)n, argv[i]);
		const struct optdef *d = optdefs;
		while (d->name && strcmp(d->name, name) != 0)
			d++;
		if (!d->name) {
			early_error("unrecognised option '%s'", name);
			return -1;
		}
		const char *v = eq ? eq + 1 : NULL;
		if (d->value && !v) {
			if (i + 1 >= argc) {
				early_error("the required argument for option "
					    "'%s' is missing", name);
				return -1;
			}
			v = argv[++i];
		}
		/* --use-server-whitelist may be followed by true/false. */
		if (!d->value && !strcmp(name, "--use-server-whitelist") &&
		    i + 1 < argc &&
		    (!strcmp(argv[i + 1], "true") ||
		     !strcmp(argv[i + 1], "false"))) {
			if (!strcmp(argv[++i], "false"))
				continue;
		}
		if (!d->ignored && !apply(o, name, v ? v : "")) {
			early_error("the argument for option '%s' is invalid",
				    name);
			return -1;
		}
	}
	return 0;
}

/* ---- paths ------------------------------------------------------------- */

static void exe_dir(char *out, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0) {
		snprintf(out, len, ".");
		return;
	}
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
	snprintf(out, len, "%s", buf);
}

/* Replaces __PATH__executable__ and __PATH__system-write-data__. */
static void expand_path(const char *in, const char *bin, char *out,
			size_t len)
{
	const char *macros[2] = {"__PATH__executable__",
				 "__PATH__system-write-data__"};
	char root[PATH_MAX + 16];
	snprintf(root, sizeof(root), "%s/../..", bin);
	for (int m = 0; m < 2; m++) {
		size_t ml = strlen(macros[m]);
		if (strncmp(in, macros[m], ml) == 0) {
			snprintf(out, len, "%s%s", m == 0 ? bin : root,
				 in + ml);
			return;
		}
	}
	snprintf(out, len, "%s", in);
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
		     s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
}

/* Reads [path] read-data and write-data from config.ini. */
static int read_config(const char *path, const char *bin, char *rd,
		       char *wd, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[PATH_MAX + 64];
	bool in_path = false;
	while (fgets(line, sizeof(line), f)) {
		trim(line);
		if (line[0] == '[') {
			in_path = strcmp(line, "[path]") == 0;
			continue;
		}
		char *eq = strchr(line, '=');
		if (!in_path || !eq || line[0] == ';' || line[0] == '#')
			continue;
		*eq = 0;
		trim(line);
		const char *v = eq + 1;
		while (*v == ' ')
			v++;
		if (!strcmp(line, "read-data"))
			expand_path(v, bin, rd, len);
		else if (!strcmp(line, "write-data"))
			expand_path(v, bin, wd, len);
	}
	fclose(f);
	return 0;
}

static void mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = 0;
		(void)mkdir(buf, 0755);
		*s = '/';
	}
}

/* ---- start-up ------------------------------------------------------------ */

static void banner(struct sg_game *g, int argc, char **argv, const char *bin)
{
	char date[32], args[2048] = "";
	sg_stdout_date(NULL, date);
	sg_plainf(g, "%s; Factorio %s (build %s, linux64, headless)", date,
		  SG_VERSION, SG_BUILD);
	sg_plainf(g, "Operating system: Linux");
	size_t n = 0;
	for (int i = 0; i < argc && n < sizeof(args) - 1; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, "%s%s",
				      i ? " " : "", argv[i]);
	sg_plainf(g, "Program arguments: %s", args);
	sg_plainf(g, "Read data path: %s", g->read_data);
	sg_plainf(g, "Write data path: %s", g->write_data);
	sg_plainf(g, "Binaries path: %s", bin);
	sg_plainf(g, "Running in headless mode");
}

static int do_create(struct sg_game *g, const struct opts *o)
{
	sg_plainf(g, "Creating new map %s", o->create);
	mkdir_parents(o->create);
	if (sg_new_game(g, o->create, o->seed) < 0 || sg_start(g) < 0)
		return 1;
	sg_logf(g, "Info", "AppManagerStates.cpp:1877",
		"Saving map as %s (blocking).", o->create);
	if (sg_write(g, o->create) < 0)
		return 1;
	sg_logf(g, "Info", "AppManagerStates.cpp:2091", "Saving finished");
	return 0;
}

static char *list_path(struct sg_game *g, const char *given,
		       const char *name)
{
	char buf[PATH_MAX];
	if (given)
		return strdup(given);
	if (!g->write_data)
		return NULL;
	snprintf(buf, sizeof(buf), "%s/%s", g->write_data, name);
	return strdup(buf);
}

static int load_lists(struct sg_game *g, const struct opts *o)
{
	g->adminlist_path = list_path(g, o->adminlist, "server-adminlist.json");
	g->banlist_path = list_path(g, o->banlist, "server-banlist.json");
	g->whitelist_path = list_path(g, o->whitelist, "server-whitelist.json");
	struct {
		struct sg_namelist *l;
		const char *path;
	} lists[3] = {{&g->admins, g->adminlist_path},
		      {&g->bans, g->banlist_path},
		      {&g->whitelist, g->whitelist_path}};
	for (int i = 0; i < 3; i++) {
		if (lists[i].path && sg_list_load(lists[i].l, lists[i].path)) {
			sg_logf(g, "Error", "ServerMultiplayerManager.cpp:1153",
				"Failed to load %s", lists[i].path);
			return -1;
		}
	}
	g->use_whitelist = o->use_whitelist;
	return 0;
}

/* The newest .zip in <write-data>/saves, as --start-server-load-latest. */
static int latest_save(struct sg_game *g, char *out, size_t len)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/saves", g->write_data ? g->write_data
							      : ".");
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	time_t best = 0;
	struct dirent *e;
	out[0] = 0;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[PATH_MAX + 256];
		struct stat st;
		if (n < 5 || strcmp(e->d_name + n - 4, ".zip") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (!out[0] || st.st_mtime > best)) {
			best = st.st_mtime;
			snprintf(out, len, "%s", path);
		}
	}
	closedir(d);
	return out[0] ? 0 : -1;
}

static int load_save_file(struct sg_game *g, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		sg_logf(g, "Error", "Main.cpp:1142",
			"Map file %s doesn't exist.", path);
		return -1;
	}
	sg_plainf(g, "Loading map %s: %lld bytes.", path,
		  (long long)st.st_size);
	if (sg_load(g, path) < 0) {
		sg_logf(g, "Error", "Main.cpp:1142",
			"Failed to load map %s: the save is damaged.", path);
		return -1;
	}
	g->save_path = strdup(path);
	return g->save_path ? 0 : -1;
}

static int load_world(struct sg_game *g, const struct opts *o)
{
	if (o->scenario) {
		sg_plainf(g, "Loading scenario %s", o->scenario);
		if (sg_load_scenario(g, o->scenario, o->seed) < 0) {
			sg_logf(g, "Error", "Main.cpp:1142",
				"Unknown scenario %s.", o->scenario);
			return -1;
		}
		return 0;
	}
	if (o->start)
		return load_save_file(g, o->start);
	char path[PATH_MAX + 256];
	if (latest_save(g, path, sizeof(path)) < 0) {
		sg_logf(g, "Error", "Main.cpp:1142",
			"No save files found in the saves folder.");
		return -1;
	}
	return load_save_file(g, path);
}

static int do_start(struct sg_game *g, const struct opts *o)
{
	char err[512];
	if (o->settings &&
	    sg_settings_load(&g->settings, o->settings, err, sizeof(err)) < 0) {
		sg_logf(g, "Error", "ServerSettings.cpp:66", "%s", err);
		return 1;
	}
	if (o->autosave_ticks)
		g->settings.autosave_ticks = o->autosave_ticks;
	g->continue_on_script_error = o->continue_on_error;
	if (load_lists(g, o) < 0)
		return 1;
	if (load_world(g, o) < 0)
		return 1;
	sg_logf(g, "Info", "Scenario.cpp:204", "Map version %s-0", SG_VERSION);
	if (sg_start(g) < 0)
		return 1;
	/* --bind ADDR[:PORT]; an explicit --port wins over the PORT. */
	char bind[64] = "";
	int port = 34197;
	if (o->bind) {
		snprintf(bind, sizeof(bind), "%s", o->bind);
		char *colon = strchr(bind, ':');
		if (colon) {
			*colon = 0;
			if (!parse_port(colon + 1, &port)) {
				early_error("invalid --bind %s", o->bind);
				return 1;
			}
		}
	}
	if (o->port)
		port = o->port;
	struct sg_server_opts so = {port, o->rcon_port,
				    o->rcon_password ? o->rcon_password : "",
				    bind[0] ? bind : NULL};
	return sg_server_run(g, &so);
}

int main(int argc, char **argv)
{
	out_ctx.start_ns = uv_hrtime();
	struct opts o;
	if (parse_args(argc, argv, &o) < 0)
		return 1;
	if (o.version) {
		printf("Version: %s (build %s, linux64, headless)\n"
		       "Binary version: 64\nMap input version: 1.0.0-0\n"
		       "Map output version: %s-0\n",
		       SG_VERSION, SG_BUILD, SG_VERSION);
		return 0;
	}
	if (!o.create && !o.start && !o.load_latest && !o.scenario) {
		early_error("%s", "No action: use --create or --start-server.");
		return 1;
	}
	if (o.console_log)
		console_log = fopen(o.console_log, "a");
	char bin[PATH_MAX], rd[PATH_MAX + 64], wd[PATH_MAX + 64];
	exe_dir(bin, sizeof(bin));
	snprintf(rd, sizeof(rd), "%s/../../data", bin);
	snprintf(wd, sizeof(wd), "%s/../..", bin);
	if (o.config && read_config(o.config, bin, rd, wd, sizeof(rd)) < 0) {
		early_error("Cannot read config file %s", o.config);
		return 1;
	}
	struct sg_out out = {out_line, sg_stdout_uptime, sg_stdout_date,
			     &out_ctx};
	struct sg_game g;
	if (sg_game_init(&g, &out, rd, wd) < 0)
		return 1;
	banner(&g, argc, argv, bin);
	int rc = o.create ? do_create(&g, &o) : do_start(&g, &o);
	sg_plainf(&g, "Goodbye");
	sg_game_free(&g);
	if (console_log)
		fclose(console_log);
	return rc;
}
