/*
 * Codec tests: every message type round-trips; every bound is checked
 * (ERR_MALFORMED, ERR_VERSION); mutated encodings either fail to decode
 * or decode to messages raft_step accepts without tripping an assertion.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cmocka_all.h"

#include "base/err.h"
#include "base/mp.h"
#include "base/prng.h"
#include "raft/raft.h"
#include "tests/unit/raft/harness.h"

static uint8_t data_a[] = "alpha";
static uint8_t data_b[] = "bravo-charlie";
static struct raft_entry sample_ents[3] = {
	{.term = 4, .index = 11, .type = RAFT_ENTRY_NORMAL, .len = 5,
	 .data = data_a},
	{.term = 5, .index = 12, .type = RAFT_ENTRY_BARRIER, .len = 0,
	 .data = NULL},
	{.term = 5, .index = 13, .type = RAFT_ENTRY_NORMAL, .len = 13,
	 .data = data_b},
};

/* One message of each type with every field set. */
static int sample(int type, struct raft_message *m)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)type;
	m->from = 3;
	m->to = 1;
	m->term = 5;
	switch (type) {
	case RAFT_MSG_VOTE:
		m->u.vote = (struct raft_msg_vote){
			.last_index = 9, .last_term = 4, .prevote = 1,
			.force = 1};
		return 1;
	case RAFT_MSG_VOTE_RESP:
		m->u.vote_resp.granted = 1;
		m->u.vote_resp.prevote = 1;
		return 1;
	case RAFT_MSG_APPEND:
		m->u.append.prev_index = 10;
		m->u.append.prev_term = 4;
		m->u.append.commit = 8;
		m->u.append.n_entries = 3;
		m->u.append.entries = sample_ents;
		return 1;
	case RAFT_MSG_APPEND_RESP:
		m->u.append_resp = (struct raft_msg_append_resp){
			.success = 0, .index = 10, .hint_term = 3,
			.hint_index = 7, .last_index = 12};
		return 1;
	case RAFT_MSG_HEARTBEAT:
		m->u.heartbeat.commit = 8;
		m->u.heartbeat.read_seq = 77;
		return 1;
	case RAFT_MSG_HEARTBEAT_RESP:
		m->u.heartbeat_resp.read_seq = 77;
		return 1;
	case RAFT_MSG_SNAPSHOT:
		m->u.snapshot.meta.index = 20;
		m->u.snapshot.meta.term = 4;
		m->u.snapshot.meta.conf.n = 2;
		m->u.snapshot.meta.conf.servers[0].id = 1;
		m->u.snapshot.meta.conf.servers[0].role = RAFT_VOTER;
		m->u.snapshot.meta.conf.servers[1].id = 3;
		m->u.snapshot.meta.conf.servers[1].role = RAFT_LEARNER;
		m->u.snapshot.total_len = 18;
		m->u.snapshot.offset = 5;
		m->u.snapshot.len = 13;
		m->u.snapshot.data = data_b;
		m->u.snapshot.done = 1;
		return 1;
	case RAFT_MSG_SNAPSHOT_RESP:
		m->u.snapshot_resp = (struct raft_msg_snapshot_resp){
			.index = 20, .next_offset = 5, .done = 0, .reject = 1};
		return 1;
	case RAFT_MSG_TIMEOUT_NOW:
		return 1;
	default:
		return 0;
	}
}

static size_t encode(const struct raft_message *m, uint8_t *out, size_t cap)
{
	struct mp_writer w;
	size_t n;

	mp_writer_init(&w, 1 << 20);
	raft_encode(m, &w);
	assert_int_equal(mp_writer_error(&w), 0);
	n = mp_writer_len(&w);
	assert_true(n <= cap);
	memcpy(out, mp_writer_data(&w), n);
	mp_writer_free(&w);
	return n;
}

