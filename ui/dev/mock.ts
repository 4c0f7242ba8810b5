// A fake backend for looking at the UI in a plain browser (npm run mock, then open
// /mock.html): the IPC contract's commands over made-up accounts, with events. Logins take the
// password "secret123"; ShopXO then shows a captcha (answer "7kQ2"), Steedos a code ("1234").
// Query parameters: n (accounts), lang, theme, system (locale tag), view (a service id),
// select (an account name), dialog (add|edit|login|remove|settings, with name= or service=),
// font (root font size in %), zoom (body zoom), long (long Chinese names), passphrase
// (new|unlock: the encrypted file store waits for its passphrase, which is "secret123").

import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type { AccountView, EventRecord, LoginStep, Settings } from "../src/lib/api";
import servicesJson from "./services.json";

const params = new URLSearchParams(location.search);
const report = (text: string) => {
  const pre = document.createElement("pre");
  pre.style.cssText = "position:fixed;bottom:0;left:0;z-index:99;background:#fee;color:#900;margin:0;padding:8px;font-size:12px";
  pre.textContent = text;
  document.documentElement.append(pre);
};
window.addEventListener("error", (e) => report(`error: ${e.message} ${e.filename}:${e.lineno}`));
window.addEventListener("unhandledrejection", (e) => report(`rejection: ${String(e.reason?.stack ?? JSON.stringify(e.reason))}`));
const count = Number(params.get("n") ?? "9");
const now = Date.now();
const iso = (offsetSecs: number) => new Date(now + offsetSecs * 1000).toISOString();

// What list_services answers, generated from the registry (src-tauri/src/ipc_types.rs).
const services = servicesJson;

const endpoints: Record<string, string[]> = {
  steedos: ["http://127.0.0.1:40100", "https://steedos.example.com"],
  sscms: ["http://127.0.0.1:40101", "http://cms.intranet.example"],
  coolkit: ["https://{region}-apia.coolkit.cc"],
  siyuan: ["http://127.0.0.1:6806"],
  shopxo: ["https://shop.example.com"],
};
const ids = ["steedos", "sscms", "coolkit", "siyuan", "shopxo"] as const;
const users = ["alice@example.com", "bob@example.com", "demo", "13800000001", "carol", "dave@example.org"];
const chinese = ["张伟", "王芳", "李娜", "刘洋", "陈静", "演示账号", "运营部-华东区-第三小组-值班专用账号"];
const states: AccountView["state"][] = [
  { state: "valid" },
  { state: "valid" },
  { state: "expiring" },
  { state: "needs_login", reason: "password_changed" },
  { state: "retrying", next_attempt: iso(42), attempts: 3, last_error: { code: "error", params: { error: "network", detail: "demo.example: connection refused" } } },
  { state: "valid" },
  { state: "signed_out" },
  { state: "refreshing" },
];

function makeAccount(i: number): AccountView {
  const service = ids[i % ids.length]!;
  const state = states[i % states.length]!;
  const user = params.has("long")
    ? `${chinese[i % chinese.length]}${i}@很长很长的企业邮箱域名.example.com`
    : `${users[i % users.length]!.replace("@", `${Math.floor(i / users.length) || ""}@`)}`;
  const endpointList = endpoints[service]!;
  const endpoint = endpointList[i % endpointList.length]!;
  const signedIn = state.state !== "signed_out";
  const lifetime = [3600, 900, 86400 * 3, 120, 7200][i % 5]!;
  return {
    id: `id-${i}`,
    name: i === 1 ? "工作账号" : `${service}/${user}`,
    service,
    user,
    endpoint,
    options: service === "coolkit" ? { api: "v2", appid: "LanyardDemoAppId0000000000000001", region: "us", country_code: "+1" } : service === "shopxo" ? { client_type: "h5", login_type: "username" } : {},
    remember_password: i % 3 !== 0,
    active: i < ids.length,
    default_for_service: i < ids.length,
    created_at: iso(-86400 * 10),
    state,
    session: signedIn
      ? {
          obtained_at: iso(-600),
          expires_at: state.state === "needs_login" ? iso(-300) : state.state === "expiring" ? iso(95) : iso(lifetime),
          refresh_expires_at: service === "coolkit" ? iso(86400 * 30) : null,
          user_id: `u${1000 + i}`,
          display_name: params.has("long") ? chinese[i % chinese.length]! : i % 2 ? ["Alice Liddell", "Bob", "演示", "Carol"][i % 4]! : null,
          extra: {},
        }
      : null,
    last_refresh_at: signedIn ? iso(-(i * 97) % 7200) : null,
    password_required: !(service === "shopxo" && i % 2),
    plaintext_remote: endpoint.startsWith("http://") && !/^http:\/\/(127\.|localhost[:/])/.test(endpoint),
  };
}

