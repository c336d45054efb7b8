/* Loopback tests of the transport (node/transport/transport.h): several
 * transports on one libuv loop, and raw sockets playing hostile peers.
 * Every wait polls for a condition with a generous limit; nothing
 * depends on machine speed. */
#include "tests/lib/cmocka_all.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/err.h"
#include "node/transport/transport.h"
#include "node/transport/wire.h"

#define NODES 4
#define WAIT_MS 10000
#define FRAMES 200

struct env;

struct node {
	struct env *e;
	struct tp *t;
	uint8_t pk[32], sk[32];
	uint64_t id;
	int member; /* listed in the others' check_peer */
	char addr[TP_ADDR_MAX];
	int frames;
	int order_ok;
	uint8_t last_ch;
	uint64_t last_from_id;
	char last_from[TP_ADDR_MAX];
	int dgrams;
	char dgram_from[TP_ADDR_MAX];
	char dgram[64];
	int join_action; /* 0 reply later, 1 refuse with ERR_PERM */
	int psk_again;   /* join_psk answers ERR_AGAIN this many times */
	struct tp_join_req *jr;
	char jr_addr[TP_ADDR_MAX];
	uint8_t jr_pk[32];
	char jreq[64];
	int stopped;
};

struct env {
	uv_loop_t loop;
	uv_timer_t tick;
	uv_timer_t later;
	struct node n[NODES];
	uint8_t secret[32];
	char token[TP_TOKEN_STR_MAX];
	char token_id[TP_TOKEN_ID_HEX + 1];
	uint8_t token_hash[32];
	int join_done, join_status;
	char join_reply[64];
};

static int check_peer(void *ctx, const uint8_t pk[32], uint64_t *id)
{
	struct node *self = ctx;

	for (int k = 0; k < NODES; k++) {
		struct node *o = &self->e->n[k];

		if (o->member && memcmp(o->pk, pk, 32) == 0) {
			*id = o->id;
			return 0;
		}
	}
	return ERR_NOTFOUND;
}

static void on_frame(void *ctx, uint8_t ch, const struct tp_peer *from,
		     const uint8_t *buf, size_t len)
{
	struct node *n = ctx;
	uint32_t seq = 0;

	if (len >= 4)
		memcpy(&seq, buf, 4);
	if (seq != (uint32_t)n->frames)
		n->order_ok = 0;
	n->frames++;
	n->last_ch = ch;
	n->last_from_id = from->id;
	snprintf(n->last_from, sizeof(n->last_from), "%s", from->addr);
}

static void on_datagram(void *ctx, const char *from, const uint8_t *buf,
			size_t len)
{
	struct node *n = ctx;

	n->dgrams++;
	snprintf(n->dgram_from, sizeof(n->dgram_from), "%s", from);
	snprintf(n->dgram, sizeof(n->dgram), "%.*s", (int)len,
		 (const char *)buf);
}

static int join_psk(void *ctx, const char *id, uint8_t psk[32])
{
	struct node *n = ctx;

	if (n->psk_again > 0) {
		n->psk_again--;
		return ERR_AGAIN;
	}
	if (strcmp(id, n->e->token_id) != 0)
		return ERR_NOTFOUND;
	tp_token_psk(id, n->e->token_hash, psk);
	return 0;
}

static void on_later(uv_timer_t *t)
{
	struct node *n = t->data;

	/* The owner answers asynchronously, as after a Raft commit. */
	tp_join_reply(n->jr, "welcome", 7);
	n->jr = NULL;
}

static void on_join(void *ctx, struct tp_join_req *jr, const uint8_t *buf,
		    size_t len)
{
	struct node *n = ctx;

	snprintf(n->jreq, sizeof(n->jreq), "%.*s", (int)len, (const char *)buf);
	snprintf(n->jr_addr, sizeof(n->jr_addr), "%s", tp_join_req_addr(jr));
	memcpy(n->jr_pk, tp_join_req_static_pk(jr), 32);
	assert_string_equal(tp_join_req_token_id(jr), n->e->token_id);
	if (n->join_action == 1) {
		tp_join_refuse(jr, ERR_PERM);
		return;
	}
	n->jr = jr;
	n->e->later.data = n;
	uv_timer_start(&n->e->later, on_later, 20, 0);
}