static void assert_same(const struct raft_message *a,
			const struct raft_message *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->to, b->to);
	assert_int_equal(a->term, b->term);
	if (a->type == RAFT_MSG_APPEND) {
		const struct raft_msg_append *x = &a->u.append, *y = &b->u.append;

		assert_int_equal(x->prev_index, y->prev_index);
		assert_int_equal(x->prev_term, y->prev_term);
		assert_int_equal(x->commit, y->commit);
		assert_int_equal(x->n_entries, y->n_entries);
		for (uint32_t i = 0; i < x->n_entries; i++) {
			assert_int_equal(x->entries[i].term, y->entries[i].term);
			assert_int_equal(x->entries[i].index, y->entries[i].index);
			assert_int_equal(x->entries[i].type, y->entries[i].type);
			assert_int_equal(x->entries[i].len, y->entries[i].len);
			if (x->entries[i].len > 0)
				assert_memory_equal(x->entries[i].data,
						    y->entries[i].data,
						    x->entries[i].len);
		}
	} else if (a->type == RAFT_MSG_SNAPSHOT) {
		const struct raft_msg_snapshot *x = &a->u.snapshot,
					       *y = &b->u.snapshot;

		assert_int_equal(x->meta.index, y->meta.index);
		assert_int_equal(x->meta.term, y->meta.term);
		assert_int_equal(x->meta.conf.n, y->meta.conf.n);
		for (uint32_t i = 0; i < x->meta.conf.n; i++) {
			assert_int_equal(x->meta.conf.servers[i].id,
					 y->meta.conf.servers[i].id);
			assert_int_equal(x->meta.conf.servers[i].role,
					 y->meta.conf.servers[i].role);
		}
		assert_int_equal(x->total_len, y->total_len);
		assert_int_equal(x->offset, y->offset);
		assert_int_equal(x->len, y->len);
		assert_memory_equal(x->data, y->data, x->len);
		assert_int_equal(x->done, y->done);
	} else {
		/* The other bodies are plain integers: compare the union. */
		assert_memory_equal(&a->u, &b->u, sizeof(a->u.append_resp));
	}
}

static void codec_roundtrip_every_type(void **state)
{
	uint8_t buf[4096];
	struct raft_entry ents[8];
	struct raft_message m, d;

	(void)state;
	for (int t = 1; t < RAFT_MSG_TYPE_MAX_; t++) {
		size_t n;

		assert_true(sample(t, &m));
		assert_int_equal(raft_message_check(&m), 0);
		n = encode(&m, buf, sizeof(buf));
		assert_int_equal(raft_decode(buf, n, &d, ents, 8), 0);
		assert_same(&m, &d);
		/* Every strict prefix is rejected, without a crash. */
		for (size_t k = 0; k < n; k++)
			assert_int_equal(raft_decode(buf, k, &d, ents, 8),
					 ERR_MALFORMED);
	}
}

static void codec_rejects_bad_envelopes(void **state)
{
	uint8_t buf[4096];
	struct raft_entry ents[8];
	struct raft_message m, d;
	struct mp_writer w;
	size_t n;

	(void)state;
	sample(RAFT_MSG_HEARTBEAT, &m);
	n = encode(&m, buf, sizeof(buf));
	/* [version, ...]: version is the second byte (after fixarray). */
	buf[1] = 2;
	assert_int_equal(raft_decode(buf, n, &d, ents, 8), ERR_VERSION);
	/* Too few entry slots for the message. */
	sample(RAFT_MSG_APPEND, &m);
	n = encode(&m, buf, sizeof(buf));
	assert_int_equal(raft_decode(buf, n, &d, ents, 2), ERR_MALFORMED);
	/* Unknown type, wrong field count, not an array. */
	mp_writer_init(&w, 1024);
	mp_w_array(&w, 5);
	mp_w_uint(&w, 1);
	mp_w_uint(&w, 42);
	mp_w_uint(&w, 1);
	mp_w_uint(&w, 2);
	mp_w_uint(&w, 3);
	assert_int_equal(raft_decode(mp_writer_data(&w), mp_writer_len(&w), &d,
				     ents, 8),
			 ERR_MALFORMED);
	mp_writer_reset(&w);
	mp_w_array(&w, 6);
	for (int i = 0; i < 6; i++)
		mp_w_uint(&w, (uint64_t)(i == 1 ? RAFT_MSG_TIMEOUT_NOW : 1));
	assert_int_equal(raft_decode(mp_writer_data(&w), mp_writer_len(&w), &d,
				     ents, 8),
			 ERR_MALFORMED);
	mp_writer_reset(&w);
	mp_w_map(&w, 0);
	assert_int_equal(raft_decode(mp_writer_data(&w), mp_writer_len(&w), &d,
				     ents, 8),
			 ERR_MALFORMED);
	mp_writer_free(&w);
}

