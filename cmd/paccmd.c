/*
 * paccmd.c -- `hushgate pac`: write the PAC file the proxy serves, or the
 * files that point Windows machines at it (--emit-windows).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proxy/proxy.h"
#include "cmd/cmd.h"
#include "plat/plat.h"

#define PAC_MAX_URL	2048

static void
pac_usage(FILE *f)
{
	fprintf(f,
	    "usage: hushgate pac [-c FILE] [--proxy HOST:PORT[,HOST:PORT...]]\n"
	    "                    [--mode all|policy] [--fallback direct|block] "
	    "[-o FILE]\n"
	    "       hushgate pac [-c FILE] --emit-windows DIR --pac-url URL "
	    "[--proxy HOST:PORT]\n");
}

/*
 * The proxies a generated file names: --proxy, else pac.proxy, else the
 * first listen address (not a wildcard one). Fills list (strings the
 * caller frees) and returns their number, or 0 with a message.
 */
static size_t
pick_proxies(const struct hg_config *cf, const char *arg, char **list)
{
	struct hg_target	 t;
	const char		*why, *p, *end;
	size_t			 n = 0, i;

	if (arg != NULL) {
		for (p = arg; *p != '\0'; p = *end ? end + 1 : end) {
			end = strchr(p, ',');
			if (end == NULL)
				end = p + strlen(p);
			if (n == HG_PAC_MAX_PROXIES ||
			    target_parse(p, (size_t)(end - p), 0, &t,
			    &why) != 0) {
				fprintf(stderr, "hushgate: --proxy: '%.*s' is "
				    "not HOST:PORT\n", (int)(end - p), p);
				goto fail;
			}
			xasprintf(&list[n++], t.t_kind == HG_HOST_IPV6 ?
			    "[%s]:%u" : "%s:%u", t.t_host, t.t_port);
		}
		if (n == 0)
			goto fail;
		return (n);
	}
	for (i = 0; i < cf->cf_npac_proxy; i++)
		list[n++] = xstrdup(cf->cf_pac_proxy[i]);
	if (n > 0)
		return (n);
	p = cf->cf_listeners[0].li_addr;	/* the first proxy listener */
	if (strncmp(p, "0.0.0.0:", 8) == 0 || strncmp(p, "[::]:", 5) == 0 ||
	    strcmp(strrchr(p, ':'), ":0") == 0) {
		fprintf(stderr, "hushgate: listen %s names no address clients "
		    "can use: give --proxy or pac.proxy\n", p);
		return (0);
	}
	list[0] = xstrdup(p);
	return (1);
fail:
	for (i = 0; i < n; i++)
		free(list[i]);
	return (0);
}

/* Write the PAC file (head, proxy line, body) to f. Returns 0 or -1. */
static int
write_pac(FILE *f, const struct hg_pac *pac, char **proxies, size_t n)
{
	char	*line = pac_proxy_line(proxies, n);
	int	 rc;

	rc = fwrite(pac->pc_head, 1, pac->pc_headlen, f) == pac->pc_headlen &&
	    fputs(line, f) != EOF &&
	    fwrite(pac->pc_body, 1, pac->pc_bodylen, f) == pac->pc_bodylen ?
	    0 : -1;
	free(line);
	return (rc);
}

/* --- Windows artefacts -------------------------------------------------- */

struct wfile {
	char	*wf_buf;
	size_t	 wf_len;
};

static void __attribute__((format(HG_PRINTF, 2, 3)))
wf_printf(struct wfile *wf, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	wf->wf_buf = xreallocarray(wf->wf_buf, wf->wf_len + (size_t)n + 1, 1);
	memcpy(wf->wf_buf + wf->wf_len, s, (size_t)n + 1);
	wf->wf_len += (size_t)n;
	free(s);
}

/* Escape backslash and double quote with a backslash: a .reg string
 * value, a JSON string (the URL is printable ASCII, checked before). */
static char *
bs_escape(const char *s)
{
	struct wfile	wf = { NULL, 0 };

	wf_printf(&wf, "%s", "");
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			wf_printf(&wf, "\\%c", *s);
		else
			wf_printf(&wf, "%c", *s);
	}
	return (wf.wf_buf);
}

