/*
 * users.c -- the users file of Basic proxy authentication: one user a
 * line, "NAME:HASH", HASH a salted crypt(3) hash (yescrypt "$y$" or
 * SHA-512 "$6$"). Blank lines and lines starting with '#' are kept as
 * they are. Parsing only: hashing and verifying are the proxy's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/* The hash methods accepted, by their crypt(3) prefix. */
static const char *const hash_prefixes[] = { "$y$", "$6$", NULL };

/* May c appear in a user name? No control character, ':' or space
 * (UTF-8 is fine). */
static int
name_char(unsigned char c)
{
	return (c > 0x20 && c != 0x7f && c != ':');
}

/* A user name: 1 to HG_MAX_USER bytes, no control character, ':' or
 * white space. */
int
user_name_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > HG_MAX_USER)
		return (0);
	for (i = 0; i < len; i++)
		if (!name_char((unsigned char)s[i]))
			return (0);
	return (1);
}

/* crypt(3) output: a known prefix, then the characters crypt uses. */
static int
hash_valid(const char *s, size_t len, const char **why)
{
	size_t	i, n;

	for (i = 0; hash_prefixes[i] != NULL; i++) {
		n = strlen(hash_prefixes[i]);
		if (len >= n && memcmp(s, hash_prefixes[i], n) == 0)
			break;
	}
	if (hash_prefixes[i] == NULL) {
		*why = "unsupported hash (yescrypt $y$ or SHA-512 $6$)";
		return (0);
	}
	if (len > HG_MAX_USER_HASH) {
		*why = "hash too long";
		return (0);
	}
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '/' || s[i] == '$' || s[i] == '=')) {
			*why = "bad character in hash";
			return (0);
		}
	}
	if (s[len - 1] == '$') {
		*why = "hash without a hashed part";
		return (0);
	}
	return (1);
}

/*
 * Parse one line (without its newline; a final '\r' is allowed). Returns
 * 1 with *name and *hash set (pointers and lengths into line) for a user,
 * 0 for a blank or comment line, -1 with *why and *col (1-based) for a
 * bad line.
 */
int
users_parse_line(const char *line, size_t len, struct hg_userline *ul,
    const char **why, unsigned *col)
{
	const char	*colon;
	size_t		 i;

	memset(ul, 0, sizeof *ul);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 || line[0] == '#')
		return (0);
	*col = 1;
	if (len > HG_MAX_USERS_LINE) {
		*why = "line too long";
		return (-1);
	}
	if (memchr(line, '\0', len) != NULL) {
		*why = "NUL character";
		*col = (unsigned)((const char *)memchr(line, '\0', len) -
		    line) + 1;
		return (-1);
	}
	if ((colon = memchr(line, ':', len)) == NULL) {
		for (i = 0; i < len && line[i] != ' ' && line[i] != '\t'; i++)
			;
		*why = i == len ? "expected NAME:HASH" :
		    "white space (expected NAME:HASH)";
		return (-1);
	}
	ul->ul_name = line;
	ul->ul_namelen = (size_t)(colon - line);
	ul->ul_hash = colon + 1;
	ul->ul_hashlen = len - ul->ul_namelen - 1;
	for (i = 0; i < ul->ul_namelen; i++) {
		if (!name_char((unsigned char)line[i])) {
			*col = (unsigned)i + 1;
			*why = "bad character in user name (printable, no "
			    "':' or white space)";
			return (-1);
		}
	}
	if (ul->ul_namelen == 0) {
		*why = "empty user name";
		return (-1);
	}
	if (ul->ul_namelen > HG_MAX_USER) {
		*why = "user name too long";
		return (-1);
	}
	*col = (unsigned)ul->ul_namelen + 2;
	if (ul->ul_hashlen == 0) {
		*why = "empty hash";
		return (-1);
	}
	if (!hash_valid(ul->ul_hash, ul->ul_hashlen, why))
		return (-1);
	return (1);
}

/*
 * Parse a whole users file held in buf (len bytes), named path in
 * messages. Fills *users (sorted as in the file; caller frees with
 * users_free) and returns 0, or -1 with errs filled ("path:line:col").
 */
int
users_parse(const char *path, const char *buf, size_t len,
    struct hg_user **users, size_t *np, struct hg_errors *errs)
{
	struct hg_userline	 ul;
	struct hg_user		*u = NULL;
	const char		*p = buf, *end = buf + len, *eol, *why;
	size_t			 n = 0, before = errors_total(errs), i;
	unsigned		 lineno = 0, col;
	int			 r;

	while (p < end) {
		lineno++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		r = users_parse_line(p, (size_t)(eol - p), &ul, &why, &col);
		p = eol + 1;
		if (r < 0) {
			errors_add(errs, path, lineno, col, "%s", why);
			continue;
		}
		if (r == 0)
			continue;
		for (i = 0; i < n; i++)
			if (strlen(u[i].us_name) == ul.ul_namelen &&
			    memcmp(u[i].us_name, ul.ul_name,
			    ul.ul_namelen) == 0)
				break;
		if (i < n) {
			errors_add(errs, path, lineno, 1, "user '%s' already "
			    "named on line %u", u[i].us_name, u[i].us_line);
			continue;
		}
		u = xreallocarray(u, n + 1, sizeof *u);
		u[n].us_name = xstrndup(ul.ul_name, ul.ul_namelen);
		u[n].us_hash = xstrndup(ul.ul_hash, ul.ul_hashlen);
		u[n].us_line = lineno;
		n++;
	}
	if (errors_total(errs) != before) {
		users_free(u, n);
		return (-1);
	}
	*users = u;
	*np = n;
	return (0);
}

/* Read and parse the users file at path (see users_parse). */
int
users_load(const char *path, struct hg_user **users, size_t *np,
    struct hg_errors *errs)
{
	FILE	*f;
	char	*buf;
	size_t	 len = 0, n;
	int	 rc;

	*users = NULL;
	*np = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		errors_add(errs, path, 0, 0, "cannot open: %s",
		    strerror(errno));
		return (-1);
	}
	buf = xmalloc(HG_MAX_USERS_FILE + 1);
	while ((n = fread(buf + len, 1, HG_MAX_USERS_FILE + 1 - len, f)) > 0)
		len += n;
	if (ferror(f) || len > HG_MAX_USERS_FILE) {
		if (ferror(f))
			errors_add(errs, path, 0, 0, "read error");
		else
			errors_add(errs, path, 0, 0, "file larger than %d "
			    "bytes", HG_MAX_USERS_FILE);
		fclose(f);
		free(buf);
		return (-1);
	}
	fclose(f);
	rc = users_parse(path, buf, len, users, np, errs);
	free(buf);
	return (rc);
}

void
users_free(struct hg_user *u, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(u[i].us_name);
		free(u[i].us_hash);
	}
	free(u);
}

/* The user called name, or NULL. */
const struct hg_user *
users_find(const struct hg_user *u, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(u[i].us_name, name) == 0)
			return (&u[i]);
	return (NULL);
}
