/*
 * cmd_kv.c: clusterctl kv get|put|delete|list over /api/v1/kv/.
 *
 *   kv get NS KEY [--stale]          the raw value on stdout
 *   kv put NS KEY [VALUE|-] [--cas R] VALUE, or stdin when "-" or absent
 *   kv delete NS KEY [--cas R]
 *   kv list NS [PREFIX]              keys with their revisions
 * --json prints the node's answer (for get: {"revision", "value"}).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

#define PATH_MAX_BYTES 4096

/* "/api/v1/kv/NS[/KEY]" with both percent-encoded. */
static int kv_path(const char *ns, const char *key, char *buf, size_t size)
{
	snprintf(buf, size, "/api/v1/kv/");
	if (ctl_pct_encode(ns, strlen(ns), 0, buf, size) != 0)
		return -1;
	if (key == NULL)
		return 0;
	if (strlen(buf) + 2 > size)
		return -1;
	strcat(buf, "/");
	return ctl_pct_encode(key, strlen(key), 1, buf, size);
}

static int bad_path(void)
{
	fprintf(stderr, "clusterctl: namespace or key too long\n");
	return CTL_EXIT_USAGE;
}

static void add_cas(const struct ctl *c, char *path, size_t size)
{
	size_t n = strlen(path);

	if (c->has_cas)
		snprintf(path + n, size - n, "?cas=%llu",
			 (unsigned long long)c->cas);
}

/* 1 if p[0..n) is UTF-8 without NUL (printable as a JSON string). */
static int utf8_text(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = p[i] < 0x80 ? 0 : (p[i] >> 5) == 6 ? 1
				: (p[i] >> 4) == 14 ? 2 : (p[i] >> 3) == 30 ? 3
									: 9;

		if (p[i] == 0 || k == 9 || i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++)
			if ((p[i + j] >> 6) != 2)
				return 0;
		i += k + 1;
	}
	return 1;
}

int ctl_cmd_kv_get(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	char path[PATH_MAX_BYTES];
	int rc = CTL_EXIT_OK;

	(void)argc;
	if (kv_path(argv[0], argv[1], path, sizeof(path)) != 0)
		return bad_path();
	if (c->stale)
		strcat(path, "?stale=1");
	if (ctl_http(c, "GET", path, NULL, 0, 1, &r) != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, "kv get");
	} else if (c->json) {
		cJSON *j = cJSON_CreateObject();
		char *s;

		cJSON_AddNumberToObject(j, "revision",
					strtod(r.revision, NULL));
		if (utf8_text((const unsigned char *)r.body, r.len))
			cJSON_AddStringToObject(j, "value", r.body);
		else
			cJSON_AddNullToObject(j, "value");
		s = cJSON_PrintUnformatted(j);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(j);
	} else {
		fwrite(r.body, 1, r.len, stdout);
	}
	free(r.body);
	return rc;
}

/* Reads stdin up to the API's bound (one byte more tells "too large"). */
static int read_stdin(char **out, size_t *len)
{
	char *buf = malloc(CTL_VALUE_MAX + 1);
	size_t n;

	if (buf == NULL)
		return -1;
	n = fread(buf, 1, CTL_VALUE_MAX + 1, stdin);
	if (n > CTL_VALUE_MAX) {
		free(buf);
		fprintf(stderr, "clusterctl: value over %u bytes\n",
			CTL_VALUE_MAX);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int print_revision(const struct ctl *c, const struct ctl_response *r)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "revision");

	if (!cJSON_IsNumber(v)) {
		fprintf(stderr, "clusterctl: the node's answer has no revision: %.200s\n",
			r->body);
		cJSON_Delete(j);
		return CTL_EXIT_FAIL;
	}
	if (c->json)
		fputs(r->body, stdout);
	else
		printf("revision %.0f\n", v->valuedouble);
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

/* A 409: the current revision goes to stderr, for scripts to retry. */
static int conflict(const struct ctl_response *r, const char *what)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "revision");

	fprintf(stderr, "clusterctl: %s: revision mismatch; current revision %.0f%s\n",
		what, cJSON_IsNumber(v) ? v->valuedouble : 0.0,
		cJSON_IsNumber(v) && v->valuedouble == 0 ? " (absent)" : "");
	cJSON_Delete(j);
	return CTL_EXIT_CONFLICT;
}

