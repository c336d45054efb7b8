/*
 * cluster.c: start, stop, and the glue between the modules' callbacks.
 * See cluster.h for what the runtime is, cluster_int.h for its files.
 *
 * The modules never call each other; this file routes between them:
 *   transport frame, channel RAFT   -> raftd_receive
 *   transport frame, channel GOSSIP -> gossipd_receive (reliable)
 *   transport datagram              -> gossipd_receive (unreliable)
 *   transport frame, channel RPC    -> cluster_ops.c (forwarding)
 *   raftd send                      -> transport, to the member's address
 *   gossipd send                    -> transport datagram or frame
 *   raftd / gossipd timers          -> one uv timer each
 *   the store's writer completions  -> uv_poll on its eventfd -> raftd
 * The transport asks check_peer whether a static key belongs to a member:
 * the answer comes from the replicated member list (and, on a node that
 * just joined, from the join reply until its log has caught up).
 */
#include "node/cluster_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/assert.h"
#include "base/err.h"
#include "storage/idomain.h"
#include "node/events.h"
#include "storage/kvrev.h"
#include "storage/session.h"

#include <sodium.h>

/* Raft timings for a LAN cluster (docs/decisions.md, "Node Raft
 * timings"): a failed leader is noticed within 250-500 ms; heartbeats
 * every 50 ms keep five chances inside the shortest timeout. */
#define CL_ELECTION_MS_MIN 250
#define CL_ELECTION_MS_MAX 500
#define CL_HEARTBEAT_MS 50
/* Room in a proposal beside a largest value: namespace (64) and key (512)
 * bytes, the msgpack envelope, and what later commands add (sessions). */
#define CL_CMD_SLACK 4096

#define JOIN_MEMBERS_KEY "join_members"

uint64_t cl_now(struct cluster *c)
{
	uv_update_time(c->loop);
	return uv_now(c->loop);
}

