#include <string.h>

#include "consentgate/err.h"
#include "consentgate/event.h"

static const char *const purpose_names[CG_NPURPOSES] = {
	"preferences", "statistics", "marketing",
};
static const char *const action_names[] = {
	"choice", "withdraw", "objection", "erase", "purge", "format",
};

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *cg_purpose_name(int p)
{
	return p >= 0 && p < CG_NPURPOSES ? purpose_names[p] : NULL;
}

int cg_purpose_parse(const char *s)
{
	return name_index(purpose_names, CG_NPURPOSES, s);
}

const char *cg_action_name(int a)
{
	return a >= 0 && a < (int)(sizeof action_names / sizeof *action_names)
	               ? action_names[a] : NULL;
}

int cg_action_parse(const char *s)
{
	return name_index(action_names, sizeof action_names / sizeof *action_names, s);
}

void cg_objections_format(unsigned bits, char out[CG_OBJECTIONS_MAX + 1])
{
	out[0] = '\0';
	for (int p = 0; p < CG_NPURPOSES; p++) {
		if (!(bits & (1u << p)))
			continue;
		if (out[0])
			strcat(out, ",");
		strcat(out, purpose_names[p]);
	}
}

int cg_objections_parse(const char *s, unsigned *bits)
{
	char tmp[CG_OBJECTIONS_MAX + 1];
	char *save = NULL, *tok;

	*bits = 0;
	if (!s || !*s)
		return CG_OK;
	if (strlen(s) > CG_OBJECTIONS_MAX)
		return CG_ERR_INVALID;
	strcpy(tmp, s);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int p = cg_purpose_parse(tok);
		if (p < 0)
			return CG_ERR_INVALID;
		*bits |= 1u << p;
	}
	return CG_OK;
}
