/*
 * server.c: the stand-in's libuv loop.
 *
 * The game advances 60 ticks per second on a one-shot timer re-armed for
 * the next tick's deadline (start + n/60 s), so ticks do not drift; if the
 * loop falls far behind, ticks are skipped (the game's UPS drops the same
 * way). RCON commands are queued as they arrive and run at the start of the
 * next tick, as in the game, each answered by one response packet.
 *
 * RCON framing is Source RCON (README.md, "RCON"): int32 LE length,
 * int32 LE id, int32 LE type, body, two NULs. A client must authenticate
 * first (type 3); a wrong password answers id -1. A length outside
 * [10, 10 + SG_RCON_BODY_MAX], a missing terminator, an unknown type or a
 * command before authentication closes that client only. A client with
 * SG_RCON_PENDING_MAX commands queued is no longer read until it drains.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "tools/factorio-standin/frame.h"
#include "tools/factorio-standin/server.h"

#define TICK_NS (1000000000ull / SG_TICKS_PER_SECOND)
#define CATCH_UP_MAX 10 /* ticks run in one timer callback before skipping */
#define STDIN_LINE_MAX (1u << 20)

enum { RCON_RESPONSE = 0, RCON_EXEC = 2, RCON_AUTH = 3 };

struct client {
	uv_tcp_t tcp; /* first: the handle's address is the client's */
	struct server *srv;
	struct wbuf in;
	bool authed;
	bool closing;
	bool reading;
	uint32_t pending; /* commands queued, not yet answered */
	struct client *next;
};

struct cmd {
	struct client *c; /* NULL for stdin */
	int32_t id;
	char *body;
	size_t len;
	struct cmd *next;
};

struct server {
	uv_loop_t loop;
	struct sg_game *g;
	const struct sg_server_opts *o;
	uv_tcp_t rcon;
	uv_udp_t game;
	uv_timer_t timer;
	uv_signal_t sigint, sigterm;
	uv_pipe_t stdin_pipe;
	bool stdin_on;
	struct wbuf stdin_buf;
	uint64_t start_ns, ticks_run;
	struct client *clients;
	uint32_t nclients;
	struct cmd *head, *tail;
	const char *signal_name;
	bool stopping;
};

/* ---- stdout ------------------------------------------------------------ */