/* An append of one entry, by hand: its data as bytes, or (bad) as an
 * integer. */
static void write_append(struct mp_writer *w, int bad)
{
	static const uint64_t head[] = {RAFT_WIRE_VERSION, RAFT_MSG_APPEND,
					2, 1, 3, 0, 0, 0};

	mp_writer_reset(w);
	mp_w_array(w, 9);
	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
		mp_w_uint(w, head[i]);
	mp_w_array(w, 1);
	mp_w_array(w, 3);
	mp_w_uint(w, 3);
	mp_w_uint(w, RAFT_ENTRY_NORMAL);
	if (bad)
		mp_w_uint(w, 7);
	else
		mp_w_bin(w, (const uint8_t *)"ok", 2);
}

/* Fields of the wrong msgpack type are refused: an entry whose data is
 * an integer instead of bytes; and raft_message_check refuses entry types
 * outside NORMAL..BARRIER. */
static void codec_rejects_wrong_field_types(void **state)
{
	struct raft_entry ents[4], e[3];
	struct raft_message m, d;
	struct mp_writer w;

	(void)state;
	mp_writer_init(&w, 1024);
	write_append(&w, 0); /* the control */
	assert_int_equal(raft_decode(mp_writer_data(&w), mp_writer_len(&w), &d,
				     ents, 4),
			 0);
	write_append(&w, 1);
	assert_int_equal(raft_decode(mp_writer_data(&w), mp_writer_len(&w), &d,
				     ents, 4),
			 ERR_MALFORMED);
	mp_writer_free(&w);
	sample(RAFT_MSG_APPEND, &m);
	memcpy(e, sample_ents, sizeof(e));
	m.u.append.entries = e;
	assert_int_equal(raft_message_check(&m), 0);
	e[0].type = RAFT_ENTRY_BARRIER + 1;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	e[0].type = RAFT_ENTRY_NORMAL - 1;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
}

static void codec_check_catches_inconsistency(void **state)
{
	struct raft_message m;
	struct raft_entry e[3];

	(void)state;
	sample(RAFT_MSG_APPEND, &m);
	memcpy(e, sample_ents, sizeof(e));
	m.u.append.entries = e;
	e[1].term = 3; /* terms go backwards */
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	e[1].term = 6; /* above the message term */
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	e[1].term = 5;
	e[2].index = 20; /* not consecutive */
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	sample(RAFT_MSG_SNAPSHOT, &m);
	m.u.snapshot.offset = 6; /* 6 + 13 > 18 */
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	sample(RAFT_MSG_SNAPSHOT, &m);
	m.u.snapshot.meta.conf.servers[1].id = 1; /* duplicate id */
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	sample(RAFT_MSG_VOTE, &m);
	m.term = RAFT_NUM_MAX;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	sample(RAFT_MSG_VOTE, &m);
	m.from = 0;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
}

/* A snapshot message whose term is 0, or whose snapshot term is above the
 * message's own term, cannot come from a leader: raft_message_check must
 * refuse it (a snapshot term equal to the message term is fine). */
static void codec_check_snapshot_terms(void **state)
{
	struct raft_message m;

	(void)state;
	sample(RAFT_MSG_SNAPSHOT, &m); /* term 5, snapshot term 4 */
	assert_int_equal(raft_message_check(&m), 0);
	m.u.snapshot.meta.term = 5;
	assert_int_equal(raft_message_check(&m), 0);
	m.u.snapshot.meta.term = 6;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	m.u.snapshot.meta.term = 0;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	sample(RAFT_MSG_SNAPSHOT, &m);
	m.term = 0;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	m.u.snapshot.meta.term = 0;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
}

