/*
 * loadgen_clients.c -- the load generator's client engine: the options, the
 * epoll loop driving the non-blocking clients through their states, the
 * measurements and the modes tunnels, deny, http, bulk and idle.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define PAYLOAD 64
#define RBUF 4096
#define MAXEV 512

enum state {
	ST_FREE,
	ST_CONNECTING,
	ST_SEND_REQ,
	ST_READ_HEAD,
	ST_READ_BODY,
	ST_SEND_PAYLOAD,
	ST_READ_ECHO,
	ST_BULK_SEND,
	ST_BULK_WAIT_OK,
	ST_BULK_RECV,
	ST_HOLD,
};

enum errkind { E_CONNECT, E_STATUS, E_IO, E_TIMEOUT, E_DATA, E_NKINDS };
static const char *errname[E_NKINDS] = { "connect", "status", "io", "timeout", "data" };

struct cl {
	int fd;
	enum state st;
	double t0;
	char wbuf[512];
	size_t wlen, woff;
	char rbuf[RBUF];
	size_t rlen;
	long body_left; /* -1: read to EOF */
	uint64_t remaining;
	uint64_t sent_hdr;
	int status;
	int kept; /* http: the connection serves the next request */
	uint32_t events;
	unsigned char pay[PAYLOAD];
	const unsigned char *payp; /* what the tunnel sends: pay or the ClientHello */
	size_t paylen;
	int idx;
};

/* options */
enum mode mode;
struct sockaddr_in dst;
int use_proxy;
char *targets[MAX_TARGETS];
int ntargets;
int conc = 32;
double duration = 5.0, warmup = 0.5, op_timeout = 5.0;
uint64_t max_ops = 10000000;
int bulk_tunnels = 1;
double bulk_mib = 256;
int bulk_down;
double max_secs = 60;
double hold_secs = 300;
int expect_status = -1;
const char *label = "-";

/* run state */
int epfd;
static struct cl *cls;
static int ncl;
static uint64_t started, finished_ok, errs[E_NKINDS];
static uint64_t measured_ok, measured_err;
static uint32_t *lat_us;
static uint64_t nlat, lat_cap;
static double t_start, t_meas0, t_meas1;
static int stopping;
static double t_last_done;
char bigbuf[BIGBUF];
static uint64_t bulk_bytes;
static int idle_established, idle_failed, idle_dropped, idle_holding;
volatile sig_atomic_t got_signal;

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "loadgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

/* ------------------------------------------------------------------ */
/* results                                                             */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	if (nlat == 0)
		return 0;
	uint64_t i = (uint64_t)(p / 100.0 * (double)(nlat - 1) + 0.5);
	if (i >= nlat)
		i = nlat - 1;
	return lat_us[i] / 1000.0;
}

static void print_errs(void)
{
	printf(" errors=");
	for (int i = 0; i < E_NKINDS; i++)
		printf("%s%s:%" PRIu64, i ? "," : "", errname[i], errs[i]);
}

