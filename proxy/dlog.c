/*
 * dlog.c -- the decision log: one line per request, as a JSON object,
 * in Squid's access.log format, or as text (dlogtext.c), written to one
 * or several outputs (log.outputs), each in its own format.
 *
 * Each record is formatted into one buffer per output; a worker collects
 * the records of one event loop turn and writes each output's lines with
 * one write(2) on an O_APPEND descriptor, so that workers never interleave
 * lines and no lock is taken.
 *
 * Where the lines go is a target (the outputs: files, standard output or
 * syslog) that the main thread replaces as a whole when the outputs
 * change on reload or when SIGUSR1 reopens the files after rotation. A
 * writer counts itself into the target it found current (dt_users) and
 * checks that it is still current before it writes; the main thread
 * marks the target it replaced retired and whoever sees a retired target
 * with no writer left closes its files. Every line thus goes to the old
 * target or to the new one, and none to a descriptor closed under it
 * (which could by then be a client's socket). A target is freed at exit
 * only: a writer may still hold its address.
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

#define SEQ	__ATOMIC_SEQ_CST

/* One output: where its lines go, and in which format. */
struct dlog_out {
	int		 do_fd;		/* -1: syslog(3) */
	int		 do_own;	/* do_fd is ours to close */
	char		*do_path;	/* a file: for SIGUSR1 */
	int		 do_kind;	/* HG_LOG_ */
	int		 do_color;	/* text, with ANSI colours */
};

struct dlog_target {
	struct dlog_target	*dt_next;	/* every target, until exit */
	struct dlog_out		 dt_out[HG_MAX_LOG_OUTPUTS];
	size_t			 dt_n;
	unsigned		 dt_users;	/* atomic: writers inside */
	int			 dt_retired;	/* atomic: no longer current */
	int			 dt_closed;	/* atomic: its descriptors are */
};

static struct dlog_target *dlog_cur;	/* atomic; NULL: no decision log */
static struct dlog_target *dlog_all;	/* main thread */
static int		 dlog_syslog;	/* main thread: openlog was called */
static int		 dlog_stdout_kind = -1;	/* main thread: the format
						   of "-", -1: its own */

static void
out_close(struct dlog_out *o)
{
	if (o->do_own)
		close(o->do_fd);
	o->do_own = 0;
}

/* Close t's descriptors, once, whoever comes last (any thread). */
static void
target_close(struct dlog_target *t)
{
	size_t	i;

	if (__atomic_exchange_n(&t->dt_closed, 1, SEQ) == 0)
		for (i = 0; i < t->dt_n; i++)
			out_close(&t->dt_out[i]);
}

/* A writer is done with t (any thread). */
static void
target_leave(struct dlog_target *t)
{
	if (__atomic_sub_fetch(&t->dt_users, 1, SEQ) == 0 &&
	    __atomic_load_n(&t->dt_retired, SEQ))
		target_close(t);
}

/*
 * The current target, counted as in use until target_leave; NULL when
 * there is no decision log (any thread). The sequentially consistent
 * order of the count and the second look at dlog_cur here, and of the
 * store of dlog_cur and the look at the count in target_install, is what
 * makes either this writer see the new target or the main thread see
 * the writer.
 */
static struct dlog_target *
target_enter(void)
{
	struct dlog_target	*t;

	for (;;) {
		if ((t = __atomic_load_n(&dlog_cur, SEQ)) == NULL)
			return (NULL);
		__atomic_add_fetch(&t->dt_users, 1, SEQ);
		if (__atomic_load_n(&dlog_cur, SEQ) == t)
			return (t);
		target_leave(t);
	}
}

/* Make t current (main thread); the one it replaces is closed once its
 * last writer is out. */
static void
target_install(struct dlog_target *t)
{
	struct dlog_target	*old;

	if (t != NULL) {
		t->dt_next = dlog_all;
		dlog_all = t;
	}
	old = __atomic_exchange_n(&dlog_cur, t, SEQ);
	if (old == NULL)
		return;
	__atomic_store_n(&old->dt_retired, 1, SEQ);
	if (__atomic_load_n(&old->dt_users, SEQ) == 0)
		target_close(old);
}

/* A target never installed: close and free it (main thread). */
static void
target_discard(struct dlog_target *t)
{
	size_t	i;

	for (i = 0; i < t->dt_n; i++) {
		out_close(&t->dt_out[i]);
		free(t->dt_out[i].do_path);
	}
	free(t);
}

/* Text is coloured on a terminal, unless NO_COLOR is set. (Not on
 * Windows, whose console shows ANSI sequences only when asked to.) */
