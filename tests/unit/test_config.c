/*
 * test_config.c -- configuration loading.
 *
 * tests/data/badconfig/NAME.yaml: each starts with comment lines
 *   # expect: [FILE:]LINE:COL: TEXT
 * (FILE relative to badconfig/, the file itself when left out) and
 * optionally "# errors: N"; config_load must fail and report, for each
 * expect line, a message "PATH:LINE:COL: ..." containing TEXT.
 *
 * tests/data/valid/NAME.yaml: each starts with comment lines
 *   # check: FIELD VALUE
 * and must load with no errors and the field values given. The shipped
 * hushgate.yaml and rule sets must load with no errors too.
 *
 * tests/data/restart.tsv: the warnings of config_restart_changes, with a
 * row for every key of the keyword table that needs a restart. And every
 * key of the table is described in rules/hushgate.yaml.5.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "unit.h"

#define BAD_DIR		"badconfig"
#define VALID_DIR	"valid"

struct config_case {
	char		*cc_path;	/* absolute */
	char		*cc_file;	/* relative to tests/data */
	unsigned	 cc_lineno;	/* of the comment line */
	char		*cc_prefix;	/* "PATH:LINE:COL: " */
	char		*cc_text;	/* expected substring, or check value */
	char		*cc_field;	/* check: field name */
	long		 cc_count;	/* errors: N */
};

static char *
errors_dump(const struct hg_errors *e)
{
	char	*s = unit_strdup("");
	size_t	 i;

	for (i = 0; i < e->er_count && i < 10; i++)
		s = unit_printf("%s\n    %s", s, e->er_msgs[i]);
	return (s);
}

static void
test_bad_expect(void **state)
{
	const struct config_case	*cc = *state;
	struct hg_errors		 errs;
	struct hg_config		*cf;
	size_t				 i;
	char				*dump;
	int				 found;

	errors_init(&errs);
	cf = config_load(cc->cc_path, &errs);
	dump = errors_dump(&errs);
	if (cf != NULL) {
		config_unref(cf);
		errors_free(&errs);
		fail_msg("%s loaded, should fail", cc->cc_file);
	}
	if (errors_total(&errs) == 0) {
		errors_free(&errs);
		fail_msg("config_load failed without a message");
	}
	if (cc->cc_prefix == NULL) {	/* "# errors: N" */
		if ((long)errors_total(&errs) != cc->cc_count) {
			size_t n = errors_total(&errs);

			errors_free(&errs);
			fail_msg("%zu errors, want %ld:%s", n, cc->cc_count,
			    dump);
		}
		errors_free(&errs);
		return;
	}
	found = 0;
	for (i = 0; i < errs.er_count; i++)
		if (unit_has_prefix(errs.er_msgs[i], cc->cc_prefix) &&
		    strstr(errs.er_msgs[i] + strlen(cc->cc_prefix),
		    cc->cc_text) != NULL)
			found = 1;
	errors_free(&errs);
	if (!found) {
		const char *p = strstr(cc->cc_prefix, BAD_DIR "/");

		fail_msg("no error '%s%s', got:%s", p ? p : cc->cc_prefix,
		    cc->cc_text, dump);
	}
}

static void
test_valid_loads(void **state)
{
	const struct config_case	*cc = *state;
	struct hg_errors		 errs;
	struct hg_config		*cf;
	char				*dump;

	errors_init(&errs);
	cf = config_load(cc->cc_path, &errs);
	dump = errors_dump(&errs);
	if (cf == NULL || errors_total(&errs) != 0) {
		size_t n = errors_total(&errs);

		if (cf != NULL)
			config_unref(cf);
		errors_free(&errs);
		fail_msg("%s: %zu errors:%s", cc->cc_file, n, dump);
	}
	errors_free(&errs);
	assert_non_null(cf->cf_rules);
	config_unref(cf);
}

