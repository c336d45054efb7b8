/*
 * output.c: the server's stdout. Three line shapes (seconds + log line,
 * date + [ACTION], anything else); the manager acts on a handful of log
 * lines (instances.h) and passes the rest to the node's log at debug
 * level. RCON connects once, when the server says its port listens (the
 * port accepts by then), with no reconnect: a server that closes RCON is
 * going away, and its exit is handled there.
 */
#include "node/instances/inst_int.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "node/events.h"

/* Factorio answers the first Lua command of a save with the achievements
 * warning instead of running it; Clusterio sends this one first. */
#define WARMUP_CMD "/sc rcon.print('disabled')"

void inst_out_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct inst_proc *p = h->data;

	(void)hint;
	buf->base = p->rbuf;
	buf->len = sizeof(p->rbuf);
}

static void on_rc_closed(void *ud)
{
	struct inst_proc *p = ud;

	p->rc = NULL;
	p->rc_closing = 0;
	inst_proc_free_if_idle(p->m, p);
}

void inst_rcon_drop(struct inst_proc *p)
{
	if (p->rc == NULL || p->rc_closing)
		return;
	p->rc_closing = 1;
	rcon_client_close(p->rc, on_rc_closed, p);
}

static void on_warmup(void *ud, int status, const char *body, size_t len)
{
	(void)ud;
	(void)status;
	(void)body;
	(void)len;
}

static void rcon_connect(struct inst_proc *p)
{
	struct rcon_client_config c;

	if (p->rc != NULL)
		return;
	memset(&c, 0, sizeof(c));
	c.host = "127.0.0.1";
	c.port = p->rec.rcon_port;
	c.password = p->rec.rcon_pw;
	c.no_reconnect = 1;
	c.tracer = p->m->log;
	if (rcon_client_new(&p->rc, p->m->loop, &c) != 0) {
		p->rc = NULL;
		return;
	}
	if (rcon_client_start(p->rc) != 0) {
		inst_rcon_drop(p);
		return;
	}
	for (int i = 0; i < 2; i++)
		(void)rcon_client_command(p->rc, WARMUP_CMD, strlen(WARMUP_CMD),
					  RCON_CMD_ORDERED, 0, on_warmup, p);
	inst_ipc_connected(p); /* ipc.c: hello, then the game's outbox */
}

/* "2024-05-01 12:00:00 [CHAT] alice: hello": the game's chat line, as an
 * event for the UI and plugins (the chat relay). */
static void inst_chat_line(struct inst_proc *p, const char *line)
{
	static const char tag[] = " [CHAT] ";
	size_t len = strlen(line);
	const char *who, *sep;

	if (len < 19 + sizeof(tag) || line[4] != '-' || line[7] != '-' ||
	    line[10] != ' ' || line[13] != ':' ||
	    memcmp(line + 19, tag, sizeof(tag) - 1) != 0)
		return;
	who = line + 19 + sizeof(tag) - 1;
	sep = strstr(who, ": ");
	if (sep == NULL || sep == who)
		return;
	ev_publish_chat(p->m->events, p->id, p->rec.name, who,
			(size_t)(sep - who), sep + 2, strlen(sep + 2));
}

static void on_line(struct inst_proc *p, const char *line)
{
	struct inst_mgr *m = p->m;

	if (line[0] == '\f' && inst_ipc_on_line(p, line, strlen(line)))
		return; /* ipc.c */
	if (line[0] != '\f') /* IPC lines are not the server's log */
		ev_publish_log(m->events, p->id, p->rec.name, line, strlen(line));
	inst_chat_line(p, line);

	TRACE_D(m->log, "instances", "%s: %s", p->rec.name, line);
	/* The game prints the RCON line after the InGame one. */
	if (strstr(line, "Starting RCON interface at port") != NULL &&
	    (p->state == ST_STARTING || p->state == ST_RUNNING)) {
		rcon_connect(p);
	} else if (strstr(line, "changing state from(CreatingGame) "
				"to(InGame)") != NULL &&
		   p->state == ST_STARTING) {
		inst_set_state(p, ST_RUNNING);
		p->start_to_running_ms = uv_now(m->loop) - p->start_ms;
		p->backoff_ms = 0;
		p->cause[0] = '\0';
		TRACE_I(m->log, "instances", "%s: running (%llu ms after start)",
			p->rec.name, (unsigned long long)p->start_to_running_ms);
	} else if (strstr(line, "Saving finished") != NULL) {
		p->saves++;
	} else if (strstr(line, "Host address is already in use") != NULL) {
		snprintf(p->clash, sizeof(p->clash), "game port %u in use",
			 p->rec.game_port);
	} else if (strstr(line, "Can't bind socket") != NULL) {
		snprintf(p->clash, sizeof(p->clash), "RCON port %u in use",
			 p->rec.rcon_port);
	}
}

/* Splits the chunk into lines; a line longer than INST_LINE_MAX is cut
 * and the rest skipped up to its newline. */
static void feed(struct inst_proc *p, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = buf[i];

		if (ch == '\n') {
			if (!p->line_skip) {
				if (p->line_len > 0 &&
				    p->line[p->line_len - 1] == '\r')
					p->line_len--;
				p->line[p->line_len] = '\0';
				on_line(p, p->line);
			}
			p->line_len = 0;
			p->line_skip = 0;
		} else if (p->line_skip) {
			continue;
		} else if (p->line_len + 1 >= sizeof(p->line)) {
			p->line[p->line_len] = '\0';
			on_line(p, p->line);
			p->line_skip = 1;
		} else {
			p->line[p->line_len++] = ch;
		}
	}
}

void inst_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct inst_proc *p = s->data;

	if (n > 0) {
		feed(p, buf->base, (size_t)n);
		return;
	}
	if (n < 0) /* EOF or error: the process is ending */
		inst_close_h(p, (uv_handle_t *)&p->out);
}

int inst_mgr_rcon(struct inst_mgr *m, uint64_t id, const char *cmd,
		  size_t len, uint64_t timeout_ms, core_rcon_cb cb, void *arg)
{
	struct inst_proc *p = NULL;

	for (size_t i = 0; i < INST_LOCAL_MAX && p == NULL; i++)
		if (m->procs[i] && m->procs[i]->id == id &&
		    m->procs[i]->present)
			p = m->procs[i];
	if (p == NULL)
		return ERR_NOTFOUND;
	if (p->rc == NULL || p->rc_closing || p->state != ST_RUNNING)
		return ERR_AGAIN;
	/* core_rcon_cb and rcon_reply_cb have the same shape. */
	return rcon_client_command(p->rc, cmd, len, RCON_CMD_ORDERED,
				   timeout_ms, (rcon_reply_cb)cb, arg);
}
