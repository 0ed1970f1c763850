import { useState } from 'react';

interface ConfirmButtonProps {
  /** The button's visible text, e.g. "Revoke". */
  label: string;
  /** Its accessible name, naming what it acts on, e.g. "Revoke session on Firefox". */
  name: string;
  /** The confirmation's text, e.g. "Confirm: revoke session on Firefox". */
  confirm: string;
  onConfirm: () => void;
  disabled?: boolean;
}

/** A destructive action in two steps: the first press asks, the second (focused at once) acts. */
export function ConfirmButton({ label, name, confirm, onConfirm, disabled }: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button
        type="button"
        aria-label={name}
        disabled={disabled}
        onClick={() => {
          setAsking(true);
        }}
      >
        {label}
      </button>
    );
  return (
    <span role="group" aria-label={`Confirm ${name}`} className="actions">
      <button
        type="button"
        className="danger"
        autoFocus
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirm}
      </button>
      <button
        type="button"
        onClick={() => {
          setAsking(false);
        }}
      >
        Cancel
      </button>
    </span>
  );
}