static int
addr_parse(const char *s, uint8_t *addr)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return (4);
	if (inet_pton(AF_INET6, s, addr) == 1)
		return (6);
	return (0);
}

/*
 * A path as the check wants it: relative paths are relative to the file,
 * so a tail that matches whole components is enough.
 */
static char *
path_tail(const char *p, const char *want)
{
	if (p == NULL)
		return (unit_strdup("null"));
	if (strcmp(p, "-") != 0 && strlen(p) > strlen(want) &&
	    p[strlen(p) - strlen(want) - 1] == '/' &&
	    strcmp(p + strlen(p) - strlen(want), want) == 0)
		return (unit_strdup(want));
	return (unit_strdup(p));
}

/* The value of a field, as text, for "# check:" lines. */
static char *
field_value(const struct hg_config *cf, const char *field, const char *want)
{
	uint8_t		addr[16];
	int		family;

	if (strcmp(field, "workers") == 0)
		return (unit_printf("%u", cf->cf_workers));
	if (strcmp(field, "default") == 0)
		return (unit_strdup(action_name(cf->cf_default)));
	if (strcmp(field, "max_connections") == 0)
		return (unit_printf("%u", cf->cf_max_connections));
	if (strcmp(field, "timeouts.request") == 0)
		return (unit_printf("%u", cf->cf_timeout_request));
	if (strcmp(field, "timeouts.connect") == 0)
		return (unit_printf("%u", cf->cf_timeout_connect));
	if (strcmp(field, "timeouts.idle") == 0)
		return (unit_printf("%u", cf->cf_timeout_idle));
	if (strcmp(field, "timeouts.drain") == 0)
		return (unit_printf("%u", cf->cf_timeout_drain));
	if (strcmp(field, "listen") == 0) {
		char	*s = unit_strdup("");
		size_t	 i;

		for (i = 0; i < cf->cf_nlisteners; i++)
			if (cf->cf_listeners[i].li_kind == HG_LISTEN_PROXY)
				s = unit_printf("%s%s%s", s, i ? "," : "",
				    cf->cf_listeners[i].li_addr);
		return (s);
	}
	if (strcmp(field, "listen.tls") == 0) {
		/* "INDEX CERT KEY" (path tails) or "INDEX none" */
		char		cert[256], key[256];
		unsigned	idx;

		if (sscanf(want, "%u %255s %255s", &idx, cert, key) < 2 ||
		    idx >= config_nlisteners(cf, HG_LISTEN_PROXY))
			return (unit_strdup("(bad check)"));
		if (cf->cf_listeners[idx].li_cert == NULL)
			return (unit_printf("%u none", idx));
		return (unit_printf("%u %s %s", idx,
		    path_tail(cf->cf_listeners[idx].li_cert, cert),
		    path_tail(cf->cf_listeners[idx].li_key, key)));
	}
	if (strcmp(field, "clients") == 0)
		return (unit_printf("%zu", cf->cf_nclients));
	if (strcmp(field, "client-allowed") == 0) {
		if ((family = addr_parse(want, addr)) == 0)
			return (unit_strdup("(bad address in check)"));
		return (config_client_allowed(cf, family, addr) ?
		    unit_strdup(want) : unit_strdup("(refused)"));
	}
	if (strcmp(field, "client-refused") == 0) {
		if ((family = addr_parse(want, addr)) == 0)
			return (unit_strdup("(bad address in check)"));
		return (config_client_allowed(cf, family, addr) ?
		    unit_strdup("(allowed)") : unit_strdup(want));
	}
	if (strcmp(field, "connect_ports-has") == 0)
		return (portset_contains(&cf->cf_connect_ports,
		    (uint16_t)strtoul(want, NULL, 10)) ? unit_strdup(want) :
		    unit_strdup("(absent)"));
	if (strcmp(field, "connect_ports-lacks") == 0)
		return (portset_contains(&cf->cf_connect_ports,
		    (uint16_t)strtoul(want, NULL, 10)) ?
		    unit_strdup("(present)") : unit_strdup(want));
	if (strcmp(field, "http_ports-has") == 0)
		return (portset_contains(&cf->cf_http_ports,
		    (uint16_t)strtoul(want, NULL, 10)) ? unit_strdup(want) :
		    unit_strdup("(absent)"));
	if (strcmp(field, "hosts_file") == 0)
		return (path_tail(cf->cf_hosts_file, want));
	if (strcmp(field, "dns.system") == 0)
		return (unit_printf("%d", cf->cf_dns_system));
	if (strcmp(field, "dns.servers") == 0) {
		char	*s = unit_strdup("");
		size_t	 i;

		for (i = 0; i < cf->cf_ndns_servers; i++)
			s = unit_printf("%s%s%s", s, i ? "," : "",
			    cf->cf_dns_servers[i]);
		return (*s ? s : unit_strdup("none"));
	}
	if (strcmp(field, "log.decisions") == 0)
		return (path_tail(cf->cf_decisions, want));
	if (strcmp(field, "log.outputs") == 0) {
		static const char *fmts[] = { "json", "squid", "text" };
		const char	*to, *slash;
		char		*s = unit_strdup("");
		size_t		 i;

		/* FORMAT=TO,...; a file by its last component */
		for (i = 0; i < cf->cf_nlogouts; i++) {
			to = cf->cf_logouts[i].lo_to;
			if ((slash = strrchr(to, '/')) != NULL)
				to = slash + 1;
			s = unit_printf("%s%s%s=%s", s, i ? "," : "",
			    fmts[cf->cf_logouts[i].lo_format], to);
		}
		return (*s ? s : unit_strdup("none"));
	}
	if (strcmp(field, "lists.cache_dir") == 0)
		return (path_tail(cf->cf_cache_dir, want));
	if (strcmp(field, "lists.timeout") == 0)
		return (unit_printf("%u", cf->cf_list_timeout));
	if (strcmp(field, "lists.max_bytes") == 0)
		return (unit_printf("%llu",
		    (unsigned long long)cf->cf_list_max_bytes));
	if (strcmp(field, "lists.sources") == 0)
		return (unit_printf("%zu", cf->cf_nsources));
	if (unit_has_prefix(field, "lists.source")) {
		/* URL FORMAT REFRESH MAX_BYTES MAX_SHRINK */
		size_t			 i = strtoul(field + 12, NULL, 10);
		const struct hg_listsrc	*src;

		if (i >= cf->cf_nsources)
			return (unit_strdup("(no such source)"));
		src = &cf->cf_sources[i];
		return (unit_printf("%s %s %u %llu %g", src->ls_url,
		    src->ls_format, src->ls_refresh,
		    (unsigned long long)src->ls_max_bytes,
		    src->ls_max_shrink));
	}
	if (strcmp(field, "log.level") == 0)
		return (unit_printf("%d", cf->cf_log_level));
	if (strcmp(field, "categories") == 0)
		return (unit_printf("%zu", ruleset_ncategories(cf->cf_rules)));
	if (strcmp(field, "warnings") == 0)
		return (unit_printf("%zu", cf->cf_warnings.er_count));
	if (unit_has_prefix(field, "category.")) {
		/* category.NAME.action / .description / .breaks / .note */
		const char		*name = field + 9, *dot;
		const struct hg_category *ca;
		char			*n;
		uint32_t		 idx;

		if ((dot = strrchr(name, '.')) == NULL)
			return (unit_strdup("(bad field)"));
		n = unit_printf("%.*s", (int)(dot - name), name);
		if ((idx = ruleset_find_category(cf->cf_rules, n)) == HG_NONE)
			return (unit_strdup("(no such category)"));
		ca = ruleset_category_const(cf->cf_rules, idx);
		if (strcmp(dot, ".action") == 0)
			return (unit_strdup(action_name(ca->ca_action)));
		if (strcmp(dot, ".description") == 0)
			return (unit_strdup(ca->ca_description ?
			    ca->ca_description : "null"));
		if (strcmp(dot, ".breaks") == 0)
			return (unit_strdup(ca->ca_breaks ? ca->ca_breaks :
			    "null"));
		if (strcmp(dot, ".note") == 0)
			return (unit_strdup(ca->ca_note ? ca->ca_note :
			    "null"));
		if (strcmp(dot, ".rules") == 0)
			return (unit_printf("%zu", ca->ca_rules));
	}
	return (unit_printf("(unknown field %s)", field));
}

