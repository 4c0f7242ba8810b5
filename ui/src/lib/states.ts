// How each backend state looks: a tone (colour), an icon (so colour is never the only cue)
// and its words. The backend decides the state; this file only dresses it.

import type { AccountState, AccountView, CopyForm, ServiceSpec, StateName } from "./api";
import type { IconName } from "./icons";

export type Tone = "ok" | "warn" | "danger" | "info" | "neutral";

export const stateLook: Record<StateName, { tone: Tone; icon: IconName }> = {
  valid: { tone: "ok", icon: "check" },
  expiring: { tone: "warn", icon: "hourglass" },
  refreshing: { tone: "info", icon: "refresh" },
  retrying: { tone: "warn", icon: "retry" },
  needs_login: { tone: "danger", icon: "alert" },
  awaiting_challenge: { tone: "info", icon: "key" },
  signed_out: { tone: "neutral", icon: "signedOut" },
};

/** States that want the person to look: marked in the sidebar and sorted first in summaries. */
export function needsAttention(state: AccountState): boolean {
  return state.state === "needs_login" || state.state === "retrying" || state.state === "expiring";
}

/** States where the next useful step is a login by the person. */
export function wantsLogin(state: AccountState): boolean {
  return state.state === "needs_login" || state.state === "signed_out";
}

/** How the service expects its token when it is copied as is (the backend says: ShopXO takes a
 * query parameter, the rest a header). */
export function serviceCopyForm(spec: ServiceSpec | undefined): Exclude<CopyForm, "raw"> {
  return spec?.copy_form === "query" ? "query" : "header";
}

/** The name people know the account by: the service's display name for it, else the user. */
export function accountTitle(account: AccountView): string {
  return account.session?.display_name?.trim() || account.user;
}
