/*
 * fuzz_auth.c -- libFuzzer target for what Basic proxy authentication
 * reads: a Proxy-Authorization value (basic_decode()) and a users file
 * (users_parse(), and users_parse_line() on each line).
 *
 * Checks, beyond memory errors:
 *  - decoded credentials are NUL-terminated within their buffers, the
 *    user is not empty and holds no ':' or control byte, the password no
 *    NUL, CR or LF; a refusal has a reason and leaves both empty;
 *  - a users line that is accepted has a valid user name and a hash with a
 *    known prefix, both inside the line; a refused line has a reason and a
 *    column inside the line (or 1);
 *  - a parsed users file is returned exactly when no error is reported,
 *    with unique names.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_basic(const char *buf, size_t len)
{
	char		 user[HG_MAX_USER + 1], pass[HG_MAX_PASSWORD + 1];
	const char	*why = NULL;
	size_t		 i, ul, pl;

	if (basic_decode(buf, len, user, sizeof user, pass, sizeof pass,
	    &why) != 0) {
		if (why == NULL || user[0] != '\0' || pass[0] != '\0')
			abort();
		return;
	}
	ul = strnlen(user, sizeof user);
	pl = strnlen(pass, sizeof pass);
	if (ul == 0 || ul == sizeof user || pl == sizeof pass)
		abort();
	for (i = 0; i < ul; i++)
		if (user[i] == ':' || (unsigned char)user[i] < 0x20)
			abort();
	for (i = 0; i < pl; i++)
		if (pass[i] == '\r' || pass[i] == '\n')
			abort();
}

static void
check_users(const char *buf, size_t len)
{
	struct hg_userline	 ul;
	struct hg_errors	 errs;
	struct hg_user		*u;
	const char		*p = buf, *end = buf + len, *eol, *why;
	size_t			 n, i, j;
	unsigned		 col;
	int			 r;

	while (p < end) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		why = NULL;
		col = 0;
		r = users_parse_line(p, (size_t)(eol - p), &ul, &why, &col);
		if (r < 0 && (why == NULL || col == 0 ||
		    col > (size_t)(eol - p) + 1))
			abort();
		if (r == 1 && (!user_name_valid(ul.ul_name, ul.ul_namelen) ||
		    ul.ul_name != p || ul.ul_hash + ul.ul_hashlen > eol ||
		    ul.ul_hashlen < 4 || ul.ul_hash[0] != '$'))
			abort();
		p = eol + 1;
	}
	errors_init(&errs);
	r = users_parse("users", buf, len, &u, &n, &errs);
	if ((r == 0) != (errors_total(&errs) == 0))
		abort();
	if (r == 0) {
		for (i = 0; i < n; i++)
			for (j = 0; j < i; j++)
				if (strcmp(u[i].us_name, u[j].us_name) == 0)
					abort();
		users_free(u, n);
	}
	errors_free(&errs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*buf;

	/* An exact copy, so that a read past the end is caught. */
	if ((buf = malloc(len ? len : 1)) == NULL)
		return (0);
	memcpy(buf, data, len);
	check_basic(buf, len);
	check_users(buf, len);
	free(buf);
	return (0);
}
