/*
 * saves.c: the saves of an instance (issue 12), from any node:
 *   GET    /api/v1/instances/I/saves             list
 *   POST   /api/v1/instances/I/saves             create {"name", "seed"?,
 *          "map_gen_settings"?: {...}, "map_settings"?: {...}}
 *   PUT    /api/v1/instances/I/saves/S?upload=ID&offset=O&total=T
 *          [&overwrite=1]                        one part of an upload
 *   GET    /api/v1/instances/I/saves/S           download (streamed)
 *   POST   /api/v1/instances/I/saves/S/rename    {"to"}
 *   POST   /api/v1/instances/I/saves/S/copy      {"to"}
 *   POST   /api/v1/instances/I/saves/S/transfer  {"instance", "to"?,
 *          "copy"?}                              (a move unless copy)
 *   DELETE /api/v1/instances/I/saves/S
 * I is an instance name or id, S a save file name ("x.zip"; "x" means
 * the same). A save lives on the node its instance is assigned to: a
 * request elsewhere is forwarded there (core.h's http_forward), a
 * download through http_pull, which streams it with bounded memory. An
 * upload comes in parts of at most CORE_SAVE_PART_MAX bytes (core.h says
 * why), each forwarded on its own. A transfer to an instance of another
 * node runs on the source's node, which uploads the save there part by
 * part. docs/api.md has the answers. This file parses, dispatches and
 * answers what is answered at once; saves_move.c streams downloads and
 * pushes transfers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "node/api/saves_int.h"

void api_sop_free(struct sop *o)
{
	const struct core *c = &o->op.api->core;

	if (o->rd != NULL)
		c->ops->save_close(c->ctx, o->rd);
	if (o->pull != NULL)
		c->ops->pull_close(c->ctx, o->pull);
	free(o->body);
	free(o->map_gen);
	free(o->map);
	free(o->part);
	memset(o->auth, 0, sizeof(o->auth));
	memset(&o->rec, 0, sizeof(o->rec));
}

void api_sop_finish(struct sop *o)
{
	api_sop_free(o);
	api_op_finish(&o->op);
}

/* The answer for a save operation's error. */
void api_save_error(struct http_reply *rep, int rc, const struct sop *o,
		       const char *why)
{
	switch (rc) {
	case ERR_NOTFOUND:
		api_error(rep, 404, "no save %s on instance %s", o->save,
			  o->inst);
		break;
	case ERR_EXISTS:
		api_error(rep, 409, "a save named %s exists already",
			  o->act == ACT_UPLOAD || o->act == ACT_CREATE
				  ? o->save
				  : o->to);
		break;
	case ERR_MALFORMED:
		api_error(rep, 400, "refused: %s; nothing was changed",
			  why != NULL && why[0] ? why : "not a save zip");
		break;
	case ERR_BUSY:
		api_error(rep, 409, "a save is being created for %s already",
			  o->inst);
		break;
	case ERR_CONFIG:
		api_error(rep, 409, "factorio_dir is not set on the node of %s",
			  o->inst);
		break;
	case ERR_NOSPACE:
		api_error(rep, 507, "the disk of %s's node is full", o->inst);
		break;
	default:
		if (why != NULL && why[0])
			api_error(rep, 500, "%s", why);
		else
			api_core_error(rep, rc, "save");
	}
}

/* ---- members ---- */

int api_member_http(const struct core *c, uint64_t id, char *addr,
		       size_t size)
{
	struct core_member *m = calloc(CORE_MEMBERS_MAX, sizeof(*m));
	size_t n = 0;
	int rc;

	if (m == NULL)
		return ERR_NOMEM;
	rc = c->ops->members(c->ctx, m, CORE_MEMBERS_MAX, &n);
	if (rc == 0)
		rc = ERR_NOTFOUND;
	for (size_t i = 0; i < n && rc == ERR_NOTFOUND; i++)
		if (m[i].raft_id == id && m[i].http[0] != '\0' &&
		    strcmp(m[i].state, "dead") != 0 &&
		    strcmp(m[i].state, "left") != 0) {
			snprintf(addr, size, "%s", m[i].http);
			rc = 0;
		}
	free(m);
	return rc;
}

