/*
 * node.c: start-up, the API handlers, signals, shutdown. See node.h.
 */
#include "node/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/api/api.h"
#include "node/cluster.h"
#include "node/datadir.h"
#include "node/events.h"
#include "node/http.h"
#include "node/instances/instances.h"
#include "node/inventory.h"
#include "node/items.h"
#include "node/plugins/plugins.h"
#include "node/log.h"
#include "node/metrics.h"
#include "node/webui.h"

struct node {
	uv_loop_t loop;
	struct node_config cfg;
	struct node_datadir dir;
	struct node_http http;
	uv_signal_t sigint;
	uv_signal_t sigterm;
	struct tracer log;
	double start_time_s;  /* wall clock at start, seconds since epoch */
	uint64_t start_ms;    /* loop time at start */
	int stop_signal;      /* the signal that asked us to stop, or 0 */
	struct cluster *cluster; /* the cluster runtime (cluster.h) */
	struct api api;          /* the HTTP API over the cluster's core */
	struct inst_mgr *im;     /* the instance manager, or NULL */
	struct inv *inv;         /* inventory sync (issue 14), or NULL */
	struct items_svc *items; /* the items node side, or NULL */
	struct plug_mgr *pm;     /* the plugin supervisor, or NULL */
	struct ev_bus *events;   /* GET /api/v1/events (node/events.h) */
	int stopping;
	int exit_status;      /* why the cluster asked to stop, or 0 */
};

static double uptime_s(const struct node *n)
{
	return (double)(uv_now((uv_loop_t *)&n->loop) - n->start_ms) / 1000.0;
}

static int handle_status(void *ctx, const struct http_request *req,
			 struct http_reply *rep)
{
	struct node *n = ctx;
	cJSON *o = cJSON_CreateObject();
	char *text;
	int rv;

	(void)req;
	if (!o)
		return ERR_NOMEM;
	cJSON_AddStringToObject(o, "node_id", n->dir.node_id);
	cJSON_AddStringToObject(o, "node_name", n->cfg.node_name);
	cJSON_AddStringToObject(o, "version", CLUSTERD_VERSION);
	cJSON_AddNumberToObject(o, "uptime_s", uptime_s(n));
	cJSON_AddStringToObject(o, "data_dir", n->cfg.data_dir);
	cJSON_AddStringToObject(o, "http", n->http.bound_addr);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddBoolToObject(o, "joined",
			      n->cluster && n->api.core.ops->joined(n->api.core.ctx));
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return ERR_NOMEM;
	rv = http_printf(rep, "%s\n", text);
	cJSON_free(text);
	return rv;
}

/* The node's own figures, unlabelled: the first hook of its metrics
 * snapshot, and the answer to /metrics?scope=node. */
static int node_metrics(void *ctx, struct http_reply *rep)
{
	struct node *n = ctx;
	struct node_process_stats s;
	int rv;

	node_process_stats_read(&s);
	const struct metric_sample process[] = {
		{"process_cpu_seconds_total", "counter",
		 "Total user and system CPU time spent in seconds.", s.cpu_seconds},
		{"process_resident_memory_bytes", "gauge",
		 "Resident memory size in bytes.", (double)s.rss_bytes},
		{"process_virtual_memory_bytes", "gauge",
		 "Virtual memory size in bytes.", (double)s.vsize_bytes},
		{"process_start_time_seconds", "gauge",
		 "Start time of the process since unix epoch in seconds.",
		 n->start_time_s},
		{"process_open_fds", "gauge", "Number of open file descriptors.",
		 (double)s.open_fds},
		{"process_max_fds", "gauge",
		 "Maximum number of open file descriptors.", (double)s.max_fds},
		{"clusterd_http_requests_total", "counter",
		 "HTTP requests served by this node.", (double)n->http.requests_total},
	};

	rv = metrics_samples(rep, process, sizeof(process) / sizeof(process[0]));
	if (rv == 0)
		rv = metrics_family(rep, "clusterd_build_info", "gauge",
				    "Version of this clusterd node; always 1.");
	if (rv == 0)
		rv = http_printf(rep, "clusterd_build_info{version=\"%s\",node_id=\"%s\"} 1\n",
				 CLUSTERD_VERSION, n->dir.node_id);
	if (rv == 0 && n->cluster)
		rv = cluster_metrics(n->cluster, rep);
	if (rv == 0 && n->cluster)
		rv = api_metrics(&n->api, rep);
	if (rv == 0 && n->inv)
		rv = inv_metrics(n->inv, rep);
	if (rv == 0 && n->events)
		rv = ev_bus_metrics(n->events, rep);
	return rv;
}

