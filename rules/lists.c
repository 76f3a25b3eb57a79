/*
 * lists.c -- blocklists in the formats people already publish, pulled
 * into a category with `lists: [{file: PATH, format: FORMAT}]`.
 *
 * A list is read as plain text, line by line, without YAML: a list of
 * 100,000 names loads in a few tens of milliseconds. Every rule keeps its
 * source file:line. Lines that are not understood are counted and the
 * first few reported as warnings, never silently dropped.
 */
#include "config.h"

#include "rules/compat.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "rules.h"

#define LIST_SKIPS_REPORTED	5	/* skipped lines named per file */

static const char *const list_formats[] = {
	"domains", "domains-suffix", "hosts", "dstdomain", "wildcard",
	"adblock", "dnsmasq", "rpz", "glob", "ips", NULL
};

int
list_format_valid(const char *format)
{
	size_t	i;

	for (i = 0; list_formats[i] != NULL; i++)
		if (strcmp(list_formats[i], format) == 0)
			return (1);
	return (0);
}

const char *
list_formats_text(void)
{
	return ("domains, domains-suffix, hosts, dstdomain, wildcard, adblock, "
	    "dnsmasq, rpz, glob, ips");
}

/* Case-insensitive comparison with a keyword. */
static int
http_like_eq(const char *s, size_t len, const char *kw)
{
	return (strlen(kw) == len && strncasecmp(s, kw, len) == 0);
}

/* Names a hosts file maps for the system itself, not to block. */
static int
hosts_ignored(const char *s, size_t len)
{
	static const char *const names[] = {
		"localhost", "localhost.localdomain", "local", "broadcasthost",
		"ip6-localhost", "ip6-loopback", "ip6-localnet",
		"ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
		"ip6-allhosts", "0.0.0.0", NULL
	};
	size_t	i;

	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == len && strncasecmp(names[i], s,
		    len) == 0)
			return (1);
	return (0);
}

/* The address column of a hosts line (IPv4 or IPv6). */
static int
hosts_address(const char *s, size_t len)
{
	char	buf[64];
	uint8_t	addr[16];

	if (len == 0 || len >= sizeof buf)
		return (0);
	memcpy(buf, s, len);
	buf[len] = '\0';
	return (inet_pton(AF_INET, buf, addr) == 1 ||
	    inet_pton(AF_INET6, buf, addr) == 1);
}

struct listctx {
	struct hg_ruleset	*lc_rs;
	uint32_t		 lc_cat;
	uint32_t		 lc_file;
	const char		*lc_path;
	struct hg_errors	*lc_warn;
	size_t			 lc_added;
	size_t			 lc_skipped;
};

static void
list_skip(struct listctx *lc, uint32_t line, const char *why)
{
	if (lc->lc_skipped++ < LIST_SKIPS_REPORTED && lc->lc_warn != NULL)
		errors_add(lc->lc_warn, lc->lc_path, line, 0,
		    "warning: line skipped: %s", why);
}

/* What a format allows an entry to be. */
enum entry_form {
	FORM_NAME = 0,		/* a plain name */
	FORM_SUFFIX,		/* a plain name, meaning it and subdomains */
	FORM_WILDCARD,		/* "*.name" */
	FORM_DSTDOMAIN,		/* "name" or ".name" */
	FORM_GLOB,		/* a name, "*.name" or a glob */
	FORM_ADDRESS		/* an address or a prefix */
};

static int
plain_name(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return (0);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c >= 0x80))
			return (0);
	}
	return (s[0] != '.');
}

static void
list_add(struct listctx *lc, const char *s, size_t len, uint32_t line,
    enum entry_form form)
{
	char		 buf[HG_MAX_HOST + 2];
	const char	*why;
	int		 suffix = form == FORM_SUFFIX;

	switch (form) {
	case FORM_NAME:
	case FORM_SUFFIX:
		if (!plain_name(s, len)) {
			list_skip(lc, line, "not a plain host name");
			return;
		}
		break;
	case FORM_WILDCARD:
		if (len < 3 || s[0] != '*' || s[1] != '.' ||
		    !plain_name(s + 2, len - 2)) {
			list_skip(lc, line, "not a *.name wildcard");
			return;
		}
		break;
	case FORM_DSTDOMAIN:
		if (!plain_name(s[0] == '.' ? s + 1 : s,
		    s[0] == '.' ? len - 1 : len)) {
			list_skip(lc, line, "not a name or .name");
			return;
		}
		break;
	case FORM_GLOB:
		if (len == 0 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.*") < len) {
			list_skip(lc, line, "not a name or glob");
			return;
		}
		break;
	case FORM_ADDRESS:
		if (len == 0 || strspn(s, "0123456789abcdefABCDEF:./") < len) {
			list_skip(lc, line, "not an address or prefix");
			return;
		}
		break;
	}

