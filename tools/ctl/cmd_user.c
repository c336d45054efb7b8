/*
 * cmd_user.c: clusterctl user ... and role ... over /api/v1/users,
 * /api/v1/user-lists and /api/v1/roles (issue 13).
 *
 *   user list | show NAME | create NAME | delete NAME
 *   user set-admin|set-whitelisted NAME true|false
 *   user set-banned NAME true|false [--reason TEXT]
 *   user set-roles NAME [ROLE,...]          (nothing: no roles)
 *   user import adminlist|banlist|whitelist FILE
 *        FILE is Factorio's server-adminlist.json, server-banlist.json or
 *        server-whitelist.json (- for stdin); names are merged into the
 *        cluster's users (created as needed), in requests of 500 names
 *   user export adminlist|banlist|whitelist [FILE]
 *        writes the cluster's list in the same format (stdout without
 *        FILE)
 *   role list | show NAME | delete NAME
 *   role set NAME PERM,... [--description TEXT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

/* The API takes at most this many names per import request, in a body
 * of at most 64 KiB: requests are cut at either bound (the byte bound
 * with room for the JSON around the entries). */
#define IMPORT_CHUNK 500
#define IMPORT_BYTES (48 * 1024)
/* A list file read at most (a few thousand bans fit many times). */
#define LIST_FILE_MAX (16u << 20)

/* Sends body (a JSON object, consumed) with method to path and prints
 * the answer (--json) or `done`; returns the exit status. */
static int send_json(const struct ctl *c, const char *method,
		     const char *path, cJSON *body, int ok_status,
		     const char *what, const char *done)
{
	struct ctl_response r;
	char *s = body ? cJSON_PrintUnformatted(body) : NULL;
	int rc;

	cJSON_Delete(body);
	rc = ctl_http(c, method, path, s, s ? strlen(s) : 0, 1, &r);
	free(s);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (r.status != ok_status) {
		rc = ctl_http_fail(&r, what);
	} else {
		if (c->json)
			fputs(r.body, stdout);
		else if (done != NULL)
			printf("%s\n", done);
		rc = CTL_EXIT_OK;
	}
	free(r.body);
	return rc;
}

static int user_path(const char *prefix, const char *name, char *buf,
		     size_t size)
{
	snprintf(buf, size, "%s", prefix);
	if (ctl_pct_encode(name, strlen(name), 0, buf, size) != 0) {
		fprintf(stderr, "clusterctl: name too long\n");
		return -1;
	}
	return 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(o, key));

	return s ? s : "";
}

static int flag_of(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* "a,b,c" of a JSON array of strings into buf. */
static void join_strs(const cJSON *arr, char *buf, size_t size)
{
	const cJSON *e;
	size_t n = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsString(e))
			continue;
		n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s",
				      n ? "," : "", e->valuestring);
	}
	if (n == 0)
		snprintf(buf, size, "-");
}

static void print_user(const cJSON *u)
{
	char roles[300];

	join_strs(cJSON_GetObjectItemCaseSensitive(u, "roles"), roles,
		  sizeof(roles));
	printf("%-24s %-5s %-11s %-6s %-16s %s\n", str_of(u, "name"),
	       flag_of(u, "admin") ? "yes" : "-",
	       flag_of(u, "whitelisted") ? "yes" : "-",
	       flag_of(u, "banned") ? "yes" : "-", roles,
	       flag_of(u, "banned") ? str_of(u, "reason") : "");
}

static void user_header(void)
{
	printf("%-24s %-5s %-11s %-6s %-16s %s\n", "NAME", "ADMIN",
	       "WHITELISTED", "BANNED", "ROLES", "REASON");
}