uint64_t cl_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const struct stor_cl_member *cl_member(const struct cluster *c, uint64_t id)
{
	for (size_t i = 0; i < c->members_n; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}

/* The members a join reply listed, kept in the local column family until
 * the replicated list has them (a node that restarts right after joining
 * must still recognise the leader's key). */
static void load_join_members(struct cluster *c)
{
	uint8_t *v = NULL;
	size_t n = 0;

	if (stor_local_get(c->st, JOIN_MEMBERS_KEY, &v, &n) != 0)
		return;
	for (size_t off = 0; off + sizeof(struct stor_cl_member) <= n &&
			     c->members_n < CL_MEMBERS_MAX;
	     off += sizeof(struct stor_cl_member)) {
		struct stor_cl_member m;

		memcpy(&m, v + off, sizeof(m));
		m.name[sizeof(m.name) - 1] = '\0';
		m.addr[sizeof(m.addr) - 1] = '\0';
		m.http[sizeof(m.http) - 1] = '\0';
		if (m.id != 0 && cl_member(c, m.id) == NULL)
			c->members[c->members_n++] = m;
	}
	free(v);
}

void cl_members_reload(struct cluster *c)
{
	size_t n = 0;

	if (stor_cl_members(c->st, c->members, CL_MEMBERS_MAX, &n) != 0)
		n = 0;
	c->members_n = n;
	/* Until the replicated list names anyone, trust the join reply. */
	if (n == 0 || cl_member(c, c->ident.id) == NULL)
		load_join_members(c);
	c->members_dirty = 0;
}

int cl_send_rpc(struct cluster *c, uint64_t to, const struct rpc_msg *m)
{
	const struct stor_cl_member *dst = cl_member(c, to);
	struct mp_writer w;
	int rv;

	if (dst == NULL || c->tp == NULL)
		return ERR_NOTFOUND;
	mp_writer_init(&w, RPC_DATA_MAX + 1024);
	rpc_encode(m, &w);
	rv = mp_writer_error(&w);
	if (rv == 0)
		rv = tp_send(c->tp, dst->addr, TP_CH_RPC, mp_writer_data(&w),
			     mp_writer_len(&w));
	mp_writer_free(&w);
	return rv;
}

static void on_kick(uv_timer_t *t)
{
	struct cluster *c = t->data;

	if (c->stopping)
		return;
	if (c->members_dirty)
		cl_members_reload(c);
	cl_ops_expire(c);
	cl_ops_drive_waiting(c);
	cl_join_tick(c);
	cl_leave_tick(c);
	/* While operations are pending, look at their deadlines at least
	 * every 100 ms: an answer that never comes (a frame lost with a
	 * connection) must still end the request on time. */
	if (c->ops_n > 0)
		cl_kick_later(c, 100);
}

void cl_kick(struct cluster *c)
{
	if (c->stopping)
		return;
	/* An armed retry is brought forward to now. */
	if (uv_is_active((uv_handle_t *)&c->kick_timer) &&
	    uv_timer_get_due_in(&c->kick_timer) == 0)
		return;
	uv_timer_start(&c->kick_timer, on_kick, 0, 0);
}

void cl_kick_later(struct cluster *c, uint64_t ms)
{
	if (!c->stopping && !uv_is_active((uv_handle_t *)&c->kick_timer))
		uv_timer_start(&c->kick_timer, on_kick, ms, 0);
}

void cl_exit(struct cluster *c, int status)
{
	if (c->on_exit)
		c->on_exit(c->exit_arg, status);
}

/* ---- raftd's environment ---- */

static void rd_send(void *ctx, raft_id to, const uint8_t *buf, size_t len)
{
	struct cluster *c = ctx;
	const struct stor_cl_member *m = cl_member(c, to);

	if (m != NULL)
		(void)tp_send(c->tp, m->addr, TP_CH_RAFT, buf, len);
}

static void on_raft_timer(uv_timer_t *t)
{
	struct cluster *c = t->data;

	if (c->rd)
		(void)raftd_tick(c->rd, cl_now(c));
}

static void rd_set_timer(void *ctx, uint64_t deadline_ms)
{
	struct cluster *c = ctx;
	uint64_t now = uv_now(c->loop);

	if (c->stopping)
		return;
	uv_timer_start(&c->raft_timer, on_raft_timer,
		       deadline_ms > now ? deadline_ms - now : 0, 0);
}

/* The domain an entry's command belongs to: the envelope is msgpack
 * [version, domain, body] (storage.h). A session command (storage/
 * session.h) wraps another envelope as its last field: the domain that
 * matters to the node's observers is the wrapped one. */
static int entry_domain(const struct raft_entry *e)
{
	const msgpack_object *body, *op, *inner;
	const uint8_t *ib;
	struct mp_doc doc, idoc;
	uint8_t type = 0, itype = 0;
	uint64_t opv;
	size_t il;
	uint32_t n;

	if (e->type != RAFT_ENTRY_NORMAL || e->len == 0)
		return -1;
	if (stor_cmd_decode(&doc, e->data, e->len, &type, &body) != 0)
		return -1;
	if (type == STOR_DOMAIN_SESSION && mp_get_array(body, &n) == 0 &&
	    n == 7 && mp_array_at(body, 0, &op) == 0 &&
	    mp_get_u64(op, &opv) == 0 && opv == 0 &&
	    mp_array_at(body, 6, &inner) == 0 &&
	    mp_get_bin(inner, &ib, &il) == 0 &&
	    stor_cmd_decode(&idoc, ib, il, &itype, &body) == 0) {
		type = itype;
		mp_doc_free(&idoc);
	}
	mp_doc_free(&doc);
	return type;
}

static void rd_on_apply(void *ctx, const struct raft_entry *e, int result)
{
	struct cluster *c = ctx;

	(void)result;
	int domain = entry_domain(e);

	if (e->type == RAFT_ENTRY_CONFIG || domain == STOR_DOMAIN_CLUSTER) {
		c->members_dirty = 1;
		cl_kick(c);
	}
	if (domain == STOR_DOMAIN_INSTANCES && c->im != NULL)
		inst_mgr_kick(c->im);
	if (domain > 0 || e->type == RAFT_ENTRY_CONFIG)
		ev_publish_domain(c->events, e->type == RAFT_ENTRY_CONFIG
				  ? EV_DOMAIN_CONFIG : domain, e->index);
	cl_ops_applied(c, e->index);
}

static void rd_on_role(void *ctx, uint8_t role, raft_id leader,
		       raft_term term)
{
	struct cluster *c = ctx;
	const struct stor_cl_member *m = cl_member(c, leader);

	if (leader != c->leader)
		TRACE_I(c->log, "raft", "term %llu: %s, leader %s",
			(unsigned long long)term, raft_role_name(role),
			leader == 0 ? "unknown" : m ? m->name : "(not a known member)");
	if (leader != c->leader || term != c->term)
		ev_publish_leader(c->events, leader, m ? m->name : NULL, term);
	if (role == RAFT_LEADER && c->role != RAFT_LEADER)
		ap_state_init(&c->ap);
	c->role = role;
	c->leader = leader;
	c->term = term;
	cl_role_changed(c);
	cl_kick(c);
}

static void rd_on_fail(void *ctx, int code, const char *what)
{
	struct cluster *c = ctx;

	TRACE_E(c->log, "raft", "storage failed during %s: %s; stopping", what,
		err_str(code));
	c->failed = code;
	cl_exit(c, code);
}

static void on_disk(uv_poll_t *p, int status, int events)
{
	struct cluster *c = p->data;

	(void)status;
	(void)events;
	if (c->rd)
		(void)raftd_disk_reap(c->rd, cl_now(c));
}

/* ---- gossipd's environment ---- */

static int gd_send(void *ctx, const char *addr, enum gossip_channel ch,
		   const uint8_t *buf, size_t len)
{
	struct cluster *c = ctx;

	if (ch == GOSSIP_UNRELIABLE)
		return tp_sendto(c->tp, addr, buf, len);
	return tp_send(c->tp, addr, TP_CH_GOSSIP, buf, len);
}

static void on_gossip_timer(uv_timer_t *t)
{
	struct cluster *c = t->data;

	if (c->gd)
		(void)gossipd_tick(c->gd, cl_now(c));
}

static void gd_set_timer(void *ctx, uint64_t deadline_ms)
{
	struct cluster *c = ctx;
	uint64_t now = uv_now(c->loop);

	if (c->stopping)
		return;
	uv_timer_start(&c->gossip_timer, on_gossip_timer,
		       deadline_ms > now ? deadline_ms - now : 0, 0);
}

static void gd_on_member(void *ctx, const struct gossip_member_change *m)
{
	struct cluster *c = ctx;
	static const char *const words[] = {"?", "alive", "suspect", "dead",
					    "left"};

	if (strcmp(m->name, c->name) != 0)
		TRACE_I(c->log, "gossip", "member %s (%s) is %s", m->name,
			m->addr, m->status <= GOSSIP_LEFT ? words[m->status] : "?");
	ev_publish_member(c->events, m->name,
			  m->status <= GOSSIP_LEFT ? words[m->status] : "?");
	cl_kick(c); /* a join may be waiting to see a live member */
}

/* ---- the transport's callbacks ---- */

static int tp_check_peer(void *ctx, const uint8_t pk[TP_KEY_LEN],
			 uint64_t *peer_id)
{
	struct cluster *c = ctx;

	if (c->members_dirty)
		cl_members_reload(c);
	for (size_t i = 0; i < c->members_n; i++)
		if (sodium_memcmp(c->members[i].pk, pk, TP_KEY_LEN) == 0) {
			*peer_id = c->members[i].id;
			return 0;
		}
	return ERR_NOTFOUND;
}

static void tp_on_frame(void *ctx, uint8_t channel, const struct tp_peer *from,
			const uint8_t *buf, size_t len)
{
	struct cluster *c = ctx;

	if (c->stopping)
		return;
	switch (channel) {
	case TP_CH_RAFT:
		if (c->rd)
			(void)raftd_receive(c->rd, cl_now(c), from->id, buf, len);
		break;
	case TP_CH_GOSSIP:
		if (c->gd)
			(void)gossipd_receive(c->gd, cl_now(c), from->addr,
					      GOSSIP_RELIABLE, buf, len);
		break;
	case TP_CH_RPC:
		cl_on_rpc(c, from, buf, len);
		break;
	default:
		c->rpc_malformed++;
		break;
	}
}

static void tp_on_datagram(void *ctx, const char *from, const uint8_t *buf,
			   size_t len)
{
	struct cluster *c = ctx;

	if (c->gd && !c->stopping)
		(void)gossipd_receive(c->gd, cl_now(c), from, GOSSIP_UNRELIABLE,
				      buf, len);
}

/* ---- start ---- */

static int start_raft(struct cluster *c, char *errmsg, size_t errsz)
{
	struct raftd_config rc;
	struct raftd_env env = {
		.ctx = c,
		.send = rd_send,
		.set_timer = rd_set_timer,
		.on_result = cl_on_result,
		.on_read = cl_on_read,
		.on_apply = rd_on_apply,
		.on_role = rd_on_role,
		.on_fail = rd_on_fail,
	};
	int rv;

	raftd_config_default(&rc);
	rc.raft.id = c->ident.id;
	rc.raft.election_timeout_ms_min = CL_ELECTION_MS_MIN;
	rc.raft.election_timeout_ms_max = CL_ELECTION_MS_MAX;
	rc.raft.heartbeat_ms = CL_HEARTBEAT_MS;
	/* A proposal is the encoded command, not the bare value: the API
	 * promises values of up to STOR_KVR_VALUE_MAX (1 MiB), so a command
	 * holding one (plus namespace, key and envelope) must fit. */
	rc.raft.msg_bytes_max = STOR_KVR_VALUE_MAX + CL_CMD_SLACK;
	randombytes_buf(&rc.raft.seed, sizeof(rc.raft.seed));
	rc.tracer = c->log;
	rv = raftd_open(c->st, &rc, &env, cl_now(c), &c->rd);
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot start raft: %s", err_str(rv));
		return rv;
	}
	rv = uv_poll_init(c->loop, &c->disk_poll, raftd_disk_fd(c->rd));
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot poll the store: %s",
			 uv_strerror(rv));
		raftd_close(c->rd);
		c->rd = NULL;
		return rv;
	}
	c->disk_poll.data = c;
	c->disk_poll_on = 1;
	uv_poll_start(&c->disk_poll, UV_READABLE, on_disk);
	return raftd_tick(c->rd, cl_now(c));
}

