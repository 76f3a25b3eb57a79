/*
 * plat_win.c -- the platform layer (plat.h) on Windows: Winsock started
 * once, socket errors translated into errno values, files in binary mode
 * (a decision log line ends in "\n", never "\r\n"), random bytes from the
 * system's generator, and what this build does without: user: and chroot:
 * (a service runs as the account the SCM gives it), sd_notify, syslog.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <bcrypt.h>

#include <event2/thread.h>

#include "plat.h"
#include "proxy.h"

/* WSA error codes as the errno values the rest of the code tests. */
static int
wsa_to_errno(int e)
{
	switch (e) {
	case 0:			return (0);
	case WSAEWOULDBLOCK:	return (EAGAIN);
	case WSAEINPROGRESS:
	case WSAEALREADY:	return (EINPROGRESS);
	case WSAEINTR:		return (EINTR);
	case WSAECONNREFUSED:	return (ECONNREFUSED);
	case WSAECONNRESET:	return (ECONNRESET);
	case WSAECONNABORTED:	return (ECONNABORTED);
	case WSAETIMEDOUT:	return (ETIMEDOUT);
	case WSAENETUNREACH:
	case WSAENETDOWN:	return (ENETUNREACH);
	case WSAEHOSTUNREACH:
	case WSAEHOSTDOWN:	return (EHOSTUNREACH);
	case WSAENOTCONN:	return (ENOTCONN);
	case WSAESHUTDOWN:	return (EPIPE);
	case WSAEADDRINUSE:	return (EADDRINUSE);
	case WSAEADDRNOTAVAIL:	return (EADDRNOTAVAIL);
	case WSAEAFNOSUPPORT:	return (EAFNOSUPPORT);
	case WSAEACCES:		return (EACCES);
	case WSAEMFILE:		return (EMFILE);
	case WSAENOBUFS:	return (ENOBUFS);
	case WSAEINVAL:		return (EINVAL);
	case WSAENOTSOCK:	return (ENOTSOCK);
	default:		return (EIO);
	}
}

const char *
plat_strerror(int e)
{
	switch (e) {
	case EAGAIN:		return ("Resource temporarily unavailable");
	case EINPROGRESS:	return ("Operation now in progress");
	case ECONNREFUSED:	return ("Connection refused");
	case ECONNRESET:	return ("Connection reset by peer");
	case ECONNABORTED:	return ("Software caused connection abort");
	case ETIMEDOUT:		return ("Connection timed out");
	case ENETUNREACH:	return ("Network is unreachable");
	case EHOSTUNREACH:	return ("No route to host");
	case ENOTCONN:		return ("Transport endpoint is not connected");
	case EADDRINUSE:	return ("Address already in use");
	case EADDRNOTAVAIL:	return ("Cannot assign requested address");
	case EAFNOSUPPORT:	return ("Address family not supported");
	case ENOBUFS:		return ("No buffer space available");
	case ENOTSOCK:		return ("Socket operation on non-socket");
	default:		return (strerror(e));
	}
}

int
plat_init(void)
{
	WSADATA	wsa;

	/* Files are bytes: no "\r\n" in a log, no short reads of a list. */
	_fmode = _O_BINARY;
	_setmode(_fileno(stdout), _O_BINARY);
	_setmode(_fileno(stderr), _O_BINARY);
	_setmode(_fileno(stdin), _O_BINARY);
	if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
		fprintf(stderr, "hushgate: WSAStartup failed\n");
		return (-1);
	}
	return (0);
}

int
plat_socket(int family, int type, int proto)
{
	SOCKET	s;
	u_long	on = 1;

	s = WSASocketW(family, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED |
	    WSA_FLAG_NO_HANDLE_INHERIT);
	if (s == INVALID_SOCKET) {
		errno = wsa_to_errno(WSAGetLastError());
		return (-1);
	}
	if (ioctlsocket(s, FIONBIO, &on) != 0) {
		errno = wsa_to_errno(WSAGetLastError());
		closesocket(s);
		return (-1);
	}
	return ((int)s);
}

