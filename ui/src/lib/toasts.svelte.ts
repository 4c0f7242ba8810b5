// Transient messages at the bottom of the window ("Copied…", "Signed in…").

import type { Tone } from "./states";

export interface Toast {
  id: number;
  text: string;
  tone: Tone;
}

let nextId = 1;
export const toasts = $state<Toast[]>([]);

export function dismissToast(id: number): void {
  const index = toasts.findIndex((toast) => toast.id === id);
  if (index >= 0) toasts.splice(index, 1);
}

/** Shows `text` for a few seconds; at most four stay on screen. An error stays until the
 * person dismisses it: nobody should have to read it against a clock. */
export function showToast(text: string, tone: Tone = "ok", durationMs = 4500): void {
  const id = nextId++;
  toasts.push({ id, text, tone });
  while (toasts.length > 4) toasts.shift();
  if (tone !== "danger") setTimeout(() => dismissToast(id), durationMs);
}