/* Whether gossip may seed with member m. Once the log holds a Raft
 * configuration, only its servers: after `clusterd restore` the member
 * records still list the old cluster until the MEMBER_DEL entries after
 * that configuration apply, and those nodes must not be dialled. Members
 * outside Raft (it was full) are found through the seeded ones. With no
 * configuration yet (a node that just joined), every member is a seed. */
static int seed_ok(const struct cluster *c, const struct stor_cl_member *m)
{
	const struct raft_configuration *conf =
		c->rd ? raftd_configuration(c->rd) : NULL;

	if (m->id == c->ident.id)
		return 0;
	return conf == NULL || conf->n == 0 ||
	       raft_conf_get(conf, m->id) != NULL;
}

static int start_gossip(struct cluster *c, char *errmsg, size_t errsz)
{
	struct gossipd_config gc;
	struct gossipd_env env = {
		.ctx = c,
		.send = gd_send,
		.set_timer = gd_set_timer,
		.on_member = gd_on_member,
	};
	const char *seeds[GOSSIP_SEEDS_MAX];
	uint32_t n = 0;
	uint64_t now = cl_now(c);
	int rv;

	gossipd_config_default(&gc);
	gc.gossip.name = c->name;
	gc.gossip.addr = c->advertise;
	gc.gossip.incarnation = cl_wall_ms(); /* a restart outranks its past */
	/* And so do its state keys (a node that left and joined again under
	 * the same name publishes a new Raft id: the others must not keep
	 * the old one, or autopilot never finds the new member alive). */
	gc.gossip.state_version = cl_wall_ms();
	randombytes_buf(&gc.seed, sizeof(gc.seed));
	gc.tracer = c->log;
	rv = gossipd_new(&gc, &env, now, &c->gd);
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot start gossip: %s", err_str(rv));
		return rv;
	}
	gossipd_publish_id(c->gd, now, c->ident.id);
	gossipd_publish(c->gd, now, GOSSIPD_KEY_HTTP, c->http);
	gossipd_publish(c->gd, now, GOSSIPD_KEY_VER, CLUSTERD_VERSION);
	gossipd_publish(c->gd, now, GOSSIPD_KEY_ROLE, "none");
	for (size_t i = 0; i < c->members_n && n < GOSSIP_SEEDS_MAX; i++)
		if (seed_ok(c, &c->members[i]))
			seeds[n++] = c->members[i].addr;
	return gossipd_join(c->gd, now, seeds, n);
}

