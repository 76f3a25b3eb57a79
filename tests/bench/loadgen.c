/*
 * loadgen - load generator for HTTP CONNECT proxies (hushgate benchmarks).
 *
 * Single thread, epoll, non-blocking sockets, IPv4 loopback.
 *
 * This file parses the arguments and starts a mode; the client engine and
 * the modes on it are in loadgen_clients.c, the one-shot commands startup
 * and freeport in loadgen_oneshot.c, and loadgen.h is what they share.
 *
 * Modes (first argument):
 *
 *   tunnels  closed loop of C clients; each operation is one whole tunnel:
 *            TCP connect to the proxy, "CONNECT host:port HTTP/1.1", read the
 *            response head (must be 200), send 64 bytes, read the 64 echoed
 *            bytes, close.  Reports tunnels/s and latency percentiles of the
 *            whole operation.  With --client-hello NAME the bytes sent are
 *            a TLS ClientHello record carrying the server name NAME instead
 *            (517 bytes for names of up to 243 characters), read back whole
 *            the same way (idle mode too).
 *   deny     closed loop of C clients; each operation sends a CONNECT for a
 *            denied host and reads the answer (must be 403, body read as far
 *            as Content-Length or EOF).  Reports denials/s and latency.
 *   http     closed loop of C keep-alive clients; each operation is one
 *            plain-HTTP request, "GET http://TARGET/x HTTP/1.1" through the
 *            proxy (--proxy) or "GET /x" to the origin (--raw), and its
 *            response (must be 200, body read as far as Content-Length);
 *            the next request goes on the same connection unless the
 *            response said close or had no length.  Reports requests/s.
 *   bulk     K tunnels at once, each streams X MiB through the tunnel to the
 *            echod sink ("up") or from the echod source ("down").  Reports
 *            aggregate MiB/s from the first connect to the last byte.
 *   idle     opens N tunnels (C at a time), checks each with one 64-byte
 *            echo, holds them, prints a result line once all are
 *            established, then waits for a line or EOF on stdin, SIGUSR1,
 *            SIGTERM/SIGINT or --hold seconds, closes everything and prints
 *            a second result line.
 *   startup  runs a command (-- CMD ARGS...) and measures the time from
 *            exec until it is ready: a line containing --ready-line STR on
 *            its stdout/stderr, or --ready-port P accepting connections (and,
 *            with --probe HOST:PORT, answering a CONNECT for it with
 *            --expect STATUS).  Then stops it (SIGTERM, SIGKILL after 5 s).
 *   freeport prints N currently free TCP ports on 127.0.0.1 (default 1).
 *
 * With --proxy ADDR:PORT the clients speak CONNECT to the proxy; with
 * --raw ADDR:PORT they connect straight to ADDR:PORT and start with the
 * payload (direct to the echo server, or through a plain TCP relay).
 *
 * Every mode is bounded in time and in count.  Results are printed as one
 * machine-readable line per measurement:
 *   RESULT mode=tunnels conc=32 secs=5.000 ok=... err=... rate=... p50_ms=...
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "loadgen.h"

static void on_signal(int sig)
{
	got_signal = sig;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	int port = atoi(colon + 1);
	if (port <= 0 || port > 65535)
		return -1;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fputs("usage: loadgen tunnels|deny|http|bulk|idle [options]\n"
	      "       loadgen startup [--ready-line STR | --ready-port P [--probe HOST:PORT]]\n"
	      "                       [--expect STATUS] [--cpu N] [--timeout S] [--log FILE] -- CMD...\n"
	      "       loadgen freeport [N]\n"
	      "options:\n"
	      "  --proxy ADDR:PORT   CONNECT proxy to use\n"
	      "  --raw ADDR:PORT     no CONNECT: connect straight to ADDR:PORT\n"
	      "  --target HOST:PORT  CONNECT (or http) target; a comma list is used round-robin\n"
	      "  -c N                concurrent clients (default 32; idle: opening concurrency)\n"
	      "  -d SECS             measured duration (default 5)\n"
	      "  --warmup SECS       unmeasured time before (default 0.5)\n"
	      "  -n N                bound on operations (idle: number of tunnels)\n"
	      "  --timeout SECS      per-operation timeout (default 5)\n"
	      "  --tunnels K         bulk: parallel tunnels (default 1)\n"
	      "  --mib X             bulk: MiB per tunnel (default 256)\n"
	      "  --dir up|down       bulk: to the sink or from the source (default up)\n"
	      "  --max-secs S        bulk/idle: bound on the whole run (default 60)\n"
	      "  --hold S            idle: bound on holding time (default 300)\n"
	      "  --expect STATUS     expected status (default 200; deny: 403)\n"
	      "  --client-hello NAME tunnels/idle: send a TLS ClientHello with SNI NAME\n"
	      "                      instead of 64 plain bytes, read it back\n"
	      "  --label STR         copied into the result line\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *m = argv[1];
	const char *ready_line = NULL, *probe = NULL, *logpath = NULL, *hello_name = NULL;
	int ready_port = 0, cpu = -1;
	double st_timeout = 10;
	uint64_t n_opt = 0;
	int have_dst = 0;

	if (!strcmp(m, "freeport"))
		return run_freeport(argc > 2 ? atoi(argv[2]) : 1);

	int i = 2;
	while (i < argc) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!v)
			usage();
		i += 2;
		if (!strcmp(a, "--proxy") || !strcmp(a, "--raw")) {
			if (parse_addr(v, &dst) < 0)
				die("bad address %s (want IPv4:PORT)", v);
			use_proxy = !strcmp(a, "--proxy");
			have_dst = 1;
		} else if (!strcmp(a, "--target")) {
			char *s = strdup(v), *save = NULL;
			for (char *t = strtok_r(s, ",", &save); t && ntargets < MAX_TARGETS;
			     t = strtok_r(NULL, ",", &save))
				targets[ntargets++] = t;
		} else if (!strcmp(a, "-c")) {
			conc = atoi(v);
		} else if (!strcmp(a, "-d")) {
			duration = atof(v);
		} else if (!strcmp(a, "--warmup")) {
			warmup = atof(v);
		} else if (!strcmp(a, "-n")) {
			n_opt = strtoull(v, NULL, 10);
		} else if (!strcmp(a, "--timeout")) {
			op_timeout = atof(v);
			st_timeout = op_timeout;
		} else if (!strcmp(a, "--tunnels")) {
			bulk_tunnels = atoi(v);
		} else if (!strcmp(a, "--mib")) {
			bulk_mib = atof(v);
		} else if (!strcmp(a, "--dir")) {
			bulk_down = !strcmp(v, "down");
		} else if (!strcmp(a, "--max-secs")) {
			max_secs = atof(v);
		} else if (!strcmp(a, "--hold")) {
			hold_secs = atof(v);
		} else if (!strcmp(a, "--expect")) {
			expect_status = atoi(v);
		} else if (!strcmp(a, "--client-hello")) {
			hello_name = v;
		} else if (!strcmp(a, "--label")) {
			label = v;
		} else if (!strcmp(a, "--ready-line")) {
			ready_line = v;
		} else if (!strcmp(a, "--ready-port")) {
			ready_port = atoi(v);
		} else if (!strcmp(a, "--probe")) {
			probe = v;
		} else if (!strcmp(a, "--cpu")) {
			cpu = atoi(v);
		} else if (!strcmp(a, "--log")) {
			logpath = v;
		} else {
			usage();
		}
	}

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	raise_nofile();
	memset(bigbuf, 'y', sizeof bigbuf);

	if (!strcmp(m, "startup")) {
		if (expect_status < 0)
			expect_status = 403;
		if (!ready_line && ready_port <= 0)
			die("%s", "startup: need --ready-line or --ready-port");
		return run_startup(argc - i, argv + i, ready_line, ready_port, probe, cpu, st_timeout,
				   logpath);
	}

	if (!strcmp(m, "tunnels"))
		mode = M_TUNNELS;
	else if (!strcmp(m, "deny"))
		mode = M_DENY;
	else if (!strcmp(m, "http"))
		mode = M_HTTP;
	else if (!strcmp(m, "bulk"))
		mode = M_BULK;
	else if (!strcmp(m, "idle"))
		mode = M_IDLE;
	else
		usage();
	if (!have_dst)
		die("%s", "need --proxy or --raw");
	if (use_proxy && ntargets == 0)
		die("%s", "--proxy needs --target");
	if (mode == M_DENY && !use_proxy)
		die("%s", "deny mode needs --proxy");
	if (expect_status < 0)
		expect_status = mode == M_DENY ? 403 : 200;
	if (conc < 1 || conc > 100000 || bulk_tunnels < 1 || bulk_tunnels > 10000)
		die("%s", "bad -c or --tunnels");
	if (n_opt)
		max_ops = n_opt;
	if (hello_name) {
		if (mode != M_TUNNELS && mode != M_IDLE)
			die("%s", "--client-hello is for the tunnels and idle modes");
		set_client_hello(hello_name);
	}

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));

	switch (mode) {
	case M_TUNNELS:
	case M_DENY:
	case M_HTTP:
		return run_closed_loop();
	case M_BULK:
		return run_bulk();
	case M_IDLE:
		if (!n_opt || n_opt > 100000)
			die("%s", "idle needs -n N (1..100000)");
		return run_idle((int)n_opt);
	}
	return 2;
}
