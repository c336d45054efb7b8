/*
 * cmd_save.c: clusterctl save ... over /api/v1/instances/I/saves, against
 * any node (the node forwards to the one that runs the instance):
 *
 *   save list INSTANCE
 *   save create INSTANCE NAME [--seed N] [--map-gen-settings F]
 *        [--map-settings F]                  the game makes a new map
 *   save upload INSTANCE FILE [NAME] [--overwrite]
 *   save download INSTANCE NAME [FILE]       FILE.part, renamed when whole
 *   save rename|copy INSTANCE NAME NEW
 *   save transfer INSTANCE NAME TARGET [NEW] [--copy]   (a move unless
 *                                            --copy)
 *   save delete INSTANCE NAME
 *
 * An upload goes in parts of SAVE_PART bytes (the API's bound, node/core.h
 * CORE_SAVE_PART_MAX) over one connection; a download is one streamed
 * GET. Both show bytes and percent on stderr when it is a terminal or
 * with --progress. The operations that wait for the game or for a whole
 * save to cross (create, copy, transfer) get a long timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "tools/ctl/cmd.h"

#define SAVE_PART (1u << 20)
/* Parts are sized to the link (upload_parts): the smallest, the time one
 * should take, and the failed parts retried in a row at half size. */
#define PART_MIN (16u * 1024)
#define PART_TARGET_MS 1500
#define PART_RETRIES 6
#define PATH_LEN 512
#define ERR_BODY_MAX 4096
/* A part, a list or a rename answers within the node's API deadline
 * (10 s) plus a forward; creation and transfers may take minutes. */
#define SHORT_TIMEOUT_MS 30000L
#define LONG_TIMEOUT_MS (15L * 60 * 1000)
/* A download gives up when nothing arrived for this long. */
#define STALL_S 60L
/* Progress lines when stderr is not a terminal: one per this many bytes. */
#define PROGRESS_STEP (16u << 20)

/* One connection for every request of a command. */
struct conn {
	const struct ctl *c;
	CURL *curl;
	struct curl_slist *hdrs;
	/* answer of the last request (JSON; bounded) */
	long status;
	char body[ERR_BODY_MAX + 1];
	size_t len;
	/* download */
	FILE *f;
	int write_failed;
	int quiet; /* conn_do keeps its error in err, unprinted */
	char err[CTL_ERRMSG_MAX];
	/* progress */
	const char *what;
	int progress, tty;
	uint64_t done, total, next_report;
};

static void progress(struct conn *k, int last)
{
	double pct = k->total ? 100.0 * (double)k->done / (double)k->total
			      : 100.0;

	if (!k->progress)
		return;
	if (k->tty) {
		fprintf(stderr, "\r%s: %llu/%llu bytes (%.0f%%)%s", k->what,
			(unsigned long long)k->done,
			(unsigned long long)k->total, pct, last ? "\n" : "");
	} else if (k->done >= k->next_report || last) {
		fprintf(stderr, "%s: %llu/%llu bytes (%.0f%%)\n", k->what,
			(unsigned long long)k->done,
			(unsigned long long)k->total, pct);
		k->next_report = k->done + PROGRESS_STEP;
	}
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct conn *k = ud;
	size_t n = size * nmemb, room;

	if (k->status == 0)
		curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &k->status);
	if (k->f != NULL && k->status == 200) {
		if (fwrite(data, 1, n, k->f) != n) {
			k->write_failed = errno ? errno : EIO;
			return 0;
		}
		k->done += n;
		progress(k, 0);
		return n;
	}
	room = ERR_BODY_MAX - k->len;
	memcpy(k->body + k->len, data, n < room ? n : room);
	k->len += n < room ? n : room;
	k->body[k->len] = '\0';
	return n;
}

static int conn_open(struct conn *k, const struct ctl *c, const char *what)
{
	char h[1024];

	memset(k, 0, sizeof(*k));
	k->c = c;
	k->what = what;
	k->tty = isatty(2);
	k->progress = c->progress || k->tty;
	k->curl = curl_easy_init();
	k->hdrs = curl_slist_append(NULL, "Expect:");
	if (c->target.token != NULL) {
		snprintf(h, sizeof(h), "Authorization: Bearer %s",
			 c->target.token);
		k->hdrs = curl_slist_append(k->hdrs, h);
	}
	if (k->curl == NULL || k->hdrs == NULL) {
		fprintf(stderr, "clusterctl: cannot initialise libcurl\n");
		return CTL_EXIT_FAIL;
	}
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, k->hdrs);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CTL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(k->curl, CURLOPT_USERAGENT,
			 "clusterctl/" CLUSTERD_VERSION);
	return 0;
}

