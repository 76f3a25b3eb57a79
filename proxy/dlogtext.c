/*
 * dlogtext.c -- the decision log as text a person reads (log.format:
 * text): one line a request, in columns of fixed width so that the lines
 * of a console line up:
 *
 *   TIME     CLIENT          ACTION TARGET  CATEGORY  RULE  UP/DOWN  TIME
 *
 * A field longer than its column is cut and ends in "..."; the last
 * two columns are aligned right. Host names, paths and methods come from
 * clients: a byte that is not printable ASCII is written \xHH and a
 * backslash \\, so that no record can move the cursor, change colours or
 * start a line of its own on a terminal. The action may be coloured with
 * ANSI sequences (deny red, audit yellow, allow green) when the line goes
 * to a terminal.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proxy.h"

/* The widths of the columns. */
#define W_CLIENT	15
#define W_ACTION	5
#define W_TARGET	40
#define W_CATEGORY	16
#define W_RULE		22
#define W_BYTES		11
#define W_TIME		6

struct tbuf {
	char	*tb_buf;
	size_t	 tb_size;
	size_t	 tb_len;
};

static void
tb_add(struct tbuf *tb, const char *s, size_t n)
{
	if (tb->tb_len + n >= tb->tb_size)
		n = tb->tb_size - 1 - tb->tb_len;
	memcpy(tb->tb_buf + tb->tb_len, s, n);
	tb->tb_len += n;
	tb->tb_buf[tb->tb_len] = '\0';
}

static void
tb_pad(struct tbuf *tb, size_t n)
{
	while (n-- > 0)
		tb_add(tb, " ", 1);
}

/*
 * Append s escaped to out (of size size, at *len): printable ASCII as it
 * is, a backslash as \\, any other byte as \xHH. Stops, without cutting
 * an escape, when out is full.
 */
static void
text_escape(char *out, size_t size, size_t *len, const char *s)
{
	const unsigned char	*p;
	char			 esc[5];
	size_t			 n;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\')
			n = (size_t)snprintf(esc, sizeof esc, "\\\\");
		else if (*p < 0x20 || *p >= 0x7f)
			n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", *p);
		else {
			esc[0] = (char)*p;
			n = 1;
		}
		if (*len + n >= size)
			return;
		memcpy(out + *len, esc, n);
		*len += n;
		out[*len] = '\0';
	}
}

/*
 * A column of width w holding s: padded with spaces on the right (on the
 * left when right is set), or cut to w - 3 characters and "...".
 */
static void
column(struct tbuf *tb, const char *s, size_t w, int right)
{
	size_t	n = strlen(s);

	if (n > w) {
		tb_add(tb, s, w - 3);
		tb_add(tb, "...", 3);
		return;
	}
	if (right)
		tb_pad(tb, w - n);
	tb_add(tb, s, n);
	if (!right)
		tb_pad(tb, w - n);
}

/* An escaped field from a client in a column of width w. */
static void
column_esc(struct tbuf *tb, const char *s, size_t w)
{
	char	esc[HG_MAX_LOG_PATH + HG_MAX_HOST + 64];
	size_t	len = 0;

	esc[0] = '\0';
	text_escape(esc, sizeof esc, &len, s != NULL ? s : "-");
	column(tb, esc, w, 0);
}

/* A count of bytes in at most 5 characters: 512B, 1.5K, 23K, 4.0M. */
static void
human(char *buf, size_t size, uint64_t n)
{
	static const char	 units[] = "KMGTPE";
	double			 v = (double)n;
	size_t			 u = 0;

	if (n < 1000) {
		snprintf(buf, size, "%lluB", (unsigned long long)n);
		return;
	}
	v /= 1024;
	while (v >= 999.5 && u + 1 < sizeof units - 1) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, v < 9.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

/* A duration in at most 6 characters: 42ms, 3.5s, 2m05s, 1h07m. */
static void
duration(char *buf, size_t size, long long ms)
{
	long long	s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, size, "%lldms", ms);
	else if (ms < 59950)
		snprintf(buf, size, "%.1fs", (double)ms / 1000);
	else if (s < 3600)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else if (s < 100 * 3600)
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(buf, size, "%lldh", s / 3600);
}

/* "host:port" ("[v6]:port"), or for plain HTTP "METHOD host:port/path",
 * escaped. */
static void
target(char *out, size_t size, const struct dlog_record *r)
{
	char	port[16];
	size_t	len = 0;
	int	v6, connect;

	out[0] = '\0';
	if (r->dr_host == NULL) {
		text_escape(out, size, &len, r->dr_method != NULL ?
		    r->dr_method : "-");
		return;
	}
	connect = r->dr_method != NULL && strcmp(r->dr_method, "CONNECT") == 0;
	if (r->dr_method != NULL && !connect) {
		text_escape(out, size, &len, r->dr_method);
		text_escape(out, size, &len, " ");
	}
	v6 = r->dr_port > 0 && strchr(r->dr_host, ':') != NULL;
	if (v6)
		text_escape(out, size, &len, "[");
	text_escape(out, size, &len, r->dr_host);
	if (v6)
		text_escape(out, size, &len, "]");
	if (r->dr_port > 0) {
		snprintf(port, sizeof port, ":%d", r->dr_port);
		text_escape(out, size, &len, port);
	}
	if (!connect && r->dr_path != NULL)
		text_escape(out, size, &len, r->dr_path);
}

