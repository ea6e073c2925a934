#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/ip.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

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
	if (memcmp(out->a, v4mapped, sizeof v4mapped) == 0) {
		memmove(out->a, out->a + 12, 4);
		memset(out->a + 4, 0, 12);
		out->family = 4;
	} else {
		out->family = 6;
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
