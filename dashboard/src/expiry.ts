import type { ApiKey } from './api';
import { h, replace, uid } from './dom';
import { expiryPhrase, formatUtc, fromUtcInput, utcInputValue } from './format';

/** The expiries offered: none, a few spans from now, or a date and time of one's own. */
const CHOICES: { value: string; label: string }[] = [
  { value: 'never', label: 'Never' },
  { value: '3600', label: 'In 1 hour' },
  { value: '86400', label: 'In 24 hours' },
  { value: '604800', label: 'In 7 days' },
  { value: '2592000', label: 'In 30 days' },
  { value: '7776000', label: 'In 90 days' },
  { value: 'custom', label: 'On a date and time (UTC)…' },
];

export interface ExpiryField {
  element: HTMLElement;
  /** The expiry chosen, as ISO-8601, or null for none; throws when the date is missing. */
  value(): string | null;
}

/**
 * "Expires": a select of presets and, for "On a date and time", a datetime-local input read
 * as UTC (the API's clock), prefilled with the key's current expiry when it has one.
 */
export function expiryField(current: string | null): ExpiryField {
  const selectId = uid('expiry');
  const inputId = uid('expiry-at');
  const hintId = uid('expiry-hint');
  const select = h(
    'select',
    { id: selectId, name: 'expiry', 'aria-describedby': hintId },
    CHOICES.map((c) =>
      h(
        'option',
        { value: c.value, selected: c.value === (current === null ? 'never' : 'custom') },
        c.label,
      ),
    ),
  );
  const at = h('input', {
    id: inputId,
    type: 'datetime-local',
    name: 'expiresAt',
    step: 60,
    value:
      current === null
        ? utcInputValue(Date.now() + 7 * 86_400_000)
        : utcInputValue(Date.parse(current)),
  });
  const custom = h(
    'div',
    { class: 'field', hidden: current === null },
    h('label', { for: inputId }, 'Date and time (UTC)'),
    at,
  );
  select.addEventListener('change', () => {
    custom.hidden = select.value !== 'custom';
    if (!custom.hidden) at.focus();
  });
  const element = h(
    'div',
    { class: 'stack' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: selectId }, 'Expires'),
      select,
      h(
        'p',
        { id: hintId, class: 'hint' },
        'From then on, requests made with the key are refused.',
      ),
    ),
    custom,
  );
  return {
    element,
    value: () => {
      if (select.value === 'never') return null;
      if (select.value !== 'custom') {
        return new Date(Date.now() + Number(select.value) * 1000).toISOString();
      }
      const iso = fromUtcInput(at.value);
      if (iso === null) {
        at.focus();
        throw new Error('Enter the date and time (UTC) at which the key expires.');
      }
      return iso;
    },
  };
}

export function isExpired(key: Pick<ApiKey, 'expiresAt'>, now = Date.now()): boolean {
  return key.expiresAt !== undefined && Date.parse(key.expiresAt) <= now;
}

/**
 * The Status cell's content: Active, Inactive or Expired, and under it when the key expires
 * ("expires in 3 days", the exact UTC instant as its title). The cell keeps what it needs in
 * data attributes so that the clock below can bring it up to date without a reload.
 */
export function fillStatus(cell: HTMLElement, key?: ApiKey): void {
  if (key) {
    cell.dataset.active = String(key.isActive);
    if (key.expiresAt !== undefined) cell.dataset.expiresAt = key.expiresAt;
    if (key.successorId !== undefined) cell.dataset.rolled = '';
  }
  const expiresAt = cell.dataset.expiresAt;
  const active = cell.dataset.active === 'true';
  const phrase = expiresAt === undefined ? null : expiryPhrase(expiresAt);
  const [label, tone] = phrase?.expired
    ? ['Expired', 'expired']
    : active
      ? ['Active', 'active']
      : ['Inactive', 'off'];
  cell.closest('tr')?.classList.toggle('inactive', !active || phrase?.expired === true);
  replace(
    cell,
    h(
      'div',
      { class: 'status' },
      h('span', { class: `badge ${tone}` }, label),
      phrase && expiresAt !== undefined
        ? h(
            'span',
            { class: 'expiry' },
            'rolled' in cell.dataset ? 'replaced; ' : null,
            h('time', { datetime: expiresAt, title: formatUtc(expiresAt) }, phrase.text),
          )
        : null,
    ),
  );
}

let clock: number | undefined;

/**
 * Keeps the expiries under `root` current while they are shown: every 30 s, and at the next
 * expiry when that comes sooner, so a key turns Expired at its instant. Stops by itself once
 * the cells are gone (another view, a new render).
 */
export function keepExpiriesCurrent(root: HTMLElement): void {
  window.clearTimeout(clock);
  const cells = [...root.querySelectorAll<HTMLElement>('[data-expires-at]')];
  if (cells.length === 0) return;
  const now = Date.now();
  const next = Math.min(
    ...cells.map((c) => Date.parse(c.dataset.expiresAt as string) - now).filter((ms) => ms > 0),
  );
  clock = window.setTimeout(
    () => {
      if (!cells.some((c) => c.isConnected)) return;
      for (const cell of cells) if (cell.isConnected) fillStatus(cell);
      keepExpiriesCurrent(root);
    },
    Math.max(250, Math.min(30_000, next + 50)),
  );
}