static void on_joined(void *arg, int status, const uint8_t *reply, size_t len)
{
	struct env *e = arg;

	e->join_done++;
	e->join_status = status;
	snprintf(e->join_reply, sizeof(e->join_reply), "%.*s", (int)len,
		 reply ? (const char *)reply : "");
}

static void on_tick(uv_timer_t *t)
{
	(void)t; /* keeps UV_RUN_ONCE from blocking indefinitely */
}

static void node_start(struct env *e, int k, const uint8_t *secret,
		       struct tp_config *over)
{
	struct node *n = &e->n[k];
	struct tp_config cfg;

	if (over)
		cfg = *over;
	else
		memset(&cfg, 0, sizeof(cfg));
	cfg.loop = &e->loop;
	if (!cfg.bind)
		cfg.bind = "127.0.0.1:0";
	memcpy(cfg.static_pk, n->pk, 32);
	memcpy(cfg.static_sk, n->sk, 32);
	cfg.has_secret = secret != NULL;
	if (secret)
		memcpy(cfg.secret, secret, 32);
	cfg.ctx = n;
	cfg.check_peer = check_peer;
	cfg.on_frame = on_frame;
	cfg.on_datagram = on_datagram;
	cfg.join_psk = join_psk;
	cfg.on_join = on_join;
	assert_int_equal(tp_start(&n->t, &cfg), 0);
	snprintf(n->addr, sizeof(n->addr), "%s", tp_local_addr(n->t));
	n->stopped = 0;
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(uv_loop_init(&e->loop), 0);
	assert_int_equal(uv_timer_init(&e->loop, &e->tick), 0);
	assert_int_equal(uv_timer_init(&e->loop, &e->later), 0);
	uv_timer_start(&e->tick, on_tick, 5, 5);
	tp_secret_new(e->secret);
	tp_token_new(e->token, e->token_id, e->token_hash);
	for (int k = 0; k < NODES; k++) {
		e->n[k].e = e;
		e->n[k].id = 100 + (uint64_t)k;
		e->n[k].member = 1;
		e->n[k].order_ok = 1;
		tp_keypair(e->n[k].pk, e->n[k].sk);
	}
	return e;
}

typedef int (*pred_fn)(struct env *e, void *arg);

static void run_until(struct env *e, pred_fn pred, void *arg)
{
	uint64_t end = uv_now(&e->loop) + WAIT_MS;

	while (!pred(e, arg) && uv_now(&e->loop) < end)
		uv_run(&e->loop, UV_RUN_ONCE);
	assert_true(pred(e, arg));
}

static void on_stopped(void *arg)
{
	((struct node *)arg)->stopped = 1;
}

static int is_stopped(struct env *e, void *arg)
{
	(void)e;
	return ((struct node *)arg)->stopped;
}

static void node_stop(struct env *e, int k)
{
	tp_stop(e->n[k].t, on_stopped, &e->n[k]);
	e->n[k].t = NULL;
	run_until(e, is_stopped, &e->n[k]);
}

static void env_free(struct env *e)
{
	for (int k = 0; k < NODES; k++)
		if (e->n[k].t)
			node_stop(e, k);
	uv_close((uv_handle_t *)&e->tick, NULL);
	uv_close((uv_handle_t *)&e->later, NULL);
	while (uv_run(&e->loop, UV_RUN_DEFAULT) != 0)
		;
	assert_int_equal(uv_loop_close(&e->loop), 0);
	free(e);
}

static struct tp_stats stats(struct node *n)
{
	struct tp_stats s;

	tp_stats(n->t, &s);
	return s;
}

/* Predicates over one counter: arg points to {node, offset, at least}. */
struct want {
	struct node *n;
	size_t off;
	uint64_t min;
};

static int counter_reached(struct env *e, void *arg)
{
	struct want *w = arg;
	struct tp_stats s = stats(w->n);
	uint64_t v;

	(void)e;
	memcpy(&v, (const uint8_t *)&s + w->off, sizeof(v));
	return v >= w->min;
}

