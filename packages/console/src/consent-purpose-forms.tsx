import { type ConsentPurpose, ParleyApiError, type ParleyClient } from '@parley/client';
import { type LawfulBasis, lawfulBases } from '@parley/protocol';
import { type SyntheticEvent, useState } from 'react';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

const basisOf = (value: string): LawfulBasis => lawfulBases.find((basis) => basis === value) ?? 'consent';

/** A refusal in words; a taken key is named as such rather than as a generic conflict. */
const refusalText = (caught: unknown): string =>
  caught instanceof ParleyApiError && caught.code === 'conflict'
    ? 'A purpose with this key exists already: publish a new version of it instead.'
    : errorText(caught);

/** What a new version of a required purpose does, as docs/privacy.md ("A user who owes consent") says. */
export const REQUIRED_VERSION_EFFECT =
  'Every user, you included, then owes consent to it: until they accept the new version, their sessions reach ' +
  'only their own profile and consents (no chat, no admin pages, no API beyond that). Users are asked at their ' +
  'next sign-in; you will have to sign in again to accept it before this console works for you.';

function LawfulBasisField({ defaultValue }: { defaultValue: LawfulBasis }) {
  return (
    <label>
      Lawful basis (GDPR Art. 6(1))
      <select name="lawfulBasis" defaultValue={defaultValue}>
        {lawfulBases.map((basis) => (
          <option key={basis} value={basis}>
            {basis.replaceAll('_', ' ')}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Publishes a new purpose at version 1; a required one only after a second, explicit confirmation. */
export function CreatePurposeForm({ client, onCreated }: { client: ParleyClient; onCreated: () => void }) {
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const required = new FormData(form).get('required') === 'on';
    setError(undefined);
    setDone(undefined);
    if (required && !confirming) {
      setConfirming(true);
      return;
    }
    const key = fieldOf(form, 'key').trim();
    setBusy(true);
    client
      .request<ConsentPurpose>('POST', '/v1/consent-purposes', {
        key,
        title: fieldOf(form, 'title').trim(),
        text: fieldOf(form, 'text').trim(),
        lawfulBasis: basisOf(fieldOf(form, 'lawfulBasis')),
        required,
      })
      .then((created) => {
        form.reset();
        setDone(`Published ${created.key}, version ${created.version}.`);
        onCreated();
      })
      .catch((caught: unknown) => {
        setError(refusalText(caught));
      })
      .finally(() => {
        setConfirming(false);
        setBusy(false);
      });
  };
  return (
    <form onSubmit={submit} className="card" aria-labelledby="create-purpose-title">
      <h2 id="create-purpose-title">Publish a new purpose</h2>
      <label>
        Key (2 to 64 lower-case letters, digits and _; never changes)
        <input name="key" required pattern="[a-z][a-z0-9_]{1,63}" maxLength={64} />
      </label>
      <label>
        Title
        <input name="title" required maxLength={200} />
      </label>
      <label>
        Text (what users read before they agree)
        <textarea name="text" required maxLength={20_000} rows={5} />
      </label>
      <LawfulBasisField defaultValue="consent" />
      <label className="check">
        <input
          name="required"
          type="checkbox"
          onChange={() => {
            setConfirming(false);
          }}
        />{' '}
        Required (only when the service cannot work without it: GDPR Art. 7(4))
      </label>
      <p className="muted">
        An optional purpose is off for every user until they grant it. A required one must be accepted by
        every user before they can use the service.
      </p>
      {confirming ? (
        <p className="notice" role="alert">
          This purpose is required. {REQUIRED_VERSION_EFFECT} Press “Confirm: publish required purpose” to go
          ahead.
        </p>
      ) : null}
      <FormError text={error} />
      <p role="status">{done ?? ''}</p>
      <div className="actions">
        <button type="submit" className={confirming ? 'danger' : undefined} disabled={busy}>
          {confirming ? 'Confirm: publish required purpose' : 'Publish purpose'}
        </button>
        {confirming ? (
          <button
            type="button"
            onClick={() => {
              setConfirming(false);
            }}
          >
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

/**
 * Publishes version n + 1 of a purpose with new wording (title, text or lawful basis). Earlier versions stay,
 * as every ledger row names one. For a required purpose the form asks a second time, saying what it does.
 */
export function NewVersionForm({
  client,
  purpose,
  onPublished,
  onCancel,
}: {
  client: ParleyClient;
  purpose: ConsentPurpose;
  onPublished: (published: ConsentPurpose) => void;
  onCancel: () => void;
}) {
  const [error, setError] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const title = fieldOf(form, 'title').trim();
    const text = fieldOf(form, 'text').trim();
    const lawfulBasis = basisOf(fieldOf(form, 'lawfulBasis'));
    setError(undefined);
    if (title === purpose.title && text === purpose.text && lawfulBasis === purpose.lawfulBasis) {
      setError('Nothing changed: change the title, the text or the lawful basis to publish a new version.');
      return;
    }
    if (purpose.required && !confirming) {
      setConfirming(true);
      return;
    }
    setBusy(true);
    client
      .request<ConsentPurpose>('PATCH', `/v1/consent-purposes/${encodeURIComponent(purpose.key)}`, {
        ...(title === purpose.title ? {} : { title }),
        ...(text === purpose.text ? {} : { text }),
        ...(lawfulBasis === purpose.lawfulBasis ? {} : { lawfulBasis }),
      })
      .then(onPublished)
      .catch((caught: unknown) => {
        setError(refusalText(caught));
        setConfirming(false);
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const next = purpose.version + 1;
  return (
    <form
      onSubmit={submit}
      className="card"
      aria-label={`New version of ${purpose.key}`}
      onChange={() => {
        setConfirming(false);
      }}
    >
      <h2>
        Version {next} of <code>{purpose.key}</code>
      </h2>
      <label>
        Title
        <input name="title" required maxLength={200} defaultValue={purpose.title} />
      </label>
      <label>
        Text
        <textarea name="text" required maxLength={20_000} rows={6} defaultValue={purpose.text} />
      </label>
      <LawfulBasisField defaultValue={purpose.lawfulBasis} />
      <p className="muted">
        Version {purpose.version} stays readable: every grant and withdrawal in the ledger names the version
        and its text hash. Nobody has granted version {next} yet; users who granted an earlier version count
        as outdated until they grant this one.
        {purpose.required ? ' This purpose is required.' : ''}
      </p>
      {purpose.required ? <p className="notice">{REQUIRED_VERSION_EFFECT}</p> : null}
      {confirming ? (
        <p className="notice" role="alert">
          Publish version {next} of the required purpose {purpose.key}? Every user will have to accept it
          again.
        </p>
      ) : null}
      <FormError text={error} />
      <div className="actions">
        <button type="submit" className={confirming ? 'danger' : undefined} disabled={busy}>
          {confirming ? `Confirm: publish version ${next}` : `Publish version ${next}`}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
