/*
 * winwire.c -- `hushgate winhttp set|show|reset` (Windows only): point the
 * machine's proxy settings at hushgate and undo that exactly.
 *
 * Stores written:
 *   WinHTTP   HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet
 *             Settings\Connections "WinHttpSettings" (REG_BINARY), in the
 *             64-bit and the 32-bit registry view.
 *   WinINet   (--wininet user|machine) ProxyEnable, ProxyServer,
 *             ProxyOverride, AutoConfigURL and Connections
 *             "DefaultConnectionSettings" under HKCU, or under HKLM in both
 *             views together with the ProxySettingsPerUser=0 policy.
 *   Policy    (--telemetry-policy) DataCollection TelemetryProxyServer and
 *             DisableEnterpriseAuthProxy=1, both views.
 *
 * Before the first change every one of these values (all stores, whatever
 * the options) is saved to a backup file: a .reg file as regedit writes it
 * (UTF-16LE with a byte order mark, CRLF), each existing value as
 * hex(TYPE): bytes so that its type and bytes survive exactly, each
 * missing value as "Name"=-. `reg import` of that file undoes the values;
 * `hushgate winhttp reset` reads it back (strictly: only what this file
 * writes is accepted), restores each value byte for byte with its type,
 * deletes the values that did not exist, removes the keys that set created
 * if they are empty again, and renames the backup to FILE.restored.  A
 * second `set` keeps the first backup, so reset always goes back to the
 * state before hushgate touched anything.
 *
 * The binary values (WinHttpSettings, DefaultConnectionSettings) come
 * from wire/connblob.c, whose layouts wire/regfile.h describes: the same
 * generator makes the Group Policy Preferences items of `hushgate pac
 * --emit-windows`.  flags: 1 direct, 2 proxy, 4 autoconfig URL, 8
 * auto-detect.
 */
#include "config.h"

#include "proxy/proxy.h"
#include "cmd/cmd.h"
#include "wire/regfile.h"
#include "win/winreg.h"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- files ---- */

/* %ProgramData%\hushgate\winhttp-backup.reg, making the directory. */
static char *
default_backup(void)
{
	char	 dir[MAX_PATH], *path;
	DWORD	 n;
	size_t	 len;

	n = GetEnvironmentVariableA("ProgramData", dir, sizeof dir);
	if (n == 0 || n >= sizeof dir - 40) {
		fprintf(stderr, "hushgate: winhttp: %%ProgramData%% is not "
		    "set: give --backup FILE\n");
		return (NULL);
	}
	snprintf(dir + n, sizeof dir - n, "\\hushgate");
	if (!CreateDirectoryA(dir, NULL) &&
	    GetLastError() != ERROR_ALREADY_EXISTS) {
		fprintf(stderr, "hushgate: winhttp: cannot create %s (error "
		    "%lu)%s\n", dir, (unsigned long)GetLastError(),
		    GetLastError() == ERROR_ACCESS_DENIED ?
		    ": run it from an elevated prompt" : "");
		return (NULL);
	}
	len = strlen(dir) + sizeof "\\winhttp-backup.reg";
	if ((path = malloc(len)) == NULL)
		return (NULL);
	snprintf(path, len, "%s\\winhttp-backup.reg", dir);
	return (path);
}

/* The whole file, or NULL (*missing set when it does not exist). */
static unsigned char *
file_read(const char *path, size_t *lenp, int *missing)
{
	FILE		*f;
	unsigned char	*buf;
	size_t		 n;

	*missing = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		*missing = GetFileAttributesA(path) ==
		    INVALID_FILE_ATTRIBUTES;
		if (!*missing)
			fprintf(stderr, "hushgate: winhttp: cannot read %s\n",
			    path);
		return (NULL);
	}
	if ((buf = malloc(WW_MAX_BACKUP + 1)) == NULL) {
		fclose(f);
		return (NULL);
	}
	n = fread(buf, 1, WW_MAX_BACKUP + 1, f);
	if (ferror(f) || n > WW_MAX_BACKUP) {
		fprintf(stderr, "hushgate: winhttp: %s: %s\n", path,
		    ferror(f) ? "read error" : "too large for a backup");
		fclose(f);
		free(buf);
		return (NULL);
	}
	fclose(f);
	*lenp = n;
	return (buf);
}

/* Write the backup whole (a temporary file, then renamed): only when
 * there is none, which backup_load has said. */
