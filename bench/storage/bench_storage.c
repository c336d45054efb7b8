/*
 * bench_storage: durable appends per second with group commit, against
 * this disk's own limit measured in the same run (the disk itself is the
 * peer).
 *
 * Probe: write one entry's bytes and fdatasync, in a loop, in a file next
 * to the database: the most fsyncs per second this disk gives. In the
 * loop model it takes turns with the store in 0.2 s slices; in the
 * threads model it runs half the time before and half after the store.
 * clusterd: P proposers each keep one entry outstanding at the store's
 * writer thread and submit their next entry once the previous one is
 * acknowledged (fsynced). Two models: "loop" (default; one thread plays
 * the node's event loop, reaping completions from the eventfd and
 * resubmitting, as the node will) and "threads" (P proposer threads
 * that block on their own completion, with a reaper thread: more thread
 * wake-ups per entry, a harsher harness).
 *
 * Lines (median of R repetitions, spread in brackets):
 *   bench storage_fsync_batches_Pp: clusterd=<batches/s> disk=<fsync/s>
 *         ratio=<batches/fsync> [batches/s]
 *   bench storage_append_Pp: clusterd=<entries/s> disk=<fsync/s>
 *         ratio=<entries per disk fsync> [entries/s]
 * In the loop model the batches line also gives "disk busy": the share of
 * the store's time during which a sync of the writer was in flight
 * (stor_debug_writer_hooks), a direct view of how well the writer keeps
 * the disk busy, free of the probe's noise (median and spread), and the
 * mean time of one of its syncs beside the mean time of one probe write +
 * fdatasync. The ratio splits into those two: ratio = disk busy x (probe
 * time / sync time); the first is what the writer and its callers leave
 * idle, the second what a sync costs beyond the bare fdatasync.
 * A third line (loop model, P > 1) compares batches/s with a second probe
 * that writes a batch's mean payload (entries x entry bytes, less than
 * the WAL really gets) per fdatasync, taking turns with the others: this
 * disk charges for bytes (a 3.4 KB append syncs about 20% slower than a
 * 100-byte one), so this is the rate a writer of such batches could reach
 * at best, and its ratio is how much of it the writer turns into batches.
 * The ratio is the median of each repetition's own ratio (store and probe
 * of one repetition saw the same disk weather, so the pair is what
 * compares); its spread over the repetitions is in the brackets.
 *
 * usage: bench_storage [--dir D] [--seconds S] [--reps R] [--entry B]
 *                      [--proposers P[,P...]] [--model loop|threads]
 *                      [--spin 0|1]
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

/* --spin: one thread spins beside the probe and beside the store's run
 * alike. On this shared VM a thread that blocks on an idle vCPU wakes
 * milliseconds late (the host deschedules idle vCPUs): a blocking
 * fdatasync, and every handoff between the store's threads, pays it.
 * Measured: the loop model at one proposer did 290 batches/s idle and
 * 2,065 with a spinner. Spinning keeps a vCPU awake, so both sides measure
 * the disk and the store rather than the host's scheduler; it also takes
 * one of the two cores away from the store. */
static int spin_on;
static pthread_t spin_th;

static void spin_begin(void)
{
	spin_stop = 0;
	if (spin_on)
		pthread_create(&spin_th, NULL, spinner, NULL);
}

static void spin_end(void)
{
	spin_stop = 1;
	if (spin_on)
		pthread_join(spin_th, NULL);
}

static double probe_fdatasync(const char *dir, size_t entry, double secs)
{
	double r;

	spin_begin();
	r = probe_loop(dir, entry, secs);
	spin_end();
	return r;
}

/* Appends fdatasync'ed entries to an open file for `secs`. */
static uint64_t probe_slice(int fd, size_t entry, const char *buf,
			    double secs, double *dt)
{
	double t0 = now_s(), t;
	uint64_t n = 0;

	do {
		if (write(fd, buf, entry) != (ssize_t)entry ||
		    fdatasync(fd) != 0)
			exit(2);
		n++;
		t = now_s();
	} while (t - t0 < secs);
	*dt = t - t0;
	return n;
}

