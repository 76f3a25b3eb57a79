/*
 * ldapstr.c -- the text of directory lookups (ldap:, clients.ldap_group),
 * without the directory: whether a URL, a DN, an attribute name or a
 * user_filter is one the lookups can use, and search filters built from
 * a user name or a DN with the characters that mean something in a
 * filter escaped (RFC 4515). The loader checks the configuration with
 * these; the lookup threads (proxy/ldapgroups.c) build their filters.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

static int
is_alpha(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

static int
is_digit(int c)
{
	return (c >= '0' && c <= '9');
}

static int
is_hex(int c)
{
	return (is_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F'));
}

/*
 * An attribute description as a filter or a DN names it: a name (a
 * letter, then letters, digits and '-') or a numeric OID (1.2.840...).
 * Returns its length at s, 0 when there is none.
 */
static size_t
attr_len(const char *s)
{
	size_t	i = 0;

	if (is_alpha((unsigned char)s[0])) {
		while (is_alpha((unsigned char)s[i]) ||
		    is_digit((unsigned char)s[i]) || s[i] == '-')
			i++;
		return (i);
	}
	for (;;) {
		if (!is_digit((unsigned char)s[i]))
			return (0);
		while (is_digit((unsigned char)s[i]))
			i++;
		if (s[i] != '.' || !is_digit((unsigned char)s[i + 1]))
			return (i);
		i++;
	}
}

/* member_attribute: an attribute name or OID alone. */
int
ldapstr_attr_valid(const char *s)
{
	size_t	n = attr_len(s);

	return (n > 0 && s[n] == '\0' && n <= 64);
}

/*
 * A distinguished name as RFC 4514 writes it (cn=staff,ou=groups,dc=x),
 * with spaces after a ',' or around '=' allowed as most tools allow them:
 * RDNs of type=value joined by ',' (or '+' within one RDN), a value's
 * special characters escaped with '\' (or two hex digits after it), or a
 * value written #HEX. Returns 0, or -1 with why (static text).
 */
int
ldapstr_dn_valid(const char *s, const char **why)
{
	const char	*p = s;
	size_t		 n;

	if (*s == '\0') {
		*why = "empty";
		return (-1);
	}
	if (strlen(s) > HG_MAX_LDAP_DN) {
		*why = "longer than 1024 bytes";
		return (-1);
	}
	for (;;) {
		while (*p == ' ')
			p++;
		if ((n = attr_len(p)) == 0) {
			*why = "expected an attribute name (such as cn, ou, "
			    "dc) at the start of each part";
			return (-1);
		}
		p += n;
		while (*p == ' ')
			p++;
		if (*p++ != '=') {
			*why = "expected '=' after the attribute name";
			return (-1);
		}
		while (*p == ' ')
			p++;
		if (*p == '#') {
			for (p++, n = 0; is_hex((unsigned char)p[0]) &&
			    is_hex((unsigned char)p[1]); p += 2)
				n++;
			if (n == 0) {
				*why = "expected hex digits after '#'";
				return (-1);
			}
		} else {
			for (n = 0; *p != '\0' && *p != ',' && *p != '+';
			    p++, n++) {
				if ((unsigned char)*p < 0x20 || *p == 0x7f) {
					*why = "control character";
					return (-1);
				}
				if (*p == '"' || *p == ';' || *p == '<' ||
				    *p == '>' || *p == '=') {
					*why = "a special character ('\"', "
					    "';', '<', '>', '=') not escaped "
					    "with '\\'";
					return (-1);
				}
				if (*p != '\\')
					continue;
				if (is_hex((unsigned char)p[1]) &&
				    is_hex((unsigned char)p[2]))
					p += 2;
				else if (p[1] != '\0' &&
				    strchr(" \"#+,;<=>\\", p[1]) != NULL)
					p++;
				else {
					*why = "'\\' not followed by a special "
					    "character or two hex digits";
					return (-1);
				}
			}
			if (n == 0) {
				*why = "empty value";
				return (-1);
			}
		}
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return (0);
		if (*p != ',' && *p != '+') {
			*why = "expected ',' between the parts";
			return (-1);
		}
		p++;
	}
}

/*
 * One URL of ldap.url: ldap://HOST[:PORT] or ldaps://HOST[:PORT], HOST a
 * name, an IPv4 address or [IPv6], with at most a "/" after it (the
 * search base is ldap.base, not part of the URL). Returns 0, or -1 with
 * why (static text).
 */
