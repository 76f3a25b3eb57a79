/*
 * rptin.c -- the input of `hushgate report`: the lines of a decision log
 * (plain, or gzip-compressed as logrotate leaves it: told by its magic
 * bytes, never by its name), each parsed by yajl's streaming parser into
 * the fields the report uses.
 *
 * The bytes go through one buffer: a line is parsed where it lies and
 * forgotten; nothing of it is kept but what the caller counts. A line
 * that is not a JSON object with the fields is a skip, with a reason;
 * it never ends the input.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>
#include <isa-l/igzip_lib.h>

#include "cmd/cmd.h"

#define RPT_READ_SIZE	(1024 * 1024)	/* bytes read at a time */
#define RPT_BUF_SIZE	(RPT_READ_SIZE + RPT_MAX_LINE)

/* The fields, as bits of rr_seen and rr_null. */
enum {
	F_NONE = 0,
	F_TS = 1 << 0,
	F_CLIENT = 1 << 1,
	F_USER = 1 << 2,
	F_HOST = 1 << 3,
	F_ACTION = 1 << 4,
	F_CATEGORY = 1 << 5,
	F_RULE = 1 << 6,
	F_UP = 1 << 7,
	F_DOWN = 1 << 8,
	F_END = 1 << 9
};
#define F_REQUIRED	(F_TS | F_CLIENT | F_HOST | F_ACTION | F_CATEGORY | \
			    F_RULE | F_UP | F_DOWN)

/*
 * The ends of records written before any decision was taken (the
 * client, its request or the proxy's own limits stopped it): their null
 * category and rule do not mean the default decided.
 */
static const char *const rpt_predecision[] = {
	"port_denied", "client_denied", "proxy_untrusted",
	"proxy_protocol_error", "auth_required", "auth_failed",
	"auth_blocked", "auth_busy", "auth_ticket_expired", "auth_replay",
	"auth_wrong_service", "bad_request", "too_large", "overload",
	"overload_client", "request_timeout", "client_idle", "served",
	"tls_error", "error", NULL
};

/* The field a key names (depth 1 only). */
static int
rpt_field(const unsigned char *k, size_t len)
{
	switch (len) {
	case 2:
		return (memcmp(k, "ts", 2) == 0 ? F_TS : F_NONE);
	case 3:
		return (memcmp(k, "end", 3) == 0 ? F_END : F_NONE);
	case 4:
		if (memcmp(k, "host", 4) == 0)
			return (F_HOST);
		if (memcmp(k, "user", 4) == 0)
			return (F_USER);
		return (memcmp(k, "rule", 4) == 0 ? F_RULE : F_NONE);
	case 6:
		if (memcmp(k, "client", 6) == 0)
			return (F_CLIENT);
		return (memcmp(k, "action", 6) == 0 ? F_ACTION : F_NONE);
	case 8:
		if (memcmp(k, "category", 8) == 0)
			return (F_CATEGORY);
		return (memcmp(k, "bytes_up", 8) == 0 ? F_UP : F_NONE);
	case 10:
		return (memcmp(k, "bytes_down", 10) == 0 ? F_DOWN : F_NONE);
	}
	return (F_NONE);
}

/* Where a string field goes, and its size. */
static char *
rpt_slot(struct rpt_rec *r, int f, size_t *size)
{
	switch (f) {
	case F_TS:
		*size = sizeof r->rr_ts;
		return (r->rr_ts);
	case F_CLIENT:
		*size = sizeof r->rr_client;
		return (r->rr_client);
	case F_USER:
		*size = sizeof r->rr_user;
		return (r->rr_user);
	case F_HOST:
		*size = sizeof r->rr_host;
		return (r->rr_host);
	case F_ACTION:
		*size = sizeof r->rr_actname;
		return (r->rr_actname);
	case F_CATEGORY:
		*size = sizeof r->rr_category;
		return (r->rr_category);
	case F_RULE:
		*size = sizeof r->rr_rule;
		return (r->rr_rule);
	case F_END:
		*size = sizeof r->rr_end;
		return (r->rr_end);
	}
	return (NULL);
}

/* A value of the wrong type for its field: the line is skipped. */
static int
rpt_wrong(struct rptin *in)
{
	in->ri_rec->rr_bad = "a field has the wrong type";
	return (0);
}

