/* A stand-in node for clusterctl's end-to-end test: the real HTTP server
 * (node/http.c) and the real API (node/api) over the unit tests' fake core
 * (an in-memory store, no Raft). Every core callback is deferred to the
 * next loop turn, so the deferred answer path runs over real sockets.
 *
 * usage: fake_api_node [--unjoined]   prints "PORT ADMIN_TOKEN JOIN_TOKEN"
 * on one line, serves until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "node/api/api.h"
#include "node/http.h"
#include "tests/unit/node/api/fake_core.h"

struct fake_node {
	uv_loop_t loop;
	struct node_http http;
	struct fake_core core;
	struct api api;
	uv_timer_t flush;
	uv_signal_t sigterm;
};

static void on_flush(uv_timer_t *t)
{
	struct fake_node *n = t->data;

	fake_flush(&n->core);
}

static int handle(void *ctx, const struct http_request *req,
		  struct http_reply *rep)
{
	struct fake_node *n = ctx;
	int rc = api_handle(&n->api, req, rep);

	if (n->core.npending > 0)
		uv_timer_start(&n->flush, on_flush, 0, 0);
	/* A join answered: the stand-in is a member from then on. */
	if (!n->core.joined && n->core.join_peer[0] != '\0')
		n->core.joined = 1;
	return rc;
}

static const struct http_route routes[] = {
	{"*", "/api/v1/", handle},
	{NULL, NULL, NULL},
};

static void on_stopped(struct node_http *h)
{
	(void)h;
}

static void on_term(uv_signal_t *s, int sig)
{
	struct fake_node *n = s->data;

	(void)sig;
	fake_flush(&n->core);
	uv_close((uv_handle_t *)&n->flush, NULL);
	uv_close((uv_handle_t *)&n->sigterm, NULL);
	node_http_stop(&n->http, on_stopped);
}

int main(int argc, char **argv)
{
	static struct fake_node n;
	char admin[CORE_TOKEN_STR_LEN + 1], join[CORE_TOKEN_STR_LEN + 1];
	struct core core = {&fake_core_ops, &n.core};
	const char *port;

	uv_loop_init(&n.loop);
	fake_init(&n.core);
	n.core.deferred = 1;
	fake_add_token(&n.core, CORE_TOKEN_API, CORE_ROLE_ADMIN, 0, admin);
	fake_add_token(&n.core, CORE_TOKEN_JOIN, CORE_ROLE_ADMIN,
		       n.core.wall_ms + CORE_JOIN_TOKEN_TTL_MS, join);
	n.core.joined = !(argc > 1 && strcmp(argv[1], "--unjoined") == 0);
	n.core.raft.term = 3;
	n.core.raft.id = n.core.raft.leader_id = 0x1234;
	snprintf(n.core.raft.leader_name, CORE_NAME_MAX, "fake");
	snprintf(n.core.raft.role, CORE_WORD_MAX, "leader");
	n.core.raft.nservers = 1;
	n.core.raft.servers[0].id = 0x1234;
	n.core.raft.servers[0].voter = 1;
	snprintf(n.core.raft.servers[0].name, CORE_NAME_MAX, "fake");
	n.core.nmembers = 1;
	snprintf(n.core.members[0].name, CORE_NAME_MAX, "fake");
	snprintf(n.core.members[0].state, CORE_WORD_MAX, "alive");
	snprintf(n.core.members[0].role, CORE_WORD_MAX, "leader");
	api_init(&n.api, &core);
	uv_timer_init(&n.loop, &n.flush);
	n.flush.data = &n;
	uv_signal_init(&n.loop, &n.sigterm);
	n.sigterm.data = &n;
	uv_signal_start(&n.sigterm, on_term, SIGTERM);
	if (node_http_start(&n.http, &n.loop, "127.0.0.1:0", routes, &n) != 0)
		return 1;
	port = strrchr(n.http.bound_addr, ':') + 1;
	printf("%s %s %s\n", port, admin, join);
	fflush(stdout);
	uv_run(&n.loop, UV_RUN_DEFAULT);
	fake_free(&n.core);
	uv_loop_close(&n.loop);
	return 0;
}
