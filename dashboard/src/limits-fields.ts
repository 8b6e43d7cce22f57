import type { Quota, QuotaPeriod, RateLimit } from './api';
import { field, h, uid } from './dom';

/** Volume units, largest first (the order a current value is expressed in): SI and binary. */
const UNITS: { label: string; bytes: number }[] = [
  { label: 'TiB', bytes: 2 ** 40 },
  { label: 'TB', bytes: 1e12 },
  { label: 'GiB', bytes: 2 ** 30 },
  { label: 'GB', bytes: 1e9 },
  { label: 'MiB', bytes: 2 ** 20 },
  { label: 'MB', bytes: 1e6 },
  { label: 'KiB', bytes: 1024 },
  { label: 'kB', bytes: 1000 },
  { label: 'bytes', bytes: 1 },
];
/** How the picker lists them: bytes, then SI, then binary. */
const UNIT_ORDER = ['bytes', 'kB', 'MB', 'GB', 'TB', 'KiB', 'MiB', 'GiB', 'TiB'];
const DEFAULT_UNIT = 'GB';

const PERIODS: { value: QuotaPeriod; label: string }[] = [
  { value: 'day', label: 'Per day (UTC)' },
  { value: 'month', label: 'Per month (UTC)' },
  { value: 'total', label: 'In all (never resets)' },
];

/** A volume in the largest unit that expresses it exactly: 53687091200 → 50 GiB. */
function inUnit(bytes: number): { amount: number; unit: string } {
  const unit = UNITS.find((u) => bytes % u.bytes === 0) ?? UNITS[UNITS.length - 1];
  return { amount: bytes / unit.bytes, unit: unit.label };
}

export interface LimitChoice {
  rateLimit: RateLimit | null;
  quota: Quota | null;
}

export interface LimitsFields {
  element: HTMLElement;
  /** The limits chosen, null where none is; throws when a chosen limit lacks its number. */
  value(): LimitChoice;
}

/** What the key follows without a limit of its own, in words ("1,000 / 60 s"), per kind. */
export interface Fallbacks {
  rateLimit: string;
  quota: string;
}

function numberInput(name: string, value: number | undefined): HTMLInputElement {
  return h('input', {
    id: uid(name),
    name,
    type: 'number',
    min: 1,
    step: 1,
    inputmode: 'numeric',
    autocomplete: 'off',
    value: value === undefined ? null : String(value),
  });
}

/** A whole number typed in, undefined when empty; the API judges its range and says why. */
function read(input: HTMLInputElement, missing: string | null): number | undefined {
  const text = input.value.trim();
  if (text === '' || Number.isNaN(Number(text))) {
    if (missing === null && text === '') return undefined;
    input.focus();
    throw new Error(missing ?? 'Enter a number.');
  }
  return Number(text);
}

/** A fieldset whose legend is a checkbox: checked, its fields show; unchecked, the limit goes. */
function toggled(
  title: string,
  on: boolean,
  off: string,
  fields: HTMLElement[],
): { element: HTMLElement; box: HTMLInputElement } {
  const boxId = uid('limit-on');
  const box = h('input', { type: 'checkbox', id: boxId, checked: on });
  const body = h('div', { class: 'limit-fields', hidden: !on }, fields);
  const offNote = h('p', { class: 'hint', hidden: on }, off);
  box.addEventListener('change', () => {
    body.hidden = !box.checked;
    offNote.hidden = box.checked;
    if (box.checked) body.querySelector<HTMLElement>('input, select')?.focus();
  });
  const element = h(
    'fieldset',
    { class: 'limit' },
    h('legend', {}, h('span', { class: 'choice' }, box, h('label', { for: boxId }, title))),
    offNote,
    body,
  );
  return { element, box };
}

/**
 * The rate limit and the quota of a key (or of the account's defaults), each switched on or
 * off. `current` checks and prefills them; `fallbacks` says what an unchecked one leaves in
 * effect, and `start` prefills an unchecked one (the account's default, to start from).
 */
export function limitsFields(
  current: LimitChoice,
  fallbacks: Fallbacks,
  start: LimitChoice = current,
): LimitsFields {
  const rate = current.rateLimit ?? start.rateLimit;
  const limit = numberInput('rate-limit', rate?.limit);
  const windowSeconds = numberInput('rate-window', rate?.windowSeconds ?? 60);
  const windowHint = h(
    'p',
    { class: 'hint' },
    'At most this many requests in any window of this length, up to 86,400 s (a day).',
  );
  const rateSection = toggled('Rate limit', current.rateLimit !== null, fallbacks.rateLimit, [
    h(
      'div',
      { class: 'limit-row' },
      field(limit, 'Requests per window'),
      field(windowSeconds, 'Window (seconds)'),
    ),
    windowHint,
  ]);

  const quota = current.quota ?? start.quota;
  const requests = numberInput('quota-requests', quota?.requests);
  const volumeNow = quota?.volumeBytes === undefined ? null : inUnit(quota.volumeBytes);
  const volume = numberInput('quota-volume', volumeNow?.amount);
  volume.removeAttribute('step');
  const unit = h(
    'select',
    { id: uid('quota-unit'), name: 'unit' },
    UNIT_ORDER.map((label) =>
      h('option', { value: label, selected: label === (volumeNow?.unit ?? DEFAULT_UNIT) }, label),
    ),
  );
  const period = h(
    'select',
    { id: uid('quota-period'), name: 'period' },
    PERIODS.map((p) =>
      h('option', { value: p.value, selected: p.value === (quota?.period ?? 'month') }, p.label),
    ),
  );
  const quotaSection = toggled('Quota', current.quota !== null, fallbacks.quota, [
    h(
      'div',
      { class: 'limit-row' },
      field(requests, 'Requests per period'),
      field(period, 'Period'),
    ),
    h('div', { class: 'limit-row' }, field(volume, 'Volume per period'), field(unit, 'Unit')),
    h(
      'p',
      { class: 'hint' },
      'Leave requests or volume empty to limit only the other. Volume counts request bodies; ' +
        'kB, MB, … are powers of 1,000, KiB, MiB, … of 1,024.',
    ),
  ]);

  return {
    element: h('div', { class: 'stack' }, rateSection.element, quotaSection.element),
    value: () => {
      const choice: LimitChoice = { rateLimit: null, quota: null };
      if (rateSection.box.checked) {
        choice.rateLimit = {
          limit: read(limit, 'Enter how many requests the rate limit allows.') as number,
          windowSeconds: read(windowSeconds, 'Enter the rate limit’s window in seconds.') as number,
        };
      }
      if (quotaSection.box.checked) {
        const q: Quota = { period: period.value as QuotaPeriod };
        const count = read(requests, null);
        const amount = read(volume, null);
        if (count !== undefined) q.requests = count;
        if (amount !== undefined) {
          const factor = UNITS.find((u) => u.label === unit.value)?.bytes ?? 1;
          // Whole bytes from a fraction of a unit (1.5 GB); bytes themselves go as typed.
          q.volumeBytes = factor === 1 ? amount : Math.round(amount * factor);
        }
        choice.quota = q;
      }
      return choice;
    },
  };
}
