/*
 * main.c: the command line of the stand-in, as the Factorio headless
 * server's (README.md, "Command line"), and its start-up output.
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
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "base/err.h"
#include "tools/factorio-standin/server.h"
#include "tools/factorio-standin/standin.h"

struct opts {
	const char *create, *start, *config, *settings, *scenario, *mod_dir;
	bool load_latest;
	const char *adminlist, *banlist, *whitelist, *console_log;
	const char *rcon_password, *bind;
	uint64_t seed;
	int port, rcon_port;
	bool version, help, use_whitelist, continue_on_error;
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

/* Options, whether they take a value, and their line in --help; ignored
 * ones are accepted for command-line compatibility and have no effect. */
struct optdef {
	const char *name;
	bool value;
	bool ignored;
	const char *arg;  /* the value's name in --help */
	const char *help; /* NULL: not listed */
};

static const struct optdef optdefs[] = {
	{"--help", false, false, NULL, "print this list of options"},
	{"-h", false, false, NULL, NULL},
	{"--version", false, false, NULL, "print the version and exit"},
	{"-v", false, false, NULL, NULL},
	{"--verbose", false, true, NULL, "more log lines (no effect here)"},
	{"--config", true, false, "PATH", "the config.ini to use"},
	{"-c", true, false, "PATH", NULL},
	{"--mod-directory", true, false, "PATH",
	 "the mods to load (default <write-data>/mods)"},
	{"--executable-path", true, true, "PATH",
	 "replaces __PATH__executable__ (no effect here)"},
	{"--disable-audio", false, true, NULL, "no sound (a server has none)"},
	{"--create", true, false, "FILE", "create a new map, save it, exit"},
	{"--map-gen-settings", true, true, "FILE",
	 "map generation settings (no effect here)"},
	{"--map-gen-seed", true, false, "SEED", "the seed of the new map"},
	{"--map-settings", true, true, "FILE", "map settings (no effect here)"},
	{"--preset", true, true, "NAME", "a map preset (no effect here)"},
	{"--start-server", true, false, "FILE", "host the save FILE"},
	{"--start-server-load-scenario", true, false, "NAME",
	 "host a new game of the scenario NAME"},
	{"--start-server-load-latest", false, false, NULL,
	 "host the newest save of <write-data>/saves"},
	{"--port", true, false, "N", "the game's UDP port"},
	{"--bind", true, false, "ADDRESS[:PORT]", "the address to bind to"},
	{"--rcon-port", true, false, "N", "the RCON port"},
	{"--rcon-bind", true, false, "ADDRESS:PORT", "RCON address and port"},
	{"--rcon-password", true, false, "PASSWORD", "the RCON password"},
	{"--server-settings", true, false, "FILE",
	 "server settings (default <write-data>/server-settings.json)"},
	{"--use-server-whitelist", false, false, NULL,
	 "admit only whitelisted players"},
	{"--server-whitelist", true, false, "FILE", "the whitelist file"},
	{"--server-banlist", true, false, "FILE", "the ban list file"},
	{"--server-adminlist", true, false, "FILE", "the admin list file"},
	{"--console-log", true, false, "FILE",
	 "append a copy of the log to FILE"},
	{"--server-id", true, true, "FILE", "server id file (no effect here)"},
	{"--use-authserver-bans", false, true, NULL,
	 "consult the auth server's bans (no effect here)"},
	{"--standin-continue-on-script-error", false, false, NULL,
	 "stand-in: keep running after a script error"},
	{"--standin-autosave-ticks", true, false, "N",
	 "stand-in: autosave every N ticks"},
	{NULL, false, false, NULL, NULL},
};

/* --help: one line per option, the option and its value name in a column,
 * as the game's usage lists them. */
