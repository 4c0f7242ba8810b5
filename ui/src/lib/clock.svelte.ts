// One clock for the whole window: every countdown reads `clock.now`, and a single timer,
// aligned to the second, moves it. No per-row timers, no polling of the backend.

const state = $state({ now: Date.now() });
let started = false;

export const clock = {
  get now(): number {
    return state.now;
  },
};

export function startClock(): void {
  if (started) return;
  started = true;
  const tick = () => {
    state.now = Date.now();
    // Re-aligned every tick, so a suspended machine or a slow frame never drifts the display.
    setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
  };
  setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
}
