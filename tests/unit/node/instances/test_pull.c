/* Unit tests of the streaming pull between nodes (node/instances/pull.c)
 * against the node's own HTTP server (node/http.c) on loopback, in one
 * process and one loop: a large body arrives whole and in order with its
 * status and length; a consumer that stops reading stops the producer
 * long before the end (the ring and the sockets are all that is held); an
 * error answer comes through with its status and body; closing a pull
 * midway ends its thread and the server's stream. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/err.h"
#include "node/http.h"
#include "node/instances/pull.h"
#include "tests/lib/cmocka_all.h"

#define SPINS_MAX 6000
/* The served body: 64 MiB in 64 KiB pieces, byte i = i % 251. */
#define BODY_LEN (64ull << 20)
#define PIECE (64u * 1024)

struct fx {
	uv_loop_t loop;
	struct node_http http;
	int stopped;
	/* server side */
	uint64_t produced;
	int src_closed;
	uint8_t piece[PIECE];
	/* client side */
	struct core_pull *pull;
	unsigned wakes;
};

static struct fx *the_fx;

static int big_pull(void *arg, const uint8_t **p, size_t *len, int *done)
{
	struct fx *f = arg;
	uint64_t left = BODY_LEN - f->produced;

	*len = left < PIECE ? (size_t)left : PIECE;
	for (size_t i = 0; i < *len; i++)
		f->piece[i] = (uint8_t)((f->produced + i) % 251);
	f->produced += *len;
	*p = f->piece;
	*done = f->produced == BODY_LEN;
	return 0;
}

static void big_close(void *arg)
{
	((struct fx *)arg)->src_closed = 1;
}

static int h_big(void *ctx, const struct http_request *req,
		 struct http_reply *rep)
{
	struct fx *f = ctx;
	struct http_stream_src src = {big_pull, big_close, f};
	struct http_async *a = http_defer(req);
	size_t n = 0;

	(void)rep;
	assert_non_null(a);
	/* The pull sends the caller's authorization and the forwarded mark. */
	assert_non_null(http_req_header(req, "x-clusterd-forwarded", &n));
	assert_non_null(http_req_header(req, "authorization", &n));
	http_async_reply(a)->content_type = "application/zip";
	http_async_stream_sized(a, &src, NULL, BODY_LEN);
	return HTTP_PENDING;
}

static int h_missing(void *ctx, const struct http_request *req,
		     struct http_reply *rep)
{
	(void)ctx;
	(void)req;
	rep->status = 404;
	return http_printf(rep, "{\"error\":\"no save x.zip\"}\n");
}

static const struct http_route routes[] = {
	{"GET", "/big", h_big},
	{"GET", "/missing", h_missing},
	{NULL, NULL, NULL},
};

