/*
 * fuzz_request.c -- libFuzzer target for the whole request path of a
 * client connection, without a socket: the input's bytes are what a
 * client sends, fed through one end of a bufferevent pair to a connection
 * made on the other (conn_accept() with the pair's end, then
 * request_start()), driven by the real code of the connection (conn.c,
 * request.c, admin.c, tunnel.c, forward.c, upstream.c) and of auth.c in
 * an event loop of its own: the PROXY
 * header, the request head parser, admission (clients, groups, Basic
 * authentication and its failure limit), the policy decision, and the
 * answer the proxy gives itself (403 pages, 400, 407, 431, 502 ...),
 * pipelined requests on a kept connection included. Nothing leaves the
 * process: names are resolved by no server (dns.servers: []), every IP
 * literal is denied by a rule, and connect() aborts.
 *
 * Input: byte 0 chooses the configuration (bit 0: with auth.basic),
 * the client address (bits 1-3), a PROXY protocol listener (bit 4), the
 * PAC-only or admin-only listener (bits 5-6); byte 1 how the rest is cut
 * into the pieces the connection reads (0: at once; n: n bytes a piece);
 * the rest is the client's bytes, after which the client closes.
 *
 * Checks, beyond memory errors, leaks and undefined behaviour: what the
 * client gets is a sequence of whole HTTP/1.1 responses (status line,
 * header lines without control bytes, Content-Length and its body, or
 * none after a HEAD), with a status the proxy may answer itself, a
 * Connection header, nothing after "Connection: close"; a denied host's
 * 403 names its category in X-Hushgate-Category and in its body; every
 * decision log line is one printable JSON object with a known end.
 * FUZZ_REQUEST_SHOW=1 in the environment prints what the client got and
 * the log lines of each input.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "proxy/proxy.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CONFIG_COMMON \
	"listen: [\"127.0.0.1:3128\"]\n" \
	"trusted_proxies: [\"127.0.0.0/8\"]\n" \
	"connect_ports: [443, \"8000-8100\"]\n" \
	"http_ports: [80, 8080]\n" \
	"default: allow\n" \
	"destinations: {guard: on}\n" \
	"dns: {servers: [], hosts_file: null}\n" \
	"log: {decisions: null, level: error}\n" \
	"pac: {mode: policy}\n" \
	"categories:\n" \
	"  telemetry:\n" \
	"    action: deny\n" \
	"    hosts: [telemetry.test, .events.test, \"*.vortex*.data.test\",\n" \
	"      \"tracker.test:[80,443]\"]\n" \
	"  updates: {action: allow, hosts: [update.test, .cdn.test]}\n" \
	"  watched:\n" \
	"    action: audit\n" \
	"    hosts: [audit.test]\n" \
	"    actions: {lab: deny}\n" \
	"  addresses: {action: deny, hosts: [\"0.0.0.0/0\", \"::/0\"]}\n" \
	"  local: {action: deny, hosts: [localhost, .localhost]}\n"

static const char config_plain[] = CONFIG_COMMON
	"clients: [\"127.0.0.0/8\", \"::1/128\",\n"
	"  {name: lab, networks: [\"10.0.0.0/8\"]}]\n";

/* users: alice, bob (password "secret", SHA-512 with 1000 rounds) */
static const char config_auth[] = CONFIG_COMMON
	"clients: [\"127.0.0.0/8\", \"::1/128\",\n"
	"  {name: lab, networks: [\"10.0.0.0/8\"]},\n"
	"  {name: staff, networks: [\"172.16.0.0/12\"], users: [alice]}]\n"
	"auth:\n"
	"  basic: {users_file: users, realm: fuzz}\n"
	"  allow_plaintext_auth: true\n"
	"  max_failures: 1000\n"
	"  failure_window: 1s\n";

static const char users[] =
	"alice:$6$rounds=1000$fuzzsalt$VaozQpX6.rHlYgQ8XkQuQwnkNdGdaeCOvmZC4"
	"qxWknLh/eg/UKI7XrlNFcouj7rjYRe.I0VJYPdKlgC8OexQQ0\n"
	"bob:$6$rounds=1000$fuzzsalt$VaozQpX6.rHlYgQ8XkQuQwnkNdGdaeCOvmZC4"
	"qxWknLh/eg/UKI7XrlNFcouj7rjYRe.I0VJYPdKlgC8OexQQ0\n";

/* allowed, in group lab, in group staff (auth), not allowed, ... */
static const char *const clients[8] = {
	"127.0.0.1", "10.1.2.3", "172.16.5.5", "192.0.2.7", "::1",
	"::ffff:127.0.0.1", "2001:db8::1", "127.0.0.2",
};

static const char *const end_codes[] = {
	"done", "client_closed", "upstream_closed", "denied", "port_denied",
	"client_denied", "proxy_untrusted", "proxy_protocol_error",
	"destination_guard", "auth_required", "auth_failed", "auth_blocked",
	"bad_request", "too_large", "overload", "overload_client",
	"request_timeout", "client_idle", "served", "resolve_failed",
	"resolve_timeout", "connect_failed", "connect_timeout", "sni_mismatch",
	"sni_missing", "sni_denied", "not_tls", "bad_client_hello",
	"tls_error", "tls_timeout", "response_timeout", "bad_response",
	"idle_timeout", "error", "shutdown", NULL
};

