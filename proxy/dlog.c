/*
 * dlog.c -- the decision log: one JSON object per line per request.
 *
 * Each record is formatted into one buffer; a worker collects the records
 * of one event loop turn and writes them with one write(2) on an O_APPEND
 * descriptor, so that workers never interleave lines and no lock is taken. SIGUSR1 reopens the file by dup2(2) onto the same
 * descriptor number, which is atomic for the writers.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"
#include "plat/plat.h"

#define DLOG_SYSLOG	(-2)	/* dlog_fd: lines go to syslog(3) */

static int	 dlog_fd = -1;
static char	*dlog_path;
static int	 dlog_kind;	/* HG_LOG_JSON, HG_LOG_SQUID */

static void
dlog_out(const char *buf, size_t len)
{
	const char	*nl;

	if (dlog_fd != DLOG_SYSLOG) {
		if (write(dlog_fd, buf, len) == -1 && errno != EAGAIN)
			log_debug("decision log write: %s", strerror(errno));
		return;
	}
	/* one message a line, without its newline */
	while (len > 0) {
		if ((nl = memchr(buf, '\n', len)) == NULL)
			nl = buf + len;
		plat_syslog(buf, (size_t)(nl - buf));
		len -= (size_t)(nl - buf) + (nl < buf + len ? 1 : 0);
		buf = nl + 1;
	}
}

/* The format of the lines (log.format); may change on reload. */
void
dlog_set_format(int kind)
{
	__atomic_store_n(&dlog_kind, kind, __ATOMIC_RELAXED);
}

/*
 * Open the decision log: a path, "-" for stdout, "syslog" for syslog(3)
 * (facility daemon), NULL for none.
 */
int
dlog_open(const char *path)
{
	int	fd;

	dlog_close();
	if (path == NULL)
		return (0);
	if (strcmp(path, "-") == 0) {
		dlog_fd = STDOUT_FILENO;
		return (0);
	}
	if (strcmp(path, "syslog") == 0) {
		if (plat_syslog_open() != 0)
			return (-1);
		dlog_fd = DLOG_SYSLOG;
		return (0);
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("decision log %s", path);
		return (-1);
	}
	dlog_fd = fd;
	dlog_path = xstrdup(path);
	return (0);
}

/* Reopen the log file (after rotation). */
int
dlog_reopen(void)
{
	int	fd;

	if (dlog_path == NULL)
		return (0);
	fd = open(dlog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("reopen decision log %s", dlog_path);
		return (-1);
	}
	if (dup2(fd, dlog_fd) == -1) {
		log_warn("reopen decision log %s", dlog_path);
		close(fd);
		return (-1);
	}
	close(fd);
	return (0);
}

void
dlog_close(void)
{
	if (dlog_fd == DLOG_SYSLOG)
		plat_syslog_close();
	else if (dlog_fd != -1 && dlog_fd != STDOUT_FILENO)
		close(dlog_fd);
	dlog_fd = -1;
	free(dlog_path);
	dlog_path = NULL;
}

struct jbuf {
	char	*jb_buf;
	size_t	 jb_size;
	size_t	 jb_len;
};

