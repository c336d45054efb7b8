/*
 * ipc.c: the game -> node channel (issue 12). See ipc.h for the wire and
 * the duplicate window, instances.h for the subscriber contract, and
 * lua/clusterd/README.md for the game's side.
 *
 * Per instance: stdout lines with the IPC prefix are parsed here instead
 * of being logged; a file payload is read from script-output/ (bounded)
 * and deleted; the payload's id is checked against the window; a new id
 * goes to the channel's subscriber, which answers with inst_mgr_ipc_done.
 * Acknowledgements are batched per instance and sent as one RCON command
 * on the next loop turn.
 *
 * Nothing is handled until the game has answered "hello" on the current
 * RCON connection: its next id tells which ids the node saw belong to a
 * timeline the game lost (a crash back to an autosave). Lines before that
 * are dropped unacknowledged; the game prints them again when the node
 * then calls "resend".
 *
 * A file payload may be read before the game has written it (Factorio's
 * order of stdout and file writes is not promised): a missing file is
 * retried every IPC_RETRY_MS, IPC_RETRIES times, then dropped; the game
 * re-sends it later anyway.
 */
#include "node/instances/inst_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/assert.h"
#include "base/err.h"

#define IPC_RETRY_MS 20
#define IPC_RETRIES 100 /* 2 s */
/* RCON commands stay well under 10 kB (FACTORIO.md); an ack of 512 ids
 * of up to 16 digits is under 9 kB. */
#define IPC_CMD_MAX 9800
#define IPC_CALL_TIMEOUT_MS 10000

/* ---- the pure parts (ipc.h) ------------------------------------------- */

int ipc_file_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > IPC_FILE_NAME_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

int ipc_parse_line(const char *line, size_t len, struct ipc_line *out)
{
	const char *c, *q;
	size_t clen;

	if (len < IPC_PREFIX_LEN || memcmp(line, IPC_PREFIX, IPC_PREFIX_LEN) != 0)
		return 1;
	c = line + IPC_PREFIX_LEN;
	q = memchr(c, '?', len - IPC_PREFIX_LEN);
	if (q == NULL)
		return ERR_MALFORMED;
	clen = (size_t)(q - c);
	if (clen == 0 || clen > IPC_CHANNEL_MAX || q + 1 >= line + len)
		return ERR_MALFORMED;
	for (size_t i = 0; i < clen; i++) {
		char ch = c[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		      ch == '.'))
			return ERR_MALFORMED;
	}
	memcpy(out->channel, c, clen);
	out->channel[clen] = '\0';
	out->kind = q[1];
	out->payload = q + 2;
	out->len = (size_t)(line + len - out->payload);
	if (out->kind == 'j')
		return out->len > 0 ? 0 : ERR_MALFORMED;
	if (out->kind == 'f')
		return ipc_file_name_ok(out->payload, out->len) ? 0
								: ERR_MALFORMED;
	return ERR_MALFORMED;
}

int ipc_msg_id(const cJSON *msg, uint64_t *id)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(msg, "id");
	double d;

	if (!cJSON_IsObject(msg) || !cJSON_IsNumber(j))
		return ERR_MALFORMED;
	d = j->valuedouble;
	if (!(d >= 1 && d < 9007199254740992.0) || d != (double)(uint64_t)d)
		return ERR_MALFORMED;
	*id = (uint64_t)d;
	return 0;
}

static int bit(const uint8_t *v, uint64_t id)
{
	uint64_t b = id % IPC_WINDOW;

	return (v[b / 8] >> (b % 8)) & 1;
}

static void set_bit(uint8_t *v, uint64_t id, int on)
{
	uint64_t b = id % IPC_WINDOW;

	if (on)
		v[b / 8] = (uint8_t)(v[b / 8] | (1u << (b % 8)));
	else
		v[b / 8] = (uint8_t)(v[b / 8] & ~(1u << (b % 8)));
}

static int in_window(const struct ipc_window *w, uint64_t id)
{
	return id <= w->hi && w->hi - id < IPC_WINDOW;
}

enum ipc_seen ipc_window_get(const struct ipc_window *w, uint64_t id)
{
	if (!in_window(w, id) || !bit(w->seen, id))
		return IPC_NEW;
	return bit(w->done, id) ? IPC_DONE : IPC_INFLIGHT;
}

