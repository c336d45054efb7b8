/*
 * instances.c: Factorio instances (issue 12):
 *   GET    /api/v1/instances              list (records; live status for
 *                                         instances of this node)
 *   POST   /api/v1/instances              {"name", "save"?, "auto_start"?,
 *          "node"?, "game_port"?, "rcon_port"?} -> 201 {"id", "name"}
 *   GET    /api/v1/instances/NAME         show, with the live status
 *   POST   /api/v1/instances/NAME/assign  {"node": NAME|""}  ("": unassign)
 *   POST   /api/v1/instances/NAME/start | /stop
 *   POST   /api/v1/instances/NAME/rcon    {"command": "..."} -> {"reply"}
 *   DELETE /api/v1/instances/NAME
 * NAME is an instance name or its id. The live status and RCON exist only
 * on the node the instance is assigned to: show and rcon on another node
 * are forwarded there (core.h's http_forward); a forwarded request is
 * answered where it lands. The RCON password is never shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/bytes.h"
#include "base/err.h"
#include "node/api/api_int.h"

/* An RCON command over the API (well under Factorio's crash size). */
#define INST_CMD_MAX 10000
#define INST_AUTH_MAX 256

enum act {
	ACT_SHOW = 1,
	ACT_ASSIGN,
	ACT_START,
	ACT_STOP,
	ACT_RCON,
	ACT_DELETE,
};

struct iop {
	struct api_op op;
	int act;
	int forwarded; /* came from another node: never forward again */
	char name[CORE_INST_NAME_MAX + 1];
	char node[CORE_NAME_MAX + 1]; /* ACT_ASSIGN target; "" unassign */
	uint16_t game_port, rcon_port;
	char method[8];
	char path[256];
	char auth[INST_AUTH_MAX];
	char *cmd; /* ACT_RCON; the request body is kept for a forward */
	size_t cmd_len;
	uint8_t *body;
	size_t body_len;
};

static void iop_finish(struct iop *o)
{
	free(o->cmd);
	free(o->body);
	memset(o->auth, 0, sizeof(o->auth));
	api_op_finish(&o->op);
}

/* Looks a member up by raft id (name, http, state) or by name (id). */
static int member_find(const struct core *c, uint64_t id, const char *name,
		       struct core_member *out)
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
		if ((name != NULL && strcmp(m[i].name, name) == 0) ||
		    (name == NULL && m[i].raft_id == id)) {
			*out = m[i];
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

/* Who is online (running instances) and the IPC counters. */
static void add_players(cJSON *o, const struct core_inst_state *st)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "players");

	for (uint32_t i = 0; i < st->players_n && i < CORE_INST_PLAYERS_MAX; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(st->players[i]));
	cJSON_AddNumberToObject(o, "ipc_received", (double)st->ipc_received);
	cJSON_AddNumberToObject(o, "ipc_duplicates", (double)st->ipc_duplicates);
}

/* The record as JSON, without the password, with the status as this
 * node knows it (status NULL: ask the manager, if the instance is here). */
static cJSON *inst_json(const struct core *c, const struct core_instance *in,
			const char *status)
{
	struct core_inst_state st;
	struct core_member mb;
	cJSON *o = cJSON_CreateObject();
	char hex[17];

	cJSON_AddNumberToObject(o, "id", (double)in->id);
	cJSON_AddStringToObject(o, "name", in->name);
	memset(&mb, 0, sizeof(mb));
	if (in->node != 0)
		(void)member_find(c, in->node, NULL, &mb);
	cJSON_AddStringToObject(o, "node", mb.name);
	api_hex_id(in->node, hex);
	cJSON_AddStringToObject(o, "node_id", in->node ? hex : "");
	cJSON_AddNumberToObject(o, "game_port", in->game_port);
	cJSON_AddNumberToObject(o, "rcon_port", in->rcon_port);
	cJSON_AddBoolToObject(o, "auto_start", in->auto_start);
	cJSON_AddStringToObject(o, "desired", in->desired ? "running"
							  : "stopped");
	cJSON_AddStringToObject(o, "save", in->save);
	if (in->node == 0) {
		cJSON_AddStringToObject(o, "status", "unassigned");
	} else if (status != NULL) {
		cJSON_AddStringToObject(o, "status", status);
	} else if (c->ops->inst_state(c->ctx, in->id, &st) == 0) {
		cJSON_AddStringToObject(o, "status", st.status);
		cJSON_AddNumberToObject(o, "pid", (double)st.pid);
		cJSON_AddNumberToObject(o, "crashes", st.crashes);
		cJSON_AddBoolToObject(o, "given_up", st.given_up);
		cJSON_AddNumberToObject(o, "saves", st.saves);
		cJSON_AddNumberToObject(o, "start_to_running_ms",
					(double)st.start_to_running_ms);
		cJSON_AddStringToObject(o, "error", st.cause);
		add_players(o, &st); /* issue 12, player tracking */
	} else {
		cJSON_AddStringToObject(o, "status", "stopped");
	}
	return o;
}

