/* fake_server.c: see fake_server.h. Test code: asserts on its own
 * invariants, prints nothing. */
#include "tests/unit/rcon/fake_server.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "rcon/codec.h"

#define CONNS_MAX 16
#define TICK_MS 16

struct fconn {
	uv_tcp_t tcp;
	struct fake_server *s;
	struct rcon_decoder dec;
	int authed;
	int closed;
	size_t outstanding;
	char rbuf[65536];
};

struct pending {
	struct fconn *conn;
	int32_t id;
	int ticks;   /* ticks until it is answered; -1 never */
	int is_ord;
	char *cmd;   /* NUL-terminated */
	size_t len;
	char *reply; /* computed at its tick */
	size_t reply_len;
	int drop;
};

struct fake_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t tick;
	char password[256];
	int reverse;
	int quirk;
	int stopping;
	int open;
	struct fake_server_stats st;
	struct fconn *conns[CONNS_MAX];
	struct pending *pend;
	size_t npend, cappend;
	lua_State *L;
	struct wbuf out; /* rcon.print output of the running command */
};

static void handle_closed(struct fake_server *s)
{
	s->open--;
	if (s->open == 0 && s->stopping) {
		lua_close(s->L);
		wbuf_free(&s->out);
		free(s->pend);
		free(s);
	}
}

static void plain_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void conn_closed(uv_handle_t *h)
{
	struct fconn *fc = h->data;
	struct fake_server *s = fc->s;

	rcon_decoder_free(&fc->dec);
	free(fc);
	handle_closed(s);
}

static void conn_close(struct fconn *fc)
{
	struct fake_server *s = fc->s;
	size_t j = 0;

	if (fc->closed)
		return;
	fc->closed = 1;
	for (size_t i = 0; i < s->npend; i++) {
		if (s->pend[i].conn == fc) {
			free(s->pend[i].cmd);
			free(s->pend[i].reply);
		} else {
			s->pend[j++] = s->pend[i];
		}
	}
	s->npend = j;
	for (int i = 0; i < CONNS_MAX; i++)
		if (s->conns[i] == fc)
			s->conns[i] = NULL;
	uv_close((uv_handle_t *)&fc->tcp, conn_closed);
}

static void write_done(uv_write_t *req, int status)
{
	(void)status;
	free(req->data);
	free(req);
}

static void send_packet(struct fconn *fc, int32_t id, int32_t type,
			const char *body, size_t len)
{
	uv_write_t *req = malloc(sizeof(*req));
	uint8_t *p = malloc(rcon_encoded_size(len));
	size_t w = 0;
	uv_buf_t b;

	ASSERT(req && p);
	ASSERT(rcon_encode(p, rcon_encoded_size(len), id, type, body, len,
			   &w) == 0);
	req->data = p;
	b = uv_buf_init((char *)p, (unsigned int)w);
	if (uv_write(req, (uv_stream_t *)&fc->tcp, &b, 1, write_done) != 0) {
		free(p);
		free(req);
	}
}

static int l_rcon_print(lua_State *L)
{
	struct fake_server *s = lua_touserdata(L, lua_upvalueindex(1));
	size_t n = 0;
	const char *str = luaL_tolstring(L, 1, &n);

	ASSERT(wbuf_put(&s->out, str, n) == 0);
	ASSERT(wbuf_put(&s->out, "\n", 1) == 0);
	return 0;
}

static void run_lua(struct fake_server *s, struct pending *p)
{
	const char *code = p->cmd + 4;

	wbuf_reset(&s->out);
	if (luaL_loadbuffer(s->L, code, strlen(code), "=command") != 0 ||
	    lua_pcall(s->L, 0, 0, 0) != 0) {
		const char *e = lua_tostring(s->L, -1);

		wbuf_reset(&s->out);
		ASSERT(wbuf_put(&s->out, "error: ", 7) == 0);
		ASSERT(wbuf_put(&s->out, e, strlen(e)) == 0);
		lua_pop(s->L, 1);
	}
	p->reply_len = s->out.len;
	p->reply = malloc(s->out.len + 1);
	ASSERT(p->reply);
	memcpy(p->reply, s->out.p ? (char *)s->out.p : "", s->out.len);
}

