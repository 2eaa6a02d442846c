/* Shared libraries loaded on first use (libcurl, libmicrohttpd). Most otarun commands (validate,
 * plan offline, policy test) never touch the network, and linking those libraries pulls some
 * forty shared objects into every start-up (about 5 ms on a small machine). Each user keeps a
 * table of function pointers, bound here by name with dlopen/dlsym. */
#ifndef OTARUN_DYNLIB_H
#define OTARUN_DYNLIB_H
#include <stddef.h>

struct dynlib_sym {
	const char *name;
	void **slot; /* where the function's address goes */
};

struct dynlib {
	const char *soname;     /* e.g. "libcurl.so.4" */
	const char *package;    /* the Debian package that ships it, for the error */
	const struct dynlib_sym *syms;
	size_t nsyms;
	int state;              /* 0 not tried, 1 bound, -1 failed */
	char error[256];
};

/* 0 once every symbol is bound (binding happens once); -1 with the reason in err. */
int dynlib_load(struct dynlib *lib, char *err, size_t errlen);

#endif