static void
test_valid_check(void **state)
{
	const struct config_case	*cc = *state;
	struct hg_errors		 errs;
	struct hg_config		*cf;
	char				*got;

	errors_init(&errs);
	cf = config_load(cc->cc_path, &errs);
	if (cf == NULL) {
		char *dump = errors_dump(&errs);

		errors_free(&errs);
		fail_msg("%s does not load:%s", cc->cc_file, dump);
	}
	errors_free(&errs);
	got = field_value(cf, cc->cc_field, cc->cc_text);
	config_unref(cf);
	if (strcmp(got, cc->cc_text) != 0)
		fail_msg("%s is '%s', want '%s'", cc->cc_field, got,
		    cc->cc_text);
}

/*
 * Parse "[FILE:]LINE:COL: TEXT" into the expected message prefix and
 * text. Returns -1 when the spec is malformed.
 */
static int
parse_expect(struct config_case *cc, const char *dir, const char *self,
    const char *spec)
{
	const char	*p, *q, *r;

	for (p = spec; *p != '\0'; p++) {
		/* Find LINE:COL: at the start or after a ':'. */
		if (p != spec && p[-1] != ':')
			continue;
		if (!isdigit((unsigned char)*p))
			continue;
		for (q = p; isdigit((unsigned char)*q); q++)
			;
		if (*q != ':' || !isdigit((unsigned char)q[1]))
			continue;
		for (r = q + 1; isdigit((unsigned char)*r); r++)
			;
		if (r[0] != ':' || r[1] != ' ')
			continue;
		if (p == spec)
			cc->cc_prefix = unit_printf("%s:%.*s ", self,
			    (int)(r + 1 - p), p);
		else
			cc->cc_prefix = unit_printf("%s/%s/%.*s ",
			    HG_TEST_DATA, dir, (int)(r + 1 - spec), spec);
		cc->cc_text = unit_strdup(r + 2);
		return (*cc->cc_text == '\0' ? -1 : 0);
	}
	return (-1);
}

