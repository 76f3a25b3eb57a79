/*
 * dns.c -- name resolution the way the workers do it: an evdns base set
 * up from the configuration's dns settings (servers, hosts file), and
 * the lookup of a host's TCP addresses. The workers and the list
 * downloader resolve alike.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "proxy.h"

/*
 * Ask dns for the TCP addresses (any family) of host at port. cb may run
 * before this returns (a hosts file entry, an address): then NULL is
 * returned; otherwise the pending request.
 */
struct evdns_getaddrinfo_request *
dns_resolve(struct evdns_base *dns, const char *host, uint16_t port,
    void (*cb)(int, struct evutil_addrinfo *, void *), void *arg)
{
	struct evutil_addrinfo	hints;
	char			portstr[8];

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(portstr, sizeof portstr, "%u", port);
	return (evdns_getaddrinfo(dns, host, portstr, &hints, cb, arg));
}

/*
 * An evdns base on base configured from cf's dns settings (servers, hosts
 * file). The workers and the list downloader resolve the same way.
 * Returns it, or NULL (logged).
 */
struct evdns_base *
dns_base_open(struct event_base *base, const struct hg_config *cf)
{
	struct evdns_base	*dns;
	size_t			 i;

	if ((dns = evdns_base_new(base, 0)) == NULL)
		return (NULL);
	if (cf->cf_dns_system) {
		/* resolv.conf, and /etc/hosts through DNS_OPTION_HOSTSFILE */
		if (evdns_base_resolv_conf_parse(dns, DNS_OPTIONS_ALL,
		    "/etc/resolv.conf") != 0)
			log_debug("dns: /etc/resolv.conf not usable, using "
			    "defaults");
	}
	for (i = 0; i < cf->cf_ndns_servers; i++) {
		if (evdns_base_nameserver_ip_add(dns,
		    cf->cf_dns_servers[i]) != 0) {
			log_warnx("dns: cannot use server %s",
			    cf->cf_dns_servers[i]);
			goto fail;
		}
	}
	if (cf->cf_hosts_file != NULL &&
	    evdns_base_load_hosts(dns, cf->cf_hosts_file) != 0) {
		log_warnx("dns: cannot read hosts file %s", cf->cf_hosts_file);
		goto fail;
	}
	/* 0x20 case randomisation upsets some servers; names are matched
	 * before they are resolved anyway. */
	evdns_base_set_option(dns, "randomize-case:", "0");
	return (dns);

fail:
	evdns_base_free(dns, 0);
	return (NULL);
}
