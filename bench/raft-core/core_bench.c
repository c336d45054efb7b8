/*
 * core_bench: a fault-free 3-voter cluster in one process, committing N
 * entries of 64 bytes proposed in pipelined batches of 64, every message
 * going through the real codec (raft_encode / raft_decode) and every entry
 * copied to an in-memory "disk" before RAFT_EV_PERSISTED. run.sh counts
 * its instructions under callgrind for N and for 0 entries; the
 * difference divided by N is the whole cluster's cost per committed entry
 * (leader and both followers, codec included), the figure compared with
 * hashicorp/raft doing the same over its in-memory transport and store.
 *
 * usage: core_bench N   (prints "clusterd committed=N")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mp.h"
#include "raft/raft.h"

#define NODES 3
#define QMAX 4096

struct node {
	struct raft r;
	uint8_t *disk;
	size_t disk_len, disk_cap;
	uint64_t applied;
};

struct qmsg {
	int to;
	uint8_t *buf;
	size_t len;
};

static struct node nodes[NODES + 1];
static struct qmsg q[QMAX];
static size_t q_head, q_n;
static uint64_t now_ms;
static struct raft_entry ents[RAFT_BATCH_MAX];

static void die(const char *what)
{
	fprintf(stderr, "core_bench: %s\n", what);
	exit(1);
}

static void disk_append(struct node *nd, const struct raft_entry *e)
{
	if (nd->disk_len + e->len + 24 > nd->disk_cap) {
		nd->disk_cap = (nd->disk_cap + e->len + 24) * 2;
		nd->disk = realloc(nd->disk, nd->disk_cap);
		if (nd->disk == NULL)
			die("out of memory");
	}
	memcpy(nd->disk + nd->disk_len, &e->term, 8);
	memcpy(nd->disk + nd->disk_len + 8, &e->index, 8);
	if (e->len > 0)
		memcpy(nd->disk + nd->disk_len + 24, e->data, e->len);
	nd->disk_len += e->len + 24;
}

static void step(int id, struct raft_event *ev);

static void handle(int id, const struct raft_update *up)
{
	struct node *nd = &nodes[id];
	struct mp_writer w;

	if (up->truncate_from != 0 || up->snapshot != NULL)
		die("unexpected truncation or snapshot in a fault-free run");
	for (uint64_t i = 0; i < up->n_entries; i++)
		disk_append(nd, &up->entries[i]);
	for (uint32_t i = 0; i < up->n_msgs; i++) {
		struct qmsg *m;

		if (q_n == QMAX)
			die("queue full");
		m = &q[(q_head + q_n++) % QMAX];
		mp_writer_init(&w, 16u << 20);
		raft_encode(&up->msgs[i], &w);
		m->to = (int)up->msgs[i].to;
		if (mp_writer_take(&w, &m->buf, &m->len) != 0)
			die("encode");
		mp_writer_free(&w);
	}
	nd->applied += up->n_committed;
	if (up->n_entries > 0) {
		struct raft_event ev = {.type = RAFT_EV_PERSISTED};

		ev.u.persisted.index = up->entries[up->n_entries - 1].index;
		ev.u.persisted.term = up->entries[up->n_entries - 1].term;
		step(id, &ev);
	}
}

static void step(int id, struct raft_event *ev)
{
	struct raft_update up;
	int rv;

	ev->now_ms = now_ms;
	rv = raft_step(&nodes[id].r, ev, &up);
	if (rv != 0 && ev->type != RAFT_EV_PROPOSE)
		die("raft_step failed");
	handle(id, &up);
}

static void drain(void)
{
	while (q_n > 0) {
		struct qmsg m = q[q_head];
		struct raft_message msg;
		struct raft_event ev = {.type = RAFT_EV_RECEIVE};

		q_head = (q_head + 1) % QMAX;
		q_n--;
		if (raft_decode(m.buf, m.len, &msg, ents, RAFT_BATCH_MAX) != 0)
			die("decode");
		ev.u.msg = &msg;
		step(m.to, &ev);
		free(m.buf);
	}
}

static void tick_all(uint64_t ms)
{
	now_ms += ms;
	for (int id = 1; id <= NODES; id++) {
		struct raft_event ev = {.type = RAFT_EV_TICK};

		step(id, &ev);
	}
	drain();
}

static void boot(void)
{
	struct raft_configuration c;
	struct raft_config cfg;
	struct raft_entry e = {.term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG};
	struct mp_writer w;

	memset(&c, 0, sizeof(c));
	c.n = NODES;
	for (uint32_t i = 0; i < NODES; i++) {
		c.servers[i].id = i + 1;
		c.servers[i].role = RAFT_VOTER;
	}
	mp_writer_init(&w, 4096);
	raft_conf_encode(&c, &w);
	e.data = mp_writer_data(&w);
	e.len = (uint32_t)mp_writer_len(&w);
	for (int id = 1; id <= NODES; id++) {
		raft_config_default(&cfg);
		cfg.id = (raft_id)id;
		cfg.seed = (uint64_t)id;
		if (raft_init(&nodes[id].r, &cfg) != 0 ||
		    raft_restore(&nodes[id].r, NULL, NULL, NULL, 0, &e, 1, 0) != 0)
			die("boot");
	}
	mp_writer_free(&w);
}

static int leader(void)
{
	for (int id = 1; id <= NODES; id++)
		if (raft_current_role(&nodes[id].r) == RAFT_LEADER)
			return id;
	return 0;
}

int main(int argc, char **argv)
{
	static const uint8_t data[64] = {1};
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000;
	uint64_t proposed = 0, target;
	int l = 0;

	boot();
	for (int i = 0; i < 1000 && (l = leader()) == 0; i++)
		tick_all(10);
	if (l == 0)
		die("no leader");
	tick_all(10);
	while (proposed < n) {
		for (int k = 0; k < 64 && proposed < n; k++, proposed++) {
			struct raft_event ev = {.type = RAFT_EV_PROPOSE};

			ev.u.propose.type = RAFT_ENTRY_NORMAL;
			ev.u.propose.data = data;
			ev.u.propose.len = sizeof(data);
			step(l, &ev);
		}
		drain();
	}
	target = raft_last_index(&nodes[l].r);
	for (int i = 0; i < 100; i++) {
		int done = 1;

		for (int id = 1; id <= NODES; id++)
			done &= raft_commit_index(&nodes[id].r) == target;
		if (done)
			break;
		tick_all(100);
	}
	printf("clusterd committed=%llu applied=%llu/%llu/%llu\n",
	       (unsigned long long)n, (unsigned long long)nodes[1].applied,
	       (unsigned long long)nodes[2].applied,
	       (unsigned long long)nodes[3].applied);
	for (int id = 1; id <= NODES; id++) {
		raft_close(&nodes[id].r);
		free(nodes[id].disk);
	}
	return 0;
}