static void
out_color(struct dlog_out *o)
{
#ifdef _WIN32
	o->do_color = 0;
#else
	const char	*nc = getenv("NO_COLOR");

	o->do_color = o->do_kind == HG_LOG_TEXT && o->do_fd != -1 &&
	    isatty(o->do_fd) && (nc == NULL || *nc == '\0');
#endif
}

/* Open the file path as output o: -1 with *cause (caller frees) if it
 * cannot be opened. */
static int
out_file(struct dlog_out *o, const char *path, char **cause)
{
	int	fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		xasprintf(cause, "decision log %s: %s", path,
		    plat_strerror(errno));
		return (-1);
	}
	o->do_fd = fd;
	o->do_own = 1;
	o->do_path = xstrdup(path);
	out_color(o);
	return (0);
}

/* Open lo as output o (main thread); -1 with *cause (caller frees). */
static int
out_open(struct dlog_out *o, const struct hg_logout *lo, char **cause)
{
	memset(o, 0, sizeof *o);
	o->do_kind = lo->lo_format;
	if (strcmp(lo->lo_to, "-") == 0) {
		o->do_fd = STDOUT_FILENO;
		if (dlog_stdout_kind != -1)
			o->do_kind = dlog_stdout_kind;
		out_color(o);
		return (0);
	}
	if (strcmp(lo->lo_to, "syslog") == 0) {
		if (!dlog_syslog && plat_syslog_open() != 0) {
			xasprintf(cause, "decision log: syslog is not "
			    "available");
			return (-1);
		}
		dlog_syslog = 1;
		o->do_fd = -1;
		return (0);
	}
	return (out_file(o, lo->lo_to, cause));
}