static uint64_t self_id(const struct core *c)
{
	struct core_raft_status *st = calloc(1, sizeof(*st));
	uint64_t id = 0;

	if (st != NULL && c->ops->raft_status(c->ctx, st) == 0)
		id = st->id;
	free(st);
	return id;
}

/* ---- list ---- */

static void do_list(struct sop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	struct core_save *v = calloc(CORE_SAVES_MAX, sizeof(*v));
	char loaded[CORE_SAVE_NAME_MAX + 1];
	uint64_t newest = 0;
	size_t n = 0, newest_i = SIZE_MAX;
	cJSON *j, *arr;
	int rc;

	rc = v ? c->ops->save_list(c->ctx, o->rec.name, v, CORE_SAVES_MAX, &n)
	       : ERR_NOMEM;
	if (rc != 0) {
		api_save_error(rep, rc, o, NULL);
		free(v);
		return;
	}
	snprintf(loaded, sizeof(loaded), "%s.zip", o->rec.save);
	for (size_t i = 0; i < n; i++)
		if (newest_i == SIZE_MAX || v[i].mtime_ms > newest) {
			newest = v[i].mtime_ms;
			newest_i = i;
		}
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "instance", o->rec.name);
	arr = cJSON_AddArrayToObject(j, "saves");
	for (size_t i = 0; i < n; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "name", v[i].name);
		cJSON_AddNumberToObject(e, "size", (double)v[i].size);
		cJSON_AddNumberToObject(e, "mtime_ms", (double)v[i].mtime_ms);
		cJSON_AddBoolToObject(e, "loaded",
				      strcmp(v[i].name, loaded) == 0);
		cJSON_AddBoolToObject(e, "newest", i == newest_i);
		cJSON_AddItemToArray(arr, e);
	}
	api_json(rep, 200, j);
	free(v);
}

/* ---- upload part ---- */

static void on_part(void *arg, int rc, uint64_t got, const char *why)
{
	struct sop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	cJSON *j;

	if (rep == NULL) {
		api_sop_finish(o);
		return;
	}
	if (rc == ERR_CONFLICT) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "error", "this part does not start "
					"where the upload stands; resume at "
					"\"received\"");
		cJSON_AddNumberToObject(j, "received", (double)got);
		api_json(rep, 409, j);
	} else if (rc != 0) {
		api_save_error(rep, rc, o, why);
	} else {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "instance", o->rec.name);
		cJSON_AddStringToObject(j, "name", o->save);
		cJSON_AddNumberToObject(j, "received", (double)got);
		cJSON_AddNumberToObject(j, "total", (double)o->total);
		cJSON_AddBoolToObject(j, "done", got == o->total);
		api_json(rep, got == o->total ? 201 : 200, j);
	}
	api_sop_finish(o);
}

static void do_upload(struct sop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	struct core_save_part pt = {
		.inst = o->rec.name, .save = o->save, .upload = o->upload,
		.offset = o->offset, .total = o->total,
		.overwrite = o->overwrite, .data = o->body,
		.len = o->body_len,
	};
	int rc = c->ops->save_put(c->ctx, &pt, on_part, o);

	if (rc == 0)
		return;
	if (rc == ERR_INVAL)
		api_error(rep, 400, "bad part: offset %llu + %zu bytes against "
			  "total %llu (parts of at most %u bytes, saves up to "
			  "%llu bytes)", (unsigned long long)o->offset,
			  o->body_len, (unsigned long long)o->total,
			  CORE_SAVE_PART_MAX,
			  (unsigned long long)CORE_SAVE_SIZE_MAX);
	else
		api_save_error(rep, rc, o, NULL);
	api_sop_finish(o);
}

/* ---- rename, copy, delete, create ---- */

/* 1 (409 written) if act would take the save a running instance
 * loaded away from it. */
