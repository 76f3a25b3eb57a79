/*
 * test_rules.c -- the rule index: which patterns are accepted
 * (tests/data/patterns.tsv), and what policy_decide answers for targets
 * under small configurations (tests/data/match/NAME.yaml with its
 * NAME.expect).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "unit.h"

#define MATCH_DIR	"match"

/*
 * Check "+TARGET" (must match the pattern's rule) and "-TARGET" (must not
 * match) items, separated by spaces, against a ruleset holding the one
 * pattern of line `line`.
 */
static void
check_pattern_targets(const struct hg_ruleset *rs, uint32_t cat,
    unsigned line, const char *list)
{
	struct unit_bytes	 b;
	struct hg_target	 t;
	struct hg_decision	 d;
	const char		*why;
	char			*copy, *item, *save = NULL;
	int			 want;

	copy = unit_strdup(list);
	for (item = strtok_r(copy, " ", &save); item != NULL;
	    item = strtok_r(NULL, " ", &save)) {
		if (*item != '+' && *item != '-')
			fail_msg("target '%s' needs a + or - prefix", item);
		want = *item++ == '+';
		assert_int_equal(unit_unescape(item, &b), 0);
		if (target_parse(b.ub_buf, b.ub_len, 443, &t, &why) != 0)
			fail_msg("target '%s' is invalid: %s", item, why);
		ruleset_match(rs, &t, &d);
		if (want && (d.d_action != HG_ACT_DENY || d.d_category != cat ||
		    d.d_line != line))
			fail_msg("%s does not match (action %s)", item,
			    action_name(d.d_action));
		if (!want && d.d_action != HG_ACT_NONE)
			fail_msg("%s matches, should not", item);
	}
}

/* PATTERN<TAB>OK|ERROR[<TAB>TARGETS or reason substring] */
static void
test_pattern_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 pat;
	struct hg_ruleset	*rs;
	const char		*why = NULL, *want = ul->ul_fields[1];
	const char		*extra = ul->ul_nfields > 2 ? ul->ul_fields[2] :
				    NULL;
	char			*copy;
	uint32_t		 file, cat;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[0], &pat), 0);
	rs = ruleset_new();
	file = ruleset_add_file(rs, "patterns.tsv");
	cat = ruleset_add_category(rs, "test", HG_ACT_DENY, file, 1);
	copy = malloc(pat.ub_len ? pat.ub_len : 1);	/* no NUL after */
	assert_non_null(copy);
	memcpy(copy, pat.ub_buf, pat.ub_len);
	rc = ruleset_add_pattern(rs, cat, copy, pat.ub_len, file,
	    ul->ul_lineno, &why);
	free(copy);
	if (strcmp(want, "ERROR") == 0) {
		ruleset_free(rs);
		if (rc == 0)
			fail_msg("pattern '%s' accepted",
			    unit_show(pat.ub_buf, pat.ub_len));
		assert_int_equal(rc, -1);
		assert_non_null(why);
		if (extra != NULL && strstr(why, extra) == NULL)
			fail_msg("reason '%s' does not mention '%s'", why,
			    extra);
		return;
	}
	if (strcmp(want, "OK") != 0) {
		ruleset_free(rs);
		fail_msg("second column must be OK or ERROR");
	}
	if (rc != 0) {
		ruleset_free(rs);
		fail_msg("pattern '%s' refused: %s",
		    unit_show(pat.ub_buf, pat.ub_len), why ? why : "?");
	}
	assert_int_equal(ruleset_category(rs, cat)->ca_rules, 1);
	ruleset_compile(rs, NULL);
	if (extra != NULL)
		check_pattern_targets(rs, cat, ul->ul_lineno, extra);
	ruleset_free(rs);
}

/* One line of a .expect file. */
struct match_case {
	char			*mc_config;	/* NAME.yaml in match/ */
	const struct unit_line	*mc_line;
};

static struct hg_config *
match_load(const struct match_case *mc)
{
	struct hg_errors	 errs;
	struct hg_config	*cf;
	char			*path;

	path = unit_printf("%s/%s/%s", HG_TEST_DATA, MATCH_DIR,
	    mc->mc_config);
	errors_init(&errs);
	cf = config_load(path, &errs);
	if (cf == NULL || errors_total(&errs) != 0) {
		char *first = unit_strdup(errs.er_count ? errs.er_msgs[0] :
		    "no message");

		errors_free(&errs);
		if (cf != NULL)
			config_unref(cf);
		fail_msg("%s does not load: %s", mc->mc_config, first);
	}
	errors_free(&errs);
	return (cf);
}

/* "file:line" of a rule, with the file relative to match/. */
static char *
rule_name(const struct hg_decision *d)
{
	const char	*prefix = HG_TEST_DATA "/" MATCH_DIR "/";
	const char	*f = d->d_file;

	if (f == NULL)
		return (unit_strdup("?"));
	if (unit_has_prefix(f, prefix))
		f += strlen(prefix);
	return (unit_printf("%s:%u", f, d->d_line));
}

/*
 * TARGET<TAB>ACTION<TAB>CATEGORY|-[<TAB>RULE]: policy_decide for TARGET
 * (host[:port], port 443 when none; "http://" in front for a plain HTTP
 * request). RULE is FILE:LINE, "-" for the default, or connect_ports /
 * http_ports. ACTION "invalid" expects target_parse to refuse it.
 */