static int
file_create(const char *path, const unsigned char *p, size_t len)
{
	if (plat_replace_file(path, p, len, 0600) != 0) {
		fprintf(stderr, "hushgate: winhttp: cannot write %s: %s%s\n",
		    path, plat_strerror(errno), errno == EACCES ?
		    " (run it from an elevated prompt)" : "");
		return (-1);
	}
	return (0);
}

/* Read and check a backup; 1 when there is none. */
static int
backup_load(const char *path, struct ww_backup *bk)
{
	unsigned char	*buf;
	size_t		 len;
	int		 missing, rc;
	char		 err[256];

	if ((buf = file_read(path, &len, &missing)) == NULL)
		return (missing ? 1 : -1);
	rc = backup_parse(buf, len, bk, err, sizeof err);
	free(buf);
	if (rc != 0) {
		fprintf(stderr, "hushgate: winhttp: %s:%s (not a backup "
		    "written by hushgate winhttp set; not used)\n", path, err);
		return (-1);
	}
	return (0);
}

/* ---- the settings written ---- */

/* Pull a length-prefixed string from a blob; -1 when it runs past. */
static int
blob_str(const unsigned char *p, size_t len, size_t *off, char *out,
    size_t outlen)
{
	uint32_t	n;
	size_t		i;

	if (*off + 4 > len)
		return (-1);
	n = get_u32(p + *off);
	*off += 4;
	if (n > len - *off)
		return (-1);
	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = (p[*off + i] >= 0x20 && p[*off + i] < 0x7f) ?
		    (char)p[*off + i] : '?';
	out[i] = '\0';
	*off += n;
	return (0);
}

/* A readable form of a connection settings blob. */
static void
conn_describe(const struct ww_saved *sv, int wininet, char *out,
    size_t len)
{
	char		 proxy[WW_MAX_TEXT], bypass[WW_MAX_TEXT];
	char		 url[WW_MAX_TEXT];
	uint32_t	 magic, flags;
	size_t		 off = 12, n;

	if (!sv->sv_present) {
		snprintf(out, len, "not set (direct)");
		return;
	}
	if (sv->sv_type != REG_BINARY || sv->sv_len < 12) {
		snprintf(out, len, "unreadable (type %lu, %zu bytes)",
		    (unsigned long)sv->sv_type, sv->sv_len);
		return;
	}
	magic = get_u32(sv->sv_data);
	flags = get_u32(sv->sv_data + 8);
	proxy[0] = bypass[0] = url[0] = '\0';
	if (blob_str(sv->sv_data, sv->sv_len, &off, proxy, sizeof proxy) ||
	    blob_str(sv->sv_data, sv->sv_len, &off, bypass, sizeof bypass))
		proxy[0] = bypass[0] = '\0';
	else if (off < sv->sv_len &&
	    blob_str(sv->sv_data, sv->sv_len, &off, url, sizeof url))
		url[0] = '\0';
	n = (size_t)snprintf(out, len, "%s", "");
	if ((flags & CONN_PROXY) && n < len)
		n += (size_t)snprintf(out + n, len - n, "proxy %s bypass "
		    "\"%s\"; ", proxy, bypass);
	if ((flags & CONN_AUTOURL) && n < len)
		n += (size_t)snprintf(out + n, len - n, "autoconfig URL %s; ",
		    url);
	if ((flags & CONN_AUTODETECT) && n < len)
		n += (size_t)snprintf(out + n, len - n, "auto-detect; ");
	if (!(flags & (CONN_PROXY | CONN_AUTOURL | CONN_AUTODETECT)) &&
	    n < len)
		n += (size_t)snprintf(out + n, len - n, "direct; ");
	if (n < len)
		snprintf(out + n, len - n, "(flags %#lx, magic %#lx%s)",
		    (unsigned long)flags, (unsigned long)magic,
		    magic != (uint32_t)(wininet ? WININET_MAGIC :
		    WINHTTP_MAGIC) ? ", unexpected" : "");
}

