/*
 * pac.c -- the proxy auto-config (PAC) file: `hushgate pac` writes it and
 * the proxy serves it (GET /proxy.pac, /wpad.dat).
 *
 * The file is a head (a comment: generator, digest, counts), one line
 * naming the proxies (var HG_PROXY = "PROXY a:p; ..."), and a body that
 * depends on the rules only, so that the daemon builds the body once per
 * ruleset and adds the proxy line of each client.
 *
 * Decisions are taken on the host name alone, with no DNS lookup
 * (dnsResolve, isInNet on names): a lookup object keyed by ".name" is
 * walked from the whole host to its shortest suffix, in the order
 * ruleset_match() uses (exact, then the longest suffix; ties settled by
 * category order when the file is written). Each value packs two codes:
 * the code for the name itself (value >> 2) and the one for its
 * subdomains (value & 3). Codes: 1 direct, 2 proxy (audit: falls back to
 * a direct connection), 3 proxy (deny: falls back as --fallback says).
 * A rule limited to some ports gives 3: the proxy knows the port, the PAC
 * file does not, so the proxy decides. Globs are a list of regular
 * expressions tried after the names, as in the proxy; prefixes apply to
 * IP literals only, checked word by word. Large rule sets keep the names
 * that only go to the proxy in a Bloom filter (see emit_names()).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rules.h"

/*
 * The size bound of `hushgate -t` (HG_PAC_SIZE_WARN, 1 MiB): Chromium's
 * PAC fetcher refuses a larger script (ERR_FILE_TOO_BIG) and WinHTTP on
 * older Windows rejects PAC files over 1 MB.
 */

#define PAC_DIRECT	1
#define PAC_AUDIT	2
#define PAC_DENY	3

struct pbuf {
	char	*pb_buf;
	size_t	 pb_len;
	size_t	 pb_cap;
};

static void __attribute__((format(HG_PRINTF, 2, 3)))
pb_printf(struct pbuf *pb, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	for (;;) {
		va_start(ap, fmt);
		/* no buffer yet: NULL plus an offset is undefined */
		n = vsnprintf(pb->pb_cap ? pb->pb_buf + pb->pb_len : NULL,
		    pb->pb_cap - pb->pb_len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < pb->pb_cap - pb->pb_len) {
			pb->pb_len += (size_t)n;
			return;
		}
		pb->pb_cap = pb->pb_cap ? pb->pb_cap * 2 : 65536;
		pb->pb_buf = xreallocarray(pb->pb_buf, pb->pb_cap, 1);
	}
}

static void
pb_puts(struct pbuf *pb, const char *s)
{
	pb_printf(pb, "%s", s);
}

static void
pb_putc(struct pbuf *pb, char c)
{
	if (pb->pb_len + 2 > pb->pb_cap) {
		pb->pb_cap = pb->pb_cap ? pb->pb_cap * 2 : 65536;
		pb->pb_buf = xreallocarray(pb->pb_buf, pb->pb_cap, 1);
	}
	pb->pb_buf[pb->pb_len++] = c;
	pb->pb_buf[pb->pb_len] = '\0';
}

uint64_t
pac_fnv64(const void *p, size_t len)
{
	const unsigned char	*s = p;
	uint64_t		 h = 14695981039346656037ULL;

	while (len-- > 0) {
		h ^= *s++;
		h *= 1099511628211ULL;
	}
	return (h);
}

int
pac_mode_parse(const char *s, enum hg_pac_mode *out)
{
	if (strcmp(s, "all") == 0)
		*out = HG_PAC_ALL;
	else if (strcmp(s, "policy") == 0)
		*out = HG_PAC_POLICY;
	else
		return (-1);
	return (0);
}

int
pac_fallback_parse(const char *s, enum hg_pac_fallback *out)
{
	if (strcmp(s, "direct") == 0)
		*out = HG_PAC_DIRECT;
	else if (strcmp(s, "block") == 0)
		*out = HG_PAC_BLOCK;
	else
		return (-1);
	return (0);
}

