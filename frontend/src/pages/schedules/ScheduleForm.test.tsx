import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from '../../api/endpoints';
import type { PreviewRequest } from '../../api/types';
import { fakeApi, renderPage } from '../../test/render';
import { ScheduleForm } from './ScheduleForm';
import { emptyScheduleForm } from './scheduleForm';

afterEach(() => vi.unstubAllGlobals());

function preview(body: unknown) {
  const request = body as PreviewRequest;
  if (request.cron?.startsWith('61')) {
    return [422, { error: { code: 'validation_failed', message: 'cron: "61 * * * *" is not a valid cron expression: the minute field "61" is not valid', details: { field: 'cron' } } }];
  }
  return {
    timezone: request.timezone,
    fires: [
      { local: '2030-01-07T09:00:00-05:00', utc: '2030-01-07T14:00:00Z' },
      { local: '2030-01-08T09:00:00-05:00', utc: '2030-01-08T14:00:00Z' },
    ],
  };
}

describe('ScheduleForm', () => {
  it('shows the next fire times as you type, and the server’s 422 next to the field', async () => {
    const { calls } = fakeApi({ 'POST /schedules/preview': preview });
    const user = userEvent.setup();
    renderPage(<ScheduleForm initial={emptyScheduleForm('America/New_York')} editing={false} onSubmit={api.createSchedule} onSaved={() => {}} />);

    await user.type(screen.getByLabelText('Cron expression'), '61 * * * *');
    expect(await screen.findByTestId('error-cron')).toHaveTextContent('the minute field "61" is not valid');

    await user.clear(screen.getByLabelText('Cron expression'));
    await user.type(screen.getByLabelText('Cron expression'), '0 9 * * MON-FRI');
    await waitFor(() => expect(screen.getAllByTestId('preview-fire')).toHaveLength(2));
    expect(screen.getAllByTestId('preview-fire')[0]).toHaveTextContent('09:00:00');
    expect(screen.getAllByTestId('preview-fire')[0]).toHaveTextContent('2030-01-07 14:00:00 UTC');
    expect(screen.queryByTestId('error-cron')).not.toBeInTheDocument();
    // Debounced: far fewer requests than keystrokes.
    expect(calls.filter((c) => c === 'POST /schedules/preview').length).toBeLessThan(6);
  });

  it('checks the form before sending and names the job’s fields under target.job', async () => {
    fakeApi({ 'POST /schedules/preview': preview });
    const onSubmit = vi.fn();
    const user = userEvent.setup();
    renderPage(<ScheduleForm initial={emptyScheduleForm('UTC')} editing={false} onSubmit={onSubmit} onSaved={() => {}} />);
    await user.click(screen.getByTestId('submit-schedule'));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByTestId('error-name')).toHaveTextContent('must be 1-200 characters');
    expect(screen.getByTestId('error-cron')).toHaveTextContent('enter a cron expression');
    expect(screen.getByTestId('error-target.job.payload.argv')).toHaveTextContent('shell needs argv');
  });
});
