/*
 * http.c -- request heads: find their end, parse and validate them.
 *
 * Strict on purpose: a proxy that reads a head differently from the
 * server behind it can be made to smuggle requests. Lines end with CRLF
 * only (a bare CR or LF is an error), obs-fold is refused, header names
 * are tokens, values hold no control characters. No libevent here: the
 * parser is fuzzed on its own. Also how a body is framed, for forwarding
 * and for list downloads.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "wire/wire.h"

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

/*
 * Split a comma-separated header value; calls fn for each trimmed token.
 */
void
http_each_token(const char *v, size_t len, void (*fn)(const char *, size_t,
    void *), void *arg)
{
	const char	*end = v + len, *t, *e;

	while (v < end) {
		t = v;
		while (v < end && *v != ',')
			v++;
		e = v;
		while (t < e && (*t == ' ' || *t == '\t'))
			t++;
		while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > t)
			fn(t, (size_t)(e - t), arg);
		if (v < end)
			v++;
	}
}

struct lengths {
	int		ln_count;
	int		ln_bad;
	uint64_t	ln_value;
};

static void
length_token(const char *t, size_t len, void *arg)
{
	struct lengths	*ln = arg;
	uint64_t	 v = 0;
	size_t		 i;

	if (len == 0 || len > 18) {
		ln->ln_bad = 1;
		return;
	}
	for (i = 0; i < len; i++) {
		if (t[i] < '0' || t[i] > '9') {
			ln->ln_bad = 1;
			return;
		}
		v = v * 10 + (uint64_t)(t[i] - '0');
	}
	if (ln->ln_count++ > 0 && v != ln->ln_value)
		ln->ln_bad = 1;
	ln->ln_value = v;
}

/*
 * Work out how a message body is framed from its headers. Returns 0 with
 * *kind and *len, or -1 with *why when the framing is ambiguous.
 */
int
http_body_framing(const struct http_header *hdrs, size_t n,
    enum body_kind *kind, uint64_t *len, const char **why)
{
	struct lengths	 ln = { 0, 0, 0 };
	size_t		 i, nte = 0;
	const struct http_header *te = NULL;

	for (i = 0; i < n; i++) {
		if (http_token_eq(hdrs[i].hh_name, hdrs[i].hh_namelen,
		    "content-length")) {
			if (hdrs[i].hh_valuelen == 0) {
				*why = "empty Content-Length";
				return (-1);
			}
			http_each_token(hdrs[i].hh_value, hdrs[i].hh_valuelen,
			    length_token, &ln);
			if (ln.ln_count == 0)
				ln.ln_bad = 1;
		} else if (http_token_eq(hdrs[i].hh_name, hdrs[i].hh_namelen,
		    "transfer-encoding")) {
			nte++;
			te = &hdrs[i];
		}
	}
	if (ln.ln_bad) {
		*why = "invalid or conflicting Content-Length";
		return (-1);
	}
	if (nte > 0) {
		if (ln.ln_count > 0) {
			*why = "both Content-Length and Transfer-Encoding";
			return (-1);
		}
		if (nte > 1 || !http_token_eq(te->hh_value, te->hh_valuelen,
		    "chunked")) {
			*why = "Transfer-Encoding other than chunked";
			return (-1);
		}
		*kind = BODY_CHUNKED;
		*len = 0;
		return (0);
	}
	if (ln.ln_count > 0 && ln.ln_value > 0) {
		*kind = BODY_LENGTH;
		*len = ln.ln_value;
		return (0);
	}
	*kind = BODY_NONE;
	*len = 0;
	return (0);
}

/* Is there a header of this name? */
int
http_has_header(const struct http_header *hdrs, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (http_token_eq(hdrs[i].hh_name, hdrs[i].hh_namelen, name))
			return (1);
	return (0);
}

/* The value of the one header named name: 0 with *v and *vlen (NULL when
 * absent), or -1 when it appears more than once. */
static int
single_header(const struct http_response *rs, const char *name,
    const char **v, size_t *vlen)
{
	size_t	i;

	*v = NULL;
	*vlen = 0;
	for (i = 0; i < rs->rs_nheaders; i++) {
		if (!http_token_eq(rs->rs_headers[i].hh_name,
		    rs->rs_headers[i].hh_namelen, name))
			continue;
		if (*v != NULL)
			return (-1);
		*v = rs->rs_headers[i].hh_value;
		*vlen = rs->rs_headers[i].hh_valuelen;
	}
	return (0);
}

/*
 * Parse the response head of a list download (as measured by
 * http_head_end): status, how the body is framed, and the Location, ETag
 * and Last-Modified headers (pointers into buf). A body without a length
 * runs to the close. Returns 0, or -1 with *why.
 */
