/* json.c: JSON string literals; see json.h. */
#include "json.h"

/* The length of the well-formed UTF-8 sequence at s (2 to 4 bytes, no
 * overlong form, no surrogate, at most U+10FFFF), or 0. */
static int
utf8_len(const unsigned char *s)
{
	int n, i;
	unsigned long cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
	    cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void
json_str(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	int n;

	fputc('"', out);
	while (*s) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s++);
		else if (*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\u%04x", *s++);
		else if (*s < 0x80)
			fputc(*s++, out);
		else if ((n = utf8_len(s)) > 0) {
			fwrite(s, 1, (size_t)n, out);
			s += n;
		} else
			fprintf(out, "\\u%04x", *s++);
	}
	fputc('"', out);
}
