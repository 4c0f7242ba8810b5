// The window's clock, woken by demand only. Each display that shows time (a countdown, a
// "3 minutes ago") watches the clock with a function that says when its text would next change
// and how late it may be moved; one timer sleeps until the earliest of those deadlines and moves
// every display that is due by then, so displays in minutes share their wakes. Nothing watching
// (no countdown on screen, the page hidden to the tray): no timer at all.

import type { Change } from "./format";

type NextChange = (now: number) => Change | null;

interface Watch {
  /** When the display's text changes next (ms since the epoch); Infinity while it is updating. */
  due: number;
  /** The latest it may be woken for that change. */
  deadline: number;
  wake(now: number): void;
}

const watches = new Set<Watch>();
let timer: ReturnType<typeof setTimeout> | undefined;
let timerDue = Infinity;
let armQueued = false;
let hidden = typeof document !== "undefined" && document.hidden;

/** What the clock has done, for tests through WebDriver: a few numbers, read on demand. */
const record = {
  /** Timer wake-ups since the page loaded. */
  ticks: 0,
  /** The instants (ms since the epoch) of the last wake-ups, oldest first. */
  recent: [] as number[],
};
const RECENT = 64;

Object.defineProperty(window, "lanyardClock", {
  value: Object.freeze({
    get ticks() {
      return record.ticks;
    },
    get recent() {
      return [...record.recent];
    },
    /** How many displays watch the clock now. */
    get watching() {
      return watches.size;
    },
    /** When the timer fires next (ms since the epoch), or null when none is set. */
    get next() {
      return timer === undefined ? null : timerDue;
    },
  }),
});

function arm(): void {
  armQueued = false;
  let due = Infinity;
  for (const watch of watches) if (watch.deadline < due) due = watch.deadline;
  if (hidden || due === Infinity) {
    clearTimeout(timer);
    timer = undefined;
    timerDue = Infinity;
    return;
  }
  // Woken on the wall clock's next whole second after the earliest deadline, and every display
  // due by then moves at once: at most one wake (and one repaint) a second, however many
  // countdowns there are and wherever their instants fall within a second; for displays in
  // minutes, one or two wakes a minute.
  due = Math.ceil(due / 1000) * 1000;
  if (timer !== undefined && timerDue === due) return;
  clearTimeout(timer);
  timerDue = due;
  timer = setTimeout(fire, Math.max(0, due - Date.now()));
}

/** Re-arms once the current batch of changes (and the effects they rerun) is done. */
function rearm(): void {
  if (armQueued) return;
  armQueued = true;
  queueMicrotask(arm);
}

function fire(): void {
  // A timer may fire a millisecond before its time: it is its time.
  const now = Math.max(Date.now(), timerDue === Infinity ? 0 : timerDue);
  timer = undefined;
  timerDue = Infinity;
  record.ticks += 1;
  record.recent.push(now);
  if (record.recent.length > RECENT) record.recent.shift();
  for (const watch of watches) if (watch.due <= now) watch.wake(now);
  rearm();
}

if (typeof document !== "undefined") {
  document.addEventListener("visibilitychange", () => {
    hidden = document.hidden;
    // And no spinner turns behind a hidden window (app.css pauses every animation).
    document.documentElement.toggleAttribute("data-page-hidden", hidden);
    // Shown again: displays that went past their moment while hidden catch up at once.
    rearm();
  });
}

/**
 * "Now" for one display, to be created while a component initialises. `nextChange(now)` says
 * when the display's text would change next (null: never); it may read reactive state (the
 * instant it counts to), and is asked again whenever that or "now" changes. While `active()`
 * is false (a row scrolled away) the display is not woken; once active again, it catches up.
 */
export function watchClock(nextChange: NextChange, active: () => boolean = () => true): { readonly now: number } {
  let now = $state(Date.now());
  const watch: Watch = {
    due: Infinity,
    deadline: Infinity,
    wake(at) {
      watch.due = Infinity;
      watch.deadline = Infinity;
      now = at;
    },
  };
  $effect(() => {
    if (!active()) return;
    const next = nextChange(now);
    if (next === null || !Number.isFinite(next.at)) return;
    watch.due = next.at;
    watch.deadline = Math.max(next.at, next.by);
    watches.add(watch);
    rearm();
    return () => {
      watches.delete(watch);
      watch.due = Infinity;
      watch.deadline = Infinity;
      rearm();
    };
  });
  return {
    get now() {
      return now;
    },
  };
}

/** When the first of several displays changes (and the latest it may be woken for one of them),
 * ignoring the displays that never change. */
export function earliest(...changes: (Change | null)[]): Change | null {
  let first: Change | null = null;
  for (const next of changes) {
    if (next === null) continue;
    first = first === null ? next : { at: Math.min(first.at, next.at), by: Math.min(first.by, next.by) };
  }
  return first;
}
