import { ComplianceClient, type ParleyClient } from '@parley/client';
import { useCallback, useEffect, useState } from 'react';
import { errorText } from './error-text.ts';

/** The compliance calls of the SDK, on the console's signed-in client. */
export function complianceOf(client: ParleyClient): ComplianceClient {
  return new ComplianceClient(client);
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads once on mount (and again on `reload`); an answer that comes after a newer load started is dropped. */
export function useLoad<T>(load: () => Promise<T>): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setLoading(true);
    load()
      .then((value) => {
        if (!current) return;
        setData(value);
        setError(undefined);
      })
      .catch((caught: unknown) => {
        if (current) setError(errorText(caught));
      })
      .finally(() => {
        if (current) setLoading(false);
      });
    return () => {
      current = false;
    };
    // `load` is a new closure each render: loads again only on `reload`.
  }, [round]);
  const reload = useCallback(() => {
    setRound((value) => value + 1);
  }, []);
  return { data, error, loading, reload };
}

/** A time from the API (ISO 8601, UTC) as `2026-12-07 10:35 UTC`; '—' for none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** A `datetime-local` control's value (the browser's local time) as ISO 8601 UTC; undefined when empty. */
export function isoOfLocal(value: string): string | undefined {
  if (!value) return undefined;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? undefined : time.toISOString();
}
