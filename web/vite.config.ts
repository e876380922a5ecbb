import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API of a running `./dev up`; the production build
// goes to dist/, which the API serves at `/`.
export default defineConfig({
  plugins: [react()],
  // Two pages: the console at / and the caregiver app at /app/ (with its service worker).
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    rollupOptions: {
      // The app's service worker is a module at a fixed address, /app/sw.js.
      input: { console: "index.html", app: "app/index.html", sw: "src/app/sw.ts" },
      // The code both pages share (React, the API client) is one chunk.
      output: {
        manualChunks: (id) => (id.includes("node_modules/react") ? "react" : undefined),
        entryFileNames: (chunk) => (chunk.name === "sw" ? "app/sw.js" : "assets/[name]-[hash].js"),
      },
    },
  },
  server: {
    proxy: {
      "/v1": { target: "http://127.0.0.1:8080", ws: true },
    },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
