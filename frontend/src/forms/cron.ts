// Cron expressions as the page knows them: the shape (the server's preview
// answers for the rest), shorthands and a few presets to start from.

export const SHORTHANDS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'] as const;

export const CRON_PRESETS: { label: string; cron: string }[] = [
  { label: 'Every minute', cron: '* * * * *' },
  { label: 'Every 15 minutes', cron: '*/15 * * * *' },
  { label: 'Hourly', cron: '0 * * * *' },
  { label: 'Daily at 02:30', cron: '30 2 * * *' },
  { label: 'Weekdays at 09:00', cron: '0 9 * * MON-FRI' },
  { label: 'Mondays at 06:00', cron: '0 6 * * MON' },
  { label: 'Monthly, 1st at 00:00', cron: '0 0 1 * *' },
];

/**
 * What the page can tell about an expression's shape: a known shorthand, or
 * 5 or 6 fields. Null when it looks right (the server's preview then has the
 * last word on each field).
 */
export function cronProblem(raw: string): string | null {
  const expr = raw.trim();
  if (!expr) return 'enter a cron expression, e.g. 30 2 * * * or @daily';
  if (expr.startsWith('@')) {
    return (SHORTHANDS as readonly string[]).includes(expr)
      ? null
      : `"${expr}" is not a valid cron expression: unknown shorthand; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly`;
  }
  const fields = expr.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `"${expr}" is not a valid cron expression: has ${fields.length} fields; expected 5 (minute hour day-of-month month day-of-week), 6 with seconds first, or a shorthand such as @hourly`;
  }
  const bad = fields.find((f) => !/^[0-9A-Za-z*?,/#-]+$/.test(f));
  return bad ? `"${expr}" is not a valid cron expression: "${bad}" has characters cron does not use` : null;
}

