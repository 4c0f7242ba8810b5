// Strings the UI shows, in English and Simplified Chinese. The language is reactive state:
// every `t` call in a template re-renders when `setLocale` changes it, so switching the
// language in Settings applies at once, without a reload.

import { en, type MessageKey } from "./messages/en";
import { specsZhCN } from "./messages/specs-zh-CN";
import { zhCN } from "./messages/zh-CN";

export type { MessageKey };
export type Locale = "en" | "zh-CN";

const tables: Record<Locale, Record<MessageKey, string>> = { en, "zh-CN": zhCN };

/** The first preferred language Lanyard speaks; any Chinese other than Traditional gets zh-CN. */
export function pickLocale(preferred: readonly string[]): Locale {
  for (const tag of preferred) {
    const lower = tag.toLowerCase().replace(/_/g, "-");
    if (lower.startsWith("en")) return "en";
    if (lower.startsWith("zh") && !/^zh-(hant|tw|hk|mo)/.test(lower)) return "zh-CN";
  }
  return "en";
}

const state = $state<{ locale: Locale }>({ locale: "en" });

/** Chooses the language of every `t` call, and of `<html lang>`. */
export function setLocale(locale: Locale): void {
  state.locale = locale;
  document.documentElement.lang = locale;
}

export function currentLocale(): Locale {
  return state.locale;
}

/** The message for `key`, with `{name}` placeholders filled from `params`. A message written
 * "one|many" is chosen by `params.count`. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  let message = tables[state.locale][key];
  if (message.includes("|")) {
    const [one, many] = message.split("|");
    message = (params.count === 1 ? one : many) ?? message;
  }
  return message.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** `t` for a key built at run time (an error code, a state name…), or null if there is none. */
export function tMaybe(key: string, params: Record<string, string | number> = {}): string | null {
  return key in tables[state.locale] ? t(key as MessageKey, params) : null;
}

/** "A, B, C or D" in the current language. */
export function joinOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return items.slice(0, -1).join(t("list.comma")) + t("list.or") + items[items.length - 1];
}

/** A text the backend gives in English (a service's description, an option's label…) in the
 * current language: translations of the specs live in messages/specs-zh-CN.ts, keyed by
 * `service.<id>.<field>` or `option.<key>.<field>`; anything untranslated shows as given. */
export function specText(key: string, given: string): string {
  if (state.locale === "en") return given;
  return specsZhCN[key] ?? given;
}
