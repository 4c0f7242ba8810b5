// Keyboard shortcuts as the platform writes them (⌘ on macOS, Ctrl elsewhere).

export const isMac = /mac/i.test(navigator.platform || navigator.userAgent);

/** "Ctrl+Shift+C" → "⌘⇧C" on macOS; unchanged elsewhere. */
export function shortcut(keys: string): string {
  if (!isMac) return keys;
  return keys.replace("Ctrl+", "⌘").replace("Shift+", "⇧").replace("Delete", "⌫");
}

/** Ctrl on Linux and Windows, ⌘ on macOS. */
export function primaryModifier(event: KeyboardEvent): boolean {
  return isMac ? event.metaKey : event.ctrlKey;
}

/** Whether typing is going on where the key was pressed (no list shortcuts there). */
export function inTextField(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || target.closest("input, textarea, select") !== null)
  );
}
