/*
 * client.c: libcurl GET with bounds, and JSON parsing. See client.h.
 */
#include "tools/ctl/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct sink {
	char *p;
	size_t len;
	int too_big;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sink *s = userp;
	size_t n = size * nmemb;
	char *p;

	if (s->len + n > CTL_BODY_MAX) {
		s->too_big = 1;
		return 0;
	}
	p = realloc(s->p, s->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + s->len, data, n);
	s->p = p;
	s->len += n;
	s->p[s->len] = '\0';
	return n;
}

int ctl_get(const char *base_url, const char *path, struct ctl_response *resp,
	    char *errmsg, size_t errsz)
{
	char url[2048];
	struct sink s = {0};
	CURL *c;
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	c = curl_easy_init();
	if (!c) {
		snprintf(errmsg, errsz, "cannot initialise libcurl");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CTL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)CTL_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "clusterctl/" CLUSTERD_VERSION);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(errmsg, errsz, "cannot reach node at %s: %s", base_url,
			 s.too_big ? "response too large" : curl_easy_strerror(rc));
		curl_easy_cleanup(c);
		free(s.p);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_cleanup(c);
	resp->body = s.p ? s.p : calloc(1, 1);
	resp->len = s.len;
	return 0;
}

cJSON *ctl_parse_json(const struct ctl_response *resp, char *errmsg,
		      size_t errsz)
{
	cJSON *j = cJSON_ParseWithLength(resp->body, resp->len);

	if (!j)
		snprintf(errmsg, errsz, "node answered HTTP %ld with a body that is not JSON",
			 resp->status);
	return j;
}