static int
action_code(enum hg_action a)
{
	switch (a) {
	case HG_ACT_DENY:
		return (PAC_DENY);
	case HG_ACT_AUDIT:
		return (PAC_AUDIT);
	default:
		return (PAC_DIRECT);
	}
}

/* One entry of a lookup object. */
struct pentry {
	const char	*pe_name;
	int		 pe_code;	/* self << 2 | subdomains */
};

struct pnames {
	const struct hg_ruleset	*pn_rs;
	struct pentry		*pn_ents;
	size_t			 pn_count;
	size_t			 pn_cap;
};

static void
pnames_add(struct pnames *pn, const char *name, int code)
{
	if (pn->pn_count == pn->pn_cap) {
		pn->pn_cap = pn->pn_cap ? pn->pn_cap * 2 : 256;
		pn->pn_ents = xreallocarray(pn->pn_ents, pn->pn_cap,
		    sizeof *pn->pn_ents);
	}
	pn->pn_ents[pn->pn_count].pe_name = name;
	pn->pn_ents[pn->pn_count].pe_code = code;
	pn->pn_count++;
}

static int
head_code(const struct hg_ruleset *rs, const struct hg_rulehead *h)
{
	if (h->rh_ports)
		return (PAC_DENY);	/* the proxy decides by port */
	return (action_code(ruleset_category_const(rs, h->rh_cat)->ca_action));
}

/*
 * The codes of one name: for the host itself the exact chain, else the
 * ".name" chain; for its subdomains the ".name" or "*.name" chain of the
 * earlier category.
 */
static void
name_cb(const char *name, const struct hg_rulehead *h, void *arg)
{
	struct pnames			*pn = arg;
	const struct hg_rulehead	*sub;
	int				 self = 0, below = 0;

	if (h[0].rh_cat != HG_NONE)
		self = head_code(pn->pn_rs, &h[0]);
	else if (h[1].rh_cat != HG_NONE)
		self = head_code(pn->pn_rs, &h[1]);
	if (h[1].rh_cat != HG_NONE || h[2].rh_cat != HG_NONE) {
		if (h[1].rh_cat == HG_NONE)
			sub = &h[2];
		else if (h[2].rh_cat == HG_NONE)
			sub = &h[1];
		else
			sub = h[2].rh_cat < h[1].rh_cat ? &h[2] : &h[1];
		below = h[1].rh_ports || h[2].rh_ports ? PAC_DENY :
		    head_code(pn->pn_rs, sub);
	}
	if (self != 0 || below != 0)
		pnames_add(pn, name, self << 2 | below);
}

static int
pentry_cmp(const void *a, const void *b)
{
	const struct pentry	*x = a, *y = b;

	return (strcmp(x->pe_name, y->pe_name));
}

/* Write a lookup object: var NAME = {".a.b":5,...}; sorted by name. */
static void
emit_object(struct pbuf *pb, const char *var, struct pnames *pn)
{
	size_t	i;

	if (pn->pn_count > 1)
		qsort(pn->pn_ents, pn->pn_count, sizeof *pn->pn_ents,
		    pentry_cmp);
	pb_printf(pb, "var %s = {", var);
	for (i = 0; i < pn->pn_count; i++)
		pb_printf(pb, "%s\n\".%s\":%d", i ? "," : "",
		    pn->pn_ents[i].pe_name, pn->pn_ents[i].pe_code);
	pb_puts(pb, "\n};\n");
}

/* [[w0,w1,...],bits,code]: an address as 16-bit words. */
static void
emit_net(struct pbuf *pb, const struct hg_cidr *c, int code, int first)
{
	int	i, n = c->ci_family == 4 ? 2 : 8;

	pb_printf(pb, "%s\n[[", first ? "" : ",");
	for (i = 0; i < n; i++)
		pb_printf(pb, "%s%u", i ? "," : "",
		    (unsigned)(c->ci_addr[2 * i] << 8 | c->ci_addr[2 * i + 1]));
	pb_printf(pb, "],%u,%d]", c->ci_bits, code);
}

struct pnets {
	const struct hg_ruleset	*pt_rs;
	struct pbuf		*pt_pb;
	size_t			 pt_count;
};

