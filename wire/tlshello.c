/*
 * tlshello.c -- the server name (SNI, RFC 6066) of a TLS ClientHello
 * (RFC 8446 4.1.2, RFC 5246 7.4.1.2), read from the first bytes a client
 * sends through a CONNECT tunnel, without terminating TLS.
 *
 * A pure, bounded parser: the handshake message may span several records
 * and arrive in pieces; the caller feeds everything received so far and
 * learns whether more is needed. Nothing is trusted: every length is
 * checked against what contains it.
 */
#include "config.h"

#include <string.h>

#include "wire/wire.h"

struct rd {
	const unsigned char	*p;
	size_t			 left;
};

static int
rd_u8(struct rd *r, unsigned *v)
{
	if (r->left < 1)
		return (-1);
	*v = r->p[0];
	r->p++;
	r->left--;
	return (0);
}

static int
rd_u16(struct rd *r, unsigned *v)
{
	if (r->left < 2)
		return (-1);
	*v = (unsigned)r->p[0] << 8 | r->p[1];
	r->p += 2;
	r->left -= 2;
	return (0);
}

/* A sub-reader of n bytes. */
static int
rd_sub(struct rd *r, size_t n, struct rd *sub)
{
	if (r->left < n)
		return (-1);
	sub->p = r->p;
	sub->left = n;
	r->p += n;
	r->left -= n;
	return (0);
}

static int
bad(const char **why, const char *msg)
{
	*why = msg;
	return (HELLO_BAD);
}

/* The server_name extension: one host_name, of hostname characters. */
static int
server_name(struct rd *ext, char *name, size_t size, const char **why)
{
	struct rd	list, nm;
	unsigned	listlen, type, len;
	int		found = 0;
	size_t		i;

	if (rd_u16(ext, &listlen) != 0 || rd_sub(ext, listlen, &list) != 0 ||
	    ext->left != 0 || listlen == 0)
		return (bad(why, "malformed server_name extension"));
	while (list.left > 0) {
		if (rd_u8(&list, &type) != 0 || rd_u16(&list, &len) != 0 ||
		    rd_sub(&list, len, &nm) != 0)
			return (bad(why, "malformed server_name list"));
		if (type != 0)
			continue;
		if (found)
			return (bad(why, "two host names in server_name"));
		found = 1;
		if (len == 0 || len > HG_MAX_HOST || len >= size)
			return (bad(why, "server name empty or too long"));
		for (i = 0; i < len; i++) {
			unsigned char ch = nm.p[i];

			if (!((ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' ||
			    ch == '.' || ch == '_'))
				return (bad(why, "server name has a byte "
				    "outside host name syntax"));
			name[i] = (char)(ch >= 'A' && ch <= 'Z' ?
			    ch - 'A' + 'a' : ch);
		}
		name[len] = '\0';
	}
	return (found ? HELLO_SNI : HELLO_NOSNI);
}

/* The body of a ClientHello handshake message. */
static int
client_hello(struct rd *r, char *name, size_t size, const char **why)
{
	struct rd	skip, exts, ext;
	unsigned	v, n, type, len;
	int		res = HELLO_NOSNI, seen = 0, got;

	if (rd_u16(r, &v) != 0 || rd_sub(r, 32, &skip) != 0)
		return (bad(why, "ClientHello too short"));
	if (v >> 8 != 3)
		return (bad(why, "ClientHello of an unknown version"));
	if (rd_u8(r, &n) != 0 || n > 32 || rd_sub(r, n, &skip) != 0)
		return (bad(why, "malformed session id"));
	if (rd_u16(r, &n) != 0 || n < 2 || n % 2 != 0 ||
	    rd_sub(r, n, &skip) != 0)
		return (bad(why, "malformed cipher suites"));
	if (rd_u8(r, &n) != 0 || n < 1 || rd_sub(r, n, &skip) != 0)
		return (bad(why, "malformed compression methods"));
	if (r->left == 0)
		return (HELLO_NOSNI);
	if (rd_u16(r, &n) != 0 || rd_sub(r, n, &exts) != 0 || r->left != 0)
		return (bad(why, "malformed extensions"));
	while (exts.left > 0) {
		if (rd_u16(&exts, &type) != 0 || rd_u16(&exts, &len) != 0 ||
		    rd_sub(&exts, len, &ext) != 0)
			return (bad(why, "malformed extension"));
		if (type != 0)
			continue;
		if (seen++)
			return (bad(why, "two server_name extensions"));
		if ((got = server_name(&ext, name, size, why)) == HELLO_BAD)
			return (got);
		res = got;
	}
	return (res);
}

/*
 * Find the server name in the first len bytes a client sent. Returns
 * HELLO_SNI (name holds it, lowercased), HELLO_NOSNI (a ClientHello
 * without one), HELLO_MORE (a ClientHello so far: read more),
 * HELLO_NOTTLS (this is not a TLS handshake) or HELLO_BAD (a malformed
 * ClientHello; why says how).
 */
int
tls_hello_sni(const unsigned char *buf, size_t len, char *name, size_t size,
    const char **why)
{
	unsigned char	hs[HG_MAX_CLIENTHELLO];
	size_t		hslen = 0, off = 0, rlen, take, need = 0;
	struct rd	r;

	*why = NULL;
	if (size > 0)
		name[0] = '\0';
	/* the record header: handshake, TLS 1.x */
	if (len >= 1 && buf[0] != 0x16)
		goto nottls;
	if (len >= 2 && buf[1] != 0x03)
		goto nottls;
	for (;;) {
		if (len - off < 5)
			return (HELLO_MORE);
		if (buf[off] != 0x16 || buf[off + 1] != 0x03) {
			if (off == 0)
				goto nottls;
			return (bad(why, "handshake interrupted by "
			    "another record"));
		}
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0 || rlen > 16384 + 2048)
			return (bad(why, "bad record length"));
		off += 5;
		take = len - off < rlen ? len - off : rlen;
		if (take > sizeof hs - hslen)
			take = sizeof hs - hslen;
		memcpy(hs + hslen, buf + off, take);
		hslen += take;
		off += take;
		if (hslen >= 4) {
			if (hs[0] != 0x01)
				goto nottls;
			need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 |
			    hs[3]);
			if (need > sizeof hs)
				return (bad(why, "ClientHello too long"));
			if (hslen >= need)
				break;
		}
		if (take < rlen)
			return (HELLO_MORE);
	}
	r.p = hs + 4;
	r.left = need - 4;
	return (client_hello(&r, name, size, why));
nottls:
	*why = "not a TLS ClientHello";
	return (HELLO_NOTTLS);
}