void ipc_window_take(struct ipc_window *w, uint64_t id)
{
	ASSERT(id > 0);
	if (id > w->hi) {
		/* Slide: the ids entering the window start unseen. */
		if (id - w->hi >= IPC_WINDOW) {
			memset(w->seen, 0, sizeof(w->seen));
			memset(w->done, 0, sizeof(w->done));
		} else {
			for (uint64_t i = w->hi + 1; i <= id; i++) {
				set_bit(w->seen, i, 0);
				set_bit(w->done, i, 0);
			}
		}
		w->hi = id;
	} else if (!in_window(w, id)) {
		w->too_old++;
		return;
	}
	set_bit(w->seen, id, 1);
	set_bit(w->done, id, 0);
}

void ipc_window_finish(struct ipc_window *w, uint64_t id, int ok)
{
	if (!in_window(w, id) || !bit(w->seen, id))
		return;
	if (ok)
		set_bit(w->done, id, 1);
	else
		set_bit(w->seen, id, 0);
}

void ipc_window_rewind(struct ipc_window *w, uint64_t next_id)
{
	if (next_id == 0 || next_id > w->hi)
		return;
	for (uint64_t i = next_id; i <= w->hi; i++) {
		if (!in_window(w, i))
			continue;
		set_bit(w->seen, i, 0);
		set_bit(w->done, i, 0);
	}
	w->hi = next_id - 1;
}

int ipc_lua_quote(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	if (size < 3)
		return ERR_TOOBIG;
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 5 >= size)
			return ERR_TOOBIG;
		if (c < 32 || c >= 127 || c == '"' || c == '\\') {
			(void)snprintf(out + o, 5, "\\%03u", c);
			o += 4;
		} else {
			out[o++] = (char)c;
		}
	}
	if (o + 2 > size)
		return ERR_TOOBIG;
	out[o++] = '"';
	out[o] = '\0';
	return (int)o;
}

int ipc_call_command(const char *fn, const char *args_json, char *out,
		     size_t size)
{
	static const char head[] =
		"/sc rcon.print(remote.call(\"clusterd\",\"call_json\",\"";
	size_t fl = strlen(fn), o;
	int n;

	if (fl == 0 || fl > 64)
		return ERR_INVAL;
	for (size_t i = 0; i < fl; i++)
		if (!((fn[i] >= 'a' && fn[i] <= 'z') ||
		      (fn[i] >= 'A' && fn[i] <= 'Z') ||
		      (fn[i] >= '0' && fn[i] <= '9') || fn[i] == '_'))
			return ERR_INVAL;
	n = snprintf(out, size, "%s%s\",", head, fn);
	if (n < 0 || (size_t)n >= size)
		return ERR_TOOBIG;
	o = (size_t)n;
	if (args_json == NULL) {
		n = snprintf(out + o, size - o, "nil");
	} else {
		n = ipc_lua_quote(args_json, strlen(args_json), out + o, size - o);
	}
	if (n < 0 || (size_t)n >= size - o)
		return ERR_TOOBIG;
	o += (size_t)n;
	n = snprintf(out + o, size - o, "))");
	if (n < 0 || (size_t)n >= size - o)
		return ERR_TOOBIG;
	return (int)(o + (size_t)n);
}

/* ---- the manager's side --------------------------------------------- */

struct inst_proc *inst_ipc_find(struct inst_mgr *m, uint64_t id)
{
	for (size_t i = 0; i < INST_LOCAL_MAX; i++)
		if (m->procs[i] && m->procs[i]->id == id)
			return m->procs[i];
	return NULL;
}

static int rcon_up(const struct inst_proc *p)
{
	return p->rc != NULL && !p->rc_closing &&
	       (p->state == ST_RUNNING || p->state == ST_STARTING);
}

static void on_timer(uv_timer_t *t);

static void arm(struct inst_mgr *m, uint64_t ms)
{
	if (!m->stopping && !uv_is_active((uv_handle_t *)&m->ipc.timer))
		uv_timer_start(&m->ipc.timer, on_timer, ms, 0);
}

static void on_ack_reply(void *ud, int status, const char *body, size_t len)
{
	struct inst_proc *p = ud;

	if (status != 0 || (len >= 6 && memcmp(body, "Cannot", 6) == 0)) {
		p->m->ipc.ack_failed++;
		TRACE_D(p->m->log, "instances", "%s: IPC ack not delivered: %s",
			p->rec.name, status ? err_str(status) : body);
	}
}