static void on_list_barrier(void *arg, int status)
{
	struct api_op *op = arg;
	struct http_reply *rep = api_op_reply(op);
	const struct core *c = &op->api->core;
	struct core_instance *v = NULL;
	uint64_t me = self_id(c);
	size_t n = 0;
	cJSON *j, *arr;
	int rc;

	if (rep == NULL)
		goto out;
	if (status != 0) {
		api_core_error(rep, status, "instance list");
		goto out;
	}
	v = calloc(CORE_INST_MAX, sizeof(*v));
	rc = v ? c->ops->inst_list(c->ctx, v, CORE_INST_MAX, &n) : ERR_NOMEM;
	if (rc != 0) {
		api_core_error(rep, rc, "instance list");
		goto out;
	}
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "instances");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, inst_json(c, &v[i],
						    v[i].node == me ||
								    v[i].node == 0
							    ? NULL
							    : "remote"));
	api_json(rep, 200, j);
out:
	if (v != NULL)
		memset(v, 0, CORE_INST_MAX * sizeof(*v));
	free(v);
	api_op_finish(op);
}

int api_instances_list(struct api_req *r, struct http_reply *rep)
{
	struct api_op *op = api_op_new(r, rep, sizeof(*op));
	int rc;

	if (op == NULL)
		return 0;
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api),
					    on_list_barrier, op);
	return rc != 0 ? api_op_fail(op, rc, "instance list") : HTTP_PENDING;
}

/* ---- create ---- */

struct cop {
	struct api_op op;
	char name[CORE_INST_NAME_MAX + 1];
	uint16_t game_port, rcon_port;
};

static void on_created(void *arg, const struct core_write_result *res)
{
	struct cop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	cJSON *j;

	if (rep == NULL)
		goto out;
	if (res->status == 0 && res->result == ERR_EXISTS) {
		api_error(rep, 409, "an instance named %s exists", o->name);
	} else if (res->status == 0 && res->result == ERR_CONFLICT) {
		api_error(rep, 409, "port %u or %u is taken on that node",
			  o->game_port, o->rcon_port);
	} else if (!api_write_failed(rep, res, "instance create",
				     "instance")) {
		j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "id", (double)res->index);
		cJSON_AddStringToObject(j, "name", o->name);
		api_json(rep, 201, j);
	}
out:
	api_op_finish(&o->op);
}

/* A port field: absent 0, else 1..65535; -1 when malformed. */
static int port_field(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (v == NULL)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
	    v->valuedouble > 65535)
		return -1;
	return (int)v->valuedouble;
}

/* Fills the record from the body; 1 with a 400 written. */
static int parse_create(struct api_req *r, struct http_reply *rep,
			const cJSON *j, struct core_instance *in)
{
	const char *name = api_json_str(j, "name");
	const char *save = api_json_str(j, "save");
	const char *node = api_json_str(j, "node");
	const cJSON *as = cJSON_GetObjectItemCaseSensitive(j, "auto_start");
	struct core_member mb;
	int gp = port_field(j, "game_port"), rp = port_field(j, "rcon_port");

	memset(in, 0, sizeof(*in));
	if (name == NULL || !core_inst_name_ok(name))
		return api_error(rep, 400,
				 "bad name: want 1..%d of [A-Za-z0-9_.-], "
				 "not starting with '.'",
				 CORE_INST_NAME_MAX), 1;
	if (save != NULL && !core_inst_name_ok(save))
		return api_error(rep, 400, "bad save name: same rule as names"),
		       1;
	if (gp < 0 || rp < 0 || (gp != 0) != (rp != 0) || (gp && gp == rp))
		return api_error(rep, 400,
				 "bad ports: give both game_port and "
				 "rcon_port (1..65535, different) or neither"),
		       1;
	if (as != NULL && !cJSON_IsBool(as))
		return api_error(rep, 400, "auto_start must be true or false"),
		       1;
	if (node != NULL && node[0] != '\0') {
		if (member_find(&r->api->core, 0, node, &mb) != 0 ||
		    mb.raft_id == 0)
			return api_error(rep, 404, "no such node: %s", node), 1;
		in->node = mb.raft_id;
	}
	snprintf(in->name, sizeof(in->name), "%s", name);
	snprintf(in->save, sizeof(in->save), "%s", save ? save : name);
	in->auto_start = as != NULL && cJSON_IsTrue(as);
	in->game_port = (uint16_t)gp;
	in->rcon_port = (uint16_t)rp;
	core_inst_password(in->rcon_pw);
	return 0;
}

