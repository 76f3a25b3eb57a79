/*
 * winhttp_client.c -- a WinHTTP client for the Windows tests, using
 * WinHTTP the way Windows services do (DiagTrack, Windows Update):
 *
 *   winhttp_client defaultproxy        WinHttpGetDefaultProxyConfiguration
 *   winhttp_client get URL             a GET with
 *                                      WINHTTP_ACCESS_TYPE_DEFAULT_PROXY
 *   winhttp_client pac PACURL URL      WinHttpGetProxyForUrl with
 *                                      WINHTTP_AUTOPROXY_CONFIG_URL
 *   winhttp_client setproxy PROXY BYPASS
 *                                      WinHttpSetDefaultProxyConfiguration
 *                                      with a named proxy
 *   winhttp_client setdirect           the same with no proxy (what the
 *                                      WinHttpSettings value is written
 *                                      as by the system's own winhttp)
 *
 * Output is key=value lines on stdout (a body follows "status=N" after an
 * empty line); exit status 0 on success, 1 on a failure (error=N is
 * GetLastError), 2 on bad arguments.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winhttp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(void)
{
	fprintf(stderr, "usage: winhttp_client defaultproxy\n"
	    "       winhttp_client get URL\n"
	    "       winhttp_client pac PACURL URL\n"
	    "       winhttp_client setproxy PROXY BYPASS\n"
	    "       winhttp_client setdirect\n");
}

static WCHAR *
widen(const char *s)
{
	WCHAR	*w;
	int	 n;

	n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
	if (n <= 0 || (w = calloc((size_t)n, sizeof *w)) == NULL)
		return (NULL);
	MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
	return (w);
}

/* A wide string on stdout as UTF-8; "" for NULL. */
static void
put_w(const char *key, const WCHAR *w)
{
	char	*s;
	int	 n;

	if (w == NULL) {
		printf("%s=\n", key);
		return;
	}
	n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	if (n <= 0 || (s = malloc((size_t)n)) == NULL) {
		printf("%s=?\n", key);
		return;
	}
	WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
	printf("%s=%s\n", key, s);
	free(s);
}

static const char *
access_name(DWORD a)
{
	switch (a) {
	case WINHTTP_ACCESS_TYPE_NO_PROXY:
		return ("no_proxy");
	case WINHTTP_ACCESS_TYPE_NAMED_PROXY:
		return ("named_proxy");
	case WINHTTP_ACCESS_TYPE_DEFAULT_PROXY:
		return ("default_proxy");
	default:
		return ("other");
	}
}

static int
fail(const char *what)
{
	DWORD	e = GetLastError();

	printf("error=%lu\n", (unsigned long)e);
	fprintf(stderr, "winhttp_client: %s failed: error %lu\n", what,
	    (unsigned long)e);
	return (1);
}

static int
cmd_defaultproxy(void)
{
	WINHTTP_PROXY_INFO	pi;

	memset(&pi, 0, sizeof pi);
	if (!WinHttpGetDefaultProxyConfiguration(&pi))
		return (fail("WinHttpGetDefaultProxyConfiguration"));
	printf("access=%s\n", access_name(pi.dwAccessType));
	put_w("proxy", pi.lpszProxy);
	put_w("bypass", pi.lpszProxyBypass);
	if (pi.lpszProxy != NULL)
		GlobalFree(pi.lpszProxy);
	if (pi.lpszProxyBypass != NULL)
		GlobalFree(pi.lpszProxyBypass);
	return (0);
}

