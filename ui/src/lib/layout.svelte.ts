// Widths in rem, measured: the layouts (compact sidebar, details over the list, row shapes)
// follow the room there is for text, so a larger root font and a zoomed page both get the
// narrow layouts. (WebKitGTK evaluates container queries in zoomed pixels under CSS zoom, which
// would compare them with unzoomed rem thresholds; measuring here avoids that.)

const metrics = $state({ remPx: 14 });

// A 1rem-wide probe: it resizes, and so reports, whenever the root font size changes. Pinned
// to the top left corner: left at its place in the flow it would sit below the body and make
// the whole window scroll by its height.
const probe = document.createElement("div");
probe.setAttribute("aria-hidden", "true");
probe.style.setProperty("position", "absolute");
probe.style.setProperty("top", "0");
probe.style.setProperty("left", "0");
probe.style.setProperty("visibility", "hidden");
probe.style.setProperty("width", "1rem");
probe.style.setProperty("height", "1rem");
probe.style.setProperty("pointer-events", "none");
document.documentElement.append(probe);
new ResizeObserver(() => {
  const px = probe.getBoundingClientRect().width;
  if (px > 0) metrics.remPx = px;
}).observe(probe);

/** Converts CSS pixels to rem at the current root font size. */
export function toRem(px: number): number {
  return px / metrics.remPx;
}

/** Action: calls `report` with the element's width in CSS pixels whenever it changes. */
export function observeWidth(node: HTMLElement, report: (px: number) => void) {
  let callback = report;
  let frame = 0;
  // Reported on the next frame: a new layout changes sizes again (a scrollbar comes or goes),
  // and reporting inside the observer's callback would make that a ResizeObserver loop.
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => callback(node.clientWidth));
  });
  observer.observe(node);
  callback(node.clientWidth);
  return {
    update(next: (px: number) => void) {
      callback = next;
    },
    destroy() {
      cancelAnimationFrame(frame);
      observer.disconnect();
    },
  };
}

// WebKitGTK's CSS `zoom` (document.body.style.zoom = 2, a common way to try a page at 200 %)
// scales fonts and pixel lengths but leaves rem lengths as they were, and this UI is sized in
// rem so that large text works. A zoom put on <body> is therefore turned into the root font
// size it stands for, which scales everything alike; setting it back to 1 undoes it.
function zoomToFontSize(): void {
  const zoom = parseFloat(document.body.style.getPropertyValue("zoom"));
  if (!Number.isFinite(zoom) || zoom <= 0) return;
  document.body.style.removeProperty("zoom");
  if (zoom === 1) document.documentElement.style.removeProperty("font-size");
  else document.documentElement.style.setProperty("font-size", `${87.5 * zoom}%`);
}
zoomToFontSize();
new MutationObserver(zoomToFontSize).observe(document.body, { attributes: true, attributeFilter: ["style"] });
