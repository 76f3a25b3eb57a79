/*
 * plat_posix.c -- the platform layer (plat.h) on Linux and other POSIX
 * systems: thin wrappers, errno is already what the callers expect.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif
#ifdef HAVE_SYS_SIGNALFD_H
#include <sys/signalfd.h>
#endif
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/thread.h>

#include "proxy/proxy.h"
#include "plat/plat.h"

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

void
plat_nodelay(int fd)
{
	int	one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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

/*
 * The signals the main thread watches (proxy_serve). Never the signals of
 * a fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP): blocked,
 * they would not stop a thread that crashes, nor let a sanitizer report.
 */
static void
main_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

void
plat_block_signals(void)
{
	sigset_t	late;

	main_signals(&late);
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
	sigset_t	set;

	if (!on) {
		main_signals(&set);
		pthread_sigmask(SIG_BLOCK, &set, &old);
	} else
		pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int
plat_signal_fd(void)
{
#ifdef HAVE_SYS_SIGNALFD_H
	sigset_t	set;
	int		fd;

	main_signals(&set);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return (-1);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return (fd);
#else
	return (-1);
#endif
}

int
plat_signal_next(int fd)
{
#ifdef HAVE_SYS_SIGNALFD_H
	struct signalfd_siginfo	si;
	ssize_t			n;

	do
		n = read(fd, &si, sizeof si);
	while (n == -1 && errno == EINTR);
	return (n == (ssize_t)sizeof si ? (int)si.ssi_signo : 0);
#else
	(void)fd;
	return (0);
#endif
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

char **
plat_argv_utf8(int argc, char **argv)
{
	return (NULL);
}

/* The abstract Unix socket address (Linux: no file) for a claim's name. */
static socklen_t
claim_addr(const char *name, struct sockaddr_un *sun)
{
	size_t	len;

	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	/* sun_path[0] stays '\0': the abstract namespace. */
	len = strlen(name);
	if (len > sizeof sun->sun_path - 1)
		len = sizeof sun->sun_path - 1;
	memcpy(sun->sun_path + 1, name, len);
	return ((socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
}

int
plat_claim(const char *name, long *holder)
{
	struct sockaddr_un	 sun;
	struct ucred		 cred;
	socklen_t		 len = claim_addr(name, &sun), clen;
	int			 fd, probe, saved;

	*holder = 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return (PLAT_CLAIM_ERROR);
	if (bind(fd, (struct sockaddr *)&sun, len) == 0) {
		if (listen(fd, 16) == 0)
			return (fd);
		saved = errno;
		close(fd);
		errno = saved;
		return (PLAT_CLAIM_ERROR);
	}
	saved = errno;
	close(fd);
	if (saved != EADDRINUSE) {
		errno = saved;
		return (PLAT_CLAIM_ERROR);
	}
	/* Held: ask the holder who it is (its credentials at listen()). */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe == -1)
		return (PLAT_CLAIM_HELD);
	clen = sizeof cred;
	if (connect(probe, (struct sockaddr *)&sun, len) == 0 &&
	    getsockopt(probe, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		*holder = (long)cred.pid;
		/*
		 * Any local user can bind an abstract name. A holder of
		 * another user cannot share our port anyway (SO_REUSEPORT
		 * needs the same user): ignore it, let bind decide, so that
		 * nobody can keep hushgate from starting by taking the name.
		 */
		if (cred.uid != geteuid()) {
			close(probe);
			*holder = 0;
			return (PLAT_CLAIM_NONE);
		}
	}
	close(probe);
	return (PLAT_CLAIM_HELD);
}

void
plat_claim_drain(int fd)
{
	int	c;

	while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(c);
}

const char *
plat_strerror(int e)
{
	return (strerror(e));
}
