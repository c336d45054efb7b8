/*
 * metrics.h: the Prometheus text exposition of the node.
 *
 * The process_* families follow the names the Prometheus client libraries
 * use, so dashboards written for any exporter work unchanged. Values are
 * read from /proc and getrusage at scrape time: a scrape costs a few
 * system calls and no game-server round trips (Clusterio's scrape fanned
 * out RCON work to every host; docs/factorio.md).
 */
#ifndef CLUSTERD_NODE_METRICS_H
#define CLUSTERD_NODE_METRICS_H

#include <stdint.h>

#include "node/http.h"

struct node_process_stats {
	double cpu_seconds;
	uint64_t rss_bytes;
	uint64_t vsize_bytes;
	uint64_t open_fds;
	uint64_t max_fds;
};

/* Reads this process's statistics; fields it cannot read stay 0. */
void node_process_stats_read(struct node_process_stats *s);

/* Starts a metric family: the HELP and TYPE lines. */
int metrics_family(struct http_reply *rep, const char *name, const char *type,
		   const char *help);

/* One unlabelled sample with its HELP and TYPE lines. */
struct metric_sample {
	const char *name;
	const char *type; /* "counter", "gauge" */
	const char *help;
	double value;
};

/* Writes each sample as its own family. 0 or ERR_TOOBIG. */
int metrics_samples(struct http_reply *rep, const struct metric_sample *s,
		    size_t n);

#endif