static int
cb_null(void *ctx)
{
	struct rptin	*in = ctx;

	if (in->ri_depth == 0)
		return (rpt_wrong(in));
	if (in->ri_depth == 1 && in->ri_key != F_NONE) {
		if (in->ri_key == F_TS || in->ri_key == F_UP ||
		    in->ri_key == F_DOWN)
			return (rpt_wrong(in));
		in->ri_rec->rr_seen |= in->ri_key;
		in->ri_rec->rr_null |= in->ri_key;
	}
	return (1);
}

static int
cb_boolean(void *ctx, int b)
{
	struct rptin	*in = ctx;

	if (in->ri_depth == 0 || (in->ri_depth == 1 && in->ri_key != F_NONE))
		return (rpt_wrong(in));
	return (1);
}

/* A number: kept as text by yajl; bytes_up and bytes_down are counts. */
static int
cb_number(void *ctx, const char *s, size_t len)
{
	struct rptin	*in = ctx;
	uint64_t	 v = 0;
	size_t		 i;

	if (in->ri_depth == 0)
		return (rpt_wrong(in));
	if (in->ri_depth != 1 || in->ri_key == F_NONE)
		return (1);
	if (in->ri_key != F_UP && in->ri_key != F_DOWN)
		return (rpt_wrong(in));
	if (len == 0 || len > 19)
		return (rpt_wrong(in));
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (rpt_wrong(in));
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (in->ri_key == F_UP)
		in->ri_rec->rr_up = v;
	else
		in->ri_rec->rr_down = v;
	in->ri_rec->rr_seen |= in->ri_key;
	return (1);
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct rptin	*in = ctx;
	char		*dst;
	size_t		 size;

	if (in->ri_depth == 0)
		return (rpt_wrong(in));
	if (in->ri_depth != 1 || in->ri_key == F_NONE)
		return (1);
	if ((dst = rpt_slot(in->ri_rec, in->ri_key, &size)) == NULL)
		return (rpt_wrong(in));
	if (len >= size || memchr(s, '\0', len) != NULL) {
		in->ri_rec->rr_bad = "a field is too long or holds a NUL";
		return (0);
	}
	memcpy(dst, s, len);
	dst[len] = '\0';
	in->ri_rec->rr_seen |= in->ri_key;
	in->ri_rec->rr_null &= ~(unsigned)in->ri_key;
	return (1);
}

static int
cb_start(void *ctx)
{
	struct rptin	*in = ctx;

	in->ri_depth++;
	if (in->ri_depth == 2 && in->ri_key != F_NONE)
		return (rpt_wrong(in));
	return (1);
}

static int
cb_start_array(void *ctx)
{
	struct rptin	*in = ctx;

	if (in->ri_depth == 0)
		return (rpt_wrong(in));
	return (cb_start(ctx));
}

static int
cb_end(void *ctx)
{
	struct rptin	*in = ctx;

	in->ri_depth--;
	return (1);
}

static int
cb_key(void *ctx, const unsigned char *k, size_t len)
{
	struct rptin	*in = ctx;

	if (in->ri_depth == 1)
		in->ri_key = rpt_field(k, len);
	return (1);
}

static const yajl_callbacks rpt_callbacks = {
	cb_null, cb_boolean, NULL, NULL, cb_number, cb_string,
	cb_start, cb_key, cb_end, cb_start_array, cb_end
};

/* days since 1970-01-01 of a civil date (Howard Hinnant's algorithm) */
static int64_t
rpt_days(int64_t y, int m, int d)
{
	int64_t		era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

/* n digits of s as a number, or -1. */
static int
rpt_digits(const char *s, int n)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	return (v);
}

/*
 * An RFC 3339 time, YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
 * ('t', 'z' and a space for 'T' accepted), as milliseconds since the
 * epoch into *ms. Returns 0, or -1 when s (len bytes) is not one.
 */
