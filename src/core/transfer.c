#include <string.h>

#include "consentgate/transfer.h"

static const char *const names[] = {NULL, "dpf", "scc", "bcr", "derogation"};
static const char *const texts[] = {
	NULL,
	"EU-US Data Privacy Framework (adequacy decision of 10 July 2023; the recipient is certified)",
	"standard contractual clauses (GDPR Art. 46(2)(c))",
	"binding corporate rules (GDPR Art. 47)",
	"a derogation for specific situations (GDPR Art. 49)",
};

const char *cg_transfer_name(int t)
{
	return t > CG_TRANSFER_NONE && t <= CG_TRANSFER_DEROGATION ? names[t] : NULL;
}

const char *cg_transfer_text(int t)
{
	return t > CG_TRANSFER_NONE && t <= CG_TRANSFER_DEROGATION ? texts[t] : NULL;
}

/* the EU 27, the EEA's Iceland, Liechtenstein and Norway, and the countries
 * and territories with a general adequacy decision (Andorra, Argentina,
 * Canada (commercial organisations), the Faroe Islands, Guernsey, Israel, the
 * Isle of Man, Japan, Jersey, New Zealand, the Republic of Korea,
 * Switzerland, the United Kingdom, Uruguay). The United States is not here:
 * only DPF-certified recipients are covered, so it needs transfer_basis. */
static const char adequate[] =
	"AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
	"IS LI NO "
	"AD AR CA FO GG IL IM JP JE NZ KR CH GB UY ";

int cg_country_adequate(const char *cc)
{
	char key[4];

	if (strlen(cc) != 2)
		return 0;
	key[0] = cc[0];
	key[1] = cc[1];
	key[2] = ' ';
	key[3] = '\0';
	for (const char *p = adequate; *p; p += 3)
		if (memcmp(p, key, 3) == 0)
			return 1;
	return 0;
}
