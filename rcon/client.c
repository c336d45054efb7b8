/*
 * client.c: the libuv RCON client. See client.h for the contract.
 *
 * Structure: one client owns two timers (command deadlines, and connect
 * timeout / backoff) and at most one live connection. A connection lives
 * in its own allocation (struct conn) so a lost one can finish closing
 * while the next one connects; its callbacks ignore it once detached.
 * Commands sit on one of three intrusive lists: the unordered queue, the
 * ordered queue, and the in-flight list. Dispatch moves commands from the
 * queues to the wire in one write per batch. The client is freed only
 * after every handle and write request it started has called back, so no
 * libuv callback ever sees freed memory.
 */
#include "rcon/client.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "rcon/codec.h"

#define INFLIGHT_DEFAULT 64
#define INFLIGHT_LIMIT 4096
#define QUEUE_DEFAULT 4096
#define TIMEOUT_DEFAULT_MS 10000
#define CONNECT_TIMEOUT_DEFAULT_MS 5000
#define BACKOFF_MIN_DEFAULT_MS 100
#define BACKOFF_MAX_DEFAULT_MS 5000
/* Factorio up to 1.1.60 crashed at 13,340 characters; 10,000 leaves a
 * margin for multi-byte characters and the command prefix. */
#define COMMAND_MAX_DEFAULT RCON_COMMAND_SAFE_MAX
#define PASSWORD_MAX 4096

struct cmd {
	struct cmd *prev, *next;
	struct list *on; /* the list holding it */
	int32_t id;
	unsigned flags;
	uint64_t deadline;
	rcon_reply_cb cb;
	void *ud;
	size_t len;
	char body[]; /* len bytes */
};

struct list {
	struct cmd *head, *tail;
	size_t n;
};

struct conn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	struct rcon_client *c;
};

struct wreq {
	uv_write_t req;
	struct rcon_client *c;
	struct conn *conn;
	uint8_t *data;
};

struct rcon_client {
	uv_loop_t *loop;
	struct rcon_client_config cfg;
	char *host;
	char *password;
	enum rcon_state state;
	struct conn *conn;
	uv_timer_t cmd_timer;
	uv_timer_t conn_timer;
	uv_timer_t kick_timer; /* runs dispatch on the next loop turn */
	int kick_pending;
	uint64_t cmd_timer_due; /* UINT64_MAX when idle */
	struct rcon_decoder dec;
	struct list queue, ordered, inflight;
	int ordered_busy; /* an ordered command is on the wire */
	int32_t next_id;
	int32_t auth_id;
	uint32_t attempts; /* failed connects since the last auth */
	uint32_t next_chunk_key;
	int open; /* handles and write requests not yet called back */
	void (*closed_cb)(void *ud);
	void *closed_ud;
	struct rcon_client_stats stats;
	char rbuf[65536];
};

/* ---- lists ---------------------------------------------------------- */

static void list_push(struct list *l, struct cmd *m)
{
	DASSERT(m->on == NULL);
	m->prev = l->tail;
	m->next = NULL;
	if (l->tail)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	l->n++;
	m->on = l;
}

static void list_unlink(struct cmd *m)
{
	struct list *l = m->on;

	ASSERT(l != NULL && l->n > 0);
	if (m->prev)
		m->prev->next = m->next;
	else
		l->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		l->tail = m->prev;
	l->n--;
	m->on = NULL;
	m->prev = m->next = NULL;
}

/* ---- helpers -------------------------------------------------------- */

const char *rcon_state_name(enum rcon_state s)
{
	switch (s) {
	case RCON_STATE_IDLE: return "idle";
	case RCON_STATE_CONNECTING: return "connecting";
	case RCON_STATE_AUTHING: return "authing";
	case RCON_STATE_READY: return "ready";
	case RCON_STATE_BACKOFF: return "backoff";
	case RCON_STATE_FAILED: return "failed";
	case RCON_STATE_CLOSING: return "closing";
	}
	return "?";
}

static void set_state(struct rcon_client *c, enum rcon_state s, int err)
{
	if (c->state == s)
		return;
	TRACE_D(c->cfg.tracer, "rcon", "%s:%u %s -> %s (%s)", c->host,
		c->cfg.port, rcon_state_name(c->state), rcon_state_name(s),
		err ? err_name(err) : "ok");
	c->state = s;
	if (c->cfg.on_state)
		c->cfg.on_state(c->cfg.state_ud, s, err);
}