int
rpt_time_parse(const char *s, size_t len, int64_t *ms)
{
	int	y, mo, d, h, mi, sec, frac = 0, scale = 100, off = 0;
	int	oh, om;
	size_t	i = 19;

	if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' ||
	    s[16] != ':' || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
		return (-1);
	if ((y = rpt_digits(s, 4)) < 0 || (mo = rpt_digits(s + 5, 2)) < 1 ||
	    mo > 12 || (d = rpt_digits(s + 8, 2)) < 1 || d > 31 ||
	    (h = rpt_digits(s + 11, 2)) < 0 || h > 23 ||
	    (mi = rpt_digits(s + 14, 2)) < 0 || mi > 59 ||
	    (sec = rpt_digits(s + 17, 2)) < 0 || sec > 60)
		return (-1);
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			frac += (s[i] - '0') * scale;
			scale /= 10;
		}
		if (s[i - 1] == '.')
			return (-1);
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
		off = 0;
	else if (i + 6 == len && (s[i] == '+' || s[i] == '-') &&
	    s[i + 3] == ':' && (oh = rpt_digits(s + i + 1, 2)) >= 0 &&
	    oh < 24 && (om = rpt_digits(s + i + 4, 2)) >= 0 && om < 60)
		off = (s[i] == '+' ? 1 : -1) * (oh * 60 + om);
	else
		return (-1);
	*ms = ((rpt_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	    (int64_t)off * 60) * 1000 + frac;
	return (0);
}

/* ms since the epoch as 2026-11-25T18:40:01.123Z into buf. */
void
rpt_time_format(int64_t ms, char *buf, size_t size)
{
	struct tm	tm;
	time_t		t;

	/* whole seconds, rounded down also before 1970 */
	t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms - (int64_t)t * 1000));
}

/* Read more compressed bytes, or plain ones. Returns bytes, 0 at EOF, -1
 * on error (errno). */
static ssize_t
rpt_read(int fd, void *buf, size_t n)
{
	ssize_t	r;

	do
		r = read(fd, buf, n);
	while (r == -1 && errno == EINTR);
	return (r);
}

/* What isal_inflate() found wrong. */
static const char *
rpt_gzip_error(int r)
{
	switch (r) {
	case ISAL_INCORRECT_CHECKSUM:
		return ("checksum mismatch");
	case ISAL_INVALID_WRAPPER:
		return ("not a gzip header");
	case ISAL_UNSUPPORTED_METHOD:
		return ("not deflate");
	default:
		return ("invalid deflate data");
	}
}

/*
 * Append to ri_buf at ri_len, up to room bytes: read, or inflate (gzip
 * members one after another, as cat a.gz b.gz makes; a stream cut short
 * ends where it was cut, as zcat's output would). Returns the bytes
 * added, 0 at the end, -1 with *cause on error.
 */
static ssize_t
rpt_fill(struct rptin *in, size_t room, char **cause)
{
	struct inflate_state	*z = in->ri_z;
	uint8_t			*next;
	uint32_t		 avail;
	ssize_t			 r;
	int			 zr;

	if (z == NULL) {
		if ((r = rpt_read(in->ri_fd, in->ri_buf + in->ri_len,
		    room)) == -1)
			xasprintf(cause, "%s: %s", in->ri_name,
			    strerror(errno));
		return (r);
	}
	z->next_out = (uint8_t *)in->ri_buf + in->ri_len;
	z->avail_out = (uint32_t)room;
	while (z->avail_out == room) {
		if (z->avail_in == 0 && !in->ri_rawend) {
			if ((r = rpt_read(in->ri_fd, in->ri_raw,
			    RPT_READ_SIZE)) == -1) {
				xasprintf(cause, "%s: %s", in->ri_name,
				    strerror(errno));
				return (-1);
			}
			if (r == 0)
				in->ri_rawend = 1;
			z->next_in = in->ri_raw;
			z->avail_in = (uint32_t)r;
		}
		if (z->avail_in == 0 && in->ri_rawend)
			break;
		if (z->block_state == ISAL_BLOCK_FINISH) {
			/* the next gzip member */
			next = z->next_in;
			avail = z->avail_in;
			isal_inflate_reset(z);
			z->crc_flag = ISAL_GZIP;
			z->next_in = next;
			z->avail_in = avail;
			z->next_out = (uint8_t *)in->ri_buf + in->ri_len;
			z->avail_out = (uint32_t)room;
		}
		if ((zr = isal_inflate(z)) != ISAL_DECOMP_OK) {
			xasprintf(cause, "%s: corrupt gzip data (%s)",
			    in->ri_name, rpt_gzip_error(zr));
			return (-1);
		}
	}
	return ((ssize_t)(room - z->avail_out));
}