let accounts: AccountView[] = Array.from({ length: count }, (_, i) => makeAccount(i));
let settings: Settings = {
  clipboard_clear_secs: 30,
  warning_window_secs: null,
  launch_at_login: false,
  language: (params.get("lang") as Settings["language"]) ?? "system",
  theme: (params.get("theme") as Settings["theme"]) ?? "system",
  close_to_tray_notice_shown: true,
};
let eventId = 1;
const log: EventRecord[] = [];
function record(account: AccountView, kind: string, outcome: string, message: string) {
  const row = { id: eventId++, account_id: account.id, account_name: account.name, at: new Date().toISOString(), kind, outcome, message };
  log.unshift(row);
  void emit("lanyard://event", { type: "logged", event: row });
}
for (const account of accounts.slice(0, 12)) {
  log.push(
    { id: eventId++, account_id: account.id, account_name: account.name, at: iso(-60), kind: "refresh", outcome: "ok", message: "renewed with the refresh token; expires at 2026-11-21T22:00:00Z" },
    { id: eventId++, account_id: account.id, account_name: account.name, at: iso(-3600), kind: "validate", outcome: "failed", message: "network: the server could not be reached (timed out after 10 s); retrying in 30 s" },
    { id: eventId++, account_id: account.id, account_name: account.name, at: iso(-86400), kind: "login", outcome: "ok", message: "logged in as Alice" },
    { id: eventId++, account_id: account.id, account_name: account.name, at: iso(-86400 * 2), kind: "add", outcome: "ok", message: `added account for '${account.user}'` },
  );
}

function captcha(): string {
  const canvas = document.createElement("canvas");
  canvas.width = 120;
  canvas.height = 44;
  const g = canvas.getContext("2d")!;
  g.fillStyle = "#f3f0e6";
  g.fillRect(0, 0, 120, 44);
  g.font = "bold 26px serif";
  g.fillStyle = "#2a4a8a";
  g.fillText("7kQ2", 22, 32);
  g.strokeStyle = "#b44";
  g.beginPath();
  g.moveTo(5, 30);
  g.bezierCurveTo(40, 5, 80, 40, 115, 12);
  g.stroke();
  return canvas.toDataURL("image/png");
}

const fail = (code: string, message: string, server_message?: string) => {
  throw { code, message, ...(server_message ? { server_message } : {}) };
};
const find = (name: string) => accounts.find((a) => a.name === name) ?? fail("not_found", `no account named '${name}'`);
const changed = (name: string) => void emit("lanyard://event", { type: "account_changed", account: name });
/** The passphrase dialog's state: `new` (choose one), `unlock`, or none. */
let passphrase = params.get("passphrase");
/** Waiting logins: flow id → account name. */
const flows = new Map<string, string>();

mockIPC(
  async (cmd, raw) => {
    // Like the real IPC: the UI gets copies, never the mock's own objects.
    const result = await handle(cmd, raw);
    return result === undefined ? undefined : JSON.parse(JSON.stringify(result));
  },
  { shouldMockEvents: true },
);