static int32_t take_id(struct rcon_client *c)
{
	int32_t id = c->next_id;

	/* Ids cycle through 1 .. INT32_MAX: never 0, never -1 (the auth
	 * failure marker). With at most INFLIGHT_LIMIT on the wire, an id
	 * cannot be reused while its first user waits. */
	c->next_id = id == INT32_MAX ? 1 : id + 1;
	return id;
}

/* Completes a command already unlinked from its list, then frees it. */
static void complete(struct cmd *m, int status, const char *body, size_t len)
{
	DASSERT(m->on == NULL);
	m->cb(m->ud, status, status == 0 ? body : "", status == 0 ? len : 0);
	free(m);
}

/* Completes every command of l with status. Callbacks may add commands
 * to other lists (never to l while we drain it: a failed or closing
 * client accepts none, and the in-flight list is filled only by
 * dispatch). */
static void fail_list(struct list *l, int status)
{
	struct cmd *m;
	size_t bound = l->n;

	while ((m = l->head) != NULL && bound-- > 0) {
		list_unlink(m);
		complete(m, status, "", 0);
	}
}

static void handle_closed(struct rcon_client *c)
{
	ASSERT(c->open > 0);
	c->open--;
	if (c->open == 0 && c->state == RCON_STATE_CLOSING) {
		void (*cb)(void *) = c->closed_cb;
		void *ud = c->closed_ud;

		rcon_decoder_free(&c->dec);
		free(c->host);
		free(c->password);
		free(c);
		if (cb)
			cb(ud);
	}
}

static void timer_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void conn_closed(uv_handle_t *h)
{
	struct conn *conn = h->data;
	struct rcon_client *c = conn->c;

	free(conn);
	handle_closed(c);
}

/* Detaches and closes the live connection, if any. */
static void drop_conn(struct rcon_client *c)
{
	struct conn *conn = c->conn;

	if (conn == NULL)
		return;
	c->conn = NULL;
	uv_close((uv_handle_t *)&conn->tcp, conn_closed);
	rcon_decoder_reset(&c->dec);
}

/* ---- deadlines ------------------------------------------------------ */

static void cmd_timer_cb(uv_timer_t *t);

static void arm_deadline(struct rcon_client *c, uint64_t deadline)
{
	uint64_t now = uv_now(c->loop);

	if (deadline >= c->cmd_timer_due)
		return;
	c->cmd_timer_due = deadline;
	uv_timer_start(&c->cmd_timer, cmd_timer_cb,
		       deadline > now ? deadline - now : 0, 0);
}

static void collect_expired(struct list *l, uint64_t now, struct list *out,
			    struct rcon_client *c)
{
	struct cmd *m = l->head, *next;

	for (; m != NULL; m = next) {
		next = m->next;
		if (m->deadline > now)
			continue;
		if (l == &c->inflight && (m->flags & RCON_CMD_ORDERED))
			c->ordered_busy = 0;
		list_unlink(m);
		list_push(out, m);
	}
}

static uint64_t earliest(const struct list *l, uint64_t best)
{
	for (const struct cmd *m = l->head; m != NULL; m = m->next)
		if (m->deadline < best)
			best = m->deadline;
	return best;
}

static void dispatch(struct rcon_client *c);

static void cmd_timer_cb(uv_timer_t *t)
{
	struct rcon_client *c = t->data;
	uint64_t now = uv_now(c->loop);
	struct list expired = {0};
	struct cmd *m;
	uint64_t next;

	c->cmd_timer_due = UINT64_MAX;
	collect_expired(&c->inflight, now, &expired, c);
	collect_expired(&c->ordered, now, &expired, c);
	collect_expired(&c->queue, now, &expired, c);
	next = earliest(&c->inflight, UINT64_MAX);
	next = earliest(&c->ordered, next);
	next = earliest(&c->queue, next);
	if (next != UINT64_MAX)
		arm_deadline(c, next);
	if (expired.n > 0)
		TRACE_W(c->cfg.tracer, "rcon", "%s:%u: %zu command(s) timed out",
			c->host, c->cfg.port, expired.n);
	while ((m = expired.head) != NULL) {
		list_unlink(m);
		c->stats.timeouts++;
		complete(m, ERR_TIMEOUT, "", 0);
	}
	dispatch(c);
}

