/*
 * conn.c: one TCP connection of the transport: dialling or accepting,
 * the handshake (hs.c) driven from the read path, sealed frames in both
 * directions, and closing.
 *
 * A connection owns two libuv handles (the socket and a deadline timer)
 * and is freed only when both have called back from uv_close; write
 * requests still pending at close call back first with UV_ECANCELED, so
 * no callback ever sees freed memory. Any protocol violation closes the
 * connection after counting it once by reason (transport.h,
 * enum tp_reason): the peer gets no error message it could probe with.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "node/transport/priv.h"

struct wreq {
	uv_write_t req;
	struct tp_conn *c;
	size_t charged; /* bytes counted in the destination's wbytes */
	size_t len;
	uint8_t data[];
};

static const char *kind_name(const struct tp_conn *c)
{
	return c->kind == TP_CONN_IN ? "in" : c->kind == TP_CONN_OUT ? "out"
								     : "join";
}

static const char *conn_who(const struct tp_conn *c)
{
	return c->peer_addr[0] ? c->peer_addr : "(unknown)";
}

static void on_close(uv_handle_t *h)
{
	struct tp_conn *c = h->data;
	struct tp *t = c->t;

	ASSERT(c->handles > 0);
	if (--c->handles > 0)
		return;
	ASSERT(c->writes_pending == 0);
	tpw_framer_free(&c->fr);
	if (c->jn) {
		free(c->jn->req);
		sodium_memzero(c->jn, sizeof(*c->jn));
		free(c->jn);
	}
	sodium_memzero(c, sizeof(*c));
	free(c);
	tp_handles_closed(t, 2);
}

struct tp_conn *tp_conn_new(struct tp *t, enum tp_conn_kind kind)
{
	struct tp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->t = t;
	c->kind = kind;
	c->st = kind == TP_CONN_IN ? TP_CS_HS1 : TP_CS_CONNECTING;
	tpw_framer_init(&c->fr, TPW_HS_MSG_MAX);
	tpw_hs_init(&c->hs, kind != TP_CONN_IN, t->cfg.static_pk,
		    t->cfg.static_sk);
	tpw_hs_set_range(&c->hs, t->cfg.proto_min, t->cfg.proto_max);
	ASSERT(uv_tcp_init(t->loop, &c->tcp) == 0);
	ASSERT(uv_timer_init(t->loop, &c->timer) == 0);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	t->open_handles += 2;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->st.conns_open++;
	if (kind == TP_CONN_IN)
		t->st.conns_inbound++;
	return c;
}

static void unlink_conn(struct tp_conn *c)
{
	struct tp *t = c->t;

	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ASSERT(t->st.conns_open > 0);
	t->st.conns_open--;
	if (c->kind == TP_CONN_IN)
		t->st.conns_inbound--;
}

static void join_finish(struct tp_conn *c, int status, const uint8_t *p,
			size_t len)
{
	if (!c->jn || c->jn->done)
		return;
	c->jn->done = 1;
	c->jn->cb(c->jn->arg, status, status == 0 ? p : NULL,
		  status == 0 ? len : 0);
}

void tp_conn_close(struct tp_conn *c, int status)
{
	int was_ready = c->st == TP_CS_READY;

	if (c->st == TP_CS_CLOSING)
		return;
	c->st = TP_CS_CLOSING;
	unlink_conn(c);
	if (c->jr) {
		c->jr->c = NULL;
		c->jr = NULL;
	}
	join_finish(c, status, NULL, 0);
	if (c->dest) {
		struct tp_dest *d = c->dest;

		ASSERT(d->conn == c && d->wbytes >= c->charged);
		d->wbytes -= c->charged;
		d->conn = NULL;
		c->dest = NULL;
		tp_dest_conn_lost(d, was_ready);
	}
	uv_close((uv_handle_t *)&c->tcp, on_close);
	uv_close((uv_handle_t *)&c->timer, on_close);
}

