// Strings the UI shows, in English and Simplified Chinese; the system locale picks one.
// The zh-CN table is typed against the English one, so a missing translation is a type error.

const en = {
  "app.name": "Lanyard",
  "app.tagline": "Sign-ins kept alive, tokens at hand",
  "sidebar.label": "Services and accounts",
  "sidebar.overview": "All accounts",
  "sidebar.services": "Services",
  "loading": "Loading services…",
  "error.title": "Lanyard could not load its services",
  "empty.all.title": "Add your first account",
  "empty.all.body":
    "Lanyard signs in to {services} for you, keeps every session alive and hands out the token whenever you or your scripts need it.",
  "empty.all.hint": "Choose a service on the left to see what it needs.",
  "empty.service.title": "No {service} accounts yet",
  "empty.service.body": "Add one and Lanyard will sign in, keep the session alive and warn you before it ends.",
  "service.user": "Signs in with",
  "service.endpoint": "Server",
  "service.endpoint.selfHosted": "Self-hosted: you give its address",
  "service.token": "Token sent as",
  "service.options": "Options",
  "service.options.none": "None",
  "service.capabilities": "What Lanyard can do",
  "capability.refresh": "Refresh without password",
  "capability.validate": "Check the token",
  "capability.logout": "Sign out on the server",
  "capability.captcha": "Image captcha",
  "capability.second_factor": "Second factor",
  "capability.code_login": "Sign in with a code",
  "capability.expires": "Sessions expire",
  "list.or": " or ",
  "list.comma": ", ",
} as const;

export type MessageKey = keyof typeof en;
type Messages = Record<MessageKey, string>;

const zhCN: Messages = {
  "app.name": "Lanyard",
  "app.tagline": "登录常在，令牌随取",
  "sidebar.label": "服务与账号",
  "sidebar.overview": "全部账号",
  "sidebar.services": "服务",
  "loading": "正在加载服务…",
  "error.title": "Lanyard 无法加载服务列表",
  "empty.all.title": "添加第一个账号",
  "empty.all.body": "Lanyard 替你登录 {services}，让每个会话保持有效，并在你或脚本需要时随时提供令牌。",
  "empty.all.hint": "在左侧选择一个服务，查看它需要哪些信息。",
  "empty.service.title": "还没有 {service} 账号",
  "empty.service.body": "添加账号后，Lanyard 会替你登录、保持会话有效，并在会话结束前提醒你。",
  "service.user": "登录方式",
  "service.endpoint": "服务器",
  "service.endpoint.selfHosted": "自托管：需填写服务器地址",
  "service.token": "令牌格式",
  "service.options": "选项",
  "service.options.none": "无",
  "service.capabilities": "Lanyard 能做什么",
  "capability.refresh": "免密码刷新",
  "capability.validate": "校验令牌",
  "capability.logout": "在服务器端退出",
  "capability.captcha": "图片验证码",
  "capability.second_factor": "二次验证",
  "capability.code_login": "验证码登录",
  "capability.expires": "会话会过期",
  "list.or": " 或 ",
  "list.comma": "、",
};

export type Locale = "en" | "zh-CN";

const tables: Record<Locale, Messages> = { en, "zh-CN": zhCN };

/** The first preferred language Lanyard speaks; any Chinese other than Traditional gets zh-CN. */
export function pickLocale(preferred: readonly string[]): Locale {
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("en")) return "en";
    if (lower.startsWith("zh") && !/^zh-(hant|tw|hk|mo)/.test(lower)) return "zh-CN";
  }
  return "en";
}

let current: Locale = "en";

/** Chooses the language of every later `t` call; main.ts calls it once before mounting. */
export function setLocale(locale: Locale): void {
  current = locale;
}

export function currentLocale(): Locale {
  return current;
}

/** The message for `key`, with `{name}` placeholders filled from `params`. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  return tables[current][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** "A, B, C or D" in the current language. */
export function joinOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return items.slice(0, -1).join(t("list.comma")) + t("list.or") + items[items.length - 1];
}