static void
prefix_cb(const struct hg_cidr *c, const struct hg_rulehead *h, void *arg)
{
	struct pnets	*pt = arg;

	emit_net(pt->pt_pb, c, head_code(pt->pt_rs, h), pt->pt_count == 0);
	pt->pt_count++;
}

struct pglob {
	const char	*pg_pattern;
	uint32_t	 pg_cat;
	size_t		 pg_order;
	int		 pg_code;
};

struct pglobs {
	const struct hg_ruleset	*pl_rs;
	struct pglob		*pl_globs;
	size_t			 pl_count;
};

static void
glob_cb(const char *pattern, const struct hg_rulehead *h, void *arg)
{
	struct pglobs	*pl = arg;
	struct pglob	*g;

	pl->pl_globs = xreallocarray(pl->pl_globs, pl->pl_count + 1,
	    sizeof *pl->pl_globs);
	g = &pl->pl_globs[pl->pl_count];
	g->pg_pattern = pattern;
	g->pg_cat = h->rh_cat;
	g->pg_order = pl->pl_count++;
	g->pg_code = head_code(pl->pl_rs, h);
}

/* The proxy takes the matching glob of the earliest category. */
static int
pglob_cmp(const void *a, const void *b)
{
	const struct pglob	*x = a, *y = b;

	if (x->pg_cat != y->pg_cat)
		return (x->pg_cat < y->pg_cat ? -1 : 1);
	return (x->pg_order < y->pg_order ? -1 : x->pg_order > y->pg_order);
}

/* A glob as an anchored regular expression literal. */
static void
emit_glob(struct pbuf *pb, const char *g)
{
	pb_puts(pb, "/^");
	for (; *g != '\0'; g++) {
		if (*g == '*')
			pb_puts(pb, ".*");
		else if (*g == '.')
			pb_puts(pb, "\\.");
		else
			pb_putc(pb, *g);
	}
	pb_puts(pb, "$/");
}

/*
 * The functions. HG_ALL: every host not local goes to the proxy. ES3
 * only (WinHTTP's JScript, old SpiderMonkey): no trailing commas.
 */
