/*
 * cmd_plugin.c: clusterctl plugin list|add|remove|enable|disable over
 * /api/v1/plugins (docs/plugins.md).
 *
 *   plugin list
 *   plugin add NAME [--on NODE] [--perms P,P,...] [--lua DIR] [--disabled]
 *              -- PROGRAM [ARG...]
 *   plugin remove|enable|disable NAME
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

int ctl_cmd_plugin_add(const struct ctl *c, int argc, char **argv)
{
	cJSON *b = cJSON_CreateObject(), *cmd, *perms;
	char *list, *save = NULL;

	cJSON_AddStringToObject(b, "name", argv[0]);
	cJSON_AddStringToObject(b, "node", c->on ? c->on : "*");
	cJSON_AddBoolToObject(b, "enabled", !c->disabled);
	if (c->lua)
		cJSON_AddStringToObject(b, "lua", c->lua);
	cmd = cJSON_AddArrayToObject(b, "command");
	for (int i = 1; i < argc; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
	perms = cJSON_AddArrayToObject(b, "permissions");
	list = c->perms ? strdup(c->perms) : NULL;
	for (char *p = list ? strtok_r(list, ",", &save) : NULL; p != NULL;
	     p = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(perms, cJSON_CreateString(p));
	free(list);
	return ctl_send(c, "POST", "/api/v1/plugins", b, "plugin add", "added",
			argv[0]);
}

static int named(const struct ctl *c, const char *name, const char *method,
		 const char *action, const char *what, const char *done)
{
	char path[256], enc[160] = "";

	if (ctl_pct_encode(name, strlen(name), 0, enc, sizeof(enc)) != 0) {
		fprintf(stderr, "clusterctl: %s: name too long\n", what);
		return CTL_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/api/v1/plugins/%s%s%s", enc,
		 action ? "/" : "", action ? action : "");
	return ctl_send(c, method, path, NULL, what, done, name);
}

int ctl_cmd_plugin_remove(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return named(c, argv[0], "DELETE", NULL, "plugin remove", "removed");
}

int ctl_cmd_plugin_enable(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return named(c, argv[0], "POST", "enable", "plugin enable", "enabled");
}

int ctl_cmd_plugin_disable(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return named(c, argv[0], "POST", "disable", "plugin disable",
		     "disabled");
}

int ctl_cmd_plugin_list(const struct ctl *c, int argc, char **argv)
{
	const cJSON *p;
	cJSON *j = NULL;
	int rc;

	(void)argc;
	(void)argv;
	rc = ctl_get_json(c, "/api/v1/plugins", "plugin list", &j);
	if (rc != 0 || j == NULL)
		return rc;
	printf("%-20s %-10s %-8s %-10s %-8s %s\n", "NAME", "NODE", "ENABLED",
	       "HERE", "PID", "COMMAND");
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(j, "plugins")) {
		const cJSON *name = cJSON_GetObjectItem(p, "name");
		const cJSON *node = cJSON_GetObjectItem(p, "node");
		const cJSON *local = cJSON_GetObjectItem(p, "local");
		const cJSON *st = cJSON_GetObjectItem(local, "status");
		const cJSON *pid = cJSON_GetObjectItem(local, "pid");
		const cJSON *a;

		printf("%-20s %-10s %-8s %-10s %-8.0f",
		       cJSON_IsString(name) ? name->valuestring : "?",
		       cJSON_IsString(node) ? node->valuestring : "*",
		       cJSON_IsTrue(cJSON_GetObjectItem(p, "enabled")) ? "yes"
								       : "no",
		       cJSON_IsString(st) ? st->valuestring : "-",
		       cJSON_IsNumber(pid) ? pid->valuedouble : 0.0);
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(p, "command"))
			if (cJSON_IsString(a))
				printf(" %s", a->valuestring);
		printf("\n");
	}
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}