/* ---- the wire ------------------------------------------------------- */

static void conn_lost(struct rcon_client *c, int err);

static void write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct rcon_client *c = w->c;
	struct conn *conn = w->conn;

	free(w->data);
	free(w);
	if (status < 0 && conn == c->conn)
		conn_lost(c, status);
	handle_closed(c);
}

/* Writes b's bytes (taken from b) on the live connection. */
static int write_buf(struct rcon_client *c, struct wbuf *b)
{
	struct wreq *w = malloc(sizeof(*w));
	size_t len = 0;
	uv_buf_t buf;
	int rv;

	if (w == NULL)
		return ERR_NOMEM;
	w->c = c;
	w->conn = c->conn;
	w->data = wbuf_take(b, &len);
	buf = uv_buf_init((char *)w->data, (unsigned int)len);
	rv = uv_write(&w->req, (uv_stream_t *)&c->conn->tcp, &buf, 1,
		      write_cb);
	if (rv < 0) {
		free(w->data);
		free(w);
		return rv;
	}
	c->open++;
	c->stats.bytes_out += len;
	return 0;
}

/* The next command to send, or NULL: the head of the ordered stream if
 * none of it is on the wire, else the head of the unordered queue. */
static struct cmd *next_to_send(struct rcon_client *c)
{
	if (!c->ordered_busy && c->ordered.head != NULL) {
		c->ordered_busy = 1;
		return c->ordered.head;
	}
	return c->queue.head;
}

static void dispatch(struct rcon_client *c)
{
	struct wbuf b;
	struct cmd *m;
	int rv = 0;

	if (c->state != RCON_STATE_READY)
		return;
	wbuf_init(&b, SIZE_MAX);
	while (c->inflight.n < c->cfg.inflight_max &&
	       (m = next_to_send(c)) != NULL) {
		m->id = take_id(c);
		rv = rcon_encode_wbuf(&b, m->id, RCON_TYPE_EXEC, m->body,
				      m->len);
		if (rv != 0) {
			if (m->flags & RCON_CMD_ORDERED)
				c->ordered_busy = 0;
			break;
		}
		list_unlink(m);
		list_push(&c->inflight, m);
		c->stats.sent++;
	}
	if (b.len > 0 && rv == 0)
		rv = write_buf(c, &b);
	wbuf_free(&b);
	if (rv != 0)
		conn_lost(c, rv);
}

static void kick_cb(uv_timer_t *t)
{
	struct rcon_client *c = t->data;

	c->kick_pending = 0;
	dispatch(c);
}

/* Submission defers the write to the loop: callbacks then never run inside
 * rcon_client_command (a failed write completes commands), and commands
 * submitted in one burst leave in one write. */
static void kick(struct rcon_client *c)
{
	if (c->kick_pending || c->state != RCON_STATE_READY)
		return;
	c->kick_pending = 1;
	uv_timer_start(&c->kick_timer, kick_cb, 0, 0);
}

static void conn_timer_cb(uv_timer_t *t);

static void schedule_reconnect(struct rcon_client *c, int err)
{
	uint64_t delay = c->cfg.backoff_min_ms;

	for (uint32_t i = 0; i < c->attempts && delay < c->cfg.backoff_max_ms;
	     i++)
		delay *= 2;
	if (delay > c->cfg.backoff_max_ms)
		delay = c->cfg.backoff_max_ms;
	c->attempts++;
	uv_timer_start(&c->conn_timer, conn_timer_cb, delay, 0);
	TRACE_I(c->cfg.tracer, "rcon", "%s:%u: connection lost (%s); retry in %llu ms",
		c->host, c->cfg.port, err_name(err), (unsigned long long)delay);
	set_state(c, RCON_STATE_BACKOFF, err);
}

/* The connection failed or closed: commands on the wire fail, queued ones
 * wait for the next connection (or fail too when reconnecting is off). */
