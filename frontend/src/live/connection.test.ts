import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, LiveConnection, liveUrl } from './connection';

class FakeSocket {
  onmessage: ((m: { data: unknown }) => void) | null = null;
  onclose: ((e: { reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  close() {
    this.closed = true;
  }
  receive(message: object) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop() {
    this.onclose?.({ reason: '' });
  }
}

describe('backoffDelay', () => {
  it('doubles from half a second to a 30 s ceiling, with jitter in the upper half', () => {
    expect(backoffDelay(1, () => 0)).toBe(250);
    expect(backoffDelay(1, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 1)).toBe(2000);
    expect(backoffDelay(20, () => 1)).toBe(30_000);
    expect(backoffDelay(20, () => 0)).toBe(15_000);
  });
});

describe('liveUrl', () => {
  it('uses wss behind https', () => {
    expect(liveUrl({ protocol: 'https:', host: 'ops.example.com' })).toBe('wss://ops.example.com/api/v1/ws');
    expect(liveUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api/v1/ws');
  });
});

describe('LiveConnection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function connect() {
    const sockets: FakeSocket[] = [];
    const onEvents = vi.fn();
    const onGap = vi.fn();
    const connection = new LiveConnection('ws://x/api/v1/ws', { onEvents, onGap }, () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket as unknown as WebSocket;
    });
    connection.start();
    return { connection, sockets, onEvents, onGap };
  }

  it('goes live on "subscribed" and passes job events on without their type', () => {
    const { connection, sockets, onEvents, onGap } = connect();
    expect(connection.getState().kind).toBe('connecting');
    sockets[0]?.receive({ type: 'subscribed', all: true, queues: [], jobs: [] });
    expect(connection.getState().kind).toBe('live');
    expect(onGap).toHaveBeenCalledWith('connected');
    sockets[0]?.receive({ type: 'job', job_id: 'j', status: 'running', attempt: 1 });
    expect(onEvents).toHaveBeenCalledWith([{ job_id: 'j', status: 'running', attempt: 1 }]);
    connection.stop();
  });

  it('reconnects after a drop with backoff and reports the gap', () => {
    const { connection, sockets, onGap } = connect();
    sockets[0]?.receive({ type: 'subscribed' });
    sockets[0]?.drop();
    expect(connection.getState().kind).toBe('reconnecting');
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(2);
    sockets[1]?.drop();
    vi.advanceTimersByTime(499);
    expect(sockets).toHaveLength(2); // the second wait is at least 500 ms
    vi.advanceTimersByTime(501);
    expect(sockets).toHaveLength(3);
    sockets[2]?.receive({ type: 'subscribed' });
    expect(onGap).toHaveBeenLastCalledWith('reconnected');
    expect(connection.getState().kind).toBe('live');
    connection.stop();
  });

  it('asks for a re-read on resync', () => {
    const { connection, sockets, onGap } = connect();
    sockets[0]?.receive({ type: 'subscribed' });
    sockets[0]?.receive({ type: 'resync', missed: 9000 });
    expect(onGap).toHaveBeenLastCalledWith('resync');
    connection.stop();
  });

  it('stops reconnecting once stopped', () => {
    const { connection, sockets } = connect();
    connection.stop();
    sockets[0]?.drop();
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.closed).toBe(true);
  });

  describe('when the api refuses the socket', () => {
    function connectChecked(stillSignedIn: () => Promise<boolean>) {
      const sockets: FakeSocket[] = [];
      const onGap = vi.fn();
      const check = vi.fn(stillSignedIn);
      const connection = new LiveConnection('ws://x/api/v1/ws', { onEvents: vi.fn(), onGap, stillSignedIn: check }, () => {
        const socket = new FakeSocket();
        sockets.push(socket);
        return socket as unknown as WebSocket;
      });
      connection.start();
      return { connection, sockets, check, onGap };
    }

    it('asks whether the session is gone, and if so waits for start() instead of hammering', async () => {
      const { connection, sockets, check } = connectChecked(async () => false);
      sockets[0]?.drop(); // a 401 on the upgrade looks like this to a browser
      await vi.advanceTimersByTimeAsync(0);
      expect(check).toHaveBeenCalledTimes(1);
      expect(connection.getState().kind).toBe('signed-out');
      await vi.advanceTimersByTimeAsync(120_000);
      expect(sockets).toHaveLength(1);
      connection.reconnectNow(); // nor does the browser coming online
      expect(sockets).toHaveLength(1);
      // After sign-in the provider stops and starts it: it connects at once.
      connection.stop();
      connection.start();
      expect(sockets).toHaveLength(2);
      expect(connection.getState()).toEqual({ kind: 'connecting', attempt: 1 });
      connection.stop();
    });

    it('reconnects with backoff when still signed in (the api was down)', async () => {
      const { connection, sockets, check } = connectChecked(async () => true);
      sockets[0]?.drop();
      await vi.advanceTimersByTimeAsync(0);
      expect(connection.getState().kind).toBe('reconnecting');
      await vi.advanceTimersByTimeAsync(500);
      expect(sockets).toHaveLength(2);
      expect(check).toHaveBeenCalledTimes(1);
      connection.stop();
    });

    it('reconnects when the session cannot be asked about either', async () => {
      const { connection, sockets } = connectChecked(async () => {
        throw new Error('network');
      });
      sockets[0]?.drop();
      await vi.advanceTimersByTimeAsync(500);
      expect(sockets).toHaveLength(2);
      connection.stop();
    });

    it('does not ask when a live socket drops; reconnects first', async () => {
      const { connection, sockets, check } = connectChecked(async () => false);
      sockets[0]?.receive({ type: 'subscribed' });
      sockets[0]?.drop();
      expect(connection.getState().kind).toBe('reconnecting');
      expect(check).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(500);
      expect(sockets).toHaveLength(2);
      // The reconnect is refused: now it asks, and stops.
      sockets[1]?.drop();
      await vi.advanceTimersByTimeAsync(0);
      expect(check).toHaveBeenCalledTimes(1);
      expect(connection.getState().kind).toBe('signed-out');
      connection.stop();
    });

    it('ignores an answer that arrives after stop()', async () => {
      let answer: (v: boolean) => void = () => {};
      const { connection, sockets } = connectChecked(() => new Promise<boolean>((r) => (answer = r)));
      sockets[0]?.drop();
      connection.stop();
      answer(true);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(sockets).toHaveLength(1);
    });
  });
});
