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
/* the start of a method that may run the state machine (argument 1 the model, 2 the clock), and
 * its end: raises what a callback raised, or out of memory, when rc != 0 or the model failed */
struct fm_model *lfm_enter(lua_State *L);
int lfm_leave(lua_State *L, struct fm_model *m, int rc);
/* argument i as a number 1..n, or an error naming `what` */
uint32_t lfm_index(lua_State *L, int i, uint32_t n, const char *what);
#define DEV(i) lfm_index(L, i, m->ndev, "device")
#define TASK(i) lfm_index(L, i, m->ntask, "task")
#define JOB(i) lfm_index(L, i, m->njob, "job")
#define PROD(i) lfm_index(L, i, m->nprod, "product")
/* adds the state machine's methods to the table on top of the stack (l_fleet_sim.c) */
void lfm_open_sim(lua_State *L);
/* Columns (l_fleet_cols.c): kinds, and name -> column number; its base array and length; the
 * saved state's form of entry i pushed (absent -> false; map and enc at those stack indexes) */
enum { C_NAME, C_BOOL, C_TRUE, C_U8, C_U16MAP, C_SYM, C_U32, C_U32NIL, C_GLIST, C_I32, C_I32NIL, C_I64, C_DESC,
       C_NUM, C_NUMNIL };
int lfm_col_index(lua_State *L, const char *name);
int lfm_col_kind(int col);
void *lfm_col_base(const struct fm_model *m, int col);
uint32_t lfm_col_len(const struct fm_model *m, int col);
void lfm_push_saved(lua_State *L, const struct fm_model *m, int col, uint32_t i, int map, int enc);
/* adds the JSON writers (l_fleet_json.c) to the table on top of the stack */
void lfm_open_json(lua_State *L);
/* adds the column methods to the table on top of the stack */
void lfm_open_cols(lua_State *L);
/* the queue's events as { { sec, { code... } }, ... } (l_fleet.c) */
int lfleet_push_queue_list(lua_State *L, struct fleet_queue *q);
int luaopen_otarun_core_fleet_model(lua_State *L);

#endif
