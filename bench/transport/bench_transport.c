/*
 * bench_transport: two transports on one loop over loopback.
 *   handshake: a fresh connection per round (tp_close_addr, then a send):
 *              time from tp_send to the frame's delivery, which covers
 *              TCP connect, the three handshake messages and one frame.
 *   frames:    one-way throughput of N frames of a given size, sent in
 *              bursts as fast as the bounded queue takes them.
 *   handshake_cpu: the handshake alone, both ends in memory (wire.h),
 *              against the peer: a TLS 1.3 handshake (X25519, Ed25519
 *              certificate, OpenSSL) between two memory BIOs, the same way.
 * usage: bench_transport [rounds] [frames_small] [frames_big]
 * Prints "bench transport_<what>: clusterd=<v> [peer=<v> ratio=<r>] <unit>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/err.h"
#include "node/transport/transport.h"
#include "node/transport/wire.h"

struct side {
	struct tp *t;
	uint8_t pk[32], sk[32];
	uint64_t frames, bytes;
	int stopped;
};

static struct side A, B;

static int check_peer(void *ctx, const uint8_t pk[32], uint64_t *id)
{
	(void)ctx;
	*id = memcmp(pk, A.pk, 32) == 0 ? 1 : 2;
	return memcmp(pk, A.pk, 32) == 0 || memcmp(pk, B.pk, 32) == 0
		       ? 0
		       : ERR_NOTFOUND;
}

static void on_frame(void *ctx, uint8_t ch, const struct tp_peer *from,
		     const uint8_t *buf, size_t len)
{
	struct side *s = ctx;

	(void)ch;
	(void)from;
	(void)buf;
	s->frames++;
	s->bytes += len;
}

static void start(uv_loop_t *loop, struct side *s, const uint8_t *secret)
{
	struct tp_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = loop;
	cfg.bind = "127.0.0.1:0";
	tp_keypair(s->pk, s->sk);
	memcpy(cfg.static_pk, s->pk, 32);
	memcpy(cfg.static_sk, s->sk, 32);
	cfg.has_secret = 1;
	memcpy(cfg.secret, secret, 32);
	cfg.ctx = s;
	cfg.check_peer = check_peer;
	cfg.on_frame = on_frame;
	if (tp_start(&s->t, &cfg) != 0) {
		fprintf(stderr, "bench transport: tp_start failed\n");
		exit(1);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void bench_handshake(uv_loop_t *loop, int rounds)
{
	uint64_t *us = calloc((size_t)rounds, sizeof(*us));
	const char *dst = tp_local_addr(B.t);

	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = uv_hrtime(), want = B.frames + 1;

		tp_close_addr(A.t, dst);
		if (tp_send(A.t, dst, TP_CH_RPC, "x", 1) != 0)
			exit(1);
		while (B.frames < want)
			uv_run(loop, UV_RUN_ONCE);
		us[r] = (uv_hrtime() - t0) / 1000;
	}
	qsort(us, (size_t)rounds, sizeof(*us), cmp_u64);
	printf("bench transport_handshake: clusterd=%llu us (p50 of %d; "
	       "p99 %llu us)\n",
	       (unsigned long long)us[rounds / 2], rounds,
	       (unsigned long long)us[rounds * 99 / 100]);
	free(us);
}

static void bench_frames(uv_loop_t *loop, size_t size, uint64_t count)
{
	uint8_t *buf = calloc(1, size);
	uint64_t sent = 0, base = B.frames, t0 = uv_hrtime();
	const char *dst = tp_local_addr(B.t);
	double s;

	while (B.frames - base < count) {
		/* Fill the queue until it pushes back, then let it drain. */
		while (sent < count &&
		       tp_send(A.t, dst, TP_CH_RAFT, buf, size) == 0)
			sent++;
		uv_run(loop, UV_RUN_ONCE);
	}
	s = (double)(uv_hrtime() - t0) / 1e9;
	printf("bench transport_frames_%zuB: clusterd=%.0f frames/s "
	       "(%.1f MiB/s payload)\n",
	       size, (double)count / s,
	       (double)count * (double)size / s / 1048576.0);
	free(buf);
}

