/*
 * queue.c: a binary min-heap of events keyed by (time, seq). See queue.h.
 */
#include "tests/sim/raft/queue.h"

#include <stdlib.h>

#include "base/assert.h"
#include "base/err.h"

int sim_queue_init(struct sim_queue *q, size_t cap)
{
	ASSERT(cap > 0);
	q->heap = calloc(cap, sizeof(*q->heap));
	if (q->heap == NULL)
		return ERR_NOMEM;
	q->n = 0;
	q->cap = cap;
	q->next_seq = 0;
	return 0;
}

void sim_queue_free(struct sim_queue *q)
{
	free(q->heap);
	q->heap = NULL;
	q->n = q->cap = 0;
}

static int before(const struct sim_event *x, const struct sim_event *y)
{
	if (x->time_us != y->time_us)
		return x->time_us < y->time_us;
	return x->seq < y->seq;
}

static void swap(struct sim_event *x, struct sim_event *y)
{
	struct sim_event t = *x;

	*x = *y;
	*y = t;
}

int sim_queue_push(struct sim_queue *q, const struct sim_event *ev)
{
	size_t i;

	if (q->n == q->cap)
		return ERR_AGAIN;
	i = q->n++;
	q->heap[i] = *ev;
	q->heap[i].seq = q->next_seq++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(&q->heap[i], &q->heap[parent]))
			break;
		swap(&q->heap[i], &q->heap[parent]);
		i = parent;
	}
	return 0;
}

int sim_queue_pop(struct sim_queue *q, struct sim_event *out)
{
	size_t i = 0;

	if (q->n == 0)
		return ERR_NOTFOUND;
	*out = q->heap[0];
	q->heap[0] = q->heap[--q->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->n && before(&q->heap[l], &q->heap[m]))
			m = l;
		if (r < q->n && before(&q->heap[r], &q->heap[m]))
			m = r;
		if (m == i)
			break;
		swap(&q->heap[i], &q->heap[m]);
		i = m;
	}
	ASSERT(q->n == 0 || !before(&q->heap[0], out));
	return 0;
}

const struct sim_event *sim_queue_peek(const struct sim_queue *q)
{
	return q->n > 0 ? &q->heap[0] : NULL;
}
