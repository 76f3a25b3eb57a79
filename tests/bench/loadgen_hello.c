/*
 * loadgen_hello.c -- the TLS ClientHello that --client-hello sends as a
 * tunnel's first bytes: built once at start-up, a realistic TLS 1.3 hello
 * carrying the given server name, padded to 512 bytes as browsers do.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"

unsigned char hello[HELLO_MAX];
size_t hello_len;


static size_t put8(unsigned char *b, size_t o, unsigned v)
{
	b[o] = (unsigned char)v;
	return o + 1;
}

static size_t put16(unsigned char *b, size_t o, unsigned v)
{
	b[o] = (unsigned char)(v >> 8);
	b[o + 1] = (unsigned char)v;
	return o + 2;
}

static size_t put24(unsigned char *b, size_t o, size_t v)
{
	b[o] = (unsigned char)(v >> 16);
	b[o + 1] = (unsigned char)(v >> 8);
	b[o + 2] = (unsigned char)v;
	return o + 3;
}

static size_t putn(unsigned char *b, size_t o, const void *p, size_t n)
{
	memcpy(b + o, p, n);
	return o + n;
}

/* fixed filler bytes (random, session id, key share): a simple LCG */
static size_t putfill(unsigned char *b, size_t o, size_t n, uint32_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1664525u + 1013904223u;
		b[o + i] = (unsigned char)(*seed >> 24);
	}
	return o + n;
}

/*
 * One TLS record holding a ClientHello as a current browser or curl sends
 * it: TLS 1.2 record and legacy versions, TLS 1.3 in supported_versions,
 * a 32-byte session id, 17 cipher suites, server_name, the usual
 * extensions and an X25519 key share, padded (RFC 7685) to a 512-byte
 * handshake message as OpenSSL and browsers do (517 bytes in all).  Only
 * the bytes matter: no handshake follows, the echo server sends them back.
 */
void set_client_hello(const char *name)
{
	static const uint16_t suites[] = {
		0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8,
		0xccaa, 0xc02b, 0xc02f, 0x009e, 0xc024, 0xc028, 0x006b, 0xc023,
		0xc027,
	};
	static const uint16_t groups[] = { 0x001d, 0x0017, 0x001e, 0x0019, 0x0018 };
	static const uint16_t sigalgs[] = {
		0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b,
		0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
	};
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	size_t nlen = strlen(name);
	unsigned char *b = hello;
	uint32_t seed = 0x5eed1e55u;
	size_t o = 0, hs, body, exts, x;

	if (nlen == 0 || nlen > 253)
		die("--client-hello: a host name of 1 to 253 bytes, not '%s'", name);
	o = put8(b, o, 0x16); /* record: handshake, TLS 1.0 as clients send */
	o = put16(b, o, 0x0301);
	o = put16(b, o, 0);   /* record length, below */
	hs = o;
	o = put8(b, o, 0x01); /* ClientHello */
	o = put24(b, o, 0);   /* its length, below */
	body = o;
	o = put16(b, o, 0x0303);
	o = putfill(b, o, 32, &seed); /* random */
	o = put8(b, o, 32);
	o = putfill(b, o, 32, &seed); /* legacy session id */
	o = put16(b, o, (unsigned)(2 * (sizeof suites / sizeof suites[0])));
	for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
		o = put16(b, o, suites[i]);
	o = put8(b, o, 1);
	o = put8(b, o, 0);    /* compression: null */
	exts = o;
	o = put16(b, o, 0);   /* extensions length, below */
	/* server_name */
	o = put16(b, o, 0x0000);
	o = put16(b, o, (unsigned)(nlen + 5));
	o = put16(b, o, (unsigned)(nlen + 3));
	o = put8(b, o, 0);    /* host_name */
	o = put16(b, o, (unsigned)nlen);
	o = putn(b, o, name, nlen);
	/* ec_point_formats */
	o = put16(b, o, 0x000b);
	o = put16(b, o, 4);
	o = put8(b, o, 3);
	o = putn(b, o, "\x00\x01\x02", 3);
	/* supported_groups */
	o = put16(b, o, 0x000a);
	o = put16(b, o, (unsigned)(2 + 2 * (sizeof groups / sizeof groups[0])));
	o = put16(b, o, (unsigned)(2 * (sizeof groups / sizeof groups[0])));
	for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
		o = put16(b, o, groups[i]);
	/* session_ticket, empty */
	o = put16(b, o, 0x0023);
	o = put16(b, o, 0);
	/* application_layer_protocol_negotiation: h2, http/1.1 */
	o = put16(b, o, 0x0010);
	o = put16(b, o, (unsigned)(2 + sizeof alpn - 1));
	o = put16(b, o, (unsigned)(sizeof alpn - 1));
	o = putn(b, o, alpn, sizeof alpn - 1);
	/* encrypt_then_mac, extended_master_secret */
	o = put16(b, o, 0x0016);
	o = put16(b, o, 0);
	o = put16(b, o, 0x0017);
	o = put16(b, o, 0);
	/* signature_algorithms */
	o = put16(b, o, 0x000d);
	o = put16(b, o, (unsigned)(2 + 2 * (sizeof sigalgs / sizeof sigalgs[0])));
	o = put16(b, o, (unsigned)(2 * (sizeof sigalgs / sizeof sigalgs[0])));
	for (size_t i = 0; i < sizeof sigalgs / sizeof sigalgs[0]; i++)
		o = put16(b, o, sigalgs[i]);
	/* supported_versions: TLS 1.3, 1.2 */
	o = put16(b, o, 0x002b);
	o = put16(b, o, 5);
	o = put8(b, o, 4);
	o = put16(b, o, 0x0304);
	o = put16(b, o, 0x0303);
	/* psk_key_exchange_modes: psk_dhe_ke */
	o = put16(b, o, 0x002d);
	o = put16(b, o, 2);
	o = put8(b, o, 1);
	o = put8(b, o, 1);
	/* key_share: X25519 */
	o = put16(b, o, 0x0033);
	o = put16(b, o, 38);
	o = put16(b, o, 36);
	o = put16(b, o, 0x001d);
	o = put16(b, o, 32);
	o = putfill(b, o, 32, &seed);
	/* padding up to a 512-byte handshake message, when there is room */
	x = o - hs;
	if (x + 4 <= 512) {
		size_t pad = 512 - x - 4;
		o = put16(b, o, 0x0015);
		o = put16(b, o, (unsigned)pad);
		memset(b + o, 0, pad);
		o += pad;
	}
	put16(b, exts, (unsigned)(o - exts - 2));
	put24(b, body - 3, o - body);
	put16(b, hs - 2, (unsigned)(o - hs));
	hello_len = o;
}

