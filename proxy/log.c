/*
 * log.c -- diagnostics on stderr, one line per message, written with one
 * write(2) so that lines from different workers never interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "proxy.h"
#include "plat/plat.h"

#define LOG_LINE_MAX	2048

/* The level is changed by the main thread on reload while workers log:
 * relaxed atomics. The descriptor and the hook are set while no worker
 * runs. */
static int	log_level = LOG_LVL_INFO;
static int	log_fd = STDERR_FILENO;
static log_hook_fn log_hook;

#define LOG_LEVEL()	__atomic_load_n(&log_level, __ATOMIC_RELAXED)

void
log_init(int level)
{
	log_set_level(level);
}

void
log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

/* Where the lines go (standard error until told otherwise). */
void
log_set_fd(int fd)
{
	log_fd = fd;
}

/* Also hand every line (level, text without the newline) to fn: the
 * Windows service copies errors to the Event Log this way. */
void
log_set_hook(log_hook_fn fn)
{
	log_hook = fn;
}

static void __attribute__((format(HG_PRINTF, 2, 0)))
log_vwrite(int level, const char *fmt, va_list ap, int err)
{
	char	buf[LOG_LINE_MAX];
	int	n, m;

	n = snprintf(buf, sizeof buf, "hushgate: ");
	m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof buf - 2)
		n = (int)sizeof buf - 2;
	if (err != 0) {
		m = snprintf(buf + n, sizeof buf - (size_t)n, ": %s",
		    plat_strerror(err));
		if (m > 0)
			n += m;
		if ((size_t)n > sizeof buf - 2)
			n = (int)sizeof buf - 2;
	}
	if (log_hook != NULL) {
		buf[n] = '\0';
		log_hook(level, buf, (size_t)n);
	}
	buf[n++] = '\n';
	if (write(log_fd, buf, (size_t)n) == -1) {
		/* Nowhere left to report it. */
	}
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (LOG_LEVEL() < LOG_LVL_WARN)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	if (LOG_LEVEL() < LOG_LVL_WARN)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (LOG_LEVEL() < LOG_LVL_INFO)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (LOG_LEVEL() < LOG_LVL_DEBUG)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

/* libevent's own messages, routed into ours. */
void
log_libevent(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}
