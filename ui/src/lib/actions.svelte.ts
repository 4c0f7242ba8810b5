// What the row buttons, the details panel and the keyboard shortcuts do to an account: call
// the backend, put the answer on screen, say what happened in a toast.

import { SvelteSet } from "svelte/reactivity";
import {
  copyToken,
  logoutAccount,
  refreshAccount,
  removeAccount,
  setActive,
  type AccountView,
  type CommandError,
  type CopyForm,
} from "./api";
import { errorLine } from "./errors";
import { t } from "./i18n.svelte";
import { model } from "./model.svelte";
import { accountTitle, serviceCopyForm } from "./states";
import { showToast } from "./toasts.svelte";

/** Names of the accounts with a command under way (their buttons show it). */
export const busy = new SvelteSet<string>();

function failed(error: unknown): void {
  showToast(errorLine(error as CommandError), "danger", 8000);
}

async function run(name: string, work: () => Promise<void>): Promise<void> {
  busy.add(name);
  try {
    await work();
  } catch (error) {
    failed(error);
  } finally {
    busy.delete(name);
  }
}

/** `form` "service" copies the token the way the service takes it (header or query). */
export function copy(account: AccountView, form: CopyForm | "service"): Promise<void> {
  const resolved = form === "service" ? serviceCopyForm(model.spec(account.service)) : form;
  return run(account.name, async () => {
    const { clear_after_secs } = await copyToken(account.name, resolved);
    const what = t(`copy.what.${resolved}`);
    showToast(
      clear_after_secs > 0
        ? t("toast.copied", { what, secs: clear_after_secs })
        : t("toast.copiedKept", { what }),
    );
  });
}

export function makeActive(account: AccountView): Promise<void> {
  if (account.default_for_service) return Promise.resolve();
  return run(account.name, async () => {
    model.upsert(await setActive(account.name));
    showToast(t("toast.active", { name: accountTitle(account) }));
  });
}

/** Whether "refresh now" can do anything: only a session that is still held (not signed out,
 * not lost, not in the middle of a login) can be renewed or checked. */
export function canRefresh(account: AccountView): boolean {
  return account.session !== null && ["valid", "expiring", "retrying"].includes(account.state.state);
}

export function refreshNow(account: AccountView): Promise<void> {
  if (!canRefresh(account)) return Promise.resolve();
  return run(account.name, async () => {
    const { account: fresh, done } = await refreshAccount(account.name, true);
    model.upsert(fresh);
    showToast(
      t(`toast.refresh.${done}`, { name: accountTitle(account) }),
      done === "not_checked" ? "warn" : "ok",
    );
  });
}

/** Whether logging out ends the session on the server (the service has a logout call) or only
 * forgets it here. */
export function endsOnServer(account: AccountView): boolean {
  return model.spec(account.service)?.capabilities.logout ?? false;
}

export function logOut(account: AccountView): Promise<void> {
  return run(account.name, async () => {
    const outcome = await logoutAccount(account.name);
    await model.reloadAccounts();
    const service = model.spec(account.service)?.display_name ?? account.service;
    showToast(
      t(`toast.logout.${outcome}`, { name: accountTitle(account), service }),
      outcome === "ended_on_server" || outcome === "no_session" ? "info" : "warn",
      outcome === "ended_on_server" || outcome === "no_session" ? 4500 : 9000,
    );
  });
}

export function remove(account: AccountView): Promise<void> {
  return run(account.name, async () => {
    const outcome = await removeAccount(account.name);
    if (model.selected === account.name) model.selected = null;
    await model.reloadAccounts();
    const service = model.spec(account.service)?.display_name ?? account.service;
    showToast(
      t(`toast.remove.${outcome}`, { name: account.name, service }),
      outcome === "ended_on_server" || outcome === "no_session" ? "info" : "warn",
      outcome === "ended_on_server" || outcome === "no_session" ? 4500 : 9000,
    );
  });
}
