/*
 * plat.h -- what the proxy needs from the operating system that POSIX and
 * Windows spell differently: socket reads and writes that fail with an
 * errno value, a non-blocking socket, random bytes, start-up. plat_posix.c
 * and plat_win.c implement it; on POSIX the calls of the relay's hot path
 * are inline and cost nothing.
 *
 * Socket errors are errno values on both: on Windows the WSA codes are
 * translated (WSAECONNREFUSED -> ECONNREFUSED ...), so code that tells a
 * refused connection from a reset one reads the same everywhere.
 */
#ifndef HG_PLAT_H
#define HG_PLAT_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#ifndef SHUT_WR
#define SHUT_WR		SD_SEND
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif
#else
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#endif

/* Once, first thing in main(): sockets (WSAStartup), binary files. */
int		 plat_init(void);
/*
 * The arguments argv[0..argc) in UTF-8, as a new array, or NULL when argv
 * is that already (POSIX: the bytes as given) or they cannot be had. On
 * Windows the C runtime's argv is in the ANSI code page, which cannot
 * hold most of the characters of an internationalised host name; the
 * wide command line holds them all.
 */
char		**plat_argv_utf8(int, char **);
#ifdef _WIN32
/* Why this build does without "user", "chroot", "auth" or "syslog". */
const char	*plat_lacks(const char *);
#endif

/* A new TCP/UDP socket, non-blocking and not inherited; -1 and errno. */
int		 plat_socket(int, int, int);
/* connect(2) on a non-blocking socket: 0, or -1 with errno (EINPROGRESS
 * while it goes on). */
int		 plat_connect(int, const struct sockaddr *, socklen_t);
/* No Nagle delay on a TCP socket (TCP_NODELAY): a proxy passes on what it
 * has when it has it, and a small write never waits for the peer's
 * delayed ACK. */
void		 plat_nodelay(int);
/* The pending error of a socket (SO_ERROR) as an errno value. */
int		 plat_sock_error(int);
/* The errno value of the last failed socket call, ours or libevent's. */
int		 plat_sock_errno(void);
int		 plat_closesocket(int);
/* strerror(), also for the socket errno values that the Windows C
 * library has no text for. */
const char	*plat_strerror(int);
/* n random bytes from the system; 0 or -1. */
int		 plat_random(void *, size_t);

/* The decision log's "syslog": open (facility daemon), one message, close. */
int		 plat_syslog_open(void);
void		 plat_syslog(const char *, size_t);
void		 plat_syslog_close(void);

/* The event loop's threads: POSIX threads, or Windows threads. */
int		 plat_event_threads(void);
/* Signals that only exist on POSIX are blocked while the process ends. */
void		 plat_block_signals(void);
/* Threads started between plat_thread_signals(0) and (1) do not take the
 * signals the main thread handles (SIGTERM, SIGINT, SIGHUP, SIGUSR1: they
 * are blocked in the main thread's mask, then it is restored); a fault in
 * such a thread (SIGSEGV ...) still ends the process. */
void		 plat_thread_signals(int);
/*
 * The main thread's signals as data on a descriptor (Linux signalfd):
 * plat_signal_fd() blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the
 * calling thread -- the main thread, before any other starts, so that every
 * thread inherits the mask -- and returns a descriptor that turns readable
 * when one is pending; -1 where there is none (the caller then watches them
 * with libevent's signal events). No handler ever runs at an arbitrary
 * point, and a signal that arrives before the loop runs waits in the
 * kernel instead of ending the process.
 * plat_signal_next(fd): the next pending signal's number, 0 when none is.
 */
int		 plat_signal_fd(void);
int		 plat_signal_next(int);
/* The configuration file used without -c: HG_DEFAULT_CONFIG (under
 * sysconfdir), or on Windows %ProgramData%\hushgate\hushgate.yaml. */
const char	*plat_default_config(void);
/* Processors online, at least 1. */
unsigned	 plat_ncpu(void);
/*
 * One instance per listening address: plat_claim(name) takes name for this
 * process until it ends (the kernel lets go of it on any exit, a crash
 * too, so nothing stale blocks a restart). Returns a descriptor to keep
 * (>= 0); PLAT_CLAIM_HELD when another process has it, with *holder its
 * PID (0 when it could not be learnt); PLAT_CLAIM_ERROR (errno); or
 * PLAT_CLAIM_NONE where no claim is needed (Windows: a second bind of a
 * port fails by itself; a name held by another user, who cannot share the
 * port either). plat_claim_drain(fd) answers the probes a
 * second instance makes on fd (accept and close).
 */
#define PLAT_CLAIM_HELD		(-1)
#define PLAT_CLAIM_ERROR	(-2)
#define PLAT_CLAIM_NONE		(-3)
int		 plat_claim(const char *, long *);
void		 plat_claim_drain(int);

/*
 * Files (inline: certs/ uses them too): a directory with a mode, data on
 * the disk, a mode and an owner on an open file, and a rename that
 * replaces the target (what rename(2) does on POSIX; Windows needs to be
 * told).
 */
#ifdef _WIN32
#include <direct.h>
#include <io.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#ifndef O_CLOEXEC
#define O_CLOEXEC	_O_NOINHERIT
#endif

ssize_t		 plat_recv(int, void *, size_t);
ssize_t		 plat_send(int, const void *, size_t);

static inline int
plat_mkdir(const char *path, int mode)
{
	return (_mkdir(path));
}

static inline int
plat_fsync(int fd)
{
	return (_commit(fd));
}

static inline int
plat_fchmod(int fd, int mode)
{
	/* The directory's ACL decides who may read it. */
	return (0);
}

static inline int
plat_fchown(int fd, const struct stat *st)
{
	/* No owner to give: the directory's ACL decides. */
	return (0);
}

static inline int
plat_lstat(const char *path, struct stat *st)
{
	return (stat(path, st));
}

static inline time_t
plat_timegm(struct tm *tm)
{
	return (_mkgmtime(tm));
}

static inline int
plat_rename(const char *from, const char *to)
{
	if (MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING |
	    MOVEFILE_WRITE_THROUGH))
		return (0);
	errno = EACCES;
	return (-1);
}
#else
#include <sys/stat.h>
#include <stdio.h>
#include <time.h>

static inline int
plat_mkdir(const char *path, int mode)
{
	return (mkdir(path, (mode_t)mode));
}

static inline int
plat_fsync(int fd)
{
	return (fsync(fd));
}

static inline int
plat_fchmod(int fd, int mode)
{
	return (fchmod(fd, (mode_t)mode));
}

static inline int
plat_fchown(int fd, const struct stat *st)
{
	return (fchown(fd, st->st_uid, st->st_gid));
}

static inline int
plat_rename(const char *from, const char *to)
{
	return (rename(from, to));
}

static inline int
plat_lstat(const char *path, struct stat *st)
{
	return (lstat(path, st));
}

static inline time_t
plat_timegm(struct tm *tm)
{
	return (timegm(tm));
}

static inline ssize_t
plat_recv(int fd, void *buf, size_t len)
{
	return (read(fd, buf, len));
}

static inline ssize_t
plat_send(int fd, const void *buf, size_t len)
{
	return (write(fd, buf, len));
}
#endif

/* file.c: files written whole, through a temporary file renamed over
 * the old one */
char		*plat_temp_file(const char *, const void *, size_t, int);
int		 plat_replace_file(const char *, const void *, size_t, int);

#endif /* HG_PLAT_H */