/* Counts a violation by reason, traces it, closes. */
static void reject(struct tp_conn *c, enum tp_reason r, int status,
		   const char *what)
{
	struct tp *t = c->t;

	tp_count_reject(t, r);
	if (c->st != TP_CS_READY)
		t->st.handshakes_failed++;
	TRACE_W(t->cfg.tracer, TP_MOD, "%s connection %s closed: %s (%s)",
		kind_name(c), conn_who(c), what, tp_reason_name(r));
	tp_conn_close(c, status);
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct tp_conn *c = w->c;

	ASSERT(c->writes_pending > 0 && c->charged >= w->charged);
	c->writes_pending--;
	c->charged -= w->charged;
	if (c->dest) {
		ASSERT(c->dest->wbytes >= w->charged);
		c->dest->wbytes -= w->charged;
	}
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		tp_conn_close(c, ERR_CLOSED);
	else if (c->close_after_write && c->writes_pending == 0)
		tp_conn_close(c, ERR_CLOSED);
	else if (c->dest && c->st == TP_CS_READY && c->dest->qhead)
		tp_conn_flush(c);
}

/* Submits w (filled); on a libuv error closes the connection. */
static int submit(struct tp_conn *c, struct wreq *w)
{
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
	int rv;

	w->c = c;
	rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rv != 0) {
		free(w);
		tp_conn_close(c, ERR_CLOSED);
		return rv;
	}
	c->writes_pending++;
	c->charged += w->charged;
	c->t->st.bytes_out += w->len;
	return 0;
}

/* A handshake message: the length prefix and the bytes. On failure the
 * connection is closed. */
static int write_hs(struct tp_conn *c, const uint8_t *p, size_t len)
{
	struct wreq *w = malloc(sizeof(*w) + TPW_LEN_BYTES + len);

	if (!w) {
		tp_conn_close(c, ERR_NOMEM);
		return ERR_NOMEM;
	}
	w->charged = 0;
	w->len = TPW_LEN_BYTES + len;
	w->data[0] = w->data[1] = 0;
	w->data[2] = (uint8_t)(len >> 8);
	w->data[3] = (uint8_t)len;
	memcpy(w->data + TPW_LEN_BYTES, p, len);
	return submit(c, w);
}

int tp_conn_write_frame(struct tp_conn *c, uint8_t ch, const uint8_t *p,
			size_t len, const uint8_t *p2, size_t len2)
{
	size_t total = len + len2;
	struct wreq *w = malloc(sizeof(*w) + total + TPW_FRAME_OVERHEAD);

	ASSERT(c->st == TP_CS_READY);
	if (!w)
		return ERR_NOMEM;
	/* Assemble the plaintext where the seal expects it, then seal in
	 * place. */
	if (len)
		memcpy(w->data + TPW_LEN_BYTES + 1, p, len);
	if (len2)
		memcpy(w->data + TPW_LEN_BYTES + 1 + len, p2, len2);
	tpw_frame_seal(c->k_tx, c->seq_tx++, ch, w->data + TPW_LEN_BYTES + 1,
		       total, w->data);
	w->charged = 0;
	w->len = total + TPW_FRAME_OVERHEAD;
	c->t->st.frames_out++;
	return submit(c, w);
}

/* How many queued frames (and bytes sealed) go into the next batch. */
static size_t batch_size(const struct tp_dest *d, size_t *frames)
{
	size_t bytes = 0, n = 0;

	for (const struct tp_frame *f = d->qhead; f; f = f->next) {
		size_t sz = f->len + TPW_FRAME_OVERHEAD;

		if (n > 0 && bytes + sz > TP_BATCH_BYTES)
			break;
		bytes += sz;
		n++;
	}
	*frames = n;
	return bytes;
}

/* Seals the next batch of d's queue into one write. */
static int flush_batch(struct tp_conn *c, struct tp_dest *d)
{
	size_t n, bytes = batch_size(d, &n), off = 0;
	struct wreq *w = malloc(sizeof(*w) + bytes);

	if (!w)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		struct tp_frame *f = d->qhead;

		tpw_frame_seal(c->k_tx, c->seq_tx++, f->ch, f->data, f->len,
			       w->data + off);
		off += f->len + TPW_FRAME_OVERHEAD;
		d->qhead = f->next;
		d->qframes--;
		d->qbytes -= f->len;
		free(f);
	}
	if (!d->qhead)
		d->qtail = NULL;
	ASSERT(off == bytes);
	w->len = bytes;
	/* Written bytes count against the queue until libuv is done. */
	w->charged = bytes;
	d->wbytes += bytes;
	c->t->st.frames_out += n;
	return submit(c, w);
}

