/* Client address parsing and truncation (docs/architecture.md#privacy-invariants, 1). Pure.
 * Every IPv6 form that embeds the client's IPv4 address is turned into that
 * IPv4 address: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d),
 * NAT64 well-known prefix (64:ff9b::/96), 6to4 (2002::/16) and Teredo
 * (2001::/32, client address inverted in the last 32 bits); a zone id
 * ("fe80::1%eth0") is validated and dropped. */
#ifndef CONSENTGATE_IP_H
#define CONSENTGATE_IP_H

#include <stddef.h>
#include <stdint.h>

#define CG_IP_TEXT_MAX 64    /* longest REMOTE_ADDR accepted */
#define CG_IP_PREFIX_MAX 52  /* "xxxx:...:xxxx/128" + NUL fits */

struct cg_ip {
	int family;      /* 4 or 6 */
	uint8_t a[16];   /* network order; IPv4 uses the first 4 bytes */
};

int cg_ip_parse(const char *text, struct cg_ip *out);
/* Zeroes every bit after the first `bits` (clamped to the family's width). */
void cg_ip_truncate(struct cg_ip *ip, unsigned bits);
/* Truncates a copy of `ip` to v4_bits / v6_bits and writes "net/len". */
int cg_ip_prefix(const struct cg_ip *ip, unsigned v4_bits, unsigned v6_bits,
                 char out[CG_IP_PREFIX_MAX]);

#endif
