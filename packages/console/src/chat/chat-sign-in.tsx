import type { MfaChallenge, ParleyClient, SignedIn } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { FormError } from '../form-error.tsx';
import { fieldOf } from '../form-field.ts';
import { chatErrorText } from './chat-text.ts';

/** The scopes the chat app asks for: its profile, messaging and calls. */
export const CHAT_SCOPE = 'profile chat calls';

/** Password grant, then the MFA step (authenticator or recovery code) when the server asks for it. */
export function ChatSignIn(props: { client: ParleyClient; onSignedIn: (signedIn: SignedIn) => void }) {
  const [challenge, setChallenge] = useState<MfaChallenge>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [recovery, setRecovery] = useState(false);

  const fail = (caught: unknown) => {
    setError(chatErrorText(caught));
    setBusy(false);
  };
  const signIn = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    setBusy(true);
    setError(undefined);
    props.client.auth
      .signIn({
        tenantId: fieldOf(form, 'tenantId').trim(),
        username: fieldOf(form, 'email').trim(),
        password: fieldOf(form, 'password'),
        scope: CHAT_SCOPE,
      })
      .then((answer) => {
        setBusy(false);
        if (answer.mfaRequired) setChallenge(answer);
        else props.onSignedIn(answer);
      })
      .catch(fail);
  };
  const verify = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!challenge) return;
    const code = fieldOf(event.currentTarget, 'code').trim();
    setBusy(true);
    setError(undefined);
    const { mfaToken } = challenge;
    props.client.auth
      .completeMfa(recovery ? { mfaToken, recoveryCode: code } : { mfaToken, otp: code })
      .then(props.onSignedIn)
      .catch(fail);
  };

  return (
    <main className="narrow">
      <h1>Parley chat</h1>
      {challenge ? (
        <form onSubmit={verify} aria-labelledby="mfa-title" className="card">
          <h2 id="mfa-title">Two-factor check</h2>
          <label>
            {recovery ? 'Recovery code' : 'Code from your authenticator app'}
            <input
              key={recovery ? 'recovery' : 'otp'}
              name="code"
              required
              autoFocus
              autoComplete="one-time-code"
              spellCheck={false}
              {...(recovery ? {} : { inputMode: 'numeric' as const, pattern: '[0-9]{6}' })}
            />
          </label>
          <FormError text={error} />
          <button type="submit" disabled={busy}>
            {busy ? 'Checking…' : 'Verify'}
          </button>
          <div className="row">
            <button
              type="button"
              className="link"
              onClick={() => {
                setRecovery(!recovery);
                setError(undefined);
              }}
            >
              {recovery ? 'Use an authenticator code' : 'Use a recovery code'}
            </button>
            <button
              type="button"
              className="link"
              onClick={() => {
                setChallenge(undefined);
                setError(undefined);
              }}
            >
              Start again
            </button>
          </div>
        </form>
      ) : (
        <form onSubmit={signIn} aria-labelledby="sign-in-title" className="card">
          <h2 id="sign-in-title">Sign in</h2>
          <label>
            Tenant id
            <input name="tenantId" required autoComplete="organization" spellCheck={false} />
          </label>
          <label>
            E-mail
            <input name="email" type="email" required autoComplete="username" />
          </label>
          <label>
            Password
            <input name="password" type="password" required autoComplete="current-password" />
          </label>
          <FormError text={error} />
          <button type="submit" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      )}
    </main>
  );
}