static void conn_lost(struct rcon_client *c, int err)
{
	size_t lost = c->inflight.n;

	if (c->state == RCON_STATE_CLOSING || c->state == RCON_STATE_FAILED)
		return;
	drop_conn(c);
	uv_timer_stop(&c->conn_timer);
	c->ordered_busy = 0;
	if (c->cfg.no_reconnect || err == ERR_AUTH)
		set_state(c, RCON_STATE_FAILED, err);
	else
		schedule_reconnect(c, err);
	c->stats.failed_closed += lost;
	fail_list(&c->inflight, err == ERR_AUTH ? ERR_AUTH : ERR_CLOSED);
	if (c->state == RCON_STATE_FAILED) {
		fail_list(&c->ordered, err == ERR_AUTH ? ERR_AUTH : ERR_CLOSED);
		fail_list(&c->queue, err == ERR_AUTH ? ERR_AUTH : ERR_CLOSED);
	}
}

static void on_auth_packet(struct rcon_client *c, const struct rcon_packet *pk)
{
	if (pk->type == RCON_TYPE_RESPONSE)
		return; /* Source servers send an empty response first */
	if (pk->type != RCON_TYPE_AUTH_REPLY) {
		conn_lost(c, ERR_MALFORMED);
		return;
	}
	if (pk->id == RCON_AUTH_FAILED_ID) {
		TRACE_E(c->cfg.tracer, "rcon", "%s:%u: wrong RCON password",
			c->host, c->cfg.port);
		conn_lost(c, ERR_AUTH);
		return;
	}
	if (pk->id != c->auth_id) {
		conn_lost(c, ERR_MALFORMED);
		return;
	}
	uv_timer_stop(&c->conn_timer);
	c->attempts = 0;
	c->stats.connects++;
	set_state(c, RCON_STATE_READY, 0);
	dispatch(c);
}

static void on_packet(struct rcon_client *c, const struct rcon_packet *pk)
{
	struct cmd *m;

	if (c->state == RCON_STATE_AUTHING) {
		on_auth_packet(c, pk);
		return;
	}
	for (m = c->inflight.head; m != NULL; m = m->next)
		if (m->id == pk->id)
			break;
	if (m == NULL) {
		c->stats.late_replies++;
		return;
	}
	list_unlink(m);
	if (m->flags & RCON_CMD_ORDERED)
		c->ordered_busy = 0;
	c->stats.replied++;
	complete(m, 0, pk->body, pk->body_len);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *conn = h->data;

	(void)hint;
	*buf = uv_buf_init(conn->c->rbuf, sizeof(conn->c->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *conn = s->data;
	struct rcon_client *c = conn->c;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t left = nread > 0 ? (size_t)nread : 0;
	struct rcon_packet pk;
	size_t used;
	int rv;

	if (conn != c->conn)
		return;
	if (nread < 0) {
		conn_lost(c, nread == UV_EOF ? ERR_CLOSED : (int)nread);
		return;
	}
	c->stats.bytes_in += left;
	/* Stop as soon as a callback closed the client or the connection. */
	while (left > 0 && conn == c->conn) {
		rv = rcon_decoder_feed(&c->dec, p, left, &used, &pk);
		if (rv < 0) {
			TRACE_E(c->cfg.tracer, "rcon", "%s:%u: bad packet from server (%s)",
				c->host, c->cfg.port, err_name(rv));
			conn_lost(c, rv);
			return;
		}
		p += used;
		left -= used;
		if (rv == 1)
			on_packet(c, &pk);
	}
	dispatch(c);
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct conn *conn = req->data;
	struct rcon_client *c = conn->c;
	struct wbuf b;
	int rv;

	if (conn != c->conn)
		return; /* detached: closing already */
	if (status < 0) {
		conn_lost(c, status);
		return;
	}
	(void)uv_tcp_nodelay(&conn->tcp, 1);
	rv = uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb);
	if (rv == 0) {
		c->auth_id = take_id(c);
		wbuf_init(&b, SIZE_MAX);
		rv = rcon_encode_wbuf(&b, c->auth_id, RCON_TYPE_AUTH,
				      c->password, strlen(c->password));
		if (rv == 0)
			rv = write_buf(c, &b);
		wbuf_free(&b);
	}
	if (rv < 0) {
		conn_lost(c, rv);
		return;
	}
	set_state(c, RCON_STATE_AUTHING, 0);
}

static int parse_addr(const struct rcon_client *c, struct sockaddr_storage *sa)
{
	if (uv_ip4_addr(c->host, c->cfg.port, (struct sockaddr_in *)sa) == 0)
		return 0;
	if (uv_ip6_addr(c->host, c->cfg.port, (struct sockaddr_in6 *)sa) == 0)
		return 0;
	return ERR_INVAL;
}

static void start_connect(struct rcon_client *c)
{
	struct sockaddr_storage sa;
	struct conn *conn;
	int rv;

	DASSERT(c->conn == NULL);
	rv = parse_addr(c, &sa);
	ASSERT(rv == 0); /* checked in rcon_client_new */
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		schedule_reconnect(c, ERR_NOMEM);
		return;
	}
	conn->c = c;
	rv = uv_tcp_init(c->loop, &conn->tcp);
	if (rv < 0) {
		free(conn);
		schedule_reconnect(c, rv);
		return;
	}
	conn->tcp.data = conn;
	conn->connect_req.data = conn;
	c->open++;
	c->conn = conn;
	set_state(c, RCON_STATE_CONNECTING, 0);
	uv_timer_start(&c->conn_timer, conn_timer_cb, c->cfg.connect_timeout_ms,
		       0);
	rv = uv_tcp_connect(&conn->connect_req, &conn->tcp,
			    (const struct sockaddr *)&sa, connect_cb);
	if (rv < 0)
		conn_lost(c, rv);
}

