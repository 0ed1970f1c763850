import type { ReactNode } from 'react';

/** A labelled whole-number input; `hint` is read out as its description. */
export function NumberField(props: {
  name: string;
  label: string;
  value: number;
  min: number;
  max: number;
  hint?: string;
}) {
  const hintId = props.hint ? `${props.name}-hint` : undefined;
  return (
    <div className="field">
      <label>
        {props.label}
        <input
          name={props.name}
          type="number"
          required
          step={1}
          min={props.min}
          max={props.max}
          defaultValue={props.value}
          aria-describedby={hintId}
        />
      </label>
      {props.hint ? (
        <small id={hintId} className="hint">
          {props.hint}
        </small>
      ) : null}
    </div>
  );
}

/** A labelled checkbox (label after the box, as platforms show it). */
export function CheckField({ name, label, checked }: { name: string; label: string; checked: boolean }) {
  return (
    <label className="check">
      <input name={name} type="checkbox" defaultChecked={checked} value="on" />
      {label}
    </label>
  );
}

/** A labelled select of fixed options. */
export function SelectField(props: {
  name: string;
  label: string;
  value: string;
  options: readonly (readonly [value: string, label: string])[];
}) {
  return (
    <label>
      {props.label}
      <select name={props.name} defaultValue={props.value}>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A settings section: one form, one save button (absent for roles that may only read). */
export function SettingsSection(props: {
  id: string;
  title: string;
  canEdit: boolean;
  busy: boolean;
  message: string | undefined;
  onSave: (form: HTMLFormElement) => void;
  children: ReactNode;
}) {
  return (
    <form
      className="card"
      aria-labelledby={`${props.id}-title`}
      onSubmit={(event) => {
        event.preventDefault();
        props.onSave(event.currentTarget);
      }}
    >
      <h2 id={`${props.id}-title`}>{props.title}</h2>
      <fieldset disabled={!props.canEdit || props.busy} className="plain">
        <legend className="sr-only">{props.title}</legend>
        {props.children}
      </fieldset>
      <p className="row-message" role="status">
        {props.message ?? ''}
      </p>
      {props.canEdit ? (
        <button type="submit" disabled={props.busy}>
          {props.busy ? 'Saving…' : `Save ${props.title.toLowerCase()}`}
        </button>
      ) : null}
    </form>
  );
}
