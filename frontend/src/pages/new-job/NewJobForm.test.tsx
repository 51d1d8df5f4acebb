import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../api/client';
import type { Job, JobSpec } from '../../api/types';
import { NewJobForm } from './NewJobForm';

function setup(onSubmit = vi.fn<(spec: JobSpec) => Promise<Job>>()) {
  const onCreated = vi.fn();
  const user = userEvent.setup();
  render(<NewJobForm onSubmit={onSubmit} onCreated={onCreated} />);
  return { user, onSubmit, onCreated };
}

describe('NewJobForm', () => {
  it('shows errors next to the fields and does not submit an invalid job', async () => {
    const { user, onSubmit } = setup();
    await user.clear(screen.getByLabelText('Priority'));
    await user.type(screen.getByLabelText('Priority'), '12');
    await user.click(screen.getByTestId('submit-job'));

    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByTestId('error-payload.argv')).toHaveTextContent('shell needs argv');
    expect(screen.getByTestId('error-priority')).toHaveTextContent('must be an integer from 0 to 9');
    expect(screen.getByLabelText('Priority')).toHaveAttribute('aria-invalid', 'true');
  });

  it('clears an error as soon as the field becomes valid', async () => {
    const { user } = setup();
    await user.click(screen.getByTestId('submit-job'));
    expect(screen.getByTestId('error-payload.argv')).toBeInTheDocument();
    await user.type(screen.getByLabelText('Argument 0'), 'true');
    expect(screen.queryByTestId('error-payload.argv')).not.toBeInTheDocument();
  });

  it('submits the spec built from the kind-specific fields', async () => {
    const onSubmit = vi.fn<(spec: JobSpec) => Promise<Job>>().mockResolvedValue({ id: 'j1' } as Job);
    const { user, onCreated } = setup(onSubmit);
    await user.type(screen.getByLabelText('Argument 0'), 'sh');
    await user.click(screen.getByText('Add argument'));
    await user.type(screen.getByLabelText('Argument 1'), '-c');
    await user.click(screen.getByText('Add argument'));
    await user.type(screen.getByLabelText('Argument 2'), 'echo hi');
    await user.type(screen.getByLabelText('Name'), 'greeting');
    await user.click(screen.getByTestId('when-delay'));
    await user.type(screen.getByLabelText('Delay'), '5');
    await user.click(screen.getByTestId('submit-job'));

    await waitFor(() => expect(onCreated).toHaveBeenCalledWith({ id: 'j1' }));
    expect(onSubmit).toHaveBeenCalledWith({ kind: 'shell', name: 'greeting', payload: { argv: ['sh', '-c', 'echo hi'] }, delay_ms: 5000 });
  });

  it('shows a server 422 next to the field it names', async () => {
    const onSubmit = vi
      .fn<(spec: JobSpec) => Promise<Job>>()
      .mockRejectedValue(new ApiError(422, 'validation_failed', 'kind: unknown kind "greet": expected one of noop, sleep, shell, http', { field: 'kind' }));
    const { user } = setup(onSubmit);
    await user.click(screen.getByTestId('kind-custom'));
    await user.type(screen.getByLabelText('Kind'), 'greet');
    await user.click(screen.getByTestId('submit-job'));

    expect(await screen.findByTestId('error-kind')).toHaveTextContent('unknown kind "greet"');
    expect(screen.getByTestId('form-error')).toHaveTextContent('The server rejected the job');
    // Editing the field dismisses the server's complaint about it.
    await user.type(screen.getByLabelText('Kind'), 'x');
    expect(screen.queryByTestId('error-kind')).not.toBeInTheDocument();
  });

  it('maps a nested server field such as payload.url to its input', async () => {
    const onSubmit = vi
      .fn<(spec: JobSpec) => Promise<Job>>()
      .mockRejectedValue(new ApiError(422, 'validation_failed', 'payload.url: host not allowed', { field: 'payload.url' }));
    const { user } = setup(onSubmit);
    await user.click(screen.getByTestId('kind-http'));
    await user.type(screen.getByLabelText('URL'), 'https://example.com');
    await user.click(screen.getByTestId('submit-job'));
    expect(await screen.findByTestId('error-payload.url')).toHaveTextContent('host not allowed');
  });
});
