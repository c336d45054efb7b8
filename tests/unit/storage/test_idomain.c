/* Unit tests of the instances domain (idomain): ids are log indexes,
 * names are unique and plain, ports are unique per node, assign/desired/
 * delete, and that a refused command changes nothing. In-memory store. */
#include "tests/unit/storage/util.h"

#include "storage/idomain.h"
#include "tests/lib/cmocka_all.h"

struct fx {
	struct stor_memdisk *md;
	struct stor *s;
	uint64_t next;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct stor_options o;

	assert_int_equal(stor_memdisk_new(NULL, NULL, &f->md), 0);
	util_small_options(&o, NULL);
	o.mem = f->md;
	assert_int_equal(stor_open(&o, &f->s), 0);
	f->next = stor_applied_index(f->s) + 1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stor_close(f->s);
	stor_memdisk_free(f->md);
	free(f);
	return 0;
}

static int run(struct fx *f, const struct stor_inst_cmd *c, uint64_t *index)
{
	struct stor_entry e = {.index = f->next, .term = 1,
			       .type = STOR_ENTRY_COMMAND};
	int result = 99;

	assert_int_equal(stor_inst_encode(c, &e.data, &e.len), 0);
	assert_int_equal(stor_log_append(f->s, &e, 1), 0);
	assert_int_equal(stor_apply(f->s, &e, 1, &result, 0), 0);
	free(e.data);
	if (index)
		*index = f->next;
	f->next++;
	return result;
}

static int create(struct fx *f, const char *name, uint64_t node,
		  uint16_t gp, uint16_t rp, uint64_t *id)
{
	struct stor_inst_cmd c = {.op = STOR_INST_CREATE};

	snprintf(c.inst.name, sizeof(c.inst.name), "%s", name);
	snprintf(c.inst.save, sizeof(c.inst.save), "%s", name);
	snprintf(c.inst.rcon_pw, sizeof(c.inst.rcon_pw), "secret");
	c.inst.node = node;
	c.inst.game_port = gp;
	c.inst.rcon_port = rp;
	return run(f, &c, id);
}

static int assign(struct fx *f, uint64_t id, uint64_t node, uint16_t gp,
		  uint16_t rp)
{
	struct stor_inst_cmd c = {.op = STOR_INST_ASSIGN};

	c.inst.id = id;
	c.inst.node = node;
	c.inst.game_port = gp;
	c.inst.rcon_port = rp;
	return run(f, &c, NULL);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(stor_inst_name_ok("alpha-1_x.y"));
	assert_false(stor_inst_name_ok(""));
	assert_false(stor_inst_name_ok("../etc"));
	assert_false(stor_inst_name_ok("a/b"));
	assert_false(stor_inst_name_ok(".hidden"));
	assert_false(stor_inst_name_ok("sp ace"));
	assert_false(stor_inst_name_ok(
		"x123456789012345678901234567890123456789012345678901234567890123"
		"4"));
}