async function handle(cmd: string, raw: unknown): Promise<unknown> {
  {
    const args = (raw ?? {}) as Record<string, any>;
    await new Promise((r) => setTimeout(r, 120));
    switch (cmd) {
      case "list_services":
        return services;
      case "passphrase_request":
        return passphrase
          ? { first_use: passphrase === "new", secrets_file: "/home/you/.local/share/lanyard/secrets.enc" }
          : null;
      case "unlock_secret_store":
        if (passphrase === "unlock" && args.passphrase !== "secret123")
          fail("secret_store", "wrong passphrase for the secret file /home/you/.local/share/lanyard/secrets.enc");
        passphrase = null;
        return null;
      case "system_locale":
        return params.get("system") ?? "en-US";
      case "list_accounts":
        return accounts;
      case "get_settings":
        return settings;
      case "set_settings":
        settings = args.settings;
        return settings;
      case "export_accounts":
        if (!String(args.path).startsWith("/") && !String(args.path).startsWith("~/"))
          fail("invalid_input", "give the file's full path, e.g. ~/lanyard-accounts.age");
        return { path: String(args.path).replace(/^~/, "/home/you"), accounts: accounts.length, with_password: 1 };
      case "import_accounts":
        if (args.passphrase !== "secret123") fail("credentials_rejected", "wrong passphrase for the export file (nothing was imported)");
        return {
          imported: [],
          skipped: accounts.slice(0, 2).map((a) => ({ name: a.name, code: "already_exists", reason: `an account named '${a.name}' exists already` })),
          with_password: [],
        };
      case "secret_store_health":
        return { kind: "keyring", ok: true, message: "GNOME Keyring (Secret Service) answers" };
      case "account_events":
        return log.filter((r) => args.name === null || r.account_name === args.name).slice(0, args.limit);
      case "add_account": {
        const a = args.account;
        if (accounts.some((x) => x.name === (a.name || `${a.service}/${a.user}`))) fail("already_exists", `an account named '${a.service}/${a.user}' already exists`);
        if (a.endpoint === "http://bad") fail("invalid_input", "invalid endpoint 'http://bad': it has no host");
        const view: AccountView = { ...makeAccount(accounts.length), id: `new-${Date.now()}`, name: a.name || `${a.service}/${a.user}`, service: a.service, user: a.user, endpoint: a.endpoint ?? "https://default", state: { state: "signed_out" }, session: null, active: false, default_for_service: false, last_refresh_at: null, remember_password: a.remember_password, password_required: true, plaintext_remote: (a.endpoint ?? "").startsWith("http://") && !/^http:\/\/(127\.|localhost[:/])/.test(a.endpoint ?? "") };
        accounts = [...accounts, view];
        void emit("lanyard://event", { type: "account_added", account: view.name });
        record(view, "add", "ok", `added account for '${view.user}'`);
        return view;
      }
      case "edit_account": {
        const a = find(args.name);
        Object.assign(a, { name: args.edit.name ?? a.name, user: args.edit.user ?? a.user });
        changed(a.name);
        return a;
      }
      case "remove_account": {
        const a = find(args.name);
        accounts = accounts.filter((x) => x.name !== args.name);
        void emit("lanyard://event", { type: "account_removed", account: args.name });
        return a.session === null ? "no_session" : a.service === "shopxo" ? "forgotten_here" : "ended_on_server";
      }
      case "add_draft": {
        const typed = (args.endpoint ?? "").trim();
        const endpoint = !typed
          ? null
          : typed.includes("://")
            ? typed.replace(/\/+$/, "")
            : `${/^(localhost|127\.)/.test(typed) ? "http" : "https"}://${typed.replace(/\/+$/, "")}`;
        const base = `${args.service}/${args.user}`;
        const taken = (n: string) => accounts.some((a) => a.name === n);
        const host = endpoint ? new URL(endpoint).hostname : "";
        const name = !args.user ? null : !taken(base) ? base : !taken(`${base}@${host}`) ? `${base}@${host}` : `${base}-2`;
        const known = [...new Set(accounts.filter((a) => a.service === args.service).map((a) => a.endpoint))].sort();
        return { endpoint, endpoint_error: null, name, known_endpoints: known };
      }
      case "set_active": {
        const target = find(args.name);
        accounts = accounts.map((a) =>
          a.service !== target.service
            ? a
            : {
                ...a,
                active: a.endpoint === target.endpoint ? a.name === target.name : a.active,
                default_for_service: a.name === target.name,
              },
        );
        changed(target.name);
        return accounts.find((a) => a.name === args.name);
      }
      case "begin_login": {
        const a = find(args.name);
        if (a.password_required && args.password !== "secret123") fail("credentials_rejected", "the server rejected the user name or password", "帐号或密码错误");
        const flow = `flow-${Date.now()}`;
        if (a.service === "shopxo" && a.password_required) {
          flows.set(flow, a.name);
          return { step: "challenge", flow, challenge: { kind: "captcha", media_type: "image/png", reloadable: true }, image: captcha() } satisfies LoginStep;
        }
        if (a.service === "steedos" || !a.password_required) {
          flows.set(flow, a.name);
          return { step: "challenge", flow, challenge: { kind: "code", channel: "sms", destination: "138****0002" } } satisfies LoginStep;
        }
        return done(a);
      }
      case "answer_login": {
        const a = find(flows.get(args.flow) ?? fail("not_found", "no login is waiting with that id"));
        if (args.answer !== "1234" && args.answer.toLowerCase() !== "7kq2") fail("challenge_failed", "the captcha was wrong", "验证码错误");
        flows.delete(args.flow);
        return done(a);
      }
      case "reload_captcha":
        return { step: "challenge", flow: args.flow, challenge: { kind: "captcha", media_type: "image/png", reloadable: true }, image: captcha() };
      case "cancel_login":
        flows.delete(args.flow);
        return null;
      case "refresh_account": {
        const a = find(args.name);
        if (a.state.state === "needs_login") fail("needs_login", "the session expired and the service cannot renew it without a person");
        a.last_refresh_at = new Date().toISOString();
        record(a, a.service === "shopxo" ? "validate" : "refresh", "ok", "renewed");
        changed(a.name);
        return { account: a, done: a.service === "shopxo" ? "checked" : "renewed" };
      }
      case "logout_account": {
        const a = find(args.name);
        const outcome = a.session === null ? "no_session" : a.service === "shopxo" ? "forgotten_here" : "ended_on_server";
        a.session = null;
        a.state = { state: "signed_out" };
        record(a, "logout", outcome, "");
        changed(a.name);
        return outcome;
      }
      case "copy_token": {
        const a = find(args.name);
        if (!a.session) fail("needs_login", "not signed in");
        if (settings.clipboard_clear_secs > 0)
          setTimeout(() => void emit("lanyard://clipboard-cleared", { account: a.name }), settings.clipboard_clear_secs * 1000);
        return { clear_after_secs: settings.clipboard_clear_secs };
      }
    }
    throw { code: "internal", message: `mock: unknown command ${cmd}` };
  }
}

function done(a: AccountView): LoginStep {
  a.state = { state: "valid" };
  a.session = { obtained_at: new Date().toISOString(), expires_at: iso(3600), refresh_expires_at: null, user_id: "u1", display_name: null, extra: {} };
  record(a, "login", "ok", "logged in");
  changed(a.name);
  return { step: "done", account: a };
}

if (params.get("font")) document.documentElement.style.fontSize = `${params.get("font")}%`;
if (params.get("zoom")) (document.body.style as unknown as { zoom: string }).zoom = params.get("zoom")!;

await import("../src/main");
const { model } = await import("../src/lib/model.svelte");
(window as unknown as { __model: unknown }).__model = model;
if (params.get("view")) model.view = params.get("view") as never;
if (params.get("select")) model.selected = params.get("select");
const dialog = params.get("dialog");
if (dialog === "add") model.dialog = { kind: "add", service: (params.get("service") as never) ?? null };
if (dialog === "settings") model.dialog = { kind: "settings" };
if (dialog === "login" || dialog === "edit" || dialog === "remove") model.dialog = { kind: dialog, name: params.get("name") ?? accounts[0]!.name };