int api_instances_create(struct api_req *r, struct http_reply *rep)
{
	struct core_cmd cmd;
	struct cop *o;
	cJSON *j = api_body_json(r->http, rep);
	int rc;

	if (j == NULL)
		return 0;
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CORE_CMD_INST_CREATE;
	rc = parse_create(r, rep, j, &cmd.u.inst);
	cJSON_Delete(j);
	if (rc != 0)
		return 0;
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL)
		return 0;
	memcpy(o->name, cmd.u.inst.name, sizeof(o->name));
	o->game_port = cmd.u.inst.game_port;
	o->rcon_port = cmd.u.inst.rcon_port;
	rc = r->api->core.ops->write(r->api->core.ctx, &cmd,
				     api_deadline(r->api), on_created, o);
	memset(&cmd, 0, sizeof(cmd));
	return rc != 0 ? api_op_fail(&o->op, rc, "instance create")
		       : HTTP_PENDING;
}

/* ---- one instance: show, assign, start, stop, rcon, delete ---- */

static void on_written(void *arg, const struct core_write_result *res)
{
	struct iop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	cJSON *j;

	if (rep == NULL)
		goto out;
	if (res->status == 0 && res->result == ERR_CONFLICT) {
		api_error(rep, 409, "a port of %s is taken on node %s", o->name,
			  o->node);
	} else if (!api_write_failed(rep, res, "instance", "instance")) {
		j = cJSON_CreateObject();
		cJSON_AddTrueToObject(j, "ok");
		api_json(rep, 200, j);
	}
out:
	iop_finish(o);
}

static void on_forwarded(void *arg, int status, int code, const char *body,
			 size_t len)
{
	struct iop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);

	if (rep == NULL)
		goto out;
	if (status != 0 || code < 100) {
		api_error(rep, 503, "the node running %s did not answer (%s)",
			  o->name, err_str(status != 0 ? status : ERR_IO));
		goto out;
	}
	rep->status = code;
	rep->content_type = "application/json";
	wbuf_reset(&rep->body);
	if (wbuf_put(&rep->body, body, len) != 0)
		api_error(rep, 500, "out of memory");
out:
	iop_finish(o);
}

static void on_rcon(void *arg, int status, const char *body, size_t len)
{
	struct iop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	cJSON *j;

	if (rep == NULL)
		goto out;
	if (status != 0) {
		api_error(rep, status == ERR_TIMEOUT ? 504 : 502,
			  "RCON command failed: %s", err_str(status));
		goto out;
	}
	j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "reply", cJSON_CreateString(body));
	(void)len;
	api_json(rep, 200, j);
out:
	iop_finish(o);
}

/* The instance runs elsewhere: forward, or say why not. 1 if the op was
 * handed over (or finished). */
static void remote(struct iop *o, struct http_reply *rep,
		   const struct core_instance *in)
{
	const struct core *c = &o->op.api->core;
	struct core_member mb;
	int rc;

	if (o->forwarded || member_find(c, in->node, NULL, &mb) != 0 ||
	    mb.http[0] == '\0' || strcmp(mb.state, "dead") == 0 ||
	    strcmp(mb.state, "left") == 0) {
		if (o->act == ACT_SHOW) {
			api_json(rep, 200, inst_json(c, in, "unknown"));
		} else {
			api_error(rep, 503, "the node running %s is unreachable",
				  in->name);
		}
		iop_finish(o);
		return;
	}
	rc = c->ops->http_forward(c->ctx, mb.http, o->method, o->path, o->auth,
				  o->body, o->body_len,
				  api_deadline(o->op.api), on_forwarded, o);
	if (rc != 0) {
		api_error(rep, 503, "cannot forward to %s: %s", mb.name,
			  err_str(rc));
		iop_finish(o);
	}
}

