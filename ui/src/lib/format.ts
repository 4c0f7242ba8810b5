// Times as people read them, in the current language. Pure presentation: the backend decides
// states and expiries, these only turn an instant and "now" into text.

import { currentLocale, t } from "./i18n.svelte";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const pad = (n: number) => String(n).padStart(2, "0");

// Intl formatters are costly to build and 200 rows ask every second: one per locale and style.
const formatters = new Map<string, Intl.RelativeTimeFormat | Intl.DateTimeFormat>();
function cached<T extends Intl.RelativeTimeFormat | Intl.DateTimeFormat>(key: string, make: () => T): T {
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = make();
    formatters.set(key, formatter);
  }
  return formatter as T;
}

/** A span such as `1h 02m 05s` / `1小时02分05秒`; seconds are dropped beyond a day. */
export function formatSpan(ms: number): string {
  const total = Math.max(0, Math.floor(ms / SECOND));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days > 0) return t("span.days", { d: days, h: hours, m: pad(minutes) });
  if (hours > 0) return t("span.hours", { h: hours, m: pad(minutes), s: pad(seconds) });
  if (minutes > 0) return t("span.minutes", { m: minutes, s: pad(seconds) });
  return t("span.seconds", { s: seconds });
}

/** A round span such as "30 minutes", "6 hours", "1 day" (for settings). */
export function formatCoarse(secs: number): string {
  if (secs % 86400 === 0) return t("span.coarse.days", { count: secs / 86400 });
  if (secs % 3600 === 0) return t("span.coarse.hours", { count: secs / 3600 });
  if (secs % 60 === 0) return t("span.coarse.minutes", { count: secs / 60 });
  return formatSpan(secs * SECOND);
}

export function parseInstant(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** "3 minutes ago", "in 2 hours": coarse, for facts that do not tick. */
export function formatRelative(at: number, now: number): string {
  const diff = at - now;
  const abs = Math.abs(diff);
  // The window's clock ticks once a second, so "now" may trail an instant that just passed.
  if (abs < 45 * SECOND) return diff < 2 * SECOND ? t("time.justNow") : t("time.inMoment");
  const locale = currentLocale();
  const format = cached(`relative ${locale}`, () => new Intl.RelativeTimeFormat(locale, { numeric: "auto" }));
  if (abs < HOUR) return format.format(Math.round(diff / MINUTE), "minute");
  if (abs < DAY) return format.format(Math.round(diff / HOUR), "hour");
  return format.format(Math.round(diff / DAY), "day");
}

/** A full date and time, for tooltips and detail lists. */
export function formatDateTime(at: number): string {
  const locale = currentLocale();
  return cached(`datetime ${locale}`, () => new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" })).format(at);
}

/** The time only when `at` is today, else a short date and time (event logs). */
export function formatLogTime(at: number, now: number): string {
  const sameDay = new Date(at).toDateString() === new Date(now).toDateString();
  const locale = currentLocale();
  const format = sameDay
    ? cached(`time ${locale}`, () => new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit" }))
    : cached(`short ${locale}`, () => new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }));
  return format.format(at);
}
