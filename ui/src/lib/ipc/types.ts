// Generated from the Rust types by src-tauri/src/ipc_types.rs: do not edit; run
// `make ipc-types` after changing a type the window receives or sends.

/**
 * What kind of value an option takes; the UI builds its form controls from this.
 */
export type OptionKind = { "type": "text" } | { "type": "url" } | { "type": "secret" } | { "type": "choice", "choices": Array<string> };

export type OptionSpec = { key: string, label: string, help: string, kind: OptionKind, required: boolean, default: string | null, 
/**
 * Secret options go to the secret store, never to the metadata database.
 */
secret: boolean, };

export type Capabilities = { 
/**
 * The service can renew a session without the password (CoolKit rt, SiYuan getCloudUser...).
 */
refresh: boolean, 
/**
 * The service can tell whether a token is still good.
 */
validate: boolean, 
/**
 * The service has a server-side logout.
 */
logout: boolean, 
/**
 * Login may ask for an image captcha.
 */
captcha: boolean, 
/**
 * Login may ask for a second-factor code (TOTP, SMS, email).
 */
second_factor: boolean, 
/**
 * Login can be done with a code instead of a password.
 */
code_login: boolean, 
/**
 * Sessions carry an expiry.
 */
expires: boolean, };

export type ServiceSpec = { id: "steedos" | "sscms" | "coolkit" | "siyuan" | "shopxo", display_name: string, description: string, 
/**
 * What `user` means for this service, e.g. "Email, mobile or user name".
 */
user_label: string, 
/**
 * `None` means the endpoint is required (self-hosted services).
 */
default_endpoint: string | null, endpoint_help: string, options: Array<OptionSpec>, capabilities: Capabilities, 
/**
 * How the token is handed to the service, for the help texts.
 */
token_form: string, };

/**
 * A service as the UI sees it: the core spec plus the options every service takes.
 */
export type ServiceView = { common_options: Array<OptionSpec>, 
/**
 * The form the service expects its token in when it is copied as is (the tray, the row's
 * copy button): `header` or `query`.
 */
copy_form: CopyForm, id: "steedos" | "sscms" | "coolkit" | "siyuan" | "shopxo", display_name: string, description: string, 
/**
 * What `user` means for this service, e.g. "Email, mobile or user name".
 */
user_label: string, 
/**
 * `None` means the endpoint is required (self-hosted services).
 */
default_endpoint: string | null, endpoint_help: string, options: Array<OptionSpec>, capabilities: Capabilities, 
/**
 * How the token is handed to the service, for the help texts.
 */
token_form: string, };

/**
 * A user's login at one endpoint of one service.
 */
export type Account = { 
/**
 * Stable internal id (a UUID); secret-store keys are derived from it.
 */
id: string, 
/**
 * Unique, human-chosen; defaults to `<service>/<user>`.
 */
name: string, service: "steedos" | "sscms" | "coolkit" | "siyuan" | "shopxo", user: string, 
/**
 * Base URL (CoolKit: a template containing `{region}`).
 */
endpoint: string, 
/**
 * Non-secret options only; secret ones live in the secret store.
 */
options: { [key in string]: string }, remember_password: boolean, active: boolean, created_at: string, };

/**
 * Why an account needs a person to log in again.
 */
export type NeedsLoginReason = "expired" | "revoked" | "refresh_token_expired" | "password_changed" | "logged_in_elsewhere" | "challenge_required" | "no_remembered_password";

/**
 * The state of an account, shown everywhere.
 */
export type State = { "state": "signed_out" } | { "state": "awaiting_challenge" } | { "state": "valid" } | { "state": "expiring" } | { "state": "refreshing" } | { "state": "needs_login", reason: NeedsLoginReason, } | { "state": "retrying", next_attempt: string, attempts: number, 
/**
 * Why the last attempt failed, as [`Said::error`] says it (older rows: [`Said::uncoded`]).
 */
last_error: Said, };

/**
 * The non-secret half of a session: stored in the metadata database.
 */
export type SessionInfo = { obtained_at: string | null, expires_at: string | null, refresh_expires_at: string | null, user_id: string | null, display_name: string | null, 
/**
 * Non-secret facts a service needs later (SSCMS api version, Steedos space id...).
 */
extra: { [key in string]: string }, };

/**
 * An account as lists show it: the account, its session facts and its state.
 */
