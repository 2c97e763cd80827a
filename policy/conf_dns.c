/*
 * conf_dns.c: the dns = { } group: the resolver DNS list conditions use
 * (servers, timeout, on_error, cache_size).  Part of the loader; see
 * conf.h.  Servers are kept in the form c-ares reads
 * ("127.0.0.1:5353,[::1]:53"); the engine never opens a socket.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"
#include "xmalloc.h"

#define SERVERS_MAX	1024	/* bytes of the joined server list */

/* "IP", "IP:PORT" or "[IPv6]:PORT" into the c-ares form; -1 if not. */
static int
server_form(const char *v, char *out, size_t outsz)
{
	char host[64], buf[16];
	const char *port = NULL, *close;
	size_t n;

	if (v[0] == '[' && (close = strchr(v, ']')) != NULL) {
		n = (size_t)(close - v - 1);
		port = close[1] == ':' ? close + 2 : close[1] == '\0' ? NULL : "";
	} else if (strchr(v, ':') != NULL && strchr(v, ':') == strrchr(v, ':')) {
		n = strcspn(v, ":");
		port = v + n + 1;
	} else
		n = strlen(v);
	if (n >= sizeof host)
		return -1;
	memcpy(host, v + (v[0] == '['), n);
	host[n] = '\0';
	if (port != NULL && (port[0] == '\0' || strlen(port) > 5 ||
	    strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 ||
	    atoi(port) > 65535))	/* 5 digits: atoi cannot overflow */
		return -1;
	if (inet_pton(AF_INET, host, buf) == 1)
		snprintf(out, outsz, "%s:%s", host, port ? port : "53");
	else if (inet_pton(AF_INET6, host, buf) == 1)
		snprintf(out, outsz, "[%s]:%s", host, port ? port : "53");
	else
		return -1;
	return 0;
}

static void
set_servers(struct conf *cf, const config_setting_t *s)
{
	char all[SERVERS_MAX] = "", one[128];
	int i, n = config_setting_length(s);

	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *v = config_setting_get_string(e);

		if (v == NULL || server_form(v, one, sizeof one) < 0) {
			conf_error(cf, e, "servers: \"%s\" is not a name server; "
			    "write an address with an optional port: "
			    "\"127.0.0.1:5353\", \"[::1]:53\", \"192.0.2.53\"",
			    v ? v : "?");
			return;
		}
		if (strlen(all) + strlen(one) + 2 > sizeof all) {
			conf_error(cf, e, "servers: too many; give at most a few");
			return;
		}
		if (all[0] != '\0')
			strcat(all, ",");
		strcat(all, one);
	}
	free((char *)cf->p->settings.dns.servers);
	cf->p->settings.dns.servers = n > 0 ? xstrdup(all) : NULL;
}

static void
set_timeout(struct conf *cf, const config_setting_t *s)
{
	unsigned long ms = conf_duration(cf, s);

	if (ms < 10 || ms > 30000)
		conf_error(cf, s, "timeout must be between 10ms and 30s, e.g. "
		    "\"2s\": a lookup that takes longer is \"unknown\"");
	else
		cf->p->settings.dns.timeout_ms = ms;
}

static void
set_on_error(struct conf *cf, const config_setting_t *s)
{
	static const char *const names[] = { "ignore", "tempfail" };
	int i = conf_choice(cf, s, names, NELEM(names));

	if (i >= 0)
		cf->p->settings.dns.tempfail = i == 1;
}

static void
set_cache_size(struct conf *cf, const config_setting_t *s)
{
	int n = config_setting_get_int(s);

	if (n < 1 || n > 10000000)
		conf_error(cf, s, "cache_size must be between 1 and 10000000 "
		    "answers");
	else
		cf->p->settings.dns.cache_size = (unsigned long)n;
}

static const struct setting dns_settings[] = {
	{ "servers", TYPE_LIST, set_servers },
	{ "timeout", TYPE_STRING | TYPE_INT, set_timeout },
	{ "on_error", TYPE_STRING, set_on_error },
	{ "cache_size", TYPE_INT, set_cache_size },
};

void
conf_dns(struct conf *cf, const config_setting_t *s)
{
	conf_group(cf, s, dns_settings, NELEM(dns_settings));
}
