import os from 'node:os';
import { parseArgs } from 'node:util';
import { createAccounts } from '../accounts/accounts.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { FirthError, PortInUseError } from '../errors.ts';
import { startFirth } from '../firth.ts';
import { releaseNativeTransports } from '../../relay/peer.ts';
import { createLotusClient } from '../../filecoin/lotus/client.ts';
import {
  importWallet,
  networkOf,
  openWallet,
  WalletError,
  type WalletNetwork
} from '../../filecoin/wallet/index.ts';

const USAGE = `firth — put data on IPFS and Filecoin

Usage:
  firth serve                       start the service (what npm start runs)
  firth invite create [--admin] [--code CODE]
                                    make an invite code; --admin: its account is an admin
  firth wallet address              print the service's Filecoin wallet address
  firth wallet import <hex|-> [--force]
                                    use a Lotus key export (\`lotus wallet export\`, or - to
                                    read it from stdin) as the wallet; --force replaces a
                                    different existing key
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
      case 'wallet':
        return await wallet(rest);
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
    if (err instanceof ConfigError || err instanceof FirthError || err instanceof WalletError) {
      process.stderr.write(`firth: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function serve(): Promise<number> {
  let node: Awaited<ReturnType<typeof startFirth>>;
  try {
    node = await startFirth(loadConfig());
  } catch (err) {
    if (!(err instanceof PortInUseError)) throw err;
    // startFirth has stopped what it had started; libraries may still hold timers, so leave now.
    process.stderr.write(`firth: ${err.message}\n`);
    releaseNativeTransports();
    process.exit(1);
  }
  const code = await new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second SIGINT or SIGTERM while stopping: the operator wants out now.
        node.log.warn({ signal }, 'second signal while shutting down: exiting at once');
        process.exit(128 + os.constants.signals[signal]);
      }
      stopping = true;
      node.log.info({ signal }, 'shutting down');
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
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  // Everything is closed. The WebRTC library's native threads (and the UDP mux listeners it must
  // keep, relay/webrtc-native.ts) would hold the event loop open, so leave explicitly.
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

/** f-addresses on mainnet, t-addresses elsewhere: asks FIRTH_LOTUS_URL when set (the devnet is 't'). */
async function walletNetwork(config: ReturnType<typeof loadConfig>): Promise<WalletNetwork> {
  if (config.lotusUrl == null) return 'testnet';
  const lotus = createLotusClient({ url: config.lotusUrl, token: config.lotusToken, timeoutMs: 10_000 });
  try {
    return networkOf(await lotus.stateNetworkName());
  } catch (err) {
    process.stderr.write(
      `firth: could not ask ${config.lotusUrl} for the network (${(err as Error).message}); assuming mainnet\n`
    );
    return 'mainnet';
  }
}

async function wallet(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { force: { type: 'boolean', default: false } }
  });
  const config = loadConfig();
  if (positionals[0] === 'address' && positionals.length === 1) {
    const w = await openWallet({
      dataDir: config.dataDir,
      network: await walletNetwork(config),
      importKey: config.walletKey
    });
    process.stdout.write(w.address + '\n');
    return 0;
  }
  if (positionals[0] === 'import' && positionals.length === 2) {
    const { wallet: w, replaced } = await importWallet({
      dataDir: config.dataDir,
      // `-` reads the key from stdin, keeping it out of shell history and process listings.
      hex: positionals[1] === '-' ? await readStdin() : positionals[1]!,
      force: values.force,
      network: await walletNetwork(config)
    });
    process.stderr.write(replaced ? 'Wallet key replaced.\n' : 'Wallet key imported.\n');
    process.stdout.write(w.address + '\n');
    return 0;
  }
  process.stderr.write('usage: firth wallet address | firth wallet import <hex> [--force]\n');
  return 2;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}
