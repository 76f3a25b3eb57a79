/*
 * plat_posix.c -- the platform layer (plat.h) on Linux and other POSIX
 * systems: thin wrappers, errno is already what the callers expect.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include <event2/thread.h>

#include "proxy.h"
#include "plat.h"

int
plat_init(void)
{
	/* A peer that goes away is an error of the write, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return (0);
}

int
plat_socket(int family, int type, int proto)
{
	return (socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto));
}

int
plat_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (connect(fd, sa, len));
}

int
plat_sock_error(int fd)
{
	int		err = 0;
	socklen_t	len = sizeof err;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return (errno);
	return (err);
}

int
plat_sock_errno(void)
{
	return (errno);
}

int
plat_closesocket(int fd)
{
	return (close(fd));
}

int
plat_random(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

int
plat_event_threads(void)
{
	return (evthread_use_pthreads());
}

void
plat_block_signals(void)
{
	sigset_t	late;

	sigemptyset(&late);
	sigaddset(&late, SIGTERM);
	sigaddset(&late, SIGINT);
	sigaddset(&late, SIGHUP);
	sigaddset(&late, SIGUSR1);
	sigprocmask(SIG_BLOCK, &late, NULL);
}

int
plat_syslog_open(void)
{
	openlog("hushgate", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	return (0);
}

void
plat_syslog(const char *msg, size_t len)
{
	syslog(LOG_INFO, "%.*s", (int)len, msg);
}

void
plat_syslog_close(void)
{
	closelog();
}

void
plat_thread_signals(int on)
{
	static sigset_t	old;
	sigset_t	all;

	if (!on) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
	} else
		pthread_sigmask(SIG_SETMASK, &old, NULL);
}

unsigned
plat_ncpu(void)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	return (n > 0 ? (unsigned)n : 1);
}

const char *
plat_default_config(void)
{
	return (HG_DEFAULT_CONFIG);
}

const char *
plat_strerror(int e)
{
	return (strerror(e));
}
