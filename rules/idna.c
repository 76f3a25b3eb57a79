/*
 * idna.c -- internationalised names to their ASCII (punycode) form, so
 * that "bücher.example" in a list and "xn--bcher-kva.example" on the wire
 * are one name.
 *
 * Labels are converted with the punycode algorithm of RFC 3492. ASCII
 * letters are lowercased; other characters are taken as they are (no
 * Unicode case folding or normalisation: lists publish names already in
 * that form).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "rules.h"

#define PUNY_BASE	36
#define PUNY_TMIN	1
#define PUNY_TMAX	26
#define PUNY_SKEW	38
#define PUNY_DAMP	700
#define PUNY_BIAS	72
#define PUNY_N		128
#define IDNA_MAX_CP	(HG_MAX_LABEL + 1)

static char
puny_digit(uint32_t d)
{
	return ((char)(d < 26 ? 'a' + d : '0' + (d - 26)));
}

static uint32_t
puny_adapt(uint32_t delta, uint32_t numpoints, int first)
{
	uint32_t	k = 0;

	delta = first ? delta / PUNY_DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
		delta /= PUNY_BASE - PUNY_TMIN;
		k += PUNY_BASE;
	}
	return (k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW));
}

/* Encode code points cp[0..n) after out[0..*len); returns 0 or -1. */
static int
puny_encode(const uint32_t *cp, size_t n, char *out, size_t size,
    size_t *len)
{
	uint32_t	m, q, k, t, delta = 0, bias = PUNY_BIAS, code = PUNY_N;
	size_t		h, b = 0, i;

	for (i = 0; i < n; i++) {
		if (cp[i] < 0x80) {
			if (*len + 1 >= size)
				return (-1);
			out[(*len)++] = (char)cp[i];
			b++;
		}
	}
	h = b;
	if (b > 0) {
		if (*len + 1 >= size)
			return (-1);
		out[(*len)++] = '-';
	}
	while (h < n) {
		m = UINT32_MAX;
		for (i = 0; i < n; i++)
			if (cp[i] >= code && cp[i] < m)
				m = cp[i];
		if ((uint64_t)(m - code) * (h + 1) > UINT32_MAX - delta)
			return (-1);
		delta += (m - code) * (uint32_t)(h + 1);
		code = m;
		for (i = 0; i < n; i++) {
			if (cp[i] < code && ++delta == 0)
				return (-1);
			if (cp[i] != code)
				continue;
			for (q = delta, k = PUNY_BASE;; k += PUNY_BASE) {
				t = k <= bias ? PUNY_TMIN : k >= bias + PUNY_TMAX ?
				    PUNY_TMAX : k - bias;
				if (q < t)
					break;
				if (*len + 1 >= size)
					return (-1);
				out[(*len)++] = puny_digit(t + (q - t) %
				    (PUNY_BASE - t));
				q = (q - t) / (PUNY_BASE - t);
			}
			if (*len + 1 >= size)
				return (-1);
			out[(*len)++] = puny_digit(q);
			bias = puny_adapt(delta, (uint32_t)(h + 1), h == b);
			delta = 0;
			h++;
		}
		delta++;
		code++;
	}
	return (0);
}

/* Decode one UTF-8 sequence at s (n bytes left); 0 on a bad sequence. */
static size_t
utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t		need, i;
	uint32_t	c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return (1);
	} else if ((c & 0xe0) == 0xc0) {
		need = 1;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		need = 2;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		need = 3;
		c &= 0x07;
		min = 0x10000;
	} else
		return (0);
	if (n < need + 1)
		return (0);
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (need + 1);
}

/*
 * Convert the name in[0..len) (UTF-8) to ASCII into out (size bytes,
 * terminated). Returns the length, or -1 with *why.
 */
ssize_t
idna_to_ascii(const char *in, size_t len, char *out, size_t size,
    const char **why)
{
	const unsigned char	*s = (const unsigned char *)in;
	uint32_t		 cp[IDNA_MAX_CP];
	size_t			 o = 0, i = 0, n, step, j;
	int			 ascii;

	while (i <= len) {
		/* One label: up to the next dot or the end. */
		n = 0;
		ascii = 1;
		while (i < len && s[i] != '.') {
			if (n == IDNA_MAX_CP) {
				*why = "label longer than 63 characters";
				return (-1);
			}
			if ((step = utf8_next(s + i, len - i, &cp[n])) == 0) {
				*why = "invalid UTF-8 in host name";
				return (-1);
			}
			if (cp[n] >= 'A' && cp[n] <= 'Z')
				cp[n] += 'a' - 'A';
			if (cp[n] >= 0x80)
				ascii = 0;
			n++;
			i += step;
		}
		if (ascii) {
			for (j = 0; j < n; j++) {
				if (o + 1 >= size)
					goto toolong;
				out[o++] = (char)cp[j];
			}
		} else {
			if (o + 5 >= size)
				goto toolong;
			memcpy(out + o, "xn--", 4);
			o += 4;
			if (puny_encode(cp, n, out, size, &o) != 0)
				goto toolong;
		}
		if (i < len) {
			if (o + 1 >= size)
				goto toolong;
			out[o++] = '.';
		}
		i++;
	}
	out[o] = '\0';
	return ((ssize_t)o);
toolong:
	*why = "host name longer than 253 characters";
	return (-1);
}
