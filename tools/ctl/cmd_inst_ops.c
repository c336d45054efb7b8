/*
 * cmd_inst_ops.c: clusterctl's instance operations of issue 12's "ops"
 * part, against any node:
 *   instance config get NAME [KEY]      the configuration (KEY: one field,
 *                                       e.g. settings.auto_pause)
 *   instance config set NAME KEY VALUE  KEY: auto_start,
 *        exclude_from_start_all, stop_timeout_s, settings.FIELD or
 *        settings.visibility.public|lan; VALUE is read as JSON (true, 10,
 *        "x", null: back to the default), else taken as a string
 *   instance kill|restart NAME
 *   instance start-all | stop-all
 *   log query --instance NAME [--lines N]   the newest lines
 *   log follow --instance NAME [--lines N]  then the new ones, until ^C
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "tools/ctl/cmd.h"

#define PATH_MAX_ 512

/* POSTs body (may be NULL) and prints the answer (--json) or ok_text. */
static int post(const struct ctl *c, const char *path, cJSON *body,
		const char *what, const char *ok_text)
{
	struct ctl_response r;
	char *s = body ? cJSON_PrintUnformatted(body) : NULL;
	int rc;

	cJSON_Delete(body);
	rc = ctl_http(c, "POST", path, s, s ? strlen(s) : 0, 1, &r);
	free(s);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, what);
	} else {
		if (c->json || ok_text == NULL)
			fputs(r.body, stdout);
		else
			puts(ok_text);
		rc = CTL_EXIT_OK;
	}
	free(r.body);
	return rc;
}

static int act(const struct ctl *c, const char *name, const char *a,
	       const char *done)
{
	char path[PATH_MAX_], what[32], ok[160];

	if (ctl_inst_path(name, a, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	snprintf(what, sizeof(what), "instance %s", a);
	snprintf(ok, sizeof(ok), "%s %s", done, name);
	return post(c, path, NULL, what, ok);
}

int ctl_cmd_instance_kill(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return act(c, argv[0], "kill", "killed");
}

int ctl_cmd_instance_restart(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return act(c, argv[0], "restart", "restarting");
}

static int all(const struct ctl *c, const char *which)
{
	struct ctl_response r;
	char path[64], what[32];
	const cJSON *e;
	cJSON *j;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/instances/%s", which);
	snprintf(what, sizeof(what), "instance %s", which);
	if (ctl_http(c, "POST", path, NULL, 0, 1, &r) != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, what);
		free(r.body);
		return rc;
	}
	if (c->json) {
		fputs(r.body, stdout);
	} else {
		j = cJSON_ParseWithLength(r.body, r.len);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "changed"))
			printf("%s %s\n", which[1] == 't' && which[2] == 'a'
						  ? "starting"
						  : "stopping",
			       cJSON_IsString(e) ? e->valuestring : "?");
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "skipped"))
			printf("skipped %s (excluded from start-all or "
			       "unassigned)\n",
			       cJSON_IsString(e) ? e->valuestring : "?");
		cJSON_Delete(j);
	}
	free(r.body);
	return CTL_EXIT_OK;
}

int ctl_cmd_instance_start_all(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return all(c, "start-all");
}

int ctl_cmd_instance_stop_all(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return all(c, "stop-all");
}

/* Prints o's field at the dotted key (NULL: all of o). */
static int print_key(const cJSON *o, const char *key)
{
	char buf[256], *save = NULL, *tok;
	const cJSON *v = o;
	char *s;

	if (key != NULL) {
		snprintf(buf, sizeof(buf), "%s", key);
		for (tok = strtok_r(buf, ".", &save); tok && v;
		     tok = strtok_r(NULL, ".", &save))
			v = cJSON_GetObjectItemCaseSensitive(v, tok);
		if (v == NULL) {
			fprintf(stderr, "clusterctl: no configuration key %s\n",
				key);
			return CTL_EXIT_NOTFOUND;
		}
	}
	if (cJSON_IsString(v)) {
		puts(v->valuestring);
		return CTL_EXIT_OK;
	}
	s = cJSON_Print(v);
	puts(s ? s : "");
	cJSON_free(s);
	return CTL_EXIT_OK;
}

int ctl_cmd_instance_config_get(const struct ctl *c, int argc, char **argv)
{
	char path[PATH_MAX_];
	cJSON *j;
	int rc;

	if (ctl_inst_path(argv[0], "config", path, sizeof(path)))
		return CTL_EXIT_USAGE;
	rc = ctl_get_json(c, path, "instance config get", &j);
	if (j == NULL)
		return rc;
	rc = print_key(j, argc > 1 ? argv[1] : NULL);
	cJSON_Delete(j);
	return rc;
}

