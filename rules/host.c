/*
 * host.c -- normalisation of request targets.
 *
 * Every host that reaches the ruleset passes through host_normalise(), so
 * that "WATSON.events.data.microsoft.com." and "watson.events.data.
 * microsoft.com" are one name, and so that spellings which resolvers read
 * as numbers ("2130706433", "127.1", "0x7f.0.0.1") cannot slip past an
 * address rule: they are refused. An IPv6 address that carries an IPv4 one
 * ("[::ffff:127.0.0.3]", "[64:ff9b::127.0.0.3]") becomes that IPv4
 * address. A name with characters beyond ASCII is first mapped by UTS #46
 * and converted to its IDNA2008 ASCII form (idna.c): "BÜCHER.example" is
 * "xn--bcher-kva.example", "watson。events。data。microsoft。com" is
 * watson.events.data.microsoft.com; the result is checked as any ASCII
 * name is.
 */
#include "config.h"

#include "rules/compat.h"
#include <string.h>

#include "rules.h"

static int
is_host_char(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_');
}

static int
normalise_v6(const char *in, size_t len, struct hg_target *t,
    const char **why)
{
	char		buf[64];
	uint8_t		addr[16], in4[4];

	if (len >= sizeof buf) {
		*why = "IPv6 address too long";
		return (-1);
	}
	memcpy(buf, in, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, addr) != 1) {
		*why = "invalid IPv6 address";
		return (-1);
	}
	if (addrclass_embedded(addr, in4)) {
		/*
		 * An IPv6 spelling of an IPv4 address (mapped, NAT64, 6to4,
		 * Teredo ...: the table in addrclass.c) is the IPv4 address,
		 * for the rules and the guard alike.
		 */
		t->t_kind = HG_HOST_IPV4;
		memset(t->t_addr, 0, sizeof t->t_addr);
		memcpy(t->t_addr, in4, 4);
		inet_ntop(AF_INET, t->t_addr, t->t_host, sizeof t->t_host);
	} else {
		t->t_kind = HG_HOST_IPV6;
		memcpy(t->t_addr, addr, 16);
		inet_ntop(AF_INET6, addr, t->t_host, sizeof t->t_host);
	}
	t->t_len = strlen(t->t_host);
	return (0);
}

/*
 * Normalise the host in in[0..len) into t (t_host, t_len, t_kind, t_addr);
 * t_port is left alone. Accepts a name, a dotted-quad IPv4 address, or an
 * IPv6 address with or without brackets. Returns 0, or -1 with *why set to
 * a static message.
 */
int
host_normalise(const char *in, size_t len, struct hg_target *t,
    const char **why)
{
	size_t		i, label = 0;
	int		numeric_last = 1;
	unsigned char	c;

	if (len >= 2 && in[0] == '[' && in[len - 1] == ']')
		return (normalise_v6(in + 1, len - 2, t, why));
	if (memchr(in, ':', len) != NULL)
		return (normalise_v6(in, len, t, why));
	for (i = 0; i < len; i++) {
		if ((unsigned char)in[i] >= 0x80) {
			/*
			 * An internationalised name: its ASCII form (UTS #46,
			 * IDNA2008), checked again below as a name typed in
			 * ASCII would be. A pure ASCII name never gets here.
			 */
			char	ascii[HG_MAX_HOST + 64];
			ssize_t	alen;

			alen = idna_to_ascii(in, len, ascii, sizeof ascii, why);
			if (alen < 0)
				return (-1);
			return (host_normalise(ascii, (size_t)alen, t, why));
		}
	}

	if (len > 0 && in[len - 1] == '.')
		len--;		/* one trailing dot: the root */
	if (len == 0) {
		*why = "empty host";
		return (-1);
	}
	if (len > HG_MAX_HOST) {
		*why = "host name longer than 253 characters";
		return (-1);
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0) {
				*why = "empty label in host name";
				return (-1);
			}
			label = 0;
			numeric_last = 1;
		} else if (is_host_char(c)) {
			if (++label > HG_MAX_LABEL) {
				*why = "label longer than 63 characters";
				return (-1);
			}
			if (c < '0' || c > '9')
				numeric_last = 0;
		} else {
			*why = "invalid character in host name";
			return (-1);
		}
		t->t_host[i] = (char)c;
	}
	if (label == 0) {
		*why = "empty label in host name";
		return (-1);
	}
	t->t_host[len] = '\0';
	t->t_len = len;
	memset(t->t_addr, 0, sizeof t->t_addr);
	if (numeric_last) {
		/* Only a strict dotted quad may look like a number. */
		if (inet_pton(AF_INET, t->t_host, t->t_addr) != 1) {
			*why = "numeric host is not a dotted-quad IPv4 address";
			return (-1);
		}
		t->t_kind = HG_HOST_IPV4;
		return (0);
	}
	t->t_kind = HG_HOST_NAME;
	return (0);
}

/* Parse a decimal port 1..65535 from s[0..len). Returns 0 or -1. */
int
port_parse(const char *s, size_t len, uint16_t *port)
{
	unsigned long	v = 0;
	size_t		i;

	if (len == 0 || len > 5)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return (-1);
	*port = (uint16_t)v;
	return (0);
}

/*
 * Parse an authority "host:port", "[v6]:port", or "host" when defport is
 * not 0, into t. Returns 0, or -1 with *why set.
 */
int
target_parse(const char *s, size_t len, uint16_t defport,
    struct hg_target *t, const char **why)
{
	const char	*colon, *host;
	size_t		 hostlen;

	if (len == 0) {
		*why = "empty target";
		return (-1);
	}
	if (s[0] == '[') {
		const char *end = memchr(s, ']', len);

		if (end == NULL) {
			*why = "unterminated IPv6 address";
			return (-1);
		}
		host = s;
		hostlen = (size_t)(end - s) + 1;
		if (hostlen == len)
			colon = NULL;
		else if (s[hostlen] == ':')
			colon = s + hostlen;
		else {
			*why = "junk after IPv6 address";
			return (-1);
		}
	} else {
		colon = memchr(s, ':', len);
		if (colon != NULL &&
		    memchr(colon + 1, ':', len - (size_t)(colon - s) - 1)) {
			*why = "IPv6 address must be in brackets";
			return (-1);
		}
		host = s;
		hostlen = colon ? (size_t)(colon - s) : len;
	}
	if (colon == NULL) {
		if (defport == 0) {
			*why = "port missing";
			return (-1);
		}
		t->t_port = defport;
	} else if (port_parse(colon + 1, len - (size_t)(colon - s) - 1,
	    &t->t_port) != 0) {
		*why = "invalid port";
		return (-1);
	}
	if (hostlen == 0) {
		*why = "empty host";
		return (-1);
	}
	if (host[0] == '[') {
		if (hostlen < 3) {
			*why = "empty host";
			return (-1);
		}
		if (normalise_v6(host + 1, hostlen - 2, t, why) != 0)
			return (-1);
		return (0);
	}
	return (host_normalise(host, hostlen, t, why));
}