/* Read the leading comment lines of dir/name and add a case for each. */
static void
add_commented(struct unit_group *g, const char *dir, const char *name,
    int bad)
{
	struct config_case	*cc;
	char			*rel, *path, *buf, *line, *eol;
	unsigned		 lineno = 0, ncases = 0;

	rel = unit_printf("%s/%s", dir, name);
	path = unit_data_path(rel);
	if ((buf = unit_read_file(path, NULL)) == NULL) {
		unit_add_error(g, "%s: cannot read", rel);
		return;
	}
	unit_keep(buf);
	if (!bad) {
		cc = unit_keep(calloc(1, sizeof *cc));
		cc->cc_path = path;
		cc->cc_file = rel;
		unit_add(g, unit_printf("%s: loads with no errors", rel),
		    test_valid_loads, cc);
	}
	for (line = buf; *line == '#'; line = eol) {
		lineno++;
		if ((eol = strchr(line, '\n')) == NULL)
			eol = line + strlen(line);
		else
			*eol++ = '\0';
		cc = unit_keep(calloc(1, sizeof *cc));
		cc->cc_path = path;
		cc->cc_file = rel;
		cc->cc_lineno = lineno;
		if (bad && unit_has_prefix(line, "# expect: ")) {
			if (parse_expect(cc, dir, path, line + 10) != 0) {
				unit_add_error(g, "%s:%u: bad expect line",
				    rel, lineno);
				continue;
			}
			unit_add(g, unit_printf("%s:%u: %s", rel, lineno,
			    line + 10), test_bad_expect, cc);
			ncases++;
		} else if (bad && unit_has_prefix(line, "# errors: ")) {
			cc->cc_count = strtol(line + 10, NULL, 10);
			unit_add(g, unit_printf("%s:%u: %s", rel, lineno,
			    line + 2), test_bad_expect, cc);
		} else if (!bad && unit_has_prefix(line, "# check: ")) {
			char *sp = strchr(line + 9, ' ');

			if (sp == NULL) {
				unit_add_error(g, "%s:%u: bad check line",
				    rel, lineno);
				continue;
			}
			cc->cc_field = unit_printf("%.*s",
			    (int)(sp - (line + 9)), line + 9);
			cc->cc_text = unit_strdup(sp + 1);
			unit_add(g, unit_printf("%s:%u: %s", rel, lineno,
			    line + 9), test_valid_check, cc);
		}
	}
	if (bad && ncases == 0)
		unit_add_error(g, "%s: no '# expect:' line", rel);
}

