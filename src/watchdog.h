/* The wall-clock backstop for sandboxed runs (src/watchdog.c, docs/sandbox.md). Pure C. */
#ifndef OTARUN_WATCHDOG_H
#define OTARUN_WATCHDOG_H

/* Arms the watchdog: if it is not disarmed within seconds + grace, the process prints
 * "SRC:LINE: error[RULE] time limit exceeded ..." on stderr and exits with code 3.
 * Returns 0, or -1 when the watchdog's timer cannot be set. */
int watchdog_arm(double seconds, double grace, const char *rule);

/* The script's last known position, for that message. */
void watchdog_note(const char *src, int line);

void watchdog_disarm(void);

#endif
