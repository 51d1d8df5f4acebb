#!/usr/bin/env node
// End-to-end tests of the dashboard in headless Chromium (Debian's chromium
// driven by playwright-core) against a real stack that this script starts:
// api + 2 workers from target/, a fresh database and Redis prefix, an admin
// token made with `conveyor-api token create`, and a webhook receiver on
// 127.0.0.1. Every scenario runs signed in through the sign-in page (the
// session cookie), except those that sign in themselves.
//
//   npm run e2e                       # builds target/release binaries if missing
//   E2E_PROFILE=debug npm run e2e     # use target/debug instead
//   E2E_BUILD=1 npm run e2e           # run cargo build first in any case
//   CHROMIUM=/path/to/chromium        # default /usr/bin/chromium
//   E2E_ONLY=cancel npm run e2e       # only scenarios whose name contains this
//   DATABASE_URL, REDIS_URL           # servers to use (default: local); the
//                                     # database is conveyor_e2e_<random>
//
// Screenshots of every page go to <repo>/target/screenshots/*.png, logs of
// the stack to <repo>/target/e2e/.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startStack } from './stack.mjs';
import { startReceiver } from './receiver.mjs';
import { scenarios, setToken, signIn } from './scenarios.mjs';

const frontend = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const root = path.dirname(frontend);
const shots = path.join(root, 'target', 'screenshots');
const logDir = path.join(root, 'target', 'e2e');
const log = (msg) => console.log(`e2e: ${msg}`);

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`e2e: ${executablePath} not found; install it (as root on Debian: apt-get install -y chromium) or set CHROMIUM`);
  process.exit(1);
}
if (!existsSync(path.join(frontend, 'dist', 'index.html'))) {
  log('frontend/dist is missing; running npm run build');
  const built = spawnSync('npm', ['run', 'build'], { cwd: frontend, stdio: 'inherit' });
  if (built.status !== 0) process.exit(1);
}
mkdirSync(shots, { recursive: true });
// Screenshots of failures from an earlier run would mislead.
for (const file of readdirSync(shots)) if (file.startsWith('failed-')) rmSync(path.join(shots, file));

let stack;
let context;
let receiver;
const profileDir = mkdtempSync(path.join(os.tmpdir(), 'conveyor-e2e-chromium-'));
let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  await context?.close().catch(() => {});
  await receiver?.close().catch(() => {});
  await stack?.stop().catch((e) => log(`stopping the stack: ${e.message}`));
  rmSync(profileDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    void shutdown().then(() => process.exit(130));
  });
}

/** The generated types come from the saved openapi.json: say so when the api has moved on. */
async function warnOnSchemaDrift(baseUrl, token) {
  try {
    const live = await fetch(`${baseUrl}/api/v1/openapi.json`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json());
    const saved = JSON.parse(readFileSync(path.join(frontend, 'openapi.json'), 'utf8'));
    if (JSON.stringify(live) !== JSON.stringify(saved)) {
      log('note: this api\'s OpenAPI document differs from frontend/openapi.json; refresh the types with');
      log(`  npm run gen:api -- --url ${baseUrl}/api/v1/openapi.json   (against a running api)`);
    }
  } catch (e) {
    log(`could not compare the OpenAPI document: ${e.message}`);
  }
}

const results = [];
try {
  stack = await startStack({ root, frontendDir: path.join(frontend, 'dist'), logDir, log });
  receiver = await startReceiver(log);
  setToken(stack.token);
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    viewport: { width: 1440, height: 900 },
    baseURL: stack.baseUrl,
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`console: ${m.text()}`);
    if (m.type() === 'warning') log(`browser warning: ${m.text()}`);
  });

  await warnOnSchemaDrift(stack.baseUrl, stack.token);
  const only = process.env.E2E_ONLY;
  const ctx = { page, context, api: stack.baseUrl + '/api/v1', base: stack.baseUrl, token: stack.token, stack, receiver, shots, log };
  for (const scenario of scenarios) {
    if (only && !scenario.name.includes(only)) continue;
    const started = Date.now();
    try {
      // Signed in through the sign-in page, unless the scenario does it itself.
      if (!scenario.signsIn) {
        const cookies = await context.cookies(stack.baseUrl);
        if (!cookies.some((c) => c.name === 'conveyor_session')) await signIn(ctx);
      }
      await scenario.run(ctx);
      results.push({ name: scenario.name, ok: true });
      console.log(`  ✓ ${scenario.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      results.push({ name: scenario.name, ok: false, error: e });
      console.log(`  ✗ ${scenario.name}\n    ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n    ')}`);
      const file = path.join(shots, `failed-${scenario.name.replace(/[^a-z0-9]+/gi, '-')}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.log(`    screenshot: ${path.relative(root, file)}`);
    }
  }
  const unexpected = consoleErrors.filter((e) => !/WebSocket|Failed to load resource/.test(e));
  if (unexpected.length) {
    log(`browser errors:\n  ${unexpected.join('\n  ')}`);
    results.push({ name: 'no errors in the browser console', ok: false });
  }
} catch (e) {
  console.error(`e2e: ${e.stack ?? e}`);
  results.push({ name: 'stack start-up', ok: false, error: e });
} finally {
  await shutdown();
}

const failed = results.filter((r) => !r.ok).length;
log(`screenshots in ${path.relative(process.cwd(), shots) || shots}, stack logs in ${path.relative(process.cwd(), logDir)}`);
console.log(`e2e: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
