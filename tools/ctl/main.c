/*
 * main.c: clusterctl, the command-line client of a clusterd node. Each
 * command parses its arguments, makes its API calls through ctl_call() and
 * formats the answer: a table for people, the node's JSON with --json for
 * scripts.
 *
 * Adding a command is one entry in `commands` and one function. Global
 * options may come before or after the command words (GNU getopt permutes
 * them); everything else is a positional argument, counted against the
 * command's min and max. `--` ends the options, for values starting with
 * a dash.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tools/ctl/client.h"
#include "tools/ctl/cmd.h"

#define CTL_DEFAULT_NODE "http://127.0.0.1:8081"
#define CTL_WORDS_MAX 3 /* words in a command name ("token create") */

/* A command: its words ("status", "kv get"), its arguments' usage, how
 * many it takes, a line of help, and the function that runs it with the
 * arguments after the command words. Returns the exit status. */
struct ctl_cmd {
	const char *name;
	const char *args;
	int nargs_min;
	int nargs_max;
	const char *help;
	int (*run)(const struct ctl *ctl, int argc, char **argv);
};

static int cmd_status(const struct ctl *ctl, int argc, char **argv);

/* Longer names first where one is a prefix of another ("raft status"
 * before nothing shorter today; keep it so). */
static const struct ctl_cmd commands[] = {
	{"status", "", 0, 0, "this node's identity, version and uptime", cmd_status},
	{"join", "PEER_IP:PORT --token JOIN_TOKEN", 1, 1,
	 "make this (unjoined) node join PEER's cluster", ctl_cmd_join},
	{"leave", "", 0, 0, "hand leadership over and leave the cluster", ctl_cmd_leave},
	{"members", "", 0, 0, "the gossip view: name, address, state, role, version", ctl_cmd_members},
	{"raft status", "", 0, 0, "term, leader, servers with match index and lag", ctl_cmd_raft_status},
	{"raft transfer-leader", "[NODE]", 0, 1, "move leadership to NODE (name or id) or the best voter",
	 ctl_cmd_raft_transfer},
	{"kv get", "NS KEY [--stale]", 2, 2, "print a value (raw bytes)", ctl_cmd_kv_get},
	{"kv put", "NS KEY [VALUE|-] [--cas R]", 2, 3, "write a value (stdin when - or absent)",
	 ctl_cmd_kv_put},
	{"kv delete", "NS KEY [--cas R]", 2, 2, "delete a key", ctl_cmd_kv_delete},
	{"kv list", "NS [PREFIX]", 1, 2, "list keys with their revisions", ctl_cmd_kv_list},
	{"token create", "join|api [--name N] [--role admin|read] [--roles R,..] [--user U] [--ttl S]",
	 1, 1, "make a token; prints it once", ctl_cmd_token_create},
	{"token list", "", 0, 0, "list tokens (never their secrets)", ctl_cmd_token_list},
	{"token revoke", "ID", 1, 1, "revoke a token", ctl_cmd_token_revoke},
	{"snapshot save", "FILE [--stale] [--progress]", 1, 1,
	 "stream a backup of the replicated state into FILE", ctl_cmd_snapshot_save},
	{"snapshot inspect", "FILE", 1, 1, "check a backup's checksum, print its header",
	 ctl_cmd_snapshot_inspect},
	{"snapshot restore", "FILE --data-dir DIR [--name N --bind A --http A]", 1, 1,
	 "a new cluster from FILE, offline (runs 'clusterd restore')",
	 ctl_cmd_snapshot_restore},
	{"instance list", "", 0, 0, "instances: node, desired state, status, ports",
	 ctl_cmd_instance_list},
	{"instance create", "NAME [NODE]", 1, 2, "create an instance (and assign it to NODE)",
	 ctl_cmd_instance_create},
	{"instance show", "NAME", 1, 1, "an instance's record and live status", ctl_cmd_instance_show},
	{"instance assign", "NAME NODE|-", 2, 2, "place an instance on a node (-: unassign)",
	 ctl_cmd_instance_assign},
	{"instance start", "NAME", 1, 1, "make an instance run", ctl_cmd_instance_start},
	{"instance stop", "NAME", 1, 1, "stop an instance (it saves)", ctl_cmd_instance_stop},
	{"instance delete", "NAME", 1, 1, "delete an instance (stopping it)", ctl_cmd_instance_delete},
	{"instance send-rcon", "NAME COMMAND", 2, 2, "run an RCON command; prints the reply",
	 ctl_cmd_instance_rcon},
	{"save list", "INSTANCE", 1, 1, "an instance's saves: size, time, loaded, newest",
	 ctl_cmd_save_list},
	{"save create", "INSTANCE NAME [--seed N] [--map-gen-settings F] [--map-settings F]", 2, 2,
	 "the game makes a new map", ctl_cmd_save_create},
	{"save upload", "INSTANCE FILE [NAME] [--overwrite] [--progress]", 2, 3,
	 "upload a save zip (checked by the node)", ctl_cmd_save_upload},
	{"save download", "INSTANCE NAME [FILE] [--progress]", 2, 3, "download a save",
	 ctl_cmd_save_download},
	{"save rename", "INSTANCE NAME NEW", 3, 3, "rename a save", ctl_cmd_save_rename},
	{"save copy", "INSTANCE NAME NEW", 3, 3, "copy a save within its instance",
	 ctl_cmd_save_copy},
	{"save transfer", "INSTANCE NAME TARGET [NEW] [--copy]", 3, 4,
	 "move (or --copy) a save to another instance, on any node", ctl_cmd_save_transfer},
	{"save delete", "INSTANCE NAME", 2, 2, "delete a save", ctl_cmd_save_delete},
	{"player list", "", 0, 0, "users seen on instances: joins, online time",
	 ctl_cmd_player_list},
	{"instance kill", "NAME", 1, 1, "SIGKILL the server (no save); desired becomes stopped",
	 ctl_cmd_instance_kill},
	{"instance restart", "NAME", 1, 1, "stop (it saves) and start again", ctl_cmd_instance_restart},
	{"instance start-all", "", 0, 0, "start every assigned instance not excluded from start-all",
	 ctl_cmd_instance_start_all},
	{"instance stop-all", "", 0, 0, "stop every instance", ctl_cmd_instance_stop_all},
	{"instance config get", "NAME [KEY]", 1, 2, "an instance's configuration (or one KEY)",
	 ctl_cmd_instance_config_get},
	{"instance config set", "NAME KEY VALUE", 3, 3,
	 "set auto_start, exclude_from_start_all, stop_timeout_s or settings.FIELD",
	 ctl_cmd_instance_config_set},
	{"log query", "--instance NAME [--lines N]", 0, 0, "an instance's newest log lines",
	 ctl_cmd_log_query},
	{"log follow", "--instance NAME [--lines N]", 0, 0, "an instance's log, live (until ^C)",
	 ctl_cmd_log_follow},
	{"inventory list", "", 0, 0, "players' synced inventories: lock, generation, size",
	 ctl_cmd_inventory_list},
	{"inventory show", "PLAYER", 1, 1, "a player's inventory lock and stored record",
	 ctl_cmd_inventory_show},
	{"inventory export", "PLAYER", 1, 1, "the stored inventory (JSON) on stdout",
	 ctl_cmd_inventory_export},
	{"inventory import", "PLAYER FILE", 2, 2, "store FILE (JSON, - for stdin) as the inventory",
	 ctl_cmd_inventory_import},
	{"inventory release", "PLAYER", 1, 1, "release a player's lock (as an admin)",
	 ctl_cmd_inventory_release},
	{"items list", "", 0, 0, "the item ledger: stock per item, refusals, flows",
	 ctl_cmd_items_list},
	{"items show", "ITEM[:QUALITY]", 1, 1, "one item's stock and totals", ctl_cmd_items_show},
	{"items history", "ITEM[:QUALITY]", 1, 1, "an item's last ledger events",
	 ctl_cmd_items_history},
	{"items config", "proportional|simple [TIMEOUT_MS]", 1, 2,
	 "division under shortage and the grant timeout", ctl_cmd_items_config},
	{"plugin list", "", 0, 0, "plugins: where they run, their process on this node",
	 ctl_cmd_plugin_list},
	{"plugin add", "NAME [--on NODE] [--perms P,P] [--lua DIR] [--disabled] -- PROGRAM [ARG...]", 2, 33,
	 "register a plugin (its process runs on NODE, or on every node)", ctl_cmd_plugin_add},
	{"plugin remove", "NAME", 1, 1, "unregister a plugin (its processes stop)",
	 ctl_cmd_plugin_remove},
	{"plugin enable", "NAME", 1, 1, "let a plugin run", ctl_cmd_plugin_enable},
	{"plugin disable", "NAME", 1, 1, "stop a plugin everywhere, keeping it registered",
	 ctl_cmd_plugin_disable},
	{"user list", "", 0, 0, "Factorio users: admin, whitelisted, banned, roles", ctl_cmd_user_list},
	{"user show", "NAME", 1, 1, "one user (any case)", ctl_cmd_user_show},
	{"user create", "NAME", 1, 1, "add a user", ctl_cmd_user_create},
	{"user delete", "NAME", 1, 1, "remove a user (off every list)", ctl_cmd_user_delete},
	{"user set-admin", "NAME true|false", 2, 2, "promote or demote on every server",
	 ctl_cmd_user_set_admin},
	{"user set-whitelisted", "NAME true|false", 2, 2, "add to or remove from the whitelist",
	 ctl_cmd_user_set_whitelisted},
	{"user set-banned", "NAME true|false [--reason TEXT]", 2, 2, "ban or unban on every server",
	 ctl_cmd_user_set_banned},
	{"user set-roles", "NAME [ROLE,...]", 1, 2, "replace a user's API roles",
	 ctl_cmd_user_set_roles},
	{"user import", "adminlist|banlist|whitelist FILE", 2, 2,
	 "merge a Factorio server-*.json list file into the users", ctl_cmd_user_import},
	{"user export", "adminlist|banlist|whitelist [FILE]", 1, 2,
	 "write a list in Factorio's server-*.json format", ctl_cmd_user_export},
	{"role list", "", 0, 0, "roles and their permissions", ctl_cmd_role_list},
	{"role show", "NAME", 1, 1, "one role", ctl_cmd_role_show},
	{"role set", "NAME PERM,... [--description TEXT]", 2, 2,
	 "create or replace a role (e.g. user.write,*.read)", ctl_cmd_role_set},
	{"role delete", "NAME", 1, 1, "delete a role", ctl_cmd_role_delete},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Prints an error and returns exit status 1 (the node failed us). */
static int fail(const char *msg)
{
	fprintf(stderr, "clusterctl: %s\n", msg);
	return 1;
}

static void format_uptime(double s, char *buf, size_t size)
{
	unsigned long t = (unsigned long)(s < 0 ? 0 : s);

	if (t < 60)
		snprintf(buf, size, "%.1fs", s);
	else if (t < 3600)
		snprintf(buf, size, "%lum%02lus", t / 60, t % 60);
	else
		snprintf(buf, size, "%luh%02lum", t / 3600, (t % 3600) / 60);
}

static int cmd_status(const struct ctl *ctl, int argc, char **argv)
{
	const char *id, *name, *version, *http, *dir;
	char errmsg[CTL_ERRMSG_MAX], up[32];
	double uptime;
	char *raw;
	cJSON *j;
	int rv = 1;

	(void)argc;
	(void)argv;
	if (ctl_call(&ctl->target, "GET", "/api/v1/status", NULL, &j, &raw,
		     errmsg, sizeof(errmsg)))
		return fail(errmsg);
	if (ctl_str(j, "node_id", &id, errmsg, sizeof(errmsg)) ||
	    ctl_str(j, "node_name", &name, errmsg, sizeof(errmsg)) ||
	    ctl_str(j, "version", &version, errmsg, sizeof(errmsg)) ||
	    ctl_num(j, "uptime_s", &uptime, errmsg, sizeof(errmsg)) ||
	    ctl_str(j, "http", &http, errmsg, sizeof(errmsg)) ||
	    ctl_str(j, "data_dir", &dir, errmsg, sizeof(errmsg))) {
		fail(errmsg);
		goto out;
	}
	if (ctl->json) {
		fputs(raw, stdout);
	} else {
		format_uptime(uptime, up, sizeof(up));
		printf("node      %s (%s)\n", id, name);
		printf("version   %s\n", version);
		printf("uptime    %s\n", up);
		printf("http      %s\n", http);
		printf("data dir  %s\n", dir);
	}
	rv = 0;
out:
	free(raw);
	cJSON_Delete(j);
	return rv;
}

static void usage(FILE *f)
{
	char left[128];

	fputs("usage: clusterctl [--node URL] [--token T] [--json] <command> [args]\n"
	      "\n"
	      "Talks to any node of a clusterd cluster over its HTTP API.\n"
	      "\n"
	      "commands:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		snprintf(left, sizeof(left), "%s%s%s", commands[i].name,
			 commands[i].args[0] ? " " : "", commands[i].args);
		if (strlen(left) > 22)
			fprintf(f, "  %s\n  %-22s %s\n", left, "", commands[i].help);
		else
			fprintf(f, "  %-22s %s\n", left, commands[i].help);
	}
	fputs("\n"
	      "options (before or after the command):\n"
	      "  --node URL     the node to ask (default $CLUSTERD_NODE, else the\n"
	      "                 config file's \"node\", else " CTL_DEFAULT_NODE ")\n"
	      "  --token T      API token (default $CLUSTERD_TOKEN, else the config\n"
	      "                 file's \"token\"); for join: the join token\n"
	      "  --config FILE  config file (default $CLUSTERD_CONFIG, else\n"
	      "                 ~/.config/clusterd/clusterctl.json, which init writes)\n"
	      "  --json         print the node's JSON answer instead of a table\n"
	      "  --cas R        kv put/delete only if the key's revision is R (0: absent)\n"
	      "  --stale        kv get from this node's copy, without a leader round\n"
	      "  --name N, --role admin|read, --ttl S   for token create\n"
	      "  --seed N, --map-gen-settings F, --map-settings F   save create\n"
	      "  --overwrite    save upload: replace a save of that name\n"
	      "  --copy         save transfer: keep the source\n"
	      "  --progress     snapshot save, save upload|download: progress on stderr (always on a\n"
	      "                 terminal)\n"
	      "  --instance NAME, --lines N   for log query and log follow\n"
	      "  --data-dir D, --name N, --bind A, --http A, --advertise A\n"
	      "                 snapshot restore: as for 'clusterd restore'\n"
	      "  --on NODE, --perms P,P, --lua DIR, --disabled   for plugin add (the\n"
	      "                 command follows '--'; --lua: its game-side modules)\n"
	      "  --version      print the version and exit\n"
	      "  --help         print this help and exit\n"
	      "\n"
	      "Exit status: 0 on success; 1 when the node is unreachable, answers an\n"
	      "error (503: retry) or something clusterctl cannot read; 2 on a usage\n"
	      "error or input the node refused (400, 413); 3 not found; 4 a --cas\n"
	      "conflict (the current revision on stderr); 5 token missing, wrong or\n"
	      "without the role (401, 403).\n", f);
}

