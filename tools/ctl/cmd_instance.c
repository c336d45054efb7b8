/*
 * cmd_instance.c: clusterctl instance ... over /api/v1/instances, against
 * any node (show and send-rcon are forwarded by the node to the one that
 * runs the instance).
 *
 *   instance list
 *   instance create NAME [NODE]      NODE: assign at once
 *   instance show NAME
 *   instance assign NAME NODE        NODE "-": unassign
 *   instance start|stop|delete NAME
 *   instance send-rcon NAME COMMAND  prints the reply
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

#define PATH_MAX_ 512

int ctl_inst_path(const char *name, const char *action, char *path,
		  size_t size)
{
	size_t n;

	snprintf(path, size, "/api/v1/instances/");
	if (ctl_pct_encode(name, strlen(name), 0, path, size))
		return CTL_EXIT_USAGE;
	n = strlen(path);
	if (action != NULL)
		snprintf(path + n, size - n, "/%s", action);
	return 0;
}

int ctl_cmd_instance_create(const struct ctl *c, int argc, char **argv)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "name", argv[0]);
	if (argc > 1)
		cJSON_AddStringToObject(b, "node", argv[1]);
	return ctl_send(c, "POST", "/api/v1/instances", b, "instance create",
		    "created", argv[0]);
}

int ctl_cmd_instance_assign(const struct ctl *c, int argc, char **argv)
{
	char path[PATH_MAX_];
	cJSON *b;

	(void)argc;
	if (ctl_inst_path(argv[0], "assign", path, sizeof(path)))
		return CTL_EXIT_USAGE;
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "node",
				strcmp(argv[1], "-") == 0 ? "" : argv[1]);
	return ctl_send(c, "POST", path, b, "instance assign", "assigned",
		    argv[0]);
}

static int action(const struct ctl *c, char **argv, const char *act,
		  const char *done)
{
	char path[PATH_MAX_], what[32];

	if (ctl_inst_path(argv[0], act, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	snprintf(what, sizeof(what), "instance %s", act);
	return ctl_send(c, "POST", path, NULL, what, done, argv[0]);
}

int ctl_cmd_instance_start(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return action(c, argv, "start", "starting");
}

int ctl_cmd_instance_stop(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return action(c, argv, "stop", "stopping");
}

int ctl_cmd_instance_delete(const struct ctl *c, int argc, char **argv)
{
	char path[PATH_MAX_];

	(void)argc;
	if (ctl_inst_path(argv[0], NULL, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	return ctl_send(c, "DELETE", path, NULL, "instance delete", "deleted",
		    argv[0]);
}

int ctl_cmd_instance_rcon(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	char path[PATH_MAX_], *s;
	const cJSON *reply;
	cJSON *b, *j;
	int rc;

	(void)argc;
	if (ctl_inst_path(argv[0], "rcon", path, sizeof(path)))
		return CTL_EXIT_USAGE;
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "command", argv[1]);
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	rc = ctl_http(c, "POST", path, s, strlen(s), 1, &r);
	free(s);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, "instance send-rcon");
		free(r.body);
		return rc;
	}
	j = cJSON_ParseWithLength(r.body, r.len);
	reply = cJSON_GetObjectItemCaseSensitive(j, "reply");
	if (c->json)
		fputs(r.body, stdout);
	else if (cJSON_IsString(reply))
		fputs(reply->valuestring, stdout);
	rc = cJSON_IsString(reply) ? CTL_EXIT_OK : CTL_EXIT_FAIL;
	cJSON_Delete(j);
	free(r.body);
	return rc;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : "-";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int ctl_cmd_instance_list(const struct ctl *c, int argc, char **argv)
{
	const cJSON *t;
	cJSON *j;
	int rc = ctl_get_json(c, "/api/v1/instances", "instance list", &j);

	(void)argc;
	(void)argv;
	if (j == NULL)
		return rc;
	printf("%-8s %-24s %-16s %-8s %-13s %s\n", "ID", "NAME", "NODE",
	       "DESIRED", "STATUS", "PORTS");
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "instances"))
		printf("%-8.0f %-24s %-16s %-8s %-13s %.0f/%.0f\n",
		       num(t, "id"), str(t, "name"), str(t, "node"),
		       str(t, "desired"), str(t, "status"), num(t, "game_port"),
		       num(t, "rcon_port"));
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

/* "players  alice, bob" (issue 12, player tracking); "-" for nobody. */
static void print_players(const cJSON *arr)
{
	const cJSON *p;
	int n = 0;

	if (!cJSON_IsArray(arr))
		return;
	printf("%-20s ", "players");
	cJSON_ArrayForEach(p, arr)
		if (cJSON_IsString(p))
			printf("%s%s", n++ ? ", " : "", p->valuestring);
	printf("%s\n", n ? "" : "-");
}

int ctl_cmd_instance_show(const struct ctl *c, int argc, char **argv)
{
	static const char *const keys[] = {
		"id", "name", "node", "desired", "status", "game_port",
		"rcon_port", "save", "pid", "crashes", "given_up", "saves",
		"start_to_running_ms", "error", "factorio_version"};
	char path[PATH_MAX_];
	cJSON *j;
	int rc;

	(void)argc;
	if (ctl_inst_path(argv[0], NULL, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	rc = ctl_get_json(c, path, "instance show", &j);
	if (j == NULL)
		return rc;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);

		if (v == NULL)
			continue;
		if (cJSON_IsString(v))
			printf("%-20s %s\n", keys[i],
			       v->valuestring[0] ? v->valuestring : "-");
		else if (cJSON_IsBool(v))
			printf("%-20s %s\n", keys[i],
			       cJSON_IsTrue(v) ? "yes" : "no");
		else
			printf("%-20s %.0f\n", keys[i], v->valuedouble);
	}
	print_players(cJSON_GetObjectItemCaseSensitive(j, "players"));
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}
