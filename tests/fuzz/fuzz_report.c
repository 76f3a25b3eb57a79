/*
 * fuzz_report.c -- libFuzzer target for the input of `hushgate report`:
 * the input is a decision log (plain, or gzip when it starts with gzip's
 * magic bytes) read by rptin_next() line by line, every record counted
 * by rptstat_add(), then the report printed in every format.
 *
 * Checks, beyond memory errors, undefined behaviour and leaks:
 *  - a skipped line has a reason, a record none;
 *  - a record's time is its ts parsed, and prints back to the same time;
 *  - a record decided by the default has a host and no category or rule;
 *  - no more records and skips than lines read.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cmd/cmd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_record(const struct rpt_rec *r)
{
	char	buf[64];
	int64_t	ms;

	if (r->rr_bad != NULL)
		abort();
	if (rpt_time_parse(r->rr_ts, strlen(r->rr_ts), &ms) != 0 ||
	    ms != r->rr_ms)
		abort();
	rpt_time_format(r->rr_ms, buf, sizeof buf);
	if (rpt_time_parse(buf, strlen(buf), &ms) != 0 || ms != r->rr_ms)
		abort();
	if ((unsigned)r->rr_action >= RPT_NACTIONS)
		abort();
	if (r->rr_default && (r->rr_host[0] == '\0' ||
	    r->rr_category[0] != '\0' || r->rr_rule[0] != '\0'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rpt_rec	 r;
	struct rptin		 in;
	struct rptstat		 st;
	struct rpt_opts		 o;
	FILE			*out;
	char			 path[64], *cause = NULL;
	unsigned long long	 recs = 0, skips = 0;
	int			 fd, rc, f;

	if ((fd = memfd_create("log", 0)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (rptin_open(&in, path, &cause) != 0) {
		if (cause == NULL)
			abort();
		free(cause);
		close(fd);
		return (0);
	}
	rptstat_init(&st);
	while ((rc = rptin_next(&in, &r, &cause)) != RPTIN_EOF) {
		if (rc == -1) {
			if (cause == NULL)
				abort();
			free(cause);
			cause = NULL;
			break;
		}
		if (rc == RPTIN_SKIP) {
			if (r.rr_bad == NULL)
				abort();
			skips++;
			continue;
		}
		check_record(&r);
		recs++;
		rptstat_add(&st, &r);
	}
	if (recs + skips > in.ri_line || st.rs_records != recs)
		abort();
	rptin_close(&in);
	close(fd);
	if ((out = fopen("/dev/null", "w")) == NULL)
		abort();
	memset(&o, 0, sizeof o);
	o.ro_top = 5;
	for (f = RPT_TABLE; f <= RPT_YAML; f++) {
		o.ro_format = (enum rpt_format)f;
		o.ro_unknown = f == RPT_YAML;
		rptout_print(out, &st, &o, skips);
	}
	fclose(out);
	rptstat_free(&st);
	return (0);
}
