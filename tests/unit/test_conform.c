/*
 * test_conform.c -- HTTP/1.1 conformance (RFC 9112): every row of
 * tests/data/conformance/requests.tsv and responses.tsv is read the way
 * the connection code reads a message, with the pure parsers of wire/:
 * empty lines skipped, the head measured and parsed (a response's 1xx
 * heads too), the body framed, and a chunked body decoded by a small
 * decoder below that drives http_chunk_line and the trailer functions and
 * re-frames the body as a proxy sends it on. What it finds must be the
 * row's outcome and facts.
 *
 * Rows marked "integration" depend on the connection code (pipelining,
 * target forms, upgrades): they are checked for form and counted, and a
 * last case asserts that every other row ran.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"
#include "unit.h"

/* Columns of a row; facts (KEY=VALUE) follow. */
enum {
	CF_NAME = 0,
	CF_SECTION,
	CF_WHERE,
	CF_LLHTTP,
	CF_INPUT,
	CF_OUTCOME,
	CF_FACTS
};

enum side {
	SIDE_REQUEST,
	SIDE_RESPONSE
};

struct conform_table {
	const char		*ct_file;
	enum side		 ct_side;
	const char *const	*ct_sections;
	const char *const	*ct_outcomes;
};

static const char *const request_sections[] = {
	"empty", "request-line", "target", "fields", "framing", "chunked",
	"chunk-ext", "trailers", "pipelining", NULL
};
static const char *const response_sections[] = {
	"empty", "status-line", "fields", "framing", "interim", "chunked",
	"chunk-ext", "trailers", NULL
};
static const char *const request_outcomes[] = {
	"accept", "400", "431", "incomplete", NULL
};
static const char *const response_outcomes[] = {
	"accept", "502", "incomplete", NULL
};
static const char *const fact_keys[] = {
	"skip", "method", "target", "minor", "nh", "hdr", "status", "reason",
	"interim", "body", "sizes", "data", "out", "nt", "rest", "at", "why",
	"to", NULL
};
static const char *const stages[] = {
	"skip", "head", "framing", "body", "chunk", "trailers", "proxy", NULL
};

static const struct conform_table tables[] = {
	{ "conformance/requests.tsv", SIDE_REQUEST, request_sections,
	  request_outcomes },
	{ "conformance/responses.tsv", SIDE_RESPONSE, response_sections,
	  response_outcomes },
};

struct conform_row {
	const struct unit_line		*cr_line;
	const struct conform_table	*cr_table;
};

/* Counts for the last case. */
static size_t	nrows, nunit, nintegration, nran, nsame, ndiffers;

/* A growing byte buffer; the bytes are kept until exit. */
struct dbuf {
	char	*db_buf;
	size_t	 db_len;
	size_t	 db_cap;
};

static void
dbuf_add(struct dbuf *d, const void *p, size_t n)
{
	if (d->db_len + n + 1 > d->db_cap) {
		while (d->db_len + n + 1 > d->db_cap)
			d->db_cap = d->db_cap ? d->db_cap * 2 : 256;
		if ((d->db_buf = realloc(d->db_buf, d->db_cap)) == NULL)
			fail_msg("out of memory");
	}
	memcpy(d->db_buf + d->db_len, p, n);
	d->db_len += n;
	d->db_buf[d->db_len] = '\0';
}

/* Hand the bytes to the framework: freed at exit. */
static void
dbuf_keep(struct dbuf *d)
{
	if (d->db_buf != NULL)
		unit_keep(d->db_buf);
}

static void
dbuf_printf(struct dbuf *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dbuf_printf(struct dbuf *d, const char *fmt, ...)
{
	char	buf[64];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof buf);
	dbuf_add(d, buf, (size_t)n);
}

/* What reading a message found. */
struct found {
	const char		*fd_verdict;	/* an outcome word */
	const char		*fd_at;		/* where decided */
	const char		*fd_why;
	size_t			 fd_skip;
	struct http_request	*fd_rq;		/* parsed, or NULL */
	struct http_response	*fd_rs;
	struct dbuf		 fd_interim;	/* 1xx: "100,103" */
	char			 fd_body[32];	/* "length:5" */
	struct dbuf		 fd_sizes;	/* chunks: "10,0" */
	struct dbuf		 fd_data;	/* body data */
	struct dbuf		 fd_out;	/* re-framed body */
	size_t			 fd_nt;		/* trailers */
	const char		*fd_rest;	/* bytes after the message */
	size_t			 fd_restlen;
};

