// Where the person left the window. Closing the window to the tray destroys this page (so
// WebKit's web process exits); the app keeps the last place the page reported, and a rebuilt
// page asks for it once and puts the list back there: the same sidebar view, filter, selected
// account and scroll offset (src-tauri/src/window.rs).
//
// Reports cost nothing at rest: one when the view or the selection changes, one when scrolling
// has settled.

import { invoke } from "@tauri-apps/api/core";
import { tick } from "svelte";
import type { ViewState } from "./ipc/types";
import { model } from "./model.svelte";

/** Scrolling counts as settled after this long without a scroll event. */
const SCROLL_SETTLE_MS = 150;
/** Frames to wait for the list to grow tall enough to take the old scroll offset. */
const RESTORE_FRAMES = 10;

/** The element that scrolls the account list: its nearest ancestor that scrolls. */
function listScroller(): HTMLElement | null {
  let element = document.querySelector<HTMLElement>("[data-testid=account-list]")?.parentElement ?? null;
  while (element && !/(auto|scroll)/.test(getComputedStyle(element).overflowY)) element = element.parentElement;
  return element;
}

function remember(scrollTop: number): void {
  const view: ViewState = {
    view: model.view,
    selected: model.selected,
    filter: model.filter,
    scroll_top: scrollTop,
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

  async function restore(): Promise<void> {
    const last = await invoke<ViewState | null>("view_state").catch(() => null);
    if (last) {
      model.view = last.view;
      model.filter = last.filter;
      model.selected = last.selected;
      scrollTop = last.scroll_top;
      await tick();
      // A list drawn a frame later is not yet tall enough for the old offset: try again.
      for (let frame = 0; frame < RESTORE_FRAMES; frame++) {
        const scroller = listScroller();
        if (scroller) {
          scroller.scrollTop = last.scroll_top;
          if (Math.abs(scroller.scrollTop - last.scroll_top) < 1) break;
        }
        await new Promise((done) => requestAnimationFrame(done));
      }
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
      if (ready.restored) remember(scrollTop);
    });
  });

  document.addEventListener(
    "scroll",
    (event) => {
      const scroller = listScroller();
      if (!ready.restored || scroller === null || event.target !== scroller) return;
      scrollTop = scroller.scrollTop;
      clearTimeout(settle);
      settle = setTimeout(() => remember(scrollTop), SCROLL_SETTLE_MS);
    },
    { capture: true, passive: true },
  );
}
