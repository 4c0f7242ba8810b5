import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The output is embedded into the desktop binary by tauri's generate_context!, so it must be
// self-contained: no CDN, no remote fonts, and no data: URIs (the CSP allows only 'self').
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "safari15",
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
