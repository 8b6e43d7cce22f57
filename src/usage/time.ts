/** Units of time for metering and usage queries, in milliseconds; everything is UTC. */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;

let minuteTexts: readonly string[] | undefined;

/**
 * 'HH:MM:00.000Z' for each minute of a UTC day, built once: what toISOString writes after the
 * date for a whole-minute instant. Date#toISOString for the ~130,000 minute buckets of a 90-day
 * series costs ~100 ms; writers format the date once per day and take the time from here.
 */
export function minuteOfDayTexts(): readonly string[] {
  return (minuteTexts ??= Array.from({ length: 24 * 60 }, (_, minute) =>
    new Date(minute * MINUTE_MS).toISOString().slice(11),
  ));
}
