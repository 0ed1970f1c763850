import type { ConsolePage } from './console-page.ts';
import { UsersPage } from './users-page.tsx';

/** Tenant administration pages, in navigation order. */
export const ADMIN_PAGES: readonly ConsolePage[] = [
  {
    path: '/console/users',
    title: 'Users',
    permission: 'users.read',
    render: (props) => <UsersPage {...props} />,
  },
];
