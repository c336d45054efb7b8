/*
 * kvload: a closed-loop HTTP/1.1 keep-alive write load for the cluster
 * benchmark, the same client for clusterd and for etcd.
 *
 * C connections each keep one write outstanding: send a request, wait for
 * the whole response, send the next. One thread and epoll, so the client
 * costs little of the two cores the servers share with it. Requests go
 * round-robin over the targets (one target per connection, fixed).
 *
 *   clusterd: PUT /api/v1/kv/NS/KEY, raw value, Authorization: Bearer TOKEN
 *   etcd:     POST /v3/kv/put {"key": b64, "value": b64} (v3 JSON gateway)
 *
 * Only 200 counts as a write; everything else (status, reset, a closed
 * connection) is an error, counted, and the connection is opened again.
 * Completions during the warm-up are not counted. Latency is from the
 * first byte written to the last byte of the response read.
 *
 * Output (one line):
 *   RESULT kind=K conns=C secs=S ok=N err=E rps=R p50_ms=A p99_ms=B max_ms=M
 *
 * usage: kvload --kind clusterd|etcd --target IP:PORT[,IP:PORT...]
 *               [--token T] [--conns C] [--seconds S] [--warmup S]
 *               [--value-bytes B] [--keys K] [--tag T]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 1024
#define TARGETS_MAX 8
#define REQ_MAX 4096
#define RESP_MAX 65536
#define VALUE_MAX 1024
/* 30 s at 100k writes/s: far above what one loopback cluster does here. */
#define SAMPLES_MAX (3u * 1000u * 1000u)
/* A run with this many errors is broken, not slow: stop it. */
#define ERRORS_MAX 100000u

enum kind { KIND_CLUSTERD, KIND_ETCD };

struct conn {
	int fd;
	int target;
	size_t req_len;
	size_t sent;
	size_t got;
	double t_start;
	uint64_t seq;
	char req[REQ_MAX];
	char resp[RESP_MAX];
};

struct opts {
	enum kind kind;
	struct sockaddr_in targets[TARGETS_MAX];
	char target_text[TARGETS_MAX][64];
	int ntargets;
	const char *token;
	int conns;
	double seconds;
	double warmup;
	int value_bytes;
	unsigned keys;
	const char *tag;
};

static struct opts o;
static uint32_t *samples_us;
static size_t nsamples;
static uint64_t n_ok, n_err;
static char value_raw[VALUE_MAX + 1];
static char value_b64[2 * VALUE_MAX];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void b64(const char *in, size_t n, char *out, size_t cap)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, j = 0;
	for (i = 0; i + 2 < n && j + 4 < cap; i += 3) {
		unsigned v = ((unsigned)(unsigned char)in[i] << 16) |
			     ((unsigned)(unsigned char)in[i + 1] << 8) |
			     (unsigned)(unsigned char)in[i + 2];
		out[j++] = tbl[(v >> 18) & 63];
		out[j++] = tbl[(v >> 12) & 63];
		out[j++] = tbl[(v >> 6) & 63];
		out[j++] = tbl[v & 63];
	}
	if (i < n && j + 4 < cap) {
		unsigned v = (unsigned)(unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)(unsigned char)in[i + 1] << 8;
		out[j++] = tbl[(v >> 18) & 63];
		out[j++] = tbl[(v >> 12) & 63];
		out[j++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[j++] = '=';
	}
	out[j] = '\0';
}

static void build_request(struct conn *c, int idx)
{
	char key[128], key64[256];
	unsigned k = (unsigned)((c->seq * (uint64_t)o.conns + (uint64_t)idx) % o.keys);
	int n;
	c->seq++;
	snprintf(key, sizeof key, "%s-k%06u", o.tag, k);
	if (o.kind == KIND_CLUSTERD) {
		n = snprintf(c->req, sizeof c->req,
			     "PUT /api/v1/kv/bench/%s HTTP/1.1\r\nHost: %s\r\n"
			     "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
			     key, o.target_text[c->target], o.token ? o.token : "",
			     o.value_bytes, value_raw);
	} else {
		char body[3 * VALUE_MAX];
		int bl;
		b64(key, strlen(key), key64, sizeof key64);
		bl = snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", key64,
			      value_b64);
		n = snprintf(c->req, sizeof c->req,
			     "POST /v3/kv/put HTTP/1.1\r\nHost: %s\r\n"
			     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			     o.target_text[c->target], bl, body);
	}
	if (n < 0 || (size_t)n >= sizeof c->req) {
		fprintf(stderr, "kvload: request too long\n");
		exit(2);
	}
	c->req_len = (size_t)n;
	c->sent = 0;
	c->got = 0;
}