static void
add_dir(struct unit_group *g, const char *dir, int bad)
{
	char	**names;
	size_t	  n, i;

	if ((names = unit_list_dir(dir, ".yaml", &n)) == NULL || n == 0) {
		unit_add_error(g, "%s: no .yaml files", dir);
		return;
	}
	for (i = 0; i < n; i++)
		add_commented(g, dir, names[i], bad);
}

/* The shipped configuration and every shipped rule set load cleanly. */
static void
add_shipped(struct unit_group *g)
{
	struct config_case	*cc;
	char			**names;
	size_t			  n, i;

	cc = unit_keep(calloc(1, sizeof *cc));
	cc->cc_file = "../../hushgate.yaml";
	cc->cc_path = unit_data_path(cc->cc_file);
	unit_add(g, "hushgate.yaml (shipped): loads with no errors",
	    test_valid_loads, cc);
	if ((names = unit_list_dir("../../rules/sets", ".yaml", &n)) == NULL ||
	    n == 0) {
		unit_add_error(g, "rules/sets: no rule sets");
		return;
	}
	for (i = 0; i < n; i++) {
		cc = unit_keep(calloc(1, sizeof *cc));
		cc->cc_file = unit_printf("../../rules/sets/%s", names[i]);
		cc->cc_path = unit_data_path(cc->cc_file);
		unit_add(g, unit_printf("rules/sets/%s (shipped): loads with "
		    "no errors", names[i]), test_valid_loads, cc);
	}
}

/* A configuration of restart.tsv: a YAML flow mapping, as the main file. */
static struct hg_config *
restart_config(const char *yaml, char **dump)
{
	struct hg_errors	 errs;
	struct hg_config	*cf;

	errors_init(&errs);
	cf = config_load_string(unit_data_path("restart.yaml"), yaml,
	    strlen(yaml), &errs);
	*dump = errors_dump(&errs);
	errors_free(&errs);
	return (cf);
}

static void
restart_collect(const char *msg, void *arg)
{
	char	**out = arg;

	*out = unit_printf("%s%s%s", *out, **out != '\0' ? " | " : "", msg);
}

/* restart.tsv: KEY RUNNING RELOADED WARNINGS */
static void
test_restart_row(void **state)
{
	const struct unit_line	*ul = *state;
	struct hg_config	*running, *cf;
	char			*dump, *got = unit_strdup("");
	const char		*want = ul->ul_fields[3];

	if ((running = restart_config(ul->ul_fields[1], &dump)) == NULL)
		fail_msg("running configuration does not load:%s", dump);
	if ((cf = restart_config(ul->ul_fields[2], &dump)) == NULL) {
		config_unref(running);
		fail_msg("reloaded configuration does not load:%s", dump);
	}
	config_restart_changes(running, cf, restart_collect, &got);
	config_unref(running);
	config_unref(cf);
	if (strcmp(got, strcmp(want, "-") == 0 ? "" : want) != 0)
		fail_msg("warnings '%s', want '%s'", got, want);
}

