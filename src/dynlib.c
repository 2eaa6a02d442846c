/* Binds a shared library's functions on first use (see dynlib.h for why). */
#include <dlfcn.h>
#include <stdio.h>
#include "dynlib.h"

int dynlib_load(struct dynlib *lib, char *err, size_t errlen)
{
	if (lib->state == 0) {
		void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			snprintf(lib->error, sizeof lib->error, "cannot load %s (%s): %s", lib->soname,
			         lib->package, dlerror());
		}
		for (size_t i = 0; h && i < lib->nsyms; i++) {
			*lib->syms[i].slot = dlsym(h, lib->syms[i].name);
			if (!*lib->syms[i].slot) {
				snprintf(lib->error, sizeof lib->error, "%s lacks %s", lib->soname,
				         lib->syms[i].name);
				break;
			}
		}
		lib->state = lib->error[0] ? -1 : 1;
	}
	if (lib->state < 0) {
		snprintf(err, errlen, "%s", lib->error);
		return -1;
	}
	return 0;
}
