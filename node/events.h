/*
 * events.h: the node's event bus, behind GET /api/v1/events (Server-Sent
 * Events; docs/api.md "Events").
 *
 * Design. Producers on the loop thread (the apply path, Raft role changes,
 * gossip, the instance manager, plugins' code) publish small JSON objects
 * with ev_publish. The bus keeps the most recent ones in ONE ring shared
 * by every client, each event numbered by a sequence that only grows.
 * A client is a cursor into that ring plus one send buffer, so memory is
 * bounded by the ring (EV_RING_EVENTS_MAX events, EV_RING_BYTES_MAX bytes)
 * plus EV_PIECE_MAX per client, whatever the number of clients or how
 * slow they are. A client whose cursor falls out of the ring (it did not
 * read for EV_RING_EVENTS_MAX events) is dropped: its stream ends with a
 * comment saying so, and it reconnects and refetches (EventSource does so
 * by itself). Slow clients therefore cost nothing, and never make the
 * bus grow.
 *
 * Delivery is batched: a publish only marks the bus dirty and arms a 0 ms
 * timer; on the next loop turn every idle client is woken once and pulls
 * everything new in one piece. A publisher never runs client code, so
 * publishing from inside the apply path is safe and cheap (with no client,
 * a publish is one ring append).
 *
 * Each SSE event carries `id: EPOCH-SEQ`. A client that reconnects to the
 * same node with Last-Event-ID resumes without a gap when the ring still
 * holds the next event; otherwise (another node, a restart, too far
 * behind) its first event says `"resumed": false` and it must refetch.
 * Idle streams get a comment line every heartbeat so proxies and clients
 * see the connection alive.
 */
#ifndef CLUSTERD_NODE_EVENTS_H
#define CLUSTERD_NODE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Ring bounds: 1,024 events cover several seconds of a busy cluster's
 * applies (a UI refetches on a domain event, it does not need each one);
 * 1 MiB bounds the bytes when the events are log lines. */
#define EV_RING_EVENTS_MAX 1024
#define EV_RING_BYTES_MAX (1u << 20)
/* Largest event (JSON text) accepted; larger ones are refused and
 * counted. A log line is cut to EV_LOG_LINE_MAX bytes before escaping
 * (at most 6 bytes each, \u00XX), so a log event always fits. */
#define EV_EVENT_MAX 8192
#define EV_LOG_LINE_MAX 1024
/* Largest piece written to a client at once (several events batched). */
#define EV_PIECE_MAX (64 * 1024)
/* Clients at most; the next one is refused (503). */
#define EV_CLIENTS_MAX 256
/* An idle stream gets a comment this often: below the 30-60 s idle
 * timeouts of common proxies. */
#define EV_HEARTBEAT_MS 15000
/* What the SSE `retry:` field asks of a client that lost the stream. */
#define EV_RETRY_MS 2000

/* Event flags. */
#define EV_F_LOG 1u /* a log line: only for clients that asked (?logs=1) */

struct ev_bus;
struct ev_client;

struct ev_stats {
	uint64_t published;    /* events accepted */
	uint64_t refused;      /* not a one-line JSON object, or too big */
	uint64_t clients;      /* connected now */
	uint64_t connects;     /* clients ever opened */
	uint64_t dropped;      /* clients dropped for falling behind */
	uint64_t sent_bytes;   /* bytes handed to clients */
};

/* Creates a bus. loop: for the heartbeat and the batching timer, or NULL
 * (tests: call ev_bus_flush and ev_bus_heartbeat by hand). epoch: tells
 * this bus's event ids from another's (a node uses its start time in ms);
 * node: this node's name for the hello event (copied; may be NULL).
 * 0 or ERR_NOMEM. */
int ev_bus_new(uv_loop_t *loop, uint64_t epoch, const char *node,
	       struct ev_bus **out);

/* Ends every client's stream (each gets a last comment and ends), and
 * makes later publishes no-ops. Call before the HTTP server stops: an
 * idle stream would otherwise keep its connection open. Idempotent. */
void ev_bus_stop(struct ev_bus *b);

/* Frees the bus (after ev_bus_stop; the timers close first, so with a
 * loop the memory goes on a later loop turn). Clients still open are
 * detached: they end at their next pull and close on their own. */