/* Every key that needs a restart has a row of restart.tsv, and a row
 * names such a key. */
static void
test_restart_covered(void **state)
{
	struct unit_line	**lines = *state;
	char			  path[128];
	size_t			  i, j;
	int			  flags, found;

	for (i = 0; config_key(i, path, sizeof path, &flags) == 0; i++) {
		if (!(flags & HG_KEY_RESTART))
			continue;
		found = 0;
		for (j = 0; lines[j] != NULL; j++)
			if (strcmp(lines[j]->ul_fields[0], path) == 0)
				found = 1;
		if (!found)
			fail_msg("%s needs a restart: no row of restart.tsv",
			    path);
	}
	for (j = 0; lines[j] != NULL; j++) {
		if (strcmp(lines[j]->ul_fields[0], "-") == 0)
			continue;
		found = 0;
		for (i = 0; config_key(i, path, sizeof path, &flags) == 0; i++)
			if (strcmp(lines[j]->ul_fields[0], path) == 0 &&
			    (flags & HG_KEY_RESTART))
				found = 1;
		if (!found)
			fail_msg("restart.tsv:%u: %s is not a key that needs a "
			    "restart", lines[j]->ul_lineno,
			    lines[j]->ul_fields[0]);
	}
}

static void
add_restart(struct unit_group *g)
{
	struct unit_line	**lines, **all;
	size_t			  n, i;

	if ((n = unit_read_table(g, "restart.tsv", &lines)) == 0)
		return;
	all = unit_keep(calloc(n + 1, sizeof *all));
	for (i = 0; i < n; i++) {
		all[i] = lines[i];
		if (lines[i]->ul_nfields != 4) {
			unit_add_error(g, "restart.tsv:%u: want 4 fields",
			    lines[i]->ul_lineno);
			continue;
		}
		unit_add(g, unit_case_name(lines[i], lines[i]->ul_fields[0]),
		    test_restart_row, lines[i]);
	}
	unit_add(g, "restart.tsv: a row for every key that needs a restart",
	    test_restart_covered, all);
}

/*
 * The manual page of the configuration, split in lines. A key of the
 * table is described there: a top-level key by an item of SETTINGS (main
 * file) or RULES (any file); a key of a setting's mapping in the
 * synopsis of that setting's item; a key of a list's entries as
 * "Ic KEY" or "KEY:" in the section of its top-level key.
 */
struct manpage {
	char	**mp_lines;
	size_t	  mp_n;
};

struct mancase {
	const struct manpage	*mc_page;
	char			*mc_path;
	int			 mc_flags;
	int			 mc_topflags;
};

/* Does line hold word as "Ic WORD" (or, literal, "WORD:")? */
static int
man_has(const char *line, const char *word, int literal)
{
	const char	*p;
	size_t		 n = strlen(word);
	char		 c;

	for (p = line; (p = strstr(p, word)) != NULL; p++) {
		c = p[n];
		if (p >= line + 3 && strncmp(p - 3, "Ic ", 3) == 0 &&
		    (c == '\0' || c == ' ' || c == ','))
			return (1);
		if (literal && c == ':' && (p == line ||
		    !(isalnum((unsigned char)p[-1]) || p[-1] == '_')))
			return (1);
	}
	return (0);
}

