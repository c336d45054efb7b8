/*
 * idomain.c: the instances domain: Factorio servers, their names, nodes
 * and ports. See idomain.h.
 *
 * Uniqueness is kept with index records ("n" for names, "p" for ports on
 * a node) so every check is a point lookup inside apply, whatever the
 * number of instances. Every check runs before the first write, so a
 * refused command changes nothing (storage.h: results do not undo).
 */
#include "storage/idomain.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/stor_int.h"

#define I_REC_VERSION 2
#define I_REC_VERSION_V1 1
/* A record is far below this: two names of 64, a password of 64, the
 * settings text. */
#define I_MSG_MAX (1024 + STOR_INST_SETTINGS_MAX)
#define I_PFX_INST 'i'
#define I_PFX_NAME 'n'
#define I_PFX_PORT 'p'
#define I_FIELDS_V1 9
#define I_FIELDS 12

int stor_inst_name_ok(const char *s)
{
	size_t n = strnlen(s, STOR_INST_NAME_MAX + 1);

	if (n == 0 || n > STOR_INST_NAME_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

static int pw_ok(const char *pw)
{
	size_t n = strnlen(pw, STOR_INST_PW_MAX + 1);

	return n > 0 && n <= STOR_INST_PW_MAX;
}

static void w_inst(struct mp_writer *w, const struct stor_inst *in)
{
	mp_w_array(w, I_FIELDS);
	mp_w_uint(w, in->id);
	mp_w_cstr(w, in->name);
	mp_w_uint(w, in->node);
	mp_w_uint(w, in->game_port);
	mp_w_uint(w, in->rcon_port);
	mp_w_cstr(w, in->rcon_pw);
	mp_w_uint(w, in->auto_start);
	mp_w_uint(w, in->desired);
	mp_w_cstr(w, in->save);
	mp_w_uint(w, in->exclude_from_start_all);
	mp_w_uint(w, in->stop_timeout_ms);
	mp_w_cstr(w, in->settings);
}

static int u64_at(const msgpack_object *a, uint32_t i, uint64_t max,
		  uint64_t *v)
{
	const msgpack_object *o;

	if (mp_array_at(a, i, &o) != 0 || mp_get_u64(o, v) != 0 || *v > max)
		return ERR_MALFORMED;
	return 0;
}

static int str_at(const msgpack_object *a, uint32_t i, char *dst,
		  size_t size)
{
	const msgpack_object *o;

	if (mp_array_at(a, i, &o) != 0 || mp_get_strcpy(o, dst, size) != 0)
		return ERR_MALFORMED;
	return 0;
}

/* The fields a version 2 record added; a version 1 record has none. */
static int r_config(const msgpack_object *a, uint32_t first,
		    struct stor_inst *in)
{
	uint64_t ex;

	if (u64_at(a, first, 1, &ex) != 0 ||
	    u64_at(a, first + 1, STOR_INST_STOP_TIMEOUT_MS_MAX,
		   &in->stop_timeout_ms) != 0 ||
	    str_at(a, first + 2, in->settings, sizeof(in->settings)) != 0)
		return ERR_MALFORMED;
	in->exclude_from_start_all = (uint8_t)ex;
	return 0;
}

static int r_inst(const msgpack_object *a, struct stor_inst *in)
{
	uint64_t gp, rp, as, de;
	uint32_t n;

	memset(in, 0, sizeof(*in));
	if (mp_get_array(a, &n) != 0 || (n != I_FIELDS && n != I_FIELDS_V1) ||
	    u64_at(a, 0, UINT64_MAX, &in->id) != 0 ||
	    str_at(a, 1, in->name, sizeof(in->name)) != 0 ||
	    !stor_inst_name_ok(in->name) ||
	    u64_at(a, 2, UINT64_MAX, &in->node) != 0 ||
	    u64_at(a, 3, UINT16_MAX, &gp) != 0 ||
	    u64_at(a, 4, UINT16_MAX, &rp) != 0 ||
	    str_at(a, 5, in->rcon_pw, sizeof(in->rcon_pw)) != 0 ||
	    !pw_ok(in->rcon_pw) || u64_at(a, 6, 1, &as) != 0 ||
	    u64_at(a, 7, STOR_INST_RUNNING, &de) != 0 ||
	    str_at(a, 8, in->save, sizeof(in->save)) != 0 ||
	    !stor_inst_name_ok(in->save) ||
	    (n == I_FIELDS && r_config(a, I_FIELDS_V1, in) != 0))
		return ERR_MALFORMED;
	in->game_port = (uint16_t)gp;
	in->rcon_port = (uint16_t)rp;
	in->auto_start = (uint8_t)as;
	in->desired = (uint8_t)de;
	return 0;
}

static int i_decode(const msgpack_object *body, struct stor_inst_cmd *c)
{
	const msgpack_object *rec;
	uint64_t op, v[4];
	uint32_t n;

	memset(c, 0, sizeof(*c));
	if (mp_get_array(body, &n) != 0 || n < 2 ||
	    u64_at(body, 0, STOR_INST_CONFIG, &op) != 0 ||
	    mp_array_at(body, 1, &rec) != 0)
		return ERR_MALFORMED;
	c->op = (int)op;
	if (op == STOR_INST_CREATE)
		return n == 2 ? r_inst(rec, &c->inst) : ERR_MALFORMED;
	if (u64_at(body, 1, UINT64_MAX, &v[0]) != 0 || v[0] == 0)
		return ERR_MALFORMED;
	c->inst.id = v[0];
	switch (op) {
	case STOR_INST_ASSIGN:
		if (n != 5 || u64_at(body, 2, UINT64_MAX, &v[1]) != 0 ||
		    u64_at(body, 3, UINT16_MAX, &v[2]) != 0 ||
		    u64_at(body, 4, UINT16_MAX, &v[3]) != 0)
			return ERR_MALFORMED;
		c->inst.node = v[1];
		c->inst.game_port = (uint16_t)v[2];
		c->inst.rcon_port = (uint16_t)v[3];
		return 0;
	case STOR_INST_DESIRED:
		if (n != 3 || u64_at(body, 2, STOR_INST_RUNNING, &v[1]) != 0)
			return ERR_MALFORMED;
		c->inst.desired = (uint8_t)v[1];
		return 0;
	case STOR_INST_CONFIG:
		if (n != 6 || u64_at(body, 2, 1, &v[1]) != 0)
			return ERR_MALFORMED;
		c->inst.auto_start = (uint8_t)v[1];
		return r_config(body, 3, &c->inst);
	default:
		return n == 2 ? 0 : ERR_MALFORMED;
	}
}

int stor_inst_check(const msgpack_object *body)
{
	struct stor_inst_cmd c;

	return i_decode(body, &c);
}

static size_t inst_key(uint8_t *k, uint64_t id)
{
	k[0] = I_PFX_INST;
	put_u64be(k + 1, id);
	return 9;
}

static size_t name_key(uint8_t *k, const char *name)
{
	size_t n = strlen(name);

	k[0] = I_PFX_NAME;
	memcpy(k + 1, name, n);
	return 1 + n;
}

static size_t port_key(uint8_t *k, uint64_t node, uint16_t port)
{
	k[0] = I_PFX_PORT;
	put_u64be(k + 1, node);
	k[9] = (uint8_t)(port >> 8);
	k[10] = (uint8_t)port;
	return 11;
}

static int parse_rec(const uint8_t *v, size_t vl, struct stor_inst *out)
{
	const msgpack_object *o;
	struct mp_doc doc;
	uint64_t ver;
	uint32_t n;
	int rc = ERR_CORRUPT;

	if (mp_parse(&doc, v, vl) != 0)
		return ERR_CORRUPT;
	if (mp_get_array(doc.root, &n) != 0 || n != 2 ||
	    u64_at(doc.root, 0, UINT64_MAX, &ver) != 0 ||
	    mp_array_at(doc.root, 1, &o) != 0)
		goto out;
	if (ver != I_REC_VERSION && ver != I_REC_VERSION_V1) {
		rc = ERR_VERSION;
		goto out;
	}
	rc = r_inst(o, out) == 0 ? 0 : ERR_CORRUPT;
out:
	mp_doc_free(&doc);
	return rc;
}

static int ax_inst(struct stor_apply_ctx *ax, uint64_t id,
		   struct stor_inst *out)
{
	uint8_t k[9];
	const uint8_t *v;
	size_t vl;
	int rc = stor_ax_get(ax, k, inst_key(k, id), &v, &vl);

	return rc != 0 ? rc : parse_rec(v, vl, out);
}

static int put_inst(struct stor_apply_ctx *ax, const struct stor_inst *in)
{
	struct mp_writer w;
	uint8_t k[9];
	int rc;

	mp_writer_init(&w, I_MSG_MAX);
	mp_w_array(&w, 2);
	mp_w_uint(&w, I_REC_VERSION);
	w_inst(&w, in);
	rc = mp_writer_error(&w);
	if (rc == 0)
		rc = stor_ax_put(ax, k, inst_key(k, in->id),
				 mp_writer_data(&w), mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

/* 1 if port on node is held by an instance other than id. */
static int port_taken(struct stor_apply_ctx *ax, uint64_t node,
		      uint16_t port, uint64_t id)
{
	uint8_t k[11];
	const uint8_t *v;
	size_t vl;

	if (port == 0 || node == 0)
		return 0;
	if (stor_ax_get(ax, k, port_key(k, node, port), &v, &vl) != 0)
		return 0;
	return vl != 8 || get_u64be(v) != id;
}

static void ports_set(struct stor_apply_ctx *ax, const struct stor_inst *in,
		      int add)
{
	uint16_t ports[2] = {in->game_port, in->rcon_port};
	uint8_t k[11], v[8];

	if (in->node == 0)
		return;
	put_u64be(v, in->id);
	for (int i = 0; i < 2; i++) {
		if (ports[i] == 0)
			continue;
		if (add)
			(void)stor_ax_put(ax, k, port_key(k, in->node, ports[i]),
					  v, 8);
		else
			(void)stor_ax_del(ax, k,
					  port_key(k, in->node, ports[i]));
	}
}

static int ports_ok(struct stor_apply_ctx *ax, const struct stor_inst *in)
{
	if (in->game_port != 0 && in->game_port == in->rcon_port)
		return 0;
	return !port_taken(ax, in->node, in->game_port, in->id) &&
	       !port_taken(ax, in->node, in->rcon_port, in->id);
}

static int apply_create(struct stor_apply_ctx *ax, uint64_t index,
			struct stor_inst *in)
{
	uint8_t k[1 + STOR_INST_NAME_MAX], v[8];
	const uint8_t *old;
	size_t kl = name_key(k, in->name), vl;

	in->id = index;
	if (stor_ax_get(ax, k, kl, &old, &vl) == 0)
		return ERR_EXISTS;
	if (!ports_ok(ax, in))
		return ERR_CONFLICT;
	put_u64be(v, in->id);
	(void)stor_ax_put(ax, k, kl, v, 8);
	ports_set(ax, in, 1);
	return put_inst(ax, in);
}

static int apply_assign(struct stor_apply_ctx *ax, struct stor_inst *in,
			const struct stor_inst *c)
{
	struct stor_inst next = *in;

	next.node = c->node;
	next.game_port = c->node ? c->game_port : 0;
	next.rcon_port = c->node ? c->rcon_port : 0;
	if (!ports_ok(ax, &next))
		return ERR_CONFLICT;
	ports_set(ax, in, 0);
	ports_set(ax, &next, 1);
	return put_inst(ax, &next);
}

static int i_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		   const msgpack_object *body)
{
	uint8_t k[1 + STOR_INST_NAME_MAX];
	struct stor_inst_cmd c;
	struct stor_inst cur;
	int rc;

	(void)ctx;
	rc = i_decode(body, &c);
	if (rc != 0)
		return rc;
	if (c.op == STOR_INST_CREATE)
		return apply_create(ax, index, &c.inst);
	rc = ax_inst(ax, c.inst.id, &cur);
	if (rc != 0)
		return rc;
	switch (c.op) {
	case STOR_INST_ASSIGN:
		return apply_assign(ax, &cur, &c.inst);
	case STOR_INST_DESIRED:
		cur.desired = c.inst.desired;
		return put_inst(ax, &cur);
	case STOR_INST_CONFIG:
		cur.auto_start = c.inst.auto_start;
		cur.exclude_from_start_all = c.inst.exclude_from_start_all;
		cur.stop_timeout_ms = c.inst.stop_timeout_ms;
		memcpy(cur.settings, c.inst.settings, sizeof(cur.settings));
		return put_inst(ax, &cur);
	default:
		ASSERT(c.op == STOR_INST_DELETE);
		ports_set(ax, &cur, 0);
		(void)stor_ax_del(ax, k, name_key(k, cur.name));
		return stor_ax_del(ax, k, inst_key(k, cur.id));
	}
}

int stor_inst_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_INSTANCES, "instances",
				    i_apply, NULL);
}

static int config_ok(const struct stor_inst *in)
{
	return in->auto_start <= 1 && in->exclude_from_start_all <= 1 &&
	       in->stop_timeout_ms <= STOR_INST_STOP_TIMEOUT_MS_MAX &&
	       strnlen(in->settings, sizeof(in->settings)) <
		       sizeof(in->settings);
}

static int cmd_ok(const struct stor_inst_cmd *c)
{
	const struct stor_inst *in = &c->inst;

	switch (c->op) {
	case STOR_INST_CREATE:
		return stor_inst_name_ok(in->name) &&
		       stor_inst_name_ok(in->save) && pw_ok(in->rcon_pw) &&
		       config_ok(in) && in->desired <= STOR_INST_RUNNING;
	case STOR_INST_CONFIG:
		return in->id != 0 && config_ok(in);
	case STOR_INST_DESIRED:
		return in->id != 0 && in->desired <= STOR_INST_RUNNING;
	case STOR_INST_ASSIGN:
	case STOR_INST_DELETE:
		return in->id != 0;
	default:
		return 0;
	}
}

int stor_inst_encode(const struct stor_inst_cmd *c, uint8_t **out,
		     size_t *len)
{
	static const uint32_t nfields[] = {2, 5, 3, 2, 6};
	struct mp_writer w;
	int rc;

	if (!cmd_ok(c))
		return ERR_INVAL;
	mp_writer_init(&w, I_MSG_MAX);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_INSTANCES);
	mp_w_array(&w, nfields[c->op]);
	mp_w_uint(&w, (uint64_t)c->op);
	if (c->op == STOR_INST_CREATE)
		w_inst(&w, &c->inst);
	else
		mp_w_uint(&w, c->inst.id);
	if (c->op == STOR_INST_ASSIGN) {
		mp_w_uint(&w, c->inst.node);
		mp_w_uint(&w, c->inst.game_port);
		mp_w_uint(&w, c->inst.rcon_port);
	} else if (c->op == STOR_INST_DESIRED) {
		mp_w_uint(&w, c->inst.desired);
	} else if (c->op == STOR_INST_CONFIG) {
		mp_w_uint(&w, c->inst.auto_start);
		mp_w_uint(&w, c->inst.exclude_from_start_all);
		mp_w_uint(&w, c->inst.stop_timeout_ms);
		mp_w_cstr(&w, c->inst.settings);
	}
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

int stor_inst_get(struct stor *s, uint64_t id, struct stor_inst *out)
{
	uint8_t k[9], *v = NULL;
	size_t vl = 0;
	int rc = stor_state_get(s, STOR_DOMAIN_INSTANCES, k, inst_key(k, id),
				&v, &vl);

	if (rc == 0)
		rc = parse_rec(v, vl, out);
	free(v);
	return rc;
}

int stor_inst_by_name(struct stor *s, const char *name,
		      struct stor_inst *out)
{
	uint8_t k[1 + STOR_INST_NAME_MAX], *v = NULL;
	size_t vl = 0;
	int rc;

	if (!stor_inst_name_ok(name))
		return ERR_NOTFOUND;
	rc = stor_state_get(s, STOR_DOMAIN_INSTANCES, k, name_key(k, name), &v,
			    &vl);
	if (rc == 0)
		rc = vl == 8 ? stor_inst_get(s, get_u64be(v), out)
			     : ERR_CORRUPT;
	free(v);
	return rc;
}

struct i_list {
	struct stor_inst *out;
	size_t n, max;
};

static int collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
		   size_t vl)
{
	struct i_list *l = arg;

	(void)k;
	(void)kl;
	if (l->n == l->max)
		return 1;
	if (parse_rec(v, vl, &l->out[l->n]) != 0)
		return ERR_CORRUPT;
	l->n++;
	return 0;
}

int stor_inst_list(struct stor *s, struct stor_inst *out, size_t max,
		   size_t *n)
{
	uint8_t lo = I_PFX_INST, hi = I_PFX_INST + 1;
	struct i_list l = {out, 0, max};
	int rc = stor_state_scan(s, STOR_DOMAIN_INSTANCES, &lo, 1, &hi, 1,
				 collect, &l);

	*n = l.n;
	return rc;
}

int stor_inst_ax_node(struct stor_apply_ctx *ax, uint64_t id, uint64_t *node)
{
	struct stor_inst in;
	const uint8_t *v;
	uint8_t k[9];
	size_t vl;
	int rc = stor_ax_get_in(ax, STOR_DOMAIN_INSTANCES, k, inst_key(k, id),
				&v, &vl);

	if (rc == 0)
		rc = parse_rec(v, vl, &in);
	if (rc == 0)
		*node = in.node;
	return rc;
}