static void conn_close(struct conn *k)
{
	if (k->curl != NULL)
		curl_easy_cleanup(k->curl);
	curl_slist_free_all(k->hdrs);
}

/* One request; 0 with k->status and k->body, or CTL_EXIT_FAIL with the
 * reason on stderr. */
static int conn_do(struct conn *k, const char *method, const char *path,
		   const void *body, size_t len, long timeout_ms)
{
	char url[CTL_URL_MAX + PATH_LEN];
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", k->c->target.url, path);
	k->status = 0;
	k->len = 0;
	k->body[0] = '\0';
	curl_easy_setopt(k->curl, CURLOPT_URL, url);
	/* GET resets what an earlier request of this handle set. */
	curl_easy_setopt(k->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(k->curl, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(k->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	curl_easy_setopt(k->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc = curl_easy_perform(k->curl);
	if (rc == CURLE_OK && k->status == 0)
		curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &k->status);
	if (rc != CURLE_OK) {
		snprintf(k->err, sizeof(k->err), "clusterctl: %s: %s: %s",
			 k->what, k->c->target.url,
			 k->write_failed ? strerror(k->write_failed)
					 : curl_easy_strerror(rc));
		if (!k->quiet)
			fprintf(stderr, "\n%s\n", k->err);
		return CTL_EXIT_FAIL;
	}
	return 0;
}

/* A non-2xx answer: the node's error text, and its exit status. */
static int conn_fail(const struct conn *k)
{
	struct ctl_response r = {k->status, (char *)k->body, k->len, ""};

	return ctl_http_fail(&r, k->what);
}

/* /api/v1/instances/INST/saves[/NAME[/ACTION]] */
static int save_path(const char *inst, const char *name, const char *act,
		     char *path)
{
	path[0] = '\0';
	snprintf(path, PATH_LEN, "/api/v1/instances/");
	if (ctl_pct_encode(inst, strlen(inst), 0, path, PATH_LEN))
		return CTL_EXIT_USAGE;
	strncat(path, "/saves", PATH_LEN - strlen(path) - 1);
	if (name != NULL) {
		strncat(path, "/", PATH_LEN - strlen(path) - 1);
		if (ctl_pct_encode(name, strlen(name), 0, path, PATH_LEN))
			return CTL_EXIT_USAGE;
	}
	if (act != NULL) {
		strncat(path, "/", PATH_LEN - strlen(path) - 1);
		strncat(path, act, PATH_LEN - strlen(path) - 1);
	}
	return 0;
}

/* A JSON request and its answer: --json prints it, else ok_fmt with the
 * answer's "name" and "instance". */
static int json_call(const struct ctl *c, const char *what,
		     const char *method, const char *path, cJSON *b,
		     long timeout_ms, const char *ok_fmt)
{
	struct conn k;
	char *s = b ? cJSON_PrintUnformatted(b) : NULL;
	cJSON *j;
	int rc;

	cJSON_Delete(b);
	rc = conn_open(&k, c, what);
	if (rc == 0)
		rc = conn_do(&k, method, path, s, s ? strlen(s) : 0,
			     timeout_ms);
	if (rc == 0 && (k.status < 200 || k.status > 299))
		rc = conn_fail(&k);
	if (rc == 0 && c->json) {
		fputs(k.body, stdout);
	} else if (rc == 0) {
		const cJSON *n, *i;

		j = cJSON_Parse(k.body);
		n = cJSON_GetObjectItemCaseSensitive(j, "name");
		i = cJSON_GetObjectItemCaseSensitive(j, "instance");
		printf(ok_fmt, cJSON_IsString(n) ? n->valuestring : "?",
		       cJSON_IsString(i) ? i->valuestring : "?");
		cJSON_Delete(j);
	}
	free(s);
	conn_close(&k);
	return rc;
}

/* ---- list ---- */

static void fmt_size(double b, char *buf, size_t size)
{
	if (b >= 1024.0 * 1024 * 1024)
		snprintf(buf, size, "%.1f GiB", b / (1024.0 * 1024 * 1024));
	else if (b >= 1024.0 * 1024)
		snprintf(buf, size, "%.1f MiB", b / (1024.0 * 1024));
	else if (b >= 1024.0)
		snprintf(buf, size, "%.1f KiB", b / 1024.0);
	else
		snprintf(buf, size, "%.0f B", b);
}

int ctl_cmd_save_list(const struct ctl *c, int argc, char **argv)
{
	char path[PATH_LEN], sz[32], when[32];
	const cJSON *s;
	cJSON *j;
	int rc;

	(void)argc;
	if (save_path(argv[0], NULL, NULL, path))
		return CTL_EXIT_USAGE;
	rc = ctl_get_json(c, path, "save list", &j);
	if (j == NULL)
		return rc;
	printf("%-32s %10s  %-20s %s\n", "NAME", "SIZE", "MODIFIED (UTC)",
	       "");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(j, "saves"))
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(s, "name");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(s, "size");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "mtime_ms");
		time_t t = cJSON_IsNumber(m) ? (time_t)(m->valuedouble / 1000)
					     : 0;
		struct tm tm;

		fmt_size(cJSON_IsNumber(b) ? b->valuedouble : 0, sz, sizeof(sz));
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-32s %10s  %-20s %s%s\n",
		       cJSON_IsString(n) ? n->valuestring : "?", sz, when,
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "loaded"))
			       ? "loaded "
			       : "",
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "newest"))
			       ? "newest"
			       : "");
	}
	cJSON_Delete(j);
	return CTL_EXIT_OK;
}