static char *
xml_escape(const char *s)
{
	struct wfile	wf = { NULL, 0 };

	wf_printf(&wf, "%s", "");
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			wf_printf(&wf, "&amp;");
			break;
		case '<':
			wf_printf(&wf, "&lt;");
			break;
		case '>':
			wf_printf(&wf, "&gt;");
			break;
		case '"':
			wf_printf(&wf, "&quot;");
			break;
		case '\'':
			wf_printf(&wf, "&apos;");
			break;
		default:
			wf_printf(&wf, "%c", *s);
		}
	}
	return (wf.wf_buf);
}

/* Write text (ASCII, "\n" line ends) to dir/name; crlf turns "\n" into
 * "\r\n", utf16 writes UTF-16LE with a byte order mark. */
static int
write_text(const char *dir, const char *name, const char *text, int crlf,
    int utf16)
{
	FILE		*f;
	char		*path;
	const char	*p;
	int		 rc = 0;

	xasprintf(&path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "hushgate: %s: %s\n", path, strerror(errno));
		free(path);
		return (-1);
	}
	if (utf16)
		fputs("\xff\xfe", f);
	for (p = text; *p != '\0'; p++) {
		if (*p == '\n' && crlf) {
			fputc('\r', f);
			if (utf16)
				fputc(0, f);
		}
		fputc(*p, f);
		if (utf16)
			fputc(0, f);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "hushgate: %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	free(path);
	return (rc);
}

/* One registry value set by the artefacts. */
struct regval {
	const char	*rv_file;	/* .reg file name, without ".reg" */
	const char	*rv_hive;	/* HKEY_CURRENT_USER ... */
	const char	*rv_key;
	const char	*rv_name;
	int		 rv_dword;	/* REG_DWORD, else REG_SZ */
	char		*rv_value;	/* REG_SZ text, or the number */
};

static int
write_reg(const char *dir, const struct regval *rv, int undo)
{
	struct wfile	 wf = { NULL, 0 };
	char		*name, *val;
	int		 rc;

	wf_printf(&wf, "Windows Registry Editor Version 5.00\n\n"
	    "[%s\\%s]\n", rv->rv_hive, rv->rv_key);
	if (undo)
		wf_printf(&wf, "\"%s\"=-\n", rv->rv_name);
	else if (rv->rv_dword)
		wf_printf(&wf, "\"%s\"=dword:%08lx\n", rv->rv_name,
		    strtoul(rv->rv_value, NULL, 10));
	else {
		val = bs_escape(rv->rv_value);
		wf_printf(&wf, "\"%s\"=\"%s\"\n", rv->rv_name, val);
		free(val);
	}
	xasprintf(&name, "%s%s.reg", rv->rv_file, undo ? "-undo" : "");
	rc = write_text(dir, name, wf.wf_buf, 1, 1);
	free(name);
	free(wf.wf_buf);
	return (rc);
}

