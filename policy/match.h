/*
 * match.h: compiled lists of patterns, and lookups against them.
 *
 * A struct match_list is built by conf.c (match_list_new, match_add, then
 * match_list_finish once) and is read-only afterwards: any number of
 * threads may call match_find on it at once.  The list owns copies of its
 * patterns; match_list_free releases everything.
 *
 * Pattern syntax by kind (all comparisons of names are case-insensitive):
 *   MATCH_CLIENT  "192.0.2.7", "192.0.2.0/24", "2001:db8::/32", "::ffff:192.0.2.1"
 *                 (IPv4-mapped IPv6 patterns and values compare as IPv4);
 *                 a value that is not an IP address never matches.
 *   MATCH_HOST    "mx.example.com" exactly, ".example.com" any subdomain
 *                 (not example.com itself), "/pcre/"
 *   MATCH_ADDR    "user@example.com", "@example.com" or "example.com" (any user
 *                 there), ".example.com" (any user at any subdomain), "user@"
 *                 (that local part anywhere), "<>" (the null sender, value ""),
 *                 "/pcre/" (against the whole address)
 *   MATCH_DOMAIN  "example.com", ".example.com" (subdomains), "/pcre/"
 *   MATCH_STRING  exact string, case-insensitive, or "/pcre/"
 * "/pcre/" is a PCRE2 pattern between slashes, matched case-insensitively
 * (as Postfix pcre tables do); it is compiled once, at load.
 *
 * Lookups cost O(log n) for exact entries and CIDRs (sorted arrays), plus
 * one pcre2_match per regex entry; a 10,000-entry list is fine.
 */
#ifndef MATCH_H
#define MATCH_H

#include <stddef.h>

enum match_kind { MATCH_CLIENT, MATCH_HOST, MATCH_ADDR, MATCH_DOMAIN, MATCH_STRING };

enum match_result { MATCH_NO, MATCH_YES, MATCH_ERROR };

struct match_list;

/* A new empty list of one kind. */
struct match_list *match_list_new(enum match_kind kind);

/* Add one pattern; 0, or -1 with a message for the admin in err
 * ("bad CIDR \"10.0.0.0/33\": prefix length must be 0-32"). */
int match_add(struct match_list *l, const char *pattern, char *err, size_t errsz);

/* Prepare the list for lookups (sorts); call once, after the last match_add. */
void match_list_finish(struct match_list *l);

/* Does value match any pattern?  MATCH_ERROR when a regex match failed
 * (e.g. its match limit), never for a value that merely does not match.
 * A NULL value never matches. */
enum match_result match_find(const struct match_list *l, const char *value);

/* Number of patterns in the list. */
size_t match_list_size(const struct match_list *l);

/* Free a list and its patterns; NULL is fine. */
void match_list_free(struct match_list *l);

#endif
