/*
 * Fuzz target: the Raft wire decoder, then the decoded message stepped
 * into a live core. The first input byte picks the receiver's role (even:
 * a follower, odd: a leader of term 2 in a 3-voter cluster); the rest is
 * the encoded message. Whatever the bytes, raft_decode must return 0,
 * ERR_MALFORMED or ERR_VERSION, and a message it accepts must never trip
 * an assertion in raft_step (nor in the follow-up persist and tick).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mp.h"
#include "raft/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct raft_entry ents[RAFT_BATCH_MAX];

static void boot(struct raft *r, int leader)
{
	struct raft_configuration c;
	struct raft_config cfg;
	struct raft_entry log[3];
	struct raft_update up;
	struct raft_event ev = {.type = RAFT_EV_TICK, .now_ms = 10000};
	struct raft_message m;
	struct mp_writer w;

	memset(&c, 0, sizeof(c));
	c.n = 3;
	for (uint32_t i = 0; i < 3; i++) {
		c.servers[i].id = i + 1;
		c.servers[i].role = RAFT_VOTER;
	}
	mp_writer_init(&w, 1024);
	raft_conf_encode(&c, &w);
	memset(log, 0, sizeof(log));
	log[0] = (struct raft_entry){.term = 1, .index = 1,
				     .type = RAFT_ENTRY_CONFIG,
				     .len = (uint32_t)mp_writer_len(&w),
				     .data = mp_writer_data(&w)};
	log[1] = (struct raft_entry){.term = 1, .index = 2,
				     .type = RAFT_ENTRY_NORMAL, .len = 1,
				     .data = (const uint8_t *)"a"};
	log[2] = (struct raft_entry){.term = 1, .index = 3,
				     .type = RAFT_ENTRY_NORMAL};
	raft_config_default(&cfg);
	cfg.id = 1;
	cfg.prevote = 0;
	cfg.msg_bytes_max = 64;
	if (raft_init(r, &cfg) != 0 ||
	    raft_restore(r, NULL, NULL, NULL, 0, log, 3, 0) != 0)
		abort();
	mp_writer_free(&w);
	if (!leader)
		return;
	ev.now_ms = 0; /* starts the clock */
	(void)raft_step(r, &ev, &up);
	ev.now_ms = 10000;
	(void)raft_step(r, &ev, &up);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_VOTE_RESP;
	m.from = 2;
	m.to = 1;
	m.term = raft_current_term(r);
	m.u.vote_resp.granted = 1;
	ev.type = RAFT_EV_RECEIVE;
	ev.u.msg = &m;
	(void)raft_step(r, &ev, &up);
	if (raft_current_role(r) != RAFT_LEADER)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft r;
	struct raft_message m;
	struct raft_update up;
	struct raft_event ev = {.type = RAFT_EV_RECEIVE, .now_ms = 10001};
	int rv;

	if (size < 1)
		return 0;
	rv = raft_decode(data + 1, size - 1, &m, ents, RAFT_BATCH_MAX);
	if (rv != 0) {
		if (rv != ERR_MALFORMED && rv != ERR_VERSION)
			abort();
		return 0;
	}
	boot(&r, data[0] & 1);
	m.to = 1;
	ev.u.msg = &m;
	if (raft_step(&r, &ev, &up) != 0)
		abort(); /* decoded messages pass raft_message_check */
	if (up.n_entries > 0) {
		ev.type = RAFT_EV_PERSISTED;
		ev.u.persisted.index = up.entries[up.n_entries - 1].index;
		ev.u.persisted.term = up.entries[up.n_entries - 1].term;
		(void)raft_step(&r, &ev, &up);
	}
	ev.type = RAFT_EV_TICK;
	ev.now_ms = 20000;
	(void)raft_step(&r, &ev, &up);
	raft_close(&r);
	return 0;
}