/*
 * Open path ("-": standard input) for reading; gzip when it starts with
 * gzip's magic bytes. Returns 0, or -1 with *cause (caller frees).
 */
int
rptin_open(struct rptin *in, const char *path, char **cause)
{
	struct inflate_state	*z;
	ssize_t			 r;

	memset(in, 0, sizeof *in);
	in->ri_name = path;
	in->ri_first = 1;
	if (strcmp(path, "-") == 0) {
		in->ri_name = "(stdin)";
		in->ri_fd = STDIN_FILENO;
	} else {
		if ((in->ri_fd = open(path, O_RDONLY)) == -1) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			return (-1);
		}
		in->ri_own = 1;
	}
	in->ri_buf = xmalloc(RPT_BUF_SIZE + 1);
	/* The first two bytes, however the reads come. */
	while (in->ri_len < 2) {
		if ((r = rpt_fill(in, RPT_READ_SIZE - in->ri_len,
		    cause)) == -1)
			goto fail;
		if (r == 0)
			break;
		in->ri_len += (size_t)r;
	}
	if (in->ri_len >= 2 && (unsigned char)in->ri_buf[0] == 0x1f &&
	    (unsigned char)in->ri_buf[1] == 0x8b) {
		z = xmalloc(sizeof *z);
		isal_inflate_init(z);
		z->crc_flag = ISAL_GZIP;	/* header and trailer checked */
		in->ri_raw = xmalloc(RPT_READ_SIZE);
		memcpy(in->ri_raw, in->ri_buf, in->ri_len);
		z->next_in = in->ri_raw;
		z->avail_in = (uint32_t)in->ri_len;
		in->ri_len = 0;
		in->ri_z = z;
	} else if (in->ri_len == 0)
		in->ri_eof = 1;
	return (0);
fail:
	rptin_close(in);
	return (-1);
}

void
rptin_close(struct rptin *in)
{
	free(in->ri_z);
	if (in->ri_yajl != NULL)
		yajl_free(in->ri_yajl);
	if (in->ri_own)
		close(in->ri_fd);
	free(in->ri_raw);
	free(in->ri_buf);
	memset(in, 0, sizeof *in);
}

/*
 * The next line into *line and *len (not terminated; without its
 * newline). Returns 1, 0 at the end, -1 with *cause on error; a line
 * longer than RPT_MAX_LINE comes back with *len RPT_MAX_LINE + 1 and
 * its start only.
 */
static int
rpt_line(struct rptin *in, char **line, size_t *len, char **cause)
{
	char	*nl;
	size_t	 have;
	ssize_t	 r;
	int	 toolong = 0;

	for (;;) {
		have = in->ri_len - in->ri_off;
		nl = have > 0 ? memchr(in->ri_buf + in->ri_off, '\n', have) :
		    NULL;
		if (nl != NULL) {
			*line = in->ri_buf + in->ri_off;
			*len = toolong ? RPT_MAX_LINE + 1 :
			    (size_t)(nl - *line);
			in->ri_off = (size_t)(nl - in->ri_buf) + 1;
			in->ri_line++;
			return (1);
		}
		if (in->ri_eof) {
			if (have == 0 && !toolong)
				return (0);
			/* a last line without its newline */
			*line = in->ri_buf + in->ri_off;
			*len = toolong ? RPT_MAX_LINE + 1 : have;
			in->ri_off = in->ri_len;
			in->ri_line++;
			return (1);
		}
		if (have > RPT_MAX_LINE) {
			/* keep reading to its newline, keeping nothing */
			toolong = 1;
			have = 0;
		}
		memmove(in->ri_buf, in->ri_buf + in->ri_off, have);
		in->ri_off = 0;
		in->ri_len = have;
		if ((r = rpt_fill(in, RPT_BUF_SIZE - have, cause)) == -1)
			return (-1);
		if (r == 0)
			in->ri_eof = 1;
		in->ri_len += (size_t)r;
	}
}

