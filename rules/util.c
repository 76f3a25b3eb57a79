/*
 * util.c -- allocation wrappers and small parsers shared by every module.
 *
 * Allocation failures here are on the control path (configuration, rule
 * compilation): they are fatal.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#ifdef HAVE_SYS_MMAN_H
#include <sys/mman.h>
#endif
#include <unistd.h>
#endif

#include "rules.h"

static void
oom(void)
{
	fputs("hushgate: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		oom();
	return (p);
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		oom();
	return (p);
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		oom();
	if ((p = realloc(p, n * size == 0 ? 1 : n * size)) == NULL)
		oom();
	return (p);
}

/*
 * Fault in a large block that is about to be written from end to end: one
 * system call instead of one page fault per page, which is most of the
 * start-up time of a configuration with 100,000 names on a virtual
 * machine. Advisory: where the system cannot, pages fault in one by one.
 */
void
hg_prefault(void *p, size_t len)
{
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
	uintptr_t	pg, a, b;

	if (len < 256 * 1024)
		return;
	pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	a = ((uintptr_t)p + pg - 1) & ~(pg - 1);
	b = ((uintptr_t)p + len) & ~(pg - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

char *
xstrdup(const char *s)
{
	return (xstrndup(s, strlen(s)));
}

char *
xstrndup(const char *s, size_t len)
{
	char	*p;

	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return (p);
}

int
xasprintf(char **out, const char *fmt, ...)
{
	va_list	 ap, ap2;
	int	 n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	*out = xmalloc((size_t)n + 1);
	vsnprintf(*out, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return (n);
}

const char *
action_name(enum hg_action a)
{
	switch (a) {
	case HG_ACT_ALLOW:
		return ("allow");
	case HG_ACT_DENY:
		return ("deny");
	case HG_ACT_AUDIT:
		return ("audit");
	default:
		return ("none");
	}
}

int
action_parse(const char *s, enum hg_action *a)
{
	if (strcmp(s, "allow") == 0)
		*a = HG_ACT_ALLOW;
	else if (strcmp(s, "deny") == 0)
		*a = HG_ACT_DENY;
	else if (strcmp(s, "audit") == 0)
		*a = HG_ACT_AUDIT;
	else
		return (-1);
	return (0);
}

/*
 * Parse a duration: "250ms", "10s", "5m", "1h" or a bare number of
 * seconds. Stores milliseconds; returns -1 on syntax error or overflow.
 */
int
duration_parse(const char *s, unsigned *ms)
{
	unsigned long long	 v = 0, mult;
	const char		*p = s;

	if (!isdigit((unsigned char)*p))
		return (-1);
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT_MAX)
			return (-1);
		p++;
	}
	if (*p == '\0' || strcmp(p, "s") == 0)
		mult = 1000;
	else if (strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "m") == 0)
		mult = 60000;
	else if (strcmp(p, "h") == 0)
		mult = 3600000;
	else
		return (-1);
	if (v * mult > UINT_MAX)
		return (-1);
	*ms = (unsigned)(v * mult);
	return (0);
}

/*
 * Resolve path relative to the directory of file. Returns a new string;
 * absolute paths are copied. A leading "./" is dropped from the result.
 */
#ifdef _WIN32
/* Windows: "C:\x", "\\server\share" and "/x" are absolute, and both
 * slashes separate. */
static int
path_absolute(const char *p)
{
	return (p[0] == '/' || p[0] == '\\' ||
	    (isalpha((unsigned char)p[0]) && p[1] == ':'));
}

static const char *
path_last_sep(const char *p)
{
	const char	*a = strrchr(p, '/'), *b = strrchr(p, '\\');

	return (a == NULL || (b != NULL && b > a) ? b : a);
}

char *
path_real(const char *path)
{
	return (_fullpath(NULL, path, 0));
}
#else
static int
path_absolute(const char *p)
{
	return (p[0] == '/');
}

static const char *
path_last_sep(const char *p)
{
	return (strrchr(p, '/'));
}

char *
path_real(const char *path)
{
	return (realpath(path, NULL));
}
#endif

char *
path_join_dir(const char *file, const char *path)
{
	const char	*slash;
	char		*out;

	if (path_absolute(path))
		return (xstrdup(path));
	slash = path_last_sep(file);
	if (slash == NULL)
		return (xstrdup(path));
	xasprintf(&out, "%.*s/%s", (int)(slash - file), file, path);
	while (out[0] == '.' && out[1] == '/')
		memmove(out, out + 2, strlen(out + 2) + 1);
	return (out);
}

#ifndef HAVE_EXPLICIT_BZERO
void
explicit_bzero(void *p, size_t len)
{
	volatile unsigned char	*v = p;

	while (len-- > 0)
		*v++ = 0;
}
#endif

#ifndef HAVE_MEMMEM
void *
memmem(const void *h, size_t hlen, const void *n, size_t nlen)
{
	const unsigned char	*p = h, *end;

	if (nlen == 0)
		return ((void *)h);
	if (hlen < nlen)
		return (NULL);
	end = p + (hlen - nlen);
	for (; p <= end; p++)
		if (*p == *(const unsigned char *)n &&
		    memcmp(p, n, nlen) == 0)
			return ((void *)p);
	return (NULL);
}
#endif

#ifndef HAVE_REALLOCARRAY
void *
reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return (NULL);
	}
	return (realloc(p, n * size));
}
#endif

#ifndef HAVE_STRTONUM
long long
strtonum(const char *s, long long min, long long max, const char **errstr)
{
	const char	*why = NULL;
	char		*end;
	long long	 n = 0;
	int		 saved = errno, err = 0;

	errno = 0;
	if (min > max)
		why = "invalid";
	else {
		n = strtoll(s, &end, 10);
		if (end == s || *end != '\0')
			why = "invalid";
		else if ((n == LLONG_MIN && errno == ERANGE) || n < min)
			why = "too small";
		else if ((n == LLONG_MAX && errno == ERANGE) || n > max)
			why = "too large";
	}
	if (why != NULL) {
		n = 0;
		err = strcmp(why, "invalid") == 0 ? EINVAL : ERANGE;
	}
	if (errstr != NULL)
		*errstr = why;
	errno = why != NULL ? err : saved;
	return (n);
}
#endif
