/* libmicrohttpd, bound on first use (see dynlib.h for why); httpd.c calls it through mhd_api.h. */
#define MHD_API_NO_REBIND
#include "mhd_api.h"
#include "dynlib.h"

struct mhd_api mhd_api;

#define MHD_API_SYM(field, fn) {#fn, (void **)&mhd_api.field},
static const struct dynlib_sym mhd_syms[] = {MHD_API_FUNCTIONS(MHD_API_SYM)};
#undef MHD_API_SYM

static struct dynlib mhd_lib = {"libmicrohttpd.so.12", "Debian package libmicrohttpd12", mhd_syms,
                                sizeof mhd_syms / sizeof mhd_syms[0], 0, ""};

int mhd_api_load(char *err, size_t errlen)
{
	return dynlib_load(&mhd_lib, err, errlen);
}
