// The UI's typed view of the backend: one function per Tauri command, and the shapes
// lanyard-core serializes (docs/desktop-ipc.md). Field names follow the Rust structs
// (snake_case) on purpose, so a renamed field shows up as a type error here instead of an
// `undefined` on screen.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

// ----- services (model.rs: ServiceSpec, OptionSpec) -----

export type ServiceId = "steedos" | "sscms" | "coolkit" | "siyuan" | "shopxo";

export type OptionKind =
  | { type: "text" }
  | { type: "url" }
  | { type: "secret" }
  | { type: "choice"; choices: string[] };

export interface OptionSpec {
  key: string;
  label: string;
  help: string;
  kind: OptionKind;
  required: boolean;
  default: string | null;
  secret: boolean;
}

export interface Capabilities {
  refresh: boolean;
  validate: boolean;
  logout: boolean;
  captcha: boolean;
  second_factor: boolean;
  code_login: boolean;
  expires: boolean;
}

export interface ServiceSpec {
  id: ServiceId;
  display_name: string;
  description: string;
  user_label: string;
  default_endpoint: string | null;
  endpoint_help: string;
  options: OptionSpec[];
  capabilities: Capabilities;
  token_form: string;
  /** The options every service takes (the proxy), shown under "Advanced". */
  common_options?: OptionSpec[];
}

// ----- accounts (model.rs: Account, State, SessionInfo, AccountView) -----

export type NeedsLoginReason =
  | "expired"
  | "revoked"
  | "refresh_token_expired"
  | "password_changed"
  | "logged_in_elsewhere"
  | "challenge_required"
  | "no_remembered_password";

export type AccountState =
  | { state: "signed_out" }
  | { state: "awaiting_challenge" }
  | { state: "valid" }
  | { state: "expiring" }
  | { state: "refreshing" }
  | { state: "needs_login"; reason: NeedsLoginReason }
  | { state: "retrying"; next_attempt: string; attempts: number; last_error: string };

export type StateName = AccountState["state"];

export interface SessionInfo {
  obtained_at: string | null;
  expires_at: string | null;
  refresh_expires_at: string | null;
  user_id: string | null;
  display_name: string | null;
  extra: Record<string, string>;
}

export interface AccountView {
  id: string;
  name: string;
  service: ServiceId;
  user: string;
  endpoint: string;
  /** Non-secret options only; secret ones never leave the backend. */
  options: Record<string, string>;
  remember_password: boolean;
  active: boolean;
  created_at: string;
  state: AccountState;
  session: SessionInfo | null;
  last_refresh_at: string | null;
  /** False when the login needs no password from the person (code logins, remembered one). */
  password_required: boolean;
  /** The password and tokens go unencrypted to another machine: a plain http:// endpoint whose
   * host (or proxy) is not this machine. Shown as a mark on the row and in the details. */
  plaintext_remote: boolean;
  /** The account the service's id stands for (`lanyard token <service>`, `exec`, `api`): the
   * active one the user chose last for the service, whichever server it is on. */
  default_for_service: boolean;
}

export interface NewAccount {
  name?: string;
  service: ServiceId;
  user: string;
  endpoint?: string;
  options: Record<string, string>;
  remember_password: boolean;
}

export interface AccountEdit {
  name?: string;
  user?: string;
  endpoint?: string;
  /** A value sets the option, `null` unsets it (back to the default). */
  options: Record<string, string | null>;
  remember_password?: boolean;
}

// ----- login (manager.rs: LoginStep; services/mod.rs: Challenge) -----

export type CodeChannel = "totp" | "sms" | "email";

export type Challenge =
  | { kind: "captcha"; media_type: string; reloadable: boolean }
  | { kind: "code"; channel: CodeChannel; destination: string | null };

export type LoginStep =
  | { step: "done"; account: AccountView }
  | { step: "challenge"; flow: string; challenge: Challenge; image?: string };

// ----- events (manager.rs: Event, store: EventRecord) -----

export interface EventRecord {
  id: number;
  account_id: string | null;
  account_name: string | null;
  at: string;
  /** `login`, `refresh`, `validate`, `relogin`, `logout`, `add`, `edit`, `remove`, `use`… */
  kind: string;
  /** `ok`, `failed`, `challenge`, `needs_login`, `retrying`… */
  outcome: string;
  message: string;
}

