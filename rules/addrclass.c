/*
 * addrclass.c -- what kind of network an address belongs to, for the
 * destination guard: a gateway must not become a way into the networks
 * behind it (RFC 1918, link-local with cloud metadata at 169.254.169.254,
 * loopback of the gateway itself ...).
 *
 * An address that carries an IPv4 address inside an IPv6 one (mapped,
 * NAT64, 6to4, IPv4-compatible) is classified by the IPv4 address it
 * leads to.
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
 * The IPv4 address inside an IPv6 one, into out; 0 when there is none.
 */
static int
embedded_v4(const uint8_t *a, uint8_t *out)
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	static const uint8_t	nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t	nat64l[6] = { 0x00, 0x64, 0xff, 0x9b, 0x00,
				    0x01 };
	static const uint8_t	zero[12];

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
		memcpy(out, a + 12, 4);		/* ::ffff:0:0/96, 64:ff9b::/96 */
		return (1);
	}
	if (memcmp(a, nat64l, 6) == 0) {	/* 64:ff9b:1::/48, RFC 8215 */
		memcpy(out, a + 12, 4);
		return (1);
	}
	if (a[0] == 0x20 && a[1] == 0x02) {	/* 6to4: 2002:V4ADDR::/48 */
		memcpy(out, a + 2, 4);
		return (1);
	}
	/* IPv4-compatible ::a.b.c.d (deprecated), but not :: and ::1 */
	if (memcmp(a, zero, 12) == 0 &&
	    ((a[12] | a[13] | a[14]) != 0 || a[15] > 1)) {
		memcpy(out, a + 12, 4);
		return (1);
	}
	return (0);
}

/* The class of an address of family 4 (4 bytes) or 6 (16 bytes). */
enum hg_addrclass
addrclass_of(int family, const uint8_t *addr)
{
	uint8_t	in4[4];

	if (family == 4)
		return (lookup(v4, sizeof v4 / sizeof v4[0], addr));
	if (embedded_v4(addr, in4))
		return (lookup(v4, sizeof v4 / sizeof v4[0], in4));
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