static void flush_acks(struct inst_proc *p)
{
	char cmd[IPC_CMD_MAX];
	size_t o;

	if (p->ipc.nacks == 0)
		return;
	if (!rcon_up(p)) {
		/* The game re-sends; the window acknowledges again then. */
		p->ipc.nacks = 0;
		return;
	}
	o = (size_t)snprintf(cmd, sizeof(cmd),
			     "/sc remote.call(\"clusterd\",\"ack\",{");
	for (uint32_t i = 0; i < p->ipc.nacks; i++)
		o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%s%llu",
				      i ? "," : "",
				      (unsigned long long)p->ipc.acks[i]);
	o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "})");
	ASSERT(o < sizeof(cmd));
	if (rcon_client_command(p->rc, cmd, o, RCON_CMD_ORDERED,
				IPC_CALL_TIMEOUT_MS, on_ack_reply, p) == 0)
		p->m->ipc.acked += p->ipc.nacks;
	else
		p->m->ipc.ack_failed++;
	p->ipc.nacks = 0;
}

static void queue_ack(struct inst_proc *p, uint64_t id)
{
	if (p->ipc.nacks == INST_ACK_BATCH)
		flush_acks(p);
	p->ipc.acks[p->ipc.nacks++] = id;
	arm(p->m, 0);
}

static const struct inst_ipc_sub *sub_find(const struct inst_mgr *m,
					   const char *channel)
{
	for (size_t i = 0; i < m->ipc.nsubs; i++)
		if (strcmp(m->ipc.subs[i].channel, channel) == 0)
			return &m->ipc.subs[i];
	return NULL;
}

/* Hands one parsed payload (owned by the caller) to its subscriber. */
static void dispatch(struct inst_proc *p, const char *channel, cJSON *msg)
{
	struct inst_mgr *m = p->m;
	const struct inst_ipc_sub *s;
	uint64_t id;

	if (ipc_msg_id(msg, &id) != 0) {
		m->ipc.malformed++;
		TRACE_W(m->log, "instances", "%s: IPC payload on %s without a "
			"valid id (%llu malformed so far)", p->rec.name, channel,
			(unsigned long long)m->ipc.malformed);
		return;
	}
	p->ipc.received++;
	switch (ipc_window_get(&p->ipc.win, id)) {
	case IPC_DONE:
		p->ipc.duplicates++;
		queue_ack(p, id);
		return;
	case IPC_INFLIGHT:
		p->ipc.duplicates++;
		return;
	case IPC_NEW:
		break;
	}
	s = sub_find(m, channel);
	if (s == NULL) {
		/* Not acknowledged: a node that learns the channel later (an
		 * upgrade) still gets it from the game's outbox. */
		if (m->ipc.unrouted++ == 0)
			TRACE_W(m->log, "instances", "%s: IPC channel %s has no "
				"subscriber on this node", p->rec.name, channel);
		return;
	}
	ipc_window_take(&p->ipc.win, id);
	s->cb(s->arg, p->id, channel, id, msg);
}

/* Reads and deletes script-output/<name>: 0, ERR_AGAIN (not there yet),
 * or another error (then deleted if it exists). */
static int read_payload_file(struct inst_proc *p, const char *name,
			     cJSON **out)
{
	char path[INST_PATH_MAX + IPC_FILE_NAME_MAX + 32];
	struct stat st;
	char *buf;
	ssize_t got = 0;
	int fd, rv = 0;

	if (inst_fmt(path, sizeof(path), "%s/script-output/%s", p->dir, name))
		return ERR_TOOBIG;
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? ERR_AGAIN : -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > IPC_FILE_BYTES_MAX) {
		close(fd);
		unlink(path);
		return ERR_TOOBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf != NULL && (size_t)got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - (size_t)got);

		if (r <= 0)
			break;
		got += r;
	}
	close(fd);
	if (buf == NULL)
		return ERR_NOMEM;
	unlink(path);
	if ((size_t)got != (size_t)st.st_size)
		rv = ERR_IO;
	*out = rv == 0 ? cJSON_ParseWithLength(buf, (size_t)got) : NULL;
	free(buf);
	if (rv == 0 && *out == NULL)
		rv = ERR_MALFORMED;
	return rv;
}

