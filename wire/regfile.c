/*
 * regfile.c -- the backup file of `hushgate winhttp` (see winwire.c for
 * what it holds): written as regedit writes .reg files, read back
 * strictly. No Windows calls: fuzzed on every system.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regfile.h"

const struct ww_key ww_keys[K_NKEYS] = {
	{ R_HKLM, P_CONN, 64 }, { R_HKLM, P_CONN, 32 },
	{ R_HKLM, P_INET, 64 }, { R_HKLM, P_INET, 32 },
	{ R_HKLM, P_POLI, 64 }, { R_HKLM, P_POLI, 32 },
	{ R_HKLM, P_DATA, 64 }, { R_HKLM, P_DATA, 32 },
	{ R_HKCU, U_INET, 0 }, { R_HKCU, U_CONN, 0 },
};

const struct ww_slot ww_slots[WW_NSLOTS] = {
	{ K_CONN64, "WinHttpSettings", ST_WINHTTP },
	{ K_CONN64, "DefaultConnectionSettings", ST_MACHINE },
	{ K_CONN32, "WinHttpSettings", ST_WINHTTP },
	{ K_CONN32, "DefaultConnectionSettings", ST_MACHINE },
	{ K_INET64, "ProxyEnable", ST_MACHINE },
	{ K_INET64, "ProxyServer", ST_MACHINE },
	{ K_INET64, "ProxyOverride", ST_MACHINE },
	{ K_INET64, "AutoConfigURL", ST_MACHINE },
	{ K_INET32, "ProxyEnable", ST_MACHINE },
	{ K_INET32, "ProxyServer", ST_MACHINE },
	{ K_INET32, "ProxyOverride", ST_MACHINE },
	{ K_INET32, "AutoConfigURL", ST_MACHINE },
	{ K_POLI64, "ProxySettingsPerUser", ST_MACHINE },
	{ K_POLI32, "ProxySettingsPerUser", ST_MACHINE },
	{ K_DATA64, "TelemetryProxyServer", ST_POLICY },
	{ K_DATA64, "DisableEnterpriseAuthProxy", ST_POLICY },
	{ K_DATA32, "TelemetryProxyServer", ST_POLICY },
	{ K_DATA32, "DisableEnterpriseAuthProxy", ST_POLICY },
	{ K_UINET, "ProxyEnable", ST_USER },
	{ K_UINET, "ProxyServer", ST_USER },
	{ K_UINET, "ProxyOverride", ST_USER },
	{ K_UINET, "AutoConfigURL", ST_USER },
	{ K_UCONN, "DefaultConnectionSettings", ST_USER },
};

void
wb_add(struct ww_buf *b, const void *p, size_t n)
{
	unsigned char	*np;
	size_t		 cap;

	if (b->wb_err)
		return;
	if (b->wb_len + n > b->wb_cap) {
		cap = b->wb_cap ? b->wb_cap : 256;
		while (cap < b->wb_len + n)
			cap *= 2;
		if ((np = realloc(b->wb_p, cap)) == NULL) {
			b->wb_err = 1;
			return;
		}
		b->wb_p = np;
		b->wb_cap = cap;
	}
	memcpy(b->wb_p + b->wb_len, p, n);
	b->wb_len += n;
}

void
wb_u32(struct ww_buf *b, uint32_t v)
{
	unsigned char	le[4];

	le[0] = v & 0xff;
	le[1] = (v >> 8) & 0xff;
	le[2] = (v >> 16) & 0xff;
	le[3] = (v >> 24) & 0xff;
	wb_add(b, le, 4);
}

/* ASCII text as UTF-16LE code units. */
void
wb_text(struct ww_buf *b, const char *s)
{
	unsigned char	u[2];

	for (; *s != '\0'; s++) {
		u[0] = (unsigned char)*s;
		u[1] = 0;
		wb_add(b, u, 2);
	}
}

uint32_t
get_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static const char *
root_name(enum ww_root r)
{
	return (r == R_HKLM ? "HKEY_LOCAL_MACHINE" : "HKEY_CURRENT_USER");
}

/*
 * The name of a key as a 64-bit regedit shows it: the 32-bit view of
 * HKLM\SOFTWARE lives under SOFTWARE\Wow6432Node.  ncomp limits the path
 * to its first components (-1: all).
 */
void
key_regname(const struct ww_key *k, int ncomp, char *out, size_t len)
{
	const char	*p = k->k_path;
	size_t		 n;
	int		 c;

	for (c = 0, n = 0; ncomp >= 0 && p[n] != '\0'; n++)
		if (p[n] == '\\' && ++c == ncomp)
			break;
	if (ncomp < 0)
		n = strlen(p);
	if (k->k_view == 32)
		snprintf(out, len, "%s\\SOFTWARE\\Wow6432Node%.*s",
		    root_name(k->k_root), (int)(n - 8), p + 8);
	else
		snprintf(out, len, "%s\\%.*s", root_name(k->k_root), (int)n,
		    p);
}