static int conn_open(int ep, struct conn *c, int idx)
{
	struct epoll_event ev;
	int one = 1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&o.targets[c->target], sizeof o.targets[0]) < 0 &&
	    errno != EINPROGRESS) {
		int e = -errno;
		close(c->fd);
		c->fd = -1;
		return e;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.u32 = (uint32_t)idx;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -errno;
	build_request(c, idx);
	c->t_start = now_s();
	return 0;
}

/* Returns 1 when the response in c->resp is complete (status in *status),
 * 0 when more bytes are needed, -1 when it is malformed. */
static int parse_response(struct conn *c, int *status)
{
	char *end, *p;
	size_t head_len;
	c->resp[c->got] = '\0';
	end = strstr(c->resp, "\r\n\r\n");
	if (!end)
		return c->got >= RESP_MAX - 1 ? -1 : 0;
	head_len = (size_t)(end - c->resp) + 4;
	if (strncmp(c->resp, "HTTP/1.", 7) != 0 || c->got < 12)
		return -1;
	*status = atoi(c->resp + 9);
	for (p = strstr(c->resp, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, "Content-Length:", 15) == 0) {
			size_t cl = (size_t)strtoul(p + 17, NULL, 10);
			if (head_len + cl >= RESP_MAX)
				return -1;
			return c->got >= head_len + cl ? 1 : 0;
		}
		if (strncasecmp(p + 2, "Transfer-Encoding: chunked", 26) == 0) {
			/* Walk the chunks; complete at the zero chunk's CRLF. */
			size_t at = head_len;
			for (int i = 0; i < 1000; i++) {
				char *nl;
				size_t sz;
				if (at >= c->got)
					return 0;
				nl = strstr(c->resp + at, "\r\n");
				if (!nl)
					return 0;
				sz = (size_t)strtoul(c->resp + at, NULL, 16);
				at = (size_t)(nl - c->resp) + 2;
				if (sz == 0)
					return c->got >= at + 2 ? 1 : 0;
				at += sz + 2;
			}
			return -1;
		}
	}
	return 1; /* no body */
}

static void record(double lat_s)
{
	if (nsamples < SAMPLES_MAX)
		samples_us[nsamples++] = (uint32_t)(lat_s * 1e6);
}

static void conn_fail(int ep, struct conn *c, int idx, double t_count)
{
	if (now_s() >= t_count)
		n_err++;
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (n_err > ERRORS_MAX) {
		fprintf(stderr, "kvload: more than %u errors, stopping\n", ERRORS_MAX);
		exit(1);
	}
	if (conn_open(ep, c, idx) < 0)
		n_err++;
}