/* ---- create ---- */

/* A settings file's JSON object into b[key]; -1 with a message. */
static int add_settings(cJSON *b, const char *key, const char *file)
{
	char buf[64 * 1024];
	size_t n;
	cJSON *j;
	FILE *f;

	if (file == NULL)
		return 0;
	f = fopen(file, "r");
	if (f == NULL) {
		fprintf(stderr, "clusterctl: cannot read %s: %s\n", file,
			strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	j = cJSON_Parse(buf);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		fprintf(stderr, "clusterctl: %s is not a JSON object (under "
			"64 KiB)\n", file);
		return -1;
	}
	cJSON_AddItemToObject(b, key, j);
	return 0;
}

int ctl_cmd_save_create(const struct ctl *c, int argc, char **argv)
{
	char path[PATH_LEN];
	cJSON *b;

	(void)argc;
	if (save_path(argv[0], NULL, NULL, path))
		return CTL_EXIT_USAGE;
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "name", argv[1]);
	if (c->has_seed)
		cJSON_AddNumberToObject(b, "seed", (double)c->seed);
	if (add_settings(b, "map_gen_settings", c->map_gen_settings) ||
	    add_settings(b, "map_settings", c->map_settings)) {
		cJSON_Delete(b);
		return CTL_EXIT_USAGE;
	}
	return json_call(c, "save create", "POST", path, b, LONG_TIMEOUT_MS,
			 "created %s on %s\n");
}

/* ---- upload ---- */

static void upload_id(char *out, size_t size)
{
	unsigned char r[12];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	size_t o = 0;

	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(getpid() >> (i % 4));
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(r) && o + 3 <= size; i++)
		o += (size_t)snprintf(out + o, size - o, "%02x", r[i]);
}

/* The save's name from FILE: its base name, without a folder. */
static const char *base_name(const char *file)
{
	const char *s = strrchr(file, '/');

	return s ? s + 1 : file;
}

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* The next part's size: what the last one's rate moves in
 * PART_TARGET_MS, between PART_MIN and SAVE_PART, in PART_MIN steps. */
static size_t next_part(size_t n, uint64_t ms)
{
	uint64_t rate = ms > 0 ? (uint64_t)n * 1000 / ms : SAVE_PART;
	uint64_t want = rate * PART_TARGET_MS / 1000;

	if (want > SAVE_PART)
		want = SAVE_PART;
	want -= want % PART_MIN;
	return want < PART_MIN ? PART_MIN : (size_t)want;
}

