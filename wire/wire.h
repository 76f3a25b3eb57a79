/*
 * wire.h -- the wire parsers: bytes in, a parsed structure or an error
 * out. Pure C: no libevent, no mbedTLS, no sockets (fuzzed on their own,
 * checked by scripts/test like rules/).
 */
#ifndef HG_WIRE_H
#define HG_WIRE_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/rules.h"

#define HG_MAX_HEADERS		100	/* header lines in one head (431) */
#define HG_MAX_RESPONSE_HEADERS	256	/* header lines of a response (502) */
#define HG_MAX_BASIC		1024	/* bytes of a Basic credential */
#define HG_MAX_PASSWORD		256	/* bytes of a Basic password */
#define HG_MAX_CHUNK_LINE	4096	/* chunk-size line with extensions */
#define HG_MAX_EMPTY_LINES	4	/* CRLFs before a request/status line */
#define HG_MAX_TRAILERS		32	/* field lines of a trailer section */
#define HG_MAX_TRAILER_SECTION	8192	/* bytes of a trailer section */
#define HG_MAX_CHUNK_SIZE	INT64_MAX	/* 2^63 - 1 */

/* Results of the incremental parsers below besides a length. */
#define HTTP_MORE	(-1)	/* the end has not arrived yet */
#define HTTP_BAD	(-2)	/* malformed: refuse (400 / 502) */

/* http1.c: HTTP/1.x heads and Basic credentials */
struct http_header {
	const char	*hh_name;
	size_t		 hh_namelen;
	const char	*hh_value;
	size_t		 hh_valuelen;
};

struct http_request {
	const char		*rq_method;
	size_t			 rq_methodlen;
	const char		*rq_target;
	size_t			 rq_targetlen;
	int			 rq_minor;	/* HTTP/1.x */
	struct http_header	 rq_headers[HG_MAX_HEADERS];
	size_t			 rq_nheaders;
};

struct http_response {
	int			 rs_minor;
	int			 rs_status;
	const char		*rs_reason;
	size_t			 rs_reasonlen;
	struct http_header	 rs_headers[HG_MAX_RESPONSE_HEADERS];
	size_t			 rs_nheaders;
};

enum body_kind {
	BODY_NONE = 0,
	BODY_LENGTH,
	BODY_CHUNKED,
	BODY_CLOSE	/* response delimited by the upstream's close */
};

/* What a list download needs from a response head. */
struct http_fetch_head {
	int		 fh_status;
	enum body_kind	 fh_body;
	uint64_t	 fh_length;	/* BODY_LENGTH */
	const char	*fh_location;	/* redirects; NULL when none */
	size_t		 fh_locationlen;
	const char	*fh_etag;	/* NULL when none */
	size_t		 fh_etaglen;
	const char	*fh_modified;	/* Last-Modified; NULL when none */
	size_t		 fh_modifiedlen;
};

/*
 * Reading a message (RFC 9112), in this order; every function is pure and
 * may be called again on the same bytes when more have arrived:
 *
 * 1. skip = http_skip_empty_lines(buf, len, HG_MAX_EMPTY_LINES, &why):
 *    the CRLFs a peer may send before a request or status line (section
 *    2.2). HTTP_MORE: wait; HTTP_BAD: refuse (400 to a client, 502 for an
 *    upstream). Either call it on the start of the buffered input each
 *    time and drain nothing before the head is complete, or drain what it
 *    skipped and pass what is left of max next time: the bound holds over
 *    all reads only then.
 * 2. hlen = http_head_end(buf + skip, len - skip): -1 (HTTP_MORE) until
 *    the head has arrived; the caller bounds the bytes it waits for
 *    (HG_MAX_REQUEST_HEAD plus the 2 * HG_MAX_EMPTY_LINES skipped).
 * 3. http_parse_head() or http_parse_response() on buf + skip, hlen; both
 *    refuse a head that starts with an empty line (step 1 was skipped).
 * 4. http_request_framing() or http_response_framing(): how the body is
 *    delimited. Then drain skip + hlen.
 * 5. A chunked body: n = http_chunk_line_end() finds the chunk-size line
 *    (without its CRLF), http_chunk_line(line, n) parses it, the caller
 *    consumes n + 2 bytes, then size bytes of data and a CRLF. After the
 *    last chunk (size 0), t = http_trailers_end() measures the trailer
 *    section (at least the CRLF that ends the body), http_parse_trailers()
 *    parses it, and http_trailer_forwardable() says which fields may be
 *    passed on. The chunked coding is CRLF-only on both sides.
 */
ssize_t		 http_skip_empty_lines(const char *, size_t, unsigned,
		    const char **);
ssize_t		 http_head_end(const char *, size_t);
int		 http_parse_response(const char *, size_t,
		    struct http_response *, const char **);
int		 http_token_eq(const char *, size_t, const char *);
/* The value of a hex digit, or -1. */
int		 hex_value(unsigned char);
int		 http_parse_head(const char *, size_t, struct http_request *,
		    const char **);
int		 http_method_is(const struct http_request *, const char *);
void		 http_each_token(const char *, size_t,
		    void (*)(const char *, size_t, void *), void *);
int		 http_has_header(const struct http_header *, size_t,
		    const char *);
int		 http_request_framing(const struct http_request *,
		    enum body_kind *, uint64_t *, const char **);
int		 http_response_framing(const struct http_response *, int,
		    enum body_kind *, uint64_t *, const char **);
ssize_t		 http_chunk_line_end(const char *, size_t, const char **);
int		 http_chunk_line(const char *, size_t, uint64_t *,
		    const char **);
ssize_t		 http_trailers_end(const char *, size_t, const char **);
int		 http_parse_trailers(const char *, size_t,
		    struct http_header *, size_t, size_t *, const char **);
int		 http_trailer_forwardable(const char *, size_t);
int		 http_fetch_head(const char *, size_t,
		    struct http_fetch_head *, const char **);
/* basic.c: the user and password of a Basic credential */
int		 basic_decode(const char *, size_t, char *, size_t, char *,
		    size_t, const char **);
ssize_t		 negotiate_decode(const char *, size_t, char *, size_t,
		    const char **);
/* base64_encode() is in rules/ (rules.h): configurations need it too */

/* proxyproto.c: the PROXY protocol header of a load balancer */
#define PP_V1		HG_PROXYPROTO_V1
#define PP_V2		HG_PROXYPROTO_V2
#define PP_ERROR	(-1)
#define HG_MAX_PROXY_HEADER	(16 + 1024)	/* v2 with TLVs; v1 is 107 */
#define PP_MORE		0
#define PP_DONE		1

struct pp_addr {
	int		pa_family;	/* 4 or 6 */
	uint8_t		pa_addr[16];
	uint16_t	pa_port;
};

struct pp_info {
	int		pi_local;	/* LOCAL, UNKNOWN, UNSPEC: no address */
	struct pp_addr	pi_src, pi_dst;
	size_t		pi_len;		/* bytes of the header */
};

int		 proxyproto_parse(const unsigned char *, size_t, int,
		    struct pp_info *, const char **);

/* tlshello.c: the server name of a TLS ClientHello */
#define HG_MAX_CLIENTHELLO	(16384 + 4)
#define HELLO_BAD	(-2)
#define HELLO_NOTTLS	(-1)
#define HELLO_MORE	0
#define HELLO_SNI	1
#define HELLO_NOSNI	2

int		 tls_hello_sni(const unsigned char *, size_t, char *, size_t,
		    const char **);

/* json.c: the inside of a JSON string, printable ASCII only */
size_t		 json_escape(char *, size_t, const char *);

#endif /* HG_WIRE_H */