/* GET /metrics: every node and instance of the cluster (node label on
 * each sample, from the cache: never waits); ?scope=node: this node's
 * own figures, live and unlabelled. */
static int handle_metrics(void *ctx, const struct http_request *req,
			  struct http_reply *rep)
{
	struct node *n = ctx;
	int rv = ERR_AGAIN;

	rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (n->cluster && !(req->query && req->query_len == 10 &&
			    memcmp(req->query, "scope=node", 10) == 0))
		rv = cluster_metrics_all(n->cluster, rep);
	return rv == ERR_AGAIN ? node_metrics(n, rep) : rv;
}

static int handle_api(void *ctx, const struct http_request *req,
		      struct http_reply *rep)
{
	struct node *n = ctx;
	static const char status_path[] = "/api/v1/status";

	/* GET /api/v1/status is the node's own route; any other method on
	 * it lands here through the prefix route and is refused as such. */
	if (req->path_len == sizeof(status_path) - 1 &&
	    memcmp(req->path, status_path, req->path_len) == 0) {
		rep->status = 405;
		rep->content_type = "application/json";
		return http_printf(rep, "{\"error\":\"method not allowed\"}\n");
	}
	return api_handle(&n->api, req, rep);
}

/* CORS (http.h's origin_ok): a page of the web UI served by another
 * member may call this node, so the UI can follow the instances of every
 * node (docs/web.md). Only origins "http://" + a member's HTTP address. */
static int origin_ok(void *ctx, const char *origin, size_t len)
{
	static const char scheme[] = "http://";
	const size_t sl = sizeof(scheme) - 1;
	struct node *n = ctx;
	struct core_member *m;
	size_t cnt = 0;
	int ok = 0;

	if (n->cluster == NULL || len <= sl || memcmp(origin, scheme, sl) != 0)
		return 0;
	m = malloc(CORE_MEMBERS_MAX * sizeof(*m));
	if (m == NULL)
		return 0;
	if (n->api.core.ops->members(n->api.core.ctx, m, CORE_MEMBERS_MAX,
				     &cnt) == 0)
		for (size_t i = 0; i < cnt && !ok; i++)
			ok = strlen(m[i].http) == len - sl &&
			     memcmp(m[i].http, origin + sl, len - sl) == 0;
	free(m);
	return ok;
}

static const struct http_route routes[] = {
	{"GET", "/api/v1/status", handle_status},
	{"GET", "/metrics", handle_metrics},
	{"*", "/api/v1/", handle_api},
	{"*", "/", node_webui_handle}, /* the web UI (docs/web.md) */
	{NULL, NULL, NULL},
};

static void on_http_stopped(struct node_http *h)
{
	struct node *n = (struct node *)((char *)h - offsetof(struct node, http));

	uv_close((uv_handle_t *)&n->sigint, NULL);
	uv_close((uv_handle_t *)&n->sigterm, NULL);
	ev_bus_free(n->events);
	n->events = NULL;
}

/* The cluster stops first: its pending operations end (their deferred
 * HTTP answers go out), then the HTTP server drains and closes. */
static void on_cluster_stopped(void *arg)
{
	struct node *n = arg;

	n->cluster = NULL;
	if (n->items) /* after everything that could call back into it */
		items_free(n->items);
	n->items = NULL;
	node_http_stop(&n->http, on_http_stopped);
}

static void stop_cluster(struct node *n)
{
	if (n->cluster)
		cluster_stop(n->cluster, on_cluster_stopped, n);
	else
		node_http_stop(&n->http, on_http_stopped);
}

