import type { MfaChallenge, ParleyClient, SignedIn } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

export interface SignInFormsProps {
  client: ParleyClient;
  /** The scopes the app asks for. */
  scope: string;
  /** The app's wording of an error the server answered. */
  describeError: (caught: unknown) => string;
  onSignedIn: (signedIn: SignedIn) => void;
}

/**
 * Password grant against the tenant, then the MFA step (authenticator code or recovery code) when the server
 * asks for it: the console's and the chat app's sign-in, each with its own scopes and error wording.
 */
export function SignInForms({ client, scope, describeError, onSignedIn }: SignInFormsProps) {
  const [challenge, setChallenge] = useState<MfaChallenge>();
  return challenge ? (
    <MfaForm
      client={client}
      describeError={describeError}
      challenge={challenge}
      onSignedIn={onSignedIn}
      onCancel={() => {
        setChallenge(undefined);
      }}
    />
  ) : (
    <PasswordForm
      client={client}
      scope={scope}
      describeError={describeError}
      onSignedIn={onSignedIn}
      onChallenge={setChallenge}
    />
  );
}

function PasswordForm(props: {
  client: ParleyClient;
  scope: string;
  describeError: (caught: unknown) => string;
  onSignedIn: (signedIn: SignedIn) => void;
  onChallenge: (challenge: MfaChallenge) => void;
}) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    setBusy(true);
    setError(undefined);
    props.client.auth
      .signIn({
        tenantId: fieldOf(form, 'tenantId').trim(),
        username: fieldOf(form, 'email').trim(),
        password: fieldOf(form, 'password'),
        scope: props.scope,
      })
      .then((answer) => {
        if (answer.mfaRequired) props.onChallenge(answer);
        else props.onSignedIn(answer);
      })
      .catch((caught: unknown) => {
        setError(props.describeError(caught));
        setBusy(false);
      });
  };
  return (
    <form onSubmit={submit} aria-labelledby="sign-in-title" className="card">
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
  );
}

function MfaForm(props: {
  client: ParleyClient;
  describeError: (caught: unknown) => string;
  challenge: MfaChallenge;
  onSignedIn: (signedIn: SignedIn) => void;
  onCancel: () => void;
}) {
  const [useRecovery, setUseRecovery] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const code = fieldOf(event.currentTarget, 'code').trim();
    const { mfaToken } = props.challenge;
    setBusy(true);
    setError(undefined);
    props.client.auth
      .completeMfa(useRecovery ? { mfaToken, recoveryCode: code } : { mfaToken, otp: code })
      .then(props.onSignedIn)
      .catch((caught: unknown) => {
        setError(props.describeError(caught));
        setBusy(false);
      });
  };
  return (
    <form onSubmit={submit} aria-labelledby="mfa-title" className="card">
      <h2 id="mfa-title">Two-factor check</h2>
      <label>
        {useRecovery ? 'Recovery code' : 'Code from your authenticator app'}
        <input
          key={useRecovery ? 'recovery' : 'otp'}
          name="code"
          required
          autoFocus
          autoComplete="one-time-code"
          spellCheck={false}
          {...(useRecovery ? {} : { inputMode: 'numeric' as const, pattern: '[0-9]{6}' })}
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
            setUseRecovery(!useRecovery);
            setError(undefined);
          }}
        >
          {useRecovery ? 'Use an authenticator code' : 'Use a recovery code'}
        </button>
        <button type="button" className="link" onClick={props.onCancel}>
          Start again
        </button>
      </div>
    </form>
  );
}