static int loaded_and_running(struct sop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	struct core_inst_state st;
	char loaded[CORE_SAVE_NAME_MAX + 1];

	snprintf(loaded, sizeof(loaded), "%s.zip", o->rec.save);
	if (strcmp(loaded, o->save) != 0 ||
	    c->ops->inst_state(c->ctx, o->rec.id, &st) != 0 ||
	    strcmp(st.status, "stopped") == 0)
		return 0;
	api_error(rep, 409, "%s is the save instance %s runs (%s): stop it "
		  "first", o->save, o->rec.name, st.status);
	return 1;
}

void api_save_done(void *arg, int status, const char *msg)
{
	struct sop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;
	cJSON *j;

	if (rep == NULL)
		goto out;
	if (status == 0 && o->act == ACT_TRANSFER && !o->copy)
		status = c->ops->save_delete(c->ctx, o->rec.name, o->save);
	if (status != 0) {
		api_save_error(rep, status, o, msg);
		goto out;
	}
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "instance",
				o->act == ACT_TRANSFER ? o->dst_name
						       : o->rec.name);
	cJSON_AddStringToObject(j, "name",
				o->act == ACT_CREATE || o->act == ACT_DELETE
					? o->save
					: o->to);
	api_json(rep, o->act == ACT_CREATE ? 201 : 200, j);
out:
	api_sop_finish(o);
}

static int do_create(struct sop *o)
{
	const struct core *c = &o->op.api->core;
	struct core_save_create sc = {
		.id = o->rec.id, .inst = o->rec.name, .save = o->save,
		.has_seed = o->has_seed, .seed = o->seed,
		.map_gen_json = o->map_gen, .map_json = o->map,
	};

	return c->ops->save_create(c->ctx, &sc, api_save_done, o);
}

/* ---- dispatch after the barrier ---- */

static void local(struct sop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	int rc = 0;

	switch (o->act) {
	case ACT_LIST:
		do_list(o, rep);
		break;
	case ACT_UPLOAD:
		do_upload(o, rep);
		return;
	case ACT_DOWNLOAD:
		api_save_download(o, rep);
		return;
	case ACT_TRANSFER:
		if (!o->copy && loaded_and_running(o, rep))
			break;
		api_save_transfer(o, rep);
		return;
	case ACT_RENAME:
	case ACT_DELETE:
		if (loaded_and_running(o, rep))
			break;
		rc = o->act == ACT_RENAME
			     ? c->ops->save_rename(c->ctx, o->rec.name, o->save,
						   o->to)
			     : c->ops->save_delete(c->ctx, o->rec.name, o->save);
		if (rc == 0)
			api_save_done(o, 0, NULL);
		else
			api_save_error(rep, rc, o, NULL);
		if (rc == 0)
			return;
		break;
	case ACT_COPY:
		rc = c->ops->save_copy(c->ctx, o->rec.name, o->save,
				       o->rec.name, o->to, api_save_done, o);
		if (rc == 0)
			return;
		api_save_error(rep, rc, o, NULL);
		break;
	case ACT_CREATE:
		rc = do_create(o);
		if (rc == 0)
			return;
		api_save_error(rep, rc, o, NULL);
		break;
	default:
		api_error(rep, 500, "unknown save action");
	}
	api_sop_finish(o);
}

static void on_forwarded(void *arg, int status, int code, const char *body,
			 size_t len)
{
	struct sop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);

	if (rep == NULL)
		goto out;
	if (status != 0 || code < 100) {
		api_error(rep, 503, "the node running %s did not answer (%s)",
			  o->inst, err_str(status != 0 ? status : ERR_IO));
		goto out;
	}
	rep->status = code;
	rep->content_type = "application/json";
	wbuf_reset(&rep->body);
	if (wbuf_put(&rep->body, body, len) != 0)
		api_error(rep, 500, "out of memory");
out:
	api_sop_finish(o);
}

