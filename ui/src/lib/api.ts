// The UI's typed view of the backend: one function per Tauri command. The shapes come from the
// Rust types, generated into ./ipc/types.ts (src-tauri/src/ipc_types.rs; `make ipc-types`), so a
// renamed field shows up as a type error here instead of an `undefined` on screen. Field names
// follow the Rust structs (snake_case) on purpose.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AccountEdit,
  AccountPayload,
  AccountView,
  AddDraft,
  Copied,
  CopyForm,
  CommandError,
  CoreEvent,
  EventRecord,
  ExportSummary,
  ImportReport,
  LoginStep,
  LogoutOutcome,
  NewAccount,
  PassphraseRequest,
  Refreshed,
  SecretStoreHealth,
  ServiceView,
  Settings,
  State,
} from "./ipc/types";

export type {
  AccountEdit,
  AccountView,
  AddDraft,
  Capabilities,
  Challenge,
  CodeChannel,
  CommandError,
  CopyForm,
  CoreEvent,
  ErrorCode,
  EventRecord,
  ExportSummary,
  ImportReport,
  LoginStep,
  LogoutOutcome,
  NeedsLoginReason,
  NewAccount,
  OptionKind,
  OptionSpec,
  PassphraseRequest,
  RefreshDone,
  SecretStoreHealth,
  SessionInfo,
  Settings,
} from "./ipc/types";

/** A service as the window sees it: the core spec plus the options every service takes (the
 * proxy), shown under "Advanced". */
export type ServiceSpec = ServiceView;
export type ServiceId = ServiceView["id"];
export type AccountState = State;
export type StateName = AccountState["state"];
export type LanguageSetting = Settings["language"];
export type ThemeSetting = Settings["theme"];

/** Normalizes a rejection: core errors pass through, anything else (an IPC or ACL failure
 * reported as a plain string) becomes an `internal` error with its text kept. */
export function asCommandError(reason: unknown): CommandError {
  if (typeof reason === "object" && reason !== null && "code" in reason && "message" in reason) {
    return reason as CommandError;
  }
  return { code: "internal", message: String(reason) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw asCommandError(reason);
  }
}

// ----- commands -----

/** The services Lanyard speaks, in display order. */
export const listServices = () => call<ServiceSpec[]>("list_services");

/** The operating system's language tag (e.g. `zh-CN`), or null if it has none. */
export const systemLocale = () => call<string | null>("system_locale");

export const listAccounts = () => call<AccountView[]>("list_accounts");

export const addAccount = (account: NewAccount) => call<AccountView>("add_account", { account });

export const editAccount = (name: string, edit: AccountEdit) =>
  call<AccountView>("edit_account", { name, edit });

export const removeAccount = (name: string) => call<LogoutOutcome>("remove_account", { name });

export const addDraft = (service: ServiceId, user: string, endpoint: string | null) =>
  call<AddDraft>("add_draft", { service, user, endpoint });

export const setActive = (name: string) => call<AccountView>("set_active", { name });

/** Without a password the backend uses the remembered one (or none, for code logins). */
export const beginLogin = (name: string, password?: string) =>
  call<LoginStep>("begin_login", password === undefined ? { name } : { name, password });

export const answerLogin = (flow: string, answer: string) =>
  call<LoginStep>("answer_login", { flow, answer });

export const reloadCaptcha = (flow: string) => call<LoginStep>("reload_captcha", { flow });

export const cancelLogin = (flow: string) => call<null>("cancel_login", { flow });

export const refreshAccount = (name: string, force: boolean) =>
  call<Refreshed>("refresh_account", { name, force });

export const logoutAccount = (name: string) => call<LogoutOutcome>("logout_account", { name });

/** The backend writes the clipboard; the token never reaches the webview. */
export const copyToken = (name: string, form: CopyForm) =>
  call<Copied>("copy_token", { name, form });

/** Newest first; `name` null is every account's log. */
export const accountEvents = (name: string | null, limit: number) =>
  call<EventRecord[]>("account_events", { name, limit });

export const getSettings = () => call<Settings>("get_settings");

export const setSettings = (settings: Settings) => call<Settings>("set_settings", { settings });

export const secretStoreHealth = () => call<SecretStoreHealth>("secret_store_health");

/** What must be asked before anything else works: the secret file's passphrase, or null. */
export const passphraseRequest = () => call<PassphraseRequest | null>("passphrase_request");

/** Opens the accounts with the passphrase; a wrong one rejects (code `secret_store`). */
export const unlockSecretStore = (passphrase: string) => call<null>("unlock_secret_store", { passphrase });

/** Every account to `path` (absolute or `~/…`), encrypted with the passphrase (age format);
 * an existing file rejects with `already_exists` unless `replace`. */
export const exportAccounts = (path: string, passphrase: string, replace: boolean) =>
  call<ExportSummary>("export_accounts", { path, passphrase, replace });

/** The accounts of an export; a wrong passphrase rejects with `credentials_rejected`. */
export const importAccounts = (path: string, passphrase: string) =>
  call<ImportReport>("import_accounts", { path, passphrase });

// ----- events -----

export const onCoreEvent = (handler: (event: CoreEvent) => void): Promise<UnlistenFn> =>
  listen<CoreEvent>("lanyard://event", (message) => handler(message.payload));

export const onClipboardCleared = (handler: (payload: AccountPayload) => void) =>
  listen<AccountPayload>("lanyard://clipboard-cleared", (message) => handler(message.payload));

export const onNavigate = (handler: (payload: AccountPayload) => void) =>
  listen<AccountPayload>("lanyard://navigate", (message) => handler(message.payload));

/** The account an event is about, if any (renames report the new name). */
export function eventAccount(event: CoreEvent): string | null {
  switch (event.type) {
    case "account_renamed":
      return event.to;
    case "logged":
      return event.event.account_name;
    default:
      return event.account;
  }
}
