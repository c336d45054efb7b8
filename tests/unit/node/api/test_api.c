/* Unit tests of node/api against the fake core: every status the issue
 * fixes (200/201, 400, 401, 403, 404, 405, 409 with the current revision,
 * 413, 503 with Retry-After), authentication with hashed tokens, deferred
 * answers completed inside the core call, later, and after the client
 * went away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "node/api/api.h"
#include "tests/lib/cmocka_all.h"
#include "tests/unit/node/api/fake_core.h"

struct fx {
	struct fake_core core;
	struct api api;
	char admin[CORE_TOKEN_STR_LEN + 1];
	char reader[CORE_TOKEN_STR_LEN + 1];
	int closed;     /* the "client" went away before the answer */
	int loopback;
	const char *idem; /* Idempotency-Key of the next calls (NULL: none) */
};

/* What came back. */
struct resp {
	int status;
	char body[4096];
	size_t len;
	char revision[64];    /* X-Clusterd-Revision */
	char retry_after[64]; /* Retry-After */
	int done;
	cJSON *json;
};

/* A request and its headers (looked up through get_header). */
struct treq {
	struct http_request r;
	const char *auth;
	struct fx *fx;
	struct resp *out;
};

static const char *get_header(const struct http_request *r, const char *name,
			      size_t *len)
{
	const struct treq *t = (const struct treq *)r;

	if (strcmp(name, "idempotency-key") == 0 && t->fx->idem != NULL) {
		*len = strlen(t->fx->idem);
		return t->fx->idem;
	}
	if (strcmp(name, "authorization") != 0 || t->auth == NULL)
		return NULL;
	*len = strlen(t->auth);
	return t->auth;
}

static void take(struct resp *out, struct http_reply *rep)
{
	out->status = rep->status;
	out->len = rep->body.len < sizeof(out->body) - 1 ? rep->body.len
						       : sizeof(out->body) - 1;
	if (out->len)
		memcpy(out->body, rep->body.p, out->len);
	out->body[out->len] = '\0';
	for (unsigned i = 0; i < rep->nheaders; i++) {
		if (strcmp(rep->headers[i].name, "X-Clusterd-Revision") == 0)
			snprintf(out->revision, sizeof(out->revision), "%s",
				 rep->headers[i].value);
		if (strcmp(rep->headers[i].name, "Retry-After") == 0)
			snprintf(out->retry_after, sizeof(out->retry_after),
				 "%s", rep->headers[i].value);
	}
	if (strcmp(rep->content_type, "application/json") == 0)
		out->json = cJSON_ParseWithLength(out->body, out->len);
	out->done++;
}

static void on_async_done(void *arg, struct http_reply *rep)
{
	take(arg, rep);
}

static struct http_async *t_defer(const struct http_request *r)
{
	const struct treq *t = (const struct treq *)r;

	return http_async_new_test(on_async_done, t->out, &t->fx->closed);
}

static void resp_free(struct resp *r)
{
	cJSON_Delete(r->json);
	r->json = NULL;
}

/* Runs one request; target is "PATH[?QUERY]"; auth NULL: no header. */
static struct resp *call(struct fx *f, const char *method, const char *target,
			 const void *body, size_t blen, const char *auth)
{
	static struct resp out;
	struct http_reply rep;
	struct treq t;
	const char *q = strchr(target, '?');
	int rc;

	resp_free(&out);
	memset(&out, 0, sizeof(out));
	memset(&t, 0, sizeof(t));
	t.r.method = method;
	t.r.method_len = strlen(method);
	t.r.path = t.r.raw_path = target;
	t.r.path_len = t.r.raw_path_len = q ? (size_t)(q - target)
					    : strlen(target);
	if (q) {
		t.r.query = q + 1;
		t.r.query_len = strlen(q + 1);
	}
	t.r.body = body;
	t.r.body_len = blen;
	t.r.peer_loopback = f->loopback;
	t.r.get_header = get_header;
	t.r.defer = t_defer;
	t.auth = auth;
	t.fx = f;
	t.out = &out;
	memset(&rep, 0, sizeof(rep));
	rep.status = 200;
	rep.content_type = "application/json";
	wbuf_init(&rep.body, HTTP_BODY_MAX);
	rc = api_handle(&f->api, &t.r, &rep);
	if (rc == HTTP_PENDING) {
		assert_int_equal(rep.body.len, 0);
		fake_flush(&f->core);
		assert_int_equal(out.done, 1);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(out.done, 0);
		take(&out, &rep);
	}
	wbuf_free(&rep.body);
	return &out;
}

static char *bearer(const char *tok)
{
	static char buf[2][128];
	static int i;

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "Bearer %s", tok);
	return buf[i];
}

static struct resp *as_admin(struct fx *f, const char *m, const char *t,
			     const char *body)
{
	return call(f, m, t, body, body ? strlen(body) : 0, bearer(f->admin));
}

static int setup_with(void **state, int deferred)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct core core;

	fake_init(&f->core);
	f->core.deferred = deferred;
	core.ops = &fake_core_ops;
	core.ctx = &f->core;
	api_init(&f->api, &core);
	fake_add_token(&f->core, CORE_TOKEN_API, CORE_ROLE_ADMIN, 0, f->admin);
	fake_add_token(&f->core, CORE_TOKEN_API, CORE_ROLE_READ, 0, f->reader);
	*state = f;
	return 0;
}

static int setup_sync(void **state)
{
	return setup_with(state, 0);
}

