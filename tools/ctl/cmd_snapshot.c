/*
 * cmd_snapshot.c: backups of the cluster's replicated state.
 *   snapshot save FILE      streams GET /api/v1/snapshot into FILE.part,
 *                           bytes so far on stderr (a terminal, or
 *                           --progress), checks the file it received
 *                           (framing and checksum, node/snapfile.h) and
 *                           only then renames it to FILE;
 *   snapshot inspect FILE   checks a file and prints its header;
 *   snapshot restore FILE   runs `clusterd restore` (the clusterd beside
 *                           this clusterctl, else the one on $PATH):
 *                           offline, into --data-dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "node/snapfile.h"
#include "tools/ctl/cmd.h"

/* A save gives up when fewer than this many bytes arrived in the last
 * CTL_SNAP_STALL_S seconds (no total timeout: a large state takes as long
 * as it takes). The node's barrier answers within its API deadline. */
#define CTL_SNAP_STALL_S 30L
/* Error answers are JSON of a few hundred bytes; keep at most this. */
#define CTL_SNAP_ERR_BODY_MAX 4096
/* Progress lines when stderr is not a terminal (--progress): one per
 * this many bytes. */
#define CTL_SNAP_PROGRESS_STEP (4u << 20)

struct save {
	CURL *curl;
	FILE *f;
	long status;          /* 0 until the first body byte */
	char err[CTL_SNAP_ERR_BODY_MAX + 1];
	size_t err_len;
	int write_failed;
	int progress, tty;
	uint64_t bytes, next_report;
};

static size_t save_data(char *data, size_t size, size_t nmemb, void *userp)
{
	struct save *s = userp;
	size_t n = size * nmemb, room;

	if (s->status == 0)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200) {
		room = CTL_SNAP_ERR_BODY_MAX - s->err_len;
		n = n < room ? n : room;
		memcpy(s->err + s->err_len, data, n);
		s->err_len += n;
		s->err[s->err_len] = '\0';
		return size * nmemb;
	}
	if (fwrite(data, 1, n, s->f) != n) {
		s->write_failed = errno ? errno : EIO;
		return 0;
	}
	s->bytes += n;
	if (s->progress && s->tty) {
		fprintf(stderr, "\rsnapshot: %llu bytes", (unsigned long long)s->bytes);
	} else if (s->progress && s->bytes >= s->next_report) {
		fprintf(stderr, "snapshot: %llu bytes\n", (unsigned long long)s->bytes);
		s->next_report = s->bytes + CTL_SNAP_PROGRESS_STEP;
	}
	return n;
}

static struct curl_slist *save_headers(const struct ctl *c)
{
	struct curl_slist *h = NULL, *next;
	char auth[1024];

	if (c->target.token == NULL)
		return curl_slist_append(NULL, "Accept: application/octet-stream");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->target.token);
	h = curl_slist_append(NULL, auth);
	if (h != NULL) {
		next = curl_slist_append(h, "Accept: application/octet-stream");
		h = next ? next : (curl_slist_free_all(h), NULL);
	}
	return h;
}

/* The download into s->f; 0, or the exit status with the reason printed. */
static int save_fetch(const struct ctl *c, struct save *s)
{
	char url[CTL_URL_MAX + 64];
	struct curl_slist *h = save_headers(c);
	CURLcode rc;

	s->curl = curl_easy_init();
	if (s->curl == NULL || h == NULL) {
		fprintf(stderr, "clusterctl: cannot initialise libcurl\n");
		curl_slist_free_all(h);
		if (s->curl)
			curl_easy_cleanup(s->curl);
		return CTL_EXIT_FAIL;
	}
	snprintf(url, sizeof(url), "%s/api/v1/snapshot%s", c->target.url,
		 c->stale ? "?stale=1" : "");
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, save_data);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CTL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_TIME, CTL_SNAP_STALL_S);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "clusterctl/" CLUSTERD_VERSION);
	rc = curl_easy_perform(s->curl);
	if (s->status == 0)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	curl_easy_cleanup(s->curl);
	curl_slist_free_all(h);
	if (s->progress && s->tty)
		fputc('\n', stderr);
	if (s->write_failed) {
		fprintf(stderr, "clusterctl: cannot write the snapshot: %s\n",
			strerror(s->write_failed));
		return CTL_EXIT_FAIL;
	}
	if (rc != CURLE_OK) {
		fprintf(stderr, "clusterctl: the snapshot from %s did not arrive "
			"whole: %s (after %llu bytes)\n", c->target.url,
			curl_easy_strerror(rc), (unsigned long long)s->bytes);
		return CTL_EXIT_FAIL;
	}
	if (s->status != 200) {
		struct ctl_response r = {.status = s->status, .body = s->err,
					 .len = s->err_len};

		return ctl_http_fail(&r, "snapshot save");
	}
	return 0;
}

