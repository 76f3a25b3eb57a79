/*
 * proxyproto.c -- the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer in front of hushgate sends first
 * on each connection, carrying the address of the real client.
 *
 * A pure parser over the bytes received so far: it asks for more, says
 * where the header ends, or says why the header is bad. The caller
 * accepts a header only from a trusted load balancer.
 */
#include "config.h"

#include "rules/compat.h"
#include <string.h>

#include "wire/wire.h"

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V1_MAX		107	/* "PROXY" ... CRLF, proxy-protocol.txt 2.1 */

static int
fail(const char **why, const char *msg)
{
	*why = msg;
	return (PP_ERROR);
}

/* Is buf[0..len) a prefix of s (of slen bytes)? */
static int
is_prefix(const unsigned char *buf, size_t len, const void *s, size_t slen)
{
	return (memcmp(buf, s, len < slen ? len : slen) == 0);
}

/* A decimal port: 1 to 5 digits, no leading zero, at most 65535. */
static int
v1_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long	v = 0;
	size_t		i;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return (-1);
	*port = (uint16_t)v;
	return (0);
}

static int
v1_addr(const char *s, size_t len, int family, struct pp_addr *a)
{
	char	buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof buf)
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	a->pa_family = family;
	return (inet_pton(family == 4 ? AF_INET : AF_INET6, buf,
	    a->pa_addr) == 1 ? 0 : -1);
}

/* "PROXY TCP4 src dst sport dport\r\n", "PROXY UNKNOWN ...\r\n" */
static int
parse_v1(const unsigned char *buf, size_t len, struct pp_info *pi,
    const char **why)
{
	const char	*line = (const char *)buf, *f[6];
	size_t		 flen[6], n = 0, i, start, end;
	const unsigned char *cr;
	int		 family;

	for (cr = buf; cr < buf + (len < V1_MAX ? len : V1_MAX); cr++)
		if (*cr == '\r' || *cr == '\n')
			break;
	if (cr < buf + len && *cr == '\n')
		return (fail(why, "PROXY v1 line not ended by CRLF"));
	if (cr == buf + (len < V1_MAX ? len : V1_MAX))
		cr = NULL;
	if (cr == NULL)
		return (len >= V1_MAX ? fail(why, "PROXY v1 line too long") :
		    PP_MORE);
	end = (size_t)(cr - buf);
	if (end + 1 >= len)
		return (end + 2 > V1_MAX ? fail(why, "PROXY v1 line too long") :
		    PP_MORE);
	if (buf[end + 1] != '\n')
		return (fail(why, "PROXY v1 line not ended by CRLF"));
	pi->pi_len = end + 2;
	/* UNKNOWN: whatever follows is ignored, the socket's address stays */
	if (end >= 13 && memcmp(line, "PROXY UNKNOWN", 13) == 0 &&
	    (end == 13 || line[13] == ' ')) {
		pi->pi_local = 1;
		return (PP_DONE);
	}
	/* fields separated by exactly one space */
	for (i = 0, start = 0; i <= end; i++) {
		if (i < end && line[i] != ' ')
			continue;
		if (n == 6)
			return (fail(why, "PROXY v1: too many fields"));
		f[n] = line + start;
		flen[n++] = i - start;
		start = i + 1;
	}
	if (n != 6)
		return (fail(why, "PROXY v1: wrong number of fields"));
	if (flen[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
		family = 4;
	else if (flen[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
		family = 6;
	else
		return (fail(why, "PROXY v1: unknown protocol"));
	for (i = 1; i < 6; i++)
		if (flen[i] == 0)
			return (fail(why, "PROXY v1: empty field"));
	if (v1_addr(f[2], flen[2], family, &pi->pi_src) != 0 ||
	    v1_addr(f[3], flen[3], family, &pi->pi_dst) != 0)
		return (fail(why, "PROXY v1: bad address"));
	if (v1_port(f[4], flen[4], &pi->pi_src.pa_port) != 0 ||
	    v1_port(f[5], flen[5], &pi->pi_dst.pa_port) != 0)
		return (fail(why, "PROXY v1: bad port"));
	pi->pi_local = 0;
	return (PP_DONE);
}

static int
parse_v2(const unsigned char *buf, size_t len, struct pp_info *pi,
    const char **why)
{
	size_t	body;
	int	cmd, fam, proto;

	if (len < 16)
		return (PP_MORE);
	if ((buf[12] & 0xf0) != 0x20)
		return (fail(why, "PROXY v2: unknown version"));
	cmd = buf[12] & 0x0f;
	fam = buf[13] >> 4;
	proto = buf[13] & 0x0f;
	body = (size_t)buf[14] << 8 | buf[15];
	if (16 + body > HG_MAX_PROXY_HEADER)
		return (fail(why, "PROXY v2: header too long"));
	if (len < 16 + body)
		return (PP_MORE);
	pi->pi_len = 16 + body;
	if (cmd == 0) {			/* LOCAL: a health check */
		pi->pi_local = 1;
		return (PP_DONE);
	}
	if (cmd != 1)
		return (fail(why, "PROXY v2: unknown command"));
	if (fam == 0 && proto == 0) {	/* UNSPEC: keep the socket's address */
		pi->pi_local = 1;
		return (PP_DONE);
	}
	if (proto != 1)
		return (fail(why, "PROXY v2: not a stream (TCP) connection"));
	buf += 16;
	if (fam == 1) {
		if (body < 12)
			return (fail(why, "PROXY v2: short IPv4 addresses"));
		pi->pi_src.pa_family = pi->pi_dst.pa_family = 4;
		memcpy(pi->pi_src.pa_addr, buf, 4);
		memcpy(pi->pi_dst.pa_addr, buf + 4, 4);
		pi->pi_src.pa_port = (uint16_t)(buf[8] << 8 | buf[9]);
		pi->pi_dst.pa_port = (uint16_t)(buf[10] << 8 | buf[11]);
	} else if (fam == 2) {
		if (body < 36)
			return (fail(why, "PROXY v2: short IPv6 addresses"));
		pi->pi_src.pa_family = pi->pi_dst.pa_family = 6;
		memcpy(pi->pi_src.pa_addr, buf, 16);
		memcpy(pi->pi_dst.pa_addr, buf + 16, 16);
		pi->pi_src.pa_port = (uint16_t)(buf[32] << 8 | buf[33]);
		pi->pi_dst.pa_port = (uint16_t)(buf[34] << 8 | buf[35]);
	} else
		return (fail(why, "PROXY v2: unsupported address family"));
	pi->pi_local = 0;
	return (PP_DONE);
}

/*
 * Parse the PROXY header at the start of buf[0..len). versions is
 * PP_V1, PP_V2 or both. Returns PP_DONE (pi filled, pi_len bytes are the
 * header), PP_MORE (nothing wrong so far, read more) or PP_ERROR (why
 * says what is wrong).
 */
int
proxyproto_parse(const unsigned char *buf, size_t len, int versions,
    struct pp_info *pi, const char **why)
{
	memset(pi, 0, sizeof *pi);
	*why = NULL;
	if (len == 0)
		return (PP_MORE);
	if ((versions & PP_V2) && is_prefix(buf, len, v2sig, sizeof v2sig)) {
		if (len < sizeof v2sig)
			return (PP_MORE);
		return (parse_v2(buf, len, pi, why));
	}
	if ((versions & PP_V1) && is_prefix(buf, len, "PROXY ", 6)) {
		if (len < 6)
			return (PP_MORE);
		return (parse_v1(buf, len, pi, why));
	}
	return (fail(why, "no PROXY header"));
}
