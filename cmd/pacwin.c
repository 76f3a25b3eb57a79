/*
 * pacwin.c -- `hushgate pac --emit-windows`: the files that point Windows
 * machines at the PAC file and the proxy (.reg files and their undo, Group
 * Policy Preferences Registry.xml files and their undo, the advproxy JSON,
 * the netsh fallback, README.txt).  The WinHttpSettings bytes come from
 * wire/connblob.c, as those of `hushgate winhttp set` do.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/proxy.h"
#include "cmd/cmd.h"
#include "plat/plat.h"
#include "wire/regfile.h"

#define PAC_MAX_URL	2048

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

/* A stable GUID for a Group Policy Preferences item, from a seed. */
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

/*
 * One Group Policy Preferences Registry item ([MS-GPPREF] 2.2.1.17): a
 * value set (action U, "Update": created if missing, else changed) or
 * deleted (D).  The value as GPMC writes it: the text of a REG_SZ, the 8
 * upper-case hex digits of a REG_DWORD, the bytes of a REG_BINARY as
 * upper-case hex without separators.
 */
struct gppitem {
	const char	*gi_hive;
	const char	*gi_key;
	const char	*gi_name;
	const char	*gi_type;	/* REG_SZ, REG_DWORD or REG_BINARY */
	char		 gi_action;	/* 'U' or 'D' */
	const char	*gi_value;
	const char	*gi_desc;
};

/*
 * The item's icon in the editor (GPMC's numbering: 5-8 a string value,
 * 10-13 a number, 15-18 binary data, each Create, Replace, Update,
 * Delete).
 */
static int
gpp_image(const struct gppitem *gi)
{
	int	base = strcmp(gi->gi_type, "REG_SZ") == 0 ? 5 :
	    strcmp(gi->gi_type, "REG_DWORD") == 0 ? 10 : 15;

	return (base + (gi->gi_action == 'D' ? 3 : 2));
}

/* The items' "changed" time, UTC as GPMC writes it: SOURCE_DATE_EPOCH
 * when set (the same files give the same bytes), else now. */
static void
gpp_changed(char *out, size_t len)
{
	const char	*env = getenv("SOURCE_DATE_EPOCH");
	char		*end;
	long long	 v;
	time_t		 t = time(NULL);
	struct tm	 tm;

	if (env != NULL && *env != '\0') {
		v = strtoll(env, &end, 10);
		if (*end == '\0' && v >= 0)
			t = (time_t)v;
	}
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, len, "1970-01-01 00:00:00");
}

/* dir/gpp/SIDE/Registry.xml: a GPO's Registry preferences, items in
 * order (UTF-8, CRLF, as GPMC writes the file). */
