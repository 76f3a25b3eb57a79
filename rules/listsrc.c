/*
 * listsrc.c -- the pure parts of lists kept current from `url:` sources:
 * the URL, sizes and ratios of the configuration, the cache metadata file,
 * the shrink guard and the count of entries added and removed between two
 * copies of a list. Downloading lives in download/fetch.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

#define META_MAGIC	"hushgate-list-meta 1"

/*
 * Parse an https:// URL into u. A fragment is dropped; the path keeps its
 * query. Returns 0, or -1 with *why.
 */
int
url_parse(const char *s, struct hg_url *u, const char **why)
{
	const char	*p, *auth, *end, *colon;
	struct hg_target t;
	unsigned long	 port = 443;
	size_t		 len, hlen;
	char		*e;

	memset(u, 0, sizeof *u);
	if (strncasecmp(s, "http://", 7) == 0) {
		*why = "only https:// URLs are downloaded (http:// would let "
		    "anyone on the path change the list)";
		return (-1);
	}
	if (strncasecmp(s, "https://", 8) != 0) {
		*why = "not an https:// URL";
		return (-1);
	}
	if (strlen(s) > HG_MAX_URL) {
		*why = "URL too long";
		return (-1);
	}
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			*why = "space, control or non-ASCII character in URL";
			return (-1);
		}
	auth = s + 8;
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL) {
		*why = "user information in URL";
		return (-1);
	}
	colon = NULL;
	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(end - auth));
		if (close == NULL) {
			*why = "unclosed [ in URL";
			return (-1);
		}
		if (close + 1 < end) {
			if (close[1] != ':') {
				*why = "bad port in URL";
				return (-1);
			}
			colon = close + 1;
		}
		hlen = (size_t)(close + 1 - auth);
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		hlen = colon ? (size_t)(colon - auth) : (size_t)(end - auth);
	}
	if (colon != NULL) {
		if (colon + 1 == end || !isdigit((unsigned char)colon[1])) {
			*why = "bad port in URL";
			return (-1);
		}
		errno = 0;
		port = strtoul(colon + 1, &e, 10);
		if (e != end || errno != 0 || port == 0 || port > 65535) {
			*why = "bad port in URL";
			return (-1);
		}
	}
	if (hlen == 0) {
		*why = "no host in URL";
		return (-1);
	}
	if (host_normalise(auth, hlen, &t, why) != 0)
		return (-1);
	memcpy(u->u_host, t.t_host, t.t_len + 1);
	u->u_v6 = t.t_kind == HG_HOST_IPV6;
	u->u_port = (uint16_t)port;
	len = strcspn(end, "#");
	if (len == 0 || *end != '/') {
		u->u_path[0] = '/';
		memcpy(u->u_path + 1, end, len);
		u->u_path[len + 1] = '\0';
	} else {
		memcpy(u->u_path, end, len);
		u->u_path[len] = '\0';
	}
	return (0);
}

/*
 * A size: digits with an optional unit B, KB, KiB, MB, MiB, GB or GiB.
 * Returns 0, or -1 for anything else or more than HG_MAX_LIST_BYTES.
 */
int
size_parse(const char *s, uint64_t *out)
{
	static const struct {
		const char	*un_name;
		uint64_t	 un_mult;
	} units[] = {
		{ "", 1 }, { "B", 1 }, { "KB", 1000 }, { "KiB", 1024 },
		{ "MB", 1000000 }, { "MiB", 1024 * 1024 },
		{ "GB", 1000000000 }, { "GiB", 1024 * 1024 * 1024 }
	};
	uint64_t	 v = 0;
	size_t		 i;

	if (!isdigit((unsigned char)*s))
		return (-1);
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > HG_MAX_LIST_BYTES)
			return (-1);
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(s, units[i].un_name) != 0)
			continue;
		if (v == 0 || v > HG_MAX_LIST_BYTES / units[i].un_mult)
			return (-1);
		*out = v * units[i].un_mult;
		return (0);
	}
	return (-1);
}

/* A ratio from 0 to 1 ("0.5", "1", "0"). Returns 0 or -1. */
int
ratio_parse(const char *s, double *out)
{
	char	*end;
	double	 v;

	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !(v >= 0.0 && v <= 1.0))
		return (-1);
	*out = v;
	return (0);
}