	if (suffix) {
		if (len + 1 >= sizeof buf) {
			list_skip(lc, line, "name too long");
			return;
		}
		buf[0] = '.';
		memcpy(buf + 1, s, len);
		s = buf;
		len++;
	}
	if (ruleset_add_pattern(lc->lc_rs, lc->lc_cat, s, len, lc->lc_file,
	    line, &why) != 0) {
		list_skip(lc, line, why);
		return;
	}
	lc->lc_added++;
}

/* Add every IPv4 prefix that covers a.b.c.d-e.f.g.h exactly. */
static void
list_range(struct listctx *lc, const char *s, size_t len, uint32_t line)
{
	char		 buf[64], pfx[32];
	const char	*dash;
	struct in_addr	 a, b;
	uint64_t	 lo, hi;
	unsigned	 bits;

	if (len >= sizeof buf) {
		list_skip(lc, line, "bad address range");
		return;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	dash = strchr(buf, '-');
	buf[dash - buf] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1 ||
	    inet_pton(AF_INET, dash + 1, &b) != 1 ||
	    ntohl(b.s_addr) < ntohl(a.s_addr)) {
		list_skip(lc, line, "bad address range");
		return;
	}
	lo = ntohl(a.s_addr);
	hi = ntohl(b.s_addr);
	while (lo <= hi) {
		/* The largest aligned block starting at lo inside the range. */
		for (bits = 0; bits < 32; bits++) {
			uint64_t size = (uint64_t)1 << (bits + 1);
			if ((lo & (size - 1)) != 0 || lo + size - 1 > hi)
				break;
		}
		snprintf(pfx, sizeof pfx, "%u.%u.%u.%u/%u",
		    (unsigned)(lo >> 24) & 255, (unsigned)(lo >> 16) & 255,
		    (unsigned)(lo >> 8) & 255, (unsigned)lo & 255, 32 - bits);
		list_add(lc, pfx, strlen(pfx), line, FORM_ADDRESS);
		lo += (uint64_t)1 << bits;
	}
}

/* The allow category that holds the exceptions of lc's category. */
static uint32_t
exceptions_category(struct listctx *lc, uint32_t line)
{
	struct hg_category	*ca = ruleset_category(lc->lc_rs, lc->lc_cat);
	char			 name[128];
	uint32_t		 idx;

	snprintf(name, sizeof name, "%.53s-exceptions", ca->ca_name);
	if ((idx = ruleset_find_category(lc->lc_rs, name)) != HG_NONE)
		return (idx);
	idx = ruleset_add_category(lc->lc_rs, name, HG_ACT_ALLOW, lc->lc_file,
	    line);
	ca = ruleset_category(lc->lc_rs, idx);
	xasprintf(&ca->ca_description, "exception rules (@@) of the lists "
	    "of category %.64s", ruleset_category(lc->lc_rs,
	    lc->lc_cat)->ca_name);
	return (idx);
}

/* adblock: "||name^" blocks, "@@||name^" excepts; other syntax is counted
 * as skipped. */
static void
list_adblock(struct listctx *lc, const char *p, size_t len, uint32_t line)
{
	if (p[0] == '[')
		return;			/* "[Adblock Plus]" */
	if (len >= 2 && p[0] == '@' && p[1] == '@') {
		/* "@@||name^": an exception. Its rules go to an allow
		 * category next to this one; being more specific than the
		 * block they punch a hole in, they win. */
		uint32_t	 saved = lc->lc_cat;

		if (len < 6 || p[2] != '|' || p[3] != '|' || p[len - 1] != '^') {
			list_skip(lc, line, "adblock syntax other than "
			    "@@||name^");
			return;
		}
		lc->lc_cat = exceptions_category(lc, line);
		list_add(lc, p + 4, len - 5, line, FORM_SUFFIX);
		lc->lc_cat = saved;
		return;
	}
	if (len < 4 || p[0] != '|' || p[1] != '|' || p[len - 1] != '^') {
		list_skip(lc, line, "adblock syntax other than ||name^");
		return;
	}
	list_add(lc, p + 2, len - 3, line, FORM_SUFFIX);
}