int
http_fetch_head(const char *buf, size_t len, struct http_fetch_head *fh,
    const char **why)
{
	struct http_response	rs;

	memset(fh, 0, sizeof *fh);
	if (http_parse_response(buf, len, &rs, why) != 0)
		return (-1);
	fh->fh_status = rs.rs_status;
	if (single_header(&rs, "location", &fh->fh_location,
	    &fh->fh_locationlen) != 0 || single_header(&rs, "etag",
	    &fh->fh_etag, &fh->fh_etaglen) != 0 || single_header(&rs,
	    "last-modified", &fh->fh_modified, &fh->fh_modifiedlen) != 0) {
		*why = "a header repeated (Location, ETag or Last-Modified)";
		return (-1);
	}
	if (rs.rs_status < 200 || rs.rs_status == 204 ||
	    rs.rs_status == 304) {
		fh->fh_body = BODY_NONE;
		return (0);
	}
	if (http_body_framing(rs.rs_headers, rs.rs_nheaders, &fh->fh_body,
	    &fh->fh_length, why) != 0)
		return (-1);
	if (fh->fh_body == BODY_NONE && !http_has_header(rs.rs_headers,
	    rs.rs_nheaders, "content-length"))
		fh->fh_body = BODY_CLOSE;
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

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/*
 * Decode base64 (RFC 4648, padded, no line breaks, no bits left over)
 * from in[0..len) into out (size n, NUL-terminated). Returns the decoded
 * length or -1.
 */
static ssize_t
b64_decode(const char *in, size_t len, char *out, size_t n)
{
	size_t		 i, o = 0, pad = 0;
	uint32_t	 acc = 0;
	int		 v;

	if (len == 0 || len % 4 != 0)
		return (-1);
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++) {
		if ((v = b64_value((unsigned char)in[i])) < 0)
			return (-1);
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			if (o + 3 >= n)
				return (-1);
			out[o++] = (char)(acc >> 16);
			out[o++] = (char)(acc >> 8);
			out[o++] = (char)acc;
			acc = 0;
		}
	}
	if (o + 2 >= n)
		return (-1);
	if (pad == 2) {
		if (acc & 0xf)
			return (-1);	/* bits that do not belong */
		out[o++] = (char)(acc >> 4);
	} else if (pad == 1) {
		if (acc & 0x3)
			return (-1);
		out[o++] = (char)(acc >> 10);
		out[o++] = (char)(acc >> 2);
	}
	out[o] = '\0';
	return ((ssize_t)o);
}

/*
 * A Proxy-Authorization value "Basic BASE64(user:password)" (scheme in
 * any case, RFC 7617). Fills user (size usz) and pass (size psz), both
 * NUL-terminated. Returns 0, or -1 with *why. The user name may not hold
 * control characters; the password may not hold NUL or CR/LF. Buffers
 * that held the password are wiped.
 */
int
basic_decode(const char *value, size_t len, char *user, size_t usz,
    char *pass, size_t psz, const char **why)
{
	char		 buf[HG_MAX_BASIC];
	const char	*p = value, *end = value + len, *colon;
	ssize_t		 n;
	size_t		 ulen, i;
	int		 rc = -1;

	user[0] = pass[0] = '\0';
	if (len < 6 || strncasecmp(value, "basic", 5) != 0 ||
	    (value[5] != ' ' && value[5] != '\t')) {
		*why = "not the Basic scheme";
		return (-1);
	}
	for (p += 5; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if ((size_t)(end - p) > (sizeof buf - 1) / 3 * 4) {
		*why = "credentials too long";
		return (-1);
	}
	if ((n = b64_decode(p, (size_t)(end - p), buf, sizeof buf)) < 0) {
		*why = "bad base64";
		return (-1);
	}
	if ((colon = memchr(buf, ':', (size_t)n)) == NULL) {
		*why = "no ':' between user and password";
		goto out;
	}
	ulen = (size_t)(colon - buf);
	if (ulen == 0 || ulen >= usz || (size_t)n - ulen - 1 >= psz) {
		*why = ulen == 0 ? "empty user name" : "user name or password "
		    "too long";
		goto out;
	}
	for (i = 0; i < (size_t)n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\0' || c == '\r' || c == '\n' ||
		    (i < ulen && (c < 0x20 || c == 0x7f))) {
			*why = "control character in credentials";
			goto out;
		}
	}
	memcpy(user, buf, ulen);
	user[ulen] = '\0';
	memcpy(pass, colon + 1, (size_t)n - ulen - 1);
	pass[(size_t)n - ulen - 1] = '\0';
	rc = 0;
out:
	explicit_bzero(buf, sizeof buf);
	return (rc);
}
