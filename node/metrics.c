/*
 * metrics.c: process statistics and Prometheus text helpers.
 */
#include "node/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static uint64_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	/* opendir's own descriptor is listed too. */
	return n > 0 ? n - 1 : 0;
}

void node_process_stats_read(struct node_process_stats *s)
{
	struct rusage ru;
	struct rlimit rl;
	unsigned long long vsize = 0, rss_pages = 0;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f;

	memset(s, 0, sizeof(*s));
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		s->cpu_seconds = (double)ru.ru_utime.tv_sec +
				 (double)ru.ru_utime.tv_usec / 1e6 +
				 (double)ru.ru_stime.tv_sec +
				 (double)ru.ru_stime.tv_usec / 1e6;
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%llu %llu", &vsize, &rss_pages) == 2) {
			s->vsize_bytes = vsize * (unsigned long long)page;
			s->rss_bytes = rss_pages * (unsigned long long)page;
		}
		fclose(f);
	}
	s->open_fds = count_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		s->max_fds = rl.rlim_cur;
}

int metrics_family(struct http_reply *rep, const char *name, const char *type,
		   const char *help)
{
	return http_printf(rep, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			   name, type);
}

int metrics_samples(struct http_reply *rep, const struct metric_sample *s,
		    size_t n)
{
	int rv = 0;

	for (size_t i = 0; i < n && rv == 0; i++) {
		rv = metrics_family(rep, s[i].name, s[i].type, s[i].help);
		if (rv == 0)
			rv = http_printf(rep, "%s %.17g\n", s[i].name, s[i].value);
	}
	return rv;
}