static void __attribute__((format(HG_PRINTF, 2, 3)))
jb_printf(struct jbuf *jb, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (jb->jb_len >= jb->jb_size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(jb->jb_buf + jb->jb_len, jb->jb_size - jb->jb_len, fmt,
	    ap);
	va_end(ap);
	if (n > 0)
		jb->jb_len += (size_t)n;
	if (jb->jb_len >= jb->jb_size)
		jb->jb_len = jb->jb_size - 1;
}

static void
jb_string(struct jbuf *jb, const char *key, const char *value)
{
	char	esc[HG_MAX_LOG_PATH * 6 + 8];

	if (value == NULL) {
		jb_printf(jb, ",\"%s\":null", key);
		return;
	}
	json_escape(esc, sizeof esc, value);
	jb_printf(jb, ",\"%s\":\"%s\"", key, esc);
}

/*
 * Format r as one JSON line (with its newline) into buf; now is the time
 * the record is closed. Returns the length.
 */
size_t
dlog_format(char *buf, size_t size, const struct dlog_record *r,
    const struct timespec *now)
{
	struct jbuf	 jb = { buf, size, 0 };
	struct tm	 tm;
	time_t		 t = r->dr_start.tv_sec;
	char		 rule[HG_MAX_HOST + 64];
	long long	 ms;

	gmtime_r(&t, &tm);
	jb_printf(&jb, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, r->dr_start.tv_nsec / 1000000);
	jb_string(&jb, "client", r->dr_client);
	jb_string(&jb, "user", r->dr_user);
	jb_string(&jb, "group", r->dr_group);
	jb_string(&jb, "method", r->dr_method);
	jb_string(&jb, "host", r->dr_host);
	if (r->dr_port > 0)
		jb_printf(&jb, ",\"port\":%d", r->dr_port);
	else
		jb_printf(&jb, ",\"port\":null");
	jb_string(&jb, "path", r->dr_path);
	jb_string(&jb, "sni", r->dr_sni);
	jb_string(&jb, "action", r->dr_action);
	jb_string(&jb, "category", r->dr_category);
	if (r->dr_rule_file != NULL) {
		snprintf(rule, sizeof rule, "%s:%u", r->dr_rule_file,
		    r->dr_rule_line);
		jb_string(&jb, "rule", rule);
	} else
		jb_string(&jb, "rule", NULL);
	if (r->dr_status > 0)
		jb_printf(&jb, ",\"status\":%d", r->dr_status);
	else
		jb_printf(&jb, ",\"status\":null");
	jb_string(&jb, "upstream", r->dr_upstream);
	ms = (long long)(now->tv_sec - r->dr_start.tv_sec) * 1000 +
	    (now->tv_nsec - r->dr_start.tv_nsec) / 1000000;
	if (ms < 0)
		ms = 0;
	jb_printf(&jb, ",\"bytes_up\":%llu,\"bytes_down\":%llu,"
	    "\"duration_ms\":%lld", (unsigned long long)r->dr_bytes_up,
	    (unsigned long long)r->dr_bytes_down, ms);
	jb_string(&jb, "end", dlog_end_name(r->dr_end));
	if (jb.jb_len + 3 > size)
		jb.jb_len = size - 3;
	buf[jb.jb_len++] = '}';
	buf[jb.jb_len++] = '\n';
	buf[jb.jb_len] = '\0';
	return (jb.jb_len);
}

/* A field of a Squid line: no spaces or control bytes (%XX instead). */
static void
squid_field(struct jbuf *jb, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	if (s == NULL || *s == '\0') {
		jb_printf(jb, " -");
		return;
	}
	jb_printf(jb, " ");
	for (; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '%')
			jb_printf(jb, "%%%02X", *p);
		else
			jb_printf(jb, "%c", *p);
	}
}

/*
 * The termination codes, the one table of them: the name of each (the
 * "end" of the JSON record, the label of /metrics), and the result code
 * of a Squid line in three columns: a CONNECT answered 200 (a tunnel
 * was set up), any other request, and no request (none was read, or a
 * CONNECT that got no tunnel). Squid's tags: TCP_TUNNEL, a tunnel;
 * TCP_MISS, plain HTTP forwarded, or an upstream failure answered 502 or
 * 504; TCP_DENIED, a refusal (rules, ports, the destination guard,
 * authentication, clients, max_connections_per_client, and a tunnel
 * closed by the SNI check after its 200); NONE_NONE, no request
 * understood or no destination reached. _ABORTED: the client side was
 * cut before the end; _TIMEDOUT: a client-side timeout ended it. The
 * status of the line stays the one the client got.
 */