static void record_latency(double secs)
{
	if (nlat == lat_cap) {
		uint64_t ncap = lat_cap ? lat_cap * 2 : 65536;
		uint32_t *n = realloc(lat_us, ncap * sizeof *n);
		if (!n)
			return;
		lat_us = n;
		lat_cap = ncap;
	}
	double us = secs * 1e6;
	lat_us[nlat++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

/* ------------------------------------------------------------------ */
/* connections                                                         */

static void set_events(struct cl *c, uint32_t ev)
{
	if (c->events == ev)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->events = ev;
}

static void cl_release(struct cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->kept = 0;
	c->st = ST_FREE;
}

static void start_op(struct cl *c);

static void op_done(struct cl *c, int err)
{
	double t = now_s();
	t_last_done = t;
	if (err >= 0) {
		errs[err]++;
		if (t_meas0 > 0 && t >= t_meas0 && t <= t_meas1)
			measured_err++;
	} else {
		finished_ok++;
		if (t_meas0 > 0 && t >= t_meas0 && t <= t_meas1) {
			measured_ok++;
			record_latency(t - c->t0);
		}
	}
	if (mode == M_IDLE) {
		if (c->st == ST_HOLD || err < 0) {
			/* reached hold state: keep the socket */
			return;
		}
		idle_failed++;
		cl_release(c);
		return;
	}
	if (mode == M_HTTP && err < 0 && c->kept && !stopping &&
	    started < max_ops) {
		start_op(c); /* the next request on the same connection */
		return;
	}
	cl_release(c);
	if (mode == M_TUNNELS || mode == M_DENY || mode == M_HTTP) {
		if (!stopping && started < max_ops)
			start_op(c);
	}
}

static void build_request(struct cl *c, uint64_t k)
{
	const char *t = ntargets ? targets[k % (uint64_t)ntargets] : "localhost";
	int n;
	if (mode == M_HTTP)
		n = snprintf(c->wbuf, sizeof c->wbuf,
			     "GET %s%s/x HTTP/1.1\r\nHost: %s\r\nUser-Agent: hushgate-loadgen\r\n\r\n",
			     use_proxy ? "http://" : "", use_proxy ? t : "", t);
	else
		n = snprintf(c->wbuf, sizeof c->wbuf,
			     "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hushgate-loadgen\r\n\r\n",
			     t, t);
	c->wlen = (size_t)n;
	c->woff = 0;
}

static void fill_payload(struct cl *c, uint64_t k)
{
	if (hello_len) {
		c->payp = hello;
		c->paylen = hello_len;
		return;
	}
	for (int i = 0; i < PAYLOAD; i++)
		c->pay[i] = (unsigned char)('a' + (k + (uint64_t)i * 7) % 26);
	c->payp = c->pay;
	c->paylen = PAYLOAD;
}

static void begin_after_head(struct cl *c);

static void start_op(struct cl *c)
{
	uint64_t k = started++;
	c->t0 = now_s();
	c->rlen = 0;
	c->status = 0;
	c->body_left = -1;
	c->sent_hdr = 0;
	if (mode == M_HTTP && c->kept && c->fd >= 0) {
		build_request(c, k);
		c->st = ST_SEND_REQ;
		set_events(c, EPOLLOUT);
		return;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->fd = -1;
		c->st = ST_CONNECTING;
		op_done(c, E_CONNECT);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	if (use_proxy || mode == M_HTTP)
		build_request(c, k);
	fill_payload(c, k);
	c->st = ST_CONNECTING;
	int r = connect(fd, (struct sockaddr *)&dst, sizeof dst);
	if (r < 0 && errno != EINPROGRESS) {
		op_done(c, E_CONNECT);
		return;
	}
	c->events = EPOLLOUT;
	struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0)
		die("epoll_ctl add: %s", strerror(errno));
}

/* find end of response head; returns its length or 0 */
static size_t head_end(const char *b, size_t n)
{
	for (size_t i = 3; i < n; i++)
		if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r')
			return i + 1;
	return 0;
}

int parse_status(const char *b, size_t n)
{
	if (n < 12 || strncmp(b, "HTTP/1.", 7) != 0)
		return -1;
	if (!isdigit((unsigned char)b[9]) || !isdigit((unsigned char)b[10]) ||
	    !isdigit((unsigned char)b[11]))
		return -1;
	return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

static long parse_content_length(const char *b, size_t n)
{
	const char *p = b, *end = b + n;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0)
			return strtol(p + 15, NULL, 10);
		p = eol + 1;
	}
	return -1;
}

/* Does the head (n bytes) say "Connection: close"? */
static int says_close(const char *b, size_t n)
{
	const char *p = b, *end = b + n;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > 11 && strncasecmp(p, "connection:", 11) == 0 &&
		    memmem(p, (size_t)(eol - p), "close", 5) != NULL)
			return 1;
		p = eol + 1;
	}
	return 0;
}

/* returns 1 when the socket would block, 0 when finished/advanced, -1 error */
static int do_write(struct cl *c, const void *buf, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = write(c->fd, (const char *)buf + *off, len - *off);
		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		return -1;
	}
	return 0;
}

static void begin_payload(struct cl *c)
{
	if (mode == M_BULK) {
		c->wlen = (size_t)snprintf(c->wbuf, sizeof c->wbuf, "%s %" PRIu64 "\n",
					   bulk_down ? "SOURCE" : "SINK",
					   (uint64_t)(bulk_mib * 1048576.0));
		c->woff = 0;
		c->remaining = (uint64_t)(bulk_mib * 1048576.0);
		c->st = ST_BULK_SEND;
		c->rlen = 0;
	} else {
		c->woff = 0;
		c->st = ST_SEND_PAYLOAD;
	}
}

