/* Unit tests of the users domain (udomain): names unique without regard
 * to case, updates by mask and in batches (all or nothing), upserts with
 * their origin, roles (built-in ones protected), bad input refused at
 * encode and at decode, and token records with roles next to the records
 * written before roles existed. On RocksDB and on the simulated disk. */
#include "tests/unit/storage/fixture.h"

#include "base/mp.h"
#include "storage/cdomain.h"
#include "storage/udomain.h"

/* Appends and applies an encoded command; returns the domain's result. */
static int run_raw(struct fx *f, uint8_t *data, size_t len)
{
	struct stor_entry e = {.index = f->next, .term = 1,
			       .type = STOR_ENTRY_COMMAND, .data = data,
			       .len = len};
	int result = 99;

	assert_int_equal(stor_log_append(f->s, &e, 1), 0);
	assert_int_equal(stor_apply(f->s, &e, 1, &result, 0), 0);
	free(data);
	f->next++;
	return result;
}

static int run(struct fx *f, const struct stor_user_cmd *c)
{
	uint8_t *data;
	size_t len;

	assert_int_equal(stor_user_encode(c, &data, &len), 0);
	return run_raw(f, data, len);
}

static int create(struct fx *f, const char *name)
{
	struct stor_user_cmd c = {.op = STOR_USER_CREATE};

	snprintf(c.user.name, sizeof(c.user.name), "%s", name);
	return run(f, &c);
}

static int ban(struct fx *f, const char *name, int banned, const char *why,
	       int upsert, uint64_t origin)
{
	struct stor_user_upd d = {.mask = STOR_USER_F_BAN};
	struct stor_user_cmd c = {.op = STOR_USER_UPDATE, .upd = &d,
				  .nupd = 1, .upsert = (uint8_t)upsert,
				  .origin = origin};

	snprintf(d.u.name, sizeof(d.u.name), "%s", name);
	d.u.banned = (uint8_t)banned;
	snprintf(d.u.reason, sizeof(d.u.reason), "%s", why);
	return run(f, &c);
}

static void test_syntax(void **state)
{
	(void)state;
	assert_true(stor_user_name_ok("Alice_1.x-y"));
	assert_false(stor_user_name_ok(""));
	assert_false(stor_user_name_ok("has space"));
	assert_false(stor_user_name_ok("semi;colon"));
	assert_false(stor_user_name_ok("\xc3\xa9t\xc3\xa9"));
	assert_false(stor_user_name_ok(
		"x123456789012345678901234567890123456789012345678901234567890123"
		"4"));
	assert_true(stor_user_reason_ok(""));
	assert_true(stor_user_reason_ok("griefing the base, twice"));
	assert_false(stor_user_reason_ok("line\nbreak"));
	assert_true(stor_role_name_ok("moderator"));
	assert_false(stor_role_name_ok("Moderator"));
	assert_false(stor_role_name_ok("a.b"));
	assert_true(stor_perm_ok("user.write"));
	assert_true(stor_perm_ok("*.read"));
	assert_true(stor_perm_ok("instance.*"));
	assert_true(stor_perm_ok("*"));
	assert_false(stor_perm_ok("user"));
	assert_false(stor_perm_ok("user."));
	assert_false(stor_perm_ok(".read"));
	assert_false(stor_perm_ok("a.b.c"));
	assert_false(stor_perm_ok("us*r.read"));
	assert_false(stor_perm_ok("User.read"));
	assert_true(stor_role_builtin("admin"));
	assert_false(stor_role_builtin("moderator"));
}

