import { outboxRows } from './webhook-outbox';

describe('outboxRows', () => {
  const endpoints = [
    { id: 'all', events: '["key.created","usage.threshold"]' },
    { id: 'keys', events: '["key.created"]' },
  ];
  const event = (type: 'key.created' | 'usage.threshold', id?: string) => ({
    id,
    accountId: 'acc',
    type,
    data: { id: 'k1' },
  });

  it('writes an event with one delivery, due now, per endpoint subscribed to its type', () => {
    const rows = outboxRows(
      [event('key.created', 'e1'), event('usage.threshold', 'e2')],
      endpoints,
      1000,
    );
    expect(rows.events.map((e) => [e.id, e.type, e.createdAt])).toEqual([
      ['e1', 'key.created', 1000],
      ['e2', 'usage.threshold', 1000],
    ]);
    expect(rows.deliveries.map((d) => [d.eventId, d.endpointId, d.nextAttemptAt])).toEqual([
      ['e1', 'all', 1000],
      ['e1', 'keys', 1000],
      ['e2', 'all', 1000],
    ]);
    expect(new Set(rows.deliveries.map((d) => d.id)).size).toBe(3);
    expect(JSON.parse(rows.events[1].payload)).toEqual({
      id: 'e2',
      type: 'usage.threshold',
      createdAt: '1970-01-01T00:00:01.000Z',
      data: { id: 'k1' },
    });
  });

  it('writes nothing of an event no endpoint takes, and gives an event without an id one', () => {
    expect(outboxRows([event('usage.threshold')], [endpoints[1]], 0)).toEqual({
      events: [],
      deliveries: [],
    });
    const [written] = outboxRows([event('key.created')], endpoints, 0).events;
    expect(written.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends to every endpoint given, subscribed or not, for the test event', () => {
    const rows = outboxRows([event('usage.threshold', 't')], [endpoints[1]], 0, true);
    expect(rows.deliveries.map((d) => d.endpointId)).toEqual(['keys']);
  });
});
