/* Where a destination's data goes (GDPR Art. 13(1)(e)-(f), 44-49): the
 * recipient, its country, and for a country outside the EU/EEA without an
 * adequacy decision, the basis of the transfer. Pure. */
#ifndef CONSENTGATE_TRANSFER_H
#define CONSENTGATE_TRANSFER_H

/* [destination.X] transfer_basis; 0 = not declared */
enum cg_transfer {
	CG_TRANSFER_NONE = 0,
	CG_TRANSFER_DPF,        /* EU-US Data Privacy Framework (the recipient is certified) */
	CG_TRANSFER_SCC,        /* standard contractual clauses, Art. 46(2)(c) */
	CG_TRANSFER_BCR,        /* binding corporate rules, Art. 47 */
	CG_TRANSFER_DEROGATION, /* Art. 49 */
};
/* "dpf" ...; NULL for CG_TRANSFER_NONE */
const char *cg_transfer_name(int t);
/* what a visitor reads about it */
const char *cg_transfer_text(int t);

/* 1 if data may go to this ISO 3166-1 alpha-2 country without a transfer
 * basis: the EU/EEA, or a country with an adequacy decision of the
 * European Commission (as of 2026; listed in
 * docs/auditors.md#recipients-and-third-country-transfers). */
int cg_country_adequate(const char *cc);

#endif