static void begin_after_head(struct cl *c)
{
	size_t hl = head_end(c->rbuf, c->rlen);
	c->status = parse_status(c->rbuf, c->rlen);
	int want = expect_status;
	if (c->status != want) {
		op_done(c, E_STATUS);
		return;
	}
	if (mode == M_DENY || mode == M_HTTP) {
		long cl = parse_content_length(c->rbuf, hl);
		/* http: the connection goes on after a counted body */
		c->kept = mode == M_HTTP && cl >= 0 && !says_close(c->rbuf, hl);
		size_t have = c->rlen - hl;
		if (cl >= 0) {
			c->body_left = cl - (long)have;
			if (c->body_left <= 0) {
				op_done(c, -1);
				return;
			}
		} else {
			c->body_left = -1;
		}
		c->st = ST_READ_BODY;
		set_events(c, EPOLLIN);
		return;
	}
	/* leftover bytes after the head belong to the tunnel */
	memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
	c->rlen -= hl;
	begin_payload(c);
}

static void cl_io(struct cl *c, uint32_t ev)
{
	for (;;) {
		switch (c->st) {
		case ST_FREE:
		case ST_HOLD:
			if (c->st == ST_HOLD && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
				char tmp[256];
				ssize_t n = read(c->fd, tmp, sizeof tmp);
				if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
					idle_dropped++;
					idle_established--;
					cl_release(c);
				}
			}
			return;
		case ST_CONNECTING: {
			int err = 0;
			socklen_t el = sizeof err;
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err) {
				op_done(c, E_CONNECT);
				return;
			}
			if (use_proxy || mode == M_HTTP)
				c->st = ST_SEND_REQ;
			else
				begin_payload(c);
			continue;
		}
		case ST_SEND_REQ: {
			int r = do_write(c, c->wbuf, c->wlen, &c->woff);
			if (r < 0) {
				op_done(c, E_IO);
				return;
			}
			if (r > 0) {
				set_events(c, EPOLLOUT);
				return;
			}
			c->st = ST_READ_HEAD;
			set_events(c, EPOLLIN);
			return;
		}
		case ST_READ_HEAD: {
			ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				/* EOF before a full head: a status line may be there */
				if (c->rlen > 12 && parse_status(c->rbuf, c->rlen) != expect_status)
					op_done(c, E_STATUS);
				else
					op_done(c, E_IO);
				return;
			}
			c->rlen += (size_t)n;
			if (head_end(c->rbuf, c->rlen)) {
				begin_after_head(c);
				if (c->st == ST_FREE || c->st == ST_READ_BODY)
					return;
				continue;
			}
			if (c->rlen == RBUF) {
				op_done(c, E_STATUS);
				return;
			}
			return;
		}
		case ST_READ_BODY: {
			char tmp[RBUF];
			ssize_t n = read(c->fd, tmp, sizeof tmp);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				if (c->body_left < 0) /* read-to-EOF body */
					op_done(c, n == 0 ? -1 : E_IO);
				else
					op_done(c, E_IO);
				return;
			}
			if (c->body_left >= 0) {
				c->body_left -= n;
				if (c->body_left <= 0) {
					op_done(c, -1);
					return;
				}
			}
			continue;
		}
		case ST_SEND_PAYLOAD: {
			int r = do_write(c, c->payp, c->paylen, &c->woff);
			if (r < 0) {
				op_done(c, E_IO);
				return;
			}
			if (r > 0) {
				set_events(c, EPOLLOUT);
				return;
			}
			c->st = ST_READ_ECHO;
			if (c->rlen >= c->paylen)
				continue;
			set_events(c, EPOLLIN);
			return;
		}
		case ST_READ_ECHO: {
			if (c->rlen < c->paylen) {
				ssize_t n = read(c->fd, c->rbuf + c->rlen, c->paylen - c->rlen);
				if (n < 0 && (errno == EAGAIN || errno == EINTR))
					return;
				if (n <= 0) {
					op_done(c, E_IO);
					return;
				}
				c->rlen += (size_t)n;
				if (c->rlen < c->paylen)
					return;
			}
			if (memcmp(c->rbuf, c->payp, c->paylen) != 0) {
				op_done(c, E_DATA);
				return;
			}
			if (mode == M_IDLE) {
				c->st = ST_HOLD;
				idle_established++;
				set_events(c, EPOLLIN | EPOLLRDHUP);
				op_done(c, -1);
				return;
			}
			op_done(c, -1);
			return;
		}
		case ST_BULK_SEND: {
			if (c->woff < c->wlen) {
				int r = do_write(c, c->wbuf, c->wlen, &c->woff);
				if (r < 0) {
					op_done(c, E_IO);
					return;
				}
				if (r > 0) {
					set_events(c, EPOLLOUT);
					return;
				}
				if (bulk_down) {
					c->st = ST_BULK_RECV;
					set_events(c, EPOLLIN);
					return;
				}
			}
			/* stream the body: bounded work per wakeup for fairness */
			for (int i = 0; i < 16 && c->remaining > 0; i++) {
				size_t want = c->remaining < BIGBUF ? (size_t)c->remaining : BIGBUF;
				ssize_t n = write(c->fd, bigbuf, want);
				if (n > 0) {
					c->remaining -= (uint64_t)n;
					bulk_bytes += (uint64_t)n;
					continue;
				}
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0 && errno == EAGAIN) {
					set_events(c, EPOLLOUT);
					return;
				}
				op_done(c, E_IO);
				return;
			}
			if (c->remaining > 0) {
				set_events(c, EPOLLOUT);
				return;
			}
			c->st = ST_BULK_WAIT_OK;
			c->rlen = 0;
			set_events(c, EPOLLIN);
			return;
		}
		case ST_BULK_WAIT_OK: {
			ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF - 1 - c->rlen);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				op_done(c, E_IO);
				return;
			}
			c->rlen += (size_t)n;
			if (memchr(c->rbuf, '\n', c->rlen)) {
				op_done(c, strncmp(c->rbuf, "OK ", 3) == 0 ? -1 : E_DATA);
				return;
			}
			if (c->rlen >= RBUF - 1) {
				op_done(c, E_DATA);
				return;
			}
			return;
		}
		case ST_BULK_RECV: {
			/* leftover bytes from the head read count too */
			if (c->rlen) {
				uint64_t l = c->rlen < c->remaining ? c->rlen : c->remaining;
				c->remaining -= l;
				bulk_bytes += l;
				c->rlen = 0;
			}
			for (int i = 0; i < 16 && c->remaining > 0; i++) {
				ssize_t n = read(c->fd, bigbuf, BIGBUF);
				if (n > 0) {
					uint64_t l = (uint64_t)n < c->remaining ? (uint64_t)n : c->remaining;
					c->remaining -= l;
					bulk_bytes += l;
					continue;
				}
				if (n < 0 && (errno == EAGAIN || errno == EINTR))
					return;
				op_done(c, E_IO);
				return;
			}
			if (c->remaining == 0)
				op_done(c, -1);
			return;
		}
		}
	}
}

