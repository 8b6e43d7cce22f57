import type { Session } from './api';
import { showOnce } from './shown-once';

/**
 * Turns a dialog into one that shows a new key in full, this once, with a copy button: after
 * "Create key" and after "Roll key". `note` says what became of a key it replaced.
 */
export function showCreatedKey(
  dialog: HTMLDialogElement,
  created: { name: string; key: string },
  session: Session,
  close: () => void,
  options: { title?: string; note?: string } = {},
): void {
  showOnce(dialog, close, {
    title: options.title ?? `Key “${created.name}” created`,
    value: created.key,
    noun: 'key',
    label: 'API key',
    lead: session.keysRecoverable
      ? 'Here is the new key. Copy it now; you can also reveal it later from its Manage menu.'
      : 'Here is the new key. Copy it now: it will not be shown again.',
    note: options.note,
  });
}
