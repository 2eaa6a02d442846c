/* libpq, bound on first use (see dynlib.h and pq_api.h for why); store_pg.c calls it through
 * pq_api.h. */
#include "pq_api.h"
#include "dynlib.h"

struct pq_api pq_api;

#define SYM(field, name) {name, (void **)&pq_api.field}
static const struct dynlib_sym pq_syms[] = {
	SYM(connectdb_params, "PQconnectdbParams"), SYM(finish, "PQfinish"),
	SYM(status, "PQstatus"),                    SYM(transaction_status, "PQtransactionStatus"),
	SYM(error_message, "PQerrorMessage"),       SYM(socket, "PQsocket"),
	SYM(pass, "PQpass"),                        SYM(set_notice_processor, "PQsetNoticeProcessor"),
	SYM(exec, "PQexec"),                        SYM(exec_params, "PQexecParams"),
	SYM(clear, "PQclear"),                      SYM(result_status, "PQresultStatus"),
	SYM(result_error_field, "PQresultErrorField"), SYM(ntuples, "PQntuples"),
	SYM(nfields, "PQnfields"),                  SYM(fname, "PQfname"),
	SYM(ftype, "PQftype"),                      SYM(getvalue, "PQgetvalue"),
	SYM(getisnull, "PQgetisnull"),              SYM(cmd_tuples, "PQcmdTuples"),
	SYM(cmd_status, "PQcmdStatus"),
};
#undef SYM

static struct dynlib pq_lib = {"libpq.so.5", "Debian package libpq5", pq_syms, sizeof pq_syms / sizeof pq_syms[0],
                               0, ""};

int pq_api_load(char *err, size_t errlen)
{
	return dynlib_load(&pq_lib, err, errlen);
}