void sg_stdout_line(void *ctx, const char *line)
{
	(void)ctx;
	fputs(line, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

double sg_stdout_uptime(void *ctx)
{
	const struct sg_stdout *s = ctx;
	return (double)(uv_hrtime() - s->start_ns) / 1e9;
}

void sg_stdout_date(void *ctx, char out[32])
{
	(void)ctx;
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- RCON clients ------------------------------------------------------ */

static void client_free_if_done(struct client *c)
{
	if (c->closing && c->pending == 0 && c->tcp.data == NULL) {
		wbuf_free(&c->in);
		free(c);
	}
}

static void on_client_closed(uv_handle_t *h)
{
	struct client *c = (struct client *)h;
	c->tcp.data = NULL; /* marks the handle closed */
	client_free_if_done(c);
}

static void client_close(struct client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	struct server *s = c->srv;
	ASSERT(s->nclients > 0);
	for (struct client **p = &s->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	s->nclients--;
	uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct client *c = req->data;
	(void)status;
	free(req);
	uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

/* Closes after the replies already written have gone out (a /quit's
 * answer, or answers to commands run while stopping). */
static void client_close_after_writes(struct client *c)
{
	if (c->closing)
		return;
	uv_shutdown_t *req = malloc(sizeof(*req));
	if (!req) {
		client_close(c);
		return;
	}
	req->data = c;
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
		free(req);
		client_close(c);
		return;
	}
	/* As client_close, but the handle closes in on_shutdown. */
	c->closing = true;
	struct server *s = c->srv;
	for (struct client **p = &s->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	s->nclients--;
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static void client_send(struct client *c, int32_t id, int32_t type,
			const void *body, size_t len)
{
	if (c->closing)
		return;
	/* A client that sends but never reads is dropped rather than
	 * buffering its replies without bound. */
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) >
	    SG_RCON_WRITE_QUEUE_MAX) {
		client_close(c);
		return;
	}
	size_t total = 4 + 4 + 4 + len + 2;
	uint8_t *p = malloc(total);
	uv_write_t *w = malloc(sizeof(*w));
	if (!p || !w) {
		free(p);
		free(w);
		client_close(c);
		return;
	}
	sg_frame_put(p, id, type, body, len);
	w->data = p;
	uv_buf_t buf = uv_buf_init((char *)p, (unsigned)total);
	if (uv_write(w, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0) {
		free(p);
		free(w);
		client_close(c);
	}
}

static void queue_cmd(struct server *s, struct client *c, int32_t id,
		      const char *body, size_t len)
{
	struct cmd *q = malloc(sizeof(*q));
	char *copy = malloc(len + 1);
	if (!q || !copy) {
		free(q);
		free(copy);
		if (c)
			client_close(c);
		return;
	}
	memcpy(copy, body, len);
	copy[len] = 0;
	*q = (struct cmd){c, id, copy, len, NULL};
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	if (c)
		c->pending++;
}

/* Handles one complete packet; returns false if the client must close. */
static bool client_packet(struct client *c, const struct sg_frame *f)
{
	struct server *s = c->srv;
	if (f->type == RCON_AUTH) {
		size_t n = strlen(s->o->rcon_password);
		bool ok = n == f->body_len &&
			  memcmp(f->body, s->o->rcon_password, n) == 0;
		c->authed = ok;
		client_send(c, ok ? f->id : -1, RCON_EXEC, "", 0);
		return true;
	}
	if (f->type != RCON_EXEC || !c->authed)
		return false;
	queue_cmd(s, c, f->id, f->body, f->body_len);
	return true;
}

/* Consumes complete packets from the input buffer while the client may
 * queue more. */
static void client_parse(struct client *c)
{
	size_t off = 0;
	while (!c->closing && c->pending < SG_RCON_PENDING_MAX) {
		struct sg_frame f;
		long n = sg_frame_next(c->in.p + off, c->in.len - off,
				       SG_RCON_BODY_MAX, &f);
		if (n == 0)
			break;
		if (n < 0 || !client_packet(c, &f)) {
			client_close(c);
			return;
		}
		off += (size_t)n;
	}
	if (off && !c->closing) {
		memmove(c->in.p, c->in.p + off, c->in.len - off);
		c->in.len -= off;
	}
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *c = (struct client *)h;
	(void)hint;
	size_t want = 65536;
	if (wbuf_reserve(&c->in, want) < 0) {
		size_t room = c->in.limit - c->in.len;
		if (room == 0 || wbuf_reserve(&c->in, room) < 0) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		want = room;
	}
	*buf = uv_buf_init((char *)c->in.p + c->in.len, (unsigned)want);
}

static void client_set_reading(struct client *c, bool on);

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = (struct client *)st;
	(void)buf;
	if (n < 0) {
		client_close(c);
		return;
	}
	c->in.len += (size_t)n;
	client_parse(c);
	if (!c->closing && c->pending >= SG_RCON_PENDING_MAX)
		client_set_reading(c, false);
}

static void client_set_reading(struct client *c, bool on)
{
	if (c->closing || c->reading == on)
		return;
	c->reading = on;
	if (on)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct server *s = server->data;
	if (status < 0)
		return;
	struct client *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	uv_tcp_init(&s->loop, &c->tcp);
	c->tcp.data = c;
	c->srv = s;
	/* A whole maximum packet plus one read's worth. */
	wbuf_init(&c->in, 14 + SG_RCON_BODY_MAX + 65536);
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
	    s->nclients >= SG_RCON_CLIENTS_MAX || s->stopping) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, on_client_closed);
		return;
	}
	c->next = s->clients;
	s->clients = c;
	s->nclients++;
	client_set_reading(c, true);
}

/* ---- ticks ---------------------------------------------------------------- */

static void run_commands(struct server *s)
{
	/* Only what arrived before this tick: commands queued while these
	 * run (none today, but a handler could) wait for the next one. */
	struct cmd *q = s->head;
	s->head = s->tail = NULL;
	while (q) {
		struct cmd *next = q->next;
		struct wbuf reply;
		wbuf_init(&reply, SG_REPLY_MAX);
		sg_command(s->g, q->body, q->len, &reply);
		struct client *c = q->c;
		if (c) {
			client_send(c, q->id, RCON_RESPONSE, reply.p,
				    reply.len);
			ASSERT(c->pending > 0);
			c->pending--;
			if (c->closing) {
				client_free_if_done(c);
			} else if (c->pending < SG_RCON_PENDING_MAX / 2) {
				client_parse(c);
				if (c->pending < SG_RCON_PENDING_MAX)
					client_set_reading(c, true);
			}
		} else if (reply.len) {
			fwrite(reply.p, 1, reply.len, stdout);
			fflush(stdout);
		}
		wbuf_free(&reply);
		free(q->body);
		free(q);
		q = next;
	}
}

static void stop(struct server *s);

static void game_tick(struct server *s)
{
	run_commands(s);
	if (!s->g->quit)
		sg_tick(s->g);
	if (s->g->quit)
		stop(s);
}

static void on_timer(uv_timer_t *t)
{
	struct server *s = t->data;
	uint64_t now = uv_hrtime();
	uint64_t due = (now - s->start_ns) / TICK_NS;
	int burst = 0;
	while (s->ticks_run < due && burst++ < CATCH_UP_MAX && !s->stopping) {
		s->ticks_run++;
		game_tick(s);
	}
	if (s->stopping)
		return;
	if (s->ticks_run < due)
		s->ticks_run = due; /* fell behind: skip, as UPS would drop */
	uint64_t next = s->start_ns + (s->ticks_run + 1) * TICK_NS;
	now = uv_hrtime();
	uint64_t wait_ms = next > now ? (next - now + 999999) / 1000000 : 0;
	uv_timer_start(&s->timer, on_timer, wait_ms, 0);
}

/* ---- stdin console ------------------------------------------------------ */

static void on_stdin_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct server *s = h->data;
	(void)hint;
	if (wbuf_reserve(&s->stdin_buf, 4096) < 0) {
		s->stdin_buf.len = 0; /* an overlong line is dropped */
		(void)wbuf_reserve(&s->stdin_buf, 4096);
	}
	*buf = uv_buf_init((char *)s->stdin_buf.p + s->stdin_buf.len, 4096);
}

