import { Command } from 'commander';
import { configTableMarkdown, loadConfig } from '../config.ts';

export function configCommand(): Command {
  const config = new Command('config').description('Inspect configuration');
  config
    .command('table')
    .description('Print the configuration reference as a Markdown table')
    .action(() => {
      process.stdout.write(`${configTableMarkdown()}\n`);
    });
  config
    .command('check')
    .description('Validate the current configuration (exit 2 when invalid)')
    .action(() => {
      loadConfig();
      process.stdout.write('configuration is valid\n');
    });
  return config;
}
