/*
 * saves_move.c: the saves that move between nodes (saves.c has the
 * routes). A download is streamed from the file on the instance's node,
 * and through any other node by a pull (core.h's http_pull) whose pieces
 * go out as they come, so a node holds a few buffers whatever the save's
 * size. A transfer to an instance of another node is an upload in parts
 * that the source's node makes, one part in flight at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "node/api/saves_int.h"

/* ---- download: a local file, or a pull from the owner ---- */

/* A piece of the save; none yet (*len 0, *done 0) while a read or the
 * owner's bytes are on their way: the wake resumes the stream. */
static int dl_pull(void *arg, const uint8_t **p, size_t *len, int *done)
{
	struct sop *o = arg;
	const struct core *c = &o->op.api->core;
	int rc;

	if (o->rd != NULL)
		rc = c->ops->save_read(c->ctx, o->rd, p, len, done);
	else
		rc = c->ops->pull_next(c->ctx, o->pull, p, len, done);
	if (rc == ERR_AGAIN) {
		*len = 0;
		*done = 0;
		return 0;
	}
	return rc;
}

static void dl_close(void *arg)
{
	struct sop *o = arg;

	api_sop_free(o);
	free(o);
}

static void dl_started(void *arg, struct http_stream *st)
{
	((struct sop *)arg)->st = st;
}

/* Hands the request to the stream: from now on dl_close frees o. */
static void dl_stream(struct sop *o, struct http_reply *rep, int has_length,
		      uint64_t length)
{
	struct http_stream_src src = {dl_pull, dl_close, o};

	rep->status = 200;
	rep->content_type = "application/zip";
	wbuf_reset(&rep->body);
	o->streaming = 1;
	if (has_length)
		http_async_stream_sized(o->op.async, &src, dl_started, length);
	else
		http_async_stream_wakeable(o->op.async, &src, dl_started);
}

static void push_next(struct sop *o);

/* A read of the local file came in: the download's stream or the
 * transfer's part may go on. */
static void on_read_wake(void *arg)
{
	struct sop *o = arg;

	if (o->act == ACT_DOWNLOAD && o->st != NULL)
		http_stream_wake(o->st);
	else if (o->act == ACT_TRANSFER && o->filling)
		push_next(o);
}

void api_save_download(struct sop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	int rc = c->ops->save_open(c->ctx, o->rec.name, o->save, on_read_wake,
				   o, &o->rd, &o->size);

	if (rc != 0) {
		o->rd = NULL;
		api_save_error(rep, rc, o, NULL);
		api_sop_finish(o);
		return;
	}
	dl_stream(o, rep, 1, o->size);
}

/* The owner's answer to a pull that is not the file: relay it. */
static void pull_relay_error(struct sop *o, struct http_reply *rep, int code)
{
	const struct core *c = &o->op.api->core;
	const uint8_t *p;
	size_t len;
	int done = 0, rc = 0;

	while (rc == 0 && !done) {
		rc = c->ops->pull_next(c->ctx, o->pull, &p, &len, &done);
		if (rc == 0 && rep->body.len + len <= SAVE_ERR_BODY_MAX)
			(void)wbuf_put(&rep->body, p, len);
	}
	if (rc == ERR_AGAIN)
		return; /* more to come: the next wake */
	rep->status = rc == 0 ? code : 502;
	rep->content_type = "application/json";
	api_sop_finish(o);
}

void api_save_pull_wake(void *arg)
{
	struct sop *o = arg;
	const struct core *c = &o->op.api->core;
	struct http_reply *rep;
	int64_t length = -1;
	int code = 0, rc;

	if (o->streaming) {
		if (o->st != NULL)
			http_stream_wake(o->st);
		return;
	}
	rep = api_op_reply(&o->op);
	if (rep == NULL) {
		api_sop_finish(o); /* the client went away */
		return;
	}
	if (o->relaying) {
		pull_relay_error(o, rep, o->relay_code);
		return;
	}
	rc = c->ops->pull_head(c->ctx, o->pull, &code, &length);
	if (rc == ERR_AGAIN)
		return;
	if (rc != 0) {
		api_error(rep, 503, "the node running %s did not answer (%s)",
			  o->inst, err_str(rc));
		api_sop_finish(o);
	} else if (code == 200) {
		dl_stream(o, rep, length >= 0, length >= 0 ? (uint64_t)length : 0);
	} else {
		wbuf_reset(&rep->body);
		o->relaying = 1;
		o->relay_code = code;
		pull_relay_error(o, rep, code);
	}
}

/* ---- transfer to an instance of another node ---- */

