/*
 * fuzz_http.c -- libFuzzer target for HTTP/1.x messages: the empty lines
 * before a start line (http_skip_empty_lines), then http_head_end() and
 * http_parse_head() and http_parse_response() (an upstream's answer) on
 * the head it measures; the input as a chunk-size line, as a chunked body
 * (chunk lines, trailer section) and as a trailer field name; and
 * json_escape() (the decision log) on the input as a string.
 *
 * Beyond memory errors, it checks what the callers rely on: the bytes
 * skipped are CRLF pairs within the bound and inside the input; the head
 * end lies inside the input, a refused head has a status of 400 or 431
 * and a reason, and an accepted head points into the buffer at a method
 * that is a token, a target of visible characters and at most
 * HG_MAX_HEADERS headers whose names are tokens and whose values hold no
 * control bytes; an accepted response has a status from 100 to 599, a
 * reason phrase without control bytes and at most HG_MAX_RESPONSE_HEADERS
 * headers. http_chunk_line accepts exactly the lines a small independent
 * recogniser of RFC 9112's grammar accepts, with the same size; a chunked
 * body it decodes, re-framed, decodes again to the same data and the same
 * bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire/wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
is_tchar(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL));
}

static int
inside(const char *p, size_t len, const char *buf, size_t buflen)
{
	return (p >= buf && len <= buflen && p + len <= buf + buflen);
}

static void
check_headers(const struct http_header *hdrs, size_t n, const char *buf,
    size_t len)
{
	const struct http_header	*h;
	size_t				 i, j;

	for (i = 0; i < n; i++) {
		h = &hdrs[i];
		if (h->hh_namelen == 0 ||
		    !inside(h->hh_name, h->hh_namelen, buf, len) ||
		    !inside(h->hh_value, h->hh_valuelen, buf, len))
			abort();
		for (j = 0; j < h->hh_namelen; j++)
			if (!is_tchar((unsigned char)h->hh_name[j]))
				abort();
		for (j = 0; j < h->hh_valuelen; j++) {
			unsigned char c = (unsigned char)h->hh_value[j];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				abort();
		}
		if (h->hh_valuelen > 0 && (h->hh_value[0] == ' ' ||
		    h->hh_value[0] == '\t' ||
		    h->hh_value[h->hh_valuelen - 1] == ' ' ||
		    h->hh_value[h->hh_valuelen - 1] == '\t'))
			abort();
	}
}

static void
check_request(const struct http_request *rq, const char *buf, size_t len)
{
	size_t	i;

	if (rq->rq_methodlen == 0 || rq->rq_targetlen == 0 ||
	    !inside(rq->rq_method, rq->rq_methodlen, buf, len) ||
	    !inside(rq->rq_target, rq->rq_targetlen, buf, len))
		abort();
	for (i = 0; i < rq->rq_methodlen; i++)
		if (!is_tchar((unsigned char)rq->rq_method[i]))
			abort();
	for (i = 0; i < rq->rq_targetlen; i++)
		if ((unsigned char)rq->rq_target[i] <= 0x20 ||
		    (unsigned char)rq->rq_target[i] >= 0x7f)
			abort();
	if (rq->rq_minor != 0 && rq->rq_minor != 1)
		abort();
	if (rq->rq_nheaders > HG_MAX_HEADERS)
		abort();
	check_headers(rq->rq_headers, rq->rq_nheaders, buf, len);
}

static void
check_response(const struct http_response *rs, const char *buf, size_t len)
{
	size_t	i;

	if (rs->rs_status < 100 || rs->rs_status > 599 ||
	    (rs->rs_minor != 0 && rs->rs_minor != 1) ||
	    rs->rs_nheaders > HG_MAX_RESPONSE_HEADERS ||
	    (rs->rs_reasonlen > 0 &&
	    !inside(rs->rs_reason, rs->rs_reasonlen, buf, len)))
		abort();
	for (i = 0; i < rs->rs_reasonlen; i++)
		if ((unsigned char)rs->rs_reason[i] < 0x20 &&
		    rs->rs_reason[i] != '\t')
			abort();
	check_headers(rs->rs_headers, rs->rs_nheaders, buf, len);
}

/*
 * The bytes skipped before a start line: CRLF pairs, at most max of them,
 * inside the input, and not followed by CR or LF; the waits and refusals
 * fit the input.
 */
