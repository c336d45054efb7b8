/*
 * chunked.c: large Lua payloads as several RCON commands of bounded size.
 * See rcon_client_chunked in client.h for the Lua side and the contract.
 *
 * Why: Factorio up to 1.1.60 crashed on commands of 13,340+ characters
 * (Clusterio issue #457), and RCON input into the game is slow, so every
 * command stays under command_max and a large payload travels in parts
 * that accumulate in the save's `storage`, keyed by a transfer number.
 * Escaping is done byte by byte into units that are never split across
 * parts, so each part is a complete Lua string literal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "rcon/client.h"

#define PAYLOAD_MAX (16u * 1024 * 1024)
#define CONSUMER_MAX 2048
#define FINAL_MAX (CONSUMER_MAX + 1024)

struct chunked_op {
	rcon_reply_cb cb;
	void *ud;
	uint32_t left; /* parts + final not yet completed */
	int err;       /* first failure */
	int reported;
};

/* Escapes one byte as a Lua quoted-string unit; returns its length. */
static size_t escape_byte(uint8_t b, char out[4])
{
	if (b == '\\' || b == '\'') {
		out[0] = '\\';
		out[1] = (char)b;
		return 2;
	}
	if (b == '\n') {
		out[0] = '\\';
		out[1] = 'n';
		return 2;
	}
	if (b >= 0x20 && b < 0x7f) {
		out[0] = (char)b;
		return 1;
	}
	/* Always three digits, so a following digit cannot join the
	 * escape. */
	out[0] = '\\';
	out[1] = (char)('0' + b / 100);
	out[2] = (char)('0' + b / 10 % 10);
	out[3] = (char)('0' + b % 10);
	return 4;
}

static void op_done(struct chunked_op *op, int status, const char *body,
		    size_t len)
{
	if (!op->reported) {
		op->reported = 1;
		op->cb(op->ud, op->err ? op->err : status, body, len);
	}
	if (op->left == 0)
		free(op);
}

static void part_cb(void *ud, int status, const char *body, size_t len)
{
	struct chunked_op *op = ud;

	ASSERT(op->left > 0);
	op->left--;
	/* A part prints nothing; anything else (a Lua error, the
	 * achievements warning of a save's first command) means the part
	 * did not run. */
	if (op->err == 0 && (status < 0 || len > 0))
		op->err = status < 0 ? status : ERR_MALFORMED;
	(void)body;
	if (op->left == 0)
		op_done(op, op->err, "", 0);
}

static void final_cb(void *ud, int status, const char *body, size_t len)
{
	struct chunked_op *op = ud;

	ASSERT(op->left > 0);
	op->left--;
	if (op->err == 0 && status < 0)
		op->err = status;
	/* The final goes out only after every part was answered, so a
	 * successful final is the last completion. */
	if (status == 0)
		ASSERT(op->left == 0);
	if (op->err != 0 && op->left > 0)
		return; /* report once the remaining parts completed */
	op_done(op, status, body, len);
}

static int part_prefix(char *buf, size_t cap, uint32_t key, uint32_t i)
{
	int n;

	if (i == 1)
		n = snprintf(buf, cap,
			     "/sc local S=storage or global "
			     "S.__cdc=S.__cdc or {} local t={} "
			     "S.__cdc[%u]=t t[1]='", key);
	else
		n = snprintf(buf, cap,
			     "/sc local S=storage or global "
			     "S.__cdc=S.__cdc or {} local t=S.__cdc[%u] or {} "
			     "S.__cdc[%u]=t t[%u]='", key, key, i);
	ASSERT(n > 0 && (size_t)n < cap);
	return n;
}

static int build_final(char *buf, size_t cap, uint32_t key, uint32_t n,
		       const char *consumer)
{
	char run[CONSUMER_MAX + 16];
	int len;

	if (consumer != NULL)
		len = snprintf(run, sizeof(run), "(%s)(d)", consumer);
	else
		len = snprintf(run, sizeof(run), "%s",
			       "local f,le=load(d,'=chunked','t') "
			       "if not f then error(le,0) end f()");
	if (len < 0 || (size_t)len >= sizeof(run))
		return ERR_TOOBIG;
	len = snprintf(
		buf, cap,
		"/sc local S=storage or global local t=S.__cdc and S.__cdc[%u] "
		"if S.__cdc then S.__cdc[%u]=nil end "
		"for i=1,%u do if not t or type(t[i])~='string' then "
		"rcon.print('clusterd-chunked: missing parts') return end end "
		"local d=table.concat(t,'',1,%u) "
		"local ok,e=pcall(function() %s end) "
		"if not ok then rcon.print('clusterd-chunked: '..tostring(e)) end",
		key, key, n, n, run);
	if (len < 0 || (size_t)len >= cap)
		return ERR_TOOBIG;
	return len;
}