static void
found_stop(struct found *fd, const struct conform_row *cr, const char *at,
    const char *why, int status)
{
	if (status == 0)
		fd->fd_verdict = "incomplete";
	else if (cr->cr_table->ct_side == SIDE_RESPONSE)
		fd->fd_verdict = "502";
	else
		fd->fd_verdict = status == 431 ? "431" : "400";
	fd->fd_at = at;
	fd->fd_why = why != NULL ? why : "";
}

/*
 * A chunked body at p: decode it into fd_data, re-frame it into fd_out
 * (one chunk for each chunk received, the trailer fields that may be
 * passed on). Returns the bytes it took, or -1 when it stopped (*fd says
 * why).
 */
static ssize_t
decode_chunked(struct found *fd, const struct conform_row *cr,
    const char *buf, size_t len)
{
	struct http_header	 tr[HG_MAX_TRAILERS];
	const char		*p = buf, *why = NULL;
	size_t			 left = len, i;
	ssize_t			 n, t;
	uint64_t		 size;

	for (;;) {
		if ((n = http_chunk_line_end(p, left, &why)) < 0) {
			assert_true(n == HTTP_MORE || n == HTTP_BAD);
			found_stop(fd, cr, "chunk", why,
			    n == HTTP_MORE ? 0 : 1);
			return (-1);
		}
		assert_true((size_t)n + 2 <= left);
		if (http_chunk_line(p, (size_t)n, &size, &why) != 0) {
			found_stop(fd, cr, "chunk", why, 1);
			return (-1);
		}
		dbuf_printf(&fd->fd_sizes, "%s%" PRIu64,
		    fd->fd_sizes.db_len ? "," : "", size);
		p += n + 2;
		left -= (size_t)n + 2;
		if (size == 0)
			break;
		if ((uint64_t)left < size + 2) {
			found_stop(fd, cr, "chunk", NULL, 0);
			return (-1);
		}
		if (p[size] != '\r' || p[size + 1] != '\n') {
			found_stop(fd, cr, "chunk", "chunk data not followed "
			    "by CRLF", 1);
			return (-1);
		}
		dbuf_add(&fd->fd_data, p, (size_t)size);
		dbuf_printf(&fd->fd_out, "%" PRIx64 "\r\n", size);
		dbuf_add(&fd->fd_out, p, (size_t)size);
		dbuf_add(&fd->fd_out, "\r\n", 2);
		p += size + 2;
		left -= (size_t)size + 2;
	}
	if ((t = http_trailers_end(p, left, &why)) < 0) {
		assert_true(t == HTTP_MORE || t == HTTP_BAD);
		found_stop(fd, cr, "trailers", why, t == HTTP_MORE ? 0 : 1);
		return (-1);
	}
	assert_true(t >= 2 && (size_t)t <= left &&
	    (size_t)t <= HG_MAX_TRAILER_SECTION);
	if (http_parse_trailers(p, (size_t)t, tr, HG_MAX_TRAILERS, &fd->fd_nt,
	    &why) != 0) {
		found_stop(fd, cr, "trailers", why, 1);
		return (-1);
	}
	dbuf_add(&fd->fd_out, "0\r\n", 3);
	for (i = 0; i < fd->fd_nt; i++) {
		if (!http_trailer_forwardable(tr[i].hh_name,
		    tr[i].hh_namelen))
			continue;
		dbuf_add(&fd->fd_out, tr[i].hh_name, tr[i].hh_namelen);
		dbuf_add(&fd->fd_out, ": ", 2);
		dbuf_add(&fd->fd_out, tr[i].hh_value, tr[i].hh_valuelen);
		dbuf_add(&fd->fd_out, "\r\n", 2);
	}
	dbuf_add(&fd->fd_out, "\r\n", 2);
	p += t;
	return (p - buf);
}