int
key_ncomp(const struct ww_key *k)
{
	const char	*p;
	int		 n = 1;

	for (p = k->k_path; *p != '\0'; p++)
		if (*p == '\\')
			n++;
	return (n);
}

/* ---- the backup file: writing ---- */

static void
reg_hex(struct ww_buf *b, const struct ww_saved *sv, size_t col)
{
	char	 t[8];
	size_t	 i;

	for (i = 0; i < sv->sv_len; i++) {
		if (col + 3 > WW_WRAP) {
			wb_text(b, "\\\r\n  ");
			col = 2;
		}
		snprintf(t, sizeof t, "%02x%s", sv->sv_data[i],
		    i + 1 < sv->sv_len ? "," : "");
		wb_text(b, t);
		col += strlen(t);
	}
}

/*
 * The backup as a .reg file (bytes, UTF-16LE with a byte order mark).
 * Names and key paths are our own ASCII constants; values go in hex.
 */
int
backup_format(const struct ww_backup *bk, struct ww_buf *b)
{
	char		 name[512], line[600];
	size_t		 i;
	int		 k;

	wb_add(b, "\xff\xfe", 2);
	wb_text(b, "Windows Registry Editor Version 5.00\r\n\r\n"
	    "; hushgate winhttp backup: the proxy settings as they were\r\n"
	    "; before the first \"hushgate winhttp set\".  \"hushgate winhttp"
	    " reset\"\r\n; restores them; \"reg import\" of this file restores"
	    " the values.\r\n");
	for (k = 0; k < K_NKEYS; k++) {
		key_regname(&ww_keys[k], -1, name, sizeof name);
		snprintf(line, sizeof line, "\r\n[%s]\r\n", name);
		wb_text(b, line);
		if (bk->b_exist[k] >= 0) {
			key_regname(&ww_keys[k], bk->b_exist[k] + 1, name,
			    sizeof name);
			snprintf(line, sizeof line, ";absent=%s\r\n", name);
			wb_text(b, line);
		}
		for (i = 0; i < WW_NSLOTS; i++) {
			if (ww_slots[i].s_key != k)
				continue;
			if (!bk->b_val[i].sv_present) {
				snprintf(line, sizeof line, "\"%s\"=-\r\n",
				    ww_slots[i].s_name);
				wb_text(b, line);
				continue;
			}
			snprintf(line, sizeof line, "\"%s\"=hex(%x):",
			    ww_slots[i].s_name,
			    (unsigned)bk->b_val[i].sv_type);
			wb_text(b, line);
			reg_hex(b, &bk->b_val[i], strlen(line));
			wb_text(b, "\r\n");
		}
	}
	wb_text(b, "\r\n");
	return (b->wb_err ? -1 : 0);
}

/* ---- the backup file: reading (no Windows calls: fuzzable) ---- */

struct ww_lexer {
	const unsigned char	*lx_p;
	size_t			 lx_n;	/* code units */
	size_t			 lx_i;
	unsigned		 lx_line;
	unsigned		 lx_col;
};

static int
lx_peek(const struct ww_lexer *lx)
{
	if (lx->lx_i >= lx->lx_n)
		return (-1);
	return (lx->lx_p[2 * lx->lx_i] | lx->lx_p[2 * lx->lx_i + 1] << 8);
}

static int
lx_get(struct ww_lexer *lx)
{
	int	c = lx_peek(lx);

	if (c < 0)
		return (c);
	lx->lx_i++;
	if (c == '\n') {
		lx->lx_line++;
		lx->lx_col = 1;
	} else
		lx->lx_col++;
	return (c);
}

static int
lx_fail(const struct ww_lexer *lx, char *err, size_t errlen,
    const char *what)
{
	snprintf(err, errlen, "%u:%u: %s", lx->lx_line, lx->lx_col, what);
	return (-1);
}

/*
 * One line into ASCII (a CRLF ends it; the CRLF is consumed).  Other
 * characters than printable ASCII are refused: the file holds none.
 */
static int
lx_line(struct ww_lexer *lx, char *out, size_t len, char *err,
    size_t errlen)
{
	size_t	n = 0;
	int	c;

	for (;;) {
		c = lx_peek(lx);
		if (c < 0)
			return (lx_fail(lx, err, errlen,
			    "unterminated line (no CRLF)"));
		if (c == '\r') {
			lx_get(lx);
			if (lx_peek(lx) != '\n')
				return (lx_fail(lx, err, errlen,
				    "CR without LF"));
			lx_get(lx);
			out[n] = '\0';
			return (0);
		}
		if (c == '\n')
			return (lx_fail(lx, err, errlen, "LF without CR"));
		if (c < 0x20 || c > 0x7e)
			return (lx_fail(lx, err, errlen,
			    "character other than printable ASCII"));
		if (n + 1 >= len)
			return (lx_fail(lx, err, errlen, "line too long"));
		out[n++] = (char)c;
		lx_get(lx);
	}
}

