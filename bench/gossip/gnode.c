/*
 * gnode: one gossip member as a process, for bench/gossip's "proc" part:
 * node/gossipd (the node's gossip driver) on a libuv loop, datagrams on a
 * real UDP socket and the reliable channel on real TCP, one port for both.
 * No encryption and no Raft: it measures the gossip itself between real
 * processes, until clusterd's own runtime can be measured the same way.
 *
 *   gnode --name N --port P [--seed-port S] [--report-ms 1000]
 *
 * Prints to stdout, one line each, stamped with CLOCK_MONOTONIC in ms
 * (shared by all processes of the machine, so the harness can time a
 * kill against them): "T member NAME STATUS" on every change it observes,
 * "T bytes OUT" (gossip payload bytes sent so far) every report interval.
 * Reliable messages: one TCP connection per message, a 4-byte big-endian
 * length and the bytes (push-pull is rare: one per 30 s or so).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "node/gossipd/gossipd.h"

#define RELIABLE_MAX (4u << 20)

struct gnode {
	uv_loop_t *loop;
	uv_udp_t udp;
	uv_tcp_t listener;
	uv_timer_t timer, report;
	struct gossipd *d;
	uint64_t bytes_out;
	const char *name;
};

static struct gnode G;

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

static const char *status_name(enum gossip_status s)
{
	switch (s) {
	case GOSSIP_ALIVE: return "alive";
	case GOSSIP_SUSPECT: return "suspect";
	case GOSSIP_DEAD: return "dead";
	case GOSSIP_LEFT: return "left";
	}
	return "?";
}

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(addr, ':');

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
		return ERR_INVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	return uv_ip4_addr(host, atoi(colon + 1), sa);
}

/* ---- sending ---- */

struct udp_send {
	uv_udp_send_t req;
	char data[];
};

static void udp_sent(uv_udp_send_t *req, int status)
{
	(void)status; /* a lost datagram is gossip's business */
	free(req);
}

struct tcp_send {
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t wr;
	size_t len;
	char data[]; /* 4-byte length, then the message */
};

static void tcp_closed(uv_handle_t *h)
{
	free(h->data);
}

static void tcp_written(uv_write_t *wr, int status)
{
	struct tcp_send *s = wr->data;

	(void)status;
	uv_close((uv_handle_t *)&s->tcp, tcp_closed);
}

static void tcp_connected(uv_connect_t *c, int status)
{
	struct tcp_send *s = c->data;
	uv_buf_t b = uv_buf_init(s->data, (unsigned)s->len);

	if (status != 0 || uv_write(&s->wr, (uv_stream_t *)&s->tcp, &b, 1, tcp_written) != 0)
		uv_close((uv_handle_t *)&s->tcp, tcp_closed);
}

static int env_send(void *ctx, const char *addr, enum gossip_channel ch,
		    const uint8_t *buf, size_t len)
{
	struct gnode *g = ctx;
	struct sockaddr_in sa;
	int rc = parse_addr(addr, &sa);

	if (rc != 0)
		return rc;
	g->bytes_out += len;
	if (ch == GOSSIP_UNRELIABLE) {
		struct udp_send *s = malloc(sizeof(*s) + len);
		uv_buf_t b;

		if (s == NULL)
			return ERR_NOMEM;
		memcpy(s->data, buf, len);
		b = uv_buf_init(s->data, (unsigned)len);
		rc = uv_udp_send(&s->req, &g->udp, &b, 1, (const struct sockaddr *)&sa, udp_sent);
		if (rc != 0)
			free(s);
		return rc;
	}
	struct tcp_send *s = malloc(sizeof(*s) + 4 + len);

	if (s == NULL)
		return ERR_NOMEM;
	s->len = 4 + len;
	s->data[0] = (char)(len >> 24);
	s->data[1] = (char)(len >> 16);
	s->data[2] = (char)(len >> 8);
	s->data[3] = (char)len;
	memcpy(s->data + 4, buf, len);
	uv_tcp_init(g->loop, &s->tcp);
	s->tcp.data = s;
	s->conn.data = s;
	s->wr.data = s;
	rc = uv_tcp_connect(&s->conn, &s->tcp, (const struct sockaddr *)&sa, tcp_connected);
	if (rc != 0)
		uv_close((uv_handle_t *)&s->tcp, tcp_closed);
	return rc;
}

/* ---- the timer and the observers ---- */

static void on_timer(uv_timer_t *t)
{
	(void)t;
	gossipd_tick(G.d, now_ms());
}

static void env_set_timer(void *ctx, uint64_t deadline_ms)
{
	struct gnode *g = ctx;
	uint64_t now = now_ms();

	uv_timer_start(&g->timer, on_timer, deadline_ms > now ? deadline_ms - now : 0, 0);
}

static void env_on_member(void *ctx, const struct gossip_member_change *c)
{
	(void)ctx;
	printf("%" PRIu64 " member %s %s\n", now_ms(), c->name, status_name(c->status));
	fflush(stdout);
}