export type CoreEvent =
  | { type: "account_added"; account: string }
  | { type: "account_changed"; account: string }
  | { type: "account_renamed"; from: string; to: string }
  | { type: "account_removed"; account: string }
  | { type: "logged"; event: EventRecord }
  | { type: "state_changed"; account: string; state: AccountState }
  | { type: "refreshed"; account: string; how: string; expires_at: string | null }
  | {
      type: "refresh_failed";
      account: string;
      permanent: boolean;
      message: string;
      next_attempt: string | null;
    }
  | {
      type: "expiring_unattended";
      account: string;
      expires_at: string;
      remaining_secs: number;
      message: string;
    };

// ----- settings and health -----

export type LanguageSetting = "system" | "en" | "zh-CN";
export type ThemeSetting = "system" | "light" | "dark";

export interface Settings {
  /** 0 = never clear. */
  clipboard_clear_secs: number;
  /** null = automatic. */
  warning_window_secs: number | null;
  launch_at_login: boolean;
  language: LanguageSetting;
  theme: ThemeSetting;
  close_to_tray_notice_shown: boolean;
}

export interface SecretStoreHealth {
  kind: "keyring" | "file" | "memory";
  ok: boolean;
  message: string;
}

/** `curl`: a curl command line for a call to the service's API, the token placed as it wants. */
export type CopyForm = "raw" | "header" | "query" | "curl";

/** The encrypted secret file waits for its passphrase (secrets/unlock.rs: PassphraseRequest). */
export interface PassphraseRequest {
  /** No secret file yet: the person chooses the passphrase (typed twice). */
  first_use: boolean;
  secrets_file: string;
}

// ----- errors -----

export type ErrorCode =
  | "invalid_input"
  | "not_found"
  | "already_exists"
  | "needs_login"
  | "credentials_rejected"
  | "challenge_failed"
  | "network"
  | "server_error"
  | "unsupported"
  | "secret_store"
  | "storage"
  | "cancelled"
  | "internal";

/** What every failed command rejects with (lanyard_core::Error). */
export interface CommandError {
  code: ErrorCode;
  message: string;
  server_message?: string;
}

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

/** What a logout or a removal did to the session on the server (manager.rs `LogoutOutcome`). */
export type LogoutOutcome = "ended_on_server" | "forgotten_here" | "unconfirmed" | "no_session";

export const removeAccount = (name: string) => call<LogoutOutcome>("remove_account", { name });

/** The add form's proposals (manager.rs `AddDraft`). */
export interface AddDraft {
  /** The endpoint as it would be stored (a missing scheme added), or null. */
  endpoint: string | null;
  /** Why the typed endpoint cannot be used. */
  endpoint_error: string | null;
  /** A free account name for the user; null until a user is typed. */
  name: string | null;
  /** The endpoints this service's accounts already use. */
  known_endpoints: string[];
}

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

/** What "refresh now" did (manager.rs `RefreshDone`). */
export type RefreshDone = "renewed" | "checked" | "relogged" | "not_checked" | "unchanged";

export const refreshAccount = (name: string, force: boolean) =>
  call<{ account: AccountView; done: RefreshDone }>("refresh_account", { name, force });

export const logoutAccount = (name: string) => call<LogoutOutcome>("logout_account", { name });

/** The backend writes the clipboard; the token never reaches the webview. */
export const copyToken = (name: string, form: CopyForm) =>
  call<{ clear_after_secs: number }>("copy_token", { name, form });

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

/** What `export_accounts` wrote (core `ExportSummary`). */
export interface ExportSummary {
  path: string;
  accounts: number;
  with_password: number;
}

/** What `import_accounts` did (core `ImportReport`). */
export interface ImportReport {
  imported: string[];
  skipped: { name: string; code: string; reason: string }[];
  with_password: string[];
}

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

export const onClipboardCleared = (handler: (payload: { account: string }) => void) =>
  listen<{ account: string }>("lanyard://clipboard-cleared", (message) => handler(message.payload));

export const onNavigate = (handler: (payload: { account: string }) => void) =>
  listen<{ account: string }>("lanyard://navigate", (message) => handler(message.payload));

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
