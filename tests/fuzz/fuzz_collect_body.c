/* libFuzzer: POST /collect bodies, and the payloads built from valid ones. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "consentgate/collect.h"
#include "consentgate/decision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cg_field_error fe;
	json_t *events = NULL;

	if (cg_collect_parse((const char *)data, size, &events, &fe) == 0) {
		struct cg_config cfg;
		struct cg_destination d;
		struct cg_payload_in in;
		struct cg_buf b;
		cg_config_defaults(&cfg);
		strcpy(cfg.site, "fuzz.example");
		memset(&d, 0, sizeof d);
		strcpy(d.name, "d");
		for (int type = 0; type < CG_DEST_NKINDS; type++)   /* every kind (dest.h) */
			for (int mode = CG_FORWARD_MINIMISED; mode <= CG_FORWARD_FULL; mode++) {
				memset(&in, 0, sizeof in);
				d.type = type;
				in.cfg = &cfg;
				in.dest = &d;
				in.mode = mode;
				in.client_id = "1.2";
				in.country = "NO";
				in.choice[2] = 1;
				cg_buf_init(&b, CG_PAYLOAD_MAX);
				cg_payload_build(&in, events, &b);
				cg_buf_free(&b);
			}
		json_decref(events);
	}
	return 0;
}
