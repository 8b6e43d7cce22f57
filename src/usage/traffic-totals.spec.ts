import { addAnswer, emptyTraffic, MinuteTraffic, PendingUsage } from './pending-usage';
import { MINUTE_MS } from './time';
import { trafficFigures, TrafficTotals } from './traffic-totals';
import { parseUsageRange } from './usage-range';

const T0 = Date.UTC(2026, 0, 5, 10, 0);

function traffic(...answers: [status: number, latencyUs: number, bytes: number][]): MinuteTraffic {
  const t = emptyTraffic();
  for (const [status, latencyUs, volumeOut] of answers)
    addAnswer(t, { status, latencyUs, volumeOut });
  return t;
}

describe('addAnswer', () => {
  it('counts each status in its class, 1xx only in the answers, and no status in none', () => {
    const t = traffic(
      [200, 10, 5],
      [204, 20, 0],
      [301, 30, 1],
      [404, 40, 2],
      [502, 50, 3],
      [101, 60, 0],
      [0, 999, 7],
    );
    expect(t).toEqual({
      volumeOut: 18,
      responses: 6,
      status2xx: 2,
      status3xx: 1,
      status4xx: 1,
      status5xx: 1,
      latencyUsSum: 210,
      latencyUsMax: 60,
    });
  });
});

describe('trafficFigures', () => {
  it('gives the mean and worst latency in ms to the µs, and null without answers', () => {
    expect(trafficFigures(traffic([200, 1000, 1], [500, 2001, 1]))).toMatchObject({
      latencyMsAvg: 1.501,
      latencyMsMax: 2.001,
      status2xx: 1,
      status5xx: 1,
    });
    expect(trafficFigures(emptyTraffic())).toMatchObject({
      latencyMsAvg: null,
      latencyMsMax: null,
    });
  });
});

describe('TrafficTotals', () => {
  it('merges minutes into buckets: sums add up and the worst latency is the worst minute’s', () => {
    const range = parseUsageRange(
      {
        from: new Date(T0).toISOString(),
        to: new Date(T0 + 2 * 3_600_000 - 1).toISOString(),
        interval: 'hour',
      },
      new Date(T0 + 3 * 3_600_000),
    );
    const totals = new TrafficTotals(range);
    totals.add(T0, traffic([200, 100, 10]));
    totals.add(T0 + 5 * MINUTE_MS, traffic([200, 900, 20], [404, 300, 5]));
    totals.add(T0 + 70 * MINUTE_MS, traffic([500, 50, 1]));
    totals.add(T0 + 3 * 3_600_000, traffic([200, 1, 1])); // outside the range
    expect(totals.length).toBe(2);
    expect(totals.at(0)).toMatchObject({
      volumeOut: 35,
      responses: 3,
      latencyUsSum: 1300,
      latencyUsMax: 900,
    });
    expect(trafficFigures(totals.at(1))).toMatchObject({ status5xx: 1, latencyMsAvg: 0.05 });
  });
});

describe('PendingUsage answers', () => {
  it('keeps answers with the minute they end in, and restore() merges them back exactly', () => {
    const pending = new PendingUsage();
    pending.add('k', 1, 10, T0);
    pending.answered('k', 0, 0, { status: 200, latencyUs: 500, volumeOut: 100 }, T0 + 1);
    pending.answered('k', 1, 7, { status: 503, latencyUs: 900, volumeOut: 3 }, T0 + MINUTE_MS);
    const taken = pending.take();
    expect(taken.get('k')).toMatchObject({ count: 2, volume: 17, volumeOut: 103 });
    pending.answered('k', 0, 0, { status: 200, latencyUs: 2000, volumeOut: 1 }, T0 + 2);
    pending.restore(taken);
    const key = pending.get('k')!;
    expect(key).toMatchObject({ count: 2, volume: 17, volumeOut: 104 });
    const minute = Math.floor(T0 / MINUTE_MS);
    expect(key.minutes.get(minute)).toEqual({
      count: 1,
      volume: 10,
      traffic: { ...traffic([200, 500, 100], [200, 2000, 1]) },
    });
    expect(key.minutes.get(minute + 1)?.traffic).toEqual(traffic([503, 900, 3]));
  });
});
