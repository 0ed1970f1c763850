import type { ParleyClient } from '@parley/client';
import type { UserStatusName } from '@parley/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { errorText } from './error-text.ts';
import type { UserSummary } from './user-row.tsx';

/** Spelled here, not imported: the protocol's runtime entry carries zod (see permission-names.ts). */
export const USER_STATUSES = [
  'active',
  'deactivated',
  'restricted',
  'erased',
] as const satisfies readonly UserStatusName[];

/** Users per page of the listing. */
export const USER_PAGE_SIZE = 25;

export interface UserFilter {
  status?: UserStatusName | undefined;
  role?: string | undefined;
}

interface Listing {
  filter: UserFilter;
  /** The pages loaded so far, in the server's order. */
  listed: UserSummary[];
  /** Set while the server has more users after those listed. */
  nextCursor: string | undefined;
  /** The first page has arrived. */
  loaded: boolean;
}

function listPath(filter: UserFilter, cursor: string | undefined): string {
  const query = new URLSearchParams({ limit: String(USER_PAGE_SIZE) });
  if (filter.status) query.set('status', filter.status);
  if (filter.role) query.set('role', filter.role);
  if (cursor) query.set('cursor', cursor);
  return `/v1/tenant/users?${query.toString()}`;
}

/**
 * The tenant's users as `GET /v1/tenant/users` pages them (oldest first), loaded on open when `enabled`. Users found
 * or created on the page are pinned at the top until the filters change (so a first page arriving after a
 * creation cannot hide the new user); the listing never shows one of them twice. Only the answer to the latest
 * request is kept, so a slow page of an old filter cannot overwrite a newer one.
 */
export function useUserListing(client: ParleyClient, enabled: boolean) {
  const [listing, setListing] = useState<Listing>({
    filter: {},
    listed: [],
    nextCursor: undefined,
    loaded: false,
  });
  const [pinned, setPinned] = useState<UserSummary[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const latest = useRef(0);

  const load = useCallback(
    (filter: UserFilter, cursor?: string) => {
      const request = ++latest.current;
      setBusy(true);
      setError(undefined);
      client
        .request<{ users: UserSummary[]; nextCursor?: string }>('GET', listPath(filter, cursor))
        .then((page) => {
          if (request !== latest.current) return;
          setListing((current) => ({
            filter,
            listed: [...(cursor === undefined ? [] : current.listed), ...page.users],
            nextCursor: page.nextCursor,
            loaded: true,
          }));
        })
        .catch((caught: unknown) => {
          if (request === latest.current) setError(errorText(caught));
        })
        .finally(() => {
          if (request === latest.current) setBusy(false);
        });
    },
    [client],
  );

  useEffect(() => {
    if (enabled) load({});
  }, [enabled, load]);

  const pinnedIds = new Set(pinned.map((user) => user.id));
  const change = (id: string, patch: Partial<UserSummary>) => (users: UserSummary[]) =>
    users.map((entry) => (entry.id === id ? { ...entry, ...patch } : entry));
  return {
    filter: listing.filter,
    loaded: listing.loaded,
    nextCursor: listing.nextCursor,
    /** Pinned users first, then the listed ones not pinned. */
    users: [...pinned, ...listing.listed.filter((user) => !pinnedIds.has(user.id))],
    busy,
    error,
    /** The first page of these filters, replacing what is shown. */
    filterBy: (filter: UserFilter) => {
      setPinned([]);
      load(filter);
    },
    loadMore: () => {
      if (listing.nextCursor !== undefined) load(listing.filter, listing.nextCursor);
    },
    /** Shows `user` at the top (found or just created), once. */
    pin: (user: UserSummary) => {
      setPinned((current) => [user, ...current.filter((entry) => entry.id !== user.id)]);
    },
    update: (id: string, patch: Partial<UserSummary>) => {
      setPinned(change(id, patch));
      setListing((current) => ({ ...current, listed: change(id, patch)(current.listed) }));
    },
  };
}
