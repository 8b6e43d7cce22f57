import { Session, signIn, signUp } from './api';
import { errorSlot, submitHandler } from './dialog';
import { field, h, replace, uid } from './dom';

type Mode = 'sign-in' | 'sign-up';

/** The signed-out page: sign in, or create an account. */
export function renderAuth(
  root: HTMLElement,
  onSignedIn: (session: Session) => void,
  mode: Mode = 'sign-in',
  notice?: string,
): void {
  const signingUp = mode === 'sign-up';
  const emailId = uid('email');
  const passwordId = uid('password');
  const hintId = uid('password-hint');
  const error = errorSlot();
  const submit = h(
    'button',
    { type: 'submit', class: 'primary wide' },
    signingUp ? 'Create account' : 'Sign in',
  );
  const email = h('input', {
    id: emailId,
    name: 'email',
    type: 'email',
    autocomplete: 'username',
    required: true,
    maxlength: 254,
  });
  const password = h('input', {
    id: passwordId,
    name: 'password',
    type: 'password',
    autocomplete: signingUp ? 'new-password' : 'current-password',
    required: true,
    minlength: signingUp ? 8 : null,
    maxlength: 256,
    'aria-describedby': signingUp ? hintId : null,
  });

  const form = h(
    'form',
    {
      class: 'stack',
      // Signed out, a 401 is a refused password, not an ended session: no sessionEnded here.
      onsubmit: submitHandler({
        error,
        submit,
        action: async () => {
          const session = await (signingUp ? signUp : signIn)(email.value, password.value);
          onSignedIn(session);
        },
        failed: () => password.focus(),
      }),
    },
    field(email, 'Email'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: passwordId }, 'Password'),
      password,
      signingUp
        ? h('p', { id: hintId, class: 'hint' }, 'At least 8 characters; a long passphrase is best.')
        : null,
    ),
    error,
    submit,
  );

  const switchMode = h(
    'button',
    {
      type: 'button',
      class: 'link',
      onclick: () => renderAuth(root, onSignedIn, signingUp ? 'sign-in' : 'sign-up'),
    },
    signingUp ? 'Sign in' : 'Create an account',
  );

  replace(
    root,
    h(
      'main',
      { class: 'auth', id: 'main' },
      h(
        'div',
        { class: 'card auth-card' },
        h('p', { class: 'brand-mark', 'aria-hidden': 'true' }, 'keymeter'),
        h('h1', {}, signingUp ? 'Create your account' : 'Sign in to keymeter'),
        h(
          'p',
          { class: 'muted' },
          'Manage the API keys of your clients, apps and websites, and see how much each one is used.',
        ),
        notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
        form,
        h(
          'p',
          { class: 'switch' },
          signingUp ? 'Already have an account? ' : 'No account yet? ',
          switchMode,
        ),
      ),
    ),
  );
  email.focus();
}