/* One in-memory handshake of ours; returns its duration in ns. */
static uint64_t hs_once(void)
{
	struct tpw_hs i, r;
	struct tpw_msg1 m;
	uint8_t psk[32] = {9}, m1[TPW_HS_MSG_MAX], m2[TPW_HS_MSG_MAX];
	uint8_t m3[TPW_HS_MSG_MAX], k1[32], k2[32];
	size_t n1, n2, n3;
	char addr[TP_ADDR_MAX];
	uint64_t t0 = uv_hrtime();

	tpw_hs_init(&i, 1, A.pk, A.sk);
	tpw_hs_init(&r, 0, B.pk, B.sk);
	tpw_hs_write1(&i, TPW_MODE_CLUSTER, NULL, m1, &n1);
	if (tpw_msg1_parse(m1, n1, &m) != 0 ||
	    tpw_hs_write2(&r, m1, n1, &m, 1, psk, m2, &n2) != 0 ||
	    tpw_hs_read2(&i, m1, n1, psk, m2, n2) != 0)
		exit(1);
	tpw_hs_write3(&i, "127.0.0.1:1", m3, &n3);
	if (tpw_hs_read3(&r, m3, n3, addr) != 0)
		exit(1);
	tpw_hs_split(&i, k1, k2);
	tpw_hs_split(&r, k1, k2);
	return uv_hrtime() - t0;
}

static SSL_CTX *tls_server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"bench", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, key, NULL);
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, key);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

/* One TLS 1.3 handshake between two memory BIOs; duration in ns. The
 * client does not verify the certificate (a cost of TLS we leave out). */
static uint64_t tls_once(SSL_CTX *sctx, SSL_CTX *cctx)
{
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	BIO *b1, *b2;
	uint64_t t0;
	int done_c = 0, done_s = 0;

	BIO_new_bio_pair(&b1, 0, &b2, 0);
	SSL_set_bio(c, b1, b1);
	SSL_set_bio(s, b2, b2);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	t0 = uv_hrtime();
	for (int k = 0; k < 100 && !(done_c && done_s); k++) {
		done_c = done_c || SSL_do_handshake(c) == 1;
		done_s = done_s || SSL_do_handshake(s) == 1;
	}
	t0 = uv_hrtime() - t0;
	if (!done_c || !done_s)
		exit(1);
	SSL_free(c);
	SSL_free(s);
	return t0;
}

static void bench_handshake_cpu(int rounds)
{
	uint64_t *a = calloc((size_t)rounds, sizeof(*a));
	uint64_t *b = calloc((size_t)rounds, sizeof(*b));
	SSL_CTX *sctx = tls_server_ctx(), *cctx = SSL_CTX_new(TLS_client_method());
	double x, y;

	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	/* Alternate so both see the same machine noise. */
	for (int r = 0; r < rounds; r++) {
		a[r] = hs_once();
		b[r] = tls_once(sctx, cctx);
	}
	qsort(a, (size_t)rounds, sizeof(*a), cmp_u64);
	qsort(b, (size_t)rounds, sizeof(*b), cmp_u64);
	x = (double)a[rounds / 2] / 1000.0;
	y = (double)b[rounds / 2] / 1000.0;
	printf("bench transport_handshake_cpu: clusterd=%.0f tls13=%.0f "
	       "ratio=%.2f us (p50 of %d, both ends)\n",
	       x, y, x / y, rounds);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	free(a);
	free(b);
}

static void on_stopped(void *arg)
{
	((struct side *)arg)->stopped = 1;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200;
	uint64_t small = argc > 2 ? strtoull(argv[2], NULL, 10) : 200000;
	uint64_t big = argc > 3 ? strtoull(argv[3], NULL, 10) : 4000;
	uint8_t secret[32];
	uv_loop_t loop;

	uv_loop_init(&loop);
	tp_secret_new(secret);
	start(&loop, &A, secret);
	start(&loop, &B, secret);
	bench_handshake_cpu(rounds);
	bench_handshake(&loop, rounds);
	bench_frames(&loop, 100, small);
	bench_frames(&loop, 65536, big);
	tp_stop(A.t, on_stopped, &A);
	tp_stop(B.t, on_stopped, &B);
	while (uv_run(&loop, UV_RUN_DEFAULT) != 0)
		;
	uv_loop_close(&loop);
	return A.stopped && B.stopped ? 0 : 1;
}
