/*
 * crash_test: kills a writing process with SIGKILL at random moments and
 * checks, after every kill, that the store kept its promises (issue 4):
 * every entry acknowledged as durable is in the log, intact; the applied
 * index matches the state exactly (no entry applied twice or half); no
 * unacknowledged entry shows up half-written.
 *
 * The child appends through the writer thread (group commit, up to 32
 * requests in flight), applies what was persisted, compacts, saves hard
 * state and now and then installs a snapshot of its own state (so kills
 * also land inside installs). It reports an index through a pipe only
 * after the completion callback ran, that is after fsync returned. The
 * parent reads the pipe until EOF after the kill and then verifies the
 * database with the store itself.
 *
 * usage: crash_test [--kills N] [--seconds S] [--seed K]
 *        crash_test --child DIR FD SEED
 */
#include "tests/unit/storage/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "base/prng.h"
#include "tests/e2e/storage/crash_common.h"

#define INFLIGHT 32

static int ack_fd;
static uint64_t acked;

struct creq {
	struct stor_wreq req;
	struct stor_entry e[4];
	int busy;
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "child: %s: %s\n", what, err_name(rc));
	exit(3);
}

static void on_done(struct stor_wreq *req, int status)
{
	struct creq *c = (struct creq *)req;
	uint64_t last = c->e[req->n - 1].index;

	if (status != 0)
		die("append", status);
	/* The fsync has returned: now, and only now, acknowledge. */
	if (write(ack_fd, &last, sizeof(last)) != sizeof(last))
		exit(4);
	acked = last;
	for (size_t i = 0; i < req->n; i++)
		free(c->e[i].data);
	c->busy = 0;
}

static void self_install(struct stor *s)
{
	struct stor_snap_reader *r;
	struct stor_snap_writer *w;
	const uint8_t *chunk;
	size_t len;
	int done = 0, rc;

	if ((rc = stor_snap_reader_open(s, 4096, &r)) != 0)
		die("snapshot reader", rc);
	if ((rc = stor_snap_writer_open(s, &w)) != 0)
		die("snapshot writer", rc);
	while (!done) {
		if ((rc = stor_snap_reader_next(r, &chunk, &len, &done)) != 0 ||
		    (rc = stor_snap_writer_chunk(w, chunk, len)) != 0)
			die("snapshot chunk", rc);
	}
	stor_snap_reader_close(r);
	if ((rc = stor_snap_writer_finish(w)) != 0)
		die("snapshot finish", rc);
}

static void apply_acked(struct stor *s, struct prng *rng)
{
	uint64_t applied = stor_applied_index(s);
	struct stor_entry *v;
	size_t n;
	int rc;

	if (acked <= applied)
		return;
	rc = stor_log_read(s, applied + 1, acked + 1, 64 << 10, &v, &n);
	if (rc != 0)
		die("log read", rc);
	if ((rc = stor_apply(s, v, n, NULL, 0)) != 0)
		die("apply", rc);
	stor_entries_free(v, n);
	applied = stor_applied_index(s);
	if (prng_chance(rng, 0.05)) {
		struct stor_hard_state hs = {.term = 1, .vote = 1,
					     .commit = applied};

		if ((rc = stor_hs_save(s, &hs)) != 0)
			die("hard state", rc);
	}
	if (prng_chance(rng, 0.02) && applied > 500 &&
	    (rc = stor_log_compact(s, applied - 500)) != 0)
		die("compact", rc);
	if (prng_chance(rng, 0.01))
		self_install(s);
}

_Noreturn static void child(const char *dir, int fd, uint64_t seed)
{
	struct creq reqs[INFLIGHT] = {0};
	struct stor_writer *w;
	struct stor_options o;
	struct prng rng;
	struct stor *s;
	uint64_t next;
	int rc;

	ack_fd = fd;
	prng_seed(&rng, seed);
	util_small_options(&o, dir);
	if ((rc = stor_open(&o, &s)) != 0)
		die("open", rc);
	if ((rc = stor_writer_start(s, &w)) != 0)
		die("writer", rc);
	next = stor_log_last(s) + 1;
	acked = next - 1;
	for (;;) {
		for (int i = 0; i < INFLIGHT; i++) {
			struct creq *c = &reqs[i];
			size_t n = (size_t)prng_range(&rng, 1, 4);

			if (c->busy)
				continue;
			for (size_t j = 0; j < n; j++) {
				c->e[j] = (struct stor_entry){.index = next++,
							      .term = 1};
				if (crash_cmd(c->e[j].index, &c->e[j].data,
					      &c->e[j].len) != 0)
					die("encode", ERR_NOMEM);
			}
			c->req = (struct stor_wreq){.entries = c->e, .n = n,
						    .cb = on_done};
			c->busy = 1;
			if ((rc = stor_writer_submit(w, &c->req)) != 0)
				die("submit", rc);
		}
		{
			struct pollfd p = {.fd = stor_writer_fd(w),
					   .events = POLLIN};

			if (poll(&p, 1, 1000) < 0 && errno != EINTR)
				die("poll", -errno);
		}
		stor_writer_reap(w);
		apply_acked(s, &rng);
	}
}

/* --- The parent ------------------------------------------------------- */

static void fail(const char *fmt, uint64_t a, uint64_t b)
{
	fprintf(stderr, "crash_test: FAIL: ");
	fprintf(stderr, fmt, (unsigned long long)a, (unsigned long long)b);
	fprintf(stderr, "\n");
	exit(1);
}

