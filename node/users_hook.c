/*
 * users_hook.c: the small pieces of issue 13 that modules outside the
 * node runtime call: the instance manager's hooks into node/users.c
 * (through the core, so node/instances does not link the runtime), and
 * the permission match the API uses.
 */
#include "node/core.h"

#include <string.h>

void core_users_game_line(const struct core *c, uint64_t instance,
			  const char *line)
{
	if (c != NULL && c->ops->users_game_line != NULL)
		c->ops->users_game_line(c->ctx, instance, line);
}

int core_users_write_files(const struct core *c, uint64_t instance,
			   const char *dir)
{
	if (c == NULL || c->ops->users_write_files == NULL)
		return 0;
	return c->ops->users_write_files(c->ctx, instance, dir);
}

int core_users_game_event(const struct core *c, uint64_t instance,
			  uint64_t msg_id, const struct cJSON *msg)
{
	if (c == NULL || c->ops->users_game_event == NULL)
		return 0;
	return c->ops->users_game_event(c->ctx, instance, msg_id, msg);
}

void core_users_adopted(const struct core *c, uint64_t instance)
{
	if (c != NULL && c->ops->users_adopted != NULL)
		c->ops->users_adopted(c->ctx, instance);
}

/* One part of a permission against a pattern part ("*" matches any). */
static int part_match(const char *pat, size_t pl, const char *s, size_t sl)
{
	return (pl == 1 && pat[0] == '*') ||
	       (pl == sl && memcmp(pat, s, sl) == 0);
}

int core_perm_match(const char *pattern, const char *perm)
{
	const char *pd, *d;

	if (strcmp(pattern, "*") == 0)
		return 1;
	pd = strchr(pattern, '.');
	d = strchr(perm, '.');
	if (pd == NULL || d == NULL)
		return strcmp(pattern, perm) == 0;
	return part_match(pattern, (size_t)(pd - pattern), perm,
			  (size_t)(d - perm)) &&
	       part_match(pd + 1, strlen(pd + 1), d + 1, strlen(d + 1));
}