#define WAIT_COUNTER(e, node, field, at_least)                                 \
	do {                                                                   \
		struct want w_ = {(node), offsetof(struct tp_stats, field),    \
				  (at_least)};                                 \
		run_until((e), counter_reached, &w_);                          \
	} while (0)

static int frames_reached(struct env *e, void *arg)
{
	struct want *w = arg;

	(void)e;
	return (uint64_t)w->n->frames >= w->min;
}

static void wait_frames(struct env *e, struct node *n, int count)
{
	struct want w = {n, 0, (uint64_t)count};

	run_until(e, frames_reached, &w);
}

static void send_seq(struct node *from, struct node *to, uint8_t ch,
		     uint32_t seq)
{
	uint8_t buf[100];

	memset(buf, 0x5a, sizeof(buf));
	memcpy(buf, &seq, 4);
	assert_int_equal(tp_send(from->t, to->addr, ch, buf, sizeof(buf)), 0);
}

static int no_conns(struct env *e, void *arg)
{
	(void)e;
	return stats(arg).conns_open == 0;
}

/* Frames in flight when a connection breaks may be lost (at-most-once):
 * sends one frame per loop turn until one arrives. */
static void send_until_delivered(struct env *e, struct node *from,
				 struct node *to)
{
	uint64_t end = uv_now(&e->loop) + WAIT_MS;

	to->frames = 0;
	to->order_ok = 1;
	while (to->frames == 0 && uv_now(&e->loop) < end) {
		(void)tp_send(from->t, to->addr, TP_CH_RAFT, "\0\0\0\0", 4);
		uv_run(&e->loop, UV_RUN_ONCE);
	}
	assert_true(to->frames > 0);
}

static void test_frames_both_ways(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0], *b = &e->n[1];
	struct tp_stats s;

	(void)state;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, e->secret, NULL);
	for (uint32_t k = 0; k < FRAMES; k++) {
		send_seq(a, b, TP_CH_RAFT, k);
		send_seq(b, a, TP_CH_GOSSIP, k);
	}
	wait_frames(e, a, FRAMES);
	wait_frames(e, b, FRAMES);
	assert_true(a->order_ok && b->order_ok);
	assert_int_equal(b->last_ch, TP_CH_RAFT);
	assert_int_equal(a->last_ch, TP_CH_GOSSIP);
	/* The sender is named by its member id and advertised address. */
	assert_int_equal(b->last_from_id, a->id);
	assert_string_equal(b->last_from, a->addr);
	assert_int_equal(a->last_from_id, b->id);
	s = stats(a);
	assert_int_equal(s.frames_out, FRAMES);
	assert_int_equal(s.frames_in, FRAMES);
	assert_int_equal(s.handshakes_ok, 2); /* one each direction */
	assert_int_equal(s.conns_open, 2);
	assert_int_equal(s.conns_inbound, 1);
	for (int r = 0; r < TP_REJ_COUNT_; r++)
		assert_int_equal(s.frames_rejected[r], 0);
	/* A clean close after whole frames is no truncation. */
	tp_close_addr(a->t, b->addr);
	tp_close_addr(b->t, a->addr);
	run_until(e, no_conns, b);
	run_until(e, no_conns, a);
	for (int r = 0; r < TP_REJ_COUNT_; r++)
		assert_int_equal(stats(b).frames_rejected[r], 0);
	env_free(e);
}

static void test_wrong_secret_refused(void **state)
{
	struct env *e = env_new();
	uint8_t other[32];

	(void)state;
	tp_secret_new(other);
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, other, NULL);
	send_seq(&e->n[0], &e->n[1], TP_CH_RAFT, 0);
	/* The dialler cannot open the responder's hello reply. */
	WAIT_COUNTER(e, &e->n[0], frames_rejected[TP_REJ_AUTH], 1);
	WAIT_COUNTER(e, &e->n[1], handshakes_failed, 1);
	assert_int_equal(e->n[1].frames, 0);
	assert_int_equal(stats(&e->n[1]).handshakes_ok, 0);
	env_free(e);
}

