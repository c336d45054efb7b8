/*
 * logs.c: each instance's log (issue 12). Every line the server prints,
 * except the IPC lines (form feed first: messages for the node, not for
 * people), is
 *   - kept in a ring in memory (bounded in lines and bytes; the oldest go),
 *     for `log query` and a follow's first lines;
 *   - appended to DIR/log, rotated to DIR/log.1 past INST_LOG_FILE_MAX
 *     bytes (one old file is kept), so at most twice that on disk;
 *   - passed to each follower (at most INST_LOG_FOLLOWERS_MAX).
 * The ring is filled from the tail of DIR/log when the slot is created, so
 * a restarted node still answers `log query` with what came before.
 */
#include "node/instances/inst_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/err.h"

/* How much of DIR/log fills the ring at start. */
#define PRELOAD_BYTES (64u * 1024)

struct follower {
	void (*cb)(void *arg, const char *line, size_t len);
	void *arg;
	struct inst_log *log; /* NULL once the log closed */
	uint64_t id;
};

struct inst_log {
	char *lines[INST_LOG_RING_LINES];
	size_t head, n, bytes; /* head: the oldest */
	int fd;                /* DIR/log, -1 if it cannot be written */
	uint64_t file_bytes;
	struct follower *fol[INST_LOG_FOLLOWERS_MAX];
	char path[INST_PATH_MAX + 8];
};

static void ring_push(struct inst_log *l, const char *line, size_t len)
{
	char *c = malloc(len + 1);

	if (c == NULL)
		return; /* the file and the followers still get it */
	memcpy(c, line, len);
	c[len] = '\0';
	while (l->n > 0 && (l->n == INST_LOG_RING_LINES ||
			    l->bytes + len > INST_LOG_RING_BYTES)) {
		l->bytes -= strlen(l->lines[l->head]);
		free(l->lines[l->head]);
		l->lines[l->head] = NULL;
		l->head = (l->head + 1) % INST_LOG_RING_LINES;
		l->n--;
	}
	l->lines[(l->head + l->n) % INST_LOG_RING_LINES] = c;
	l->n++;
	l->bytes += len;
}

static void preload(struct inst_log *l)
{
	char *buf = malloc(PRELOAD_BYTES + 1), *s, *nl;
	off_t start;
	ssize_t got;

	if (buf == NULL || l->fd < 0) {
		free(buf);
		return;
	}
	start = l->file_bytes > PRELOAD_BYTES
			? (off_t)(l->file_bytes - PRELOAD_BYTES)
			: 0;
	got = pread(l->fd, buf, PRELOAD_BYTES, start);
	if (got > 0) {
		buf[got] = '\0';
		s = buf;
		if (start > 0 && (nl = strchr(s, '\n')) != NULL)
			s = nl + 1; /* skip the cut first line */
		while ((nl = strchr(s, '\n')) != NULL) {
			ring_push(l, s, (size_t)(nl - s));
			s = nl + 1;
		}
	}
	free(buf);
}