void ev_bus_free(struct ev_bus *b);

/* Publishes one event: json must be a JSON object on one line (as
 * cJSON_PrintUnformatted makes it), with a "type" field; it is copied.
 * b may be NULL (no bus: nothing happens). Anything else is refused and
 * counted, never sent. Loop thread only. */
void ev_publish(struct ev_bus *b, const char *json);
void ev_publish_flags(struct ev_bus *b, unsigned flags, const char *json);

/* Helpers for the node's own events (the contract in docs/api.md). */
/* {"type":"domain","domain":NAME,"index":N}: an applied entry of a
 * storage domain (its number, named by the table in events.c; unknown
 * numbers are "domainN"). A Raft configuration entry is domain "cluster"
 * (pass EV_DOMAIN_CONFIG). */
#define EV_DOMAIN_CONFIG (-2)
void ev_publish_domain(struct ev_bus *b, int domain, uint64_t index);
/* {"type":"leader","leader":"16 HEX"|null,"name":..,"term":N} */
void ev_publish_leader(struct ev_bus *b, uint64_t leader_id,
		       const char *name, uint64_t term);
/* {"type":"instance","id":N,"name":..,"status":..} */
void ev_publish_instance(struct ev_bus *b, uint64_t id, const char *name,
			 const char *status);
/* {"type":"member","name":..,"state":..} (gossip's view changed) */
void ev_publish_member(struct ev_bus *b, const char *name,
		       const char *state);
/* {"type":"chat","instance":N,"instance_name":..,"player":..,
 * "message":..}: a chat line of a local instance (the game's
 * "[CHAT] player: message"; console chat has player "<server>"). */
void ev_publish_chat(struct ev_bus *b, uint64_t instance, const char *name,
		     const char *player, size_t player_len,
		     const char *message, size_t message_len);
/* {"type":"log","instance":N,"name":..,"line":..} (EV_F_LOG) */
void ev_publish_log(struct ev_bus *b, uint64_t instance, const char *name,
		    const char *line, size_t len);

/* {"type":"player","event":KIND,"instance":N,"instance_name":..,
 * "player":..}: a player event of a local game (the clusterd Lua module's
 * join, leave, ban, unban, promote, demote; chat is not one: it is
 * ev_publish_chat's, from the game's own line). player may be NULL. */
void ev_publish_player(struct ev_bus *b, uint64_t instance,
		       const char *instance_name, const char *kind,
		       const char *player);

/* Sends whatever is new to every idle client (the batching timer does
 * this; tests call it). */
void ev_bus_flush(struct ev_bus *b);
/* Gives every idle client a heartbeat comment (the heartbeat timer does
 * this; tests call it). */
void ev_bus_heartbeat(struct ev_bus *b);

void ev_bus_stats(const struct ev_bus *b, struct ev_stats *out);
/* Appends the bus's figures to a /metrics answer (Prometheus text):
 * clusterd_events_published_total, _refused_total, _clients,
 * _client_connects_total, _clients_dropped_total, _sent_bytes_total. */
struct http_reply;
int ev_bus_metrics(const struct ev_bus *b, struct http_reply *rep);

/* --- Clients ---------------------------------------------------------- */

/* Opens a client. flags: EV_F_LOG to receive log lines. last_id: the
 * Last-Event-ID the client sent ("EPOCH-SEQ"), or NULL. wake(arg) runs
 * (from the loop, never inside ev_publish) when a client whose last pull
 * had nothing has something now. 0; ERR_BUSY past EV_CLIENTS_MAX;
 * ERR_SHUTDOWN after ev_bus_stop; ERR_NOMEM. *out is the caller's until ev_client_close. */
int ev_client_open(struct ev_bus *b, unsigned flags, const char *last_id,
		   void (*wake)(void *arg), void *arg, struct ev_client **out);

/* The next piece of the client's stream, in the shape of node/http.h's
 * pull: 0 with *p (borrowed until the next pull or close) and *len; *len 0
 * and *done 0 means nothing now (wake will run); *done 1 ends the stream
 * (the bus stopped, or the client fell behind and was dropped). */
int ev_client_pull(struct ev_client *c, const uint8_t **p, size_t *len,
		   int *done);

/* Closes a client (also after its stream ended); frees it. */
void ev_client_close(struct ev_client *c);

#endif
