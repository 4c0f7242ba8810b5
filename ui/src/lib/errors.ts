// What a failed command means to a person: a plain explanation chosen by the error's code (in
// the UI's language), next to the service's own words when it gave some.

import type { CommandError } from "./api";
import { t, tMaybe } from "./i18n.svelte";

/** The plain explanation for an error code; unknown codes get the generic one. */
export function explain(error: CommandError): string {
  return tMaybe(`error.${error.code}`) ?? t("error.internal");
}

/** The form field a rejected add or edit is about, read from the backend's message (which
 * names the option, endpoint, user or account name it refused); null means the whole form. */
export function fieldOf(error: CommandError, optionKeys: readonly string[]): string | null {
  if (error.code === "already_exists") return "name";
  if (error.code !== "invalid_input") return null;
  const message = error.message.toLowerCase();
  const option = /option '([^']+)'/.exec(error.message)?.[1];
  if (option && optionKeys.includes(option)) return `opt-${option}`;
  if (message.includes("proxy") && optionKeys.includes("proxy")) return "opt-proxy";
  if (message.includes("endpoint")) return "endpoint";
  if (message.includes("account name") || message.includes("is a service id")) return "name";
  if (message.includes("user")) return "user";
  return null;
}