static int
cmd_get(const char *url)
{
	URL_COMPONENTS	 uc;
	HINTERNET	 ses = NULL, con = NULL, req = NULL;
	WCHAR		*wurl, host[256], path[2048];
	DWORD		 status = 0, size = sizeof status, n;
	char		 buf[4096];
	int		 rc = 1;

	if ((wurl = widen(url)) == NULL)
		return (fail("MultiByteToWideChar"));
	memset(&uc, 0, sizeof uc);
	uc.dwStructSize = sizeof uc;
	uc.lpszHostName = host;
	uc.dwHostNameLength = sizeof host / sizeof host[0];
	uc.lpszUrlPath = path;
	uc.dwUrlPathLength = sizeof path / sizeof path[0];
	if (!WinHttpCrackUrl(wurl, 0, 0, &uc)) {
		rc = fail("WinHttpCrackUrl");
		goto out;
	}
	if (uc.dwUrlPathLength == 0)
		wcscpy(path, L"/");
	/* The machine's default proxy: what a service gets. */
	ses = WinHttpOpen(L"hushgate-test/1", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
	    WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
	if (ses == NULL) {
		rc = fail("WinHttpOpen");
		goto out;
	}
	WinHttpSetTimeouts(ses, 10000, 10000, 10000, 10000);
	if ((con = WinHttpConnect(ses, host, uc.nPort, 0)) == NULL) {
		rc = fail("WinHttpConnect");
		goto out;
	}
	req = WinHttpOpenRequest(con, L"GET", path, NULL, WINHTTP_NO_REFERER,
	    WINHTTP_DEFAULT_ACCEPT_TYPES,
	    uc.nScheme == INTERNET_SCHEME_HTTPS ? WINHTTP_FLAG_SECURE : 0);
	if (req == NULL) {
		rc = fail("WinHttpOpenRequest");
		goto out;
	}
	if (!WinHttpSendRequest(req, WINHTTP_NO_ADDITIONAL_HEADERS, 0,
	    WINHTTP_NO_REQUEST_DATA, 0, 0, 0)) {
		rc = fail("WinHttpSendRequest");
		goto out;
	}
	if (!WinHttpReceiveResponse(req, NULL)) {
		rc = fail("WinHttpReceiveResponse");
		goto out;
	}
	if (!WinHttpQueryHeaders(req, WINHTTP_QUERY_STATUS_CODE |
	    WINHTTP_QUERY_FLAG_NUMBER, WINHTTP_HEADER_NAME_BY_INDEX, &status,
	    &size, WINHTTP_NO_HEADER_INDEX)) {
		rc = fail("WinHttpQueryHeaders");
		goto out;
	}
	printf("status=%lu\n\n", (unsigned long)status);
	for (;;) {
		if (!WinHttpReadData(req, buf, sizeof buf, &n)) {
			rc = fail("WinHttpReadData");
			goto out;
		}
		if (n == 0)
			break;
		fwrite(buf, 1, n, stdout);
	}
	rc = 0;
out:
	fflush(stdout);
	if (req != NULL)
		WinHttpCloseHandle(req);
	if (con != NULL)
		WinHttpCloseHandle(con);
	if (ses != NULL)
		WinHttpCloseHandle(ses);
	free(wurl);
	return (rc);
}

static int
cmd_pac(const char *pacurl, const char *url)
{
	WINHTTP_AUTOPROXY_OPTIONS	 ao;
	WINHTTP_PROXY_INFO		 pi;
	HINTERNET			 ses;
	WCHAR				*wpac, *wurl;
	int				 rc = 0;

	wpac = widen(pacurl);
	wurl = widen(url);
	if (wpac == NULL || wurl == NULL)
		return (fail("MultiByteToWideChar"));
	ses = WinHttpOpen(L"hushgate-test/1", WINHTTP_ACCESS_TYPE_NO_PROXY,
	    WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
	if (ses == NULL)
		return (fail("WinHttpOpen"));
	memset(&ao, 0, sizeof ao);
	ao.dwFlags = WINHTTP_AUTOPROXY_CONFIG_URL;
	ao.lpszAutoConfigUrl = wpac;
	ao.fAutoLogonIfChallenged = FALSE;
	memset(&pi, 0, sizeof pi);
	if (!WinHttpGetProxyForUrl(ses, wurl, &ao, &pi))
		rc = fail("WinHttpGetProxyForUrl");
	else {
		if (pi.dwAccessType == WINHTTP_ACCESS_TYPE_NO_PROXY ||
		    pi.lpszProxy == NULL)
			printf("proxy=DIRECT\n");
		else
			put_w("proxy", pi.lpszProxy);
		printf("access=%s\n", access_name(pi.dwAccessType));
		if (pi.lpszProxy != NULL)
			GlobalFree(pi.lpszProxy);
		if (pi.lpszProxyBypass != NULL)
			GlobalFree(pi.lpszProxyBypass);
	}
	WinHttpCloseHandle(ses);
	free(wpac);
	free(wurl);
	return (rc);
}

/* WinHttpSetDefaultProxyConfiguration: NULL proxy for no proxy. */
static int
cmd_setdefault(const char *proxy, const char *bypass)
{
	WINHTTP_PROXY_INFO	 pi;
	WCHAR			*wp = NULL, *wb = NULL;
	int			 rc = 0;

	memset(&pi, 0, sizeof pi);
	pi.dwAccessType = WINHTTP_ACCESS_TYPE_NO_PROXY;
	if (proxy != NULL) {
		if ((wp = widen(proxy)) == NULL || (wb = widen(bypass)) == NULL)
			return (fail("MultiByteToWideChar"));
		pi.dwAccessType = WINHTTP_ACCESS_TYPE_NAMED_PROXY;
		pi.lpszProxy = wp;
		pi.lpszProxyBypass = wb;
	}
	if (!WinHttpSetDefaultProxyConfiguration(&pi))
		rc = fail("WinHttpSetDefaultProxyConfiguration");
	else
		printf("set=%s\n", proxy ? "named_proxy" : "no_proxy");
	free(wp);
	free(wb);
	return (rc);
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "defaultproxy") == 0)
		return (cmd_defaultproxy());
	if (argc == 3 && strcmp(argv[1], "get") == 0)
		return (cmd_get(argv[2]));
	if (argc == 4 && strcmp(argv[1], "pac") == 0)
		return (cmd_pac(argv[2], argv[3]));
	if (argc == 4 && strcmp(argv[1], "setproxy") == 0)
		return (cmd_setdefault(argv[2], argv[3]));
	if (argc == 2 && strcmp(argv[1], "setdirect") == 0)
		return (cmd_setdefault(NULL, NULL));
	usage();
	return (2);
}
