/*
 * cmd_token.c: clusterctl token create|list|revoke over /api/v1/tokens.
 *
 *   token create join|api [--name LABEL] [--role admin|read]
 *        [--roles ROLE,...] [--user NAME] [--ttl S]
 *        prints the token: the only time its secret is shown
 *   token list
 *   token revoke ID
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

int ctl_cmd_token_create(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	const cJSON *tok;
	cJSON *b, *j;
	char *s;
	int rc;

	(void)argc;
	if (strcmp(argv[0], "join") != 0 && strcmp(argv[0], "api") != 0) {
		fprintf(stderr, "clusterctl token create: kind is 'join' or 'api', not '%s'\n",
			argv[0]);
		return CTL_EXIT_USAGE;
	}
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "kind", argv[0]);
	if (c->name)
		cJSON_AddStringToObject(b, "name", c->name);
	if (c->role)
		cJSON_AddStringToObject(b, "role", c->role);
	if (c->roles)
		cJSON_AddItemToObject(b, "roles", ctl_split_list(c->roles));
	if (c->user)
		cJSON_AddStringToObject(b, "user", c->user);
	if (c->ttl_s > 0)
		cJSON_AddNumberToObject(b, "ttl_s", (double)c->ttl_s);
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	rc = ctl_http(c, "POST", "/api/v1/tokens", s, strlen(s), 1, &r);
	free(s);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 201) {
		rc = ctl_http_fail(&r, "token create");
		free(r.body);
		return rc;
	}
	j = cJSON_ParseWithLength(r.body, r.len);
	tok = cJSON_GetObjectItemCaseSensitive(j, "token");
	if (!cJSON_IsString(tok)) {
		fprintf(stderr, "clusterctl: token create: the answer has no token\n");
		rc = CTL_EXIT_FAIL;
	} else if (c->json) {
		fputs(r.body, stdout);
	} else {
		/* The token alone on stdout, so $(clusterctl token create)
		 * captures it; the note goes to stderr. */
		printf("%s\n", tok->valuestring);
		fprintf(stderr, "keep this token: it is shown only once\n");
	}
	cJSON_Delete(j);
	free(r.body);
	return rc;
}

/* A wall-clock time in ms as UTC, or "never" for 0. */
static void print_time(double ms)
{
	char buf[32] = "?";
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0) {
		printf(" %-20s", "never");
		return;
	}
	if (gmtime_r(&t, &tm) != NULL)
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
	printf(" %-20s", buf);
}

int ctl_cmd_token_list(const struct ctl *c, int argc, char **argv)
{
	const cJSON *t;
	cJSON *j;
	int rc = ctl_get_json(c, "/api/v1/tokens", "token list", &j);

	(void)argc;
	(void)argv;
	if (j == NULL)
		return rc;
	printf("%-16s %-5s %-16s %-20s %-20s %s\n", "ID", "KIND", "ROLES",
	       "NAME", "EXPIRES", "STATE");
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tokens"))
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(t, "kind");
		const cJSON *roles = cJSON_GetObjectItemCaseSensitive(t, "roles");
		char rbuf[300] = "-";
		size_t rn = 0;
		const cJSON *e;
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
		const cJSON *exp = cJSON_GetObjectItemCaseSensitive(t, "expires_ms");

		cJSON_ArrayForEach(e, roles) /* issue 13: every role */
			if (cJSON_IsString(e) && rn < sizeof(rbuf))
				rn += (size_t)snprintf(rbuf + rn, sizeof(rbuf) - rn,
						       "%s%s", rn ? "," : "",
						       e->valuestring);
		printf("%-16s %-5s %-16s %-20s", cJSON_GetStringValue(id),
		       cJSON_GetStringValue(kind), rbuf,
		       cJSON_IsString(name) && *name->valuestring
			       ? name->valuestring
			       : "-");
		print_time(cJSON_IsNumber(exp) ? exp->valuedouble : 0);
		printf(" %s\n",
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "revoked"))
			       ? "revoked"
		       : cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "expired"))
			       ? "expired"
			       : "valid");
	}
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_token_revoke(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	char path[128] = "/api/v1/tokens/";
	int rc;

	(void)argc;
	if (ctl_pct_encode(argv[0], strlen(argv[0]), 0, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	if (ctl_http(c, "DELETE", path, NULL, 0, 1, &r) != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, "token revoke");
	} else {
		if (c->json)
			fputs(r.body, stdout);
		else
			printf("revoked %s\n", argv[0]);
		rc = CTL_EXIT_OK;
	}
	free(r.body);
	return rc;
}
