import { Command, CommanderError } from 'commander';
import { accessLogCommand } from './cli/access-log-command.ts';
import { auditCommand } from './cli/audit-command.ts';
import { backupCommand } from './cli/backup-command.ts';
import { complianceCommand } from './cli/compliance-command.ts';
import { retentionCommand } from './cli/retention-command.ts';
import { configCommand } from './cli/config-command.ts';
import { keysCommand } from './cli/keys-command.ts';
import { migrateCommand } from './cli/migrate-command.ts';
import { probeCommand } from './cli/probe-command.ts';
import { searchCommand } from './cli/search-command.ts';
import { startCommand } from './cli/start-command.ts';
import { tenantCommand } from './cli/tenant-command.ts';
import { staffCommand } from './cli/staff-command.ts';
import { supportCommand } from './cli/support-command.ts';
import { ConfigError } from './config.ts';
import { parleyVersion } from './version.ts';

/** Exit codes: 0 ok, 1 failure, 2 invalid configuration or usage. */
const program = new Command('parley')
  .description('Parley: self-hostable, security-first chat and calling backend')
  .version(parleyVersion)
  .exitOverride()
  .addCommand(startCommand())
  .addCommand(migrateCommand())
  .addCommand(tenantCommand())
  .addCommand(staffCommand())
  .addCommand(supportCommand())
  .addCommand(keysCommand())
  .addCommand(auditCommand())
  .addCommand(accessLogCommand())
  .addCommand(complianceCommand())
  .addCommand(retentionCommand())
  .addCommand(backupCommand())
  .addCommand(searchCommand())
  .addCommand(probeCommand())
  .addCommand(configCommand());

// Usage errors in any subcommand must surface here (exit 2), not call process.exit(1) inside commander.
const overrideExits = (command: Command): void => {
  command.exitOverride();
  command.commands.forEach(overrideExits);
};
overrideExits(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  process.stderr.write(`parley: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
