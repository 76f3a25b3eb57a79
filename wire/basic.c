/*
 * basic.c -- the credentials of a Basic Proxy-Authorization header
 * (RFC 7617): base64 decoded, split at the first colon.
 */
#include "config.h"

#include <string.h>
#include <sys/types.h>

#include "wire/wire.h"

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/*
 * Decode base64 (RFC 4648, padded, no line breaks, no bits left over)
 * from in[0..len) into out (size n, NUL-terminated). Returns the decoded
 * length or -1.
 */
static ssize_t
b64_decode(const char *in, size_t len, char *out, size_t n)
{
	size_t		 i, o = 0, pad = 0;
	uint32_t	 acc = 0;
	int		 v;

	if (len == 0 || len % 4 != 0)
		return (-1);
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++) {
		if ((v = b64_value((unsigned char)in[i])) < 0)
			return (-1);
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			if (o + 3 >= n)
				return (-1);
			out[o++] = (char)(acc >> 16);
			out[o++] = (char)(acc >> 8);
			out[o++] = (char)acc;
			acc = 0;
		}
	}
	if (o + 2 >= n)
		return (-1);
	if (pad == 2) {
		if (acc & 0xf)
			return (-1);	/* bits that do not belong */
		out[o++] = (char)(acc >> 4);
	} else if (pad == 1) {
		if (acc & 0x3)
			return (-1);
		out[o++] = (char)(acc >> 10);
		out[o++] = (char)(acc >> 2);
	}
	out[o] = '\0';
	return ((ssize_t)o);
}

/*
 * A Proxy-Authorization value "Basic BASE64(user:password)" (scheme in
 * any case, RFC 7617). Fills user (size usz) and pass (size psz), both
 * NUL-terminated. Returns 0, or -1 with *why. The user name may not hold
 * control characters; the password may not hold NUL or CR/LF. Buffers
 * that held the password are wiped.
 */
int
basic_decode(const char *value, size_t len, char *user, size_t usz,
    char *pass, size_t psz, const char **why)
{
	char		 buf[HG_MAX_BASIC];
	const char	*p = value, *end = value + len, *colon;
	ssize_t		 n;
	size_t		 ulen, i;
	int		 rc = -1;

	user[0] = pass[0] = '\0';
	if (len < 6 || strncasecmp(value, "basic", 5) != 0 ||
	    (value[5] != ' ' && value[5] != '\t')) {
		*why = "not the Basic scheme";
		return (-1);
	}
	for (p += 5; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if ((size_t)(end - p) > (sizeof buf - 1) / 3 * 4) {
		*why = "credentials too long";
		return (-1);
	}
	if ((n = b64_decode(p, (size_t)(end - p), buf, sizeof buf)) < 0) {
		*why = "bad base64";
		return (-1);
	}
	if ((colon = memchr(buf, ':', (size_t)n)) == NULL) {
		*why = "no ':' between user and password";
		goto out;
	}
	ulen = (size_t)(colon - buf);
	if (ulen == 0 || ulen >= usz || (size_t)n - ulen - 1 >= psz) {
		*why = ulen == 0 ? "empty user name" : "user name or password "
		    "too long";
		goto out;
	}
	for (i = 0; i < (size_t)n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\0' || c == '\r' || c == '\n' ||
		    (i < ulen && (c < 0x20 || c == 0x7f))) {
			*why = "control character in credentials";
			goto out;
		}
	}
	memcpy(user, buf, ulen);
	user[ulen] = '\0';
	memcpy(pass, colon + 1, (size_t)n - ulen - 1);
	pass[(size_t)n - ulen - 1] = '\0';
	rc = 0;
out:
	explicit_bzero(buf, sizeof buf);
	return (rc);
}

/*
 * A Proxy-Authorization value "Negotiate BASE64" (RFC 4559, the scheme in
 * any case): the token it carries, decoded into out (size n). Returns
 * its length; 0 when the value is of another scheme; -1 with *why when
 * it is Negotiate but malformed or larger than out.
 */
ssize_t
negotiate_decode(const char *value, size_t len, char *out, size_t n,
    const char **why)
{
	const char	*p = value, *end = value + len;
	ssize_t		 r;

	if (len < 9 || strncasecmp(value, "negotiate", 9) != 0 ||
	    (len > 9 && value[9] != ' ' && value[9] != '\t'))
		return (0);
	for (p += 9; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p == end) {
		*why = "Negotiate without a token";
		return (-1);
	}
	if ((size_t)(end - p) / 4 * 3 + 3 > n) {
		*why = "Negotiate token too long";
		return (-1);
	}
	if ((r = b64_decode(p, (size_t)(end - p), out, n)) <= 0) {
		*why = "Negotiate token is not base64";
		return (-1);
	}
	return (r);
}

