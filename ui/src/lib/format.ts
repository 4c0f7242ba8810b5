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

/** Below this much time left (or since), a span shows seconds; beyond it, whole minutes. */
const SECONDS_SHOWN_BELOW = 10 * MINUTE;

/**
 * A span such as `2h 05m` / `2小时05分`: whole minutes, and seconds only in the last ten minutes
 * (`9m 05s`), where they matter. A countdown in minutes wakes the window once a minute, not
 * sixty times.
 */
export function formatSpan(ms: number): string {
  const total = Math.max(0, Math.floor(ms / SECOND));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days > 0) return t("span.days", { d: days, h: hours, m: pad(minutes) });
  if (hours > 0) return t("span.hours", { h: hours, m: pad(minutes) });
  if (spanUnit(total * SECOND) === MINUTE) return t("span.minutes", { m: minutes });
  if (minutes > 0) return t("span.minutesSeconds", { m: minutes, s: pad(seconds) });
  return t("span.seconds", { s: seconds });
}

/** The unit `formatSpan` counts in for a span this long. */
function spanUnit(ms: number): number {
  return ms >= SECONDS_SHOWN_BELOW ? MINUTE : SECOND;
}

/** A round span such as "30 minutes", "6 hours", "1 day" (for settings). */
export function formatCoarse(secs: number): string {
  if (secs % 86400 === 0) return t("span.coarse.days", { count: secs / 86400 });
  if (secs % 3600 === 0) return t("span.coarse.hours", { count: secs / 3600 });
  if (secs % 60 === 0) return t("span.coarse.minutes", { count: secs / 60 });
  return t("span.coarse.seconds", { count: secs });
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
  // The window's clock may wake a moment late, so "now" may trail an instant that just passed.
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

// When each text above changes next, as time goes on: the window's clock sleeps until then
// (clock.svelte.ts). A moment a little early only costs one extra wake; a display is never
// woken after its `by`.

/**
 * When a display's text changes next: at `at`, and it may be woken as late as `by`, so that
 * the window's clock can move several displays in one wake. A display in seconds is woken on
 * time; one in minutes or coarser up to half a minute late, well inside what its unit says.
 */
export interface Change {
  at: number;
  by: number;
}

const change = (at: number, unit: number): Change => ({ at, by: unit >= MINUTE ? at + MINUTE / 2 : at });

/** When `formatSpan(|instant - now|)` next changes. */
export function spanChangesAt(instant: number, now: number): Change {
  const left = instant - now;
  if (left > 0) {
    // Counting down, cut to whole units: the text holds while `left` stays ≥ shown × unit.
    // At the instant itself the countdown becomes "ago".
    const unit = spanUnit(left);
    const shown = Math.floor(left / unit);
    return change(shown === 0 ? instant : instant - shown * unit + 1, unit);
  }
  // Counting up since the instant.
  const since = now - instant;
  const unit = spanUnit(since);
  return change(instant + (Math.floor(since / unit) + 1) * unit, unit);
}

/** When a countdown's text (`Countdown.svelte`) next changes; null when it no longer does. */
export function countdownChangesAt(instant: number | null, now: number, kind: "session" | "refresh"): Change | null {
  if (instant === null) return null;
  // An expired refresh token is only said to be expired; an expired session counts up.
  if (kind === "refresh" && instant - now <= 0) return null;
  return spanChangesAt(instant, now);
}

/** When `formatRelative(at, now)` next changes (a minute, an hour or a day at the finest). */
export function relativeChangesAt(at: number, now: number): Change {
  const diff = at - now;
  const abs = Math.abs(diff);
  // Where the wording changes: "just now", "in a moment", and the switches of unit.
  const moments = [at - 2 * SECOND + 1, at - 45 * SECOND + 1, at + 45 * SECOND, at - HOUR + 1, at + HOUR, at - DAY + 1, at + DAY];
  if (abs >= 45 * SECOND) {
    const unit = abs < HOUR ? MINUTE : abs < DAY ? HOUR : DAY;
    // Math.round keeps the shown count while diff ≥ (count - ½) units.
    moments.push(Math.floor(at - (Math.round(diff / unit) - 0.5) * unit) + 1);
  }
  let next = Infinity;
  for (const moment of moments) if (moment > now && moment < next) next = moment;
  // "Just now" and "in a moment" are about seconds; the rest counts minutes at the finest.
  return change(next, Math.abs(next - at) <= 45 * SECOND ? SECOND : MINUTE);
}

/** When `formatLogTime(at, now)` next changes: at midnight, when "today" becomes another day. */
export function logTimeChangesAt(at: number, now: number): Change | null {
  if (new Date(at).toDateString() !== new Date(now).toDateString() && at < now) return null;
  const midnight = new Date(now);
  midnight.setHours(24, 0, 0, 0);
  return change(midnight.getTime(), DAY);
}