static void check_timeouts(double t)
{
	if (mode == M_BULK)
		return;
	for (int i = 0; i < ncl; i++) {
		struct cl *c = &cls[i];
		if (c->st != ST_FREE && c->st != ST_HOLD && t - c->t0 > op_timeout)
			op_done(c, E_TIMEOUT);
	}
}

static int busy_count(void)
{
	int n = 0;
	for (int i = 0; i < ncl; i++)
		if (cls[i].st != ST_FREE && cls[i].st != ST_HOLD)
			n++;
	return n;
}

static void dispatch(int timeout_ms)
{
	struct epoll_event evs[MAXEV];
	int n = epoll_wait(epfd, evs, MAXEV, timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return;
		die("epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == NULL) {
			/* stdin in idle mode */
			got_signal = -1;
			continue;
		}
		struct cl *c = evs[i].data.ptr;
		if (c->st != ST_FREE)
			cl_io(c, evs[i].events);
	}
}

static void setup_clients(int n)
{
	ncl = n;
	cls = calloc((size_t)n, sizeof *cls);
	if (!cls)
		die("%s", "out of memory");
	for (int i = 0; i < n; i++) {
		cls[i].fd = -1;
		cls[i].idx = i;
	}
}

/* ------------------------------------------------------------------ */

int run_closed_loop(void)
{
	setup_clients(conc);
	t_start = now_s();
	t_meas0 = t_start + warmup;
	t_meas1 = t_meas0 + duration;
	for (int i = 0; i < ncl && started < max_ops; i++)
		start_op(&cls[i]);
	double last_check = t_start;
	for (;;) {
		double t = now_s();
		if (t >= t_meas1 || got_signal)
			break;
		if (busy_count() == 0)
			break; /* max_ops reached */
		int to = (int)((t_meas1 - t) * 1000) + 1;
		dispatch(to < 50 ? to : 50);
		t = now_s();
		if (t - last_check > 0.05) {
			check_timeouts(t);
			last_check = t;
		}
	}
	stopping = 1;
	double t_end = now_s();
	double window = (t_end < t_meas1 ? t_end : t_meas1) - t_meas0;
	if (window <= 0)
		window = 1e-9;
	if (nlat > 1)
		qsort(lat_us, nlat, sizeof *lat_us, cmp_u32);
	uint64_t total_err = 0;
	for (int i = 0; i < E_NKINDS; i++)
		total_err += errs[i];
	printf("RESULT mode=%s label=%s conc=%d secs=%.3f ok=%" PRIu64 " err=%" PRIu64
	       " rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f total_ok=%" PRIu64
	       " total_err=%" PRIu64,
	       mode == M_TUNNELS ? "tunnels" : mode == M_HTTP ? "http" : "deny", label, conc,
	       window, measured_ok, measured_err,
	       (double)measured_ok / window, pct(50), pct(90), pct(99),
	       nlat ? lat_us[nlat - 1] / 1000.0 : 0.0, finished_ok, total_err);
	if (mode == M_TUNNELS)
		printf(" payload=%zu", hello_len ? hello_len : (size_t)PAYLOAD);
	print_errs();
	printf("\n");
	fflush(stdout);
	for (int i = 0; i < ncl; i++)
		if (cls[i].st != ST_FREE)
			cl_release(&cls[i]);
	return measured_ok > 0 ? 0 : 1;
}