/* A 409 that says where the upload stands (the node stored a part whose
 * answer was lost): 1 with k->done moved there. */
static int resume_at(struct conn *k)
{
	cJSON *j = cJSON_Parse(k->body);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "received");
	int ok = k->status == 409 && cJSON_IsNumber(r) && r->valuedouble > 0 &&
		 r->valuedouble <= (double)k->total;

	if (ok)
		k->done = (uint64_t)r->valuedouble;
	cJSON_Delete(j);
	return ok;
}

/* Sends the file part by part. The node must read a request within
 * its request timeout (5 s, node/http.c) or it drops it, so parts are
 * sized to the link: each takes about PART_TARGET_MS at the rate the
 * last one went, and one that fails on the way is sent again at half
 * the size (PART_RETRIES times in a row at most). */
static int upload_parts(struct conn *k, FILE *f, const char *path,
			const char *id, int overwrite)
{
	char q[PATH_LEN + 128];
	uint8_t *buf = malloc(SAVE_PART);
	size_t part = SAVE_PART / 4;
	uint64_t before;
	int rc = 0, tries = 0;

	if (buf == NULL)
		return CTL_EXIT_FAIL;
	while (rc == 0 && k->done < k->total) {
		uint64_t t0 = mono_ms();
		size_t n;

		if (fseeko(f, (off_t)k->done, SEEK_SET) != 0 ||
		    ((n = fread(buf, 1, part, f)) == 0 && k->done < k->total)) {
			fprintf(stderr, "\nclusterctl: cannot read the file\n");
			rc = CTL_EXIT_FAIL;
			break;
		}
		snprintf(q, sizeof(q), "%s?upload=%s&offset=%llu&total=%llu%s",
			 path, id, (unsigned long long)k->done,
			 (unsigned long long)k->total,
			 overwrite ? "&overwrite=1" : "");
		/* The last part waits for the node to sync and check the
		 * whole file. */
		k->quiet = 1;
		rc = conn_do(k, "PUT", q, buf, n,
			     k->done + n == k->total ? LONG_TIMEOUT_MS
						     : SHORT_TIMEOUT_MS);
		k->quiet = 0;
		if (rc != 0 && tries++ < PART_RETRIES) {
			part = part / 2 < PART_MIN ? PART_MIN : part / 2;
			rc = 0;
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "\n%s\n", k->err);
			break;
		}
		tries = 0;
		before = k->done;
		if (k->status == 200 || k->status == 201) {
			k->done += n;
			part = next_part(n, mono_ms() - t0);
		} else if (!resume_at(k) || k->done == before) {
			if (k->progress && k->tty)
				fputc('\n', stderr);
			rc = conn_fail(k);
			break;
		}
		progress(k, k->status == 201);
	}
	if (rc == 0 && k->status != 201) {
		fprintf(stderr, "clusterctl: save upload: the node did not "
			"confirm the whole save\n");
		rc = CTL_EXIT_FAIL;
	}
	free(buf);
	return rc;
}

int ctl_cmd_save_upload(const struct ctl *c, int argc, char **argv)
{
	const char *name = argc > 2 ? argv[2] : base_name(argv[1]);
	char path[PATH_LEN], id[32];
	struct conn k;
	struct stat st;
	FILE *f;
	int rc;

	if (save_path(argv[0], name, NULL, path))
		return CTL_EXIT_USAGE;
	f = fopen(argv[1], "rb");
	if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size == 0) {
		fprintf(stderr, "clusterctl: cannot read %s: %s\n", argv[1],
			f ? "empty file" : strerror(errno));
		if (f)
			fclose(f);
		return CTL_EXIT_USAGE;
	}
	rc = conn_open(&k, c, "upload");
	k.total = (uint64_t)st.st_size;
	curl_easy_setopt(k.curl, CURLOPT_HTTPHEADER,
			 curl_slist_append(k.hdrs, "Content-Type: "
					   "application/octet-stream"));
	upload_id(id, sizeof(id));
	if (rc == 0)
		rc = upload_parts(&k, f, path, id, c->overwrite);
	fclose(f);
	if (rc == 0) {
		if (c->json)
			fputs(k.body, stdout);
		else
			printf("uploaded %s to %s (%llu bytes)\n", name, argv[0],
			       (unsigned long long)k.total);
	}
	conn_close(&k);
	return rc;
}