static void test_case_insensitive(void **state)
{
	struct fx *f = *state;
	struct stor_user u, v[4];
	size_t n;

	assert_int_equal(create(f, "Alice"), 0);
	assert_int_equal(create(f, "alice"), ERR_EXISTS);
	assert_int_equal(create(f, "ALICE"), ERR_EXISTS);
	assert_int_equal(create(f, "bob"), 0);
	assert_int_equal(stor_user_get(f->s, "aLiCe", &u), 0);
	assert_string_equal(u.name, "Alice"); /* the spelling it was made with */
	assert_int_equal(stor_user_list(f->s, v, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "Alice");
	assert_string_equal(v[1].name, "bob");
	/* An update in another case reaches the same record. */
	assert_int_equal(ban(f, "ALICE", 1, "griefing", 0, 0), 0);
	assert_int_equal(stor_user_get(f->s, "alice", &u), 0);
	assert_true(u.banned);
	assert_string_equal(u.reason, "griefing");
	assert_string_equal(u.name, "Alice");
	assert_int_equal(stor_user_list(f->s, v, 4, &n), 0);
	assert_int_equal(n, 2);
}

static void test_update_mask_and_origin(void **state)
{
	struct fx *f = *state;
	struct stor_user_upd d = {.mask = STOR_USER_F_ADMIN};
	struct stor_user_cmd c = {.op = STOR_USER_UPDATE, .upd = &d,
				  .nupd = 1};
	struct stor_user u;
	uint64_t at;

	assert_int_equal(create(f, "carol"), 0);
	snprintf(d.u.name, sizeof(d.u.name), "carol");
	d.u.admin = 1;
	d.u.whitelisted = 1; /* not in the mask: unchanged */
	at = f->next;
	assert_int_equal(run(f, &c), 0);
	assert_int_equal(stor_user_get(f->s, "carol", &u), 0);
	assert_true(u.admin);
	assert_false(u.whitelisted);
	assert_int_equal(u.updated, at);
	assert_int_equal(u.origin, 0);
	/* Unknown without upsert: refused; with upsert: created, with the
	 * instance it came from. */
	assert_int_equal(ban(f, "dave", 1, "x", 0, 0), ERR_NOTFOUND);
	assert_int_equal(stor_user_get(f->s, "dave", &u), ERR_NOTFOUND);
	assert_int_equal(ban(f, "dave", 1, "spam", 1, 77), 0);
	assert_int_equal(stor_user_get(f->s, "dave", &u), 0);
	assert_true(u.banned);
	assert_int_equal(u.origin, 77);
	/* Unbanning clears the reason. */
	assert_int_equal(ban(f, "dave", 0, "ignored", 0, 0), 0);
	assert_int_equal(stor_user_get(f->s, "dave", &u), 0);
	assert_false(u.banned);
	assert_string_equal(u.reason, "");
	assert_int_equal(u.origin, 0);
}

/* A batch with one unknown name changes nothing (no upsert). */
static void test_batch_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct stor_user_upd d[3];
	struct stor_user_cmd c = {.op = STOR_USER_UPDATE, .upd = d, .nupd = 3};
	struct stor_user u;
	const char *names[] = {"erin", "nobody", "frank"};

	assert_int_equal(create(f, "erin"), 0);
	assert_int_equal(create(f, "frank"), 0);
	memset(d, 0, sizeof(d));
	for (int i = 0; i < 3; i++) {
		snprintf(d[i].u.name, sizeof(d[i].u.name), "%s", names[i]);
		d[i].mask = STOR_USER_F_WHITELIST;
		d[i].u.whitelisted = 1;
	}
	assert_int_equal(run(f, &c), ERR_NOTFOUND);
	assert_int_equal(stor_user_get(f->s, "erin", &u), 0);
	assert_false(u.whitelisted);
	c.upsert = 1;
	assert_int_equal(run(f, &c), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(stor_user_get(f->s, names[i], &u), 0);
		assert_true(u.whitelisted);
	}
}

static void test_delete(void **state)
{
	struct fx *f = *state;
	struct stor_user_cmd c = {.op = STOR_USER_DELETE};
	struct stor_user u;

	assert_int_equal(create(f, "Gina"), 0);
	snprintf(c.user.name, sizeof(c.user.name), "GINA");
	assert_int_equal(run(f, &c), 0);
	assert_int_equal(stor_user_get(f->s, "gina", &u), ERR_NOTFOUND);
	assert_int_equal(run(f, &c), ERR_NOTFOUND);
	assert_int_equal(create(f, "gina"), 0);
}

