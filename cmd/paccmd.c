/*
 * paccmd.c -- `hushgate pac`: write the PAC file the proxy serves, or the
 * files that point Windows machines at it (--emit-windows).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proxy/proxy.h"
#include "cmd/cmd.h"
#include "plat/plat.h"

static void
pac_usage(FILE *f)
{
	fprintf(f,
	    "usage: hushgate pac [-c FILE] [--proxy HOST:PORT[,HOST:PORT...]]\n"
	    "                    [--mode all|policy] [--fallback direct|block] "
	    "[-o FILE]\n"
	    "       hushgate pac [-c FILE] --emit-windows DIR --pac-url URL "
	    "[--proxy HOST:PORT]\n");
}

/*
 * The proxies a generated file names: --proxy, else pac.proxy, else the
 * first listen address (not a wildcard one). Fills list (strings the
 * caller frees) and returns their number, or 0 with a message.
 */
static size_t
pick_proxies(const struct hg_config *cf, const char *arg, char **list)
{
	struct hg_target	 t;
	const char		*why, *p, *end;
	size_t			 n = 0, i;

	if (arg != NULL) {
		for (p = arg; *p != '\0'; p = *end ? end + 1 : end) {
			end = strchr(p, ',');
			if (end == NULL)
				end = p + strlen(p);
			if (n == HG_PAC_MAX_PROXIES ||
			    target_parse(p, (size_t)(end - p), 0, &t,
			    &why) != 0) {
				fprintf(stderr, "hushgate: --proxy: '%.*s' is "
				    "not HOST:PORT\n", (int)(end - p), p);
				goto fail;
			}
			xasprintf(&list[n++], t.t_kind == HG_HOST_IPV6 ?
			    "[%s]:%u" : "%s:%u", t.t_host, t.t_port);
		}
		if (n == 0)
			goto fail;
		return (n);
	}
	for (i = 0; i < cf->cf_npac_proxy; i++)
		list[n++] = xstrdup(cf->cf_pac_proxy[i]);
	if (n > 0)
		return (n);
	p = cf->cf_listeners[0].li_addr;	/* the first proxy listener */
	if (strncmp(p, "0.0.0.0:", 8) == 0 || strncmp(p, "[::]:", 5) == 0 ||
	    strcmp(strrchr(p, ':'), ":0") == 0) {
		fprintf(stderr, "hushgate: listen %s names no address clients "
		    "can use: give --proxy or pac.proxy\n", p);
		return (0);
	}
	list[0] = xstrdup(p);
	return (1);
fail:
	for (i = 0; i < n; i++)
		free(list[i]);
	return (0);
}

/* Write the PAC file (head, proxy line, body) to f. Returns 0 or -1. */
static int
write_pac(FILE *f, const struct hg_pac *pac, char **proxies, size_t n)
{
	char	*line = pac_proxy_line(proxies, n);
	int	 rc;

	rc = fwrite(pac->pc_head, 1, pac->pc_headlen, f) == pac->pc_headlen &&
	    fputs(line, f) != EOF &&
	    fwrite(pac->pc_body, 1, pac->pc_bodylen, f) == pac->pc_bodylen ?
	    0 : -1;
	free(line);
	return (rc);
}

/*
 * The proxy the Windows files name when neither --proxy nor pac.proxy is
 * given: the PAC URL's host (the machines reach the proxy where they fetch
 * its PAC file), with the port of the proxy listener the URL names, else
 * of the first one. Returns a string the caller frees, or NULL with a
 * message.
 */
