/*
 * cfgfile.c -- reading the configuration's files: each file and what it
 * includes, the passes over its top level (keys from the keyword table,
 * cfgkeys.c), the readers of common values, and the errors, each reported
 * as "file:line:col: message" (libyaml gives the marks) while the load
 * goes on to show them all. The caller swaps configurations only on
 * success.
 */
#include "config.h"

#include "rules/compat.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

static void	load_file(struct loader *, const char *, int,
		    const char *, const yaml_mark_t *);

/* An error at node n of the file being read (n NULL: no place). */
void
cfg_err(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	errors_addv(ld->ld_errs, ld->ld_file,
	    n ? (unsigned)n->start_mark.line + 1 : 0,
	    n ? (unsigned)n->start_mark.column + 1 : 0, fmt, ap);
	va_end(ap);
}

/* A string value; NULL (with an error) for anything else. */
const char *
cfg_want_string(struct loader *ld, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || cfg_is_null(n)) {
		cfg_err(ld, n, "%s: expected a string", what);
		return (NULL);
	}
	if (strlen(cfg_scalar(n)) != n->data.scalar.length) {
		cfg_err(ld, n, "%s: NUL character in string", what);
		return (NULL);
	}
	return (cfg_scalar(n));
}

/* A number from min to max into *out: 0, or -1 with an error. */
int
cfg_want_uint(struct loader *ld, const yaml_node_t *n, const char *what,
    unsigned long min, unsigned long max, unsigned *out)
{
	const char	*s;
	char		*end;
	unsigned long	 v;

	if (n->type != YAML_SCALAR_NODE || cfg_is_null(n)) {
		cfg_err(ld, n, "%s: expected a number", what);
		return (-1);
	}
	s = cfg_scalar(n);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		cfg_err(ld, n,
		    "%s: expected a number from %lu to %lu, not '%s'", what,
		    min, max, s);
		return (-1);
	}
	*out = (unsigned)v;
	return (0);
}

/* 0 when n is of the type, else -1 with an error naming what. */
int
cfg_want_kind(struct loader *ld, const yaml_node_t *n, yaml_node_type_t type,
    const char *what)
{
	if (n->type == type)
		return (0);
	cfg_err(ld, n, "%s: expected a %s", what,
	    type == YAML_MAPPING_NODE ? "mapping" :
	    type == YAML_SEQUENCE_NODE ? "list" : "scalar");
	return (-1);
}

/*
 * Walk a mapping: checks that keys are strings and unique, then calls fn
 * for each pair.
 */
void
cfg_each_pair(struct loader *ld, yaml_node_t *map, pair_fn fn, void *arg)
{
	yaml_node_pair_t	*p, *q;
	yaml_node_t		*k, *k2;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = cfg_node(ld, p->key);
		if (k->type != YAML_SCALAR_NODE) {
			cfg_err(ld, k, "mapping key must be a string");
			continue;
		}
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			k2 = cfg_node(ld, q->key);
			if (k2->type == YAML_SCALAR_NODE &&
			    strcmp(cfg_scalar(k2), cfg_scalar(k)) == 0)
				break;
		}
		if (q < p) {
			cfg_err(ld, k, "duplicate key '%s'", cfg_scalar(k));
			continue;
		}
		fn(ld, cfg_scalar(k), k, cfg_node(ld, p->value), arg);
	}
}

/*
 * What the Windows build does without (no setuid/chroot, no crypt(3) for
 * Basic authentication, no syslog: the CK_NOWIN keys and syslog as the
 * decision log) is an error there, in its place, rather than a surprise
 * when the proxy starts. Returns 1 (with the error) on Windows, else 0.
 */
int
cfg_platform_lacks(struct loader *ld, const yaml_node_t *n, const char *what)
{
#ifdef _WIN32
	cfg_err(ld, n, "%s: not available in the Windows build", what);
	return (1);
#else
	return (0);
#endif
}