static void remote(struct sop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	char addr[CORE_ADDR_MAX + 1];
	uint64_t wait = API_DEADLINE_MS;
	int rc;

	if (o->forwarded || api_member_http(c, o->rec.node, addr,
					sizeof(addr)) != 0) {
		api_error(rep, 503, "the node running %s is unreachable",
			  o->rec.name);
		api_sop_finish(o);
		return;
	}
	if (o->act == ACT_DOWNLOAD) {
		rc = c->ops->http_pull(c->ctx, addr, o->path, o->auth,
				       api_save_pull_wake, o, &o->pull);
		if (rc == 0)
			return;
		o->pull = NULL;
	} else {
		if (o->act == ACT_CREATE)
			wait = SAVE_CREATE_WAIT_MS;
		else if (o->act == ACT_TRANSFER || o->act == ACT_COPY)
			wait = SAVE_TRANSFER_WAIT_MS;
		else if (o->act == ACT_UPLOAD)
			wait = SAVE_PART_WAIT_MS;
		rc = c->ops->http_forward(c->ctx, addr, o->method, o->path,
					  o->auth, o->body, o->body_len,
					  c->ops->now_ms(c->ctx) + wait,
					  on_forwarded, o);
		if (rc == 0)
			return;
	}
	api_error(rep, 503, "cannot reach the node of %s: %s", o->rec.name,
		  err_str(rc));
	api_sop_finish(o);
}

static void on_barrier(void *arg, int status)
{
	struct sop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;
	int rc;

	if (rep == NULL || status != 0) {
		if (rep != NULL)
			api_core_error(rep, status, "save");
		api_sop_finish(o);
		return;
	}
	rc = c->ops->inst_get(c->ctx, o->inst, &o->rec);
	if (rc != 0) {
		if (rc == ERR_NOTFOUND)
			api_error(rep, 404, "no such instance: %s", o->inst);
		else
			api_core_error(rep, rc, "save");
		api_sop_finish(o);
	} else if (o->rec.node == 0) {
		api_error(rep, 409, "instance %s is not assigned to a node, so "
			  "it has no saves yet: assign it first", o->rec.name);
		api_sop_finish(o);
	} else if (o->rec.node != self_id(c)) {
		remote(o, rep);
	} else {
		local(o, rep);
	}
}

/* ---- parsing ---- */

/* A save name from the path or a body: "x" or "x.zip". */
static int save_name(const char *s, size_t n, char *out, size_t size)
{
	int zip = n > 4 && memcmp(s + n - 4, ".zip", 4) == 0;

	if (n == 0 || n + (zip ? 0 : 4) >= size || memchr(s, '\0', n))
		return ERR_INVAL;
	snprintf(out, size, "%.*s%s", (int)n, s, zip ? "" : ".zip");
	return core_save_name_ok(out) ? 0 : ERR_INVAL;
}

static int bad_name(struct http_reply *rep)
{
	api_error(rep, 400, "bad save name: want NAME or NAME.zip, NAME of "
		  "1..%d of [A-Za-z0-9_.-], not starting with '.'",
		  CORE_INST_NAME_MAX);
	return 1;
}

/* The path after /api/v1/instances/: "I/saves[/S[/ACTION]]". */
static int parse_path(const struct http_request *h, struct http_reply *rep,
		      struct sop *o, const char *method)
{
	static const char pre[] = "/api/v1/instances/";
	const char *p = h->raw_path + sizeof(pre) - 1;
	size_t n = h->raw_path_len - (sizeof(pre) - 1);
	const char *s1 = memchr(p, '/', n), *s3, *s4;
	size_t il = (size_t)(s1 - p), sl;

	if (il == 0 || il > CORE_INST_NAME_MAX)
		return api_error(rep, 404, "no such instance"), 1;
	memcpy(o->inst, p, il);
	o->inst[il] = '\0';
	s3 = s1 + 6; /* after "/saves" */
	if (s3 == p + n) {
		o->act = method[0] == 'G' ? ACT_LIST : ACT_CREATE;
		return 0;
	}
	s3++;
	s4 = memchr(s3, '/', (size_t)(p + n - s3));
	sl = s4 ? (size_t)(s4 - s3) : (size_t)(p + n - s3);
	if (save_name(s3, sl, o->save, sizeof(o->save)) != 0)
		return bad_name(rep);
	if (strcmp(method, "POST") != 0) {
		if (s4 != NULL)
			return api_error(rep, 404, "no such resource"), 1;
		o->act = method[0] == 'G'   ? ACT_DOWNLOAD
			 : method[0] == 'P' ? ACT_UPLOAD
					    : ACT_DELETE;
		return 0;
	}
	sl = s4 ? (size_t)(p + n - s4 - 1) : 0;
	if (s4 && sl == 6 && memcmp(s4 + 1, "rename", 6) == 0)
		o->act = ACT_RENAME;
	else if (s4 && sl == 4 && memcmp(s4 + 1, "copy", 4) == 0)
		o->act = ACT_COPY;
	else if (s4 && sl == 8 && memcmp(s4 + 1, "transfer", 8) == 0)
		o->act = ACT_TRANSFER;
	else
		return api_error(rep, 404, "no such action: want rename, copy "
				 "or transfer"), 1;
	return 0;
}