/* dnsmasq: local=/a/b/, server=/a/[addr], address=/a/addr. */
static void
list_dnsmasq(struct listctx *lc, const char *p, size_t len, uint32_t line)
{
	const char	*end = p + len, *slash, *name;

	if (!((len > 7 && strncmp(p, "local=/", 7) == 0) ||
	    (len > 8 && strncmp(p, "server=/", 8) == 0) ||
	    (len > 9 && strncmp(p, "address=/", 9) == 0))) {
		list_skip(lc, line, "not a dnsmasq local=, server= or "
		    "address= line");
		return;
	}
	name = (const char *)memchr(p, '/', len) + 1;
	while (name < end && (slash = memchr(name, '/',
	    (size_t)(end - name))) != NULL) {
		if (slash > name)
			list_add(lc, name, (size_t)(slash - name), line,
			    FORM_SUFFIX);
		name = slash + 1;
	}
}

/* rpz: "name CNAME ." and "*.name CNAME ."; the zone preamble is skipped. */
static void
list_rpz(struct listctx *lc, const char *p, size_t len, uint32_t line)
{
	const char	*end = p + len, *tok[3];
	size_t		 toklen[3], n = 0;

	if (p[0] == '$' || p[0] == '@')
		return;			/* $TTL, @ SOA ... */
	while (p < end && n < 3) {
		tok[n] = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		toklen[n] = (size_t)(p - tok[n]);
		n++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	}
	if (n >= 2 && (http_like_eq(tok[0], toklen[0], "NS") ||
	    http_like_eq(tok[1], toklen[1], "NS") ||
	    http_like_eq(tok[1], toklen[1], "SOA")))
		return;			/* zone records */
	if (n != 3 || p != end || !http_like_eq(tok[1], toklen[1], "CNAME") ||
	    toklen[2] != 1 || tok[2][0] != '.') {
		list_skip(lc, line, "rpz record other than NAME CNAME .");
		return;
	}
	if (toklen[0] > 0 && tok[0][toklen[0] - 1] == '.')
		toklen[0]--;
	if (toklen[0] > 2 && tok[0][0] == '*' && tok[0][1] == '.')
		list_add(lc, tok[0], toklen[0], line, FORM_WILDCARD);
	else
		list_add(lc, tok[0], toklen[0], line, FORM_NAME);
}

/* Parse one line (already without its end of line). */
static void
list_line(struct listctx *lc, const char *format, char *p, size_t len,
    uint32_t line)
{
	char	*end = p + len, *tok;
	size_t	 toklen;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p == end || *p == '#' || *p == '!' || *p == ';')
		return;
	if (strcmp(format, "adblock") == 0) {
		list_adblock(lc, p, (size_t)(end - p), line);
		return;
	}
	if (strcmp(format, "dnsmasq") == 0) {
		list_dnsmasq(lc, p, (size_t)(end - p), line);
		return;
	}
	if (strcmp(format, "rpz") == 0) {
		list_rpz(lc, p, (size_t)(end - p), line);
		return;
	}
	if (strcmp(format, "glob") == 0 || strcmp(format, "ips") == 0) {
		/* WindowsSpyBlocker's proxifier lists end entries with ';'. */
		if (end > p && end[-1] == ';')
			end--;
	}
	if (strcmp(format, "hosts") == 0) {
		/* ADDRESS NAME [NAME...] [# comment] */
		tok = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		if (p == end) {
			list_skip(lc, line, "no name after the address");
			return;
		}
		if (!hosts_address(tok, (size_t)(p - tok))) {
			list_skip(lc, line, "first column is not an address");
			return;
		}
		for (;;) {
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (p == end || *p == '#')
				return;
			tok = p;
			while (p < end && *p != ' ' && *p != '\t')
				p++;
			toklen = (size_t)(p - tok);
			if (!hosts_ignored(tok, toklen))
				list_add(lc, tok, toklen, line, FORM_NAME);
		}
	}
	/* One name per line; a trailing comment is allowed. */
	tok = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	toklen = (size_t)(p - tok);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p != end && *p != '#') {
		list_skip(lc, line, "more than one name on the line");
		return;
	}
	if (strcmp(format, "domains-suffix") == 0)
		list_add(lc, tok, toklen, line, FORM_SUFFIX);
	else if (strcmp(format, "wildcard") == 0)
		list_add(lc, tok, toklen, line, FORM_WILDCARD);
	else if (strcmp(format, "dstdomain") == 0)
		list_add(lc, tok, toklen, line, FORM_DSTDOMAIN);
	else if (strcmp(format, "glob") == 0)
		list_add(lc, tok, toklen, line, FORM_GLOB);
	else if (strcmp(format, "ips") == 0) {
		if (memchr(tok, '-', toklen) != NULL)
			list_range(lc, tok, toklen, line);
		else
			list_add(lc, tok, toklen, line, FORM_ADDRESS);
	} else
		list_add(lc, tok, toklen, line, FORM_NAME);
}

