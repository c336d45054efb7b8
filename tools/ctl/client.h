/*
 * client.h: clusterctl's HTTP client (libcurl) for the node's JSON API.
 */
#ifndef CLUSTERD_CTL_CLIENT_H
#define CLUSTERD_CTL_CLIENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Connect and total timeouts: a node on the same LAN answers status in
 * milliseconds; ten seconds leaves room for a forwarded write across a
 * leader election (about one election timeout plus a round trip). */
#define CTL_CONNECT_TIMEOUT_MS 3000
#define CTL_TIMEOUT_MS 10000
#define CTL_BODY_MAX (64 * 1024 * 1024)

struct ctl_response {
	long status;  /* HTTP status, 0 if none */
	char *body;   /* NUL-terminated; free with free() */
	size_t len;
};

/* GETs base_url + path. Returns 0 with *resp filled (any HTTP status), or
 * -1 with a one-line reason in errmsg (unreachable, timeout, too big). */
int ctl_get(const char *base_url, const char *path, struct ctl_response *resp,
	    char *errmsg, size_t errmsg_size);

/* Parses a JSON body; NULL with errmsg set if it is not JSON. */
cJSON *ctl_parse_json(const struct ctl_response *resp, char *errmsg,
		      size_t errmsg_size);

#endif