static void conn_timer_cb(uv_timer_t *t)
{
	struct rcon_client *c = t->data;

	if (c->state == RCON_STATE_BACKOFF)
		start_connect(c);
	else if (c->state == RCON_STATE_CONNECTING ||
		 c->state == RCON_STATE_AUTHING)
		conn_lost(c, ERR_TIMEOUT);
}

/* ---- public --------------------------------------------------------- */

static void apply_defaults(struct rcon_client_config *cfg)
{
	if (cfg->inflight_max == 0)
		cfg->inflight_max = INFLIGHT_DEFAULT;
	if (cfg->queue_max == 0)
		cfg->queue_max = QUEUE_DEFAULT;
	if (cfg->timeout_ms == 0)
		cfg->timeout_ms = TIMEOUT_DEFAULT_MS;
	if (cfg->connect_timeout_ms == 0)
		cfg->connect_timeout_ms = CONNECT_TIMEOUT_DEFAULT_MS;
	if (cfg->backoff_min_ms == 0)
		cfg->backoff_min_ms = BACKOFF_MIN_DEFAULT_MS;
	if (cfg->backoff_max_ms == 0)
		cfg->backoff_max_ms = BACKOFF_MAX_DEFAULT_MS;
	if (cfg->command_max == 0)
		cfg->command_max = COMMAND_MAX_DEFAULT;
	if (cfg->reply_len_max == 0)
		cfg->reply_len_max = RCON_LEN_MAX_TO_CLIENT;
}

static int check_config(const struct rcon_client_config *cfg)
{
	if (cfg->host == NULL || cfg->password == NULL || cfg->port == 0)
		return ERR_INVAL;
	if (strlen(cfg->password) > PASSWORD_MAX)
		return ERR_INVAL;
	if (cfg->inflight_max > INFLIGHT_LIMIT)
		return ERR_INVAL;
	if (cfg->backoff_min_ms > cfg->backoff_max_ms)
		return ERR_INVAL;
	if (cfg->reply_len_max < RCON_LEN_MIN ||
	    cfg->reply_len_max > RCON_LEN_LIMIT_MAX)
		return ERR_INVAL;
	if (cfg->command_max > (size_t)INT32_MAX - RCON_LEN_OVERHEAD)
		return ERR_INVAL;
	return 0;
}

