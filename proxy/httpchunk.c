/*
 * httpchunk.c -- the chunked transfer coding of HTTP/1.1 (RFC 9112 7.1),
 * decoded from one evbuffer into another, and encoded again when the
 * body goes on chunked: for plain HTTP forwarding (forward.c), both
 * directions, and for the list downloader (download/fetch.c).
 *
 * The decoder keeps its state in a struct chunkdec, so that a body may
 * arrive in any number of pieces. Chunk lines (HG_MAX_CHUNK_LINE) and the
 * trailer section (HG_MAX_TRAILER_SECTION) are bounded and parsed by
 * wire/http1.c; chunk extensions are dropped, trailer fields go on when
 * the body is chunked again (the recipient takes them) and may be.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy.h"

enum {
	CD_SIZE = 0,
	CD_DATA,
	CD_DATA_END,
	CD_TRAILER,
	CD_DONE
};

/* The first n bytes of in (fewer when fewer are there), contiguous. */
static const char *
peek(struct evbuffer *in, size_t n, size_t *got)
{
	size_t	avail = evbuffer_get_length(in);

	*got = avail < n ? avail : n;
	return ((const char *)evbuffer_pullup(in, (ssize_t)*got));
}

/*
 * The trailer section after the last chunk (t bytes at p, its final CRLF
 * included): the fields that may be passed on (http_trailer_forwardable)
 * are, and the section is ended. 0, or -1 when it does not parse.
 */
static int
trailers_out(const char *p, size_t t, struct evbuffer *out)
{
	struct http_header	 hdrs[HG_MAX_TRAILERS];
	const char		*why;
	size_t			 n, i;

	if (http_parse_trailers(p, t, hdrs, HG_MAX_TRAILERS, &n, &why) != 0)
		return (-1);
	evbuffer_add(out, "0\r\n", 3);
	for (i = 0; i < n; i++)
		if (http_trailer_forwardable(hdrs[i].hh_name,
		    hdrs[i].hh_namelen))
			evbuffer_add_printf(out, "%.*s: %.*s\r\n",
			    (int)hdrs[i].hh_namelen, hdrs[i].hh_name,
			    (int)hdrs[i].hh_valuelen, hdrs[i].hh_value);
	evbuffer_add(out, "\r\n", 2);
	return (0);
}

/*
 * Decode chunked data from in. Data goes to out, as chunks again when
 * rechunk is set (with the trailer fields that may be passed on), raw
 * otherwise (trailers dropped); *bytes counts the data. Chunk lines and
 * the trailer section follow RFC 9112 section 7.1 exactly (wire/http1.c):
 * what the grammar refuses is an error here too. Returns 1 when the body
 * is complete, 0 when more input is needed, -1 on a framing error.
 */
int
chunk_pump(struct chunkdec *cd, struct evbuffer *in, struct evbuffer *out,
    int rechunk, uint64_t *bytes)
{
	const char	*p, *why;
	ssize_t		 ll;
	size_t		 avail, got, n;
	uint64_t	 size;

	for (;;) {
		avail = evbuffer_get_length(in);
		switch (cd->cd_state) {
		case CD_SIZE:
			p = peek(in, HG_MAX_CHUNK_LINE + 2, &got);
			ll = http_chunk_line_end(p, got, &why);
			if (ll == HTTP_MORE)
				return (got > HG_MAX_CHUNK_LINE ? -1 : 0);
			if (ll < 0 || http_chunk_line(p, (size_t)ll, &size,
			    &why) != 0)
				return (-1);
			evbuffer_drain(in, (size_t)ll + 2);
			if (size == 0) {
				cd->cd_state = CD_TRAILER;
				break;
			}
			if (rechunk)
				evbuffer_add_printf(out, "%llx\r\n",
				    (unsigned long long)size);
			cd->cd_left = size;
			cd->cd_state = CD_DATA;
			break;
		case CD_DATA:
			if (avail == 0)
				return (0);
			n = avail < cd->cd_left ? avail : (size_t)cd->cd_left;
			evbuffer_remove_buffer(in, out, n);
			*bytes += n;
			cd->cd_left -= n;
			if (cd->cd_left == 0)
				cd->cd_state = CD_DATA_END;
			break;
		case CD_DATA_END:
			if (avail < 2)
				return (0);
			p = (const char *)evbuffer_pullup(in, 2);
			if (p[0] != '\r' || p[1] != '\n')
				return (-1);
			evbuffer_drain(in, 2);
			if (rechunk)
				evbuffer_add(out, "\r\n", 2);
			cd->cd_state = CD_SIZE;
			break;
		case CD_TRAILER:
			p = peek(in, HG_MAX_TRAILER_SECTION, &got);
			ll = http_trailers_end(p, got, &why);
			if (ll == HTTP_MORE)
				return (got >= HG_MAX_TRAILER_SECTION ? -1 : 0);
			if (ll < 0)
				return (-1);
			if (rechunk && trailers_out(p, (size_t)ll, out) != 0)
				return (-1);
			evbuffer_drain(in, (size_t)ll);
			cd->cd_state = CD_DONE;
			return (1);
		case CD_DONE:
			return (1);
		}
	}
}