static int open_file(struct inst_log *l)
{
	struct stat st;

	l->fd = open(l->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (l->fd < 0)
		return -errno;
	l->file_bytes = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

void inst_log_open(struct inst_proc *p)
{
	struct inst_log *l;
	char dir[INST_PATH_MAX];

	if (p->log != NULL)
		return;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return;
	l->fd = -1;
	(void)inst_fmt(l->path, sizeof(l->path), "%s/log", p->dir);
	/* The folder may not exist before the first start. */
	(void)inst_fmt(dir, sizeof(dir), "%s", p->dir);
	(void)mkdir(p->m->instances_dir, 0755);
	(void)mkdir(dir, 0755);
	if (open_file(l) == 0)
		preload(l);
	p->log = l;
}

static void rotate(struct inst_proc *p, struct inst_log *l)
{
	char old[INST_PATH_MAX + 16];

	(void)inst_fmt(old, sizeof(old), "%s.1", l->path);
	close(l->fd);
	l->fd = -1;
	if (rename(l->path, old) != 0 || open_file(l) != 0)
		TRACE_W(p->m->log, "instances", "%s: cannot rotate %s: %s",
			p->rec.name, l->path, strerror(errno));
}

static void file_put(struct inst_proc *p, struct inst_log *l,
		     const char *line, size_t len)
{
	char buf[INST_LINE_MAX + 1];
	ssize_t w;

	if (l->fd < 0)
		return;
	if (l->file_bytes + len + 1 > INST_LOG_FILE_MAX)
		rotate(p, l);
	if (l->fd < 0)
		return;
	ASSERT(len < sizeof(buf));
	memcpy(buf, line, len);
	buf[len] = '\n';
	w = write(l->fd, buf, len + 1);
	if (w > 0)
		l->file_bytes += (uint64_t)w;
}

void inst_log_line(struct inst_proc *p, const char *line)
{
	struct inst_log *l = p->log;
	size_t len = strnlen(line, INST_LINE_MAX - 1);

	if (l == NULL || line[0] == '\f')
		return;
	ring_push(l, line, len);
	file_put(p, l, line, len);
	for (size_t i = 0; i < INST_LOG_FOLLOWERS_MAX; i++)
		if (l->fol[i] != NULL)
			l->fol[i]->cb(l->fol[i]->arg, line, len);
}

void inst_log_close(struct inst_proc *p)
{
	struct inst_log *l = p->log;

	if (l == NULL)
		return;
	p->log = NULL;
	for (size_t i = 0; i < INST_LOG_FOLLOWERS_MAX; i++) {
		struct follower *f = l->fol[i];

		if (f == NULL)
			continue;
		f->log = NULL; /* freed by its unfollow */
		f->cb(f->arg, NULL, 0);
	}
	for (size_t i = 0; i < l->n; i++)
		free(l->lines[(l->head + i) % INST_LOG_RING_LINES]);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

int inst_mgr_log_tail(struct inst_mgr *m, uint64_t id, size_t max_lines,
		      char **out, size_t *len)
{
	struct inst_proc *p = inst_find(m, id);
	struct inst_log *l = p ? p->log : NULL;
	size_t first, total = 0, off = 0;
	char *buf;

	if (l == NULL)
		return ERR_NOTFOUND;
	first = l->n > max_lines ? l->n - max_lines : 0;
	for (size_t i = first; i < l->n; i++)
		total += strlen(l->lines[(l->head + i) % INST_LOG_RING_LINES]) + 1;
	buf = malloc(total + 1);
	if (buf == NULL)
		return ERR_NOMEM;
	for (size_t i = first; i < l->n; i++) {
		const char *s = l->lines[(l->head + i) % INST_LOG_RING_LINES];
		size_t k = strlen(s);

		memcpy(buf + off, s, k);
		buf[off + k] = '\n';
		off += k + 1;
	}
	buf[off] = '\0';
	*out = buf;
	*len = off;
	return 0;
}

int inst_mgr_log_follow(struct inst_mgr *m, uint64_t id,
			void (*cb)(void *arg, const char *line, size_t len),
			void *arg, void **handle)
{
	struct inst_proc *p = inst_find(m, id);
	struct inst_log *l = p && p->present ? p->log : NULL;
	struct follower *f;

	if (l == NULL)
		return ERR_NOTFOUND;
	for (size_t i = 0; i < INST_LOG_FOLLOWERS_MAX; i++) {
		if (l->fol[i] != NULL)
			continue;
		f = calloc(1, sizeof(*f));
		if (f == NULL)
			return ERR_NOMEM;
		f->cb = cb;
		f->arg = arg;
		f->log = l;
		f->id = id;
		l->fol[i] = f;
		*handle = f;
		return 0;
	}
	return ERR_AGAIN; /* too many followers of this instance */
}

void inst_mgr_log_unfollow(struct inst_mgr *m, void *handle)
{
	struct follower *f = handle;

	(void)m;
	if (f->log != NULL)
		for (size_t i = 0; i < INST_LOG_FOLLOWERS_MAX; i++)
			if (f->log->fol[i] == f)
				f->log->fol[i] = NULL;
	free(f);
}