/* Escapes payload bytes from *pos into out (after its prefix) while they
 * fit in budget bytes; returns the escaped length. */
static size_t fill_part(const uint8_t *p, size_t len, size_t *pos, char *out,
			size_t budget)
{
	size_t used = 0;
	char unit[4];

	while (*pos < len) {
		size_t u = escape_byte(p[*pos], unit);

		if (used + u > budget)
			break;
		memcpy(out + used, unit, u);
		used += u;
		(*pos)++;
	}
	return used;
}

/* Counts the parts payload needs with commands of at most cmd_max bytes;
 * 0 if even one byte does not fit. */
static uint32_t count_parts(const uint8_t *p, size_t len, size_t cmd_max,
			    uint32_t key)
{
	char pre[160];
	char unit[4];
	size_t pos = 0;
	uint32_t parts = 0;

	while (pos < len || parts == 0) {
		size_t budget, used = 0;
		size_t n = (size_t)part_prefix(pre, sizeof(pre), key, parts + 1);

		if (n + 1 + 4 > cmd_max)
			return 0;
		budget = cmd_max - n - 1;
		while (pos < len) {
			size_t u = escape_byte(p[pos], unit);

			if (used + u > budget)
				break;
			used += u;
			pos++;
		}
		parts++;
	}
	return parts;
}

static int submit_parts(struct rcon_client *c, struct chunked_op *op,
			const uint8_t *p, size_t len, size_t cmd_max,
			uint32_t key, uint32_t parts, uint64_t timeout_ms,
			char *buf)
{
	size_t pos = 0;
	int rv;

	for (uint32_t i = 1; i <= parts; i++) {
		size_t n = (size_t)part_prefix(buf, cmd_max, key, i);

		n += fill_part(p, len, &pos, buf + n, cmd_max - n - 1);
		buf[n++] = '\'';
		ASSERT(n <= cmd_max);
		rv = rcon_client_command(c, buf, n, RCON_CMD_ORDERED,
					 timeout_ms, part_cb, op);
		if (rv != 0)
			return rv;
		op->left++;
	}
	ASSERT(pos == len);
	return 0;
}

int rcon_client_chunked(struct rcon_client *c, const char *payload,
			size_t len, const char *consumer, uint64_t timeout_ms,
			rcon_reply_cb cb, void *ud)
{
	size_t cmd_max = rcon_client_command_max(c);
	uint32_t key, parts;
	struct chunked_op *op;
	char *buf;
	int n, rv;

	ASSERT(cb != NULL && (payload != NULL || len == 0));
	if (len > PAYLOAD_MAX ||
	    (consumer != NULL && strlen(consumer) > CONSUMER_MAX))
		return ERR_TOOBIG;
	if (cmd_max < FINAL_MAX + 64)
		return ERR_TOOBIG;
	key = rcon_client_next_chunk_key(c);
	parts = count_parts((const uint8_t *)payload, len, cmd_max, key);
	if (parts == 0)
		return ERR_TOOBIG;
	if (rcon_client_queue_room(c) < (size_t)parts + 1)
		return ERR_AGAIN;
	op = calloc(1, sizeof(*op));
	buf = malloc(cmd_max + 1);
	rv = ERR_NOMEM;
	if (op == NULL || buf == NULL)
		goto err_free;
	op->cb = cb;
	op->ud = ud;
	rv = submit_parts(c, op, (const uint8_t *)payload, len, cmd_max, key,
			  parts, timeout_ms, buf);
	if (rv == 0) {
		n = build_final(buf, cmd_max + 1, key, parts, consumer);
		rv = n < 0 ? n
			   : rcon_client_command(c, buf, (size_t)n,
						 RCON_CMD_ORDERED, timeout_ms,
						 final_cb, op);
		if (rv == 0)
			op->left++;
	}
	if (rv != 0 && op->left == 0)
		goto err_free;
	/* Parts already on their way report the failure through cb. */
	if (rv != 0)
		op->err = rv;
	free(buf);
	return 0;

err_free:
	free(buf);
	free(op);
	return rv;
}
