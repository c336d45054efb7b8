/*
 * make_corpus: writes the seed corpus of fuzz_raft, one file per message
 * type and receiver role, each a role byte followed by a real encoding.
 * usage: make_corpus <dir>  (the output is checked in under corpus/)
 */
#include <stdio.h>
#include <string.h>

#include "base/mp.h"
#include "raft/raft.h"

static void put(const char *dir, const char *name, int role,
		const struct raft_message *m)
{
	char path[512];
	struct mp_writer w;
	uint8_t r = (uint8_t)role;
	FILE *f;

	mp_writer_init(&w, 1 << 16);
	raft_encode(m, &w);
	snprintf(path, sizeof(path), "%s/%s-%s", dir, name,
		 role ? "leader" : "follower");
	f = fopen(path, "wb");
	if (f == NULL) {
		perror(path);
		return;
	}
	fwrite(&r, 1, 1, f);
	fwrite(mp_writer_data(&w), 1, mp_writer_len(&w), f);
	fclose(f);
	mp_writer_free(&w);
}

int main(int argc, char **argv)
{
	static const uint8_t d[] = "payload";
	struct raft_entry e[2] = {
		{.term = 2, .index = 3, .type = RAFT_ENTRY_NORMAL, .len = 7,
		 .data = d},
		{.term = 2, .index = 4, .type = RAFT_ENTRY_BARRIER},
	};
	struct raft_message m;

	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus <dir>\n");
		return 2;
	}
	for (int role = 0; role <= 1; role++) {
		memset(&m, 0, sizeof(m));
		m.from = 2;
		m.to = 1;
		m.term = 2;
		m.type = RAFT_MSG_VOTE;
		m.u.vote.last_index = 3;
		m.u.vote.last_term = 1;
		put(argv[1], "vote", role, &m);
		m.u.vote.prevote = 1;
		m.term = 3;
		put(argv[1], "prevote", role, &m);
		memset(&m.u, 0, sizeof(m.u));
		m.term = 2;
		m.type = RAFT_MSG_VOTE_RESP;
		m.u.vote_resp.granted = 1;
		put(argv[1], "vote_resp", role, &m);
		memset(&m.u, 0, sizeof(m.u));
		m.type = RAFT_MSG_APPEND;
		m.u.append.prev_index = 2;
		m.u.append.prev_term = 1;
		m.u.append.commit = 3;
		m.u.append.n_entries = 2;
		m.u.append.entries = e;
		put(argv[1], "append", role, &m);
		memset(&m.u, 0, sizeof(m.u));
		m.type = RAFT_MSG_APPEND_RESP;
		m.u.append_resp.index = 3;
		m.u.append_resp.hint_term = 1;
		m.u.append_resp.hint_index = 2;
		m.u.append_resp.last_index = 3;
		put(argv[1], "append_reject", role, &m);
		m.u.append_resp.success = 1;
		put(argv[1], "append_ok", role, &m);
		memset(&m.u, 0, sizeof(m.u));
		m.type = RAFT_MSG_HEARTBEAT;
		m.u.heartbeat.commit = 2;
		m.u.heartbeat.read_seq = 1;
		put(argv[1], "heartbeat", role, &m);
		m.type = RAFT_MSG_HEARTBEAT_RESP;
		m.u.heartbeat_resp.read_seq = 1;
		put(argv[1], "heartbeat_resp", role, &m);
		memset(&m.u, 0, sizeof(m.u));
		m.type = RAFT_MSG_SNAPSHOT;
		m.u.snapshot.meta.index = 5;
		m.u.snapshot.meta.term = 2;
		m.u.snapshot.meta.conf.n = 2;
		m.u.snapshot.meta.conf.servers[0].id = 1;
		m.u.snapshot.meta.conf.servers[0].role = RAFT_VOTER;
		m.u.snapshot.meta.conf.servers[1].id = 2;
		m.u.snapshot.meta.conf.servers[1].role = RAFT_VOTER;
		m.u.snapshot.total_len = 7;
		m.u.snapshot.len = 7;
		m.u.snapshot.data = d;
		m.u.snapshot.done = 1;
		put(argv[1], "snapshot", role, &m);
		memset(&m.u, 0, sizeof(m.u));
		m.type = RAFT_MSG_SNAPSHOT_RESP;
		m.u.snapshot_resp.index = 3;
		m.u.snapshot_resp.done = 1;
		put(argv[1], "snapshot_resp", role, &m);
		memset(&m.u, 0, sizeof(m.u));
		m.type = RAFT_MSG_TIMEOUT_NOW;
		put(argv[1], "timeout_now", role, &m);
	}
	return 0;
}
