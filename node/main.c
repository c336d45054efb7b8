/*
 * main.c: the clusterd command line. Parses, calls one function of the
 * node, reports; no logic of its own (STYLE.md rule 12).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/cluster.h"
#include "node/config.h"
#include "node/datadir.h"
#include "node/identity.h"
#include "node/node.h"

static const char usage_text[] =
	"usage: clusterd <command> [options]\n"
	"\n"
	"clusterd runs one node of a clustered Factorio server manager. Every\n"
	"machine runs the same node; Raft elects the one holding the master role.\n"
	"\n"
	"commands:\n"
	"  init       create a new cluster with this machine as its first node\n"
	"             (see 'clusterd init --help')\n"
	"  run        start a node (see 'clusterd run --help'); a node that\n"
	"             never ran init waits for 'clusterctl join'\n"
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
	"bind, advertise, log_level; 'clusterd init' writes it), overridden by\n"
	"these flags:\n"
	"\n"
	"  --data-dir DIR      data directory, created if missing (required)\n"
	"  --http IP:PORT      HTTP API, web UI and /metrics (default " NODE_HTTP_DEFAULT ";\n"
	"                      port 0 picks a free port, written to DIR/http.addr)\n"
	"  --bind IP:PORT      cluster port, TCP and UDP (default " NODE_BIND_DEFAULT ")\n"
	"  --advertise IP:PORT the cluster address other nodes dial (default: the\n"
	"                      bind address; 0.0.0.0 becomes 127.0.0.1)\n"
	"  --name NAME         a name for this node, unique in the cluster\n"
	"                      (default: host name; --node-name is the same)\n"
	"  --log-level LEVEL   debug, info, warn, error or off (default info)\n"
	"  --help              print this help and exit\n"
	"\n"
	"SIGINT or SIGTERM stops the node cleanly; SIGHUP is ignored.\n"
	"\n"
	"Exit status: 0 after a clean stop, 1 when the node cannot start or fails\n"
	"(the data dir is in use or unwritable, the port is taken), 2 on a usage\n"
	"or configuration error (a bad flag or a bad clusterd.json).\n";

/* Parses the flags `run` and `init` share (init also takes --json) and
 * loads the configuration they select. Returns -1 to go on, else the
 * exit status (0 after --help, 2 on a usage or configuration error). */
static int parse_node_flags(int argc, char **argv, const char *cmd,
			    const char *usage, struct node_config *cfg,
			    int *json)
{
	static const struct option opts[] = {
		{"data-dir", required_argument, NULL, 'd'},
		{"http", required_argument, NULL, 'h'},
		{"node-name", required_argument, NULL, 'n'},
		{"name", required_argument, NULL, 'n'},
		{"bind", required_argument, NULL, 'b'},
		{"advertise", required_argument, NULL, 'a'},
		{"log-level", required_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, '?' + 256},
		{NULL, 0, NULL, 0},
	};
	struct node_flags flags = {0};
	char errmsg[NODE_ERRMSG_MAX] = "";
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': flags.data_dir = optarg; break;
		case 'h': flags.http_addr = optarg; break;
		case 'n': flags.node_name = optarg; break;
		case 'b': flags.bind_addr = optarg; break;
		case 'a': flags.advertise_addr = optarg; break;
		case 'l': flags.log_level = optarg; break;
		case 'j':
			if (json) {
				*json = 1;
				break;
			}
			__attribute__((fallthrough)); /* init's flag only */
		default:
			fprintf(stderr, "clusterd %s: unknown or incomplete option '%s' (see 'clusterd %s --help')\n",
				cmd, argv[optind - 1], cmd);
			return 2;
		case '?' + 256:
			fputs(usage, stdout);
			return 0;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "clusterd %s: unexpected argument '%s'\n", cmd,
			argv[optind]);
		return 2;
	}
	if (node_config_load(cfg, &flags, errmsg, sizeof(errmsg))) {
		fprintf(stderr, "clusterd %s: %s\n", cmd, errmsg);
		return 2;
	}
	return -1;
}

