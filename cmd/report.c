/*
 * report.c -- `hushgate report`: what a decision log says, counted (by
 * action, host, category, client, user, bytes) and the hosts no rule
 * matched, for the categories still to write.
 *
 * The logs named on the command line are read in turn ("-": standard
 * input), else the configuration's log.decisions; plain or gzip, as
 * logrotate leaves them. Nothing of a line is kept once it is counted.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "plat/plat.h"

#define RPT_SKIPS_SHOWN	5	/* skipped lines named on stderr */

static void
report_usage(FILE *f)
{
	fprintf(f, "usage: hushgate report [-c FILE] [--since TIME] "
	    "[--until TIME] [--client ADDR]\n"
	    "                       [--format table|tsv|json] [--top N] "
	    "[--unknown [--format yaml]]\n"
	    "                       [LOG...]\n");
}

/*
 * --since and --until: an RFC 3339 time, or N followed by s, m, h or d
 * for that long before now. Returns 0 with *ms, or -1.
 */
static int
report_when(const char *s, int64_t now, int64_t *ms)
{
	char		*end;
	long long	 n;
	int64_t		 unit;

	if (rpt_time_parse(s, strlen(s), ms) == 0)
		return (0);
	if (*s < '0' || *s > '9')
		return (-1);
	n = strtoll(s, &end, 10);
	if (end[0] == '\0' || end[1] != '\0' || n < 0 || n > 100000000)
		return (-1);
	switch (*end) {
	case 's':
		unit = 1000;
		break;
	case 'm':
		unit = 60 * 1000;
		break;
	case 'h':
		unit = 3600 * 1000;
		break;
	case 'd':
		unit = 86400 * 1000;
		break;
	default:
		return (-1);
	}
	*ms = now - (int64_t)n * unit;
	return (0);
}

/* The configuration's decision log, or NULL with a message printed. */
static char *
report_config_log(const char *file)
{
	struct hg_errors	 errs;
	struct hg_config	*cf;
	char			*path = NULL;

	errors_init(&errs);
	if ((cf = config_load(file, &errs)) == NULL) {
		errors_print(&errs, stderr);
		errors_free(&errs);
		return (NULL);
	}
	errors_free(&errs);
	if (cf->cf_decisions == NULL)
		fprintf(stderr, "hushgate: report: %s has no decision log "
		    "(log.decisions); name the log files\n", file);
	else if (strcmp(cf->cf_decisions, "-") == 0 ||
	    strcmp(cf->cf_decisions, "syslog") == 0)
		fprintf(stderr, "hushgate: report: the decision log of %s "
		    "goes to %s; name the log files\n", file,
		    cf->cf_decisions[0] == '-' ? "standard output" : "syslog");
	else if (cf->cf_log_format != HG_LOG_JSON)
		fprintf(stderr, "hushgate: report: %s writes the decision "
		    "log in the squid format (log.format); hushgate report "
		    "reads the JSON format only\n", file);
	else
		path = xstrdup(cf->cf_decisions);
	config_unref(cf);
	return (path);
}

/* Whether r passes --since, --until and --client. */
static int
report_wanted(const struct rpt_opts *o, const struct rpt_rec *r)
{
	if (r->rr_ms < o->ro_since || r->rr_ms >= o->ro_until)
		return (0);
	return (o->ro_client == NULL || strcmp(o->ro_client,
	    r->rr_client) == 0);
}

/*
 * Count the records of one log into st; skipped lines into *skipped,
 * the first RPT_SKIPS_SHOWN of them printed. Returns 0, or -1 when the
 * log could not be read (message printed).
 */
static int
report_one(const char *path, const struct rpt_opts *o, struct rptstat *st,
    struct rpt_rec *r, unsigned long long *skipped)
{
	struct rptin	 in;
	char		*cause = NULL;
	int		 rc;

