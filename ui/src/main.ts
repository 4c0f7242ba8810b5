import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { applyTheme } from "./lib/appearance";
import { model } from "./lib/model.svelte";

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");

// The system's theme at once, so the first paint is not the wrong colour; the saved settings
// (language, theme) are applied as soon as the backend answers, before anything is shown.
applyTheme("system");
await model.start();

export default mount(App, { target });