/* A readable form of a plain value. */
static void
value_describe(const struct ww_saved *sv, char *out, size_t len)
{
	size_t	i, n;

	if (!sv->sv_present) {
		snprintf(out, len, "(not set)");
		return;
	}
	if (sv->sv_type == REG_DWORD && sv->sv_len == 4) {
		snprintf(out, len, "%lu (REG_DWORD)",
		    (unsigned long)get_u32(sv->sv_data));
		return;
	}
	if (sv->sv_type == REG_SZ && sv->sv_len % 2 == 0) {
		n = (size_t)snprintf(out, len, "\"");
		for (i = 0; i + 1 < sv->sv_len && n + 3 < len; i += 2) {
			if (sv->sv_data[i] == 0 && sv->sv_data[i + 1] == 0)
				break;
			out[n++] = sv->sv_data[i + 1] == 0 &&
			    sv->sv_data[i] >= 0x20 && sv->sv_data[i] < 0x7f ?
			    (char)sv->sv_data[i] : '?';
		}
		snprintf(out + n, len - n, "\"");
		return;
	}
	snprintf(out, len, "type %lu, %zu bytes", (unsigned long)sv->sv_type,
	    sv->sv_len);
}

/* REG_SZ data (UTF-16LE with its terminator) of an ASCII string. */
static int
sz_data(struct ww_buf *b, const char *s)
{
	wb_text(b, s);
	wb_add(b, "\0\0", 2);
	return (b->wb_err ? -1 : 0);
}

/* ---- the command ---- */

static void
ww_usage(void)
{
	fprintf(stderr,
	    "usage: hushgate winhttp set --proxy HOST:PORT [--bypass LIST] "
	    "[options]\n"
	    "       hushgate winhttp set --pac URL [options]\n"
	    "       hushgate winhttp show [--backup FILE]\n"
	    "       hushgate winhttp reset [--backup FILE]\n"
	    "options: --wininet user|machine  --telemetry-policy  "
	    "--backup FILE\n");
}

/* Printable ASCII without blanks (WinHTTP keeps single bytes). */
static int
text_ok(const char *s, int blanks)
{
	if (strlen(s) >= WW_MAX_TEXT)
		return (0);
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < (blanks ? 0x20 : 0x21) ||
		    (unsigned char)*s > 0x7e)
			return (0);
	return (1);
}

static int
hostport_ok(const char *s)
{
	const char	*c = strrchr(s, ':');
	char		*end;
	unsigned long	 port;

	if (!text_ok(s, 0) || c == NULL || c == s || strchr(s, ';') != NULL ||
	    strchr(s, '=') != NULL || strchr(s, '/') != NULL)
		return (0);
	port = strtoul(c + 1, &end, 10);
	return (c[1] != '\0' && *end == '\0' && port > 0 && port < 65536);
}

/* The host:port of an http:// URL with a port (the telemetry policy). */
static int
url_hostport(const char *url, char *out, size_t len)
{
	const char	*h, *e;

	if (strncmp(url, "http://", 7) != 0)
		return (-1);
	h = url + 7;
	e = h + strcspn(h, "/?#");
	if ((size_t)(e - h) >= len)
		return (-1);
	snprintf(out, len, "%.*s", (int)(e - h), h);
	return (hostport_ok(out) ? 0 : -1);
}

struct ww_opts {
	const char	*o_proxy;
	const char	*o_bypass;
	const char	*o_pac;
	const char	*o_wininet;	/* "user", "machine" or NULL */
	int		 o_telemetry;
	const char	*o_backup;
};