export type AccountView = { state: State, session: SessionInfo | null, last_refresh_at: string | null, 
/**
 * Whether a login asks for a password (not for ShopXO's SMS or email code logins).
 */
password_required: boolean, 
/**
 * Whether the password and tokens travel unencrypted to another machine: a plain
 * `http://` endpoint whose host (or proxy) is not loopback (`http::plaintext_remote`).
 */
plaintext_remote: boolean, 
/**
 * Whether the service's id resolves to this account (`lanyard token <service>`, `exec`,
 * `api`): the active account the user chose last for the service, on any endpoint.
 */
default_for_service: boolean, 
/**
 * Stable internal id (a UUID); secret-store keys are derived from it.
 */
id: string, 
/**
 * Unique, human-chosen; defaults to `<service>/<user>`.
 */
name: string, service: "steedos" | "sscms" | "coolkit" | "siyuan" | "shopxo", user: string, 
/**
 * Base URL (CoolKit: a template containing `{region}`).
 */
endpoint: string, 
/**
 * Non-secret options only; secret ones live in the secret store.
 */
options: { [key in string]: string }, remember_password: boolean, active: boolean, created_at: string, };

/**
 * `add_account`'s argument. Option values may be secret: no `Debug`.
 */
export type NewAccount = { name?: string, service: "steedos" | "sscms" | "coolkit" | "siyuan" | "shopxo", user: string, endpoint?: string, options: { [key in string]: string }, remember_password: boolean, };

/**
 * `edit_account`'s changes. Option values may be secret: no `Debug`.
 */
export type AccountEdit = { name?: string, user?: string, endpoint?: string, 
/**
 * A value sets the option, `null` unsets it (back to the default).
 */
options: { [key in string]: string | null }, remember_password?: boolean, };

/**
 * The add form's proposals (see [`Manager::add_draft`]).
 */
export type AddDraft = { 
/**
 * The endpoint as it would be stored (scheme added, case and slashes normalised).
 */
endpoint: string | null, 
/**
 * Why the typed endpoint cannot be used, in one line.
 */
endpoint_error: string | null, 
/**
 * A free account name for the user (`None` until a user is typed).
 */
name: string | null, 
/**
 * The endpoints the service's accounts already use, sorted.
 */
known_endpoints: Array<string>, };

/**
 * Where a second-factor code was sent, or which kind it is.
 */
export type CodeChannel = "totp" | "sms" | "email";

/**
 * What a login needs from a person before it can go on.
 */
export type Challenge = { "kind": "captcha", 
/**
 * e.g. `image/png`, `image/gif` (sniffed from the bytes, never trusted from the server).
 */
media_type: string, 
/**
 * Whether a fresh image can be requested (`reload_captcha`).
 */
reloadable: boolean, } | { "kind": "code", channel: CodeChannel, 
/**
 * A hint of where the code went, e.g. "138****0000".
 */
destination: string | null, };

/**
 * `LoginStep`'s wire shape. Core serializes it by hand (the captcha image becomes a data URL),
 * so this mirror states that shape for ts-rs; `login_step_mirror_matches_the_wire` below
 * checks the two agree.
 */
export type LoginStep = { "step": "done", account: AccountView, } | { "step": "challenge", flow: string, challenge: Challenge, 
/**
 * A `data:` URL of the captcha image (captchas only).
 */
image?: string, };

/**
 * What "refresh now" did, for the person who asked (the UI and the CLI name it).
 */
export type RefreshDone = "renewed" | "checked" | "relogged" | "not_checked" | "unchanged";

/**
 * The account after "refresh now", and what was done to it.
 */
export type Refreshed = { account: AccountView, done: RefreshDone, };

/**
 * What a logout or a removal did to the session on the server. Its `code` is the outcome
 * recorded in the event log.
 */
export type LogoutOutcome = "ended_on_server" | "forgotten_here" | "unconfirmed" | "no_session";

/**
 * The forms the UI may copy a token in.
 */
export type CopyForm = "raw" | "header" | "query" | "curl";

/**
 * What `copy_token` answers.
 */
export type Copied = { clear_after_secs: number, };

/**
 * What an event or an error says, language-neutral: a code (`logged_in`, `error`,
 * `needs_login`, `http_status`…) and its parameters (account facts, a reason or error code, the
 * server's own words verbatim). The CLI prints English; a window words it in its language.
 */
export type Said = { code: string, params: { [key in string]: string }, };

/**
 * One row of the event log.
 */
export type EventRecord = { id: number, account_id: string | null, 
/**
 * The account's current name, or its name at the time if it was removed since.
 */
account_name: string | null, at: string, 
/**
 * `login`, `refresh`, `validate`, `relogin`, `logout`, `add`, `edit`, `remove`, `use`...
 */
kind: string, 
/**
 * `ok`, `failed`, `challenge`, `needs_login`, `retrying`, `unverifiable` (the server has
 * no call that can check the session; it is kept until its expiry)...
 */
outcome: string, 
/**
 * What happened, in English (the CLI's words; rows written before `said` have only this).
 */
message: string, 
/**
 * The same as a code and its parameters, which a window renders in its own language.
 */
said?: Said, };

/**
 * What changed, broadcast to the UI.
 */
