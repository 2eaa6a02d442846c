/* Private to the otarun.core.sign binding (l_sign.c, l_sign_request.c): the one-call request
 * signers registered into the module table, and the number-to-text conversion both share. */
#ifndef OTARUN_L_SIGN_H
#define OTARUN_L_SIGN_H
#include <lua.h>

#define LSIGN_NUMBER_SIZE 40
/* The wire text of the number at idx, as the SDK's toString() gives it: integers and integral
 * floats without ".0", other floats in the shortest form that reads back the same, exponents like
 * JavaScript's (1e-7). Raises for NaN and infinities, naming fname and name. Returns the length. */
size_t lsign_number_text(lua_State *L, int idx, char out[LSIGN_NUMBER_SIZE], const char *fname,
                         const char *name);
/* Adds request_v3 and request_v1 to the module table on top of the stack. */
void lsign_request_open(lua_State *L);

#endif
