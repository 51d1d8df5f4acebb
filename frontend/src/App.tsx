import type { ComponentType } from 'react';
import { QueryClientProvider } from '@tanstack/react-query';
import { createBrowserRouter, RouterProvider, type RouteObject } from 'react-router';
import { makeQueryClient } from './api/queryClient';
import { installAuth, RequireSession } from './auth/session';
import { Layout } from './components/Layout';
import { LiveProvider } from './live/LiveProvider';
import { ToastProvider } from './components/toast';
import { NotFoundPage } from './pages/NotFoundPage';

// One chunk per page: the charts and the graph library load only
// where they are used. react-router's `lazy` loads the chunk before rendering.
const page = (load: () => Promise<{ Component: ComponentType }>) => ({ lazy: load });
const overview = page(() => import('./pages/overview/OverviewPage').then((m) => ({ Component: m.OverviewPage })));
const jobs = page(() => import('./pages/jobs/JobsPage').then((m) => ({ Component: m.JobsPage })));
const newJob = page(() => import('./pages/new-job/NewJobPage').then((m) => ({ Component: m.NewJobPage })));
const jobDetail = page(() => import('./pages/job/JobDetailPage').then((m) => ({ Component: m.JobDetailPage })));
const dead = page(() => import('./pages/dead/DeadLettersPage').then((m) => ({ Component: m.DeadLettersPage })));
const queues = page(() => import('./pages/queues/QueuesPage').then((m) => ({ Component: m.QueuesPage })));
const workers = page(() => import('./pages/workers/WorkersPage').then((m) => ({ Component: m.WorkersPage })));
const schedules = page(() => import('./pages/schedules/SchedulesPage').then((m) => ({ Component: m.SchedulesPage })));
const newSchedule = page(() => import('./pages/schedules/ScheduleFormPage').then((m) => ({ Component: m.NewSchedulePage })));
const editSchedule = page(() => import('./pages/schedules/ScheduleFormPage').then((m) => ({ Component: m.EditSchedulePage })));
const schedule = page(() => import('./pages/schedules/ScheduleDetailPage').then((m) => ({ Component: m.ScheduleDetailPage })));
const workflows = page(() => import('./pages/workflows/WorkflowsPage').then((m) => ({ Component: m.WorkflowsPage })));
const newWorkflow = page(() => import('./pages/workflows/NewWorkflowPage').then((m) => ({ Component: m.NewWorkflowPage })));
const workflow = page(() => import('./pages/workflows/WorkflowDetailPage').then((m) => ({ Component: m.WorkflowDetailPage })));
const run = page(() => import('./pages/workflows/RunPage').then((m) => ({ Component: m.RunPage })));
const definitions = page(() => import('./pages/definitions/DefinitionsPage').then((m) => ({ Component: m.DefinitionsPage })));
const newDefinition = page(() => import('./pages/definitions/DefinitionFormPage').then((m) => ({ Component: m.NewDefinitionPage })));
const editDefinition = page(() => import('./pages/definitions/DefinitionFormPage').then((m) => ({ Component: m.EditDefinitionPage })));
const login = page(() => import('./pages/login/LoginPage').then((m) => ({ Component: m.LoginPage })));
const tokens = page(() => import('./pages/tokens/TokensPage').then((m) => ({ Component: m.TokensPage })));
const webhooks = page(() => import('./pages/webhooks/WebhooksPage').then((m) => ({ Component: m.WebhooksPage })));
const newWebhook = page(() => import('./pages/webhooks/WebhookFormPage').then((m) => ({ Component: m.NewWebhookPage })));
const editWebhook = page(() => import('./pages/webhooks/WebhookFormPage').then((m) => ({ Component: m.EditWebhookPage })));
const webhook = page(() => import('./pages/webhooks/WebhookDetailPage').then((m) => ({ Component: m.WebhookDetailPage })));

const fallback = <div className="min-h-screen bg-slate-50" />;

export const routes: RouteObject[] = [
  { path: 'login', ...login, hydrateFallbackElement: fallback },
  {
    // Everything else needs a session (or an api with auth disabled).
    element: <RequireSession />,
    // Shown while the first page's chunk loads.
    hydrateFallbackElement: fallback,
    children: [
      {
        element: <Layout />,
        children: [
          { index: true, ...overview },
          { path: 'jobs', ...jobs },
          { path: 'jobs/new', ...newJob },
          { path: 'jobs/:id', ...jobDetail },
          { path: 'dead', ...dead },
          { path: 'queues', ...queues },
          { path: 'workers', ...workers },
          { path: 'schedules', ...schedules },
          { path: 'schedules/new', ...newSchedule },
          { path: 'schedules/:id', ...schedule },
          { path: 'schedules/:id/edit', ...editSchedule },
          { path: 'workflows', ...workflows },
          { path: 'workflows/new', ...newWorkflow },
          { path: 'workflows/:id', ...workflow },
          { path: 'workflow-runs/:id', ...run },
          { path: 'definitions', ...definitions },
          { path: 'definitions/new', ...newDefinition },
          { path: 'definitions/:name', ...editDefinition },
          { path: 'webhooks', ...webhooks },
          { path: 'webhooks/new', ...newWebhook },
          { path: 'webhooks/:id', ...webhook },
          { path: 'webhooks/:id/edit', ...editWebhook },
          { path: 'settings/tokens', ...tokens },
          { path: '*', element: <NotFoundPage /> },
        ],
      },
    ],
  },
];

const router = createBrowserRouter(routes);

const queryClient = makeQueryClient();
installAuth(queryClient);

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <LiveProvider>
        <ToastProvider>
          <RouterProvider router={router} />
        </ToastProvider>
      </LiveProvider>
    </QueryClientProvider>
  );
}
