/*
 * cmd_common.c: what clusterctl's API commands share: resolving the node
 * and token (flags, environment, config file), requests with the token
 * or without, and error answers to exit statuses.
 */
#include "tools/ctl/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define CONFIG_MAX (64 * 1024)

static char conf_url[CTL_URL_MAX], conf_token[256];

/* Reads the config file; a missing file is fine unless it was named. */
static int read_config(const char *path, int named)
{
	char buf[CONFIG_MAX + 1];
	const cJSON *v;
	size_t n;
	cJSON *j;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		if (!named)
			return 0;
		fprintf(stderr, "clusterctl: cannot read config %s\n", path);
		return CTL_EXIT_USAGE;
	}
	n = fread(buf, 1, CONFIG_MAX + 1, f);
	fclose(f);
	if (n > CONFIG_MAX) {
		fprintf(stderr, "clusterctl: config %s is too large\n", path);
		return CTL_EXIT_USAGE;
	}
	j = cJSON_ParseWithLength(buf, n);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		fprintf(stderr, "clusterctl: config %s is not a JSON object\n",
			path);
		return CTL_EXIT_USAGE;
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "node");
	if (cJSON_IsString(v))
		snprintf(conf_url, sizeof(conf_url), "%s", v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(j, "token");
	if (cJSON_IsString(v))
		snprintf(conf_token, sizeof(conf_token), "%s", v->valuestring);
	cJSON_Delete(j);
	return 0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

int ctl_resolve(struct ctl *ctl, const char *node_flag, const char *token_flag,
		const char *config_flag, const char *default_url)
{
	char home_conf[1024], errmsg[CTL_ERRMSG_MAX];
	const char *path = config_flag ? config_flag : env("CLUSTERD_CONFIG");
	const char *url;
	int rc;

	if (path == NULL && env("HOME") != NULL) {
		snprintf(home_conf, sizeof(home_conf),
			 "%s/.config/clusterd/clusterctl.json", env("HOME"));
		path = home_conf;
	}
	rc = path ? read_config(path, path != home_conf) : 0;
	if (rc != 0)
		return rc;
	url = node_flag ? node_flag
	      : env("CLUSTERD_NODE") ? env("CLUSTERD_NODE")
	      : conf_url[0] ? conf_url
			    : default_url;
	if (ctl_node_url(url, ctl->url, sizeof(ctl->url), errmsg,
			 sizeof(errmsg))) {
		fprintf(stderr, "clusterctl: %s\n", errmsg);
		return CTL_EXIT_USAGE;
	}
	ctl->target.url = ctl->url;
	ctl->token_from_flag = token_flag != NULL;
	ctl->target.token = token_flag ? token_flag
			    : env("CLUSTERD_TOKEN") ? env("CLUSTERD_TOKEN")
			    : conf_token[0] ? conf_token
					    : NULL;
	return 0;
}

int ctl_http(const struct ctl *c, const char *method, const char *path,
	     const void *body, size_t len, int auth, struct ctl_response *r)
{
	struct ctl_target t = {c->target.url, auth ? c->target.token : NULL};
	char errmsg[CTL_ERRMSG_MAX];
	int put = strcmp(method, "PUT") == 0;

	if (put && body == NULL)
		body = "";
	if (ctl_request_bytes(&t, method, path, body, len,
			      body == NULL ? NULL
			      : put	   ? "application/octet-stream"
					   : "application/json",
			      r, errmsg, sizeof(errmsg)) != 0) {
		fprintf(stderr, "clusterctl: %s\n", errmsg);
		return -1;
	}
	return 0;
}

int ctl_http_fail(const struct ctl_response *r, const char *what)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	const char *msg = cJSON_IsString(e) ? e->valuestring : r->body;
	int rc;

	fprintf(stderr, "clusterctl: %s: %s (HTTP %ld)%s\n", what,
		msg && *msg ? msg : "no details", r->status,
		r->status == 503 ? "; try again" : "");
	switch (r->status) {
	case 401:
	case 403:
		rc = CTL_EXIT_REFUSED;
		break;
	case 404:
		rc = CTL_EXIT_NOTFOUND;
		break;
	case 409:
		rc = CTL_EXIT_CONFLICT;
		break;
	case 400:
	case 413:
		rc = CTL_EXIT_USAGE;
		break;
	default:
		rc = CTL_EXIT_FAIL;
	}
	cJSON_Delete(j);
	return rc;
}

int ctl_pct_encode(const char *s, size_t n, int keep_slash, char *buf,
		   size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(buf);

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int plain = (ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' ||
			    ch == '_' || ch == '.' || ch == '~' ||
			    (keep_slash && ch == '/');

		if (o + (plain ? 1 : 3) + 1 > size)
			return -1;
		if (plain) {
			buf[o++] = (char)ch;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	buf[o] = '\0';
	return 0;
}

int ctl_get_json(const struct ctl *c, const char *path, const char *what,
		 cJSON **j)
{
	struct ctl_response r;
	int rc = CTL_EXIT_OK;

	*j = NULL;
	if (ctl_http(c, "GET", path, NULL, 0, 1, &r) != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, what);
	} else if (c->json) {
		fputs(r.body, stdout);
	} else {
		*j = cJSON_ParseWithLength(r.body, r.len);
		if (!cJSON_IsObject(*j)) {
			fprintf(stderr, "clusterctl: %s: the node's answer is not a JSON object\n",
				what);
			cJSON_Delete(*j);
			*j = NULL;
			rc = CTL_EXIT_FAIL;
		}
	}
	free(r.body);
	return rc;
}

int ctl_send(const struct ctl *c, const char *method, const char *path,
		cJSON *body, const char *what, const char *ok_text,
		const char *name)
{
	struct ctl_response r;
	char *s = body ? cJSON_PrintUnformatted(body) : NULL;
	int rc;

	cJSON_Delete(body);
	rc = ctl_http(c, method, path, s, s ? strlen(s) : 0, 1, &r);
	free(s);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200 && r.status != 201) {
		rc = ctl_http_fail(&r, what);
	} else {
		if (c->json)
			fputs(r.body, stdout);
		else
			printf("%s %s\n", ok_text, name);
		rc = CTL_EXIT_OK;
	}
	free(r.body);
	return rc;
}
