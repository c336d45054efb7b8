/*
 * cmd_common.c: what clusterctl's API commands share: resolving the node
 * and token (flags, environment, config file), one HTTP request with raw
 * bodies and the revision header, and error answers to exit statuses.
 */
#include "tools/ctl/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "tools/ctl/client.h"

#define CONFIG_MAX (64 * 1024)

static char conf_url[2048], conf_token[256], url_buf[2048];

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

int ctl_ctx_resolve(struct ctl_ctx *c, const char *node_flag,
		    const char *token_flag, const char *config_flag,
		    const char *default_url)
{
	char home_conf[1024];
	const char *path = config_flag ? config_flag : env("CLUSTERD_CONFIG");
	const char *url;
	size_t n;
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
	snprintf(url_buf, sizeof(url_buf), "%s", url);
	n = strlen(url_buf);
	while (n > 0 && url_buf[n - 1] == '/')
		url_buf[--n] = '\0';
	c->url = url_buf;
	c->token_from_flag = token_flag != NULL;
	c->token = token_flag ? token_flag
		   : env("CLUSTERD_TOKEN") ? env("CLUSTERD_TOKEN")
		   : conf_token[0] ? conf_token
				   : NULL;
	return 0;
}

struct sink {
	char *p;
	size_t len;
	int too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sink *s = userp;
	size_t n = size * nmemb;
	char *p;

	if (s->len + n > CTL_BODY_MAX) {
		s->too_big = 1;
		return 0;
	}
	p = realloc(s->p, s->len + n + 1);
	if (p == NULL)
		return 0;
	memcpy(p + s->len, data, n);
	s->p = p;
	s->len += n;
	s->p[s->len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct ctl_http_resp *r = userp;
	static const char name[] = "x-clusterd-revision:";
	size_t n = size * nmemb, i = sizeof(name) - 1, o = 0;

	if (n > i && strncasecmp(data, name, i) == 0) {
		while (i < n && data[i] == ' ')
			i++;
		while (i < n && data[i] >= '0' && data[i] <= '9' &&
		       o + 1 < sizeof(r->revision))
			r->revision[o++] = data[i++];
		r->revision[o] = '\0';
	}
	return n;
}

int ctl_http(const struct ctl_ctx *c, const char *method, const char *path,
	     const void *body, size_t len, int auth, struct ctl_http_resp *r)
{
	struct curl_slist *hdrs = NULL;
	char url[8192], bearer[300];
	struct sink s = {0};
	CURLcode rc;
	CURL *h;

	memset(r, 0, sizeof(*r));
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->url, path) >=
	    sizeof(url)) {
		fprintf(stderr, "clusterctl: request path too long\n");
		return -1;
	}
	h = curl_easy_init();
	if (h == NULL) {
		fprintf(stderr, "clusterctl: cannot initialise libcurl\n");
		return -1;
	}
	if (auth && c->token != NULL) {
		snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
			 c->token);
		hdrs = curl_slist_append(hdrs, bearer);
	}
	hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue wait */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* keys may hold ".." */
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CTL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)CTL_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "clusterctl/" CLUSTERD_VERSION);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		fprintf(stderr, "clusterctl: cannot reach node at %s: %s\n",
			c->url,
			s.too_big ? "answer too large" : curl_easy_strerror(rc));
		free(s.p);
		return -1;
	}
	r->body = s.p ? s.p : calloc(1, 1);
	r->len = s.len;
	return 0;
}

int ctl_http_fail(const struct ctl_http_resp *r, const char *what)
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