static int setup_deferred(void **state)
{
	return setup_with(state, 1);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	resp_free(call(f, "GET", "/nothing", NULL, 0, NULL));
	fake_free(&f->core);
	free(f);
	return 0;
}

static double num(const struct resp *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, key);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static const char *str(const struct resp *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, key);

	if (!cJSON_IsString(v))
		fail_msg("no string %s in %s", key, r->body);
	return v->valuestring;
}

/* Checks a JSON error answer. */
static void expect_error(const struct resp *r, int status)
{
	if (r->status != status)
		fail_msg("status %d, want %d: %s", r->status, status, r->body);
	assert_non_null(r->json);
	assert_true(strlen(str(r, "error")) > 0);
	if (status == 503)
		assert_string_equal(r->retry_after, "1");
}

static void test_auth(void **state)
{
	struct fx *f = *state;
	char tok[CORE_TOKEN_STR_LEN + 1], join[CORE_TOKEN_STR_LEN + 1];
	const char *path = "/api/v1/kv/app?prefix=";

	expect_error(call(f, "GET", path, NULL, 0, NULL), 401);
	expect_error(call(f, "GET", path, NULL, 0, "Bearer nope"), 401);
	expect_error(call(f, "GET", path, NULL, 0, "Basic abc"), 401);
	/* Right id, wrong secret: refused on the hash. */
	memcpy(tok, f->admin, sizeof(tok));
	tok[CORE_TOKEN_STR_LEN - 1] = tok[CORE_TOKEN_STR_LEN - 1] == 'A' ? 'B'
									 : 'A';
	expect_error(call(f, "GET", path, NULL, 0, bearer(tok)), 401);
	/* Unknown id, well-formed. */
	memcpy(tok, f->admin, sizeof(tok));
	tok[0] = tok[0] == 'a' ? 'b' : 'a';
	expect_error(call(f, "GET", path, NULL, 0, bearer(tok)), 401);
	/* A join token is not an API token. */
	fake_add_token(&f->core, CORE_TOKEN_JOIN, CORE_ROLE_ADMIN, 0, join);
	expect_error(call(f, "GET", path, NULL, 0, bearer(join)), 401);
	/* Expired: refused at its expiry. */
	fake_add_token(&f->core, CORE_TOKEN_API, CORE_ROLE_ADMIN,
		       f->core.wall_ms + 10, tok);
	assert_int_equal(call(f, "GET", path, NULL, 0, bearer(tok))->status,
			 200);
	f->core.wall_ms += 10;
	expect_error(call(f, "GET", path, NULL, 0, bearer(tok)), 401);
	/* The scheme is case-insensitive. */
	snprintf(tok, sizeof(tok), "%s", f->admin);
	{
		char h[128];

		snprintf(h, sizeof(h), "bearer %s", tok);
		assert_int_equal(call(f, "GET", path, NULL, 0, h)->status,
				 200);
	}
	assert_int_equal(f->api.stats.unauthorized, 7);
}

/* A node still catching up (just started or joined) may lack a valid
 * token's record: an unknown token is then 503 with Retry-After, not 401.
 * Known tokens are checked as always. */
static void test_auth_catching_up(void **state)
{
	struct fx *f = *state;
	char tok[CORE_TOKEN_STR_LEN + 1];
	const char *path = "/api/v1/kv/app?prefix=";
	const struct resp *r;

	f->core.lagging = 1;
	memcpy(tok, f->admin, sizeof(tok));
	tok[0] = tok[0] == 'a' ? 'b' : 'a';
	r = call(f, "GET", path, NULL, 0, bearer(tok));
	expect_error(r, 503);
	assert_non_null(strstr(str(r, "error"), "catching up"));
	assert_int_equal(f->api.stats.unavailable, 1);
	assert_int_equal(f->api.stats.unauthorized, 0);
	/* A known token: checked on its hash as always. */
	assert_int_equal(call(f, "GET", path, NULL, 0, bearer(f->admin))->status,
			 200);
	memcpy(tok, f->admin, sizeof(tok));
	tok[CORE_TOKEN_STR_LEN - 1] = tok[CORE_TOKEN_STR_LEN - 1] == 'A' ? 'B'
									 : 'A';
	expect_error(call(f, "GET", path, NULL, 0, bearer(tok)), 401);
	expect_error(call(f, "GET", path, NULL, 0, NULL), 401);
	/* Caught up: the unknown token is refused. */
	f->core.lagging = 0;
	memcpy(tok, f->admin, sizeof(tok));
	tok[0] = tok[0] == 'a' ? 'b' : 'a';
	expect_error(call(f, "GET", path, NULL, 0, bearer(tok)), 401);
	assert_int_equal(f->api.stats.unauthorized, 3);
}

static void test_read_only_role(void **state)
{
	struct fx *f = *state;

	assert_int_equal(call(f, "GET", "/api/v1/kv/app/k", NULL, 0,
			      bearer(f->reader))->status,
			 404);
	expect_error(call(f, "PUT", "/api/v1/kv/app/k", "v", 1,
			  bearer(f->reader)),
		     403);
	expect_error(call(f, "POST", "/api/v1/tokens", NULL, 0,
			  bearer(f->reader)),
		     403);
	assert_int_equal(f->core.writes, 0);
}

/* Routes with a '*' segment carry their own permission: the log's
 * log.read (a read token has it; its bad lines= is the handler's 400,
 * which the show route would answer 404), start-all's instance.write. */
