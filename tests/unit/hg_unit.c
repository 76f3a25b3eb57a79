/*
 * hg_unit.c -- the unit test binary: builds one cmocka group per module from
 * the tables in tests/data/, runs every group and returns the total number
 * of failed cases. Also the helpers the groups share: table reading,
 * unescaping, directory listing, a JSON checker.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* Everything allocated for the cases lives until the end of main. */
static void	**keep;
static size_t	  nkeep, capkeep;

static void
die(const char *what)
{
	fprintf(stderr, "hg_unit: %s\n", what);
	exit(2);
}

void *
unit_keep(void *p)
{
	if (p == NULL)
		die("out of memory");
	if (nkeep == capkeep) {
		capkeep = capkeep ? capkeep * 2 : 256;
		keep = realloc(keep, capkeep * sizeof *keep);
		if (keep == NULL)
			die("out of memory");
	}
	keep[nkeep++] = p;
	return (p);
}

static void
keep_free(void)
{
	size_t	i;

	for (i = 0; i < nkeep; i++)
		free(keep[i]);
	free(keep);
	keep = NULL;
	nkeep = capkeep = 0;
}

/* A malloc'd copy of buf with no byte after it, so overreads are caught. */
void *
unit_exact_copy(const void *buf, size_t len)
{
	void	*p = malloc(len ? len : 1);

	if (p == NULL)
		die("out of memory");
	memcpy(p, buf, len);
	return (p);
}

char *
unit_strdup(const char *s)
{
	return (unit_keep(strdup(s)));
}

char *
unit_printf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	return (unit_keep(s));
}

int
unit_has_prefix(const char *s, const char *prefix)
{
	return (strncmp(s, prefix, strlen(prefix)) == 0);
}

/* Add one case to the group; name is copied. */
void
unit_add(struct unit_group *g, const char *name, CMUnitTestFunction fn,
    void *state)
{
	struct CMUnitTest	*t;

	if (g->ug_count == g->ug_cap) {
		g->ug_cap = g->ug_cap ? g->ug_cap * 2 : 64;
		g->ug_tests = realloc(g->ug_tests,
		    g->ug_cap * sizeof *g->ug_tests);
		if (g->ug_tests == NULL)
			die("out of memory");
	}
	t = &g->ug_tests[g->ug_count++];
	memset(t, 0, sizeof *t);
	t->name = unit_strdup(name);
	t->test_func = fn;
	t->initial_state = state;
}

/* A case that always fails: a table that cannot be read or parsed. */
static void
test_broken_table(void **state)
{
	fail_msg("%s", (const char *)*state);
}

void
unit_add_error(struct unit_group *g, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	unit_keep(msg);
	unit_add(g, msg, test_broken_table, msg);
}

char *
unit_data_path(const char *rel)
{
	return (unit_printf("%s/%s", HG_TEST_DATA, rel));
}

