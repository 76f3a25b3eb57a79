/*
 * test_gateway.c -- the parsers and checks of the gateway: destination
 * classes (tests/data/addrclass.tsv), the PROXY protocol header
 * (tests/data/proxyproto.tsv) and the server name of a TLS ClientHello
 * (tests/data/tlshello.tsv with captures in tests/data/tlshello/).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "rules/rules.h"
#include "unit.h"

/* ADDRESS<TAB>CLASS */
static void
test_addrclass_line(void **state)
{
	const struct unit_line	*ul = *state;
	uint8_t			 addr[16];
	int			 family = 4;
	const char		*got;

	if (inet_pton(AF_INET, ul->ul_fields[0], addr) != 1) {
		family = 6;
		if (inet_pton(AF_INET6, ul->ul_fields[0], addr) != 1)
			fail_msg("bad address in table: %s", ul->ul_fields[0]);
	}
	got = addrclass_name(addrclass_of(family, addr));
	if (strcmp(got, ul->ul_fields[1]) != 0)
		fail_msg("%s is %s, want %s", ul->ul_fields[0], got,
		    ul->ul_fields[1]);
}

static int
pp_versions(const char *s)
{
	if (strcmp(s, "v1") == 0)
		return (PP_V1);
	if (strcmp(s, "v2") == 0)
		return (PP_V2);
	if (strcmp(s, "any") == 0)
		return (PP_V1 | PP_V2);
	fail_msg("bad versions column: %s", s);
	return (0);
}

/* "address port", or "local" */
static void
pp_check_addr(const char *what, const struct pp_info *pi,
    const struct pp_addr *a, const char *want)
{
	char	buf[INET6_ADDRSTRLEN + 8], txt[INET6_ADDRSTRLEN];

	if (pi->pi_local) {
		if (strcmp(want, "local") != 0)
			fail_msg("%s: local, want %s", what, want);
		return;
	}
	inet_ntop(a->pa_family == 4 ? AF_INET : AF_INET6, a->pa_addr, txt,
	    sizeof txt);
	snprintf(buf, sizeof buf, "%s %u", txt, a->pa_port);
	if (strcmp(buf, want) != 0)
		fail_msg("%s: %s, want %s", what, buf, want);
}

static const char *const pp_names[] = { "error", "more", "done" };

static int
pp_run(const char *buf, size_t len, int versions, struct pp_info *pi,
    const char **why)
{
	unsigned char	*copy = unit_exact_copy(buf, len);
	int		 r;

	r = proxyproto_parse(copy, len, versions, pi, why);
	free(copy);
	return (r);
}

static void
test_pp_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	struct pp_info		 pi;
	const char		*why, *want = ul->ul_fields[0];
	int			 versions, r;
	size_t			 i, len;

	versions = pp_versions(ul->ul_fields[1]);
	assert_int_equal(unit_unescape(ul->ul_fields[2], &in), 0);
	r = pp_run(in.ub_buf, in.ub_len, versions, &pi, &why);
	if (strcmp(pp_names[r + 1], want) != 0)
		fail_msg("'%s': %s (%s), want %s",
		    unit_show(in.ub_buf, in.ub_len), pp_names[r + 1],
		    why ? why : "-", want);
	if (r == PP_ERROR) {
		if (ul->ul_nfields < 4 || why == NULL ||
		    strstr(why, ul->ul_fields[3]) == NULL)
			fail_msg("reason '%s', want a piece '%s'",
			    why ? why : "-",
			    ul->ul_nfields >= 4 ? ul->ul_fields[3] : "?");
		return;
	}
	if (r != PP_DONE)
		return;
	assert_true(ul->ul_nfields >= 6);
	len = strtoul(ul->ul_fields[3], NULL, 10);
	if (pi.pi_len != len)
		fail_msg("header length %zu, want %zu", pi.pi_len, len);
	pp_check_addr("source", &pi, &pi.pi_src, ul->ul_fields[4]);
	pp_check_addr("destination", &pi, &pi.pi_dst, ul->ul_fields[5]);
	for (i = 0; i < len; i++) {
		r = pp_run(in.ub_buf, i, versions, &pi, &why);
		if (r != PP_MORE)
			fail_msg("prefix of %zu bytes: %s (%s), want more", i,
			    pp_names[r + 1], why ? why : "-");
	}
}

static const char *
hello_name(int r)
{
	switch (r) {
	case HELLO_BAD:		return ("bad");
	case HELLO_NOTTLS:	return ("nottls");
	case HELLO_MORE:	return ("more");
	case HELLO_SNI:		return ("sni");
	case HELLO_NOSNI:	return ("nosni");
	}
	return ("?");
}

static int
hello_run(const unsigned char *buf, size_t len, char *name, size_t size,
    const char **why)
{
	unsigned char	*copy = unit_exact_copy(buf, len);
	int		 r;

	r = tls_hello_sni(copy, len, name, size, why);
	free(copy);
	return (r);
}

