// The live feed: one WebSocket to /api/v1/ws that reconnects by itself with
// exponential backoff and jitter. It knows nothing about React or the query
// cache; LiveProvider wires its callbacks to them.

import type { LiveMessage, StatusEvent } from '../api/types';

export type LiveState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'live'; since: number }
  | { kind: 'reconnecting'; attempt: number; retryAt: number; reason: string }
  /** The api refused the socket and the session is gone: waits for start() after sign-in. */
  | { kind: 'signed-out' };

export interface LiveCallbacks {
  onEvents: (events: StatusEvent[]) => void;
  /** Events may have been missed: before the first subscription was active
   *  ('connected'), while the socket was down ('reconnected'), or because this
   *  client fell behind ('resync'). What was read before must be re-read. */
  onGap: (reason: 'connected' | 'reconnected' | 'resync') => void;
  /**
   * Asked when a socket closes before it was subscribed (a browser cannot see
   * the 401 of a refused upgrade): resolves false when this browser is no
   * longer signed in. The connection then waits for start() instead of
   * reconnecting; true (or a failure to ask) reconnects with backoff.
   */
  stillSignedIn?: () => Promise<boolean>;
}

/** Delay before reconnect attempt `failures` (1-based): 0.5 s doubling to a
 *  30 s ceiling, then drawn from [half, all] of that to spread clients out. */
export function backoffDelay(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(30_000, 500 * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function liveUrl(location: Pick<Location, 'protocol' | 'host'>): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/ws`;
}

/** Connects on start(), keeps reconnecting until stop(). */
export class LiveConnection {
  private socket: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private everLive = false;
  private stopped = true;
  /** Bumped by start() and stop(): an answer of stillSignedIn from before is ignored. */
  private epoch = 0;
  private state: LiveState = { kind: 'connecting', attempt: 1 };
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly url: string,
    private readonly callbacks: LiveCallbacks,
    private readonly makeSocket: (url: string) => WebSocket = (u) => new WebSocket(u),
  ) {}

  getState = (): LiveState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.epoch += 1;
    this.failures = 0;
    window.addEventListener('online', this.reconnectNow);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.epoch += 1;
    window.removeEventListener('online', this.reconnectNow);
    this.clearTimer();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
  }

  /** Skip the remaining backoff (the "retry now" button, the browser coming online). */
  reconnectNow = (): void => {
    if (this.stopped || this.state.kind === 'live' || this.state.kind === 'connecting' || this.state.kind === 'signed-out') return;
    this.clearTimer();
    this.connect();
  };

  private setState(state: LiveState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private connect(): void {
    this.setState({ kind: 'connecting', attempt: this.failures + 1 });
    let socket: WebSocket;
    try {
      socket = this.makeSocket(this.url);
    } catch {
      this.scheduleReconnect('could not open the socket');
      return;
    }
    this.socket = socket;
    socket.onmessage = (message) => this.handle(message.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      const wasLive = this.state.kind === 'live';
      const reason = event.reason || (wasLive ? 'connection lost' : 'cannot connect');
      const check = this.callbacks.stillSignedIn;
      if (wasLive || !check) {
        this.scheduleReconnect(reason);
        return;
      }
      // Refused before it was subscribed: perhaps a 401. Ask before trying again.
      const epoch = this.epoch;
      void check()
        .catch(() => true)
        .then((signedIn) => {
          if (this.stopped || epoch !== this.epoch || this.socket) return;
          if (signedIn) this.scheduleReconnect(reason);
          else this.setState({ kind: 'signed-out' });
        });
    };
    // Errors are always followed by close; the close handler reconnects.
    socket.onerror = () => {};
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    this.failures += 1;
    const delay = backoffDelay(this.failures);
    this.setState({ kind: 'reconnecting', attempt: this.failures, retryAt: Date.now() + delay, reason });
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private handle(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: LiveMessage;
    try {
      message = JSON.parse(data) as LiveMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case 'subscribed': {
        const wasReconnect = this.everLive;
        this.everLive = true;
        this.failures = 0;
        this.setState({ kind: 'live', since: Date.now() });
        this.callbacks.onGap(wasReconnect ? 'reconnected' : 'connected');
        break;
      }
      case 'job': {
        const { type: _type, ...event } = message;
        this.callbacks.onEvents([event]);
        break;
      }
      case 'resync':
        this.callbacks.onGap('resync');
        break;
      case 'error':
        console.warn('live feed:', message.message);
        break;
    }
  }
}
