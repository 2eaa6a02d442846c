/* l_fleet_model: shared by the binding of fleet_model.c (l_fleet_model.c) and its column objects
 * and saved-state writers (l_fleet_cols.c). */
#ifndef OTARUN_L_FLEET_MODEL_H
#define OTARUN_L_FLEET_MODEL_H
#include <lua.h>

#include "fleet_model.h"

struct fm_model *lfm_check(lua_State *L, int i);
/* an integral number as a Lua integer, others as a float */
void lfm_push_num(lua_State *L, double v);
/* the list named by the arguments from index i: (job, status) or ("ver", p, sym) or ("dev", p) */
struct fm_list *lfm_list_of(lua_State *L, struct fm_model *m, int i);
/* adds the column methods to the table on top of the stack */
void lfm_open_cols(lua_State *L);
int luaopen_otarun_core_fleet_model(lua_State *L);

#endif
