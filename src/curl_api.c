/* libcurl, bound on first use (see dynlib.h for why); http.c calls it through curl_api.h. */
#include <stdio.h>
#include "curl_api.h"
#include "dynlib.h"

struct curl_api curl_api;

#define SYM(field, name) {name, (void **)&curl_api.field}
static const struct dynlib_sym curl_syms[] = {
	SYM(global_init, "curl_global_init"),     SYM(easy_init, "curl_easy_init"),
	SYM(easy_setopt, "curl_easy_setopt"),     SYM(easy_getinfo, "curl_easy_getinfo"),
	SYM(easy_perform, "curl_easy_perform"),   SYM(easy_reset, "curl_easy_reset"),
	SYM(easy_cleanup, "curl_easy_cleanup"),   SYM(easy_strerror, "curl_easy_strerror"),
	SYM(free, "curl_free"),                   SYM(slist_append, "curl_slist_append"),
	SYM(slist_free_all, "curl_slist_free_all"), SYM(url, "curl_url"),
	SYM(url_cleanup, "curl_url_cleanup"),     SYM(url_get, "curl_url_get"),
	SYM(url_set, "curl_url_set"),
};
#undef SYM

static struct dynlib curl_lib = {"libcurl.so.4", "Debian package libcurl4", curl_syms,
                                 sizeof curl_syms / sizeof curl_syms[0], 0, ""};

int curl_api_load(char *err, size_t errlen)
{
	static int initialised;
	if (dynlib_load(&curl_lib, err, errlen) != 0)
		return -1;
	if (!initialised) {
		if (curl_api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, errlen, "curl_global_init failed");
			return -1;
		}
		initialised = 1;
	}
	return 0;
}