static void
line_fail(char *err, size_t errlen, unsigned line, const char *what)
{
	snprintf(err, errlen, "%u:1: %s", line, what);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/*
 * The data after "hex(N):": byte pairs in lower-case hex separated by
 * commas, lines continued with ",\" CRLF and two spaces.
 */
static int
parse_hex(struct ww_lexer *lx, struct ww_saved *sv, char *err,
    size_t errlen)
{
	unsigned char	*data = NULL;
	size_t		 n = 0, n2;
	int		 hi, lo, c;

	if ((data = malloc(WW_MAX_VALUE)) == NULL)
		return (lx_fail(lx, err, errlen, "out of memory"));
	if (lx_peek(lx) == '\r')
		goto end;
	for (;;) {
		if ((hi = hexval(lx_peek(lx))) < 0)
			goto bad;
		lx_get(lx);
		if ((lo = hexval(lx_peek(lx))) < 0)
			goto bad;
		lx_get(lx);
		if (n == WW_MAX_VALUE) {
			free(data);
			return (lx_fail(lx, err, errlen, "value too long"));
		}
		data[n++] = (unsigned char)(hi << 4 | lo);
		c = lx_peek(lx);
		if (c == '\r')
			break;
		if (c != ',')
			goto bad;
		lx_get(lx);
		if (lx_peek(lx) == '\\') {
			lx_get(lx);
			for (n2 = 0; n2 < 4; n2++) {
				if (lx_peek(lx) != "\r\n  "[n2])
					break;
				lx_get(lx);
			}
			if (n2 < 4) {
				free(data);
				return (lx_fail(lx, err, errlen,
				    "expected CRLF and two spaces after "
				    "',\\'"));
			}
		}
	}
end:
	lx_get(lx);
	if (lx_get(lx) != '\n') {
		free(data);
		return (lx_fail(lx, err, errlen, "CR without LF"));
	}
	sv->sv_data = data;
	sv->sv_len = n;
	return (0);
bad:
	free(data);
	return (lx_fail(lx, err, errlen,
	    "expected a hex byte (two lower-case digits), ',' or CRLF"));
}

/*
 * A line of the backup that is not a value: empty, a comment, the
 * ";absent=" line of the current section, or a section header.  Returns
 * NULL, or what is wrong.
 */
static const char *
backup_line(struct ww_backup *bk, char *line, int *kp)
{
	char	 name[512];
	size_t	 len = strlen(line);
	int	 j, n, k = *kp;

	if (len == 0)
		return (NULL);
	if (strncmp(line, ";absent=", 8) == 0) {
		if (k < 0 || bk->b_exist[k] >= 0)
			return ("misplaced ;absent= line");
		n = key_ncomp(&ww_keys[k]);
		for (j = 0; j < n; j++) {
			key_regname(&ww_keys[k], j + 1, name, sizeof name);
			if (strcmp(name, line + 8) == 0)
				break;
		}
		/* SOFTWARE itself is always there. */
		if (j == 0 || j == n)
			return ("the ;absent= key is not a parent of the "
			    "section's key");
		bk->b_exist[k] = j;
		return (NULL);
	}
	if (line[0] == ';')
		return (NULL);
	if (line[0] != '[' || line[len - 1] != ']')
		return ("expected [key], \"value\"= or a ; comment");
	line[len - 1] = '\0';
	for (k = 0; k < K_NKEYS; k++) {
		key_regname(&ww_keys[k], -1, name, sizeof name);
		if (strcmp(name, line + 1) == 0)
			break;
	}
	if (k == K_NKEYS)
		return ("a key hushgate does not write");
	if (bk->b_keyseen[k])
		return ("key repeated");
	bk->b_keyseen[k] = 1;
	*kp = k;
	return (NULL);
}

void
backup_free(struct ww_backup *bk)
{
	size_t	i;

	for (i = 0; i < WW_NSLOTS; i++) {
		free(bk->b_val[i].sv_data);
		bk->b_val[i].sv_data = NULL;
	}
}

/* An error at the lexer's place, after freeing what was parsed so far. */
static int
parse_fail(struct ww_backup *bk, const struct ww_lexer *lx, char *err,
    size_t errlen, const char *what)
{
	backup_free(bk);
	return (lx_fail(lx, err, errlen, what));
}

/*
 * Parse a backup written by backup_format: the header, then for each of
 * our keys a section with an optional ";absent=" line and one line per
 * value.  Anything else, an unknown key or value, a repeated or missing
 * one, is an error "line:col: message" in err.
 */
int
backup_parse(const unsigned char *buf, size_t len, struct ww_backup *bk,
    char *err, size_t errlen)
{
	struct ww_lexer	 lx;
	char		 line[512], name[512];
	size_t		 i, n;
	unsigned long	 type;
	const char	*what;
	unsigned	 l0;
	int		 k = -1, c, j;
	char		*end;

	memset(bk, 0, sizeof *bk);
	for (j = 0; j < K_NKEYS; j++)
		bk->b_exist[j] = -1;
	lx.lx_line = 1;
	lx.lx_col = 1;
	if (len < 2 || buf[0] != 0xff || buf[1] != 0xfe) {
		snprintf(err, errlen, "1:1: not UTF-16LE with a byte order "
		    "mark");
		return (-1);
	}
	if (len % 2 != 0) {
		snprintf(err, errlen, "odd number of bytes for UTF-16");
		return (-1);
	}
	lx.lx_p = buf + 2;
	lx.lx_n = (len - 2) / 2;
	lx.lx_i = 0;
	if (lx_line(&lx, line, sizeof line, err, errlen) != 0)
		return (-1);
	if (strcmp(line, "Windows Registry Editor Version 5.00") != 0) {
		snprintf(err, errlen, "1:1: expected \"Windows Registry "
		    "Editor Version 5.00\"");
		return (-1);
	}
	while ((c = lx_peek(&lx)) >= 0) {
		l0 = lx.lx_line;
		if (c == '"' && k < 0) {
			line_fail(err, errlen, l0, "value outside a key");
			goto fail;
		}
		if (c != '"') {
			if (lx_line(&lx, line, sizeof line, err, errlen) != 0)
				goto fail;
			if ((what = backup_line(bk, line, &k)) != NULL) {
				line_fail(err, errlen, l0, what);
				goto fail;
			}
			continue;
		}
		/* "Name"= */
		lx_get(&lx);
		for (n = 0; (c = lx_peek(&lx)) != '"'; n++) {
			if (c < 0x20 || c > 0x7e || c == '\\' ||
			    n + 1 >= sizeof name)
				return (parse_fail(bk, &lx, err, errlen,
				    "bad value name"));
			name[n] = (char)c;
			lx_get(&lx);
		}
		name[n] = '\0';
		lx_get(&lx);
		for (i = 0; i < WW_NSLOTS; i++)
			if (ww_slots[i].s_key == k &&
			    strcmp(ww_slots[i].s_name, name) == 0)
				break;
		if (i == WW_NSLOTS)
			return (parse_fail(bk, &lx, err, errlen, "a value hushgate "
			    "does not write in this key"));
		if (bk->b_seen[i])
			return (parse_fail(bk, &lx, err, errlen, "value repeated"));
		bk->b_seen[i] = 1;
		if (lx_get(&lx) != '=')
			return (parse_fail(bk, &lx, err, errlen, "expected '='"));
		if (lx_peek(&lx) == '-') {
			lx_get(&lx);
			if (lx_get(&lx) != '\r' || lx_get(&lx) != '\n')
				return (parse_fail(bk, &lx, err, errlen,
				    "expected CRLF after '-'"));
			continue;
		}
		for (n = 0; n < 4; n++) {
			if (lx_peek(&lx) != "hex("[n])
				return (parse_fail(bk, &lx, err, errlen,
				    "expected hex(TYPE): or -"));
			lx_get(&lx);
		}
		for (n = 0; (c = lx_peek(&lx)) != ')' && n < 8; n++) {
			if (hexval(c) < 0)
				return (parse_fail(bk, &lx, err, errlen,
				    "bad type in hex(TYPE)"));
			line[n] = (char)c;
			lx_get(&lx);
		}
		line[n] = '\0';
		if (n == 0 || lx_get(&lx) != ')' || lx_get(&lx) != ':')
			return (parse_fail(bk, &lx, err, errlen,
			    "bad type in hex(TYPE)"));
		type = strtoul(line, &end, 16);
		bk->b_val[i].sv_present = 1;
		bk->b_val[i].sv_type = (uint32_t)type;
		if (parse_hex(&lx, &bk->b_val[i], err, errlen) != 0)
			goto fail;
	}
	for (i = 0; i < WW_NSLOTS; i++)
		if (!bk->b_seen[i]) {
			key_regname(&ww_keys[ww_slots[i].s_key], -1, name,
			    sizeof name);
			snprintf(err, errlen, "%u:%u: incomplete: no line for "
			    "\"%s\" in [%s]", lx.lx_line, lx.lx_col,
			    ww_slots[i].s_name, name);
			goto fail;
		}
	return (0);
fail:
	backup_free(bk);
	return (-1);
}