static void test_instance_op_routes(void **state)
{
	struct fx *f = *state;

	expect_error(call(f, "GET", "/api/v1/instances/x/log?lines=0", NULL, 0,
			  bearer(f->reader)),
		     400);
	expect_error(call(f, "GET", "/api/v1/instances//log", NULL, 0,
			  bearer(f->reader)),
		     404);
	expect_error(call(f, "POST", "/api/v1/instances/start-all", NULL, 0,
			  bearer(f->reader)),
		     403);
	expect_error(call(f, "POST", "/api/v1/instances/x/kill", NULL, 0,
			  bearer(f->reader)),
		     403);
	assert_int_equal(f->core.writes, 0);
}

static void test_kv_put_get_cas(void **state)
{
	struct fx *f = *state;
	struct resp *r;
	char path[128];
	uint64_t r1, r2;

	r = as_admin(f, "PUT", "/api/v1/kv/app/greeting", "hello");
	assert_int_equal(r->status, 200);
	r1 = (uint64_t)num(r, "revision");
	assert_true(r1 > 0);
	assert_int_equal(strtoull(r->revision, NULL, 10), r1);

	r = as_admin(f, "GET", "/api/v1/kv/app/greeting", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "hello");
	assert_int_equal(strtoull(r->revision, NULL, 10), r1);
	assert_int_equal(f->core.stale_barriers, 0);
	r = as_admin(f, "GET", "/api/v1/kv/app/greeting?stale=1", NULL);
	assert_string_equal(r->body, "hello");
	assert_int_equal(f->core.stale_barriers, 1);

	/* A CAS on a wrong revision: 409 with the current one, unchanged. */
	r = as_admin(f, "PUT", "/api/v1/kv/app/greeting?cas=999", "x");
	expect_error(r, 409);
	assert_int_equal((uint64_t)num(r, "revision"), r1);
	r = as_admin(f, "PUT", "/api/v1/kv/app/greeting?cas=0", "x");
	expect_error(r, 409);
	assert_int_equal((uint64_t)num(r, "revision"), r1);
	snprintf(path, sizeof(path), "/api/v1/kv/app/greeting?cas=%llu",
		 (unsigned long long)r1);
	r = as_admin(f, "PUT", path, "bye");
	assert_int_equal(r->status, 200);
	r2 = (uint64_t)num(r, "revision");
	assert_true(r2 > r1);
	assert_string_equal(as_admin(f, "GET", "/api/v1/kv/app/greeting",
				     NULL)->body,
			    "bye");

	/* cas=0 creates an absent key. */
	assert_int_equal(as_admin(f, "PUT", "/api/v1/kv/app/new?cas=0", "1")
				 ->status,
			 200);

	/* Deletes: a stale revision 409, then 200, then 404. */
	expect_error(as_admin(f, "DELETE", path, NULL), 409);
	snprintf(path, sizeof(path), "/api/v1/kv/app/greeting?cas=%llu",
		 (unsigned long long)r2);
	assert_int_equal(as_admin(f, "DELETE", path, NULL)->status, 200);
	expect_error(as_admin(f, "DELETE", "/api/v1/kv/app/greeting", NULL),
		     404);
	expect_error(as_admin(f, "GET", "/api/v1/kv/app/greeting", NULL), 404);
	/* A CAS delete of an absent key reports revision 0. */
	r = as_admin(f, "DELETE", "/api/v1/kv/app/greeting?cas=5", NULL);
	expect_error(r, 409);
	assert_int_equal((uint64_t)num(r, "revision"), 0);
}

static void test_kv_keys_are_raw(void **state)
{
	struct fx *f = *state;

	/* Percent-encoded bytes, slashes and dots are part of the key. */
	assert_int_equal(as_admin(f, "PUT", "/api/v1/kv/app/a%2Fb/../c%00d",
				  "v")->status,
			 200);
	assert_string_equal(as_admin(f, "GET",
				     "/api/v1/kv/app/a%2fb/../c%00d", NULL)
				    ->body,
			    "v");
	expect_error(as_admin(f, "GET", "/api/v1/kv/app/a/b/c", NULL), 404);
}