static void test_unknown_key_refused(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0], *x = &e->n[2];

	(void)state;
	x->member = 0; /* has the secret, but is not in the member list */
	node_start(e, 0, e->secret, NULL);
	node_start(e, 2, e->secret, NULL);
	send_seq(x, a, TP_CH_RAFT, 0);
	WAIT_COUNTER(e, a, frames_rejected[TP_REJ_UNKNOWN_PEER], 1);
	/* And the other way: the dialler refuses the responder's key. */
	send_seq(a, x, TP_CH_RAFT, 0);
	WAIT_COUNTER(e, a, frames_rejected[TP_REJ_UNKNOWN_PEER], 2);
	assert_int_equal(a->frames, 0);
	assert_int_equal(x->frames, 0);
	env_free(e);
}

static void test_removed_member_refused(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0], *b = &e->n[1];

	(void)state;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, e->secret, NULL);
	send_seq(a, b, TP_CH_RAFT, 0);
	wait_frames(e, b, 1);
	/* b removes a: its key is refused from now on, and what is open
	 * is closed. a re-dials when it next sends and is refused. */
	a->member = 0;
	tp_close_peer(b->t, a->pk);
	WAIT_COUNTER(e, a, handshakes_ok, 1);
	for (int k = 0; k < 50 && stats(b).frames_rejected[TP_REJ_UNKNOWN_PEER] == 0;
	     k++) {
		(void)tp_send(a->t, b->addr, TP_CH_RAFT, "x", 1);
		uv_run(&e->loop, UV_RUN_ONCE);
	}
	WAIT_COUNTER(e, b, frames_rejected[TP_REJ_UNKNOWN_PEER], 1);
	assert_int_equal(b->frames, 1);
	env_free(e);
}

static int join_finished(struct env *e, void *arg)
{
	(void)arg;
	return e->join_done > 0;
}

static void test_join_right_token(void **state)
{
	struct env *e = env_new();
	struct node *s = &e->n[0], *j = &e->n[1];

	(void)state;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, NULL, NULL); /* no cluster secret yet */
	assert_int_equal(tp_send(j->t, s->addr, TP_CH_RAFT, "x", 1),
			 ERR_CONFIG);
	assert_int_equal(tp_join(j->t, s->addr, e->token, "hello", 5,
				 on_joined, e),
			 0);
	run_until(e, join_finished, NULL);
	assert_int_equal(e->join_status, 0);
	assert_string_equal(e->join_reply, "welcome");
	assert_string_equal(s->jreq, "hello");
	assert_string_equal(s->jr_addr, j->addr);
	assert_memory_equal(s->jr_pk, j->pk, 32);
	/* With the secret from the reply, j now speaks cluster mode. */
	tp_set_secret(j->t, e->secret);
	send_seq(j, s, TP_CH_RPC, 0);
	wait_frames(e, s, 1);
	env_free(e);
}

static void join_expect(struct env *e, struct node *j, struct node *s,
			const char *token, int status)
{
	e->join_done = 0;
	assert_int_equal(tp_join(j->t, s->addr, token, "r", 1, on_joined, e),
			 0);
	run_until(e, join_finished, NULL);
	assert_int_equal(e->join_done, 1);
	assert_int_equal(e->join_status, status);
}

static void test_join_wrong_token(void **state)
{
	struct env *e = env_new();
	struct node *s = &e->n[0], *j = &e->n[1];
	char wrong[TP_TOKEN_STR_MAX], id[TP_TOKEN_ID_HEX + 1];
	uint8_t hash[32];

	(void)state;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, NULL, NULL);
	/* The right id with another secret: the PSKs differ. */
	tp_token_new(wrong, id, hash);
	memcpy(wrong, e->token_id, TP_TOKEN_ID_HEX);
	join_expect(e, j, s, wrong, ERR_AUTH);
	assert_int_equal(stats(j).frames_rejected[TP_REJ_AUTH], 1);
	/* An id the server does not know. */
	tp_token_new(wrong, id, hash);
	join_expect(e, j, s, wrong, ERR_AUTH);
	WAIT_COUNTER(e, s, frames_rejected[TP_REJ_UNKNOWN_PEER], 1);
	/* The right token, refused by the owner (revoked, expired). */
	s->join_action = 1;
	join_expect(e, j, s, e->token, ERR_PERM);
	assert_int_equal(tp_join(j->t, s->addr, "nope", "r", 1, on_joined, e),
			 ERR_INVAL);
	assert_string_equal(s->jreq, "r");
	env_free(e);
}