static const char pac_code[] =
"function hgHash(s) {\n"
"\tvar h = 2166136261, i;\n"
"\tfor (i = 0; i < s.length; i++) {\n"
"\t\th ^= s.charCodeAt(i);\n"
"\t\th = (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) +\n"
"\t\t    (h << 24)) >>> 0;\n"
"\t}\n"
"\treturn (h);\n"
"}\n"
"function hgBloom(s) {\n"
"\tvar h = hgHash(s), g = (((h >>> 15) | (h << 17)) | 1) >>> 0, i, b;\n"
"\tfor (i = 0; i < HG_BLOOM_K; i++) {\n"
"\t\tb = (h + i * g) % HG_BLOOM_M;\n"
"\t\tif ((HG_BLOOM.charCodeAt(Math.floor(b / 6)) - 63 >> b % 6 & 1) == 0)\n"
"\t\t\treturn (false);\n"
"\t}\n"
"\treturn (true);\n"
"}\n"
"function hgWalk(t, h, f) {\n"
"\tvar s = \".\" + h, v = t[s], i;\n"
"\tif (v !== undefined && v >= 4)\n"
"\t\treturn (v >> 2);\n"
"\tif (f && hgBloom(s))\n"
"\t\treturn (3);\n"
"\tfor (i = s.indexOf(\".\", 1); i >= 0; i = s.indexOf(\".\", i + 1)) {\n"
"\t\tv = t[s.substring(i)];\n"
"\t\tif (v !== undefined && (v & 3) != 0)\n"
"\t\t\treturn (v & 3);\n"
"\t\tif (f && hgBloom(s.substring(i)))\n"
"\t\t\treturn (3);\n"
"\t}\n"
"\treturn (0);\n"
"}\n"
"function hgWords4(h) {\n"
"\tvar p = h.split(\".\"), n = [], i;\n"
"\tfor (i = 0; i < 4; i++) {\n"
"\t\tif (!/^(0|[1-9][0-9]{0,2})$/.test(p[i]) || p[i] > 255)\n"
"\t\t\treturn (null);\n"
"\t\tn[i] = p[i] - 0;\n"
"\t}\n"
"\treturn ([n[0] * 256 + n[1], n[2] * 256 + n[3]]);\n"
"}\n"
"function hgWords6(h) {\n"
"\tvar p = h.split(\"::\"), l, r, w = [], i, t;\n"
"\tif (p.length > 2)\n"
"\t\treturn (null);\n"
"\tl = p[0] == \"\" ? [] : p[0].split(\":\");\n"
"\tr = p.length < 2 || p[1] == \"\" ? [] : p[1].split(\":\");\n"
"\tt = r.length ? r : l;\n"
"\tif (t.length && t[t.length - 1].indexOf(\".\") >= 0) {\n"
"\t\ti = hgWords4(t[t.length - 1]);\n"
"\t\tif (i == null)\n"
"\t\t\treturn (null);\n"
"\t\tt[t.length - 1] = i[0].toString(16);\n"
"\t\tt[t.length] = i[1].toString(16);\n"
"\t}\n"
"\tif (p.length == 1 ? l.length != 8 : l.length + r.length > 7)\n"
"\t\treturn (null);\n"
"\tt = l.concat([]);\n"
"\tfor (i = l.length + r.length; i < 8; i++)\n"
"\t\tt[t.length] = \"0\";\n"
"\tt = t.concat(r);\n"
"\tfor (i = 0; i < 8; i++) {\n"
"\t\tif (!/^[0-9a-f]{1,4}$/.test(t[i]))\n"
"\t\t\treturn (null);\n"
"\t\tw[i] = parseInt(t[i], 16);\n"
"\t}\n"
"\treturn (w);\n"
"}\n"
"function hgNet(list, w) {\n"
"\tvar i, j, b, d, e;\n"
"\tfor (i = 0; i < list.length; i++) {\n"
"\t\te = list[i];\n"
"\t\tif (e[0].length != w.length)\n"
"\t\t\tcontinue;\n"
"\t\tfor (j = 0, b = e[1]; j < w.length && b > 0; j++, b -= 16) {\n"
"\t\t\td = b >= 16 ? 1 : Math.pow(2, 16 - b);\n"
"\t\t\tif (Math.floor(w[j] / d) != Math.floor(e[0][j] / d))\n"
"\t\t\t\tbreak;\n"
"\t\t}\n"
"\t\tif (j == w.length || b <= 0)\n"
"\t\t\treturn (e[2]);\n"
"\t}\n"
"\treturn (0);\n"
"}\n"
"function hgAddress(w) {\n"
"\tvar c;\n"
"\tif (w == null)\n"
"\t\treturn (3);\n"
"\tif (w.length == 8 && w[0] == 0 && w[1] == 0 && w[2] == 0 &&\n"
"\t    w[3] == 0 && w[4] == 0 && w[5] == 65535)\n"
"\t\tw = [w[6], w[7]];\n"
"\tif ((c = hgNet(HG_BYPASS_NETS, w)) != 0)\n"
"\t\treturn (c);\n"
"\tif (HG_ALL)\n"
"\t\treturn (3);\n"
"\tif ((c = hgNet(HG_NETS, w)) != 0)\n"
"\t\treturn (c);\n"
"\treturn (HG_DEFAULT);\n"
"}\n"
"function hgDecide(h) {\n"
"\tvar c, i;\n"
"\tif (h.indexOf(\":\") >= 0)\n"
"\t\treturn (hgAddress(hgWords6(h)));\n"
"\tif (/^[0-9.]+$/.test(h))\n"
"\t\treturn (hgAddress(h.split(\".\").length == 4 ? hgWords4(h) : null));\n"
"\tif (h.indexOf(\".\") < 0 || hgWalk(HG_BYPASS, h, false) != 0)\n"
"\t\treturn (1);\n"
"\tif (HG_ALL)\n"
"\t\treturn (3);\n"
"\tif ((c = hgWalk(HG_NAMES, h, HG_BLOOM_M > 0)) != 0)\n"
"\t\treturn (c);\n"
"\tfor (i = 0; i < HG_GLOBS.length; i++)\n"
"\t\tif (HG_GLOBS[i][0].test(h))\n"
"\t\t\treturn (HG_GLOBS[i][1]);\n"
"\treturn (HG_DEFAULT);\n"
"}\n"
"function FindProxyForURL(url, host) {\n"
"\tvar h = host.toLowerCase(), c;\n"
"\tif (h.charAt(0) == \"[\" && h.charAt(h.length - 1) == \"]\")\n"
"\t\th = h.substring(1, h.length - 1);\n"
"\tif (h.length > 1 && h.charAt(h.length - 1) == \".\")\n"
"\t\th = h.substring(0, h.length - 1);\n"
"\tc = hgDecide(h);\n"
"\tif (c == 1)\n"
"\t\treturn (\"DIRECT\");\n"
"\treturn (HG_PROXY + (c == 3 ? HG_FALLBACK : \"; DIRECT\"));\n"
"}\n";