static int query_u64(const struct http_request *h, const char *name,
		     uint64_t *out)
{
	char buf[24];
	size_t n = 0;

	if (api_query(h, name, buf, sizeof(buf), &n) != 0)
		return ERR_INVAL;
	return api_parse_u64(buf, n, out);
}

static int parse_upload(const struct http_request *h, struct http_reply *rep,
			struct sop *o)
{
	size_t n = 0;
	char ow[8];

	if (h->body_len > CORE_SAVE_PART_MAX)
		return api_error(rep, 413, "a part is at most %u bytes",
				 CORE_SAVE_PART_MAX), 1;
	if (api_query(h, "upload", o->upload, sizeof(o->upload), &n) != 0)
		snprintf(o->upload, sizeof(o->upload), "0");
	if (!core_upload_id_ok(o->upload))
		return api_error(rep, 400, "bad upload id: 1..%d of "
				 "[A-Za-z0-9_-]", CORE_UPLOAD_ID_MAX), 1;
	if (api_query(h, "offset", ow, sizeof(ow), &n) == ERR_NOTFOUND &&
	    api_query(h, "total", ow, sizeof(ow), &n) == ERR_NOTFOUND) {
		o->offset = 0; /* the whole save in one part */
		o->total = h->body_len;
	} else if (query_u64(h, "offset", &o->offset) != 0 ||
		   query_u64(h, "total", &o->total) != 0) {
		return api_error(rep, 400, "want ?offset=O&total=T (decimal) "
				 "with a part, or neither for a whole save"),
		       1;
	}
	o->overwrite = api_query(h, "overwrite", ow, sizeof(ow), &n) == 0 &&
		       (n == 0 || strcmp(ow, "1") == 0 ||
			strcmp(ow, "true") == 0);
	return 0;
}

static char *json_text(const cJSON *j, const char *key, int *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (v == NULL)
		return NULL;
	if (!cJSON_IsObject(v)) {
		*bad = 1;
		return NULL;
	}
	return cJSON_PrintUnformatted(v);
}

static int parse_body(const struct http_request *h, struct http_reply *rep,
		      struct sop *o)
{
	const char *to, *name, *inst;
	const cJSON *seed, *cp;
	int bad = 0;
	cJSON *j = api_body_json(h, rep);

	if (j == NULL)
		return 1;
	to = api_json_str(j, "to");
	name = api_json_str(j, "name");
	inst = api_json_str(j, "instance");
	seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
	cp = cJSON_GetObjectItemCaseSensitive(j, "copy");
	if (o->act == ACT_CREATE) {
		if (name == NULL ||
		    save_name(name, strlen(name), o->save, sizeof(o->save)))
			bad = bad_name(rep);
		else if (seed != NULL && (!cJSON_IsNumber(seed) ||
					  seed->valuedouble < 0 ||
					  seed->valuedouble > 4294967295.0))
			bad = (api_error(rep, 400, "seed: want 0..4294967295"), 1);
		o->has_seed = seed != NULL;
		o->seed = seed != NULL ? (uint64_t)seed->valuedouble : 0;
		o->map_gen = json_text(j, "map_gen_settings", &bad);
		o->map = json_text(j, "map_settings", &bad);
		if (bad && rep->status == 200)
			api_error(rep, 400, "map_gen_settings and map_settings "
				  "are JSON objects");
	} else if (o->act == ACT_TRANSFER) {
		if (inst == NULL || !core_inst_name_ok(inst))
			bad = (api_error(rep, 400, "want {\"instance\": NAME, "
					 "\"to\"?: SAVE, \"copy\"?: bool}"), 1);
		else
			snprintf(o->dst, sizeof(o->dst), "%s", inst);
		if (!bad && to == NULL)
			snprintf(o->to, sizeof(o->to), "%s", o->save);
		else if (!bad && save_name(to, strlen(to), o->to, sizeof(o->to)))
			bad = bad_name(rep);
		o->copy = cJSON_IsTrue(cp);
	} else if (to == NULL ||
		   save_name(to, strlen(to), o->to, sizeof(o->to)) != 0) {
		bad = bad_name(rep);
	}
	cJSON_Delete(j);
	return bad;
}