/* A server that cannot check tokens yet says so, and the joiner can tell
 * that apart from a wrong token and succeed by dialling again. */
static void test_join_again(void **state)
{
	struct env *e = env_new();
	struct node *s = &e->n[0], *j = &e->n[1];

	(void)state;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, NULL, NULL);
	s->psk_again = 1;
	join_expect(e, j, s, e->token, ERR_AGAIN);
	assert_int_equal(s->psk_again, 0);
	assert_int_equal(stats(s).frames_rejected[TP_REJ_UNKNOWN_PEER], 0);
	join_expect(e, j, s, e->token, 0);
	assert_string_equal(e->join_reply, "welcome");
	env_free(e);
}

/* ---- Raw sockets as hostile peers ---- */

static int raw_port(const char *addr)
{
	return atoi(strrchr(addr, ':') + 1);
}

static int raw_connect(const char *addr)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)raw_port(addr));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Runs the loop until the peer closed fd (read gives 0 or an error). */
static int fd_closed(struct env *e, void *arg)
{
	int fd = *(int *)arg;
	uint8_t buf[256];
	ssize_t n;

	(void)e;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void raw_send_expect_close(struct env *e, const char *addr,
				  const uint8_t *p, size_t n, int shut)
{
	int fd = raw_connect(addr);

	assert_int_equal(send(fd, p, n, 0), (ssize_t)n);
	if (shut)
		shutdown(fd, SHUT_WR);
	run_until(e, fd_closed, &fd);
	close(fd);
}

static void test_garbage_on_tcp(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0], *b = &e->n[1];
	uint8_t junk[300];
	const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
	const uint8_t trunc[] = {0, 0, 0, 58, 'C', 'L', 'T', 'P', 0, 1};

	(void)state;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, e->secret, NULL);
	randombytes_buf(junk, sizeof(junk));
	junk[0] = 0;
	junk[1] = 0;
	junk[2] = 1; /* a 256-byte hello of random bytes */
	junk[3] = 0;
	raw_send_expect_close(e, a->addr, junk, sizeof(junk), 0);
	WAIT_COUNTER(e, a, frames_rejected[TP_REJ_MALFORMED], 1);
	raw_send_expect_close(e, a->addr, huge, sizeof(huge), 0);
	WAIT_COUNTER(e, a, frames_rejected[TP_REJ_TOO_BIG], 1);
	raw_send_expect_close(e, a->addr, trunc, sizeof(trunc), 1);
	WAIT_COUNTER(e, a, frames_rejected[TP_REJ_MALFORMED], 2);
	/* Everyone else is still served. */
	send_seq(b, a, TP_CH_RAFT, 0);
	wait_frames(e, a, 1);
	assert_int_equal(stats(a).conns_inbound, 1);
	env_free(e);
}

static void test_version_refused(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0];
	uint8_t hello[4 + 4 + 4 + 1 + 1 + 32] = {0, 0, 0, 42, 'C', 'L', 'T',
						 'P', 0, 9, 0, 9,
						 TPW_MODE_CLUSTER, 0};
	uint8_t reply[64];
	int fd;

	(void)state;
	node_start(e, 0, e->secret, NULL);
	fd = raw_connect(a->addr);
	assert_int_equal(send(fd, hello, sizeof(hello), 0), sizeof(hello));
	WAIT_COUNTER(e, a, frames_rejected[TP_REJ_VERSION], 1);
	run_until(e, fd_closed, &fd);
	close(fd);
	/* The refusal names the range the server speaks. */
	fd = raw_connect(a->addr);
	assert_int_equal(send(fd, hello, sizeof(hello), 0), sizeof(hello));
	WAIT_COUNTER(e, a, frames_rejected[TP_REJ_VERSION], 2);
	assert_int_equal(recv(fd, reply, sizeof(reply), 0), 4 + 9);
	assert_int_equal(reply[3], 9);
	assert_int_equal(reply[8], 1); /* status: version refused */
	assert_int_equal(reply[10], TP_PROTO_MIN);
	assert_int_equal(reply[12], TP_PROTO_MAX);
	close(fd);
	env_free(e);
}

