/*
 * transport.c: the API of transport.h: start and stop, destinations with
 * their bounded queues and backoff, datagrams, joins. conn.c runs each
 * TCP connection; hs.c and wire.c are the pure protocol.
 *
 * Destinations are dialled lazily: a destination with queued frames and
 * no connection dials at once unless its backoff timer is armed; a lost
 * connection arms the timer with a wait that doubles from backoff_min_ms
 * to backoff_max_ms (jittered +-25 % so that peers of a restarted node do
 * not dial in lock-step), and a completed handshake resets it. Sends
 * queue; a prepare handle writes every ready destination's queue in
 * batches just before the loop blocks, so frames sent in one loop turn
 * share one write.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/transport/priv.h"

const char *tp_reason_name(enum tp_reason r)
{
	static const char *const names[TP_REJ_COUNT_] = {
		"malformed", "auth", "replay", "too_big", "unknown_peer",
		"version"};

	return (unsigned)r < TP_REJ_COUNT_ ? names[r] : "unknown";
}

void tp_count_reject(struct tp *t, enum tp_reason r)
{
	ASSERT((unsigned)r < TP_REJ_COUNT_);
	t->st.frames_rejected[r]++;
}

void tp_stats(const struct tp *t, struct tp_stats *out)
{
	*out = t->st;
}

const char *tp_local_addr(const struct tp *t)
{
	return t->local;
}

void tp_set_secret(struct tp *t, const uint8_t secret[TP_KEY_LEN])
{
	tp_cluster_psk(secret, t->psk);
	tp_udp_key(secret, t->udp_key);
	t->has_secret = 1;
}

/* "IP:PORT" or "[IP6]:PORT" into a socket address. */
static int parse_addr(const char *addr, struct sockaddr_storage *sa,
		      int zero_ok)
{
	char host[TP_ADDR_MAX];
	const char *colon;
	size_t hlen;
	int port;

	if (tpw_addr_check(addr, zero_ok) != 0)
		return ERR_INVAL;
	colon = strrchr(addr, ':');
	port = atoi(colon + 1);
	if (addr[0] == '[') {
		hlen = (size_t)(colon - addr) - 2;
		memcpy(host, addr + 1, hlen);
		host[hlen] = '\0';
		return uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0
			       ? 0
			       : ERR_INVAL;
	}
	hlen = (size_t)(colon - addr);
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	return uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0
		       ? 0
		       : ERR_INVAL;
}

static void format_addr(const struct sockaddr_storage *sa, char *out)
{
	/* INET6_ADDRSTRLEN (46) fits, and "[host]:port" then fits out. */
	char host[48] = "";

	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		uv_ip6_name(a, host, sizeof(host));
		snprintf(out, TP_ADDR_MAX, "[%s]:%u", host, ntohs(a->sin6_port));
		return;
	}
	uv_ip4_name((const struct sockaddr_in *)sa, host, sizeof(host));
	snprintf(out, TP_ADDR_MAX, "%s:%u", host,
		 ntohs(((const struct sockaddr_in *)sa)->sin_port));
}