static char			 dir[4096];
static struct event_base	*base;
static struct worker		 w;
static struct hg_config		*cfs[2];
static unsigned			 gen;
static int			 show;

/* Nothing leaves the process. */
int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd;
	(void)sa;
	(void)len;
	fprintf(stderr, "fuzz_request: the request path connected out\n");
	abort();
}

static void
cleanup(void)
{
	char	path[sizeof dir + 16];

	snprintf(path, sizeof path, "%s/users", dir);
	unlink(path);
	rmdir(dir);
}

static struct hg_config *
load(const char *text)
{
	struct hg_errors	 errs;
	struct hg_config	*cf;
	char			 name[sizeof dir + 16];
	size_t			 i;

	errors_init(&errs);
	snprintf(name, sizeof name, "%s/fuzz.yaml", dir);
	if ((cf = config_load_string(name, text, strlen(text), &errs)) ==
	    NULL) {
		for (i = 0; i < errs.er_count; i++)
			fprintf(stderr, "%s\n", errs.er_msgs[i]);
		abort();
	}
	errors_free(&errs);
	metrics_bind(cf);
	cf->cf_pac = pac_build(cf, cf->cf_pac_mode, cf->cf_pac_fallback);
	return (cf);
}

/* Every decision log line of the batch: one printable JSON object. */
static void
check_dlog(void)
{
	const char	*p = w.w_dlog.db_buf, *end = p + w.w_dlog.db_len;
	const char	*nl, *e;
	size_t		 i, n;
	int		 known;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			abort();
		if (nl - p < 2 || p[0] != '{' || nl[-1] != '}' ||
		    strncmp(p, "{\"ts\":\"", 7) != 0)
			abort();
		for (e = p; e < nl; e++)
			if ((unsigned char)*e < 0x20 || (unsigned char)*e >= 0x7f)
				abort();
		if ((e = memmem(p, (size_t)(nl - p), "\"end\":\"", 7)) == NULL)
			abort();
		e += 7;
		known = 0;
		for (i = 0; end_codes[i] != NULL; i++) {
			n = strlen(end_codes[i]);
			if (nl - e > (ptrdiff_t)n && memcmp(e, end_codes[i], n) ==
			    0 && e[n] == '"')
				known = 1;
		}
		if (!known)
			abort();
		p = nl + 1;
	}
	w.w_dlog.db_len = 0;
}

static void
dlog_cb(evutil_socket_t fd, short what, void *arg)
{
	check_dlog();
}

static int
status_ok(int s)
{
	static const int ok[] = { 200, 304, 400, 403, 404, 405, 407, 408, 429,
	    431, 502, 503, 504, 0 };
	int	i;

	for (i = 0; ok[i] != 0; i++)
		if (ok[i] == s)
			return (1);
	return (0);
}

