/*
 * users.c -- `hushgate users add|del|list`: the users file of auth.basic.
 *
 * The file is rewritten whole, through a temporary file in the same
 * directory renamed over it, so that a reader (a reload) sees the old
 * file or the new one, never half of one. Lines other than the user's
 * are kept byte for byte; the mode of an existing file is kept (without
 * any permission for others), a new file is 0600.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/stat.h>

#include "proxy/proxy.h"
#include "cmd/cmd.h"
#include "plat/plat.h"

#ifndef HG_DEFAULT_CONFIG
#define HG_DEFAULT_CONFIG	"/etc/hushgate/hushgate.yaml"
#endif

static void
users_usage(void)
{
	fprintf(stderr, "usage: hushgate users add NAME [-c FILE] "
	    "[--users-file FILE]\n"
	    "       hushgate users del NAME [-c FILE] [--users-file FILE]\n"
	    "       hushgate users list [-c FILE] [--users-file FILE]\n");
}

/* One line of a password from f into buf (size n); -1 on error. */
static int
read_line(FILE *f, char *buf, size_t n)
{
	size_t	len;

	if (fgets(buf, (int)n, f) == NULL)
		return (-1);
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	else if (!feof(f))
		return (-1);	/* longer than n */
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return (0);
}

/* Prompt on the terminal with echo off. */
static int
prompt(const char *what, char *buf, size_t n)
{
	struct termios	old, quiet;
	int		rc;

	fprintf(stderr, "%s", what);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return (-1);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	rc = read_line(stdin, buf, n);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fprintf(stderr, "\n");
	return (rc);
}

/*
 * The password of a new user: asked twice on a terminal, else one line
 * of stdin. Returns 0 with buf filled, or -1 with a message printed.
 */
static int
get_password(const char *name, char *buf, size_t n)
{
	char	again[HG_MAX_PASSWORD + 2], what[HG_MAX_USER + 32];
	int	rc = 0;

	if (isatty(STDIN_FILENO)) {
		snprintf(what, sizeof what, "password for %s: ", name);
		if (prompt(what, buf, n) != 0 ||
		    prompt("again: ", again, sizeof again) != 0) {
			fprintf(stderr, "hushgate: no password read\n");
			rc = -1;
		} else if (strcmp(buf, again) != 0) {
			fprintf(stderr, "hushgate: the passwords differ\n");
			rc = -1;
		}
		explicit_bzero(again, sizeof again);
	} else if (read_line(stdin, buf, n) != 0) {
		fprintf(stderr, "hushgate: no password on stdin (one line of "
		    "at most %d bytes)\n", HG_MAX_PASSWORD);
		rc = -1;
	}
	if (rc == 0 && buf[0] == '\0') {
		fprintf(stderr, "hushgate: empty password\n");
		rc = -1;
	}
	return (rc);
}

/* crypt(3) with the library's preferred method (yescrypt on Debian). */
static char *
hash_password(const char *pass)
{
	struct crypt_data	*cd;
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*out;
	char			*hash = NULL;

	cd = xcalloc(1, sizeof *cd);
	if (crypt_gensalt_rn(NULL, 0, NULL, 0, salt, sizeof salt) == NULL)
		fprintf(stderr, "hushgate: crypt_gensalt: %s\n",
		    strerror(errno));
	else if ((out = crypt_rn(pass, salt, cd, sizeof *cd)) == NULL ||
	    out[0] == '*')
		fprintf(stderr, "hushgate: crypt: %s\n", strerror(errno));
	else
		hash = xstrdup(out);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return (hash);
}

/* The whole file, or "" when it does not exist (missing_ok). */
static char *
slurp(const char *path, size_t *lenp, int missing_ok, struct stat *st,
    int *exists)
{
	FILE	*f;
	char	*buf;
	size_t	 len = 0, n;

	*exists = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		if (errno == ENOENT && missing_ok) {
			*lenp = 0;
			return (xstrdup(""));
		}
		fprintf(stderr, "hushgate: %s: %s\n", path, strerror(errno));
		return (NULL);
	}
	*exists = 1;
	fstat(fileno(f), st);
	buf = xmalloc(HG_MAX_USERS_FILE + 1);
	while ((n = fread(buf + len, 1, HG_MAX_USERS_FILE + 1 - len, f)) > 0)
		len += n;
	fclose(f);
	if (len > HG_MAX_USERS_FILE) {
		fprintf(stderr, "hushgate: %s: larger than %d bytes\n", path,
		    HG_MAX_USERS_FILE);
		free(buf);
		return (NULL);
	}
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}

/* Write buf to path through a temporary file renamed over it: the mode
 * of an existing file without any permission for others, or 0600. */
