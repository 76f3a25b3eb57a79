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
#include <shellapi.h>
#include <bcrypt.h>

#include <event2/thread.h>

#include "plat/plat.h"
#include "proxy/proxy.h"

/*
 * Winsock's error codes as the errno values the rest of the code tests,
 * with the texts the Windows C library lacks for them (its strerror()
 * knows only the first 43 values).
 */
static const struct {
	int		 se_wsa;
	int		 se_errno;
	const char	*se_text;
} sock_errors[] = {
	{ WSAEWOULDBLOCK, EAGAIN, "Resource temporarily unavailable" },
	{ WSAEINPROGRESS, EINPROGRESS, "Operation now in progress" },
	{ WSAEALREADY, EINPROGRESS, NULL },
	{ WSAEINTR, EINTR, NULL },
	{ WSAECONNREFUSED, ECONNREFUSED, "Connection refused" },
	{ WSAECONNRESET, ECONNRESET, "Connection reset by peer" },
	{ WSAECONNABORTED, ECONNABORTED, "Software caused connection abort" },
	{ WSAETIMEDOUT, ETIMEDOUT, "Connection timed out" },
	{ WSAENETUNREACH, ENETUNREACH, "Network is unreachable" },
	{ WSAENETDOWN, ENETUNREACH, NULL },
	{ WSAEHOSTUNREACH, EHOSTUNREACH, "No route to host" },
	{ WSAEHOSTDOWN, EHOSTUNREACH, NULL },
	{ WSAENOTCONN, ENOTCONN, "Transport endpoint is not connected" },
	{ WSAESHUTDOWN, EPIPE, NULL },
	{ WSAEADDRINUSE, EADDRINUSE, "Address already in use" },
	{ WSAEADDRNOTAVAIL, EADDRNOTAVAIL, "Cannot assign requested address" },
	{ WSAEAFNOSUPPORT, EAFNOSUPPORT, "Address family not supported" },
	{ WSAEACCES, EACCES, NULL },
	{ WSAEMFILE, EMFILE, NULL },
	{ WSAENOBUFS, ENOBUFS, "No buffer space available" },
	{ WSAEINVAL, EINVAL, NULL },
	{ WSAENOTSOCK, ENOTSOCK, "Socket operation on non-socket" },
};
#define NSOCK_ERRORS	(sizeof sock_errors / sizeof sock_errors[0])

static int
wsa_to_errno(int e)
{
	size_t	i;

	if (e == 0)
		return (0);
	for (i = 0; i < NSOCK_ERRORS; i++)
		if (sock_errors[i].se_wsa == e)
			return (sock_errors[i].se_errno);
	return (EIO);
}

const char *
plat_strerror(int e)
{
	size_t	i;

	for (i = 0; i < NSOCK_ERRORS; i++)
		if (sock_errors[i].se_errno == e &&
		    sock_errors[i].se_text != NULL)
			return (sock_errors[i].se_text);
	return (strerror(e));
}

/* What this build does without, in words. */
const char *
plat_lacks(const char *what)
{
	if (strcmp(what, "user") == 0 || strcmp(what, "chroot") == 0)
		return ("not available on Windows (a service runs as the "
		    "account its installation gives it)");
	if (strcmp(what, "auth") == 0)
		return ("Basic authentication is not available in the "
		    "Windows build (it has no crypt(3) library)");
	return ("syslog is not available on Windows (use a file)");
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

void
plat_nodelay(int fd)
{
	BOOL	on = TRUE;

	(void)setsockopt((SOCKET)fd, IPPROTO_TCP, TCP_NODELAY,
	    (const char *)&on, sizeof on);
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

int
plat_signal_fd(void)
{
	return (-1);
}

int
plat_signal_next(int fd)
{
	(void)fd;
	return (0);
}

unsigned
plat_ncpu(void)
{
	SYSTEM_INFO	si;

	GetSystemInfo(&si);
	return (si.dwNumberOfProcessors > 0 ? si.dwNumberOfProcessors : 1);
}

/* Windows: no SO_REUSEPORT, so a second bind of an address fails. */
int
plat_claim(const char *name, long *holder)
{
	*holder = 0;
	return (PLAT_CLAIM_NONE);
}

void
plat_claim_drain(int fd)
{
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

/* w in the code page cp, as a new string, or NULL. */
static char *
wide_to(UINT cp, const wchar_t *w)
{
	char	*s;
	int	 len;

	len = WideCharToMultiByte(cp, 0, w, -1, NULL, 0, NULL, NULL);
	if (len <= 0 || (s = malloc((size_t)len)) == NULL)
		return (NULL);
	if (WideCharToMultiByte(cp, 0, w, -1, s, len, NULL, NULL) <= 0) {
		free(s);
		return (NULL);
	}
	return (s);
}

/*
 * CommandLineToArgvW() splits the command line as the C runtime does for
 * every argument but argv[0]; the two lists are trusted to correspond
 * when each argument of the wide one, in the ANSI code page (with the
 * same best-fit replacements the C runtime got), is the runtime's.
 */
char **
plat_argv_utf8(int argc, char **argv)
{
	wchar_t	**w;
	char	**u, *ansi;
	int	  n, i, same;

	if ((w = CommandLineToArgvW(GetCommandLineW(), &n)) == NULL)
		return (NULL);
	if (n != argc || (u = calloc((size_t)argc + 1, sizeof *u)) == NULL) {
		LocalFree(w);
		return (NULL);
	}
	for (i = 0; i < argc; i++) {
		if ((u[i] = wide_to(CP_UTF8, w[i])) == NULL)
			goto fail;
		if (i == 0)
			continue;
		if ((ansi = wide_to(CP_ACP, w[i])) == NULL)
			goto fail;
		same = strcmp(ansi, argv[i]) == 0;
		free(ansi);
		if (!same)
			goto fail;
	}
	LocalFree(w);
	return (u);
fail:
	for (i = 0; i < argc; i++)
		free(u[i]);
	free(u);
	LocalFree(w);
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
