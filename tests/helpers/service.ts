import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../server/config.ts';
import { startFirth, type FirthNode } from '../../server/firth.ts';

export interface TestService {
  /** e.g. http://127.0.0.1:PORT: the built app at / and the API at /api. */
  apiUrl: string;
  /** The public gateway's own origin, e.g. http://127.0.0.1:PORT. */
  gatewayUrl: string;
  adminInvite: string;
  dataDir: string;
  node: FirthNode;
  stop(): Promise<void>;
}

/**
 * Starts the real service in this process on free ports with a temporary data dir (and, when
 * given, a PostgreSQL database). `stop()` shuts it down and removes the data dir.
 */
export async function startTestService(
  opts: { databaseUrl?: string; env?: Record<string, string>; dataDir?: string; keepDataDir?: boolean } = {}
): Promise<TestService> {
  const dataDir = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'firth-test-')));
  const config = loadConfig({
    FIRTH_DATA_DIR: dataDir,
    FIRTH_PORT: '0',
    FIRTH_GATEWAY_PORT: '0',
    FIRTH_P2P_PORT: '0',
    FIRTH_LOG_LEVEL: process.env.FIRTH_TEST_LOG_LEVEL ?? 'warn',
    FIRTH_DATABASE_URL: opts.databaseUrl ?? '',
    // No in-process Filecoin devnet unless a test or bench asks for one (FIRTH_DEVNET: 'on').
    FIRTH_DEVNET: 'off',
    ...opts.env
  });
  const node = await startFirth(config);
  return {
    apiUrl: node.apiUrl,
    gatewayUrl: node.gatewayUrl,
    adminInvite: node.firstAdminInvite ?? '',
    dataDir,
    node,
    async stop() {
      await node.stop();
      if (opts.keepDataDir !== true) await fs.rm(dataDir, { recursive: true, force: true });
    }
  };
}

/** Registers a user with an invite and returns a full API key for it. */
export async function registerUser(
  apiUrl: string,
  invite: string,
  username: string,
  password = 'correct horse battery staple'
): Promise<{ session: string; apiKey: string }> {
  const reg = await fetch(`${apiUrl}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, inviteCode: invite })
  });
  if (reg.status !== 200) throw new Error(`register failed: ${reg.status} ${await reg.text()}`);
  const { token: session } = (await reg.json()) as { token: string };
  const key = await fetch(`${apiUrl}/api/user/api-keys?label=test`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session}` }
  });
  if (key.status !== 200) throw new Error(`api key failed: ${key.status} ${await key.text()}`);
  const { token: apiKey } = (await key.json()) as { token: string };
  return { session, apiKey };
}