static void on_part_stored(void *arg, int status, int code, const char *body,
			   size_t len)
{
	struct sop *o = arg;
	struct http_reply *rep = api_op_reply(&o->op);

	if (rep == NULL) {
		api_sop_finish(o);
		return;
	}
	if (status != 0 || (code != 200 && code != 201)) {
		if (status == 0 && code >= 400) {
			rep->status = code;
			rep->content_type = "application/json";
			wbuf_reset(&rep->body);
			(void)wbuf_put(&rep->body, body, len);
		} else {
			api_error(rep, 503, "the node of %s did not take the "
				  "save (%s)", o->dst_name,
				  err_str(status ? status : ERR_IO));
		}
		api_sop_finish(o);
		return;
	}
	if (code == 201) {
		api_save_done(o, 0, NULL);
		return;
	}
	o->sent += o->fill;
	o->fill = 0;
	push_next(o);
}

/* Fills the part buffer (up to CORE_SAVE_PART_MAX) from the file, then
 * sends it. A read not in yet returns; its wake calls this again. */
static void push_next(struct sop *o)
{
	const struct core *c = &o->op.api->core;
	char path[SAVE_PATH_MAX];
	int rc = 0, done = o->sent + o->fill == o->size;

	o->filling = 1;
	while (rc == 0 && !done && o->fill < CORE_SAVE_PART_MAX) {
		const uint8_t *p;
		size_t len;

		rc = c->ops->save_read(c->ctx, o->rd, &p, &len, &done);
		if (rc == ERR_AGAIN)
			return;
		if (rc == 0 && o->fill + len > CORE_SAVE_PART_MAX)
			rc = ERR_TOOBIG; /* reads are smaller than a part */
		if (rc == 0) {
			memcpy(o->part + o->fill, p, len);
			o->fill += len;
		}
	}
	o->filling = 0;
	snprintf(path, sizeof(path), "/api/v1/instances/%s/saves/%s?upload=%s"
		 "&offset=%llu&total=%llu", o->dst_name, o->to, o->upload,
		 (unsigned long long)o->sent, (unsigned long long)o->size);
	if (rc == 0)
		rc = c->ops->http_forward(c->ctx, o->dst_addr, "PUT", path,
					  o->auth, o->part, o->fill,
					  c->ops->now_ms(c->ctx) +
						  SAVE_PART_WAIT_MS,
					  on_part_stored, o);
	if (rc != 0) {
		struct http_reply *rep = api_op_reply(&o->op);

		if (rep != NULL)
			api_save_error(rep, rc, o, NULL);
		api_sop_finish(o);
	}
}

/* The target instance: same node (a copy) or another (a push). */
void api_save_transfer(struct sop *o, struct http_reply *rep)
{
	const struct core *c = &o->op.api->core;
	struct core_instance d;
	char pw[CORE_INST_PW_LEN + 1];
	int rc = c->ops->inst_get(c->ctx, o->dst, &d);

	if (rc != 0) {
		api_error(rep, 404, "no such instance: %s", o->dst);
		api_sop_finish(o);
		return;
	}
	snprintf(o->dst_name, sizeof(o->dst_name), "%s", d.name);
	if (d.node == 0 || d.id == o->rec.id) {
		api_error(rep, d.node == 0 ? 409 : 400, d.node == 0
			  ? "instance %s is not assigned to a node"
			  : "%s: a transfer goes to another instance", d.name);
		api_sop_finish(o);
		return;
	}
	if (d.node == o->rec.node) {
		rc = c->ops->save_copy(c->ctx, o->rec.name, o->save, d.name,
				       o->to, api_save_done, o);
	} else if ((rc = api_member_http(c, d.node, o->dst_addr,
				     sizeof(o->dst_addr))) != 0) {
		api_error(rep, 503, "the node running %s is unreachable",
			  d.name);
		api_sop_finish(o);
		return;
	} else {
		rc = c->ops->save_open(c->ctx, o->rec.name, o->save,
				       on_read_wake, o, &o->rd, &o->size);
		o->part = rc == 0 ? malloc(CORE_SAVE_PART_MAX) : NULL;
		if (rc == 0 && o->part == NULL)
			rc = ERR_NOMEM;
		core_inst_password(pw); /* 32 random hex digits: an upload id */
		snprintf(o->upload, sizeof(o->upload), "%s", pw);
		if (rc == 0) {
			push_next(o);
			return;
		}
	}
	if (rc != 0) {
		api_save_error(rep, rc, o, NULL);
		api_sop_finish(o);
	}
}