/* Rolling upgrades (docs/decisions.md): transports configured with the
 * ranges of an older and a newer build. Overlapping ranges connect, on
 * the highest common version; disjoint ones are refused on both ends,
 * with a warning that names both ranges. */
struct seen_trace {
	char refused[256]; /* responder: "refused a peer speaking ..." */
	char speaks[256];  /* dialler: "peer ... speaks protocol versions" */
};

static void capture(void *ctx, enum trace_level level, const char *module,
		    const char *msg)
{
	struct seen_trace *t = ctx;

	(void)module;
	if (level < TRACE_WARN)
		return;
	if (strstr(msg, "refused a peer speaking") != NULL)
		snprintf(t->refused, sizeof(t->refused), "%s", msg);
	if (strstr(msg, "speaks protocol versions") != NULL)
		snprintf(t->speaks, sizeof(t->speaks), "%s", msg);
}

static void start_range(struct env *e, int k, uint16_t lo, uint16_t hi,
			const struct tracer *tr)
{
	struct tp_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.proto_min = lo;
	cfg.proto_max = hi;
	cfg.tracer = tr;
	node_start(e, k, e->secret, &cfg);
}

static void test_version_ranges(void **state)
{
	struct env *e = env_new();
	struct node *newer = &e->n[0], *older = &e->n[1], *future = &e->n[2];
	struct seen_trace tn = {"", ""}, to = {"", ""}, tf = {"", ""};
	struct tracer trn = {capture, &tn, TRACE_DEBUG};
	struct tracer tro = {capture, &to, TRACE_DEBUG};
	struct tracer trf = {capture, &tf, TRACE_DEBUG};
	struct tp_config bad;
	int older_frames;

	(void)state;
	start_range(e, 0, 1, 2, &trn); /* a new build beside ... */
	start_range(e, 1, 1, 1, &tro); /* ... an old one: they speak 1 */
	start_range(e, 2, 2, 3, &trf); /* a build that dropped version 1 */
	send_until_delivered(e, newer, older);
	send_until_delivered(e, older, newer);
	assert_int_equal(stats(older).frames_rejected[TP_REJ_VERSION], 0);
	assert_int_equal(stats(newer).frames_rejected[TP_REJ_VERSION], 0);
	/* [2,3] and [1,2] overlap on 2. */
	send_until_delivered(e, future, newer);
	/* [2,3] and [1,1] do not: refused on both ends, both ranges named. */
	older_frames = older->frames;
	send_seq(future, older, TP_CH_RAFT, 0);
	WAIT_COUNTER(e, older, frames_rejected[TP_REJ_VERSION], 1);
	WAIT_COUNTER(e, future, frames_rejected[TP_REJ_VERSION], 1);
	assert_string_equal(to.refused, "refused a peer speaking protocol "
					"versions 2..3; we speak 1..1");
	assert_non_null(strstr(tf.speaks, "speaks protocol versions 1..1; "
					  "we speak 2..3"));
	send_seq(older, future, TP_CH_RAFT, 0);
	WAIT_COUNTER(e, future, frames_rejected[TP_REJ_VERSION], 2);
	WAIT_COUNTER(e, older, frames_rejected[TP_REJ_VERSION], 2);
	assert_string_equal(tf.refused, "refused a peer speaking protocol "
					"versions 1..1; we speak 2..3");
	assert_int_equal(older->frames, older_frames); /* nothing from future */
	assert_int_equal(future->frames, 0); /* nobody reached it */
	/* An empty range is a configuration error. */
	memset(&bad, 0, sizeof(bad));
	bad.loop = &e->loop;
	bad.bind = "127.0.0.1:0";
	bad.check_peer = check_peer;
	bad.on_frame = on_frame;
	bad.proto_min = 3;
	bad.proto_max = 2;
	{
		struct tp *t = NULL;

		assert_int_equal(tp_start(&t, &bad), ERR_INVAL);
	}
	env_free(e);
}