static ssize_t
check_skip(const char *buf, size_t len, unsigned max)
{
	const char	*why = NULL;
	ssize_t		 r;
	size_t		 i;

	r = http_skip_empty_lines(buf, len, max, &why);
	if (r == HTTP_BAD) {
		if (why == NULL || *why == '\0')
			abort();
		return (r);
	}
	if (r == HTTP_MORE) {
		/* CRLFs, then a lone CR at the end */
		if (len % 2 != 1 || buf[len - 1] != '\r' || len / 2 >= max)
			abort();
		for (i = 0; i + 1 < len; i += 2)
			if (buf[i] != '\r' || buf[i + 1] != '\n')
				abort();
		return (r);
	}
	if (r < 0 || (size_t)r > len || r % 2 != 0 || (size_t)r / 2 > max)
		abort();
	for (i = 0; i < (size_t)r; i += 2)
		if (buf[i] != '\r' || buf[i + 1] != '\n')
			abort();
	if ((size_t)r < len && (buf[r] == '\r' || buf[r] == '\n'))
		abort();
	return (r);
}

static int
is_hex(unsigned char c)
{
	return (c != '\0' && strchr("0123456789abcdefABCDEF", c) != NULL);
}

/*
 * An independent recogniser of a chunk-size line (RFC 9112 section
 * 7.1.1), one state per place in the grammar. Returns 1 with *size when
 * line[0..len) is one (and its size is below 2^63), else 0.
 */
enum {
	CS_START,	/* before the first hex digit */
	CS_SIZE,	/* in the size; may end here */
	CS_BWS,		/* whitespace after the size or an extension */
	CS_SEMI,	/* after ";" (and whitespace) */
	CS_NAME,	/* in a name; may end here */
	CS_NAMEWS,	/* whitespace after a name */
	CS_EQ,		/* after "=" (and whitespace) */
	CS_TOKEN,	/* in a token value; may end here */
	CS_QUOTED,	/* in a quoted-string */
	CS_PAIR,	/* after a backslash in it */
	CS_CLOSED	/* after the closing quote; may end here */
};

static int
ref_chunk_line(const char *line, size_t len, uint64_t *size)
{
	char		 digits[32];
	size_t		 i, nd = 0, first;
	int		 st = CS_START;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		switch (st) {
		case CS_START:
		case CS_SIZE:
			if (is_hex(c)) {
				st = CS_SIZE;
				break;
			}
			if (st == CS_START)
				return (0);
			st = c == ';' ? CS_SEMI : (c == ' ' || c == '\t') ?
			    CS_BWS : -1;
			break;
		case CS_BWS:
			st = c == ';' ? CS_SEMI : (c == ' ' || c == '\t') ?
			    CS_BWS : -1;
			break;
		case CS_SEMI:
			st = is_tchar(c) ? CS_NAME : (c == ' ' || c == '\t') ?
			    CS_SEMI : -1;
			break;
		case CS_NAME:
		case CS_NAMEWS:
			if (st == CS_NAME && is_tchar(c))
				break;
			st = c == ';' ? CS_SEMI : c == '=' ? CS_EQ :
			    (c == ' ' || c == '\t') ? CS_NAMEWS : -1;
			break;
		case CS_EQ:
			st = c == '"' ? CS_QUOTED : is_tchar(c) ? CS_TOKEN :
			    (c == ' ' || c == '\t') ? CS_EQ : -1;
			break;
		case CS_TOKEN:
			if (is_tchar(c))
				break;
			st = c == ';' ? CS_SEMI : (c == ' ' || c == '\t') ?
			    CS_BWS : -1;
			break;
		case CS_QUOTED:
			if (c == '"')
				st = CS_CLOSED;
			else if (c == '\\')
				st = CS_PAIR;
			else if (c != '\t' && c != ' ' && c != 0x21 &&
			    !(c >= 0x23 && c <= 0x5b) &&
			    !(c >= 0x5d && c <= 0x7e) && c < 0x80)
				return (0);
			break;
		case CS_PAIR:
			if (c != '\t' && c != ' ' && (c < 0x21 || c == 0x7f))
				return (0);
			st = CS_QUOTED;
			break;
		case CS_CLOSED:
			st = c == ';' ? CS_SEMI : (c == ' ' || c == '\t') ?
			    CS_BWS : -1;
			break;
		}
		if (st < 0)
			return (0);
	}
	if (st != CS_SIZE && st != CS_NAME && st != CS_TOKEN &&
	    st != CS_CLOSED)
		return (0);
	/* The size: at most 16 significant digits, below 8000000000000000. */
	for (first = 0; first < len && line[first] == '0'; first++)
		;
	for (i = first; i < len && is_hex((unsigned char)line[i]); i++)
		if (nd < sizeof digits - 1)
			digits[nd++] = line[i];
	if (i - first > 16 || (i - first == 16 && strchr("89abcdefABCDEF",
	    line[first]) != NULL))
		return (0);
	digits[nd] = '\0';
	*size = nd == 0 ? 0 : strtoull(digits, NULL, 16);
	return (1);
}

