import type { ParleyClient } from '@parley/client';
import { type SyntheticEvent, useCallback, useEffect, useState } from 'react';
import type { PageProps } from './console-page.ts';
import { DataExportSection } from './data-export-section.tsx';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { MfaEnrolment } from './mfa-enrolment.tsx';
import { PasswordChangeForm } from './password-change-form.tsx';
import { type SessionSummary, SessionsTable } from './sessions-table.tsx';

/** The signed-in user's own account: password, two-factor sign-in, signed-in devices, a copy of their data. */
export function AccountPage({ client, permissions }: PageProps) {
  const [mfaEnabled, setMfaEnabled] = useState<boolean>();
  const [passwordMessage, setPasswordMessage] = useState<string>();
  useEffect(() => {
    client.account
      .me()
      .then((profile) => {
        setMfaEnabled(profile.mfaEnabled);
      })
      .catch(() => {
        setMfaEnabled(undefined);
      });
  }, [client]);
  return (
    <main>
      <h1>My account</h1>
      <div className="columns">
        <div className="stack">
          <PasswordChangeForm
            client={client}
            title="Change password"
            onChanged={() => {
              setPasswordMessage('Password changed. Your other sessions were signed out.');
            }}
          />
          <p role="status">{passwordMessage ?? ''}</p>
        </div>
        {mfaEnabled === false ? (
          <MfaEnrolment
            client={client}
            onDone={() => {
              setMfaEnabled(true);
            }}
          />
        ) : mfaEnabled ? (
          <MfaDisable
            client={client}
            onDisabled={() => {
              setMfaEnabled(false);
            }}
          />
        ) : null}
      </div>
      {permissions.has('sessions.manage') ? <MySessions client={client} /> : null}
      <DataExportSection client={client} />
    </main>
  );
}

function MfaDisable({ client, onDisabled }: { client: ParleyClient; onDisabled: () => void }) {
  const [useRecovery, setUseRecovery] = useState(false);
  const [error, setError] = useState<string>();
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const password = fieldOf(form, 'password');
    const code = fieldOf(form, 'code').trim();
    setError(undefined);
    client.account.mfa
      .disable(useRecovery ? { password, recoveryCode: code } : { password, code })
      .then(onDisabled)
      .catch((caught: unknown) => {
        setError(errorText(caught));
      });
  };
  return (
    <form onSubmit={submit} className="card" aria-labelledby="mfa-off-title">
      <h2 id="mfa-off-title">Two-factor sign-in is on</h2>
      <p>To turn it off, enter your password and a code.</p>
      <label>
        Password
        <input name="password" type="password" required autoComplete="current-password" />
      </label>
      <label>
        {useRecovery ? 'Recovery code' : 'Code from your authenticator app'}
        <input key={useRecovery ? 'recovery' : 'otp'} name="code" required spellCheck={false} />
      </label>
      <FormError text={error} />
      <button type="submit" className="danger">
        Turn off two-factor sign-in
      </button>
      <button
        type="button"
        className="link"
        onClick={() => {
          setUseRecovery(!useRecovery);
        }}
      >
        {useRecovery ? 'Use an authenticator code' : 'Use a recovery code'}
      </button>
    </form>
  );
}

function MySessions({ client }: { client: ParleyClient }) {
  const [sessions, setSessions] = useState<SessionSummary[]>([]);
  const [message, setMessage] = useState<string>();
  const load = useCallback(() => {
    client.account
      .sessions()
      .then(setSessions)
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  }, [client]);
  useEffect(load, [load]);
  return (
    <section aria-labelledby="my-sessions-title">
      <h2 id="my-sessions-title">My signed-in devices</h2>
      <SessionsTable
        caption="Your signed-in devices"
        sessions={sessions}
        onRevoke={(session) => {
          client.account
            .signOutSession(session.id)
            .then(() => {
              setMessage('Signed out.');
              load();
            })
            .catch((caught: unknown) => {
              setMessage(errorText(caught));
            });
        }}
      />
      <p role="status">{message ?? ''}</p>
    </section>
  );
}