static double probe_loop(const char *dir, size_t entry, double secs)
{
	char path[512];
	char *buf = calloc(1, entry);
	uint64_t n;
	double dt;
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0 || buf == NULL)
		exit(2);
	n = probe_slice(fd, entry, buf, secs, &dt);
	close(fd);
	unlink(path);
	free(buf);
	return (double)n / dt;
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

/* The loop model: one thread plays the node's event loop. It keeps P
 * single-entry proposals outstanding; each completion (reaped from the
 * eventfd, as uv_poll would) immediately submits that proposer's next
 * entry. No proposer threads: what is measured is the store and the
 * loop-to-writer handoff, as the node will use them.
 *
 * Paired slices: this disk is shared and its fsync rate swings tenfold
 * within seconds, so the store and the probe take turns in short slices
 * (SLICE_S each) over the whole run, and each side's rate is its total
 * count over its total time. Both then see the same disk weather. */
#define SLICE_S 0.2

struct loop_prop {
	struct stor_wreq req;
	struct stor_entry e;
	struct bench *b;
	uint8_t *data;
	int idle;
};

static int paused;
static int outstanding;

static void loop_submit(struct loop_prop *p)
{
	struct bench *b = p->b;
	int rc;

	p->e = (struct stor_entry){.index = b->next, .term = 1,
				   .data = p->data, .len = b->entry};
	p->req.entries = &p->e;
	p->req.n = 1;
	rc = stor_writer_submit(b->w, &p->req);
	if (rc != 0) {
		fprintf(stderr, "submit: %s\n", err_name(rc));
		exit(1);
	}
	b->next++;
	p->idle = 0;
	outstanding++;
}

static void loop_done(struct stor_wreq *req, int status)
{
	struct loop_prop *p = req->data;

	if (status != 0) {
		fprintf(stderr, "append: %s\n", err_name(status));
		exit(1);
	}
	outstanding--;
	if (!paused)
		loop_submit(p);
	else
		p->idle = 1;
}

static void loop_turn(struct bench *b, int timeout_ms)
{
	struct pollfd pf = {.fd = stor_writer_fd(b->w), .events = POLLIN};

	poll(&pf, 1, timeout_ms);
	stor_writer_reap(b->w);
}

struct sliced {
	uint64_t entries, batches, fsyncs, big_fsyncs;
	double store_s, probe_s, busy_s, big_s, big_bytes;
};

/* Time a sync was in flight (syncs run one at a time). */
static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static double busy_total, busy_t0;
static int busy_known;

#ifdef STOR_WRITER_HOOKS
static void busy_begin(void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&busy_mu);
	busy_t0 = now_s();
	pthread_mutex_unlock(&busy_mu);
}

static void busy_end(void *ctx, int status)
{
	(void)ctx;
	(void)status;
	pthread_mutex_lock(&busy_mu);
	busy_total += now_s() - busy_t0;
	pthread_mutex_unlock(&busy_mu);
}
#endif

static void busy_watch(struct stor_writer *w)
{
#ifdef STOR_WRITER_HOOKS
	struct stor_writer_hooks h = {.sync_begin = busy_begin,
				      .sync_end = busy_end};

	stor_debug_writer_hooks(w, &h);
	busy_known = 1;
#else
	(void)w;
#endif
}

static double busy_now(void)
{
	double v;

	pthread_mutex_lock(&busy_mu);
	v = busy_total;
	pthread_mutex_unlock(&busy_mu);
	return v;
}