static void local_rcon(struct iop *o, struct http_reply *rep,
		       const struct core_instance *in)
{
	const struct core *c = &o->op.api->core;
	int rc = c->ops->inst_rcon(c->ctx, in->id, o->cmd, o->cmd_len,
				   api_deadline(o->op.api), on_rcon, o);

	if (rc == 0)
		return;
	if (rc == ERR_AGAIN || rc == ERR_NOTFOUND)
		api_error(rep, 409, "instance %s is not running", in->name);
	else
		api_error(rep, 500, "RCON: %s", err_str(rc));
	iop_finish(o);
}

/* Proposes the command that act means for in. */
static void propose(struct iop *o, struct http_reply *rep,
		    const struct core_instance *in)
{
	const struct core *c = &o->op.api->core;
	struct core_member mb;
	struct core_cmd cmd;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.u.inst.id = in->id;
	if (o->act == ACT_ASSIGN) {
		cmd.type = CORE_CMD_INST_ASSIGN;
		if (o->node[0] != '\0') {
			if (member_find(c, 0, o->node, &mb) != 0 ||
			    mb.raft_id == 0) {
				api_error(rep, 404, "no such node: %s", o->node);
				iop_finish(o);
				return;
			}
			cmd.u.inst.node = mb.raft_id;
			cmd.u.inst.game_port = o->game_port;
			cmd.u.inst.rcon_port = o->rcon_port;
		}
	} else if (o->act == ACT_DELETE) {
		cmd.type = CORE_CMD_INST_DELETE;
	} else {
		if (o->act == ACT_START && in->node == 0) {
			api_error(rep, 409, "instance %s is not assigned to a "
				  "node: assign it first", in->name);
			iop_finish(o);
			return;
		}
		cmd.type = CORE_CMD_INST_DESIRED;
		cmd.u.inst.desired = o->act == ACT_START ? CORE_INST_RUNNING
							 : CORE_INST_STOPPED;
	}
	rc = c->ops->write(c->ctx, &cmd, api_deadline(o->op.api), on_written,
			   o);
	if (rc != 0) {
		api_core_error(rep, rc, "instance");
		iop_finish(o);
	}
}

static void on_barrier(void *arg, int status)
{
	struct iop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);
	const struct core *c = &o->op.api->core;
	struct core_instance in;
	int rc;

	if (rep == NULL) {
		iop_finish(o);
		return;
	}
	if (status != 0) {
		api_core_error(rep, status, "instance");
		iop_finish(o);
		return;
	}
	rc = c->ops->inst_get(c->ctx, o->name, &in);
	if (rc != 0) {
		if (rc == ERR_NOTFOUND)
			api_error(rep, 404, "no such instance: %s", o->name);
		else
			api_core_error(rep, rc, "instance");
		iop_finish(o);
	} else if (o->act != ACT_SHOW && o->act != ACT_RCON) {
		propose(o, rep, &in);
	} else if (in.node != 0 && in.node != self_id(c)) {
		remote(o, rep, &in);
	} else if (o->act == ACT_SHOW) {
		api_json(rep, 200, inst_json(c, &in, NULL));
		iop_finish(o);
	} else if (in.node == 0) {
		api_error(rep, 409, "instance %s is not assigned to a node",
			  in.name);
		iop_finish(o);
	} else {
		local_rcon(o, rep, &in);
	}
	memset(&in, 0, sizeof(in));
}

/* Splits rest = "NAME[/ACTION]"; 0, or 1 with the answer written. */
static int parse_target(struct api_req *r, struct http_reply *rep,
			struct iop *o, const char *method)
{
	static const struct {
		const char *word;
		int act;
	} acts[] = {{"assign", ACT_ASSIGN}, {"start", ACT_START},
		    {"stop", ACT_STOP},     {"rcon", ACT_RCON}};
	const char *slash = memchr(r->rest, '/', r->rest_len);
	size_t nl = slash ? (size_t)(slash - r->rest) : r->rest_len;
	size_t al = slash ? r->rest_len - nl - 1 : 0;

