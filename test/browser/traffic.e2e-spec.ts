import type { BrowserContext, Locator, Page } from 'playwright-core';
import type { Response } from 'supertest';
import { UsageMeter } from '../../src/usage/usage-meter.service';
import { describeInBrowser, desktopPage, phoneContext, signIn } from '../helpers/browser';
import { account, basic, TestAccount } from '../helpers/factory';
import { createKey, CreatedKey } from '../helpers/optidash-fixtures';

// Code that runs in the page is passed as text: the e2e project compiles without the DOM library.
const HORIZONTAL_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';
const TABLE_OVERFLOW = `document.querySelector('table.keys').getBoundingClientRect().right -
  document.querySelector('main').getBoundingClientRect().right`;
const DAY = 86_400_000;

interface TrafficBucket {
  bucket: string;
  volume: number;
  count: number;
  refused: number;
  volumeOut: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
  latencyMsAvg: number | null;
  latencyMsMax: number | null;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Noon (UTC) `days` ago: inside the dashboard's default range, one day bucket each. */
const noonDaysAgo = (days: number) => Math.floor(Date.now() / DAY - days) * DAY + DAY / 2;

/**
 * Answers recorded through the meter's own path (UsageMeter.answered, as the gateway records
 * them) two days ago and yesterday, with statuses and latencies keymeter's own port would not
 * give: a 5xx, and buckets whose means differ, so the range's mean shows it is weighted. Two
 * days ago: 3 answers, mean 20 ms, worst 30 ms; yesterday: 1 answer of 100 ms. Over the range:
 * (20 × 3 + 100 × 1) / 4 = 40 ms (a plain mean of the two means would say 60), worst 100 ms.
 */
const RECORDED = [
  { daysAgo: 2, status: 200, ms: 10, volume: 40, volumeOut: 1000 },
  { daysAgo: 2, status: 200, ms: 20, volume: 0, volumeOut: 2000 },
  { daysAgo: 2, status: 404, ms: 30, volume: 0, volumeOut: 100 },
  { daysAgo: 1, status: 503, ms: 100, volume: 7, volumeOut: 57 },
];

/** The response body's size as the client received it. */
const bodyBytes = (res: Response) => Buffer.byteLength(res.text);

/** Bytes as the dashboard writes them for sizes under a megabyte ("812 B", "1.23 kB"). */
function underAMegabyte(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const kb = bytes / 1000;
  const digits = kb >= 100 ? 0 : kb >= 10 ? 1 : 2;
  return `${kb.toLocaleString('en-US', { maximumFractionDigits: digits })} kB`;
}

/** A latency as the dashboard writes it ("0.42 ms", "12.3 ms", "1,250 ms"). */
function ms(value: number): string {
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })} ms`;
}

async function text(locator: Locator): Promise<string> {
  return (await locator.innerText()).replace(/\s+/g, ' ').trim();
}

async function manage(page: Page, name: string, item: string): Promise<void> {
  await page.getByRole('button', { name: `Manage key ${name}`, exact: true }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

const row = (page: Page, keyId: string) => page.locator(`tr[data-key-id="${keyId}"]`);

describeInBrowser('traffic (bytes out, errors, latency) in the dashboard', (run) => {
  const problems: string[] = [];
  let owner: TestAccount;
  let context: BrowserContext;
  let page: Page;
  let client: CreatedKey;
  let proxied: CreatedKey;
  /** What the client saw: response bytes and statuses of the requests made with the key. */
  const seen = { requests: 0, volume: 0, volumeOut: 0, ok: 0, clientErrors: 0 };
  const master = () => ({ Authorization: basic(owner.masterKey) });

  beforeAll(async () => {
    const { browser, baseUrl, testApp } = run();
    owner = await account(testApp.http);
    client = await createKey(testApp.http, owner.masterKey, 'client');
    // Stricter than the default: the one 4xx this page should see is the session check's 401.
    ({ context, page } = await desktopPage(browser, baseUrl, problems, {
      ignoredConsoleErrors: /status of 401/,
    }));

    // Real traffic on keymeter's own port, which meters its own answers: four 200s (two with
    // a request body) and two 400s (a usage query with a bad date: the key is admitted, then
    // the query is refused).
    const as = { Authorization: basic(client.key) };
    const bodies = ['{"a":1}', JSON.stringify({ note: 'é'.repeat(300) }), undefined, undefined];
    for (const body of bodies) {
      const req = testApp.http.get('/1.0/me').set(as);
      const res =
        body === undefined
          ? await req.expect(200)
          : await req.set('Content-Type', 'application/json').send(body).expect(200);
      seen.requests++;
      seen.ok++;
      seen.volume += body === undefined ? 0 : Buffer.byteLength(body);
      seen.volumeOut += bodyBytes(res);
    }
    for (let i = 0; i < 2; i++) {
      const res = await testApp.http.get('/1.0/me/usage?from=yesterday').set(as).expect(400);
      seen.requests++;
      seen.clientErrors++;
      seen.volumeOut += bodyBytes(res);
    }
    proxied = await createKey(testApp.http, owner.masterKey, 'proxied');
    const meter = testApp.app.get(UsageMeter);
    for (const answer of RECORDED) {
      const { status, volume, volumeOut } = answer;
      await meter.answered(
        proxied.id,
        1,
        volume,
        { status, volumeOut, latencyUs: answer.ms * 1000 },
        noonDaysAgo(answer.daysAgo),
      );
    }
    // A flush already running may miss the last uses: flush until none is left.
    for (let i = 0; i < 10 && meter.unflushed(proxied.id) !== null; i++) await meter.flush();
    await meter.flush();

    await signIn(page, owner.email, owner.password);
    await row(page, client.id).waitFor();
  });

  afterAll(async () => {
    await context?.close();
  });

  /** The key's buckets of the dashboard's default range, as the API gives them. */
  async function apiBuckets(): Promise<TrafficBucket[]> {
    const now = Date.now();
    const query = new URLSearchParams({
      from: utcDay(now - 29 * DAY),
      to: `${utcDay(now)}T23:59:59`,
      interval: 'day',
      include: 'traffic',
    });
    const { body } = await run()
      .testApp.http.get(`/1.0/keys/${client.id}?${query}`)
      .set(master())
      .expect(200);
    return body.results as TrafficBucket[];
  }

  it('lists each key’s bytes out next to its volume, as the client received them', async () => {
    const { body } = await run().testApp.http.get('/1.0/keys').set(master()).expect(200);
    const listed = (body.keys as { id: string; volumeOut: number }[]).find(
      (k) => k.id === client.id,
    );
    expect(listed?.volumeOut).toBe(seen.volumeOut);

    const headers = await page.locator('table.keys thead th').allInnerTexts();
    const volumeAt = headers.findIndex((t) => /^volume$/i.test(t));
    expect(headers[volumeAt + 1]).toMatch(/^bytes out$/i);
    const cell = row(page, client.id).locator('td[data-label="Bytes out"]');
    expect(await cell.getAttribute('title')).toBe(
      `${seen.volumeOut.toLocaleString('en-US')} bytes`,
    );
    expect(await text(cell)).toBe(underAMegabyte(seen.volumeOut));
    expect(await text(row(page, client.id).locator('td[data-label="Volume"]'))).toBe(
      underAMegabyte(seen.volume),
    );
    // The master key's own requests (this test's listings) are metered too.
    expect(await text(row(page, owner.masterKeyId).locator('td[data-label="Bytes out"]'))).toMatch(
      /^\d[\d,.]* (B|kB)$/,
    );
    expect(await page.evaluate<number>(TABLE_OVERFLOW)).toBeLessThanOrEqual(0);
  });

  it('totals bytes out, the error rate and the mean and worst latency over the range', async () => {
    await manage(page, 'client', 'Show usage');
    await page.getByRole('heading', { name: 'Usage of “client”' }).waitFor();
    const total = (name: string) => page.locator(`dd[data-total="${name}"]`);
    await page.locator('dd[data-total="volumeOut"][data-value]').waitFor();

    expect(await total('requests').getAttribute('data-value')).toBe(String(seen.requests));
    expect(await total('volume').getAttribute('data-value')).toBe(String(seen.volume));
    expect(await total('volumeOut').getAttribute('data-value')).toBe(String(seen.volumeOut));
    expect(await text(total('volumeOut'))).toMatch(
      new RegExp(`^0\\.0+\\d+ GB \\(${seen.volumeOut.toLocaleString('en-US')} bytes\\)$`),
    );

    const responses = seen.ok + seen.clientErrors;
    expect(Number(await total('errorRate').getAttribute('data-value'))).toBe(
      seen.clientErrors / responses,
    );
    expect(await text(total('errorRate'))).toBe('33.3 % (2 of 6 responses)');

    // The range's latency from the API's buckets: the mean weighted by each bucket's responses
    // (here one bucket holds them all, so it is that bucket's own mean), the worst the max.
    const buckets = await apiBuckets();
    const busy = buckets.filter((b) => b.status2xx + b.status4xx > 0);
    expect(busy).toHaveLength(1);
    const [today] = busy;
    expect(today).toMatchObject({
      count: seen.requests,
      volumeOut: seen.volumeOut,
      status2xx: seen.ok,
      status3xx: 0,
      status4xx: seen.clientErrors,
      status5xx: 0,
    });
    expect(today.latencyMsAvg).toBeGreaterThan(0);
    expect(today.latencyMsMax).toBeGreaterThanOrEqual(today.latencyMsAvg!);
    const mean = Number(await total('latencyAvg').getAttribute('data-value'));
    expect(mean).toBeCloseTo(today.latencyMsAvg!, 9);
    expect(Number(await total('latencyMax').getAttribute('data-value'))).toBe(today.latencyMsMax);
    expect(await text(total('latencyAvg'))).toBe(ms(mean));
    expect(await text(total('latencyMax'))).toBe(ms(today.latencyMsMax!));

    // Both charts are drawn, and say the same in words.
    expect(await page.locator('.chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('.traffic-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('.chart').getAttribute('aria-label')).toMatch(
      new RegExp(`: 6 requests, .* in, ${underAMegabyte(seen.volumeOut)} out\\.$`),
    );
    const trafficLabel = await page
      .getByRole('img', { name: /Chart of errors and latency/ })
      .getAttribute('aria-label');
    expect(trafficLabel).toMatch(
      new RegExp(
        `: 33\\.3 % errors \\(2 of 6 responses, 0 5xx\\), ` +
          `mean latency ${ms(mean)}, worst ${ms(today.latencyMsMax!)}\\.$`,
      ),
    );
    // The chart's legend names each series of the range.
    const legend = await page.locator('.traffic-chart .u-legend .u-label').allInnerTexts();
    expect(legend).toEqual(['Bucket', 'Error rate', '5xx rate', 'Latency avg', 'Latency max']);
    const usageLegend = await page.locator('.chart .u-legend .u-label').allInnerTexts();
    expect(usageLegend).toEqual(['Bucket', 'Requests', 'Volume in', 'Volume out']);
  });

  it('lists the new columns per bucket, “–” where a bucket had no responses', async () => {
    await page.getByText('Show the numbers per bucket').click();
    const headers = await page.locator('table.data thead th').allInnerTexts();
    expect(headers).toEqual([
      'Bucket (UTC)',
      'Requests',
      'Volume in (bytes)',
      'Volume out (bytes)',
      '2xx',
      '3xx',
      '4xx',
      '5xx',
      'Error rate',
      'Latency avg (ms)',
      'Latency max (ms)',
    ]);
    const rows = page.locator('table.data tbody tr');
    expect(await rows.count()).toBe(30);
    const [today] = (await apiBuckets()).slice(-1);
    const latency = (ms: number | null) =>
      ms === null ? '–' : ms.toLocaleString('en-US', { maximumFractionDigits: 3 });
    expect(await rows.last().locator('td').allInnerTexts()).toEqual([
      `${utcDay(Date.now())} 00:00`,
      '6',
      seen.volume.toLocaleString('en-US'),
      seen.volumeOut.toLocaleString('en-US'),
      '4',
      '0',
      '2',
      '0',
      '33.3 %',
      latency(today.latencyMsAvg),
      latency(today.latencyMsMax),
    ]);
    expect(await rows.first().locator('td').allInnerTexts()).toEqual([
      `${utcDay(Date.now() - 29 * DAY)} 00:00`,
      '0',
      '0',
      '0',
      '0',
      '0',
      '0',
      '0',
      '–',
      '–',
      '–',
    ]);
  });

  it('downloads the same columns as CSV', async () => {
    const href = await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href');
    expect(href).toContain('include=traffic');
    const res = await page.request.get(href!);
    expect(res.status()).toBe(200);
    const lines = (await res.text()).trim().split('\n');
    expect(lines[0]).toBe(
      'bucket,volume,count,refused,volumeOut,status2xx,status3xx,status4xx,status5xx,' +
        'latencyMsAvg,latencyMsMax',
    );
    expect(lines).toHaveLength(31);
    const [today] = (await apiBuckets()).slice(-1);
    expect(lines[30]).toBe(
      [
        today.bucket,
        seen.volume,
        seen.requests,
        0,
        seen.volumeOut,
        seen.ok,
        0,
        seen.clientErrors,
        0,
        today.latencyMsAvg,
        today.latencyMsMax,
      ].join(','),
    );
    expect(lines[1]).toMatch(/^[^,]+,0,0,0,0,0,0,0,0,,$/);
  });

  it('weights the range’s mean latency by each bucket’s responses, and counts the 5xx', async () => {
    await page.getByRole('link', { name: '← API keys' }).click();
    const cell = row(page, proxied.id).locator('td[data-label="Bytes out"]');
    expect(await text(cell)).toBe('3.16 kB');
    expect(await cell.getAttribute('title')).toBe('3,157 bytes');

    await manage(page, 'proxied', 'Show usage');
    await page.getByRole('heading', { name: 'Usage of “proxied”' }).waitFor();
    await page.locator('dd[data-total="latencyAvg"][data-value]').waitFor();
    const total = (name: string) => page.locator(`dd[data-total="${name}"]`);
    expect(await total('requests').getAttribute('data-value')).toBe('4');
    expect(await total('volume').getAttribute('data-value')).toBe('47');
    expect(await total('volumeOut').getAttribute('data-value')).toBe('3157');
    expect(await text(total('errorRate'))).toBe('50 % (2 of 4 responses, 1 5xx)');
    expect(Number(await total('latencyAvg').getAttribute('data-value'))).toBeCloseTo(40, 9);
    expect(await text(total('latencyAvg'))).toBe('40 ms');
    expect(await total('latencyMax').getAttribute('data-value')).toBe('100');
    expect(await text(total('latencyMax'))).toBe('100 ms');
    expect(
      await page
        .getByRole('img', { name: /Chart of errors and latency/ })
        .getAttribute('aria-label'),
    ).toMatch(/: 50 % errors \(2 of 4 responses, 1 5xx\), mean latency 40 ms, worst 100 ms\.$/);

    await page.getByText('Show the numbers per bucket').click();
    const rows = page.locator('table.data tbody tr');
    const cells = (n: number) => rows.nth(n).locator('td').allInnerTexts();
    expect(await cells(27)).toEqual([
      `${utcDay(noonDaysAgo(2))} 00:00`,
      '3',
      '40',
      '3,100',
      '2',
      '0',
      '1',
      '0',
      '33.3 %',
      '20',
      '30',
    ]);
    expect(await cells(28)).toEqual([
      `${utcDay(noonDaysAgo(1))} 00:00`,
      '1',
      '7',
      '57',
      '0',
      '0',
      '0',
      '1',
      '100 %',
      '100',
      '100',
    ]);
    expect((await cells(29))[8]).toBe('–');
  });

  it('fits a phone-sized screen with bytes out listed and both charts shown', async () => {
    const { browser, baseUrl } = run();
    const phone = await phoneContext(browser, baseUrl);
    try {
      const small = await phone.newPage();
      await signIn(small, owner.email, owner.password);
      const cell = row(small, client.id).locator('td[data-label="Bytes out"]');
      await cell.waitFor();
      expect(await text(cell)).toBe(underAMegabyte(seen.volumeOut));
      expect(await small.evaluate<number>(HORIZONTAL_OVERFLOW)).toBeLessThanOrEqual(0);
      await small.getByRole('button', { name: 'Manage key client', exact: true }).tap();
      await small.getByRole('menuitem', { name: 'Show usage' }).tap();
      await small.locator('dd[data-total="latencyMax"][data-value]').waitFor();
      await small.getByText('Show the numbers per bucket').tap();
      expect(await small.evaluate<number>(HORIZONTAL_OVERFLOW)).toBeLessThanOrEqual(0);
      for (const chart of ['.chart canvas', '.traffic-chart canvas']) {
        const box = await small.locator(chart).first().boundingBox();
        expect(box!.width).toBeLessThanOrEqual(390);
      }
    } finally {
      await phone.close();
    }
  });

  it('breaks no script', () => {
    expect(problems).toEqual([]);
  });
});