static void test_kv_bad_input(void **state)
{
	struct fx *f = *state;
	char path[2048], *big;
	size_t n;

	expect_error(as_admin(f, "PUT", "/api/v1/kv/a%20b/k", "v"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/kv/a*b/k", "v"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1//k", "v"), 404);
	expect_error(as_admin(f, "PUT", "/api/v1/kv//k", "v"), 400);
	memset(path, 0, sizeof(path));
	n = (size_t)snprintf(path, sizeof(path), "/api/v1/kv/");
	memset(path + n, 'n', CORE_NS_MAX + 1);
	strcat(path, "/k");
	expect_error(as_admin(f, "PUT", path, "v"), 400);
	path[n + CORE_NS_MAX] = '/'; /* exactly 64: fine */
	assert_int_equal(as_admin(f, "PUT", path, "v")->status, 200);

	expect_error(as_admin(f, "PUT", "/api/v1/kv/app/", "v"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/kv/app", "v"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/kv/app/%zz", "v"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/kv/app/k%4", "v"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/kv/app/k?cas=x", "v"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/kv/app/k?cas=-1", "v"), 400);
	expect_error(as_admin(f, "GET", "/api/v1/kv/app/k?stale=maybe", NULL),
		     400);
	n = (size_t)snprintf(path, sizeof(path), "/api/v1/kv/app/");
	memset(path + n, 'k', CORE_KEY_MAX + 1);
	path[n + CORE_KEY_MAX + 1] = '\0';
	expect_error(as_admin(f, "PUT", path, "v"), 400);
	path[n + CORE_KEY_MAX] = '\0';
	assert_int_equal(as_admin(f, "PUT", path, "v")->status, 200);

	big = calloc(1, CORE_VALUE_MAX + 1);
	expect_error(call(f, "PUT", "/api/v1/kv/app/big", big,
			  CORE_VALUE_MAX + 1, bearer(f->admin)),
		     413);
	assert_int_equal(call(f, "PUT", "/api/v1/kv/app/big", big,
			      CORE_VALUE_MAX, bearer(f->admin))->status,
			 200);
	free(big);
	/* Nothing refused above reached the core. */
	assert_int_equal(f->core.writes, 3);
}

static void test_unavailable(void **state)
{
	struct fx *f = *state;

	f->core.cb_status = ERR_NOTLEADER;
	expect_error(as_admin(f, "PUT", "/api/v1/kv/app/k", "v"), 503);
	expect_error(as_admin(f, "GET", "/api/v1/kv/app/k", NULL), 503);
	expect_error(as_admin(f, "GET", "/api/v1/tokens", NULL), 503);
	f->core.cb_status = ERR_TIMEOUT;
	expect_error(as_admin(f, "DELETE", "/api/v1/kv/app/k", NULL), 503);
	f->core.cb_status = 0;
	f->core.call_status = ERR_AGAIN; /* refused by the call itself */
	expect_error(as_admin(f, "PUT", "/api/v1/kv/app/k", "v"), 503);
	f->core.call_status = ERR_SHUTDOWN;
	expect_error(as_admin(f, "GET", "/api/v1/kv/app/k", NULL), 503);
	assert_int_equal(f->api.stats.unavailable, 6);
	{
		struct http_reply m = {0};

		wbuf_init(&m.body, HTTP_BODY_MAX);
		assert_int_equal(api_metrics(&f->api, &m), 0);
		assert_non_null(strstr((const char *)m.body.p,
				       "clusterd_api_unavailable_total 6\n"));
		assert_non_null(strstr((const char *)m.body.p,
				       "# TYPE clusterd_api_requests_total counter"));
		wbuf_free(&m.body);
	}
	/* And it recovers. */
	assert_int_equal(as_admin(f, "PUT", "/api/v1/kv/app/k", "v")->status,
			 200);
}

static const char *key_at(const struct resp *r, int i)
{
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(r->json, "keys");
	const cJSON *o = cJSON_GetArrayItem(keys, i);

	return o ? cJSON_GetObjectItemCaseSensitive(o, "key")->valuestring
		 : NULL;
}

static int more(const struct resp *r)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->json, "more"));
}