int cl_start_joined(struct cluster *c, char *errmsg, size_t errsz)
{
	int rv;

	tp_set_secret(c->tp, c->sec.secret);
	cl_members_reload(c);
	rv = start_raft(c, errmsg, errsz);
	if (rv != 0)
		return rv;
	rv = start_gossip(c, errmsg, errsz);
	if (rv != 0)
		return rv;
	c->joined = 1;
	uv_timer_start(&c->ap_timer, cl_autopilot, CL_AUTOPILOT_MS,
		       CL_AUTOPILOT_MS);
	return 0;
}

static int open_store(struct cluster *c, char *errmsg, size_t errsz)
{
	struct stor_options o;
	char path[1100], err[256] = "";
	int rv;

	snprintf(path, sizeof(path), "%s/db", c->dir);
	stor_options_default(&o);
	o.dir = path;
	o.tracer = c->log;
	o.open_err = err;
	o.open_err_size = sizeof(err);
	rv = stor_open(&o, &c->st);
	if (rv != 0)
		snprintf(errmsg, errsz, "cannot open the store in %s: %s", path,
			 err[0] ? err : err_str(rv));
	return rv;
}

/* The address peers dial: the bind address, with a wildcard host
 * replaced by loopback (a multi-machine cluster sets `advertise`). */