/*
 * Large rule sets: a name whose codes are all "deny" goes into a
 * Bloom filter (PAC_BLOOM_BITS bits per name, PAC_BLOOM_K probes, about 1%
 * false positives per probe) instead of the lookup object, so that
 * 250,000 names take about 400 KB, not 6.5 MB. A false positive sends a
 * host to the proxy, which decides it by the rules: never the other way,
 * since every name with a direct code stays in the object.
 */
#define PAC_EXACT_MAX	10000	/* names in the object before the filter */
#define PAC_BLOOM_BITS	10
#define PAC_BLOOM_K	7

static uint32_t
bloom_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return (h);
}

static void
bloom_add(uint8_t *bits, uint64_t m, const char *name)
{
	char		key[HG_MAX_HOST + 2];
	uint32_t	h, g;
	uint64_t	b;
	int		i;

	snprintf(key, sizeof key, ".%s", name);
	h = bloom_hash(key);
	g = ((h >> 15) | (h << 17)) | 1;
	for (i = 0; i < PAC_BLOOM_K; i++) {
		b = (h + (uint64_t)i * g) % m;
		bits[b / 6] |= (uint8_t)(1 << (b % 6));
	}
}

/* Names with a direct or an audit code stay exact (audit falls back to a
 * direct connection, a filter hit does as --fallback says). */
static int
code_exact(int code)
{
	return ((code >> 2) == PAC_DIRECT || (code & 3) == PAC_DIRECT ||
	    (code >> 2) == PAC_AUDIT || (code & 3) == PAC_AUDIT);
}

/*
 * HG_NAMES, and HG_BLOOM when more than PAC_EXACT_MAX names are only
 * denied. Returns the number of names in the filter.
 */
static size_t
emit_names(struct pbuf *pb, struct pnames *pn)
{
	uint8_t		*bits;
	uint64_t	 m;
	size_t		 i, o, nbloom = 0;

	for (i = 0; i < pn->pn_count; i++)
		nbloom += !code_exact(pn->pn_ents[i].pe_code);
	if (nbloom <= PAC_EXACT_MAX) {
		emit_object(pb, "HG_NAMES", pn);
		pb_puts(pb, "var HG_BLOOM = \"\";\nvar HG_BLOOM_M = 0;\n"
		    "var HG_BLOOM_K = 0;\n");
		return (0);
	}
	m = ((uint64_t)nbloom * PAC_BLOOM_BITS + 5) / 6 * 6;
	bits = xcalloc(m / 6, 1);
	for (i = 0, o = 0; i < pn->pn_count; i++) {
		if (code_exact(pn->pn_ents[i].pe_code))
			pn->pn_ents[o++] = pn->pn_ents[i];
		else
			bloom_add(bits, m, pn->pn_ents[i].pe_name);
	}
	pn->pn_count = o;
	emit_object(pb, "HG_NAMES", pn);
	/* Six bits a character, from '?' (63): printable, one escape. */
	pb_puts(pb, "var HG_BLOOM = \"");
	for (i = 0; i < m / 6; i++) {
		if (63 + bits[i] == '\\')
			pb_puts(pb, "\\\\");
		else
			pb_putc(pb, (char)(63 + bits[i]));
	}
	pb_printf(pb, "\";\nvar HG_BLOOM_M = %llu;\nvar HG_BLOOM_K = %d;\n",
	    (unsigned long long)m, PAC_BLOOM_K);
	free(bits);
	return (nbloom);
}

