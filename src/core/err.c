#include "consentgate/err.h"

static const char *const cg_err_text[] = {
	[CG_OK] = "success",
	[CG_ERR_NOMEM] = "out of memory",
	[CG_ERR_INVALID] = "invalid input",
	[CG_ERR_TOO_LONG] = "input too long",
	[CG_ERR_NOT_FOUND] = "not found",
	[CG_ERR_DUPLICATE] = "duplicate item",
	[CG_ERR_STORAGE] = "storage unavailable",
	[CG_ERR_IO] = "I/O error",
	[CG_ERR_CONFIG] = "configuration error",
	[CG_ERR_STOPPING] = "shutting down",
	[CG_ERR_CHAIN] = "hash chain broken",
	[CG_ERR_DRY_RUN] = "dry run",
};

const char *cg_strerror(int err)
{
	if (err < 0 || (unsigned)err >= sizeof cg_err_text / sizeof cg_err_text[0] ||
	    !cg_err_text[err])
		return "unknown error";
	return cg_err_text[err];
}