/* Fill in what the fields say: the action, whether the default decided. */
static void
rpt_finish(struct rpt_rec *r)
{
	size_t	i;

	if (strcmp(r->rr_actname, "allow") == 0)
		r->rr_action = RPT_ALLOW;
	else if (strcmp(r->rr_actname, "deny") == 0)
		r->rr_action = RPT_DENY;
	else if (strcmp(r->rr_actname, "audit") == 0)
		r->rr_action = RPT_AUDIT;
	else
		r->rr_action = RPT_NOACTION;
	/* A decision with no category and no rule: the global default. */
	r->rr_default = r->rr_action != RPT_NOACTION &&
	    r->rr_host[0] != '\0' && r->rr_category[0] == '\0' &&
	    r->rr_rule[0] == '\0';
	for (i = 0; r->rr_default && rpt_predecision[i] != NULL; i++)
		if (strcmp(r->rr_end, rpt_predecision[i]) == 0)
			r->rr_default = 0;
}

/* Parse one line into r: 0, or -1 with r->rr_bad. */
static int
rpt_parse(struct rptin *in, const char *line, size_t len, struct rpt_rec *r)
{
	yajl_handle	h = in->ri_yajl;
	yajl_status	st;

	r->rr_seen = r->rr_null = 0;
	r->rr_bad = NULL;
	r->rr_up = r->rr_down = 0;
	r->rr_client[0] = r->rr_user[0] = r->rr_host[0] = '\0';
	r->rr_category[0] = r->rr_rule[0] = r->rr_end[0] = '\0';
	r->rr_actname[0] = r->rr_ts[0] = '\0';
	if (h == NULL) {
		if ((h = yajl_alloc(&rpt_callbacks, NULL, in)) == NULL)
			fatalx("report: out of memory");
		/* one object per line: the handle goes on to the next one */
		yajl_config(h, yajl_allow_multiple_values, 1);
		/* strings are counted as bytes, never decoded */
		yajl_config(h, yajl_dont_validate_strings, 1);
		in->ri_yajl = h;
	}
	in->ri_rec = r;
	in->ri_depth = 0;
	in->ri_key = F_NONE;
	st = yajl_parse(h, (const unsigned char *)line, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok) {
		/* after an error the handle is of no further use */
		yajl_free(h);
		in->ri_yajl = NULL;
		if (r->rr_bad == NULL)
			r->rr_bad = "not valid JSON";
		return (-1);
	}
	if ((r->rr_seen & F_REQUIRED) != F_REQUIRED) {
		r->rr_bad = "a field is missing";
		return (-1);
	}
	if (rpt_time_parse(r->rr_ts, strlen(r->rr_ts), &r->rr_ms) != 0) {
		r->rr_bad = "ts is not an RFC 3339 time";
		return (-1);
	}
	rpt_finish(r);
	return (0);
}

/* A line of Squid's access.log format (log.format: squid): a time with
 * milliseconds first. */
static int
rpt_squid_line(const char *line, size_t len)
{
	size_t	i = 0;

	while (i < len && line[i] >= '0' && line[i] <= '9')
		i++;
	return (i > 0 && i + 4 < len && line[i] == '.' &&
	    rpt_digits(line + i + 1, 3) >= 0 && line[i + 4] == ' ');
}

/*
 * The next record of the input into r. Returns RPTIN_REC, RPTIN_SKIP (a
 * line that is not a record: r->rr_bad says why, ri_line which),
 * RPTIN_EOF, or -1 with *cause (caller frees): the input could not be
 * read, or it is not the JSON format.
 */
int
rptin_next(struct rptin *in, struct rpt_rec *r, char **cause)
{
	char	*line;
	size_t	 len, i;
	int	 rc;

	for (;;) {
		if ((rc = rpt_line(in, &line, &len, cause)) <= 0)
			return (rc);
		if (len > RPT_MAX_LINE) {
			/* (only its length is known) */
			r->rr_bad = "line too long";
			return (RPTIN_SKIP);
		}
		if (len > 0 && line[len - 1] == '\r')
			len--;
		for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
			;
		if (i == len)
			continue;	/* blank */
		if (in->ri_first && rpt_squid_line(line, len)) {
			xasprintf(cause, "%s:%llu: a log.format squid line: "
			    "hushgate report reads the JSON decision log "
			    "(log.format json) only", in->ri_name,
			    in->ri_line);
			return (-1);
		}
		in->ri_first = 0;
		return (rpt_parse(in, line, len, r) == 0 ? RPTIN_REC :
		    RPTIN_SKIP);
	}
}