int ctl_cmd_user_list(const struct ctl *c, int argc, char **argv)
{
	const cJSON *u;
	cJSON *j;
	int rc = ctl_get_json(c, "/api/v1/users", "user list", &j);

	(void)argc;
	(void)argv;
	if (j == NULL)
		return rc;
	user_header();
	cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(j, "users"))
		print_user(u);
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_user_show(const struct ctl *c, int argc, char **argv)
{
	char path[256];
	cJSON *j;
	int rc;

	(void)argc;
	if (user_path("/api/v1/users/", argv[0], path, sizeof(path)) != 0)
		return CTL_EXIT_USAGE;
	rc = ctl_get_json(c, path, "user show", &j);
	if (j == NULL)
		return rc;
	user_header();
	print_user(j);
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_user_create(const struct ctl *c, int argc, char **argv)
{
	cJSON *b = cJSON_CreateObject();

	(void)argc;
	cJSON_AddStringToObject(b, "name", argv[0]);
	return send_json(c, "POST", "/api/v1/users", b, 201, "user create",
			 "created");
}

int ctl_cmd_user_delete(const struct ctl *c, int argc, char **argv)
{
	char path[256];

	(void)argc;
	if (user_path("/api/v1/users/", argv[0], path, sizeof(path)) != 0)
		return CTL_EXIT_USAGE;
	return send_json(c, "DELETE", path, NULL, 200, "user delete",
			 "deleted");
}

/* PATCH /api/v1/users/NAME with body. */
static int patch_user(const struct ctl *c, const char *name, cJSON *body,
		      const char *what)
{
	char path[256];

	if (user_path("/api/v1/users/", name, path, sizeof(path)) != 0) {
		cJSON_Delete(body);
		return CTL_EXIT_USAGE;
	}
	return send_json(c, "PATCH", path, body, 200, what, "done");
}

static int parse_bool(const char *s, int *v)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
	    strcmp(s, "1") == 0)
		*v = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 ||
		 strcmp(s, "0") == 0)
		*v = 0;
	else
		return -1;
	return 0;
}

static int set_flag(const struct ctl *c, char **argv, const char *field,
		    const char *what)
{
	cJSON *b;
	int v;

	if (parse_bool(argv[1], &v) != 0) {
		fprintf(stderr, "clusterctl: %s: true or false, not '%s'\n",
			what, argv[1]);
		return CTL_EXIT_USAGE;
	}
	b = cJSON_CreateObject();
	cJSON_AddBoolToObject(b, field, v);
	if (strcmp(field, "banned") == 0 && v)
		cJSON_AddStringToObject(b, "reason",
					c->reason ? c->reason : "");
	/* Setting a flag of a name the cluster does not know yet creates it,
	 * as Clusterio's ctl does. */
	cJSON_AddTrueToObject(b, "create");
	return patch_user(c, argv[0], b, what);
}

int ctl_cmd_user_set_admin(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return set_flag(c, argv, "admin", "user set-admin");
}

int ctl_cmd_user_set_whitelisted(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return set_flag(c, argv, "whitelisted", "user set-whitelisted");
}

int ctl_cmd_user_set_banned(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return set_flag(c, argv, "banned", "user set-banned");
}

cJSON *ctl_split_list(const char *s)
{
	cJSON *a = cJSON_CreateArray();
	const char *p = s;

	while (p != NULL && *p != '\0' && strcmp(p, "-") != 0) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char item[128];

		if (n > 0 && n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = '\0';
			cJSON_AddItemToArray(a, cJSON_CreateString(item));
		}
		p = comma ? comma + 1 : NULL;
	}
	return a;
}

int ctl_cmd_user_set_roles(const struct ctl *c, int argc, char **argv)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddItemToObject(b, "roles", ctl_split_list(argc > 1 ? argv[1] : ""));
	return patch_user(c, argv[0], b, "user set-roles");
}

/* --- import and export in Factorio's list files ------------------------ */

static int list_kind_ok(const char *k)
{
	if (strcmp(k, "adminlist") == 0 || strcmp(k, "banlist") == 0 ||
	    strcmp(k, "whitelist") == 0)
		return 1;
	fprintf(stderr, "clusterctl: the list is adminlist, banlist or "
			"whitelist, not '%s'\n", k);
	return 0;
}

