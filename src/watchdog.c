/* The sandbox's last line of defence (docs/sandbox.md, "Wall-clock limit"). The count hook in
 * l_sandbox.c stops a script at its next VM instruction once --max-seconds has passed, but a hook
 * cannot run while a C function is busy. Every library function the sandbox exposes is bounded
 * (lua/otarun/lang/sandbox.lua); this thread holds whether or not that list is complete: if the
 * script is still running `grace` seconds after its limit, the process prints the diagnostic and
 * ends with exit code 3. Nothing else can be done safely: the Lua state may be in the middle of an
 * allocation, so it cannot be unwound from another thread. One thread, started on first use,
 * sleeps on a condition variable while nothing is armed. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "watchdog.h"

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started;
	int armed;
	struct timespec hard; /* CLOCK_MONOTONIC */
	double seconds;
	char rule[64];
	char src[256];
	int line;
} wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0, 0}, 0, "", "", 0};

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void watchdog_fire(void)
{
	char msg[768], secs[32];
	snprintf(secs, sizeof secs, "%.14g", wd.seconds);
	size_t len = strlen(secs);
	if (!strpbrk(secs, ".e"))
		snprintf(secs + len, sizeof secs - len, ".0"); /* as Lua prints it: the same text as the count hook's message */
	int n = snprintf(msg, sizeof msg,
	                 "%s:%d: error[%s] time limit exceeded (%s seconds): a library call was still "
	                 "running after the limit, so otarun stopped; raise it with --max-seconds\n",
	                 wd.src[0] ? wd.src : "?", wd.line, wd.rule, secs);
	if (n > 0) {
		size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
		ssize_t w = write(2, msg, len);
		(void)w;
	}
	_exit(3);
}

static void *watchdog_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wd.mu);
	for (;;) {
		if (!wd.armed) {
			pthread_cond_wait(&wd.cv, &wd.mu);
			continue;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ts_before(&now, &wd.hard))
			watchdog_fire();
		struct timespec hard = wd.hard;
		pthread_cond_timedwait(&wd.cv, &wd.mu, &hard);
	}
	return NULL;
}

int watchdog_arm(double seconds, double grace, const char *rule)
{
	pthread_mutex_lock(&wd.mu);
	if (!wd.started) {
		pthread_condattr_t attr;
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_destroy(&wd.cv);
		pthread_cond_init(&wd.cv, &attr);
		pthread_condattr_destroy(&attr);
		pthread_t t;
		pthread_attr_t ta;
		pthread_attr_init(&ta);
		pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &ta, watchdog_main, NULL) != 0) {
			pthread_attr_destroy(&ta);
			pthread_mutex_unlock(&wd.mu);
			return -1;
		}
		pthread_attr_destroy(&ta);
		wd.started = 1;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double total = seconds + grace;
	time_t whole = (time_t)total;
	long nsec = now.tv_nsec + (long)((total - (double)whole) * 1e9);
	wd.hard.tv_sec = now.tv_sec + whole + nsec / 1000000000L;
	wd.hard.tv_nsec = nsec % 1000000000L;
	wd.seconds = seconds;
	snprintf(wd.rule, sizeof wd.rule, "%s", rule ? rule : "script-seconds-limit");
	wd.src[0] = '\0';
	wd.line = 0;
	wd.armed = 1;
	pthread_cond_signal(&wd.cv);
	pthread_mutex_unlock(&wd.mu);
	return 0;
}

void watchdog_note(const char *src, int line)
{
	pthread_mutex_lock(&wd.mu);
	snprintf(wd.src, sizeof wd.src, "%s", src);
	wd.line = line;
	pthread_mutex_unlock(&wd.mu);
}

void watchdog_disarm(void)
{
	pthread_mutex_lock(&wd.mu);
	wd.armed = 0;
	pthread_cond_signal(&wd.cv);
	pthread_mutex_unlock(&wd.mu);
}
