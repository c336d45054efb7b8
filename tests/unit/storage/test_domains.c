/* Unit tests of the revisioned KV domain (kvrev) and the cluster domain
 * (cdomain): revisions are log indexes, CAS on revisions, bounded lists by
 * prefix, token and member records, join checks against the time carried
 * in the command, and that both domains survive a snapshot transfer. Run
 * on the in-memory store and on RocksDB. */
#include "tests/unit/storage/fixture.h"

#include "storage/cdomain.h"
#include "storage/kvrev.h"
#include "tests/lib/cmocka_all.h"

static int run(struct fx *f, uint8_t *data, size_t len, uint64_t *index)
{
	return fx_apply(f, data, len, index);
}

static int kv(struct fx *f, int op, const char *key, uint64_t cas,
	      const char *val, uint64_t *index)
{
	uint8_t *d;
	size_t n;

	assert_int_equal(stor_kvr_encode(op, "app", 3, key, strlen(key), cas,
					 val, val ? strlen(val) : 0, &d, &n),
			 0);
	return run(f, d, n, index);
}

static void expect(struct fx *f, const char *key, const char *val,
		   uint64_t rev)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	uint64_t r = 0;
	int rc = stor_kvr_get(f->s, "app", 3, key, strlen(key), &v, &vl, &r);

	if (val == NULL) {
		assert_int_equal(rc, ERR_NOTFOUND);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(vl, strlen(val));
	assert_memory_equal(v, val, vl);
	assert_int_equal(r, rev);
	free(v);
}

static void test_kvr_revisions_and_cas(void **state)
{
	struct fx *f = *state;
	uint64_t i1, i2, i3;

	assert_int_equal(kv(f, STOR_KVR_PUT, "a", STOR_KVR_ANY, "1", &i1), 0);
	expect(f, "a", "1", i1);
	/* cas 0 = only if absent: refused now, nothing written. */
	assert_int_equal(kv(f, STOR_KVR_PUT, "a", 0, "x", NULL), ERR_CONFLICT);
	expect(f, "a", "1", i1);
	/* A wrong revision is refused; the right one wins and moves it. */
	assert_int_equal(kv(f, STOR_KVR_PUT, "a", i1 + 100, "x", NULL),
			 ERR_CONFLICT);
	assert_int_equal(kv(f, STOR_KVR_PUT, "a", i1, "2", &i2), 0);
	assert_true(i2 > i1);
	expect(f, "a", "2", i2);
	/* The old revision no longer matches, for a delete either. */
	assert_int_equal(kv(f, STOR_KVR_DEL, "a", i1, NULL, NULL),
			 ERR_CONFLICT);
	assert_int_equal(kv(f, STOR_KVR_DEL, "a", i2, NULL, NULL), 0);
	expect(f, "a", NULL, 0);
	assert_int_equal(kv(f, STOR_KVR_DEL, "a", STOR_KVR_ANY, NULL, NULL),
			 ERR_NOTFOUND);
	/* cas 0 on an absent key creates it; an empty value is a value. */
	assert_int_equal(kv(f, STOR_KVR_PUT, "a", 0, "", &i3), 0);
	expect(f, "a", "", i3);
}

static void test_kvr_bounds(void **state)
{
	struct fx *f = *state;
	char key[STOR_KVR_KEY_MAX + 2];
	uint8_t *d = NULL;
	size_t n;

	(void)f;
	memset(key, 'k', sizeof(key));
	assert_int_equal(stor_kvr_encode(STOR_KVR_PUT, "app", 3, key,
					 STOR_KVR_KEY_MAX, STOR_KVR_ANY, "v",
					 1, &d, &n),
			 0);
	free(d);
	assert_int_equal(stor_kvr_encode(STOR_KVR_PUT, "app", 3, key,
					 STOR_KVR_KEY_MAX + 1, STOR_KVR_ANY,
					 "v", 1, &d, &n),
			 ERR_INVAL);
	assert_int_equal(stor_kvr_encode(STOR_KVR_PUT, "a/b", 3, "k", 1,
					 STOR_KVR_ANY, "v", 1, &d, &n),
			 ERR_INVAL);
	assert_int_equal(stor_kvr_encode(STOR_KVR_PUT, "", 0, "k", 1,
					 STOR_KVR_ANY, "v", 1, &d, &n),
			 ERR_INVAL);
	assert_true(stor_kvr_ns_ok("A-z_0.9", 7));
	assert_false(stor_kvr_ns_ok("a b", 3));
	memset(key, 'n', sizeof(key));
	assert_true(stor_kvr_ns_ok(key, STOR_KVR_NS_MAX));
	assert_false(stor_kvr_ns_ok(key, STOR_KVR_NS_MAX + 1));
}

