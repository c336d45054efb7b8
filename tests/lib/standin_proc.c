/* standin_proc.c: see standin_proc.h. Test code: prints to stderr. */
#include "tests/lib/standin_proc.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

/* The install root is two folders above bin/x64/factorio. */
static int install_root(const char *bin, char *out, size_t cap)
{
	char real[PATH_MAX];
	char *slash;

	if (realpath(bin, real) == NULL)
		return -1;
	for (int i = 0; i < 3; i++) {
		slash = strrchr(real, '/');
		if (slash == NULL)
			return -1;
		*slash = '\0';
	}
	return snprintf(out, cap, "%s", real) < (int)cap ? 0 : -1;
}

int standin_prepare(const char *bin, const char *dir)
{
	char root[PATH_MAX], path[PATH_MAX + 64], cmd[3 * PATH_MAX];
	FILE *f;
	int rc;

	if (install_root(bin, root, sizeof(root)) != 0) {
		fprintf(stderr, "standin: cannot resolve install of %s\n", bin);
		return -1;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/saves", dir);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/config.ini", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "[path]\nread-data=%s/data\nwrite-data=%s\n", root, dir);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "'%s' --config '%s/config.ini' --create '%s/saves/test.zip' "
		 "--map-gen-seed 1 >'%s/create.log' 2>&1",
		 bin, dir, dir, dir);
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "standin: --create failed (%d), see %s/create.log\n",
			rc, dir);
		return -1;
	}
	return 0;
}

static void closed_cb(uv_handle_t *h)
{
	struct standin_proc *s = h->data;

	s->open--;
}

static void noop_tick(uv_timer_t *t)
{
	(void)t;
}

static void exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct standin_proc *s = p->data;

	s->running = 0;
	uv_close((uv_handle_t *)&s->tick, closed_cb);
	s->exit_status = status;
	s->term_signal = sig;
	uv_close((uv_handle_t *)p, closed_cb);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[65536];

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void on_line(struct standin_proc *s)
{
	s->line[s->line_len] = '\0';
	if (s->echo)
		fprintf(stderr, "[standin] %s\n", s->line);
	if (strstr(s->line, "Starting RCON interface at port") != NULL)
		s->rcon_ready = 1;
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct standin_proc *s = st->data;

	if (n < 0) {
		uv_close((uv_handle_t *)st, closed_cb);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = b->base[i];

		if (ch == '\n') {
			on_line(s);
			s->line_len = 0;
		} else if (s->line_len + 1 < sizeof(s->line)) {
			s->line[s->line_len++] = ch;
		}
	}
}

int standin_start(struct standin_proc *s, uv_loop_t *loop, const char *bin,
		  const char *dir, uint16_t rcon_port, const char *password)
{
	char config[PATH_MAX], save[PATH_MAX], port[16], gport[16];
	char *args[16];
	uv_process_options_t o;
	uv_stdio_container_t io[3];
	int n = 0, rv, echo = s->echo;

	memset(s, 0, sizeof(*s));
	s->echo = echo;
	s->loop = loop;
	snprintf(config, sizeof(config), "%s/config.ini", dir);
	snprintf(save, sizeof(save), "%s/saves/test.zip", dir);
	snprintf(port, sizeof(port), "%u", rcon_port);
	snprintf(gport, sizeof(gport), "%u", standin_free_port());
	args[n++] = (char *)bin;
	args[n++] = "--config";
	args[n++] = config;
	args[n++] = "--start-server";
	args[n++] = save;
	args[n++] = "--port";
	args[n++] = gport;
	args[n++] = "--rcon-port";
	args[n++] = port;
	args[n++] = "--rcon-password";
	args[n++] = (char *)password;
	args[n] = NULL;
	uv_pipe_init(loop, &s->out, 0);
	s->out.data = s;
	s->proc.data = s;
	s->open = 1;
	memset(&o, 0, sizeof(o));
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[1].data.stream = (uv_stream_t *)&s->out;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = 2;
	o.file = bin;
	o.args = args;
	o.exit_cb = exit_cb;
	o.stdio = io;
	o.stdio_count = 3;
	rv = uv_spawn(loop, &s->proc, &o);
	if (rv != 0) {
		fprintf(stderr, "standin: spawn %s: %s\n", bin, uv_strerror(rv));
		uv_close((uv_handle_t *)&s->out, closed_cb);
		uv_close((uv_handle_t *)&s->proc, NULL);
		return rv;
	}
	s->open += 2;
	s->running = 1;
	/* The tick keeps uv_run from blocking past the wait limits. */
	uv_timer_init(loop, &s->tick);
	s->tick.data = s;
	uv_timer_start(&s->tick, noop_tick, 20, 20);
	uv_read_start((uv_stream_t *)&s->out, alloc_cb, read_cb);
	return 0;
}

int standin_wait_rcon(struct standin_proc *s, uint64_t ms)
{
	uint64_t end = uv_now(s->loop) + ms;

	while (!s->rcon_ready && s->running && uv_now(s->loop) < end)
		uv_run(s->loop, UV_RUN_ONCE);
	return s->rcon_ready;
}

void standin_kill(struct standin_proc *s, int signum)
{
	if (s->running)
		uv_process_kill(&s->proc, signum);
}

int standin_wait_exit(struct standin_proc *s, uint64_t ms)
{
	uint64_t end = uv_now(s->loop) + ms;

	while (s->open > 0 && uv_now(s->loop) < end)
		uv_run(s->loop, UV_RUN_ONCE);
	return s->open == 0;
}

uint16_t standin_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}
