/* The table of destination kinds (dest.h): a row of CG_DEST_KINDS each. */
#include <stdio.h>
#include <string.h>

#include "consentgate/dest.h"

#define CG_DEST_DECL_(k, K) extern const struct cg_destkind cg_destkind_##k;
CG_DEST_KINDS(CG_DEST_DECL_)

#define CG_DEST_ROW_(k, K) &cg_destkind_##k,
static const struct cg_destkind *const kinds[] = {CG_DEST_KINDS(CG_DEST_ROW_)};

#define CG_DEST_NAME_(k, K) #k,
const char *const cg_dest_kind_names[] = {CG_DEST_KINDS(CG_DEST_NAME_) NULL};

const struct cg_destkind *cg_dest_kind(int type)
{
	return type >= 0 && type < CG_DEST_NKINDS ? kinds[type] : NULL;
}

int cg_dest_kind_named(const char *name)
{
	for (int i = 0; i < CG_DEST_NKINDS; i++)
		if (strcmp(cg_dest_kind_names[i], name) == 0)
			return i;
	return -1;
}

const char *cg_dest_kind_list(char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < CG_DEST_NKINDS && len < cap; i++) {
		int n = snprintf(out + len, cap - len, "%s%s", i == 0 ? "" : i + 1 < CG_DEST_NKINDS ? ", " : " or ",
		                 cg_dest_kind_names[i]);
		len += n > 0 ? (size_t)n : 0;
	}
	return out;
}
