import './styles.css';
import { ApiError, currentSession, Session, signOut } from './api';
import { renderActivity } from './activity-view';
import { renderAuth } from './auth-view';
import { h, replace } from './dom';
import { renderDeliveries } from './deliveries-view';
import { renderKeys, ViewContext } from './keys-view';
import { mountStatus } from './status';
import { disposeUsageView, renderUsage } from './usage-view';
import { renderWebhooks } from './webhooks-view';

/**
 * The keymeter dashboard: one page, two states. Signed out, it shows the sign-in form; signed
 * in, the "API Keys" view (`#/`), a key's usage (`#/keys/:id/usage?from&to&interval`) or the
 * account's activity (`#/activity?action`), its webhooks (`#/webhooks`) and one webhook's
 * deliveries (`#/webhooks/:id/deliveries`).
 * Everything goes through keymeter's own HTTP API with the session cookie.
 */
const root = document.getElementById('app') as HTMLElement;
const USAGE_ROUTE = /^#\/keys\/([^/?]+)\/usage(?:\?(.*))?$/;
const ACTIVITY_ROUTE = /^#\/activity(?:\?(.*))?$/;
const WEBHOOKS_ROUTE = /^#\/webhooks\/?$/;
const DELIVERIES_ROUTE = /^#\/webhooks\/([^/?]+)\/deliveries$/;

function closeDialogs(): void {
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
}

function showSignedOut(notice?: string): void {
  closeDialogs();
  disposeUsageView();
  window.removeEventListener('hashchange', route);
  document.title = 'Sign in · keymeter';
  renderAuth(root, showSignedIn, 'sign-in', notice);
}

let context: ViewContext | null = null;
let main: HTMLElement | null = null;
type View = 'keys' | 'activity' | 'webhooks';
let nav: Record<View, HTMLAnchorElement> | null = null;

/** Marks the nav entry of the view shown (aria-current), the other not. */
function markCurrent(view: View): void {
  if (!nav) return;
  for (const [name, link] of Object.entries(nav)) {
    if (name === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function showSignedIn(session: Session): void {
  context = {
    session,
    sessionEnded: () => showSignedOut('Your session has ended. Sign in again to continue.'),
  };
  const signOutButton = h(
    'button',
    {
      type: 'button',
      class: 'quiet',
      onclick: async () => {
        try {
          await signOut();
        } catch {
          // Signed out already (expired): the page forgets the session all the same.
        }
        history.replaceState(null, '', '#/');
        showSignedOut('You have signed out.');
      },
    },
    'Sign out',
  );
  main = h('main', { id: 'main', class: 'content', tabindex: -1 });
  nav = {
    keys: h('a', { href: '#/' }, 'API keys'),
    activity: h('a', { href: '#/activity' }, 'Activity'),
    webhooks: h('a', { href: '#/webhooks' }, 'Webhooks'),
  };
  const status = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite', hidden: true });
  replace(
    root,
    h('a', { class: 'skip-link', href: '#main', onclick: skipToMain }, 'Skip to content'),
    h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'brand', href: '#/' }, 'keymeter'),
      h(
        'nav',
        { class: 'main-nav', 'aria-label': 'Main' },
        h('ul', {}, h('li', {}, nav.keys), h('li', {}, nav.activity), h('li', {}, nav.webhooks)),
      ),
      h(
        'div',
        { class: 'account' },
        h('span', { class: 'who', title: 'Signed in as' }, session.account.email),
        signOutButton,
      ),
    ),
    main,
    status,
  );
  mountStatus(status);
  window.addEventListener('hashchange', route);
  void route();
}

function skipToMain(event: Event): void {
  event.preventDefault();
  main?.focus();
}

async function route(): Promise<void> {
  if (!context || !main) return;
  const usageMatch = USAGE_ROUTE.exec(location.hash);
  const activityMatch = ACTIVITY_ROUTE.exec(location.hash);
  const webhooksMatch = WEBHOOKS_ROUTE.exec(location.hash);
  const deliveriesMatch = DELIVERIES_ROUTE.exec(location.hash);
  markCurrent(activityMatch ? 'activity' : webhooksMatch || deliveriesMatch ? 'webhooks' : 'keys');
  if (webhooksMatch) {
    disposeUsageView();
    document.title = 'Webhooks · keymeter';
    await renderWebhooks(main, context);
    return;
  }
  if (deliveriesMatch) {
    disposeUsageView();
    document.title = 'Deliveries · keymeter';
    await renderDeliveries(main, context, decodeURIComponent(deliveriesMatch[1]));
    return;
  }
  if (activityMatch) {
    disposeUsageView();
    document.title = 'Activity · keymeter';
    await renderActivity(main, context, new URLSearchParams(activityMatch[1] ?? ''));
    return;
  }
  if (usageMatch) {
    document.title = 'Usage · keymeter';
    await renderUsage(
      main,
      context,
      decodeURIComponent(usageMatch[1]),
      new URLSearchParams(usageMatch[2] ?? ''),
    );
    return;
  }
  disposeUsageView();
  document.title = 'API keys · keymeter';
  await renderKeys(main, context);
  main.querySelector<HTMLElement>('h1')?.focus();
}

async function start(): Promise<void> {
  try {
    const session = await currentSession();
    if (session) showSignedIn(session);
    else showSignedOut();
  } catch (err) {
    replace(
      root,
      h(
        'main',
        { class: 'auth', id: 'main' },
        h(
          'div',
          { class: 'card auth-card' },
          h('h1', {}, 'keymeter is not answering'),
          h('p', { class: 'error' }, err instanceof ApiError ? err.message : String(err)),
          h('button', { type: 'button', onclick: () => location.reload() }, 'Try again'),
        ),
      ),
    );
  }
}

void start();