/* How many leading words of args match the command's name; 0 if not all. */
static int match_words(const char *name, int argc, char **argv)
{
	char buf[128], *save = NULL, *w;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", name);
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (n >= argc || n >= CTL_WORDS_MAX || strcmp(argv[n], w) != 0)
			return 0;
		n++;
	}
	return n;
}

/* Finds the command named by the leading positional arguments and runs it
 * after checking its argument count. */
static int dispatch(const struct ctl *ctl, int argc, char **argv)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct ctl_cmd *c = &commands[i];
		int words = match_words(c->name, argc, argv);
		int nargs = argc - words;

		if (!words)
			continue;
		if (nargs < c->nargs_min || nargs > c->nargs_max) {
			if (nargs > c->nargs_max)
				fprintf(stderr, "clusterctl %s: unexpected argument '%s'",
					c->name, argv[words + c->nargs_max]);
			else
				fprintf(stderr, "clusterctl %s: missing argument", c->name);
			fprintf(stderr, " (usage: clusterctl %s%s%s)\n", c->name,
				c->args[0] ? " " : "", c->args);
			return 2;
		}
		return c->run(ctl, nargs, argv + words);
	}
	fprintf(stderr, "clusterctl: unknown command '%s' (see 'clusterctl --help')\n",
		argv[0]);
	return 2;
}