static void test_kv_list(void **state)
{
	struct fx *f = *state;
	const char *keys[] = {"b/2", "a", "b/1", "c", "b/3"};
	struct resp *r;

	for (int i = 0; i < 5; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/api/v1/kv/app/%s", keys[i]);
		assert_int_equal(as_admin(f, "PUT", p, "v")->status, 200);
	}
	assert_int_equal(as_admin(f, "PUT", "/api/v1/kv/app/%01x", "v")->status,
			 200);
	r = as_admin(f, "GET", "/api/v1/kv/app?prefix=b%2F", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(key_at(r, 0), "b/1");
	assert_string_equal(key_at(r, 2), "b/3");
	assert_null(key_at(r, 3));
	assert_false(more(r));
	r = as_admin(f, "GET", "/api/v1/kv/app?prefix=b&limit=2", NULL);
	assert_string_equal(key_at(r, 1), "b/2");
	assert_true(more(r));
	r = as_admin(f, "GET", "/api/v1/kv/app?prefix=b&after=b%2F2", NULL);
	assert_string_equal(key_at(r, 0), "b/3");
	assert_null(key_at(r, 1));
	/* A key with a control byte comes back percent-encoded. */
	r = as_admin(f, "GET", "/api/v1/kv/app?stale=1", NULL);
	assert_string_equal(key_at(r, 0), "%01x");
	assert_string_equal(key_at(r, 1), "a");
	expect_error(as_admin(f, "GET", "/api/v1/kv/app?limit=0", NULL), 400);
	expect_error(as_admin(f, "GET", "/api/v1/kv/app?limit=1001", NULL),
		     400);
	assert_int_equal(as_admin(f, "GET", "/api/v1/kv/empty", NULL)->status,
			 200);
}

static void test_tokens(void **state)
{
	struct fx *f = *state;
	char tok[CORE_TOKEN_STR_LEN + 1], id[CORE_TOKEN_ID_LEN + 1], p[64];
	const cJSON *arr;
	struct resp *r;

	r = as_admin(f, "POST", "/api/v1/tokens",
		     "{\"kind\":\"api\",\"name\":\"ci\",\"role\":\"read\"}");
	assert_int_equal(r->status, 201);
	snprintf(tok, sizeof(tok), "%s", str(r, "token"));
	snprintf(id, sizeof(id), "%s", str(r, "id"));
	assert_memory_equal(tok, id, CORE_TOKEN_ID_LEN);
	assert_string_equal(str(r, "role"), "read");
	/* The new token works, with its role. */
	assert_int_equal(call(f, "GET", "/api/v1/kv/app", NULL, 0, bearer(tok))
				 ->status,
			 200);
	expect_error(call(f, "PUT", "/api/v1/kv/app/k", "v", 1, bearer(tok)),
		     403);
	/* A join token gets 24 h by default. */
	r = as_admin(f, "POST", "/api/v1/tokens", "{\"kind\":\"join\"}");
	assert_int_equal(r->status, 201);
	assert_int_equal((uint64_t)num(r, "expires_ms"),
			 f->core.wall_ms + CORE_JOIN_TOKEN_TTL_MS);
	/* Lists show records, never a secret. */
	r = as_admin(f, "GET", "/api/v1/tokens", NULL);
	assert_int_equal(r->status, 200);
	arr = cJSON_GetObjectItemCaseSensitive(r->json, "tokens");
	assert_int_equal(cJSON_GetArraySize(arr), 4);
	assert_null(strstr(r->body, tok + CORE_TOKEN_ID_LEN + 1));
	assert_null(strstr(r->body, "\"token\""));
	/* Revoke: the token stops working at once. */
	snprintf(p, sizeof(p), "/api/v1/tokens/%s", id);
	assert_int_equal(as_admin(f, "DELETE", p, NULL)->status, 200);
	expect_error(call(f, "GET", "/api/v1/kv/app", NULL, 0, bearer(tok)),
		     401);
	expect_error(as_admin(f, "DELETE", "/api/v1/tokens/0000000000000000",
			      NULL),
		     404);
	expect_error(as_admin(f, "DELETE", "/api/v1/tokens/xyz", NULL), 404);
	expect_error(as_admin(f, "POST", "/api/v1/tokens", "{\"kind\":\"x\"}"),
		     400);
	expect_error(as_admin(f, "POST", "/api/v1/tokens", "[1]"), 400);
	expect_error(as_admin(f, "POST", "/api/v1/tokens", "{\"ttl_s\":0}"),
		     400);
}

static void test_cluster_views(void **state)
{
	struct fx *f = *state;
	const cJSON *servers, *s0;
	struct resp *r;

	r = as_admin(f, "GET", "/api/v1/cluster/raft", NULL);
	assert_int_equal(r->status, 200);
	assert_true(cJSON_IsNull(
		cJSON_GetObjectItemCaseSensitive(r->json, "leader")));
	f->core.raft.term = 7;
	f->core.raft.leader_id = 0xabc;
	snprintf(f->core.raft.leader_name, sizeof(f->core.raft.leader_name),
		 "n1");
	f->core.raft.nservers = 2;
	f->core.raft.servers[0].id = 0xabc;
	f->core.raft.servers[0].voter = 1;
	f->core.raft.servers[0].match_index = 42;
	snprintf(f->core.raft.servers[0].name, CORE_NAME_MAX, "n1");
	f->core.raft.servers[1].id = 0xdef;
	r = as_admin(f, "GET", "/api/v1/cluster/raft", NULL);
	assert_int_equal((int)num(r, "term"), 7);
	assert_string_equal(
		cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(r->json, "leader"),
			"name")->valuestring,
		"n1");
	servers = cJSON_GetObjectItemCaseSensitive(r->json, "servers");
	assert_int_equal(cJSON_GetArraySize(servers), 2);
	s0 = cJSON_GetArrayItem(servers, 0);
	assert_string_equal(cJSON_GetObjectItem(s0, "id")->valuestring,
			    "0000000000000abc");
	assert_string_equal(cJSON_GetObjectItem(s0, "suffrage")->valuestring,
			    "voter");
	assert_int_equal(cJSON_GetObjectItem(s0, "match_index")->valueint, 42);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(servers, 1),
						"suffrage")->valuestring,
			    "learner");

	f->core.nmembers = 1;
	snprintf(f->core.members[0].name, CORE_NAME_MAX, "n1");
	snprintf(f->core.members[0].state, CORE_WORD_MAX, "alive");
	r = as_admin(f, "GET", "/api/v1/cluster/members", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"state\":\"alive\""));

	r = as_admin(f, "POST", "/api/v1/cluster/transfer-leader",
		     "{\"target\":\"n2\"}");
	assert_int_equal(r->status, 200);
	assert_string_equal(f->core.transfer_target, "n2");
	f->core.cb_status = ERR_NOTFOUND;
	f->core.cb_msg = "no voter named n9";
	r = as_admin(f, "POST", "/api/v1/cluster/transfer-leader",
		     "{\"target\":\"n9\"}");
	expect_error(r, 404);
	assert_non_null(strstr(str(r, "error"), "n9"));
	f->core.cb_status = ERR_TIMEOUT;
	expect_error(as_admin(f, "POST", "/api/v1/cluster/leave", NULL), 503);
	f->core.cb_status = 0;
	assert_int_equal(as_admin(f, "POST", "/api/v1/cluster/leave", NULL)
				 ->status,
			 200);
	assert_int_equal(f->core.leaves, 2);
}