static void list_expect(struct fx *f, const char *prefix, const char *after,
			size_t max, const char *want, int want_more)
{
	struct stor_kvr_item *it = NULL;
	char got[256] = "";
	size_t n = 0;
	int more = -1;

	assert_int_equal(stor_kvr_list(f->s, "app", 3, prefix, strlen(prefix),
				       after, after ? strlen(after) : 0, max,
				       &it, &n, &more),
			 0);
	for (size_t i = 0; i < n; i++) {
		strncat(got, (const char *)it[i].key, it[i].klen);
		strcat(got, ",");
		assert_true(it[i].rev > 0);
	}
	stor_kvr_items_free(it, n);
	if (strcmp(got, want) != 0)
		fail_msg("list(%s, after %s): got [%s], want [%s]", prefix,
			 after ? after : "-", got, want);
	assert_int_equal(more, want_more);
}

static void test_kvr_list(void **state)
{
	struct fx *f = *state;
	uint8_t *d;
	size_t n;
	const char *keys[] = {"b/1", "b/2", "b/3", "a", "c", "b"};

	for (size_t i = 0; i < 6; i++)
		assert_int_equal(kv(f, STOR_KVR_PUT, keys[i], STOR_KVR_ANY,
				    "v", NULL),
				 0);
	/* A key in another namespace that shares the prefix never shows. */
	assert_int_equal(stor_kvr_encode(STOR_KVR_PUT, "ap", 2, "pb/1", 4,
					 STOR_KVR_ANY, "v", 1, &d, &n),
			 0);
	assert_int_equal(run(f, d, n, NULL), 0);
	list_expect(f, "", NULL, 100, "a,b,b/1,b/2,b/3,c,", 0);
	list_expect(f, "b/", NULL, 100, "b/1,b/2,b/3,", 0);
	list_expect(f, "b", NULL, 2, "b,b/1,", 1);
	list_expect(f, "b", "b/1", 2, "b/2,b/3,", 0);
	list_expect(f, "b/", "a", 100, "b/1,b/2,b/3,", 0);
	list_expect(f, "", "c", 100, "", 0);
	list_expect(f, "zz", NULL, 100, "", 0);
}

static uint8_t *cl(const struct stor_cl_cmd *c, size_t *n)
{
	uint8_t *d = NULL;

	assert_int_equal(stor_cl_encode(c, &d, n), 0);
	return d;
}

static int cl_run(struct fx *f, const struct stor_cl_cmd *c)
{
	size_t n;
	uint8_t *d = cl(c, &n);

	return run(f, d, n, NULL);
}

static void make_token(struct stor_cl_token *t, const char *id, int kind,
		       uint64_t expires)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->kind = (uint8_t)kind;
	snprintf(t->name, sizeof(t->name), "tok-%s", id);
	memset(t->hash, kind + 1, sizeof(t->hash));
	t->created_ms = 1000;
	t->expires_ms = expires;
}