/* http_chunk_line and http_chunk_line_end against the recogniser. */
static void
check_chunk_line(const char *buf, size_t len)
{
	const char	*why = NULL;
	uint64_t	 size = 1, ref = 2;
	ssize_t		 n;
	size_t		 i;
	int		 ok;

	ok = http_chunk_line(buf, len, &size, &why) == 0;
	if (ok != ref_chunk_line(buf, len, &ref) || (ok && size != ref) ||
	    (ok && size > HG_MAX_CHUNK_SIZE) || (!ok && (why == NULL ||
	    *why == '\0')))
		abort();

	n = http_chunk_line_end(buf, len, &why);
	if (n == HTTP_MORE) {
		for (i = 0; i < len; i++)
			if (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len))
				abort();
		if (len > HG_MAX_CHUNK_LINE + 1)
			abort();
	} else if (n >= 0) {
		if ((size_t)n > HG_MAX_CHUNK_LINE || (size_t)n + 2 > len ||
		    buf[n] != '\r' || buf[n + 1] != '\n' ||
		    memchr(buf, '\n', (size_t)n) != NULL ||
		    memchr(buf, '\r', (size_t)n) != NULL)
			abort();
	} else if (n != HTTP_BAD)
		abort();
}

/* A growing byte buffer. */
struct bytes {
	char	*b_buf;
	size_t	 b_len;
	size_t	 b_cap;
};

static void
bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->b_len + n > b->b_cap) {
		while (b->b_len + n > b->b_cap)
			b->b_cap = b->b_cap ? b->b_cap * 2 : 256;
		if ((b->b_buf = realloc(b->b_buf, b->b_cap)) == NULL)
			abort();
	}
	if (n > 0)
		memcpy(b->b_buf + b->b_len, p, n);
	b->b_len += n;
}

/*
 * Decode the chunked body at buf as the connection code does: data into
 * *data, the body re-framed into *out. Returns the bytes it took, or -1
 * (more needed, or refused).
 */
static ssize_t
decode_chunked(const char *buf, size_t len, struct bytes *data,
    struct bytes *out)
{
	struct http_header	 tr[HG_MAX_TRAILERS];
	const char		*p = buf, *why;
	size_t			 left = len, nt, i;
	ssize_t			 n, t;
	uint64_t		 size;
	char			 line[32];
	int			 ll;

	for (;;) {
		if ((n = http_chunk_line_end(p, left, &why)) < 0)
			return (-1);
		if (http_chunk_line(p, (size_t)n, &size, &why) != 0)
			return (-1);
		p += n + 2;
		left -= (size_t)n + 2;
		if (size == 0)
			break;
		if ((uint64_t)left < size + 2 || p[size] != '\r' ||
		    p[size + 1] != '\n')
			return (-1);
		bytes_add(data, p, (size_t)size);
		ll = snprintf(line, sizeof line, "%llx\r\n",
		    (unsigned long long)size);
		bytes_add(out, line, (size_t)ll);
		bytes_add(out, p, (size_t)size);
		bytes_add(out, "\r\n", 2);
		p += size + 2;
		left -= (size_t)size + 2;
	}
	if ((t = http_trailers_end(p, left, &why)) < 0)
		return (-1);
	if (t < 2 || (size_t)t > left || (size_t)t > HG_MAX_TRAILER_SECTION ||
	    p[t - 2] != '\r' || p[t - 1] != '\n')
		abort();
	if (http_parse_trailers(p, (size_t)t, tr, HG_MAX_TRAILERS, &nt,
	    &why) != 0) {
		if (why == NULL || *why == '\0')
			abort();
		return (-1);
	}
	if (nt > HG_MAX_TRAILERS)
		abort();
	check_headers(tr, nt, p, (size_t)t);
	bytes_add(out, "0\r\n", 3);
	for (i = 0; i < nt; i++) {
		if (!http_trailer_forwardable(tr[i].hh_name, tr[i].hh_namelen))
			continue;
		/* Hop-by-hop and framing fields never go on. */
		if (http_token_eq(tr[i].hh_name, tr[i].hh_namelen,
		    "content-length") || http_token_eq(tr[i].hh_name,
		    tr[i].hh_namelen, "transfer-encoding") ||
		    (tr[i].hh_namelen >= 6 && strncasecmp(tr[i].hh_name,
		    "proxy-", 6) == 0))
			abort();
		bytes_add(out, tr[i].hh_name, tr[i].hh_namelen);
		bytes_add(out, ": ", 2);
		bytes_add(out, tr[i].hh_value, tr[i].hh_valuelen);
		bytes_add(out, "\r\n", 2);
	}
	bytes_add(out, "\r\n", 2);
	return (p + t - buf);
}

