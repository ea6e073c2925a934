/* One error enum for the whole project; every module returns these. */
#ifndef CONSENTGATE_ERR_H
#define CONSENTGATE_ERR_H

enum cg_err {
	CG_OK = 0,
	CG_ERR_NOMEM,      /* allocation failed */
	CG_ERR_INVALID,    /* malformed input */
	CG_ERR_TOO_LONG,   /* input over its bound */
	CG_ERR_NOT_FOUND,  /* no such item */
	CG_ERR_DUPLICATE,  /* an item that must be unique appears twice */
	CG_ERR_STORAGE,    /* the database refused or failed a write/read */
	CG_ERR_IO,         /* file, socket or library I/O failed */
	CG_ERR_CONFIG,     /* configuration is wrong */
	CG_ERR_STOPPING,   /* the component is shutting down */
	CG_ERR_CHAIN,      /* hash chain does not verify */
	CG_ERR_DRY_RUN,    /* a dry run: roll back, report success */
};

/* Static English text for an error code; never NULL. */
const char *cg_strerror(int err);

#endif
