import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApiToken } from '../../api/types';
import { fakeApi, renderPage } from '../../test/render';
import { TokensPage } from './TokensPage';

afterEach(() => vi.unstubAllGlobals());

const admin = { auth: 'cookie', name: 'root', scope: 'admin' } as const;
const token = (over: Partial<ApiToken>): ApiToken => ({
  id: 't1',
  name: 'ci',
  scope: 'submit',
  prefix: 'cvr_ab12',
  created_at: '2030-01-01T00:00:00Z',
  last_used_at: null,
  revoked_at: null,
  ...over,
});

describe('TokensPage', () => {
  it('creates a token and shows its secret once, with the warning', async () => {
    const tokens = [token({ id: 't1', name: 'ci', last_used_at: '2030-01-02T00:00:00Z' }), token({ id: 't0', name: 'old', scope: 'read', revoked_at: '2030-01-03T00:00:00Z' })];
    const sent: unknown[] = [];
    const { calls } = fakeApi({
      'GET /tokens': () => ({ tokens }),
      'POST /tokens': (body: unknown) => {
        sent.push(body);
        const created = token({ id: 't2', name: 'deploy-bot', scope: 'admin', prefix: 'cvr_9f3e' });
        tokens.unshift(created);
        return [201, { token: created, secret: 'cvr_9f3e_the_whole_secret' }];
      },
    });
    const user = userEvent.setup();
    renderPage(<TokensPage />, '/settings/tokens', admin);

    const old = (await screen.findByText('old')).closest('tr') as HTMLElement;
    expect(within(old).getByTestId('token-state')).toHaveAttribute('data-state', 'revoked');
    expect(within(old).queryByTestId('revoke-token')).not.toBeInTheDocument();
    const ci = screen.getByText('ci').closest('tr') as HTMLElement;
    expect(within(ci).getByText('cvr_ab12…')).toBeInTheDocument();

    // The page's checks first.
    await user.click(screen.getByTestId('create-token'));
    expect(screen.getByTestId('error-name')).toHaveTextContent('is required');
    expect(calls).not.toContain('POST /tokens');

    await user.type(screen.getByLabelText('Name'), 'deploy-bot');
    await user.selectOptions(screen.getByLabelText('Scope'), 'admin');
    await user.click(screen.getByTestId('create-token'));
    expect(await screen.findByTestId('token-secret')).toHaveValue('cvr_9f3e_the_whole_secret');
    expect(screen.getByTestId('token-secret-note')).toHaveTextContent('you will not see it again');
    expect(sent).toEqual([{ name: 'deploy-bot', scope: 'admin' }]);
    await waitFor(() => expect(screen.getByText('deploy-bot').closest('tr')).toHaveAttribute('data-token-id', 't2'));
    // The form is ready for another; the secret goes once dismissed.
    expect(screen.getByLabelText('Name')).toHaveValue('');
    await user.click(screen.getByTestId('token-secret-dismiss'));
    expect(screen.queryByTestId('token-secret')).not.toBeInTheDocument();
  });

  it('revokes a token after asking', async () => {
    let revoked: string | null = null;
    const { calls } = fakeApi({
      'GET /tokens': () => ({ tokens: [token({ revoked_at: revoked })] }),
      'DELETE /tokens/t1': () => {
        revoked = '2030-01-05T00:00:00Z';
        return [204, null];
      },
    });
    const user = userEvent.setup();
    renderPage(<TokensPage />, '/settings/tokens', admin);
    await user.click(await screen.findByTestId('revoke-token'));
    expect(calls).not.toContain('DELETE /tokens/t1');
    await user.click(screen.getByTestId('confirm'));
    await waitFor(() => expect(screen.getByTestId('token-state')).toHaveAttribute('data-state', 'revoked'));
    expect(calls).toContain('DELETE /tokens/t1');
    expect(await screen.findByTestId('toast')).toHaveTextContent('Token ci revoked');
  });

  it('tells a token without admin scope that it cannot manage tokens, without asking the api', async () => {
    const { calls } = fakeApi({});
    renderPage(<TokensPage />, '/settings/tokens', { auth: 'cookie', name: 'viewer', scope: 'read' });
    expect(await screen.findByTestId('unavailable')).toHaveTextContent('Needs the admin scope; your token has read');
    expect(calls).toEqual([]);
  });
});
