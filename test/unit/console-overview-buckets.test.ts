import { buckets, chartStart, HOURS } from '../../console/src/pages/overview-buckets';

describe('console: the overview chart counts the last 24 hours by hour', () => {
  const NOW = Date.parse('2026-12-04T16:40:00.000Z');

  it('draws 24 hours that end with the current, partial hour, and reads from the first', () => {
    const out = buckets([], NOW);
    expect(out).toHaveLength(HOURS);
    expect(new Date(out[0]?.start ?? 0).toISOString()).toBe('2026-12-03T17:00:00.000Z');
    expect(new Date(out[HOURS - 1]?.start ?? 0).toISOString()).toBe('2026-12-04T16:00:00.000Z');
    expect(chartStart(NOW)).toBe(out[0]?.start);
  });

  it('counts every notification created from the first hour on, the current hour included', () => {
    const rows = [
      { createdAt: '2026-12-03T17:00:00.000Z', status: 'SENT' },
      { createdAt: '2026-12-03T17:39:59.999Z', status: 'FAILED' },
      { createdAt: '2026-12-04T16:00:00.000Z', status: 'WAITING' },
      { createdAt: '2026-12-04T16:39:59.000Z', status: 'SENT' },
    ];
    const out = buckets(rows, NOW);
    expect(out[0]).toMatchObject({ sent: 1, failed: 1, other: 0 });
    expect(out[HOURS - 1]).toMatchObject({ sent: 1, failed: 0, other: 1 });
    const total = out.reduce((n, b) => n + b.sent + b.failed + b.other, 0);
    expect(total).toBe(rows.length);
  });

  it('leaves out what was created before the first hour', () => {
    const out = buckets([{ createdAt: '2026-12-03T16:59:59.999Z', status: 'SENT' }], NOW);
    expect(out.every((b) => b.sent === 0)).toBe(true);
  });

  it('starts on the hour when now is on the hour', () => {
    expect(new Date(chartStart(Date.parse('2026-12-04T16:00:00.000Z'))).toISOString()).toBe(
      '2026-12-03T17:00:00.000Z',
    );
  });
});