static void test_create_get_list(void **state)
{
	struct fx *f = *state;
	struct stor_inst in, v[4];
	uint64_t id1, id2;
	size_t n;

	assert_int_equal(create(f, "alpha", 0, 0, 0, &id1), 0);
	assert_int_equal(create(f, "beta", 7, 34100, 34101, &id2), 0);
	assert_int_equal(stor_inst_get(f->s, id1, &in), 0);
	assert_int_equal(in.id, id1);
	assert_string_equal(in.name, "alpha");
	assert_string_equal(in.rcon_pw, "secret");
	assert_int_equal(stor_inst_by_name(f->s, "beta", &in), 0);
	assert_int_equal(in.id, id2);
	assert_int_equal(in.node, 7);
	assert_int_equal(in.game_port, 34100);
	assert_int_equal(stor_inst_by_name(f->s, "gamma", &in), ERR_NOTFOUND);
	assert_int_equal(stor_inst_by_name(f->s, "../x", &in), ERR_NOTFOUND);
	assert_int_equal(stor_inst_list(f->s, v, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "alpha");
	assert_string_equal(v[1].name, "beta");
	/* A duplicate name is refused and leaves no record behind. */
	assert_int_equal(create(f, "alpha", 0, 0, 0, NULL), ERR_EXISTS);
	assert_int_equal(stor_inst_list(f->s, v, 4, &n), 0);
	assert_int_equal(n, 2);
}

static void test_ports(void **state)
{
	struct fx *f = *state;
	struct stor_inst in;
	uint64_t a, b;

	assert_int_equal(create(f, "a", 7, 34100, 34101, &a), 0);
	/* Same port on the same node: refused, at create and at assign. */
	assert_int_equal(create(f, "b", 7, 34101, 34102, NULL), ERR_CONFLICT);
	assert_int_equal(stor_inst_by_name(f->s, "b", &in), ERR_NOTFOUND);
	assert_int_equal(create(f, "b", 8, 34100, 34101, &b), 0);
	assert_int_equal(assign(f, b, 7, 34102, 34100), ERR_CONFLICT);
	assert_int_equal(stor_inst_get(f->s, b, &in), 0);
	assert_int_equal(in.node, 8);
	/* Game and RCON port must differ. */
	assert_int_equal(assign(f, b, 9, 5, 5), ERR_CONFLICT);
	assert_int_equal(assign(f, b, 7, 34102, 34103), 0);
	/* Re-assigning an instance to its own ports is fine. */
	assert_int_equal(assign(f, b, 7, 34102, 34103), 0);
	/* Unassigning frees its ports; a gets them. */
	assert_int_equal(assign(f, b, 0, 1, 2), 0);
	assert_int_equal(stor_inst_get(f->s, b, &in), 0);
	assert_int_equal(in.node, 0);
	assert_int_equal(in.game_port, 0);
	assert_int_equal(assign(f, a, 7, 34102, 34103), 0);
	/* a's old ports were released by its move. */
	assert_int_equal(assign(f, b, 7, 34100, 34101), 0);
	assert_int_equal(assign(f, 999, 7, 1, 2), ERR_NOTFOUND);
}

static void test_desired_delete(void **state)
{
	struct fx *f = *state;
	struct stor_inst_cmd c = {.op = STOR_INST_DESIRED};
	struct stor_inst in;
	uint64_t a;

	assert_int_equal(create(f, "a", 7, 34100, 34101, &a), 0);
	c.inst.id = a;
	c.inst.desired = STOR_INST_RUNNING;
	assert_int_equal(run(f, &c, NULL), 0);
	assert_int_equal(stor_inst_get(f->s, a, &in), 0);
	assert_int_equal(in.desired, STOR_INST_RUNNING);
	c.op = STOR_INST_DELETE;
	assert_int_equal(run(f, &c, NULL), 0);
	assert_int_equal(stor_inst_get(f->s, a, &in), ERR_NOTFOUND);
	assert_int_equal(run(f, &c, NULL), ERR_NOTFOUND);
	/* The name and the ports are free again. */
	assert_int_equal(create(f, "a", 7, 34100, 34101, NULL), 0);
}

static void test_encode_refuses(void **state)
{
	struct stor_inst_cmd c = {.op = STOR_INST_CREATE};
	uint8_t *out = NULL;
	size_t len;

	(void)state;
	snprintf(c.inst.name, sizeof(c.inst.name), "../up");
	snprintf(c.inst.save, sizeof(c.inst.save), "s");
	snprintf(c.inst.rcon_pw, sizeof(c.inst.rcon_pw), "pw");
	assert_int_equal(stor_inst_encode(&c, &out, &len), ERR_INVAL);
	snprintf(c.inst.name, sizeof(c.inst.name), "ok");
	c.inst.rcon_pw[0] = '\0';
	assert_int_equal(stor_inst_encode(&c, &out, &len), ERR_INVAL);
	c.op = STOR_INST_DESIRED;
	c.inst.id = 1;
	c.inst.desired = 2;
	assert_int_equal(stor_inst_encode(&c, &out, &len), ERR_INVAL);
	assert_null(out);
}

/* CONFIG replaces the configuration fields and keeps the rest; a CREATE
 * of the first version (9 fields, written before the configuration came)
 * still applies, with the new fields at their defaults. */
static void test_config(void **state)
{
	struct fx *f = *state;
	struct stor_inst_cmd c = {.op = STOR_INST_CONFIG};
	struct stor_inst in;
	uint64_t id;

	assert_int_equal(create(f, "alpha", 7, 34100, 34101, &id), 0);
	assert_int_equal(stor_inst_get(f->s, id, &in), 0);
	assert_int_equal(in.exclude_from_start_all, 0);
	assert_int_equal(in.stop_timeout_ms, 0);
	assert_string_equal(in.settings, "");
	c.inst.id = id;
	c.inst.auto_start = 1;
	c.inst.exclude_from_start_all = 1;
	c.inst.stop_timeout_ms = 30000;
	snprintf(c.inst.settings, sizeof(c.inst.settings),
		 "{\"max_players\":7}");
	assert_int_equal(run(f, &c, NULL), 0);
	assert_int_equal(stor_inst_get(f->s, id, &in), 0);
	assert_int_equal(in.auto_start, 1);
	assert_int_equal(in.exclude_from_start_all, 1);
	assert_int_equal(in.stop_timeout_ms, 30000);
	assert_string_equal(in.settings, "{\"max_players\":7}");
	assert_int_equal(in.node, 7);
	assert_int_equal(in.game_port, 34100);
	assert_string_equal(in.rcon_pw, "secret");
	c.inst.id = id + 100;
	assert_int_equal(run(f, &c, NULL), ERR_NOTFOUND);
	c.inst.id = id;
	c.inst.stop_timeout_ms = STOR_INST_STOP_TIMEOUT_MS_MAX + 1;
	{
		uint8_t *b;
		size_t bl;

		assert_int_equal(stor_inst_encode(&c, &b, &bl), ERR_INVAL);
	}
}

static void test_v1_create(void **state)
{
	struct fx *f = *state;
	struct stor_entry e = {.index = f->next, .term = 1,
			       .type = STOR_ENTRY_COMMAND};
	struct stor_inst in;
	struct mp_writer w;
	int result = 99;

	mp_writer_init(&w, 1024);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_INSTANCES);
	mp_w_array(&w, 2);
	mp_w_uint(&w, STOR_INST_CREATE);
	mp_w_array(&w, 9);
	mp_w_uint(&w, 0);
	mp_w_cstr(&w, "old");
	mp_w_uint(&w, 3);
	mp_w_uint(&w, 34100);
	mp_w_uint(&w, 34101);
	mp_w_cstr(&w, "pw");
	mp_w_uint(&w, 1);
	mp_w_uint(&w, 1);
	mp_w_cstr(&w, "old");
	assert_int_equal(mp_writer_take(&w, &e.data, &e.len), 0);
	assert_int_equal(stor_log_append(f->s, &e, 1), 0);
	assert_int_equal(stor_apply(f->s, &e, 1, &result, 0), 0);
	free(e.data);
	f->next++;
	assert_int_equal(result, 0);
	assert_int_equal(stor_inst_by_name(f->s, "old", &in), 0);
	assert_int_equal(in.node, 3);
	assert_int_equal(in.desired, 1);
	assert_int_equal(in.exclude_from_start_all, 0);
	assert_int_equal(in.stop_timeout_ms, 0);
	assert_string_equal(in.settings, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test_setup_teardown(test_create_get_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_desired_delete, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
