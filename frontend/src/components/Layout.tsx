import clsx from 'clsx';
import { NavLink, Outlet, useLocation } from 'react-router';
import {
  Activity,
  BookMarked,
  BookOpen,
  CalendarClock,
  Cpu,
  KeyRound,
  LayoutDashboard,
  ListChecks,
  Plus,
  Skull,
  Waypoints,
  Layers,
  Webhook,
} from 'lucide-react';
import type { ComponentType } from 'react';
import { useStats } from '../api/queries';
import type { Scope } from '../api/types';
import { useSession } from '../auth/session';
import { allows } from '../auth/scopes';
import { formatCount } from '../lib/format';
import { ConnectionIndicator } from './ConnectionIndicator';
import { SessionBar } from './SessionBar';
import { GatedLink } from './ui';

interface NavItem {
  to: string;
  label: string;
  icon: ComponentType<{ className?: string }>;
  end?: boolean;
  /** Other address prefixes that belong to this item (a run belongs to Workflows). */
  also?: string[];
  badge?: 'dead';
  /** Shown only to sessions of this scope (the page has nothing for others). */
  need?: Scope;
}

const NAV: { section: string; items: NavItem[] }[] = [
  {
    section: 'Monitor',
    items: [
      { to: '/', label: 'Overview', icon: LayoutDashboard, end: true },
      { to: '/jobs', label: 'Jobs', icon: ListChecks, end: true },
      { to: '/dead', label: 'Dead letters', icon: Skull, badge: 'dead' },
      { to: '/queues', label: 'Queues', icon: Layers },
      { to: '/workers', label: 'Workers', icon: Cpu },
    ],
  },
  {
    section: 'Automate',
    items: [
      { to: '/schedules', label: 'Schedules', icon: CalendarClock },
      { to: '/workflows', label: 'Workflows', icon: Waypoints, also: ['/workflow-runs/'] },
      { to: '/definitions', label: 'Definitions', icon: BookMarked },
      { to: '/webhooks', label: 'Webhooks', icon: Webhook },
    ],
  },
  {
    section: 'Settings',
    items: [{ to: '/settings/tokens', label: 'Tokens', icon: KeyRound, need: 'admin' }],
  },
];

function DeadCount() {
  const stats = useStats();
  const dead = stats.data?.counts['dead'] ?? 0;
  if (!dead) return null;
  return (
    <span data-testid="nav-dead-count" className="ml-auto rounded-full bg-rose-100 px-1.5 py-0.5 text-[0.7rem] font-semibold text-rose-700 tabular-nums">
      {formatCount(dead)}
    </span>
  );
}

export function Layout() {
  const { pathname } = useLocation();
  const session = useSession();
  const nav = NAV.map((group) => ({ ...group, items: group.items.filter((item) => !item.need || allows(session?.scope, item.need)) })).filter((group) => group.items.length > 0);
  return (
    <div className="flex min-h-screen bg-slate-50 text-slate-900">
      {/* The column stretches with the page; its content stays in view. */}
      <aside className="w-60 shrink-0 border-r border-slate-200 bg-white">
        <div className="sticky top-0 flex h-screen flex-col">
        <div className="flex h-16 items-center gap-2.5 border-b border-slate-100 px-5">
          <div className="flex size-8 items-center justify-center rounded-lg bg-indigo-600 text-white shadow-sm">
            <Activity className="size-4.5" aria-hidden />
          </div>
          <div>
            <p className="text-sm font-semibold leading-tight">Conveyor</p>
            <p className="text-[0.7rem] leading-tight text-slate-500">Job scheduler</p>
          </div>
        </div>
        <div className="px-3 pt-4">
          <GatedLink
            need="submit"
            wrapperClassName="flex w-full"
            to="/jobs/new"
            data-testid="nav-new-job"
            className="flex w-full items-center justify-center gap-1.5 rounded-md bg-indigo-600 px-3 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500"
          >
            <Plus className="size-4" aria-hidden /> New job
          </GatedLink>
        </div>
        <nav className="flex-1 overflow-y-auto px-3 py-4" aria-label="Main">
          {nav.map((group) => (
            <div key={group.section} className="mb-5">
              <p className="mb-1.5 px-2 text-[0.7rem] font-semibold uppercase tracking-wider text-slate-400">{group.section}</p>
              <ul className="space-y-0.5">
                {group.items.map((item) => (
                  <li key={item.to}>
                    <NavLink
                      to={item.to}
                      end={item.end ?? false}
                      className={({ isActive }) =>
                        clsx(
                          'flex items-center gap-2.5 rounded-md px-2 py-1.5 text-sm font-medium',
                          isActive || item.also?.some((p) => pathname.startsWith(p))
                            ? 'bg-indigo-50 text-indigo-700'
                            : 'text-slate-600 hover:bg-slate-50 hover:text-slate-900',
                        )
                      }
                    >
                      <item.icon className="size-4 shrink-0 opacity-80" />
                      {item.label}
                      {item.badge === 'dead' && <DeadCount />}
                    </NavLink>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </nav>
        <div className="space-y-2 border-t border-slate-100 p-3">
          <ConnectionIndicator />
          <a href="/docs" className="flex items-center gap-2 rounded-md px-2 py-1.5 text-xs font-medium text-slate-500 hover:bg-slate-50 hover:text-slate-800">
            <BookOpen className="size-3.5" aria-hidden /> API docs
          </a>
        </div>
        </div>
      </aside>
      <main className="min-w-0 flex-1">
        <header className="border-b border-slate-200 bg-white/80">
          <div className="mx-auto flex h-12 max-w-7xl items-center px-8">
            <div className="flex-1" />
            <SessionBar />
          </div>
        </header>
        <div className="mx-auto max-w-7xl px-8 py-8">
          <Outlet />
        </div>
      </main>
    </div>
  );
}