static void test_oversized_frame(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0], *b = &e->n[1];
	struct tp_config small;
	uint8_t big[2048];

	(void)state;
	memset(&small, 0, sizeof(small));
	small.frame_max = 1024;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, e->secret, &small);
	memset(big, 1, sizeof(big));
	assert_int_equal(tp_send(b->t, a->addr, TP_CH_RAFT, big, sizeof(big)),
			 ERR_TOOBIG);
	assert_int_equal(tp_send(a->t, b->addr, TP_CH_RAFT, big, sizeof(big)),
			 0);
	WAIT_COUNTER(e, b, frames_rejected[TP_REJ_TOO_BIG], 1);
	assert_int_equal(b->frames, 0);
	/* a reconnects after its backoff and small frames flow again. */
	send_until_delivered(e, a, b);
	env_free(e);
}

/* A listener that never accepts: the kernel completes the TCP
 * handshake, ours never does, so frames stay queued. */
static int silent_listener(char *addr)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(addr, TP_ADDR_MAX, "127.0.0.1:%u", ntohs(sa.sin_port));
	return fd;
}

static void test_queue_full(void **state)
{
	struct env *e = env_new();
	struct tp_config cfg;
	uint8_t buf[600] = {0};
	char dst[TP_ADDR_MAX];
	int lfd = silent_listener(dst);

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.queue_frames = 4;
	cfg.queue_bytes = 1000;
	node_start(e, 0, e->secret, &cfg);
	for (int k = 0; k < 4; k++)
		assert_int_equal(tp_send(e->n[0].t, dst, TP_CH_RAFT, buf, 10),
				 0);
	assert_int_equal(tp_send(e->n[0].t, dst, TP_CH_RAFT, buf, 10),
			 ERR_AGAIN);
	/* The bytes bound, on a destination that refuses connections. */
	assert_int_equal(tp_send(e->n[0].t, "127.0.0.2:1", TP_CH_RAFT, buf, 600),
			 0);
	assert_int_equal(tp_send(e->n[0].t, "127.0.0.2:1", TP_CH_RAFT, buf, 600),
			 ERR_AGAIN);
	assert_int_equal(stats(&e->n[0]).send_dropped, 2);
	assert_int_equal(tp_send(e->n[0].t, "bogus", TP_CH_RAFT, buf, 1),
			 ERR_INVAL);
	assert_int_equal(tp_send(e->n[0].t, dst, 0, buf, 1), ERR_INVAL);
	close(lfd);
	env_free(e);
}

static void test_reconnect_after_restart(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0], *b = &e->n[1];
	struct tp_config cfg;
	char baddr[TP_ADDR_MAX];

	(void)state;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, e->secret, NULL);
	send_seq(a, b, TP_CH_RAFT, 0);
	wait_frames(e, b, 1);
	snprintf(baddr, sizeof(baddr), "%s", b->addr);
	node_stop(e, 1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.bind = baddr;
	node_start(e, 1, e->secret, &cfg);
	send_until_delivered(e, a, b);
	assert_true(stats(a).handshakes_ok >= 2);
	env_free(e);
}

static void test_idle_and_inbound_limit(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0];
	struct tp_config cfg;
	int fds[8];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.handshake_ms = 100;
	cfg.inbound_max = 5;
	node_start(e, 0, e->secret, &cfg);
	for (int k = 0; k < 8; k++)
		fds[k] = raw_connect(a->addr);
	/* Three over the limit are closed at once; five idle ones time
	 * out in the handshake. */
	WAIT_COUNTER(e, a, conns_refused, 3);
	WAIT_COUNTER(e, a, handshakes_failed, 5);
	for (int k = 0; k < 8; k++) {
		run_until(e, fd_closed, &fds[k]);
		close(fds[k]);
	}
	assert_int_equal(stats(a).conns_inbound, 0);
	env_free(e);
}