static void on_inventory_stopped(void *arg)
{
	struct node *n = arg;

	n->inv = NULL;
	stop_cluster(n);
}

/* The instance manager stops before the cluster (its servers save and
 * exit while the cluster it reads from still runs); inventory sync stops
 * after it (no more messages arrive) and before the cluster (its writes
 * in flight complete). */
static void on_instances_stopped(void *arg)
{
	struct node *n = arg;

	n->im = NULL;
	if (n->inv != NULL) {
		inv_stop(n->inv, on_inventory_stopped, n);
		return;
	}
	stop_cluster(n);
}

static void stop_instances(struct node *n)
{
	if (n->items) {
		if (n->cluster)
			cluster_set_items(n->cluster, NULL);
		items_stop(n->items);
	}
	if (n->im == NULL) {
		stop_cluster(n);
		return;
	}
	if (n->cluster)
		cluster_set_instances(n->cluster, NULL);
	inst_mgr_stop(n->im, on_instances_stopped, n);
}

/* Plugins stop first: they use the API, which the instances and the
 * cluster still serve meanwhile. */
static void on_plugins_stopped(void *arg)
{
	struct node *n = arg;

	n->pm = NULL;
	stop_instances(n);
}

static void begin_stop(struct node *n)
{
	if (n->stopping)
		return;
	n->stopping = 1;
	/* Event streams never idle out: end them, or the HTTP server would
	 * wait for them. */
	ev_bus_stop(n->events);
	if (n->pm == NULL) {
		stop_instances(n);
		return;
	}
	if (n->cluster)
		cluster_set_plugins(n->cluster, NULL);
	plug_mgr_stop(n->pm, on_plugins_stopped, n);
}

static void on_cluster_exit(void *arg, int status)
{
	struct node *n = arg;

	n->exit_status = status;
	if (status == CLUSTER_EXIT_LEFT)
		TRACE_I(&n->log, "node", "left the cluster; stopping");
	begin_stop(n);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct node *n = sig->data;

	if (n->stop_signal) {
		TRACE_W(&n->log, "node", "second signal %d: still shutting down",
			signum);
		return;
	}
	n->stop_signal = signum;
	TRACE_I(&n->log, "node", "received %s, shutting down",
		signum == SIGINT ? "SIGINT" : "SIGTERM");
	begin_stop(n);
}

/* <data_dir>/http.addr holds the bound address while the node serves, so
 * scripts and tests that asked for port 0 learn the port. It is removed
 * when the lock is taken (a killed node's file names a dead port) and on a
 * clean stop, and written to a temporary file renamed into place, so a
 * reader sees either no file or the whole address of the running node. */
static void addr_path(const struct node *n, char *path, size_t size)
{
	snprintf(path, size, "%s/http.addr", n->cfg.data_dir);
}

