import { cronInWords } from '../../web/src/cron-words';

describe('console: schedules in words', () => {
  it.each([
    ['0 3 1 * *', 'UTC', '03:00 UTC on the 1st of each month'],
    ['30 2 * * *', 'Europe/Berlin', '02:30 Europe/Berlin every day'],
    ['0 6 * * 1-5', 'UTC', '06:00 UTC Monday to Friday'],
    ['0 6 * * 1,3', 'UTC', '06:00 UTC every Monday and Wednesday'],
    ['0 0 22 * *', 'UTC', '00:00 UTC on the 22nd of each month'],
    ['0 4 11 1 *', 'UTC', '04:00 UTC on January 11th each year'],
    ['*/15 * * * *', 'UTC', 'every 15 minutes'],
    ['5 * * * *', 'UTC', 'every hour at minute 05'],
    ['* * * * * *', 'UTC', 'every second'],
    ['*/5 * * * * *', 'UTC', 'every 5 seconds'],
  ])('%s (%s) is "%s"', (pattern, tz, words) => {
    expect(cronInWords(pattern, tz)).toBe(words);
  });

  it('gives a pattern it cannot put in words back as it is, with its zone', () => {
    expect(cronInWords('0 3 1-7 * 1', 'UTC')).toBe('cron "0 3 1-7 * 1" (UTC)');
    expect(cronInWords('not a cron', 'UTC')).toBe('cron "not a cron" (UTC)');
  });
});