/* Method, path and query, authorization, and the body of a request, as a
 * forward needs them. */
static int keep_request(const struct http_request *h, struct http_reply *rep,
			struct sop *o, const char *method)
{
	const char *a;
	size_t n = 0;

	snprintf(o->method, sizeof(o->method), "%s", method);
	o->forwarded = http_req_header(h, CORE_FORWARDED_HEADER, &n) != NULL;
	a = http_req_header(h, "authorization", &n);
	if (a != NULL && n < sizeof(o->auth))
		memcpy(o->auth, a, n);
	if (h->raw_path_len + 1 + h->query_len >= sizeof(o->path))
		return api_error(rep, 414, "path too long"), 1;
	memcpy(o->path, h->raw_path, h->raw_path_len);
	if (h->query != NULL)
		snprintf(o->path + h->raw_path_len,
			 sizeof(o->path) - h->raw_path_len, "?%.*s",
			 (int)h->query_len, h->query);
	if (h->body_len > 0) {
		o->body = malloc(h->body_len);
		if (o->body == NULL)
			return api_error(rep, 500, "out of memory"), 1;
		memcpy(o->body, h->body, h->body_len);
		o->body_len = h->body_len;
	}
	return 0;
}

static int handle(struct api_req *r, struct http_reply *rep,
		  const char *method)
{
	const struct http_request *h = r->http;
	struct sop t, *o;
	int rc, bad;

	memset(&t, 0, sizeof(t));
	bad = parse_path(h, rep, &t, method);
	if (!bad && t.act == ACT_UPLOAD)
		bad = parse_upload(h, rep, &t);
	else if (!bad && t.act != ACT_LIST && t.act != ACT_DOWNLOAD &&
		 t.act != ACT_DELETE)
		bad = parse_body(h, rep, &t);
	if (!bad)
		bad = keep_request(h, rep, &t, method);
	o = bad ? NULL : api_op_new(r, rep, sizeof(*o));
	if (o == NULL) {
		free(t.body);
		free(t.map_gen);
		free(t.map);
		return 0;
	}
	t.op = o->op;
	*o = t;
	/* The parts after an upload's first need no Raft round each: the
	 * first one found the instance where it is (a stale read then at
	 * worst sends a part to a node that refuses it). */
	rc = r->api->core.ops->read_barrier(r->api->core.ctx,
					    o->act == ACT_UPLOAD &&
						    o->offset > 0,
					    api_deadline(r->api), on_barrier,
					    o);
	if (rc != 0) {
		api_sop_free(o);
		return api_op_fail(&o->op, rc, "save");
	}
	return HTTP_PENDING;
}

int api_saves_list(struct api_req *r, struct http_reply *rep)
{
	return handle(r, rep, "GET");
}

int api_saves_create(struct api_req *r, struct http_reply *rep)
{
	return handle(r, rep, "POST");
}

int api_saves_get(struct api_req *r, struct http_reply *rep)
{
	return handle(r, rep, "GET");
}

int api_saves_put(struct api_req *r, struct http_reply *rep)
{
	return handle(r, rep, "PUT");
}

int api_saves_action(struct api_req *r, struct http_reply *rep)
{
	return handle(r, rep, "POST");
}

int api_saves_delete(struct api_req *r, struct http_reply *rep)
{
	return handle(r, rep, "DELETE");
}
