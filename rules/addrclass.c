/*
 * addrclass.c -- what kind of network an address belongs to, for the
 * destination guard: a gateway must not become a way into the networks
 * behind it (RFC 1918, link-local with cloud metadata at 169.254.169.254,
 * loopback of the gateway itself ...).
 *
 * An IPv6 address that carries an IPv4 one (v4forms below: mapped,
 * translated, compatible, NAT64, 6to4, Teredo) is classified by the IPv4
 * addresses it leads to.
 */
#include "config.h"

#include <string.h>

#include "rules.h"

struct range {
	uint8_t			r_addr[16];
	unsigned		r_bits;
	enum hg_addrclass	r_class;
};

/* Most specific first where ranges nest. */
static const struct range v4[] = {
	{ { 0, 0, 0, 0 }, 32, HG_AC_UNSPECIFIED },
	{ { 255, 255, 255, 255 }, 32, HG_AC_RESERVED },	/* broadcast */
	{ { 0 }, 8, HG_AC_RESERVED },			/* "this network" */
	{ { 10 }, 8, HG_AC_PRIVATE },
	{ { 100, 64 }, 10, HG_AC_CGNAT },
	{ { 127 }, 8, HG_AC_LOOPBACK },
	{ { 169, 254 }, 16, HG_AC_LINKLOCAL },
	{ { 172, 16 }, 12, HG_AC_PRIVATE },
	{ { 192, 0, 0 }, 24, HG_AC_RESERVED },		/* IETF assignments */
	{ { 192, 0, 2 }, 24, HG_AC_RESERVED },		/* documentation */
	{ { 192, 88, 99 }, 24, HG_AC_RESERVED },	/* 6to4 relay anycast */
	{ { 192, 168 }, 16, HG_AC_PRIVATE },
	{ { 198, 18 }, 15, HG_AC_RESERVED },		/* benchmarking */
	{ { 198, 51, 100 }, 24, HG_AC_RESERVED },	/* documentation */
	{ { 203, 0, 113 }, 24, HG_AC_RESERVED },	/* documentation */
	{ { 224 }, 4, HG_AC_MULTICAST },
	{ { 240 }, 4, HG_AC_RESERVED },
};

static const struct range v6[] = {
	{ { 0 }, 128, HG_AC_UNSPECIFIED },
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128,
	    HG_AC_LOOPBACK },
	{ { 0x01, 0x00 }, 64, HG_AC_RESERVED },		/* discard */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, HG_AC_RESERVED }, /* documentation */
	{ { 0x3f, 0xff }, 20, HG_AC_RESERVED },		/* documentation */
	{ { 0xfc }, 7, HG_AC_ULA },
	{ { 0xfe, 0x80 }, 10, HG_AC_LINKLOCAL },
	{ { 0xfe, 0xc0 }, 10, HG_AC_PRIVATE },		/* site-local */
	{ { 0xff }, 8, HG_AC_MULTICAST },
};

static int
prefix_has(const uint8_t *addr, const uint8_t *pfx, unsigned bits)
{
	unsigned	full = bits / 8, rest = bits % 8;
	uint8_t		mask;

	if (memcmp(addr, pfx, full) != 0)
		return (0);
	if (rest == 0)
		return (1);
	mask = (uint8_t)(0xff << (8 - rest));
	return ((addr[full] & mask) == (pfx[full] & mask));
}

static enum hg_addrclass
lookup(const struct range *t, size_t n, const uint8_t *addr)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (prefix_has(addr, t[i].r_addr, t[i].r_bits))
			return (t[i].r_class);
	return (HG_AC_PUBLIC);
}

/*
 * IPv6 addresses that carry an IPv4 one, the one table of them: rules see
 * such a target as its IPv4 address (host.c), and the guard classifies it
 * by the IPv4 addresses it carries. Each form lists where its IPv4
 * address lies: the first place is the one rules see; the guard checks
 * every place.
 */
#define V4_PLACES	4

struct v4place {
	uint8_t		p_at[4];	/* offsets of its four bytes */
	uint8_t		p_xor;		/* 0xff: stored inverted */
};

struct v4form {
	uint8_t		f_pfx[16];
	unsigned	f_bits;
	int		f_host;		/* the IPv6 address is that IPv4 host */
	int		f_not_low;	/* but not with 0.0.0.0 or 0.0.0.1 */
	size_t		f_nplaces;
	struct v4place	f_places[V4_PLACES];
};

#define V4_LAST32	{ { 12, 13, 14, 15 }, 0 }

