/*
 * http.c -- request heads: find their end, parse and validate them.
 *
 * Strict on purpose: a proxy that reads a head differently from the
 * server behind it can be made to smuggle requests. Lines end with CRLF
 * only (a bare CR or LF is an error), obs-fold is refused, header names
 * are tokens, values hold no control characters. No libevent here: the
 * parser is fuzzed on its own.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "proxy.h"

/*
 * Length of the head in buf (through the blank line that ends it), or -1
 * when the end has not arrived yet. A bare-LF blank line counts as an end
 * too, so that such a head is refused at once rather than waited for.
 */
ssize_t
http_head_end(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len;

	if (len == 0)
		return (-1);
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p++;
		if (p < end && *p == '\n')
			return (p + 1 - buf);
		if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
			return (p + 2 - buf);
	}
	return (-1);
}

static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Find the CRLF ending the line at p; NULL if the line is malformed. */
static const char *
line_end(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (*p == '\r')
			return (p + 1 < end && p[1] == '\n' ? p : NULL);
		if (*p == '\n' || *p == '\0')
			return (NULL);
	}
	return (NULL);
}

/* Like line_end, but a bare LF also ends a line (upstream responses). */
static const char *
line_end_lenient(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (*p == '\n')
			return (p);
		if (*p == '\r')
			return (p + 1 < end && p[1] == '\n' ? p : NULL);
		if (*p == '\0')
			return (NULL);
	}
	return (NULL);
}

/*
 * Header lines from p to the blank line that ends the head. Returns 0, or
 * the status to answer (400, 431) with *why.
 */
static int
parse_headers(const char *p, const char *end, struct http_header *hdrs,
    size_t maxhdrs, size_t *nhdrs, int lenient, const char **why)
{
	const char		*eol, *sp, *next;
	struct http_header	*h;

	*nhdrs = 0;
	while (p < end) {
		eol = lenient ? line_end_lenient(p, end) : line_end(p, end);
		if (eol == NULL) {
			*why = "header line not ended by CRLF";
			return (400);
		}
		next = eol + (*eol == '\r' ? 2 : 1);
		if (eol == p) {
			if (next == end)
				return (0);
			*why = "data after the end of the head";
			return (400);
		}
		if (*p == ' ' || *p == '\t') {
			*why = "obsolete line folding";
			return (400);
		}
		if (*nhdrs == maxhdrs) {
			*why = "too many header lines";
			return (431);
		}
		h = &hdrs[*nhdrs];
		for (sp = p; sp < eol && is_tchar((unsigned char)*sp); sp++)
			;
		if (sp == p || sp == eol || *sp != ':') {
			*why = "bad header name";
			return (400);
		}
		h->hh_name = p;
		h->hh_namelen = (size_t)(sp - p);
		for (p = sp + 1; p < eol && (*p == ' ' || *p == '\t'); p++)
			;
		for (sp = p; sp < eol; sp++) {
			unsigned char c = (unsigned char)*sp;
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				*why = "control character in header value";
				return (400);
			}
		}
		while (sp > p && (sp[-1] == ' ' || sp[-1] == '\t'))
			sp--;
		h->hh_value = p;
		h->hh_valuelen = (size_t)(sp - p);
		(*nhdrs)++;
		p = next;
	}
	*why = "head not ended by an empty line";
	return (400);
}

/*
 * Parse the head buf[0..len) (as measured by http_head_end) into rq, whose
 * pointers refer into buf. Returns 0, or the status to answer (400, 431)
 * with *why set.
 */
int
http_parse_head(const char *buf, size_t len, struct http_request *rq,
    const char **why)
{
	const char		*p = buf, *end = buf + len, *eol, *sp;

	memset(rq, 0, sizeof *rq);
	if ((eol = line_end(p, end)) == NULL) {
		*why = "request line not ended by CRLF";
		return (400);
	}
	/* method SP request-target SP HTTP-version */
	for (sp = p; sp < eol && is_tchar((unsigned char)*sp); sp++)
		;
	if (sp == p || sp == eol || *sp != ' ') {
		*why = "bad method";
		return (400);
	}
	rq->rq_method = p;
	rq->rq_methodlen = (size_t)(sp - p);
	p = sp + 1;
	for (sp = p; sp < eol && (unsigned char)*sp > 0x20 &&
	    (unsigned char)*sp < 0x7f; sp++)
		;
	if (sp == p || sp == eol || *sp != ' ') {
		*why = "bad request target";
		return (400);
	}
	rq->rq_target = p;
	rq->rq_targetlen = (size_t)(sp - p);
	p = sp + 1;
	if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1')) {
		*why = "bad HTTP version";
		return (400);
	}
	rq->rq_minor = p[7] - '0';
	p = eol + 2;

	return (parse_headers(p, end, rq->rq_headers, HG_MAX_HEADERS,
	    &rq->rq_nheaders, 0, why));
}

/*
 * Parse an upstream's response head (as measured by http_head_end).
 * Returns 0, or -1 with *why. Servers are allowed bare-LF line ends.
 */
int
http_parse_response(const char *buf, size_t len, struct http_response *rs,
    const char **why)
{
	const char	*p = buf, *end = buf + len, *eol, *q;

	memset(rs, 0, sizeof *rs);
	if ((eol = line_end_lenient(p, end)) == NULL) {
		*why = "status line not ended";
		return (-1);
	}
	if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9') {
		*why = "bad status line";
		return (-1);
	}
	rs->rs_minor = p[7] - '0';
	rs->rs_status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	q = p + 12;
	if (q < eol && *q != ' ') {
		*why = "bad status line";
		return (-1);
	}
	if (q < eol)
		q++;
	while (eol > q && eol[-1] == '\r')
		eol--;
	rs->rs_reason = q;
	rs->rs_reasonlen = (size_t)(eol - q);
	for (; q < eol; q++) {
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			*why = "control character in reason phrase";
			return (-1);
		}
	}
	p = (const char *)memchr(p, '\n', (size_t)(end - p)) + 1;
	if (parse_headers(p, end, rs->rs_headers, HG_MAX_RESPONSE_HEADERS,
	    &rs->rs_nheaders, 1, why) != 0)
		return (-1);
	return (0);
}

/* Case-insensitive comparison of s[0..len) with a token. */
int
http_token_eq(const char *s, size_t len, const char *tok)
{
	return (strlen(tok) == len && strncasecmp(s, tok, len) == 0);
}

int
http_method_is(const struct http_request *rq, const char *m)
{
	size_t	len = strlen(m);

	return (rq->rq_methodlen == len && memcmp(rq->rq_method, m, len) == 0);
}
