/*
 * cmd_inventory.c: clusterctl inventory ... over /api/v1/inventories
 * (issue 14), against any node.
 *
 *   inventory list                  players: lock holder, generation,
 *                                   stored size
 *   inventory show PLAYER           one player's lock and stored header
 *   inventory export PLAYER         the stored inventory's JSON on stdout
 *   inventory import PLAYER FILE    stores FILE (JSON; "-": stdin) as the
 *                                   player's inventory (lock must be free)
 *   inventory release PLAYER        an admin's release of a held lock
 *                                   (logged with the token's name)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

#define PATH_MAX_ 512
/* An imported file at most: an inventory's JSON bound (4 MiB). */
#define CTL_INV_FILE_MAX (4u << 20)

static int inv_path(const char *player, const char *suffix, char *path,
		    size_t size)
{
	size_t n;

	snprintf(path, size, "/api/v1/inventories/");
	if (ctl_pct_encode(player, strlen(player), 0, path, size))
		return CTL_EXIT_USAGE;
	n = strlen(path);
	if (suffix != NULL)
		snprintf(path + n, size - n, "/%s", suffix);
	return 0;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

int ctl_cmd_inventory_list(const struct ctl *c, int argc, char **argv)
{
	const cJSON *arr, *o;
	cJSON *j;
	int rc;

	(void)argc;
	(void)argv;
	rc = ctl_get_json(c, "/api/v1/inventories", "inventory list", &j);
	if (rc != CTL_EXIT_OK || j == NULL)
		return rc;
	printf("%-24s %-6s %-10s %6s %10s\n", "PLAYER", "LOCK", "INSTANCE",
	       "GEN", "BYTES");
	arr = cJSON_GetObjectItemCaseSensitive(j, "inventories");
	cJSON_ArrayForEach(o, arr) {
		int stored = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stored"));
		int held = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "held"));
		char holder[32] = "-", bytes[32] = "-";

		if (held)
			snprintf(holder, sizeof(holder), "%.0f",
				 num(o, "instance"));
		if (stored)
			snprintf(bytes, sizeof(bytes), "%.0f", num(o, "bytes"));
		printf("%-24s %-6s %-10s %6.0f %10s\n", str(o, "player"),
		       held ? "held" : "free", holder, num(o, "gen"), bytes);
	}
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_inventory_show(const struct ctl *c, int argc, char **argv)
{
	static const char *const keys[] = {
		"player", "held", "instance", "node", "gen", "since", "freed",
		"by", "stored", "stored_gen", "stored_instance", "stored_index",
		"bytes", "stored_bytes", NULL};
	char path[PATH_MAX_];
	cJSON *j;
	int rc;

	(void)argc;
	if (inv_path(argv[0], NULL, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	rc = ctl_get_json(c, path, "inventory show", &j);
	if (rc != CTL_EXIT_OK || j == NULL)
		return rc;
	for (int i = 0; keys[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);

		if (cJSON_IsString(v))
			printf("%-16s %s\n", keys[i], v->valuestring);
		else if (cJSON_IsNumber(v))
			printf("%-16s %.0f\n", keys[i], v->valuedouble);
		else if (cJSON_IsBool(v))
			printf("%-16s %s\n", keys[i],
			       cJSON_IsTrue(v) ? "yes" : "no");
	}
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

int ctl_cmd_inventory_export(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	char path[PATH_MAX_];
	int rc;

	(void)argc;
	if (inv_path(argv[0], "export", path, sizeof(path)))
		return CTL_EXIT_USAGE;
	if (ctl_http(c, "GET", path, NULL, 0, 1, &r) != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, "inventory export");
	} else {
		fwrite(r.body, 1, r.len, stdout);
		fputc('\n', stdout);
		rc = CTL_EXIT_OK;
	}
	free(r.body);
	return rc;
}

static char *read_all(const char *file, size_t *len)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	size_t cap = 1 << 16, n = 0;
	char *buf = f ? malloc(cap) : NULL;

	while (buf != NULL && !feof(f) && !ferror(f)) {
		if (n == cap) {
			char *b = cap < CTL_INV_FILE_MAX ? realloc(buf, cap * 2)
							  : NULL;
			if (b == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
		n += fread(buf + n, 1, cap - n, f);
	}
	if (f != NULL && f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

/* Prints a write's answer: the JSON with --json, else "DONE PLAYER". */
static int write_answer(const struct ctl *c, struct ctl_response *r,
			const char *what, const char *done, const char *player)
{
	int rc = CTL_EXIT_OK;

	if (r->status != 200)
		rc = ctl_http_fail(r, what);
	else if (c->json)
		fputs(r->body, stdout);
	else
		printf("%s %s\n", done, player);
	free(r->body);
	return rc;
}

int ctl_cmd_inventory_import(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	char path[PATH_MAX_], *body;
	size_t len;
	int rc;

	(void)argc;
	if (inv_path(argv[0], NULL, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	body = read_all(argv[1], &len);
	if (body == NULL) {
		fprintf(stderr, "clusterctl: inventory import: cannot read %s "
				"(or it is over %u bytes)\n",
			argv[1], CTL_INV_FILE_MAX);
		return CTL_EXIT_USAGE;
	}
	rc = ctl_http(c, "PUT", path, body, len, 1, &r);
	free(body);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	return write_answer(c, &r, "inventory import", "imported", argv[0]);
}

int ctl_cmd_inventory_release(const struct ctl *c, int argc, char **argv)
{
	struct ctl_response r;
	char path[PATH_MAX_];

	(void)argc;
	if (inv_path(argv[0], "release", path, sizeof(path)))
		return CTL_EXIT_USAGE;
	if (ctl_http(c, "POST", path, "{}", 2, 1, &r) != 0)
		return CTL_EXIT_FAIL;
	return write_answer(c, &r, "inventory release", "released", argv[0]);
}
