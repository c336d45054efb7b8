/*
 * main.c: the clusterd command line. Parses, calls one function of the
 * node, reports; no logic of its own (STYLE.md rule 12).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "node/config.h"
#include "node/node.h"

static const char usage_text[] =
	"usage: clusterd <command> [options]\n"
	"\n"
	"clusterd runs one node of a clustered Factorio server manager. Every\n"
	"machine runs the same node; Raft elects the one holding the master role.\n"
	"\n"
	"commands:\n"
	"  run        start a node (see 'clusterd run --help')\n"
	"\n"
	"options:\n"
	"  --version  print the version and exit\n"
	"  --help     print this help and exit\n"
	"\n"
	"Exit status: 0 on success, 1 when the node cannot start or fails,\n"
	"2 on a usage or configuration error.\n";

static const char run_usage_text[] =
	"usage: clusterd run --data-dir DIR [options]\n"
	"\n"
	"Starts a node that keeps its state in DIR and runs until SIGINT or\n"
	"SIGTERM. Settings come from DIR/clusterd.json (keys: http, node_name,\n"
	"log_level), overridden by these flags:\n"
	"\n"
	"  --data-dir DIR      data directory, created if missing (required)\n"
	"  --http IP:PORT      HTTP API, web UI and /metrics (default " NODE_HTTP_DEFAULT ";\n"
	"                      port 0 picks a free port, written to DIR/http.addr)\n"
	"  --node-name NAME    a human name for this node (default: host name)\n"
	"  --log-level LEVEL   debug, info, warn, error or off (default info)\n"
	"  --help              print this help and exit\n"
	"\n"
	"SIGINT or SIGTERM stops the node cleanly; SIGHUP is ignored.\n"
	"\n"
	"Exit status: 0 after a clean stop, 1 when the node cannot start or fails\n"
	"(the data dir is in use or unwritable, the port is taken), 2 on a usage\n"
	"or configuration error (a bad flag or a bad clusterd.json).\n";

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"data-dir", required_argument, NULL, 'd'},
		{"http", required_argument, NULL, 'h'},
		{"node-name", required_argument, NULL, 'n'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, '?' + 256},
		{NULL, 0, NULL, 0},
	};
	struct node_flags flags = {0};
	struct node_config cfg;
	char errmsg[NODE_ERRMSG_MAX] = "";
	int c, rv;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': flags.data_dir = optarg; break;
		case 'h': flags.http_addr = optarg; break;
		case 'n': flags.node_name = optarg; break;
		case 'l': flags.log_level = optarg; break;
		case '?' + 256:
			fputs(run_usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "clusterd run: unknown or incomplete option '%s' (see 'clusterd run --help')\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "clusterd run: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	rv = node_config_load(&cfg, &flags, errmsg, sizeof(errmsg));
	if (rv) {
		fprintf(stderr, "clusterd: %s\n", errmsg);
		return 2;
	}
	/* SIGHUP is ignored: the node logs to stderr and rereads nothing, so a
	 * closed terminal or a stray `kill -HUP` must not stop it. */
	signal(SIGHUP, SIG_IGN);
	rv = node_run(&cfg, errmsg, sizeof(errmsg));
	if (rv) {
		fprintf(stderr, "clusterd: %s\n", errmsg[0] ? errmsg : err_str(rv));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("clusterd %s\n", CLUSTERD_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr, "clusterd: unknown command '%s' (see 'clusterd --help')\n",
		argv[1]);
	return 2;
}
