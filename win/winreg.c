/*
 * winreg.c -- the registry values of `hushgate winhttp`: read one slot of
 * wire/regfile.h's table with its type and bytes, write it, delete it, and
 * remove the keys a change created. Windows only.
 */
#include "config.h"

#include "proxy/proxy.h"
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
static HKEY
root_hkey(enum ww_root r)
{
	return (r == R_HKLM ? HKEY_LOCAL_MACHINE : HKEY_CURRENT_USER);
}

static REGSAM
view_sam(const struct ww_key *k)
{
	return (k->k_view == 32 ? KEY_WOW64_32KEY : KEY_WOW64_64KEY);
}

/* ASCII to UTF-16; our names and paths are ASCII constants. */
static void
a2w(const char *s, WCHAR *out, size_t len)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		out[i] = (WCHAR)(unsigned char)s[i];
	out[i] = 0;
}

/* The first ncomp components of a key's path, as UTF-16. */
static void
key_wpath(const struct ww_key *k, int ncomp, WCHAR *out, size_t len)
{
	char	 p[512];
	size_t	 n;
	int	 c = 0;

	snprintf(p, sizeof p, "%s", k->k_path);
	for (n = 0; ncomp >= 0 && p[n] != '\0'; n++)
		if (p[n] == '\\' && ++c == ncomp) {
			p[n] = '\0';
			break;
		}
	a2w(p, out, len);
}

void
winreg_error(const char *what, const struct ww_key *k, const char *value,
    LONG rc)
{
	char	 name[512], msg[256];

	key_regname(k, -1, name, sizeof name);
	if (rc == ERROR_ACCESS_DENIED) {
		fprintf(stderr, "hushgate: winhttp: access denied %s %s%s%s: "
		    "run it from an elevated prompt (Run as "
		    "administrator)\n", what, name, value ? "\\" : "",
		    value ? value : "");
		return;
	}
	if (FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM |
	    FORMAT_MESSAGE_IGNORE_INSERTS, NULL, (DWORD)rc, 0, msg,
	    sizeof msg, NULL) == 0)
		snprintf(msg, sizeof msg, "error %ld", (long)rc);
	msg[strcspn(msg, "\r\n")] = '\0';
	fprintf(stderr, "hushgate: winhttp: %s %s%s%s: %s\n", what, name,
	    value ? "\\" : "", value ? value : "", msg);
}

/*
 * How many leading components of the key's path exist: -1 when all do
 * (the key exists).
 */
int
winreg_key_depth(const struct ww_key *k, LONG *rcp)
{
	WCHAR	 wp[512];
	HKEY	 h;
	LONG	 rc;
	int	 n = key_ncomp(k), j;

	*rcp = ERROR_SUCCESS;
	for (j = 1; j <= n; j++) {
		key_wpath(k, j, wp, sizeof wp / sizeof wp[0]);
		rc = RegOpenKeyExW(root_hkey(k->k_root), wp, 0,
		    KEY_QUERY_VALUE | view_sam(k), &h);
		if (rc == ERROR_FILE_NOT_FOUND)
			return (j - 1);
		if (rc != ERROR_SUCCESS) {
			*rcp = rc;
			return (-1);
		}
		RegCloseKey(h);
	}
	return (-1);
}

