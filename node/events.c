/*
 * events.c: the event bus. See events.h for the design (one shared ring,
 * a cursor and a send buffer per client, batching on the next loop turn).
 */
#include "node/events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "node/http.h"
#include "node/metrics.h"

struct ev_entry {
	char *frame; /* "id: E-S\ndata: JSON\n\n", malloc'd */
	size_t len;
	unsigned flags;
};

struct ev_client {
	struct ev_bus *bus; /* NULL once detached (the bus stopped) */
	struct ev_client *prev, *next;
	unsigned flags;
	uint64_t cursor;  /* the next sequence number to send */
	uint8_t idle;     /* the last pull had nothing: wake when there is */
	uint8_t hello_sent;
	uint8_t resumed;  /* Last-Event-ID matched: no gap */
	uint8_t hb_due;
	uint8_t ended;    /* a pull said done */
	struct wbuf piece; /* what the last pull handed out */
	void (*wake)(void *arg);
	void *arg;
};

struct ev_bus {
	uv_loop_t *loop;
	uv_timer_t flush_timer, hb_timer;
	unsigned open_handles;
	uint8_t flush_armed;
	uint8_t stopped;
	uint8_t freeing;
	uint64_t epoch;
	char node[128];
	/* The ring: sequence numbers [first_seq, next_seq), entry of seq s
	 * at ring[s % EV_RING_EVENTS_MAX]. */
	struct ev_entry ring[EV_RING_EVENTS_MAX];
	uint64_t first_seq, next_seq;
	size_t ring_bytes;
	struct ev_client *clients;
	unsigned nclients, log_clients;
	struct ev_stats st;
};

/* --- The ring --------------------------------------------------------- */

static struct ev_entry *entry_of(struct ev_bus *b, uint64_t seq)
{
	return &b->ring[seq % EV_RING_EVENTS_MAX];
}

static void evict_oldest(struct ev_bus *b)
{
	struct ev_entry *e;

	ASSERT(b->first_seq < b->next_seq);
	e = entry_of(b, b->first_seq);
	ASSERT(b->ring_bytes >= e->len);
	b->ring_bytes -= e->len;
	free(e->frame);
	memset(e, 0, sizeof(*e));
	b->first_seq++;
}

/* Whether json is what events.h promises clients: one line, an object,
 * with a type. */
static int json_ok(const char *json, size_t n)
{
	if (n < 2 || n > EV_EVENT_MAX || json[0] != '{' || json[n - 1] != '}')
		return 0;
	if (memchr(json, '\n', n) != NULL || memchr(json, '\r', n) != NULL)
		return 0;
	return strstr(json, "\"type\"") != NULL;
}

static void on_flush_timer(uv_timer_t *t);

static void arm_flush(struct ev_bus *b)
{
	if (b->loop == NULL || b->flush_armed || b->nclients == 0)
		return;
	b->flush_armed = 1;
	uv_timer_start(&b->flush_timer, on_flush_timer, 0, 0);
}

void ev_publish_flags(struct ev_bus *b, unsigned flags, const char *json)
{
	size_t n, cap;
	char *frame;
	int len;

	if (b == NULL || b->stopped)
		return;
	n = strlen(json);
	if (!json_ok(json, n)) {
		b->st.refused++;
		return;
	}
	cap = n + 64;
	frame = malloc(cap);
	if (frame == NULL) {
		b->st.refused++;
		return;
	}
	len = snprintf(frame, cap, "id: %" PRIu64 "-%" PRIu64 "\ndata: %s\n\n",
		       b->epoch, b->next_seq, json);
	ASSERT(len > 0 && (size_t)len < cap);
	while (b->next_seq - b->first_seq >= EV_RING_EVENTS_MAX ||
	       (b->first_seq < b->next_seq &&
		b->ring_bytes + (size_t)len > EV_RING_BYTES_MAX))
		evict_oldest(b);
	entry_of(b, b->next_seq)->frame = frame;
	entry_of(b, b->next_seq)->len = (size_t)len;
	entry_of(b, b->next_seq)->flags = flags;
	b->ring_bytes += (size_t)len;
	b->next_seq++;
	b->st.published++;
	arm_flush(b);
}