static const struct squid_code {
	const char	*sc_name;
	const char	*sc_tunnel;
	const char	*sc_http;
	const char	*sc_none;
} squid_codes[END_MAX] = {
	[END_DONE] =
	    { "done",		"TCP_TUNNEL",	"TCP_MISS",	"NONE_NONE" },
	[END_CLIENT_CLOSED] =
	    { "client_closed",	"TCP_TUNNEL",	"TCP_MISS_ABORTED",
	    "NONE_NONE_ABORTED" },
	[END_UPSTREAM_CLOSED] =
	    { "upstream_closed", "TCP_TUNNEL",	"TCP_MISS",	"NONE_NONE" },
	[END_DENIED] =
	    { "denied",		"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_PORT_DENIED] =
	    { "port_denied",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_CLIENT_DENIED] =
	    { "client_denied",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_DESTINATION_GUARD] =
	    { "destination_guard", "TCP_DENIED", "TCP_DENIED", "TCP_DENIED" },
	[END_AUTH_REQUIRED] =
	    { "auth_required",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_AUTH_FAILED] =
	    { "auth_failed",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_AUTH_BLOCKED] =
	    { "auth_blocked",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_OVERLOAD_CLIENT] =
	    { "overload_client", "TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_PROXY_UNTRUSTED] =
	    { "proxy_untrusted", "TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_SNI_MISMATCH] =
	    { "sni_mismatch",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_SNI_MISSING] =
	    { "sni_missing",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_NOT_TLS] =
	    { "not_tls",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_BAD_CLIENT_HELLO] =
	    { "bad_client_hello", "TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_BAD_REQUEST] =
	    { "bad_request",	"NONE_NONE",	"NONE_NONE",	"NONE_NONE" },
	[END_TOO_LARGE] =
	    { "too_large",	"NONE_NONE",	"NONE_NONE",	"NONE_NONE" },
	[END_PROXY_PROTOCOL_ERROR] =
	    { "proxy_protocol_error", "NONE_NONE", "NONE_NONE", "NONE_NONE" },
	[END_OVERLOAD] =
	    { "overload",	"NONE_NONE",	"NONE_NONE",	"NONE_NONE" },
	[END_AUTH_BUSY] =
	    { "auth_busy",	"NONE_NONE",	"NONE_NONE",	"NONE_NONE" },
	[END_RESOLVE_FAILED] =
	    { "resolve_failed",	"NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_RESOLVE_TIMEOUT] =
	    { "resolve_timeout", "NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_CONNECT_FAILED] =
	    { "connect_failed",	"NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_CONNECT_TIMEOUT] =
	    { "connect_timeout", "NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_BAD_RESPONSE] =
	    { "bad_response",	"NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_RESPONSE_TIMEOUT] =
	    { "response_timeout", "NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_SERVED] =
	    { "served",		"NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_REQUEST_TIMEOUT] =
	    { "request_timeout", "NONE_NONE_TIMEDOUT", "NONE_NONE_TIMEDOUT",
	    "NONE_NONE_TIMEDOUT" },
	[END_TLS_TIMEOUT] =
	    { "tls_timeout",	"NONE_NONE_TIMEDOUT", "NONE_NONE_TIMEDOUT",
	    "NONE_NONE_TIMEDOUT" },
	[END_CLIENT_IDLE] =
	    { "client_idle",	"NONE_NONE_TIMEDOUT", "NONE_NONE_TIMEDOUT",
	    "NONE_NONE_TIMEDOUT" },
	[END_IDLE_TIMEOUT] =
	    { "idle_timeout",	"TCP_TUNNEL_TIMEDOUT", "TCP_MISS_TIMEDOUT",
	    "NONE_NONE_TIMEDOUT" },
	[END_TLS_ERROR] =
	    { "tls_error",	"TCP_TUNNEL_ABORTED", "TCP_MISS_ABORTED",
	    "NONE_NONE" },
	[END_SHUTDOWN] =
	    { "shutdown",	"TCP_TUNNEL_ABORTED", "TCP_MISS_ABORTED",
	    "NONE_NONE_ABORTED" },
	[END_ERROR] =
	    { "error",		"TCP_TUNNEL_ABORTED", "TCP_MISS_ABORTED",
	    "NONE_NONE" },
	[END_NONE] =
	    { "other",		"NONE_NONE",	"NONE_NONE",	"NONE_NONE" },
};

/*
 * The name of a termination code, as the decision log writes it and
 * /metrics counts it; NULL when end is none.
 */
const char *
dlog_end_name(enum conn_end end)
{
	return ((unsigned)end < END_MAX ? squid_codes[end].sc_name : NULL);
}

/*
 * The Squid result code of a request that ended with end, by its method
 * (NULL: none read) and the status the client got. NULL when end is not
 * a termination code.
 */
const char *
dlog_squid_code(enum conn_end end, const char *method, int status)
{
	const struct squid_code	*sc;

	if ((unsigned)end >= END_MAX || squid_codes[end].sc_name == NULL)
		return (NULL);
	sc = &squid_codes[end];
	if (method == NULL)
		return (sc->sc_none);
	if (strcmp(method, "CONNECT") != 0)
		return (sc->sc_http);
	return (status == 200 ? sc->sc_tunnel : sc->sc_none);
}

/*
 * r as a line of Squid's native access.log format, for the analysers
 * people run on Squid logs:
 *   time elapsed client code/status bytes method URL user hierarchy type
 */
size_t
dlog_format_squid(char *buf, size_t size, const struct dlog_record *r,
    const struct timespec *now)
{
	struct jbuf	 jb = { buf, size, 0 };
	const char	*code, *colon, *lb, *rb;
	char		 url[HG_MAX_HOST + 2048], hier[80];
	long long	 ms;
	int		 connect = r->dr_method != NULL &&
			    strcmp(r->dr_method, "CONNECT") == 0;

	ms = (long long)(now->tv_sec - r->dr_start.tv_sec) * 1000 +
	    (now->tv_nsec - r->dr_start.tv_nsec) / 1000000;
	if (ms < 0)
		ms = 0;
	if ((code = dlog_squid_code(r->dr_end, r->dr_method,
	    r->dr_status)) == NULL)
		code = "NONE_NONE";
	/* an IPv6 address with a port goes in brackets */
	lb = r->dr_host != NULL && r->dr_port > 0 &&
	    strchr(r->dr_host, ':') != NULL ? "[" : "";
	rb = *lb != '\0' ? "]" : "";
	if (r->dr_host == NULL)
		url[0] = '\0';
	else if (r->dr_port <= 0)
		snprintf(url, sizeof url, "%s", r->dr_host);
	else if (connect)
		snprintf(url, sizeof url, "%s%s%s:%d", lb, r->dr_host, rb,
		    r->dr_port);
	else if (r->dr_port == 80)
		snprintf(url, sizeof url, "http://%s%s%s%s", lb, r->dr_host,
		    rb, r->dr_path != NULL ? r->dr_path : "/");
	else
		snprintf(url, sizeof url, "http://%s%s%s:%d%s", lb,
		    r->dr_host, rb, r->dr_port,
		    r->dr_path != NULL ? r->dr_path : "/");
	if (r->dr_upstream != NULL) {
		colon = strrchr(r->dr_upstream, ':');
		snprintf(hier, sizeof hier, "HIER_DIRECT/%.*s",
		    (int)(colon ? colon - r->dr_upstream :
		    (ptrdiff_t)strlen(r->dr_upstream)), r->dr_upstream);
		/* "[v6]" loses its brackets, as Squid writes it */
		if (hier[12] == '[') {
			memmove(hier + 12, hier + 13, strlen(hier + 13) + 1);
			hier[strlen(hier) - 1] = '\0';
		}
	} else
		snprintf(hier, sizeof hier, "HIER_NONE/-");
	jb_printf(&jb, "%lld.%03ld %6lld", (long long)r->dr_start.tv_sec,
	    r->dr_start.tv_nsec / 1000000, ms);
	squid_field(&jb, r->dr_client);
	jb_printf(&jb, " %s/%03d %llu", code, r->dr_status > 0 ?
	    r->dr_status : 0, (unsigned long long)r->dr_bytes_down);
	squid_field(&jb, r->dr_method);
	squid_field(&jb, url);
	squid_field(&jb, r->dr_user);
	jb_printf(&jb, " %s -", hier);
	if (jb.jb_len + 2 > size)
		jb.jb_len = size - 2;
	buf[jb.jb_len++] = '\n';
	buf[jb.jb_len] = '\0';
	return (jb.jb_len);
}

static size_t
format_line(char *buf, size_t size, const struct dlog_record *r,
    const struct timespec *now)
{
	if (__atomic_load_n(&dlog_kind, __ATOMIC_RELAXED) == HG_LOG_SQUID)
		return (dlog_format_squid(buf, size, r, now));
	return (dlog_format(buf, size, r, now));
}

void
dlog_write(const struct dlog_record *r)
{
	char		buf[HG_MAX_DLOG_LINE];
	struct timespec	now;
	size_t		len;

	if (dlog_fd == -1)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	len = format_line(buf, sizeof buf, r, &now);
	dlog_out(buf, len);
}

/*
 * A worker's batch: the lines of one event loop turn go out in one
 * write(2) at its end, in whole lines of at most PIPE_BUF bytes, so that
 * writes to a pipe stay atomic and lines of workers never interleave.
 * Returns 1 when the batch was empty (the caller schedules the flush).
 */
int
dlog_add(struct dlog_batch *b, const struct dlog_record *r)
{
	char		buf[HG_MAX_DLOG_LINE];
	struct timespec	now;
	size_t		len;
	int		was_empty = b->db_len == 0;

	if (dlog_fd == -1)
		return (0);
	clock_gettime(CLOCK_REALTIME, &now);
	len = format_line(buf, sizeof buf, r, &now);
	if (b->db_len + len > sizeof b->db_buf)
		dlog_flush(b);
	if (len > sizeof b->db_buf) {
		dlog_out(buf, len);
		return (0);
	}
	memcpy(b->db_buf + b->db_len, buf, len);
	b->db_len += len;
	return (was_empty);
}

void
dlog_flush(struct dlog_batch *b)
{
	if (b->db_len > 0 && dlog_fd != -1)
		dlog_out(b->db_buf, b->db_len);
	b->db_len = 0;
}
