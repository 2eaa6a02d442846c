/* The sandbox's last line of defence (docs/sandbox.md, "Wall-clock limit"). The count hook in
 * l_sandbox.c stops a script at its next VM instruction once --max-seconds has passed, but a hook
 * cannot run while a C function is busy. Every library function the sandbox exposes is bounded
 * (lua/otarun/lang/sandbox.lua); this timer holds whether or not that list is complete: if the
 * script is still running `grace` seconds after its limit, the process prints the diagnostic and
 * ends with exit code 3. Nothing else can be done safely: the Lua state may be in the middle of an
 * allocation, so it cannot be unwound. One POSIX timer (CLOCK_MONOTONIC), created on first use,
 * delivers a real-time signal at the hard deadline; arming and disarming it are one system call
 * each, where a watching thread cost every start-up its creation and wake-ups. The handler only
 * write()s a message made ready beforehand and calls _exit (both async-signal-safe). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "watchdog.h"

static struct {
	int started;
	timer_t timer;
	char secs[32]; /* the limit as Lua prints it */
	char rule[64];
	char src[256]; /* the position the message names */
	int line;
	/* the message the handler writes: two buffers, `ready` names the complete one */
	char msg[2][768];
	size_t len[2];
	volatile sig_atomic_t ready;
	volatile sig_atomic_t armed;
} wd;

static void watchdog_fire(int sig)
{
	(void)sig;
	if (!wd.armed)
		return; /* a late signal from a timer just disarmed */
	int i = wd.ready;
	ssize_t w = write(2, wd.msg[i], wd.len[i]);
	(void)w;
	_exit(3);
}

/* Makes the message for src:line into the buffer the handler is not reading, then publishes it;
 * nothing to do when the position has not moved. */
static void watchdog_message(const char *src, int line)
{
	if (!src)
		src = "";
	if (line == wd.line && strcmp(src, wd.src) == 0)
		return;
	snprintf(wd.src, sizeof wd.src, "%s", src);
	wd.line = line;
	int next = !wd.ready;
	int n = snprintf(wd.msg[next], sizeof wd.msg[next],
	                 "%s:%d: error[%s] time limit exceeded (%s seconds): a library call was still "
	                 "running after the limit, so otarun stopped; raise it with --max-seconds\n",
	                 src[0] ? src : "?", line, wd.rule, wd.secs);
	wd.len[next] = n < 0 ? 0 : (size_t)n < sizeof wd.msg[next] ? (size_t)n : sizeof wd.msg[next] - 1;
	wd.ready = next;
}

static int watchdog_start(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = watchdog_fire;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGRTMIN, &sa, NULL) != 0)
		return -1;
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	if (timer_create(CLOCK_MONOTONIC, &ev, &wd.timer) != 0)
		return -1;
	wd.started = 1;
	return 0;
}

int watchdog_arm(double seconds, double grace, const char *rule)
{
	if (!wd.started && watchdog_start() != 0)
		return -1;
	snprintf(wd.secs, sizeof wd.secs, "%.14g", seconds);
	size_t len = strlen(wd.secs);
	if (!strpbrk(wd.secs, ".e")) /* as Lua prints it: the same text as the count hook's message */
		snprintf(wd.secs + len, sizeof wd.secs - len, ".0");
	snprintf(wd.rule, sizeof wd.rule, "%s", rule ? rule : "script-seconds-limit");
	wd.line = -1; /* the message is made anew */
	watchdog_message(NULL, 0);
	double total = seconds + grace;
	struct itimerspec when;
	memset(&when, 0, sizeof when);
	when.it_value.tv_sec = (time_t)total;
	when.it_value.tv_nsec = (long)((total - (double)(time_t)total) * 1e9);
	if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
		when.it_value.tv_nsec = 1;
	wd.armed = 1;
	if (timer_settime(wd.timer, 0, &when, NULL) != 0) {
		wd.armed = 0;
		return -1;
	}
	return 0;
}

void watchdog_note(const char *src, int line)
{
	watchdog_message(src, line);
}

void watchdog_disarm(void)
{
	if (!wd.started)
		return;
	struct itimerspec none;
	memset(&none, 0, sizeof none);
	timer_settime(wd.timer, 0, &none, NULL);
	wd.armed = 0;
}