void ev_publish(struct ev_bus *b, const char *json)
{
	ev_publish_flags(b, 0, json);
}

/* --- Timers and lifetime ---------------------------------------------- */

static void on_flush_timer(uv_timer_t *t)
{
	struct ev_bus *b = t->data;

	b->flush_armed = 0;
	ev_bus_flush(b);
}

static void on_hb_timer(uv_timer_t *t)
{
	ev_bus_heartbeat(t->data);
}

int ev_bus_new(uv_loop_t *loop, uint64_t epoch, const char *node,
	       struct ev_bus **out)
{
	struct ev_bus *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return ERR_NOMEM;
	b->loop = loop;
	b->epoch = epoch;
	snprintf(b->node, sizeof(b->node), "%s", node ? node : "");
	if (loop != NULL) {
		uv_timer_init(loop, &b->flush_timer);
		uv_timer_init(loop, &b->hb_timer);
		b->flush_timer.data = b;
		b->hb_timer.data = b;
		b->open_handles = 2;
		uv_timer_start(&b->hb_timer, on_hb_timer, EV_HEARTBEAT_MS,
			       EV_HEARTBEAT_MS);
	}
	*out = b;
	return 0;
}

/* Takes c off the bus's list; it ends at its next pull. */
static void detach(struct ev_client *c)
{
	struct ev_bus *b = c->bus;

	ASSERT(b != NULL && b->nclients > 0);
	if (c->prev)
		c->prev->next = c->next;
	else
		b->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	b->nclients--;
	if (c->flags & EV_F_LOG)
		b->log_clients--;
	c->bus = NULL;
	b->st.clients = b->nclients;
}

void ev_bus_stop(struct ev_bus *b)
{
	struct ev_client *c, *next;

	if (b == NULL || b->stopped)
		return;
	b->stopped = 1;
	if (b->loop != NULL) {
		uv_timer_stop(&b->flush_timer);
		uv_timer_stop(&b->hb_timer);
	}
	for (c = b->clients; c != NULL; c = next) {
		int was_idle = c->idle;

		next = c->next;
		detach(c);
		if (was_idle) {
			c->idle = 0;
			c->wake(c->arg); /* may close c */
		}
	}
	ASSERT(b->nclients == 0);
}

static void free_now(struct ev_bus *b)
{
	while (b->first_seq < b->next_seq)
		evict_oldest(b);
	free(b);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct ev_bus *b = h->data;

	ASSERT(b->open_handles > 0);
	if (--b->open_handles == 0)
		free_now(b);
}

void ev_bus_free(struct ev_bus *b)
{
	if (b == NULL)
		return;
	ev_bus_stop(b);
	ASSERT(!b->freeing);
	b->freeing = 1;
	if (b->loop == NULL) {
		free_now(b);
		return;
	}
	uv_close((uv_handle_t *)&b->flush_timer, on_timer_closed);
	uv_close((uv_handle_t *)&b->hb_timer, on_timer_closed);
}

/* Wakes every idle client for which want(c) says there is something. */
static void wake_idle(struct ev_bus *b, int heartbeat)
{
	struct ev_client *c, *next;

	for (c = b->clients; c != NULL; c = next) {
		next = c->next;
		if (!c->idle)
			continue;
		if (heartbeat)
			c->hb_due = 1;
		else if (c->cursor >= b->next_seq)
			continue;
		c->idle = 0;
		c->wake(c->arg); /* may close c, never another client */
	}
}

void ev_bus_flush(struct ev_bus *b)
{
	if (b != NULL && !b->stopped)
		wake_idle(b, 0);
}

