/*
 * test_listsrc.c -- the pure parts of url: lists, from tests/data/lists.tsv:
 * URLs, sizes, ratios, the shrink guard, entry differences, the cache
 * metadata file and the response head of a download.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/rules.h"
#include "proxy/proxy.h"
#include "unit.h"

static int
is_error(const struct unit_line *ul, size_t field)
{
	return (strcmp(ul->ul_fields[field], "ERROR") == 0);
}

/* A "WORD" column after ERROR: the reason must contain it. */
static void
check_why(const struct unit_line *ul, size_t field, const char *why)
{
	if (ul->ul_nfields > field && strstr(why, ul->ul_fields[field]) ==
	    NULL)
		fail_msg("reason '%s' lacks '%s'", why, ul->ul_fields[field]);
}

/* url<TAB>INPUT<TAB>HOST<TAB>PORT<TAB>PATH, or ERROR<TAB>WORD */
static void
test_url_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	struct hg_url		 u;
	const char		*why = NULL;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = url_parse(in.ub_buf, &u, &why);
	if (is_error(ul, 2)) {
		if (rc == 0)
			fail_msg("'%s' accepted: %s %u %s", in.ub_buf,
			    u.u_host, u.u_port, u.u_path);
		check_why(ul, 3, why);
		return;
	}
	if (rc != 0)
		fail_msg("'%s' refused: %s", in.ub_buf, why);
	assert_true(ul->ul_nfields >= 5);
	assert_string_equal(u.u_host, ul->ul_fields[2]);
	assert_int_equal(u.u_port, strtoul(ul->ul_fields[3], NULL, 10));
	assert_string_equal(u.u_path, ul->ul_fields[4]);
}

/* size<TAB>INPUT<TAB>BYTES|ERROR */
static void
test_size_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	uint64_t		 v = 4242;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = size_parse(in.ub_buf, &v);
	if (is_error(ul, 2)) {
		if (rc == 0)
			fail_msg("'%s' accepted as %llu", in.ub_buf,
			    (unsigned long long)v);
		return;
	}
	assert_int_equal(rc, 0);
	assert_true(v == strtoull(ul->ul_fields[2], NULL, 10));
}

/* ratio<TAB>INPUT<TAB>VALUE|ERROR */
static void
test_ratio_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	double			 v = -1;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = ratio_parse(in.ub_buf, &v);
	if (is_error(ul, 2)) {
		if (rc == 0)
			fail_msg("'%s' accepted as %g", in.ub_buf, v);
		return;
	}
	assert_int_equal(rc, 0);
	assert_true(v == strtod(ul->ul_fields[2], NULL));
}

/* shrink<TAB>OLD<TAB>NEW<TAB>MAX_SHRINK<TAB>ok|refused */
static void
test_shrink_line(void **state)
{
	const struct unit_line	*ul = *state;
	int			 ok;

	ok = listsrc_shrink_ok(strtoull(ul->ul_fields[1], NULL, 10),
	    strtoull(ul->ul_fields[2], NULL, 10),
	    strtod(ul->ul_fields[3], NULL));
	assert_string_equal(ok ? "ok" : "refused", ul->ul_fields[4]);
}

/* diff<TAB>OLD<TAB>NEW<TAB>ADDED<TAB>REMOVED (unescaped lists) */
static void
test_diff_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 a, b;
	size_t			 added, removed;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &a), 0);
	assert_int_equal(unit_unescape(ul->ul_fields[2], &b), 0);
	listsrc_diff(a.ub_buf, a.ub_len, b.ub_buf, b.ub_len, &added,
	    &removed);
	assert_int_equal(added, strtoul(ul->ul_fields[3], NULL, 10));
	assert_int_equal(removed, strtoul(ul->ul_fields[4], NULL, 10));
}

/*
 * listmeta_read of in written to a file agrees with listmeta_parse (rc,
 * lm); once the file is gone, it fails without a reason.
 */
static void
check_meta_read(const struct unit_bytes *in, int rc,
    const struct hg_listmeta *lm)
{
	struct hg_listmeta	 got;
	const char		*why, *dir = getenv("TMPDIR");
	char			*path;
	int			 fd;

	path = unit_printf("%s/hg_unit_meta.XXXXXX", dir != NULL ? dir :
	    "/tmp");
	if ((fd = mkstemp(path)) == -1)
		fail_msg("mkstemp %s", path);
	assert_true(write(fd, in->ub_buf, in->ub_len) == (ssize_t)in->ub_len);
	close(fd);
	assert_int_equal(listmeta_read(path, &got, &why), rc);
	if (rc == 0)
		assert_memory_equal(lm, &got, sizeof got);
	else
		assert_non_null(why);
	unlink(path);
	assert_int_equal(listmeta_read(path, &got, &why), -1);
	assert_null(why);
}