static void run_loop_model(struct bench *b, const char *dir, int np,
			   double secs, struct sliced *r)
{
	static struct loop_prop ps[MAX_PROPOSERS];
	char path[512], *zero = calloc(MAX_PROPOSERS, b->entry);
	uint64_t b0, e0, b1, e1;
	double t0, dt, u0;
	int fd;

	busy_watch(b->w);
	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0 || zero == NULL)
		exit(2);
	paused = 0;
	outstanding = 0;
	for (int i = 0; i < np; i++) {
		ps[i] = (struct loop_prop){.b = b};
		ps[i].req = (struct stor_wreq){.cb = loop_done, .data = &ps[i]};
		ps[i].data = malloc(b->entry);
		memset(ps[i].data, 'a' + i % 26, b->entry);
		loop_submit(&ps[i]);
	}
	for (t0 = now_s(); now_s() - t0 < 0.3;) /* warm up */
		loop_turn(b, 5);
	memset(r, 0, sizeof(*r));
	while (r->store_s < secs) {
		stor_writer_stats(b->w, &b0, &e0);
		u0 = busy_now();
		for (t0 = now_s(); now_s() - t0 < SLICE_S;)
			loop_turn(b, 5);
		stor_writer_stats(b->w, &b1, &e1);
		r->busy_s += busy_now() - u0;
		r->store_s += now_s() - t0;
		r->entries += e1 - e0;
		r->batches += b1 - b0;
		paused = 1; /* drain: what is in flight is not counted */
		while (outstanding > 0)
			loop_turn(b, 5);
		r->fsyncs += probe_slice(fd, b->entry, zero, SLICE_S, &dt);
		r->probe_s += dt;
		/* The second probe writes as many bytes per fdatasync as the
		 * slice's mean batch did: what the disk charges for the bytes
		 * a batch carries, apart from the writer. */
		if (b1 > b0) {
			size_t bytes = (size_t)((double)(e1 - e0) /
						(double)(b1 - b0) *
						(double)b->entry);

			if (bytes > b->entry * MAX_PROPOSERS)
				bytes = b->entry * MAX_PROPOSERS;
			r->big_fsyncs +=
				probe_slice(fd, bytes, zero, SLICE_S / 2, &dt);
			r->big_s += dt;
			r->big_bytes += (double)bytes * dt;
		}
		paused = 0;
		for (int i = 0; i < np; i++)
			if (ps[i].idle)
				loop_submit(&ps[i]);
	}
	paused = 1;
	while (outstanding > 0)
		loop_turn(b, 5);
	stor_writer_stop(b->w);
	b->w = NULL;
	for (int i = 0; i < np; i++)
		free(ps[i].data);
	close(fd);
	unlink(path);
	free(zero);
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

static int loop_model = 1;

static double last_busy; /* the loop model's disk busy share */
static double last_sync_us, last_probe_us; /* mean sync, mean probe cycle */
static double last_big_fs, last_big_bytes; /* the batch-sized probe */

/* One run: returns entries/s and batches/s. */
static void run(const char *dir, size_t entry, int np, double secs,
		double *eps, double *bps, double *fsps)
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
	if (loop_model) {
		struct sliced r;

		spin_begin();
		run_loop_model(&b, dir, np, secs, &r);
		spin_end();
		stor_close(b.s);
		*eps = (double)r.entries / r.store_s;
		*bps = (double)r.batches / r.store_s;
		*fsps = (double)r.fsyncs / r.probe_s;
		last_busy = r.busy_s / r.store_s;
		last_sync_us = r.batches ? 1e6 * r.busy_s / (double)r.batches
					 : 0;
		last_probe_us = 1e6 / *fsps;
		last_big_fs = r.big_s > 0 ? (double)r.big_fsyncs / r.big_s : 0;
		last_big_bytes = r.big_s > 0 ? r.big_bytes / r.big_s : 0;
		return;
	}
	pthread_mutex_init(&b.mu, NULL);
	spin_begin();
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
	spin_end();
	stor_writer_stop(b.w);
	stor_close(b.s);
	*eps = (double)(e1 - e0) / (t1 - t0);
	*bps = (double)(b1 - b0) / (t1 - t0);
}