static const struct v4form v4forms[] = {
	/* IPv4-mapped, ::ffff:0:0/96 (RFC 4291) */
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 96, 1, 0, 1,
	    { V4_LAST32 } },
	/* IPv4-translated (SIIT), ::ffff:0:0:0/96 (RFC 2765) */
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0 }, 96, 1, 0, 1,
	    { V4_LAST32 } },
	/*
	 * IPv4-compatible, ::/96 (RFC 4291, deprecated), but for :: and
	 * ::1, which are themselves.
	 */
	{ { 0 }, 96, 1, 1, 1, { V4_LAST32 } },
	/* NAT64 well-known prefix, 64:ff9b::/96 (RFC 6052) */
	{ { 0x00, 0x64, 0xff, 0x9b }, 96, 1, 0, 1, { V4_LAST32 } },
	/*
	 * NAT64 local-use prefix, 64:ff9b:1::/48 (RFC 8215): a pool that
	 * translator prefixes are carved from, each embedding its IPv4
	 * address where RFC 6052 says for its length: a /96 in the last 32
	 * bits (first: what rules see, the usual length), a /64, /56 or
	 * the whole /48 around the u octet (bits 64-71).
	 */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, 0, 0, 4, {
	    V4_LAST32,
	    { { 9, 10, 11, 12 }, 0 },		/* /64 */
	    { { 7, 9, 10, 11 }, 0 },		/* /56 */
	    { { 6, 7, 9, 10 }, 0 } } },		/* /48 */
	/* 6to4, 2002::/16 (RFC 3056): bits 16-47 */
	{ { 0x20, 0x02 }, 16, 0, 0, 1, { { { 2, 3, 4, 5 }, 0 } } },
	/*
	 * Teredo, 2001:0::/32 (RFC 4380): the client's address inverted in
	 * the last 32 bits (first: what rules see), the server's in bits
	 * 32-63.
	 */
	{ { 0x20, 0x01, 0x00, 0x00 }, 32, 0, 0, 2, {
	    { { 12, 13, 14, 15 }, 0xff },
	    { { 4, 5, 6, 7 }, 0 } } },
};

static const struct v4form *
v4form_of(const uint8_t *a)
{
	const struct v4form	*f;
	size_t			 i;

	for (i = 0; i < sizeof v4forms / sizeof v4forms[0]; i++) {
		f = &v4forms[i];
		if (!prefix_has(a, f->f_pfx, f->f_bits))
			continue;
		if (f->f_not_low && (a[12] | a[13] | a[14]) == 0 && a[15] <= 1)
			continue;
		return (f);
	}
	return (NULL);
}

static void
v4_at(const uint8_t *a, const struct v4place *p, uint8_t *out)
{
	size_t	i;

	for (i = 0; i < 4; i++)
		out[i] = a[p->p_at[i]] ^ p->p_xor;
}

/*
 * The IPv4 host an IPv6 address (16 bytes) is another spelling of, into
 * out (4 bytes): 1 when it is one (mapped, SIIT, IPv4-compatible, the
 * NAT64 well-known prefix), else 0. The forms that name a network or a
 * relay rather than the host (NAT64 local-use, 6to4, Teredo) are not:
 * connecting to their IPv4 address would reach another machine; the
 * guard still judges them by every IPv4 address they carry.
 */
int
addrclass_embedded(const uint8_t *a, uint8_t *out)
{
	const struct v4form	*f;

	if ((f = v4form_of(a)) == NULL || !f->f_host)
		return (0);
	v4_at(a, &f->f_places[0], out);
	return (1);
}

/*
 * The class of an IPv6 address that carries IPv4 ones: the first of
 * them that is not public, else public. Where a form has several places,
 * one that reads as 0.0.0.0/8 holds no address (it is the zero prefix or
 * suffix around an address at another place), unless every one does.
 */
static enum hg_addrclass
embedded_class(const uint8_t *a, const struct v4form *f)
{
	enum hg_addrclass	ac;
	uint8_t			in4[4];
	size_t			i;
	int			seen = 0;

	for (i = 0; i < f->f_nplaces; i++) {
		v4_at(a, &f->f_places[i], in4);
		if (f->f_nplaces > 1 && in4[0] == 0)
			continue;
		seen = 1;
		if ((ac = lookup(v4, sizeof v4 / sizeof v4[0], in4)) !=
		    HG_AC_PUBLIC)
			return (ac);
	}
	if (seen)
		return (HG_AC_PUBLIC);
	v4_at(a, &f->f_places[0], in4);
	return (lookup(v4, sizeof v4 / sizeof v4[0], in4));
}

/* The class of an address of family 4 (4 bytes) or 6 (16 bytes). */
enum hg_addrclass
addrclass_of(int family, const uint8_t *addr)
{
	const struct v4form	*f;

	if (family == 4)
		return (lookup(v4, sizeof v4 / sizeof v4[0], addr));
	if ((f = v4form_of(addr)) != NULL)
		return (embedded_class(addr, f));
	return (lookup(v6, sizeof v6 / sizeof v6[0], addr));
}

const char *
addrclass_name(enum hg_addrclass ac)
{
	static const char *const names[] = {
		[HG_AC_PUBLIC] = "public",
		[HG_AC_LOOPBACK] = "loopback",
		[HG_AC_PRIVATE] = "private",
		[HG_AC_LINKLOCAL] = "link-local",
		[HG_AC_CGNAT] = "cgnat",
		[HG_AC_ULA] = "unique-local",
		[HG_AC_MULTICAST] = "multicast",
		[HG_AC_UNSPECIFIED] = "unspecified",
		[HG_AC_RESERVED] = "reserved",
	};

	if ((unsigned)ac >= sizeof names / sizeof names[0])
		return ("?");
	return (names[ac]);
}
