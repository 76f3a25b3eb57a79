/*
 * http1.c -- HTTP/1.x messages (RFC 9112): the empty lines before a start
 * line, heads (find their end, parse and validate them), how a body is
 * framed, chunk-size lines and trailer sections.
 *
 * Strict on purpose: a proxy that reads a message differently from the
 * server behind it can be made to smuggle requests. Lines end with CRLF
 * only (a bare CR or LF is an error; an upstream's response head may use
 * bare LF), obs-fold is refused, field names are tokens, values hold no
 * control characters. No libevent here: the parser is fuzzed on its own.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "wire/wire.h"

/*
 * The empty lines (CRLF) at the start of buf, before a request line or a
 * status line (RFC 9112 section 2.2: a recipient should ignore at least
 * one). Returns the number of bytes to skip, 0 when there are none, at
 * most 2 * max; HTTP_MORE when buf ends in a CR that may be followed by
 * its LF; HTTP_BAD with *why for more than max empty lines, a bare LF, or
 * a CR without its LF. When the result is a length smaller than len, the
 * byte there is neither CR nor LF.
 */
ssize_t
http_skip_empty_lines(const char *buf, size_t len, unsigned max,
    const char **why)
{
	size_t		i = 0;
	unsigned	n = 0;

	while (i < len && (buf[i] == '\r' || buf[i] == '\n')) {
		if (buf[i] == '\n') {
			*why = "bare LF before the start line";
			return (HTTP_BAD);
		}
		if (n == max) {
			*why = "too many empty lines before the start line";
			return (HTTP_BAD);
		}
		if (i + 1 == len)
			return (HTTP_MORE);
		if (buf[i + 1] != '\n') {
			*why = "CR without LF before the start line";
			return (HTTP_BAD);
		}
		i += 2;
		n++;
	}
	return ((ssize_t)i);
}

/*
 * Length of the head in buf (through the blank line that ends it), or -1
 * (HTTP_MORE) when the end has not arrived yet. buf starts where
 * http_skip_empty_lines() left off. A bare-LF blank line counts as an end
 * too, and so does a CR followed by anything but LF (the head ends after
 * that CR), so that such a head is refused at once by the parsers rather
 * than waited for.
 */
