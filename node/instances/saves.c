/*
 * saves.c: list, upload parts, download reads, rename, copy, delete and
 * the game's --create for the instances of this node. See saves.h for
 * the work-file design; core.h for the contracts.
 */
#include "node/instances/saves.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zip.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/instances/inst_int.h"

/* A download's reader: two buffers, one lent to the caller while the
 * other is read ahead by uv_fs_read on the thread pool. Buffers are
 * filled and handed out in turn (0, 1, 0, ...), so bytes keep their
 * order. */
struct core_save_rd {
	uv_loop_t *loop;
	uv_fs_t req;
	uv_file fd;
	uint64_t size;
	uint64_t requested; /* bytes asked of the file so far */
	uint64_t left;      /* bytes not yet handed out */
	uint8_t *buf[2];
	size_t len[2];
	uint8_t ready[2];
	int inflight; /* buffer being read into, or -1 */
	int lent;     /* buffer the caller holds, or -1 */
	int fill;     /* the buffer the next read goes into */
	int next;     /* the buffer handed out next */
	int err;
	int closing;
	void (*wake)(void *arg);
	void *arg;
};

/* A running --create. */
struct save_job {
	struct inst_mgr *m;
	uint64_t id;
	uv_process_t proc;
	uv_timer_t timer;
	unsigned handles;
	int status; /* what cb gets */
	int no_cb;  /* the spawn failed: the caller had the error */
	char tmp[INST_PATH_MAX];
	char dst[INST_PATH_MAX];
	char settings[2][INST_PATH_MAX]; /* written settings files, or "" */
	char why[160];
	core_done_cb cb;
	void *arg;
};

static int os_err(void)
{
	return errno == ENOSPC ? ERR_NOSPACE : -errno;
}

static int saves_dir(const struct inst_mgr *m, const char *inst, char *out,
		     size_t size)
{
	if (!core_inst_name_ok(inst))
		return ERR_INVAL;
	return inst_fmt(out, size, "%s/%s/saves", m->instances_dir, inst);
}

static int save_path(const struct inst_mgr *m, const char *inst,
		     const char *prefix, const char *save, char *out,
		     size_t size)
{
	char dir[INST_PATH_MAX];
	int rv;

	if (!core_save_name_ok(save))
		return ERR_INVAL;
	rv = saves_dir(m, inst, dir, sizeof(dir));
	if (rv == 0)
		rv = inst_fmt(out, size, "%s/%s%s", dir, prefix, save);
	return rv;
}

/* Creates <instances_dir>/<inst>/saves (the instance may never have
 * started). */
static int saves_mkdir(const struct inst_mgr *m, const char *inst)
{
	char path[INST_PATH_MAX];
	const char *steps[] = {"%s", "%s/%s", "%s/%s/saves"};

	for (size_t i = 0; i < 3; i++) {
		if (inst_fmt(path, sizeof(path), steps[i], m->instances_dir,
			     inst) != 0)
			return ERR_TOOBIG;
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return os_err();
	}
	return 0;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- list ---- */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct core_save *)a)->name,
		      ((const struct core_save *)b)->name);
}

/* A work file nobody wrote to for SAVE_STALE_S is what a crash or a
 * client that gave up left: it goes. */
static void sweep(const char *dir, const char *name, const struct stat *st)
{
	char path[INST_PATH_MAX];

	if ((strncmp(name, ".upload-", 8) != 0 &&
	     strncmp(name, ".copy-", 6) != 0 &&
	     strncmp(name, ".create-", 8) != 0) ||
	    time(NULL) - st->st_mtime < SAVE_STALE_S)
		return;
	if (inst_fmt(path, sizeof(path), "%s/%s", dir, name) == 0)
		(void)unlink(path);
}