static int
parse_opts(int argc, char **argv, int set, struct ww_opts *o)
{
	int	i;

	memset(o, 0, sizeof *o);
	for (i = 2; i < argc; i++) {
		const char	*a = argv[i];
		const char	**dst = NULL;

		if (strcmp(a, "--backup") == 0)
			dst = &o->o_backup;
		else if (set && strcmp(a, "--proxy") == 0)
			dst = &o->o_proxy;
		else if (set && strcmp(a, "--bypass") == 0)
			dst = &o->o_bypass;
		else if (set && strcmp(a, "--pac") == 0)
			dst = &o->o_pac;
		else if (set && strcmp(a, "--wininet") == 0)
			dst = &o->o_wininet;
		else if (set && strcmp(a, "--telemetry-policy") == 0) {
			o->o_telemetry = 1;
			continue;
		} else {
			fprintf(stderr, "hushgate: winhttp: unknown argument "
			    "'%s'\n", a);
			return (-1);
		}
		if (i + 1 >= argc || *dst != NULL) {
			fprintf(stderr, "hushgate: winhttp: %s %s\n", a,
			    i + 1 >= argc ? "needs a value" : "given twice");
			return (-1);
		}
		*dst = argv[++i];
	}
	if (!set)
		return (0);
	if ((o->o_proxy == NULL) == (o->o_pac == NULL)) {
		fprintf(stderr, "hushgate: winhttp: set needs --proxy "
		    "HOST:PORT or --pac URL (one of them)\n");
		return (-1);
	}
	if (o->o_proxy != NULL && !hostport_ok(o->o_proxy)) {
		fprintf(stderr, "hushgate: winhttp: --proxy: '%s' is not "
		    "HOST:PORT\n", o->o_proxy);
		return (-1);
	}
	if (o->o_bypass != NULL && (o->o_pac != NULL ||
	    !text_ok(o->o_bypass, 1))) {
		fprintf(stderr, "hushgate: winhttp: --bypass: %s\n",
		    o->o_pac ? "only with --proxy" :
		    "printable ASCII only (WinHTTP keeps single bytes)");
		return (-1);
	}
	if (o->o_pac != NULL && ((strncmp(o->o_pac, "http://", 7) != 0 &&
	    strncmp(o->o_pac, "https://", 8) != 0) ||
	    !text_ok(o->o_pac, 0))) {
		fprintf(stderr, "hushgate: winhttp: --pac: an http:// or "
		    "https:// URL of printable ASCII is needed\n");
		return (-1);
	}
	if (o->o_wininet != NULL && strcmp(o->o_wininet, "user") != 0 &&
	    strcmp(o->o_wininet, "machine") != 0) {
		fprintf(stderr, "hushgate: winhttp: --wininet: user or "
		    "machine\n");
		return (-1);
	}
	return (0);
}

static int
read_all(struct ww_backup *bk)
{
	size_t	i;
	LONG	rc;
	int	k;

	memset(bk, 0, sizeof *bk);
	for (k = 0; k < K_NKEYS; k++) {
		bk->b_exist[k] = winreg_key_depth(&ww_keys[k], &rc);
		if (rc != ERROR_SUCCESS) {
			winreg_error("opening", &ww_keys[k], NULL, rc);
			return (-1);
		}
	}
	for (i = 0; i < WW_NSLOTS; i++)
		if (winreg_read(i, &bk->b_val[i]) != 0) {
			backup_free(bk);
			return (-1);
		}
	return (0);
}

/* The new value of slot i for these options; 0 when it is not touched. */
static int
slot_new(size_t i, const struct ww_opts *o, const struct ww_backup *now,
    DWORD *type, struct ww_buf *b)
{
	const char	*proxy = o->o_proxy ? o->o_proxy : "";
	const char	*bypass = o->o_bypass ? o->o_bypass : "";
	const char	*url = o->o_pac ? o->o_pac : "";
	const char	*name = ww_slots[i].s_name;
	const struct ww_saved *cur = &now->b_val[i];
	char		 hp[WW_MAX_TEXT];
	const char	*why;
	uint32_t	 counter = 0, flags;
	enum ww_store	 st = ww_slots[i].s_store;
	int		 rc;

	flags = CONN_DIRECT | (o->o_pac ? CONN_AUTOURL : CONN_PROXY);
	if (st == ST_WINHTTP) {
		/* What netsh winhttp set proxy writes.  A PAC URL goes where
		 * DefaultConnectionSettings has it, which no Microsoft source
		 * says WinHTTP reads (README: advproxy is the way). */
		*type = REG_BINARY;
		rc = o->o_proxy ? winhttp_settings(b, proxy, bypass, &why) :
		    conn_blob(b, 0, 0, flags, "", "", url, &why);
		goto blob;
	}
	if (st == ST_POLICY) {
		if (!o->o_telemetry)
			return (0);
		if (strcmp(name, "DisableEnterpriseAuthProxy") == 0) {
			*type = REG_DWORD;
			wb_u32(b, 1);
			return (b->wb_err ? -1 : 1);
		}
		if (o->o_proxy)
			snprintf(hp, sizeof hp, "%s", o->o_proxy);
		else if (url_hostport(o->o_pac, hp, sizeof hp) != 0)
			return (-1);
		*type = REG_SZ;
		return (sz_data(b, hp) ? -1 : 1);
	}
	if (o->o_wininet == NULL || (st == ST_USER) !=
	    (strcmp(o->o_wininet, "user") == 0))
		return (0);
	if (strcmp(name, "ProxySettingsPerUser") == 0) {
		/* 0: one machine-wide setting for every user. */
		*type = REG_DWORD;
		wb_u32(b, 0);
		return (b->wb_err ? -1 : 1);
	}
	if (strcmp(name, "ProxyEnable") == 0) {
		/* A PAC URL works with the fixed proxy off. */
		*type = REG_DWORD;
		wb_u32(b, o->o_proxy != NULL);
		return (b->wb_err ? -1 : 1);
	}
	if (strcmp(name, "DefaultConnectionSettings") == 0) {
		/* WinINet counts its changes; keep counting. */
		if (cur->sv_present && cur->sv_type == REG_BINARY &&
		    cur->sv_len >= 12 &&
		    get_u32(cur->sv_data) == WININET_MAGIC)
			counter = get_u32(cur->sv_data + 4) + 1;
		*type = REG_BINARY;
		rc = conn_blob(b, 1, counter, flags, proxy, bypass, url, &why);
		goto blob;
	}
	*type = REG_SZ;
	if (strcmp(name, "ProxyServer") == 0)
		return (o->o_proxy ? (sz_data(b, proxy) ? -1 : 1) : 0);
	if (strcmp(name, "ProxyOverride") == 0)
		return (o->o_proxy ? (sz_data(b, bypass) ? -1 : 1) : 0);
	/*
	 * AutoConfigURL: the URL for --pac.  For --proxy an existing URL
	 * would win over the proxy: it is emptied (not deleted, so that the
	 * value keeps its place for the undo).
	 */
	if (o->o_pac)
		return (sz_data(b, url) ? -1 : 1);
	if (!cur->sv_present)
		return (0);
	return (sz_data(b, "") ? -1 : 1);
blob:
	if (rc != 0) {
		fprintf(stderr, "hushgate: winhttp: %s: %s\n", name, why);
		return (-1);
	}
	return (1);
}