/* What decided without a rule: the default, or a check before the rules
 * ("-": nothing decided). */
static const char *
refusal(const struct dlog_record *r)
{
	if (r->dr_action == NULL)
		return ("-");
	switch (r->dr_end) {
	case END_PORT_DENIED:
		return ("ports");
	case END_CLIENT_DENIED:
	case END_OVERLOAD_CLIENT:
		return ("clients");
	case END_AUTH_REQUIRED:
	case END_AUTH_FAILED:
	case END_AUTH_BLOCKED:
	case END_AUTH_EXPIRED:
	case END_AUTH_REPLAY:
	case END_AUTH_WRONG_SERVICE:
		return ("auth");
	case END_DESTINATION_GUARD:
		return ("guard");
	case END_BAD_REQUEST:
	case END_TOO_LARGE:
	case END_PROXY_PROTOCOL_ERROR:
	case END_PROXY_UNTRUSTED:
	case END_OVERLOAD:
	case END_AUTH_BUSY:
	case END_REQUEST_TIMEOUT:
		return ("-");
	default:
		return ("default");
	}
}

/* What decided: the rule's file (its last component) and line. */
static void
rule(char *out, size_t size, const struct dlog_record *r)
{
	const char	*f = r->dr_rule_file, *slash;
	char		 line[16];
	size_t		 len = 0;

	out[0] = '\0';
	if (f == NULL) {
		text_escape(out, size, &len, refusal(r));
		return;
	}
	if ((slash = strrchr(f, '/')) != NULL && slash[1] != '\0')
		f = slash + 1;
	text_escape(out, size, &len, f);
	snprintf(line, sizeof line, ":%u", r->dr_rule_line);
	text_escape(out, size, &len, line);
}

/*
 * r as one line of text (with its newline) into buf; now is the time the
 * record is closed. With color, the action is in ANSI colours. Returns
 * the length.
 */
size_t
dlog_format_text(char *buf, size_t size, const struct dlog_record *r,
    const struct timespec *now, int color)
{
	struct tbuf	 tb = { buf, size, 0 };
	struct tm	 tm;
	time_t		 t = r->dr_start.tv_sec;
	const char	*act = r->dr_action != NULL ? r->dr_action : "-";
	const char	*on = NULL;
	char		 field[HG_MAX_LOG_PATH + HG_MAX_HOST + 64];
	char		 up[16], down[16];
	long long	 ms;

	buf[0] = '\0';
	localtime_r(&t, &tm);
	strftime(field, sizeof field, "%H:%M:%S", &tm);
	tb_add(&tb, field, strlen(field));
	tb_add(&tb, " ", 1);
	column_esc(&tb, r->dr_client, W_CLIENT);
	tb_add(&tb, " ", 1);
	if (color && strcmp(act, "deny") == 0)
		on = "\033[31m";
	else if (color && strcmp(act, "audit") == 0)
		on = "\033[33m";
	else if (color && strcmp(act, "allow") == 0)
		on = "\033[32m";
	if (on != NULL) {
		tb_add(&tb, on, strlen(on));
		tb_add(&tb, act, strlen(act));
		tb_add(&tb, "\033[0m", 4);
		tb_pad(&tb, strlen(act) < W_ACTION ? W_ACTION - strlen(act) :
		    0);
	} else
		column_esc(&tb, act, W_ACTION);
	tb_add(&tb, " ", 1);
	target(field, sizeof field, r);
	column(&tb, field, W_TARGET, 0);
	tb_add(&tb, " ", 1);
	column_esc(&tb, r->dr_category, W_CATEGORY);
	tb_add(&tb, " ", 1);
	rule(field, sizeof field, r);
	column(&tb, field, W_RULE, 0);
	tb_add(&tb, " ", 1);
	human(up, sizeof up, r->dr_bytes_up);
	human(down, sizeof down, r->dr_bytes_down);
	snprintf(field, sizeof field, "%s/%s", up, down);
	column(&tb, field, W_BYTES, 1);
	tb_add(&tb, " ", 1);
	ms = (long long)(now->tv_sec - r->dr_start.tv_sec) * 1000 +
	    (now->tv_nsec - r->dr_start.tv_nsec) / 1000000;
	duration(field, sizeof field, ms < 0 ? 0 : ms);
	column(&tb, field, W_TIME, 1);
	if (tb.tb_len + 2 > size)
		tb.tb_len = size - 2;
	buf[tb.tb_len++] = '\n';
	buf[tb.tb_len] = '\0';
	return (tb.tb_len);
}
