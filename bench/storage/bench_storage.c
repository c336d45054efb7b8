/*
 * bench_storage: durable appends per second with group commit, against
 * this disk's own limit measured in the same run (BENCH.md: "the disk
 * itself" as the peer).
 *
 * Probe: write one entry's bytes and fdatasync, in a loop, in a file next
 * to the database: the most fsyncs per second this disk gives. It runs
 * for half the time just before and half just after each store run.
 * clusterd: P proposer threads each submit one entry to the store's
 * writer thread and wait for its completion (a reaper thread polls the
 * eventfd, as the node's loop will), then submit the next. Every
 * acknowledged entry was fsynced.
 *
 * Lines (median of R repetitions, spread in brackets):
 *   bench storage_fsync_batches_Pp: clusterd=<batches/s> disk=<fsync/s>
 *         ratio=<batches/fsync> [batches/s]
 *   bench storage_append_Pp: clusterd=<entries/s> disk=<fsync/s>
 *         ratio=<entries per disk fsync> [entries/s]
 *
 * usage: bench_storage [--dir D] [--seconds S] [--reps R] [--entry B]
 *                      [--proposers P[,P...]]
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "storage/storage.h"
#include "tests/unit/storage/util.h"

#define MAX_PROPOSERS 256

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile int spin_stop;

static void *spinner(void *arg)
{
	(void)arg;
	while (!spin_stop)
		;
	return NULL;
}

static double probe_loop(const char *dir, size_t entry, double secs);

/* The probe runs with one thread spinning beside it. On this VM an idle
 * vCPU makes each fdatasync wait longer (halt and wake-up on completion),
 * and the store under load keeps its CPUs busy: measured side by side, the
 * busy probe gave up to 10x the idle one's rate. The busy probe is the
 * stronger peer, so ratios against it are conservative. */
static double probe_fdatasync(const char *dir, size_t entry, double secs)
{
	pthread_t th;
	double r;

	spin_stop = 0;
	pthread_create(&th, NULL, spinner, NULL);
	r = probe_loop(dir, entry, secs);
	spin_stop = 1;
	pthread_join(th, NULL);
	return r;
}

static double probe_loop(const char *dir, size_t entry, double secs)
{
	char path[512];
	char *buf = calloc(1, entry);
	uint64_t n = 0;
	double t0, t;
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0 || buf == NULL)
		exit(2);
	t0 = now_s();
	do {
		if (write(fd, buf, entry) != (ssize_t)entry ||
		    fdatasync(fd) != 0)
			exit(2);
		n++;
		t = now_s();
	} while (t - t0 < secs);
	close(fd);
	unlink(path);
	free(buf);
	return (double)n / (t - t0);
}

struct bench {
	struct stor *s;
	struct stor_writer *w;
	pthread_mutex_t mu; /* index assignment and submit, in order */
	uint64_t next;
	size_t entry;
	volatile int stop;
	uint64_t acked;
};

struct proposer {
	struct bench *b;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, status;
	struct stor_wreq req;
	struct stor_entry e;
	uint8_t *data;
};

