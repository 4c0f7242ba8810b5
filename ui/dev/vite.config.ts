// The UI against a fake backend (dev/mock.ts), to look at it in a plain browser (WebKitGTK's
// MiniBrowser shows what the app's webview would) without building the desktop app.
// `npm run mock` serves it; `npm run mock:build` writes ui/dist-mock. Not part of the app.
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [svelte({ configFile: fileURLToPath(new URL("../svelte.config.js", import.meta.url)) })],
  build: {
    outDir: fileURLToPath(new URL("../dist-mock", import.meta.url)),
    emptyOutDir: true,
    target: "safari15",
    rollupOptions: { input: fileURLToPath(new URL("mock.html", import.meta.url)) },
  },
});