static void on_report(uv_timer_t *t)
{
	(void)t;
	printf("%" PRIu64 " bytes %" PRIu64 "\n", now_ms(), G.bytes_out);
	fflush(stdout);
}

/* ---- receiving ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	b->base = malloc(suggested);
	b->len = b->base ? suggested : 0;
}

static void udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b,
		     const struct sockaddr *from, unsigned flags)
{
	(void)u;
	(void)flags;
	if (n > 0 && from != NULL)
		gossipd_receive(G.d, now_ms(), "udp", GOSSIP_UNRELIABLE,
				(const uint8_t *)b->base, (size_t)n);
	free(b->base);
}

struct conn {
	uv_tcp_t tcp;
	uint8_t *buf;
	size_t len, cap;
};

static void conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	free(c->buf);
	free(c);
}

/* Delivers every complete frame in c->buf; -1 if a frame is too big. */
static int deliver_frames(struct conn *c)
{
	size_t off = 0;

	while (c->len - off >= 4) {
		size_t n = (size_t)c->buf[off] << 24 | (size_t)c->buf[off + 1] << 16 |
			   (size_t)c->buf[off + 2] << 8 | c->buf[off + 3];

		if (n > RELIABLE_MAX)
			return -1;
		if (c->len - off - 4 < n)
			break;
		gossipd_receive(G.d, now_ms(), "tcp", GOSSIP_RELIABLE, c->buf + off + 4, n);
		off += 4 + n;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return 0;
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (n > 0) {
		if (c->len + (size_t)n > c->cap) {
			size_t cap = (c->len + (size_t)n) * 2;
			uint8_t *p = cap <= 2 * (RELIABLE_MAX + 4) ? realloc(c->buf, cap) : NULL;

			if (p == NULL) {
				free(b->base);
				uv_close((uv_handle_t *)s, conn_closed);
				return;
			}
			c->buf = p;
			c->cap = cap;
		}
		memcpy(c->buf + c->len, b->base, (size_t)n);
		c->len += (size_t)n;
		if (deliver_frames(c) != 0) {
			free(b->base);
			uv_close((uv_handle_t *)s, conn_closed);
			return;
		}
	}
	free(b->base);
	if (n < 0)
		uv_close((uv_handle_t *)s, conn_closed);
}

static void on_accept(uv_stream_t *l, int status)
{
	struct conn *c;

	if (status != 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	uv_tcp_init(G.loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, conn_read) != 0)
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* ---- main ---- */

static int listen_on(int port)
{
	struct sockaddr_in sa;
	int rc = uv_ip4_addr("127.0.0.1", port, &sa);

	if (rc == 0)
		rc = uv_udp_bind(&G.udp, (const struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_udp_recv_start(&G.udp, alloc_cb, udp_recv);
	if (rc == 0)
		rc = uv_tcp_bind(&G.listener, (const struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&G.listener, 128, on_accept);
	return rc;
}

int main(int argc, char **argv)
{
	struct gossipd_config c;
	struct gossipd_env env = {.ctx = &G, .send = env_send,
				  .set_timer = env_set_timer,
				  .on_member = env_on_member};
	char addr[32], seed[32];
	const char *seeds[1] = {seed};
	int port = 0, seed_port = 0, report_ms = 1000, rc;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--name") == 0)
			G.name = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seed-port") == 0)
			seed_port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--report-ms") == 0)
			report_ms = atoi(argv[i + 1]);
	}
	if (G.name == NULL || port <= 0 || report_ms <= 0) {
		fprintf(stderr, "usage: gnode --name N --port P [--seed-port S] [--report-ms MS]\n");
		return 2;
	}
	G.loop = uv_default_loop();
	uv_udp_init(G.loop, &G.udp);
	uv_tcp_init(G.loop, &G.listener);
	uv_timer_init(G.loop, &G.timer);
	uv_timer_init(G.loop, &G.report);
	rc = listen_on(port);
	if (rc != 0) {
		fprintf(stderr, "gnode: port %d: %s\n", port, err_str(rc));
		return 1;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	snprintf(seed, sizeof(seed), "127.0.0.1:%d", seed_port);
	gossipd_config_default(&c);
	c.gossip.name = G.name;
	c.gossip.addr = addr;
	c.seed = uv_hrtime() ^ (uint64_t)port;
	rc = gossipd_new(&c, &env, now_ms(), &G.d);
	if (rc == 0)
		rc = gossipd_join(G.d, now_ms(), seeds, seed_port > 0 ? 1 : 0);
	if (rc != 0) {
		fprintf(stderr, "gnode: %s\n", err_str(rc));
		return 1;
	}
	uv_timer_start(&G.report, on_report, (uint64_t)report_ms, (uint64_t)report_ms);
	return uv_run(G.loop, UV_RUN_DEFAULT);
}