export type CoreEvent = { "type": "account_added", account: string, } | { "type": "account_changed", account: string, } | { "type": "account_renamed", from: string, to: string, } | { "type": "account_removed", account: string, } | { "type": "logged", event: EventRecord, } | { "type": "state_changed", account: string, state: State, } | { "type": "refreshed", account: string, how: string, expires_at: string | null, } | { "type": "refresh_failed", account: string, permanent: boolean, message: string, next_attempt: string | null, 
/**
 * Why a person must log in, for a window or notification to say in its language.
 */
reason?: NeedsLoginReason, } | { "type": "expiring_unattended", account: string, expires_at: string, remaining_secs: number, message: string, };

/**
 * The payload of events about one account.
 */
export type AccountPayload = { account: string, };

/**
 * The UI language: the system's, or a fixed one.
 */
export type Language = "system" | "en" | "zh-CN";

/**
 * The UI theme: the system's, or a fixed one.
 */
export type Theme = "system" | "light" | "dark";

/**
 * Everything the settings screen shows. The desktop IPC contract (docs/desktop-ipc.md) is this
 * shape, field for field.
 */
export type Settings = { 
/**
 * 0 = never clear.
 */
clipboard_clear_secs: number, 
/**
 * `None` = automatic (a tenth of each session's lifetime, at most 24 h).
 */
warning_window_secs: number | null, launch_at_login: boolean, language: Language, theme: Theme, 
/**
 * Whether the person was told once that closing the window keeps Lanyard in the tray.
 */
close_to_tray_notice_shown: boolean, };

/**
 * Which kind of store holds the secrets.
 */
export type SecretStoreKind = "keyring" | "file" | "memory";

/**
 * Result of [`Secrets::health`], shown by the UI and `lanyard status`.
 */
export type SecretStoreHealth = { kind: SecretStoreKind, ok: boolean, 
/**
 * In English, for `lanyard status`.
 */
message: string, 
/**
 * Why the store cannot be used (its code, for a window to say in its language).
 */
error?: CommandError, };

/**
 * What the Manager waits for before it can open: a passphrase for the secret file.
 */
export type PassphraseRequest = { 
/**
 * No secret file yet: the person chooses a passphrase (and should type it twice).
 */
first_use: boolean, 
/**
 * The secret file the passphrase is for.
 */
secrets_file: string, };

/**
 * What [`Manager::export_to_file`] wrote.
 */
export type ExportSummary = { path: string, 
/**
 * How many accounts are in the file.
 */
accounts: number, 
/**
 * How many of them carry a remembered password.
 */
with_password: number, };

export type ImportSkip = { name: string, 
/**
 * `already_exists` for a conflict, else the code of the error that stopped it.
 */
code: ErrorCode, reason: string, };

/**
 * What an import did.
 */
export type ImportReport = { 
/**
 * Names of the accounts added, in the file's order.
 */
imported: Array<string>, 
/**
 * Accounts left out, each with the reason (a conflict, or an option this machine refuses).
 */
skipped: Array<ImportSkip>, 
/**
 * Imported accounts that came with a remembered password (they can log in unattended).
 */
with_password: Array<string>, };

/**
 * Where the person left the window: what the list showed and how far it was scrolled. The
 * page tells the app as it changes and reads it back when a rebuilt window starts. Kept in
 * memory only: a new start of the app opens on the overview.
 */
export type ViewState = { 
/**
 * The sidebar's choice: a service, or `null` for all accounts.
 */
view: "steedos" | "sscms" | "coolkit" | "siyuan" | "shopxo" | null, 
/**
 * The selected account's name.
 */
selected: string | null, 
/**
 * The list's filter text.
 */
filter: string, 
/**
 * How far the account list was scrolled, in CSS pixels.
 */
scroll_top: number, 
/**
 * The account whose row was at the top of the list's viewport: the list measures its rows
 * as they come on screen, so a new page may put the same offset a little elsewhere; this
 * row is put back in its place.
 */
top_row: string | null, 
/**
 * Where that row's top was, in CSS pixels below the viewport's top (negative: cut off).
 */
top_row_offset: number, };

export type ErrorCode = "invalid_input" | "not_found" | "already_exists" | "needs_login" | "credentials_rejected" | "challenge_failed" | "network" | "server_error" | "unsupported" | "secret_store" | "storage" | "cancelled" | "internal";

export type CommandError = { code: ErrorCode, message: string, 
/**
 * The server's own text, verbatim (e.g. "帐号或密码错误"), when it gave one.
 */
server_message?: string, 
/**
 * The form field the error concerns, when it is about one: `name`, `user`, `endpoint`, or
 * `options.<key>` for a service option.
 */
field?: string, 
/**
 * The `message` as a code and parameters, where it has them, for a window to word in its
 * language (the `message` stays the English the CLI prints).
 */
said?: Said, };