int
plat_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect((SOCKET)fd, sa, len) == 0)
		return (0);
	errno = wsa_to_errno(WSAGetLastError());
	/* Windows says "would block" where POSIX says "in progress". */
	if (errno == EAGAIN)
		errno = EINPROGRESS;
	return (-1);
}

int
plat_sock_error(int fd)
{
	int	err = 0;
	int	len = sizeof err;

	if (getsockopt((SOCKET)fd, SOL_SOCKET, SO_ERROR, (char *)&err,
	    &len) != 0)
		return (wsa_to_errno(WSAGetLastError()));
	return (wsa_to_errno(err));
}

int
plat_sock_errno(void)
{
	int	e = WSAGetLastError();

	/* Not a socket call's failure: the C library's errno it is. */
	return (e != 0 ? wsa_to_errno(e) : errno);
}

int
plat_closesocket(int fd)
{
	return (closesocket((SOCKET)fd) == 0 ? 0 : -1);
}

ssize_t
plat_recv(int fd, void *buf, size_t len)
{
	int	n;

	n = recv((SOCKET)fd, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
	if (n == SOCKET_ERROR) {
		errno = wsa_to_errno(WSAGetLastError());
		return (-1);
	}
	return (n);
}

ssize_t
plat_send(int fd, const void *buf, size_t len)
{
	int	n;

	n = send((SOCKET)fd, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
	if (n == SOCKET_ERROR) {
		errno = wsa_to_errno(WSAGetLastError());
		return (-1);
	}
	return (n);
}

int
plat_random(void *buf, size_t len)
{
	if (len > ULONG_MAX)
		return (-1);
	return (BCryptGenRandom(NULL, buf, (ULONG)len,
	    BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0 ? 0 : -1);
}

int
plat_event_threads(void)
{
	return (evthread_use_windows_threads());
}

void
plat_block_signals(void)
{
	/* Only SIGINT and SIGTERM exist, and the C runtime's handlers stay
	 * until the process ends. */
}

void
plat_thread_signals(int on)
{
	/* Windows delivers SIGINT on a thread of its own. */
}

unsigned
plat_ncpu(void)
{
	SYSTEM_INFO	si;

	GetSystemInfo(&si);
	return (si.dwNumberOfProcessors > 0 ? si.dwNumberOfProcessors : 1);
}

const char *
plat_default_config(void)
{
	static char	 path[MAX_PATH + 64];
	const char	*base = getenv("ProgramData");

	if (path[0] == '\0')
		snprintf(path, sizeof path, "%s\\hushgate\\hushgate.yaml",
		    base != NULL && base[0] != '\0' ? base : "C:\\ProgramData");
	return (path);
}

const char *
plat_lacks(const char *what)
{
	if (strcmp(what, "user") == 0 || strcmp(what, "chroot") == 0)
		return ("not available on Windows (a service runs as the "
		    "account its installation gives it)");
	if (strcmp(what, "auth") == 0)
		return ("Basic authentication is not available in the "
		    "Windows build (it has no crypt(3) library)");
	if (strcmp(what, "syslog") == 0)
		return ("syslog is not available on Windows (use a file)");
	return (NULL);
}

int
plat_syslog_open(void)
{
	log_warnx("decision log: %s", plat_lacks("syslog"));
	return (-1);
}

void
plat_syslog(const char *msg, size_t len)
{
}

void
plat_syslog_close(void)
{
}

/*
 * service.c's functions: a Windows service is started by the SCM as the
 * account its installation names, and reports its state to the SCM
 * (winsvc.c), not over NOTIFY_SOCKET.
 */
int
service_drop_privileges(const char *user, const char *dir)
{
	if (user != NULL) {
		log_warnx("user: %s", plat_lacks("user"));
		return (-1);
	}
	if (dir != NULL) {
		log_warnx("chroot: %s", plat_lacks("chroot"));
		return (-1);
	}
	return (0);
}

void
service_notify(const char *state)
{
}

/* users.c's command: Basic authentication needs crypt(3). */
int
users_main(int argc, char **argv)
{
	fprintf(stderr, "hushgate: users: %s\n", plat_lacks("auth"));
	return (2);
}
