/*
 * cmd_items.c: clusterctl items ... over /api/v1/items, against any node.
 *
 *   items list                  every item: stock, exported, delivered,
 *                               in flight; the division mode, refusals
 *                               and the flows per instance
 *   items show ITEM             ITEM: NAME or NAME:QUALITY (normal)
 *   items history ITEM          the item's last events, oldest first
 *   items config MODE [TIMEOUT_MS]   proportional or simple
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

#define ITEM_PATH_MAX 512

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : "-";
}

/* /api/v1/items/NAME[/history]?quality=Q from "NAME[:QUALITY]". */
static int item_path(const char *item, const char *action, char *path,
		     size_t size)
{
	const char *colon = strchr(item, ':');
	size_t nl = colon ? (size_t)(colon - item) : strlen(item), n;

	snprintf(path, size, "/api/v1/items/");
	if (nl == 0 || ctl_pct_encode(item, nl, 0, path, size))
		return CTL_EXIT_USAGE;
	n = strlen(path);
	if (action != NULL)
		snprintf(path + n, size - n, "/%s", action);
	if (colon != NULL && colon[1] != '\0') {
		n = strlen(path);
		snprintf(path + n, size - n, "?quality=");
		if (ctl_pct_encode(colon + 1, strlen(colon + 1), 0, path, size))
			return CTL_EXIT_USAGE;
	}
	return 0;
}

static void print_item_row(const cJSON *t)
{
	printf("%-32s %-10s %12.0f %12.0f %12.0f %10.0f\n", str(t, "name"),
	       str(t, "quality"), num(t, "stock"), num(t, "exported"),
	       num(t, "delivered"), num(t, "in_flight"));
}

int ctl_cmd_items_list(const struct ctl *c, int argc, char **argv)
{
	const cJSON *t, *r;
	cJSON *j;
	int rc = ctl_get_json(c, "/api/v1/items", "item list", &j);

	(void)argc;
	(void)argv;
	if (j == NULL)
		return rc;
	printf("%-32s %-10s %12s %12s %12s %10s\n", "ITEM", "QUALITY", "STOCK",
	       "EXPORTED", "DELIVERED", "IN_FLIGHT");
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "items"))
		print_item_row(t);
	printf("\nmode %s, grant timeout %.0f ms, %.0f grants in flight\n",
	       str(j, "mode"), num(j, "timeout_ms"), num(j, "grants_in_flight"));
	printf("refused:");
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "refused"))
		printf(" %s=%.0f", r->string, r->valuedouble);
	printf("\n\n%-10s %12s %12s %12s\n", "INSTANCE", "EXPORTED", "DELIVERED",
	       "RETURNED");
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "flows"))
		printf("%-10.0f %12.0f %12.0f %12.0f\n", num(t, "instance"),
		       num(t, "exported"), num(t, "delivered"),
		       num(t, "returned"));
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_items_show(const struct ctl *c, int argc, char **argv)
{
	char path[ITEM_PATH_MAX];
	cJSON *j;
	int rc;

	(void)argc;
	if (item_path(argv[0], NULL, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	rc = ctl_get_json(c, path, "item show", &j);
	if (j == NULL)
		return rc;
	printf("%-10s %s\n%-10s %s\n", "name", str(j, "name"), "quality",
	       str(j, "quality"));
	printf("%-10s %.0f\n%-10s %.0f\n%-10s %.0f\n%-10s %.0f\n", "stock",
	       num(j, "stock"), "exported", num(j, "exported"), "delivered",
	       num(j, "delivered"), "in_flight", num(j, "in_flight"));
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_items_history(const struct ctl *c, int argc, char **argv)
{
	char path[ITEM_PATH_MAX];
	const cJSON *t;
	cJSON *j;
	int rc;

	(void)argc;
	if (item_path(argv[0], "history", path, sizeof(path)))
		return CTL_EXIT_USAGE;
	rc = ctl_get_json(c, path, "item history", &j);
	if (j == NULL)
		return rc;
	printf("%-10s %-8s %-10s %s\n", "INDEX", "KIND", "INSTANCE", "COUNT");
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "events"))
		printf("%-10.0f %-8s %-10.0f %.0f\n", num(t, "index"),
		       str(t, "kind"), num(t, "instance"), num(t, "count"));
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_items_config(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	cJSON *b = cJSON_CreateObject();
	char *s;
	int rc;

	cJSON_AddStringToObject(b, "mode", argv[0]);
	if (argc > 1)
		cJSON_AddNumberToObject(b, "timeout_ms", strtod(argv[1], NULL));
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	rc = ctl_http(c, "PUT", "/api/v1/items", s, s ? strlen(s) : 0, 1, &r);
	free(s);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200)
		rc = ctl_http_fail(&r, "item config");
	else if (c->json)
		fputs(r.body, stdout);
	else
		printf("item division %s\n", argv[0]);
	free(r.body);
	return r.status == 200 ? CTL_EXIT_OK : rc;
}
