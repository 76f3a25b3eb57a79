/*
 * fuzz_config.c -- libFuzzer target for the YAML configuration: the input
 * is the main file given to config_load_string(), and a loaded
 * configuration is asked for a few decisions.
 *
 * The input is named "fuzz.yaml" in a private directory (under $TMPDIR)
 * that holds a few files to include (inc/a.yaml, inc/b.yaml ...), so that
 * relative includes are exercised. Inputs with a scalar that is an
 * absolute path or climbs with ".." are skipped: an include could
 * otherwise read any file of the machine (a device, a FIFO) and hang the
 * run.
 *
 * Checks: a configuration is returned exactly when no error is reported;
 * every error is a non-empty message.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "rules/rules.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	dir[4096];
static char	name[sizeof dir + 16];

static const struct {
	const char	*f_name;
	const char	*f_text;
} files[] = {
	{ "inc/a.yaml",
	  "categories:\n"
	  "  ads: {action: deny, hosts: [.ads.test, \"*.t.test\", "
	  "\"10.0.0.0/8\"]}\n"
	  "  cdn: {action: allow, hosts: [\"cdn*.test:443\", shared.test]}\n" },
	{ "inc/b.yaml",
	  "include: [a.yaml]\n"
	  "categories:\n"
	  "  trk:\n"
	  "    action: audit\n"
	  "    hosts: [shared.test, \"x.test:[80,443]\"]\n"
	  "actions:\n"
	  "  ads: audit\n" },
	{ "inc/bad.yaml",
	  "listen: [\"127.0.0.1:0\"]\n"
	  "categories: {ads: {action: nope}}\n" },
	{ "inc/profile.yaml",
	  "include: [base.yaml]\n"
	  "categories:\n"
	  "  telemetry: {action: deny, hosts: [.telemetry.test]}\n"
	  "actions: {ads: allow}\n" },
	{ "inc/base.yaml",
	  "categories:\n"
	  "  ads: {action: deny, hosts: [.ads.test, shared.test]}\n"
	  "  trackers: {action: deny, hosts: [.trackers.test]}\n" },
	{ "inc/shared.yaml",
	  "categories: {shared: {action: deny, hosts: [.shared.test]}}\n" },
};

static void
cleanup(void)
{
	char	path[sizeof dir + 64];
	size_t	i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i].f_name);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/inc", dir);
	rmdir(path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		 path[sizeof dir + 64];
	const char	*tmp = getenv("TMPDIR");
	FILE		*f;
	size_t		 i;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/hushgate-fuzz-config-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	snprintf(path, sizeof path, "%s/inc", dir);
	if (mkdir(path, 0700) != 0) {
		perror(path);
		exit(1);
	}
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i].f_name);
		if ((f = fopen(path, "w")) == NULL ||
		    fputs(files[i].f_text, f) == EOF || fclose(f) != 0) {
			perror(path);
			exit(1);
		}
	}
	snprintf(name, sizeof name, "%s/fuzz.yaml", dir);
	return (0);
}

/*
 * Could this input make the loader open a file outside the private
 * directory? Looks at every scalar of every document, decoded.
 */
static int
escapes_dir(const uint8_t *data, size_t size)
{
	yaml_parser_t	 parser;
	yaml_event_t	 ev;
	int		 bad = 0, done = 0;
	const char	*s;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, data, size);
	while (!done && !bad) {
		if (!yaml_parser_parse(&parser, &ev))
			break;
		if (ev.type == YAML_SCALAR_EVENT) {
			s = (const char *)ev.data.scalar.value;
			/* The loader reads scalars as C strings too. */
			if (s[0] == '/' || strstr(s, "..") != NULL)
				bad = 1;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return (bad);
}

static void
decide(const struct hg_config *cf, enum hg_scheme scheme, const char *s)
{
	struct hg_target	t;
	struct hg_decision	d;
	const char		*why;

	if (target_parse(s, strlen(s), 443, &t, &why) != 0)
		abort();
	policy_decide(cf, scheme, &t, &d);
	if (d.d_action != HG_ACT_ALLOW && d.d_action != HG_ACT_DENY &&
	    d.d_action != HG_ACT_AUDIT)
		abort();
	if (d.d_reason == HG_REASON_RULE && (d.d_category_name == NULL ||
	    d.d_file == NULL || d.d_category >=
	    ruleset_ncategories(cf->cf_rules)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *targets[] = {
		"example.com:443", "a.ads.test", "shared.test",
		"x.test:80", "10.1.2.3:443", "[2001:db8::1]:443",
		"cdn7.test", "deep.a.b.c.d.e.f.test:8443",
	};
	struct hg_errors	 errs;
	struct hg_config	*cf;
	size_t			 i;

	if (escapes_dir(data, size))
		return (0);
	errors_init(&errs);
	cf = config_load_string(name, (const char *)data, size, &errs);
	if ((cf == NULL) != (errors_total(&errs) != 0))
		abort();
	for (i = 0; i < errs.er_count; i++)
		if (errs.er_msgs[i] == NULL || errs.er_msgs[i][0] == '\0')
			abort();
	errors_free(&errs);
	if (cf == NULL)
		return (0);
	for (i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		decide(cf, HG_SCHEME_CONNECT, targets[i]);
		decide(cf, HG_SCHEME_HTTP, targets[i]);
	}
	for (i = 0; i < cf->cf_warnings.er_count; i++)
		if (cf->cf_warnings.er_msgs[i][0] == '\0')
			abort();
	config_unref(cf);
	return (0);
}