static void
dlog_out(const struct dlog_out *o, const char *buf, size_t len)
{
	const char	*nl;

	if (o->do_fd != -1) {
		if (write(o->do_fd, buf, len) == -1 && errno != EAGAIN)
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

/*
 * The format of the outputs that go to standard output, whatever the
 * configuration says (-1: what it says); from the command line, before
 * dlog_open.
 */
void
dlog_stdout_format(int kind)
{
	dlog_stdout_kind = kind;
}

/*
 * Send the decision log to the n outputs lo: each a file, "-" for
 * standard output or "syslog" for syslog(3) (facility daemon), in its
 * format; none when n is 0 (main thread). Workers may be writing: what
 * they write goes to the old outputs or the new ones. Returns 0, or -1
 * with *cause (caller frees) and the old outputs kept.
 */
int
dlog_open(const struct hg_logout *lo, size_t n, char **cause)
{
	struct dlog_target	*t;

	if (n == 0) {
		target_install(NULL);
		return (0);
	}
	t = xcalloc(1, sizeof *t);
	for (t->dt_n = 0; t->dt_n < n && t->dt_n < HG_MAX_LOG_OUTPUTS;
	    t->dt_n++) {
		if (out_open(&t->dt_out[t->dt_n], &lo[t->dt_n], cause) != 0) {
			target_discard(t);
			return (-1);
		}
	}
	target_install(t);
	return (0);
}

/*
 * Open every file output again under its name, after rotation (main
 * thread). Returns 0 (also when no output is a file), or -1 with *cause
 * (caller frees) and the old files kept, all of them.
 */
int
dlog_reopen(char **cause)
{
	struct dlog_target	*cur, *t;
	const struct dlog_out	*o;
	size_t			 i, files = 0;

	cur = __atomic_load_n(&dlog_cur, SEQ);
	if (cur == NULL)
		return (0);
	t = xcalloc(1, sizeof *t);
	for (i = 0; i < cur->dt_n; i++) {
		o = &cur->dt_out[i];
		t->dt_n = i + 1;
		if (o->do_path == NULL) {
			t->dt_out[i] = *o;
			t->dt_out[i].do_own = 0;
			continue;
		}
		files++;
		t->dt_out[i].do_kind = o->do_kind;
		if (out_file(&t->dt_out[i], o->do_path, cause) != 0) {
			target_discard(t);
			return (-1);
		}
	}
	if (files == 0) {
		target_discard(t);
		return (0);
	}
	target_install(t);
	return (0);
}

/* No more decision log; free every target (main thread, at exit, when no
 * worker runs). */
void
dlog_close(void)
{
	struct dlog_target	*t;
	size_t			 i;

	target_install(NULL);
	while ((t = dlog_all) != NULL) {
		dlog_all = t->dt_next;
		target_close(t);
		for (i = 0; i < t->dt_n; i++)
			free(t->dt_out[i].do_path);
		free(t);
	}
	if (dlog_syslog)
		plat_syslog_close();
	dlog_syslog = 0;
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
 * authentication, clients, max_connections_per_client, a parent proxy's,
 * and a tunnel closed by the SNI check or decision after its 200);
 * NONE_NONE, no request understood or no destination reached. _ABORTED:
 * the client side was cut before the end; _TIMEDOUT: a client-side
 * timeout ended it. The status of the line stays the one the client got.
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
	[END_AUTH_EXPIRED] =
	    { "auth_ticket_expired", "TCP_DENIED", "TCP_DENIED", "TCP_DENIED" },
	[END_AUTH_REPLAY] =
	    { "auth_replay",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_AUTH_WRONG_SERVICE] =
	    { "auth_wrong_service", "TCP_DENIED", "TCP_DENIED", "TCP_DENIED" },
	[END_OVERLOAD_CLIENT] =
	    { "overload_client", "TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_PROXY_UNTRUSTED] =
	    { "proxy_untrusted", "TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_SNI_MISMATCH] =
	    { "sni_mismatch",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_SNI_DENIED] =
	    { "sni_denied",	"TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
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
	[END_UPSTREAM_UNREACHABLE] =
	    { "upstream_unreachable", "NONE_NONE", "TCP_MISS",	"NONE_NONE" },
	[END_UPSTREAM_TLS] =
	    { "upstream_tls",	"NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_UPSTREAM_AUTH] =
	    { "upstream_auth",	"NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_UPSTREAM_REFUSED] =
	    { "upstream_refused", "TCP_DENIED",	"TCP_DENIED",	"TCP_DENIED" },
	[END_UPSTREAM_FAILED] =
	    { "upstream_failed", "NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
	[END_UPSTREAM_DOWN] =
	    { "upstream_down",	"NONE_NONE",	"TCP_MISS",	"NONE_NONE" },
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
 * where hierarchy is HIER_DIRECT/address, FIRSTUP_PARENT/name (a parent
 * proxy of upstreams:) or HIER_NONE/-.
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
	if (r->dr_upstream != NULL && r->dr_parent)
		snprintf(hier, sizeof hier, "FIRSTUP_PARENT/%s",
		    r->dr_upstream);
	else if (r->dr_upstream != NULL) {
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
format_line(char *buf, size_t size, const struct dlog_out *o,
    const struct dlog_record *r, const struct timespec *now)
{
	switch (o->do_kind) {
	case HG_LOG_SQUID:
		return (dlog_format_squid(buf, size, r, now));
	case HG_LOG_TEXT:
		return (dlog_format_text(buf, size, r, now, o->do_color));
	default:
		return (dlog_format(buf, size, r, now));
	}
}

/* A line too long for a batch: written at once to output i. */
static void
dlog_out_now(size_t i, const char *buf, size_t len)
{
	struct dlog_target	*t;

	if ((t = target_enter()) != NULL) {
		if (i < t->dt_n)
			dlog_out(&t->dt_out[i], buf, len);
		target_leave(t);
	}
}

/*
 * A worker's batch: the lines of one event loop turn go out in one
 * write(2) an output at its end, in whole lines of at most PIPE_BUF
 * bytes, so that writes to a pipe stay atomic and lines of workers never
 * interleave. A target is never freed before exit: its outputs can be
 * read here without counting in. Returns 1 when the batch was empty (the
 * caller schedules the flush).
 */
int
dlog_add(struct dlog_batch *b, const struct dlog_record *r)
{
	struct dlog_target	*t;
	struct dlog_obuf	*ob;
	char			 buf[HG_MAX_DLOG_LINE];
	struct timespec		 now;
	size_t			 i, len;
	int			 was_empty = !b->db_pending;

	if ((t = __atomic_load_n(&dlog_cur, SEQ)) == NULL)
		return (0);
	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < t->dt_n; i++) {
		ob = &b->db_out[i];
		len = format_line(buf, sizeof buf, &t->dt_out[i], r, &now);
		if (ob->ob_len + len > sizeof ob->ob_buf)
			dlog_flush(b);
		if (len > sizeof ob->ob_buf) {
			dlog_out_now(i, buf, len);
			continue;
		}
		memcpy(ob->ob_buf + ob->ob_len, buf, len);
		ob->ob_len += len;
		b->db_pending = 1;
	}
	return (was_empty && b->db_pending);
}

void
dlog_flush(struct dlog_batch *b)
{
	struct dlog_target	*t;
	size_t			 i;

	if (!b->db_pending)
		return;
	if ((t = target_enter()) != NULL) {
		for (i = 0; i < t->dt_n; i++)
			if (b->db_out[i].ob_len > 0)
				dlog_out(&t->dt_out[i], b->db_out[i].ob_buf,
				    b->db_out[i].ob_len);
		target_leave(t);
	}
	for (i = 0; i < HG_MAX_LOG_OUTPUTS; i++)
		b->db_out[i].ob_len = 0;
	b->db_pending = 0;
}