void tp_conn_flush(struct tp_conn *c)
{
	struct tp_dest *d = c->dest;

	ASSERT(d && c->st == TP_CS_READY);
	/* One batch per call while libuv still holds one: the write
	 * callback asks for the next, so a slow peer's bytes wait in our
	 * bounded queue rather than in libuv's unbounded one. */
	if (c->writes_pending > 0)
		return;
	if (d->qhead && flush_batch(c, d) == ERR_NOMEM)
		tp_conn_close(c, ERR_NOMEM);
}

/* ---- Handshake ---- */

static void become_ready(struct tp_conn *c)
{
	struct tp *t = c->t;

	tpw_hs_split(&c->hs, c->k_tx, c->k_rx);
	c->st = TP_CS_READY;
	tpw_framer_set_max(&c->fr, (size_t)t->cfg.frame_max + 1 + TPW_TAG);
	t->st.handshakes_ok++;
	TRACE_D(t->cfg.tracer, TP_MOD, "%s connection %s ready (%s mode)",
		kind_name(c), conn_who(c),
		c->mode == TPW_MODE_JOIN ? "join" : "cluster");
}

/* Cluster mode: asks the owner whether the peer's static key is a
 * member; refuses the connection if not. Returns 1 when accepted. */
static int accept_peer(struct tp_conn *c)
{
	struct tp *t = c->t;
	int rv = t->cfg.check_peer(t->cfg.ctx, c->peer_pk, &c->peer_id);
	char hex[TP_HEX_MAX];

	if (rv == 0)
		return 1;
	tp_key_to_hex(c->peer_pk, hex);
	TRACE_W(t->cfg.tracer, TP_MOD, "peer %s with key %s refused: %s",
		conn_who(c), hex, err_name(rv));
	reject(c, TP_REJ_UNKNOWN_PEER, ERR_AUTH, "static key not a member");
	return 0;
}

/* Responder: answers msg1 with a refusal (status TPW_HS2_*) and closes
 * once it is written. */
static void refuse_hello(struct tp_conn *c, uint8_t status)
{
	uint8_t out[TPW_HS_MSG_MAX];
	size_t len;

	c->t->st.handshakes_failed++;
	tpw_hs_write2_refuse(&c->hs, status, out, &len);
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->close_after_write = 1;
	(void)write_hs(c, out, len);
}

static void refuse_version(struct tp_conn *c, const struct tpw_msg1 *m)
{
	struct tp *t = c->t;

	tp_count_reject(t, TP_REJ_VERSION);
	TRACE_W(t->cfg.tracer, TP_MOD,
		"refused a peer speaking protocol versions %u..%u; we speak "
		"%u..%u",
		m->vmin, m->vmax, c->hs.vmin, c->hs.vmax);
	refuse_hello(c, TPW_HS2_VERSION);
}

/* Responder: the PSK msg1 asks for, or a refusal (then returns error
 * with the connection closed, or closing once the retry answer is
 * written). */
static int pick_psk(struct tp_conn *c, const struct tpw_msg1 *m,
		    uint8_t psk[TP_KEY_LEN])
{
	struct tp *t = c->t;
	int rv;

	if (m->mode == TPW_MODE_CLUSTER) {
		if (!t->has_secret) {
			reject(c, TP_REJ_AUTH, ERR_AUTH,
			       "cluster hello, but no cluster secret here");
			return ERR_AUTH;
		}
		memcpy(psk, t->psk, TP_KEY_LEN);
		return 0;
	}
	rv = t->cfg.join_psk ? t->cfg.join_psk(t->cfg.ctx, m->token_id, psk)
			     : ERR_NOTFOUND;
	if (rv == ERR_AGAIN) {
		/* The owner cannot tell yet whether the token exists (its
		 * state is catching up): the joiner may dial again. */
		TRACE_I(t->cfg.tracer, TP_MOD,
			"join token %s not checkable yet; joiner told to retry",
			m->token_id);
		refuse_hello(c, TPW_HS2_AGAIN);
		return ERR_AGAIN;
	}
	if (rv != 0) {
		TRACE_W(t->cfg.tracer, TP_MOD, "join token %s refused: %s",
			m->token_id, err_name(rv));
		reject(c, TP_REJ_UNKNOWN_PEER, ERR_AUTH, "join token refused");
		return ERR_AUTH;
	}
	return 0;
}

