// The UI's typed view of the backend: one function per Tauri command, and the shapes
// lanyard-core serializes. Field names follow the Rust structs (snake_case) on purpose, so a
// renamed field shows up as a type error here instead of an `undefined` on screen.

import { invoke } from "@tauri-apps/api/core";

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
}

/** What every failed command rejects with (lanyard_core::Error). */
export interface CommandError {
  code: string;
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

/** The services Lanyard speaks, in display order. */
export function listServices(): Promise<ServiceSpec[]> {
  return call<ServiceSpec[]>("list_services");
}

/** The operating system's language tag (e.g. `zh-CN`), or null if it has none. */
export function systemLocale(): Promise<string | null> {
  return call<string | null>("system_locale");
}