void ev_bus_heartbeat(struct ev_bus *b)
{
	if (b != NULL && !b->stopped)
		wake_idle(b, 1);
}

void ev_bus_stats(const struct ev_bus *b, struct ev_stats *out)
{
	*out = b->st;
	out->clients = b->nclients;
}

int ev_bus_metrics(const struct ev_bus *b, struct http_reply *rep)
{
	struct ev_stats st;
	const struct {
		const char *name, *type, *help;
	} m[] = {
		{"clusterd_events_published_total", "counter",
		 "Events published on this node's event stream."},
		{"clusterd_events_refused_total", "counter",
		 "Events refused (not one line of JSON, or too big)."},
		{"clusterd_events_clients", "gauge",
		 "Event stream clients connected to this node."},
		{"clusterd_events_client_connects_total", "counter",
		 "Event stream clients ever connected to this node."},
		{"clusterd_events_clients_dropped_total", "counter",
		 "Event stream clients dropped for falling behind."},
		{"clusterd_events_sent_bytes_total", "counter",
		 "Bytes of event stream sent to clients."},
	};
	uint64_t v[6];
	int rv = 0;

	ev_bus_stats(b, &st);
	v[0] = st.published;
	v[1] = st.refused;
	v[2] = st.clients;
	v[3] = st.connects;
	v[4] = st.dropped;
	v[5] = st.sent_bytes;
	for (size_t i = 0; rv == 0 && i < sizeof(m) / sizeof(m[0]); i++) {
		rv = metrics_family(rep, m[i].name, m[i].type, m[i].help);
		if (rv == 0)
			rv = http_printf(rep, "%s %" PRIu64 "\n", m[i].name, v[i]);
	}
	return rv;
}

/* --- Clients ---------------------------------------------------------- */

/* Where a client with Last-Event-ID "E-S" starts: right after S when E is
 * this bus and the ring still holds everything after S. */
static int resume_point(const struct ev_bus *b, const char *last_id,
			uint64_t *cursor)
{
	unsigned long long e, s;
	char tail;

	if (last_id == NULL ||
	    sscanf(last_id, "%llu-%llu%c", &e, &s, &tail) != 2)
		return 0;
	if (e != b->epoch || s >= b->next_seq || s + 1 < b->first_seq)
		return 0;
	*cursor = s + 1;
	return 1;
}

int ev_client_open(struct ev_bus *b, unsigned flags, const char *last_id,
		   void (*wake)(void *arg), void *arg, struct ev_client **out)
{
	struct ev_client *c;

	ASSERT(wake != NULL);
	if (b->stopped)
		return ERR_SHUTDOWN;
	if (b->nclients >= EV_CLIENTS_MAX)
		return ERR_BUSY;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ERR_NOMEM;
	c->bus = b;
	c->flags = flags;
	c->wake = wake;
	c->arg = arg;
	c->cursor = b->next_seq;
	c->resumed = (uint8_t)resume_point(b, last_id, &c->cursor);
	wbuf_init(&c->piece, EV_PIECE_MAX + EV_EVENT_MAX + 512);
	c->next = b->clients;
	if (b->clients)
		b->clients->prev = c;
	b->clients = c;
	b->nclients++;
	if (flags & EV_F_LOG)
		b->log_clients++;
	b->st.connects++;
	b->st.clients = b->nclients;
	*out = c;
	return 0;
}

static int put_hello(struct ev_client *c)
{
	struct ev_bus *b = c->bus;
	cJSON *o = cJSON_CreateObject();
	char *s;
	int rv;

	if (o == NULL)
		return ERR_NOMEM;
	cJSON_AddStringToObject(o, "type", "hello");
	cJSON_AddStringToObject(o, "node", b->node);
	cJSON_AddBoolToObject(o, "resumed", c->resumed);
	cJSON_AddBoolToObject(o, "logs", (c->flags & EV_F_LOG) != 0);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (s == NULL)
		return ERR_NOMEM;
	rv = wbuf_printf(&c->piece, ": clusterd events\nretry: %d\ndata: %s\n\n",
			 EV_RETRY_MS, s);
	cJSON_free(s);
	return rv;
}

