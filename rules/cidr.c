/*
 * cidr.c -- address prefixes for client lists and IP-literal rules.
 */
#include "config.h"

#include "rules/compat.h"
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/*
 * Parse "a.b.c.d/n", "v6/n" or a single address (a host prefix) into c.
 * Bits beyond the prefix must be zero. Returns 0 or -1.
 */
int
cidr_parse(const char *s, struct hg_cidr *c)
{
	char		 buf[64];
	const char	*slash;
	size_t		 len;
	unsigned long	 bits;
	char		*end;
	unsigned	 i, maxbits;

	memset(c, 0, sizeof *c);
	slash = strchr(s, '/');
	len = slash ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof buf)
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, c->ci_addr) == 1) {
		c->ci_family = 4;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, buf, c->ci_addr) == 1) {
		c->ci_family = 6;
		maxbits = 128;
	} else
		return (-1);
	if (slash == NULL)
		bits = maxbits;
	else {
		if (slash[1] < '0' || slash[1] > '9')
			return (-1);
		bits = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || bits > maxbits || end - slash > 4)
			return (-1);
	}
	c->ci_bits = (unsigned)bits;
	for (i = c->ci_bits; i < maxbits; i++)
		if (c->ci_addr[i / 8] & (0x80 >> (i % 8)))
			return (-1);
	return (0);
}

/* Does prefix c contain the address (family 4 or 6)? */
int
cidr_match(const struct hg_cidr *c, int family, const uint8_t *addr)
{
	unsigned	full, rest;

	if (c->ci_family != family)
		return (0);
	full = c->ci_bits / 8;
	rest = c->ci_bits % 8;
	if (memcmp(c->ci_addr, addr, full) != 0)
		return (0);
	if (rest != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((c->ci_addr[full] & mask) != (addr[full] & mask))
			return (0);
	}
	return (1);
}

int
cidr_list_match(const struct hg_cidr *list, size_t n, int family,
    const uint8_t *addr)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (cidr_match(&list[i], family, addr))
			return (1);
	return (0);
}