static void usage(void)
{
	printf("Usage: factorio [OPTIONS]\n\nOptions:\n");
	for (const struct optdef *d = optdefs; d->name; d++) {
		char left[80];
		if (!d->help)
			continue;
		snprintf(left, sizeof(left), "%s%s%s", d->name,
			 d->arg ? " " : "", d->arg ? d->arg : "");
		printf("  %-38s%s\n", left, d->help);
	}
	fflush(stdout);
}

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
	else if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		o->help = true;
	else if (!strcmp(name, "--mod-directory"))
		o->mod_dir = v;
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
	else if (!strcmp(name, "--config") || !strcmp(name, "-c"))
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

/* The arguments as the game lists them: each quoted, each followed by a
 * space, the RCON password replaced by <private>. */
static void quoted_args(int argc, char **argv, char *out, size_t len)
{
	size_t n = 0;
	out[0] = 0;
	for (int i = 0; i < argc && n < len; i++) {
		bool secret = (i > 0 && !strcmp(argv[i - 1], "--rcon-password")) ||
			      !strncmp(argv[i], "--rcon-password=", 16);
		int w = secret ? snprintf(out + n, len - n, "<private> ")
			       : snprintf(out + n, len - n, "\"%s\" ", argv[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* "CPU: <model>, N cores, RAM: N MB", as the game's System info line. */
static void system_info(char *out, size_t len)
{
	char model[256] = "unknown", line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(model, sizeof(model), "%s", colon + 2);
			trim(model);
			break;
		}
	}
	if (f)
		fclose(f);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct sysinfo si;
	unsigned long long ram = 0;
	if (sysinfo(&si) == 0)
		ram = (unsigned long long)si.totalram * si.mem_unit >> 20;
	snprintf(out, len, "CPU: %s, %ld cores, RAM: %llu MB", model, cores,
		 ram);
}

static void banner(struct sg_game *g, int argc, char **argv, const char *bin,
		   const char *config)
{
	char date[32], args[4096], info[512], env[1024] = "", space[64] = "";
	bool v2 = g->api == SG_API_2_0;
	sg_stdout_date(NULL, date);
	sg_plainf(g, "%s; Factorio %s (build %s, linux64, headless)", date,
		  g->version, v2 ? SG_BUILD : SG_BUILD_1_1);
	sg_plainf(g, "Operating system: Linux");
	quoted_args(argc, argv, args, sizeof(args));
	sg_plainf(g, "Program arguments: %s", args);
	if (v2)
		sg_plainf(g, "Config path: %s", config);
	sg_plainf(g, "Read data path: %s", g->read_data);
	struct statvfs vfs;
	if (statvfs(g->write_data, &vfs) == 0)
		snprintf(space, sizeof(space), " [%llu/%lluMB]",
			 (unsigned long long)vfs.f_bavail * vfs.f_frsize >> 20,
			 (unsigned long long)vfs.f_blocks * vfs.f_frsize >> 20);
	sg_plainf(g, "Write data path: %s%s", g->write_data, space);
	char bins[PATH_MAX];
	snprintf(bins, sizeof(bins), "%s", bin);
	char *slash = strrchr(bins, '/');
	if (slash && slash != bins)
		*slash = 0; /* <install>/bin, the parent of x64 */
	sg_plainf(g, "Binaries path: %s", bins);
	system_info(info, sizeof(info));
	sg_plainf(g, "System info: [%s]", info);
	static const char *const vars[] = {
		"DISPLAY", "WAYLAND_DISPLAY", "DESKTOP_SESSION",
		"XDG_SESSION_DESKTOP", "XDG_CURRENT_DESKTOP", "SDL_VIDEODRIVER",
		"__GL_FSAA_MODE", "__GL_LOG_MAX_ANISO", "__GL_SYNC_TO_VBLANK",
		"__GL_SORT_FBCONFIGS", "__GL_YIELD", NULL,
	};
	size_t n = 0;
	for (int i = 0; vars[i] && n < sizeof(env); i++) {
		if (!v2 && !strcmp(vars[i], "SDL_VIDEODRIVER"))
			continue; /* 2.0 added it */
		const char *v = getenv(vars[i]);
		int w = snprintf(env + n, sizeof(env) - n, "%s%s=%s",
				 n ? " " : "", vars[i], v ? v : "<unset>");
		if (w < 0)
			break;
		n += (size_t)w;
	}
	sg_plainf(g, "Environment: %s", env);
	sg_plainf(g, "Running in headless mode");
}

/* Mods from --mod-directory or <write-data>/mods, before any map. */
static int load_mods(struct sg_game *g, const struct opts *o)
{
	char dir[PATH_MAX + 16];
	if (o->mod_dir)
		snprintf(dir, sizeof(dir), "%s", o->mod_dir);
	else
		snprintf(dir, sizeof(dir), "%s/mods", g->write_data);
	return sg_mods_load(g, dir);
}

static int do_create(struct sg_game *g, const struct opts *o)
{
	if (load_mods(g, o) < 0)
		return 1;
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
	char err[512], deflt[PATH_MAX + 32];
	/* Without --server-settings the game reads the file of write-data,
	 * if there is one (Clusterio's host relies on this). */
	const char *settings = o->settings;
	struct stat st;
	snprintf(deflt, sizeof(deflt), "%s/server-settings.json",
		 g->write_data);
	if (!settings && stat(deflt, &st) == 0)
		settings = deflt;
	if (settings &&
	    sg_settings_load(&g->settings, settings, err, sizeof(err)) < 0) {
		sg_logf(g, "Error", "ServerSettings.cpp:66", "%s", err);
		return 1;
	}
	if (o->autosave_ticks)
		g->settings.autosave_ticks = o->autosave_ticks;
	g->continue_on_script_error = o->continue_on_error;
	if (load_lists(g, o) < 0 || load_mods(g, o) < 0)
		return 1;
	if (load_world(g, o) < 0)
		return 1;
	sg_logf(g, "Info", "Scenario.cpp:204", "Map version %s-0", g->version);
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
	if (o.help) {
		usage();
		return 0;
	}
	char bin[PATH_MAX], rd[PATH_MAX + 64], wd[PATH_MAX + 64];
	char config[PATH_MAX + 64];
	exe_dir(bin, sizeof(bin));
	snprintf(rd, sizeof(rd), "%s/../../data", bin);
	snprintf(wd, sizeof(wd), "%s/../..", bin);
	snprintf(config, sizeof(config), "%s",
		 o.config ? o.config : "");
	if (!o.config)
		snprintf(config, sizeof(config), "%s/../../config/config.ini",
			 bin);
	if (o.config && read_config(o.config, bin, rd, wd, sizeof(rd)) < 0) {
		early_error("Cannot read config file %s", o.config);
		return 1;
	}
	if (o.version) {
		char v[32];
		if (!sg_changelog_version(rd, v, sizeof(v)))
			snprintf(v, sizeof(v), "%s", SG_VERSION);
		const char *build = strncmp(v, "1.", 2) ? SG_BUILD : SG_BUILD_1_1;
		printf("Version: %s (build %s, linux64, headless)\n"
		       "Binary version: 64\nMap input version: 1.0.0-0\n"
		       "Map output version: %s-0\n",
		       v, build, v);
		return 0;
	}
	if (!o.create && !o.start && !o.load_latest && !o.scenario) {
		early_error("%s", "No action: use --create or --start-server.");
		return 1;
	}
	if (o.console_log)
		console_log = fopen(o.console_log, "a");
	struct sg_out out = {out_line, sg_stdout_uptime, sg_stdout_date,
			     &out_ctx};
	struct sg_game g;
	if (sg_game_init(&g, &out, rd, wd) < 0)
		return 1;
	banner(&g, argc, argv, bin, config);
	int rc = o.create ? do_create(&g, &o) : do_start(&g, &o);
	sg_plainf(&g, "Goodbye");
	sg_game_free(&g);
	if (console_log)
		fclose(console_log);
	return rc;
}