/* Appends the events after the cursor, up to EV_PIECE_MAX. */
static int put_events(struct ev_client *c)
{
	struct ev_bus *b = c->bus;
	int rv = 0;

	ASSERT(c->cursor >= b->first_seq && c->cursor <= b->next_seq);
	while (rv == 0 && c->cursor < b->next_seq) {
		const struct ev_entry *e = entry_of(b, c->cursor);

		if ((e->flags & EV_F_LOG) && !(c->flags & EV_F_LOG)) {
			c->cursor++;
			continue;
		}
		if (c->piece.len > 0 && c->piece.len + e->len > EV_PIECE_MAX)
			break;
		rv = wbuf_put(&c->piece, e->frame, e->len);
		if (rv == 0)
			c->cursor++;
	}
	return rv;
}

static int end_with(struct ev_client *c, const char *comment, int *done)
{
	c->ended = 1;
	*done = 1;
	return wbuf_printf(&c->piece, ": %s\n\n", comment);
}

int ev_client_pull(struct ev_client *c, const uint8_t **p, size_t *len,
		   int *done)
{
	struct ev_bus *b = c->bus;
	int rv = 0;

	ASSERT(!c->ended);
	wbuf_reset(&c->piece);
	*done = 0;
	if (b == NULL) {
		rv = end_with(c, "the node is stopping", done);
	} else if (c->cursor < b->first_seq) {
		b->st.dropped++;
		detach(c);
		rv = end_with(c, "dropped: this client fell too far behind; "
				 "reconnect and refetch", done);
	} else {
		if (!c->hello_sent) {
			rv = put_hello(c);
			c->hello_sent = 1;
		}
		if (rv == 0)
			rv = put_events(c);
		if (rv == 0 && c->piece.len == 0 && c->hb_due)
			rv = wbuf_printf(&c->piece, ": heartbeat\n\n");
		c->hb_due = 0;
	}
	if (rv != 0)
		return rv;
	if (c->piece.len == 0 && !*done)
		c->idle = 1;
	*p = c->piece.p;
	*len = c->piece.len;
	if (c->bus != NULL)
		c->bus->st.sent_bytes += c->piece.len;
	return 0;
}

void ev_client_close(struct ev_client *c)
{
	if (c == NULL)
		return;
	if (c->bus != NULL)
		detach(c);
	wbuf_free(&c->piece);
	free(c);
}

/* --- The node's own events -------------------------------------------- */

static void publish_obj(struct ev_bus *b, unsigned flags, cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (s == NULL) {
		b->st.refused++;
		return;
	}
	ev_publish_flags(b, flags, s);
	cJSON_free(s);
}

/* Storage domain numbers (storage/storage.h and the session plan): the
 * names clients see. */
static const char *domain_name(int domain, char *buf, size_t size)
{
	static const char *const names[] = {
		NULL, "kv", "kv", "cluster", "instances", "session", "users",
		"items", "inventory", "plugins", "players",
	};

	if (domain == EV_DOMAIN_CONFIG)
		return "cluster";
	if (domain > 0 && (size_t)domain < sizeof(names) / sizeof(names[0]))
		return names[domain];
	snprintf(buf, size, "domain%d", domain);
	return buf;
}

void ev_publish_domain(struct ev_bus *b, int domain, uint64_t index)
{
	char buf[24], text[160];

	if (b == NULL || b->stopped)
		return;
	/* The names are plain words: no escaping needed. */
	snprintf(text, sizeof(text),
		 "{\"type\":\"domain\",\"domain\":\"%s\",\"index\":%" PRIu64 "}",
		 domain_name(domain, buf, sizeof(buf)), index);
	ev_publish(b, text);
}