static uint64_t wall_ms(struct tp *t)
{
	struct timespec ts;

	if (t->cfg.wall_ms)
		return t->cfg.wall_ms(t->cfg.ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Destinations ---- */

static struct tp_dest *dest_find(struct tp *t, const char *addr)
{
	for (struct tp_dest *d = t->dests; d; d = d->next)
		if (strcmp(d->addr, addr) == 0)
			return d;
	return NULL;
}

static void dest_dial(struct tp_dest *d);

static void on_backoff(uv_timer_t *timer)
{
	struct tp_dest *d = timer->data;

	d->backoff_armed = 0;
	if (d->qhead && !d->conn)
		dest_dial(d);
}

static void dest_arm_backoff(struct tp_dest *d)
{
	struct tp *t = d->t;
	uint32_t b, wait;

	b = d->backoff_ms ? d->backoff_ms : t->cfg.backoff_min_ms;
	/* b * [0.75, 1.25]: the jitter spreads re-dials of many peers. */
	wait = b - b / 4 + randombytes_uniform(b / 2 + 1);
	d->backoff_ms = b >= t->cfg.backoff_max_ms / 2 ? t->cfg.backoff_max_ms
						       : b * 2;
	d->backoff_armed = 1;
	uv_timer_start(&d->timer, on_backoff, wait, 0);
}

static void dest_dial(struct tp_dest *d)
{
	struct tp *t = d->t;
	struct tp_conn *c;
	int rv;

	ASSERT(!d->conn && !d->closing);
	c = tp_conn_new(t, TP_CONN_OUT);
	if (!c) {
		dest_arm_backoff(d);
		return;
	}
	memcpy(c->peer_addr, d->addr, sizeof(d->addr));
	c->dest = d;
	d->conn = c;
	rv = tp_conn_dial(c, (const struct sockaddr *)&d->sa);
	if (rv != 0) {
		TRACE_W(t->cfg.tracer, TP_MOD, "dial %s: %s", d->addr,
			err_name(rv));
		tp_conn_close(c, ERR_CLOSED); /* arms the backoff */
	}
}

void tp_dest_conn_lost(struct tp_dest *d, int ready_before)
{
	(void)ready_before;
	if (d->closing || d->t->stopping)
		return;
	dest_arm_backoff(d);
}

void tp_dest_ready(struct tp_dest *d)
{
	d->backoff_ms = 0;
	uv_timer_stop(&d->timer);
	d->backoff_armed = 0;
	if (d->qhead)
		tp_conn_flush(d->conn);
}

static void queue_drop(struct tp_dest *d)
{
	struct tp_frame *f = d->qhead, *next;

	/* The queue is bounded by queue_frames, so is this walk. */
	for (; f; f = next) {
		next = f->next;
		free(f);
	}
	d->qhead = d->qtail = NULL;
	d->qframes = d->qbytes = 0;
}

static void on_dest_closed(uv_handle_t *h)
{
	struct tp_dest *d = h->data;
	struct tp *t = d->t;

	free(d);
	tp_handles_closed(t, 1);
}

static void dest_close(struct tp_dest *d)
{
	struct tp *t = d->t;

	ASSERT(!d->closing);
	d->closing = 1;
	if (d->prev)
		d->prev->next = d->next;
	else
		t->dests = d->next;
	if (d->next)
		d->next->prev = d->prev;
	t->ndests--;
	queue_drop(d);
	if (d->conn)
		tp_conn_close(d->conn, ERR_CLOSED);
	uv_close((uv_handle_t *)&d->timer, on_dest_closed);
}

static int dest_new(struct tp *t, const char *addr, struct tp_dest **out)
{
	struct tp_dest *d;

	if (t->ndests >= TP_DESTS_MAX)
		return ERR_AGAIN;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ERR_NOMEM;
	if (parse_addr(addr, &d->sa, 0) != 0) {
		free(d);
		return ERR_INVAL;
	}
	snprintf(d->addr, sizeof(d->addr), "%s", addr);
	d->t = t;
	ASSERT(uv_timer_init(t->loop, &d->timer) == 0);
	d->timer.data = d;
	t->open_handles++;
	d->next = t->dests;
	if (t->dests)
		t->dests->prev = d;
	t->dests = d;
	t->ndests++;
	*out = d;
	return 0;
}

static void on_flush(uv_prepare_t *p)
{
	struct tp *t = p->data;

	uv_prepare_stop(p);
	/* Bounded by TP_DESTS_MAX. */
	for (struct tp_dest *d = t->dests; d; d = d->next)
		if (d->qhead && d->conn && d->conn->st == TP_CS_READY)
			tp_conn_flush(d->conn);
}

static int enqueue(struct tp_dest *d, uint8_t ch, const void *buf, size_t len)
{
	struct tp *t = d->t;
	struct tp_frame *f;

	if (d->qframes >= t->cfg.queue_frames ||
	    d->qbytes + d->wbytes + len > t->cfg.queue_bytes) {
		t->st.send_dropped++;
		return ERR_AGAIN;
	}
	f = malloc(sizeof(*f) + len);
	if (!f)
		return ERR_NOMEM;
	f->next = NULL;
	f->ch = ch;
	f->len = len;
	if (len)
		memcpy(f->data, buf, len);
	if (d->qtail)
		d->qtail->next = f;
	else
		d->qhead = f;
	d->qtail = f;
	d->qframes++;
	d->qbytes += len;
	return 0;
}

int tp_send(struct tp *t, const char *addr, uint8_t channel, const void *buf,
	    size_t len)
{
	struct tp_dest *d;
	int rv;

	if (t->stopping)
		return ERR_SHUTDOWN;
	if (!t->has_secret)
		return ERR_CONFIG;
	if (channel == TPW_CH_JOIN)
		return ERR_INVAL;
	if (len > t->cfg.frame_max)
		return ERR_TOOBIG;
	d = dest_find(t, addr);
	if (!d && (rv = dest_new(t, addr, &d)) != 0)
		return rv;
	if ((rv = enqueue(d, channel, buf, len)) != 0)
		return rv;
	if (!d->conn && !d->backoff_armed)
		dest_dial(d);
	else if (d->conn && d->conn->st == TP_CS_READY)
		uv_prepare_start(&t->flusher, on_flush);
	return 0;
}

void tp_close_addr(struct tp *t, const char *addr)
{
	struct tp_dest *d = dest_find(t, addr);

	if (d)
		dest_close(d);
}

void tp_close_peer(struct tp *t, const uint8_t static_pk[TP_KEY_LEN])
{
	struct tp_conn *c = t->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->st == TP_CS_READY &&
		    sodium_memcmp(c->peer_pk, static_pk, TP_KEY_LEN) == 0)
			tp_conn_close(c, ERR_CLOSED);
	}
}