/*
 * meta<TAB>INPUT<TAB>ETAG<TAB>LAST-MODIFIED<TAB>FETCHED<TAB>ENTRIES, or
 * ERROR<TAB>WORD. A parsed file is formatted again and must parse to the
 * same values; read from a file, it must give the same.
 */
static void
test_meta_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	struct hg_listmeta	 lm, again;
	const char		*why = NULL;
	char			*text;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = listmeta_parse(in.ub_buf, in.ub_len, &lm, &why);
	check_meta_read(&in, rc, &lm);
	if (is_error(ul, 2)) {
		if (rc == 0)
			fail_msg("accepted");
		check_why(ul, 3, why);
		return;
	}
	if (rc != 0)
		fail_msg("refused: %s", why);
	assert_true(ul->ul_nfields >= 6);
	assert_string_equal(lm.lm_etag, strcmp(ul->ul_fields[2], "-") == 0 ?
	    "" : ul->ul_fields[2]);
	assert_string_equal(lm.lm_modified, strcmp(ul->ul_fields[3], "-") ==
	    0 ? "" : ul->ul_fields[3]);
	assert_true(lm.lm_fetched == strtoull(ul->ul_fields[4], NULL, 10));
	assert_true(lm.lm_entries == strtoull(ul->ul_fields[5], NULL, 10));
	text = listmeta_format(&lm, "https://list.test/");
	rc = listmeta_parse(text, strlen(text), &again, &why);
	free(text);
	if (rc != 0)
		fail_msg("formatted file refused: %s", why);
	assert_memory_equal(&lm, &again, sizeof lm);
}

static const char *
body_name(enum body_kind k)
{
	switch (k) {
	case BODY_NONE:
		return ("none");
	case BODY_LENGTH:
		return ("length");
	case BODY_CHUNKED:
		return ("chunked");
	case BODY_CLOSE:
		return ("close");
	}
	return ("?");
}

static char *
span(const char *p, size_t len)
{
	return (p == NULL ? unit_strdup("-") : unit_printf("%.*s", (int)len,
	    p));
}

/*
 * head<TAB>INPUT<TAB>STATUS<TAB>BODY[:LENGTH]<TAB>LOCATION<TAB>ETAG, or
 * ERROR<TAB>WORD (http_fetch_head on the unescaped input)
 */
static void
test_head_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	struct http_fetch_head	 fh;
	const char		*why = NULL;
	char			*body;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = http_fetch_head(in.ub_buf, in.ub_len, &fh, &why);
	if (is_error(ul, 2)) {
		if (rc == 0)
			fail_msg("accepted with status %d", fh.fh_status);
		check_why(ul, 3, why);
		return;
	}
	if (rc != 0)
		fail_msg("refused: %s", why);
	assert_true(ul->ul_nfields >= 6);
	assert_int_equal(fh.fh_status, strtol(ul->ul_fields[2], NULL, 10));
	body = fh.fh_body == BODY_LENGTH ? unit_printf("length:%llu",
	    (unsigned long long)fh.fh_length) :
	    unit_strdup(body_name(fh.fh_body));
	assert_string_equal(body, ul->ul_fields[3]);
	assert_string_equal(span(fh.fh_location, fh.fh_locationlen),
	    ul->ul_fields[4]);
	assert_string_equal(span(fh.fh_etag, fh.fh_etaglen),
	    ul->ul_fields[5]);
}

static const struct unit_kind kinds[] = {
	{ "url", 3, test_url_line },
	{ "size", 3, test_size_line },
	{ "ratio", 3, test_ratio_line },
	{ "shrink", 5, test_shrink_line },
	{ "diff", 5, test_diff_line },
	{ "meta", 3, test_meta_line },
	{ "head", 3, test_head_line },
};

void
test_listsrc_group(struct unit_group *g)
{
	unit_add_table(g, "lists.tsv", kinds, sizeof kinds / sizeof kinds[0]);
}