/* Empty lines, then a head: its length, or -1 when it stopped. */
static ssize_t
read_head(struct found *fd, const struct conform_row *cr, const char *p,
    size_t left, size_t *skip)
{
	const char	*why = NULL;
	ssize_t		 r, hlen;

	r = http_skip_empty_lines(p, left, HG_MAX_EMPTY_LINES, &why);
	if (r < 0) {
		assert_true(r == HTTP_MORE || r == HTTP_BAD);
		found_stop(fd, cr, "skip", why, r == HTTP_MORE ? 0 : 1);
		return (-1);
	}
	assert_true((size_t)r <= left && r % 2 == 0 &&
	    r <= 2 * HG_MAX_EMPTY_LINES);
	assert_true((size_t)r == left || (p[r] != '\r' && p[r] != '\n'));
	*skip = (size_t)r;
	if ((hlen = http_head_end(p + r, left - (size_t)r)) < 0) {
		assert_int_equal(hlen, HTTP_MORE);
		found_stop(fd, cr, "head", NULL, 0);
		return (-1);
	}
	assert_true(hlen > 0 && (size_t)hlen <= left - (size_t)r);
	return (hlen);
}

/* Read the message buf[0..len) as the connection code does. */
static void
read_message(struct found *fd, const struct conform_row *cr,
    const char *buf, size_t len, int to_head)
{
	const char	*p = buf, *why = NULL;
	size_t		 left = len, skip;
	ssize_t		 hlen, used;
	enum body_kind	 kind;
	uint64_t	 blen;
	int		 status;

	if ((hlen = read_head(fd, cr, p, left, &fd->fd_skip)) < 0)
		return;
	p += fd->fd_skip;
	left -= fd->fd_skip;
	if (cr->cr_table->ct_side == SIDE_REQUEST) {
		fd->fd_rq = unit_keep(malloc(sizeof *fd->fd_rq));
		status = http_parse_head(p, (size_t)hlen, fd->fd_rq, &why);
		if (status != 0) {
			assert_true(status == 400 || status == 431);
			found_stop(fd, cr, "head", why, status);
			return;
		}
		p += hlen;
		left -= (size_t)hlen;
		if (http_method_is(fd->fd_rq, "CONNECT")) {
			/* What follows is the tunnel's. */
			snprintf(fd->fd_body, sizeof fd->fd_body, "tunnel");
			goto done;
		}
		if (http_request_framing(fd->fd_rq, &kind, &blen, &why) != 0) {
			found_stop(fd, cr, "framing", why, 400);
			return;
		}
	} else {
		fd->fd_rs = unit_keep(malloc(sizeof *fd->fd_rs));
		for (;;) {
			if (http_parse_response(p, (size_t)hlen, fd->fd_rs,
			    &why) != 0) {
				found_stop(fd, cr, "head", why, 502);
				return;
			}
			p += hlen;
			left -= (size_t)hlen;
			if (fd->fd_rs->rs_status == 101)
				fail_msg("a 101 response: the row must be "
				    "left to the integration test");
			if (fd->fd_rs->rs_status >= 200)
				break;
			/* 1xx: interim, the final response follows. */
			dbuf_printf(&fd->fd_interim, "%s%d",
			    fd->fd_interim.db_len ? "," : "",
			    fd->fd_rs->rs_status);
			if ((hlen = read_head(fd, cr, p, left, &skip)) < 0)
				return;
			p += skip;
			left -= skip;
		}
		if (http_response_framing(fd->fd_rs, to_head, &kind, &blen,
		    &why) != 0) {
			found_stop(fd, cr, "framing", why, 502);
			return;
		}
	}

	switch (kind) {
	case BODY_NONE:
		snprintf(fd->fd_body, sizeof fd->fd_body, "none");
		break;
	case BODY_LENGTH:
		snprintf(fd->fd_body, sizeof fd->fd_body, "length:%" PRIu64,
		    blen);
		if ((uint64_t)left < blen) {
			found_stop(fd, cr, "body", NULL, 0);
			return;
		}
		dbuf_add(&fd->fd_data, p, (size_t)blen);
		p += blen;
		left -= (size_t)blen;
		break;
	case BODY_CLOSE:
		snprintf(fd->fd_body, sizeof fd->fd_body, "close");
		dbuf_add(&fd->fd_data, p, left);
		p += left;
		left = 0;
		break;
	case BODY_CHUNKED:
		snprintf(fd->fd_body, sizeof fd->fd_body, "chunked");
		if ((used = decode_chunked(fd, cr, p, left)) < 0)
			return;
		p += used;
		left -= (size_t)used;
		break;
	}
done:
	fd->fd_verdict = "accept";
	fd->fd_rest = p;
	fd->fd_restlen = left;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return (1);
	return (0);
}