static void test_unjoined_node(void **state)
{
	struct fx *f = *state;
	char body[256];
	struct resp *r;

	f->core.joined = 0;
	snprintf(body, sizeof(body),
		 "{\"peer\":\"127.0.0.1:7946\",\"token\":\"%s\"}", f->admin);
	/* Not from loopback: refused. */
	expect_error(call(f, "POST", "/api/v1/cluster/join", body,
			  strlen(body), NULL),
		     403);
	f->loopback = 1;
	/* Everything but join: 503, with or without a token. */
	expect_error(call(f, "GET", "/api/v1/kv/app/k", NULL, 0, NULL), 503);
	expect_error(as_admin(f, "GET", "/api/v1/cluster/raft", NULL), 503);
	expect_error(call(f, "POST", "/api/v1/cluster/join", "{}", 2, NULL),
		     400);
	expect_error(call(f, "POST", "/api/v1/cluster/join",
			  "{\"peer\":\"127.0.0.1:1\",\"token\":\"bad\"}", 40,
			  NULL),
		     400);
	f->core.cb_status = ERR_AUTH;
	f->core.cb_msg = "token refused by the peer";
	expect_error(call(f, "POST", "/api/v1/cluster/join", body,
			  strlen(body), NULL),
		     403);
	f->core.cb_status = 0;
	r = call(f, "POST", "/api/v1/cluster/join", body, strlen(body), NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(f->core.join_peer, "127.0.0.1:7946");
	assert_string_equal(f->core.join_token, f->admin);
	/* Once joined, join is a conflict, with a token or without. */
	f->core.joined = 1;
	expect_error(call(f, "POST", "/api/v1/cluster/join", body,
			  strlen(body), NULL),
		     409);
	expect_error(as_admin(f, "POST", "/api/v1/cluster/join", body), 409);
}

static void test_routes(void **state)
{
	struct fx *f = *state;

	expect_error(as_admin(f, "GET", "/api/v1/nothing", NULL), 404);
	expect_error(as_admin(f, "POST", "/api/v1/kv/app/k", NULL), 405);
	expect_error(as_admin(f, "DELETE", "/api/v1/cluster/raft", NULL), 405);
}

/* The saves routes (a "*" segment in the route table): bad names and
 * bodies are refused before the core is asked, methods and permissions
 * are those of the saves routes, not of the instance routes. */
static void test_save_routes(void **state)
{
	struct fx *f = *state;

	expect_error(as_admin(f, "PUT", "/api/v1/instances/a/saves/..%2Fx.zip",
			      "PK"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/instances/a/saves/.x.zip",
			      "PK"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/instances/a/saves/x.zip?"
			      "upload=a.b", "PK"), 400);
	expect_error(as_admin(f, "PUT", "/api/v1/instances/a/saves/x.zip?"
			      "offset=0", "PK"), 400);
	expect_error(as_admin(f, "POST", "/api/v1/instances/a/saves/x/explode",
			      NULL), 404);
	expect_error(as_admin(f, "POST", "/api/v1/instances/a/saves",
			      "{\"name\": \"../x\"}"), 400);
	expect_error(as_admin(f, "POST", "/api/v1/instances/a/saves",
			      "{\"name\": \"x\", \"seed\": -1}"), 400);
	expect_error(as_admin(f, "POST", "/api/v1/instances/a/saves/x/rename",
			      "{}"), 400);
	expect_error(as_admin(f, "POST", "/api/v1/instances/a/saves/x/transfer",
			      "{\"to\": \"y\"}"), 400);
	expect_error(as_admin(f, "DELETE", "/api/v1/instances/a/saves", NULL),
		     405);
	expect_error(as_admin(f, "PATCH", "/api/v1/instances/a/saves/x.zip",
			      NULL), 405);
	expect_error(call(f, "PUT", "/api/v1/instances/a/saves/x.zip", "PK", 2,
			  bearer(f->reader)), 403);
	expect_error(call(f, "POST", "/api/v1/instances/a/saves/x/copy",
			  "{\"to\": \"y\"}", 11, bearer(f->reader)), 403);
	assert_int_equal(f->core.writes, 0);
}

/* The client goes away before the core answers: the answer is dropped,
 * nothing is formatted, nothing leaks (ASan), and the write still
 * happened (a 503-or-timeout client must assume it may have). */
static void test_client_gone(void **state)
{
	struct fx *f = *state;
	struct resp *r;

	f->core.deferred = 1;
	f->closed = 1;
	r = as_admin(f, "PUT", "/api/v1/kv/app/k", "v");
	assert_int_equal(r->done, 1);
	assert_int_equal(r->len, 0);
	f->closed = 0;
	assert_string_equal(as_admin(f, "GET", "/api/v1/kv/app/k", NULL)->body,
			    "v");
}

/* Idempotency-Key: a repeat answers like the first attempt and is not
 * applied again; a seq older than the last 64 is a 409 that says the
 * attempt was not applied; a malformed key is a 400 before anything is
 * proposed. */
static void test_idempotency_key(void **state)
{
	struct fx *f = *state;
	char body[4096], key[96];
	struct resp *r;
	uint64_t r1, head;
	unsigned writes;
	int status;

	f->idem = "client-1.a_b:1";
	r = as_admin(f, "PUT", "/api/v1/kv/app/k?cas=0", "v1");
	assert_int_equal(r->status, 200);
	r1 = (uint64_t)num(r, "revision");
	snprintf(body, sizeof(body), "%s", r->body);
	/* The repeat would fail its condition if it were applied again. */
	r = as_admin(f, "PUT", "/api/v1/kv/app/k?cas=0", "v1");
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, body);
	assert_int_equal(strtoull(r->revision, NULL, 10), r1);
	assert_int_equal(f->core.deduplicated, 1);
	f->idem = NULL;
	r = as_admin(f, "GET", "/api/v1/kv/app/k", NULL);
	assert_string_equal(r->body, "v1");
	assert_int_equal(strtoull(r->revision, NULL, 10), r1);

	/* A failed first attempt is repeated as the same failure. */
	f->idem = "c2:5";
	r = as_admin(f, "DELETE", "/api/v1/kv/app/absent", NULL);
	expect_error(r, 404);
	status = r->status;
	snprintf(body, sizeof(body), "%s", r->body);
	f->idem = NULL;
	assert_int_equal(
		as_admin(f, "PUT", "/api/v1/kv/app/absent", "here")->status,
		200);
	/* Now the key exists, yet the repeat is the first answer, and the
	 * key stays. */
	f->idem = "c2:5";
	r = as_admin(f, "DELETE", "/api/v1/kv/app/absent", NULL);
	assert_int_equal(r->status, status);
	assert_string_equal(r->body, body);
	f->idem = NULL;
	assert_string_equal(
		as_admin(f, "GET", "/api/v1/kv/app/absent", NULL)->body,
		"here");

	/* 64 newer seqs push seq 1 of c3 out: 409, and nothing applied. */
	for (int s = 1; s <= 65; s++) {
		snprintf(key, sizeof(key), "c3:%d", s);
		f->idem = key;
		assert_int_equal(as_admin(f, "PUT", "/api/v1/kv/app/w", "x")
					 ->status,
				 200);
	}
	f->idem = NULL;
	head = strtoull(as_admin(f, "GET", "/api/v1/kv/app/w", NULL)->revision,
			NULL, 10);
	f->idem = "c3:1";
	r = as_admin(f, "PUT", "/api/v1/kv/app/w", "y");
	expect_error(r, 409);
	assert_non_null(strstr(str(r, "error"), "was not applied"));
	assert_non_null(strstr(str(r, "error"), "no longer known"));
	f->idem = NULL;
	r = as_admin(f, "GET", "/api/v1/kv/app/w", NULL);
	assert_string_equal(r->body, "x");
	assert_int_equal(strtoull(r->revision, NULL, 10), head);

	/* Malformed keys: 400, and the core never sees a write. */
	writes = f->core.writes;
	{
		static const char *bad[] = {
			"", "nocolon", ":5", "c:", "c:0", "c:-1", "c:1x",
			"c d:1", "c/x:1", "c:99999999999999999999999",
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaa:1", /* 65 bytes */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			f->idem = bad[i];
			expect_error(as_admin(f, "PUT", "/api/v1/kv/app/z",
					      "v"),
				     400);
			expect_error(as_admin(f, "DELETE", "/api/v1/kv/app/z",
					      NULL),
				     400);
		}
	}
	assert_int_equal(f->core.writes, writes);
	/* 64 bytes is the longest client accepted. */
	f->idem = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  ":1";
	assert_int_equal(as_admin(f, "PUT", "/api/v1/kv/app/z", "v")->status,
			 200);
	f->idem = NULL;
}

