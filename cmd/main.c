/*
 * main.c -- the command line: each command, -t, and the daemon.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/proxy.h"
#include "certs/certs.h"
#include "cmd/cmd.h"
#include "plat/plat.h"
#include "download/download.h"

/* -L: a format of the decision log, HG_LOG_, or -1. */
static int
log_format_parse(const char *s)
{
	if (strcmp(s, "json") == 0)
		return (HG_LOG_JSON);
	if (strcmp(s, "squid") == 0)
		return (HG_LOG_SQUID);
	if (strcmp(s, "text") == 0)
		return (HG_LOG_TEXT);
	return (-1);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hushgate [-d] [-c FILE] [-L FORMAT]\n"
	    "                                        run the proxy\n"
	    "       hushgate -t [-v] [-c FILE]       check the configuration\n"
	    "       hushgate explain [-c FILE] [--http] [--group NAME] "
	    "[--sni NAME]\n"
	    "                        [HOST[:PORT]...]\n"
	    "                                        show the decision for each "
	    "target\n"
	    "                                        (one per line on stdin "
	    "when none)\n"
	    "       hushgate lists update [-c FILE]  download the url: lists "
	    "once\n"
	    "       hushgate pac [-c FILE] [--proxy HOST:PORT[,...]] "
	    "[--mode all|policy]\n"
	    "                    [--fallback direct|block] [-o FILE]\n"
	    "                                        write the PAC file\n"
	    "       hushgate pac [-c FILE] --emit-windows DIR --pac-url URL "
	    "[--proxy HOST:PORT]\n"
	    "                                        write Windows settings "
	    "for it\n"
	    "       hushgate certs init [--dir DIR] [--name NAME]... [--ip IP]..."
	    "\n"
	    "                           [--days N] [--force]\n"
	    "                                        make a local CA and a "
	    "server certificate\n"
	    "       hushgate certs show [-c FILE]    the certificates of the "
	    "TLS listeners\n"
	    "       hushgate users add|del|list [-c FILE] [--users-file FILE] "
	    "[NAME]\n"
	    "                                        manage the users file of "
	    "auth.basic\n"
	    "       hushgate report [-c FILE] [--since TIME] [--until TIME] "
	    "[--client ADDR]\n"
	    "                       [--format table|tsv|json] [--top N] "
	    "[--unknown] [LOG...]\n"
	    "                                        summarise decision logs "
	    "(plain or gzip);\n"
	    "                                        --unknown --format yaml: "
	    "a category of the\n"
	    "                                        hosts no rule matched\n"
	    "       hushgate ctl [-c FILE] [-s SOCKET] status | reload |\n"
	    "                    pause CATEGORY DURATION | resume CATEGORY | "
	    "lists-update\n"
	    "                                        ask the running proxy "
	    "(control.socket)\n"
	    "%s"
	    "       hushgate --version | --help\n"
	    "\n"
	    "  -c FILE   configuration file (default %s)\n"
	    "  -d        debug diagnostics\n"
	    "  -L FORMAT decision log lines to standard output as json, squid "
	    "or text,\n"
	    "            whatever the configuration says\n"
	    "  -t        check the configuration and rules, then exit\n"
	    "  -v        (-t) also list the rules that overlap a broader rule "
	    "of\n"
	    "            another category with the same action\n"
	    "  --http    (explain) as a plain-HTTP request: port 80 by "
	    "default,\n"
	    "            checked against http_ports\n"
	    "  --group NAME  (explain) for a client of the group NAME\n"
	    "  --sni NAME    (explain) as a CONNECT whose TLS ClientHello "
	    "names NAME:\n"
	    "            also the decision on NAME and the outcome under "
	    "tls_sni\n"
	    "  --since TIME, --until TIME  (report) records from TIME, before "
	    "TIME:\n"
	    "            RFC 3339 (2026-11-25T18:00:00Z) or that long ago "
	    "(30m, 1h, 2d)\n"
	    "  --client ADDR (report) only the requests of client ADDR\n"
	    "  --top N   (report) rows per listing (default 20, 0: all)\n"
	    "  --unknown (report) only the hosts no rule matched, by "
	    "registrable domain\n",
#ifdef _WIN32
	    "       hushgate service install|uninstall|start|stop|reload|"
	    "status [-c FILE]\n"
	    "                                        the Windows service\n"
	    "       hushgate winhttp set --proxy HOST:PORT|--pac URL "
	    "[options] | show | reset\n"
	    "                                        the proxy settings of "
	    "Windows, with a backup\n",
#else
	    "",
#endif
	    plat_default_config());
}
static struct hg_config *
load_or_report(const char *file)
{
	struct hg_errors	 errs;
	struct hg_config	*cf;

	errors_init(&errs);
	cf = config_load(file, &errs);
	if (cf == NULL)
		errors_print(&errs, stderr);
	errors_free(&errs);
	return (cf);
}
/* daemon_load(), errors printed. */
static struct hg_config *
load_with_tls(const char *file, struct hg_errors *warns)
{
	struct hg_errors	 errs;
	struct hg_config	*cf;

	errors_init(&errs);
	if ((cf = daemon_load(file, &errs, warns)) == NULL)
		errors_print(&errs, stderr);
	errors_free(&errs);
	return (cf);
}

