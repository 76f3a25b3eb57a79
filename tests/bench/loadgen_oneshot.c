/*
 * loadgen_oneshot.c -- the load generator's one-shot commands: startup (the
 * time from exec until a command is ready) and freeport.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

/* ------------------------------------------------------------------ */
/* startup                                                             */

/* one CONNECT probe, blocking with poll timeouts; returns status or -1 */
static int probe_once(const struct sockaddr_in *sa, const char *target, int *refused)
{
	*refused = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	if (r < 0 && errno != EINPROGRESS) {
		*refused = 1;
		close(fd);
		return -1;
	}
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, 200) <= 0) {
		close(fd);
		return -1;
	}
	int err = 0;
	socklen_t el = sizeof err;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		*refused = 1;
		close(fd);
		return -1;
	}
	if (!target) {
		close(fd);
		return 0;
	}
	char req[512];
	int n = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	char buf[64];
	size_t got = 0;
	double end = now_s() + 2.0;
	while (got < 12 && now_s() < end) {
		p.events = POLLIN;
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t m = read(fd, buf + got, sizeof buf - got);
		if (m <= 0)
			break;
		got += (size_t)m;
	}
	close(fd);
	return parse_status(buf, got);
}

int run_startup(int argc, char **argv, const char *ready_line, int ready_port,
		const char *probe, int cpu, double timeout, const char *logpath)
{
	if (argc <= 0)
		die("%s", "startup: no command after --");
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	FILE *logf = logpath ? fopen(logpath, "w") : NULL;
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (cpu >= 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof set, &set);
		}
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)ready_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	char line[4096];
	size_t llen = 0;
	int ready = 0, exited = 0, status = 0;
	double t_ready = 0;
	while (!ready && now_s() - t0 < timeout) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, ready_line ? 100 : 1);
		if (pr > 0) {
			char buf[4096];
			ssize_t n = read(pfd[0], buf, sizeof buf);
			double t = now_s();
			if (n > 0) {
				if (logf)
					fwrite(buf, 1, (size_t)n, logf);
				for (ssize_t i = 0; i < n && !ready; i++) {
					if (buf[i] == '\n' || llen == sizeof line - 1) {
						line[llen] = '\0';
						if (ready_line && strstr(line, ready_line)) {
							ready = 1;
							t_ready = t;
						}
						llen = 0;
					} else {
						line[llen++] = buf[i];
					}
				}
			} else if (n == 0) {
				/* output closed; the child may still be alive */
				close(pfd[0]);
				pfd[0] = -1;
			}
		}
		if (!ready && ready_port > 0) {
			int refused;
			int s = probe_once(&sa, probe, &refused);
			if (probe ? s == expect_status : s == 0) {
				ready = 1;
				t_ready = now_s();
			}
		}
		if (!ready && waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			break;
		}
		if (pfd[0] < 0 && !ready_port && !exited) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	if (ready)
		printf("RESULT mode=startup label=%s ok=1 ms=%.1f\n", label, (t_ready - t0) * 1000);
	else
		printf("RESULT mode=startup label=%s ok=0 ms=0 exited=%d status=%d\n", label, exited,
		       exited ? (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) : 0);
	fflush(stdout);
	if (!exited) {
		kill(pid, SIGTERM);
		double end = now_s() + 5;
		while (now_s() < end) {
			/* keep draining so the child never blocks on a full pipe */
			if (pfd[0] >= 0) {
				char buf[4096];
				ssize_t n = read(pfd[0], buf, sizeof buf);
				if (n > 0 && logf)
					fwrite(buf, 1, (size_t)n, logf);
			}
			if (waitpid(pid, &status, WNOHANG) == pid) {
				exited = 1;
				break;
			}
			struct timespec ts = { 0, 5000000 };
			nanosleep(&ts, NULL);
		}
		if (!exited) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
	}
	if (logf)
		fclose(logf);
	return ready ? 0 : 1;
}

int run_freeport(int n)
{
	int fds[64];
	if (n < 1 || n > 64)
		n = 1;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof sa;
		memset(&sa, 0, sizeof sa);
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof sa) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sa, &len) < 0)
			die("freeport: %s", strerror(errno));
		printf("%d\n", ntohs(sa.sin_port));
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}
