// Starts a private Conveyor stack for the end-to-end tests: one api and two
// workers from the repository's build, on a free port, with a fresh database
// and Redis prefix, and an admin token for the run (`conveyor-api token
// create`); and stops it again, dropping the database.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Binaries from target/<profile> (E2E_PROFILE: release by default, or debug).
 * Built with cargo when missing, or always with E2E_BUILD=1 (cargo then
 * rebuilds only what changed).
 */
export function ensureBinaries(root, log) {
  const profile = process.env.E2E_PROFILE || 'release';
  if (!['release', 'debug'].includes(profile)) throw new Error(`E2E_PROFILE must be release or debug, not ${profile}`);
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
  const dir = path.join(targetDir, profile);
  const api = path.join(dir, 'conveyor-api');
  const worker = path.join(dir, 'conveyor-worker');
  const missing = !existsSync(api) || !existsSync(worker);
  if (missing || process.env.E2E_BUILD === '1') {
    const args = ['build', ...(profile === 'release' ? ['--release'] : []), '-p', 'conveyor-api', '-p', 'conveyor-worker'];
    log(`cargo ${args.join(' ')}${missing ? ' (binaries missing)' : ''}`);
    const built = spawnSync('cargo', args, { cwd: root, stdio: 'inherit' });
    if (built.status !== 0) throw new Error(`cargo ${args.join(' ')} failed`);
  }
  return { api, worker };
}

/**
 * Whether docker jobs can run here: the engine of WORKER_DOCKER_BIN (default
 * podman) answers and has the base image (scripts/test makes both; for podman
 * it also names its containers.conf in CONTAINERS_CONF, and this falls back
 * to the file it writes). Returns the settings for the workers, or null.
 */
export function dockerSettings(root, log) {
  const bin = process.env.WORKER_DOCKER_BIN || 'podman';
  const conf = path.join(root, 'target', 'podman', 'containers.conf');
  // Set for this process too: the scenarios ask the engine what is left.
  if (bin.includes('podman') && !process.env.CONTAINERS_CONF && existsSync(conf)) process.env.CONTAINERS_CONF = conf;
  const env = { ...process.env };
  const version = spawnSync(bin, ['version', '--format', '{{.Server.Version}}'], { env, encoding: 'utf8' });
  const base = version.status === 0 && spawnSync('bash', [path.join(root, 'scripts', 'lib', 'base-image.sh')], { env, stdio: 'inherit' }).status === 0;
  if (!base) {
    log(`no container engine (${bin}): docker jobs cannot run here`);
    return null;
  }
  return {
    WORKER_ALLOW_DOCKER: '1',
    WORKER_DOCKER_BIN: bin,
    WORKER_DOCKER_PULL: 'never',
    ...(env.CONTAINERS_CONF ? { CONTAINERS_CONF: env.CONTAINERS_CONF } : {}),
  };
}

