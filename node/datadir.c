/*
 * datadir.c: data directory lock and node identity. See datadir.h.
 */
#include "node/datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "base/err.h"

/* mkdir -p: creates dir and its missing parents, 0750 each. On failure
 * names the directory that could not be made, which may be a parent. */
static int make_dirs(const char *dir, char *errmsg, size_t errsz)
{
	char path[NODE_DATADIR_PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path)) {
		snprintf(errmsg, errsz, "data dir path is empty or longer than %zu bytes",
			 sizeof(path) - 1);
		return ERR_INVAL;
	}
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0750) != 0 && errno != EEXIST) {
			int e = errno;

			snprintf(errmsg, errsz, "cannot create data dir %s%s%s: %s",
				 dir, strcmp(path, dir) ? ": cannot create " : "",
				 strcmp(path, dir) ? path : "", strerror(e));
			return e == EACCES || e == EROFS ? ERR_PERM : ERR_IO;
		}
		path[i] = dir[i];
	}
	return 0;
}

static int ensure_dir(const char *dir, char *errmsg, size_t errsz)
{
	struct stat st;
	int rv;

	rv = make_dirs(dir, errmsg, errsz);
	if (rv)
		return rv;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(errmsg, errsz, "data dir %s is not a directory", dir);
		return ERR_IO;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(errmsg, errsz, "data dir %s is not writable: %s", dir,
			 strerror(errno));
		return ERR_PERM;
	}
	return 0;
}

static int take_lock(struct node_datadir *d, const char *dir, char *errmsg,
		     size_t errsz)
{
	char path[1100], pid[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/LOCK", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(errmsg, errsz, "cannot open %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(errmsg, errsz,
			 "data dir %s is in use by another clusterd (pid %s)",
			 dir, pid[0] ? pid : "unknown");
		close(fd);
		return ERR_BUSY;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		snprintf(errmsg, errsz, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		return ERR_IO;
	}
	d->lock_fd = fd;
	return 0;
}

static int valid_id(const char *s)
{
	if (strlen(s) != NODE_ID_HEX - 1)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

static int load_or_create_id(struct node_datadir *d, const char *dir,
			     char *errmsg, size_t errsz)
{
	char path[1100], tmp[1110];
	unsigned char raw[16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/node-id", dir);
	f = fopen(path, "r");
	if (f) {
		char line[64] = "";

		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		if (!valid_id(line)) {
			snprintf(errmsg, errsz,
				 "%s is corrupt: expected 32 hex characters", path);
			return ERR_CORRUPT;
		}
		memcpy(d->node_id, line, NODE_ID_HEX);
		return 0;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(d->node_id, sizeof(d->node_id), raw, sizeof(raw));
	/* Write to a temporary file, fsync, rename: a crash never leaves a
	 * half-written id. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%s\n", d->node_id) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		snprintf(errmsg, errsz, "cannot write %s: %s", tmp, strerror(errno));
		if (f)
			fclose(f);
		return ERR_IO;
	}
	fclose(f);
	if (rename(tmp, path) != 0) {
		snprintf(errmsg, errsz, "cannot rename %s: %s", tmp, strerror(errno));
		return ERR_IO;
	}
	return 0;
}

int node_datadir_open(struct node_datadir *d, const char *dir, char *errmsg,
		      size_t errsz)
{
	int rv;

	d->lock_fd = -1;
	d->node_id[0] = '\0';
	if (sodium_init() < 0) {
		snprintf(errmsg, errsz, "libsodium failed to initialise");
		return ERR_IO;
	}
	rv = ensure_dir(dir, errmsg, errsz);
	if (rv)
		return rv;
	rv = take_lock(d, dir, errmsg, errsz);
	if (rv)
		return rv;
	rv = load_or_create_id(d, dir, errmsg, errsz);
	if (rv)
		goto err_unlock;
	return 0;

err_unlock:
	node_datadir_close(d);
	return rv;
}

void node_datadir_close(struct node_datadir *d)
{
	if (d->lock_fd >= 0) {
		close(d->lock_fd); /* closing releases the flock */
		d->lock_fd = -1;
	}
}
