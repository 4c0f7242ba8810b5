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
import { explain } from "./errors";
import { t } from "./i18n.svelte";
import { model } from "./model.svelte";
import { accountTitle, serviceCopyForm } from "./states";
import { showToast } from "./toasts.svelte";

/** Names of the accounts with a command under way (their buttons show it). */
export const busy = new SvelteSet<string>();

function failed(error: unknown): void {
  const e = error as CommandError;
  const words = e.server_message ? `${explain(e)} “${e.server_message}”` : `${explain(e)} ${e.message}`;
  showToast(words, "danger", 8000);
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

export function refreshNow(account: AccountView): Promise<void> {
  return run(account.name, async () => {
    model.upsert(await refreshAccount(account.name, true));
    showToast(t("toast.refreshed", { name: accountTitle(account) }));
  });
}

export function logOut(account: AccountView): Promise<void> {
  return run(account.name, async () => {
    await logoutAccount(account.name);
    await model.reloadAccounts();
    showToast(t("toast.loggedOut", { name: accountTitle(account) }), "info");
  });
}

export function remove(account: AccountView): Promise<void> {
  return run(account.name, async () => {
    await removeAccount(account.name);
    if (model.selected === account.name) model.selected = null;
    await model.reloadAccounts();
    showToast(t("toast.removed", { name: account.name }), "info");
  });
}