/* Checks the file it received and prints what it holds. */
static int save_check(const struct ctl *c, const char *part, const char *file,
		      uint64_t bytes)
{
	struct snapfile_header h;
	char err[SNAPFILE_ERR_MAX], id[2 * SNAPFILE_ID_LEN + 1];
	FILE *f = fopen(part, "rb");
	int rv;

	if (f == NULL) {
		fprintf(stderr, "clusterctl: cannot reopen %s: %s\n", part,
			strerror(errno));
		return CTL_EXIT_FAIL;
	}
	rv = snapfile_read(f, &h, NULL, NULL, err, sizeof(err));
	fclose(f);
	if (rv != 0) {
		fprintf(stderr, "clusterctl: the snapshot received is refused: %s\n",
			err);
		return CTL_EXIT_FAIL;
	}
	if (rename(part, file) != 0) {
		fprintf(stderr, "clusterctl: cannot rename %s to %s: %s\n", part,
			file, strerror(errno));
		return CTL_EXIT_FAIL;
	}
	snapfile_id_hex(h.cluster_id, id);
	if (c->json)
		printf("{\"file\":\"%s\",\"bytes\":%llu,\"index\":%llu,"
		       "\"term\":%llu,\"cluster_id\":\"%s\"}\n", file,
		       (unsigned long long)bytes, (unsigned long long)h.index,
		       (unsigned long long)h.term, id);
	else
		printf("saved %s: %llu bytes, index %llu, term %llu, cluster %s\n",
		       file, (unsigned long long)bytes,
		       (unsigned long long)h.index, (unsigned long long)h.term, id);
	return 0;
}

int ctl_cmd_snapshot_save(const struct ctl *c, int argc, char **argv)
{
	char part[PATH_MAX];
	struct save s;
	int fd, rv;

	(void)argc;
	if (strchr(argv[0], '"') != NULL || strchr(argv[0], '\\') != NULL) {
		fprintf(stderr, "clusterctl: the file name may not hold '\"' or '\\'\n");
		return CTL_EXIT_USAGE;
	}
	if ((size_t)snprintf(part, sizeof(part), "%s.part", argv[0]) >=
	    sizeof(part)) {
		fprintf(stderr, "clusterctl: file name too long\n");
		return CTL_EXIT_USAGE;
	}
	memset(&s, 0, sizeof(s));
	s.tty = isatty(2);
	s.progress = c->progress || s.tty;
	/* The file holds token hashes and every value: owner only. */
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	s.f = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (s.f == NULL) {
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "clusterctl: cannot create %s: %s\n", part,
			strerror(errno));
		return CTL_EXIT_FAIL;
	}
	rv = save_fetch(c, &s);
	if (fclose(s.f) != 0 && rv == 0) {
		fprintf(stderr, "clusterctl: cannot write %s: %s\n", part,
			strerror(errno));
		rv = CTL_EXIT_FAIL;
	}
	if (rv == 0)
		rv = save_check(c, part, argv[0], s.bytes);
	if (rv != 0)
		unlink(part);
	return rv;
}

int ctl_cmd_snapshot_inspect(const struct ctl *c, int argc, char **argv)
{
	struct snapfile_header h;
	char err[SNAPFILE_ERR_MAX], id[2 * SNAPFILE_ID_LEN + 1];
	FILE *f = fopen(argv[0], "rb");
	int rv;

	(void)argc;
	if (f == NULL) {
		fprintf(stderr, "clusterctl: cannot open %s: %s\n", argv[0],
			strerror(errno));
		return CTL_EXIT_FAIL;
	}
	rv = snapfile_read(f, &h, NULL, NULL, err, sizeof(err));
	fclose(f);
	if (rv != 0) {
		fprintf(stderr, "clusterctl: %s is refused: %s\n", argv[0], err);
		return CTL_EXIT_FAIL;
	}
	snapfile_id_hex(h.cluster_id, id);
	if (c->json)
		printf("{\"version\":%u,\"index\":%llu,\"term\":%llu,"
		       "\"cluster_id\":\"%s\",\"created_ms\":%llu}\n", h.version,
		       (unsigned long long)h.index, (unsigned long long)h.term,
		       id, (unsigned long long)h.created_ms);
	else
		printf("format   %u\nindex    %llu\nterm     %llu\ncluster  %s\n"
		       "created  %llu (ms since the epoch)\nchecksum ok\n",
		       h.version, (unsigned long long)h.index,
		       (unsigned long long)h.term, id,
		       (unsigned long long)h.created_ms);
	return 0;
}

/* The clusterd beside this executable, else "clusterd" (found on $PATH). */
static void clusterd_path(char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	snprintf(buf, size, "clusterd");
	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	if ((size_t)snprintf(buf, size, "%s/clusterd", self) >= size ||
	    access(buf, X_OK) != 0)
		snprintf(buf, size, "clusterd");
}

int ctl_cmd_snapshot_restore(const struct ctl *c, int argc, char **argv)
{
	char prog[PATH_MAX];
	char *args[16];
	int n = 0;

	(void)argc;
	if (c->data_dir == NULL) {
		fprintf(stderr, "clusterctl snapshot restore: --data-dir DIR is "
			"required (an empty directory for the new cluster)\n");
		return CTL_EXIT_USAGE;
	}
	clusterd_path(prog, sizeof(prog));
	args[n++] = prog;
	args[n++] = (char *)"restore";
	args[n++] = (char *)"--from";
	args[n++] = argv[0];
	args[n++] = (char *)"--data-dir";
	args[n++] = (char *)c->data_dir;
	if (c->name) {
		args[n++] = (char *)"--name";
		args[n++] = (char *)c->name;
	}
	if (c->bind) {
		args[n++] = (char *)"--bind";
		args[n++] = (char *)c->bind;
	}
	if (c->http) {
		args[n++] = (char *)"--http";
		args[n++] = (char *)c->http;
	}
	if (c->advertise) {
		args[n++] = (char *)"--advertise";
		args[n++] = (char *)c->advertise;
	}
	if (c->json)
		args[n++] = (char *)"--json";
	args[n] = NULL;
	fflush(NULL);
	execvp(prog, args);
	fprintf(stderr, "clusterctl: cannot run %s: %s\n", prog, strerror(errno));
	return CTL_EXIT_FAIL;
}