static int
ww_set(const struct ww_opts *o, const char *bpath)
{
	struct ww_backup	 now, old;
	struct ww_buf		 b;
	DWORD			 type;
	size_t			 i, nwritten = 0;
	int			 rc, r;
	char			 hp[WW_MAX_TEXT];

	if (o->o_telemetry && o->o_pac &&
	    url_hostport(o->o_pac, hp, sizeof hp) != 0) {
		fprintf(stderr, "hushgate: winhttp: --telemetry-policy with "
		    "--pac needs an http://HOST:PORT/ URL (the proxy serving "
		    "its own PAC file)\n");
		return (2);
	}
	if (read_all(&now) != 0)
		return (1);
	rc = backup_load(bpath, &old);
	if (rc < 0) {
		backup_free(&now);
		return (1);
	}
	if (rc == 0) {
		backup_free(&old);
		printf("backup %s kept (it holds the state before the first "
		    "set)\n", bpath);
	} else {
		memset(&b, 0, sizeof b);
		if (backup_format(&now, &b) != 0 ||
		    file_create(bpath, b.wb_p, b.wb_len) != 0) {
			free(b.wb_p);
			backup_free(&now);
			fprintf(stderr, "hushgate: winhttp: no backup, "
			    "nothing changed\n");
			return (1);
		}
		free(b.wb_p);
		printf("backup written to %s\n", bpath);
	}
	rc = 0;
	for (i = 0; i < WW_NSLOTS && rc == 0; i++) {
		memset(&b, 0, sizeof b);
		r = slot_new(i, o, &now, &type, &b);
		if (r < 0)
			rc = 1;
		else if (r > 0 && winreg_write(i, type, b.wb_p, b.wb_len) != 0)
			rc = 1;
		else if (r > 0)
			nwritten++;
		free(b.wb_p);
	}
	backup_free(&now);
	if (rc != 0) {
		if (nwritten > 0)
			fprintf(stderr, "hushgate: winhttp: the change is "
			    "partial; hushgate winhttp reset restores the "
			    "backup\n");
		return (1);
	}
	printf("set: WinHTTP%s%s%s -> %s\n", o->o_wininet ? ", WinINet (" :
	    "", o->o_wininet ? o->o_wininet : "", o->o_wininet ? ")" : "",
	    o->o_proxy ? o->o_proxy : o->o_pac);
	if (o->o_telemetry)
		printf("set: telemetry policy (TelemetryProxyServer, "
		    "DisableEnterpriseAuthProxy=1)\n");
	return (0);
}