static void spin(struct fx *f)
{
	uv_run(&f->loop, UV_RUN_NOWAIT);
	poll(NULL, 0, 1);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void on_wake(void *arg)
{
	((struct fx *)arg)->wakes++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(node_http_start(&f->http, &f->loop, "127.0.0.1:0",
					 routes, f),
			 0);
	the_fx = f;
	*state = f;
	return 0;
}

static void on_stopped(struct node_http *h)
{
	(void)h;
	the_fx->stopped = 1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < SPINS_MAX && inst_pulls_running() > 0; i++)
		spin(f);
	assert_int_equal(inst_pulls_running(), 0);
	node_http_stop(&f->http, on_stopped);
	for (int i = 0; i < SPINS_MAX && !f->stopped; i++)
		spin(f);
	assert_true(f->stopped);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static void open_pull(struct fx *f, const char *path)
{
	assert_int_equal(inst_http_pull(&f->loop, f->http.bound_addr, path,
					"Bearer t", on_wake, f, &f->pull),
			 0);
}

static void wait_head(struct fx *f, int *code, int64_t *len)
{
	int rc = ERR_AGAIN;

	for (int i = 0; i < SPINS_MAX && rc == ERR_AGAIN; i++) {
		spin(f);
		rc = inst_pull_head(f->pull, code, len);
	}
	assert_int_equal(rc, 0);
}

/* The next piece, spinning the loop while there is none yet. */
static void next_piece(struct fx *f, const uint8_t **p, size_t *n, int *done)
{
	int rc = ERR_AGAIN;

	for (int i = 0; i < SPINS_MAX && rc == ERR_AGAIN; i++) {
		rc = inst_pull_next(f->pull, p, n, done);
		if (rc == ERR_AGAIN)
			spin(f);
	}
	assert_int_equal(rc, 0);
}

static void whole_body_in_order(void **state)
{
	struct fx *f = *state;
	uint64_t got = 0;
	int64_t len = 0;
	int code = 0, done = 0;

	open_pull(f, "/big");
	wait_head(f, &code, &len);
	assert_int_equal(code, 200);
	assert_int_equal(len, (int64_t)BODY_LEN);
	while (!done) {
		const uint8_t *p;
		size_t n;

		next_piece(f, &p, &n, &done);
		for (size_t k = 0; k < n; k++)
			if (p[k] != (uint8_t)((got + k) % 251))
				fail_msg("byte %llu differs",
					 (unsigned long long)(got + k));
		got += n;
	}
	assert_true(done);
	assert_int_equal(got, BODY_LEN);
	assert_true(f->wakes > 0);
	inst_pull_close(f->pull);
}

static void slow_reader_stops_the_producer(void **state)
{
	struct fx *f = *state;
	uint64_t last = 0;
	int64_t len = 0;
	int code = 0, still = 0;

	open_pull(f, "/big");
	wait_head(f, &code, &len);
	/* Read nothing: production stalls once the ring and the sockets
	 * are full; wait until it has not moved for 200 spins. */
	for (int i = 0; i < SPINS_MAX && still < 200; i++) {
		spin(f);
		still = f->produced == last ? still + 1 : 0;
		last = f->produced;
	}
	assert_int_equal(still, 200);
	assert_true(f->produced < BODY_LEN / 2);
	/* Closing midway ends the transfer and the server's stream. */
	inst_pull_close(f->pull);
	for (int i = 0; i < SPINS_MAX && !f->src_closed; i++)
		spin(f);
	assert_true(f->src_closed);
	assert_true(f->produced < BODY_LEN);
}

static void error_answer_comes_through(void **state)
{
	struct fx *f = *state;
	char body[256] = "";
	size_t have = 0;
	int64_t len = 0;
	int code = 0, done = 0;

	open_pull(f, "/missing");
	wait_head(f, &code, &len);
	assert_int_equal(code, 404);
	while (!done) {
		const uint8_t *p;
		size_t n;

		next_piece(f, &p, &n, &done);
		assert_true(have + n < sizeof(body));
		memcpy(body + have, p, n);
		have += n;
	}
	assert_true(done);
	assert_non_null(strstr(body, "no save x.zip"));
	inst_pull_close(f->pull);
}

static void unreachable_peer_fails(void **state)
{
	struct fx *f = *state;
	int64_t len = 0;
	int code = 0, rc = ERR_AGAIN;

	/* Port 1 on loopback: nothing listens, the connect is refused. */
	assert_int_equal(inst_http_pull(&f->loop, "127.0.0.1:1", "/big",
					"Bearer t", on_wake, f, &f->pull),
			 0);
	for (int i = 0; i < SPINS_MAX && rc == ERR_AGAIN; i++) {
		spin(f);
		rc = inst_pull_head(f->pull, &code, &len);
	}
	assert_int_equal(rc, ERR_IO);
	inst_pull_close(f->pull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(whole_body_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(slow_reader_stops_the_producer,
						setup, teardown),
		cmocka_unit_test_setup_teardown(error_answer_comes_through,
						setup, teardown),
		cmocka_unit_test_setup_teardown(unreachable_peer_fails, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