void ev_publish_leader(struct ev_bus *b, uint64_t leader_id,
		       const char *name, uint64_t term)
{
	cJSON *o;
	char hex[17];

	if (b == NULL || b->stopped)
		return;
	o = cJSON_CreateObject();
	snprintf(hex, sizeof(hex), "%016" PRIx64, leader_id);
	cJSON_AddStringToObject(o, "type", "leader");
	if (leader_id != 0)
		cJSON_AddStringToObject(o, "leader", hex);
	else
		cJSON_AddNullToObject(o, "leader");
	if (name != NULL && leader_id != 0)
		cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "term", (double)term);
	publish_obj(b, 0, o);
}

void ev_publish_instance(struct ev_bus *b, uint64_t id, const char *name,
			 const char *status)
{
	cJSON *o;

	if (b == NULL || b->stopped)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "instance");
	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddStringToObject(o, "name", name ? name : "");
	cJSON_AddStringToObject(o, "status", status);
	if (b->node[0] != '\0')
		cJSON_AddStringToObject(o, "node", b->node);
	publish_obj(b, 0, o);
}

void ev_publish_member(struct ev_bus *b, const char *name, const char *state)
{
	cJSON *o;

	if (b == NULL || b->stopped)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "member");
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "state", state);
	publish_obj(b, 0, o);
}

void ev_publish_log(struct ev_bus *b, uint64_t instance, const char *name,
		    const char *line, size_t len)
{
	char cut[EV_LOG_LINE_MAX + 1];
	cJSON *o;

	/* Nobody listening: skip the formatting entirely (log lines are the
	 * busiest events and only ?logs=1 clients get them). */
	if (b == NULL || b->stopped || b->log_clients == 0)
		return;
	if (len > EV_LOG_LINE_MAX)
		len = EV_LOG_LINE_MAX;
	memcpy(cut, line, len);
	cut[len] = '\0';
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "log");
	cJSON_AddNumberToObject(o, "instance", (double)instance);
	cJSON_AddStringToObject(o, "name", name ? name : "");
	cJSON_AddStringToObject(o, "line", cut);
	publish_obj(b, EV_F_LOG, o);
}

void ev_publish_chat(struct ev_bus *b, uint64_t instance, const char *name,
		     const char *player, size_t player_len,
		     const char *message, size_t message_len)
{
	char who[65], text[EV_LOG_LINE_MAX + 1];
	cJSON *o;

	if (b == NULL || b->stopped)
		return;
	if (player_len >= sizeof(who))
		player_len = sizeof(who) - 1;
	if (message_len > EV_LOG_LINE_MAX)
		message_len = EV_LOG_LINE_MAX;
	memcpy(who, player, player_len);
	who[player_len] = '\0';
	memcpy(text, message, message_len);
	text[message_len] = '\0';
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "chat");
	cJSON_AddNumberToObject(o, "instance", (double)instance);
	cJSON_AddStringToObject(o, "instance_name", name ? name : "");
	cJSON_AddStringToObject(o, "player", who);
	cJSON_AddStringToObject(o, "message", text);
	publish_obj(b, 0, o);
}

void ev_publish_player(struct ev_bus *b, uint64_t instance,
		       const char *instance_name, const char *kind,
		       const char *player)
{
	cJSON *o;

	/* Chat comes from the game's [CHAT] lines (ev_publish_chat): the
	 * module's chat events would publish each message twice. */
	if (b == NULL || b->stopped || strcmp(kind, "chat") == 0)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "player");
	cJSON_AddStringToObject(o, "event", kind);
	cJSON_AddNumberToObject(o, "instance", (double)instance);
	cJSON_AddStringToObject(o, "instance_name",
				instance_name ? instance_name : "");
	if (player != NULL)
		cJSON_AddStringToObject(o, "player", player);
	publish_obj(b, 0, o);
}