int rcon_client_new(struct rcon_client **out, uv_loop_t *loop,
		    const struct rcon_client_config *cfg)
{
	struct rcon_client *c;
	struct sockaddr_storage sa;
	int rv;

	ASSERT(out != NULL && loop != NULL && cfg != NULL);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ERR_NOMEM;
	c->cfg = *cfg;
	apply_defaults(&c->cfg);
	rv = check_config(&c->cfg);
	if (rv != 0)
		goto err_free_client;
	c->host = strdup(cfg->host);
	c->password = strdup(cfg->password);
	rv = ERR_NOMEM;
	if (c->host == NULL || c->password == NULL)
		goto err_free_strings;
	c->cfg.host = c->host;
	c->cfg.password = c->password;
	rv = parse_addr(c, &sa);
	if (rv != 0)
		goto err_free_strings;
	c->loop = loop;
	c->next_id = 1;
	c->next_chunk_key = 1;
	c->cmd_timer_due = UINT64_MAX;
	rcon_decoder_init(&c->dec, c->cfg.reply_len_max);
	uv_timer_init(loop, &c->cmd_timer);
	uv_timer_init(loop, &c->conn_timer);
	uv_timer_init(loop, &c->kick_timer);
	c->cmd_timer.data = c;
	c->conn_timer.data = c;
	c->kick_timer.data = c;
	c->open = 3;
	*out = c;
	return 0;

err_free_strings:
	free(c->host);
	free(c->password);
err_free_client:
	free(c);
	return rv;
}

int rcon_client_start(struct rcon_client *c)
{
	if (c->state != RCON_STATE_IDLE)
		return ERR_INVAL;
	start_connect(c);
	return 0;
}

static int accepting(const struct rcon_client *c)
{
	return c->state != RCON_STATE_FAILED && c->state != RCON_STATE_CLOSING;
}

static size_t queued(const struct rcon_client *c)
{
	return c->queue.n + c->ordered.n;
}

int rcon_client_command(struct rcon_client *c, const char *cmd, size_t len,
			unsigned flags, uint64_t timeout_ms, rcon_reply_cb cb,
			void *ud)
{
	struct cmd *m;

	ASSERT(cb != NULL && (cmd != NULL || len == 0));
	ASSERT((flags & ~RCON_CMD_ORDERED) == 0);
	if (!accepting(c))
		return ERR_CLOSED;
	if (len > c->cfg.command_max)
		return ERR_TOOBIG;
	if (queued(c) >= c->cfg.queue_max)
		return ERR_AGAIN;
	m = malloc(sizeof(*m) + len);
	if (m == NULL)
		return ERR_NOMEM;
	memset(m, 0, sizeof(*m));
	if (len > 0)
		memcpy(m->body, cmd, len);
	m->len = len;
	m->flags = flags;
	m->cb = cb;
	m->ud = ud;
	m->deadline = uv_now(c->loop) +
		      (timeout_ms ? timeout_ms : c->cfg.timeout_ms);
	list_push(flags & RCON_CMD_ORDERED ? &c->ordered : &c->queue, m);
	arm_deadline(c, m->deadline);
	kick(c);
	return 0;
}

enum rcon_state rcon_client_state(const struct rcon_client *c)
{
	return c->state;
}

void rcon_client_stats(const struct rcon_client *c,
		       struct rcon_client_stats *out)
{
	*out = c->stats;
}

size_t rcon_client_pending(const struct rcon_client *c)
{
	return queued(c) + c->inflight.n;
}

size_t rcon_client_queue_room(const struct rcon_client *c)
{
	return queued(c) >= c->cfg.queue_max ? 0
					      : c->cfg.queue_max - queued(c);
}

size_t rcon_client_command_max(const struct rcon_client *c)
{
	return c->cfg.command_max;
}

uint32_t rcon_client_next_chunk_key(struct rcon_client *c)
{
	uint32_t k = c->next_chunk_key;

	c->next_chunk_key = k == UINT32_MAX ? 1 : k + 1;
	return k;
}

void rcon_client_close(struct rcon_client *c, void (*closed_cb)(void *ud),
		       void *ud)
{
	if (c->state == RCON_STATE_CLOSING)
		return;
	set_state(c, RCON_STATE_CLOSING, 0);
	c->closed_cb = closed_cb;
	c->closed_ud = ud;
	drop_conn(c);
	uv_timer_stop(&c->cmd_timer);
	uv_timer_stop(&c->conn_timer);
	uv_close((uv_handle_t *)&c->cmd_timer, timer_closed);
	uv_close((uv_handle_t *)&c->conn_timer, timer_closed);
	uv_close((uv_handle_t *)&c->kick_timer, timer_closed);
	c->ordered_busy = 0;
	fail_list(&c->inflight, ERR_SHUTDOWN);
	fail_list(&c->ordered, ERR_SHUTDOWN);
	fail_list(&c->queue, ERR_SHUTDOWN);
}