/* Built in: loopback and link-local addresses never go to the proxy. */
static const char *const local_nets[] = {
	"127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"
};

/* Names of pac.bypass ("x", ".x", "*.x") as a lookup object. */
static void
emit_bypass(struct pbuf *pb, const struct hg_config *cf)
{
	struct pnames	 pn;
	const char	*b;
	size_t		 i, j;
	int		 code;

	memset(&pn, 0, sizeof pn);
	pnames_add(&pn, "localhost", 1 << 2 | 1);
	for (i = 0; i < cf->cf_npac_bypass; i++) {
		b = cf->cf_pac_bypass[i];
		if (b[0] == '.')
			code = 1 << 2 | 1;
		else if (b[0] == '*')
			code = 1;
		else
			code = 1 << 2;
		b += b[0] == '.' ? 1 : b[0] == '*' ? 2 : 0;
		for (j = 0; j < pn.pn_count; j++)
			if (strcmp(pn.pn_ents[j].pe_name, b) == 0)
				break;
		if (j < pn.pn_count)
			pn.pn_ents[j].pe_code |= code;
		else
			pnames_add(&pn, b, code);
	}
	emit_object(pb, "HG_BYPASS", &pn);
	free(pn.pn_ents);
	pb_puts(pb, "var HG_BYPASS_NETS = [");
	for (i = 0; i < sizeof local_nets / sizeof local_nets[0]; i++) {
		struct hg_cidr	c;

		cidr_parse(local_nets[i], &c);
		emit_net(pb, &c, 1, i == 0);
	}
	for (i = 0; i < cf->cf_npac_bypass_nets; i++)
		emit_net(pb, &cf->cf_pac_bypass_nets[i], 1, 0);
	pb_puts(pb, "\n];\n");
}

/* The newest modification time of the configuration and rule files. */
static time_t
newest_mtime(const struct hg_config *cf)
{
	const struct hg_ruleset	*rs = cf->cf_rules;
	struct stat		 st;
	const char		*env;
	char			*end;
	time_t			 t = 0;
	size_t			 i;

	if ((env = getenv("SOURCE_DATE_EPOCH")) != NULL && *env != '\0') {
		long long v = strtoll(env, &end, 10);

		if (*end == '\0' && v >= 0)
			return ((time_t)v);
	}
	if (cf->cf_file != NULL && stat(cf->cf_file, &st) == 0)
		t = st.st_mtime;
	for (i = 0; i < ruleset_nfiles(rs); i++)
		if (stat(ruleset_file(rs, (uint32_t)i), &st) == 0 &&
		    st.st_mtime > t)
			t = st.st_mtime;
	return (t);
}

static void
emit_head(struct pbuf *pb, const struct hg_config *cf, enum hg_pac_mode mode,
    enum hg_pac_fallback fb, const struct hg_pac *pac, size_t nets,
    size_t globs)
{
	const struct hg_ruleset		*rs = cf->cf_rules;
	const struct hg_category	*ca;
	struct tm			 tm;
	time_t				 t = newest_mtime(cf);
	char				 when[32];
	size_t				 i;

	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	pb_printf(pb, "// Proxy auto-config written by hushgate %s\n"
	    "// mode %s, fallback %s, default %s\n"
	    "// rules digest fnv1a64:%s\n"
	    "// rules as of %s (newest configuration or rule file)\n"
	    "// lookup: %zu names (%zu in a Bloom filter), %zu prefixes, "
	    "%zu globs\n",
	    PACKAGE_VERSION, mode == HG_PAC_ALL ? "all" : "policy",
	    fb == HG_PAC_BLOCK ? "block" : "direct",
	    action_name(cf->cf_default), pac->pc_digest, when, pac->pc_names,
	    pac->pc_bloomed, nets, globs);
	for (i = 0; i < ruleset_ncategories(rs); i++) {
		ca = ruleset_category_const(rs, (uint32_t)i);
		pb_printf(pb, "// category %s %s %zu rules\n", ca->ca_name,
		    action_name(ca->ca_action), ca->ca_rules);
	}
}

