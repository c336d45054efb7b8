/* Unit tests of the players domain (pdomain): joins count, leaves add
 * their time (saturating, bounded per session), names are checked, the
 * list is in name order and pages with `after`, a malformed body is
 * refused, and the counters survive a close and reopen. On RocksDB and on
 * the simulated disk. */
#include "tests/unit/storage/fixture.h"

#include "storage/pdomain.h"

static int event(struct fx *f, int op, const char *name, uint64_t inst,
		 uint64_t ms)
{
	struct stor_player_cmd c = {.op = op, .instance = inst, .online_ms = ms};
	uint8_t *data;
	size_t len;
	int rc;

	snprintf(c.name, sizeof(c.name), "%s", name);
	assert_int_equal(stor_player_encode(&c, &data, &len), 0);
	rc = fx_apply(f, data, len, NULL);
	return rc;
}

static void counts_joins_and_time(void **state)
{
	struct fx *f = *state;
	struct stor_player p;

	assert_int_equal(stor_player_get(f->s, "alice", &p), ERR_NOTFOUND);
	assert_int_equal(event(f, STOR_PLAYER_JOIN, "alice", 7, 0), 0);
	assert_int_equal(event(f, STOR_PLAYER_LEAVE, "alice", 7, 1500), 0);
	assert_int_equal(event(f, STOR_PLAYER_JOIN, "alice", 9, 0), 0);
	assert_int_equal(event(f, STOR_PLAYER_LEAVE, "alice", 9, 2500), 0);
	assert_int_equal(stor_player_get(f->s, "alice", &p), 0);
	assert_string_equal(p.name, "alice");
	assert_true(p.joins == 2 && p.online_ms == 4000 && p.last_instance == 9);
	/* A leave without a join (the join was before tracking): time only. */
	assert_int_equal(event(f, STOR_PLAYER_LEAVE, "bob", 7, 10), 0);
	assert_int_equal(stor_player_get(f->s, "bob", &p), 0);
	assert_true(p.joins == 0 && p.online_ms == 10);
	/* Survives a reopen. */
	stor_close(f->s);
	fx_open(f);
	assert_int_equal(stor_player_get(f->s, "alice", &p), 0);
	assert_true(p.joins == 2 && p.online_ms == 4000);
}

static void refuses_bad_commands(void **state)
{
	struct fx *f = *state;
	struct stor_player_cmd c = {.op = STOR_PLAYER_LEAVE};
	struct mp_writer w;
	uint8_t *data;
	size_t len;
	char longname[100];

	snprintf(c.name, sizeof(c.name), "alice");
	c.online_ms = STOR_PLAYER_SESSION_MS_MAX + 1;
	assert_int_equal(stor_player_encode(&c, &data, &len), ERR_INVAL);
	c.online_ms = 0;
	c.name[0] = '\0';
	assert_int_equal(stor_player_encode(&c, &data, &len), ERR_INVAL);
	snprintf(c.name, sizeof(c.name), "a\nb");
	assert_int_equal(stor_player_encode(&c, &data, &len), ERR_INVAL);
	c.op = 7;
	snprintf(c.name, sizeof(c.name), "alice");
	assert_int_equal(stor_player_encode(&c, &data, &len), ERR_INVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(stor_player_name_ok(longname));
	/* A body from elsewhere with a bad op: refused at apply, nothing
	 * written. */
	mp_writer_init(&w, 128);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_PLAYERS);
	mp_w_array(&w, 4);
	mp_w_uint(&w, 5);
	mp_w_cstr(&w, "mallory");
	mp_w_uint(&w, 1);
	mp_w_uint(&w, 0);
	assert_int_equal(mp_writer_take(&w, &data, &len), 0);
	assert_int_equal(fx_apply(f, data, len, NULL), ERR_MALFORMED);
	{
		struct stor_player p;

		assert_int_equal(stor_player_get(f->s, "mallory", &p),
				 ERR_NOTFOUND);
	}
}

static void saturates(void **state)
{
	struct fx *f = *state;
	struct stor_player p;

	/* 30 days a session, many times: never wraps. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(event(f, STOR_PLAYER_LEAVE, "old", 1,
				       STOR_PLAYER_SESSION_MS_MAX), 0);
	assert_int_equal(stor_player_get(f->s, "old", &p), 0);
	assert_true(p.online_ms == 5 * STOR_PLAYER_SESSION_MS_MAX);
}

static void lists_in_pages(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {"carol", "alice", "bob", "al",
					    "zed"};
	struct stor_player v[8];
	size_t n = 0;

	for (size_t i = 0; i < 5; i++)
		assert_int_equal(event(f, STOR_PLAYER_JOIN, names[i], 1, 0), 0);
	assert_int_equal(stor_players_list(f->s, "", v, 8, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].name, "al");
	assert_string_equal(v[1].name, "alice");
	assert_string_equal(v[4].name, "zed");
	assert_int_equal(stor_players_list(f->s, "", v, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(stor_players_list(f->s, "alice", v, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "bob");
	assert_int_equal(stor_players_list(f->s, "al", v, 1, &n), 0);
	assert_string_equal(v[0].name, "alice");
	assert_int_equal(stor_players_list(f->s, "zed", v, 8, &n), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(counts_joins_and_time),
		BOTH(refuses_bad_commands),
		BOTH(saturates),
		BOTH(lists_in_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
