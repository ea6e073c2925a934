#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/ip.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t nat64_wkp[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

/* Where an IPv6 address carries a client's IPv4 address, the offset of its
 * four bytes (and whether they are inverted), else -1. Truncating such an
 * address to /48 would keep the whole IPv4 address (6to4: bits 16-47), and a
 * country lookup on it would be wrong. */
static int embedded_v4(const uint8_t a[16], int *inverted)
{
	static const uint8_t zero[12];

	*inverted = 0;
	if (memcmp(a, v4mapped, 12) == 0 || memcmp(a, nat64_wkp, 12) == 0)
		return 12;                 /* ::ffff:0:0/96, 64:ff9b::/96 (RFC 6052) */
	if (a[0] == 0x20 && a[1] == 0x02)
		return 2;                  /* 6to4, 2002::/16 (RFC 3056) */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		*inverted = 1;             /* Teredo, 2001::/32: client address inverted (RFC 4380) */
		return 12;
	}
	if (memcmp(a, zero, 12) == 0 && (a[12] | a[13] | a[14]) != 0)
		return 12;                 /* IPv4-compatible ::a.b.c.d (deprecated); not ::, ::1 */
	return -1;
}

int cg_ip_parse(const char *text, struct cg_ip *out)
{
	char tmp[CG_IP_TEXT_MAX + 1];
	size_t len;
	char *pct;

	memset(out, 0, sizeof *out);
	if (!text)
		return CG_ERR_INVALID;
	len = strnlen(text, CG_IP_TEXT_MAX + 1);
	if (len == 0)
		return CG_ERR_INVALID;
	if (len > CG_IP_TEXT_MAX)
		return CG_ERR_TOO_LONG;
	memcpy(tmp, text, len + 1);

	if (inet_pton(AF_INET, tmp, out->a) == 1) {
		out->family = 4;
		return CG_OK;
	}
	/* A zone id only makes sense on IPv6; it names a local interface and is
	 * neither needed for the lookup nor stored. */
	pct = strchr(tmp, '%');
	if (pct) {
		const char *z = pct + 1;
		if (!*z)
			return CG_ERR_INVALID;
		for (; *z; z++)
			if (!((*z >= 'a' && *z <= 'z') || (*z >= 'A' && *z <= 'Z') ||
			      (*z >= '0' && *z <= '9') || *z == '.' || *z == '_' || *z == '-'))
				return CG_ERR_INVALID;
		*pct = '\0';
	}
	if (inet_pton(AF_INET6, tmp, out->a) != 1) {
		memset(out, 0, sizeof *out);
		return CG_ERR_INVALID;
	}
	out->family = 6;
	{
		int inverted, off = embedded_v4(out->a, &inverted);
		if (off >= 0) {
			uint8_t v4[4];
			for (int i = 0; i < 4; i++)
				v4[i] = inverted ? (uint8_t)~out->a[off + i] : out->a[off + i];
			memset(out->a, 0, sizeof out->a);
			memcpy(out->a, v4, 4);
			out->family = 4;
		}
	}
	return CG_OK;
}

void cg_ip_truncate(struct cg_ip *ip, unsigned bits)
{
	unsigned width = ip->family == 4 ? 32 : 128;
	unsigned i;

	if (bits > width)
		bits = width;
	for (i = 0; i < width / 8; i++) {
		unsigned lo = i * 8;
		if (lo >= bits)
			ip->a[i] = 0;
		else if (bits - lo < 8)
			ip->a[i] &= (uint8_t)(0xff << (8 - (bits - lo)));
	}
}

int cg_ip_prefix(const struct cg_ip *ip, unsigned v4_bits, unsigned v6_bits,
                 char out[CG_IP_PREFIX_MAX])
{
	struct cg_ip t = *ip;
	char addr[INET6_ADDRSTRLEN];
	unsigned bits;

	if (ip->family != 4 && ip->family != 6)
		return CG_ERR_INVALID;
	bits = ip->family == 4 ? (v4_bits > 32 ? 32 : v4_bits)
	                       : (v6_bits > 128 ? 128 : v6_bits);
	cg_ip_truncate(&t, bits);
	if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, t.a, addr, sizeof addr))
		return CG_ERR_INVALID;
	snprintf(out, CG_IP_PREFIX_MAX, "%s/%u", addr, bits);
	return CG_OK;
}
