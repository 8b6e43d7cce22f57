import { ApiKey, rollKey, updateKey } from './api';
import { showCreatedKey } from './created-key';
import { dialogForm, openDialog } from './dialog';
import { h, uid } from './dom';
import { expiryField } from './expiry';
import { expiryPhrase, formatUtc } from './format';
import type { ViewContext } from './keys-view';
import { announce } from './status';

type Reload = (focus?: string) => Promise<void>;

/** How long a rolled key's predecessor keeps working; the API allows up to 30 days. */
const GRACE_CHOICES: { seconds: number; label: string }[] = [
  { seconds: 0, label: 'No: refuse it at once' },
  { seconds: 3600, label: 'For 1 hour' },
  { seconds: 86_400, label: 'For 24 hours' },
  { seconds: 604_800, label: 'For 7 days' },
];
const DEFAULT_GRACE = 86_400;

/** What the key's expiry is now, in words, with the exact instant. */
function currentExpiry(key: ApiKey): string {
  if (key.expiresAt === undefined) return 'This key never expires.';
  const { text } = expiryPhrase(key.expiresAt);
  return `This key ${text} (${formatUtc(key.expiresAt)}).`;
}

/** Manage → "Set expiry…": a preset, a UTC date and time, or Never (clears it). */
export function setExpiryDialog(key: ApiKey, ctx: ViewContext, reload: Reload): void {
  openDialog(`Expiry of “${key.name}”`, (close) => {
    const expiry = expiryField(key.expiresAt ?? null);
    return [
      dialogForm({
        ctx,
        close,
        submit: 'Save',
        action: async () => {
          const updated = await updateKey(key.id, { expiresAt: expiry.value() });
          close();
          announce(
            updated.expiresAt === undefined
              ? `Key “${key.name}” no longer expires.`
              : `Key “${key.name}” ${expiryPhrase(updated.expiresAt).text}.`,
          );
          await reload(key.id);
        },
        content: [
          h('p', {}, currentExpiry(key)),
          key.isMaster
            ? h(
                'p',
                { class: 'notice' },
                'This is the account’s master key: once it expires, clients using it are refused.',
              )
            : null,
          expiry.element,
        ],
      }),
    ];
  });
}

/**
 * Manage → "Roll key…": a new key with this one's name, shown once; the old one keeps working
 * for the grace chosen, so that clients can move over, then is refused.
 */
export function rollDialog(key: ApiKey, ctx: ViewContext, reload: Reload): void {
  openDialog(`Roll “${key.name}”`, (close, dialog) => {
    const name = uid('grace');
    const hintId = uid('grace-hint');
    const choices = GRACE_CHOICES.map((choice) => {
      const id = uid('grace-choice');
      const radio = h('input', {
        type: 'radio',
        id,
        name,
        value: choice.seconds,
        checked: choice.seconds === DEFAULT_GRACE,
      });
      return {
        radio,
        row: h('div', { class: 'choice' }, radio, h('label', { for: id }, choice.label)),
      };
    });
    const form = dialogForm({
      ctx,
      close,
      submit: 'Roll key',
      action: async () => {
        const grace = Number(choices.find((c) => c.radio.checked)?.radio.value ?? 0);
        const rolled = await rollKey(key.id, grace);
        const until = rolled.previous.expiresAt;
        const phrase = expiryPhrase(until);
        showCreatedKey(dialog, rolled, ctx.session, close, {
          title: `Key “${rolled.name}” rolled`,
          note: phrase.expired
            ? 'The old key is refused from now on.'
            : `The old key keeps working until ${formatUtc(until)} (it ${phrase.text}); ` +
              'then it is refused.',
        });
        void reload();
      },
      content: [
        h(
          'p',
          {},
          `A new key named “${key.name}” replaces this one; it is shown once, and its usage ` +
            'starts at zero. The old key keeps working until the grace period ends, then it is ' +
            'refused: move your clients to the new key before then.',
        ),
        h(
          'fieldset',
          { class: 'choices', 'aria-describedby': hintId },
          h('legend', {}, 'Keep the old key working?'),
          choices.map((c) => c.row),
          h(
            'p',
            { id: hintId, class: 'hint' },
            key.expiresAt === undefined
              ? 'Counted from now.'
              : `Counted from now; the old key still stops at its own expiry if that comes first.`,
          ),
        ),
      ],
    });
    return [form];
  });
}
