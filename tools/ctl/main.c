/*
 * main.c: clusterctl, the command-line client of a clusterd node. Each
 * command parses its arguments, makes one API call and formats the answer:
 * a table for people, the node's JSON with --json for scripts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tools/ctl/client.h"

#define CTL_DEFAULT_NODE "http://127.0.0.1:8081"

static const char usage_text[] =
	"usage: clusterctl [--node URL] [--json] <command>\n"
	"\n"
	"Talks to any node of a clusterd cluster over its HTTP API.\n"
	"\n"
	"commands:\n"
	"  status     this node's identity, version and uptime\n"
	"\n"
	"options:\n"
	"  --node URL   the node to ask (default $CLUSTERD_NODE, else " CTL_DEFAULT_NODE ")\n"
	"  --json       print the node's JSON answer instead of a table\n"
	"  --version    print the version and exit\n"
	"  --help       print this help and exit\n"
	"\n"
	"Exit status: 0 on success, 1 when the node is unreachable or answers an\n"
	"error, 2 on a usage error.\n";

struct ctl {
	const char *node;
	int json;
};

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "?";
}

static void format_uptime(double s, char *buf, size_t size)
{
	unsigned long t = (unsigned long)s;

	if (t < 60)
		snprintf(buf, size, "%.1fs", s);
	else if (t < 3600)
		snprintf(buf, size, "%lum%02lus", t / 60, t % 60);
	else
		snprintf(buf, size, "%luh%02lum", t / 3600, (t % 3600) / 60);
}

static int cmd_status(const struct ctl *ctl)
{
	struct ctl_response r;
	char errmsg[512], up[32];
	const cJSON *uptime;
	cJSON *j;

	if (ctl_get(ctl->node, "/api/v1/status", &r, errmsg, sizeof(errmsg))) {
		fprintf(stderr, "clusterctl: %s\n", errmsg);
		return 1;
	}
	if (r.status != 200) {
		fprintf(stderr, "clusterctl: node at %s answered HTTP %ld: %.200s\n",
			ctl->node, r.status, r.body);
		free(r.body);
		return 1;
	}
	if (ctl->json) {
		fputs(r.body, stdout);
		free(r.body);
		return 0;
	}
	j = ctl_parse_json(&r, errmsg, sizeof(errmsg));
	free(r.body);
	if (!j) {
		fprintf(stderr, "clusterctl: %s\n", errmsg);
		return 1;
	}
	uptime = cJSON_GetObjectItemCaseSensitive(j, "uptime_s");
	format_uptime(cJSON_IsNumber(uptime) ? uptime->valuedouble : 0, up, sizeof(up));
	printf("node      %s (%s)\n", str_field(j, "node_id"), str_field(j, "node_name"));
	printf("version   %s\n", str_field(j, "version"));
	printf("uptime    %s\n", up);
	printf("http      %s\n", str_field(j, "http"));
	printf("data dir  %s\n", str_field(j, "data_dir"));
	cJSON_Delete(j);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"node", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ctl ctl = {getenv("CLUSTERD_NODE"), 0};
	int c, rv;

	if (!ctl.node || !*ctl.node)
		ctl.node = CTL_DEFAULT_NODE;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ctl.node = optarg; break;
		case 'j': ctl.json = 1; break;
		case 'v': printf("clusterctl %s\n", CLUSTERD_VERSION); return 0;
		case 'h': fputs(usage_text, stdout); return 0;
		default:
			fprintf(stderr, "clusterctl: unknown or incomplete option '%s' (see 'clusterctl --help')\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[optind], "status") == 0) {
		rv = cmd_status(&ctl);
	} else {
		fprintf(stderr, "clusterctl: unknown command '%s' (see 'clusterctl --help')\n",
			argv[optind]);
		rv = 2;
	}
	curl_global_cleanup();
	return rv;
}