static void compute_reply(struct fake_server *s, struct pending *p)
{
	const char *r = "unknown";

	if (strncmp(p->cmd, "/sc ", 4) == 0) {
		run_lua(s, p);
		return;
	}
	if (strncmp(p->cmd, "echo ", 5) == 0)
		r = p->cmd + 5;
	else if (strcmp(p->cmd, "late") == 0)
		r = "late";
	else if (p->is_ord)
		r = p->cmd + 4; /* "<n> <ticks>": the test reads the number */
	p->reply_len = strlen(r);
	p->reply = strdup(r);
	ASSERT(p->reply);
}

static void tick_cb(uv_timer_t *t)
{
	struct fake_server *s = t->data;
	struct pending *due = malloc((s->npend + 1) * sizeof(*due));
	size_t ndue = 0, j = 0;

	ASSERT(due != NULL);
	/* Commands run in arrival order; replies may go out reversed. */
	for (size_t i = 0; i < s->npend; i++) {
		struct pending *p = &s->pend[i];

		if (p->ticks > 0)
			p->ticks--;
		if (p->ticks == 0) {
			compute_reply(s, p);
			due[ndue++] = *p;
		} else {
			s->pend[j++] = *p;
		}
	}
	s->npend = j;
	for (size_t k = 0; k < ndue; k++) {
		struct pending *p = &due[s->reverse ? ndue - 1 - k : k];

		if (!p->conn->closed) {
			send_packet(p->conn, p->id, RCON_TYPE_RESPONSE, p->reply,
				    p->reply_len);
			p->conn->outstanding--;
		}
		free(p->cmd);
		free(p->reply);
	}
	free(due);
}

static void on_exec(struct fconn *fc, const struct rcon_packet *pk)
{
	struct fake_server *s = fc->s;
	struct pending p = {0};

	s->st.commands++;
	if (pk->body_len > s->st.max_command_len)
		s->st.max_command_len = pk->body_len;
	if (strcmp(pk->body, "drop") == 0) {
		conn_close(fc);
		return;
	}
	if (strcmp(pk->body, "garbage") == 0) {
		/* A length field of 5: below the minimum of 10. */
		static const uint8_t bad[] = {5, 0, 0, 0, 1, 2, 3, 4, 5};
		uv_write_t *req = malloc(sizeof(*req));
		uint8_t *copy = malloc(sizeof(bad));
		uv_buf_t b;

		ASSERT(req && copy);
		memcpy(copy, bad, sizeof(bad));
		req->data = copy;
		b = uv_buf_init((char *)copy, sizeof(bad));
		if (uv_write(req, (uv_stream_t *)&fc->tcp, &b, 1, write_done) != 0) {
			free(copy);
			free(req);
		}
		return;
	}
	p.conn = fc;
	p.id = pk->id;
	p.ticks = 1;
	p.cmd = malloc(pk->body_len + 1);
	ASSERT(p.cmd);
	memcpy(p.cmd, pk->body, pk->body_len + 1);
	if (strcmp(p.cmd, "hang") == 0)
		p.ticks = -1;
	else if (strcmp(p.cmd, "late") == 0)
		p.ticks = 20;
	else if (strncmp(p.cmd, "ord ", 4) == 0) {
		const char *sp = strchr(p.cmd + 4, ' ');

		p.is_ord = 1;
		p.ticks = sp ? atoi(sp + 1) : 1;
		for (size_t i = 0; i < s->npend; i++)
			if (s->pend[i].conn == fc && s->pend[i].is_ord)
				s->st.ordered_violations++;
	}
	if (s->npend == s->cappend) {
		s->cappend = s->cappend ? 2 * s->cappend : 64;
		s->pend = realloc(s->pend, s->cappend * sizeof(*s->pend));
		ASSERT(s->pend);
	}
	s->pend[s->npend++] = p;
	fc->outstanding++;
	if (fc->outstanding > s->st.max_outstanding)
		s->st.max_outstanding = fc->outstanding;
}

