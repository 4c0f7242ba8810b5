// What a failed command means to a person: a plain explanation chosen by the error's code (in
// the UI's language), next to the service's own words when it gave some.

import type { CommandError } from "./api";
import { t, tMaybe } from "./i18n.svelte";

/** The plain explanation for an error code; unknown codes get the generic one. */
export function explain(error: CommandError): string {
  return tMaybe(`error.${error.code}`) ?? t("error.internal");
}

/** Codes whose plain explanation already says all the backend's detail would (it names the
 * account or repeats the reason): the detail is left out so the error is said once. */
const SAID_BY_CODE = new Set(["needs_login", "credentials_rejected", "challenge_failed", "already_exists", "cancelled"]);

/** An error said once: the plain explanation, the service's own words when it gave some, and
 * otherwise the backend's detail where it adds what the explanation cannot know (which
 * address, which option, what the network said). */
export function errorParts(error: CommandError): { plain: string; server: string | null; detail: string | null } {
  const server = error.server_message?.trim() || null;
  const detail = server || SAID_BY_CODE.has(error.code) || !error.message.trim() ? null : detailText(error);
  return { plain: explain(error), server, detail };
}

/** The backend's detail in the UI's language when it came as a code this window words
 * (`said`, its `cause` picking a variant), else the backend's English. */
function detailText(error: CommandError): string {
  const said = error.said;
  if (said) {
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(said.params)) if (value !== undefined) params[key] = value;
    const variant = params.cause ? `.${params.cause}` : "";
    const worded = tMaybe(`error.said.${said.code}${variant}`, params);
    if (worded !== null) return worded;
  }
  return error.message.trim();
}

/** The same in one line, for a toast. */
export function errorLine(error: CommandError): string {
  const { plain, server, detail } = errorParts(error);
  if (server) return `${plain} ${t("error.serverSaid")} “${server}”`;
  return detail ? `${plain} (${detail})` : plain;
}

/** The form field a rejected add or edit is about, as the backend names it (`name`, `user`,
 * `endpoint`, `options.<key>`), turned into the form's field id; null means the whole form. */
export function fieldOf(error: CommandError, optionKeys: readonly string[]): string | null {
  if (error.field?.startsWith("options.")) {
    const key = error.field.slice("options.".length);
    return optionKeys.includes(key) ? `opt-${key}` : null;
  }
  if (error.field === "name" || error.field === "user" || error.field === "endpoint") return error.field;
  // Another account holds the name (or the same user on the same server): the name is what a
  // person changes.
  if (error.code === "already_exists") return "name";
  return null;
}
