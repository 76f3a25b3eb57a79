/*
 * httpchunk.c -- the chunked transfer coding of HTTP/1.1 (RFC 9112 7.1),
 * decoded from one evbuffer into another, and encoded again when the
 * body goes on chunked: for plain HTTP forwarding (forward.c), both
 * directions, and for the list downloader (download/fetch.c).
 *
 * The decoder keeps its state in a struct chunkdec, so that a body may
 * arrive in any number of pieces. Chunk lines are bounded
 * (HG_MAX_CHUNK_LINE); chunk extensions and trailer fields are checked
 * for control bytes and dropped.
 */
#include "config.h"

#include <ctype.h>
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

/* Find a CRLF-ended line at the start of in; its length or -1. */
static ssize_t
line_length(struct evbuffer *in)
{
	struct evbuffer_ptr	p;
	size_t			eol_len;

	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
	return (p.pos);
}

/*
 * Decode chunked data from in. Data goes to out, as chunks again when
 * rechunk is set, raw otherwise; *bytes counts the data. Returns 1 when
 * the body is complete (trailers are dropped), 0 when more input is
 * needed, -1 on a framing error.
 */
int
chunk_pump(struct chunkdec *cd, struct evbuffer *in, struct evbuffer *out,
    int rechunk, uint64_t *bytes)
{
	char		 line[HG_MAX_CHUNK_LINE + 1], *p;
	ssize_t		 ll;
	size_t		 avail, n;
	uint64_t	 size;
	int		 digits;

	for (;;) {
		avail = evbuffer_get_length(in);
		switch (cd->cd_state) {
		case CD_SIZE:
			ll = line_length(in);
			if (ll < 0)
				return (avail > HG_MAX_CHUNK_LINE ? -1 : 0);
			if (ll > HG_MAX_CHUNK_LINE)
				return (-1);
			evbuffer_remove(in, line, (size_t)ll);
			line[ll] = '\0';
			evbuffer_drain(in, 2);
			size = 0;
			digits = 0;
			for (p = line; isxdigit((unsigned char)*p); p++) {
				if (++digits > 15)
					return (-1);
				size = size * 16 + (uint64_t)(isdigit(
				    (unsigned char)*p) ? *p - '0' :
				    (tolower((unsigned char)*p) - 'a' + 10));
			}
			if (digits == 0)
				return (-1);
			/* chunk-ext: BWS ";" ... ; nothing else */
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != '\0' && *p != ';')
				return (-1);
			for (; *p != '\0'; p++)
				if (((unsigned char)*p < 0x20 && *p != '\t') ||
				    *p == 0x7f)
					return (-1);
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
			p = (char *)evbuffer_pullup(in, 2);
			if (p[0] != '\r' || p[1] != '\n')
				return (-1);
			evbuffer_drain(in, 2);
			if (rechunk)
				evbuffer_add(out, "\r\n", 2);
			cd->cd_state = CD_SIZE;
			break;
		case CD_TRAILER:
			ll = line_length(in);
			if (ll < 0)
				return (avail > HG_MAX_CHUNK_LINE ? -1 : 0);
			if (ll > HG_MAX_CHUNK_LINE)
				return (-1);
			p = (char *)evbuffer_pullup(in, ll);
			for (n = 0; n < (size_t)ll; n++)
				if (((unsigned char)p[n] < 0x20 &&
				    p[n] != '\t') || p[n] == 0x7f)
					return (-1);
			evbuffer_drain(in, (size_t)ll + 2);
			if (ll > 0)
				break;		/* a trailer field: dropped */
			if (rechunk)
				evbuffer_add(out, "0\r\n\r\n", 5);
			cd->cd_state = CD_DONE;
			return (1);
		case CD_DONE:
			return (1);
		}
	}
}
