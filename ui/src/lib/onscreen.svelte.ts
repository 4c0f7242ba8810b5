// Which account rows are on (or near) the screen. Their countdowns tick with the window's
// clock; rows far off screen keep the text of their last tick until they come near again, so
// a list of 200 accounts does not relay out 200 rows every second.

import { SvelteSet } from "svelte/reactivity";

const near = new SvelteSet<Element>();

// One observer for every row; a viewport's height above and below counts as near.
const observer = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) near.add(entry.target);
      else near.delete(entry.target);
    }
  },
  { rootMargin: "100% 0px 100% 0px" },
);

/** Action: tracks the element; `isNear(element)` then says whether it is near the screen. */
export function trackOnscreen(node: Element) {
  observer.observe(node);
  return {
    destroy() {
      observer.unobserve(node);
      near.delete(node);
    },
  };
}

export function isNear(node: Element | undefined): boolean {
  return node !== undefined && near.has(node);
}
