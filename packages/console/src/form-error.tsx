/** An error under a form, announced by screen readers as it appears. */
export function FormError({ text }: { text: string | undefined }) {
  return (
    <p className="error" role="alert" aria-live="assertive">
      {text ?? ''}
    </p>
  );
}
