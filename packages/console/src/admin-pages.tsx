import type { ConsolePage } from './console-page.ts';
import { AccountPage } from './account-page.tsx';
import { ClientsPage } from './clients-page.tsx';
import { RolesPage } from './roles-page.tsx';
import { TenantSettingsPage } from './tenant-settings-page.tsx';
import { UsersPage } from './users-page.tsx';
import './admin.css';

/** Tenant administration pages, in navigation order; "My account" last, as every signed-in role has it. */
export const ADMIN_PAGES: readonly ConsolePage[] = [
  {
    path: '/console/users',
    title: 'Users',
    permission: 'users.read',
    render: (props) => <UsersPage {...props} />,
  },
  {
    path: '/console/roles',
    title: 'Roles',
    permission: 'roles.manage',
    render: (props) => <RolesPage {...props} />,
  },
  {
    path: '/console/settings',
    title: 'Settings',
    permission: 'tenant.read',
    render: (props) => <TenantSettingsPage {...props} />,
  },
  {
    path: '/console/clients',
    title: 'OAuth clients',
    permission: 'clients.manage',
    render: (props) => <ClientsPage {...props} />,
  },
  {
    path: '/console/account',
    title: 'My account',
    permission: 'profile.update',
    render: (props) => <AccountPage {...props} />,
  },
];
