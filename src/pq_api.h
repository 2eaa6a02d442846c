/* libpq, loaded on first use (see dynlib.h for why): store_pg.c reaches libpq through this table.
 * Include it after <libpq-fe.h>: it rebinds the PQ* names store_pg.c uses to the table. Linked,
 * libpq and what it needs (Kerberos, LDAP, GnuTLS: some seventeen shared objects) would cost every
 * start-up, though only a postgres:// state store uses it. */
#ifndef OTARUN_PQ_API_H
#define OTARUN_PQ_API_H
#include <stddef.h>
#include <libpq-fe.h>

struct pq_api {
	PGconn *(*connectdb_params)(const char *const *keywords, const char *const *values, int expand_dbname);
	void (*finish)(PGconn *);
	ConnStatusType (*status)(const PGconn *);
	PGTransactionStatusType (*transaction_status)(const PGconn *);
	char *(*error_message)(const PGconn *);
	int (*socket)(const PGconn *);
	char *(*pass)(const PGconn *);
	PQnoticeProcessor (*set_notice_processor)(PGconn *, PQnoticeProcessor, void *);
	PGresult *(*exec)(PGconn *, const char *);
	PGresult *(*exec_params)(PGconn *, const char *, int, const Oid *, const char *const *, const int *,
				 const int *, int);
	void (*clear)(PGresult *);
	ExecStatusType (*result_status)(const PGresult *);
	char *(*result_error_field)(const PGresult *, int);
	int (*ntuples)(const PGresult *);
	int (*nfields)(const PGresult *);
	char *(*fname)(const PGresult *, int);
	Oid (*ftype)(const PGresult *, int);
	char *(*getvalue)(const PGresult *, int, int);
	int (*getisnull)(const PGresult *, int, int);
	char *(*cmd_tuples)(PGresult *);
	char *(*cmd_status)(PGresult *);
};

extern struct pq_api pq_api;

/* 0 once libpq is loaded; -1 with a message in err otherwise (libpq5 not installed). */
int pq_api_load(char *err, size_t errlen);

#define PQconnectdbParams (pq_api.connectdb_params)
#define PQfinish (pq_api.finish)
#define PQstatus (pq_api.status)
#define PQtransactionStatus (pq_api.transaction_status)
#define PQerrorMessage (pq_api.error_message)
#define PQsocket (pq_api.socket)
#define PQpass (pq_api.pass)
#define PQsetNoticeProcessor (pq_api.set_notice_processor)
#define PQexec (pq_api.exec)
#define PQexecParams (pq_api.exec_params)
#define PQclear (pq_api.clear)
#define PQresultStatus (pq_api.result_status)
#define PQresultErrorField (pq_api.result_error_field)
#define PQntuples (pq_api.ntuples)
#define PQnfields (pq_api.nfields)
#define PQfname (pq_api.fname)
#define PQftype (pq_api.ftype)
#define PQgetvalue (pq_api.getvalue)
#define PQgetisnull (pq_api.getisnull)
#define PQcmdTuples (pq_api.cmd_tuples)
#define PQcmdStatus (pq_api.cmd_status)

#endif