	if (rptin_open(&in, path, &cause) != 0) {
		fprintf(stderr, "hushgate: report: %s\n", cause);
		free(cause);
		return (-1);
	}
	while ((rc = rptin_next(&in, r, &cause)) != RPTIN_EOF) {
		if (rc == -1) {
			fprintf(stderr, "hushgate: report: %s\n", cause);
			free(cause);
			rptin_close(&in);
			return (-1);
		}
		if (rc == RPTIN_SKIP) {
			if (++*skipped <= RPT_SKIPS_SHOWN)
				fprintf(stderr, "hushgate: report: %s:%llu: "
				    "skipped: %s\n", in.ri_name, in.ri_line,
				    r->rr_bad);
			continue;
		}
		if (report_wanted(o, r))
			rptstat_add(st, r);
	}
	rptin_close(&in);
	return (0);
}

static int
report_format(const char *s, enum rpt_format *f)
{
	if (strcmp(s, "table") == 0)
		*f = RPT_TABLE;
	else if (strcmp(s, "tsv") == 0)
		*f = RPT_TSV;
	else if (strcmp(s, "json") == 0)
		*f = RPT_JSON;
	else if (strcmp(s, "yaml") == 0)
		*f = RPT_YAML;
	else
		return (-1);
	return (0);
}

/* hushgate report [options] [LOG...]; argv[0] is "report". */
int
report_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "client", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'F' },
		{ "top", required_argument, NULL, 'T' },
		{ "unknown", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	static char		 obuf[1 << 16];
	struct rpt_opts		 o;
	struct rptstat		 st;
	struct rpt_rec		*r;
	struct timespec		 ts;
	const char		*file = plat_default_config(), *errstr;
	char			*conflog = NULL;
	unsigned long long	 skipped = 0;
	int64_t			 now;
	int			 ch, i, bad = 0;

	memset(&o, 0, sizeof o);
	o.ro_top = 20;
	o.ro_since = INT64_MIN;
	o.ro_until = INT64_MAX;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'h':
			report_usage(stdout);
			return (0);
		case 'S':
		case 'U':
			if (report_when(optarg, now, ch == 'S' ? &o.ro_since :
			    &o.ro_until) != 0) {
				fprintf(stderr, "hushgate: report: --%s %s: "
				    "not an RFC 3339 time (2026-11-25T18:00:"
				    "00Z) or a duration (30m, 1h, 2d)\n",
				    ch == 'S' ? "since" : "until", optarg);
				return (2);
			}
			break;
		case 'C':
			o.ro_client = optarg;
			break;
		case 'F':
			if (report_format(optarg, &o.ro_format) != 0) {
				report_usage(stderr);
				return (2);
			}
			break;
		case 'T':
			o.ro_top = (size_t)strtonum(optarg, 0, 1000000000,
			    &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "hushgate: report: --top %s: "
				    "%s\n", optarg, errstr);
				return (2);
			}
			break;
		case 'u':
			o.ro_unknown = 1;
			break;
		default:
			report_usage(stderr);
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	if (o.ro_format == RPT_YAML && !o.ro_unknown) {
		fprintf(stderr, "hushgate: report: --format yaml goes with "
		    "--unknown\n");
		return (2);
	}
	if (argc == 0 && (conflog = report_config_log(file)) == NULL)
		return (1);
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	r = xmalloc(sizeof *r);
	rptstat_init(&st);
	if (conflog != NULL)
		bad = report_one(conflog, &o, &st, r, &skipped) != 0;
	for (i = 0; i < argc; i++)
		if (report_one(argv[i], &o, &st, r, &skipped) != 0)
			bad = 1;
	if (!bad)
		rptout_print(stdout, &st, &o, skipped);
	if (skipped > 0)
		fprintf(stderr, "hushgate: report: %llu line%s skipped (not "
		    "a decision record)%s\n", skipped, skipped == 1 ? "" : "s",
		    skipped > RPT_SKIPS_SHOWN ? "; the first shown above" :
		    "");
	fflush(stdout);
	rptstat_free(&st);
	free(r);
	free(conflog);
	return (bad ? 1 : 0);
}