static void verify_state(struct stor *s, uint64_t applied)
{
	for (uint64_t j = 0; j < CRASH_KEYS; j++) {
		uint64_t latest = 0;
		uint8_t *v;
		size_t n;
		char k[24];
		int rc;

		if (applied >= j && applied > 0)
			latest = applied - ((applied - j) % CRASH_KEYS);
		crash_key(j, k, sizeof(k));
		rc = stor_kv_get(s, CRASH_NS, k, strlen(k), &v, &n);
		if (latest == 0) {
			if (rc != ERR_NOTFOUND)
				fail("key %llu present at applied %llu", j,
				     applied);
			continue;
		}
		if (rc != 0 || strtoull((char *)v, NULL, 10) != latest)
			fail("key %llu wrong at applied %llu", j, applied);
		free(v);
	}
}

static void verify(const char *dir, uint64_t max_acked, uint64_t *last)
{
	struct stor_options o;
	struct stor_entry *v;
	struct stor *s;
	uint64_t first, applied;
	size_t n;
	int rc;

	util_small_options(&o, dir);
	if ((rc = stor_open(&o, &s)) != 0)
		fail("reopen failed: %llu", (uint64_t)-rc, 0);
	*last = stor_log_last(s);
	first = stor_log_first(s);
	applied = stor_applied_index(s);
	if (*last < max_acked)
		fail("acknowledged entry lost: acked %llu, last %llu",
		     max_acked, *last);
	if (applied > *last || first > applied + 1)
		fail("applied %llu outside the log (last %llu)", applied,
		     *last);
	for (uint64_t i = first; i <= *last; i += n) {
		rc = stor_log_read(s, i, *last + 1, 1 << 20, &v, &n);
		if (rc != 0)
			fail("log read at %llu: error %llu", i, (uint64_t)-rc);
		for (size_t j = 0; j < n; j++) {
			uint8_t *want;
			size_t wl;

			crash_cmd(v[j].index, &want, &wl);
			if (v[j].len != wl || memcmp(v[j].data, want, wl) != 0)
				fail("entry %llu differs (len %llu)",
				     v[j].index, v[j].len);
			free(want);
		}
		stor_entries_free(v, n);
	}
	verify_state(s, applied);
	stor_close(s);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs one child, kills it after delay_ms, returns the highest ack. */
static uint64_t run_child(const char *self, const char *dir, uint64_t seed,
			  uint64_t delay_ms, int *killed)
{
	int p[2], st;
	uint64_t max = 0, v;
	struct timespec ts = {.tv_sec = (time_t)(delay_ms / 1000),
			      .tv_nsec = (long)(delay_ms % 1000) * 1000000};
	char fdbuf[16], seedbuf[32];
	pid_t pid;

	if (pipe(p) != 0)
		exit(2);
	snprintf(fdbuf, sizeof(fdbuf), "%d", p[1]);
	snprintf(seedbuf, sizeof(seedbuf), "%llu", (unsigned long long)seed);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		execl(self, self, "--child", dir, fdbuf, seedbuf, (char *)NULL);
		_exit(5);
	}
	close(p[1]);
	nanosleep(&ts, NULL);
	*killed = kill(pid, SIGKILL) == 0;
	/* Everything the child wrote before it died is in the pipe. */
	while (read(p[0], &v, sizeof(v)) == sizeof(v))
		if (v > max)
			max = v;
	close(p[0]);
	waitpid(pid, &st, 0);
	if (!WIFSIGNALED(st))
		fail("child exited by itself (status %llu)", (uint64_t)st, 0);
	return max;
}

int main(int argc, char **argv)
{
	uint64_t kills_want = 200, seconds = 150, seed = 0, max_acked = 0;
	uint64_t last = 0, kills = 0, start = now_ms(), rounds = 0;
	char dir[64];
	struct prng rng;

	if (argc == 5 && strcmp(argv[1], "--child") == 0)
		child(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10));
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--kills") == 0)
			kills_want = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[i + 1], NULL, 10);
	}
	if (seed == 0)
		seed = (uint64_t)time(NULL);
	printf("crash_test: seed %llu\n", (unsigned long long)seed);
	prng_seed(&rng, seed);
	if (util_tmpdir(dir, "storcrash") == NULL)
		return 2;
	while (kills < kills_want && now_ms() - start < seconds * 1000) {
		int killed = 0;
		/* Mostly mid-load, sometimes right at start-up/recovery. */
		uint64_t delay = prng_chance(&rng, 0.15)
					 ? prng_range(&rng, 0, 30)
					 : prng_range(&rng, 30, 250);
		uint64_t got = run_child(argv[0], dir, prng_next(&rng), delay,
					 &killed);

		if (got > max_acked)
			max_acked = got;
		kills += (uint64_t)killed;
		rounds++;
		verify(dir, max_acked, &last);
	}
	util_rm_rf(dir);
	printf("crash_test: %llu kills in %llu ms, %llu entries acknowledged, "
	       "log at %llu, all checks passed\n",
	       (unsigned long long)kills,
	       (unsigned long long)(now_ms() - start),
	       (unsigned long long)max_acked, (unsigned long long)last);
	if (kills < kills_want) {
		printf("crash_test: FAIL: only %llu of %llu kills in time\n",
		       (unsigned long long)kills,
		       (unsigned long long)kills_want);
		return 1;
	}
	return max_acked > 0 ? 0 : 1;
}
