/*
 * priv.h: the transport's libuv-side structures, shared by transport.c
 * (the API, destinations, UDP, joins) and conn.c (one TCP connection:
 * reading, the handshake, writing, closing). Internal to node/transport.
 */
#ifndef CLUSTERD_NODE_TRANSPORT_PRIV_H
#define CLUSTERD_NODE_TRANSPORT_PRIV_H

#include <sys/socket.h>

#include "node/transport/transport.h"
#include "node/transport/wire.h"

#define TP_MOD "transport"
/* Destinations (addresses we send to) at once; more give ERR_AGAIN.
 * A cluster has tens of nodes; this bounds a misbehaving owner. */
#define TP_DESTS_MAX 4096
/* Idle seconds before TCP keepalive probes; Linux then probes 9 times at
 * 75 s by default, which notices a vanished peer in minutes, not the
 * two hours of the kernel's default idle time. */
#define TP_KEEPALIVE_S 10
/* Read buffer shared by every connection: callbacks run one at a time. */
#define TP_READ_BUF (64 * 1024)
/* A flush writes queued frames in batches of about this many bytes. */
#define TP_BATCH_BYTES (256 * 1024)

/* One frame waiting in a destination's queue: plaintext, sealed only
 * when written (the nonce is the connection's sequence number). */
struct tp_frame {
	struct tp_frame *next;
	uint8_t ch;
	size_t len;
	uint8_t data[];
};

/* An address we send to: its queue, backoff and current connection. */
struct tp_dest {
	uv_timer_t timer; /* backoff */
	struct tp *t;
	struct tp_dest *prev, *next;
	char addr[TP_ADDR_MAX];
	struct sockaddr_storage sa;
	struct tp_conn *conn; /* connecting, handshaking or ready; or NULL */
	uint32_t backoff_ms;  /* the next wait; 0 before any failure */
	int backoff_armed;
	int closing;
	struct tp_frame *qhead, *qtail;
	size_t qframes, qbytes; /* queued */
	size_t wbytes;          /* handed to libuv, not yet written */
};

/* A pending tp_join (client side). */
struct tp_joiner {
	tp_join_cb cb;
	void *arg;
	char token_id[TP_TOKEN_ID_HEX + 1];
	uint8_t psk[TP_KEY_LEN];
	uint8_t *req;
	size_t req_len;
	int done;
};

/* A join request received (server side); see tp_join_req_* in
 * transport.h. Outlives its connection until the owner answers. */
struct tp_join_req {
	struct tp_conn *c; /* NULL once the connection closed */
	uint8_t static_pk[TP_KEY_LEN];
	char addr[TP_ADDR_MAX];
	char token_id[TP_TOKEN_ID_HEX + 1];
};

enum tp_conn_kind { TP_CONN_IN, TP_CONN_OUT, TP_CONN_JOIN };

enum tp_conn_state {
	TP_CS_CONNECTING, /* outbound: TCP connect in progress */
	TP_CS_HS1,        /* responder: awaiting msg1; initiator: msg2 */
	TP_CS_HS3,        /* responder: awaiting msg3 */
	TP_CS_READY,      /* sealed frames */
	TP_CS_CLOSING,
};

struct tp_conn {
	uv_tcp_t tcp;
	uv_timer_t timer; /* handshake deadline; join deadline */
	uv_connect_t creq;
	struct tp *t;
	struct tp_conn *prev, *next;
	enum tp_conn_kind kind;
	enum tp_conn_state st;
	int handles; /* of tcp and timer, not yet closed */
	uint8_t mode; /* TPW_MODE_* */
	struct tp_dest *dest;    /* TP_CONN_OUT, until detached */
	struct tp_joiner *jn;    /* TP_CONN_JOIN; owned */
	struct tp_join_req *jr;  /* TP_CONN_IN in join mode, once received */
	int join_got_req;
	char token_id[TP_TOKEN_ID_HEX + 1]; /* join mode */
	struct tpw_hs hs;
	uint8_t msg1[TPW_HS_MSG_MAX];
	size_t msg1_len;
	struct tpw_framer fr;
	uint8_t k_tx[TP_KEY_LEN], k_rx[TP_KEY_LEN];
	uint64_t seq_tx, seq_rx;
	uint64_t peer_id;
	char peer_addr[TP_ADDR_MAX];
	uint8_t peer_pk[TP_KEY_LEN];
	size_t writes_pending;
	size_t charged; /* bytes of ours counted in dest->wbytes */
	int close_after_write;
};

struct tp {
	struct tp_config cfg; /* limits resolved, strings dropped */
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_udp_t udp;
	uv_prepare_t flusher;
	int open_handles; /* every uv handle not yet closed */
	int stopping;
	void (*done)(void *arg);
	void *done_arg;
	char local[TP_ADDR_MAX];
	char advertise[TP_ADDR_MAX];
	int has_secret;
	uint8_t psk[TP_KEY_LEN];
	uint8_t udp_key[TP_KEY_LEN];
	struct tp_conn *conns;
	struct tp_dest *dests;
	size_t ndests;
	struct tpw_replay replay;
	struct tp_stats st;
	uint8_t rbuf[TP_READ_BUF];
	uint8_t ubuf[TP_READ_BUF];
	uint8_t uscratch[TP_READ_BUF];
	uint8_t usend[TP_DATAGRAM_MAX + TP_DATAGRAM_OVERHEAD];
};

/* conn.c */
struct tp_conn *tp_conn_new(struct tp *t, enum tp_conn_kind kind);
/* Outbound and join: connect to sa; the handshake starts on connect. */
int tp_conn_dial(struct tp_conn *c, const struct sockaddr *sa);
/* Inbound: start reading an accepted connection. */
void tp_conn_accepted(struct tp_conn *c);
/* Closes; status is what a pending join reports. Idempotent. */
void tp_conn_close(struct tp_conn *c, int status);
/* Seals and writes frames (ch, payload) on a ready connection; `charge`
 * bytes are counted against c->dest's queue until written. */
int tp_conn_write_frame(struct tp_conn *c, uint8_t ch, const uint8_t *p,
			size_t len, const uint8_t *p2, size_t len2);
/* Writes queued frames of c->dest in batches. */
void tp_conn_flush(struct tp_conn *c);

/* transport.c, called back from conn.c */
/* n handles of t finished closing; frees t when stopping and none
 * remain. */
void tp_handles_closed(struct tp *t, int n);
void tp_dest_conn_lost(struct tp_dest *d, int ready_before);
void tp_dest_ready(struct tp_dest *d);
void tp_count_reject(struct tp *t, enum tp_reason r);

#endif
