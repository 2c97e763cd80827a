/*
 * json.h: a C string as a JSON string literal (json.c), for the commands
 * that print JSON (`replay --json`, `report --json`).  Whatever the bytes
 * (a log line is anyone's), the output is valid JSON: quotes, backslashes
 * and control bytes are escaped, well-formed UTF-8 passes as it is, and
 * any other byte is written as the code point of the same number.
 */
#ifndef JSON_H
#define JSON_H

#include <stdio.h>

/* Write s (NULL: "") to out as a JSON string, quotes included. */
void json_str(FILE *out, const char *s);

#endif