/*
 * The input as a chunked body: when it decodes, its re-framed form
 * decodes to the same data and re-frames to the same bytes, all of it.
 */
static void
check_chunked(const char *buf, size_t len)
{
	struct bytes	data = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	struct bytes	data2 = { NULL, 0, 0 }, out2 = { NULL, 0, 0 };
	char		*copy;
	ssize_t		 used;

	used = decode_chunked(buf, len, &data, &out);
	if (used >= 0) {
		if ((size_t)used > len)
			abort();
		/* An exact copy, so that reading past the end is caught. */
		if ((copy = malloc(out.b_len)) == NULL)
			abort();
		memcpy(copy, out.b_buf, out.b_len);
		if (decode_chunked(copy, out.b_len, &data2, &out2) !=
		    (ssize_t)out.b_len || data2.b_len != data.b_len ||
		    out2.b_len != out.b_len ||
		    (data.b_len > 0 && memcmp(data.b_buf, data2.b_buf,
		    data.b_len) != 0) ||
		    memcmp(out.b_buf, out2.b_buf, out.b_len) != 0)
			abort();
		free(copy);
	}
	free(data.b_buf);
	free(out.b_buf);
	free(data2.b_buf);
	free(out2.b_buf);
}

/* Whether a trailer field may go on does not depend on the name's case. */
static void
check_forwardable(const char *buf, size_t len)
{
	char	*up;
	size_t	 i;

	if (len > 64)
		len = 64;
	if ((up = malloc(len ? len : 1)) == NULL)
		abort();
	for (i = 0; i < len; i++)
		up[i] = (buf[i] >= 'a' && buf[i] <= 'z') ? buf[i] - 32 :
		    buf[i];
	if (http_trailer_forwardable(buf, len) !=
	    http_trailer_forwardable(up, len))
		abort();
	free(up);
}

/* The output of json_escape must be printable ASCII with valid escapes. */
static void
check_json(const char *in, size_t outsize)
{
	char	*out = malloc(outsize ? outsize : 1);
	size_t	 n, i;

	if (out == NULL)
		abort();
	n = json_escape(out, outsize, in);
	if (outsize == 0) {
		if (n != 0)
			abort();
		free(out);
		return;
	}
	if (n >= outsize || out[n] != '\0' || strlen(out) != n)
		abort();
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c < 0x20 || c >= 0x7f || c == '"')
			abort();
		if (c != '\\')
			continue;
		if (i + 1 >= n)
			abort();
		if (out[i + 1] == '"' || out[i + 1] == '\\')
			i++;
		else if (out[i + 1] == 'u' && i + 5 < n)
			i += 5;
		else
			abort();
	}
	/* With room for the worst case nothing is cut. */
	if (outsize > strlen(in) * 6 && strlen(in) > 0 && n < strlen(in))
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request	*rq;
	struct http_response	*rs;
	const char		*why, *head;
	char			*buf, *str;
	ssize_t			 hlen, skip;
	size_t			 left;
	int			 status;

	/* An exact-size copy, so that any overread is caught. */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	check_skip(buf, size, size > 0 ? (unsigned char)buf[0] % 8 : 0);
	if ((skip = check_skip(buf, size, HG_MAX_EMPTY_LINES)) < 0)
		skip = 0;
	head = buf + skip;
	left = size - (size_t)skip;
	hlen = http_head_end(head, left);
	if (hlen < -1 || hlen == 0 || hlen > (ssize_t)left)
		abort();
	if (hlen > 0) {
		if ((rq = malloc(sizeof *rq)) == NULL)
			abort();
		why = NULL;
		status = http_parse_head(head, (size_t)hlen, rq, &why);
		if (status == 0)
			check_request(rq, head, (size_t)hlen);
		else if ((status != 400 && status != 431) || why == NULL ||
		    *why == '\0')
			abort();
		free(rq);
		if ((rs = malloc(sizeof *rs)) == NULL)
			abort();
		why = NULL;
		if (http_parse_response(head, (size_t)hlen, rs, &why) == 0)
			check_response(rs, head, (size_t)hlen);
		else if (why == NULL || *why == '\0')
			abort();
		free(rs);
	}
	check_chunk_line(buf, size);
	check_chunked(buf, size);
	check_forwardable(buf, size);
	free(buf);

	if ((str = malloc(size + 1)) == NULL)
		abort();
	memcpy(str, data, size);
	str[size] = '\0';
	check_json(str, size > 0 ? (size_t)data[0] : 0);
	check_json(str, size * 6 + 1);
	free(str);
	return (0);
}
