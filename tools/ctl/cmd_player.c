/*
 * cmd_player.c: clusterctl player list (issue 12, player tracking): every
 * user seen on an instance of the cluster, with their join count and
 * online time from GET /api/v1/players, all pages in name order.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

/* Pages of at most this many names; the node allows up to 999. */
#define PAGE 500
/* A bound on pages: 2,000 pages of 500 are a million users. */
#define PAGES_MAX 2000

static void print_page(const cJSON *arr, char *last, size_t size)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, arr) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "name");
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(p, "joins");
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(p, "online_ms");
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(p, "last_instance");
		double s;

		if (!cJSON_IsString(n))
			continue;
		s = cJSON_IsNumber(o) ? o->valuedouble / 1000.0 : 0;
		printf("%-32s %8.0f %6.0fh%02.0fm %8.0f\n", n->valuestring,
		       cJSON_IsNumber(j) ? j->valuedouble : 0, (double)(long)(s / 3600),
		       (double)((long)(s / 60) % 60),
		       cJSON_IsNumber(i) ? i->valuedouble : 0);
		snprintf(last, size, "%s", n->valuestring);
	}
}

int ctl_cmd_player_list(const struct ctl *c, int argc, char **argv)
{
	char last[128] = "", path[512];
	int rc = CTL_EXIT_OK;

	(void)argc;
	(void)argv;
	if (!c->json)
		printf("%-32s %8s %9s %8s\n", "NAME", "JOINS", "ONLINE",
		       "LAST_INST");
	for (int page = 0; page < PAGES_MAX; page++) {
		cJSON *j = NULL;
		int more;

		snprintf(path, sizeof(path), "/api/v1/players?limit=%d&after=", PAGE);
		if (ctl_pct_encode(last, strlen(last), 0, path, sizeof(path)) != 0)
			return CTL_EXIT_FAIL;
		rc = ctl_get_json(c, path, "player list", &j);
		if (j == NULL)
			return rc; /* an error, or --json printed the page */
		print_page(cJSON_GetObjectItemCaseSensitive(j, "players"), last,
			   sizeof(last));
		more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "more"));
		cJSON_Delete(j);
		if (!more)
			break;
	}
	return rc;
}
