/* validate_window: a wave's maintenance window (`window = { days =, from =, to =, tz = }`): days
 * ("mon-thu"), clock times, a fixed offset or an IANA zone (tz.h), the findings `window-format`
 * and `window-no-tz`, and the window's text for messages. The grammar is timefmt.h's
 * (docs/time.md). Uses the context of validate.c. */
#include "validate_internal.h"
#include "tz.h"

#include <stdio.h>
#include <string.h>

const char *const vx_window_fields[VX_WINDOW_FIELD_COUNT] = { "days", "from", "to", "tz" };

void vx_parse_window(struct vx_ctx *c, const struct validate_value *v, const char *label, struct vx_wave_part *p)
{
	struct validate_window *w = &p->w.window;
	const struct validate_value *days = vx_get(v, "days"), *from = vx_get(v, "from"), *to = vx_get(v, "to"),
				    *tz = vx_get(v, "tz");
	char err[200];
	const char *days_text = "daily";
	int bad = 0;
	if (vx_want(c, v, VALIDATE_TABLE, label, "window", "a table { days =, from =, to =, tz = }"))
		return;
	vx_check_keys(c, v, label, vx_window_fields, VX_WINDOW_FIELD_COUNT);
	for (int d = 1; d <= 7; d++)
		w->days[d] = 1;
	if (days && days->type == VALIDATE_STRING) {
		if (timefmt_parse_days(days->string, w->days, err, sizeof err))
			bad = (vx_diag(c, VALIDATE_ERROR, "window-format", "window", "%s.days: %s", label, err), 1);
		days_text = days->string;
	} else if (days && days->type == VALIDATE_TABLE && days->nitems > 0 && !days->nfields) {
		memset(w->days, 0, sizeof w->days);
		days_text = "";
		for (size_t i = 0; i < days->nitems; i++) {
			int one[8];
			const struct validate_value *d = &days->items[i];
			if (d->type != VALIDATE_STRING || timefmt_parse_days(d->string, one, err, sizeof err)) {
				vx_diag(c, VALIDATE_ERROR, "window-format", "window",
					"%s.days[%zu] is %s: use day names like \"mon\"", label, i + 1, vx_describe(c, d));
				bad = 1;
				continue;
			}
			for (int k = 1; k <= 7; k++)
				w->days[k] |= one[k];
			days_text = vx_printf(c, "%s%s%s", days_text, i ? "," : "", d->string);
		}
	} else if (days) {
		vx_diag(c, VALIDATE_ERROR, "window-format", "window",
			"%s.days must be like \"mon-thu\", \"mon,wed,fri\", \"daily\" or { \"mon\", \"tue\" }, got %s", label,
			vx_describe(c, days));
		bad = 1;
	}
	w->from = 0;
	w->to = from || to ? 0 : 1440; /* neither: the whole day */
	if (!from != !to) {
		vx_diag(c, VALIDATE_ERROR, "window-format", "window", "%s needs both from and to (\"HH:MM\")", label);
		bad = 1;
	}
	const struct validate_value *clocks[2] = { from, to };
	int *dst[2] = { &w->from, &w->to };
	for (int i = 0; i < 2; i++) {
		if (!clocks[i])
			continue;
		if (clocks[i]->type != VALIDATE_STRING ||
		    timefmt_parse_clock(clocks[i]->string, dst[i], err, sizeof err)) {
			vx_diag(c, VALIDATE_ERROR, "window-format", "window", "%s.%s must be \"HH:MM\", got %s", label,
				i ? "to" : "from", vx_describe(c, clocks[i]));
			bad = 1;
		}
	}
	if (from && to && !bad && w->from == w->to) {
		vx_diag(c, VALIDATE_ERROR, "window-format", "window",
			"%s opens and closes at the same time %s: give a window of at least a minute", label, from->string);
		bad = 1;
	}
	w->tz = 0;
	w->zone[0] = 0;
	if (!tz) {
		vx_diag(c, VALIDATE_WARNING, "window-no-tz", "window",
			"%s has no tz, so its hours are read in UTC: give tz = \"Asia/Shanghai\" (an IANA zone, with "
			"daylight saving) or an offset like \"+08:00\" (tz = \"UTC\" says UTC on purpose)", label);
	} else if (tz->type != VALIDATE_STRING) {
		vx_diag(c, VALIDATE_ERROR, "window-format", "window",
			"%s.tz must be an IANA zone name like \"Europe/Berlin\" or an offset like \"+08:00\", got %s", label,
			vx_describe(c, tz));
		bad = 1;
	} else if (timefmt_parse_tz(tz->string, &w->tz, err, sizeof err) != 0) {
		if (tz_check(tz->string, err, sizeof err) == 0) {
			snprintf(w->zone, sizeof w->zone, "%s", tz->string);
		} else {
			vx_diag(c, VALIDATE_ERROR, "window-format", "window", "%s.tz: %s", label, err);
			bad = 1;
		}
	}
	if (bad)
		return;
	int a = w->tz < 0 ? -w->tz : w->tz;
	if (w->zone[0])
		w->text = vx_printf(c, "%s %02d:%02d-%02d:%02d %s", days_text, w->from / 60, w->from % 60, w->to / 60,
				    w->to % 60, w->zone);
	else
		w->text = vx_printf(c, "%s %02d:%02d-%02d:%02d %c%02d:%02d", days_text, w->from / 60, w->from % 60,
				    w->to / 60, w->to % 60, w->tz < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
	p->w.has_window = 1;
	p->valid |= VF_BIT(VF_WINDOW);
}