static void pick_advertise(struct cluster *c, const char *bound)
{
	if (strncmp(bound, "0.0.0.0:", 8) == 0)
		snprintf(c->advertise, sizeof(c->advertise), "127.0.0.1:%s",
			 bound + 8);
	else
		snprintf(c->advertise, sizeof(c->advertise), "%s", bound);
}

static int start_transport(struct cluster *c, const char *advertise,
			   char *errmsg, size_t errsz)
{
	struct tp_config tc;
	int rv;

	memset(&tc, 0, sizeof(tc));
	tc.loop = c->loop;
	tc.bind = c->bind;
	tc.advertise = advertise;
	memcpy(tc.static_pk, c->ident.pk, TP_KEY_LEN);
	memcpy(tc.static_sk, c->ident.sk, TP_KEY_LEN);
	tc.has_secret = c->sec.cluster_id[0] != '\0';
	memcpy(tc.secret, c->sec.secret, TP_KEY_LEN);
	tc.tracer = c->log;
	tc.ctx = c;
	tc.check_peer = tp_check_peer;
	tc.on_frame = tp_on_frame;
	tc.on_datagram = tp_on_datagram;
	tc.join_psk = cl_join_psk;
	tc.on_join = cl_on_join;
	rv = tp_start(&c->tp, &tc);
	sodium_memzero(&tc.static_sk, sizeof(tc.static_sk));
	sodium_memzero(&tc.secret, sizeof(tc.secret));
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot listen on cluster address %s: %s",
			 c->bind, rv == UV_EADDRINUSE ? "address already in use"
						      : err_str(rv));
		return rv;
	}
	if (advertise == NULL)
		pick_advertise(c, tp_local_addr(c->tp));
	TRACE_I(c->log, "cluster", "cluster transport on %s (advertised %s)",
		tp_local_addr(c->tp), c->advertise);
	return 0;
}

static void init_timers(struct cluster *c)
{
	uv_timer_t *timers[] = {&c->raft_timer, &c->gossip_timer, &c->ap_timer,
				&c->kick_timer};

	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		uv_timer_init(c->loop, timers[i]);
		timers[i]->data = c;
	}
}