/* Read a whole file (NUL-terminated); NULL on error. The caller frees. */
char *
unit_read_file(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((buf = realloc(buf, cap)) == NULL)
				die("out of memory");
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		if (n == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return (NULL);
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (buf);
}

/*
 * Read the table rel (relative to tests/data): one case a line, fields
 * separated by tabs; blank lines and lines starting with '#' are skipped.
 * Returns the number of lines (kept until exit), or 0 with a failing case
 * added to g when the file cannot be read.
 */
size_t
unit_read_table(struct unit_group *g, const char *rel,
    struct unit_line ***out)
{
	struct unit_line	**lines = NULL, *ul;
	char			 *buf, *p, *eol, *f;
	size_t			  n = 0, len;
	unsigned		  lineno = 0;

	*out = NULL;
	if ((buf = unit_read_file(unit_data_path(rel), &len)) == NULL) {
		unit_add_error(g, "%s: cannot read: %s", rel, strerror(errno));
		return (0);
	}
	unit_keep(buf);
	if (strlen(buf) != len) {
		unit_add_error(g, "%s: NUL byte in table (use \\0)", rel);
		return (0);
	}
	for (p = buf; *p != '\0'; p = eol) {
		lineno++;
		eol = strchr(p, '\n');
		if (eol != NULL)
			*eol++ = '\0';
		else
			eol = p + strlen(p);
		if (*p == '\0' || *p == '#')
			continue;
		ul = unit_keep(calloc(1, sizeof *ul));
		ul->ul_file = unit_strdup(rel);
		ul->ul_lineno = lineno;
		ul->ul_text = unit_strdup(p);
		for (f = p; ul->ul_nfields < UNIT_MAX_FIELDS; ) {
			ul->ul_fields[ul->ul_nfields++] = f;
			if ((f = strchr(f, '\t')) == NULL)
				break;
			*f++ = '\0';
		}
		lines = realloc(lines, (n + 1) * sizeof *lines);
		if (lines == NULL)
			die("out of memory");
		lines[n++] = ul;
	}
	if (lines != NULL)
		unit_keep(lines);
	*out = lines;
	if (n == 0)
		unit_add_error(g, "%s: no cases", rel);
	return (n);
}

/*
 * Add a case for each line of the table file, by the kind its first field
 * names; a line of no known kind, or with too few fields, is an error.
 */
void
unit_add_table(struct unit_group *g, const char *file,
    const struct unit_kind *kinds, size_t nkinds)
{
	struct unit_line	**lines;
	size_t			  n, i, k;

	n = unit_read_table(g, file, &lines);
	for (i = 0; i < n; i++) {
		for (k = 0; k < nkinds; k++)
			if (strcmp(lines[i]->ul_fields[0],
			    kinds[k].uk_name) == 0)
				break;
		if (k == nkinds ||
		    lines[i]->ul_nfields < kinds[k].uk_minfields) {
			unit_add_error(g, "%s:%u: bad line '%s'", file,
			    lines[i]->ul_lineno, lines[i]->ul_text);
			continue;
		}
		unit_add(g, unit_case_name(lines[i], lines[i]->ul_text +
		    strlen(lines[i]->ul_fields[0]) + 1), kinds[k].uk_fn,
		    lines[i]);
	}
}

/* "file:line: what", cut to UNIT_MAX_NAME characters. */
char *
unit_case_name(const struct unit_line *ul, const char *what)
{
	char	*s = unit_printf("%s:%u: %s", ul->ul_file, ul->ul_lineno, what);
	char	*t;

	for (t = s; *t != '\0'; t++)
		if (*t == '\t')
			*t = ' ';
	if (strlen(s) > UNIT_MAX_NAME)
		memcpy(s + UNIT_MAX_NAME - 3, "...", 4);
	return (s);
}

int
unit_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

static int
append(struct unit_bytes *b, size_t *cap, const char *s, size_t n)
{
	while (b->ub_len + n + 1 > *cap) {
		*cap = *cap ? *cap * 2 : 256;
		if ((b->ub_buf = realloc(b->ub_buf, *cap)) == NULL)
			die("out of memory");
	}
	memcpy(b->ub_buf + b->ub_len, s, n);
	b->ub_len += n;
	b->ub_buf[b->ub_len] = '\0';
	return (0);
}

static int
unescape_into(const char *s, size_t slen, struct unit_bytes *b, size_t *cap)
{
	const char	*end = s + slen, *close;
	char		 c;
	int		 hi, lo;
	unsigned long	 count, i;
	char		*num_end;
	struct unit_bytes inner = { NULL, 0 };
	size_t		 innercap = 0;

	while (s < end) {
		if (end - s >= 5 && memcmp(s, "{rep:", 5) == 0) {
			/* {rep:N:TEXT}: TEXT (itself unescaped) N times */
			count = strtoul(s + 5, &num_end, 10);
			if (num_end == s + 5 || *num_end != ':' ||
			    count > 100000)
				return (-1);
			close = memchr(num_end, '}', (size_t)(end - num_end));
			if (close == NULL)
				return (-1);
			inner.ub_len = 0;
			if (unescape_into(num_end + 1,
			    (size_t)(close - num_end - 1), &inner,
			    &innercap) != 0) {
				free(inner.ub_buf);
				return (-1);
			}
			for (i = 0; i < count; i++)
				append(b, cap, inner.ub_buf, inner.ub_len);
			s = close + 1;
			continue;
		}
		if (*s != '\\') {
			append(b, cap, s++, 1);
			continue;
		}
		if (++s == end)
			goto bad;
		switch (*s++) {
		case '\\':
			c = '\\';
			break;
		case 't':
			c = '\t';
			break;
		case 'r':
			c = '\r';
			break;
		case 'n':
			c = '\n';
			break;
		case '0':
			c = '\0';
			break;
		case 's':
			c = ' ';
			break;
		case '{':
			c = '{';
			break;
		case 'x':
			if (end - s < 2 || (hi = unit_hexval(s[0])) < 0 ||
			    (lo = unit_hexval(s[1])) < 0)
				goto bad;
			c = (char)(hi << 4 | lo);
			s += 2;
			break;
		default:
			goto bad;
		}
		append(b, cap, &c, 1);
	}
	if (b->ub_buf == NULL)
		append(b, cap, "", 0);
	free(inner.ub_buf);
	return (0);
bad:
	free(inner.ub_buf);
	return (-1);
}

/*
 * Unescape a table field: \\ \t \r \n \0 \s (space) \{ \xHH, and
 * {rep:N:TEXT} for TEXT repeated N times. Returns 0, or -1 on a bad
 * escape. The buffer is kept until exit.
 */
int
unit_unescape(const char *s, struct unit_bytes *b)
{
	size_t	cap = 0;

	b->ub_buf = NULL;
	b->ub_len = 0;
	if (unescape_into(s, strlen(s), b, &cap) != 0) {
		free(b->ub_buf);
		b->ub_buf = NULL;
		return (-1);
	}
	unit_keep(b->ub_buf);
	return (0);
}

/* A printable rendering of buf[0..len) for messages (kept until exit). */
char *
unit_show(const char *buf, size_t len)
{
	char	*out, *o;
	size_t	 i;

	if (len > 200)
		len = 200;
	out = o = unit_keep(malloc(len * 4 + 1));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (c >= 0x20 && c < 0x7f)
			*o++ = (char)c;
		else
			o += sprintf(o, "\\x%02x", c);
	}
	*o = '\0';
	return (out);
}

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * Names of the regular entries in tests/data/rel ending in suffix, sorted
 * (kept until exit). NULL when the directory cannot be read.
 */