static void test_roles(void **state)
{
	struct fx *f = *state;
	struct stor_user_cmd c = {.op = STOR_ROLE_PUT};
	struct stor_role r, v[8];
	uint8_t *data;
	size_t n, len;

	assert_int_equal(stor_role_get(f->s, "admin", &r), 0);
	assert_true(r.builtin);
	assert_string_equal(r.perms[0], "*");
	assert_int_equal(stor_role_get(f->s, "read", &r), 0);
	assert_string_equal(r.perms[0], "*.read");
	assert_int_equal(stor_role_get(f->s, "moderator", &r), ERR_NOTFOUND);
	snprintf(c.role.name, sizeof(c.role.name), "moderator");
	snprintf(c.role.desc, sizeof(c.role.desc), "bans people");
	c.role.nperms = 2;
	snprintf(c.role.perms[0], sizeof(c.role.perms[0]), "user.write");
	snprintf(c.role.perms[1], sizeof(c.role.perms[1]), "*.read");
	assert_int_equal(run(f, &c), 0);
	assert_int_equal(stor_role_get(f->s, "moderator", &r), 0);
	assert_false(r.builtin);
	assert_int_equal(r.nperms, 2);
	assert_string_equal(r.perms[0], "user.write");
	/* Replaced whole. */
	c.role.nperms = 1;
	assert_int_equal(run(f, &c), 0);
	assert_int_equal(stor_role_get(f->s, "moderator", &r), 0);
	assert_int_equal(r.nperms, 1);
	assert_int_equal(stor_role_list(f->s, v, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "admin");
	assert_string_equal(v[1].name, "read");
	assert_string_equal(v[2].name, "moderator");
	/* Built-in roles cannot be replaced or deleted. */
	snprintf(c.role.name, sizeof(c.role.name), "admin");
	assert_int_equal(stor_user_encode(&c, &data, &len), ERR_INVAL);
	c.op = STOR_ROLE_DEL;
	assert_int_equal(stor_user_encode(&c, &data, &len), ERR_INVAL);
	snprintf(c.role.name, sizeof(c.role.name), "moderator");
	assert_int_equal(run(f, &c), 0);
	assert_int_equal(run(f, &c), ERR_NOTFOUND);
	assert_int_equal(stor_role_get(f->s, "moderator", &r), ERR_NOTFOUND);
}

/* A hand-made command: [1, 6, body]. */
static int run_body(struct fx *f, void (*write)(struct mp_writer *w))
{
	struct mp_writer w;
	uint8_t *data;
	size_t len;

	mp_writer_init(&w, 1 << 16);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_USERS);
	write(&w);
	assert_int_equal(mp_writer_take(&w, &data, &len), 0);
	return run_raw(f, data, len);
}

static void body_bad_name(struct mp_writer *w)
{
	mp_w_array(w, 2);
	mp_w_uint(w, STOR_USER_CREATE);
	mp_w_array(w, 8);
	mp_w_cstr(w, "bad name");
	for (int i = 0; i < 3; i++)
		mp_w_uint(w, 0);
	mp_w_cstr(w, "");
	mp_w_array(w, 0);
	mp_w_uint(w, 0);
	mp_w_uint(w, 0);
}

static void body_builtin_role(struct mp_writer *w)
{
	mp_w_array(w, 2);
	mp_w_uint(w, STOR_ROLE_PUT);
	mp_w_array(w, 3);
	mp_w_cstr(w, "admin");
	mp_w_cstr(w, "");
	mp_w_array(w, 0);
}

static void body_empty_update(struct mp_writer *w)
{
	mp_w_array(w, 4);
	mp_w_uint(w, STOR_USER_UPDATE);
	mp_w_array(w, 0);
	mp_w_uint(w, 0);
	mp_w_uint(w, 0);
}

static void body_unknown_op(struct mp_writer *w)
{
	mp_w_array(w, 2);
	mp_w_uint(w, 9);
	mp_w_cstr(w, "x");
}