static const char *model_tag(void)
{
	if (loop_model)
		return spin_on ? "_loop_spin" : "_loop";
	return spin_on ? "_threads_spin" : "_threads";
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
	double secs = 3, eps[16], bps[16], fs[16], rb[16], re[16], bu[16];
	double su[16], pu[16], rbig[16], bbytes[16], bigfs[16];
	char busy[160];
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
		else if (!strcmp(argv[i], "--spin"))
			spin_on = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--model"))
			loop_model = strcmp(argv[i + 1], "threads") != 0;
	}
	if (reps < 1 || reps > 16)
		reps = 3;
	snprintf(pl, sizeof(pl), "%s", plist);
	for (char *tok = strtok(pl, ","); tok; tok = strtok(NULL, ",")) {
		int np = atoi(tok);
		double fmin = 1e18, fmax = 0, emin = 1e18, emax = 0;
		double bmin = 1e18, bmax = 0, f, e, bt, mrb, mre;

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
			if (loop_model) {
				run(dir, entry, np, secs, &eps[r], &bps[r],
				    &fs[r]);
			} else {
				fs[r] = probe_fdatasync(dir, entry, secs / 2);
				run(dir, entry, np, secs, &eps[r], &bps[r],
				    &fs[r]);
				fs[r] = (fs[r] + probe_fdatasync(dir, entry,
								 secs / 2)) /
					2;
			}
			util_rm_rf(dir);
			rb[r] = bps[r] / fs[r];
			bu[r] = last_busy;
			su[r] = last_sync_us;
			pu[r] = last_probe_us;
			rbig[r] = last_big_fs > 0 ? bps[r] / last_big_fs : 0;
			bbytes[r] = last_big_bytes;
			bigfs[r] = last_big_fs;
			re[r] = eps[r] / fs[r];
			fmin = fs[r] < fmin ? fs[r] : fmin;
			fmax = fs[r] > fmax ? fs[r] : fmax;
			emin = eps[r] < emin ? eps[r] : emin;
			emax = eps[r] > emax ? eps[r] : emax;
			bmin = bps[r] < bmin ? bps[r] : bmin;
			bmax = bps[r] > bmax ? bps[r] : bmax;
		}
		mrb = median(rb, reps); /* sorts: min and max at the ends */
		mre = median(re, reps);
		busy[0] = 0;
		if (busy_known && loop_model) {
			double mb = median(bu, reps);

			snprintf(busy, sizeof(busy),
				 "; disk busy %.0f%% (%.0f-%.0f%%); sync %.0f us "
				 "vs probe %.0f us",
				 mb * 100, bu[0] * 100, bu[reps - 1] * 100,
				 median(su, reps), median(pu, reps));
		}
		f = median(fs, reps);
		e = median(eps, reps);
		bt = median(bps, reps);
		printf("bench storage_fsync_batches_%dp%s: clusterd=%.0f "
		       "disk=%.0f ratio=%.2f [batches/s; %zu-byte entries; "
		       "ratio %.2f-%.2f, clusterd %.0f-%.0f, disk %.0f-%.0f "
		       "fdatasync/s%s]\n",
		       np, model_tag(), bt, f, mrb, entry, rb[0],
		       rb[reps - 1], bmin, bmax, fmin, fmax, busy);
		printf("bench storage_append_%dp%s: clusterd=%.0f disk=%.0f "
		       "ratio=%.2f [entries/s vs disk fdatasync/s; %zu-byte "
		       "entries; %.1f entries/batch; ratio %.1f-%.1f, "
		       "clusterd %.0f-%.0f]\n",
		       np, model_tag(), e, f, mre, entry, e / bt, re[0],
		       re[reps - 1], emin, emax);
		if (loop_model && np > 1) {
			double mbig = median(rbig, reps);

			printf("bench storage_fsync_batches_%dp%s_batch_bytes: "
			       "clusterd=%.0f disk=%.0f ratio=%.2f [batches/s "
			       "vs fdatasync/s of a probe writing a batch's "
			       "mean bytes (%.0f) per fdatasync; ratio "
			       "%.2f-%.2f]\n",
			       np, model_tag(), bt, median(bigfs, reps), mbig,
			       median(bbytes, reps), rbig[0], rbig[reps - 1]);
		}
		fflush(stdout);
	}
	return 0;
}