static cJSON *read_json_file(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n;
	cJSON *j;

	if (f == NULL) {
		perror(path);
		return NULL;
	}
	buf = malloc(LIST_FILE_MAX);
	n = buf ? fread(buf, 1, LIST_FILE_MAX, f) : 0;
	if (f != stdin)
		fclose(f);
	j = buf && n < LIST_FILE_MAX ? cJSON_ParseWithLength(buf, n) : NULL;
	free(buf);
	if (!cJSON_IsArray(j)) {
		fprintf(stderr, "clusterctl: %s: not a Factorio list file (a "
				"JSON array of names%s)\n", path,
			n >= LIST_FILE_MAX ? ", under 16 MiB" : "");
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

int ctl_cmd_user_import(const struct ctl *c, int argc, char **argv)
{
	cJSON *list, *body = NULL, *arr = NULL;
	const cJSON *item;
	int total = 0, rc = CTL_EXIT_OK, n = 0;
	size_t bytes = 0;
	struct ctl q;

	(void)argc;
	if (!list_kind_ok(argv[0]))
		return CTL_EXIT_USAGE;
	list = read_json_file(argv[1]);
	if (list == NULL)
		return CTL_EXIT_USAGE;
	q = *c;
	q.json = 0; /* one line per request would not be JSON */
	cJSON_ArrayForEach(item, list) {
		char *one = cJSON_PrintUnformatted(item);

		if (body == NULL) {
			body = cJSON_CreateObject();
			arr = cJSON_AddArrayToObject(body, argv[0]);
		}
		bytes += one ? strlen(one) + 1 : 0;
		free(one);
		cJSON_AddItemToArray(arr, cJSON_Duplicate(item, 1));
		if (++n < IMPORT_CHUNK && item->next != NULL &&
		    bytes < IMPORT_BYTES)
			continue;
		rc = send_json(&q, "POST", "/api/v1/user-lists", body, 200,
			       "user import", NULL);
		body = NULL;
		total += rc == CTL_EXIT_OK ? n : 0;
		n = 0;
		bytes = 0;
		if (rc != CTL_EXIT_OK)
			break;
	}
	cJSON_Delete(body);
	cJSON_Delete(list);
	if (rc == CTL_EXIT_OK)
		printf("imported %d entries of %s\n", total, argv[0]);
	return rc;
}

int ctl_cmd_user_export(const struct ctl *c, int argc, char **argv)
{
	struct ctl c2 = *c;
	const cJSON *list;
	cJSON *j;
	char *s;
	FILE *f;
	int rc;

	if (!list_kind_ok(argv[0]))
		return CTL_EXIT_USAGE;
	c2.json = 0; /* the list file's format, not the API's answer */
	rc = ctl_get_json(&c2, "/api/v1/user-lists", "user export", &j);
	if (j == NULL)
		return rc;
	list = cJSON_GetObjectItemCaseSensitive(j, argv[0]);
	s = list ? cJSON_Print(list) : NULL;
	f = argc > 1 && strcmp(argv[1], "-") != 0 ? fopen(argv[1], "w")
						  : stdout;
	if (s == NULL || f == NULL) {
		if (f == NULL)
			perror(argv[1]);
		rc = CTL_EXIT_FAIL;
	} else {
		rc = fprintf(f, "%s\n", s) < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	}
	if (f != NULL && f != stdout && fclose(f) != 0)
		rc = CTL_EXIT_FAIL;
	free(s);
	cJSON_Delete(j);
	return rc;
}

/* --- roles ---------------------------------------------------------------- */

static void print_role(const cJSON *r)
{
	char perms[2048];

	join_strs(cJSON_GetObjectItemCaseSensitive(r, "permissions"), perms,
		  sizeof(perms));
	printf("%-16s %-8s %-40s %s\n", str_of(r, "name"),
	       flag_of(r, "builtin") ? "builtin" : "-", perms,
	       str_of(r, "description"));
}

int ctl_cmd_role_list(const struct ctl *c, int argc, char **argv)
{
	const cJSON *r;
	cJSON *j;
	int rc = ctl_get_json(c, "/api/v1/roles", "role list", &j);

	(void)argc;
	(void)argv;
	if (j == NULL)
		return rc;
	printf("%-16s %-8s %-40s %s\n", "NAME", "KIND", "PERMISSIONS",
	       "DESCRIPTION");
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "roles"))
		print_role(r);
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_role_show(const struct ctl *c, int argc, char **argv)
{
	char path[128];
	cJSON *j;
	int rc;

	(void)argc;
	if (user_path("/api/v1/roles/", argv[0], path, sizeof(path)) != 0)
		return CTL_EXIT_USAGE;
	rc = ctl_get_json(c, path, "role show", &j);
	if (j == NULL)
		return rc;
	print_role(j);
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_role_set(const struct ctl *c, int argc, char **argv)
{
	cJSON *b = cJSON_CreateObject();
	char path[128];

	(void)argc;
	if (user_path("/api/v1/roles/", argv[0], path, sizeof(path)) != 0) {
		cJSON_Delete(b);
		return CTL_EXIT_USAGE;
	}
	cJSON_AddItemToObject(b, "permissions", ctl_split_list(argv[1]));
	if (c->description)
		cJSON_AddStringToObject(b, "description", c->description);
	return send_json(c, "PUT", path, b, 200, "role set", "done");
}

int ctl_cmd_role_delete(const struct ctl *c, int argc, char **argv)
{
	char path[128];

	(void)argc;
	if (user_path("/api/v1/roles/", argv[0], path, sizeof(path)) != 0)
		return CTL_EXIT_USAGE;
	return send_json(c, "DELETE", path, NULL, 200, "role delete",
			 "deleted");
}