static void file_payload(struct inst_proc *p, const char *channel,
			 const char *name, uint32_t tries)
{
	struct inst_mgr *m = p->m;
	cJSON *msg = NULL;
	int rv = read_payload_file(p, name, &msg);

	if (rv == ERR_AGAIN) {
		struct inst_ipc_pending *q;

		if (tries >= IPC_RETRIES ||
		    m->ipc.npend == INST_IPC_PENDING_MAX) {
			m->ipc.files_missing++;
			return;
		}
		q = &m->ipc.pend[m->ipc.npend++];
		q->inst = p->id;
		q->tries = tries + 1;
		snprintf(q->channel, sizeof(q->channel), "%s", channel);
		snprintf(q->file, sizeof(q->file), "%s", name);
		arm(m, IPC_RETRY_MS);
		return;
	}
	if (rv != 0) {
		m->ipc.malformed++;
		TRACE_W(m->log, "instances", "%s: IPC file %s: %s", p->rec.name,
			name, err_str(rv));
		return;
	}
	dispatch(p, channel, msg);
	cJSON_Delete(msg);
}

static void on_timer(uv_timer_t *t)
{
	struct inst_mgr *m = t->data;
	struct inst_ipc_pending pend[INST_IPC_PENDING_MAX];
	size_t n = m->ipc.npend;

	memcpy(pend, m->ipc.pend, n * sizeof(pend[0]));
	m->ipc.npend = 0;
	for (size_t i = 0; i < n; i++) {
		struct inst_proc *p = inst_ipc_find(m, pend[i].inst);

		if (p != NULL && p->ipc.ready)
			file_payload(p, pend[i].channel, pend[i].file,
				     pend[i].tries);
	}
	for (size_t i = 0; i < INST_LOCAL_MAX; i++)
		if (m->procs[i])
			flush_acks(m->procs[i]);
}

int inst_ipc_on_line(struct inst_proc *p, const char *line, size_t len)
{
	struct inst_mgr *m = p->m;
	struct ipc_line l;
	int rv = ipc_parse_line(line, len, &l);
	char name[IPC_FILE_NAME_MAX + 1];
	cJSON *msg;

	if (rv == 1)
		return 0;
	if (rv != 0) {
		m->ipc.malformed++;
		TRACE_W(m->log, "instances", "%s: malformed IPC line (%llu so "
			"far): %.80s", p->rec.name,
			(unsigned long long)m->ipc.malformed, line + 1);
		return 1;
	}
	if (!p->ipc.ready) {
		m->ipc.early++; /* the game prints it again after hello */
		return 1;
	}
	if (l.kind == 'f') {
		memcpy(name, l.payload, l.len);
		name[l.len] = '\0';
		file_payload(p, l.channel, name, 0);
		return 1;
	}
	msg = cJSON_ParseWithLength(l.payload, l.len);
	if (msg == NULL) {
		m->ipc.malformed++;
		TRACE_W(m->log, "instances", "%s: IPC line on %s is not JSON "
			"(%llu malformed so far)", p->rec.name, l.channel,
			(unsigned long long)m->ipc.malformed);
		return 1;
	}
	dispatch(p, l.channel, msg);
	cJSON_Delete(msg);
	return 1;
}

static void on_resend(void *ud, int status, const char *body, size_t len)
{
	(void)ud;
	(void)status;
	(void)body;
	(void)len;
}

static void send_hello(struct inst_proc *p);

static int mentions(const char *body, size_t len, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = 0; i + wl <= len; i++)
		if (memcmp(body + i, word, wl) == 0)
			return 1;
	return 0;
}

static void on_hello(void *ud, int status, const char *body, size_t len)
{
	struct inst_proc *p = ud;
	cJSON *j, *next;

	if (status != 0 || !rcon_up(p))
		return;
	j = cJSON_ParseWithLength(body, len);
	next = cJSON_GetObjectItemCaseSensitive(j, "next_id");
	if (!cJSON_IsNumber(next)) {
		cJSON_Delete(j);
		if (p->ipc.hello_tries++ < 3 && mentions(body, len, "achievements")) {
			send_hello(p); /* the game's first-command warning */
			return;
		}
		TRACE_W(p->m->log, "instances", "%s: no clusterd module answers "
			"in the game (%.*s); IPC from it is off", p->rec.name,
			(int)(len > 120 ? 120 : len), body);
		return;
	}
	ipc_window_rewind(&p->ipc.win, (uint64_t)next->valuedouble);
	p->ipc.ready = 1;
	TRACE_I(p->m->log, "instances", "%s: IPC up (game next id %.0f)",
		p->rec.name, next->valuedouble);
	cJSON_Delete(j);
	(void)rcon_client_command(p->rc, "/sc remote.call(\"clusterd\",\"resend\")",
				  strlen("/sc remote.call(\"clusterd\",\"resend\")"),
				  RCON_CMD_ORDERED, IPC_CALL_TIMEOUT_MS, on_resend, p);
}