/*
 * Build the PAC file of configuration cf in mode, with fallback. Returns
 * a new struct hg_pac the caller frees with pac_free(). The same
 * configuration files give the same bytes.
 */
struct hg_pac *
pac_build(const struct hg_config *cf, enum hg_pac_mode mode,
    enum hg_pac_fallback fb)
{
	struct hg_pac	*pac;
	struct pbuf	 body, head;
	struct pnames	 pn;
	struct pnets	 pt;
	struct pglobs	 pl;
	size_t		 i;

	memset(&body, 0, sizeof body);
	memset(&head, 0, sizeof head);
	memset(&pn, 0, sizeof pn);
	memset(&pt, 0, sizeof pt);
	memset(&pl, 0, sizeof pl);
	pac = xcalloc(1, sizeof *pac);

	pb_printf(&body, "var HG_ALL = %s;\nvar HG_DEFAULT = %d;\n"
	    "var HG_FALLBACK = \"%s\";\n", mode == HG_PAC_ALL ? "true" :
	    "false", action_code(cf->cf_default), fb == HG_PAC_BLOCK ?
	    "; PROXY 127.0.0.1:9" : "; DIRECT");
	emit_bypass(&body, cf);
	pn.pn_rs = cf->cf_rules;
	pt.pt_rs = cf->cf_rules;
	pt.pt_pb = &body;
	pl.pl_rs = cf->cf_rules;
	if (mode == HG_PAC_POLICY) {
		ruleset_walk_names(cf->cf_rules, name_cb, &pn);
		ruleset_walk_globs(cf->cf_rules, glob_cb, &pl);
	}
	pac->pc_names = pn.pn_count;
	pac->pc_bloomed = emit_names(&body, &pn);
	free(pn.pn_ents);
	pb_puts(&body, "var HG_NETS = [");
	if (mode == HG_PAC_POLICY)
		ruleset_walk_prefixes(cf->cf_rules, prefix_cb, &pt);
	pb_puts(&body, "\n];\nvar HG_GLOBS = [");
	if (pl.pl_count > 1)
		qsort(pl.pl_globs, pl.pl_count, sizeof *pl.pl_globs,
		    pglob_cmp);
	for (i = 0; i < pl.pl_count; i++) {
		pb_printf(&body, "%s\n[", i ? "," : "");
		emit_glob(&body, pl.pl_globs[i].pg_pattern);
		pb_printf(&body, ",%d]", pl.pl_globs[i].pg_code);
	}
	free(pl.pl_globs);
	pb_puts(&body, "\n];\n");
	pb_puts(&body, pac_code);

	pac->pc_body = body.pb_buf;
	pac->pc_bodylen = body.pb_len;
	snprintf(pac->pc_digest, sizeof pac->pc_digest, "%016llx",
	    (unsigned long long)pac_fnv64(body.pb_buf, body.pb_len));
	emit_head(&head, cf, mode, fb, pac, pt.pt_count, pl.pl_count);
	pac->pc_head = head.pb_buf;
	pac->pc_headlen = head.pb_len;
	return (pac);
}

void
pac_free(struct hg_pac *pac)
{
	if (pac == NULL)
		return;
	free(pac->pc_head);
	free(pac->pc_body);
	free(pac);
}

/*
 * The line naming the proxies, "HOST:PORT" each, tried in order. Returns
 * a string the caller frees.
 */
char *
pac_proxy_line(char *const *proxies, size_t n)
{
	struct pbuf	pb;
	size_t		i;

	memset(&pb, 0, sizeof pb);
	pb_puts(&pb, "var HG_PROXY = \"");
	for (i = 0; i < n; i++)
		pb_printf(&pb, "%sPROXY %s", i ? "; " : "", proxies[i]);
	pb_puts(&pb, "\";\n");
	return (pb.pb_buf);
}