static char *
pac_url_proxy(const struct hg_config *cf, const char *url)
{
	struct hg_target	 t;
	const char		*auth, *end, *why, *c;
	unsigned long		 lport;
	uint16_t		 port = 0;
	size_t			 i;
	char			*out;

	auth = strstr(url, "://") + 3;
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL ||
	    target_parse(auth, (size_t)(end - auth),
	    strncmp(url, "https", 5) == 0 ? 443 : 80, &t, &why) != 0) {
		fprintf(stderr, "hushgate: --pac-url: no host to take the proxy "
		    "from; give --proxy HOST:PORT\n");
		return (NULL);
	}
	for (i = 0; i < cf->cf_nlisteners &&
	    cf->cf_listeners[i].li_kind == HG_LISTEN_PROXY; i++) {
		c = strrchr(cf->cf_listeners[i].li_addr, ':');
		lport = strtoul(c + 1, NULL, 10);
		if (lport == t.t_port || (port == 0 && i == 0))
			port = (uint16_t)lport;
		if (lport == t.t_port)
			break;
	}
	if (port == 0) {
		fprintf(stderr, "hushgate: listen %s has no fixed port to name: "
		    "give --proxy HOST:PORT or pac.proxy\n",
		    cf->cf_listeners[0].li_addr);
		return (NULL);
	}
	xasprintf(&out, t.t_kind == HG_HOST_IPV6 ? "[%s]:%u" : "%s:%u",
	    t.t_host, port);
	fprintf(stderr, "hushgate: pac: the Windows files name the proxy %s "
	    "(the PAC URL's host; --proxy sets another)\n", out);
	return (out);
}

/*
 * `hushgate pac ...` (argv[0] is "pac"). Returns the exit code.
 */
int
pac_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "proxy", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "fallback", required_argument, NULL, 'f' },
		{ "emit-windows", required_argument, NULL, 'w' },
		{ "pac-url", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*file = plat_default_config(), *out = NULL;
	const char		*proxy = NULL, *mode = NULL, *fb = NULL;
	const char		*windir = NULL, *url = NULL;
	struct hg_config	*cf;
	struct hg_errors	 errs;
	struct hg_pac		*pac;
	enum hg_pac_mode	 m;
	enum hg_pac_fallback	 f;
	char			*proxies[HG_PAC_MAX_PROXIES];
	size_t			 n = 0, i;
	FILE			*fp;
	int			 ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			proxy = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'f':
			fb = optarg;
			break;
		case 'w':
			windir = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'h':
			pac_usage(stdout);
			return (0);
		default:
			pac_usage(stderr);
			return (2);
		}
	}
	if (optind != argc || (windir != NULL) != (url != NULL)) {
		pac_usage(stderr);
		return (2);
	}
	errors_init(&errs);
	cf = config_load(file, &errs);
	for (i = 0; i < errs.er_count; i++)
		fprintf(stderr, "%s\n", errs.er_msgs[i]);
	errors_free(&errs);
	if (cf == NULL)
		return (1);
	m = cf->cf_pac_mode;
	f = cf->cf_pac_fallback;
	if ((mode != NULL && pac_mode_parse(mode, &m) != 0) ||
	    (fb != NULL && pac_fallback_parse(fb, &f) != 0)) {
		fprintf(stderr, "hushgate: --mode is all or policy, --fallback "
		    "direct or block\n");
		config_unref(cf);
		return (2);
	}
	if (windir != NULL && proxy == NULL && cf->cf_npac_proxy == 0) {
		/* Not the listen address: the machines are elsewhere. */
		if (!pac_url_ok(url))
			rc = pac_emit_windows(windir, url, NULL);
		else if ((proxies[0] = pac_url_proxy(cf, url)) == NULL)
			rc = 1;
		else {
			n = 1;
			rc = pac_emit_windows(windir, url, proxies[0]);
		}
	} else if ((n = pick_proxies(cf, proxy, proxies)) == 0) {
		config_unref(cf);
		return (1);
	} else if (windir != NULL)
		rc = pac_emit_windows(windir, url, proxies[0]);
	else {
		pac = pac_build(cf, m, f);
		fp = out == NULL ? stdout : fopen(out, "w");
		if (fp == NULL) {
			fprintf(stderr, "hushgate: %s: %s\n", out,
			    strerror(errno));
			rc = 1;
		} else {
			if (write_pac(fp, pac, proxies, n) != 0)
				rc = 1;
			if ((fp == stdout ? fflush(fp) : fclose(fp)) != 0)
				rc = 1;
			if (rc != 0)
				fprintf(stderr, "hushgate: %s: write error\n",
				    out ? out : "stdout");
		}
		pac_free(pac);
	}
	for (i = 0; i < n; i++)
		free(proxies[i]);
	config_unref(cf);
	return (rc);
}