static void on_stdin(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct server *s = st->data;
	(void)buf;
	if (n < 0) {
		uv_read_stop(st);
		return;
	}
	s->stdin_buf.len += (size_t)n;
	uint8_t *nl;
	while ((nl = memchr(s->stdin_buf.p, '\n', s->stdin_buf.len))) {
		size_t len = (size_t)(nl - s->stdin_buf.p);
		queue_cmd(s, NULL, 0, (const char *)s->stdin_buf.p, len);
		memmove(s->stdin_buf.p, nl + 1, s->stdin_buf.len - len - 1);
		s->stdin_buf.len -= len + 1;
	}
}

static void start_stdin(struct server *s)
{
	if (uv_guess_handle(0) != UV_NAMED_PIPE)
		return;
	if (uv_pipe_init(&s->loop, &s->stdin_pipe, 0) < 0)
		return;
	s->stdin_pipe.data = s;
	wbuf_init(&s->stdin_buf, STDIN_LINE_MAX);
	if (uv_pipe_open(&s->stdin_pipe, 0) < 0 ||
	    uv_read_start((uv_stream_t *)&s->stdin_pipe, on_stdin_alloc,
			  on_stdin) < 0) {
		uv_close((uv_handle_t *)&s->stdin_pipe, NULL);
		wbuf_free(&s->stdin_buf);
		return;
	}
	s->stdin_on = true;
}

/* ---- stop ----------------------------------------------------------------- */

static void close_if_open(uv_handle_t *h)
{
	if (h->loop && !uv_is_closing(h))
		uv_close(h, NULL);
}

/* The server's own handles (timer, signals, RCON listener, game socket);
 * client connections and stdin are closed by their owners. */
static void close_loop_handles(struct server *s)
{
	uv_timer_stop(&s->timer);
	close_if_open((uv_handle_t *)&s->timer);
	close_if_open((uv_handle_t *)&s->sigint);
	close_if_open((uv_handle_t *)&s->sigterm);
	close_if_open((uv_handle_t *)&s->rcon);
	close_if_open((uv_handle_t *)&s->game);
}

/* Saves (unless a script error stopped the game, which the game does not
 * save over) and closes every handle; the loop then ends. */