ssize_t
http_head_end(const char *buf, size_t len)
{
	const char	*p, *end = buf + len;

	for (p = buf; p < end; p++) {
		if (*p == '\r') {
			if (p + 1 < end && p[1] != '\n')
				return (p + 1 - buf);
			continue;
		}
		if (*p != '\n')
			continue;
		if (p + 1 < end && p[1] == '\n')
			return (p + 2 - buf);
		if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
			return (p + 3 - buf);
	}
	return (HTTP_MORE);
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

/* Does the line at p hold a NUL (the reason line_end failed)? */
static int
nul_in_line(const char *p, const char *end)
{
	for (; p < end && *p != '\r' && *p != '\n'; p++)
		if (*p == '\0')
			return (1);
	return (0);
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
			*why = nul_in_line(p, end) ? "NUL in a header line" :
			    "header line not ended by CRLF";
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
 * Parse the head buf[0..len) (as measured by http_head_end, after the
 * empty lines http_skip_empty_lines skipped) into rq, whose pointers refer
 * into buf. Returns 0, or the status to answer (400, 431) with *why set.
 */
int
http_parse_head(const char *buf, size_t len, struct http_request *rq,
    const char **why)
{
	const char		*p = buf, *end = buf + len, *eol, *sp;

	memset(rq, 0, sizeof *rq);
	if (len > 0 && (*p == '\r' || *p == '\n')) {
		*why = "empty line before the request line";
		return (400);
	}
	if ((eol = line_end(p, end)) == NULL) {
		*why = nul_in_line(p, end) ? "NUL in the request line" :
		    "request line not ended by CRLF";
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
 * Parse an upstream's response head (as measured by http_head_end, after
 * the empty lines http_skip_empty_lines skipped). Returns 0, or -1 with
 * *why. Servers are allowed bare-LF line ends.
 */
int
http_parse_response(const char *buf, size_t len, struct http_response *rs,
    const char **why)
{
	const char	*p = buf, *end = buf + len, *eol, *q;

	memset(rs, 0, sizeof *rs);
	if (len > 0 && (*p == '\r' || *p == '\n')) {
		*why = "empty line before the status line";
		return (-1);
	}
	if ((eol = line_end_lenient(p, end)) == NULL) {
		*why = nul_in_line(p, end) ? "NUL in the status line" :
		    "status line not ended";
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
	/* reason-phrase = *( HTAB / SP / VCHAR / obs-text ) */
	for (; q < eol; q++) {
		if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) {
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
static int
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

/*
 * How the body of a parsed request is framed (RFC 9112 section 6.3):
 * http_body_framing, and a Transfer-Encoding from an HTTP/1.0 client is
 * refused (section 6.1: its framing is faulty). Returns 0 with *kind and
 * *len, or -1 with *why (answer 400).
 */
int
http_request_framing(const struct http_request *rq, enum body_kind *kind,
    uint64_t *len, const char **why)
{
	if (http_body_framing(rq->rq_headers, rq->rq_nheaders, kind, len,
	    why) != 0)
		return (-1);
	if (*kind == BODY_CHUNKED && rq->rq_minor == 0) {
		*why = "Transfer-Encoding in an HTTP/1.0 request";
		return (-1);
	}
	return (0);
}

/*
 * How the body of a parsed response is framed (RFC 9112 section 6.3): none
 * for the answer to a HEAD request (head set) and for 1xx, 204 and 304
 * whatever their fields say, else from Content-Length or
 * Transfer-Encoding, else up to the upstream's close (BODY_CLOSE). As for
 * requests, a Transfer-Encoding in an HTTP/1.0 response is refused.
 * Returns 0 with *kind and *len, or -1 with *why (answer 502).
 */
int
http_response_framing(const struct http_response *rs, int head,
    enum body_kind *kind, uint64_t *len, const char **why)
{
	*kind = BODY_NONE;
	*len = 0;
	if (head || rs->rs_status < 200 || rs->rs_status == 204 ||
	    rs->rs_status == 304)
		return (0);
	if (http_body_framing(rs->rs_headers, rs->rs_nheaders, kind, len,
	    why) != 0)
		return (-1);
	if (*kind == BODY_CHUNKED && rs->rs_minor == 0) {
		*why = "Transfer-Encoding in an HTTP/1.0 response";
		return (-1);
	}
	if (*kind == BODY_NONE && !http_has_header(rs->rs_headers,
	    rs->rs_nheaders, "content-length"))
		*kind = BODY_CLOSE;
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
	return (http_response_framing(&rs, 0, &fh->fh_body, &fh->fh_length,
	    why));
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

/* The value of a hex digit, or -1. */
int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* What a strictly CRLF-ended line is refused for, in its own words. */
struct line_faults {
	const char	*lf_long;	/* past the limit */
	const char	*lf_bare_lf;	/* LF without CR */
	const char	*lf_lone_cr;	/* CR without LF */
};

/*
 * The CR of the CRLF that ends the line starting at buf[from]: its index,
 * HTTP_MORE when it has not arrived, or HTTP_BAD with *why for a bare LF,
 * a CR without LF, or no CRLF before buf[max].
 */
static ssize_t
crlf_line_end(const char *buf, size_t from, size_t len, size_t max,
    const struct line_faults *lf, const char **why)
{
	size_t	i;

	for (i = from; i < len; i++) {
		if (i >= max) {
			*why = lf->lf_long;
			return (HTTP_BAD);
		}
		if (buf[i] == '\n') {
			*why = lf->lf_bare_lf;
			return (HTTP_BAD);
		}
		if (buf[i] != '\r')
			continue;
		if (i + 1 == len)
			break;
		if (buf[i + 1] != '\n') {
			*why = lf->lf_lone_cr;
			return (HTTP_BAD);
		}
		return ((ssize_t)i);
	}
	return (HTTP_MORE);
}

/*
 * The chunk-size line at the start of buf: its length without the CRLF
 * that ends it (the caller consumes two bytes more), HTTP_MORE when the
 * CRLF has not arrived, or HTTP_BAD with *why for a bare LF, a CR without
 * LF, or a line longer than HG_MAX_CHUNK_LINE.
 */
ssize_t
http_chunk_line_end(const char *buf, size_t len, const char **why)
{
	static const struct line_faults lf = {
		"chunk-size line too long",
		"chunk-size line ended by a bare LF",
		"CR without LF in a chunk-size line"
	};

	return (crlf_line_end(buf, 0, len, HG_MAX_CHUNK_LINE + 1, &lf, why));
}

static const char *
skip_bws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return (p);
}

static const char *
skip_token(const char *p, const char *end)
{
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	return (p);
}

/*
 * A quoted-string starting at p (at its opening quote): the end of it, or
 * NULL. qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text, and
 * quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) (RFC 9110 5.6.4).
 */
static const char *
skip_quoted(const char *p, const char *end)
{
	unsigned char	c;

	for (p++; p < end; p++) {
		c = (unsigned char)*p;
		if (c == '"')
			return (p + 1);
		if (c == '\\') {
			if (++p == end)
				return (NULL);
			c = (unsigned char)*p;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return (NULL);
	}
	return (NULL);
}

/*
 * Parse a chunk-size line (RFC 9112 section 7.1.1), line[0..len) without
 * its CRLF as measured by http_chunk_line_end:
 *
 *	chunk-size [ chunk-ext ]
 *	chunk-size	= 1*HEXDIG
 *	chunk-ext	= *( BWS ";" BWS chunk-ext-name
 *			    [ BWS "=" BWS chunk-ext-val ] )
 *	chunk-ext-name	= token
 *	chunk-ext-val	= token / quoted-string
 *
 * BWS is *( SP / HTAB ): whitespace is allowed around ";" and "=", never
 * at the start or end of the line, nor after a size without an
 * extension. Extensions are checked, then ignored. Returns 0 with *size
 * (at most HG_MAX_CHUNK_SIZE; 0 is the last chunk), or -1 with *why.
 */
int
http_chunk_line(const char *line, size_t len, uint64_t *size,
    const char **why)
{
	const char	*p = line, *end = line + len, *q;
	uint64_t	 v = 0;
	int		 d;

	*size = 0;
	if (p == end || hex_value((unsigned char)*p) < 0) {
		*why = "chunk size is not a hex number";
		return (-1);
	}
	for (; p < end && (d = hex_value((unsigned char)*p)) >= 0; p++) {
		if (v > (HG_MAX_CHUNK_SIZE - (uint64_t)d) / 16) {
			*why = "chunk size too large";
			return (-1);
		}
		v = v * 16 + (uint64_t)d;
	}
	while (p < end) {
		if ((p = skip_bws(p, end)) == end) {
			*why = "whitespace at the end of a chunk-size line";
			return (-1);
		}
		if (*p != ';') {
			*why = "bad character in a chunk-size line";
			return (-1);
		}
		p = skip_bws(p + 1, end);
		if ((q = skip_token(p, end)) == p) {
			*why = "empty or bad chunk extension name";
			return (-1);
		}
		p = q;
		q = skip_bws(p, end);
		if (q == end || *q != '=')
			continue;
		p = skip_bws(q + 1, end);
		if (p < end && *p == '"') {
			if ((p = skip_quoted(p, end)) == NULL) {
				*why = "bad quoted chunk extension value";
				return (-1);
			}
		} else if ((q = skip_token(p, end)) == p) {
			*why = "empty or bad chunk extension value";
			return (-1);
		} else
			p = q;
	}
	*size = v;
	return (0);
}

/*
 * The trailer section at the start of buf, after the last chunk's line:
 * its length through the empty line that ends it (2 when it has no
 * fields), HTTP_MORE when that has not arrived, or HTTP_BAD with *why for
 * a line not ended by CRLF or a section longer than
 * HG_MAX_TRAILER_SECTION.
 */
ssize_t
http_trailers_end(const char *buf, size_t len, const char **why)
{
	static const struct line_faults lf = {
		"trailer section too long",
		"trailer line ended by a bare LF",
		"CR without LF in the trailer section"
	};
	size_t	start = 0;
	ssize_t	cr;

	for (;;) {
		cr = crlf_line_end(buf, start, len, HG_MAX_TRAILER_SECTION,
		    &lf, why);
		if (cr < 0)
			return (cr);
		if ((size_t)cr + 1 >= HG_MAX_TRAILER_SECTION) {
			*why = lf.lf_long;
			return (HTTP_BAD);
		}
		if ((size_t)cr == start)
			return (cr + 2);
		start = (size_t)cr + 2;	/* the next line */
	}
}

/*
 * Parse a trailer section (as measured by http_trailers_end): field lines
 * with the grammar of a head's, into hdrs (at most max; pointers into
 * buf), their number in *n. Returns 0, or -1 with *why (answer 400 to a
 * client, 502 for an upstream).
 */
int
http_parse_trailers(const char *buf, size_t len, struct http_header *hdrs,
    size_t max, size_t *n, const char **why)
{
	int	rc;

	rc = parse_headers(buf, buf + len, hdrs, max, n, 0, why);
	if (rc == 431)
		*why = "too many trailer fields";
	return (rc == 0 ? 0 : -1);
}

/*
 * Fields that must not be passed on in a trailer section, by what they do
 * (RFC 9110 section 6.5.1: fields that frame or route the message, modify
 * the request, authenticate, control the response or describe the content
 * are evaluated before the content and cannot be processed afterwards),
 * plus the hop-by-hop fields of section 7.6.1 (and every Proxy-* field).
 */
static const char *const trailer_refused[] = {
	/* message framing (RFC 9112 section 6) */
	"content-length", "transfer-encoding", "trailer",
	/* hop-by-hop (RFC 9110 section 7.6.1) */
	"connection", "keep-alive", "te", "upgrade",
	/* routing (RFC 9110 sections 7.2, 7.6.2, 7.6.3) */
	"host", "max-forwards", "via",
	/* request modifiers: controls (RFC 9110 sections 10.1, 14.2; RFC
	 * 9111 section 5) */
	"cache-control", "expect", "pragma", "range",
	/* request modifiers: conditionals (RFC 9110 section 13.1) */
	"if-match", "if-none-match", "if-modified-since",
	"if-unmodified-since", "if-range",
	/* authentication (RFC 9110 section 11; cookies, RFC 6265) */
	"authorization", "www-authenticate", "authentication-info",
	"cookie", "set-cookie",
	/* response control data (RFC 9110 sections 6.6.1, 10.2, 12.5.5;
	 * RFC 9111 sections 5.1, 5.3) */
	"age", "date", "expires", "location", "retry-after", "vary",
	/* how to process the content (RFC 9110 section 8) */
	"content-encoding", "content-type", "content-range",
	NULL
};

/*
 * May the trailer field named name[0..len) be passed on (and sent in the
 * re-framed body)? No for the fields above; the caller also drops the
 * fields the message's Connection header names.
 */
int
http_trailer_forwardable(const char *name, size_t len)
{
	size_t	i;

	if (len >= 6 && strncasecmp(name, "proxy-", 6) == 0)
		return (0);
	for (i = 0; trailer_refused[i] != NULL; i++)
		if (http_token_eq(name, len, trailer_refused[i]))
			return (0);
	return (1);
}