/* Commands that a node's encoder would refuse, arriving in the log
 * anyway: every node refuses them alike and nothing changes. */
static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct stor_user_cmd c = {.op = STOR_USER_CREATE};
	struct stor_user_upd d = {.mask = 0};
	uint64_t digest0, digest1, cnt0, cnt1;
	uint8_t *data;
	size_t len;

	assert_int_equal(stor_state_digest(f->s, &digest0, &cnt0), 0);
	assert_int_equal(run_body(f, body_bad_name), ERR_MALFORMED);
	assert_int_equal(run_body(f, body_builtin_role), ERR_CONFLICT);
	assert_int_equal(run_body(f, body_empty_update), ERR_MALFORMED);
	assert_int_equal(run_body(f, body_unknown_op), ERR_MALFORMED);
	assert_int_equal(stor_state_digest(f->s, &digest1, &cnt1), 0);
	assert_int_equal(cnt0, cnt1);
	assert_true(digest0 == digest1);
	/* The encoder refuses the same shapes. */
	snprintf(c.user.name, sizeof(c.user.name), "no spaces");
	assert_int_equal(stor_user_encode(&c, &data, &len), ERR_INVAL);
	snprintf(c.user.name, sizeof(c.user.name), "ok");
	snprintf(c.user.reason, sizeof(c.user.reason), "tab\there");
	assert_int_equal(stor_user_encode(&c, &data, &len), ERR_INVAL);
	c.user.reason[0] = '\0';
	c.user.nroles = 1;
	snprintf(c.user.roles[0], sizeof(c.user.roles[0]), "Bad Role");
	assert_int_equal(stor_user_encode(&c, &data, &len), ERR_INVAL);
	c.op = STOR_USER_UPDATE;
	c.upd = &d;
	c.nupd = 1;
	snprintf(d.u.name, sizeof(d.u.name), "ok");
	assert_int_equal(stor_user_encode(&c, &data, &len), ERR_INVAL);
	c.nupd = STOR_USER_BATCH_MAX + 1;
	assert_int_equal(stor_user_encode(&c, &data, &len), ERR_INVAL);
}

static int token_add(struct fx *f, const struct stor_cl_token *t)
{
	struct stor_cl_cmd c;
	uint8_t *data;
	size_t len;

	memset(&c, 0, sizeof(c));
	c.op = STOR_CL_TOKEN_ADD;
	c.token = *t;
	assert_int_equal(stor_cl_encode(&c, &data, &len), 0);
	return run_raw(f, data, len);
}

/* Tokens with roles and a user sit next to plain ones; both read back. */
static void test_token_roles(void **state)
{
	struct fx *f = *state;
	struct stor_cl_token t, got;

	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "00112233445566aa");
	t.role = 1;
	assert_int_equal(token_add(f, &t), 0);
	assert_int_equal(stor_cl_token_get(f->s, t.id, &got), 0);
	assert_int_equal(got.nroles, 0);
	assert_int_equal(got.role, 1);
	snprintf(t.id, sizeof(t.id), "00112233445566bb");
	t.nroles = 2;
	snprintf(t.roles[0], sizeof(t.roles[0]), "moderator");
	snprintf(t.roles[1], sizeof(t.roles[1]), "read");
	snprintf(t.user, sizeof(t.user), "Alice");
	assert_int_equal(token_add(f, &t), 0);
	assert_int_equal(stor_cl_token_get(f->s, t.id, &got), 0);
	assert_int_equal(got.nroles, 2);
	assert_string_equal(got.roles[0], "moderator");
	assert_string_equal(got.roles[1], "read");
	assert_string_equal(got.user, "Alice");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		BOTH(test_case_insensitive),
		BOTH(test_update_mask_and_origin),
		BOTH(test_batch_all_or_nothing),
		BOTH(test_delete),
		BOTH(test_roles),
		BOTH(test_bad_input),
		BOTH(test_token_roles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