int inst_save_list(struct inst_mgr *m, const char *inst,
		   struct core_save *out, size_t max, size_t *n)
{
	char dir[INST_PATH_MAX], path[INST_PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int rv = saves_dir(m, inst, dir, sizeof(dir));

	*n = 0;
	if (rv != 0)
		return rv;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : os_err(); /* none yet */
	while ((e = readdir(d)) != NULL && *n < max) {
		if (inst_fmt(path, sizeof(path), "%s/%s", dir, e->d_name) != 0 ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (e->d_name[0] == '.') {
			sweep(dir, e->d_name, &st);
			continue;
		}
		if (!core_save_name_ok(e->d_name))
			continue;
		(void)inst_fmt(out[*n].name, sizeof(out[*n].name), "%s",
			       e->d_name);
		out[*n].size = (uint64_t)st.st_size;
		out[*n].mtime_ms = (uint64_t)st.st_mtim.tv_sec * 1000 +
				   (uint64_t)st.st_mtim.tv_nsec / 1000000;
		(*n)++;
	}
	closedir(d);
	qsort(out, *n, sizeof(*out), by_name);
	return 0;
}

/* ---- the zip check ---- */

/* 1 if entry is "<root>/level.dat*" or "<root>/level-init.dat". */
static int level_entry(const char *name)
{
	const char *slash = strchr(name, '/');

	if (slash == NULL || slash == name || strchr(slash + 1, '/') != NULL)
		return 0;
	return strncmp(slash + 1, "level.dat", 9) == 0 ||
	       strcmp(slash + 1, "level-init.dat") == 0;
}

int inst_save_check_zip(const char *path, char *why, size_t why_size)
{
	zip_error_t ze;
	zip_t *z;
	zip_int64_t n;
	int err = 0, found = 0;

	z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
	if (z == NULL) {
		zip_error_init_with_code(&ze, err);
		snprintf(why, why_size, "not a zip file: %s",
			 zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return ERR_MALFORMED;
	}
	n = zip_get_num_entries(z, 0);
	for (zip_int64_t i = 0; i < n && !found; i++) {
		const char *name = zip_get_name(z, (zip_uint64_t)i, 0);

		found = name != NULL && level_entry(name);
	}
	zip_discard(z);
	if (!found) {
		snprintf(why, why_size, "not a Factorio save: no "
			 "<folder>/level.dat entry among its %lld files",
			 (long long)n);
		return ERR_MALFORMED;
	}
	return 0;
}

/* ---- upload parts ---- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? os_err() : ERR_IO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* An upload part on the thread pool. */
struct save_part {
	uv_work_t w;
	struct inst_mgr *m;
	char tmp[INST_PATH_MAX];
	char dst[INST_PATH_MAX];
	char mkdir_inst[CORE_INST_NAME_MAX + 1]; /* offset 0: create dirs */
	const uint8_t *data; /* borrowed until cb */
	size_t len;
	uint64_t offset, total;
	int overwrite;
	core_save_put_cb cb;
	void *arg;
	/* out */
	int status;
	uint64_t received;
	char why[160];
};

/* Opens the work file for a part, locked: truncated at offset 0, else
 * it must hold exactly offset bytes (*have says how many it holds). */
static int part_open(const char *tmp, uint64_t offset, uint64_t *have,
		     int *fd_out)
{
	struct stat st;
	int fd;

	*have = 0;
	fd = open(tmp, offset == 0 ? O_WRONLY | O_CREAT | O_CLOEXEC
				   : O_WRONLY | O_APPEND | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return errno == ENOENT ? ERR_CONFLICT : os_err();
	if (flock(fd, LOCK_EX) != 0 ||
	    (offset == 0 && ftruncate(fd, 0) != 0) || fstat(fd, &st) != 0) {
		close(fd);
		return os_err();
	}
	*have = (uint64_t)st.st_size;
	if (*have != offset) {
		close(fd);
		return ERR_CONFLICT;
	}
	*fd_out = fd;
	return 0;
}

/* The last part is in: check, then rename into place. */
static int part_finish(const char *tmp, const char *dst, int overwrite,
		       char *why, size_t why_size)
{
	int rv = inst_save_check_zip(tmp, why, why_size);

	if (rv == 0 && !overwrite && exists(dst)) {
		snprintf(why, why_size, "a save of that name exists");
		rv = ERR_EXISTS;
	}
	if (rv == 0 && rename(tmp, dst) != 0)
		rv = os_err();
	if (rv != 0)
		(void)unlink(tmp);
	return rv;
}

static void part_work(uv_work_t *w)
{
	struct save_part *pt = w->data;
	int fd = -1, rv = 0;

	if (pt->offset == 0 && !pt->overwrite && exists(pt->dst))
		rv = ERR_EXISTS;
	if (rv == 0 && pt->mkdir_inst[0] != '\0')
		rv = saves_mkdir(pt->m, pt->mkdir_inst);
	if (rv == 0)
		rv = part_open(pt->tmp, pt->offset, &pt->received, &fd);
	if (rv != 0) {
		pt->status = rv;
		return;
	}
	rv = write_all(fd, pt->data, pt->len);
	if (rv == 0 && pt->offset + pt->len == pt->total && fdatasync(fd) != 0)
		rv = os_err();
	if (close(fd) != 0 && rv == 0) /* also drops the lock */
		rv = os_err();
	if (rv != 0) {
		(void)unlink(pt->tmp); /* a failed write leaves no usable tail */
		pt->status = rv;
		return;
	}
	pt->received = pt->offset + pt->len;
	if (pt->received == pt->total)
		pt->status = part_finish(pt->tmp, pt->dst, pt->overwrite,
					 pt->why, sizeof(pt->why));
}

static void part_after(uv_work_t *w, int status)
{
	struct save_part *pt = w->data;
	struct inst_mgr *m = pt->m;

	if (status != 0 && pt->status == 0)
		pt->status = status; /* canceled */
	ASSERT(m->save_works > 0);
	m->save_works--;
	pt->cb(pt->arg, pt->status, pt->received,
	       pt->why[0] ? pt->why : NULL);
	free(pt);
	if (m->stopping)
		inst_mgr_maybe_done(m);
}

int inst_save_put(struct inst_mgr *m, const struct core_save_part *in,
		  core_save_put_cb cb, void *arg)
{
	struct save_part *pt;
	char pre[64];
	int rv;

	if (!core_upload_id_ok(in->upload) || in->total == 0 ||
	    in->total > CORE_SAVE_SIZE_MAX || in->len > CORE_SAVE_PART_MAX ||
	    in->offset > in->total || in->len > in->total - in->offset ||
	    (in->len == 0 && in->offset != in->total))
		return ERR_INVAL;
	if (m->stopping)
		return ERR_SHUTDOWN;
	pt = calloc(1, sizeof(*pt));
	if (pt == NULL)
		return ERR_NOMEM;
	snprintf(pre, sizeof(pre), ".upload-%s-", in->upload);
	rv = save_path(m, in->inst, pre, in->save, pt->tmp, sizeof(pt->tmp));
	if (rv == 0)
		rv = save_path(m, in->inst, "", in->save, pt->dst,
			       sizeof(pt->dst));
	if (rv == 0) {
		if (in->offset == 0)
			snprintf(pt->mkdir_inst, sizeof(pt->mkdir_inst), "%s",
				 in->inst);
		pt->m = m;
		pt->data = in->data;
		pt->len = in->len;
		pt->offset = in->offset;
		pt->total = in->total;
		pt->overwrite = in->overwrite;
		pt->cb = cb;
		pt->arg = arg;
		pt->w.data = pt;
		rv = uv_queue_work(m->loop, &pt->w, part_work, part_after);
	}
	if (rv != 0) {
		free(pt);
		return rv;
	}
	m->save_works++;
	return 0;
}

/* ---- download reads ---- */

static void rd_free(struct core_save_rd *r)
{
	close(r->fd);
	free(r->buf[0]);
	free(r->buf[1]);
	free(r);
}

static void rd_kick(struct core_save_rd *r);

static void on_read(uv_fs_t *req)
{
	struct core_save_rd *r = req->data;
	ssize_t got = req->result;
	int i = r->inflight;
	uint64_t want = r->size - r->requested;

	uv_fs_req_cleanup(req);
	r->inflight = -1;
	if (r->closing) {
		rd_free(r);
		return;
	}
	if (want > SAVE_READ_BUF)
		want = SAVE_READ_BUF;
	/* A file that shrank under us is cut short: an error, so the
	 * client never takes a truncated save for a whole one. */
	if (got < 0 || (uint64_t)got != want) {
		r->err = got < 0 ? (int)got : ERR_IO;
	} else {
		r->len[i] = (size_t)got;
		r->ready[i] = 1;
		r->requested += (uint64_t)got;
		r->fill ^= 1;
		rd_kick(r);
	}
	r->wake(r->arg);
}

/* Reads ahead into the free buffer, if any. */
static void rd_kick(struct core_save_rd *r)
{
	uint64_t want = r->size - r->requested;
	uv_buf_t b;
	int rv;

	if (r->inflight >= 0 || r->err != 0 || want == 0 ||
	    r->ready[r->fill] || r->lent == r->fill)
		return;
	ASSERT(r->requested < r->size);
	b = uv_buf_init((char *)r->buf[r->fill],
			(unsigned)(want < SAVE_READ_BUF ? want : SAVE_READ_BUF));
	r->req.data = r;
	rv = uv_fs_read(r->loop, &r->req, r->fd, &b, 1, (int64_t)r->requested,
			on_read);
	if (rv != 0)
		r->err = rv;
	else
		r->inflight = r->fill;
}

int inst_save_open(struct inst_mgr *m, const char *inst, const char *save,
		   void (*wake)(void *arg), void *arg,
		   struct core_save_rd **out, uint64_t *size)
{
	char path[INST_PATH_MAX];
	struct core_save_rd *r;
	struct stat st;
	int rv = save_path(m, inst, "", save, path, sizeof(path));

	if (rv != 0)
		return rv;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ERR_NOMEM;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rv = r->fd < 0 && errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
		if (r->fd >= 0)
			close(r->fd);
		free(r);
		return rv;
	}
	r->buf[0] = malloc(SAVE_READ_BUF);
	r->buf[1] = malloc(SAVE_READ_BUF);
	if (r->buf[0] == NULL || r->buf[1] == NULL) {
		rd_free(r);
		return ERR_NOMEM;
	}
	r->loop = m->loop;
	r->size = r->left = (uint64_t)st.st_size;
	r->inflight = r->lent = -1;
	r->wake = wake;
	r->arg = arg;
	rd_kick(r);
	*size = r->size;
	*out = r;
	return 0;
}

int inst_save_read(struct core_save_rd *r, const uint8_t **p, size_t *len,
		   int *done)
{
	ASSERT(!r->closing);
	ASSERT(r->lent < 0 || r->lent != r->inflight);
	if (r->lent >= 0) {
		r->ready[r->lent] = 0;
		r->lent = -1;
	}
	*len = 0;
	*done = 0;
	if (r->err != 0)
		return r->err;
	if (r->left == 0) {
		*p = r->buf[0];
		*done = 1;
		return 0;
	}
	if (!r->ready[r->next]) {
		rd_kick(r);
		return ERR_AGAIN;
	}
	*p = r->buf[r->next];
	*len = r->len[r->next];
	r->left -= *len;
	*done = r->left == 0;
	r->lent = r->next;
	r->next ^= 1;
	rd_kick(r);
	return 0;
}

void inst_save_close(struct core_save_rd *r)
{
	if (r == NULL)
		return;
	if (r->inflight >= 0)
		r->closing = 1; /* on_read frees it */
	else
		rd_free(r);
}

/* ---- rename, delete, copy ---- */

int inst_save_rename(struct inst_mgr *m, const char *inst, const char *save,
		     const char *to)
{
	char a[INST_PATH_MAX], b[INST_PATH_MAX];
	int rv = save_path(m, inst, "", save, a, sizeof(a));

	if (rv == 0)
		rv = save_path(m, inst, "", to, b, sizeof(b));
	if (rv != 0)
		return rv;
	if (!exists(a))
		return ERR_NOTFOUND;
	if (strcmp(save, to) == 0)
		return 0;
	if (exists(b))
		return ERR_EXISTS;
	return rename(a, b) == 0 ? 0 : os_err();
}

int inst_save_delete(struct inst_mgr *m, const char *inst, const char *save)
{
	char path[INST_PATH_MAX];
	int rv = save_path(m, inst, "", save, path, sizeof(path));

	if (rv != 0)
		return rv;
	if (unlink(path) != 0)
		return errno == ENOENT ? ERR_NOTFOUND : os_err();
	return 0;
}

struct save_copy {
	uv_fs_t req;
	struct inst_mgr *m;
	char tmp[INST_PATH_MAX];
	char dst[INST_PATH_MAX];
	core_done_cb cb;
	void *arg;
};

static void on_copied(uv_fs_t *req)
{
	struct save_copy *c = req->data;
	int rv = (int)req->result;
	struct inst_mgr *m = c->m;

	uv_fs_req_cleanup(req);
	if (rv == 0 && exists(c->dst))
		rv = ERR_EXISTS; /* taken while we copied */
	if (rv == 0 && rename(c->tmp, c->dst) != 0)
		rv = os_err();
	if (rv != 0)
		(void)unlink(c->tmp);
	ASSERT(m->save_works > 0);
	m->save_works--;
	c->cb(c->arg, rv, NULL);
	free(c);
	if (m->stopping)
		inst_mgr_maybe_done(m);
}

int inst_save_copy(struct inst_mgr *m, const char *inst, const char *save,
		   const char *dst_inst, const char *to, core_done_cb cb,
		   void *arg)
{
	char src[INST_PATH_MAX];
	struct save_copy *c;
	int rv;

	if (m->stopping)
		return ERR_SHUTDOWN;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ERR_NOMEM;
	rv = save_path(m, inst, "", save, src, sizeof(src));
	if (rv == 0)
		rv = save_path(m, dst_inst, ".copy-", to, c->tmp,
			       sizeof(c->tmp));
	if (rv == 0)
		rv = save_path(m, dst_inst, "", to, c->dst, sizeof(c->dst));
	if (rv == 0 && !exists(src))
		rv = ERR_NOTFOUND;
	if (rv == 0 && exists(c->dst))
		rv = ERR_EXISTS;
	if (rv == 0)
		rv = saves_mkdir(m, dst_inst);
	if (rv == 0) {
		c->m = m;
		c->cb = cb;
		c->arg = arg;
		c->req.data = c;
		rv = uv_fs_copyfile(m->loop, &c->req, src, c->tmp, 0, on_copied);
	}
	if (rv != 0) {
		free(c);
		return rv;
	}
	m->save_works++;
	return 0;
}

/* ---- --create ---- */

static void job_free_if_idle(struct save_job *j)
{
	struct inst_mgr *m = j->m;

	if (j->handles > 0)
		return;
	for (size_t i = 0; i < SAVE_CREATES_MAX; i++)
		if (m->save_jobs[i] == j)
			m->save_jobs[i] = NULL;
	for (size_t i = 0; i < 2; i++)
		if (j->settings[i][0] != '\0')
			(void)unlink(j->settings[i]);
	if (!j->no_cb)
		j->cb(j->arg, j->status, j->why[0] ? j->why : NULL);
	free(j);
	if (m->stopping)
		inst_mgr_maybe_done(m);
}

static void on_job_closed(uv_handle_t *h)
{
	struct save_job *j = h->data;

	ASSERT(j->handles > 0);
	j->handles--;
	job_free_if_idle(j);
}

static void on_create_exit(uv_process_t *proc, int64_t status, int sig)
{
	struct save_job *j = proc->data;

	uv_timer_stop(&j->timer);
	if (j->m->stopping) {
		j->status = ERR_SHUTDOWN;
	} else if (status != 0 || sig != 0) {
		snprintf(j->why, sizeof(j->why), "the game's --create %s %lld",
			 sig ? "was killed by signal" : "exited with status",
			 (long long)(sig ? sig : status));
		j->status = ERR_IO;
	} else if (exists(j->dst)) {
		snprintf(j->why, sizeof(j->why), "a save of that name exists");
		j->status = ERR_EXISTS;
	} else if (rename(j->tmp, j->dst) != 0) {
		j->status = os_err();
	}
	if (j->status != 0)
		(void)unlink(j->tmp);
	uv_close((uv_handle_t *)&j->proc, on_job_closed);
	uv_close((uv_handle_t *)&j->timer, on_job_closed);
}

static void on_create_timeout(uv_timer_t *t)
{
	struct save_job *j = t->data;

	(void)uv_process_kill(&j->proc, SIGKILL);
}

/* Writes a settings file next to the work file; "" when text is NULL. */
static int settings_file(struct save_job *j, size_t i, const char *kind,
			 const char *text)
{
	FILE *f;
	int ok;

	j->settings[i][0] = '\0';
	if (text == NULL)
		return 0;
	if (inst_fmt(j->settings[i], sizeof(j->settings[i]), "%s.%s.json",
		     j->tmp, kind) != 0)
		return ERR_TOOBIG;
	f = fopen(j->settings[i], "w");
	if (f == NULL)
		return os_err();
	ok = fputs(text, f) >= 0;
	if (fclose(f) != 0 || !ok)
		return ERR_IO;
	return 0;
}

/* The instance's config.ini (its paths), as the manager writes it
 * (files.c), when the instance never started here yet. */
static int write_config(struct inst_mgr *m, const struct core_save_create *c)
{
	char path[INST_PATH_MAX];
	FILE *f;
	int rv = saves_mkdir(m, c->inst), ok;

	if (rv == 0)
		rv = inst_fmt(path, sizeof(path), "%s/%s/config.ini",
			      m->instances_dir, c->inst);
	if (rv != 0 || exists(path))
		return rv;
	f = fopen(path, "w");
	if (f == NULL)
		return os_err();
	ok = fprintf(f, "[path]\nread-data=%s/data\nwrite-data=%s/%s\n",
		     m->factorio_dir, m->instances_dir, c->inst) > 0;
	if (fclose(f) != 0 || !ok)
		return ERR_IO;
	return 0;
}

static int job_spawn(struct save_job *j, const struct core_save_create *c)
{
	struct inst_mgr *m = j->m;
	char exe[INST_PATH_MAX], cfg[INST_PATH_MAX + 16], seed[24];
	char *args[12];
	size_t k = 0;
	uv_process_options_t o;
	uv_stdio_container_t io[3];

	if (inst_fmt(exe, sizeof(exe), "%s/bin/x64/factorio",
		     m->factorio_dir) != 0 ||
	    inst_fmt(cfg, sizeof(cfg), "%s/%s/config.ini", m->instances_dir,
		     c->inst) != 0)
		return ERR_TOOBIG;
	args[k++] = exe;
	args[k++] = "--config";
	args[k++] = cfg;
	args[k++] = "--create";
	args[k++] = j->tmp;
	if (c->has_seed) {
		snprintf(seed, sizeof(seed), "%llu",
			 (unsigned long long)c->seed);
		args[k++] = "--map-gen-seed";
		args[k++] = seed;
	}
	if (j->settings[0][0] != '\0') {
		args[k++] = "--map-gen-settings";
		args[k++] = j->settings[0];
	}
	if (j->settings[1][0] != '\0') {
		args[k++] = "--map-settings";
		args[k++] = j->settings[1];
	}
	args[k] = NULL;
	memset(&o, 0, sizeof(o));
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_IGNORE;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = 2;
	o.file = exe;
	o.args = args;
	o.exit_cb = on_create_exit;
	o.stdio = io;
	o.stdio_count = 3;
	j->proc.data = j;
	return uv_spawn(m->loop, &j->proc, &o);
}

/* A free job slot; ERR_BUSY when id has one, ERR_AGAIN when full. */
static int job_slot(const struct inst_mgr *m, uint64_t id, size_t *slot)
{
	int free_found = 0;

	for (size_t i = 0; i < SAVE_CREATES_MAX; i++) {
		if (m->save_jobs[i] != NULL && m->save_jobs[i]->id == id)
			return ERR_BUSY;
		if (m->save_jobs[i] == NULL && !free_found) {
			*slot = i;
			free_found = 1;
		}
	}
	return free_found ? 0 : ERR_AGAIN;
}

int inst_save_create(struct inst_mgr *m, const struct core_save_create *c,
		     core_done_cb cb, void *arg)
{
	struct save_job *j;
	size_t slot = 0;
	int rv;

	if (m->stopping)
		return ERR_SHUTDOWN;
	if (m->factorio_dir[0] == '\0')
		return ERR_CONFIG;
	rv = job_slot(m, c->id, &slot);
	if (rv != 0)
		return rv;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return ERR_NOMEM;
	j->m = m;
	j->id = c->id;
	j->cb = cb;
	j->arg = arg;
	rv = save_path(m, c->inst, ".create-", c->save, j->tmp, sizeof(j->tmp));
	if (rv == 0)
		rv = save_path(m, c->inst, "", c->save, j->dst, sizeof(j->dst));
	if (rv == 0 && exists(j->dst))
		rv = ERR_EXISTS;
	if (rv == 0)
		rv = write_config(m, c);
	if (rv == 0)
		rv = settings_file(j, 0, "map-gen-settings", c->map_gen_json);
	if (rv == 0)
		rv = settings_file(j, 1, "map-settings", c->map_json);
	if (rv == 0) {
		(void)unlink(j->tmp);
		rv = job_spawn(j, c);
		if (rv != 0) {
			/* libuv wants the handle closed after a failed spawn;
			 * its close frees j without a callback (we answer
			 * with the error now). */
			j->no_cb = 1;
			j->handles = 1;
			j->proc.data = j;
			uv_close((uv_handle_t *)&j->proc, on_job_closed);
			return rv;
		}
	}
	if (rv != 0) {
		for (size_t i = 0; i < 2; i++)
			if (j->settings[i][0] != '\0')
				(void)unlink(j->settings[i]);
		free(j);
		return rv;
	}
	uv_timer_init(m->loop, &j->timer);
	j->timer.data = j;
	j->handles = 2;
	uv_timer_start(&j->timer, on_create_timeout, SAVE_CREATE_TIMEOUT_MS, 0);
	m->save_jobs[slot] = j;
	return 0;
}

int inst_save_creating(const struct inst_mgr *m, uint64_t id)
{
	for (size_t i = 0; i < SAVE_CREATES_MAX; i++)
		if (m->save_jobs[i] != NULL && m->save_jobs[i]->id == id)
			return 1;
	return 0;
}

void inst_save_stop(struct inst_mgr *m)
{
	for (size_t i = 0; i < SAVE_CREATES_MAX; i++)
		if (m->save_jobs[i] != NULL)
			(void)uv_process_kill(&m->save_jobs[i]->proc, SIGKILL);
}

int inst_save_idle(const struct inst_mgr *m)
{
	for (size_t i = 0; i < SAVE_CREATES_MAX; i++)
		if (m->save_jobs[i] != NULL)
			return 0;
	return m->save_works == 0;
}
