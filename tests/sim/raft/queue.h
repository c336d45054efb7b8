/*
 * queue.h: the simulator's event queue.
 *
 * Every event in a simulated run (a tick of a node, a message arriving, an
 * fsync finishing, a client's timeout, a fault) sits in one binary min-heap
 * ordered by (time, sequence). The sequence number is assigned at push, so
 * two events at the same virtual time pop in the order they were scheduled:
 * the run is a pure function of the seed, as in TigerBeetle's VOPR and the
 * fake event loop of Tarantool's SWIM tests.
 *
 * The queue has a fixed capacity (a limit on every queue, docs/contributing.md: a limit on every queue):
 * sim_queue_push returns ERR_AGAIN when it is full, and the caller counts
 * the drop. Payloads are owned by whoever pushed them until popped; the
 * popper then owns them. sim_queue_free does not free payloads (the driver
 * drains the queue first).
 */
#ifndef CLUSTERD_TESTS_SIM_RAFT_QUEUE_H
#define CLUSTERD_TESTS_SIM_RAFT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct sim_event {
	uint64_t time_us; /* virtual time at which the event fires */
	uint64_t seq;	  /* push order; breaks ties deterministically */
	int kind;	  /* the driver's event kind */
	int node;	  /* target node (or -1) */
	uint64_t a, b;	  /* small arguments, meaning depends on kind */
	void *payload;	  /* owned by the queue's user, see above */
	size_t len;
};

struct sim_queue {
	struct sim_event *heap;
	size_t n;
	size_t cap;
	uint64_t next_seq;
};

/* Allocates room for cap events; ERR_NOMEM. */
int sim_queue_init(struct sim_queue *q, size_t cap);
void sim_queue_free(struct sim_queue *q);

/* Copies *ev in (its seq is overwritten). ERR_AGAIN when full. */
int sim_queue_push(struct sim_queue *q, const struct sim_event *ev);

/* Pops the earliest event into *out; returns 0, or ERR_NOTFOUND if empty. */
int sim_queue_pop(struct sim_queue *q, struct sim_event *out);

/* The earliest event without removing it, or NULL. */
const struct sim_event *sim_queue_peek(const struct sim_queue *q);

static inline size_t sim_queue_len(const struct sim_queue *q)
{
	return q->n;
}

#endif
