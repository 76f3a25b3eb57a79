/*
 * test_winhttp.c -- the registry's binary proxy settings
 * (wire/connblob.c), byte for byte: WinHttpSettings as netsh winhttp set
 * proxy and reset proxy write it (hushgate winhttp set and the Group
 * Policy items of hushgate pac --emit-windows both use these bytes), the
 * PAC URL form, WinINet's DefaultConnectionSettings, the lengths at their
 * bounds and the refusals.  Cases in tests/data/winhttp/cases.tsv.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "wire/regfile.h"

#define WINHTTP_CASES	"winhttp/cases.tsv"

/* An unescaped field; "(none)" is NULL. */
static const char *
field(const struct unit_line *l, size_t i, int none)
{
	struct unit_bytes	b;

	if (none && strcmp(l->ul_fields[i], "(none)") == 0)
		return (NULL);
	if (unit_unescape(l->ul_fields[i], &b) != 0)
		fail_msg("%s:%u: bad escape in field %zu", l->ul_file,
		    l->ul_lineno, i);
	if (strlen(b.ub_buf) != b.ub_len)
		fail_msg("%s:%u: NUL in field %zu", l->ul_file, l->ul_lineno,
		    i);
	return (b.ub_buf);
}

/* The expected bytes: hex digits, blanks between bytes ignored. */
static unsigned char *
hex_field(const struct unit_line *l, size_t i, size_t *lenp)
{
	const char	*s = field(l, i, 0);
	unsigned char	*out = unit_keep(malloc(strlen(s) / 2 + 1));
	size_t		 n = 0;
	int		 hi, lo;

	while (*s != '\0') {
		if (*s == ' ') {
			s++;
			continue;
		}
		hi = unit_hexval(s[0]);
		lo = s[1] != '\0' ? unit_hexval(s[1]) : -1;
		if (hi < 0 || lo < 0)
			fail_msg("%s:%u: bad hex in field %zu", l->ul_file,
			    l->ul_lineno, i);
		out[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	*lenp = n;
	return (out);
}

static char *
hex_of(const unsigned char *p, size_t n)
{
	char	*s = unit_keep(malloc(2 * n + 1));
	size_t	 i;

	for (i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", p[i]);
	s[2 * n] = '\0';
	return (s);
}

static void
check_bytes(const struct unit_line *l, const struct ww_buf *b,
    const unsigned char *want, size_t wantlen)
{
	if (b->wb_len != wantlen || memcmp(b->wb_p, want, wantlen) != 0)
		fail_msg("%s:%u: %zu bytes %.200s, expected %zu bytes %.200s",
		    l->ul_file, l->ul_lineno, b->wb_len,
		    hex_of(b->wb_p, b->wb_len), wantlen,
		    hex_of(want, wantlen));
}

static void
test_winhttp_line(void **state)
{
	const struct unit_line	*l = *state;
	const char		*kind = l->ul_fields[0], *why = NULL;
	const char		*proxy, *bypass, *url, *err;
	struct ww_buf		 b;
	unsigned char		*want;
	size_t			 wantlen;
	unsigned long		 counter, flags;
	int			 rc;

	memset(&b, 0, sizeof b);
	if (strcmp(kind, "set") == 0) {
		proxy = field(l, 1, 0);
		bypass = field(l, 2, 1);
		want = hex_field(l, 3, &wantlen);
		rc = winhttp_settings(&b, proxy, bypass, &why);
	} else if (strcmp(kind, "reset") == 0) {
		want = hex_field(l, 1, &wantlen);
		rc = winhttp_settings(&b, NULL, NULL, &why);
		if (rc == 0 && b.wb_len != WINHTTP_DIRECT_LEN)
			fail_msg("%s:%u: direct is %zu bytes, not %d",
			    l->ul_file, l->ul_lineno, b.wb_len,
			    WINHTTP_DIRECT_LEN);
	} else if (strcmp(kind, "pac") == 0) {
		url = field(l, 1, 0);
		want = hex_field(l, 2, &wantlen);
		rc = conn_blob(&b, 0, 0, CONN_DIRECT | CONN_AUTOURL, "", "",
		    url, &why);
	} else if (strcmp(kind, "wininet") == 0) {
		counter = strtoul(l->ul_fields[1], NULL, 10);
		flags = strtoul(l->ul_fields[2], NULL, 10);
		want = hex_field(l, 6, &wantlen);
		rc = conn_blob(&b, 1, (uint32_t)counter, (uint32_t)flags,
		    field(l, 3, 0), field(l, 4, 0), field(l, 5, 0), &why);
	} else {
		/* refuse PROXY BYPASS ERROR, badurl URL ERROR */
		if (strcmp(kind, "refuse") == 0) {
			rc = winhttp_settings(&b, field(l, 1, 0),
			    field(l, 2, 1), &why);
			err = l->ul_fields[3];
		} else {
			rc = conn_blob(&b, 0, 0, CONN_DIRECT | CONN_AUTOURL,
			    "", "", field(l, 1, 0), &why);
			err = l->ul_fields[2];
		}
		if (rc == 0)
			fail_msg("%s:%u: accepted (%zu bytes), expected '%s'",
			    l->ul_file, l->ul_lineno, b.wb_len, err);
		if (why == NULL || strcmp(why, err) != 0)
			fail_msg("%s:%u: refused with '%s', expected '%s'",
			    l->ul_file, l->ul_lineno, why ? why : "(none)",
			    err);
		/* Nothing written on a refusal. */
		assert_int_equal(b.wb_len, 0);
		free(b.wb_p);
		return;
	}
	if (rc != 0)
		fail_msg("%s:%u: refused: %s", l->ul_file, l->ul_lineno,
		    why ? why : "(no reason)");
	check_bytes(l, &b, want, wantlen);
	free(b.wb_p);
}

static const struct unit_kind winhttp_kinds[] = {
	{ "set", 4, test_winhttp_line },
	{ "reset", 2, test_winhttp_line },
	{ "refuse", 4, test_winhttp_line },
	{ "pac", 3, test_winhttp_line },
	{ "badurl", 3, test_winhttp_line },
	{ "wininet", 7, test_winhttp_line },
};

void
test_winhttp_group(struct unit_group *g)
{
	unit_add_table(g, WINHTTP_CASES, winhttp_kinds,
	    sizeof winhttp_kinds / sizeof winhttp_kinds[0]);
}
