import { parseArgs } from 'node:util';
import { createAccounts } from '../accounts/accounts.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { FirthError } from '../errors.ts';
import { startFirth } from '../firth.ts';
import { releaseNativeTransports } from '../../relay/peer.ts';

const USAGE = `firth — put data on IPFS and Filecoin

Usage:
  firth serve                       start the service (what npm start runs)
  firth invite create [--admin] [--code CODE]
                                    make an invite code; --admin: its account is an admin
  firth help

Configuration comes from FIRTH_* environment variables (see README.md).`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve();
      case 'invite':
        return await invite(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return 0;
      default:
        process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof FirthError) {
      process.stderr.write(`firth: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function serve(): Promise<number> {
  const node = await startFirth(loadConfig());
  const code = await new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      node.log.info({ signal }, 'shutting down');
      // A second signal, or a shutdown stuck for a minute, ends the process at once.
      process.once(signal, () => process.exit(130));
      setTimeout(() => {
        node.log.error('shutdown took over 60 s: exiting');
        process.exit(1);
      }, 60_000).unref();
      node.stop().then(
        () => resolve(0),
        (err) => {
          node.log.error({ err }, 'shutdown failed');
          resolve(1);
        }
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
  // Everything is closed; libraries may still hold timers, so leave now rather than wait for them.
  releaseNativeTransports();
  process.exit(code);
}

async function invite(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { admin: { type: 'boolean', default: false }, code: { type: 'string' } }
  });
  if (positionals[0] !== 'create') {
    process.stderr.write(`usage: firth invite create [--admin] [--code CODE]\n`);
    return 2;
  }
  const config = loadConfig();
  const database = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    const code = await createAccounts(database.db).createInvite({ code: values.code, admin: values.admin });
    process.stderr.write(
      `Invite created${values.admin ? ' (admin)' : ''}. Register at /register?invite=${code}\n`
    );
    process.stdout.write(code + '\n');
    return 0;
  } finally {
    await database.close();
  }
}
