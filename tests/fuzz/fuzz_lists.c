/*
 * fuzz_lists.c -- libFuzzer target for what a list download reads: the
 * response head (http_fetch_head() on the head http_head_end() measures),
 * the cache metadata file (listmeta_parse()), the URL of a list and of a
 * redirect (url_parse()), and the entry count between two copies
 * (listsrc_diff(), the input split at its first NUL).
 *
 * Checks, beyond memory errors:
 *  - an accepted head has a status from 100 to 599; its Location, ETag and
 *    Last-Modified point into the head and hold no control bytes; a 1xx,
 *    204 or 304 has no body; a length-framed body has a length;
 *  - accepted metadata formats to a file that parses to the same values;
 *  - an accepted URL has a host, a port and a path starting with "/" and
 *    free of spaces and control bytes, and the https:// URL built from
 *    those parts parses to the same parts (when not too long);
 *  - a copy differs from itself by nothing, and the difference is
 *    symmetric.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_span(const char *p, size_t len, const char *buf, size_t buflen)
{
	size_t	i;

	if (p == NULL)
		return;
	if (p < buf || len > buflen || p + len > buf + buflen)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
			abort();
}

static void
fuzz_head(const char *buf, size_t len)
{
	struct http_fetch_head	 fh;
	const char		*why = NULL;
	ssize_t			 hlen;

	if ((hlen = http_head_end(buf, len)) < 0)
		return;
	if ((size_t)hlen > len)
		abort();
	if (http_fetch_head(buf, (size_t)hlen, &fh, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (fh.fh_status < 100 || fh.fh_status > 599)
		abort();
	check_span(fh.fh_location, fh.fh_locationlen, buf, (size_t)hlen);
	check_span(fh.fh_etag, fh.fh_etaglen, buf, (size_t)hlen);
	check_span(fh.fh_modified, fh.fh_modifiedlen, buf, (size_t)hlen);
	if ((fh.fh_status < 200 || fh.fh_status == 204 ||
	    fh.fh_status == 304) && fh.fh_body != BODY_NONE)
		abort();
	if (fh.fh_body == BODY_LENGTH && fh.fh_length == 0)
		abort();
}

static void
fuzz_meta(const char *buf, size_t len)
{
	struct hg_listmeta	 lm, again;
	const char		*why = NULL;
	char			*text;

	if (listmeta_parse(buf, len, &lm, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	text = listmeta_format(&lm, "https://list.test/l.txt");
	if (listmeta_parse(text, strlen(text), &again, &why) != 0 ||
	    memcmp(&lm, &again, sizeof lm) != 0)
		abort();
	free(text);
}

static void
fuzz_url(const char *s)
{
	struct hg_url	 u, again;
	const char	*why = NULL, *p;
	char		*rebuilt;

	if (url_parse(s, &u, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (u.u_host[0] == '\0' || u.u_port == 0 || u.u_path[0] != '/')
		abort();
	for (p = u.u_path; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#')
			abort();
	if (asprintf(&rebuilt, u.u_v6 ? "https://[%s]:%u%s" :
	    "https://%s:%u%s", u.u_host, u.u_port, u.u_path) == -1)
		abort();
	/* The port written out may make it too long: that one is refused. */
	if (strlen(rebuilt) <= HG_MAX_URL && (url_parse(rebuilt, &again,
	    &why) != 0 ||
	    strcmp(u.u_host, again.u_host) != 0 || u.u_port != again.u_port ||
	    strcmp(u.u_path, again.u_path) != 0 || u.u_v6 != again.u_v6))
		abort();
	free(rebuilt);
}

static void
fuzz_diff(const char *buf, size_t len)
{
	const char	*nul = memchr(buf, '\0', len);
	size_t		 alen, blen, a1, r1, a2, r2;

	alen = nul ? (size_t)(nul - buf) : len / 2;
	blen = len - alen - (nul ? 1 : 0);
	listsrc_diff(buf, alen, buf, alen, &a1, &r1);
	if (a1 != 0 || r1 != 0)
		abort();
	listsrc_diff(buf, alen, buf + len - blen, blen, &a1, &r1);
	listsrc_diff(buf + len - blen, blen, buf, alen, &a2, &r2);
	if (a1 != r2 || r1 != a2)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*buf;

	/* An exact copy, so that a read past the end is caught. */
	buf = malloc(size + 1);
	if (buf == NULL)
		return (0);
	memcpy(buf, data, size);
	fuzz_head(buf, size);
	fuzz_meta(buf, size);
	fuzz_diff(buf, size);
	buf[size] = '\0';
	if (strlen(buf) == size)
		fuzz_url(buf);
	free(buf);
	return (0);
}
