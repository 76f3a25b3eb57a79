/*
 * status_bench -- what recording a decision for the status page costs
 * (status_record(): the ring of recent decisions, the per-second and
 * per-minute counts, the top-hosts tables), in CPU ns per decision, with
 * a mix of hosts like a worker's: allowed, denied and decided by default,
 * over N distinct hosts. Compare with the CPU time of a whole tunnel
 * (tests/bench/status-run, tests/bench/run).
 *
 *   status_bench [DECISIONS] [HOSTS]      (default 10000000 2000)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/proxy.h"

static double
cpu_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

int
main(int argc, char **argv)
{
	struct wstatus		*st;
	struct dlog_record	 r;
	char			(*hosts)[48];
	unsigned long		 n = 10000000, nhosts = 2000, i, h;
	double			 t0, t1;
	unsigned		 act;
	int			 dflt;

	if (argc > 1)
		n = strtoul(argv[1], NULL, 10);
	if (argc > 2)
		nhosts = strtoul(argv[2], NULL, 10);
	if (n == 0 || nhosts == 0) {
		fprintf(stderr, "usage: status_bench [DECISIONS] [HOSTS]\n");
		return (2);
	}
	hosts = calloc(nhosts, sizeof *hosts);
	if (hosts == NULL)
		return (1);
	for (h = 0; h < nhosts; h++)
		snprintf(hosts[h], sizeof hosts[h], "host%lu.telemetry%lu.test",
		    h, h % 97);
	st = status_new();
	memset(&r, 0, sizeof r);
	r.dr_client = "10.20.30.40";
	r.dr_method = "CONNECT";
	r.dr_port = 443;
	r.dr_status = 200;
	r.dr_end = END_CLIENT_CLOSED;
	t0 = cpu_now();
	for (i = 0; i < n; i++) {
		/* a skewed choice of host: a few are most of the traffic */
		h = (i * 2654435761UL) % nhosts;
		if (i & 1)
			h %= 16;
		r.dr_host = hosts[h];
		switch (h % 4) {
		case 0:		/* denied by a rule */
			act = HG_ACT_DENY;
			r.dr_action = "deny";
			r.dr_category = "windows-diagnostics";
			r.dr_rule_file = "rules/sets/windows.yaml";
			r.dr_rule_line = 120;
			dflt = 0;
			break;
		case 1:		/* decided by default */
			act = HG_ACT_ALLOW;
			r.dr_action = "allow";
			r.dr_category = NULL;
			r.dr_rule_file = NULL;
			dflt = 1;
			break;
		default:	/* allowed by a rule */
			act = HG_ACT_ALLOW;
			r.dr_action = "allow";
			r.dr_category = "windows-update";
			r.dr_rule_file = "rules/sets/windows.yaml";
			r.dr_rule_line = 40;
			dflt = 0;
			break;
		}
		status_record(st, &r, (unsigned)(h % 8) + 1, act, dflt);
	}
	t1 = cpu_now();
	printf("status_record: %lu decisions over %lu hosts: %.1f ns of CPU "
	    "each (%.2f s)\n", n, nhosts, (t1 - t0) * 1e9 / (double)n,
	    t1 - t0);
	status_free(st);
	free(hosts);
	return (0);
}