static void on_msg1(struct tp_conn *c, const uint8_t *p, size_t n)
{
	struct tpw_msg1 m;
	uint8_t psk[TP_KEY_LEN], out[TPW_HS_MSG_MAX];
	size_t len = 0;
	uint16_t ver;
	int rv;

	if (tpw_msg1_parse(p, n, &m) != 0) {
		reject(c, TP_REJ_MALFORMED, ERR_MALFORMED, "bad hello");
		return;
	}
	ver = tpw_hs_version_pick(&c->hs, m.vmin, m.vmax);
	if (ver == 0) {
		refuse_version(c, &m);
		return;
	}
	c->mode = m.mode;
	memcpy(c->token_id, m.token_id, sizeof(c->token_id));
	if (pick_psk(c, &m, psk) != 0)
		return;
	rv = tpw_hs_write2(&c->hs, p, n, &m, ver, psk, out, &len);
	sodium_memzero(psk, sizeof(psk));
	if (rv != 0) {
		reject(c, TP_REJ_AUTH, ERR_AUTH, "low-order ephemeral key");
		return;
	}
	c->st = TP_CS_HS3;
	(void)write_hs(c, out, len);
}

static enum tp_reason reason_of(int rv)
{
	return rv == ERR_AUTH      ? TP_REJ_AUTH
	       : rv == ERR_VERSION ? TP_REJ_VERSION
				   : TP_REJ_MALFORMED;
}

static void on_msg2(struct tp_conn *c, const uint8_t *p, size_t n)
{
	struct tp *t = c->t;
	const uint8_t *psk = c->kind == TP_CONN_JOIN ? c->jn->psk : t->psk;
	struct tpw_msg2_hdr h;
	uint8_t out[TPW_HS_MSG_MAX];
	size_t len = 0;
	int rv;

	if (tpw_msg2_hdr_parse(p, n, &h) != 0) {
		reject(c, TP_REJ_MALFORMED, ERR_MALFORMED, "bad hello reply");
		return;
	}
	if (h.status == TPW_HS2_AGAIN) {
		if (c->kind != TP_CONN_JOIN) {
			reject(c, TP_REJ_MALFORMED, ERR_AUTH,
			       "retry answer to a cluster hello");
			return;
		}
		TRACE_I(t->cfg.tracer, TP_MOD,
			"peer %s cannot check the join token yet", conn_who(c));
		t->st.handshakes_failed++;
		tp_conn_close(c, ERR_AGAIN);
		return;
	}
	if (h.status == TPW_HS2_VERSION) {
		TRACE_W(t->cfg.tracer, TP_MOD,
			"peer %s speaks protocol versions %u..%u; we speak "
			"%u..%u",
			conn_who(c), h.ver, h.vmax, c->hs.vmin, c->hs.vmax);
		reject(c, TP_REJ_VERSION, ERR_VERSION, "no common version");
		return;
	}
	rv = tpw_hs_read2(&c->hs, c->msg1, c->msg1_len, psk, p, n);
	if (rv != 0) {
		reject(c, reason_of(rv), rv == ERR_VERSION ? rv : ERR_AUTH,
		       "hello reply failed authentication");
		return;
	}
	memcpy(c->peer_pk, c->hs.rs_pk, TP_KEY_LEN);
	if (c->kind == TP_CONN_OUT && !accept_peer(c))
		return;
	tpw_hs_write3(&c->hs, t->advertise, out, &len);
	become_ready(c);
	if (write_hs(c, out, len) != 0)
		return;
	if (c->kind == TP_CONN_OUT) {
		uv_timer_stop(&c->timer);
		tp_dest_ready(c->dest);
		return;
	}
	/* Join: the deadline set at dial keeps running until the reply. */
	if (tp_conn_write_frame(c, TPW_CH_JOIN, c->jn->req, c->jn->req_len,
				NULL, 0) == ERR_NOMEM)
		tp_conn_close(c, ERR_NOMEM);
}