static int
write_gpp(const char *dir, const char *side, const struct gppitem *gi,
    size_t n)
{
	struct wfile	 wf = { NULL, 0 };
	char		 uid[48], changed[32], *seed, *path;
	char		*name, *key, *val, *desc;
	size_t		 i;
	int		 rc;

	gpp_changed(changed, sizeof changed);
	wf_printf(&wf, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<RegistrySettings clsid=\"{A3CCFC41-DFDB-43a5-8D26-"
	    "0FE8B954DA51}\">\n");
	for (i = 0; i < n; i++) {
		xasprintf(&seed, "%s|%s|%s|%s", side, gi[i].gi_hive,
		    gi[i].gi_key, gi[i].gi_name);
		gpp_uid(uid, sizeof uid, seed);
		free(seed);
		name = xml_escape(gi[i].gi_name);
		key = xml_escape(gi[i].gi_key);
		val = xml_escape(gi[i].gi_value);
		desc = xml_escape(gi[i].gi_desc);
		wf_printf(&wf, "  <Registry clsid=\"{9CD4B2F4-923D-47f5-"
		    "A062-E897DD1DAD50}\" name=\"%s\" status=\"%s\" "
		    "image=\"%d\" changed=\"%s\" uid=\"%s\" desc=\"%s\" "
		    "bypassErrors=\"1\">\n"
		    "    <Properties action=\"%c\" displayDecimal=\"0\" "
		    "default=\"0\" hive=\"%s\" key=\"%s\" name=\"%s\" "
		    "type=\"%s\" value=\"%s\"/>\n  </Registry>\n",
		    name, name, gpp_image(&gi[i]), changed, uid, desc,
		    gi[i].gi_action, gi[i].gi_hive, key, name, gi[i].gi_type,
		    val);
		free(name);
		free(key);
		free(val);
		free(desc);
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

/* Bytes as upper-case hex without separators (a GPP REG_BINARY). */
static char *
hex_upper(const unsigned char *p, size_t n)
{
	char	*s = xreallocarray(NULL, 2 * n + 1, 1);
	size_t	 i;

	for (i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02X", p[i]);
	s[2 * n] = '\0';
	return (s);
}

/* WinHttpSettings from the shared generator (wire/connblob.c) as hex:
 * netsh winhttp set proxy PROXY "<local>", or with NULL reset proxy. */
static char *
winhttp_hex(const char *proxy)
{
	struct ww_buf	 b;
	const char	*why;
	char		*hex;

	memset(&b, 0, sizeof b);
	if (winhttp_settings(&b, proxy, proxy ? "<local>" : NULL,
	    &why) != 0) {
		fprintf(stderr, "hushgate: WinHttpSettings for %s: %s\n",
		    proxy, why);
		free(b.wb_p);
		return (NULL);
	}
	hex = hex_upper(b.wb_p, b.wb_len);
	free(b.wb_p);
	return (hex);
}

/* The keys (wire/regfile.h has the ones hushgate winhttp writes too). */
#define K_WINHTTP	P_CONN
#define K_WINHTTP32	"SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\" \
			"CurrentVersion\\Internet Settings\\Connections"
#define K_PERUSER	P_POLI
#define K_DATACOLL	P_DATA
#define K_EDGE		"SOFTWARE\\Policies\\Microsoft\\Edge"
#define K_USERINET	U_INET
#define HKLM		"HKEY_LOCAL_MACHINE"
#define HKCU		"HKEY_CURRENT_USER"

static const char readme_head[] =
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
"      Where Windows has \"advproxy\" (below), run as administrator:\n"
"        netsh winhttp set advproxy setting-scope=machine "
"settings-file=winhttp-advproxy.json\n"
"      On builds without \"advproxy\" use netsh-fallback.cmd (a fixed\n"
"      proxy, local names bypassed); netsh-fallback-undo.cmd resets it.\n"
"      For many machines, the Group Policy items below set the same\n"
"      fixed proxy.\n"
"  Telemetry (DiagTrack) policies\n"
"      TelemetryProxyServer and DisableEnterpriseAuthProxy, in the\n"
"      Group Policy items below (explained further down).\n"
"  Group Policy\n"
"      gpp/Machine/Registry.xml and gpp/User/Registry.xml carry these\n"
"      values as Group Policy Preferences; gpp/Machine-undo and\n"
"      gpp/User-undo undo them (steps below).\n"
"\n"
"Every .reg file has an -undo.reg twin that deletes exactly the values it\n"
"set. Export the keys first (reg export) to keep what was there before.\n"
"\n"
"WinHTTP: which Windows takes which form\n"
"---------------------------------------\n"
"\n"
"  * The fixed proxy: the WinHttpSettings value (REG_BINARY) of\n"
"    HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Internet "
"Settings\\\n"
"    Connections, also under SOFTWARE\\WOW6432Node for 32-bit programs.\n"
"    \"netsh winhttp set proxy\" writes it; \"netsh winhttp reset proxy\"\n"
"    writes the \"direct\" value back (it does not delete it). Windows 7\n"
"    and Windows Server 2008 R2 and later read it; Microsoft's KB 4494447\n"
"    (\"Use Group Policy to apply WinHTTP proxy settings to Windows\n"
"    clients\") deploys it with Group Policy Preferences, as\n"
"    gpp/Machine/Registry.xml does.\n"
"  * It holds a fixed proxy and a bypass list, nothing else. The API\n"
"    that writes it (WinHttpSetDefaultProxyConfiguration, a\n"
"    WINHTTP_PROXY_INFO) has no field for a PAC URL, \"netsh winhttp set\n"
"    proxy\" takes none, and no Microsoft documentation gives the value\n"
"    an autoconfig URL that Windows reads: a PAC URL cannot be set\n"
"    machine-wide through WinHttpSettings, on any version.\n"
"  * A PAC URL for WinHTTP machine-wide goes through \"netsh winhttp set\n"
"    advproxy\" (JSON with \"AutoconfigUrl\": winhttp-advproxy.json).\n"
"    Microsoft's netsh reference documents it, and marks \"set proxy\"\n"
"    deprecated in its favour, without naming the first version that\n"
"    has it: it is a Windows 11 command (Windows 10 does not have it, as\n"
"    far as we know). On each machine,\n"
"      netsh winhttp show advproxy\n"
"    decides: where netsh does not know the command, only the fixed\n"
"    proxy (netsh-fallback.cmd or the Group Policy items) is possible.\n"
"  * advproxy keeps its settings elsewhere than WinHttpSettings; which\n"
"    one WinHTTP prefers when a machine has both was not determined.\n"
"    Use one route per machine.\n"
"\n"
"The telemetry (DiagTrack) policies\n"
"----------------------------------\n"
"\n"
"  Both are values under HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\\n"
"  DataCollection, those of two Administrative Templates policies\n"
"  (Computer Configuration > Administrative Templates > Windows\n"
"  Components > Data Collection and Preview Builds):\n"
"\n"
"  TelemetryProxyServer (REG_SZ \"%s\")\n"
"      \"Configure connected user experiences and telemetry\": the\n"
"      Connected User Experiences and Telemetry service (DiagTrack)\n"
"      sends its requests to this proxy, whatever WinHTTP's setting,\n"
"      over TLS (a CONNECT tunnel, which hushgate decides by host).\n"
"      Microsoft's policy text says that if the named proxy fails,\n"
"      DiagTrack falls back to the default proxy configuration (Intune's\n"
"      description says the data then stays on the device): so the\n"
"      WinHTTP setting should point at hushgate too, and a firewall rule\n"
"      is the backstop. Windows 10 version 1607 and later.\n"
"  DisableEnterpriseAuthProxy (REG_DWORD 1)\n"
"      \"Configure Authenticated Proxy usage for the Connected User\n"
"      Experience and Telemetry service\", set to \"Disable\n"
"      Authenticated Proxy usage\": DiagTrack no longer uses, on its own,\n"
"      a proxy that requires authentication to send its data to\n"
"      Microsoft. hushgate asks for no credentials; with this value, an\n"
"      authenticating proxy elsewhere on the network is no way out for\n"
"      DiagTrack either. Microsoft's Defender for Endpoint documentation\n"
"      sets it with TelemetryProxyServer. Windows 10 version 1709 and\n"
"      later.\n"
"\n";

static const char readme_gpp[] =
"Group Policy (many machines)\n"
"----------------------------\n"
"\n"
"  gpp/Machine/Registry.xml       Computer Configuration, action Update:\n"
"    WinHttpSettings              the fixed proxy, bypass list <local>\n"
"                                 (64- and 32-bit views)\n"
"    TelemetryProxyServer         %s\n"
"    DisableEnterpriseAuthProxy   1\n"
"    ProxySettingsPerUser         0\n"
"    Edge ProxySettings           the PAC URL (as hushgate-edge.reg)\n"
"  gpp/User/Registry.xml          User Configuration: AutoConfigURL\n"
"  gpp/Machine-undo/Registry.xml  the undo: WinHttpSettings \"direct\"\n"
"                                 again (both views), the other values\n"
"                                 deleted\n"
"  gpp/User-undo/Registry.xml     the undo: AutoConfigURL deleted\n"
"\n"
"  WinHttpSettings holds the bytes \"netsh winhttp set proxy\" writes:\n"
"    %s\n"
"  and in the undo those \"netsh winhttp reset proxy\" writes (also the\n"
"  value of a new installation):\n"
"    %s\n"
"\n"
"  To apply:\n"
"   1. Group Policy Management (gpmc.msc): create a GPO (right-click the\n"
"      domain or an OU > \"Create a GPO in this domain, and Link it\n"
"      here...\"), or pick one; right-click it > Edit.\n"
"   2. Computer Configuration > Preferences > Windows Settings >\n"
"      Registry.\n"
"   3. Drag gpp\\Machine\\Registry.xml from Explorer onto \"Registry\" (or\n"
"      copy the file in Explorer, select \"Registry\" and paste). The\n"
"      items appear in the list; open one to see its Action (Update),\n"
"      hive, key, value name, type and data.\n"
"   4. Likewise User Configuration > Preferences > Windows Settings >\n"
"      Registry with gpp\\User\\Registry.xml.\n"
"   5. Link the GPO to the OU of the machines (try an OU with a few\n"
"      machines first).\n"
"   6. On a machine, as administrator: gpupdate /force, then\n"
"        netsh winhttp show proxy\n"
"      shows the proxy server %s and the bypass list <local>;\n"
"        reg query \"HKLM\\%s\" /v WinHttpSettings\n"
"      shows the hex above;\n"
"        reg query \"HKLM\\%s\"\n"
"      shows TelemetryProxyServer and DisableEnterpriseAuthProxy.\n"
"  If the editor does not take the file, make the WinHttpSettings item\n"
"  by hand as KB 4494447 does: on a machine where netsh-fallback.cmd has\n"
"  run, New > Registry Item, Action Update, and browse (\"...\") to its\n"
"  WinHttpSettings value; the same under SOFTWARE\\WOW6432Node.\n"
"\n"
"  To undo:\n"
"   1. In the GPO, delete the items added above. That alone changes\n"
"      nothing on the machines: Registry preference items leave their\n"
"      values behind.\n"
"   2. Add gpp\\Machine-undo\\Registry.xml and gpp\\User-undo\\Registry.xml\n"
"      as in steps 2 to 4; gpupdate /force on the machines (or wait for\n"
"      the next refresh). netsh winhttp show proxy then shows \"Direct\n"
"      access (no proxy server).\", and the policies are gone.\n"
"   3. When every machine has applied them, delete the undo items (or\n"
"      the GPO).\n"
"  \"Direct\" is Windows' default, not necessarily what a machine had\n"
"  before; on one machine, hushgate winhttp set keeps a backup and\n"
"  hushgate winhttp reset restores it byte for byte.\n"
"\n";

static const char readme_tail[] =
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

int
pac_url_ok(const char *u)
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

int
pac_emit_windows(const char *dir, const char *url, const char *proxy)
{
	struct regval	 rv[3];
	struct wfile	 wf = { NULL, 0 };
	char		*ju, *path, *wh_set, *wh_direct;
	size_t		 i;
	int		 rc = 0, k;

	if (!pac_url_ok(url)) {
		fprintf(stderr, "hushgate: --pac-url: an http:// or https:// "
		    "URL of printable ASCII is needed (WinHTTP takes no "
		    "file:// URL)\n");
		return (1);
	}
	/* The WinHttpSettings bytes, before anything is written. */
	if ((wh_set = winhttp_hex(proxy)) == NULL)
		return (1);
	wh_direct = winhttp_hex(NULL);
	if (plat_mkdir(dir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "hushgate: %s: %s\n", dir, strerror(errno));
		free(wh_set);
		free(wh_direct);
		return (1);
	}
	xasprintf(&path, "%s/gpp", dir);
	if (plat_mkdir(path, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "hushgate: %s: %s\n", path, strerror(errno));
		free(path);
		free(wh_set);
		free(wh_direct);
		return (1);
	}
	free(path);
	ju = bs_escape(url);
	rv[0] = (struct regval){ "hushgate-user", HKCU, K_USERINET,
	    "AutoConfigURL", 0, xstrdup(url) };
	rv[1] = (struct regval){ "hushgate-machine", HKLM, K_PERUSER,
	    "ProxySettingsPerUser", 1, xstrdup("0") };
	rv[2] = (struct regval){ "hushgate-edge", HKLM, K_EDGE,
	    "ProxySettings", 0, NULL };
	xasprintf(&rv[2].rv_value, "{\"ProxyMode\":\"pac_script\","
	    "\"ProxyPacUrl\":\"%s\",\"ProxyPacMandatory\":true}", ju);
	for (i = 0; i < 3; i++)
		for (k = 0; k < 2; k++)
			if (write_reg(dir, &rv[i], k) != 0)
				rc = 1;

	{
		/* Group Policy Preferences: what the .reg files set, the
		 * WinHTTP default proxy and the telemetry policies; and
		 * their undo. */
		const struct gppitem machine[] = {
			{ HKLM, K_WINHTTP, "WinHttpSettings", "REG_BINARY",
			    'U', wh_set, "hushgate: WinHTTP default proxy, "
			    "as netsh winhttp set proxy writes it (64-bit "
			    "view)" },
			{ HKLM, K_WINHTTP32, "WinHttpSettings", "REG_BINARY",
			    'U', wh_set, "hushgate: WinHTTP default proxy, "
			    "as netsh winhttp set proxy writes it (32-bit "
			    "view)" },
			{ HKLM, K_DATACOLL, "TelemetryProxyServer", "REG_SZ",
			    'U', proxy, "hushgate: DiagTrack sends its data "
			    "through this proxy" },
			{ HKLM, K_DATACOLL, "DisableEnterpriseAuthProxy",
			    "REG_DWORD", 'U', "00000001", "hushgate: "
			    "DiagTrack uses no authenticating proxy" },
			{ HKLM, K_PERUSER, "ProxySettingsPerUser",
			    "REG_DWORD", 'U', "00000000", "hushgate: one "
			    "WinINet proxy setting for every user" },
			{ HKLM, K_EDGE, "ProxySettings", "REG_SZ", 'U',
			    rv[2].rv_value, "hushgate: Edge uses the PAC "
			    "file" },
		};
		const struct gppitem machine_undo[] = {
			{ HKLM, K_WINHTTP, "WinHttpSettings", "REG_BINARY",
			    'U', wh_direct, "hushgate undo: WinHTTP direct, "
			    "as netsh winhttp reset proxy writes it (64-bit "
			    "view)" },
			{ HKLM, K_WINHTTP32, "WinHttpSettings", "REG_BINARY",
			    'U', wh_direct, "hushgate undo: WinHTTP direct, "
			    "as netsh winhttp reset proxy writes it (32-bit "
			    "view)" },
			{ HKLM, K_DATACOLL, "TelemetryProxyServer", "REG_SZ",
			    'D', "", "hushgate undo: no telemetry proxy "
			    "policy" },
			{ HKLM, K_DATACOLL, "DisableEnterpriseAuthProxy",
			    "REG_DWORD", 'D', "00000000", "hushgate undo: no "
			    "authenticated proxy policy" },
			{ HKLM, K_PERUSER, "ProxySettingsPerUser",
			    "REG_DWORD", 'D', "00000000", "hushgate undo: "
			    "WinINet proxy settings per user again" },
			{ HKLM, K_EDGE, "ProxySettings", "REG_SZ", 'D', "",
			    "hushgate undo: no Edge proxy policy" },
		};
		const struct gppitem user[] = {
			{ HKCU, K_USERINET, "AutoConfigURL", "REG_SZ", 'U',
			    url, "hushgate: the user's PAC file" },
		};
		const struct gppitem user_undo[] = {
			{ HKCU, K_USERINET, "AutoConfigURL", "REG_SZ", 'D',
			    "", "hushgate undo: no PAC file for the user" },
		};

		if (write_gpp(dir, "Machine", machine,
		    sizeof machine / sizeof machine[0]) != 0 ||
		    write_gpp(dir, "Machine-undo", machine_undo,
		    sizeof machine_undo / sizeof machine_undo[0]) != 0 ||
		    write_gpp(dir, "User", user, 1) != 0 ||
		    write_gpp(dir, "User-undo", user_undo, 1) != 0)
			rc = 1;
	}

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
	wf_printf(&wf, readme_head, url, proxy, proxy);
	wf_printf(&wf, readme_gpp, proxy, wh_set, wh_direct, proxy,
	    K_WINHTTP, K_DATACOLL);
	wf_printf(&wf, "%s", readme_tail);
	if (write_text(dir, "README.txt", wf.wf_buf, 1, 0) != 0)
		rc = 1;
	free(wf.wf_buf);
	for (i = 0; i < 3; i++)
		free(rv[i].rv_value);
	free(ju);
	free(wh_set);
	free(wh_direct);
	return (rc);
}
