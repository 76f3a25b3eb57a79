/*
 * ctlcmd.c -- `hushgate ctl`: one request to a running proxy over its
 * control socket (control.socket; proxy/control.c serves it), its reply
 * printed. Exits 0 on an "ok" reply, 1 on an "error" reply, 2 on a usage
 * error or when the socket cannot be reached.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy/proxy.h"
#include "cmd/cmd.h"
#include "plat/plat.h"

#define CTL_REPLY_MAX	(1024 * 1024)	/* a reply, bytes */
#define CTL_WAIT_MS	120000		/* for it (a reload may take long) */

static int
ctl_usage(void)
{
	fprintf(stderr, "usage: hushgate ctl [-c FILE] [-s SOCKET] status | "
	    "reload | pause CATEGORY DURATION |\n"
	    "                    resume CATEGORY | lists-update\n");
	return (2);
}

/* Connect to the socket at path; -1 said why. */
static int
ctl_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "hushgate: cannot connect to %s: path too "
		    "long for a socket\n", path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		fprintf(stderr, "hushgate: cannot connect to %s: %s\n", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	return (fd);
}

/* Send the request line, read the whole reply into a new string. */
static char *
ctl_exchange(int fd, const char *req, const char *path)
{
	struct pollfd	 pfd;
	char		*buf;
	size_t		 len = 0, reqlen = strlen(req);
	ssize_t		 n;
	int		 rc;

	if (write(fd, req, reqlen) != (ssize_t)reqlen) {
		fprintf(stderr, "hushgate: %s: %s\n", path, strerror(errno));
		return (NULL);
	}
	buf = xmalloc(CTL_REPLY_MAX + 1);
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((rc = poll(&pfd, 1, CTL_WAIT_MS)) == -1 && errno == EINTR)
			continue;
		if (rc <= 0) {
			fprintf(stderr, "hushgate: %s: %s\n", path, rc == 0 ?
			    "no reply" : strerror(errno));
			break;
		}
		n = read(fd, buf + len, CTL_REPLY_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "hushgate: %s: %s\n", path,
			    strerror(errno));
			break;
		}
		if (n == 0) {
			buf[len] = '\0';
			return (buf);
		}
		len += (size_t)n;
		if (len == CTL_REPLY_MAX) {
			fprintf(stderr, "hushgate: %s: reply too long\n",
			    path);
			break;
		}
	}
	free(buf);
	return (NULL);
}

/* The socket of -s, else of the configuration file; NULL said why. */
static char *
ctl_socket(const char *sock, const char *file)
{
	char	*path, why[256];

	if (sock != NULL)
		return (xstrdup(sock));
	if (config_control_socket(file, &path, why, sizeof why) != 0) {
		fprintf(stderr, "hushgate: %s: %s\n", file, why);
		return (NULL);
	}
	if (path == NULL)
		fprintf(stderr, "hushgate: %s sets no control.socket (or give "
		    "-s SOCKET)\n", file);
	return (path);
}

int
ctl_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*file = plat_default_config(), *sock = NULL;
	char		*path, *reply, *body, req[HG_CTL_LINE_MAX + 2];
	size_t		 len;
	int		 ch, fd, i, ok, want;

	while ((ch = getopt_long(argc, argv, "+c:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
		default:
			return (ctl_usage());
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return (ctl_usage());
	if (strcmp(argv[0], "pause") == 0)
		want = 3;
	else if (strcmp(argv[0], "resume") == 0)
		want = 2;
	else if (strcmp(argv[0], "status") == 0 ||
	    strcmp(argv[0], "reload") == 0 ||
	    strcmp(argv[0], "lists-update") == 0)
		want = 1;
	else
		return (ctl_usage());
	if (argc != want)
		return (ctl_usage());
	len = 0;
	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], " \t\r\n") != NULL || argv[i][0] == '\0' ||
		    len + strlen(argv[i]) + 2 > sizeof req - 1)
			return (ctl_usage());
		len += (size_t)snprintf(req + len, sizeof req - len, "%s%s",
		    i > 0 ? " " : "", argv[i]);
	}
	req[len++] = '\n';
	req[len] = '\0';
	if ((path = ctl_socket(sock, file)) == NULL)
		return (2);
	if ((fd = ctl_connect(path)) == -1) {
		free(path);
		return (2);
	}
	reply = ctl_exchange(fd, req, path);
	close(fd);
	free(path);
	if (reply == NULL)
		return (2);
	body = strchr(reply, '\n');
	if (body != NULL)
		*body++ = '\0';
	ok = strcmp(reply, "ok") == 0;
	if (!ok && strcmp(reply, "error") != 0) {
		fprintf(stderr, "hushgate: not a reply of the control socket\n");
		free(reply);
		return (2);
	}
	if (body != NULL)
		fputs(body, ok ? stdout : stderr);
	free(reply);
	return (ok ? 0 : 1);
}
