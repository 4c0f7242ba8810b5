// Where the person left the window. Closing the window to the tray destroys this page (so
// WebKit's web process exits); the app keeps the last place the page reported, and a rebuilt
// page asks for it once and puts the list back there: the same sidebar view, filter, selected
// account, scroll offset and row at the top (src-tauri/src/window.rs).
//
// Reports cost nothing at rest: when the view or the selection changes (and once more when the
// list has laid that out), when scrolling has settled and when the list changed height.

import { invoke } from "@tauri-apps/api/core";
import { tick } from "svelte";
import type { ViewState } from "./ipc/types";
import { accountRow } from "./details.svelte";
import { model } from "./model.svelte";

/** Scrolling (or the list's layout after a change) counts as settled after this long. */
const SETTLE_MS = 200;
/** How long to keep trying the old scroll offset while the list grows tall enough for it (it
 * measures its rows as they come on the page). */
const RESTORE_MS = 5000;
/** How long the restore waits for a frame before it looks again. */
const FRAME_WAIT_MS = 50;
/** The old place must hold this long before the restore lets go: the list goes on measuring the
 * rows it put on the page (and the details panel narrows it) for a moment after it first got
 * there. */
const HOLD_MS = 1000;

/** The element that scrolls the account list: its nearest ancestor that scrolls. */
function listScroller(): HTMLElement | null {
  let element = document.querySelector<HTMLElement>("[data-testid=account-list]")?.parentElement ?? null;
  while (element && !/(auto|scroll)/.test(getComputedStyle(element).overflowY)) element = element.parentElement;
  return element;
}

/** How far below the top of the scroller's viewport the row starts. */
function offsetIn(scroller: HTMLElement, row: HTMLElement): number {
  return row.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
}

/** The account row at the top of the scroller's viewport (the first one not scrolled past
 * entirely) and how far below the viewport's top it starts. */
function topRow(scroller: HTMLElement | null): { name: string; offset: number } | null {
  if (scroller === null) return null;
  const top = scroller.getBoundingClientRect().top;
  let best: { name: string; offset: number } | null = null;
  for (const row of document.querySelectorAll<HTMLElement>("[data-testid=account-list] [data-name]")) {
    const box = row.getBoundingClientRect();
    if (box.bottom <= top || box.height === 0) continue;
    if (best === null || box.top - top < best.offset) best = { name: row.dataset.name ?? "", offset: box.top - top };
  }
  return best;
}

/** The row a rebuilt window is putting back at the top: the list keeps it on the page meanwhile
 * (wherever it estimates the row to be), so the restore can find it and scroll to it. */
export const restoring = $state({ row: null as string | null });

function remember(scrollTop: number): void {
  const scroller = listScroller();
  // A page going away (hidden to the tray, its viewport collapsing as the window is destroyed)
  // lays the list out again, but says nothing about where the person was.
  if (document.hidden || (scroller !== null && scroller.clientHeight === 0)) return;
  const anchor = topRow(scroller);
  const view: ViewState = {
    view: model.view,
    selected: model.selected,
    filter: model.filter,
    scroll_top: scrollTop,
    top_row: anchor?.name ?? null,
    top_row_offset: anchor?.offset ?? 0,
  };
  // Losing a report loses only where the next window opens.
  invoke("remember_view_state", { view }).catch(() => {});
}

/** Puts the list back where the last page left it, then reports every change. Call once,
 * when the window mounts. */
export function keepViewState(): void {
  let scrollTop = 0;
  let settle: ReturnType<typeof setTimeout> | undefined;
  let started = false;
  const ready = $state({ restored: false });

  function rememberSettled(): void {
    clearTimeout(settle);
    settle = setTimeout(() => {
      remember(scrollTop);
      watchList();
    }, SETTLE_MS);
  }

  // Rows change height without a scroll (the details open beside the list and its rows wrap):
  // the top row may be another one then.
  const resized = new ResizeObserver(() => {
    if (ready.restored) rememberSettled();
  });
  let watched: Element | null = null;
  function watchList(): void {
    const list = document.querySelector("[data-testid=account-list]");
    if (list === watched) return;
    if (watched) resized.unobserve(watched);
    if (list) resized.observe(list);
    watched = list;
  }

  async function restore(): Promise<void> {
    const last = await invoke<ViewState | null>("view_state").catch(() => null);
    if (last) {
      model.view = last.view;
      model.filter = last.filter;
      model.selected = last.selected;
      scrollTop = last.scroll_top;
      await tick();
      // The list grows as it measures the rows it puts on the page, so the old offset may be
      // cut short or show other rows at first: each frame for a while, scroll to it, and once
      // the old top row is on the page, put that row where it was, until it has stayed there
      // for HOLD_MS or the person scrolls, types or clicks.
      restoring.row = last.top_row;
      const deadline = performance.now() + RESTORE_MS;
      let heldSince: number | null = null;
      let touched = false;
      const inputs = ["wheel", "keydown", "pointerdown", "touchstart"] as const;
      const onInput = () => (touched = true);
      for (const type of inputs) addEventListener(type, onInput, { capture: true, passive: true });
      for (;;) {
        const scroller = listScroller();
        if (scroller) {
          const row = last.top_row === null ? null : accountRow(last.top_row);
          const inPlace = () =>
            row
              ? Math.abs(offsetIn(scroller, row) - last.top_row_offset) < 1
              : last.top_row === null && Math.abs(scroller.scrollTop - last.scroll_top) < 1;
          // Moved since the last look (or never there): the hold starts again.
          if (!inPlace()) heldSince = null;
          if (row) scroller.scrollTop += offsetIn(scroller, row) - last.top_row_offset;
          else scroller.scrollTop = last.scroll_top;
          scrollTop = scroller.scrollTop;
          if (!inPlace()) heldSince = null;
          else if ((heldSince ??= performance.now()) + HOLD_MS <= performance.now()) break;
        }
        if (touched || performance.now() > deadline) break;
        // The next frame, or a short while: WebKitGTK may not draw a frame until the next
        // input, and a reopened window has had none.
        await new Promise<void>((done) => {
          requestAnimationFrame(() => done());
          setTimeout(done, FRAME_WAIT_MS);
        });
      }
      for (const type of inputs) removeEventListener(type, onInput, { capture: true });
      restoring.row = null;
    }
    ready.restored = true;
  }

  $effect.root(() => {
    $effect(() => {
      if (model.loaded && !started) {
        started = true;
        void restore();
      }
    });
    $effect(() => {
      // Read first, so every change of these reports.
      void [model.view, model.selected, model.filter];
      if (!ready.restored) return;
      remember(scrollTop);
      // Once the list has laid out the change (it measures rows a frame later), its top row
      // may be another one.
      rememberSettled();
    });
  });

  document.addEventListener(
    "scroll",
    (event) => {
      const scroller = listScroller();
      if (!ready.restored || scroller === null || event.target !== scroller) return;
      scrollTop = scroller.scrollTop;
      rememberSettled();
    },
    { capture: true, passive: true },
  );
}