/* The value of fact KEY in the row, or NULL (the first one). */
static const char *
row_fact(const struct unit_line *ul, const char *key)
{
	size_t	i, n = strlen(key);

	for (i = CF_FACTS; i < ul->ul_nfields; i++)
		if (strncmp(ul->ul_fields[i], key, n) == 0 &&
		    ul->ul_fields[i][n] == '=')
			return (ul->ul_fields[i] + n + 1);
	return (NULL);
}

static void
check_bytes(const char *key, const char *want, const char *got,
    size_t gotlen)
{
	struct unit_bytes	w;

	if (unit_unescape(want, &w) != 0)
		fail_msg("fact %s: bad escape in '%s'", key, want);
	if (w.ub_len != gotlen || memcmp(w.ub_buf, got, gotlen) != 0)
		fail_msg("%s is '%s' (%zu bytes), want '%s' (%zu bytes)", key,
		    unit_show(got, gotlen), gotlen, unit_show(w.ub_buf,
		    w.ub_len), w.ub_len);
}

static void
check_number(const char *key, const char *want, unsigned long long got)
{
	char	*end;

	if (strtoull(want, &end, 10) != got || *end != '\0' || end == want)
		fail_msg("%s is %llu, want %s", key, got, want);
}

static void
check_string(const char *key, const char *want, const char *got)
{
	if (strcmp(want, got) != 0)
		fail_msg("%s is '%s', want '%s'", key, got, want);
}

/* hdr=NAME:VALUE, the nth header (value unescaped). */
static void
check_header(const char *want, const struct http_header *hdrs, size_t nhdrs,
    size_t nth)
{
	const struct http_header	*h;
	struct unit_bytes		 w;
	const char			*colon;

	if (unit_unescape(want, &w) != 0 ||
	    (colon = memchr(w.ub_buf, ':', w.ub_len)) == NULL)
		fail_msg("fact hdr=%s is not NAME:VALUE", want);
	if (nth >= nhdrs)
		fail_msg("header %zu (%s) missing: %zu parsed", nth, want,
		    nhdrs);
	h = &hdrs[nth];
	if (h->hh_namelen != (size_t)(colon - w.ub_buf) ||
	    memcmp(h->hh_name, w.ub_buf, h->hh_namelen) != 0 ||
	    h->hh_valuelen != w.ub_len - h->hh_namelen - 1 ||
	    memcmp(h->hh_value, colon + 1, h->hh_valuelen) != 0)
		fail_msg("header %zu is '%s:%s', want '%s'", nth,
		    unit_show(h->hh_name, h->hh_namelen),
		    unit_show(h->hh_value, h->hh_valuelen), want);
}

