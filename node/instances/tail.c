/*
 * tail.c: the server's stdout, as a file the node follows (inst_int.h
 * says why a file and not a pipe). inotify (uv_fs_event) wakes the
 * reader when the server writes; a timer reads once a second as well,
 * in case an event is missed, and for an adopted server checks that it
 * still runs. Reads are plain pread()s of the page cache on the loop
 * thread, bounded per wake-up.
 */
#include "node/instances/inst_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

/* Per wake-up at most this much is read, so one chatty server cannot
 * hold the loop (the rest is read on the next turn). */
#define TAIL_READ_MAX (1u << 20)
#define TAIL_TICK_MS 1000
/* An adopted server's liveness is checked this often. */
#define TAIL_ADOPTED_TICK_MS 250
#define TAIL_POS_EVERY_MS 1000

static void out_path(const struct inst_proc *p, char *buf, size_t size,
		     const char *suffix)
{
	(void)inst_fmt(buf, size, "%s/server.out%s", p->dir, suffix);
}

static void on_tail_closed(uv_handle_t *h)
{
	struct inst_proc *p = h->data;

	p->handles--;
	inst_proc_free_if_idle(p->m, p);
}

void inst_tail_init(struct inst_proc *p)
{
	uv_timer_init(p->m->loop, &p->tail_timer);
	uv_fs_event_init(p->m->loop, &p->tail_ev);
	p->tail_timer.data = p;
	p->tail_ev.data = p;
	p->handles += 2;
	p->tail_fd = -1;
}

static void save_pos(struct inst_proc *p, int force)
{
	char path[INST_PATH_MAX + 32], tmp[INST_PATH_MAX + 40], text[32];
	uint64_t now = uv_now(p->m->loop);
	FILE *f;

	if (!force && now - p->tail_pos_written_ms < TAIL_POS_EVERY_MS)
		return;
	p->tail_pos_written_ms = now;
	out_path(p, path, sizeof(path), ".pos");
	out_path(p, tmp, sizeof(tmp), ".pos.tmp");
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)p->tail_off);
	f = fopen(tmp, "w");
	if (f == NULL)
		return; /* only a later adoption reads it */
	fputs(text, f);
	if (fclose(f) == 0)
		(void)rename(tmp, path);
}

/* Gives the consumed part of the file back to the disk (the file keeps
 * its length, a hole in front). */
static void punch(struct inst_proc *p)
{
	uint64_t upto = p->tail_off & ~(uint64_t)4095;

	if (upto < p->tail_punched + INST_TAIL_PUNCH_BYTES)
		return;
	if (fallocate(p->tail_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)p->tail_punched,
		      (off_t)(upto - p->tail_punched)) != 0)
		TRACE_W(p->m->log, "instances",
			"%s: cannot free the read part of server.out: %s",
			p->rec.name, strerror(errno));
	p->tail_punched = upto;
	save_pos(p, 1);
}

static void on_tail_tick(uv_timer_t *t);

void inst_tail_poll(struct inst_proc *p)
{
	char buf[16384];
	size_t total = 0;
	ssize_t n;

	if (p->tail_fd < 0)
		return;
	while (total < TAIL_READ_MAX) {
		n = pread(p->tail_fd, buf, sizeof(buf), (off_t)p->tail_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p->tail_off += (uint64_t)n;
		total += (size_t)n;
		inst_out_feed(p, buf, (size_t)n);
		if (p->tail_fd < 0)
			return; /* a line stopped the follow */
	}
	if (total > 0) {
		punch(p);
		save_pos(p, 0);
	}
	if (total >= TAIL_READ_MAX) /* read on at the next loop turn */
		uv_timer_start(&p->tail_timer, on_tail_tick, 0,
			       p->adopted ? TAIL_ADOPTED_TICK_MS : TAIL_TICK_MS);
}

static void on_tail_ev(uv_fs_event_t *h, const char *name, int events,
		       int status)
{
	(void)name;
	(void)events;
	(void)status;
	inst_tail_poll(h->data);
}

static void on_tail_tick(uv_timer_t *t)
{
	struct inst_proc *p = t->data;

	inst_tail_poll(p);
	if (p->adopted && p->pid != 0 && !inst_adopted_alive(p)) {
		inst_tail_poll(p);
		inst_proc_exited(p, 0, 0, 0);
	}
}

static int follow(struct inst_proc *p, const char *path)
{
	int rv;

	p->tail_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->tail_fd < 0)
		return -errno;
	rv = uv_fs_event_start(&p->tail_ev, on_tail_ev, path, 0);
	p->tail_ev_on = rv == 0;
	if (rv != 0)
		TRACE_W(p->m->log, "instances",
			"%s: no inotify on server.out (%s); reading it every "
			"%d ms", p->rec.name, uv_strerror(rv), TAIL_TICK_MS);
	uv_timer_start(&p->tail_timer, on_tail_tick,
		       p->adopted ? TAIL_ADOPTED_TICK_MS : TAIL_TICK_MS,
		       p->adopted ? TAIL_ADOPTED_TICK_MS : TAIL_TICK_MS);
	return 0;
}

int inst_tail_create(struct inst_proc *p, int *wfd)
{
	char path[INST_PATH_MAX + 32];
	int fd, rv;

	out_path(p, path, sizeof(path), "");
	inst_tail_stop(p);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return -errno;
	p->tail_off = 0;
	p->tail_punched = 0;
	save_pos(p, 1);
	rv = follow(p, path);
	if (rv != 0) {
		close(fd);
		return rv;
	}
	*wfd = fd;
	return 0;
}

int inst_tail_attach(struct inst_proc *p)
{
	char path[INST_PATH_MAX + 32];
	unsigned long long off = 0;
	FILE *f;

	inst_tail_stop(p);
	out_path(p, path, sizeof(path), ".pos");
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%llu", &off) != 1)
			off = 0;
		fclose(f);
	}
	p->tail_off = off;
	p->tail_punched = off & ~(uint64_t)4095;
	out_path(p, path, sizeof(path), "");
	return follow(p, path);
}

void inst_tail_stop(struct inst_proc *p)
{
	if (p->tail_fd < 0)
		return;
	inst_tail_poll(p);
	if (p->line_len > 0) /* a last line without its newline */
		inst_out_feed(p, "\n", 1);
	if (p->tail_fd >= 0) {
		close(p->tail_fd);
		p->tail_fd = -1;
	}
	if (p->tail_ev_on)
		uv_fs_event_stop(&p->tail_ev);
	p->tail_ev_on = 0;
	uv_timer_stop(&p->tail_timer);
}

void inst_tail_close(struct inst_proc *p)
{
	inst_tail_stop(p);
	if (!uv_is_closing((uv_handle_t *)&p->tail_timer)) {
		uv_close((uv_handle_t *)&p->tail_timer, on_tail_closed);
		uv_close((uv_handle_t *)&p->tail_ev, on_tail_closed);
	}
}
