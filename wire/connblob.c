/*
 * connblob.c -- the binary proxy settings Windows keeps in the registry:
 * WinHTTP's WinHttpSettings and WinINet's DefaultConnectionSettings (the
 * layouts are in regfile.h).  No Windows calls: `hushgate winhttp set`
 * (win/winwire.c) writes these bytes to the registry, and `hushgate pac
 * --emit-windows` (cmd/paccmd.c, on any system) puts the same bytes in
 * Group Policy Preferences items, so that both give what `netsh winhttp
 * set proxy` and `netsh winhttp reset proxy` write.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "regfile.h"

_Static_assert(WW_MAX_TEXT == 2048, "the messages below say 2047 bytes");

enum { F_PROXY, F_BYPASS, F_URL };

static const char *const too_long[] = {
	"proxy: longer than 2047 bytes",
	"bypass list: longer than 2047 bytes",
	"autoconfig URL: longer than 2047 bytes",
};
static const char *const not_ascii[] = {
	"proxy: characters other than printable ASCII",
	"bypass list: characters other than printable ASCII",
	"autoconfig URL: characters other than printable ASCII",
};

/*
 * A text the settings can hold: below WW_MAX_TEXT bytes, printable ASCII
 * (WinHTTP and WinINet keep each character in one byte).  NULL when it
 * is, else why not.
 */
static const char *
text_check(const char *s, int field)
{
	size_t	i, n = strlen(s);

	if (n >= WW_MAX_TEXT)
		return (too_long[field]);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return (not_ascii[field]);
	return (NULL);
}

static void
put_text(struct ww_buf *b, const char *s)
{
	wb_u32(b, (uint32_t)strlen(s));
	wb_add(b, s, strlen(s));
}

int
conn_blob(struct ww_buf *b, int wininet, uint32_t counter, uint32_t flags,
    const char *proxy, const char *bypass, const char *url, const char **why)
{
	static const unsigned char	 zero[32];
	const char			*w;

	if (proxy == NULL)
		proxy = "";
	if (bypass == NULL)
		bypass = "";
	if (url == NULL)
		url = "";
	if ((w = text_check(proxy, F_PROXY)) != NULL ||
	    (w = text_check(bypass, F_BYPASS)) != NULL ||
	    (w = text_check(url, F_URL)) != NULL) {
		*why = w;
		return (-1);
	}
	wb_u32(b, wininet ? WININET_MAGIC : WINHTTP_MAGIC);
	/* WinINet counts its changes; WinHTTP readers want a zero here. */
	wb_u32(b, wininet ? counter : 0);
	wb_u32(b, flags);
	put_text(b, proxy);
	put_text(b, bypass);
	if (wininet || *url != '\0')
		put_text(b, url);
	if (wininet)
		wb_add(b, zero, sizeof zero);
	if (b->wb_err) {
		*why = "out of memory";
		return (-1);
	}
	return (0);
}

int
winhttp_settings(struct ww_buf *b, const char *proxy, const char *bypass,
    const char **why)
{
	if (proxy == NULL)	/* netsh winhttp reset proxy: "direct" */
		return (conn_blob(b, 0, 0, CONN_DIRECT, "", "", "", why));
	if (*proxy == '\0') {
		*why = "proxy: empty";
		return (-1);
	}
	return (conn_blob(b, 0, 0, CONN_DIRECT | CONN_PROXY, proxy, bypass,
	    "", why));
}