static void send_hello(struct inst_proc *p)
{
	char cmd[256];
	int n = ipc_call_command("hello", NULL, cmd, sizeof(cmd));

	ASSERT(n > 0);
	(void)rcon_client_command(p->rc, cmd, (size_t)n, RCON_CMD_ORDERED,
				  IPC_CALL_TIMEOUT_MS, on_hello, p);
}

void inst_ipc_connected(struct inst_proc *p)
{
	p->ipc.ready = 0;
	p->ipc.nacks = 0;
	p->ipc.hello_tries = 0;
	p->ipc.nplayers = 0; /* a new server process: nobody online yet */
	if (rcon_up(p))
		send_hello(p);
}

int inst_mgr_ipc_subscribe(struct inst_mgr *m, const char *channel,
			   inst_ipc_cb cb, void *arg)
{
	struct inst_ipc_sub *s;
	size_t len = strlen(channel);

	if (len == 0 || len > IPC_CHANNEL_MAX || cb == NULL)
		return ERR_INVAL;
	if (sub_find(m, channel) != NULL)
		return ERR_EXISTS;
	if (m->ipc.nsubs == INST_IPC_SUBS_MAX)
		return ERR_TOOBIG;
	s = &m->ipc.subs[m->ipc.nsubs++];
	memcpy(s->channel, channel, len + 1);
	s->cb = cb;
	s->arg = arg;
	return 0;
}

void inst_mgr_ipc_done(struct inst_mgr *m, uint64_t instance,
		       uint64_t msg_id, int status)
{
	struct inst_proc *p = inst_ipc_find(m, instance);

	if (p == NULL)
		return; /* the instance left this node meanwhile */
	ipc_window_finish(&p->ipc.win, msg_id, status == 0);
	if (status == 0) {
		p->ipc.handled++;
		queue_ack(p, msg_id);
	}
}

struct call_ctx {
	core_rcon_cb cb;
	void *arg;
};

static void on_call_reply(void *ud, int status, const char *body, size_t len)
{
	struct call_ctx *c = ud;

	if (status == 0 && len >= 22 &&
	    memcmp(body, "Cannot execute command", 22) == 0)
		status = ERR_INVAL; /* the Lua function raised an error */
	while (status == 0 && len > 0 && body[len - 1] == '\n')
		len--;
	c->cb(c->arg, status, body, len);
	free(c);
}

int inst_mgr_call(struct inst_mgr *m, uint64_t instance, const char *fn,
		  const char *args_json, uint64_t timeout_ms, core_rcon_cb cb,
		  void *arg)
{
	struct inst_proc *p = inst_ipc_find(m, instance);
	char *cmd;
	struct call_ctx *c;
	int n, rv;

	if (p == NULL || !p->present)
		return ERR_NOTFOUND;
	if (!rcon_up(p) || p->state != ST_RUNNING)
		return ERR_AGAIN;
	cmd = malloc(IPC_CMD_MAX + 1);
	c = malloc(sizeof(*c));
	if (cmd == NULL || c == NULL) {
		free(cmd);
		free(c);
		return ERR_NOMEM;
	}
	n = ipc_call_command(fn, args_json, cmd, IPC_CMD_MAX + 1);
	rv = n < 0 ? n : 0;
	c->cb = cb;
	c->arg = arg;
	if (rv == 0)
		rv = rcon_client_command(p->rc, cmd, (size_t)n, RCON_CMD_ORDERED,
					 timeout_ms, on_call_reply, c);
	free(cmd);
	if (rv != 0)
		free(c);
	return rv;
}

void inst_ipc_init(struct inst_mgr *m)
{
	uv_timer_init(m->loop, &m->ipc.timer);
	m->ipc.timer.data = m;
}

void inst_ipc_close(struct inst_mgr *m, uv_close_cb cb)
{
	m->ipc.timer.data = m;
	uv_close((uv_handle_t *)&m->ipc.timer, cb);
}