static void stop(struct server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	struct sg_game *g = s->g;
	if (s->signal_name) {
		sg_plainf(g, "Received %s, shutting down", s->signal_name);
		sg_plainf(g, "Quitting: signal.");
	}
	sg_logf(g, "Info", "ServerMultiplayerManager.cpp:809",
		"updateTick(%llu) changing state from(InGame) "
		"to(DisconnectingScheduled)",
		(unsigned long long)g->tick);
	/* Commands still queued are answered before the connections go. */
	run_commands(s);
	if (g->exit_code == 0)
		(void)sg_save_on_exit(g);
	sg_logf(g, "Info", "ServerMultiplayerManager.cpp:809",
		"updateTick(%llu) changing state from(DisconnectingScheduled) "
		"to(Disconnected)",
		(unsigned long long)g->tick);
	while (s->clients)
		client_close_after_writes(s->clients);
	close_loop_handles(s);
	if (s->stdin_on)
		close_if_open((uv_handle_t *)&s->stdin_pipe);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;
	s->signal_name = signum == SIGINT ? "SIGINT" : "SIGTERM";
	stop(s);
}

/* ---- start ---------------------------------------------------------------- */

static int bind_game(struct server *s)
{
	struct sockaddr_in addr;
	const char *ip = s->o->bind_address ? s->o->bind_address : "0.0.0.0";
	uv_ip4_addr(ip, s->o->game_port, &addr);
	uv_udp_init(&s->loop, &s->game);
	int rc = uv_udp_bind(&s->game, (const struct sockaddr *)&addr, 0);
	if (rc < 0) {
		sg_logf(s->g, "Error", "ServerMultiplayerManager.cpp:93",
			rc == UV_EADDRINUSE
				? "MultiplayerManager failed: Host address is "
				  "already in use."
				: "MultiplayerManager failed: \"Binding IPv4 "
				  "socket failed: %s\"",
			uv_strerror(rc));
		return rc;
	}
	sg_logf(s->g, "Info", "UDPSocket.cpp:39",
		"Opening socket at (IP ADDR:({%s:%d}))", ip, s->o->game_port);
	/* The game prints this one without level and source. */
	sg_plainf(s->g, "Hosting game at IP ADDR:({%s:%d})", ip,
		  s->o->game_port);
	return 0;
}

static int bind_rcon(struct server *s)
{
	struct sockaddr_in addr;
	uv_ip4_addr("0.0.0.0", s->o->rcon_port, &addr);
	uv_tcp_init(&s->loop, &s->rcon);
	s->rcon.data = s;
	int rc = uv_tcp_bind(&s->rcon, (const struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->rcon, 128, on_connection);
	if (rc < 0) {
		sg_logf(s->g, "Error", "RemoteCommandProcessor.cpp:121",
			"Can't bind socket: %s",
			rc == UV_EADDRINUSE ? "Address already in use"
					    : uv_strerror(rc));
		return rc;
	}
	/* Printed only now: the port accepts from this point on. */
	sg_logf(s->g, "Info", "RemoteCommandProcessor.cpp:131",
		"Starting RCON interface at port %d", s->o->rcon_port);
	return 0;
}

static void state_line(struct sg_game *g, const char *from, const char *to)
{
	sg_logf(g, "Info", "ServerMultiplayerManager.cpp:809",
		"updateTick(%llu) changing state from(%s) to(%s)",
		(unsigned long long)g->tick, from, to);
}

static void drain_queue(struct server *s)
{
	while (s->head) {
		struct cmd *q = s->head;
		s->head = q->next;
		free(q->body);
		free(q);
	}
	s->tail = NULL;
}

int sg_server_run(struct sg_game *g, const struct sg_server_opts *o)
{
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	s->g = g;
	s->o = o;
	int exit_code = 1;
	uv_loop_init(&s->loop);
	uv_timer_init(&s->loop, &s->timer);
	s->timer.data = s;
	uv_signal_init(&s->loop, &s->sigint);
	uv_signal_init(&s->loop, &s->sigterm);
	s->sigint.data = s->sigterm.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	state_line(g, "Ready", "PreparedToHostGame");
	if (o->game_port && bind_game(s) < 0)
		goto out_close;
	state_line(g, "PreparedToHostGame", "CreatingGame");
	state_line(g, "CreatingGame", "InGame");
	if (o->rcon_port && bind_rcon(s) < 0)
		goto out_close;
	start_stdin(s);
	s->start_ns = uv_hrtime();
	uv_timer_start(&s->timer, on_timer, 1000 / SG_TICKS_PER_SECOND, 0);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	exit_code = g->exit_code;
	goto out_free;
out_close:
	s->stopping = true;
	close_loop_handles(s);
	uv_run(&s->loop, UV_RUN_DEFAULT);
out_free:
	drain_queue(s);
	if (s->stdin_on)
		wbuf_free(&s->stdin_buf);
	uv_loop_close(&s->loop);
	free(s);
	return exit_code;
}