static int
ww_reset(const char *bpath)
{
	struct ww_backup	 bk;
	const struct ww_saved	*sv;
	char			 done[MAX_PATH + 16];
	size_t			 i;
	int			 rc = 0, k;

	switch (backup_load(bpath, &bk)) {
	case 1:
		fprintf(stderr, "hushgate: winhttp: no backup at %s: nothing "
		    "to reset\n", bpath);
		return (1);
	case -1:
		return (1);
	}
	for (i = 0; i < WW_NSLOTS; i++) {
		sv = &bk.b_val[i];
		if (winreg_write(i, sv->sv_type, sv->sv_present ?
		    (sv->sv_data ? (void *)sv->sv_data : (void *)"") : NULL,
		    sv->sv_len) != 0)
			rc = 1;
	}
	for (k = 0; k < K_NKEYS && rc == 0; k++)
		if (bk.b_exist[k] >= 0 &&
		    winreg_cleanup(&ww_keys[k], bk.b_exist[k]) != 0)
			rc = 1;
	backup_free(&bk);
	if (rc != 0) {
		fprintf(stderr, "hushgate: winhttp: reset incomplete; the "
		    "backup %s is kept\n", bpath);
		return (1);
	}
	snprintf(done, sizeof done, "%s.restored", bpath);
	if (!MoveFileExA(bpath, done, MOVEFILE_REPLACE_EXISTING |
	    MOVEFILE_WRITE_THROUGH)) {
		fprintf(stderr, "hushgate: winhttp: restored, but cannot "
		    "rename %s to %s (error %lu)\n", bpath, done,
		    (unsigned long)GetLastError());
		return (1);
	}
	printf("restored from %s (now %s)\n", bpath, done);
	return (0);
}

static int
ww_show(const char *bpath)
{
	struct ww_backup	 now, bk;
	char			 d[WW_MAX_TEXT * 3], name[512];
	size_t			 i;
	const struct ww_key	*k;

	if (read_all(&now) != 0)
		return (1);
	for (i = 0; i < WW_NSLOTS; i++) {
		k = &ww_keys[ww_slots[i].s_key];
		if (strcmp(ww_slots[i].s_name, "WinHttpSettings") == 0 ||
		    strcmp(ww_slots[i].s_name,
		    "DefaultConnectionSettings") == 0)
			conn_describe(&now.b_val[i],
			    ww_slots[i].s_name[0] == 'D', d, sizeof d);
		else
			value_describe(&now.b_val[i], d, sizeof d);
		key_regname(k, -1, name, sizeof name);
		printf("%-8s %-26s %s%s: %s\n",
		    ww_slots[i].s_store == ST_WINHTTP ? "WinHTTP" :
		    ww_slots[i].s_store == ST_USER ? "WinINet" :
		    ww_slots[i].s_store == ST_MACHINE ? "WinINet" : "Policy",
		    ww_slots[i].s_name, k->k_root == R_HKCU ? "HKCU" :
		    "HKLM", k->k_view == 32 ? " 32-bit view" :
		    k->k_view == 64 ? " 64-bit view" : "", d);
	}
	backup_free(&now);
	switch (backup_load(bpath, &bk)) {
	case 0:
		backup_free(&bk);
		printf("backup: %s (reset restores it)\n", bpath);
		break;
	case 1:
		printf("backup: none at %s\n", bpath);
		break;
	default:
		printf("backup: %s is not usable\n", bpath);
		return (1);
	}
	return (0);
}

int
winwire_main(int argc, char **argv)
{
	struct ww_opts	 o;
	char		*bpath, *def = NULL;
	int		 set, rc;

	if (argc < 2) {
		ww_usage();
		return (2);
	}
	set = strcmp(argv[1], "set") == 0;
	if (!set && strcmp(argv[1], "show") != 0 &&
	    strcmp(argv[1], "reset") != 0) {
		ww_usage();
		return (2);
	}
	if (parse_opts(argc, argv, set, &o) != 0) {
		ww_usage();
		return (2);
	}
	if (o.o_backup != NULL)
		bpath = (char *)o.o_backup;
	else if ((bpath = def = default_backup()) == NULL)
		return (1);
	if (set)
		rc = ww_set(&o, bpath);
	else if (strcmp(argv[1], "reset") == 0)
		rc = ww_reset(bpath);
	else
		rc = ww_show(bpath);
	free(def);
	return (rc);
}
