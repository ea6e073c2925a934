/* libFuzzer: POST /consent and /consent/objection bodies. */
#include <stddef.h>
#include <stdint.h>
#include "consentgate/consent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cg_choice_req req;
	struct cg_field_error fe;
	int p;

	cg_consent_parse_choice((const char *)data, size, &req, &fe);
	cg_consent_parse_objection((const char *)data, size, &p, &fe);
	return 0;
}