export async function startStack({ root, frontendDir, logDir, log }) {
  const bins = ensureBinaries(root, log);
  const docker = dockerSettings(root, log);
  const id = randomBytes(4).toString('hex');
  const port = await freePort();
  const database = `conveyor_e2e_${id}`;
  // The PostgreSQL server of DATABASE_URL (scripts/test sets it), with our
  // own database on it; or the local default.
  const server = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const urlFor = (db) => Object.assign(new URL(server), { pathname: `/${db}` }).toString();
  const env = {
    ...process.env,
    DATABASE_URL: urlFor(database),
    REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `e2e-${id}`,
    LISTEN_ADDR: `127.0.0.1:${port}`,
    FRONTEND_DIR: frontendDir,
    HOUSEKEEPING_INTERVAL_MS: '200',
    WORKER_ALLOW_SHELL: '1',
    WORKER_QUEUES: 'default,e2e',
    WORKER_CONCURRENCY: '4',
    WORKER_SHUTDOWN_GRACE_SECS: '2',
    // Two workers on one machine: an ephemeral metrics port each.
    WORKER_METRICS_ADDR: '127.0.0.1:0',
    // Webhook deliveries go out soon after they are queued.
    WEBHOOK_POLL_MS: '200',
    // The e2e webhook receiver listens on loopback, which outbound requests
    // (webhooks, http jobs) refuse unless it is allowed.
    OUTBOUND_ALLOW: '127.0.0.0/8,::1',
    LOG_FORMAT: 'text',
    NO_COLOR: '1',
    ...(docker ?? {}),
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  mkdirSync(logDir, { recursive: true });
  const children = [];

  const start = (name, bin, extra = {}) => {
    const out = createWriteStream(path.join(logDir, `${name}.log`));
    // Own process group, so stopping it also stops the shell jobs it runs.
    const child = spawn(bin, [], { env: { ...env, ...extra }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    children.push({ name, child });
    return child;
  };

  const stack = {
    baseUrl,
    database,
    redisPrefix: env.REDIS_PREFIX,
    /** The engine's CLI when the workers run docker jobs, else null. */
    dockerBin: docker?.WORKER_DOCKER_BIN ?? null,
    /** The secret of an admin token made for this run (set once the api is up). */
    token: null,
    /**
     * Another api on the same database with `extra` settings (AUTH_DISABLED=1
     * for the scenario that checks the dashboard without access control);
     * stopped with the stack, or earlier with the returned stop().
     */
    async startExtraApi(name, extra) {
      const extraPort = await freePort();
      const child = start(name, bins.api, { LISTEN_ADDR: `127.0.0.1:${extraPort}`, ...extra });
      const url = `http://127.0.0.1:${extraPort}`;
      await waitReady(child, url, name);
      return {
        baseUrl: url,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            try {
              process.kill(-child.pid, 'SIGTERM');
            } catch {
              /* already gone */
            }
          }
          await Promise.race([child.exited, sleep(10_000)]);
        },
      };
    },
    async stop() {
      for (const { child } of children) {
        if (child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            /* already gone */
          }
        }
      }
      const deadline = Date.now() + 15_000;
      for (const { name, child } of children) {
        const left = Math.max(0, deadline - Date.now());
        const done = await Promise.race([child.exited, sleep(left).then(() => null)]);
        if (done === null) {
          log(`${name} did not stop in time; killing it`);
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
          await child.exited;
        }
      }
      const drop = spawnSync('psql', [urlFor('postgres'), '-q', '-c', `drop database if exists ${database} with (force)`], { encoding: 'utf8' });
      if (drop.status !== 0) log(`could not drop database ${database}: ${drop.stderr || drop.error}`);
      // Best effort: the prefix's keys in Redis.
      const redisCli = spawnSync('sh', ['-c', `command -v redis-cli >/dev/null && redis-cli -u "$REDIS_URL" --scan --pattern '${env.REDIS_PREFIX}:*' | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null`], {
        env,
        encoding: 'utf8',
      });
      if (redisCli.status !== 0) log(`could not remove Redis keys ${env.REDIS_PREFIX}:*`);
    },
  };

  async function waitReady(child, url, name) {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited with status ${child.exitCode}; see ${path.join(logDir, `${name}.log`)}`);
      try {
        const res = await fetch(`${url}/readyz`);
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`${name} did not become ready within 120 s`);
      await sleep(250);
    }
  }

  try {
    const api = start('api', bins.api);
    log(`api on ${baseUrl} (database ${database}, Redis prefix ${env.REDIS_PREFIX})`);
    await waitReady(api, baseUrl, 'the api');
    // Access control is on: an admin token for the run, from the CLI (the
    // secret alone on stdout).
    const made = spawnSync(bins.api, ['token', 'create', '--scope', 'admin', '--name', 'e2e'], { env, encoding: 'utf8' });
    const secret = made.stdout?.trim();
    if (made.status !== 0 || !secret?.startsWith('cvr_')) {
      throw new Error(`conveyor-api token create failed (status ${made.status}): ${made.stderr || made.error}`);
    }
    stack.token = secret;
    log('made admin token "e2e"');
    const auth = { Authorization: `Bearer ${secret}` };
    // Workers start once the api has migrated the database.
    start('worker-1', bins.worker);
    start('worker-2', bins.worker);
    const workersBy = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${baseUrl}/api/v1/workers`, { headers: auth }).then((r) => r.json()).catch(() => null);
      if (res && res.workers?.length >= 2) break;
      for (const { name, child } of children) {
        if (child.exitCode !== null) throw new Error(`${name} exited with status ${child.exitCode}; see ${path.join(logDir, `${name}.log`)}`);
      }
      if (Date.now() > workersBy) throw new Error('two workers did not register within 60 s');
      await sleep(250);
    }
    log('2 workers registered');
    return stack;
  } catch (e) {
    await stack.stop();
    throw e;
  }
}