static void on_packet(struct fconn *fc, const struct rcon_packet *pk)
{
	struct fake_server *s = fc->s;

	if (!fc->authed) {
		if (pk->type != RCON_TYPE_AUTH) {
			conn_close(fc);
			return;
		}
		if (s->quirk)
			send_packet(fc, pk->id, RCON_TYPE_RESPONSE, "", 0);
		if (strcmp(pk->body, s->password) != 0) {
			send_packet(fc, RCON_AUTH_FAILED_ID,
				    RCON_TYPE_AUTH_REPLY, "", 0);
			return;
		}
		fc->authed = 1;
		s->st.auths++;
		send_packet(fc, pk->id, RCON_TYPE_AUTH_REPLY, "", 0);
		return;
	}
	if (pk->type != RCON_TYPE_EXEC) {
		conn_close(fc);
		return;
	}
	on_exec(fc, pk);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct fconn *fc = h->data;

	(void)hint;
	*b = uv_buf_init(fc->rbuf, sizeof(fc->rbuf));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct fconn *fc = st->data;
	const uint8_t *p = (const uint8_t *)b->base;
	size_t left = n > 0 ? (size_t)n : 0, used;
	struct rcon_packet pk;

	if (n < 0) {
		conn_close(fc);
		return;
	}
	while (left > 0 && !fc->closed) {
		int rv = rcon_decoder_feed(&fc->dec, p, left, &used, &pk);

		if (rv < 0) {
			conn_close(fc);
			return;
		}
		p += used;
		left -= used;
		if (rv == 1)
			on_packet(fc, &pk);
	}
}

static void on_connection(uv_stream_t *l, int status)
{
	struct fake_server *s = l->data;
	struct fconn *fc;
	int slot = -1;

	if (status < 0)
		return;
	fc = calloc(1, sizeof(*fc));
	ASSERT(fc);
	fc->s = s;
	rcon_decoder_init(&fc->dec, 64 * 1024);
	uv_tcp_init(s->loop, &fc->tcp);
	fc->tcp.data = fc;
	s->open++;
	if (uv_accept(l, (uv_stream_t *)&fc->tcp) != 0) {
		fc->closed = 1;
		uv_close((uv_handle_t *)&fc->tcp, conn_closed);
		return;
	}
	for (int i = 0; i < CONNS_MAX; i++)
		if (s->conns[i] == NULL) {
			slot = i;
			break;
		}
	ASSERT(slot >= 0);
	s->conns[slot] = fc;
	s->st.connections++;
	uv_read_start((uv_stream_t *)&fc->tcp, alloc_cb, read_cb);
}

struct fake_server *fake_server_start(uv_loop_t *loop, uint16_t port,
				      const char *password)
{
	struct fake_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;

	ASSERT(s);
	s->loop = loop;
	strncpy(s->password, password, sizeof(s->password) - 1);
	wbuf_init(&s->out, 1 << 20);
	s->L = luaL_newstate();
	ASSERT(s->L);
	luaL_openlibs(s->L);
	lua_newtable(s->L);
	lua_setglobal(s->L, "storage");
	lua_newtable(s->L);
	lua_pushlightuserdata(s->L, s);
	lua_pushcclosure(s->L, l_rcon_print, 1);
	lua_setfield(s->L, -2, "print");
	lua_setglobal(s->L, "rcon");
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	uv_timer_init(loop, &s->tick);
	s->tick.data = s;
	s->open = 2;
	ASSERT(uv_ip4_addr("127.0.0.1", port, &sa) == 0);
	if (uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0) != 0 ||
	    uv_listen((uv_stream_t *)&s->listener, 64, on_connection) != 0) {
		fake_server_stop(s);
		return NULL;
	}
	uv_timer_start(&s->tick, tick_cb, TICK_MS, TICK_MS);
	return s;
}

uint16_t fake_server_port(const struct fake_server *s)
{
	struct sockaddr_in sa;
	int len = sizeof(sa);

	ASSERT(uv_tcp_getsockname(&s->listener, (struct sockaddr *)&sa,
				  &len) == 0);
	return ntohs(sa.sin_port);
}

void fake_server_set_reverse(struct fake_server *s, int on)
{
	s->reverse = on;
}

void fake_server_set_auth_quirk(struct fake_server *s, int on)
{
	s->quirk = on;
}

void fake_server_get_stats(const struct fake_server *s,
			   struct fake_server_stats *out)
{
	*out = s->st;
}

void fake_server_stop(struct fake_server *s)
{
	s->stopping = 1;
	for (int i = 0; i < CONNS_MAX; i++)
		if (s->conns[i])
			conn_close(s->conns[i]);
	uv_timer_stop(&s->tick);
	uv_close((uv_handle_t *)&s->listener, plain_closed);
	uv_close((uv_handle_t *)&s->tick, plain_closed);
}