int cluster_start(const struct cluster_config *cfg, struct cluster **out,
		  char *errmsg, size_t errsz)
{
	struct cluster *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		return ERR_NOMEM;
	c->loop = cfg->loop;
	c->log = cfg->log;
	c->events = cfg->events;
	c->on_exit = cfg->on_exit;
	c->exit_arg = cfg->exit_arg;
	c->next_op = 1;
	snprintf(c->dir, sizeof(c->dir), "%s", cfg->data_dir);
	snprintf(c->name, sizeof(c->name), "%s", cfg->name);
	snprintf(c->bind, sizeof(c->bind), "%s", cfg->bind);
	snprintf(c->http, sizeof(c->http), "%s", cfg->http_addr);
	if (cfg->advertise)
		snprintf(c->advertise, sizeof(c->advertise), "%s",
			 cfg->advertise);
	ap_config_default(&c->apc);
	ap_state_init(&c->ap);
	c->core.ops = &cl_core_ops;
	c->core.ctx = c;
	init_timers(c);
	rv = identity_load_or_create(c->dir, &c->ident, errmsg, errsz);
	if (rv != 0)
		goto err_free;
	rv = identity_cluster_load(c->dir, &c->sec, errmsg, errsz);
	if (rv != 0 && rv != ERR_NOTFOUND)
		goto err_free;
	rv = open_store(c, errmsg, errsz);
	if (rv != 0)
		goto err_free;
	cl_members_reload(c);
	rv = start_transport(c, cfg->advertise, errmsg, errsz);
	if (rv != 0)
		goto err_close_store;
	*out = c;
	if (c->sec.cluster_id[0] != '\0') {
		rv = cl_start_joined(c, errmsg, errsz);
		if (rv != 0)
			return rv; /* handles are open: the caller stops it */
	} else {
		TRACE_I(c->log, "cluster",
			"not part of a cluster yet: waiting for 'clusterctl join'"
			" (only status and join are served, from loopback)");
	}
	return 0;

err_close_store:
	stor_close(c->st);
err_free:
	free(c);
	return rv;
}

const struct core *cluster_core(struct cluster *c)
{
	return &c->core;
}

void cluster_set_instances(struct cluster *c, struct inst_mgr *im)
{
	c->im = im;
}

void cluster_set_plugins(struct cluster *c, struct plug_mgr *pm)
{
	c->pm = pm;
}

/* ---- stop ---- */

static void on_closed(uv_handle_t *h)
{
	struct cluster *c = h->data;

	ASSERT(c->closing > 0);
	if (--c->closing > 0)
		return;
	stor_close(c->st);
	cl_metrics_free(c);
	if (c->stop_done)
		c->stop_done(c->stop_arg);
	free(c);
}

static void close_handle(struct cluster *c, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	h->data = c;
	c->closing++;
	uv_close(h, on_closed);
}

static void on_tp_stopped(void *arg)
{
	struct cluster *c = arg;

	close_handle(c, (uv_handle_t *)&c->raft_timer);
	close_handle(c, (uv_handle_t *)&c->gossip_timer);
	close_handle(c, (uv_handle_t *)&c->ap_timer);
	close_handle(c, (uv_handle_t *)&c->kick_timer);
	if (c->disk_poll_on)
		close_handle(c, (uv_handle_t *)&c->disk_poll);
}

void cluster_stop(struct cluster *c, void (*done)(void *arg), void *arg)
{
	c->stopping = 1;
	c->stop_done = done;
	c->stop_arg = arg;
	cl_join_fail_all(c, ERR_SHUTDOWN);
	cl_leave_fail_all(c, ERR_SHUTDOWN);
	cl_ops_fail_all(c, ERR_SHUTDOWN);
	cl_snaps_detach(c);
	if (c->gd) {
		gossipd_free(c->gd);
		c->gd = NULL;
	}
	if (c->rd) {
		if (c->disk_poll_on)
			uv_poll_stop(&c->disk_poll);
		raftd_close(c->rd); /* drains the writer */
		c->rd = NULL;
	}
	tp_stop(c->tp, on_tp_stopped, c);
	c->tp = NULL;
}