/* A header's value in a head (NUL-terminated copy), or NULL. */
static const char *
header(const char *head, size_t len, const char *name, char *out, size_t n)
{
	const char	*p = head, *end = head + len, *nl, *v;
	size_t		 nlen = strlen(name), l;

	while (p < end && (nl = memmem(p, (size_t)(end - p), "\r\n", 2)) !=
	    NULL) {
		if ((size_t)(nl - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			for (v = p + nlen + 1; v < nl && *v == ' '; v++)
				;
			l = (size_t)(nl - v) < n - 1 ? (size_t)(nl - v) : n - 1;
			memcpy(out, v, l);
			out[l] = '\0';
			return (out);
		}
		p = nl + 2;
	}
	return (NULL);
}

/* What the client got: whole responses of the proxy's own. */
static void
check_output(const char *out, size_t len)
{
	const char	*head, *hend, *p;
	char		 cl[32], conn[32], cat[128], ctype[128], want[256];
	size_t		 off = 0, hlen, blen;
	int		 status, closed = 0;

	while (off < len) {
		if (closed)
			abort();	/* bytes after Connection: close */
		head = out + off;
		if ((hend = memmem(head, len - off, "\r\n\r\n", 4)) == NULL)
			abort();	/* a cut head */
		hlen = (size_t)(hend - head) + 4;
		if (hlen < 16 || memcmp(head, "HTTP/1.1 ", 9) != 0 ||
		    head[12] != ' ')
			abort();
		status = (head[9] - '0') * 100 + (head[10] - '0') * 10 +
		    (head[11] - '0');
		if (!status_ok(status))
			abort();
		for (p = head; p < hend; p++)
			if (((unsigned char)*p < 0x20 && *p != '\r' &&
			    *p != '\n') || (unsigned char)*p >= 0x7f)
				abort();
		if (header(head, hlen, "Connection", conn, sizeof conn) ==
		    NULL)
			abort();
		if (strcmp(conn, "close") == 0)
			closed = 1;
		else if (strcmp(conn, "keep-alive") != 0)
			abort();
		off += hlen;
		if (header(head, hlen, "Content-Length", cl, sizeof cl) ==
		    NULL) {
			if (status != 304)
				abort();
			continue;
		}
		blen = strtoul(cl, NULL, 10);
		if (len - off < blen) {
			/* no body: the answer to a HEAD */
			if (len - off != 0 && (len - off < 9 ||
			    memcmp(out + off, "HTTP/1.1 ", 9) != 0))
				abort();
			continue;
		}
		if (blen > 0 && len - off >= 9 &&
		    memcmp(out + off, "HTTP/1.1 ", 9) == 0)
			continue;	/* no body: the answer to a HEAD */
		if (status == 403 && header(head, hlen, "X-Hushgate-Category",
		    cat, sizeof cat) != NULL && strcmp(cat, "default") != 0) {
			if (header(head, hlen, "Content-Type", ctype,
			    sizeof ctype) != NULL &&
			    strncmp(ctype, "text/html", 9) == 0)
				snprintf(want, sizeof want, "Category: <b>%s</b>",
				    cat);
			else
				snprintf(want, sizeof want, "category: %s\n",
				    cat);
			if (memmem(out + off, blen, want, strlen(want)) == NULL)
				abort();
		}
		off += blen;
	}
}

/* What the connections ask of the workers: there are none here. */
static void
ops_slot_freed(struct worker *wk)
{
	(void)wk;
}

static unsigned
ops_sum_stats(struct wstats *sum)
{
	(void)sum;
	return (conn_count_open());
}

static uint16_t
ops_listen_port(size_t i)
{
	(void)i;
	return (0);
}

static const struct worker_ops ops = {
	.wo_refresh_config = worker_refresh_config,
	.wo_slot_freed = ops_slot_freed,
	.wo_sum_stats = ops_sum_stats,
	.wo_listen_port = ops_listen_port,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");
	char		 path[sizeof dir + 16];
	FILE		*f;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/hushgate-fuzz-request-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	snprintf(path, sizeof path, "%s/users", dir);
	if ((f = fopen(path, "w")) == NULL || fputs(users, f) == EOF ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	show = getenv("FUZZ_REQUEST_SHOW") != NULL;
	log_init(show ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	cfs[0] = load(config_plain);
	cfs[1] = load(config_auth);
	if ((base = event_base_new()) == NULL)
		abort();
	w.w_base = base;
	w.w_ops = &ops;
	if ((w.w_dns = evdns_base_new(base, 0)) == NULL ||
	    (w.w_scratch = malloc(HG_RELAY_READ_MAX)) == NULL ||
	    (w.w_ev_dlog = event_new(base, -1, 0, dlog_cb, NULL)) == NULL)
		abort();
	return (0);
}

static void
run(int n)
{
	while (n-- > 0)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bufferevent	*pair[2];
	struct conn		*c;
	struct sockaddr_storage	 ss;
	struct wlistener	 wl;
	struct evbuffer		*in;
	const char		*client;
	size_t			 off, piece, len;
	unsigned char		*out;

	if (size < 2)
		return (0);
	/* the configuration: new connections take the current one */
	workers_set_config(cfs[data[0] & 1], ++gen);
	worker_refresh_config(&w);
	memset(&ss, 0, sizeof ss);
	client = clients[(data[0] >> 1) & 7];
	if (strchr(client, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, client, &sin6->sin6_addr);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		inet_pton(AF_INET, client, &sin->sin_addr);
	}
	memset(&wl, 0, sizeof wl);
	wl.wl_w = &w;
	wl.wl_tls = -1;
	wl.wl_pp = data[0] & 0x10 ? PP_V1 | PP_V2 : 0;
	wl.wl_kind = (data[0] & 0x60) == 0x20 ? HG_LISTEN_PAC :
	    (data[0] & 0x60) == 0x40 ? HG_LISTEN_ADMIN : HG_LISTEN_PROXY;
	piece = data[1] ? data[1] : size;
	data += 2;
	size -= 2;

	if (bufferevent_pair_new(base, BEV_OPT_DEFER_CALLBACKS, pair) != 0)
		abort();
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	if ((c = conn_accept(&w, -1, pair[1], (struct sockaddr *)&ss)) !=
	    NULL)
		request_start(c, &wl);
	run(2);
	for (off = 0; off < size; off += piece) {
		bufferevent_write(pair[0], data + off,
		    size - off < piece ? size - off : piece);
		run(4);
	}
	/* the client is done: EOF */
	bufferevent_flush(pair[0], EV_WRITE, BEV_FINISHED);
	run(16);
	/* whatever still waits (a timer) is closed */
	conn_shutdown_all(&w);
	run(4);
	if (w.w_nconns != 0)
		abort();
	in = bufferevent_get_input(pair[0]);
	len = evbuffer_get_length(in);
	out = evbuffer_pullup(in, -1);
	if (show) {
		/* FUZZ_REQUEST_SHOW=1: what the client got, and the log */
		fwrite(out, 1, len, stderr);
		fwrite(w.w_dlog.db_buf, 1, w.w_dlog.db_len, stderr);
	}
	check_output((const char *)out, len);
	bufferevent_free(pair[0]);
	check_dlog();
	run(2);
	return (0);
}
