// The end-to-end scenarios, in order. Each gets { page, context, api, base,
// token, stack, receiver, shots, log }; run.mjs signs the browser in first
// unless a scenario says `signsIn: true`.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { signatureValid } from './receiver.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tag = () => randomBytes(3).toString('hex');

// The run's admin token: every direct api call of the scenarios sends it.
let adminToken = null;
export function setToken(token) {
  adminToken = token;
}
const bearer = (token = adminToken) => (token ? { Authorization: `Bearer ${token}` } : {});

async function json(url, init) {
  const res = await fetch(url, { ...init, headers: { ...bearer(), ...init?.headers } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

const post = (url, body) => json(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

/** Signs the browser in through the sign-in page (with `token`, the run's admin token by default). */
export async function signIn(ctx, token = ctx.token) {
  const { page } = ctx;
  await page.goto('/login');
  await page.getByLabel('Api token').fill(token);
  await page.getByTestId('sign-in').click();
  await page.waitForURL((url) => url.pathname !== '/login');
  await page.getByTestId('session-bar').waitFor();
}

async function signOut(page) {
  await page.getByTestId('sign-out').click();
  await page.waitForURL(/\/login/);
}

async function waitUntil(what, check, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`);
    await sleep(200);
  }
}

// Clicks a node of a graph once it has stopped moving. The graph fits
// itself into view with a short transition after it renders; Playwright's
// own check (the same box over two animation frames) can pass just before
// that transition starts, and the click then lands beside the node.
async function clickStillNode(locator) {
  let last = null;
  let still = 0;
  await waitUntil('the node to stop moving', async () => {
    const box = JSON.stringify(await locator.boundingBox());
    still = box === last ? still + 1 : 0;
    last = box;
    return still >= 2;
  });
  await locator.click();
}

async function waitForStatus(api, id, status, timeout) {
  return waitUntil(`job ${id} to be ${status}`, async () => {
    const job = await json(`${api}/jobs/${id}`);
    return job.status === status ? job : null;
  }, timeout);
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function shot({ page, shots }, name) {
  // Let charts and live updates settle.
  await page.waitForLoadState('networkidle').catch(() => {});
  // Dismiss notices of earlier actions, so they do not cover the page.
  for (const close of await page.getByRole('button', { name: 'Dismiss' }).all()) await close.click().catch(() => {});
  // Sticky columns (the sidebar, the editor's graph) are drawn where the
  // viewport is: from the top, the full-page picture shows them in place.
  await page.evaluate(() => window.scrollTo(0, 0));
  await sleep(400);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function fillArgv(page, args) {
  for (let i = 0; i < args.length; i++) {
    if (i > 0) await page.getByRole('button', { name: 'Add argument' }).click();
    await page.getByLabel(`Argument ${i}`, { exact: true }).fill(args[i]);
  }
}

async function statusOf(page) {
  return page.getByTestId('job-status').getAttribute('data-status');
}

async function waitForBadge(page, status, timeout = 30_000) {
  await page.locator(`[data-testid="job-status"][data-status="${status}"]`).waitFor({ timeout });
}

const state = { failingJobId: null, definition: null };

export const scenarios = [
  {
    name: 'the sign-in page rejects a wrong token and accepts the right one',
    signsIn: true,
    async run(ctx) {
      const { page, context, api, base } = ctx;
      await context.clearCookies();
      // Without a session the api says 401, and the dashboard asks to sign in.
      assert((await fetch(`${api}/jobs`)).status === 401, 'the api answered a call without a token');
      // The live feed waits for a session instead of knocking on a closed door.
      const sockets = [];
      const onSocket = (ws) => sockets.push(ws.url());
      page.on('websocket', onSocket);
      await page.goto('/jobs?status=dead');
      await page.waitForURL(/\/login\?next=/);
      assert(new URL(page.url()).searchParams.get('next') === '/jobs?status=dead', `next is ${page.url()}`);
      const field = page.getByLabel('Api token');
      assert((await field.getAttribute('type')) === 'password', 'the token field is not a password field');
      await shot(ctx, 'login');
      await field.fill('cvr_not_a_real_token');
      await page.getByTestId('sign-in').click();
      await page.getByTestId('login-error').filter({ hasText: 'That token is not valid' }).waitFor();
      assert(new URL(page.url()).pathname === '/login', 'a wrong token left the sign-in page');
      await shot(ctx, 'login-rejected');
      assert(sockets.length === 0, `the page opened ${sockets.length} live sockets before signing in`);
      await field.fill(ctx.token);
      await page.getByTestId('sign-in').click();
      // Back where it was heading.
      await page.waitForURL(`${base}/jobs?status=dead`);
      await page.getByTestId('session-name').filter({ hasText: 'e2e' }).waitFor();
      await page.locator('[data-testid="session-scope"][data-scope="admin"]').waitFor();
      await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
      // Signed in, the live feed connects (the cookie rides on the upgrade).
      await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
      page.off('websocket', onSocket);
      assert(sockets.length >= 1, 'no live socket after signing in');
    },
  },
  {
    name: 'the session cookie is HttpOnly and SameSite=Strict',
    async run(ctx) {
      const { page, context, base } = ctx;
      await page.goto('/');
      const visible = await page.evaluate(() => document.cookie);
      assert(!visible.includes('conveyor_session'), `document.cookie shows the session: ${visible}`);
      const cookie = (await context.cookies(base)).find((c) => c.name === 'conveyor_session');
      assert(cookie, 'no conveyor_session cookie');
      assert(cookie.httpOnly === true, `httpOnly is ${cookie.httpOnly}`);
      assert(cookie.sameSite === 'Strict', `sameSite is ${cookie.sameSite}`);
      assert(cookie.path === '/', `path is ${cookie.path}`);
      // The page's own calls carry it; the answer names the token, not its secret.
      const session = await page.evaluate(() => fetch('/api/v1/session').then((r) => r.json()));
      assert(session.auth === 'cookie' && session.name === 'e2e' && session.scope === 'admin', `the session is ${JSON.stringify(session)}`);
    },
  },
  {
    name: 'live indicator connects',
    async run({ page }) {
      await page.goto('/');
      await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
    },
  },
  {
    name: 'shell job from the form turns succeeded without a reload',
    async run(ctx) {
      const { page } = ctx;
      const name = `e2e-shell-${tag()}`;
      await page.goto('/jobs/new');
      await page.evaluate(() => {
        window.__sameDocument = true;
      });
      await page.getByTestId('kind-shell').click();
      await fillArgv(page, ['sh', '-c', 'echo "hello from e2e"; sleep 2; echo done']);
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByTestId('submit-job').click();
      await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
      await page.getByTestId('job-name').filter({ hasText: name }).waitFor();
      const first = await statusOf(page);
      assert(first !== 'succeeded', `the job was already succeeded when its page opened (${first}); cannot see it change`);
      await waitForBadge(page, 'succeeded');
      assert(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
      await page.getByTestId('attempt-output').filter({ hasText: 'hello from e2e' }).waitFor();
      await page.getByTestId('timeline').filter({ hasText: 'Succeeded' }).waitFor();
      await shot(ctx, 'job-detail-succeeded');
    },
  },
  {
    name: 'failing job shows its error and attempts',
    async run(ctx) {
      const { page } = ctx;
      await page.goto('/jobs/new');
      await fillArgv(page, ['sh', '-c', 'echo "boom: disk on fire" >&2; exit 1']);
      await page.getByLabel('Name', { exact: true }).fill(`e2e-failing-${tag()}`);
      await page.getByLabel('Max attempts').fill('2');
      await page.getByLabel('Backoff base (ms)').fill('100');
      await page.getByLabel('Backoff max (ms)').fill('200');
      await page.getByTestId('submit-job').click();
      await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
      state.failingJobId = page.url().split('/').pop();
      await waitForBadge(page, 'dead');
      await page.getByTestId('job-error').filter({ hasText: 'exited with status 1' }).waitFor();
      await waitUntil('two failed attempts', async () => (await page.locator('[data-testid="attempt"][data-outcome="failed"]').count()) === 2);
      await page.getByTestId('attempt-output').first().filter({ hasText: 'boom: disk on fire' }).waitFor();
      const attempts = await page.getByTestId('job-attempts').textContent();
      assert(attempts?.includes('2 of 2'), `attempts shown as ${attempts}`);
      await shot(ctx, 'job-detail-dead');
    },
  },
  {
    name: 'delayed job is cancelled from its page',
    async run(ctx) {
      const { page } = ctx;
      await page.goto('/jobs/new');
      await fillArgv(page, ['true']);
      await page.getByLabel('Name', { exact: true }).fill(`e2e-delayed-${tag()}`);
      await page.getByTestId('when-delay').click();
      await page.getByLabel('Delay', { exact: true }).fill('1');
      await page.getByLabel('Delay unit').selectOption('h');
      await page.getByTestId('submit-job').click();
      await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
      await waitForBadge(page, 'scheduled', 10_000);
      await shot(ctx, 'job-detail-scheduled');
      await page.getByTestId('cancel-job').click();
      await page.getByTestId('confirm-cancel').click();
      await waitForBadge(page, 'cancelled', 10_000);
      const id = page.url().split('/').pop();
      const job = await json(`${ctx.api}/jobs/${id}`);
      assert(job.status === 'cancelled', `the api says ${job.status}`);
    },
  },
  {
    name: 'selected jobs are cancelled from the jobs list',
    async run(ctx) {
      const { page, api } = ctx;
      const name = `e2e-bulk-${tag()}`;
      await post(`${api}/jobs/batch`, {
        jobs: [1, 2, 3].map((i) => ({ kind: 'noop', name: `${name}-${i}`, delay_ms: 3_600_000 })),
      });
      await page.goto(`/jobs?name=${name}`);
      await waitUntil('three scheduled rows', async () => (await page.locator('[data-testid="row-status"][data-status="scheduled"]').count()) === 3);
      await page.getByLabel('Select all on this page').check();
      await shot(ctx, 'jobs-selected');
      await page.getByTestId('selection-bar').getByRole('button', { name: /Cancel 3/ }).click();
      await waitUntil('three cancelled rows', async () => (await page.locator('[data-testid="row-status"][data-status="cancelled"]').count()) === 3);
    },
  },
  {
    name: 'dead job is retried from Dead letters',
    async run(ctx) {
      const { page, api } = ctx;
      const name = `e2e-retry-${tag()}`;
      // Fails the first time, succeeds once the flag file exists.
      const flag = path.join(os.tmpdir(), `conveyor-${name}`);
      const job = await post(`${api}/jobs`, {
        kind: 'shell',
        name,
        max_attempts: 1,
        payload: { argv: ['sh', '-c', `if [ -e ${flag} ]; then rm -f ${flag}; echo recovered; else touch ${flag}; echo first try fails; exit 1; fi`] },
      });
      await waitForStatus(api, job.id, 'dead');
      await page.goto('/dead');
      const row = page.locator(`tr[data-job-id="${job.id}"]`);
      await row.getByTestId('row-error').filter({ hasText: 'exited with status 1' }).waitFor();
      await shot(ctx, 'dead-letters');
      await row.getByTestId('retry-one').click();
      await row.waitFor({ state: 'detached' });
      await page.goto(`/jobs/${job.id}`);
      await waitForBadge(page, 'succeeded');
      await page.getByTestId('attempt-output').filter({ hasText: 'recovered' }).waitFor();
      await page.getByTestId('timeline').filter({ hasText: 'Attempt 2 succeeded' }).waitFor();
      await shot(ctx, 'job-detail-retried');
    },
  },
  {
    name: 'retry all matching a filter in Dead letters',
    async run(ctx) {
      const { page, api } = ctx;
      const name = `e2e-many-${tag()}`;
      const { jobs } = await post(`${api}/jobs/batch`, {
        jobs: [1, 2].map((i) => ({ kind: 'shell', name: `${name}-${i}`, max_attempts: 1, payload: { argv: ['false'] } })),
      });
      for (const j of jobs) await waitForStatus(api, j.id, 'dead');
      await page.goto(`/dead?name=${name}`);
      await waitUntil('two dead rows', async () => (await page.locator('tr[data-job-id]').count()) === 2);
      await page.getByTestId('retry-all-matching').click();
      await page.getByTestId('confirm-bulk').click();
      await page.getByTestId('toast').filter({ hasText: '2 jobs retried' }).waitFor();
      for (const j of jobs) {
        const now = await json(`${api}/jobs/${j.id}`);
        assert(now.attempt_base === 1, `job ${j.id} was not retried (attempt_base ${now.attempt_base})`);
      }
    },
  },
  {
    name: 'pausing a queue holds its jobs until resumed',
    async run(ctx) {
      const { page, api, log } = ctx;
      await page.goto('/queues');
      const row = page.locator('tr[data-queue="e2e"]');
      await row.waitFor();
      if ((await page.getByTestId('unavailable').count()) > 0) {
        log('queue pause is not available on this server; only the depths were checked');
        return;
      }
      await row.getByTestId('pause-queue').click();
      await row.getByTestId('queue-state').filter({ hasText: 'paused' }).waitFor();
      const job = await post(`${api}/jobs`, { kind: 'noop', queue: 'e2e', name: `e2e-paused-${tag()}` });
      await sleep(1500);
      const held = await json(`${api}/jobs/${job.id}`);
      assert(held.status === 'queued', `a job in a paused queue went ${held.status}`);
      await page.waitForTimeout(2500); // the queued count arrives with the next refresh
      await shot(ctx, 'queues');
      await row.getByTestId('resume-queue').click();
      await row.getByTestId('queue-state').filter({ hasText: 'active' }).waitFor();
      await waitForStatus(api, job.id, 'succeeded', 15_000);
    },
  },
  {
    name: 'the form checks fields in the page and shows the server’s 422 by its field',
    async run(ctx) {
      const { page } = ctx;
      await page.goto('/jobs/new');
      await page.getByLabel('Priority').fill('12');
      await page.getByLabel('Queue').fill('no spaces allowed');
      await page.getByTestId('submit-job').click();
      await page.getByTestId('error-priority').filter({ hasText: 'must be an integer from 0 to 9' }).waitFor();
      await page.getByTestId('error-queue').waitFor();
      await page.getByTestId('error-payload.argv').waitFor();
      await shot(ctx, 'new-job-errors');
      // A kind no worker registered passes the page's checks; the server names the field.
      await page.goto('/jobs/new');
      await page.getByTestId('kind-custom').click();
      await page.getByLabel('Kind', { exact: true }).fill('no-such-kind');
      await page.getByTestId('submit-job').click();
      await page.getByTestId('error-kind').filter({ hasText: 'unknown kind' }).waitFor();
    },
  },
  {
    name: 'a definition is created in its form',
    async run(ctx) {
      const { page, api } = ctx;
      const name = `e2e-def-${tag()}`;
      state.definition = name;
      await page.goto('/definitions/new');
      await page.getByLabel('Name', { exact: true }).first().fill(name);
      await page.getByLabel('Description').fill('says hello, for workflow nodes');
      await fillArgv(page, ['sh', '-c', 'echo hello from a definition']);
      await page.getByLabel('Queue').fill('e2e');
      await shot(ctx, 'definition-form');
      await page.getByTestId('submit-definition').click();
      await page.waitForURL(/\/definitions$/);
      await page.locator(`tr[data-definition="${name}"]`).waitFor();
      const stored = await json(`${api}/definitions/${name}`);
      assert(stored.template.kind === 'shell', `stored kind ${stored.template.kind}`);
    },
  },
  {
    name: 'a schedule shows its next fire times as you type, then is created, paused, resumed and edited',
    async run(ctx) {
      const { page, api } = ctx;
      const name = `e2e-schedule-${tag()}`;
      await page.goto('/schedules/new');
      await page.getByLabel('Name', { exact: true }).first().fill(name);
      await page.getByLabel('Time zone').fill('America/New_York');
      const cron = page.getByLabel('Cron expression');
      // A minute field of 61: the server's message shows next to the field.
      await cron.pressSequentially('61 * * * *', { delay: 40 });
      await page.getByTestId('error-cron').filter({ hasText: 'minute' }).waitFor();
      assert((await page.getByTestId('preview-fire').count()) === 0, 'fire times shown for a bad expression');
      await cron.fill('');
      await cron.pressSequentially('0 9 * * MON-FRI', { delay: 40 });
      await waitUntil('five fire times', async () => (await page.getByTestId('preview-fire').count()) === 5);
      assert((await page.getByTestId('error-cron').count()) === 0, 'the error stayed after fixing the expression');
      const first = await page.getByTestId('preview-fire').first().textContent();
      // 09:00 in New York is 13:00 or 14:00 UTC, depending on daylight saving.
      assert(/09:00:00/.test(first) && /(13|14):00:00 UTC/.test(first) && /-0[45]:00/.test(first), `first fire shown as ${first}`);
      await shot(ctx, 'schedule-form');
      await page.getByTestId('kind-noop').click();
      await page.getByTestId('submit-schedule').click();
      await page.waitForURL(/\/schedules\/[0-9a-f-]{36}$/);
      await waitUntil('five upcoming fires', async () => (await page.getByTestId('upcoming-fire').count()) === 5);
      const id = page.url().split('/').pop();
      const stored = await json(`${api}/schedules/${id}`);
      assert(stored.cron === '0 9 * * MON-FRI' && stored.timezone === 'America/New_York', `stored ${stored.cron} in ${stored.timezone}`);
      await page.getByTestId('pause-schedule').click();
      await page.locator('[data-testid="schedule-state"][data-paused="true"]').waitFor();
      assert((await json(`${api}/schedules/${id}`)).paused === true, 'the api does not say paused');
      await page.getByTestId('resume-schedule').click();
      await page.locator('[data-testid="schedule-state"][data-paused="false"]').waitFor();
      // Edit: a new time sends only what changed.
      await page.getByRole('link', { name: 'Edit' }).click();
      await page.waitForURL(/\/edit$/);
      await page.getByLabel('Cron expression').fill('30 8 * * SAT');
      await waitUntil('Saturdays previewed', async () => /Sat/.test((await page.getByTestId('preview-fire').first().textContent()) ?? ''));
      await page.getByTestId('submit-schedule').click();
      await page.waitForURL(/\/schedules\/[0-9a-f-]{36}$/);
      const edited = await json(`${api}/schedules/${id}`);
      assert(edited.cron === '30 8 * * SAT' && edited.timezone === 'America/New_York' && edited.name === name, `edited to ${JSON.stringify(edited)}`);
    },
  },
  {
    name: 'a schedule’s fires are listed with their jobs, live',
    async run(ctx) {
      const { page, api } = ctx;
      // Every second (six fields, seconds first).
      const schedule = await post(`${api}/schedules`, {
        name: `e2e-every-second-${tag()}`,
        cron: '* * * * * *',
        target: { job: { kind: 'noop', queue: 'e2e' } },
      });
      await page.goto(`/schedules/${schedule.id}`);
      await waitUntil('two fires with succeeded jobs', async () => (await page.locator('[data-testid="fire-status"][data-status="succeeded"]').count()) >= 2, 20_000);
      await page.getByTestId('pause-schedule').click();
      await page.locator('[data-testid="schedule-state"][data-paused="true"]').waitFor();
      await shot(ctx, 'schedule-detail');
      const fire = page.getByTestId('fire').first();
      await fire.getByRole('link').click();
      await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
      await page.getByTestId('job-name').waitFor();
      await page.goto('/schedules');
      await page.getByTestId('schedules-table').waitFor();
      await shot(ctx, 'schedules');
      await page.locator('tr', { hasText: schedule.name }).getByRole('button', { name: `Delete ${schedule.name}` }).click();
      await page.getByTestId('confirm').click();
      await page.locator('tr', { hasText: schedule.name }).waitFor({ state: 'detached' });
    },
  },
  {
    name: 'a repeating job from New job becomes a schedule',
    async run(ctx) {
      const { page } = ctx;
      await page.goto('/jobs/new');
      await page.getByTestId('kind-noop').click();
      await page.getByLabel('Name', { exact: true }).fill(`e2e-hourly-${tag()}`);
      await page.getByTestId('when-cron').click();
      await page.getByLabel('Cron expression').pressSequentially('@hourly', { delay: 30 });
      await waitUntil('five fire times', async () => (await page.getByTestId('preview-fire').count()) === 5);
      await page.getByTestId('submit-job').click();
      await page.waitForURL(/\/schedules\/[0-9a-f-]{36}$/);
      await waitUntil('five upcoming fires', async () => (await page.getByTestId('upcoming-fire').count()) === 5);
      await page.getByTestId('delete-schedule').click();
      await page.getByTestId('confirm').click();
      await page.waitForURL(/\/schedules$/);
    },
  },
  {
    name: 'a workflow made in the form runs, every node turning green without a reload',
    async run(ctx) {
      const { page, api } = ctx;
      const name = `e2e-diamond-${tag()}`;
      await page.goto('/workflows/new');
      await page.getByLabel('Name', { exact: true }).first().fill(name);
      // extract (shell) → transform (sleep), report (definition) → load (shell)
      await page.getByLabel('Key of node 1').fill('extract');
      await fillArgv(page, ['sh', '-c', 'sleep 1; echo extracted']);
      await page.getByTestId('add-node').click();
      await page.getByLabel('Key of node 2').fill('transform');
      await page.getByTestId('kind-sleep').click();
      await page.getByLabel('Duration (ms)').fill('1500');
      await page.getByTestId('add-node').click();
      await page.getByLabel('Key of node 3').fill('report');
      if (state.definition) {
        await page.getByTestId('source-definition').click();
        await page.getByLabel('Definition', { exact: true }).selectOption(state.definition);
      }
      await page.getByTestId('add-node').click();
      await page.getByLabel('Key of node 4').fill('load');
      await page.getByTestId('kind-shell').click();
      await fillArgv(page, ['sh', '-c', 'echo "parents: $(cat "$CONVEYOR_PARENTS_FILE")"; echo loaded']);
      for (const [parent, child] of [['extract', 'transform'], ['extract', 'report'], ['transform', 'load'], ['report', 'load']]) {
        await page.getByTestId('edge-parent').selectOption(parent);
        await page.getByTestId('edge-child').selectOption(child);
        await page.getByTestId('add-edge').click();
      }
      await page.getByTestId('graph-ok').waitFor();
      await waitUntil('four nodes on the graph', async () => (await page.getByTestId('graph-node').count()) === 4);
      await shot(ctx, 'workflow-editor');
      await page.getByTestId('submit-workflow').click();
      await page.waitForURL(/\/workflows\/[0-9a-f-]{36}$/);
      await waitUntil('four nodes on the graph', async () => (await page.getByTestId('graph-node').count()) === 4);
      const workflowUrl = page.url();
      await page.evaluate(() => {
        window.__sameDocument = true;
      });
      await page.getByTestId('start-run').click();
      await page.waitForURL(/\/workflow-runs\/[0-9a-f-]{36}$/);
      const runId = page.url().split('/').pop();
      await waitUntil('four nodes on the run graph', async () => (await page.locator('[data-testid="run-graph"] [data-testid="graph-node"]').count()) === 4);
      const before = await page.locator('[data-testid="run-graph"] [data-testid="graph-node"][data-status="succeeded"]').count();
      assert(before < 4, 'every node had succeeded before the run page showed; cannot see them change');
      await page.locator('[data-testid="run-graph"] [data-testid="graph-node"][data-key="load"][data-status="blocked"]').waitFor({ timeout: 5_000 }).catch(() => {});
      await waitUntil('every node green', async () => (await page.locator('[data-testid="run-graph"] [data-testid="graph-node"][data-status="succeeded"]').count()) === 4, 30_000);
      await page.locator('[data-testid="run-status"][data-status="succeeded"]').waitFor();
      assert(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
      const run = await json(`${api}/workflow-runs/${runId}`);
      assert(run.status === 'succeeded', `the api says the run is ${run.status}`);
      await shot(ctx, 'workflow-run');
      // A node opens its job; the child saw its parents' results.
      await clickStillNode(page.locator('[data-testid="run-graph"] [data-testid="graph-node"][data-key="load"]'));
      await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
      await page.getByTestId('attempt-output').filter({ hasText: 'loaded' }).waitFor();
      await page.goto(workflowUrl);
      await page.locator(`[data-testid="run-row"][data-run-id="${runId}"]`).waitFor();
      await shot(ctx, 'workflow-detail');
    },
  },
  {
    name: 'a failed run is retried, and a running one cancelled, from the run page',
    async run(ctx) {
      const { page, api } = ctx;
      // "flaky" fails once (the flag file is made), then succeeds.
      const flag = path.join(os.tmpdir(), `conveyor-e2e-flaky-${tag()}`);
      const workflow = await post(`${api}/workflows`, {
        name: `e2e-flaky-${tag()}`,
        nodes: [
          { key: 'fetch', job: { kind: 'noop' } },
          { key: 'flaky', job: { kind: 'shell', max_attempts: 1, payload: { argv: ['sh', '-c', `if [ -e ${flag} ]; then rm -f ${flag}; else touch ${flag}; echo "upstream said no" >&2; exit 1; fi`] } } },
          { key: 'publish', job: { kind: 'noop' } },
          { key: 'notify', job: { kind: 'noop' } },
        ],
        edges: [['fetch', 'flaky'], ['flaky', 'publish'], ['publish', 'notify']],
      });
      const started = await post(`${api}/workflows/${workflow.id}/runs`, {});
      await page.goto(`/workflow-runs/${started.id}`);
      const node = (key, status) => page.locator(`[data-testid="run-graph"] [data-testid="graph-node"][data-key="${key}"][data-status="${status}"]`);
      await page.locator('[data-testid="run-status"][data-status="failed"]').waitFor({ timeout: 20_000 });
      await node('flaky', 'dead').waitFor();
      await node('publish', 'skipped').waitFor();
      await node('notify', 'skipped').waitFor();
      await page.locator('tr[data-node="flaky"]').filter({ hasText: 'exited with status 1' }).waitFor();
      await shot(ctx, 'workflow-run-failed');
      await page.getByTestId('retry-run').click();
      await page.locator('[data-testid="run-status"][data-status="succeeded"]').waitFor({ timeout: 20_000 });
      for (const key of ['fetch', 'flaky', 'publish', 'notify']) await node(key, 'succeeded').waitFor();

      const slow = await post(`${api}/workflows`, {
        name: `e2e-slow-${tag()}`,
        nodes: [
          { key: 'wait', job: { kind: 'sleep', payload: { ms: 60_000 } } },
          { key: 'after', job: { kind: 'noop' } },
        ],
        edges: [['wait', 'after']],
      });
      const running = await post(`${api}/workflows/${slow.id}/runs`, {});
      await page.goto(`/workflow-runs/${running.id}`);
      await node('wait', 'running').waitFor({ timeout: 15_000 });
      await page.getByTestId('cancel-run').click();
      await page.getByTestId('confirm').click();
      // Cancelling a run cancels every node that has not finished, blocked ones too.
      await node('wait', 'cancelled').waitFor();
      await node('after', 'cancelled').waitFor();
      await page.locator('[data-testid="run-status"][data-status="cancelled"]').waitFor();
    },
  },
  {
    name: 'a workflow of docker jobs (fetch → transform → publish) runs in real containers',
    async run(ctx) {
      const { page, api, stack, log } = ctx;
      if (!stack.dockerBin) {
        if (process.env.CI === 'true') throw new Error('no container engine, and docker jobs must run in CI');
        log('skipped: no container engine here (scripts/test installs podman)');
        return;
      }
      // fetch is built from a Dockerfile served here; transform and publish
      // run the base image. No node has a network: each only prints.
      const dockerfile = `FROM localhost/conveyor-busybox:latest\n# e2e ${tag()}\nRUN echo 'rows: 3' > /fetched\nCMD ["sh", "-c", "cat /fetched; echo fetched"]\n`;
      const server = http.createServer((req, res) => res.end(dockerfile));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${server.address().port}/Dockerfile`;
        const image = 'localhost/conveyor-busybox:latest';
        const workflow = await post(`${api}/workflows`, {
          name: `e2e-docker-${tag()}`,
          nodes: [
            { key: 'fetch', job: { kind: 'docker', timeout_secs: 120, payload: { dockerfile_url: url } } },
            { key: 'transform', job: { kind: 'docker', timeout_secs: 60, payload: { image, command: ['sh', '-c', 'echo "$STEP: rows doubled"'], env: { STEP: 'transform' } } } },
            { key: 'publish', job: { kind: 'docker', timeout_secs: 60, payload: { image, command: ['sh', '-c', 'echo published to $TARGET'], env: { TARGET: 'the archive' } } } },
          ],
          edges: [['fetch', 'transform'], ['transform', 'publish']],
        });
        const started = await post(`${api}/workflows/${workflow.id}/runs`, {});
        await page.goto(`/workflow-runs/${started.id}`);
        const node = (key, status) => page.locator(`[data-testid="run-graph"] [data-testid="graph-node"][data-key="${key}"][data-status="${status}"]`);
        await page.locator('[data-testid="run-status"][data-status="succeeded"]').waitFor({ timeout: 90_000 });
        for (const key of ['fetch', 'transform', 'publish']) await node(key, 'succeeded').waitFor();
        await shot(ctx, 'workflow-run-docker');
        const run = await json(`${api}/workflow-runs/${started.id}`);
        assert(run.status === 'succeeded', `the api says the run is ${run.status}`);
        // Each node's page shows what its container printed.
        for (const [key, text] of [['fetch', 'rows: 3'], ['transform', 'transform: rows doubled'], ['publish', 'published to the archive']]) {
          await page.goto(`/workflow-runs/${started.id}`);
          await clickStillNode(page.locator(`[data-testid="run-graph"] [data-testid="graph-node"][data-key="${key}"]`));
          await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
          await page.getByTestId('attempt-output').filter({ hasText: text }).waitFor();
        }
        // Nothing is left on the engine: every container was removed.
        const left = spawnSync(stack.dockerBin, ['ps', '-a', '--filter', `label=conveyor.scope=${stack.redisPrefix}`, '--format', '{{.Names}}'], { encoding: 'utf8' });
        assert(left.status === 0 && left.stdout.trim() === '', `containers left: ${left.stdout}${left.stderr}`);
      } finally {
        server.close();
        // The image built from this run's Dockerfile (unique to it) goes too.
        const built = `conveyor-job:${createHash('sha256').update(dockerfile).digest('hex').slice(0, 16)}`;
        spawnSync(stack.dockerBin, ['rmi', built], { stdio: 'ignore' });
      }
    },
  },
  {
    name: 'a cycle in the JSON editor is shown on the graph, by the page and by the server',
    async run(ctx) {
      const { page } = ctx;
      const body = {
        name: `e2e-cycle-${tag()}`,
        nodes: ['a', 'b', 'c', 'd'].map((key) => ({ key, job: { kind: 'noop' } })),
        edges: [['d', 'a'], ['a', 'b'], ['b', 'c'], ['c', 'a']],
      };
      await page.goto('/workflows/new');
      await page.getByTestId('mode-json').click();
      await page.getByTestId('workflow-json').fill(JSON.stringify(body, null, 2));
      await page.locator('[data-testid="graph-problem"][data-source="page"]').filter({ hasText: 'a → b → c → a' }).waitFor();
      await page.getByTestId('submit-workflow').click();
      const banner = page.locator('[data-testid="graph-problem"][data-source="server"]');
      await banner.filter({ hasText: '409' }).waitFor();
      const path = await banner.getByTestId('cycle-path').textContent();
      assert(path.includes('a → b → c → a'), `the server's cycle shown as ${path}`);
      const red = await page.locator('[data-testid="graph-node"][data-problem="true"]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-key')).sort());
      assert(JSON.stringify(red) === '["a","b","c"]', `red nodes ${red}`);
      const redEdges = await page.locator('.react-flow__edge.edge-problem').count();
      assert(redEdges === 3, `${redEdges} red edges`);
      await shot(ctx, 'workflow-cycle');
      // The same graph in the form: the edge list marks the cycle too.
      await page.getByTestId('mode-form').click();
      await waitUntil('the cycle marked in the form', async () => (await page.locator('[data-testid="graph-problem"]').filter({ hasText: 'a → b → c → a' }).count()) === 1);
      await page.getByTestId('mode-json').click();
      // Without the cycle but with a kind no worker runs: the server's 422 names the node's field.
      body.edges = body.edges.filter(([p, c]) => !(p === 'c' && c === 'a'));
      body.nodes[1].job.kind = 'no-such-kind';
      await page.getByTestId('workflow-json').fill(JSON.stringify(body, null, 2));
      await page.locator('[data-testid="graph-problem"]').waitFor({ state: 'detached' });
      await page.getByTestId('submit-workflow').click();
      await page.getByTestId('error-nodes[1].job.kind').filter({ hasText: 'unknown kind' }).waitFor();
      await page.locator('[data-testid="graph-node"][data-key="b"][data-problem="true"]').waitFor();
    },
  },
  {
    name: 'dead letters are deleted: one, a selection, and all matching',
    async run(ctx) {
      const { page, api } = ctx;
      const name = `e2e-delete-${tag()}`;
      const { jobs } = await post(`${api}/jobs/batch`, {
        jobs: [1, 2, 3, 4, 5].map((i) => ({ kind: 'shell', name: `${name}-${i}`, max_attempts: 1, payload: { argv: ['false'] } })),
      });
      for (const j of jobs) await waitForStatus(api, j.id, 'dead');
      const gone = async (id) => (await fetch(`${api}/jobs/${id}`, { headers: bearer() })).status === 404;
      await page.goto(`/dead?name=${name}`);
      await waitUntil('five dead rows', async () => (await page.locator('tr[data-job-id]').count()) === 5);
      // One, from its row.
      const one = page.locator(`tr[data-job-id="${jobs[0].id}"]`);
      await one.getByTestId('delete-one').click();
      await one.waitFor({ state: 'detached' });
      assert(await gone(jobs[0].id), 'the deleted job is still in the api');
      // A selection of two.
      for (const j of jobs.slice(1, 3)) await page.locator(`tr[data-job-id="${j.id}"]`).getByRole('checkbox').check();
      await page.getByTestId('selection-delete').click();
      await page.getByTestId('confirm-bulk').click();
      await page.getByTestId('toast').filter({ hasText: '2 jobs deleted' }).waitFor();
      await waitUntil('two rows left', async () => (await page.locator('tr[data-job-id]').count()) === 2);
      // All matching the filter.
      await page.getByTestId('delete-all-matching').click();
      await page.getByTestId('confirm-bulk').click();
      // The toast of the selection may still be showing: take the newest.
      await page.getByTestId('toast').filter({ hasText: '2 jobs deleted' }).last().waitFor();
      await waitUntil('no rows left', async () => (await page.locator('tr[data-job-id]').count()) === 0);
      for (const j of jobs) assert(await gone(j.id), `job ${j.id} was not deleted`);
    },
  },
  {
    name: 'a token made in the Tokens page shows its secret once; a read token sees admin actions disabled; revoking it signs it out',
    async run(ctx) {
      const { page, api } = ctx;
      const name = `e2e-reader-${tag()}`;
      await page.goto('/settings/tokens');
      await page.getByTestId('tokens-table').waitFor();
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Scope', { exact: true }).selectOption('read');
      await page.getByTestId('create-token').click();
      const secretField = page.getByTestId('token-secret');
      await secretField.waitFor();
      const secret = await secretField.inputValue();
      assert(/^cvr_/.test(secret), `the secret shown is ${secret}`);
      await page.getByTestId('token-secret-note').filter({ hasText: 'you will not see it again' }).waitFor();
      const row = page.locator(`tr[data-token="${name}"]`);
      await row.waitFor();
      const prefix = (await row.locator('td').nth(2).textContent()).replace('…', '');
      assert(secret.startsWith(prefix), `prefix ${prefix} is not the start of the secret`);
      await shot(ctx, 'tokens-secret');
      // The secret works, with its scope...
      const asReader = await fetch(`${api}/session`, { headers: bearer(secret) }).then((r) => r.json());
      assert(asReader.scope === 'read' && asReader.name === name, `the new token is ${JSON.stringify(asReader)}`);
      // ...and is not shown again.
      await page.reload();
      await row.waitFor();
      assert((await page.getByTestId('token-secret').count()) === 0, 'the secret is shown again after a reload');
      const listed = await json(`${api}/tokens`);
      assert(!JSON.stringify(listed).includes(secret), 'GET /tokens answers the secret');

      // Signed in with the read token: admin actions are there but disabled, with the reason.
      await signOut(page);
      await signIn(ctx, secret);
      await page.locator('[data-testid="session-scope"][data-scope="read"]').waitFor();
      assert((await page.getByRole('link', { name: 'Tokens' }).count()) === 0, 'a read token is offered the Tokens page');
      await page.goto('/queues');
      const pause = page.locator('tr[data-queue="e2e"]').getByTestId('pause-queue');
      await pause.waitFor();
      assert(await pause.isDisabled(), 'Pause is enabled for a read token');
      const why = await pause.locator('xpath=..').getAttribute('title');
      assert(why === 'Needs the admin scope; your token has read', `the tooltip says ${why}`);
      assert((await page.getByTestId('nav-new-job').getAttribute('aria-disabled')) === 'true', 'New job is offered to a read token');
      await shot(ctx, 'read-scope-queues');
      // The api agrees: a read token's session may not pause a queue.
      const status = await page.evaluate(() => fetch('/api/v1/queues/e2e/pause', { method: 'POST' }).then((r) => r.status));
      assert(status === 403, `the api answered ${status} to a read token pausing a queue`);

      // Revoked elsewhere: the next call of the page gets 401 and the sign-in page shows.
      const id = (await json(`${api}/tokens`)).tokens.find((t) => t.name === name).id;
      await page.goto('/workers'); // polls every 3 s
      await page.getByTestId('worker').first().waitFor();
      const revoked = await fetch(`${api}/tokens/${id}`, { method: 'DELETE', headers: bearer() });
      assert(revoked.status === 204, `revoking answered ${revoked.status}`);
      await page.waitForURL(/\/login\?next=%2Fworkers/, { timeout: 15_000 });
      assert((await fetch(`${api}/session`, { headers: bearer(secret) })).status === 401, 'the revoked token still works');
      // Signed out, the live feed stays down rather than retrying in vain.
      const retries = [];
      const onSocket = (ws) => retries.push(ws.url());
      page.on('websocket', onSocket);
      await sleep(3_000);
      page.off('websocket', onSocket);
      assert(retries.length === 0, `${retries.length} live sockets opened while signed out`);

      // Back as admin: the revoked token is listed as such; another is revoked from the page.
      await signIn(ctx);
      await page.goto('/settings/tokens');
      await page.locator(`tr[data-token="${name}"] [data-testid="token-state"][data-state="revoked"]`).waitFor();
      const other = `e2e-ci-${tag()}`;
      await page.getByLabel('Name', { exact: true }).fill(other);
      await page.getByLabel('Scope', { exact: true }).selectOption('submit');
      await page.getByTestId('create-token').click();
      await page.getByTestId('token-secret').waitFor();
      await page.getByTestId('token-secret-dismiss').click();
      const otherRow = page.locator(`tr[data-token="${other}"]`);
      await otherRow.getByTestId('revoke-token').click();
      await page.getByTestId('confirm').click();
      await otherRow.locator('[data-testid="token-state"][data-state="revoked"]').waitFor();
      await shot(ctx, 'tokens');
    },
  },
  {
    name: 'a webhook made in the page gets a test delivery, signed, shown as succeeded in its log',
    async run(ctx) {
      const { page, api, receiver } = ctx;
      const path = `/hook-${tag()}`;
      const url = receiver.url(path);
      await page.goto('/webhooks');
      await page.getByTestId('new-webhook').click();
      await page.waitForURL(/\/webhooks\/new$/);
      // The page's checks first.
      await page.getByTestId('event-job.dead').uncheck();
      await page.getByTestId('submit-webhook').click();
      await page.getByTestId('error-url').waitFor();
      await page.getByTestId('error-events').filter({ hasText: 'choose at least one event' }).waitFor();
      await page.getByLabel('URL', { exact: true }).fill(url);
      await page.getByTestId('event-job.dead').check();
      await page.getByTestId('event-workflow_run.finished').check();
      await page.getByLabel('Queues').fill('e2e');
      await page.getByLabel('Description').fill('the e2e receiver');
      await shot(ctx, 'webhook-form');
      await page.getByTestId('submit-webhook').click();
      const secretField = page.getByTestId('webhook-secret');
      await secretField.waitFor();
      const secret = await secretField.inputValue();
      assert(/^whsec_/.test(secret), `the secret shown is ${secret}`);
      await page.getByTestId('webhook-secret-note').filter({ hasText: 'you will not see it again' }).waitFor();
      await shot(ctx, 'webhook-created');
      await page.getByTestId('open-webhook').click();
      await page.waitForURL(/\/webhooks\/[0-9a-f-]{36}$/);
      const id = page.url().split('/').pop();
      const stored = await json(`${api}/webhooks/${id}`);
      assert(stored.url === url && stored.queues.join() === 'e2e' && !JSON.stringify(stored).includes(secret), `stored ${JSON.stringify(stored)}`);

      await page.getByTestId('send-test').click();
      const ping = page.locator('[data-testid="delivery"][data-event="ping"]');
      await ping.first().waitFor();
      await page.locator('[data-testid="delivery"][data-event="ping"][data-status="succeeded"]').waitFor({ timeout: 20_000 });
      await ping.first().getByTestId('delivery-code').filter({ hasText: '200' }).waitFor();
      const got = await waitUntil('the receiver to get the ping', async () => receiver.requests.find((r) => r.path === path));
      assert(got.method === 'POST' && got.headers['conveyor-event'] === 'ping', `the receiver got ${got.method} ${JSON.stringify(got.headers)}`);
      assert(signatureValid(got, secret), `the signature ${got.headers['conveyor-signature']} does not check out with the secret shown`);
      await ping.first().getByTestId('toggle-payload').click();
      await page.getByTestId('delivery-payload').filter({ hasText: '"ping"' }).waitFor();
      await shot(ctx, 'webhook-deliveries');

      // The list shows it enabled, with the last delivery.
      await page.goto('/webhooks');
      const row = page.locator(`tr[data-webhook-id="${id}"]`);
      await row.locator('[data-testid="last-delivery"][data-status="succeeded"]').waitFor();
      assert((await row.getByTestId('webhook-enabled-switch').getAttribute('aria-checked')) === 'true', 'the webhook is not shown enabled');
      await shot(ctx, 'webhooks');
    },
  },
  {
    name: 'with AUTH_DISABLED the dashboard opens without signing in, and says so',
    signsIn: true,
    async run(ctx) {
      const { page, stack } = ctx;
      const open = await stack.startExtraApi('api-auth-disabled', { AUTH_DISABLED: '1' });
      try {
        await page.goto(`${open.baseUrl}/queues`);
        await page.getByTestId('auth-disabled').filter({ hasText: 'auth disabled' }).waitFor();
        assert(new URL(page.url()).pathname === '/queues', `went to ${page.url()}`);
        assert((await page.getByTestId('sign-out').count()) === 0, 'Sign out offered without access control');
        await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
        await shot(ctx, 'auth-disabled');
      } finally {
        await open.stop();
      }
    },
  },
  {
    name: 'every page renders (screenshots)',
    async run(ctx) {
      const { page, api } = ctx;
      // Some traffic for the charts and the running list.
      await post(`${api}/jobs/batch`, {
        jobs: [
          ...Array.from({ length: 12 }, (_, i) => ({ kind: 'noop', name: `e2e-noop-${i}` })),
          ...Array.from({ length: 3 }, (_, i) => ({ kind: 'sleep', name: `e2e-sleep-${i}`, payload: { ms: 20_000 }, priority: 7 })),
          { kind: 'sleep', name: 'e2e-later', payload: { ms: 10 }, delay_ms: 600_000 },
        ],
      });
      await sleep(1500);

      await page.goto('/');
      await page.locator('[data-testid="count-succeeded"] [data-value]').waitFor();
      await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
      await shot(ctx, 'overview');

      await page.goto('/jobs');
      await page.getByTestId('jobs-table').waitFor();
      await shot(ctx, 'jobs');

      await page.goto('/jobs?status=running');
      await page.locator('[data-testid="row-status"][data-status="running"]').first().waitFor();
      await shot(ctx, 'jobs-running');

      await page.goto('/workers');
      await waitUntil('two workers', async () => (await page.getByTestId('worker').count()) === 2);
      await page.getByTestId('running-jobs').first().waitFor();
      await shot(ctx, 'workers');

      await page.goto('/jobs/new');
      await fillArgv(page, ['sh', '-c', 'echo building $REPORT']);
      await page.getByRole('button', { name: 'Add variable' }).click();
      await page.getByLabel('Variable 1', { exact: true }).fill('REPORT');
      await page.getByLabel('Value 1', { exact: true }).fill('sales');
      await page.getByLabel('Name', { exact: true }).fill('nightly-report');
      await shot(ctx, 'new-job');

      await page.goto('/jobs?sort=priority');
      await page.getByTestId('jobs-table').waitFor();
      await shot(ctx, 'jobs-by-priority');

      await page.goto('/workflows');
      await page.getByTestId('workflows-table').waitFor();
      await shot(ctx, 'workflows');

      await page.goto('/definitions');
      await page.getByTestId('definitions-table').waitFor();
      await shot(ctx, 'definitions');

      // Cancel the long sleeps so the stack stops quickly.
      const running = await json(`${api}/jobs?kind=sleep&limit=50`);
      for (const j of running.jobs) if (['queued', 'running', 'scheduled'].includes(j.status)) await post(`${api}/jobs/${j.id}/cancel`, {});
    },
  },
];
