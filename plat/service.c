/*
 * service.c -- running as a system service: dropping root after the
 * sockets are bound (user:), and telling systemd how start-up, reloads and
 * stopping go (sd_notify(3)'s protocol, spoken directly on the socket that
 * NOTIFY_SOCKET names, without linking libsystemd).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/proxy.h"

/*
 * Shut the process into dir (chroot:, if given), then become user (its
 * uid, primary gid and groups) for good. Returns 0, or -1 with a message
 * logged.
 */
int
service_drop_privileges(const char *user, const char *dir)
{
	struct passwd	*pw = NULL;

	/* the user is looked up before /etc/passwd is out of reach */
	if (user != NULL && (pw = getpwnam(user)) == NULL) {
		log_warnx("user: no such user '%s'", user);
		return (-1);
	}
	if (dir != NULL) {
		if (chdir(dir) == -1 || chroot(dir) == -1 ||
		    chdir("/") == -1) {
			log_warn("chroot: %s", dir);
			return (-1);
		}
		log_info("chroot: %s", dir);
	}
	if (user == NULL)
		return (0);
	if (pw == NULL) {
		log_warnx("user: no such user '%s'", user);
		return (-1);
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return (0);
		log_warnx("user: only root can become '%s' (running as uid "
		    "%u)", user, (unsigned)geteuid());
		return (-1);
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		log_warn("user: cannot become '%s'", user);
		return (-1);
	}
	/* for good: no way back to root */
	if (pw->pw_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		log_warnx("user: could regain root after becoming '%s'", user);
		return (-1);
	}
	log_info("running as user %s (uid %u, gid %u)", pw->pw_name,
	    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return (0);
}

/*
 * Send state (e.g. "READY=1") to the service manager, if one asked for it
 * with NOTIFY_SOCKET (a path, or "@" for the abstract namespace).
 */
void
service_notify(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	size_t			 plen;
	int			 fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (plen = strlen(path)) >= sizeof sun.sun_path)
		return;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1)
		log_debug("notify %s: %s", state, strerror(errno));
	close(fd);
}
