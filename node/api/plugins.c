/*
 * plugins.c: the plugin registry (issue 15; node/plugins/plugins.h):
 *   GET    /api/v1/plugins               {"plugins": [records]}, each
 *                                        with this node's process ("local")
 *   POST   /api/v1/plugins               a record -> 201; 409 if the
 *                                        name is taken
 *   POST   /api/v1/plugins/NAME/enable | /disable
 *   DELETE /api/v1/plugins/NAME
 * Records are KV values in the reserved namespace PLUG_NS; enable and
 * disable are a read and a compare-and-set on the record's revision, so a
 * concurrent change is a 409, never a lost update. Every node's
 * supervisor picks a change up within a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"
#include "node/plugins/plugins.h"

#define NS PLUG_NS, (sizeof(PLUG_NS) - 1)

struct pop {
	struct api_op op;
	char name[PLUG_NAME_MAX + 1];
	int enable; /* -1: list; 0/1: disable/enable */
};

static cJSON *state_json(const struct core_plugin_state *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", s->status);
	cJSON_AddNumberToObject(o, "pid", (double)s->pid);
	cJSON_AddNumberToObject(o, "restarts", s->restarts);
	cJSON_AddNumberToObject(o, "last_exit", s->last_exit);
	return o;
}

static void on_list_barrier(void *arg, int status)
{
	struct pop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;
	struct core_plugin_state st[PLUG_MAX];
	struct core_kv_key *keys = NULL;
	size_t nk = 0, ns = 0;
	int more = 0;
	cJSON *arr;

	if (rep == NULL)
		goto out;
	if (status != 0) {
		api_core_error(rep, status, "plugin list");
		goto out;
	}
	if (c->ops->plugin_states != NULL)
		ns = c->ops->plugin_states(c->ctx, st, PLUG_MAX);
	status = c->ops->kv_list(c->ctx, NS, NULL, 0, NULL, 0, PLUG_MAX,
				 &keys, &nk, &more);
	if (status != 0) {
		api_core_error(rep, status, "plugin list");
		goto out;
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < nk; i++) {
		struct core_kv_value v;
		cJSON *rec;

		if (c->ops->kv_get(c->ctx, NS, keys[i].key, keys[i].len,
				   &v) != 0)
			continue;
		rec = cJSON_ParseWithLength((const char *)v.value, v.len);
		free(v.value);
		if (rec == NULL)
			continue;
		cJSON_AddNumberToObject(rec, "revision", (double)keys[i].rev);
		for (size_t k = 0; k < ns; k++)
			if (keys[i].len == strlen(st[k].name) &&
			    memcmp(keys[i].key, st[k].name, keys[i].len) == 0)
				cJSON_AddItemToObject(rec, "local",
						      state_json(&st[k]));
		cJSON_AddItemToArray(arr, rec);
	}
	core_kv_keys_free(keys, nk);
	{
		cJSON *top = cJSON_CreateObject();

		cJSON_AddItemToObject(top, "plugins", arr);
		api_json(rep, 200, top);
	}
out:
	api_op_finish(&o->op);
}

int api_plugins_list(struct api_req *r, struct http_reply *rep)
{
	struct pop *o = api_op_new(r, rep, sizeof(*o));
	int rc;

	if (o == NULL)
		return 0;
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api),
					    on_list_barrier, o);
	return rc != 0 ? api_op_fail(&o->op, rc, "plugin list") : HTTP_PENDING;
}

static void on_written(void *arg, const struct core_write_result *res)
{
	struct pop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	cJSON *j;

	if (rep == NULL)
		goto out;
	if (res->status == 0 && res->result == ERR_CONFLICT) {
		api_error(rep, 409, o->enable < 0
				    ? "plugin '%s' exists already"
				    : "plugin '%s' changed meanwhile; retry",
			  o->name);
		goto out;
	}
	if (api_write_failed(rep, res, "plugin write", "plugin"))
		goto out;
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", o->name);
	cJSON_AddNumberToObject(j, "revision", (double)res->index);
	api_json(rep, o->enable < 0 ? 201 : 200, j);
out:
	api_op_finish(&o->op);
}

static int put(struct pop *o, const char *json, uint64_t cas)
{
	const struct core *c = &o->op.api->core;
	struct core_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_KV_PUT;
	cmd.u.kv.ns = PLUG_NS;
	cmd.u.kv.ns_len = sizeof(PLUG_NS) - 1;
	cmd.u.kv.key = (const uint8_t *)o->name;
	cmd.u.kv.key_len = strlen(o->name);
	cmd.u.kv.value = (const uint8_t *)json;
	cmd.u.kv.value_len = strlen(json);
	cmd.u.kv.cas = cas;
	return c->ops->write(c->ctx, &cmd, api_deadline(o->op.api),
			     on_written, o);
}