/* A stable GUID for a Group Policy Preferences item, from its name. */
static void
gpp_uid(char *out, size_t len, const char *seed)
{
	uint64_t	a = pac_fnv64(seed, strlen(seed));
	uint64_t	b = pac_fnv64(&a, sizeof a);

	snprintf(out, len, "{%08X-%04X-%04X-%04X-%012llX}",
	    (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
	    (unsigned)a & 0xffff, (unsigned)(b >> 48),
	    (unsigned long long)(b & 0xffffffffffffULL));
}

/* Registry.xml of Group Policy Preferences for the values of one side. */
static int
write_gpp(const char *dir, const char *side, const struct regval *rv,
    size_t n, int user)
{
	struct wfile	 wf = { NULL, 0 };
	char		 uid[48], *v, *path;
	size_t		 i;
	int		 rc;

	wf_printf(&wf, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<RegistrySettings clsid=\"{A3CCFC41-DFDB-43a5-8D26-"
	    "0FE8B954DA51}\">\n");
	for (i = 0; i < n; i++) {
		if ((strcmp(rv[i].rv_hive, "HKEY_CURRENT_USER") == 0) != user)
			continue;
		gpp_uid(uid, sizeof uid, rv[i].rv_name);
		v = xml_escape(rv[i].rv_dword ? "" : rv[i].rv_value);
		if (rv[i].rv_dword) {
			free(v);
			xasprintf(&v, "%08lX", strtoul(rv[i].rv_value, NULL,
			    10));
		}
		wf_printf(&wf, "  <Registry clsid=\"{9CD4B2F4-923D-47f5-"
		    "A062-E897DD1DAD50}\" name=\"%s\" status=\"%s\" "
		    "image=\"7\" bypassErrors=\"1\" uid=\"%s\">\n"
		    "    <Properties action=\"U\" displayDecimal=\"0\" "
		    "default=\"0\" hive=\"%s\" key=\"%s\" name=\"%s\" "
		    "type=\"%s\" value=\"%s\"/>\n  </Registry>\n",
		    rv[i].rv_name, rv[i].rv_name, uid, rv[i].rv_hive,
		    rv[i].rv_key, rv[i].rv_name,
		    rv[i].rv_dword ? "REG_DWORD" : "REG_SZ", v);
		free(v);
	}
	wf_printf(&wf, "</RegistrySettings>\n");
	xasprintf(&path, "%s/gpp/%s", dir, side);
	if (plat_mkdir(path, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "hushgate: %s: %s\n", path, strerror(errno));
		rc = -1;
	} else
		rc = write_text(path, "Registry.xml", wf.wf_buf, 1, 0);
	free(path);
	free(wf.wf_buf);
	return (rc);
}

static const char readme[] =
"hushgate: pointing Windows at the proxy\n"
"=======================================\n"
"\n"
"PAC file:  %s\n"
"Proxy:     %s\n"
"\n"
"Windows keeps separate proxy settings; set each one that matters.\n"
"\n"
"  WinINet (per-user apps, Delivery Optimization, Office)\n"
"      hushgate-user.reg sets AutoConfigURL for the current user.\n"
"      hushgate-machine.reg sets ProxySettingsPerUser=0 so that one\n"
"      machine-wide setting applies to every user (admins only may\n"
"      change it then).\n"
"  Microsoft Edge\n"
"      hushgate-edge.reg sets the ProxySettings policy (pac_script,\n"
"      mandatory: Edge does not go direct when the PAC file cannot be\n"
"      fetched).\n"
"  WinHTTP (services: DiagTrack telemetry, Windows Update, CryptoAPI)\n"
"      Run as administrator:\n"
"        netsh winhttp set advproxy setting-scope=machine "
"settings-file=winhttp-advproxy.json\n"
"      On builds without \"advproxy\" use netsh-fallback.cmd (a fixed\n"
"      proxy, local names bypassed); netsh-fallback-undo.cmd resets it.\n"
"  Group Policy\n"
"      gpp/Machine/Registry.xml and gpp/User/Registry.xml carry the same\n"
"      values as Group Policy Preferences (Computer and User\n"
"      Configuration > Preferences > Windows Settings > Registry).\n"
"\n"
"Every .reg file has an -undo.reg twin that deletes exactly the values it\n"
"set. Export the keys first (reg export) to keep what was there before.\n"
"\n"
"Known limits\n"
"\n"
"  * WinHTTP does not take a file:// PAC URL: the PAC file must be served\n"
"    over http:// (the proxy serves it at /proxy.pac and /wpad.dat).\n"
"  * The push notification service (WNS, client.wns.windows.com) ignores\n"
"    proxy settings and connects directly.\n"
"  * Several components fall back to a direct connection when the proxy\n"
"    is unreachable or refuses them. Pair the proxy with an outbound\n"
"    firewall rule that blocks direct web traffic from the machine.\n"
"  * Store (UWP) apps may not reach a proxy on 127.0.0.1 without a\n"
"    loopback exemption, e.g.\n"
"      CheckNetIsolation LoopbackExempt -a -n=<package family name>\n";

static int
url_ok(const char *u)
{
	const char	*p;

	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return (0);
	if (strlen(u) > PAC_MAX_URL)
		return (0);
	for (p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return (0);
	return (1);
}

/*
 * The proxy the Windows files name when neither --proxy nor pac.proxy is
 * given: the PAC URL's host (the machines reach the proxy where they fetch
 * its PAC file), with the port of the proxy listener the URL names, else
 * of the first one. Returns a string the caller frees, or NULL with a
 * message.
 */
static char *
pac_url_proxy(const struct hg_config *cf, const char *url)
{
	struct hg_target	 t;
	const char		*auth, *end, *why, *c;
	unsigned long		 lport;
	uint16_t		 port = 0;
	size_t			 i;
	char			*out;

	auth = strstr(url, "://") + 3;
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL ||
	    target_parse(auth, (size_t)(end - auth),
	    strncmp(url, "https", 5) == 0 ? 443 : 80, &t, &why) != 0) {
		fprintf(stderr, "hushgate: --pac-url: no host to take the proxy "
		    "from; give --proxy HOST:PORT\n");
		return (NULL);
	}
	for (i = 0; i < cf->cf_nlisteners &&
	    cf->cf_listeners[i].li_kind == HG_LISTEN_PROXY; i++) {
		c = strrchr(cf->cf_listeners[i].li_addr, ':');
		lport = strtoul(c + 1, NULL, 10);
		if (lport == t.t_port || (port == 0 && i == 0))
			port = (uint16_t)lport;
		if (lport == t.t_port)
			break;
	}
	if (port == 0) {
		fprintf(stderr, "hushgate: listen %s has no fixed port to name: "
		    "give --proxy HOST:PORT or pac.proxy\n",
		    cf->cf_listeners[0].li_addr);
		return (NULL);
	}
	xasprintf(&out, t.t_kind == HG_HOST_IPV6 ? "[%s]:%u" : "%s:%u",
	    t.t_host, port);
	fprintf(stderr, "hushgate: pac: the Windows files name the proxy %s "
	    "(the PAC URL's host; --proxy sets another)\n", out);
	return (out);
}

static int
emit_windows(const char *dir, const char *url, const char *proxy)
{
	struct regval	 rv[3];
	struct wfile	 wf = { NULL, 0 };
	char		*ju, *path;
	size_t		 i;
	int		 rc = 0, k;

	if (!url_ok(url)) {
		fprintf(stderr, "hushgate: --pac-url: an http:// or https:// "
		    "URL of printable ASCII is needed (WinHTTP takes no "
		    "file:// URL)\n");
		return (1);
	}
	if (plat_mkdir(dir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "hushgate: %s: %s\n", dir, strerror(errno));
		return (1);
	}
	xasprintf(&path, "%s/gpp", dir);
	if (plat_mkdir(path, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "hushgate: %s: %s\n", path, strerror(errno));
		free(path);
		return (1);
	}
	free(path);
	ju = bs_escape(url);
	rv[0] = (struct regval){ "hushgate-user", "HKEY_CURRENT_USER",
	    "Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings",
	    "AutoConfigURL", 0, xstrdup(url) };
	rv[1] = (struct regval){ "hushgate-machine", "HKEY_LOCAL_MACHINE",
	    "SOFTWARE\\Policies\\Microsoft\\Windows\\CurrentVersion\\"
	    "Internet Settings", "ProxySettingsPerUser", 1, xstrdup("0") };
	rv[2] = (struct regval){ "hushgate-edge", "HKEY_LOCAL_MACHINE",
	    "SOFTWARE\\Policies\\Microsoft\\Edge", "ProxySettings", 0, NULL };
	xasprintf(&rv[2].rv_value, "{\"ProxyMode\":\"pac_script\","
	    "\"ProxyPacUrl\":\"%s\",\"ProxyPacMandatory\":true}", ju);
	for (i = 0; i < 3; i++)
		for (k = 0; k < 2; k++)
			if (write_reg(dir, &rv[i], k) != 0)
				rc = 1;
	if (write_gpp(dir, "Machine", rv, 3, 0) != 0 ||
	    write_gpp(dir, "User", rv, 3, 1) != 0)
		rc = 1;

	wf_printf(&wf, "{\"Proxy\":\"\",\"ProxyBypass\":\"\","
	    "\"AutoconfigUrl\":\"%s\",\"AutoDetect\":false}\n", ju);
	if (write_text(dir, "winhttp-advproxy.json", wf.wf_buf, 0, 0) != 0)
		rc = 1;
	free(wf.wf_buf);
	wf.wf_buf = NULL;
	wf.wf_len = 0;
	wf_printf(&wf, "@echo off\nrem WinHTTP without advproxy: a fixed "
	    "proxy, local names direct.\nnetsh winhttp set proxy "
	    "proxy-server=\"%s\" bypass-list=\"<local>\"\n", proxy);
	if (write_text(dir, "netsh-fallback.cmd", wf.wf_buf, 1, 0) != 0 ||
	    write_text(dir, "netsh-fallback-undo.cmd", "@echo off\n"
	    "netsh winhttp reset proxy\n", 1, 0) != 0)
		rc = 1;
	free(wf.wf_buf);
	wf.wf_buf = NULL;
	wf.wf_len = 0;
	wf_printf(&wf, readme, url, proxy);
	if (write_text(dir, "README.txt", wf.wf_buf, 1, 0) != 0)
		rc = 1;
	free(wf.wf_buf);
	for (i = 0; i < 3; i++)
		free(rv[i].rv_value);
	free(ju);
	return (rc);
}

/*
 * `hushgate pac ...` (argv[0] is "pac"). Returns the exit code.
 */
int
pac_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "proxy", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "fallback", required_argument, NULL, 'f' },
		{ "emit-windows", required_argument, NULL, 'w' },
		{ "pac-url", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*file = plat_default_config(), *out = NULL;
	const char		*proxy = NULL, *mode = NULL, *fb = NULL;
	const char		*windir = NULL, *url = NULL;
	struct hg_config	*cf;
	struct hg_errors	 errs;
	struct hg_pac		*pac;
	enum hg_pac_mode	 m;
	enum hg_pac_fallback	 f;
	char			*proxies[HG_PAC_MAX_PROXIES];
	size_t			 n = 0, i;
	FILE			*fp;
	int			 ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			proxy = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'f':
			fb = optarg;
			break;
		case 'w':
			windir = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'h':
			pac_usage(stdout);
			return (0);
		default:
			pac_usage(stderr);
			return (2);
		}
	}
	if (optind != argc || (windir != NULL) != (url != NULL)) {
		pac_usage(stderr);
		return (2);
	}
	errors_init(&errs);
	cf = config_load(file, &errs);
	for (i = 0; i < errs.er_count; i++)
		fprintf(stderr, "%s\n", errs.er_msgs[i]);
	errors_free(&errs);
	if (cf == NULL)
		return (1);
	m = cf->cf_pac_mode;
	f = cf->cf_pac_fallback;
	if ((mode != NULL && pac_mode_parse(mode, &m) != 0) ||
	    (fb != NULL && pac_fallback_parse(fb, &f) != 0)) {
		fprintf(stderr, "hushgate: --mode is all or policy, --fallback "
		    "direct or block\n");
		config_unref(cf);
		return (2);
	}
	if (windir != NULL && proxy == NULL && cf->cf_npac_proxy == 0) {
		/* Not the listen address: the machines are elsewhere. */
		if (!url_ok(url))
			rc = emit_windows(windir, url, NULL);
		else if ((proxies[0] = pac_url_proxy(cf, url)) == NULL)
			rc = 1;
		else {
			n = 1;
			rc = emit_windows(windir, url, proxies[0]);
		}
	} else if ((n = pick_proxies(cf, proxy, proxies)) == 0) {
		config_unref(cf);
		return (1);
	} else if (windir != NULL)
		rc = emit_windows(windir, url, proxies[0]);
	else {
		pac = pac_build(cf, m, f);
		fp = out == NULL ? stdout : fopen(out, "w");
		if (fp == NULL) {
			fprintf(stderr, "hushgate: %s: %s\n", out,
			    strerror(errno));
			rc = 1;
		} else {
			if (write_pac(fp, pac, proxies, n) != 0)
				rc = 1;
			if ((fp == stdout ? fflush(fp) : fclose(fp)) != 0)
				rc = 1;
			if (rc != 0)
				fprintf(stderr, "hushgate: %s: write error\n",
				    out ? out : "stdout");
		}
		pac_free(pac);
	}
	for (i = 0; i < n; i++)
		free(proxies[i]);
	config_unref(cf);
	return (rc);
}
