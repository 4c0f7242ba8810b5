import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { systemLocale } from "./lib/api";
import { currentLocale, pickLocale, setLocale } from "./lib/i18n";

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");

// The backend reads the system locale directly; navigator.languages is only a fallback,
// because WebKitGTK reports English whenever the system locale is not generated.
const systemTag = await systemLocale().catch(() => null);
setLocale(pickLocale([...(systemTag ? [systemTag] : []), ...navigator.languages]));
document.documentElement.lang = currentLocale();

export default mount(App, { target });