static void
test_match_target(struct hg_config *cf, const struct unit_line *ul)
{
	struct hg_target	 t;
	struct hg_decision	 d;
	struct unit_bytes	 b;
	enum hg_scheme		 scheme = HG_SCHEME_CONNECT;
	const char		*why, *s, *want_action = ul->ul_fields[1];
	const char		*got_cat, *got_rule;
	size_t			 len;

	assert_int_equal(unit_unescape(ul->ul_fields[0], &b), 0);
	s = b.ub_buf;
	len = b.ub_len;
	if (unit_has_prefix(s, "http://")) {
		scheme = HG_SCHEME_HTTP;
		s += 7;
		len -= 7;
	}
	if (target_parse(s, len, scheme == HG_SCHEME_HTTP ? 80 : 443, &t,
	    &why) != 0) {
		if (strcmp(want_action, "invalid") != 0)
			fail_msg("target invalid: %s", why);
		return;
	}
	if (strcmp(want_action, "invalid") == 0)
		fail_msg("target accepted as %s:%u", t.t_host, t.t_port);
	policy_decide(cf, scheme, &t, &d);
	got_cat = d.d_category_name ? d.d_category_name : "-";
	if (d.d_reason == HG_REASON_PORT)
		got_rule = scheme == HG_SCHEME_HTTP ? "http_ports" :
		    "connect_ports";
	else if (d.d_reason == HG_REASON_DEFAULT)
		got_rule = "-";
	else
		got_rule = rule_name(&d);
	if (strcmp(action_name(d.d_action), want_action) != 0 ||
	    strcmp(got_cat, ul->ul_fields[2]) != 0 ||
	    (ul->ul_nfields > 3 && strcmp(got_rule, ul->ul_fields[3]) != 0))
		fail_msg("%s: got %s %s %s, want %s %s %s", ul->ul_fields[0],
		    action_name(d.d_action), got_cat, got_rule, want_action,
		    ul->ul_fields[2], ul->ul_nfields > 3 ? ul->ul_fields[3] :
		    "(any)");
	/* The decision of a rule names its category and source. */
	if (d.d_reason == HG_REASON_RULE) {
		assert_true(d.d_category != HG_NONE);
		assert_non_null(d.d_file);
		assert_true(d.d_line > 0);
	} else {
		assert_int_equal(d.d_category, HG_NONE);
		assert_null(d.d_category_name);
	}
}

/* warning<TAB>SUBSTRING, or warnings<TAB>COUNT */
static void
test_match_warning(struct hg_config *cf, const struct unit_line *ul)
{
	size_t	i;

	if (strcmp(ul->ul_fields[0], "warnings") == 0) {
		if (cf->cf_warnings.er_count != strtoul(ul->ul_fields[1], NULL,
		    10))
			fail_msg("%zu warnings, want %s (first: %s)",
			    cf->cf_warnings.er_count, ul->ul_fields[1],
			    cf->cf_warnings.er_count ?
			    cf->cf_warnings.er_msgs[0] : "none");
		return;
	}
	for (i = 0; i < cf->cf_warnings.er_count; i++)
		if (strstr(cf->cf_warnings.er_msgs[i], ul->ul_fields[1]))
			return;
	fail_msg("no warning mentions '%s' (%zu warnings)", ul->ul_fields[1],
	    cf->cf_warnings.er_count);
}

static void
test_match_line(void **state)
{
	const struct match_case	*mc = *state;
	struct hg_config	*cf = match_load(mc);

	if (unit_has_prefix(mc->mc_line->ul_fields[0], "warning"))
		test_match_warning(cf, mc->mc_line);
	else
		test_match_target(cf, mc->mc_line);
	config_unref(cf);
}

/* Each configuration in match/ loads without errors. */
static void
test_match_loads(void **state)
{
	const struct match_case	*mc = *state;

	config_unref(match_load(mc));
}

static void
add_patterns(struct unit_group *g)
{
	struct unit_line	**lines;
	size_t			  n, i;

	n = unit_read_table(g, "patterns.tsv", &lines);
	for (i = 0; i < n; i++) {
		if (lines[i]->ul_nfields < 2) {
			unit_add_error(g, "patterns.tsv:%u: bad line",
			    lines[i]->ul_lineno);
			continue;
		}
		unit_add(g, unit_case_name(lines[i], lines[i]->ul_text),
		    test_pattern_line, lines[i]);
	}
}

static void
add_matches(struct unit_group *g)
{
	struct unit_line	**lines;
	struct match_case	 *mc;
	char			**names, *base;
	size_t			  n, i, j, nlines;

	if ((names = unit_list_dir(MATCH_DIR, ".expect", &n)) == NULL ||
	    n == 0) {
		unit_add_error(g, "%s: no .expect files", MATCH_DIR);
		return;
	}
	for (i = 0; i < n; i++) {
		base = unit_strdup(names[i]);
		base[strlen(base) - strlen(".expect")] = '\0';
		mc = unit_keep(calloc(1, sizeof *mc));
		mc->mc_config = unit_printf("%s.yaml", base);
		unit_add(g, unit_printf("%s/%s: loads with no errors",
		    MATCH_DIR, mc->mc_config), test_match_loads, mc);
		nlines = unit_read_table(g, unit_printf("%s/%s", MATCH_DIR,
		    names[i]), &lines);
		for (j = 0; j < nlines; j++) {
			if (lines[j]->ul_nfields < (unit_has_prefix(
			    lines[j]->ul_fields[0], "warning") ? 2u : 3u)) {
				unit_add_error(g, "%s/%s:%u: bad line",
				    MATCH_DIR, names[i], lines[j]->ul_lineno);
				continue;
			}
			mc = unit_keep(calloc(1, sizeof *mc));
			mc->mc_config = unit_printf("%s.yaml", base);
			mc->mc_line = lines[j];
			unit_add(g, unit_case_name(lines[j],
			    lines[j]->ul_text), test_match_line, mc);
		}
	}
}

void
test_rules_group(struct unit_group *g)
{
	add_patterns(g);
	add_matches(g);
}