int run_bulk(void)
{
	setup_clients(bulk_tunnels);
	expect_status = 200;
	t_start = now_s();
	t_meas0 = t_start;
	t_meas1 = t_start + max_secs;
	for (int i = 0; i < ncl; i++)
		start_op(&cls[i]);
	int timed_out = 0;
	while (busy_count() > 0) {
		double t = now_s();
		if (t >= t_meas1) {
			timed_out = 1;
			break;
		}
		if (got_signal)
			break;
		dispatch(50);
	}
	if (timed_out) {
		for (int i = 0; i < ncl; i++)
			if (cls[i].st != ST_FREE)
				fprintf(stderr, "loadgen: bulk tunnel %d unfinished: state %d, %" PRIu64
					" bytes to go\n", i, (int)cls[i].st, cls[i].remaining);
	}
	double t_end = timed_out ? now_s() : t_last_done;
	double secs = t_end - t_start;
	if (secs <= 0)
		secs = 1e-9;
	uint64_t total_err = 0;
	for (int i = 0; i < E_NKINDS; i++)
		total_err += errs[i];
	printf("RESULT mode=bulk label=%s dir=%s tunnels=%d mib_each=%.0f secs=%.3f ok=%" PRIu64
	       " err=%" PRIu64 " timeout=%d mib=%.1f mib_s=%.1f",
	       label, bulk_down ? "down" : "up", bulk_tunnels, bulk_mib, secs, finished_ok, total_err,
	       timed_out, (double)bulk_bytes / 1048576.0, (double)bulk_bytes / 1048576.0 / secs);
	print_errs();
	printf("\n");
	fflush(stdout);
	for (int i = 0; i < ncl; i++)
		if (cls[i].st != ST_FREE)
			cl_release(&cls[i]);
	return (finished_ok == (uint64_t)bulk_tunnels) ? 0 : 1;
}

int run_idle(int n)
{
	setup_clients(n);
	expect_status = 200;
	op_timeout = op_timeout < 10 ? 10 : op_timeout;
	t_start = now_s();
	int next = 0;
	double deadline = t_start + max_secs;
	while (idle_established + idle_failed + idle_dropped < n) {
		while (next < n && busy_count() < conc)
			start_op(&cls[next++]);
		double t = now_s();
		if (t >= deadline || got_signal)
			break;
		dispatch(50);
		check_timeouts(now_s());
	}
	double est = now_s() - t_start;
	printf("RESULT mode=idle phase=established label=%s want=%d established=%d failed=%d "
	       "secs=%.3f",
	       label, n, idle_established, idle_failed + (n - next), est);
	print_errs();
	printf("\n");
	fflush(stdout);

	/* hold: stdin (line or EOF), a signal, or the hold bound */
	struct stat st;
	if (fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode))) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
		epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &e);
	}
	idle_holding = 1;
	double hold_end = now_s() + hold_secs;
	int why_hold = 0;
	while (!got_signal && now_s() < hold_end)
		dispatch(100);
	why_hold = got_signal;
	int open = 0;
	for (int i = 0; i < ncl; i++)
		if (cls[i].st != ST_FREE) {
			open++;
			cl_release(&cls[i]);
		}
	printf("RESULT mode=idle phase=closed label=%s closed=%d dropped=%d held_secs=%.3f reason=%s\n",
	       label, open, idle_dropped, now_s() - t_start - est,
	       why_hold == -1 ? "stdin" : why_hold ? "signal" : "hold-timeout");
	fflush(stdout);
	return idle_established == n ? 0 : 1;
}
