import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

// The api serves dist/ at / with an SPA fallback and /assets/* with a long
// cache, so keep Vite's defaults: base '/', hashed files under assets/.
// `npm run dev` proxies the api (default http://127.0.0.1:8080, or CONVEYOR_API).
const api = process.env.CONVEYOR_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react(), tailwindcss()],
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: {
      '/api': { target: api, ws: true, changeOrigin: true },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
    // CI runs these on 2 busy cores: generous limits, so only real failures fail.
    testTimeout: 20_000,
  },
});
