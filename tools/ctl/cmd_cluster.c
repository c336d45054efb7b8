/*
 * cmd_cluster.c: clusterctl join, leave, members, raft status and raft
 * transfer-leader over /api/v1/cluster/.
 *
 *   join PEER --token JOIN_TOKEN  asks the local node to join PEER's
 *                                 cluster (the node must be unjoined)
 *   leave                         hands leadership over, leaves
 *   members                       the gossip view, one line per node
 *   raft status                   term, leader, servers with match/lag
 *   raft transfer-leader [NODE]   NODE: a name or id; else the best voter
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tools/ctl/cmd.h"

/* POSTs a JSON body and expects 200; prints "ok" (or the JSON). */
static int post(const struct ctl *c, const char *path, cJSON *body,
		int auth, const char *what, const char *done)
{
	struct ctl_response r;
	char *s = body ? cJSON_PrintUnformatted(body) : NULL;
	int rc;

	cJSON_Delete(body);
	rc = ctl_http(c, "POST", path, s, s ? strlen(s) : 0, auth, &r);
	free(s);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (r.status != 200) {
		rc = ctl_http_fail(&r, what);
	} else {
		if (c->json)
			fputs(r.body, stdout);
		else
			printf("%s\n", done);
		rc = CTL_EXIT_OK;
	}
	free(r.body);
	return rc;
}

int ctl_cmd_join(const struct ctl *c, int argc, char **argv)
{
	cJSON *b;

	(void)argc;
	/* The join token is given on the line: an API token from the
	 * environment or the config file is not a join token. */
	if (!c->token_from_flag) {
		fprintf(stderr, "clusterctl join: missing --token JOIN_TOKEN "
				"(from 'clusterctl token create join' on a member)\n");
		return CTL_EXIT_USAGE;
	}
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "peer", argv[0]);
	cJSON_AddStringToObject(b, "token", c->target.token);
	return post(c, "/api/v1/cluster/join", b, 0, "join",
		    "joined: this node is a member (a Raft learner until "
		    "autopilot promotes it)");
}

int ctl_cmd_leave(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return post(c, "/api/v1/cluster/leave", NULL, 1, "leave",
		    "left the cluster");
}

int ctl_cmd_raft_transfer(const struct ctl *c, int argc, char **argv)
{
	cJSON *b = cJSON_CreateObject();

	if (argc > 0)
		cJSON_AddStringToObject(b, "target", argv[0]);
	return post(c, "/api/v1/cluster/transfer-leader", b, 1,
		    "raft transfer-leader", "leadership transferred");
}

static const char *field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : "-";
}

static double number(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int ctl_cmd_members(const struct ctl *c, int argc, char **argv)
{
	const cJSON *m;
	cJSON *j;
	int rc = ctl_get_json(c, "/api/v1/cluster/members", "members", &j);

	(void)argc;
	(void)argv;
	if (j == NULL)
		return rc;
	printf("%-20s %-22s %-8s %-10s %-10s %s\n", "NAME", "ADDRESS", "STATE",
	       "ROLE", "VERSION", "HTTP");
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "members"))
	{
		printf("%-20s %-22s %-8s %-10s %-10s %s\n", field(m, "name"),
		       field(m, "addr"), field(m, "state"), field(m, "role"),
		       field(m, "version"), field(m, "http"));
	}
	cJSON_Delete(j);
	return rc;
}

int ctl_cmd_raft_status(const struct ctl *c, int argc, char **argv)
{
	const cJSON *leader, *s, *d;
	double last;
	cJSON *j;
	int rc = ctl_get_json(c, "/api/v1/cluster/raft", "raft status", &j);

	(void)argc;
	(void)argv;
	if (j == NULL)
		return rc;
	leader = cJSON_GetObjectItemCaseSensitive(j, "leader");
	last = number(j, "last_index");
	printf("term      %.0f\n", number(j, "term"));
	if (cJSON_IsObject(leader))
		printf("leader    %s (%s)\n", field(leader, "name"),
		       field(leader, "id"));
	else
		printf("leader    none\n");
	printf("this node %s, %s; commit %.0f, applied %.0f, last %.0f\n\n",
	       field(j, "id"), field(j, "role"), number(j, "commit_index"),
	       number(j, "applied_index"), last);
	printf("%-16s %-20s %-8s %12s %8s\n", "ID", "NAME", "SUFFRAGE",
	       "MATCH", "LAG");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(j, "servers"))
	{
		printf("%-16s %-20s %-8s %12.0f %8.0f\n", field(s, "id"),
		       field(s, "name"), field(s, "suffrage"),
		       number(s, "match_index"), number(s, "lag"));
	}
	d = cJSON_GetObjectItemCaseSensitive(j, "decisions");
	if (cJSON_GetArraySize(d) > 0)
		printf("\nautopilot decisions (oldest first):\n");
	cJSON_ArrayForEach(s, d)
	{
		printf("  %.0f  %s\n", number(s, "at_ms"), field(s, "text"));
	}
	cJSON_Delete(j);
	return rc;
}
