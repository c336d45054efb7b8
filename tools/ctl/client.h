/*
 * client.h: clusterctl's HTTP client (libcurl) for the node's JSON API.
 *
 * Every command makes its calls through ctl_call(): one request with the
 * bearer token (when there is one), the answer checked to be a JSON object
 * with a 2xx status, and the fields read through ctl_str()/ctl_num(),
 * which name the field the node got wrong. A command never prints "?" for
 * a field it could not read: the whole answer is an error instead.
 */
#ifndef CLUSTERD_CTL_CLIENT_H
#define CLUSTERD_CTL_CLIENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Connect and total timeouts: a node on the same LAN answers status in
 * milliseconds; the total waits out the node's own 10 s deadline for a
 * write (which it retries across leader elections), so the answer is the
 * node's, not a client timeout. */
#define CTL_CONNECT_TIMEOUT_MS 3000
#define CTL_TIMEOUT_MS 15000 /* above the node's 10 s API deadline */
#define CTL_BODY_MAX (64 * 1024 * 1024)
#define CTL_URL_MAX 2048
#define CTL_ERRMSG_MAX 512

/* Where to send requests. Borrowed by every call. */
struct ctl_target {
	const char *url;   /* "http://host:port", no trailing slash */
	const char *token; /* bearer token, or NULL for none */
};

struct ctl_response {
	long status;  /* HTTP status, 0 if none */
	char *body;   /* NUL-terminated; free with free() */
	size_t len;
	char revision[32]; /* the X-Clusterd-Revision header, or "" */
};

/* Sends METHOD url+path with body (NULL for none; borrowed). Returns 0 with
 * *resp filled (any HTTP status; caller frees resp->body), or -1 with a
 * one-line reason in errmsg (unreachable, timeout, too big). */
int ctl_request(const struct ctl_target *t, const char *method,
		const char *path, const char *body, struct ctl_response *resp,
		char *errmsg, size_t errmsg_size);

/* ctl_request() with a body of any bytes (body may hold NULs; NULL for
 * none) sent as content_type (NULL: none). The path is sent as is (no
 * "." or ".." folding: a key may hold them). */
int ctl_request_bytes(const struct ctl_target *t, const char *method,
		      const char *path, const void *body, size_t len,
		      const char *content_type, struct ctl_response *resp,
		      char *errmsg, size_t errmsg_size);

/* ctl_request(), then requires a 2xx answer whose body is a JSON object.
 * Returns 0 with *out set (caller frees with cJSON_Delete) and, if raw is
 * not NULL, *raw set to the body as received (caller frees with free()).
 * Returns -1 with errmsg naming the node and what was wrong: unreachable,
 * an error status (with the node's "error" text when it sent one), a body
 * that is not JSON, or JSON that is not an object. */
int ctl_call(const struct ctl_target *t, const char *method, const char *path,
	     const cJSON *body, cJSON **out, char **raw, char *errmsg,
	     size_t errmsg_size);

/* Reads a string (ctl_str) or number (ctl_num) member of an object the node
 * sent. Returns 0 with *out set (borrowed from o), or -1 with errmsg naming
 * the field and what it holds instead. */
int ctl_str(const cJSON *o, const char *key, const char **out, char *errmsg,
	    size_t errmsg_size);
int ctl_num(const cJSON *o, const char *key, double *out, char *errmsg,
	    size_t errmsg_size);

/* Normalises a --node value into buf: requires http:// or https:// and
 * drops trailing slashes. Returns 0, or -1 with errmsg set. */
int ctl_node_url(const char *in, char *buf, size_t size, char *errmsg,
		 size_t errmsg_size);

#endif
