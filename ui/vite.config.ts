/// <reference types="vitest/config" />
// Vite builds the UI into dist/ (served by `weft serve` and bundled by the Tauri shell);
// Vitest runs the component and client tests in jsdom.
import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

// `npm run dev` proxies the API to a running `weft serve` (WEFT_API=http://127.0.0.1:PORT),
// so the page and the API share one origin as they do when `weft serve` serves dist/.
const api = process.env.WEFT_API ?? "http://127.0.0.1:7878";

export default defineConfig({
  plugins: [solid()],
  base: "./",
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      "/v1": { target: api, changeOrigin: false, ws: true },
    },
  },
  build: {
    outDir: "dist",
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      output: {
        // CodeMirror's core changes rarely and is most of the bytes: its own chunk caches
        // well. Language packages stay out of it, so each loads when a file needs it.
        manualChunks(id) {
          if (/node_modules\/(@codemirror\/(state|view|commands|language|search)|@lezer\/(common|highlight|lr)|style-mod|w3c-keyname|crelt)\//.test(id)) {
            return "codemirror";
          }
          return undefined;
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["./src/test/setup.ts"],
    testTimeout: 20_000,
    pool: "threads",
    maxWorkers: 2,
  },
});
