/*
 * echod - loopback servers for the hushgate benchmarks.
 *
 * Two listeners on 127.0.0.1, ports chosen by the kernel unless given:
 *
 *   echo   every byte received is sent back (the 64-byte tunnel payload);
 *          the connection is closed once the peer has closed its side and
 *          everything has been echoed.
 *   bulk   the client first sends one header line:
 *            "SINK <n>\n"    the server reads and discards n bytes, then
 *                            answers "OK <n>\n" and waits for the client
 *                            to close;
 *            "SOURCE <n>\n"  the server sends n bytes, then waits for the
 *                            client to close.
 *
 * On start it prints, then flushes:
 *   echo 127.0.0.1:PORT
 *   bulk 127.0.0.1:PORT
 *   ready
 *
 * It stops on SIGTERM/SIGINT or after --lifetime seconds (default 1800),
 * whichever comes first.  Single thread, epoll, non-blocking sockets.
 *
 * Usage: echod [--echo-port P] [--bulk-port P] [--lifetime SECS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (256 * 1024)
#define ECHOBUF 16384
#define MAXEV 256

enum kind { K_ECHO_LISTEN = 1, K_BULK_LISTEN, K_ECHO, K_BULK };
enum bstate { B_HEADER, B_SINK, B_REPLY, B_SOURCE, B_WAIT_CLOSE };

struct conn {
	int fd;
	enum kind kind;
	/* echo */
	char *buf;
	size_t off, len;
	int peer_eof;
	/* bulk */
	enum bstate bs;
	char hdr[80];
	size_t hlen;
	uint64_t remaining;
	uint64_t total;
	char reply[48];
	size_t rlen, roff;
	uint32_t events;
};

static volatile sig_atomic_t stop;
static int epfd;
static char bigbuf[BUFSZ];
static struct conn listen_echo = { .kind = K_ECHO_LISTEN };
static struct conn listen_bulk = { .kind = K_BULK_LISTEN };
static unsigned long nconns;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "echod: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int listen_on(int port)
{
	struct sockaddr_in sa;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

static int port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname");
	return ntohs(sa.sin_port);
}

static void set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e;
	if (c->events == ev)
		return;
	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
		die("epoll_ctl mod");
	c->events = ev;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	free(c);
	nconns--;
}

static void do_accept(struct conn *l)
{
	for (int i = 0; i < 256; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				fprintf(stderr, "echod: accept: %s\n", strerror(errno));
				return;
			}
			return;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->fd = fd;
		c->kind = l->kind == K_ECHO_LISTEN ? K_ECHO : K_BULK;
		c->bs = B_HEADER;
		c->events = EPOLLIN | EPOLLRDHUP;
		struct epoll_event e = { .events = c->events, .data.ptr = c };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			close(fd);
			free(c);
			continue;
		}
		nconns++;
	}
}

/* echo: read into buffer while it has room, write out what is buffered. */
static void echo_io(struct conn *c)
{
	if (!c->buf) {
		c->buf = malloc(ECHOBUF);
		if (!c->buf) {
			conn_close(c);
			return;
		}
	}
	for (;;) {
		int progress = 0;
		if (c->len > 0) {
			ssize_t n = write(c->fd, c->buf + c->off, c->len);
			if (n > 0) {
				c->off += (size_t)n;
				c->len -= (size_t)n;
				if (c->len == 0)
					c->off = 0;
				progress = 1;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				conn_close(c);
				return;
			}
		}
		if (!c->peer_eof && c->len == 0) {
			ssize_t n = read(c->fd, c->buf, ECHOBUF);
			if (n > 0) {
				c->off = 0;
				c->len = (size_t)n;
				progress = 1;
			} else if (n == 0) {
				c->peer_eof = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				conn_close(c);
				return;
			}
		}
		if (c->peer_eof && c->len == 0) {
			conn_close(c);
			return;
		}
		if (!progress)
			break;
	}
	set_events(c, c->len > 0 ? EPOLLOUT : (EPOLLIN | EPOLLRDHUP));
}

static int parse_header(struct conn *c)
{
	char verb[16];
	uint64_t n;
	c->hdr[c->hlen] = '\0';
	if (sscanf(c->hdr, "%15s %" SCNu64, verb, &n) != 2)
		return -1;
	c->remaining = n;
	c->total = n;
	if (strcmp(verb, "SINK") == 0)
		c->bs = B_SINK;
	else if (strcmp(verb, "SOURCE") == 0)
		c->bs = B_SOURCE;
	else
		return -1;
	return 0;
}

/* every byte arrived: the acknowledgement is due (state changes here, so
 * that leaving the loop below always waits for the right event) */