static void on_msg3(struct tp_conn *c, const uint8_t *p, size_t n)
{
	char addr[TP_ADDR_MAX];
	int rv = tpw_hs_read3(&c->hs, p, n, addr);

	if (rv != 0) {
		reject(c, reason_of(rv), ERR_AUTH,
		       "hello finish failed authentication");
		return;
	}
	memcpy(c->peer_pk, c->hs.rs_pk, TP_KEY_LEN);
	memcpy(c->peer_addr, addr, sizeof(addr));
	if (c->mode == TPW_MODE_CLUSTER && !accept_peer(c))
		return;
	become_ready(c);
	/* Join mode keeps the deadline until the request arrives. */
	if (c->mode == TPW_MODE_CLUSTER)
		uv_timer_stop(&c->timer);
}

/* ---- Frames ---- */

static void on_join_request(struct tp_conn *c, uint8_t ch, const uint8_t *p,
			    size_t n)
{
	struct tp *t = c->t;
	struct tp_join_req *jr;

	if (ch != TPW_CH_JOIN || c->join_got_req) {
		reject(c, TP_REJ_MALFORMED, ERR_CLOSED,
		       "unexpected frame on a join connection");
		return;
	}
	jr = calloc(1, sizeof(*jr));
	if (!jr) {
		tp_conn_close(c, ERR_NOMEM);
		return;
	}
	c->join_got_req = 1;
	uv_timer_stop(&c->timer);
	jr->c = c;
	memcpy(jr->static_pk, c->peer_pk, TP_KEY_LEN);
	memcpy(jr->addr, c->peer_addr, sizeof(jr->addr));
	memcpy(jr->token_id, c->token_id, sizeof(jr->token_id));
	c->jr = jr;
	t->cfg.on_join(t->cfg.ctx, jr, p, n);
}

static void on_join_reply(struct tp_conn *c, uint8_t ch, const uint8_t *p,
			  size_t n)
{
	int32_t status;

	if (ch != TPW_CH_JOIN || n < 4) {
		reject(c, TP_REJ_MALFORMED, ERR_MALFORMED, "bad join reply");
		return;
	}
	status = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			   (uint32_t)p[2] << 8 | p[3]);
	if (status > 0) {
		reject(c, TP_REJ_MALFORMED, ERR_MALFORMED, "bad join status");
		return;
	}
	join_finish(c, status, p + 4, n - 4);
	tp_conn_close(c, ERR_CLOSED);
}

static void on_frame(struct tp_conn *c, uint8_t *body, size_t n)
{
	struct tp *t = c->t;
	struct tp_peer from;
	const uint8_t *pt;
	size_t len;
	uint8_t ch;
	int rv = tpw_frame_open(c->k_rx, c->seq_rx++, tpw_framer_hdr(&c->fr),
				body, n, &ch, &pt, &len);

	if (rv != 0) {
		reject(c, reason_of(rv), ERR_CLOSED,
		       "frame failed authentication");
		return;
	}
	t->st.frames_in++;
	if (c->kind == TP_CONN_JOIN) {
		on_join_reply(c, ch, pt, len);
		return;
	}
	if (c->mode == TPW_MODE_JOIN) {
		on_join_request(c, ch, pt, len);
		return;
	}
	if (ch == TPW_CH_JOIN) {
		reject(c, TP_REJ_MALFORMED, ERR_CLOSED,
		       "join frame on a cluster connection");
		return;
	}
	from.id = c->peer_id;
	from.addr = c->peer_addr;
	from.static_pk = c->peer_pk;
	t->cfg.on_frame(t->cfg.ctx, ch, &from, pt, len);
}

static void on_msg(struct tp_conn *c, uint8_t *p, size_t n)
{
	switch (c->st) {
	case TP_CS_HS1:
		if (c->kind == TP_CONN_IN)
			on_msg1(c, p, n);
		else
			on_msg2(c, p, n);
		break;
	case TP_CS_HS3:
		on_msg3(c, p, n);
		break;
	case TP_CS_READY:
		on_frame(c, p, n);
		break;
	default:
		/* Nothing is read before connect or after close. */
		UNREACHABLE();
	}
}