/* on/off (also true/false, yes/no). */
void
cfg_want_switch(struct loader *ld, yaml_node_t *v, const char *what, int *out)
{
	const char	*s;

	if ((s = cfg_want_string(ld, v, what)) == NULL)
		return;
	if (strcmp(s, "on") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "off") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "no") == 0)
		*out = 0;
	else
		cfg_err(ld, v, "%s: expected on or off", what);
}

/* A list of CIDR prefixes (clients, destinations.allow) into *arr. */
void
cfg_set_cidrs(struct loader *ld, yaml_node_t *v, const char *what,
    struct hg_cidr **arr, size_t *np)
{
	yaml_node_item_t	*it;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	free(*arr);
	*arr = NULL;
	*np = 0;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		cfg_add_cidr(ld, cfg_node(ld, *it), what, arr, np);
}

/* One CIDR string onto *arr; what names the key in messages. */
void
cfg_add_cidr(struct loader *ld, yaml_node_t *n, const char *what,
    struct hg_cidr **arr, size_t *np)
{
	const char	*s;

	if ((s = cfg_want_string(ld, n, what)) == NULL)
		return;
	*arr = xreallocarray(*arr, *np + 1, sizeof **arr);
	if (cidr_parse(s, &(*arr)[*np]) != 0) {
		cfg_err(ld, n, "%s: '%s' is not an address or prefix "
		    "(ADDRESS/BITS, host bits zero)", what, s);
		return;
	}
	(*np)++;
}

/* A list of ports and port ranges, in place of *ps. */
void
cfg_set_ports(struct loader *ld, yaml_node_t *v, struct hg_portset *ps,
    const char *what)
{
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s, *why;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	portset_free(ps);
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if ((s = cfg_want_string(ld, n, what)) == NULL)
			continue;
		if (portset_parse_item(ps, s, &why) != 0)
			cfg_err(ld, n, "%s: '%s': %s", what, s, why);
	}
}

/* allow, deny or audit. */
void
cfg_set_action(struct loader *ld, yaml_node_t *v, const char *what,
    enum hg_action *out)
{
	const char	*s;

	if ((s = cfg_want_string(ld, v, what)) == NULL)
		return;
	if (action_parse(s, out) != 0)
		cfg_err(ld, v, "%s: '%s' is not one of allow, deny, audit",
		    what, s);
}

/* A duration from min_ms up, or a size, or a ratio: settings shared by
 * the top-level `lists:` and each url: list. */