static int
write_atomic(const char *path, const char *buf, size_t len,
    const struct stat *st, int exists)
{
	int	mode = exists ? (int)(st->st_mode & 0770) : 0600;

	if (plat_replace_file(path, buf, len, mode) != 0) {
		fprintf(stderr, "hushgate: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	return (0);
}

/* The users file named by the configuration (auth.basic.users_file). */
static char *
config_users_file(const char *file)
{
	struct hg_errors	 errs;
	struct hg_config	*cf;
	char			*path = NULL;
	size_t			 i;

	errors_init(&errs);
	if ((cf = config_load(file, &errs)) == NULL) {
		for (i = 0; i < errs.er_count; i++)
			fprintf(stderr, "%s\n", errs.er_msgs[i]);
	} else if (cf->cf_users_file == NULL)
		fprintf(stderr, "hushgate: %s sets no auth.basic.users_file "
		    "(or give --users-file)\n", file);
	else
		path = xstrdup(cf->cf_users_file);
	errors_free(&errs);
	config_unref(cf);
	return (path);
}

/*
 * Edit the file: drop the line of name (and, with line, put line in its
 * place or at the end). Returns the new contents; *found says whether
 * name had a line.
 */
static char *
edit(const char *buf, size_t len, const char *name, const char *line,
    size_t *outlen, int *found)
{
	struct hg_userline	 ul;
	const char		*p = buf, *end = buf + len, *eol, *why;
	size_t			 extra = line != NULL ? strlen(line) : 0;
	char			*out = xmalloc(len + extra + 2);
	size_t			 o = 0, n;
	unsigned		 col;

	*found = 0;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		n = eol != NULL ? (size_t)(eol - p) + 1 : (size_t)(end - p);
		if (users_parse_line(p, eol != NULL ? n - 1 : n, &ul, &why,
		    &col) == 1 && ul.ul_namelen == strlen(name) &&
		    memcmp(ul.ul_name, name, ul.ul_namelen) == 0) {
			*found = 1;
			if (line != NULL) {
				memcpy(out + o, line, strlen(line));
				o += strlen(line);
			}
		} else {
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	if (line != NULL && !*found) {
		if (o > 0 && out[o - 1] != '\n')
			out[o++] = '\n';
		memcpy(out + o, line, strlen(line));
		o += strlen(line);
	}
	*outlen = o;
	return (out);
}

int
users_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "users-file", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	struct hg_errors	 errs;
	struct hg_user		*users;
	struct stat		 st;
	const char		*cmd, *name = NULL;
	const char		*config = HG_DEFAULT_CONFIG;
	char			*path = NULL, *buf = NULL, *out = NULL;
	char			*hash = NULL, *line = NULL;
	char			 pass[HG_MAX_PASSWORD + 2];
	size_t			 len, outlen, nusers, i;
	int			 ch, rc = 1, found, exists;

	memset(&st, 0, sizeof st);
	if (argc < 2) {
		users_usage();
		return (2);
	}
	cmd = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'u':
			free(path);
			path = xstrdup(optarg);
			break;
		default:
			users_usage();
			free(path);
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "list") == 0 ? argc != 0 :
	    (strcmp(cmd, "add") != 0 && strcmp(cmd, "del") != 0) ||
	    argc != 1) {
		users_usage();
		free(path);
		return (2);
	}
	if (argc == 1) {
		name = argv[0];
		if (!user_name_valid(name, strlen(name))) {
			fprintf(stderr, "hushgate: '%s' is not a user name (1 "
			    "to %d printable characters, no ':' or white "
			    "space)\n", name, HG_MAX_USER);
			free(path);
			return (2);
		}
	}
	if (path == NULL && (path = config_users_file(config)) == NULL)
		return (1);
	if ((buf = slurp(path, &len, strcmp(cmd, "add") == 0, &st,
	    &exists)) == NULL)
		goto out;
	/* An existing file with mistakes is not edited. */
	errors_init(&errs);
	if (users_parse(path, buf, len, &users, &nusers, &errs) != 0) {
		for (i = 0; i < errs.er_count; i++)
			fprintf(stderr, "%s\n", errs.er_msgs[i]);
		errors_free(&errs);
		goto out;
	}
	errors_free(&errs);
	if (strcmp(cmd, "list") == 0) {
		for (i = 0; i < nusers; i++)
			printf("%s\n", users[i].us_name);
		users_free(users, nusers);
		rc = 0;
		goto out;
	}
	users_free(users, nusers);
	if (strcmp(cmd, "add") == 0) {
		if (get_password(name, pass, sizeof pass) != 0)
			goto out;
		hash = hash_password(pass);
		explicit_bzero(pass, sizeof pass);
		if (hash == NULL)
			goto out;
		xasprintf(&line, "%s:%s\n", name, hash);
	}
	out = edit(buf, len, name, line, &outlen, &found);
	if (line == NULL && !found) {
		fprintf(stderr, "hushgate: %s: no user '%s'\n", path, name);
		goto out;
	}
	if (write_atomic(path, out, outlen, &st, exists) != 0)
		goto out;
	printf("%s %s\n", line == NULL ? "deleted" : found ? "updated" :
	    "added", name);
	rc = 0;
out:
	free(path);
	free(buf);
	free(out);
	free(hash);
	free(line);
	return (rc);
}