/* The handshake of buf (one record or more) re-cut into records of n. */
static unsigned char *
recut(const unsigned char *buf, size_t len, size_t n, size_t *outlen)
{
	unsigned char	*hs = malloc(len), *out;
	size_t		 hslen = 0, off = 0, rl, o = 0, k;

	assert_non_null(hs);
	while (off + 5 <= len && buf[off] == 0x16) {
		rl = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (off + 5 + rl > len)
			break;
		memcpy(hs + hslen, buf + off + 5, rl);
		hslen += rl;
		off += 5 + rl;
	}
	out = malloc(hslen + 5 * (hslen / n + 1));
	assert_non_null(out);
	for (k = 0; k < hslen; k += n) {
		size_t	take = hslen - k < n ? hslen - k : n;

		out[o++] = 0x16;
		out[o++] = 0x03;
		out[o++] = 0x01;
		out[o++] = (unsigned char)(take >> 8);
		out[o++] = (unsigned char)take;
		memcpy(out + o, hs + k, take);
		o += take;
	}
	free(hs);
	*outlen = o;
	return (out);
}

static void
hello_check(const unsigned char *buf, size_t len, const char *want,
    const char *wname, int deep)
{
	static const size_t	 cuts[] = { 1, 7, 100 };
	char			 name[HG_MAX_HOST + 1];
	const char		*why;
	unsigned char		*rc;
	size_t			 i, rclen;
	int			 r;

	r = hello_run(buf, len, name, sizeof name, &why);
	if (strcmp(hello_name(r), want) != 0)
		fail_msg("%s (%s), want %s", hello_name(r), why ? why : "-",
		    want);
	if (r == HELLO_BAD || r == HELLO_NOTTLS) {
		if (why == NULL || strstr(why, wname) == NULL)
			if (strcmp(wname, "-") != 0)
				fail_msg("reason '%s', want a piece '%s'",
				    why ? why : "-", wname);
		return;
	}
	if (r == HELLO_SNI && strcmp(name, wname) != 0)
		fail_msg("name '%s', want '%s'", name, wname);
	if (!deep)
		return;
	/* shorter than the whole hello: more; only its records count */
	for (i = 0; i < len; i++) {
		r = hello_run(buf, i, name, sizeof name, &why);
		if (r == HELLO_MORE)
			continue;
		if (r == HELLO_SNI || r == HELLO_NOSNI)
			break;	/* the hello ended before the extra bytes */
		fail_msg("prefix of %zu bytes: %s (%s), want more", i,
		    hello_name(r), why ? why : "-");
	}
	for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		rc = recut(buf, len, cuts[i], &rclen);
		hello_check(rc, rclen, want, wname, 0);
		free(rc);
	}
}

/* file<TAB>NAME.hex<TAB>RESULT<TAB>NAME, raw<TAB>RESULT<TAB>NAME<TAB>INPUT */
static void
test_hello_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	unsigned char		*bin;
	char			*hex;
	size_t			 hexlen, n = 0, i;
	int			 deep;

	if (strcmp(ul->ul_fields[0], "file") == 0) {
		assert_true(ul->ul_nfields >= 4);
		hex = unit_read_file(unit_data_path(unit_printf("tlshello/%s",
		    ul->ul_fields[1])), &hexlen);
		if (hex == NULL)
			fail_msg("cannot read tlshello/%s", ul->ul_fields[1]);
		bin = malloc(hexlen / 2 + 1);
		assert_non_null(bin);
		for (i = 0; i + 1 < hexlen; i += 2) {
			if (unit_hexval(hex[i]) < 0 || unit_hexval(hex[i + 1]) < 0)
				break;
			bin[n++] = (unsigned char)(unit_hexval(hex[i]) << 4 |
			    unit_hexval(hex[i + 1]));
		}
		free(hex);
		hello_check(bin, n, ul->ul_fields[2], ul->ul_fields[3], 1);
		free(bin);
		return;
	}
	assert_true(ul->ul_nfields >= 4);
	assert_int_equal(unit_unescape(ul->ul_fields[3], &in), 0);
	deep = strcmp(ul->ul_fields[1], "sni") == 0 ||
	    strcmp(ul->ul_fields[1], "nosni") == 0;
	hello_check((const unsigned char *)in.ub_buf, in.ub_len,
	    ul->ul_fields[1], ul->ul_fields[2], deep);
}

void
test_gateway_group(struct unit_group *g)
{
	struct unit_line	**lines;
	size_t			  n, i;

	n = unit_read_table(g, "addrclass.tsv", &lines);
	for (i = 0; i < n; i++)
		unit_add(g, unit_case_name(lines[i], lines[i]->ul_text),
		    test_addrclass_line, lines[i]);
	n = unit_read_table(g, "proxyproto.tsv", &lines);
	for (i = 0; i < n; i++)
		unit_add(g, unit_case_name(lines[i], lines[i]->ul_fields[0]),
		    test_pp_line, lines[i]);
	n = unit_read_table(g, "tlshello.tsv", &lines);
	for (i = 0; i < n; i++)
		unit_add(g, unit_case_name(lines[i], lines[i]->ul_fields[
		    lines[i]->ul_nfields > 2 ? 2 : 0]), test_hello_line,
		    lines[i]);
}
