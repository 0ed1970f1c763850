import type { MfaEnrollment, ParleyClient } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

/**
 * The QR code as an image: an SVG inside `<img>` never runs script, and `data:` images are what the console's
 * CSP allows besides its own files (no inline SVG markup is put into the page).
 */
function qrImage(svg: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** The base32 secret inside the otpauth:// URI, for typing into an app that cannot scan. */
function secretOf(uri: string): string {
  try {
    return new URL(uri).searchParams.get('secret') ?? '';
  } catch {
    return '';
  }
}

/**
 * TOTP enrolment in three steps: the password again → the QR code (and the key to type) with a code to
 * confirm → the ten recovery codes, shown only this once.
 */
export function MfaEnrolment({ client, onDone }: { client: ParleyClient; onDone: () => void }) {
  const [enrolment, setEnrolment] = useState<MfaEnrollment>();
  const [recoveryCodes, setRecoveryCodes] = useState<string[]>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const act = (work: Promise<void>) => {
    setBusy(true);
    setError(undefined);
    work
      .catch((caught: unknown) => {
        setError(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const begin = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    act(client.account.mfa.begin(fieldOf(event.currentTarget, 'password')).then(setEnrolment));
  };
  const confirm = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    act(client.account.mfa.confirm(fieldOf(event.currentTarget, 'code').trim()).then(setRecoveryCodes));
  };

  if (recoveryCodes)
    return (
      <section className="card" aria-labelledby="recovery-title">
        <h2 id="recovery-title">Save your recovery codes</h2>
        <p>
          Two-factor sign-in is on. Each code below signs you in once if you lose your authenticator. They are
          shown only now: store them somewhere safe.
        </p>
        <ul className="codes" aria-label="Recovery codes">
          {recoveryCodes.map((code) => (
            <li key={code}>
              <code>{code}</code>
            </li>
          ))}
        </ul>
        <button type="button" onClick={onDone}>
          I have saved them
        </button>
      </section>
    );
  if (enrolment)
    return (
      <form onSubmit={confirm} className="card" aria-labelledby="scan-title">
        <h2 id="scan-title">Scan with your authenticator app</h2>
        <img
          className="qr"
          src={qrImage(enrolment.qrSvg)}
          alt="QR code to add this account to an authenticator app"
        />
        <details>
          <summary>Cannot scan? Type the key instead</summary>
          <p>
            Key: <code className="secret">{secretOf(enrolment.otpauthUri)}</code>
          </p>
        </details>
        <label>
          Code shown by the app
          <input
            name="code"
            required
            autoFocus
            inputMode="numeric"
            pattern="[0-9]{6}"
            autoComplete="one-time-code"
            spellCheck={false}
          />
        </label>
        <FormError text={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Turn on two-factor sign-in'}
        </button>
      </form>
    );
  return (
    <form onSubmit={begin} className="card" aria-labelledby="enrol-title">
      <h2 id="enrol-title">Set up two-factor sign-in</h2>
      <p>Use an authenticator app (TOTP). Enter your password to begin.</p>
      <label>
        Password
        <input name="password" type="password" required autoComplete="current-password" />
      </label>
      <FormError text={error} />
      <button type="submit" disabled={busy}>
        {busy ? 'Starting…' : 'Show the QR code'}
      </button>
    </form>
  );
}