/* Read one slot's value (absent: sv_present 0).  0, or -1 with a message. */
int
winreg_read(size_t i, struct ww_saved *sv)
{
	const struct ww_key	*k = &ww_keys[ww_slots[i].s_key];
	WCHAR			 wp[512], wn[128];
	HKEY			 h;
	DWORD			 type, size;
	LONG			 rc;
	unsigned char		*data;

	memset(sv, 0, sizeof *sv);
	key_wpath(k, -1, wp, sizeof wp / sizeof wp[0]);
	a2w(ww_slots[i].s_name, wn, sizeof wn / sizeof wn[0]);
	rc = RegOpenKeyExW(root_hkey(k->k_root), wp, 0,
	    KEY_QUERY_VALUE | view_sam(k), &h);
	if (rc == ERROR_FILE_NOT_FOUND)
		return (0);
	if (rc != ERROR_SUCCESS) {
		winreg_error("opening", k, NULL, rc);
		return (-1);
	}
	for (;;) {
		size = 0;
		rc = RegQueryValueExW(h, wn, NULL, &type, NULL, &size);
		if (rc == ERROR_FILE_NOT_FOUND) {
			RegCloseKey(h);
			return (0);
		}
		if (rc != ERROR_SUCCESS)
			break;
		if (size > WW_MAX_VALUE) {
			RegCloseKey(h);
			fprintf(stderr, "hushgate: winhttp: %s is over %d "
			    "bytes: not saved\n", ww_slots[i].s_name,
			    WW_MAX_VALUE);
			return (-1);
		}
		if ((data = malloc(size ? size : 1)) == NULL) {
			RegCloseKey(h);
			fprintf(stderr, "hushgate: winhttp: out of memory\n");
			return (-1);
		}
		rc = RegQueryValueExW(h, wn, NULL, &type, data, &size);
		if (rc == ERROR_MORE_DATA) {
			free(data);
			continue;	/* it grew meanwhile */
		}
		if (rc != ERROR_SUCCESS) {
			free(data);
			break;
		}
		sv->sv_present = 1;
		sv->sv_type = type;
		sv->sv_data = data;
		sv->sv_len = size;
		RegCloseKey(h);
		return (0);
	}
	RegCloseKey(h);
	winreg_error("reading", k, ww_slots[i].s_name, rc);
	return (-1);
}

/* Set (data != NULL) or delete one value, creating the key if needed. */
int
winreg_write(size_t i, DWORD type, const void *data, size_t len)
{
	const struct ww_key	*k = &ww_keys[ww_slots[i].s_key];
	WCHAR			 wp[512], wn[128];
	HKEY			 h;
	LONG			 rc;

	key_wpath(k, -1, wp, sizeof wp / sizeof wp[0]);
	a2w(ww_slots[i].s_name, wn, sizeof wn / sizeof wn[0]);
	if (data == NULL) {
		rc = RegOpenKeyExW(root_hkey(k->k_root), wp, 0,
		    KEY_SET_VALUE | view_sam(k), &h);
		if (rc == ERROR_FILE_NOT_FOUND)
			return (0);
		if (rc != ERROR_SUCCESS) {
			winreg_error("opening", k, NULL, rc);
			return (-1);
		}
		rc = RegDeleteValueW(h, wn);
		RegCloseKey(h);
		if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND) {
			winreg_error("deleting", k, ww_slots[i].s_name, rc);
			return (-1);
		}
		return (0);
	}
	rc = RegCreateKeyExW(root_hkey(k->k_root), wp, 0, NULL,
	    REG_OPTION_NON_VOLATILE, KEY_SET_VALUE | view_sam(k), NULL, &h,
	    NULL);
	if (rc != ERROR_SUCCESS) {
		winreg_error("creating", k, NULL, rc);
		return (-1);
	}
	rc = RegSetValueExW(h, wn, 0, type, data, (DWORD)len);
	RegCloseKey(h);
	if (rc != ERROR_SUCCESS) {
		winreg_error("writing", k, ww_slots[i].s_name, rc);
		return (-1);
	}
	return (0);
}

/*
 * Remove the keys of k that set created (its path from component
 * exist+1 down), deepest first, as long as they are empty.
 */
int
winreg_cleanup(const struct ww_key *k, int exist)
{
	WCHAR	 wp[512];
	HKEY	 h;
	DWORD	 nsub, nval;
	LONG	 rc;
	int	 j;

	for (j = key_ncomp(k); j > exist; j--) {
		key_wpath(k, j, wp, sizeof wp / sizeof wp[0]);
		rc = RegOpenKeyExW(root_hkey(k->k_root), wp, 0,
		    KEY_QUERY_VALUE | view_sam(k), &h);
		if (rc == ERROR_FILE_NOT_FOUND)
			continue;
		if (rc != ERROR_SUCCESS) {
			winreg_error("opening", k, NULL, rc);
			return (-1);
		}
		rc = RegQueryInfoKeyW(h, NULL, NULL, NULL, &nsub, NULL, NULL,
		    &nval, NULL, NULL, NULL, NULL);
		RegCloseKey(h);
		if (rc != ERROR_SUCCESS || nsub != 0 || nval != 0)
			return (0);	/* someone else's now: keep it */
		rc = RegDeleteKeyExW(root_hkey(k->k_root), wp, view_sam(k),
		    0);
		if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND) {
			winreg_error("removing", k, NULL, rc);
			return (-1);
		}
	}
	return (0);
}