/* ---- Reading, deadlines, dialling ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct tp_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->t->rbuf, sizeof(c->t->rbuf));
}

static void on_eof(struct tp_conn *c, ssize_t err)
{
	struct tp *t = c->t;

	if (tpw_framer_partial(&c->fr)) {
		reject(c, TP_REJ_MALFORMED,
		       c->st == TP_CS_READY ? ERR_CLOSED : ERR_AUTH,
		       "truncated message");
		return;
	}
	if (c->st != TP_CS_READY && !c->close_after_write) {
		t->st.handshakes_failed++;
		TRACE_D(t->cfg.tracer, TP_MOD,
			"%s connection %s closed during the handshake: %s",
			kind_name(c), conn_who(c), err_name((int)err));
		tp_conn_close(c, ERR_AUTH);
		return;
	}
	tp_conn_close(c, ERR_CLOSED);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tp_conn *c = s->data;
	const uint8_t *in = (const uint8_t *)buf->base;
	size_t off = 0, used = 0, len = 0;
	uint8_t *msg = NULL;
	int rv;

	if (nread < 0) {
		on_eof(c, nread);
		return;
	}
	c->t->st.bytes_in += (uint64_t)nread;
	/* Each turn consumes input or completes a message, so the loop is
	 * bounded by nread; it stops as soon as the connection closes. */
	while (off < (size_t)nread && c->st != TP_CS_CLOSING &&
	       !c->close_after_write) {
		rv = tpw_framer_feed(&c->fr, in + off, (size_t)nread - off,
				     &used, &msg, &len);
		off += used;
		if (rv == ERR_TOOBIG) {
			reject(c, TP_REJ_TOO_BIG, ERR_CLOSED,
			       "length over the limit");
			return;
		}
		if (rv < 0) {
			reject(c, TP_REJ_MALFORMED, ERR_CLOSED, "bad length");
			return;
		}
		if (rv == 1)
			on_msg(c, msg, len);
	}
}

static void on_timeout(uv_timer_t *timer)
{
	struct tp_conn *c = timer->data;

	if (c->kind != TP_CONN_JOIN)
		c->t->st.handshakes_failed++;
	TRACE_I(c->t->cfg.tracer, TP_MOD, "%s connection %s timed out",
		kind_name(c), conn_who(c));
	tp_conn_close(c, ERR_TIMEOUT);
}

/* No Nagle delay (Raft messages are latency-bound); TCP keepalive so a
 * peer that vanished without a reset (power loss) is noticed on an idle
 * connection; both are best effort. */
static void set_socket_options(struct tp_conn *c)
{
	(void)uv_tcp_nodelay(&c->tcp, 1);
	(void)uv_tcp_keepalive(&c->tcp, 1, TP_KEEPALIVE_S);
}

void tp_conn_accepted(struct tp_conn *c)
{
	struct tp *t = c->t;
	int rv;

	set_socket_options(c);
	uv_timer_start(&c->timer, on_timeout, t->cfg.handshake_ms, 0);
	rv = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rv != 0)
		tp_conn_close(c, ERR_CLOSED);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct tp_conn *c = req->data;

	if (status == UV_ECANCELED || c->st == TP_CS_CLOSING)
		return;
	if (status < 0) {
		TRACE_D(c->t->cfg.tracer, TP_MOD, "dial %s failed: %s",
			conn_who(c), err_name(status));
		tp_conn_close(c, ERR_CLOSED);
		return;
	}
	set_socket_options(c);
	c->st = TP_CS_HS1;
	c->mode = c->kind == TP_CONN_JOIN ? TPW_MODE_JOIN : TPW_MODE_CLUSTER;
	tpw_hs_write1(&c->hs, c->mode,
		      c->kind == TP_CONN_JOIN ? c->jn->token_id : NULL, c->msg1,
		      &c->msg1_len);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		tp_conn_close(c, ERR_CLOSED);
		return;
	}
	(void)write_hs(c, c->msg1, c->msg1_len);
}

int tp_conn_dial(struct tp_conn *c, const struct sockaddr *sa)
{
	struct tp *t = c->t;
	int rv;

	c->creq.data = c;
	rv = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connect);
	if (rv != 0)
		return rv;
	uv_timer_start(&c->timer, on_timeout,
		       c->kind == TP_CONN_JOIN ? t->cfg.join_ms
					       : t->cfg.handshake_ms,
		       0);
	return 0;
}
