/**
 * Every `parley` command, and whether it reads a tenant's data (docs/security.md, "What the operator can still
 * do"). A command that does records `operator.cli_access` in each tenant's audit chain before it reads
 * (cli-access-record.ts); a command that does not says why. A test walks `parley --help` and keeps this table
 * equal to the commands the CLI has, so a new command must be classified here, deliberately.
 */
export type CliTenantAccess = { records: true; reads: string } | { records: false; why: string };

export const cliTenantAccess: Record<string, CliTenantAccess> = {
  start: {
    records: false,
    why: 'serves the API; requests are audited by the server under their own principal',
  },
  migrate: { records: false, why: 'changes the schema; reads no tenant row' },
  'tenant create': { records: false, why: 'creates a tenant (recorded as tenant.created in its new chain)' },
  'tenant list': {
    records: false,
    why: "lists the operator's tenant registry (ids, names, stages), no tenant's contents",
  },
  'tenant close': { records: true, reads: 'the tenant and its closure state' },
  'tenant reopen': { records: true, reads: 'the tenant and its closure state' },
  'tenant status': { records: true, reads: 'the tenant and its closure state' },
  'tenant purge-due': {
    records: false,
    why: 'destroys due tenants with their chains; each purge leaves a signed certificate of deletion',
  },
  'staff create': { records: false, why: 'operator staff accounts belong to no tenant' },
  'staff list': { records: false, why: 'operator staff accounts belong to no tenant' },
  'support review': {
    records: true,
    reads: "support grants and the support.accessed entries of each tenant's chain",
  },
  'keys status': { records: false, why: 'key versions and ages only; opens no key and no row' },
  'keys rotate-master': {
    records: false,
    why: 're-wraps wrapped keys under a new master key version; opens no tenant row',
  },
  'keys rotate-data-key': { records: true, reads: "the tenant's data keys (a new version is made)" },
  'keys reencrypt': {
    records: true,
    reads: 'the user keys of tenants with a pending rotation (opened and re-wrapped)',
  },
  'audit verify': {
    records: true,
    reads: "each tenant's audit chain (recorded after the chain is verified)",
  },
  'access-log query': { records: true, reads: "the tenant's access records (who read what)" },
  'access-log verify': { records: true, reads: "the tenant's access records and its audit chain" },
  'compliance report': {
    records: false,
    why: "with --tenant it writes its own compliance.report_issued entry (via cli) in that tenant's chain; without, installation-wide controls only",
  },
  'compliance verify': { records: false, why: 'checks the signature of a report copy (a file)' },
  'retention plan': { records: true, reads: "each tenant's rows the retention rules select (counts)" },
  'backup configure': { records: false, why: 'writes the pgBackRest configuration; reads no row' },
  'backup create': {
    records: false,
    why: 'copies the whole database as encrypted bytes (field-encrypted columns stay sealed); opens no tenant row',
  },
  'backup list': { records: false, why: 'lists backup manifests' },
  'backup verify': {
    records: false,
    why: 'checks a backup by restoring it into a scratch directory it deletes; the live tenants are not read',
  },
  'backup restore': {
    records: false,
    why: 'writes a backup into a new data directory; reading it is a server start on it (see docs/security.md)',
  },
  'search reindex': { records: true, reads: "each tenant's messages (opened to index them)" },
  probe: { records: false, why: 'probes a running server from outside with its own test tenant' },
  'config table': { records: false, why: 'prints the configuration reference' },
  'config check': { records: false, why: 'validates the configuration' },
};