char **
unit_list_dir(const char *rel, const char *suffix, size_t *np)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL;
	size_t		  n = 0, len, slen = strlen(suffix);

	*np = 0;
	if ((d = opendir(unit_data_path(rel))) == NULL)
		return (NULL);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= slen ||
		    strcmp(de->d_name + len - slen, suffix) != 0)
			continue;
		names = realloc(names, (n + 1) * sizeof *names);
		if (names == NULL)
			die("out of memory");
		names[n++] = unit_strdup(de->d_name);
	}
	closedir(d);
	if (names == NULL)
		names = malloc(sizeof *names);
	unit_keep(names);
	qsort(names, n, sizeof *names, cmp_str);
	*np = n;
	return (names);
}

/*
 * A small JSON checker (RFC 8259), strict about what the decision log
 * must be: printable ASCII only outside escapes.
 */
struct json {
	const char	*js_p;
	const char	*js_end;
	int		 js_depth;
};

static int	json_value(struct json *);

static void
json_ws(struct json *j)
{
	while (j->js_p < j->js_end && (*j->js_p == ' ' || *j->js_p == '\t' ||
	    *j->js_p == '\n' || *j->js_p == '\r'))
		j->js_p++;
}

/* The inside of a string, up to (not including) the closing quote. */
static int
json_chars(struct json *j)
{
	int	i;

	while (j->js_p < j->js_end && *j->js_p != '"') {
		unsigned char c = (unsigned char)*j->js_p++;
		if (c < 0x20 || c >= 0x7f)
			return (-1);
		if (c != '\\')
			continue;
		if (j->js_p == j->js_end)
			return (-1);
		c = (unsigned char)*j->js_p++;
		if (c == 'u') {
			if (j->js_end - j->js_p < 4)
				return (-1);
			for (i = 0; i < 4; i++)
				if (unit_hexval(j->js_p[i]) < 0)
					return (-1);
			j->js_p += 4;
		} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
			return (-1);
	}
	return (0);
}

static int
json_string(struct json *j)
{
	if (j->js_p == j->js_end || *j->js_p != '"')
		return (-1);
	j->js_p++;
	if (json_chars(j) != 0 || j->js_p == j->js_end)
		return (-1);
	j->js_p++;
	return (0);
}

static int
json_number(struct json *j)
{
	const char	*start;

	if (j->js_p < j->js_end && *j->js_p == '-')
		j->js_p++;
	if (j->js_p == j->js_end || !isdigit((unsigned char)*j->js_p))
		return (-1);
	if (*j->js_p == '0')
		j->js_p++;
	else
		while (j->js_p < j->js_end && isdigit((unsigned char)*j->js_p))
			j->js_p++;
	if (j->js_p < j->js_end && *j->js_p == '.') {
		start = ++j->js_p;
		while (j->js_p < j->js_end && isdigit((unsigned char)*j->js_p))
			j->js_p++;
		if (j->js_p == start)
			return (-1);
	}
	if (j->js_p < j->js_end && (*j->js_p == 'e' || *j->js_p == 'E')) {
		j->js_p++;
		if (j->js_p < j->js_end && (*j->js_p == '+' || *j->js_p == '-'))
			j->js_p++;
		start = j->js_p;
		while (j->js_p < j->js_end && isdigit((unsigned char)*j->js_p))
			j->js_p++;
		if (j->js_p == start)
			return (-1);
	}
	return (0);
}

