// The window's state: what the backend last said (services, accounts, settings) and what the
// person is looking at (view, selection). Accounts are reloaded from the backend whenever it
// reports a change on `lanyard://event`; nothing here decides states or expiries.

import {
  getSettings,
  listAccounts,
  listServices,
  onClipboardCleared,
  onCoreEvent,
  onNavigate,
  passphraseRequest,
  setSettings,
  systemLocale,
  type AccountView,
  type CommandError,
  type CoreEvent,
  type EventRecord,
  type PassphraseRequest,
  type ServiceId,
  type ServiceSpec,
  type Settings,
} from "./api";
import { busy } from "./actions.svelte";
import { applyLanguage, applyTheme, setSystemLanguage } from "./appearance";
import { formatSpan } from "./format";
import { t } from "./i18n.svelte";
import { showToast } from "./toasts.svelte";

/** The one dialog open at a time; accounts are named, so a live reload shows in them. */
export type DialogState =
  | { kind: "add"; service: ServiceId | null }
  | { kind: "edit"; name: string }
  | { kind: "login"; name: string }
  | { kind: "remove"; name: string }
  | { kind: "settings" };

/** Coalesces the bursts of events one operation sends (changed, state_changed, logged…). */
const RELOAD_DELAY_MS = 60;

/** The new list, reusing the old objects of the accounts that did not change, so only the
 * rows that changed re-render after a reload. */
function keepUnchanged(old: AccountView[], fresh: AccountView[]): AccountView[] {
  const byId = new Map(old.map((a) => [a.id, a]));
  return fresh.map((account) => {
    const before = byId.get(account.id);
    return before && JSON.stringify(before) === JSON.stringify(account) ? before : account;
  });
}

class Model {
  services = $state.raw<ServiceSpec[]>([]);
  accounts = $state.raw<AccountView[]>([]);
  settings = $state.raw<Settings | null>(null);
  /** True once services and accounts came back (or failed) the first time. */
  loaded = $state(false);
  loadError = $state.raw<CommandError | null>(null);
  /** The account list could not be read (the services still show). */
  accountsError = $state.raw<CommandError | null>(null);
  /** The account list came back at least once (until then, its error is the window's). */
  accountsLoaded = $state(false);
  /** `null` is the "All accounts" view. */
  view = $state<ServiceId | null>(null);
  selected = $state<string | null>(null);
  filter = $state("");
  dialog = $state.raw<DialogState | null>(null);
  /** The secret file's passphrase must be given before anything loads (App shows the dialog,
   * then calls `start` again). */
  passphrase = $state.raw<PassphraseRequest | null>(null);

  selectedAccount = $derived(this.accounts.find((a) => a.name === this.selected) ?? null);

  #reloading: Promise<void> | null = null;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #logListeners = new Set<(record: EventRecord) => void>();

  spec(id: ServiceId): ServiceSpec | undefined {
    return this.services.find((s) => s.id === id);
  }

  serviceIndex(id: ServiceId): number {
    return this.services.findIndex((s) => s.id === id);
  }

  /** Loads everything the window shows and starts listening to the backend. */
  async start(): Promise<void> {
    const tag = await systemLocale().catch(() => null);
    setSystemLanguage(tag);
    this.passphrase = await passphraseRequest().catch(() => null);
    if (this.passphrase) {
      // The services need no secrets: the sidebar shows behind the passphrase dialog.
      this.services = await listServices().catch(() => []);
      return;
    }
    try {
      const settings = await getSettings();
      this.settings = settings;
      applyLanguage(settings.language);
      applyTheme(settings.theme);
    } catch {
      // An older backend without settings: follow the system.
      applyLanguage("system");
      applyTheme("system");
    }
    await Promise.allSettled([
      onCoreEvent((event) => this.#onEvent(event)),
      onClipboardCleared(() => showToast(t("toast.cleared"), "info")),
      onNavigate(({ account }) => this.reveal(account)),
    ]);
    try {
      this.services = await listServices();
    } catch (error) {
      this.loadError = error as CommandError;
    }
    try {
      this.accounts = await listAccounts();
      this.accountsLoaded = true;
    } catch (error) {
      this.accountsError = error as CommandError;
    }
    this.loaded = true;
  }

  /** Reloads the account list; concurrent calls share one request and one follow-up. */
  reloadAccounts(): Promise<void> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#again = false;
        try {
          this.accounts = keepUnchanged(this.accounts, await listAccounts());
          this.accountsError = null;
          this.accountsLoaded = true;
        } catch (error) {
          showToast(`${t("toast.reloadFailed")} ${(error as CommandError).message}`, "danger");
        }
      } while (this.#again);
    })().finally(() => {
      this.#reloading = null;
    });
    return this.#reloading;
  }

  /** Puts a view a command returned into the list at once (the event's reload follows). */
  upsert(view: AccountView): void {
    const index = this.accounts.findIndex((a) => a.id === view.id);
    const next = [...this.accounts];
    if (index >= 0) next[index] = view;
    else next.push(view);
    // Switching the active account changes the other accounts of that server too, and the
    // service's account in use moves from whichever server it was on.
    const others = (a: AccountView) => a.service === view.service && a.id !== view.id;
    this.accounts = next.map((a) => {
      if (!others(a)) return a;
      const active = view.active && a.endpoint === view.endpoint ? false : a.active;
      const default_for_service = view.default_for_service ? false : a.default_for_service;
      return active === a.active && default_for_service === a.default_for_service ? a : { ...a, active, default_for_service };
    });
  }

  /** Shows `name` in the list, switching the view if it is not in the current one. */
  reveal(name: string): void {
    const account = this.accounts.find((a) => a.name === name);
    if (!account) return;
    if (this.view !== null && this.view !== account.service) this.view = account.service;
    this.filter = "";
    this.selected = name;
  }

  /** Moves the keyboard focus to an account's row (after a dialog about it closed). */
  focusRow(name: string): void {
    setTimeout(() => {
      const row = document.querySelector<HTMLElement>(`[data-testid="account-list"] [data-name="${CSS.escape(name)}"]`);
      row?.focus();
      row?.scrollIntoView({ block: "nearest" });
    }, 0);
  }

  async saveSettings(settings: Settings): Promise<void> {
    const saved = await setSettings(settings);
    this.settings = saved;
    applyLanguage(saved.language);
    applyTheme(saved.theme);
  }

  /** Called with every new event-log row (the details panel prepends it). */
  onLogged(listener: (record: EventRecord) => void): () => void {
    this.#logListeners.add(listener);
    return () => this.#logListeners.delete(listener);
  }

  #onEvent(event: CoreEvent): void {
    switch (event.type) {
      case "logged":
        for (const listener of this.#logListeners) listener(event.event);
        return;
      case "account_renamed":
        if (this.selected === event.from) this.selected = event.to;
        break;
      case "account_removed":
        if (this.selected === event.account) this.selected = null;
        break;
      // The backend also sends a desktop notification; in the window, a toast says it too.
      case "expiring_unattended":
        showToast(
          t("toast.expiring", { name: event.account, span: formatSpan(event.remaining_secs * 1000) }),
          "warn",
          10000,
        );
        break;
      case "refresh_failed":
        // A "refresh now" the person asked for answers with its own toast.
        if (event.permanent && !busy.has(event.account))
          showToast(t("toast.needsLogin", { name: event.account }), "danger", 10000);
        break;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.reloadAccounts(), RELOAD_DELAY_MS);
  }
}

export const model = new Model();
