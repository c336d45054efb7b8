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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tools/ctl/client.h"

#define CTL_DEFAULT_NODE "http://127.0.0.1:8081"
#define CTL_WORDS_MAX 3 /* words in a command name ("token create") */

struct ctl {
	struct ctl_target target;
	char url[CTL_URL_MAX];
	int json;
};

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

static const struct ctl_cmd commands[] = {
	{"status", "", 0, 0, "this node's identity, version and uptime", cmd_status},
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
	char left[64];

	fputs("usage: clusterctl [--node URL] [--json] <command> [args]\n"
	      "\n"
	      "Talks to any node of a clusterd cluster over its HTTP API.\n"
	      "\n"
	      "commands:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		snprintf(left, sizeof(left), "%s%s%s", commands[i].name,
			 commands[i].args[0] ? " " : "", commands[i].args);
		fprintf(f, "  %-22s %s\n", left, commands[i].help);
	}
	fputs("\n"
	      "options (before or after the command):\n"
	      "  --node URL   the node to ask (default $CLUSTERD_NODE, else " CTL_DEFAULT_NODE ")\n"
	      "  --json       print the node's JSON answer instead of a table\n"
	      "  --version    print the version and exit\n"
	      "  --help       print this help and exit\n"
	      "\n"
	      "Exit status: 0 on success, 1 when the node is unreachable, answers an\n"
	      "error or answers something clusterctl cannot read, 2 on a usage error.\n", f);
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
static int parse_options(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"node", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *node = getenv("CLUSTERD_NODE");
	char errmsg[CTL_ERRMSG_MAX];
	int c;

	if (!node || !*node)
		node = CTL_DEFAULT_NODE;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': node = optarg; break;
		case 'j': ctl->json = 1; break;
		case 'v': printf("clusterctl %s\n", CLUSTERD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "clusterctl: unknown or incomplete option '%s' (see 'clusterctl --help')\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (ctl_node_url(node, ctl->url, sizeof(ctl->url), errmsg, sizeof(errmsg))) {
		fprintf(stderr, "clusterctl: %s\n", errmsg);
		return 2;
	}
	ctl->target.url = ctl->url;
	ctl->target.token = NULL;
	return -1;
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
