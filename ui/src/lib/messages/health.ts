// The secret store's health in the UI's language: the backend says whether its probe worked and,
// if not, the error (a code, its detail, the system's own words).

import type { SecretStoreHealth } from "../api";
import { errorLine } from "../errors";
import { t } from "../i18n.svelte";

export function healthText(health: SecretStoreHealth): string {
  if (health.ok) return t("settings.store.works");
  return health.error ? errorLine(health.error) : health.message;
}