void
cfg_set_duration(struct loader *ld, yaml_node_t *v, const char *what,
    unsigned min_ms, unsigned *out, int *bad)
{
	const char	*s;
	unsigned	 ms;

	if ((s = cfg_want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (duration_parse(s, &ms) != 0 || ms < min_ms) {
		cfg_err(ld, v, "%s: '%s' is not a duration of %us or more "
		    "(e.g. 30s, 10m, 24h)", what, s, min_ms / 1000);
		*bad = 1;
		return;
	}
	*out = ms;
}

void
cfg_set_size(struct loader *ld, yaml_node_t *v, const char *what,
    uint64_t *out, int *bad)
{
	const char	*s;

	if ((s = cfg_want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (size_parse(s, out) != 0) {
		cfg_err(ld, v, "%s: '%s' is not a size from 1 byte to 1GiB "
		    "(e.g. 512KiB, 64MiB)", what, s);
		*bad = 1;
	}
}

void
cfg_set_ratio(struct loader *ld, yaml_node_t *v, const char *what, double *out,
    int *bad)
{
	const char	*s;

	if ((s = cfg_want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (ratio_parse(s, out) != 0) {
		cfg_err(ld, v,
		    "%s: '%s' is not a fraction from 0 to 1 (e.g. 0.5)", what,
		    s);
		*bad = 1;
	}
}

enum pass { PASS_INCLUDE, PASS_CATEGORIES, PASS_ACTIONS };

struct toplevel {
	enum pass	tl_pass;
	int		tl_main;
};

static void
include_item(struct loader *ld, yaml_node_t *n)
{
	const char	*s;
	char		*path;

	if ((s = cfg_want_string(ld, n, "include")) == NULL)
		return;
	path = path_join_dir(ld->ld_file, s);
	load_file(ld, path, 0, ld->ld_file, &n->start_mark);
	free(path);
}

/* include: FILE or [FILE ...], read at once. */
void
cfg_set_include(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	yaml_node_item_t	*it;

	if (v->type == YAML_SCALAR_NODE) {
		include_item(ld, v);
		return;
	}
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "include") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		include_item(ld, cfg_node(ld, *it));
}

/* The pass of load_document that reads a top-level key. */
static enum pass
key_pass(const struct cfg_key *ck)
{
	if (ck != NULL && (ck->ck_flags & CK_CATEGORIES))
		return (PASS_CATEGORIES);
	if (ck != NULL && (ck->ck_flags & CK_ACTIONS))
		return (PASS_ACTIONS);
	return (PASS_INCLUDE);
}

/*
 * A key of the top level, in one pass of load_document: the rules in
 * their own pass, any file; the settings in the first pass, in the main
 * file only. Every key is checked in the first pass.
 */
static void
top_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct toplevel		*tl = arg;
	const struct cfg_key	*ck = cfg_find(CS_TOP, key);

	if (ck != NULL && !(ck->ck_flags & CK_MAIN)) {
		if (tl->tl_pass == key_pass(ck))
			cfg_set(ld, ck, k, v, ld->ld_cf);
		return;
	}
	if (tl->tl_pass != PASS_INCLUDE)
		return;
	if (!tl->tl_main) {
		cfg_included_key(ld, k, ck, key);
		return;
	}
	if (ck == NULL) {
		cfg_err(ld, k, "unknown key '%s'", key);
		return;
	}
	if ((ck->ck_flags & CK_NOWIN) && cfg_platform_lacks(ld, k, key))
		return;
	if (!(ck->ck_flags & CK_EARLY))
		cfg_set(ld, ck, k, v, ld->ld_cf);
}

static yaml_node_pair_t *
first_pair_with_key(struct loader *ld, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = cfg_node(ld, p->key);
		if (k->type == YAML_SCALAR_NODE && strcmp(cfg_scalar(k), key) ==
		    0)
			return (p);
	}
	return (NULL);
}

static void
load_document(struct loader *ld, int is_main)
{
	yaml_node_t		*root = yaml_document_get_root_node(ld->ld_doc);
	yaml_node_t		*k;
	yaml_node_pair_t	*p;
	const struct cfg_key	*ck;
	struct toplevel		 tl;

	if (root == NULL || cfg_is_null(root))
		return;		/* an empty file is an empty configuration */
	if (root->type != YAML_MAPPING_NODE) {
		cfg_err(ld, root,
		    "expected a mapping of keys at the top level");
		return;
	}
	tl.tl_main = is_main;
	/* The keys read before the others (lists:, see cfgkeys.c). */
	for (ck = cfg_keys; is_main && ck < cfg_keys + cfg_nkeys; ck++) {
		if (ck->ck_section != CS_TOP || !(ck->ck_flags & CK_EARLY) ||
		    (p = first_pair_with_key(ld, root, ck->ck_name)) == NULL)
			continue;
		cfg_set(ld, ck, cfg_node(ld, p->key), cfg_node(ld, p->value),
		    ld->ld_cf);
	}
	/*
	 * First pass: includes and settings, checking every key once. Then
	 * the file's own categories, then its actions, so that a file's
	 * actions override what its includes set.
	 */
	tl.tl_pass = PASS_INCLUDE;
	cfg_each_pair(ld, root, top_pair, &tl);
	for (tl.tl_pass = PASS_CATEGORIES; tl.tl_pass <= PASS_ACTIONS;
	    tl.tl_pass++) {
		for (p = root->data.mapping.pairs.start;
		    p < root->data.mapping.pairs.top; p++) {
			k = cfg_node(ld, p->key);
			if (k->type != YAML_SCALAR_NODE ||
			    key_pass(cfg_find(CS_TOP, cfg_scalar(k))) !=
			    tl.tl_pass)
				continue;
			/* A duplicated key was reported: use the first. */
			if (first_pair_with_key(ld, root, cfg_scalar(k)) != p)
				continue;
			top_pair(ld, cfg_scalar(k), k, cfg_node(ld, p->value),
			    &tl);
		}
	}
}

/*
 * Read one file into memory, bounded by HG_MAX_CONFIG_FILE. Returns the
 * buffer (caller frees) or NULL with an error added.
 */
static unsigned char *
read_file(struct loader *ld, const char *path, size_t *lenp,
    const char *from, const yaml_mark_t *mark)
{
	FILE		*f;
	struct stat	 st;
	unsigned char	*buf;
	size_t		 len = 0, cap = 65536, n;

	if ((f = fopen(path, "rb")) == NULL) {
		if (from != NULL)
			errors_add(ld->ld_errs, from, (unsigned)mark->line + 1,
			    (unsigned)mark->column + 1, "cannot open %s: %s",
			    path, strerror(errno));
		else
			errors_add(ld->ld_errs, path, 0, 0, "cannot open: %s",
			    strerror(errno));
		return (NULL);
	}
	/* sized to the file, so that a large one is read in one pass */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= (off_t)cap && st.st_size < HG_MAX_CONFIG_FILE)
		cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	hg_prefault(buf, cap);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= HG_MAX_CONFIG_FILE) {
				errors_add(ld->ld_errs, path, 0, 0,
				    "file larger than %d bytes",
				    HG_MAX_CONFIG_FILE);
				free(buf);
				fclose(f);
				return (NULL);
			}
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
	}
	if (ferror(f)) {
		errors_add(ld->ld_errs, path, 0, 0, "read error: %s",
		    strerror(errno));
		free(buf);
		fclose(f);
		return (NULL);
	}
	fclose(f);
	*lenp = len;
	return (buf);
}