/* -t: each url: list, with what its cached copy holds. */
static void
check_sources(const struct hg_config *cf)
{
	const struct hg_listsrc	*src;
	struct hg_listmeta	 lm;
	const char		*why;
	char			 when[32];
	struct tm		 tm;
	time_t			 t;
	size_t			 i;

	if (cf->cf_nsources > 0)
		printf("url lists: %zu (cache %s)\n", cf->cf_nsources,
		    cf->cf_cache_dir);
	for (i = 0; i < cf->cf_nsources; i++) {
		src = &cf->cf_sources[i];
		if (src->ls_entries < 0) {
			printf("  %s  never downloaded\n", src->ls_url);
			continue;
		}
		when[0] = '\0';
		t = 0;
		if (listmeta_read(src->ls_meta, &lm, &why) == 0)
			t = (time_t)lm.lm_checked;
		if (t != 0 && gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof when,
			    ", checked %Y-%m-%dT%H:%M:%SZ", &tm);
		printf("  %s  %ld rules%s\n", src->ls_url, src->ls_entries,
		    when);
	}
}
/*
 * -t: the size of the PAC file in policy mode, with a warning past
 * HG_PAC_SIZE_WARN (Chromium refuses a larger PAC script, and WinHTTP on
 * older Windows rejects one).
 */
static void
pac_report(struct hg_config *cf, size_t *size, size_t *names)
{
	struct hg_pac	*pac;
	char		*msg;

	pac = pac_build(cf, HG_PAC_POLICY, cf->cf_pac_fallback);
	*size = pac->pc_headlen + pac->pc_bodylen + 64;
	*names = pac->pc_names;
	pac_free(pac);
	if (*size <= HG_PAC_SIZE_WARN)
		return;
	xasprintf(&msg, "warning: a policy-mode PAC file would be %.1f MB, "
	    "over the 1 MB that Chromium and WinHTTP accept; serve it with "
	    "pac.mode all (the proxy decides)", *size / 1048576.0);
	errors_add_msg(&cf->cf_warnings, msg);
	free(msg);
}
static int
check_main(const char *file, int verbose)
{
	struct hg_config		*cf;
	const struct hg_category	*ca;
	size_t				 i, n, rules, names, globs, cidrs, dups;
	size_t				 pacsize, pacnames;
	size_t				 nact[4] = { 0, 0, 0, 0 };
	struct hg_errors		 warns, notes;

	errors_init(&warns);
	cf = load_with_tls(file, &warns);
	for (i = 0; i < warns.er_count; i++)
		errors_add_msg(cf != NULL ? &cf->cf_warnings : &warns,
		    warns.er_msgs[i]);
	if (cf == NULL) {
		/* Warnings still say what is about to go wrong. */
		errors_print(&warns, stderr);
		errors_free(&warns);
		return (1);
	}
	errors_free(&warns);
	n = ruleset_ncategories(cf->cf_rules);
	for (i = 0; i < n; i++) {
		ca = ruleset_category_const(cf->cf_rules, (uint32_t)i);
		nact[ca->ca_action]++;
	}
	errors_init(&notes);
	ruleset_report_shadows(cf->cf_rules, &cf->cf_warnings,
	    verbose ? &notes : NULL);
	pac_report(cf, &pacsize, &pacnames);
	ruleset_stats(cf->cf_rules, &rules, &names, &globs, &cidrs, &dups);
	for (i = 0; i < cf->cf_warnings.er_count; i++)
		printf("%s\n", cf->cf_warnings.er_msgs[i]);
	if (cf->cf_warnings.er_dropped)
		printf("(%zu more warnings)\n", cf->cf_warnings.er_dropped);
	/* -v: what overlaps on purpose (not warnings: nothing to fix). */
	for (i = 0; i < notes.er_count; i++)
		printf("%s\n", notes.er_msgs[i]);
	if (notes.er_dropped)
		printf("(%zu more notes)\n", notes.er_dropped);
	errors_free(&notes);
	printf("configuration OK\n");
	printf("file: %s\n", file);
	printf("categories: %zu (allow %zu, deny %zu, audit %zu)\n", n,
	    nact[HG_ACT_ALLOW], nact[HG_ACT_DENY], nact[HG_ACT_AUDIT]);
	printf("rules: %zu (names %zu, prefixes %zu, globs %zu; duplicates "
	    "dropped %zu)\n", rules, names, cidrs, globs, dups);
	printf("default: %s\n", action_name(cf->cf_default));
	printf("pac: policy mode %zu bytes (%zu names); serving mode %s\n",
	    pacsize, pacnames, cf->cf_pac_mode == HG_PAC_ALL ? "all" :
	    "policy");
	if (cf->cf_nupstreams > 0) {
		char	via[HG_MAX_VIA * (HG_MAX_UPSTREAM_NAME + 1) + 1];

		printf("upstreams: %zu (", cf->cf_nupstreams);
		for (i = 0; i < cf->cf_nupstreams; i++)
			printf("%s%s %s", i > 0 ? ", " : "",
			    cf->cf_upstreams[i].up_name,
			    cf->cf_upstreams[i].up_url);
		config_route_text(cf, &cf->cf_route_default, via, sizeof via);
		printf("); routes: %zu; route_default: %s\n", cf->cf_nroutes,
		    via);
	}
	printf("warnings: %zu\n", errors_total(&cf->cf_warnings));
	for (i = 0; i < n; i++) {
		ca = ruleset_category_const(cf->cf_rules, (uint32_t)i);
		printf("  %-32s %-5s %6zu rules  %s:%u\n", ca->ca_name,
		    action_name(ca->ca_action), ca->ca_rules,
		    ruleset_file(cf->cf_rules, ca->ca_file), ca->ca_line);
	}
	check_sources(cf);
	config_unref(cf);
	return (0);
}

