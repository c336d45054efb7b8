/*
 * ipc_node_bench: the node's own cost per IPC message (issue 12), without
 * the game: stdout lines go through inst_ipc_on_line (parse, JSON, the
 * duplicate window, the subscriber, its done and the acknowledgement
 * queue) on a hand-built instance whose RCON is down (so acknowledgements
 * are dropped after batching, as when the connection is gone). Prints
 * messages per second of one core for small and 1 kB payloads, and for
 * duplicates (a re-sent burst).
 *
 *   build/bench/instances/ipc_node_bench [MESSAGES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "node/instances/inst_int.h"

static uint64_t handled;

static void on_msg(void *arg, uint64_t instance, const char *channel,
		   uint64_t msg_id, const cJSON *msg)
{
	(void)channel;
	(void)msg;
	handled++;
	inst_mgr_ipc_done(arg, instance, msg_id, 0);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Feeds n lines with ids first.. (pad bytes of payload); msgs/s. */
static double feed(struct inst_proc *p, uint64_t first, uint64_t n, size_t pad)
{
	char *line = malloc(pad + 200), *padding = malloc(pad + 1);
	double t0, t1;

	memset(padding, 'x', pad);
	padding[pad] = '\0';
	t0 = now_s();
	for (uint64_t id = first; id < first + n; id++) {
		int len = snprintf(line, pad + 200,
				   "\f$ipc:items?j{\"type\":\"bench\",\"pad\":\"%s\","
				   "\"id\":%llu}", padding, (unsigned long long)id);

		(void)inst_ipc_on_line(p, line, (size_t)len);
		if (p->ipc.nacks >= INST_ACK_BATCH)
			p->ipc.nacks = 0; /* the loop would send them now */
	}
	t1 = now_s();
	free(line);
	free(padding);
	return (double)n / (t1 - t0);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	struct inst_mgr *m = calloc(1, sizeof(*m));
	struct inst_proc *p = calloc(1, sizeof(*p));
	uv_loop_t loop;
	double small, big, dup;

	uv_loop_init(&loop);
	m->loop = &loop;
	m->procs[0] = p;
	p->m = m;
	p->id = 1;
	p->present = 1;
	p->state = ST_RUNNING;
	p->ipc.ready = 1;
	snprintf(p->rec.name, sizeof(p->rec.name), "bench");
	inst_ipc_init(m);
	if (inst_mgr_ipc_subscribe(m, "items", on_msg, m) != 0)
		return 1;
	small = feed(p, 1, n, 0);
	big = feed(p, n + 1, n / 4, 1000);
	dup = feed(p, n + n / 4 - IPC_WINDOW + 1, IPC_WINDOW, 0);
	printf("bench ipc_node: small %.0f msg/s, 1 kB %.0f msg/s, duplicates "
	       "%.0f msg/s (one core; handled %llu, duplicates %llu)\n", small,
	       big, dup, (unsigned long long)handled,
	       (unsigned long long)p->ipc.duplicates);
	inst_ipc_close(m, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(p);
	free(m);
	return handled == n + n / 4 ? 0 : 1;
}