/* The line ".It Ic TOP" in section sh (".Sh SETTINGS"), or -1. */
static long
man_item(const struct manpage *mp, const char *sh, const char *top)
{
	size_t	i, n = strlen(top);
	int	in = 0;

	for (i = 0; i < mp->mp_n; i++) {
		if (unit_has_prefix(mp->mp_lines[i], ".Sh "))
			in = strcmp(mp->mp_lines[i], sh) == 0;
		else if (in && unit_has_prefix(mp->mp_lines[i], ".It Ic ") &&
		    strncmp(mp->mp_lines[i] + 7, top, n) == 0 &&
		    (mp->mp_lines[i][7 + n] == '\0' ||
		    mp->mp_lines[i][7 + n] == ' '))
			return ((long)i);
	}
	return (-1);
}

static void
test_man_key(void **state)
{
	const struct mancase	*mc = *state;
	const struct manpage	*mp = mc->mc_page;
	const char		*sh, *leaf;
	char			*top;
	long			 it;
	size_t			 i;

	sh = (mc->mc_topflags & HG_KEY_MAIN) ? ".Sh SETTINGS" : ".Sh RULES";
	top = unit_printf("%.*s", (int)strcspn(mc->mc_path, "."),
	    mc->mc_path);
	if ((it = man_item(mp, sh, top)) == -1)
		fail_msg("no '.It Ic %s' in %s", top, sh + 4);
	leaf = strrchr(mc->mc_path, '.');
	if (leaf == NULL)
		return;
	leaf++;
	if (!(mc->mc_flags & HG_KEY_ENTRY)) {
		if (!man_has(mp->mp_lines[it], leaf, 0))
			fail_msg("'.It Ic %s' does not name %s", top, leaf);
		return;
	}
	for (i = 0; i < mp->mp_n; i++)
		if (unit_has_prefix(mp->mp_lines[i], ".Sh ") &&
		    strcmp(mp->mp_lines[i], sh) == 0)
			break;
	for (i++; i < mp->mp_n &&
	    !unit_has_prefix(mp->mp_lines[i], ".Sh "); i++)
		if (man_has(mp->mp_lines[i], leaf, 1))
			return;
	fail_msg("%s does not describe %s", sh + 4, leaf);
}

static void
add_manpage(struct unit_group *g)
{
	struct manpage	*mp;
	struct mancase	*mc;
	char		 path[128], top[128];
	char		*buf, *p;
	size_t		 i, j;
	int		 flags, tflags;

	buf = unit_read_file(unit_data_path("../../rules/hushgate.yaml.5"),
	    NULL);
	if (buf == NULL) {
		unit_add_error(g, "rules/hushgate.yaml.5: cannot read");
		return;
	}
	unit_keep(buf);
	mp = unit_keep(calloc(1, sizeof *mp));
	for (p = buf, i = 1; (p = strchr(p, '\n')) != NULL; p++)
		i++;
	mp->mp_lines = unit_keep(calloc(i, sizeof *mp->mp_lines));
	for (p = buf; p != NULL; p = strchr(p, '\n')) {
		if (*p == '\n')
			*p++ = '\0';
		mp->mp_lines[mp->mp_n++] = p;
	}
	for (i = 0; config_key(i, path, sizeof path, &flags) == 0; i++) {
		mc = unit_keep(calloc(1, sizeof *mc));
		mc->mc_page = mp;
		mc->mc_path = unit_strdup(path);
		mc->mc_flags = flags;
		snprintf(top, sizeof top, "%.*s", (int)strcspn(path, "."),
		    path);
		for (j = 0; config_key(j, path, sizeof path, &tflags) == 0;
		    j++)
			if (strcmp(path, top) == 0)
				mc->mc_topflags = tflags;
		unit_add(g, unit_printf("hushgate.yaml.5 describes %s",
		    mc->mc_path), test_man_key, mc);
	}
}

void
test_config_group(struct unit_group *g)
{
	add_dir(g, BAD_DIR, 1);
	add_dir(g, VALID_DIR, 0);
	add_shipped(g);
	add_restart(g);
	add_manpage(g);
}
