import type { ParleyClient } from '@parley/client';
import type { Permission } from '@parley/protocol';
import type { ReactNode } from 'react';

/** What a page receives: the signed-in client and the permissions of the signed-in role. */
export interface PageProps {
  client: ParleyClient;
  permissions: ReadonlySet<Permission>;
}

/**
 * One console page: listed in the navigation only for roles holding `permission` (the server still decides every
 * call). Pages of features the server lacks are not listed.
 */
export interface ConsolePage {
  path: `/console/${string}`;
  title: string;
  permission: Permission;
  render: (props: PageProps) => ReactNode;
}
