/*
 * internal.h: the state of a gossip instance, shared by its source files
 * (gossip.c: events and timers; news.c: the rules for news about members;
 * probe.c: failure detection; members.c: the member table and states;
 * bcast.c: the dissemination queue; pushpull.c: anti-entropy). Not part
 * of the public API.
 */
#ifndef CLUSTERD_GOSSIP_INTERNAL_H
#define CLUSTERD_GOSSIP_INTERNAL_H

#include <stdint.h>

#include "base/mp.h"
#include "base/prng.h"
#include "base/trace.h"
#include "gossip/codec.h"
#include "gossip/gossip.h"

/* Confirmations remembered per suspicion: k is suspicion_mult-2, so 8
 * allows a multiplier up to 10. */
#define SUSP_CONFIRM_MAX 8
/* Transmit-count buckets of the broadcast queue; the retransmit limit is
 * clamped below this. */
#define BCAST_BUCKETS 64
#define NO_SLOT (-1)
/* Stale accusations answered per received packet. */
#define CORR_MAX 8

struct kv {
	char key[GOSSIP_KEY_MAX + 1];
	uint64_t version;
	uint8_t *value; /* owned, may be NULL when len == 0 */
	uint32_t len;
	int32_t bcast; /* queued STATE broadcast, or NO_SLOT */
};

struct member {
	char name[GOSSIP_NAME_MAX + 1];
	char addr[GOSSIP_ADDR_MAX + 1];
	uint64_t inc;
	uint8_t status; /* enum gossip_status; 0 marks a free slot */
	uint64_t change_ms; /* when the status last changed */
	/* Suspicion (valid while status == GOSSIP_SUSPECT). */
	uint64_t susp_start_ms, susp_deadline_ms;
	uint32_t susp_k, susp_n;
	uint64_t susp_min_ms, susp_max_ms;
	uint32_t susp_from[SUSP_CONFIRM_MAX]; /* accusers' name hashes */
	struct kv *kv; /* owned array of n_kv */
	uint32_t n_kv;
	int32_t bcast; /* queued membership broadcast, or NO_SLOT */
};

struct bcast {
	uint8_t *msg; /* encoded msg, owned */
	uint32_t len;
	uint32_t transmits;
	int32_t prev, next; /* in bucket[transmits], or the free list */
	int32_t owner;      /* member slot */
	int32_t owner_kv;   /* kv index for STATE, -1 for membership */
	uint8_t used;
};

struct relay {
	uint8_t used;
	uint64_t my_seq, orig_seq;
	uint64_t nack_at_ms;
	char req_addr[GOSSIP_ADDR_MAX + 1];
};

struct probe {
	uint8_t active, acked, indirect;
	int32_t slot;
	char name[GOSSIP_NAME_MAX + 1];
	uint64_t seq;
	uint64_t timeout_at_ms, end_at_ms;
	uint32_t nacks_expected, nacks;
};

struct out_vec { /* a growable array owned by the instance */
	void *p;
	uint32_t n, cap;
	size_t elem;
};

struct gossip {
	struct gossip_config cfg;
	char name[GOSSIP_NAME_MAX + 1];
	char addr[GOSSIP_ADDR_MAX + 1];
	const struct tracer *tr;
	struct prng rng;
	uint64_t now_ms;
	int left;   /* this member announced its departure */
	int joined; /* a join was requested (push-pull target known) */

	/* Member table: slots never move; index 0 is this member. */
	struct member *m;
	uint32_t m_cap, m_used; /* slots in use (including free ones < hi) */
	uint32_t n_members, n_live; /* non-free slots; alive+suspect */
	int32_t *free_slots;
	uint32_t n_free;
	int32_t *hash; /* open addressing, name -> slot, NO_SLOT empty */
	uint32_t hash_cap;

	/* Probe order (shuffled round-robin, SWIM 4.3). */
	int32_t *order;
	uint32_t n_order, order_pos;
	struct probe probe;
	uint64_t next_probe_ms;
	uint64_t seq;
	uint32_t awareness; /* Lifeguard local health score */
	int32_t *suspects; /* slots in status SUSPECT */
	uint32_t n_suspects;

	struct relay *relays;

	/* Broadcast queue: buckets by transmit count, newest at the head. */
	struct bcast *bc;
	uint32_t bc_cap, bc_len;
	/* [0..BUCKETS): membership news, [BUCKETS..2*BUCKETS): state. */
	int32_t bc_head[2 * BCAST_BUCKETS], bc_tail[2 * BCAST_BUCKETS];
	int32_t bc_free;

	uint64_t next_gossip_ms, next_pp_ms, next_reconnect_ms, next_reap_ms;
	uint64_t state_ver; /* version counter of our own keys */

	struct mp_writer w;       /* scratch encoder */
	struct out_vec out_pkts;  /* struct gossip_packet */
	struct out_vec out_bufs;  /* uint8_t * to free on the next step */
	struct out_vec out_changes;
	struct out_vec out_states;
	int pp_started; /* the first periodic push-pull came due */
	uint64_t created_ms;
	int quiet_state; /* merging a push-pull: state is not re-gossiped */
	enum gossip_channel recv_ch; /* channel of the packet being handled */
	int in_packet; /* handling a gossip packet (not a push-pull) */
	/* Members accused in the packet being handled at an incarnation
	 * older than the one we know: we answer its sender with the newer
	 * ALIVE (see correct_sender in gossip.c). */
	int32_t corr[CORR_MAX];
	uint32_t n_corr;
	struct gossip_stats st;
};

