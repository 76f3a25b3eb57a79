/*
 * fuzz_http.c -- libFuzzer target for request heads: http_head_end() on
 * the input, http_parse_head() and http_parse_response() (an upstream's
 * answer) on the head it measures, and json_escape() (the decision log) on
 * the input as a string.
 *
 * Beyond memory errors, it checks what the callers rely on: the head end
 * lies inside the input, a refused head has a status of 400 or 431 and a
 * reason, and an accepted head points into the buffer at a method that is
 * a token, a target of visible characters and at most HG_MAX_HEADERS
 * headers whose names are tokens and whose values hold no control bytes;
 * an accepted response has a status from 100 to 599, a reason phrase
 * without control bytes and at most HG_MAX_RESPONSE_HEADERS headers.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	const char		*why;
	char			*buf, *str;
	ssize_t			 hlen;
	int			 status;

	/* An exact-size copy, so that any overread is caught. */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	hlen = http_head_end(buf, size);
	if (hlen < -1 || hlen == 0 || hlen > (ssize_t)size)
		abort();
	if (hlen > 0) {
		if ((rq = malloc(sizeof *rq)) == NULL)
			abort();
		why = NULL;
		status = http_parse_head(buf, (size_t)hlen, rq, &why);
		if (status == 0)
			check_request(rq, buf, (size_t)hlen);
		else if ((status != 400 && status != 431) || why == NULL ||
		    *why == '\0')
			abort();
		free(rq);
		if ((rs = malloc(sizeof *rs)) == NULL)
			abort();
		why = NULL;
		if (http_parse_response(buf, (size_t)hlen, rs, &why) == 0)
			check_response(rs, buf, (size_t)hlen);
		else if (why == NULL || *why == '\0')
			abort();
		free(rs);
	}
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