/* Compare what was found with the row's facts. */
static void
check_facts(const struct unit_line *ul, const struct found *fd)
{
	const struct http_header	*hdrs = NULL;
	const char			*key, *v, *eq;
	char				 k[16];
	size_t				 i, nhdrs = 0, nth = 0;
	int				 accepted;

	accepted = strcmp(fd->fd_verdict, "accept") == 0;
	if (fd->fd_rq != NULL && accepted) {
		hdrs = fd->fd_rq->rq_headers;
		nhdrs = fd->fd_rq->rq_nheaders;
	} else if (fd->fd_rs != NULL && accepted) {
		hdrs = fd->fd_rs->rs_headers;
		nhdrs = fd->fd_rs->rs_nheaders;
	}
	for (i = CF_FACTS; i < ul->ul_nfields; i++) {
		key = ul->ul_fields[i];
		eq = strchr(key, '=');
		snprintf(k, sizeof k, "%.*s", (int)(eq - key), key);
		v = eq + 1;
		if (strcmp(k, "to") == 0)
			continue;
		if (strcmp(k, "at") == 0) {
			check_string("at", v, fd->fd_at != NULL ? fd->fd_at :
			    "(accepted)");
			continue;
		}
		if (strcmp(k, "why") == 0) {
			if (fd->fd_why == NULL || strstr(fd->fd_why, v) == NULL)
				fail_msg("reason '%s' does not mention '%s'",
				    fd->fd_why ? fd->fd_why : "(none)", v);
			continue;
		}
		if (strcmp(k, "skip") == 0) {
			check_number(k, v, fd->fd_skip);
			continue;
		}
		if (strcmp(k, "sizes") == 0) {
			check_string(k, v, fd->fd_sizes.db_len ?
			    fd->fd_sizes.db_buf : "");
			continue;
		}
		if (!accepted)
			fail_msg("fact %s=%s on a message not accepted", k, v);
		if (strcmp(k, "method") == 0 && fd->fd_rq != NULL)
			check_bytes(k, v, fd->fd_rq->rq_method,
			    fd->fd_rq->rq_methodlen);
		else if (strcmp(k, "target") == 0 && fd->fd_rq != NULL)
			check_bytes(k, v, fd->fd_rq->rq_target,
			    fd->fd_rq->rq_targetlen);
		else if (strcmp(k, "minor") == 0)
			check_number(k, v, (unsigned long long)(fd->fd_rq ?
			    fd->fd_rq->rq_minor : fd->fd_rs->rs_minor));
		else if (strcmp(k, "status") == 0 && fd->fd_rs != NULL)
			check_number(k, v, (unsigned long long)
			    fd->fd_rs->rs_status);
		else if (strcmp(k, "reason") == 0 && fd->fd_rs != NULL)
			check_bytes(k, v, fd->fd_rs->rs_reason,
			    fd->fd_rs->rs_reasonlen);
		else if (strcmp(k, "interim") == 0)
			check_string(k, v, fd->fd_interim.db_len ?
			    fd->fd_interim.db_buf : "");
		else if (strcmp(k, "nh") == 0)
			check_number(k, v, nhdrs);
		else if (strcmp(k, "hdr") == 0)
			check_header(v, hdrs, nhdrs, nth++);
		else if (strcmp(k, "body") == 0)
			check_string(k, v, fd->fd_body);
		else if (strcmp(k, "data") == 0)
			check_bytes(k, v, fd->fd_data.db_buf,
			    fd->fd_data.db_len);
		else if (strcmp(k, "out") == 0)
			check_bytes(k, v, fd->fd_out.db_buf, fd->fd_out.db_len);
		else if (strcmp(k, "nt") == 0)
			check_number(k, v, fd->fd_nt);
		else if (strcmp(k, "rest") == 0)
			check_bytes(k, v, fd->fd_rest, fd->fd_restlen);
		else
			fail_msg("fact %s does not apply to this side", k);
	}
	/* Bytes after an accepted message are always stated. */
	if (accepted && row_fact(ul, "rest") == NULL && fd->fd_restlen != 0)
		fail_msg("%zu bytes after the message ('%s') and no rest= "
		    "fact", fd->fd_restlen, unit_show(fd->fd_rest,
		    fd->fd_restlen));
}

static void
test_row(void **state)
{
	const struct conform_row	*cr = *state;
	const struct unit_line		*ul = cr->cr_line;
	struct unit_bytes		 in;
	struct found			 fd;
	const char			*to;
	char				*copy;

	nran++;
	memset(&fd, 0, sizeof fd);
	assert_int_equal(unit_unescape(ul->ul_fields[CF_INPUT], &in), 0);
	/* An exact copy: reading past the message is caught. */
	copy = unit_keep(unit_exact_copy(in.ub_buf, in.ub_len));
	to = row_fact(ul, "to");
	read_message(&fd, cr, copy, in.ub_len, to != NULL &&
	    strcmp(to, "HEAD") == 0);
	dbuf_keep(&fd.fd_interim);
	dbuf_keep(&fd.fd_sizes);
	dbuf_keep(&fd.fd_data);
	dbuf_keep(&fd.fd_out);
	if (strcmp(fd.fd_verdict, ul->ul_fields[CF_OUTCOME]) != 0)
		fail_msg("%s (at %s: %s), want %s", fd.fd_verdict,
		    fd.fd_at ? fd.fd_at : "-", fd.fd_why ? fd.fd_why : "-",
		    ul->ul_fields[CF_OUTCOME]);
	check_facts(ul, &fd);
}

/*
 * The form of a row: known section, place, llhttp verdict, outcome and
 * facts. Returns NULL, or what is wrong.
 */
