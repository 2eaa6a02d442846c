/* libmicrohttpd, loaded on first use (see dynlib.h for why): httpd.c reaches it through this
 * table. Include it after <microhttpd.h>: it rebinds the MHD_* names httpd.c uses. */
#ifndef OTARUN_MHD_API_H
#define OTARUN_MHD_API_H
#include <stddef.h>
#include <microhttpd.h>

#define MHD_API_FUNCTIONS(X) \
	X(start_daemon, MHD_start_daemon) X(stop_daemon, MHD_stop_daemon) \
	X(run_wait, MHD_run_wait) X(suspend_connection, MHD_suspend_connection) \
	X(resume_connection, MHD_resume_connection) \
	X(get_connection_info, MHD_get_connection_info) \
	X(get_connection_values, MHD_get_connection_values) \
	X(create_response_from_buffer, MHD_create_response_from_buffer) \
	X(add_response_header, MHD_add_response_header) \
	X(queue_response, MHD_queue_response) X(destroy_response, MHD_destroy_response)

struct mhd_api {
#define MHD_API_FIELD(field, fn) __typeof__(&fn) field;
	MHD_API_FUNCTIONS(MHD_API_FIELD)
#undef MHD_API_FIELD
};

extern struct mhd_api mhd_api;

/* 0 once libmicrohttpd is bound; -1 with the reason in err. */
int mhd_api_load(char *err, size_t errlen);

#ifndef MHD_API_NO_REBIND
#define MHD_start_daemon (mhd_api.start_daemon)
#define MHD_stop_daemon (mhd_api.stop_daemon)
#define MHD_run_wait (mhd_api.run_wait)
#define MHD_suspend_connection (mhd_api.suspend_connection)
#define MHD_resume_connection (mhd_api.resume_connection)
#define MHD_get_connection_info (mhd_api.get_connection_info)
#define MHD_get_connection_values (mhd_api.get_connection_values)
#define MHD_create_response_from_buffer (mhd_api.create_response_from_buffer)
#define MHD_add_response_header (mhd_api.add_response_header)
#define MHD_queue_response (mhd_api.queue_response)
#define MHD_destroy_response (mhd_api.destroy_response)
#endif

#endif