static void on_done(struct stor_wreq *req, int status)
{
	struct proposer *p = req->data;

	pthread_mutex_lock(&p->mu);
	p->done = 1;
	p->status = status;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void *proposer_main(void *arg)
{
	struct proposer *p = arg;
	struct bench *b = p->b;
	int rc;

	while (!b->stop) {
		p->done = 0;
		pthread_mutex_lock(&b->mu);
		p->e = (struct stor_entry){.index = b->next, .term = 1,
					   .data = p->data, .len = b->entry};
		p->req = (struct stor_wreq){.entries = &p->e, .n = 1,
					    .cb = on_done, .data = p};
		rc = stor_writer_submit(b->w, &p->req);
		if (rc == 0)
			b->next++;
		pthread_mutex_unlock(&b->mu);
		if (rc != 0) {
			fprintf(stderr, "submit: %s\n", err_name(rc));
			exit(1);
		}
		pthread_mutex_lock(&p->mu);
		while (!p->done)
			pthread_cond_wait(&p->cv, &p->mu);
		pthread_mutex_unlock(&p->mu);
		if (p->status != 0) {
			fprintf(stderr, "append: %s\n", err_name(p->status));
			exit(1);
		}
	}
	return NULL;
}

static volatile int reaper_stop;

static void *reaper_main(void *arg)
{
	struct bench *b = arg;

	while (!reaper_stop) {
		struct pollfd pf = {.fd = stor_writer_fd(b->w),
				    .events = POLLIN};

		poll(&pf, 1, 50);
		stor_writer_reap(b->w);
	}
	return NULL;
}

/* One run: returns entries/s and batches/s. */
static void run(const char *dir, size_t entry, int np, double secs,
		double *eps, double *bps)
{
	static struct proposer ps[MAX_PROPOSERS];
	struct bench b = {.entry = entry, .next = 1};
	struct stor_options o;
	uint64_t b0, e0, b1, e1;
	pthread_t reaper;
	double t0, t1;

	stor_options_default(&o); /* the node's defaults */
	o.dir = dir;
	if (stor_open(&o, &b.s) != 0 || stor_writer_start(b.s, &b.w) != 0)
		exit(2);
	b.next = stor_log_last(b.s) + 1;
	pthread_mutex_init(&b.mu, NULL);
	reaper_stop = 0;
	pthread_create(&reaper, NULL, reaper_main, &b);
	for (int i = 0; i < np; i++) {
		ps[i] = (struct proposer){.b = &b};
		ps[i].data = malloc(entry);
		memset(ps[i].data, 'a' + i % 26, entry);
		pthread_mutex_init(&ps[i].mu, NULL);
		pthread_cond_init(&ps[i].cv, NULL);
		pthread_create(&ps[i].th, NULL, proposer_main, &ps[i]);
	}
	/* Warm up, then measure between two counter reads. */
	usleep(300000);
	stor_writer_stats(b.w, &b0, &e0);
	t0 = now_s();
	usleep((useconds_t)(secs * 1e6));
	stor_writer_stats(b.w, &b1, &e1);
	t1 = now_s();
	b.stop = 1;
	for (int i = 0; i < np; i++) {
		pthread_join(ps[i].th, NULL);
		free(ps[i].data);
	}
	reaper_stop = 1;
	pthread_join(reaper, NULL);
	stor_writer_stop(b.w);
	stor_close(b.s);
	*eps = (double)(e1 - e0) / (t1 - t0);
	*bps = (double)(b1 - b0) / (t1 - t0);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	const char *base = "/tmp", *plist = "1,64";
	double secs = 3, eps[16], bps[16], fs[16];
	size_t entry = 100;
	int reps = 3;
	char dir[256], pl[128];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			base = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			secs = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--entry"))
			entry = (size_t)atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--proposers"))
			plist = argv[i + 1];
	}
	if (reps < 1 || reps > 16)
		reps = 3;
	snprintf(pl, sizeof(pl), "%s", plist);
	for (char *tok = strtok(pl, ","); tok; tok = strtok(NULL, ",")) {
		int np = atoi(tok);
		double fmin = 1e18, fmax = 0, emin = 1e18, emax = 0;
		double bmin = 1e18, bmax = 0, f, e, bt;

		if (np < 1 || np > MAX_PROPOSERS)
			continue;
		for (int r = 0; r < reps; r++) {
			snprintf(dir, sizeof(dir), "%s/storbenchXXXXXX", base);
			if (mkdtemp(dir) == NULL)
				return 2;
			/* The probe runs right before and right after the
			 * store, in the same directory: this disk is shared
			 * and its rate drifts, so the store's run is compared
			 * with the disk around it. */
			fs[r] = probe_fdatasync(dir, entry, secs / 2);
			run(dir, entry, np, secs, &eps[r], &bps[r]);
			fs[r] = (fs[r] + probe_fdatasync(dir, entry, secs / 2)) /
				2;
			util_rm_rf(dir);
			fmin = fs[r] < fmin ? fs[r] : fmin;
			fmax = fs[r] > fmax ? fs[r] : fmax;
			emin = eps[r] < emin ? eps[r] : emin;
			emax = eps[r] > emax ? eps[r] : emax;
			bmin = bps[r] < bmin ? bps[r] : bmin;
			bmax = bps[r] > bmax ? bps[r] : bmax;
		}
		f = median(fs, reps);
		e = median(eps, reps);
		bt = median(bps, reps);
		printf("bench storage_fsync_batches_%dp: clusterd=%.0f disk=%.0f "
		       "ratio=%.2f [batches/s; %zu-byte entries; clusterd "
		       "%.0f-%.0f, disk %.0f-%.0f fdatasync/s]\n",
		       np, bt, f, bt / f, entry, bmin, bmax, fmin, fmax);
		printf("bench storage_append_%dp: clusterd=%.0f disk=%.0f "
		       "ratio=%.2f [entries/s vs disk fdatasync/s; %zu-byte "
		       "entries; %.1f entries/batch; clusterd %.0f-%.0f]\n",
		       np, e, f, e / f, entry, e / bt, emin, emax);
		fflush(stdout);
	}
	return 0;
}