int ctl_cmd_kv_put(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	char path[PATH_MAX_BYTES], *val = NULL;
	size_t len;
	int rc;

	if (kv_path(argv[0], argv[1], path, sizeof(path)) != 0)
		return bad_path();
	add_cas(c, path, sizeof(path));
	if (argc < 3 || strcmp(argv[2], "-") == 0) {
		if (read_stdin(&val, &len) != 0)
			return CTL_EXIT_USAGE;
	} else {
		len = strlen(argv[2]);
	}
	rc = ctl_http(c, "PUT", path, val ? val : argv[2], len, 1, &r);
	free(val);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (r.status == 409)
		rc = conflict(&r, "kv put");
	else if (r.status != 200)
		rc = ctl_http_fail(&r, "kv put");
	else
		rc = print_revision(c, &r);
	free(r.body);
	return rc;
}

int ctl_cmd_kv_delete(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	char path[PATH_MAX_BYTES];
	int rc;

	(void)argc;
	if (kv_path(argv[0], argv[1], path, sizeof(path)) != 0)
		return bad_path();
	add_cas(c, path, sizeof(path));
	if (ctl_http(c, "DELETE", path, NULL, 0, 1, &r) != 0)
		return CTL_EXIT_FAIL;
	if (r.status == 409)
		rc = conflict(&r, "kv delete");
	else if (r.status != 200)
		rc = ctl_http_fail(&r, "kv delete");
	else
		rc = print_revision(c, &r);
	free(r.body);
	return rc;
}

/* Prints one page of keys; returns the last key's object (borrowed from
 * j) when the node says there are more. */
static const cJSON *print_page(const cJSON *j, int *count)
{
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "keys"), *k;
	const cJSON *last = NULL;

	cJSON_ArrayForEach(k, keys)
	{
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(k, "key");
		const cJSON *rev = cJSON_GetObjectItemCaseSensitive(k,
								    "revision");
		const cJSON *size = cJSON_GetObjectItemCaseSensitive(k, "size");

		if (!cJSON_IsString(key))
			continue;
		if (*count == 0)
			printf("%-40s %10s %8s\n", "KEY", "REVISION", "SIZE");
		printf("%-40s %10.0f %8.0f\n", key->valuestring,
		       cJSON_IsNumber(rev) ? rev->valuedouble : 0,
		       cJSON_IsNumber(size) ? size->valuedouble : 0);
		(*count)++;
		last = k;
	}
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "more")) ? last
									 : NULL;
}

/* Decodes a key the node percent-encoded (at most 512 bytes decoded, so
 * out needs no more than its input's length). Returns the length. */
static size_t pct_decode(const char *in, char *out)
{
	size_t o = 0;

	for (size_t i = 0; in[i] != '\0'; i++) {
		unsigned v;

		if (in[i] == '%' && in[i + 1] && in[i + 2] &&
		    sscanf(in + i + 1, "%2x", &v) == 1) {
			out[o++] = (char)v;
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

/* Lists every key of NS with PREFIX, page after page ("after" = the last
 * key of the previous page); --json prints the first page as the node
 * sent it. Bounded: at most 1,000 pages. */
int ctl_cmd_kv_list(const struct ctl *c, int argc, char **argv)
{
	const char *prefix = argc > 1 ? argv[1] : "";
	char path[PATH_MAX_BYTES * 2], after[PATH_MAX_BYTES] = "";
	int count = 0, rc = CTL_EXIT_OK;

	for (int page = 0; page < 1000; page++) {
		const cJSON *last;
		cJSON *j;

		if (kv_path(argv[0], NULL, path, sizeof(path)) != 0)
			return bad_path();
		strcat(path, "?prefix=");
		if (ctl_pct_encode(prefix, strlen(prefix), 0, path,
				   sizeof(path)) != 0)
			return bad_path();
		if (after[0] != '\0') {
			strcat(path, "&after=");
			strcat(path, after);
		}
		rc = ctl_get_json(c, path, "kv list", &j);
		if (j == NULL)
			return rc;
		last = print_page(j, &count);
		/* The next page starts after the last key: decoded when
		 * the node encoded it ("encoded": true), then encoded for
		 * the query. */
		after[0] = '\0';
		if (last != NULL) {
			const char *k = cJSON_GetObjectItemCaseSensitive(
						last, "key")->valuestring;

			char raw[PATH_MAX_BYTES];
			size_t n = strlen(k);

			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
				    last, "encoded")))
				n = pct_decode(k, raw);
			else
				memcpy(raw, k, n);
			ctl_pct_encode(raw, n, 0, after, sizeof(after));
		}
		cJSON_Delete(j);
		if (last == NULL)
			break;
	}
	if (count == 0)
		fprintf(stderr, "no keys\n");
	return rc;
}