/* out_vec */
void *gossip__ovec_push(struct out_vec *v);
void gossip__ovec_free(struct out_vec *v);

/* members.c */
int gossip__mem_init(struct gossip *g);
void gossip__mem_free(struct gossip *g);
uint32_t gossip__mem_name_hash(const char *s, uint32_t len);
int32_t gossip__mem_find(const struct gossip *g, const char *name, uint32_t len);
int32_t gossip__mem_add(struct gossip *g, const char *name, uint32_t name_len,
		const char *addr, uint32_t addr_len);
void gossip__mem_remove(struct gossip *g, int32_t slot);
void gossip__mem_set_status(struct gossip *g, int32_t slot, uint8_t status,
		    uint64_t inc);
int gossip__mem_kv_set(struct gossip *g, struct member *m, const char *key,
	       uint32_t key_len, uint64_t version, const uint8_t *v,
	       uint32_t len, int32_t *kv_index);
void gossip__mem_report(struct gossip *g, int32_t slot);
void gossip__mem_report_state(struct gossip *g, int32_t slot, int32_t kv);
int32_t gossip__mem_random_live(struct gossip *g, int32_t exclude1, int32_t exclude2);
int32_t gossip__mem_next_probe_target(struct gossip *g);

/* bcast.c */
int gossip__bcast_init(struct gossip *g);
void gossip__bcast_free(struct gossip *g);
/* Queues an encoded message (copied) about member `owner` (kv -1 for
 * membership); replaces the previous one about the same thing. */
void gossip__bcast_queue(struct gossip *g, int32_t owner, int32_t owner_kv,
		 const uint8_t *msg, uint32_t len);
void gossip__bcast_drop(struct gossip *g, int32_t idx);
/* Chooses queued messages (least sent, newest first) totalling at most
 * `room` bytes; after they are copied into a packet, bcast_sent raises
 * their transmit counts (and drops those sent often enough). */
uint32_t gossip__bcast_select(struct gossip *g, int32_t *idx, uint32_t max_msgs,
		      uint32_t room);
void gossip__bcast_sent(struct gossip *g, const int32_t *idx, uint32_t n);
void gossip__bcast_queue_alive(struct gossip *g, int32_t slot);
void gossip__bcast_queue_accuse(struct gossip *g, int32_t slot, uint32_t type,
			const char *from);
void gossip__bcast_queue_state(struct gossip *g, int32_t slot, int32_t kv);

/* gossip.c: sending */
/* Sends one packet holding `n` given msgs, then piggybacked broadcasts
 * up to packet_max (if piggyback). */
void gossip__send_packet(struct gossip *g, const char *to, enum gossip_channel ch,
		 const uint8_t *const *msgs, const uint32_t *lens, uint32_t n,
		 int piggyback);
/* Queues an encoded buffer (ownership transferred) for the driver. */
void gossip__send_owned(struct gossip *g, const char *to, enum gossip_channel ch,
		uint8_t *buf, size_t len);
int gossip__gstr_eq(struct gstr s, const char *c);
/* Copies s into dst as a C string; dst holds s.len + 1 bytes (the codec
 * bounds names and addresses by GOSSIP_NAME_MAX and GOSSIP_ADDR_MAX). */
void gossip__gstr_copy(char *dst, struct gstr s);

/* probe.c */
void gossip__probe_tick(struct gossip *g);
void gossip__probe_on_ping(struct gossip *g, const struct gossip_wire *w,
		   const struct gmsg *m);
void gossip__probe_on_ack(struct gossip *g, const struct gmsg *m);
void gossip__probe_on_nack(struct gossip *g, const struct gmsg *m);
void gossip__probe_on_ping_req(struct gossip *g, const struct gossip_wire *w,
		       const struct gmsg *m);
void gossip__relay_tick(struct gossip *g);
void gossip__susp_tick(struct gossip *g);
uint64_t gossip__probe_deadline(const struct gossip *g);
void gossip__awareness_add(struct gossip *g, int delta);

/* news.c */
void gossip__on_alive(struct gossip *g, struct gstr name, struct gstr addr,
	      uint64_t inc);
void gossip__on_suspect(struct gossip *g, struct gstr name, uint64_t inc,
		struct gstr from);
void gossip__on_dead(struct gossip *g, struct gstr name, uint64_t inc,
	     struct gstr from);
void gossip__on_state(struct gossip *g, struct gstr name, struct gstr key,
	      uint64_t version, const uint8_t *v, uint32_t len);
void gossip__refute(struct gossip *g, uint64_t accused_inc);
/* Answers the sender of the packet just handled with the newer ALIVE of
 * every member it accused at a stale incarnation (news.c). */
void gossip__correct_sender(struct gossip *g, const struct gossip_wire *w);

/* pushpull.c */
void gossip__pp_send(struct gossip *g, const char *to, uint32_t flags);
void gossip__pp_merge(struct gossip *g, const struct gossip_wire *w,
	      const struct gmsg *m);
void gossip__pp_tick(struct gossip *g);
void gossip__pp_on_digest(struct gossip *g, const struct gossip_wire *w,
		  const struct gmsg *m);
void gossip__pp_on_want(struct gossip *g, const struct gossip_wire *w,
		const struct gmsg *m);

#endif