/*
 * The UTF-8 form of the argument a, which is orig[i] or (an option's
 * value) the end of it after an ASCII prefix such as "--sni=": within
 * utf8[i]. NULL when a is none of them.
 */
static char *
arg_utf8(char **orig, char **utf8, int n, const char *a)
{
	uintptr_t	p = (uintptr_t)a, o;
	size_t		off, j;
	int		i;

	for (i = 0; i < n; i++) {
		o = (uintptr_t)orig[i];
		if (p < o || p > o + strlen(orig[i]))
			continue;
		off = (size_t)(p - o);
		for (j = 0; j < off; j++)
			if ((unsigned char)orig[i][j] >= 0x80 ||
			    orig[i][j] != utf8[i][j])
				return (NULL);
		return (utf8[i] + off);
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "http", no_argument, NULL, 'H' },
		{ "group", required_argument, NULL, 'G' },
		{ "sni", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*file = plat_default_config(), *group = NULL;
	const char	*sni = NULL;
	int		 ch, check = 0, debug = 0, explain = 0, http = 0;
	int		 verbose = 0;
	int		 update = 0, show = 0, nargs = 0, i, stdout_fmt = -1;
	char		**orig = NULL, **utf8, *u;

	if (plat_init() != 0)
		return (1);
	/* Host names as typed: UTF-8 where argv is not (Windows). */
	if ((utf8 = plat_argv_utf8(argc, argv)) != NULL) {
		orig = xreallocarray(NULL, (size_t)argc + 1, sizeof *orig);
		memcpy(orig, argv, ((size_t)argc + 1) * sizeof *orig);
		nargs = argc;
	}

#ifdef _WIN32
	if (argc > 1 && strcmp(argv[1], "winhttp") == 0)
		return (winwire_main(argc - 1, argv + 1));
	if (argc > 1 && strcmp(argv[1], "service") == 0)
		return (winsvc_main(argc - 1, argv + 1));
#endif
	if (argc > 1 && strcmp(argv[1], "users") == 0) {
#ifdef _WIN32
		/* Basic authentication needs crypt(3). */
		fprintf(stderr, "hushgate: users: %s\n", plat_lacks("auth"));
		return (2);
#else
		return (users_main(argc - 1, argv + 1));
#endif
	}
	if (argc > 1 && strcmp(argv[1], "report") == 0) {
#ifdef _WIN32
		fprintf(stderr, "hushgate: report: %s\n", plat_lacks("report"));
		return (2);
#else
		return (report_main(argc - 1, argv + 1));
#endif
	}
	if (argc > 1 && strcmp(argv[1], "ctl") == 0) {
#ifdef _WIN32
		fprintf(stderr, "hushgate: ctl: not available on Windows (use "
		    "hushgate service reload|stop|status)\n");
		return (2);
#else
		return (ctl_main(argc - 1, argv + 1));
#endif
	}
	if (argc > 1 && strcmp(argv[1], "pac") == 0) {
		log_init(LOG_LVL_INFO);
		return (pac_main(argc - 1, argv + 1));
	}
	if (argc > 1 && strcmp(argv[1], "certs") == 0) {
		if (argc > 2 && strcmp(argv[2], "init") == 0) {
			log_init(LOG_LVL_INFO);
			return (certs_init_main(argc - 3, argv + 3) == 0 ? 0 : 1);
		}
		if (argc < 3 || strcmp(argv[2], "show") != 0) {
			usage(stderr);
			return (2);
		}
		show = 1;
		argv += 2;
		argc -= 2;
	} else if (argc > 1 && strcmp(argv[1], "explain") == 0) {
		explain = 1;
		argv++;
		argc--;
	} else if (argc > 1 && strcmp(argv[1], "lists") == 0) {
		if (argc < 3 || strcmp(argv[2], "update") != 0) {
			usage(stderr);
			return (2);
		}
		update = 1;
		argv += 2;
		argc -= 2;
	}
	while ((ch = getopt_long(argc, argv, "c:dhL:tv", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'L':
			if ((stdout_fmt = log_format_parse(optarg)) == -1) {
				usage(stderr);
				return (2);
			}
			break;
		case 't':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return (0);
		case 'V':
			printf("hushgate %s\n", PACKAGE_VERSION);
			printf("Licence: ISC (see LICENSE)\n");
#ifdef HAVE_GSSAPI
			printf("Kerberos single sign-on: yes\n");
#else
			printf("Kerberos single sign-on: no\n");
#endif
#ifdef HAVE_LDAP
			printf("Directory groups (LDAP): yes\n");
#else
			printf("Directory groups (LDAP): no\n");
#endif
			return (0);
		case 'H':
			http = 1;
			break;
		case 'G':
			group = optarg;
			break;
		case 'S':
			sni = optarg;
			break;
		default:
			usage(stderr);
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	log_init(debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if ((group != NULL || sni != NULL) && !explain) {
		usage(stderr);
		return (2);
	}
	if (stdout_fmt != -1 && (check || explain || update || show)) {
		usage(stderr);
		return (2);
	}
	if (sni != NULL && (http || *sni == '\0')) {
		usage(stderr);
		return (2);
	}
	if (explain) {
		struct hg_config	*cf;
		uint32_t		 gi = HG_NONE;
		int			 rc;

		if ((cf = load_or_report(file)) == NULL)
			return (1);
		if (group != NULL &&
		    (gi = config_group_find(cf, group)) == HG_NONE) {
			fprintf(stderr, "hushgate: no client group named "
			    "'%s'\n", group);
			config_unref(cf);
			return (2);
		}
		for (i = 0; i < argc; i++)
			if ((u = arg_utf8(orig, utf8, nargs, argv[i])) != NULL)
				argv[i] = u;
		if (sni != NULL &&
		    (u = arg_utf8(orig, utf8, nargs, sni)) != NULL)
			sni = u;
		rc = explain_main(cf, http ? HG_SCHEME_HTTP :
		    HG_SCHEME_CONNECT, gi, sni, argc, argv);
		config_unref(cf);
		return (rc);
	}
	if (argc != 0) {
		usage(stderr);
		return (2);
	}
	if (show) {
		struct hg_config	*cf;
		int			 rc;

		if ((cf = load_or_report(file)) == NULL)
			return (1);
		rc = certs_show(cf);
		config_unref(cf);
		return (rc);
	}
	if (update) {
		struct hg_config	*cf;
		int			 rc;

		if ((cf = load_or_report(file)) == NULL)
			return (1);
		rc = refresh_update_all(cf);
		config_unref(cf);
		return (rc);
	}
	if (check)
		return (check_main(file, verbose));
	dlog_stdout_format(stdout_fmt);
	return (proxy_serve(file, debug));
}