/* ---- Datagrams ---- */

int tp_sendto(struct tp *t, const char *addr, const void *buf, size_t len)
{
	struct sockaddr_storage sa;
	uv_buf_t b;
	size_t n = 0;
	int rv;

	if (t->stopping)
		return ERR_SHUTDOWN;
	if (!t->has_secret)
		return ERR_CONFIG;
	if (len > TP_DATAGRAM_MAX)
		return ERR_TOOBIG;
	if (parse_addr(addr, &sa, 0) != 0)
		return ERR_INVAL;
	tpw_dgram_seal(t->udp_key, wall_ms(t), t->advertise, buf, len,
		       t->usend, &n);
	b = uv_buf_init((char *)t->usend, (unsigned)n);
	rv = uv_udp_try_send(&t->udp, &b, 1, (const struct sockaddr *)&sa);
	if (rv == UV_EAGAIN || rv == UV_ENOBUFS) {
		t->st.send_dropped++;
		return ERR_AGAIN;
	}
	if (rv < 0)
		return rv;
	t->st.datagrams_out++;
	t->st.bytes_out += n;
	return 0;
}

static void on_udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct tp *t = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)t->ubuf, sizeof(t->ubuf));
}

static void dgram_reject(struct tp *t, enum tp_reason r, const char *what)
{
	t->st.datagrams_rejected[r]++;
	TRACE_D(t->cfg.tracer, TP_MOD, "datagram dropped: %s (%s)", what,
		tp_reason_name(r));
}

static void on_udp_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *from, unsigned flags)
{
	struct tp *t = u->data;
	struct tpw_dgram d;
	int rv;

	if (nread <= 0 || !from)
		return; /* nothing more, or a socket error already traced */
	t->st.bytes_in += (uint64_t)nread;
	if (flags & UV_UDP_PARTIAL) {
		dgram_reject(t, TP_REJ_TOO_BIG, "truncated");
		return;
	}
	if (!t->has_secret) {
		dgram_reject(t, TP_REJ_AUTH, "no cluster secret here");
		return;
	}
	rv = tpw_dgram_open(t->udp_key, (const uint8_t *)buf->base,
			    (size_t)nread, t->uscratch, &d);
	if (rv != 0) {
		dgram_reject(t, rv == ERR_AUTH      ? TP_REJ_AUTH
				: rv == ERR_VERSION ? TP_REJ_VERSION
						    : TP_REJ_MALFORMED,
			     "failed to open");
		return;
	}
	if (tpw_replay_check(&t->replay, d.nonce, d.ts_ms, wall_ms(t),
			     t->cfg.udp_window_ms) != 0) {
		dgram_reject(t, TP_REJ_REPLAY, "replayed or stale");
		return;
	}
	t->st.datagrams_in++;
	if (t->cfg.on_datagram)
		t->cfg.on_datagram(t->cfg.ctx, d.addr, d.payload,
				   d.payload_len);
}