/*
 * Report a libyaml failure. Reader errors (bad UTF-8, control characters)
 * carry a byte offset rather than a mark: count lines up to it.
 */
static void
parse_error(struct loader *ld, const char *path, yaml_parser_t *parser,
    const unsigned char *buf, size_t len)
{
	unsigned	line, col;
	size_t		i, off;

	if (parser->error == YAML_READER_ERROR) {
		off = parser->problem_offset < len ? parser->problem_offset :
		    len;
		line = 1;
		col = 1;
		for (i = 0; i < off; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else if ((buf[i] & 0xc0) != 0x80)
				col++;
		}
	} else {
		line = (unsigned)parser->problem_mark.line + 1;
		col = (unsigned)parser->problem_mark.column + 1;
	}
	errors_add(ld->ld_errs, path, line, col, "%s%s%s",
	    parser->problem ? parser->problem : "syntax error",
	    parser->context ? " " : "",
	    parser->context ? parser->context : "");
}

static void
load_buffer(struct loader *ld, const char *path, const unsigned char *buf,
    size_t len, int is_main)
{
	yaml_parser_t		 parser;
	struct yamldoc		 yd;
	const char		*saved_file = ld->ld_file;
	yaml_document_t		*saved_doc = ld->ld_doc;
	const struct yamldoc	*saved_yd = ld->ld_yd;
	size_t			 nerr = errors_total(ld->ld_errs);

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yamldoc_load(&parser, &yd, "hosts")) {
		ld->ld_partial = 1;
		parse_error(ld, path, &parser, buf, len);
		yaml_parser_delete(&parser);
		return;
	}
	{
		struct yamldoc	 extra;
		yaml_node_t	*root;

		/* One document per file: a second one is a mistake. */
		if (!yamldoc_load(&parser, &extra, NULL))
			parse_error(ld, path, &parser, buf, len);
		else {
			root = yaml_document_get_root_node(&extra.yd_doc);
			if (root != NULL)
				errors_add(ld->ld_errs, path,
				    (unsigned)extra.yd_doc.start_mark.line + 1,
				    (unsigned)extra.yd_doc.start_mark.column +
				    1, "a second YAML document in the file");
			yamldoc_free(&extra);
		}
		/*
		 * Only this file's own syntax errors stop its load: an error
		 * found earlier elsewhere (a bad key before an include) must
		 * not leave the included categories out, which would report
		 * every action naming them as a second, false error.
		 */
		if (errors_total(ld->ld_errs) != nerr) {
			ld->ld_partial = 1;
			yamldoc_free(&yd);
			yaml_parser_delete(&parser);
			return;
		}
	}
	ld->ld_file = path;
	ld->ld_doc = &yd.yd_doc;
	ld->ld_yd = &yd;
	load_document(ld, is_main);
	ld->ld_file = saved_file;
	ld->ld_doc = saved_doc;
	ld->ld_yd = saved_yd;
	yamldoc_free(&yd);
	yaml_parser_delete(&parser);
}