static int write_addr_file(const struct node *n)
{
	char path[NODE_PATH_MAX + 32], tmp[NODE_PATH_MAX + 40];
	FILE *f;

	addr_path(n, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return ERR_IO;
	fprintf(f, "%s\n", n->http.bound_addr);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return ERR_IO;
	return 0;
}

static void remove_addr_file(const struct node *n)
{
	char path[NODE_PATH_MAX + 32];

	addr_path(n, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		TRACE_W(&n->log, "node", "cannot remove %s: %s", path, strerror(errno));
}

/* Environment knobs of inventory sync, for tests and benchmarks: the
 * gossip threshold and stopped-instance grace of lock expiry, and the
 * download chunk budget (inventory.h). */
static uint64_t env_u64(const char *name)
{
	const char *v = getenv(name);

	return v != NULL ? strtoull(v, NULL, 10) : 0;
}

static int start_inventory(struct node *n, char *errmsg, size_t errsz)
{
	struct inv_config vc = {
		.loop = &n->loop,
		.log = &n->log,
		.core = cluster_core(n->cluster),
		.im = n->im,
		.node_dead_ms = env_u64("CLUSTERD_INVENTORY_NODE_DEAD_MS"),
		.stopped_ms = env_u64("CLUSTERD_INVENTORY_STOPPED_MS"),
		.chunk_cost = (size_t)env_u64("CLUSTERD_INVENTORY_CHUNK_COST"),
	};
	int rv = inv_new(&vc, &n->inv);

	if (rv != 0)
		snprintf(errmsg, errsz, "cannot start inventory sync: %s",
			 err_str(rv));
	return rv;
}

/* The URL a local process reaches this node's API at: a wildcard bind
 * address becomes loopback. */
static void local_api_url(const struct node *n, char *url, size_t size)
{
	const char *a = n->http.bound_addr, *colon = strrchr(a, ':');

	if (colon != NULL && strncmp(a, "0.0.0.0:", 8) == 0)
		snprintf(url, size, "http://127.0.0.1%s", colon);
	else if (colon != NULL && strncmp(a, "[::]:", 5) == 0)
		snprintf(url, size, "http://[::1]%s", colon);
	else
		snprintf(url, size, "http://%s", a);
}

static int start_plugins(struct node *n, char *errmsg, size_t errsz)
{
	char url[128];
	struct plug_config pc = {
		.loop = &n->loop,
		.log = &n->log,
		.core = cluster_core(n->cluster),
		.node_name = n->cfg.node_name,
		.api_url = url,
	};
	int rv;

	local_api_url(n, url, sizeof(url));
	rv = plug_mgr_new(&pc, &n->pm);
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot start the plugin supervisor: %s",
			 err_str(rv));
		return rv;
	}
	cluster_set_plugins(n->cluster, n->pm);
	return 0;
}

static int start_cluster(struct node *n, char *errmsg, size_t errsz)
{
	struct cluster_config cc = {
		.loop = &n->loop,
		.data_dir = n->cfg.data_dir,
		.name = n->cfg.node_name,
		.bind = n->cfg.bind_addr,
		.advertise = n->cfg.advertise_addr[0] ? n->cfg.advertise_addr
						       : NULL,
		.http_addr = n->http.bound_addr,
		.log = &n->log,
		.on_exit = on_cluster_exit,
		.exit_arg = n,
		.events = n->events,
	};
	int rv = cluster_start(&cc, &n->cluster, errmsg, errsz);
	struct items_config xc = {.loop = &n->loop, .log = &n->log};
	struct inst_config ic = {
		.loop = &n->loop,
		.log = &n->log,
		.factorio_dir = n->cfg.factorio_dir,
		.instances_dir = n->cfg.instances_dir,
		.lua_dir = n->cfg.lua_dir,
		.port_lo = n->cfg.instance_port_lo,
		.port_hi = n->cfg.instance_port_hi,
		.events = n->events,
	};

	if (n->cluster) {
		api_init(&n->api, cluster_core(n->cluster));
		n->api.events = n->events;
		(void)cluster_metrics_hook(n->cluster, CLUSTER_METRICS_NODE,
					   node_metrics, n);
		(void)cluster_metrics_hook(n->cluster, CLUSTER_METRICS_CLUSTER,
					   cluster_items_metrics, n->cluster);
		cluster_metrics_share(n->cluster, !n->cfg.cluster_metrics_off);
	}
	if (rv != 0 || n->cluster == NULL)
		return rv;
	ic.core = cluster_core(n->cluster);
	rv = inst_mgr_new(&ic, &n->im);
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot start the instance manager: %s",
			 err_str(rv));
		return rv;
	}
	cluster_set_instances(n->cluster, n->im);
	rv = start_inventory(n, errmsg, errsz);
	if (rv != 0)
		return rv;
	xc.core = ic.core;
	xc.im = n->im;
	xc.confirm_after_save = n->cfg.items_confirm_after_save;
	rv = items_new(&xc, &n->items);
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot start the item ledger's node side: %s",
			 err_str(rv));
		return rv;
	}
	cluster_set_items(n->cluster, n->items);
	return start_plugins(n, errmsg, errsz);
}

