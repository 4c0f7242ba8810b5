// Language and theme: the settings say "system", "en", "light"…; this resolves them and puts
// the result where CSS and assistive technology read it (`<html lang>` and `data-theme`).

import type { LanguageSetting, ThemeSetting } from "./api";
import { pickLocale, setLocale } from "./i18n.svelte";

const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");
let themeSetting: ThemeSetting = "system";
let systemTag: string | null = null;

function paintTheme(): void {
  const dark = themeSetting === "dark" || (themeSetting === "system" && darkQuery.matches);
  const theme = dark ? "dark" : "light";
  const root = document.documentElement;
  if (root.dataset.theme === theme) return;
  // Every colour switches in the same frame: otherwise controls with a colour transition fade
  // for a moment, showing the new theme's text on the old theme's background.
  root.classList.add("theme-switching");
  root.dataset.theme = theme;
  void root.offsetWidth; // a style pass with transitions off
  root.classList.remove("theme-switching");
}

darkQuery.addEventListener("change", paintTheme);

/** The system's language as the backend read it (navigator.languages is only a fallback,
 * because WebKitGTK reports English whenever the system locale is not generated). */
export function setSystemLanguage(tag: string | null): void {
  systemTag = tag;
}

export function applyLanguage(setting: LanguageSetting): void {
  setLocale(
    setting === "system"
      ? pickLocale([...(systemTag ? [systemTag] : []), ...navigator.languages])
      : setting,
  );
}

export function applyTheme(setting: ThemeSetting): void {
  themeSetting = setting;
  paintTheme();
}