static int
json_word(struct json *j, const char *w)
{
	size_t	n = strlen(w);

	if ((size_t)(j->js_end - j->js_p) < n || memcmp(j->js_p, w, n) != 0)
		return (-1);
	j->js_p += n;
	return (0);
}

static int
json_container(struct json *j, char close)
{
	j->js_p++;
	json_ws(j);
	if (j->js_p < j->js_end && *j->js_p == close) {
		j->js_p++;
		return (0);
	}
	for (;;) {
		json_ws(j);
		if (close == '}') {
			if (json_string(j) != 0)
				return (-1);
			json_ws(j);
			if (j->js_p == j->js_end || *j->js_p++ != ':')
				return (-1);
		}
		if (json_value(j) != 0)
			return (-1);
		json_ws(j);
		if (j->js_p == j->js_end)
			return (-1);
		if (*j->js_p == ',') {
			j->js_p++;
			continue;
		}
		if (*j->js_p++ != close)
			return (-1);
		return (0);
	}
}

static int
json_value(struct json *j)
{
	int	rc;

	json_ws(j);
	if (j->js_p == j->js_end || ++j->js_depth > 64)
		return (-1);
	switch (*j->js_p) {
	case '{':
		rc = json_container(j, '}');
		break;
	case '[':
		rc = json_container(j, ']');
		break;
	case '"':
		rc = json_string(j);
		break;
	case 't':
		rc = json_word(j, "true");
		break;
	case 'f':
		rc = json_word(j, "false");
		break;
	case 'n':
		rc = json_word(j, "null");
		break;
	default:
		rc = json_number(j);
		break;
	}
	j->js_depth--;
	return (rc);
}

/* Is s[0..len) valid as the inside of a JSON string? */
int
unit_json_string_valid(const char *s, size_t len)
{
	struct json	j = { s, s + len, 0 };

	return (json_chars(&j) == 0 && j.js_p == j.js_end);
}

/* Is s[0..len) exactly one JSON object (surrounding blanks allowed)? */
int
unit_json_object_valid(const char *s, size_t len)
{
	struct json	j = { s, s + len, 0 };

	json_ws(&j);
	if (j.js_p == j.js_end || *j.js_p != '{' || json_value(&j) != 0)
		return (0);
	json_ws(&j);
	return (j.js_p == j.js_end);
}

static int
run_group(const char *name, void (*build)(struct unit_group *))
{
	struct unit_group	g;
	int			rc;

	memset(&g, 0, sizeof g);
	g.ug_name = name;
	build(&g);
	/* cmocka_run_group_tests() with a table built at run time. */
	rc = _cmocka_run_group_tests(name, g.ug_tests, g.ug_count, NULL, NULL);
	free(g.ug_tests);
	return (rc);
}

int
main(void)
{
	int	failed = 0;

	failed += run_group("host", test_host_group);
	failed += run_group("rules", test_rules_group);
	failed += run_group("config", test_config_group);
	failed += run_group("http", test_http_group);
	failed += run_group("gateway", test_gateway_group);
	failed += run_group("listsrc", test_listsrc_group);
	failed += run_group("pac", test_pac_group);
	failed += run_group("certs", test_certs_group);
	failed += run_group("auth", test_auth_group);
	failed += run_group("regfile", test_regfile_group);
	failed += run_group("winhttp", test_winhttp_group);
	failed += run_group("conform", test_conform_group);
	failed += run_group("ldap", test_ldap_group);
	failed += run_group("upstream", test_upstream_group);
	keep_free();
	/*
	 * The exit status is the number of failed cases, held below 77:
	 * the test driver reads 77 as "skipped" and 99 as a hard error.
	 */
	return (failed > 76 ? 76 : failed);
}

/* Field i of a table line, unescaped (a case fails when it is missing
 * or badly escaped). */
struct unit_bytes
unit_field(const struct unit_line *ul, size_t i)
{
	struct unit_bytes	b;

	assert_true(i < ul->ul_nfields);
	assert_int_equal(unit_unescape(ul->ul_fields[i], &b), 0);
	return (b);
}