static struct raft_entry batch[RAFT_BATCH_MAX + 1];
static struct raft_entry batch_rx[RAFT_BATCH_MAX + 1];
static uint8_t batch_buf[16 * (RAFT_BATCH_MAX + 1) + 64];

/* A full batch, exactly RAFT_BATCH_MAX entries, decodes into an array of
 * RAFT_BATCH_MAX; one entry more is refused by the decoder and by
 * raft_message_check, even with room to hold it. */
static void codec_full_batch_decodes(void **state)
{
	static uint8_t one = 'x';
	struct raft_message m, out;
	size_t n;

	(void)state;
	for (uint32_t i = 0; i <= RAFT_BATCH_MAX; i++) {
		batch[i].index = (raft_index)i + 1;
		batch[i].term = 1;
		batch[i].type = RAFT_ENTRY_NORMAL;
		batch[i].len = 1;
		batch[i].data = &one;
	}
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.from = 2;
	m.to = 1;
	m.term = 1;
	m.u.append.n_entries = RAFT_BATCH_MAX;
	m.u.append.entries = batch;
	assert_int_equal(raft_message_check(&m), 0);
	n = encode(&m, batch_buf, sizeof(batch_buf));
	assert_int_equal(raft_decode(batch_buf, n, &out, batch_rx,
				     RAFT_BATCH_MAX),
			 0);
	assert_int_equal(out.u.append.n_entries, RAFT_BATCH_MAX);
	assert_int_equal(out.u.append.entries[RAFT_BATCH_MAX - 1].index,
			 RAFT_BATCH_MAX);
	m.u.append.n_entries = RAFT_BATCH_MAX + 1;
	assert_int_equal(raft_message_check(&m), ERR_MALFORMED);
	n = encode(&m, batch_buf, sizeof(batch_buf));
	assert_int_equal(raft_decode(batch_buf, n, &out, batch_rx,
				     RAFT_BATCH_MAX + 1),
			 ERR_MALFORMED);
}

/* Mutated encodings: each either fails to decode or passes the checks and
 * is stepped into a live follower and a live leader without an assertion
 * firing (the fuzz target does the same, open-ended). */
static void codec_mutations_never_trip_raft(void **state)
{
	uint8_t buf[4096], mut[4096];
	struct raft_entry ents[RAFT_BATCH_MAX];
	struct raft_message m, d;
	struct prng p;
	struct h h;
	int l, ok = 0;

	(void)state;
	prng_seed(&p, 42);
	h_init(&h, 3, 3, NULL, NULL);
	l = h_elect(&h, 50);
	for (int iter = 0; iter < 20000; iter++) {
		int t = 1 + (int)prng_below(&p, RAFT_MSG_TYPE_MAX_ - 1);
		size_t n;
		int flips = 1 + (int)prng_below(&p, 3);

		sample(t, &m);
		m.to = prng_chance(&p, 0.5) ? (raft_id)l : (raft_id)(l % 3 + 1);
		m.from = 1 + prng_below(&p, 4);
		n = encode(&m, buf, sizeof(buf));
		memcpy(mut, buf, n);
		for (int f = 0; f < flips; f++)
			mut[prng_below(&p, n)] = (uint8_t)prng_next(&p);
		if (raft_decode(mut, n, &d, ents, RAFT_BATCH_MAX) != 0)
			continue;
		ok++;
		if (d.to >= 1 && d.to <= 3) {
			struct raft_event ev = {.type = RAFT_EV_RECEIVE};

			ev.u.msg = &d;
			(void)h_step(&h, (int)d.to, &ev);
		}
		if (iter % 100 == 0)
			h_run(&h, 5);
	}
	print_message("%d of 20000 mutants decoded and were stepped\n", ok);
	assert_true(ok > 1000); /* many mutants were valid and stepped */
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codec_roundtrip_every_type),
		cmocka_unit_test(codec_rejects_bad_envelopes),
		cmocka_unit_test(codec_check_catches_inconsistency),
		cmocka_unit_test(codec_check_snapshot_terms),
		cmocka_unit_test(codec_rejects_wrong_field_types),
		cmocka_unit_test(codec_full_batch_decodes),
		cmocka_unit_test(codec_mutations_never_trip_raft),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