static const char *
row_form(const struct conform_table *ct, const struct unit_line *ul)
{
	const char	*llhttp, *eq;
	char		 key[16];
	size_t		 i;
	int		 unit;

	if (ul->ul_nfields < CF_FACTS)
		return ("too few columns");
	if (ul->ul_nfields >= UNIT_MAX_FIELDS)
		return ("too many columns");
	if (!in_list(ct->ct_sections, ul->ul_fields[CF_SECTION]))
		return ("unknown section");
	unit = strcmp(ul->ul_fields[CF_WHERE], "unit") == 0;
	if (!unit && strcmp(ul->ul_fields[CF_WHERE], "integration") != 0)
		return ("WHERE is neither unit nor integration");
	llhttp = ul->ul_fields[CF_LLHTTP];
	if (strcmp(llhttp, "-") != 0 && strcmp(llhttp, "same") != 0 &&
	    (strncmp(llhttp, "differs:", 8) != 0 || llhttp[8] == '\0'))
		return ("LLHTTP is not -, same or differs:TAG");
	if (!in_list(ct->ct_outcomes, ul->ul_fields[CF_OUTCOME]))
		return ("unknown outcome");
	for (i = CF_FACTS; i < ul->ul_nfields; i++) {
		if ((eq = strchr(ul->ul_fields[i], '=')) == NULL ||
		    (size_t)(eq - ul->ul_fields[i]) >= sizeof key)
			return ("a fact is not KEY=VALUE");
		snprintf(key, sizeof key, "%.*s", (int)(eq -
		    ul->ul_fields[i]), ul->ul_fields[i]);
		if (!in_list(fact_keys, key))
			return ("unknown fact");
		if (strcmp(key, "at") == 0 && !in_list(stages, eq + 1))
			return ("unknown stage in at=");
		if (strcmp(key, "at") == 0 && unit &&
		    strcmp(eq + 1, "proxy") == 0)
			return ("at=proxy on a unit row");
	}
	if (unit && strcmp(ul->ul_fields[CF_OUTCOME], "accept") != 0 &&
	    row_fact(ul, "at") == NULL)
		return ("a unit row not accepted has no at=");
	return (NULL);
}

/* A row that is not well formed, or a name used twice. */
static void
test_bad_row(void **state)
{
	fail_msg("%s", (const char *)*state);
}

/* Every unit row ran; the counts for the note. */
static void
test_counts(void **state)
{
	(void)state;
	print_message("conformance: %zu rows, %zu run here, %zu left to "
	    "the integration test; %zu follow llhttp, %zu differ on "
	    "purpose\n", nrows, nran, nintegration, nsame, ndiffers);
	assert_int_equal(nrows, nunit + nintegration);
	if (nran != nunit)
		fail_msg("%zu unit rows, %zu ran", nunit, nran);
	if (nrows < 150)
		fail_msg("only %zu rows", nrows);
}

static void
add_table(struct unit_group *g, const struct conform_table *ct)
{
	struct unit_line	**lines;
	struct conform_row	 *cr;
	const char		 *bad;
	size_t			  n, i, j;

	n = unit_read_table(g, ct->ct_file, &lines);
	for (i = 0; i < n; i++) {
		if ((bad = row_form(ct, lines[i])) == NULL)
			for (j = 0; j < i; j++)
				if (strcmp(lines[j]->ul_fields[CF_NAME],
				    lines[i]->ul_fields[CF_NAME]) == 0)
					bad = "a name used twice";
		if (bad != NULL) {
			unit_add(g, unit_case_name(lines[i], bad),
			    test_bad_row, unit_printf("%s:%u: %s: %s",
			    ct->ct_file, lines[i]->ul_lineno, bad,
			    lines[i]->ul_text));
			continue;
		}
		nrows++;
		if (strcmp(lines[i]->ul_fields[CF_LLHTTP], "same") == 0)
			nsame++;
		else if (lines[i]->ul_fields[CF_LLHTTP][0] != '-')
			ndiffers++;
		if (strcmp(lines[i]->ul_fields[CF_WHERE], "integration") ==
		    0) {
			nintegration++;
			continue;
		}
		nunit++;
		cr = unit_keep(calloc(1, sizeof *cr));
		cr->cr_line = lines[i];
		cr->cr_table = ct;
		unit_add(g, unit_case_name(lines[i],
		    lines[i]->ul_fields[CF_NAME]), test_row, cr);
	}
}

void
test_conform_group(struct unit_group *g)
{
	size_t	i;

	for (i = 0; i < sizeof tables / sizeof tables[0]; i++)
		add_table(g, &tables[i]);
	unit_add(g, "conformance: every unit row ran", test_counts, NULL);
}