static int cmd_run(int argc, char **argv)
{
	struct node_config cfg;
	char errmsg[NODE_ERRMSG_MAX] = "";
	int rv;

	rv = parse_node_flags(argc, argv, "run", run_usage_text, &cfg, NULL);
	if (rv >= 0)
		return rv;
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

static const char init_usage_text[] =
	"usage: clusterd init --data-dir DIR [--name NAME] [--bind IP:PORT]\n"
	"                     [--http IP:PORT] [--advertise IP:PORT] [--json]\n"
	"\n"
	"Creates a new cluster with this node as its only voter: the cluster\n"
	"secret, this node's keys, an admin API token and a join token (valid\n"
	"24 h). Stores the flags in DIR/clusterd.json, so that\n"
	"'clusterd run --data-dir DIR' is enough afterwards, and writes\n"
	"DIR/clusterctl.json (the node's URL and the admin token, mode 0600)\n"
	"for clusterctl --config. Prints what the next machines need, and exits.\n"
	"\n"
	"  --json   print one JSON object (cluster_id, node_id, name, bind,\n"
	"           http, admin_token, join_token, clusterctl_config) and\n"
	"           nothing else on stdout\n"
	"\n"
	"Other flags as for 'clusterd run'. Exit status: 0 on success, 1 when\n"
	"the data dir already belongs to a cluster or cannot be written, 2 on a\n"
	"usage or configuration error.\n";

static int write_ctl_config(const struct node_config *cfg,
			    const struct cluster_init *in, char *err,
			    size_t errsz)
{
	cJSON *o = cJSON_CreateObject();
	char url[NODE_ADDR_MAX + 16], *text;
	int rv;

	if (!o)
		return ERR_NOMEM;
	snprintf(url, sizeof(url), "http://%s", cfg->http_addr);
	cJSON_AddStringToObject(o, "node", url);
	cJSON_AddStringToObject(o, "token", in->admin_token);
	text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text)
		return ERR_NOMEM;
	rv = identity_write_file(cfg->data_dir, "clusterctl.json", text, 0600,
				 err, errsz);
	cJSON_free(text);
	return rv;
}

static void print_init(const struct node_config *cfg,
		       const struct cluster_init *in, int json)
{
	char id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)in->node_id);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *text;

		cJSON_AddStringToObject(o, "cluster_id", in->cluster_id);
		cJSON_AddStringToObject(o, "node_id", id);
		cJSON_AddStringToObject(o, "name", cfg->node_name);
		cJSON_AddStringToObject(o, "bind", in->bind);
		cJSON_AddStringToObject(o, "http", cfg->http_addr);
		cJSON_AddStringToObject(o, "admin_token", in->admin_token);
		cJSON_AddStringToObject(o, "join_token", in->join_token);
		cJSON_AddStringToObject(o, "data_dir", cfg->data_dir);
		text = cJSON_PrintUnformatted(o);
		if (text)
			printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(o);
		return;
	}
	printf("Created cluster %s with node %s (%s) in %s.\n\n"
	       "Start it:\n  clusterd run --data-dir %s\n\n"
	       "Admin API token (keep it secret; also in %s/clusterctl.json):\n"
	       "  %s\n\n"
	       "On each new machine, start a node and join it (the token is\n"
	       "valid 24 h; 'clusterctl token create --join' makes more):\n"
	       "  clusterd run --data-dir DIR --name NAME --bind IP:PORT\n"
	       "  clusterctl --node http://127.0.0.1:8081 join %s --token %s\n",
	       in->cluster_id, cfg->node_name, id, cfg->data_dir, cfg->data_dir,
	       cfg->data_dir, in->admin_token, in->bind, in->join_token);
}

static int do_init(struct node_config *cfg, int json)
{
	struct cluster_init in;
	struct node_datadir dir;
	char err[NODE_ERRMSG_MAX] = "", adv[NODE_ADDR_MAX];
	struct timespec ts;
	int rv;

	rv = node_datadir_open(&dir, cfg->data_dir, err, sizeof(err));
	if (rv)
		goto out;
	/* The member record names the address peers dial. */
	if (cfg->advertise_addr[0])
		snprintf(adv, sizeof(adv), "%s", cfg->advertise_addr);
	else if (strncmp(cfg->bind_addr, "0.0.0.0:", 8) == 0)
		snprintf(adv, sizeof(adv), "127.0.0.1:%s", cfg->bind_addr + 8);
	else
		snprintf(adv, sizeof(adv), "%s", cfg->bind_addr);
	memset(&in, 0, sizeof(in));
	in.data_dir = cfg->data_dir;
	in.name = cfg->node_name;
	in.bind = adv;
	in.http_addr = cfg->http_addr;
	clock_gettime(CLOCK_REALTIME, &ts);
	rv = cluster_init(&in, (uint64_t)ts.tv_sec * 1000 +
				       (uint64_t)ts.tv_nsec / 1000000,
			  err, sizeof(err));
	if (rv == 0 && node_config_remember(cfg, err, sizeof(err)) < 0)
		rv = ERR_IO;
	if (rv == 0)
		rv = write_ctl_config(cfg, &in, err, sizeof(err));
	node_datadir_close(&dir);
	if (rv == 0)
		print_init(cfg, &in, json);
out:
	if (rv)
		fprintf(stderr, "clusterd init: %s\n", err[0] ? err : err_str(rv));
	return rv ? 1 : 0;
}

static int cmd_init(int argc, char **argv)
{
	struct node_config cfg;
	int json = 0;
	int rv = parse_node_flags(argc, argv, "init", init_usage_text, &cfg,
				  &json);

	return rv >= 0 ? rv : do_init(&cfg, json);
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
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	fprintf(stderr, "clusterd: unknown command '%s' (see 'clusterd --help')\n",
		argv[1]);
	return 2;
}
