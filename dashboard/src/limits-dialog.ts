import {
  AccountLimits,
  accountLimits,
  ApiKey,
  Quota,
  QuotaView,
  RateLimitView,
  setAccountLimits,
  updateKey,
} from './api';
import { dialogForm, openDialog } from './dialog';
import { h } from './dom';
import { isSessionEnd, messageOf } from './errors';
import type { ViewContext } from './keys-view';
import { formatQuota, formatRate } from './limits';
import { Fallbacks, LimitChoice, LimitsFields, limitsFields } from './limits-fields';
import { announce } from './status';

type Reload = (focus?: string) => Promise<void>;

/** A quota as the API takes it back: without the source, the use and the reset. */
function settable(quota: QuotaView): Quota {
  const { requests, volumeBytes, period } = quota;
  return {
    period,
    ...(requests !== undefined && { requests }),
    ...(volumeBytes !== undefined && { volumeBytes }),
  };
}

/** The key's own limits: one it follows from the account is not its own. */
function ownLimits(key: ApiKey): LimitChoice {
  const own = <T extends RateLimitView | QuotaView>(limit?: T) =>
    limit && limit.source === 'key' ? limit : undefined;
  const rate = own(key.rateLimit);
  const quota = own(key.quota);
  return {
    rateLimit: rate ? { limit: rate.limit, windowSeconds: rate.windowSeconds } : null,
    quota: quota ? settable(quota) : null,
  };
}

/** What an unchecked limit leaves the key with: the account's default, or nothing. */
function keyFallbacks(key: ApiKey, defaults: AccountLimits | null): Fallbacks {
  if (key.isMaster) {
    return {
      rateLimit: 'No rate limit: the master key follows no account default.',
      quota: 'No quota: the master key follows no account default.',
    };
  }
  if (defaults === null) {
    return {
      rateLimit: 'None of its own: the key follows the account default, if one is set.',
      quota: 'None of its own: the key follows the account default, if one is set.',
    };
  }
  return {
    rateLimit: defaults.rateLimit
      ? `None of its own: the key follows the account default, ${formatRate(defaults.rateLimit)}.`
      : 'No rate limit (the account sets no default).',
    quota: defaults.quota
      ? `None of its own: the key follows the account default, ${formatQuota(defaults.quota)}.`
      : 'No quota (the account sets no default).',
  };
}

/** The form both dialogs share: the fields, the error slot, Cancel and Save. */
function limitsForm(
  fields: LimitsFields,
  intro: (HTMLElement | null)[],
  close: () => void,
  save: (choice: LimitChoice) => Promise<void>,
  ctx: ViewContext,
): HTMLFormElement {
  return dialogForm({
    ctx,
    close,
    submit: 'Save',
    // The API checks the ranges and says what to fix; the browser's own bubbles would not.
    attrs: { class: 'stack limits-form', novalidate: true },
    action: async () => {
      await save(fields.value());
      close();
    },
    content: [intro, fields.element],
  });
}

/** The account's defaults, or null when they cannot be read (the dialog then says less). */
async function defaultsOrNull(): Promise<AccountLimits | null | 'ended'> {
  try {
    return await accountLimits();
  } catch (err) {
    return isSessionEnd(err) ? 'ended' : null;
  }
}

/** Manage → "Limits…": the key's own rate limit and quota; unchecking one removes it (null). */
export async function limitsDialog(key: ApiKey, ctx: ViewContext, reload: Reload): Promise<void> {
  const defaults = key.isMaster ? null : await defaultsOrNull();
  if (defaults === 'ended') return ctx.sessionEnded();
  openDialog(`Limits of “${key.name}”`, (close) => {
    const fields = limitsFields(
      ownLimits(key),
      keyFallbacks(key, defaults),
      defaults ?? { rateLimit: null, quota: null },
    );
    const intro = [
      h(
        'p',
        {},
        'Requests past a limit are refused (429) until the window or the period lets them in ' +
          'again; refused requests are not counted as usage.',
      ),
      key.isMaster
        ? h(
            'p',
            { class: 'notice' },
            'This is the account’s master key: its limits refuse the clients that use it too.',
          )
        : null,
    ];
    return [
      limitsForm(
        fields,
        intro,
        close,
        async (choice) => {
          await updateKey(key.id, choice);
          announce(`Limits of “${key.name}” saved.`);
          await reload(key.id);
        },
        ctx,
      ),
    ];
  });
}

/** "Account limits…": the defaults for every key without limits of its own (not the master). */
export async function accountLimitsDialog(ctx: ViewContext, reload: Reload): Promise<void> {
  let current: AccountLimits;
  try {
    current = await accountLimits();
  } catch (err) {
    if (isSessionEnd(err)) return ctx.sessionEnded();
    announce(messageOf(err));
    return;
  }
  openDialog('Account limits', (close) => {
    const fields = limitsFields(current, {
      rateLimit: 'No default rate limit.',
      quota: 'No default quota.',
    });
    const intro = [
      h(
        'p',
        {},
        'Defaults for every key of the account without a limit of its own of that kind. ' +
          'The master key follows none.',
      ),
    ];
    return [
      limitsForm(
        fields,
        intro,
        close,
        async (choice) => {
          await setAccountLimits(choice);
          announce('Account limits saved.');
          await reload();
        },
        ctx,
      ),
    ];
  });
}