static int start(struct node *n, char *errmsg, size_t errsz)
{
	struct timespec ts;
	int rv;

	rv = node_datadir_open(&n->dir, n->cfg.data_dir, errmsg, errsz);
	if (rv)
		return rv;
	remove_addr_file(n);
	if (node_config_remember(&n->cfg, errmsg, errsz) < 0)
		TRACE_W(&n->log, "node", "%s", errmsg);
	rv = uv_loop_init(&n->loop);
	if (rv) {
		snprintf(errmsg, errsz, "cannot create event loop: %s", uv_strerror(rv));
		goto err_close_dir;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	n->start_time_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	n->start_ms = uv_now(&n->loop);
	rv = ev_bus_new(&n->loop, (uint64_t)(n->start_time_s * 1000.0),
			n->cfg.node_name, &n->events);
	if (rv) {
		snprintf(errmsg, errsz, "cannot create the event bus: %s", err_str(rv));
		goto err_close_loop;
	}
	rv = node_http_start(&n->http, &n->loop, n->cfg.http_addr, routes, n);
	if (rv) {
		snprintf(errmsg, errsz, "cannot listen on %s: %s", n->cfg.http_addr,
			 rv == UV_EADDRINUSE ? "address already in use" : uv_strerror(rv));
		goto err_close_loop;
	}
	rv = start_cluster(n, errmsg, errsz);
	if (rv)
		goto err_stop_http;
	n->http.origin_ok = origin_ok;
	if (write_addr_file(n) != 0)
		TRACE_W(&n->log, "node", "cannot write %s/http.addr: %s",
			n->cfg.data_dir, strerror(errno));
	uv_signal_init(&n->loop, &n->sigint);
	uv_signal_init(&n->loop, &n->sigterm);
	n->sigint.data = n;
	n->sigterm.data = n;
	uv_signal_start(&n->sigint, on_signal, SIGINT);
	uv_signal_start(&n->sigterm, on_signal, SIGTERM);
	return 0;

err_stop_http:
	if (n->cluster)
		cluster_stop(n->cluster, NULL, NULL);
	node_http_stop(&n->http, NULL);
err_close_loop:
	ev_bus_stop(n->events);
	uv_run(&n->loop, UV_RUN_DEFAULT); /* runs the listener's close */
	ev_bus_free(n->events); /* nothing publishes any more */
	n->events = NULL;
	uv_run(&n->loop, UV_RUN_DEFAULT);
	uv_loop_close(&n->loop);
err_close_dir:
	node_datadir_close(&n->dir);
	return rv == UV_EADDRINUSE ? ERR_BUSY : (rv < 0 ? rv : ERR_IO);
}

int node_run(const struct node_config *cfg, char *errmsg, size_t errsz)
{
	static struct node n; /* one node per process; too big for the stack */
	int rv;

	memset(&n, 0, sizeof(n));
	n.cfg = *cfg;
	node_log_init(&n.log, (enum trace_level)cfg->log_level);
	rv = start(&n, errmsg, errsz);
	if (rv)
		return rv;
	TRACE_I(&n.log, "node", "clusterd %s node %s (%s) serving http://%s, data in %s",
		CLUSTERD_VERSION, n.dir.node_id, n.cfg.node_name,
		n.http.bound_addr, n.cfg.data_dir);
	uv_run(&n.loop, UV_RUN_DEFAULT);
	rv = uv_loop_close(&n.loop);
	if (rv)
		TRACE_E(&n.log, "node", "event loop closed with handles open: %s",
			uv_strerror(rv));
	remove_addr_file(&n);
	if (n.exit_status == CLUSTER_EXIT_LEFT &&
	    cluster_forget(n.cfg.data_dir, errmsg, errsz) != 0)
		TRACE_E(&n.log, "node", "%s", errmsg);
	node_datadir_close(&n.dir);
	TRACE_I(&n.log, "node", "stopped");
	if (n.exit_status < 0) {
		snprintf(errmsg, errsz, "stopped after a storage failure: %s",
			 err_str(n.exit_status));
		return n.exit_status;
	}
	return 0;
}