	if (nl == 0 || nl > CORE_INST_NAME_MAX)
		return api_error(rep, 404, "no such instance"), 1;
	memcpy(o->name, r->rest, nl);
	o->name[nl] = '\0';
	if (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0) {
		o->act = method[0] == 'G' ? ACT_SHOW : ACT_DELETE;
		return slash ? (api_error(rep, 404, "no such resource"), 1) : 0;
	}
	for (size_t i = 0; slash && i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strlen(acts[i].word) == al &&
		    memcmp(acts[i].word, slash + 1, al) == 0)
			o->act = acts[i].act;
	if (o->act == 0)
		return api_error(rep, 404, "no such action: want assign, start, "
				 "stop or rcon"), 1;
	return 0;
}

/* The request's pieces a forward needs, and the action's parameters. */
static int parse_params(struct api_req *r, struct http_reply *rep,
			struct iop *o)
{
	const char *cmd = NULL, *node = NULL, *h;
	size_t n = 0;
	cJSON *j;
	int gp, rp;

	o->forwarded = http_req_header(r->http, CORE_FORWARDED_HEADER, &n) !=
		       NULL;
	h = http_req_header(r->http, "authorization", &n);
	if (h != NULL && n < sizeof(o->auth))
		memcpy(o->auth, h, n);
	if (r->http->raw_path_len >= sizeof(o->path))
		return api_error(rep, 414, "path too long"), 1;
	memcpy(o->path, r->http->raw_path, r->http->raw_path_len);
	if (o->act != ACT_ASSIGN && o->act != ACT_RCON)
		return 0;
	j = api_body_json(r->http, rep);
	if (j == NULL)
		return 1;
	if (o->act == ACT_ASSIGN) {
		node = api_json_str(j, "node");
		gp = port_field(j, "game_port");
		rp = port_field(j, "rcon_port");
		if (node == NULL || strlen(node) > CORE_NAME_MAX || gp < 0 ||
		    rp < 0 || (gp != 0) != (rp != 0) || (gp && gp == rp)) {
			cJSON_Delete(j);
			return api_error(rep, 400, "want {\"node\": NAME or \"\","
					 " \"game_port\"?, \"rcon_port\"?}"), 1;
		}
		snprintf(o->node, sizeof(o->node), "%s", node);
		o->game_port = (uint16_t)gp;
		o->rcon_port = (uint16_t)rp;
	} else {
		cmd = api_json_str(j, "command");
		if (cmd == NULL || cmd[0] == '\0' ||
		    strlen(cmd) > INST_CMD_MAX) {
			cJSON_Delete(j);
			return api_error(rep, 400, "want {\"command\": \"...\"} "
					 "of 1..%d bytes", INST_CMD_MAX), 1;
		}
		o->cmd_len = strlen(cmd);
		o->cmd = malloc(o->cmd_len + 1);
		o->body = malloc(r->http->body_len);
		if (o->cmd == NULL || o->body == NULL) {
			cJSON_Delete(j);
			return api_error(rep, 500, "out of memory"), 1;
		}
		memcpy(o->cmd, cmd, o->cmd_len + 1);
		memcpy(o->body, r->http->body, r->http->body_len);
		o->body_len = r->http->body_len;
	}
	cJSON_Delete(j);
	return 0;
}

static int one(struct api_req *r, struct http_reply *rep, const char *method)
{
	struct iop t, *o;
	int rc;

	/* Parse first: a bad request is answered synchronously. */
	memset(&t, 0, sizeof(t));
	snprintf(t.method, sizeof(t.method), "%s", method);
	if (parse_target(r, rep, &t, method) != 0 ||
	    parse_params(r, rep, &t) != 0) {
		free(t.cmd);
		free(t.body);
		return 0;
	}
	o = api_op_new(r, rep, sizeof(*o));
	if (o == NULL) {
		free(t.cmd);
		free(t.body);
		return 0;
	}
	t.op = o->op;
	*o = t;
	memset(&t, 0, sizeof(t));
	rc = r->api->core.ops->read_barrier(r->api->core.ctx, 0,
					    api_deadline(r->api), on_barrier,
					    o);
	if (rc != 0) {
		free(o->cmd);
		free(o->body);
		return api_op_fail(&o->op, rc, "instance");
	}
	return HTTP_PENDING;
}

int api_instances_show(struct api_req *r, struct http_reply *rep)
{
	return one(r, rep, "GET");
}

int api_instances_action(struct api_req *r, struct http_reply *rep)
{
	return one(r, rep, "POST");
}

int api_instances_delete(struct api_req *r, struct http_reply *rep)
{
	return one(r, rep, "DELETE");
}