/*
 * Load the list at path (in format) into category cat; its rules name
 * their source as name (NULL: path), e.g. the URL of a cached copy.
 * Errors (cannot read) go to errs; skipped lines to warn. Returns the
 * rules added, or -1. Bounded by HG_MAX_LIST_BYTES: see list_load_bounded.
 */
long
list_load(struct hg_ruleset *rs, uint32_t cat, const char *path,
    const char *name, const char *format, struct hg_errors *errs,
    struct hg_errors *warn)
{
	long	n;

	n = list_load_bounded(rs, cat, path, name, format, HG_MAX_LIST_BYTES,
	    errs, warn);
	return (n < 0 ? -1 : n);
}

/*
 * The same, for a list of at most max_bytes bytes: a regular file that is
 * larger is refused before it is read (its size is known), anything else
 * (a pipe, a device) as soon as more has been read. Returns the rules
 * added, -1 when the file cannot be read, or -2 when it is too large
 * (the error in errs names the size and the bound); rules added before a
 * stream proved too large stay in rs, to be dropped with the ruleset.
 */
long
list_load_bounded(struct hg_ruleset *rs, uint32_t cat, const char *path,
    const char *name, const char *format, uint64_t max_bytes,
    struct hg_errors *errs, struct hg_errors *warn)
{
	struct listctx	 lc;
	struct stat	 st;
	FILE		*f;
	char		*buf, *line, *nl;
	size_t		 cap = 1 << 20, len = 0, n, off;
	uint64_t	 total = 0;
	uint32_t	 lineno = 0;
	int		 toolong = 0;

	if ((f = fopen(path, "rb")) == NULL) {
		errors_add(errs, path, 0, 0, "cannot open list: %s",
		    strerror(errno));
		return (-1);
	}
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > max_bytes) {
		errors_add(errs, path, 0, 0, "list of %llu bytes is larger "
		    "than max_bytes (%llu)", (unsigned long long)st.st_size,
		    (unsigned long long)max_bytes);
		fclose(f);
		return (-2);
	}
	memset(&lc, 0, sizeof lc);
	lc.lc_rs = rs;
	lc.lc_cat = cat;
	lc.lc_file = ruleset_add_file(rs, name != NULL ? name : path);
	lc.lc_path = ruleset_file(rs, lc.lc_file);
	lc.lc_warn = warn;
	buf = xmalloc(cap);
	for (;;) {
		n = fread(buf + len, 1, cap - len - 1, f);
		total += n;
		if (total > max_bytes) {
			errors_add(errs, path, 0, 0, "list larger than "
			    "max_bytes (%llu)", (unsigned long long)max_bytes);
			free(buf);
			fclose(f);
			return (-2);
		}
		len += n;
		buf[len] = '\0';
		off = 0;
		while ((nl = memchr(buf + off, '\n', len - off)) != NULL ||
		    (n == 0 && off < len)) {
			size_t	ll;

			line = buf + off;
			ll = nl ? (size_t)(nl - line) : len - off;
			off += ll + (nl ? 1 : 0);
			lineno++;
			if (toolong) {
				/* the rest of a line already skipped */
				toolong = 0;
				continue;
			}
			if (ll > 0 && line[ll - 1] == '\r')
				ll--;
			if (lineno == 1 && ll >= 3 &&
			    memcmp(line, "\xef\xbb\xbf", 3) == 0) {
				line += 3;
				ll -= 3;
			}
			list_line(&lc, format, line, ll, lineno);
		}
		if (n == 0)
			break;
		memmove(buf, buf + off, len - off);
		len -= off;
		if (len + 1 >= cap) {
			/* A line longer than the buffer: skip it. */
			list_skip(&lc, lineno + 1, "line too long");
			len = 0;
			toolong = 1;
		}
	}
	if (ferror(f)) {
		errors_add(errs, path, 0, 0, "read error: %s", strerror(errno));
		free(buf);
		fclose(f);
		return (-1);
	}
	fclose(f);
	free(buf);
	if (lc.lc_skipped > LIST_SKIPS_REPORTED && warn != NULL)
		errors_add(warn, lc.lc_path, 0, 0, "warning: %zu lines skipped "
		    "in all", lc.lc_skipped);
	return ((long)lc.lc_added);
}
