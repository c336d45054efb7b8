/*
 * client.c: libcurl requests with bounds, and JSON checking. See client.h.
 */
#include "tools/ctl/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Keeps the revision header of an answer. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	static const char name[] = "x-clusterd-revision:";
	struct ctl_response *r = userp;
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

/* Sets the headers: JSON answers, the body's type, and the bearer token
 * if any. An empty Expect: keeps curl from waiting for 100-continue on
 * large bodies. */
static struct curl_slist *make_headers(const struct ctl_target *t,
				       const char *content_type)
{
	struct curl_slist *h = NULL, *next;
	char auth[1024];

	h = curl_slist_append(h, "Accept: application/json");
	if (h) {
		next = curl_slist_append(h, "Expect:");
		h = next ? next : (curl_slist_free_all(h), NULL);
	}
	if (h && content_type) {
		snprintf(auth, sizeof(auth), "Content-Type: %s", content_type);
		next = curl_slist_append(h, auth);
		h = next ? next : (curl_slist_free_all(h), NULL);
	}
	if (h && t->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t->token);
		next = curl_slist_append(h, auth);
		h = next ? next : (curl_slist_free_all(h), NULL);
	}
	return h;
}

int ctl_request(const struct ctl_target *t, const char *method,
		const char *path, const char *body, struct ctl_response *resp,
		char *errmsg, size_t errsz)
{
	return ctl_request_bytes(t, method, path, body, body ? strlen(body) : 0,
				 body ? "application/json" : NULL, resp, errmsg,
				 errsz);
}

int ctl_request_bytes(const struct ctl_target *t, const char *method,
		      const char *path, const void *body, size_t len,
		      const char *content_type, struct ctl_response *resp,
		      char *errmsg, size_t errsz)
{
	char url[CTL_URL_MAX + 512];
	struct sink s = {0};
	struct curl_slist *headers;
	CURL *c;
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	snprintf(url, sizeof(url), "%s%s", t->url, path);
	c = curl_easy_init();
	headers = make_headers(t, content_type);
	if (!c || !headers) {
		snprintf(errmsg, errsz, "cannot initialise libcurl");
		curl_slist_free_all(headers);
		if (c)
			curl_easy_cleanup(c);
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CTL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)CTL_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "clusterctl/" CLUSTERD_VERSION);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		snprintf(errmsg, errsz, "cannot reach node at %s: %s", t->url,
			 s.too_big ? "response too large" : curl_easy_strerror(rc));
		free(s.p);
		return -1;
	}
	resp->body = s.p ? s.p : calloc(1, 1);
	resp->len = s.len;
	if (!resp->body) {
		snprintf(errmsg, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* The message for a non-2xx answer: the node's "error" text if it sent
 * one, else the start of the body. */
static void status_error(const struct ctl_target *t, const char *method,
			 const char *path, const struct ctl_response *r,
			 char *errmsg, size_t errsz)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");

	if (cJSON_IsString(e))
		snprintf(errmsg, errsz, "node at %s answered %s %s with HTTP %ld: %.200s",
			 t->url, method, path, r->status, e->valuestring);
	else
		snprintf(errmsg, errsz, "node at %s answered %s %s with HTTP %ld: %.200s",
			 t->url, method, path, r->status,
			 r->len ? r->body : "(empty body)");
	errmsg[strcspn(errmsg, "\r\n")] = '\0';
	cJSON_Delete(j);
}

int ctl_call(const struct ctl_target *t, const char *method, const char *path,
	     const cJSON *body, cJSON **out, char **raw, char *errmsg,
	     size_t errsz)
{
	struct ctl_response r;
	char *text = NULL;
	cJSON *j;
	int rv;

	*out = NULL;
	if (raw)
		*raw = NULL;
	if (body && !(text = cJSON_PrintUnformatted(body))) {
		snprintf(errmsg, errsz, "out of memory");
		return -1;
	}
	rv = ctl_request(t, method, path, text, &r, errmsg, errsz);
	cJSON_free(text);
	if (rv)
		return -1;
	if (r.status < 200 || r.status > 299) {
		status_error(t, method, path, &r, errmsg, errsz);
		goto err_free_body;
	}
	j = cJSON_ParseWithLength(r.body, r.len);
	if (!j) {
		snprintf(errmsg, errsz, "node at %s answered %s %s with a body that is not JSON",
			 t->url, method, path);
		goto err_free_body;
	}
	if (!cJSON_IsObject(j)) {
		snprintf(errmsg, errsz, "node at %s answered %s %s with JSON that is not an object",
			 t->url, method, path);
		cJSON_Delete(j);
		goto err_free_body;
	}
	*out = j;
	if (raw)
		*raw = r.body;
	else
		free(r.body);
	return 0;

err_free_body:
	free(r.body);
	return -1;
}

static const char *json_kind(const cJSON *v)
{
	if (!v)
		return "is missing";
	if (cJSON_IsString(v))
		return "is a string";
	if (cJSON_IsNumber(v))
		return "is a number";
	if (cJSON_IsBool(v))
		return "is a boolean";
	if (cJSON_IsNull(v))
		return "is null";
	if (cJSON_IsArray(v))
		return "is an array";
	return "is an object";
}

int ctl_str(const cJSON *o, const char *key, const char **out, char *errmsg,
	    size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v)) {
		snprintf(errmsg, errsz, "the node's answer is unreadable: field \"%s\" %s, expected a string",
			 key, json_kind(v));
		return -1;
	}
	*out = v->valuestring;
	return 0;
}

int ctl_num(const cJSON *o, const char *key, double *out, char *errmsg,
	    size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v)) {
		snprintf(errmsg, errsz, "the node's answer is unreadable: field \"%s\" %s, expected a number",
			 key, json_kind(v));
		return -1;
	}
	*out = v->valuedouble;
	return 0;
}

int ctl_node_url(const char *in, char *buf, size_t size, char *errmsg,
		 size_t errsz)
{
	size_t n = strlen(in);

	if (strncmp(in, "http://", 7) != 0 && strncmp(in, "https://", 8) != 0) {
		snprintf(errmsg, errsz, "--node must be an http:// or https:// URL (got \"%s\")", in);
		return -1;
	}
	while (n > 0 && in[n - 1] == '/')
		n--;
	if (n >= size || n >= CTL_URL_MAX) {
		snprintf(errmsg, errsz, "--node URL is longer than %d bytes", CTL_URL_MAX - 1);
		return -1;
	}
	memcpy(buf, in, n);
	buf[n] = '\0';
	return 0;
}