int api_plugins_create(struct api_req *r, struct http_reply *rep)
{
	struct plug_rec *rec = malloc(sizeof(*rec));
	struct pop *o;
	char why[200], *json = NULL;
	int rc;

	if (rec == NULL)
		return api_error(rep, 500, "out of memory");
	if (r->http->body_len > API_JSON_BODY_MAX) {
		free(rec);
		return api_error(rep, 413, "record over %d bytes",
				 API_JSON_BODY_MAX);
	}
	if (plug_rec_parse((const char *)r->http->body, r->http->body_len, rec, why,
			   sizeof(why)) != 0) {
		free(rec);
		return api_error(rep, 400, "%s", why);
	}
	json = plug_rec_json(rec);
	o = json ? api_op_new(r, rep, sizeof(*o)) : NULL;
	if (o == NULL) {
		free(rec);
		free(json);
		return json ? 0 : api_error(rep, 500, "out of memory");
	}
	memcpy(o->name, rec->name, sizeof(o->name));
	o->enable = -1;
	free(rec);
	rc = put(o, json, 0); /* cas 0: only if absent */
	free(json);
	return rc != 0 ? api_op_fail(&o->op, rc, "plugin add") : HTTP_PENDING;
}

/* rest = "NAME" or "NAME/ACTION": the name into o->name; the action's
 * start into *action (NULL: none). 1 with a 404 written if bad. */
static int parse_name(struct api_req *r, struct http_reply *rep,
		      char *name, const char **action, size_t *action_len)
{
	const char *slash = memchr(r->rest, '/', r->rest_len);
	size_t n = slash ? (size_t)(slash - r->rest) : r->rest_len;

	if (!plug_name_ok(r->rest, n)) {
		api_error(rep, 404, "no such plugin");
		return 1;
	}
	memcpy(name, r->rest, n);
	name[n] = '\0';
	*action = slash ? slash + 1 : NULL;
	*action_len = slash ? r->rest_len - n - 1 : 0;
	return 0;
}

static void on_toggle_barrier(void *arg, int status)
{
	struct pop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;
	struct core_kv_value v = {0};
	struct plug_rec *rec = NULL;
	char why[200], *json = NULL;

	if (rep == NULL)
		goto done;
	if (status != 0) {
		api_core_error(rep, status, "plugin read");
		goto done;
	}
	status = c->ops->kv_get(c->ctx, NS, (const uint8_t *)o->name,
				strlen(o->name), &v);
	if (status == ERR_NOTFOUND) {
		api_error(rep, 404, "no such plugin: %s", o->name);
		goto done;
	}
	rec = malloc(sizeof(*rec));
	if (status != 0 || rec == NULL ||
	    plug_rec_parse((const char *)v.value, v.len, rec, why,
			   sizeof(why)) != 0) {
		api_error(rep, 500, "plugin %s: unreadable record", o->name);
		goto done;
	}
	rec->enabled = (uint8_t)o->enable;
	json = plug_rec_json(rec);
	if (json != NULL && put(o, json, v.rev) == 0) {
		free(json);
		free(rec);
		free(v.value);
		return; /* on_written answers */
	}
	api_error(rep, 503, "plugin write could not be proposed");
done:
	free(json);
	free(rec);
	free(v.value);
	api_op_finish(&o->op);
}

int api_plugins_action(struct api_req *r, struct http_reply *rep)
{
	char name[PLUG_NAME_MAX + 1];
	const char *a;
	size_t al;
	struct pop *o;
	int rc, enable;

	if (parse_name(r, rep, name, &a, &al))
		return 0;
	if (a != NULL && al == 6 && memcmp(a, "enable", 6) == 0)
		enable = 1;
	else if (a != NULL && al == 7 && memcmp(a, "disable", 7) == 0)
		enable = 0;
	else
		return api_error(rep, 404, "no such action: enable or disable");
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	memcpy(o->name, name, sizeof(o->name));
	o->enable = enable;
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api),
					    on_toggle_barrier, o);
	return rc != 0 ? api_op_fail(&o->op, rc, "plugin read") : HTTP_PENDING;
}

static void on_deleted(void *arg, const struct core_write_result *res)
{
	struct pop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	cJSON *j;

	if (rep != NULL &&
	    !api_write_failed(rep, res, "plugin remove", "plugin")) {
		j = cJSON_CreateObject();
		cJSON_AddTrueToObject(j, "removed");
		api_json(rep, 200, j);
	}
	api_op_finish(&o->op);
}

int api_plugins_delete(struct api_req *r, struct http_reply *rep)
{
	char name[PLUG_NAME_MAX + 1];
	const char *a;
	size_t al;
	struct core_cmd cmd;
	struct pop *o;
	int rc;

	if (parse_name(r, rep, name, &a, &al))
		return 0;
	if (a != NULL)
		return api_error(rep, 404, "no such endpoint");
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	memcpy(o->name, name, sizeof(o->name));
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_KV_DEL;
	cmd.u.kv.ns = PLUG_NS;
	cmd.u.kv.ns_len = sizeof(PLUG_NS) - 1;
	cmd.u.kv.key = (const uint8_t *)o->name;
	cmd.u.kv.key_len = strlen(o->name);
	cmd.u.kv.cas = CORE_CAS_NONE;
	rc = r->api->core.ops->write(r->api->core.ctx, &cmd,
				     api_deadline(r->api), on_deleted, o);
	return rc != 0 ? api_op_fail(&o->op, rc, "plugin remove")
		       : HTTP_PENDING;
}