/* ---- Datagrams ---- */

static int dgrams_reached(struct env *e, void *arg)
{
	struct want *w = arg;

	(void)e;
	return (uint64_t)w->n->dgrams >= w->min;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void raw_udp(int fd, const char *addr, const uint8_t *p, size_t n)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)raw_port(addr));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(fd, p, n, 0, (struct sockaddr *)&sa, sizeof(sa)),
			 (ssize_t)n);
}

static void test_datagrams(void **state)
{
	struct env *e = env_new();
	struct node *a = &e->n[0], *b = &e->n[1];
	uint8_t key[32], pkt[TP_DATAGRAM_MAX + TP_DATAGRAM_OVERHEAD];
	uint8_t big[TP_DATAGRAM_MAX + 1] = {0};
	struct want w = {b, 0, 1};
	size_t n;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	(void)state;
	node_start(e, 0, e->secret, NULL);
	node_start(e, 1, e->secret, NULL);
	assert_int_equal(tp_sendto(a->t, b->addr, "ping", 4), 0);
	run_until(e, dgrams_reached, &w);
	assert_string_equal(b->dgram, "ping");
	assert_string_equal(b->dgram_from, a->addr);
	assert_int_equal(tp_sendto(a->t, b->addr, big, sizeof(big)),
			 ERR_TOOBIG);
	/* A capture replayed: the first copy passes, the second is dropped. */
	tp_udp_key(e->secret, key);
	tpw_dgram_seal(key, now_ms(), "10.0.0.1:7946", (const uint8_t *)"cap",
		       3, pkt, &n);
	raw_udp(fd, b->addr, pkt, n);
	raw_udp(fd, b->addr, pkt, n);
	WAIT_COUNTER(e, b, datagrams_rejected[TP_REJ_REPLAY], 1);
	assert_int_equal(b->dgrams, 2);
	assert_string_equal(b->dgram_from, "10.0.0.1:7946");
	/* Altered: one bit of the sealed reply address. */
	tpw_dgram_seal(key, now_ms(), "10.0.0.1:7946", (const uint8_t *)"x", 1,
		       pkt, &n);
	pkt[40] ^= 1;
	raw_udp(fd, b->addr, pkt, n);
	WAIT_COUNTER(e, b, datagrams_rejected[TP_REJ_AUTH], 1);
	/* Stale: stamped two windows ago. */
	tpw_dgram_seal(key, now_ms() - 2 * TP_UDP_WINDOW_MS_DEFAULT,
		       "10.0.0.1:7946", (const uint8_t *)"x", 1, pkt, &n);
	raw_udp(fd, b->addr, pkt, n);
	WAIT_COUNTER(e, b, datagrams_rejected[TP_REJ_REPLAY], 2);
	/* Garbage. */
	randombytes_buf(pkt, 100);
	pkt[0] = 0;
	raw_udp(fd, b->addr, pkt, 100);
	WAIT_COUNTER(e, b, datagrams_rejected[TP_REJ_MALFORMED], 1);
	assert_int_equal(b->dgrams, 2);
	assert_int_equal(stats(b).datagrams_in, 2);
	close(fd);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_both_ways),
		cmocka_unit_test(test_wrong_secret_refused),
		cmocka_unit_test(test_unknown_key_refused),
		cmocka_unit_test(test_removed_member_refused),
		cmocka_unit_test(test_join_right_token),
		cmocka_unit_test(test_join_wrong_token),
		cmocka_unit_test(test_join_again),
		cmocka_unit_test(test_garbage_on_tcp),
		cmocka_unit_test(test_version_refused),
		cmocka_unit_test(test_version_ranges),
		cmocka_unit_test(test_oversized_frame),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_reconnect_after_restart),
		cmocka_unit_test(test_idle_and_inbound_limit),
		cmocka_unit_test(test_datagrams),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
