// What an event-log row says, in the UI's language. The backend sends a code and its
// parameters (store/mod.rs `Said`); a row written before it had them, or a code this window does
// not know, shows the backend's English message instead.

import type { CommandError } from "../api";
import type { Said } from "../ipc/types";
import { errorLine } from "../errors";
import { formatDateTime, parseInstant } from "../format";
import { t, tMaybe } from "../i18n.svelte";

/** The row's words, or null when the code is not one this window renders. */
export function saidText(said: Said | undefined): string | null {
  if (!said) return null;
  const p = said.params;
  switch (said.code) {
    case "error":
    case "error_retryable":
    case "retrying": {
      // `why` and its parameters: the detail as a code (CommandError.said), when it had one.
      const error = {
        code: p.error ?? "internal",
        message: p.detail ?? "",
        server_message: p.server,
        said: p.why ? { code: p.why, params: p } : undefined,
      } as CommandError;
      const line = errorLine(error);
      if (said.code === "retrying") {
        const next = parseInstant(p.next);
        return next === null ? line : t("log.said.retrying", { error: line, next: formatDateTime(next) });
      }
      return said.code === "error" ? line : t("log.said.error_retryable", { error: line });
    }
    case "challenge": {
      const what = tMaybe(`log.challenge.${p.kind ?? ""}`) ?? p.kind ?? "";
      const asked = p.destination
        ? t("log.said.challenge_to", { what, destination: p.destination })
        : t("log.said.challenge", { what });
      const until = parseInstant(p.until);
      return until === null ? asked : `${asked} ${t("log.said.usable_until", { until: formatDateTime(until) })}`;
    }
    case "expiring_unattended": {
      const until = parseInstant(p.until);
      return until === null ? null : t("log.said.expiring_unattended", { until: formatDateTime(until) });
    }
    case "unverifiable": {
      const until = parseInstant(p.until);
      const why = p.why ?? "";
      return until === null
        ? t("log.said.unverifiable.kept", { why })
        : t("log.said.unverifiable", { why, until: formatDateTime(until) });
    }
    case "logged_in":
    case "renewed": {
      const until = parseInstant(p.until);
      const who = p.who ?? "";
      const login = said.code === "logged_in";
      if (until === null) return t(login ? "log.said.logged_in.noExpiry" : "log.said.renewed.noExpiry", { who });
      return t(login ? "log.said.logged_in" : "log.said.renewed", { who, until: formatDateTime(until) });
    }
    case "edited": {
      const changed = (p.changed ?? "")
        .split(",")
        .filter((field) => field !== "")
        .map((field) => tMaybe(`log.field.${field}`) ?? field)
        .join(t("list.comma"));
      return p.dropped
        ? t("log.said.edited_dropped", { changed, dropped: p.dropped })
        : t("log.said.edited", { changed });
    }
    case "needs_login":
      return tMaybe(`reason.${p.reason ?? ""}`);
    // Words that came without a code (a retry reason stored before reasons had one), verbatim.
    case "failed":
      return p.server ?? null;
    default: {
      const params: Record<string, string> = {};
      for (const [key, value] of Object.entries(p)) if (value !== undefined) params[key] = value;
      return tMaybe(`log.said.${said.code}`, params);
    }
  }
}
