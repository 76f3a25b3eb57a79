/*
 * rules_bench.c -- the rule index at scale: load and compile N synthetic
 * names (a `domains-suffix` list file, realistic label counts and
 * lengths), the resident memory they add, and lookups per second on one
 * core against the compiled index (half the lookups hit, half miss).
 *
 *   rules_bench [NAMES [LOOKUPS]]      (defaults 1000000 and 10000000)
 *
 * Prints one line of key=value results. Run by hand or by `make bench`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rules/rules.h"

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (rng * 2685821657736338717ULL);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static long
rss_kib(void)
{
	FILE	*f = fopen("/proc/self/statm", "r");
	long	 pages = 0, res = 0;

	if (f == NULL)
		return (0);
	if (fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = 0;
	fclose(f);
	return (res * (sysconf(_SC_PAGESIZE) / 1024));
}

/* A name like "k3fz.qwerty.example-7.com": 2 to 4 labels, 3 to 12 chars. */
static size_t
make_name(char *buf, size_t size, unsigned long i)
{
	static const char *const tld[] = { "com", "net", "org", "io", "de",
	    "co.uk", "info", "app" };
	size_t	 len = 0;
	int	 labels = 1 + (int)(next() % 3), l, k, n;

	for (l = 0; l < labels; l++) {
		n = 3 + (int)(next() % 10);
		for (k = 0; k < n && len + 1 < size; k++)
			buf[len++] = "abcdefghijklmnopqrstuvwxyz0123456789"
			    [next() % (k == 0 ? 26 : 36)];
		if (l == labels - 1)
			len += (size_t)snprintf(buf + len, size - len, "-%lu",
			    i);
		buf[len++] = '.';
	}
	len += (size_t)snprintf(buf + len, size - len, "%s",
	    tld[next() % 8]);
	return (len);
}

int
main(int argc, char **argv)
{
	unsigned long		 nnames = argc > 1 ? strtoul(argv[1], NULL, 10) :
				     1000000;
	unsigned long		 nlook = argc > 2 ? strtoul(argv[2], NULL, 10) :
				     10000000;
	char			 path[] = "/tmp/hg-rules-bench-XXXXXX";
	char			 name[HG_MAX_HOST + 1], cfg[512];
	struct hg_target	*targets;
	struct hg_decision	 d;
	struct hg_errors	 errs;
	struct hg_config	*cf;
	const char		*why;
	unsigned long		 i, hits = 0, ntargets = 1 << 20;
	long			 rss0, rss1;
	double			 t0, t1, t2;
	FILE			*f;
	int			 fd;
	size_t			 len;

	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		perror("rules_bench: temporary file");
		return (1);
	}
	targets = calloc(ntargets, sizeof *targets);
	for (i = 0; i < nnames; i++) {
		len = make_name(name, sizeof name, i);
		fprintf(f, "%.*s\n", (int)len, name);
		/* Every other target is a subdomain of a listed name. */
		if (i % 2 == 0 && i / 2 < ntargets / 2) {
			char	sub[HG_MAX_HOST + 8];
			int	n = snprintf(sub, sizeof sub, "www.%.*s",
			    (int)len, name);

			host_normalise(sub, (size_t)n, &targets[i / 2], &why);
		}
	}
	fclose(f);
	/* The other half: names not listed. */
	for (i = ntargets / 2; i < ntargets; i++) {
		len = make_name(name, sizeof name, nnames + i);
		host_normalise(name, len, &targets[i], &why);
	}
	snprintf(cfg, sizeof cfg, "dns: {servers: [], hosts_file: null}\n"
	    "log: {decisions: null}\ncategories:\n  bench:\n    action: deny\n"
	    "    lists: [{file: %s, format: domains-suffix}]\n", path);

	rss0 = rss_kib();
	errors_init(&errs);
	t0 = now();
	cf = config_load_string("bench.yaml", cfg, strlen(cfg), &errs);
	t1 = now();
	unlink(path);
	if (cf == NULL) {
		for (i = 0; i < errs.er_count; i++)
			fprintf(stderr, "%s\n", errs.er_msgs[i]);
		return (1);
	}
	rss1 = rss_kib();

	t2 = now();
	for (i = 0; i < nlook; i++) {
		ruleset_match(cf->cf_rules, &targets[i & (ntargets - 1)], &d);
		hits += d.d_action != HG_ACT_NONE;
	}
	t2 = now() - t2;

	printf("names=%lu load_compile_s=%.3f rss_added_kib=%ld "
	    "bytes_per_name=%.1f lookups=%lu lookups_per_s=%.0f hits=%lu\n",
	    nnames, t1 - t0, rss1 - rss0,
	    (double)(rss1 - rss0) * 1024.0 / (double)nnames, nlook,
	    (double)nlook / t2, hits);
	config_unref(cf);
	free(targets);
	errors_free(&errs);
	return (0);
}