/* {"settings": {"a": {"b": v}}} for key "settings.a.b" (at most three
 * levels: settings.visibility.public). */
static cJSON *nest(const char *key, cJSON *v)
{
	char buf[256], *parts[4], *save = NULL, *tok;
	int n = 0;
	cJSON *o = v;

	snprintf(buf, sizeof(buf), "%s", key);
	for (tok = strtok_r(buf, ".", &save); tok && n < 4;
	     tok = strtok_r(NULL, ".", &save))
		parts[n++] = tok;
	if (n == 0 || n == 4 || tok != NULL) {
		cJSON_Delete(v);
		return NULL;
	}
	while (n-- > 0) {
		cJSON *w = cJSON_CreateObject();

		cJSON_AddItemToObject(w, parts[n], o);
		o = w;
	}
	return o;
}

int ctl_cmd_instance_config_set(const struct ctl *c, int argc, char **argv)
{
	char path[PATH_MAX_], ok[200];
	cJSON *v, *body;

	(void)argc;
	if (ctl_inst_path(argv[0], "config", path, sizeof(path)))
		return CTL_EXIT_USAGE;
	v = cJSON_Parse(argv[2]);
	if (v == NULL)
		v = cJSON_CreateString(argv[2]);
	body = nest(argv[1], v);
	if (body == NULL) {
		fprintf(stderr, "clusterctl: bad configuration key %s\n",
			argv[1]);
		return CTL_EXIT_USAGE;
	}
	snprintf(ok, sizeof(ok), "set %s of %s", argv[1], argv[0]);
	return post(c, path, body, "instance config set", ok);
}

/* ---- logs ---- */

static size_t on_log_data(char *p, size_t size, size_t n, void *ud)
{
	long *status = ud;

	if (*status != 200)
		return size * n; /* an error body: read by the caller below */
	fwrite(p, size, n, stdout);
	fflush(stdout);
	return size * n;
}

static size_t on_hdr(char *p, size_t size, size_t n, void *ud)
{
	long *status = ud;
	int code;

	if (size * n > 12 && strncmp(p, "HTTP/", 5) == 0 &&
	    sscanf(p, "HTTP/%*s %d", &code) == 1)
		*status = code;
	return size * n;
}

/* A follow: the answer never ends on its own, so the request has no
 * overall timeout (ctl_http's has one). */
static int follow(const struct ctl *c, const char *path)
{
	struct curl_slist *h = NULL;
	char url[CTL_URL_MAX + PATH_MAX_], auth[600];
	CURL *e = curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (e == NULL)
		return CTL_EXIT_FAIL;
	snprintf(url, sizeof(url), "%s%s", c->target.url, path);
	if (c->target.token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 c->target.token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CTL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &status);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_log_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &status);
	rc = curl_easy_perform(e);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	if (rc != CURLE_OK) {
		fprintf(stderr, "clusterctl: log follow: %s\n",
			curl_easy_strerror(rc));
		return CTL_EXIT_FAIL;
	}
	if (status != 200) {
		fprintf(stderr, "clusterctl: log follow: HTTP %ld\n", status);
		return status == 404 ? CTL_EXIT_NOTFOUND : CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

static int log_cmd(const struct ctl *c, int live)
{
	char path[PATH_MAX_], q[64];
	struct ctl_response r;
	int rc;

	if (c->instance == NULL) {
		fprintf(stderr, "clusterctl: log %s wants --instance NAME\n",
			live ? "follow" : "query");
		return CTL_EXIT_USAGE;
	}
	if (ctl_inst_path(c->instance, "log", path, sizeof(path)))
		return CTL_EXIT_USAGE;
	snprintf(q, sizeof(q), "?lines=%ld%s",
		 c->lines > 0 ? c->lines : (live ? 20 : 200),
		 live ? "&follow=1" : "");
	strncat(path, q, sizeof(path) - strlen(path) - 1);
	if (live)
		return follow(c, path);
	if (ctl_http(c, "GET", path, NULL, 0, 1, &r) != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, "log query");
	} else {
		fputs(r.body, stdout);
		rc = CTL_EXIT_OK;
	}
	free(r.body);
	return rc;
}

int ctl_cmd_log_query(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return log_cmd(c, 0);
}

int ctl_cmd_log_follow(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return log_cmd(c, 1);
}