/* ---- Accepting ---- */

static void on_refused_closed(uv_handle_t *h)
{
	struct tp *t = h->data;

	free(h);
	tp_handles_closed(t, 1);
}

/* Over inbound_max: accept and close at once, so the backlog drains. */
static void refuse_inbound(struct tp *t)
{
	uv_tcp_t *tcp = malloc(sizeof(*tcp));

	t->st.conns_refused++;
	if (!tcp)
		return;
	ASSERT(uv_tcp_init(t->loop, tcp) == 0);
	tcp->data = t;
	t->open_handles++;
	(void)uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)tcp);
	uv_close((uv_handle_t *)tcp, on_refused_closed);
}

static void on_listen(uv_stream_t *s, int status)
{
	struct tp *t = s->data;
	struct tp_conn *c;

	if (status < 0 || t->stopping)
		return;
	if (t->st.conns_inbound >= t->cfg.inbound_max) {
		refuse_inbound(t);
		return;
	}
	c = tp_conn_new(t, TP_CONN_IN);
	if (!c) {
		refuse_inbound(t);
		return;
	}
	if (uv_accept(s, (uv_stream_t *)&c->tcp) != 0) {
		tp_conn_close(c, ERR_CLOSED);
		return;
	}
	tp_conn_accepted(c);
}

/* ---- Start and stop ---- */

static void resolve_limits(struct tp_config *c)
{
	if (!c->frame_max)
		c->frame_max = TP_FRAME_MAX_DEFAULT;
	if (!c->queue_frames)
		c->queue_frames = TP_QUEUE_FRAMES_DEFAULT;
	if (!c->queue_bytes)
		c->queue_bytes = TP_QUEUE_BYTES_DEFAULT;
	if (!c->backoff_min_ms)
		c->backoff_min_ms = TP_BACKOFF_MIN_MS_DEFAULT;
	if (!c->backoff_max_ms)
		c->backoff_max_ms = TP_BACKOFF_MAX_MS_DEFAULT;
	if (c->backoff_max_ms < c->backoff_min_ms)
		c->backoff_max_ms = c->backoff_min_ms;
	if (!c->handshake_ms)
		c->handshake_ms = TP_HANDSHAKE_MS_DEFAULT;
	if (!c->inbound_max)
		c->inbound_max = TP_INBOUND_MAX_DEFAULT;
	if (!c->join_ms)
		c->join_ms = TP_JOIN_MS_DEFAULT;
	if (!c->udp_window_ms)
		c->udp_window_ms = TP_UDP_WINDOW_MS_DEFAULT;
	if (!c->proto_min && !c->proto_max) {
		c->proto_min = TP_PROTO_MIN;
		c->proto_max = TP_PROTO_MAX;
	}
	/* A frame carries 1 channel byte and a tag inside a u32 length. */
	if (c->frame_max > UINT32_MAX - 64)
		c->frame_max = UINT32_MAX - 64;
}

static int check_config(const struct tp_config *cfg)
{
	if (!cfg->loop || !cfg->bind || !cfg->check_peer || !cfg->on_frame)
		return ERR_INVAL;
	if (cfg->join_psk && !cfg->on_join)
		return ERR_INVAL;
	if (tpw_addr_check(cfg->bind, 1) != 0)
		return ERR_INVAL;
	if (cfg->advertise && tpw_addr_check(cfg->advertise, 0) != 0)
		return ERR_INVAL;
	if ((cfg->proto_min || cfg->proto_max) &&
	    (cfg->proto_min < 1 || cfg->proto_min > cfg->proto_max))
		return ERR_INVAL;
	return 0;
}