/* Parses the global options wherever they are; on return argv[optind..]
 * holds the positional arguments in order. Returns -1 to go on, else the
 * exit status. */
/* Parses a decimal number for --cas and --ttl; -1 if it is not one. */
static int parse_num(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* Parses the global options wherever they are; on return argv[optind..]
 * holds the positional arguments in order. Returns -1 to go on, else the
 * exit status. */
static int parse_options(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"node", required_argument, NULL, 'n'},
		{"token", required_argument, NULL, 't'},
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"cas", required_argument, NULL, 'C'},
		{"stale", no_argument, NULL, 's'},
		{"role", required_argument, NULL, 'r'},
		{"name", required_argument, NULL, 'N'},
		{"ttl", required_argument, NULL, 'T'},
		{"progress", no_argument, NULL, 'P'},
		{"seed", required_argument, NULL, 'S'},
		{"map-gen-settings", required_argument, NULL, 'g'},
		{"map-settings", required_argument, NULL, 'm'},
		{"overwrite", no_argument, NULL, 'o'},
		{"copy", no_argument, NULL, 'y'},
		{"data-dir", required_argument, NULL, 'D'},
		{"bind", required_argument, NULL, 'B'},
		{"http", required_argument, NULL, 'H'},
		{"advertise", required_argument, NULL, 'A'},
		{"instance", required_argument, NULL, 'I'},
		{"lines", required_argument, NULL, 'L'},
		{"on", required_argument, NULL, 'O'},
		{"perms", required_argument, NULL, 'p'},
		{"disabled", no_argument, NULL, 'd'},
		{"lua", required_argument, NULL, 'W'},
		{"reason", required_argument, NULL, 'R'},
		{"roles", required_argument, NULL, 'G'},
		{"user", required_argument, NULL, 'U'},
		{"description", required_argument, NULL, 'E'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *node = NULL, *token = NULL, *config = NULL;
	uint64_t v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': node = optarg; break;
		case 't': token = optarg; break;
		case 'c': config = optarg; break;
		case 'j': ctl->json = 1; break;
		case 's': ctl->stale = 1; break;
		case 'r': ctl->role = optarg; break;
		case 'N': ctl->name = optarg; break;
		case 'P': ctl->progress = 1; break;
		case 'g': ctl->map_gen_settings = optarg; break;
		case 'm': ctl->map_settings = optarg; break;
		case 'o': ctl->overwrite = 1; break;
		case 'y': ctl->copy = 1; break;
		case 'S':
			if (parse_num(optarg, &v) != 0 || v > 4294967295ull) {
				fprintf(stderr, "clusterctl: --seed wants 0..4294967295, not '%s'\n",
					optarg);
				return 2;
			}
			ctl->has_seed = 1;
			ctl->seed = v;
			break;
		case 'D': ctl->data_dir = optarg; break;
		case 'B': ctl->bind = optarg; break;
		case 'H': ctl->http = optarg; break;
		case 'A': ctl->advertise = optarg; break;
		case 'I': ctl->instance = optarg; break;
		case 'L':
			if (parse_num(optarg, &v) != 0 || v == 0 || v > 2000) {
				fprintf(stderr, "clusterctl: --lines wants 1..2000, not '%s'\n", optarg);
				return 2;
			}
			ctl->lines = (long)v;
			break;
		case 'O': ctl->on = optarg; break;
		case 'p': ctl->perms = optarg; break;
		case 'd': ctl->disabled = 1; break;
		case 'W': ctl->lua = optarg; break;
		case 'R': ctl->reason = optarg; break;
		case 'G': ctl->roles = optarg; break;
		case 'U': ctl->user = optarg; break;
		case 'E': ctl->description = optarg; break;
		case 'C':
		case 'T':
			if (parse_num(optarg, &v) != 0 || (c == 'T' && v > LONG_MAX)) {
				fprintf(stderr, "clusterctl: --%s wants a number, not '%s'\n",
					c == 'C' ? "cas" : "ttl", optarg);
				return 2;
			}
			if (c == 'C') {
				ctl->has_cas = 1;
				ctl->cas = v;
			} else {
				ctl->ttl_s = (long)v;
			}
			break;
		case 'v': printf("clusterctl %s\n", CLUSTERD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "clusterctl: unknown or incomplete option '%s' (see 'clusterctl --help')\n",
				argv[optind - 1]);
			return 2;
		}
	}
	c = ctl_resolve(ctl, node, token, config, CTL_DEFAULT_NODE);
	return c != 0 ? c : -1;
}

int main(int argc, char **argv)
{
	static struct ctl ctl; /* holds a URL buffer; one per process */
	int rv;

	rv = parse_options(&ctl, argc, argv);
	if (rv >= 0)
		return rv;
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rv = dispatch(&ctl, argc - optind, argv + optind);
	curl_global_cleanup();
	return rv;
}