/* A call with a NUL-terminated body (NULL: none) and a token. */
static const struct resp *callj(struct fx *f, const char *m, const char *t,
				const char *body, const char *tok)
{
	return call(f, m, t, body, body ? strlen(body) : 0, bearer(tok));
}

/* Issue 13: a token's roles decide. A token without the permission a
 * route names gets 403 with that name; a custom role's patterns ("*" as
 * a whole part) grant exactly what they match; a user's roles count for
 * its tokens; nobody grants or defines more than it holds. */
static void expect_forbidden(const struct resp *r, const char *perm)
{
	char want[96];

	expect_error(r, 403);
	snprintf(want, sizeof(want), "'%s'", perm);
	assert_non_null(strstr(str(r, "error"), want));
}

static void test_role_permissions(void **state)
{
	struct fx *f = *state;
	const char *mod[] = {"moderator"};
	const char *inst[] = {"operator"};
	char m[CORE_TOKEN_STR_LEN + 1], o[CORE_TOKEN_STR_LEN + 1];
	char u[CORE_TOKEN_STR_LEN + 1];
	const struct resp *r;
	uint64_t forbidden;

	assert_int_equal(as_admin(f, "PUT", "/api/v1/roles/moderator",
				  "{\"permissions\": [\"user.*\", \"kv.read\"]}")
				 ->status,
			 200);
	assert_int_equal(as_admin(f, "PUT", "/api/v1/roles/operator",
				  "{\"permissions\": [\"instance.*\", \"*.read\"]}")
				 ->status,
			 200);
	fake_add_token_roles(&f->core, mod, 1, NULL, m);
	fake_add_token_roles(&f->core, inst, 1, NULL, o);
	forbidden = f->api.stats.forbidden;
	/* The moderator: users yes; kv read yes, write no; tokens, roles,
	 * instances and the cluster no. */
	assert_int_equal(callj(f, "POST", "/api/v1/users", "{\"name\": \"bob\"}", m)->status,
			 201);
	assert_int_equal(call(f, "GET", "/api/v1/users/BOB", NULL, 0,
			      bearer(m))->status,
			 200);
	assert_int_equal(call(f, "GET", "/api/v1/kv/app/k", NULL, 0,
			      bearer(m))->status,
			 404);
	expect_forbidden(callj(f, "PUT", "/api/v1/kv/app/k", "v", m),
			 "kv.write");
	expect_forbidden(call(f, "GET", "/api/v1/tokens", NULL, 0, bearer(m)),
			 "token.read");
	expect_forbidden(call(f, "GET", "/api/v1/roles", NULL, 0, bearer(m)),
			 "role.read");
	expect_forbidden(call(f, "GET", "/api/v1/instances", NULL, 0,
			      bearer(m)),
			 "instance.read");
	expect_forbidden(call(f, "POST", "/api/v1/cluster/transfer-leader",
			      NULL, 0, bearer(m)),
			 "cluster.admin");
	/* The operator: "*.read" reads everything, writes only instances. */
	assert_int_equal(call(f, "GET", "/api/v1/roles", NULL, 0,
			      bearer(o))->status,
			 200);
	expect_forbidden(callj(f, "PATCH", "/api/v1/users/bob", "{\"admin\": true}", o),
			 "user.write");
	expect_forbidden(call(f, "DELETE", "/api/v1/roles/moderator", NULL, 0,
			      bearer(o)),
			 "role.write");
	/* whoami: any token may ask what it holds. */
	r = callj(f, "GET", "/api/v1/whoami", NULL, m);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"roles\":[\"moderator\"]"));
	assert_non_null(strstr(r->body, "\"permissions\":[\"user.*\",\"kv.read\"]"));
	r = callj(f, "GET", "/api/v1/whoami", NULL, f->reader);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"permissions\":[\"*.read\"]"));
	/* The legacy read token keeps its meaning. */
	expect_forbidden(call(f, "POST", "/api/v1/user-lists", "{}", 2,
			      bearer(f->reader)),
			 "user.write");
	assert_int_equal(f->api.stats.forbidden, forbidden + 8);
	/* A user's roles count for its token: bob gets the moderator role,
	 * and a token of bob's with no role of its own may write users. */
	r = as_admin(f, "PATCH", "/api/v1/users/bob",
		     "{\"roles\": [\"moderator\"]}");
	assert_int_equal(r->status, 200);
	fake_add_token_roles(&f->core, NULL, 0, "bob", u);
	assert_int_equal(callj(f, "PATCH", "/api/v1/users/bob", "{\"banned\": true}", u)->status,
			 200);
	/* Then no role for bob: the token has nothing left to write with. */
	assert_int_equal(as_admin(f, "PATCH", "/api/v1/users/bob",
				  "{\"roles\": []}")->status,
			 200);
	expect_forbidden(callj(f, "PATCH", "/api/v1/users/bob", "{\"banned\": false}", u),
			 "user.write");
	/* Nobody grants more than it holds. */
	expect_error(callj(f, "PATCH", "/api/v1/users/bob", "{\"roles\": [\"admin\"]}", m),
		     403);
	expect_error(as_admin(f, "PATCH", "/api/v1/users/bob",
			      "{\"roles\": [\"nosuch\"]}"),
		     400);
	expect_error(as_admin(f, "PUT", "/api/v1/roles/admin",
			      "{\"permissions\": []}"),
		     409);
	expect_error(as_admin(f, "DELETE", "/api/v1/roles/read", NULL), 409);
	expect_error(as_admin(f, "PUT", "/api/v1/roles/x",
			      "{\"permissions\": [\"bad perm\"]}"),
		     400);
}