/* Binds TCP, reads back the port, binds UDP to the same one. */
static int bind_sockets(struct tp *t, const char *bind)
{
	struct sockaddr_storage sa;
	int len = sizeof(sa), rv;

	if (parse_addr(bind, &sa, 1) != 0)
		return ERR_INVAL;
	if ((rv = uv_tcp_bind(&t->listener, (struct sockaddr *)&sa, 0)) ||
	    (rv = uv_listen((uv_stream_t *)&t->listener, 511, on_listen)))
		return rv;
	rv = uv_tcp_getsockname(&t->listener, (struct sockaddr *)&sa, &len);
	if (rv)
		return rv;
	format_addr(&sa, t->local);
	if ((rv = uv_udp_bind(&t->udp, (struct sockaddr *)&sa, 0)) != 0)
		return rv;
	return uv_udp_recv_start(&t->udp, on_udp_alloc, on_udp_recv);
}

static void finish_stop(struct tp *t)
{
	void (*done)(void *) = t->done;
	void *arg = t->done_arg;

	sodium_memzero(t, sizeof(*t));
	free(t);
	if (done)
		done(arg);
}

void tp_handles_closed(struct tp *t, int n)
{
	ASSERT(t->open_handles >= n);
	t->open_handles -= n;
	if (t->stopping && t->open_handles == 0)
		finish_stop(t);
}

static void on_own_closed(uv_handle_t *h)
{
	tp_handles_closed(h->data, 1);
}

static void close_all(struct tp *t)
{
	/* Each list is bounded: conns by inbound_max plus dests plus
	 * joins, dests by TP_DESTS_MAX. */
	while (t->conns)
		tp_conn_close(t->conns, ERR_SHUTDOWN);
	while (t->dests)
		dest_close(t->dests);
	uv_close((uv_handle_t *)&t->listener, on_own_closed);
	uv_close((uv_handle_t *)&t->udp, on_own_closed);
	uv_close((uv_handle_t *)&t->flusher, on_own_closed);
}

int tp_start(struct tp **out, const struct tp_config *cfg)
{
	struct tp *t;
	int rv;

	if ((rv = check_config(cfg)) != 0)
		return rv;
	ASSERT(sodium_init() >= 0);
	t = calloc(1, sizeof(*t));
	if (!t)
		return ERR_NOMEM;
	t->cfg = *cfg;
	t->cfg.bind = t->cfg.advertise = NULL;
	resolve_limits(&t->cfg);
	t->loop = cfg->loop;
	tpw_replay_init(&t->replay);
	if (cfg->has_secret)
		tp_set_secret(t, cfg->secret);
	sodium_memzero(t->cfg.secret, sizeof(t->cfg.secret));
	ASSERT(uv_tcp_init(t->loop, &t->listener) == 0);
	ASSERT(uv_udp_init(t->loop, &t->udp) == 0);
	ASSERT(uv_prepare_init(t->loop, &t->flusher) == 0);
	t->listener.data = t->udp.data = t->flusher.data = t;
	t->open_handles = 3;
	if ((rv = bind_sockets(t, cfg->bind)) != 0) {
		t->stopping = 1;
		close_all(t); /* frees t once libuv has closed the handles */
		return rv;
	}
	snprintf(t->advertise, sizeof(t->advertise), "%s",
		 cfg->advertise ? cfg->advertise : t->local);
	*out = t;
	return 0;
}

void tp_stop(struct tp *t, void (*done)(void *arg), void *arg)
{
	ASSERT(!t->stopping);
	t->stopping = 1;
	t->done = done;
	t->done_arg = arg;
	close_all(t);
}

/* ---- Joins ---- */

static struct tp_joiner *joiner_new(const char *id,
				    const uint8_t hash[TP_KEY_LEN],
				    const void *req, size_t len, tp_join_cb cb,
				    void *arg)
{
	struct tp_joiner *jn = calloc(1, sizeof(*jn));

	if (!jn)
		return NULL;
	jn->req = malloc(len ? len : 1);
	if (!jn->req) {
		free(jn);
		return NULL;
	}
	if (len)
		memcpy(jn->req, req, len);
	jn->req_len = len;
	jn->cb = cb;
	jn->arg = arg;
	snprintf(jn->token_id, sizeof(jn->token_id), "%s", id);
	tp_token_psk(jn->token_id, hash, jn->psk);
	return jn;
}

