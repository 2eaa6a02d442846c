/* libcurl, loaded on first use (see dynlib.h for why): http.c reaches libcurl through this table.
 * Include it after <curl/curl.h>: it rebinds the curl_* names http.c uses to the table. */
#ifndef OTARUN_CURL_API_H
#define OTARUN_CURL_API_H
#include <stddef.h>
#include <curl/curl.h>

struct curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_reset)(CURL *);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
};

extern struct curl_api curl_api;

/* 0 once libcurl is loaded (and curl_global_init done); -1 with a message in err otherwise. */
int curl_api_load(char *err, size_t errlen);

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (curl_api.global_init)
#define curl_easy_init (curl_api.easy_init)
#define curl_easy_setopt (curl_api.easy_setopt)
#define curl_easy_getinfo (curl_api.easy_getinfo)
#define curl_easy_perform (curl_api.easy_perform)
#define curl_easy_reset (curl_api.easy_reset)
#define curl_easy_cleanup (curl_api.easy_cleanup)
#define curl_easy_strerror (curl_api.easy_strerror)
#define curl_free (curl_api.free)
#define curl_slist_append (curl_api.slist_append)
#define curl_slist_free_all (curl_api.slist_free_all)
#define curl_url (curl_api.url)
#define curl_url_cleanup (curl_api.url_cleanup)
#define curl_url_get (curl_api.url_get)
#define curl_url_set (curl_api.url_set)

#endif