int
ldapstr_url_valid(const char *s, const char **why)
{
	const char	*p, *end;
	unsigned long	 port;
	size_t		 n;

	if (strncasecmp(s, "ldap://", 7) == 0)
		p = s + 7;
	else if (strncasecmp(s, "ldaps://", 8) == 0)
		p = s + 8;
	else {
		*why = "expected ldap://HOST[:PORT] or ldaps://HOST[:PORT]";
		return (-1);
	}
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL || end == p + 1) {
			*why = "an IPv6 address needs its closing ']'";
			return (-1);
		}
		for (p++; p < end; p++)
			if (!is_hex((unsigned char)*p) && *p != ':' &&
			    *p != '.') {
				*why = "not an IPv6 address in '[...]'";
				return (-1);
			}
		p++;
	} else {
		for (n = 0; is_alpha((unsigned char)*p) ||
		    is_digit((unsigned char)*p) || *p == '-' || *p == '.';
		    p++)
			n++;
		if (n == 0) {
			*why = "no host name or address";
			return (-1);
		}
		if (n > HG_MAX_HOST) {
			*why = "host name longer than 253 bytes";
			return (-1);
		}
	}
	if (*p == ':') {
		for (p++, port = 0, n = 0; is_digit((unsigned char)*p); p++) {
			if (++n > 5)
				break;
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (n == 0 || n > 5 || port == 0 || port > 65535) {
			*why = "the port is not a number from 1 to 65535";
			return (-1);
		}
	}
	if (*p == '/')
		p++;
	if (*p != '\0') {
		*why = "nothing may follow the host and port (the search "
		    "base is ldap.base)";
		return (-1);
	}
	return (0);
}

/*
 * ldap.user_filter: one filter in parentheses, balanced, where each "%s"
 * is the user name (escaped); at least one, and no other '%' (write a
 * literal one \25). Returns 0, or -1 with why (static text).
 */
int
ldapstr_filter_valid(const char *s, const char **why)
{
	const char	*p;
	int		 depth = 0, subst = 0;

	if (s[0] != '(') {
		*why = "a filter starts with '(', such as \"(uid=%s)\"";
		return (-1);
	}
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*why = "control character";
			return (-1);
		}
		if (*p == '(')
			depth++;
		else if (*p == ')') {
			if (--depth < 0)
				break;
			if (depth == 0 && p[1] != '\0') {
				*why = "text after the filter's closing ')'";
				return (-1);
			}
		} else if (*p == '%') {
			if (p[1] != 's') {
				*why = "'%' other than %s (write a literal one "
				    "\\25)";
				return (-1);
			}
			subst++;
			p++;
		}
	}
	if (depth != 0) {
		*why = "unbalanced parentheses";
		return (-1);
	}
	if (subst == 0) {
		*why = "no %s for the user name";
		return (-1);
	}
	if (p - s > HG_MAX_LDAP_DN) {
		*why = "longer than 1024 bytes";
		return (-1);
	}
	return (0);
}

/*
 * Write s into out (len bytes, NUL included) escaped as a value of a
 * search filter: '*', '(', ')' and '\' as \2a \28 \29 \5c (RFC 4515;
 * a C string holds no NUL), everything else as it is. Returns the length written, or
 * -1 when it does not fit.
 */
ssize_t
ldapstr_escape(const char *s, char *out, size_t len)
{
	size_t	n = 0;

	for (; *s != '\0'; s++) {
		if (*s == '*' || *s == '(' || *s == ')' || *s == '\\') {
			if (n + 3 >= len)
				return (-1);
			snprintf(out + n, 4, "\\%02x", (unsigned char)*s);
			n += 3;
		} else {
			if (n + 1 >= len)
				return (-1);
			out[n++] = *s;
		}
	}
	if (n >= len)
		return (-1);
	out[n] = '\0';
	return ((ssize_t)n);
}

/*
 * The filter of template tmpl (ldapstr_filter_valid()) for value: each
 * "%s" replaced by value escaped. Returns 0, or -1 when it does not fit
 * in len bytes.
 */
int
ldapstr_expand(const char *tmpl, const char *value, char *out, size_t len)
{
	size_t	n = 0;
	ssize_t	w;

	for (; *tmpl != '\0'; tmpl++) {
		if (tmpl[0] == '%' && tmpl[1] == 's') {
			if ((w = ldapstr_escape(value, out + n, len - n)) < 0)
				return (-1);
			n += (size_t)w;
			tmpl++;
			continue;
		}
		if (n + 1 >= len)
			return (-1);
		out[n++] = *tmpl;
	}
	if (n >= len)
		return (-1);
	out[n] = '\0';
	return (0);
}