/* Users through the API: case-insensitive names, bad input, lists. */
static void test_users_api(void **state)
{
	struct fx *f = *state;
	const struct resp *r;

	r = as_admin(f, "POST", "/api/v1/users",
		     "{\"name\": \"Alice\", \"admin\": true}");
	assert_int_equal(r->status, 201);
	assert_string_equal(str(r, "name"), "Alice");
	expect_error(as_admin(f, "POST", "/api/v1/users", "{\"name\": \"ALICE\"}"),
		     409);
	expect_error(as_admin(f, "POST", "/api/v1/users", "{\"name\": \"a b\"}"),
		     400);
	expect_error(as_admin(f, "POST", "/api/v1/users", "{\"name\": 5}"), 400);
	expect_error(as_admin(f, "POST", "/api/v1/users",
			      "{\"name\": \"x\", \"admin\": \"yes\"}"),
		     400);
	expect_error(as_admin(f, "PATCH", "/api/v1/users/nobody",
			      "{\"admin\": true}"),
		     404);
	expect_error(as_admin(f, "PATCH", "/api/v1/users/alice", "{}"), 400);
	r = as_admin(f, "PATCH", "/api/v1/users/alice",
		     "{\"banned\": true, \"reason\": \"griefing\"}");
	assert_int_equal(r->status, 200);
	assert_string_equal(str(r, "reason"), "griefing");
	r = as_admin(f, "POST", "/api/v1/user-lists",
		     "{\"whitelist\": [\"carol\", \"Alice\"], "
		     "\"banlist\": [\"dave\", {\"username\": \"erin\", "
		     "\"reason\": \"spam\"}]}");
	assert_int_equal(r->status, 200);
	assert_int_equal((int)num(r, "imported"), 4);
	r = as_admin(f, "GET", "/api/v1/user-lists", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"whitelist\":[\"Alice\",\"carol\"]"));
	assert_non_null(strstr(r->body, "{\"username\":\"erin\",\"reason\":\"spam\"}"));
	expect_error(as_admin(f, "POST", "/api/v1/user-lists",
			      "{\"adminlist\": [\"no good\"]}"),
		     400);
	assert_int_equal(as_admin(f, "DELETE", "/api/v1/users/ALICE", NULL)
				 ->status,
			 200);
	expect_error(as_admin(f, "GET", "/api/v1/users/alice", NULL), 404);
}

#define BOTH(fn)                                                      \
	cmocka_unit_test_setup_teardown(fn, setup_sync, teardown),    \
		cmocka_unit_test_setup_teardown(fn, setup_deferred,   \
						teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_auth),
		BOTH(test_auth_catching_up),
		BOTH(test_read_only_role),
		BOTH(test_instance_op_routes),
		BOTH(test_kv_put_get_cas),
		BOTH(test_kv_keys_are_raw),
		BOTH(test_kv_bad_input),
		BOTH(test_unavailable),
		BOTH(test_kv_list),
		BOTH(test_tokens),
		BOTH(test_cluster_views),
		BOTH(test_unjoined_node),
		BOTH(test_routes),
		BOTH(test_save_routes),
		BOTH(test_idempotency_key),
		BOTH(test_role_permissions),
		BOTH(test_users_api),
		cmocka_unit_test_setup_teardown(test_client_gone, setup_sync,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
