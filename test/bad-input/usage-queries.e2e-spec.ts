import { describeEachDatabase } from '../helpers/app';
import { badInputFixture, Call, expectRefused } from '../helpers/bad-input';

/**
 * Section "Usage queries" of docs/bad-input.md (Q01–Q07): `GET /1.0/keys/:key` and
 * `GET /1.0/me/usage`.
 */
describeEachDatabase('bad input', (ctx) => {
  const given = badInputFixture(ctx);
  const { http, master } = given;

  const usageRoutes = (query: string): Call[] => [
    { method: 'get', path: `/1.0/keys/${given.child.id}?${query}`, headers: master() },
    { method: 'get', path: `/1.0/me/usage?${query}`, headers: master() },
  ];

  describe('usage queries', () => {
    it.each([
      ['February 30', 'from=2021-02-30', /February 2021 has 28 days/],
      ['year 99999', 'from=99999-01-01', /the year must be between 1970 and 9999/],
      ['month 13', 'from=2021-13-01', /months go from 01 to 12/],
      ['hour 25', 'from=2021-01-01T25:00', /hours go from 00 to 23/],
      ['minute 60', 'to=2021-01-01T10:60', /minutes go from 00 to 59/],
      ['a word', 'from=yesterday', /use a date like 2021-01-19/],
      ['an empty value', 'from=', /from must not be empty/],
      ['a bad time zone', 'to=2021-01-01T00:00:00%2B25:00', /to is not a valid ISO-8601 date/],
    ])('refuses %s as a date with 400 (Q01)', async (_, query, says) => {
      await expectRefused(http(), usageRoutes(query), 400, says);
    });

    it('refuses from after to with 400 (Q02)', async () => {
      await expectRefused(
        http(),
        usageRoutes('from=2021-02-01&to=2021-01-01'),
        400,
        /from must be before to/,
      );
    });

    it('refuses a from in the future, when to defaults to now, and says so (Q03)', async () => {
      await expectRefused(http(), usageRoutes('from=9999-01-01'), 400, /to defaults to now/);
    });

    it('refuses a range over 92 days with 400 and says how long it is (Q04)', async () => {
      await expectRefused(
        http(),
        usageRoutes('from=2021-01-01&to=2021-06-01'),
        400,
        /at most 92 days; from and to are 151 days apart/,
      );
    });

    it.each([
      ['from', 'from=2021-01-01&from=2021-01-02&to=2021-01-03'],
      ['to', 'from=2021-01-01&to=2021-01-02&to=2021-01-03'],
      ['interval', 'interval=day&interval=hour'],
      ['format', 'format=json&format=csv'],
      ['interval, twice the same', 'interval=day&interval=day'],
    ])('refuses %s given twice with 400 and asks for it once (Q05)', async (_, query) => {
      await expectRefused(http(), usageRoutes(query), 400, /given once|only once|once/);
    });

    it('refuses an unknown interval with 400 and lists the valid ones (Q06)', async () => {
      await expectRefused(
        http(),
        usageRoutes('interval=fortnight'),
        400,
        /interval must be one of minute, hour, day, week, month/,
      );
    });

    it('refuses an unknown format and unknown query parameters with 400 (Q07)', async () => {
      await expectRefused(http(), usageRoutes('format=xml'), 400, /format must be json or csv/);
      await expectRefused(http(), usageRoutes('foo=bar'), 400, /property foo should not exist/);
    });
  });
});
