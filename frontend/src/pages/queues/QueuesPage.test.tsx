import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, renderPage } from '../../test/render';
import { QueuesPage } from './QueuesPage';

const worker = { id: 'w1', host: 'h', pid: 1, queues: ['default:3', 'emails:high:1'], concurrency: 4, kinds: ['noop'], started_at: '2030-01-01T00:00:00Z', last_seen_at: '2030-01-01T00:00:00Z', running: [] };

afterEach(() => vi.unstubAllGlobals());

describe('QueuesPage', () => {
  it('pauses a queue and shows it paused', async () => {
    let paused = false;
    const { calls } = fakeApi({
      'GET /queues': () => ({ queues: [{ queue: 'default', scheduled: 1, queued: 2, running: 0, dead: 3, paused }] }),
      'GET /workers': { workers: [worker] },
      'POST /queues/default/pause': () => {
        paused = true;
        return { queue: 'default', paused };
      },
    });
    renderPage(<QueuesPage />);
    const row = (await screen.findByText('default')).closest('tr') as HTMLElement;
    await userEvent.click(within(row).getByTestId('pause-queue'));
    await waitFor(() => expect(within(row).getByTestId('queue-state')).toHaveTextContent('paused'));
    expect(calls).toContain('POST /queues/default/pause');
    // A queue only a worker serves is listed, named without its weight.
    expect(await screen.findByText('emails:high')).toBeInTheDocument();
  });

  it('says pausing is not available when the api does not report it, and offers no button', async () => {
    fakeApi({
      'GET /queues': { queues: [{ queue: 'default', scheduled: 0, queued: 1, running: 0, dead: 0 }] },
      'GET /workers': { workers: [] },
    });
    renderPage(<QueuesPage />);
    expect(await screen.findByTestId('unavailable')).toHaveTextContent('Pausing queues: not available on this server');
    expect(screen.queryByTestId('pause-queue')).not.toBeInTheDocument();
    expect(screen.getByText('default')).toBeInTheDocument();
  });
});
