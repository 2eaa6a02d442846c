/* Private to the otarun.core.policy binding (l_policy.c, l_policy_plan.c): the conversion
 * context whose anchor table keeps every C array and string alive, and the shared converters. */
#ifndef OTARUN_L_POLICY_H
#define OTARUN_L_POLICY_H
#include <lua.h>
#include "policy.h"

#define LPOLICY_COMPILED "otarun.policy.compiled"

struct cctx {
	lua_State *L;
	int anchor; /* absolute index of the table that keeps arrays and strings alive */
	char err[300];
};

void *lpolicy_anchored(struct cctx *c, size_t size);
const char *lpolicy_anchored_string(struct cctx *c, int idx);
int lpolicy_fail(struct cctx *c, const char *fmt, ...);
/* A window { days =, from =, to =, tz = } as strings or in the validator's normalised form. */
int lpolicy_window(struct cctx *c, int idx, const char *where, struct policy_window *w);
/* Converts the plan table at pidx; raises on a malformed plan. */
void lpolicy_plan(struct cctx *c, int pidx, struct policy_plan *plan);

#endif
