/*
 * cfgfile.c -- reading the configuration's files: each file and what it
 * includes, the passes over its top level (keys from the keyword table,
 * cfgkeys.c, read through cfgwalk.c), and the checks once everything is
 * read. Errors are collected to show them all (cfgvalue.c); the caller
 * swaps configurations only on success.
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

enum pass { PASS_INCLUDE, PASS_CATEGORIES, PASS_ACTIONS };

struct toplevel {
	enum pass	tl_pass;
	int		tl_main;
};

/* One file of include:, relative to the file that names it. */
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

/*
 * include: FILE or [FILE ...], read at once. The keyword table has the key
 * (CT_INCLUDE) for where it may be; reading it is the file loader's.
 */
static void
include_files(struct loader *ld, yaml_node_t *v)
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
	const struct cfg_key	*ck = cfg_find(ld, CS_TOP, key);

	if (ck != NULL && !(ck->ck_flags & CK_MAIN)) {
		if (tl->tl_pass != key_pass(ck))
			return;
		if (ck->ck_type == CT_INCLUDE)
			include_files(ld, v);
		else
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
	for (ck = ld->ld_keys; is_main && ck < ld->ld_keys + ld->ld_nkeys;
	    ck++) {
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
			    key_pass(cfg_find(ld, CS_TOP, cfg_scalar(k))) !=
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
	cfg_ldap_finish(ld);
	cfg_log_finish(ld);
	cfg_upstream_finish(ld);
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
	ld.ld_keys = cfg_keys;
	ld.ld_nkeys = cfg_nkeys;
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
	ld.ld_keys = cfg_keys;
	ld.ld_nkeys = cfg_nkeys;
	ld.ld_cf = cfg_new();
	ld.ld_cf->cf_file = xstrdup(name);
	ld.ld_rs = ld.ld_cf->cf_rules;
	ld.ld_errs = errs;
	load_buffer(&ld, ruleset_file(ld.ld_rs, ruleset_add_file(ld.ld_rs,
	    name)), (const unsigned char *)buf, len, 1);
	return (config_finish(&ld));
}

/* The value of key in the mapping map of doc, or NULL. */
static yaml_node_t *
map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return (NULL);
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(doc, p->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp(cfg_scalar(k), key) == 0)
			return (yaml_document_get_node(doc, p->value));
	}
	return (NULL);
}

/*
 * The control socket of the main file path (control.socket, relative to
 * the file), read without loading the rest, for `hushgate ctl`: the file
 * of a daemon may no longer load (the reload to report on). Returns 0
 * with the path in *out (NULL: none set), or -1 with why (len bytes).
 */
int
config_control_socket(const char *path, char **out, char *why, size_t len)
{
	yaml_parser_t	 parser;
	yaml_document_t	 doc;
	yaml_node_t	*v;
	FILE		*f;
	int		 rc = -1;

	*out = NULL;
	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(why, len, "%s", strerror(errno));
		return (-1);
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		snprintf(why, len, "out of memory");
		return (-1);
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(why, len, "%zu:%zu: %s",
		    parser.problem_mark.line + 1,
		    parser.problem_mark.column + 1,
		    parser.problem != NULL ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		fclose(f);
		return (-1);
	}
	v = map_get(&doc, map_get(&doc, yaml_document_get_root_node(&doc),
	    "control"), "socket");
	if (v != NULL && v->type == YAML_SCALAR_NODE && !cfg_is_null(v) &&
	    cfg_scalar(v)[0] != '\0')
		*out = path_join_dir(path, cfg_scalar(v));
	else if (v != NULL && v->type != YAML_SCALAR_NODE)
		snprintf(why, len, "control.socket: expected a path");
	if (v == NULL || *out != NULL || v->type == YAML_SCALAR_NODE)
		rc = 0;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return (rc);
}
