import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { MinuteCount } from '../../api/types';
import { STATUS_TONE } from '../../components/status';

const minuteLabel = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

export interface MinutePoint {
  label: string;
  succeeded: number;
  dead: number;
  cancelled: number;
  /** dead / (succeeded + dead), in percent; null in a minute with neither. */
  failureRate: number | null;
}

export function toPoints(minutes: readonly MinuteCount[]): MinutePoint[] {
  return minutes.map((m) => {
    const finished = m.succeeded + m.dead;
    return {
      label: minuteLabel.format(new Date(m.minute)),
      succeeded: m.succeeded,
      dead: m.dead,
      cancelled: m.cancelled,
      failureRate: finished ? Math.round((m.dead / finished) * 1000) / 10 : null,
    };
  });
}

const axis = { fontSize: 11, fill: '#64748b' };
const tooltipStyle = { borderRadius: 8, border: '1px solid #e2e8f0', fontSize: 12, boxShadow: '0 4px 12px rgb(15 23 42 / 0.08)' };

export function ThroughputChart({ points }: { points: MinutePoint[] }) {
  return (
    <ResponsiveContainer width="100%" height={240}>
      <BarChart data={points} margin={{ top: 8, right: 8, left: -16, bottom: 0 }} barCategoryGap={2}>
        <CartesianGrid vertical={false} stroke="#f1f5f9" />
        <XAxis dataKey="label" tick={axis} tickLine={false} axisLine={{ stroke: '#e2e8f0' }} interval={9} />
        <YAxis tick={axis} tickLine={false} axisLine={false} allowDecimals={false} />
        <Tooltip contentStyle={tooltipStyle} cursor={{ fill: '#f8fafc' }} />
        <Legend iconType="circle" iconSize={8} wrapperStyle={{ fontSize: 12 }} />
        <Bar dataKey="succeeded" stackId="a" fill={STATUS_TONE.succeeded.hex} isAnimationActive={false} />
        <Bar dataKey="dead" stackId="a" fill={STATUS_TONE.dead.hex} isAnimationActive={false} />
        <Bar dataKey="cancelled" stackId="a" fill={STATUS_TONE.cancelled.hex} radius={[2, 2, 0, 0]} isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}

export function FailureRateChart({ points }: { points: MinutePoint[] }) {
  const color = STATUS_TONE.dead.hex;
  return (
    <ResponsiveContainer width="100%" height={240}>
      <AreaChart data={points} margin={{ top: 8, right: 8, left: -16, bottom: 0 }}>
        <defs>
          <linearGradient id="failure-fill" x1="0" y1="0" x2="0" y2="1">
            <stop offset="0%" stopColor={color} stopOpacity={0.25} />
            <stop offset="100%" stopColor={color} stopOpacity={0.02} />
          </linearGradient>
        </defs>
        <CartesianGrid vertical={false} stroke="#f1f5f9" />
        <XAxis dataKey="label" tick={axis} tickLine={false} axisLine={{ stroke: '#e2e8f0' }} interval={9} />
        <YAxis tick={axis} tickLine={false} axisLine={false} domain={[0, 100]} ticks={[0, 25, 50, 75, 100]} unit="%" />
        <Tooltip contentStyle={tooltipStyle} formatter={(v) => (v === null || v === undefined ? 'no jobs finished' : `${String(v)}%`)} />
        <Area
          type="monotone"
          dataKey="failureRate"
          name="failure rate"
          stroke={color}
          strokeWidth={2}
          fill="url(#failure-fill)"
          dot={{ r: 2, fill: color, strokeWidth: 0 }}
          activeDot={{ r: 4 }}
          connectNulls
          isAnimationActive={false}
        />
      </AreaChart>
    </ResponsiveContainer>
  );
}
