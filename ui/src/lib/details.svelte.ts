// Whether the details panel shows, and where the keyboard goes when it closes.
//
// In a wide window the details sit beside the list and follow the selected row. In a small
// window (or with large text) they cover the list: there they open only on Enter or a click,
// never because a row got the focus, so moving through the rows never hides the focused one
// (App.svelte decides which of the two the window is).

export const details = $state({
  /** The panel covers the list (App.svelte keeps this up to date). */
  over: false,
  /** Opened over the list on purpose (Enter, a click); ignored beside the list. */
  open: false,
});

/** The account's row in the list, if it is there. */
export function accountRow(name: string): HTMLElement | null {
  return document.querySelector<HTMLElement>(`[data-testid=account-list] [data-name="${CSS.escape(name)}"]`);
}

/** Puts the focus on the account's row; false when the row is not there. */
export function focusAccountRow(name: string, options?: FocusOptions): boolean {
  const row = accountRow(name);
  row?.focus(options);
  return row !== null;
}