static void sink_done(struct conn *c)
{
	c->rlen = (size_t)snprintf(c->reply, sizeof c->reply, "OK %" PRIu64 "\n", c->total);
	c->roff = 0;
	c->bs = B_REPLY;
}

static void bulk_io(struct conn *c)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		switch (c->bs) {
		case B_HEADER: {
			/* read byte-wise up to newline so no payload is consumed */
			char ch;
			ssize_t n = read(c->fd, &ch, 1);
			if (n == 0) {
				conn_close(c);
				return;
			}
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					set_events(c, EPOLLIN | EPOLLRDHUP);
					return;
				}
				conn_close(c);
				return;
			}
			if (ch == '\n') {
				if (parse_header(c) < 0) {
					conn_close(c);
					return;
				}
				rounds = 0;
				continue;
			}
			if (c->hlen + 1 >= sizeof c->hdr) {
				conn_close(c);
				return;
			}
			c->hdr[c->hlen++] = ch;
			rounds = 0;
			continue;
		}
		case B_SINK: {
			if (c->remaining == 0) {
				sink_done(c);
				continue;
			}
			size_t want = c->remaining < BUFSZ ? (size_t)c->remaining : BUFSZ;
			ssize_t n = read(c->fd, bigbuf, want);
			if (n > 0) {
				c->remaining -= (uint64_t)n;
				if (c->remaining == 0)
					sink_done(c);
				continue;
			}
			if (n == 0) {
				conn_close(c);
				return;
			}
			if (errno == EAGAIN || errno == EINTR) {
				set_events(c, EPOLLIN | EPOLLRDHUP);
				return;
			}
			conn_close(c);
			return;
		}
		case B_REPLY: {
			ssize_t n = write(c->fd, c->reply + c->roff, c->rlen - c->roff);
			if (n > 0) {
				c->roff += (size_t)n;
				if (c->roff == c->rlen)
					c->bs = B_WAIT_CLOSE;
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				set_events(c, EPOLLOUT);
				return;
			}
			conn_close(c);
			return;
		}
		case B_SOURCE: {
			if (c->remaining == 0) {
				c->bs = B_WAIT_CLOSE;
				continue;
			}
			size_t want = c->remaining < BUFSZ ? (size_t)c->remaining : BUFSZ;
			ssize_t n = write(c->fd, bigbuf, want);
			if (n > 0) {
				c->remaining -= (uint64_t)n;
				if (c->remaining == 0)
					c->bs = B_WAIT_CLOSE;
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				set_events(c, EPOLLOUT);
				return;
			}
			conn_close(c);
			return;
		}
		case B_WAIT_CLOSE: {
			ssize_t n = read(c->fd, bigbuf, BUFSZ);
			if (n > 0)
				continue; /* ignore stray bytes */
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				set_events(c, EPOLLIN | EPOLLRDHUP);
				return;
			}
			conn_close(c);
			return;
		}
		}
	}
	/* yield to other connections; come back on the next readiness */
	set_events(c, (c->bs == B_SOURCE || c->bs == B_REPLY) ? EPOLLOUT
							       : (EPOLLIN | EPOLLRDHUP));
}

static void usage(void)
{
	fprintf(stderr, "usage: echod [--echo-port P] [--bulk-port P] [--lifetime SECS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int echo_port = 0, bulk_port = 0;
	double lifetime = 1800;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--echo-port") && i + 1 < argc)
			echo_port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--bulk-port") && i + 1 < argc)
			bulk_port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--lifetime") && i + 1 < argc)
			lifetime = atof(argv[++i]);
		else
			usage();
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	memset(bigbuf, 'x', sizeof bigbuf);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	listen_echo.fd = listen_on(echo_port);
	listen_bulk.fd = listen_on(bulk_port);
	struct conn *ls[2] = { &listen_echo, &listen_bulk };
	for (int i = 0; i < 2; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = ls[i] };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, ls[i]->fd, &e) < 0)
			die("epoll_ctl add");
	}
	printf("echo 127.0.0.1:%d\nbulk 127.0.0.1:%d\nready\n",
	       port_of(listen_echo.fd), port_of(listen_bulk.fd));
	fflush(stdout);

	double deadline = now_s() + lifetime;
	struct epoll_event evs[MAXEV];
	while (!stop && now_s() < deadline) {
		int n = epoll_wait(epfd, evs, MAXEV, 500);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			switch (c->kind) {
			case K_ECHO_LISTEN:
			case K_BULK_LISTEN:
				do_accept(c);
				break;
			case K_ECHO:
				echo_io(c);
				break;
			case K_BULK:
				bulk_io(c);
				break;
			}
		}
	}
	fprintf(stderr, "echod: exit (%lu connections open)\n", nconns);
	return 0;
}