/* ---- download ---- */

int ctl_cmd_save_download(const struct ctl *c, int argc, char **argv)
{
	const char *file = argc > 2 ? argv[2] : argv[1];
	char path[PATH_LEN], part[4096];
	curl_off_t len = -1;
	struct conn k;
	int rc;

	if (save_path(argv[0], argv[1], NULL, path))
		return CTL_EXIT_USAGE;
	snprintf(part, sizeof(part), "%s.part", file);
	rc = conn_open(&k, c, "download");
	if (rc != 0) {
		conn_close(&k);
		return rc;
	}
	k.f = fopen(part, "wb");
	if (k.f == NULL) {
		fprintf(stderr, "clusterctl: cannot write %s: %s\n", part,
			strerror(errno));
		conn_close(&k);
		return CTL_EXIT_USAGE;
	}
	curl_easy_setopt(k.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(k.curl, CURLOPT_LOW_SPEED_TIME, STALL_S);
	rc = conn_do(&k, "GET", path, NULL, 0, 0L);
	curl_easy_getinfo(k.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	if (fclose(k.f) != 0 && rc == 0) {
		fprintf(stderr, "clusterctl: cannot write %s\n", part);
		rc = CTL_EXIT_FAIL;
	}
	if (rc == 0 && k.status != 200)
		rc = conn_fail(&k);
	if (rc == 0 && len >= 0 && (uint64_t)len != k.done) {
		fprintf(stderr, "clusterctl: download: got %llu of %lld bytes\n",
			(unsigned long long)k.done, (long long)len);
		rc = CTL_EXIT_FAIL;
	}
	if (rc == 0 && rename(part, file) != 0) {
		fprintf(stderr, "clusterctl: cannot rename %s: %s\n", part,
			strerror(errno));
		rc = CTL_EXIT_FAIL;
	}
	if (rc != 0) {
		(void)unlink(part);
	} else {
		k.total = k.done;
		progress(&k, 1);
		if (!c->json)
			printf("downloaded %s (%llu bytes)\n", file,
			       (unsigned long long)k.done);
		else
			printf("{\"file\":\"%s\",\"size\":%llu}\n", file,
			       (unsigned long long)k.done);
	}
	conn_close(&k);
	return rc;
}

/* ---- rename, copy, transfer, delete ---- */

static int to_call(const struct ctl *c, char **argv, const char *act,
		   const char *ok_fmt)
{
	char path[PATH_LEN], what[32];
	cJSON *b = cJSON_CreateObject();

	if (save_path(argv[0], argv[1], act, path)) {
		cJSON_Delete(b);
		return CTL_EXIT_USAGE;
	}
	snprintf(what, sizeof(what), "save %s", act);
	cJSON_AddStringToObject(b, "to", argv[2]);
	return json_call(c, what, "POST", path, b, LONG_TIMEOUT_MS, ok_fmt);
}

int ctl_cmd_save_rename(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return to_call(c, argv, "rename", "renamed to %s on %s\n");
}

int ctl_cmd_save_copy(const struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return to_call(c, argv, "copy", "copied to %s on %s\n");
}

int ctl_cmd_save_transfer(const struct ctl *c, int argc, char **argv)
{
	char path[PATH_LEN];
	cJSON *b;

	if (save_path(argv[0], argv[1], "transfer", path))
		return CTL_EXIT_USAGE;
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "instance", argv[2]);
	if (argc > 3)
		cJSON_AddStringToObject(b, "to", argv[3]);
	if (c->copy)
		cJSON_AddTrueToObject(b, "copy");
	return json_call(c, "save transfer", "POST", path, b, LONG_TIMEOUT_MS,
			 c->copy ? "copied as %s to %s\n"
				 : "moved as %s to %s\n");
}

int ctl_cmd_save_delete(const struct ctl *c, int argc, char **argv)
{
	char path[PATH_LEN];

	(void)argc;
	if (save_path(argv[0], argv[1], NULL, path))
		return CTL_EXIT_USAGE;
	return json_call(c, "save delete", "DELETE", path, NULL,
			 SHORT_TIMEOUT_MS, "deleted %s on %s\n");
}