/* Edge-triggered: write what is pending, then read until EAGAIN. */
static void on_event(int ep, struct conn *conns, int idx, uint32_t events, double t_count)
{
	struct conn *c = &conns[idx];
	ssize_t n;
	int status = 0, r;
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_fail(ep, c, idx, t_count);
		return;
	}
	for (int round = 0; round < 64; round++) {
		if (c->sent < c->req_len) {
			n = write(c->fd, c->req + c->sent, c->req_len - c->sent);
			if (n < 0 && errno != EAGAIN) {
				conn_fail(ep, c, idx, t_count);
				return;
			}
			if (n > 0)
				c->sent += (size_t)n;
			if (c->sent < c->req_len)
				return; /* EPOLLOUT will come */
		}
		n = read(c->fd, c->resp + c->got, RESP_MAX - 1 - c->got);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			conn_fail(ep, c, idx, t_count);
			return;
		}
		if (n < 0)
			return; /* EPOLLIN will come */
		c->got += (size_t)n;
		r = parse_response(c, &status);
		if (r == 0)
			continue;
		if (r < 0) {
			conn_fail(ep, c, idx, t_count);
			return;
		}
		double t = now_s();
		if (t >= t_count) {
			if (status == 200) {
				n_ok++;
				record(t - c->t_start);
			} else {
				n_err++;
			}
		}
		build_request(c, idx);
		c->t_start = t;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int parse_targets(char *s)
{
	for (char *tok = strtok(s, ","); tok && o.ntargets < TARGETS_MAX; tok = strtok(NULL, ",")) {
		char *colon = strrchr(tok, ':');
		struct sockaddr_in *sa = &o.targets[o.ntargets];
		if (!colon)
			return -1;
		snprintf(o.target_text[o.ntargets], sizeof o.target_text[0], "%s", tok);
		*colon = '\0';
		memset(sa, 0, sizeof *sa);
		sa->sin_family = AF_INET;
		sa->sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, tok, &sa->sin_addr) != 1)
			return -1;
		o.ntargets++;
	}
	return o.ntargets > 0 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: kvload --kind clusterd|etcd --target IP:PORT[,...] [--token T]\n"
			"              [--conns C] [--seconds S] [--warmup S] [--value-bytes B]\n"
			"              [--keys K] [--tag T]\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	o.conns = 64;
	o.seconds = 10;
	o.warmup = 1;
	o.value_bytes = 64;
	o.keys = 10000;
	o.tag = "b";
	o.kind = KIND_CLUSTERD;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--kind"))
			o.kind = !strcmp(v, "etcd") ? KIND_ETCD : KIND_CLUSTERD;
		else if (!strcmp(a, "--target")) {
			if (parse_targets(argv[i]) < 0)
				usage();
		} else if (!strcmp(a, "--token"))
			o.token = v;
		else if (!strcmp(a, "--conns"))
			o.conns = atoi(v);
		else if (!strcmp(a, "--seconds"))
			o.seconds = atof(v);
		else if (!strcmp(a, "--warmup"))
			o.warmup = atof(v);
		else if (!strcmp(a, "--value-bytes"))
			o.value_bytes = atoi(v);
		else if (!strcmp(a, "--keys"))
			o.keys = (unsigned)atoi(v);
		else if (!strcmp(a, "--tag"))
			o.tag = v;
		else
			usage();
	}
	if (o.ntargets == 0 || o.conns < 1 || o.conns > CONNS_MAX || o.value_bytes < 1 ||
	    o.value_bytes > VALUE_MAX || o.keys < 1 || o.seconds <= 0 || o.seconds > 600)
		usage();
}

int main(int argc, char **argv)
{
	struct conn *conns;
	struct epoll_event evs[256];
	double t0, t_count, t_end, secs;
	int ep;
	parse_args(argc, argv);
	memset(value_raw, 'v', (size_t)o.value_bytes);
	value_raw[o.value_bytes] = '\0';
	b64(value_raw, (size_t)o.value_bytes, value_b64, sizeof value_b64);
	samples_us = malloc(SAMPLES_MAX * sizeof *samples_us);
	conns = calloc((size_t)o.conns, sizeof *conns);
	ep = epoll_create1(0);
	if (!samples_us || !conns || ep < 0) {
		fprintf(stderr, "kvload: out of resources\n");
		return 2;
	}
	for (int i = 0; i < o.conns; i++) {
		conns[i].target = i % o.ntargets;
		if (conn_open(ep, &conns[i], i) < 0) {
			fprintf(stderr, "kvload: connect to %s: %s\n", o.target_text[conns[i].target],
				strerror(errno));
			return 1;
		}
	}
	t0 = now_s();
	t_count = t0 + o.warmup;
	t_end = t_count + o.seconds;
	while (now_s() < t_end) {
		int n = epoll_wait(ep, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++)
			on_event(ep, conns, (int)evs[i].data.u32, evs[i].events, t_count);
	}
	secs = now_s() - t_count;
	qsort(samples_us, nsamples, sizeof *samples_us, cmp_u32);
	printf("RESULT kind=%s conns=%d secs=%.2f ok=%llu err=%llu rps=%.0f p50_ms=%.3f "
	       "p99_ms=%.3f max_ms=%.3f\n",
	       o.kind == KIND_ETCD ? "etcd" : "clusterd", o.conns, secs, (unsigned long long)n_ok,
	       (unsigned long long)n_err, (double)n_ok / secs,
	       nsamples ? samples_us[nsamples / 2] / 1e3 : 0.0,
	       nsamples ? samples_us[(nsamples * 99) / 100] / 1e3 : 0.0,
	       nsamples ? samples_us[nsamples - 1] / 1e3 : 0.0);
	for (int i = 0; i < o.conns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	close(ep);
	free(conns);
	free(samples_us);
	return n_ok > 0 ? 0 : 1;
}