static void
load_file(struct loader *ld, const char *path, int is_main, const char *from,
    const yaml_mark_t *mark)
{
	unsigned char	*buf;
	size_t		 len, i;
	char		*real;

	if (ld->ld_depth >= HG_MAX_INCLUDE_DEPTH) {
		errors_add(ld->ld_errs, from, (unsigned)mark->line + 1,
		    (unsigned)mark->column + 1,
		    "includes nested deeper than %d (a cycle?)",
		    HG_MAX_INCLUDE_DEPTH);
		ld->ld_partial = 1;
		return;
	}
	/* Include once: a file named twice adds its categories once. */
	real = path_real(path);
	if (real != NULL) {
		for (i = 0; i < ld->ld_nseen; i++) {
			if (strcmp(ld->ld_seen[i], real) == 0) {
				free(real);
				return;
			}
		}
		ld->ld_seen = xreallocarray(ld->ld_seen, ld->ld_nseen + 1,
		    sizeof *ld->ld_seen);
		ld->ld_seen[ld->ld_nseen++] = real;
	}
	if ((buf = read_file(ld, path, &len, from, mark)) == NULL) {
		ld->ld_partial = 1;
		return;
	}
	ld->ld_depth++;
	/* The path string must outlive the load: keep it in the ruleset. */
	load_buffer(ld, ruleset_file(ld->ld_rs,
	    ruleset_add_file(ld->ld_rs, path)), buf, len, is_main);
	ld->ld_depth--;
	free(buf);
}

static struct hg_config *
config_finish(struct loader *ld)
{
	struct hg_config	*cf = ld->ld_cf;
	size_t			 i;

	for (i = 0; i < ld->ld_nseen; i++)
		free(ld->ld_seen[i]);
	free(ld->ld_seen);
	cfg_resolve_gactions(ld);
	cfg_auth_finish(ld);
	if (errors_total(ld->ld_errs) != 0) {
		cfg_free(cf);
		return (NULL);
	}
	cfg_load_sources(cf);
	ruleset_compile(cf->cf_rules, &cf->cf_warnings);
	return (cf);
}

/*
 * Load the configuration file at path and everything it includes. Returns
 * a new configuration (one reference), or NULL with errs filled.
 */
struct hg_config *
config_load(const char *path, struct hg_errors *errs)
{
	struct loader	ld;

	memset(&ld, 0, sizeof ld);
	ld.ld_cf = cfg_new();
	ld.ld_cf->cf_file = xstrdup(path);
	ld.ld_rs = ld.ld_cf->cf_rules;
	ld.ld_errs = errs;
	load_file(&ld, path, 1, NULL, NULL);
	return (config_finish(&ld));
}

/* The same from a buffer; name is used in messages and for relative paths. */
struct hg_config *
config_load_string(const char *name, const char *buf, size_t len,
    struct hg_errors *errs)
{
	struct loader	ld;

	memset(&ld, 0, sizeof ld);
	ld.ld_cf = cfg_new();
	ld.ld_cf->cf_file = xstrdup(name);
	ld.ld_rs = ld.ld_cf->cf_rules;
	ld.ld_errs = errs;
	load_buffer(&ld, ruleset_file(ld.ld_rs, ruleset_add_file(ld.ld_rs,
	    name)), (const unsigned char *)buf, len, 1);
	return (config_finish(&ld));
}