static void test_cl_tokens(void **state)
{
	struct fx *f = *state;
	struct stor_cl_token t, got[4];
	struct stor_cl_cmd c = {.op = STOR_CL_TOKEN_ADD};
	size_t n;

	make_token(&c.token, "00000000000000aa", STOR_CL_TOKEN_API, 0);
	c.token.role = 1;
	assert_int_equal(cl_run(f, &c), 0);
	assert_int_equal(cl_run(f, &c), ERR_EXISTS);
	make_token(&c.token, "00000000000000bb", STOR_CL_TOKEN_JOIN, 5000);
	assert_int_equal(cl_run(f, &c), 0);
	assert_int_equal(stor_cl_token_get(f->s, "00000000000000aa", &t), 0);
	assert_string_equal(t.name, "tok-00000000000000aa");
	assert_int_equal(t.role, 1);
	assert_int_equal(t.hash[0], 1);
	assert_int_equal(stor_cl_token_get(f->s, "00000000000000cc", &t),
			 ERR_NOTFOUND);
	assert_int_equal(stor_cl_token_get(f->s, "short", &t), ERR_NOTFOUND);
	memset(&c, 0, sizeof(c));
	c.op = STOR_CL_TOKEN_REVOKE;
	snprintf(c.token.id, sizeof(c.token.id), "00000000000000aa");
	assert_int_equal(cl_run(f, &c), 0);
	snprintf(c.token.id, sizeof(c.token.id), "00000000000000cc");
	assert_int_equal(cl_run(f, &c), ERR_NOTFOUND);
	assert_int_equal(stor_cl_tokens(f->s, got, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(got[0].id, "00000000000000aa");
	assert_int_equal(got[0].revoked, 1);
	assert_int_equal(got[1].kind, STOR_CL_TOKEN_JOIN);
	assert_int_equal(got[1].expires_ms, 5000);
	assert_int_equal(stor_cl_tokens(f->s, got, 1, &n), 0);
	assert_int_equal(n, 1);
	/* A bad token id never gets encoded. */
	snprintf(c.token.id, sizeof(c.token.id), "XYZ");
	assert_int_equal(stor_cl_encode(&c, &(uint8_t *){NULL}, &n), ERR_INVAL);
}

static void member(struct stor_cl_member *m, uint64_t id, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->addr, sizeof(m->addr), "127.0.0.1:%u", (unsigned)id);
	snprintf(m->http, sizeof(m->http), "127.0.0.1:%u", (unsigned)id + 1);
	memset(m->pk, (int)id, sizeof(m->pk));
}

static void test_cl_members_and_join(void **state)
{
	struct fx *f = *state;
	struct stor_cl_cmd c = {.op = STOR_CL_TOKEN_ADD};
	struct stor_cl_member m, all[4];
	size_t n;

	make_token(&c.token, "00000000000000b1", STOR_CL_TOKEN_JOIN, 5000);
	assert_int_equal(cl_run(f, &c), 0);
	make_token(&c.token, "00000000000000a1", STOR_CL_TOKEN_API, 0);
	assert_int_equal(cl_run(f, &c), 0);

	memset(&c, 0, sizeof(c));
	c.op = STOR_CL_MEMBER_PUT;
	member(&c.member, 7, "first");
	assert_int_equal(cl_run(f, &c), 0);

	c.op = STOR_CL_MEMBER_JOIN;
	member(&c.member, 9, "second");
	snprintf(c.token.id, sizeof(c.token.id), "00000000000000b1");
	c.now_ms = 5000; /* at the expiry: too late */
	assert_int_equal(cl_run(f, &c), ERR_AUTH);
	c.now_ms = 4999;
	snprintf(c.token.id, sizeof(c.token.id), "00000000000000a1");
	assert_int_equal(cl_run(f, &c), ERR_AUTH); /* not a join token */
	snprintf(c.token.id, sizeof(c.token.id), "00000000000000ff");
	assert_int_equal(cl_run(f, &c), ERR_AUTH); /* no such token */
	assert_int_equal(stor_cl_member_get(f->s, 9, &m), ERR_NOTFOUND);
	snprintf(c.token.id, sizeof(c.token.id), "00000000000000b1");
	assert_int_equal(cl_run(f, &c), 0);
	assert_int_equal(stor_cl_member_get(f->s, 9, &m), 0);
	assert_string_equal(m.name, "second");
	assert_string_equal(m.http, "127.0.0.1:10");
	assert_int_equal(m.pk[31], 9);

	/* Revoked: refused from then on, whatever the time. */
	memset(&c, 0, sizeof(c));
	c.op = STOR_CL_TOKEN_REVOKE;
	snprintf(c.token.id, sizeof(c.token.id), "00000000000000b1");
	assert_int_equal(cl_run(f, &c), 0);
	c.op = STOR_CL_MEMBER_JOIN;
	member(&c.member, 11, "third");
	c.now_ms = 1;
	assert_int_equal(cl_run(f, &c), ERR_AUTH);

	assert_int_equal(stor_cl_members(f->s, all, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(all[0].id, 7);
	assert_int_equal(all[1].id, 9);
	memset(&c, 0, sizeof(c));
	c.op = STOR_CL_MEMBER_DEL;
	c.member.id = 7;
	assert_int_equal(cl_run(f, &c), 0);
	assert_int_equal(cl_run(f, &c), ERR_NOTFOUND);
	assert_int_equal(stor_cl_members(f->s, all, 4, &n), 0);
	assert_int_equal(n, 1);
}

static void test_cl_cluster_id(void **state)
{
	struct fx *f = *state;
	struct stor_cl_cmd c = {.op = STOR_CL_SET_ID};
	uint8_t id[STOR_CL_ID_LEN];

	assert_int_equal(stor_cl_cluster_id(f->s, id), ERR_NOTFOUND);
	memset(c.cluster_id, 0x42, sizeof(c.cluster_id));
	assert_int_equal(cl_run(f, &c), 0);
	assert_int_equal(cl_run(f, &c), 0); /* same id again: no change */
	c.cluster_id[0] = 1;
	assert_int_equal(cl_run(f, &c), ERR_EXISTS);
	assert_int_equal(stor_cl_cluster_id(f->s, id), 0);
	assert_int_equal(id[0], 0x42);
}

/* Garbage bodies are results (every node rejects them alike), never a
 * crash or a storage error. */
static void test_malformed(void **state)
{
	struct fx *f = *state;
	struct mp_writer w;
	uint8_t *d;
	size_t n;

	for (int dom = STOR_DOMAIN_KVREV; dom <= STOR_DOMAIN_CLUSTER; dom++) {
		mp_writer_init(&w, 1024);
		mp_w_array(&w, 3);
		mp_w_uint(&w, STOR_CMD_VERSION);
		mp_w_uint(&w, (uint64_t)dom);
		mp_w_array(&w, 4);
		mp_w_uint(&w, 1);
		mp_w_cstr(&w, "bad ns");
		mp_w_uint(&w, 3);
		mp_w_nil(&w);
		assert_int_equal(mp_writer_take(&w, &d, &n), 0);
		assert_int_equal(run(f, d, n, NULL), ERR_MALFORMED);
	}
}

/* Both domains travel in a snapshot like any other state. */
static void test_snapshot_carries_domains(void **state)
{
	struct fx *f = *state, g;
	struct stor_cl_cmd c = {.op = STOR_CL_TOKEN_ADD};
	struct stor_cl_token t;
	uint64_t i1;

	assert_int_equal(kv(f, STOR_KVR_PUT, "k", STOR_KVR_ANY, "v", &i1), 0);
	make_token(&c.token, "0123456789abcdef", STOR_CL_TOKEN_API, 0);
	assert_int_equal(cl_run(f, &c), 0);
	fx_snapshot_to(f, &g);
	expect(&g, "k", "v", i1);
	assert_int_equal(stor_cl_token_get(g.s, "0123456789abcdef", &t), 0);
	fx_close_mem(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_kvr_revisions_and_cas),
		BOTH(test_kvr_bounds),
		BOTH(test_kvr_list),
		BOTH(test_cl_tokens),
		BOTH(test_cl_members_and_join),
		BOTH(test_cl_cluster_id),
		BOTH(test_malformed),
		BOTH(test_snapshot_carries_domains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