/* 64 hexadecimal digits into 32 bytes. Returns 0 or -1. */
int
sha256_hex_parse(const char *s, uint8_t out[32])
{
	size_t	i;
	int	hi, lo;

	if (strlen(s) != 64)
		return (-1);
	for (i = 0; i < 32; i++) {
		hi = isxdigit((unsigned char)s[2 * i]) ? s[2 * i] : -1;
		lo = isxdigit((unsigned char)s[2 * i + 1]) ? s[2 * i + 1] : -1;
		if (hi < 0 || lo < 0)
			return (-1);
		hi = isdigit(hi) ? hi - '0' : tolower(hi) - 'a' + 10;
		lo = isdigit(lo) ? lo - '0' : tolower(lo) - 'a' + 10;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (0);
}

/* 32 bytes as 64 lowercase hexadecimal digits (out holds 65). */
void
sha256_hex(const uint8_t in[32], char out[65])
{
	size_t	i;

	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/*
 * The cache file names of a source in dir: "HOST-HASH.list" and
 * "HOST-HASH.meta", HASH an FNV-1a of the URL and the format (the entry
 * count in the metadata depends on both). Caller frees both.
 */
void
listsrc_cache_paths(const char *dir, const char *url, const char *format,
    char **body, char **meta)
{
	struct hg_url	 u;
	const char	*why, *host = "list", *p;
	uint64_t	 h = 0xcbf29ce484222325ULL;

	for (p = url; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	h = (h ^ '\n') * 0x100000001b3ULL;
	for (p = format; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	if (url_parse(url, &u, &why) == 0 && !u.u_v6)
		host = u.u_host;
	xasprintf(body, "%s/%.64s-%016" PRIx64 ".list", dir, host, h);
	xasprintf(meta, "%s/%.64s-%016" PRIx64 ".meta", dir, host, h);
}

/* A metadata value: printable ASCII and spaces only. */
static int
meta_value_ok(const char *v, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return (0);
	return (1);
}

static int
meta_number(const char *v, size_t len, uint64_t *out)
{
	uint64_t	n = 0;
	size_t		i;

	if (len == 0 || len > 19)
		return (-1);
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return (-1);
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n;
	return (0);
}

/*
 * Parse the metadata file of a cached list ("KEY VALUE" lines after a
 * magic first line; unknown keys are ignored). Returns 0 with lm filled,
 * or -1 with *why.
 */
int
listmeta_parse(const char *buf, size_t len, struct hg_listmeta *lm,
    const char **why)
{
	const char	*p = buf, *end = buf + len, *nl, *sp, *v;
	size_t		 ll, klen, vlen;
	uint64_t	 n;
	char		 hex[65];

	memset(lm, 0, sizeof *lm);
	if (len > HG_MAX_LIST_META) {
		*why = "metadata file too large";
		return (-1);
	}
	nl = memchr(p, '\n', len);
	if (nl == NULL || (size_t)(nl - p) != strlen(META_MAGIC) ||
	    memcmp(p, META_MAGIC, strlen(META_MAGIC)) != 0) {
		*why = "not a list metadata file";
		return (-1);
	}
	for (p = nl + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			*why = "last line not terminated";
			return (-1);
		}
		ll = (size_t)(nl - p);
		if (ll == 0)
			continue;
		if ((sp = memchr(p, ' ', ll)) == NULL) {
			*why = "line without a value";
			return (-1);
		}
		klen = (size_t)(sp - p);
		v = sp + 1;
		vlen = ll - klen - 1;
		if (!meta_value_ok(v, vlen)) {
			*why = "control character in a value";
			return (-1);
		}
#define KEY(k)	(klen == strlen(k) && memcmp(p, k, klen) == 0)
		if (KEY("etag") || KEY("last-modified")) {
			char	*dst = KEY("etag") ? lm->lm_etag :
			    lm->lm_modified;
			size_t	 max = KEY("etag") ? sizeof lm->lm_etag :
			    sizeof lm->lm_modified;

			if (vlen >= max) {
				*why = "validator too long";
				return (-1);
			}
			memset(dst, 0, max);	/* a key given twice */
			memcpy(dst, v, vlen);
		} else if (KEY("sha256")) {
			if (vlen == 1 && v[0] == '-')
				continue;	/* none */
			if (vlen != 64) {
				*why = "bad sha256";
				return (-1);
			}
			memcpy(hex, v, 64);
			hex[64] = '\0';
			if (sha256_hex_parse(hex, lm->lm_sha256) != 0) {
				*why = "bad sha256";
				return (-1);
			}
			lm->lm_have_sha256 = 1;
		} else if (KEY("fetched") || KEY("checked") || KEY("bytes") ||
		    KEY("entries")) {
			if (meta_number(v, vlen, &n) != 0) {
				*why = "bad number";
				return (-1);
			}
			if (KEY("fetched"))
				lm->lm_fetched = n;
			else if (KEY("checked"))
				lm->lm_checked = n;
			else if (KEY("bytes"))
				lm->lm_bytes = n;
			else
				lm->lm_entries = n;
		}
#undef KEY
	}
	return (0);
}

/*
 * Read and parse the metadata file at path (at most HG_MAX_LIST_META
 * bytes). Returns 0 with lm filled; -1 with *why NULL and errno when the
 * file cannot be read (a missing one too), or with *why when its content
 * is bad.
 */
int
listmeta_read(const char *path, struct hg_listmeta *lm, const char **why)
{
	char	 buf[HG_MAX_LIST_META + 1];
	size_t	 len;
	FILE	*f;
	int	 bad;

	memset(lm, 0, sizeof *lm);
	*why = NULL;
	if ((f = fopen(path, "rb")) == NULL)
		return (-1);
	len = fread(buf, 1, sizeof buf, f);
	bad = ferror(f);
	fclose(f);
	if (bad) {
		errno = EIO;
		return (-1);
	}
	if (listmeta_parse(buf, len, lm, why) != 0) {
		memset(lm, 0, sizeof *lm);
		return (-1);
	}
	return (0);
}

/* The metadata file text for lm (caller frees). */
char *
listmeta_format(const struct hg_listmeta *lm, const char *url)
{
	char	*out, hex[65];

	sha256_hex(lm->lm_sha256, hex);
	xasprintf(&out, "%s\nurl %s\netag %s\nlast-modified %s\n"
	    "fetched %" PRIu64 "\nchecked %" PRIu64 "\nsha256 %s\n"
	    "bytes %" PRIu64 "\nentries %" PRIu64 "\n", META_MAGIC, url,
	    lm->lm_etag, lm->lm_modified, lm->lm_fetched, lm->lm_checked,
	    lm->lm_have_sha256 ? hex : "-", lm->lm_bytes, lm->lm_entries);
	return (out);
}

/*
 * The shrink guard: may a list of new entries replace one of old, when at
 * most a fraction max_shrink of the entries may go at once? An empty list
 * never replaces anything.
 */
int
listsrc_shrink_ok(uint64_t old, uint64_t new, double max_shrink)
{
	if (new == 0)
		return (0);
	if (old == 0 || new >= old)
		return (1);
	return ((double)(old - new) <= (double)old * max_shrink);
}

struct span {
	const char	*sp_p;
	size_t		 sp_len;
};

static int
span_cmp(const void *a, const void *b)
{
	const struct span	*x = a, *y = b;
	size_t			 n = x->sp_len < y->sp_len ? x->sp_len :
				    y->sp_len;
	int			 r = memcmp(x->sp_p, y->sp_p, n);

	if (r != 0)
		return (r);
	return (x->sp_len < y->sp_len ? -1 : x->sp_len > y->sp_len);
}

/* The distinct entry lines of buf, sorted (caller frees). */
static struct span *
entry_lines(const char *buf, size_t len, size_t *np)
{
	struct span	*v = NULL;
	const char	*p = buf, *end = buf + len, *e, *nl;
	size_t		 n = 0, cap = 0, i, out;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		e = nl ? nl : end;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r'))
			e--;
		if (e > p && *p != '#' && *p != '!' && *p != ';') {
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				v = xreallocarray(v, cap, sizeof *v);
			}
			v[n].sp_p = p;
			v[n++].sp_len = (size_t)(e - p);
		}
		p = nl ? nl + 1 : end;
	}
	if (n > 0)
		qsort(v, n, sizeof *v, span_cmp);
	for (i = 0, out = 0; i < n; i++)
		if (out == 0 || span_cmp(&v[out - 1], &v[i]) != 0)
			v[out++] = v[i];
	*np = out;
	return (v);
}

/*
 * How many entry lines (not blank, not comments) of b are not in a
 * (*added), and of a not in b (*removed).
 */
void
listsrc_diff(const char *a, size_t alen, const char *b, size_t blen,
    size_t *added, size_t *removed)
{
	struct span	*va, *vb;
	size_t		 na, nb, i = 0, j = 0;
	int		 r;

	va = entry_lines(a, alen, &na);
	vb = entry_lines(b, blen, &nb);
	*added = *removed = 0;
	while (i < na || j < nb) {
		if (i == na)
			r = 1;
		else if (j == nb)
			r = -1;
		else
			r = span_cmp(&va[i], &vb[j]);
		if (r < 0) {
			(*removed)++;
			i++;
		} else if (r > 0) {
			(*added)++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	free(va);
	free(vb);
}