static int is_token_id(const char *id)
{
	size_t n = strlen(id);

	if (n != TP_TOKEN_ID_HEX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

int tp_join_hashed(struct tp *t, const char *peer_addr, const char *token_id,
		   const uint8_t hash[TP_KEY_LEN], const void *req, size_t len,
		   tp_join_cb cb, void *arg)
{
	struct sockaddr_storage sa;
	struct tp_conn *c;
	int rv;

	if (t->stopping)
		return ERR_SHUTDOWN;
	if (!is_token_id(token_id) || parse_addr(peer_addr, &sa, 0) != 0 ||
	    len > t->cfg.frame_max)
		return ERR_INVAL;
	c = tp_conn_new(t, TP_CONN_JOIN);
	if (!c)
		return ERR_NOMEM;
	c->jn = joiner_new(token_id, hash, req, len, cb, arg);
	if (!c->jn) {
		tp_conn_close(c, ERR_NOMEM);
		return ERR_NOMEM;
	}
	snprintf(c->peer_addr, sizeof(c->peer_addr), "%s", peer_addr);
	rv = tp_conn_dial(c, (const struct sockaddr *)&sa);
	if (rv != 0) {
		c->jn->done = 1; /* the caller learns it from rv */
		tp_conn_close(c, rv);
		return rv;
	}
	return 0;
}

int tp_join(struct tp *t, const char *peer_addr, const char *token,
	    const void *req, size_t len, tp_join_cb cb, void *arg)
{
	char id[TP_TOKEN_ID_HEX + 1];
	uint8_t secret[TP_KEY_LEN], hash[TP_KEY_LEN];
	int rv;

	if (t->stopping)
		return ERR_SHUTDOWN;
	rv = tp_token_parse(token, id, secret);
	if (rv != 0) {
		sodium_memzero(secret, sizeof(secret));
		return ERR_INVAL;
	}
	tp_token_hash(secret, hash);
	sodium_memzero(secret, sizeof(secret));
	return tp_join_hashed(t, peer_addr, id, hash, req, len, cb, arg);
}

const uint8_t *tp_join_req_static_pk(const struct tp_join_req *jr)
{
	return jr->static_pk;
}

const char *tp_join_req_addr(const struct tp_join_req *jr)
{
	return jr->addr;
}

const char *tp_join_req_token_id(const struct tp_join_req *jr)
{
	return jr->token_id;
}

/* Sends the reply frame (status, body) and closes once written. */
static void join_answer(struct tp_join_req *jr, int status, const void *buf,
			size_t len)
{
	struct tp_conn *c = jr->c;
	uint8_t st[4];

	if (c) {
		ASSERT(c->jr == jr && c->st == TP_CS_READY);
		c->jr = NULL;
		st[0] = (uint8_t)((uint32_t)status >> 24);
		st[1] = (uint8_t)((uint32_t)status >> 16);
		st[2] = (uint8_t)((uint32_t)status >> 8);
		st[3] = (uint8_t)status;
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->close_after_write = 1;
		if (tp_conn_write_frame(c, TPW_CH_JOIN, st, 4, buf, len) != 0)
			tp_conn_close(c, ERR_CLOSED);
	}
	sodium_memzero(jr, sizeof(*jr));
	free(jr);
}

void tp_join_reply(struct tp_join_req *jr, const void *buf, size_t len)
{
	struct tp_conn *c = jr->c;

	if (c && len + 4 > c->t->cfg.frame_max) {
		join_answer(jr, ERR_TOOBIG, NULL, 0);
		return;
	}
	join_answer(jr, 0, buf, len);
}

void tp_join_refuse(struct tp_join_req *jr, int status)
{
	ASSERT(status < 0);
	join_answer(jr, status, NULL, 0);
}
