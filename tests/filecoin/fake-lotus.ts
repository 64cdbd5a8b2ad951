// A lotus-gateway stand-in on loopback for the client layer's tests: answers the JSON-RPC methods
// the client uses from plain fields, words errors as Lotus does, and refuses StateWaitMsg as a
// gateway with clamped lookback would. Every call is one epoch.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as dagCbor from '@ipld/dag-cbor';
import { Message } from 'iso-filecoin/message';
import { FIL } from '../../filecoin/chain/escrow.ts';
import { chainCid } from '../../filecoin/wallet/index.ts';

export /** A lotus-gateway stand-in: state in plain fields the tests set. */
class FakeLotus {
  server!: Server;
  url = '';
  height = 100;
  nonce = 7;
  walletBalance = 100n * FIL;
  escrow = 0n;
  locked = 0n;
  pushed: Array<{ nonce: number; method: number; value: bigint; cid: string }> = [];
  rejectNextPush = false;
  landed = new Map<string, number>();
  calls: string[] = [];
  /** go-jsonrpc answers errors with 500; some proxies with 200. */
  errorStatus = 200;

  async start() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const { method, params, id } = JSON.parse(body) as { method: string; params: unknown[]; id: number };
        this.calls.push(method);
        let out: { result?: unknown; error?: { code: number; message: string } };
        try {
          out = { result: this.handle(method.replace(/^Filecoin\./, ''), params ?? []) };
        } catch (err) {
          out = { error: { code: 1, message: (err as Error).message } };
        }
        res
          .writeHead(out.error != null ? this.errorStatus : 200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', id, ...out }));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/rpc/v1`;
  }

  stop() {
    return new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  /** Every call is an epoch: messages pushed by earlier calls land in it. */
  tick() {
    this.height++;
    for (const p of this.pushed) {
      if (!this.landed.has(p.cid)) {
        this.landed.set(p.cid, this.height);
        if (p.method === 2) this.escrow += p.value;
      }
    }
  }

  handle(method: string, params: unknown[]): unknown {
    this.tick();
    switch (method) {
      case 'StateNetworkName':
        return 'calibrationnet';
      case 'ChainHead':
        return {
          Cids: [{ '/': 'bafy2bzacea' }],
          Blocks: [{ Timestamp: 1700000000, ParentBaseFee: '100' }],
          Height: this.height
        };
      case 'MpoolGetNonce':
        return this.nonce;
      case 'GasEstimateMessageGas':
        return { ...(params[0] as object), GasLimit: 1_000_000, GasFeeCap: '1000', GasPremium: '100' };
      case 'MpoolPush': {
        const { Message: m, Signature: s } = params[0] as {
          Message: Parameters<typeof Message.fromLotus>[0];
          Signature: { Type: number; Data: string };
        };
        if (this.rejectNextPush) {
          this.rejectNextPush = false;
          throw new Error(`minimum expected nonce is ${this.nonce + 1}: message nonce too low`);
        }
        const msg = Message.fromLotus(m);
        const sig = Uint8Array.from([s.Type, ...Buffer.from(s.Data, 'base64')]);
        const cid = chainCid(dagCbor.encode([dagCbor.decode(msg.serialize()), sig])).toString();
        this.pushed.push({ nonce: msg.nonce, method: msg.method, value: BigInt(msg.value), cid });
        return { '/': cid };
      }
      case 'StateSearchMsg': {
        const cid = (params[1] as { '/': string })['/'];
        const at = this.landed.get(cid);
        if (at == null) return null;
        return {
          Message: { '/': cid },
          Receipt: { ExitCode: 0, Return: null, GasUsed: 10 },
          TipSet: [],
          Height: at
        };
      }
      case 'StateWaitMsg':
        throw new Error('StateWaitMsg: lookback limit 20 exceeded (gateway)');
      case 'WalletBalance':
        return this.walletBalance.toString();
      case 'StateMarketBalance':
        return { Escrow: this.escrow.toString(), Locked: this.locked.toString() };
      case 'StateVerifiedClientStatus':
        return null;
      case 'StateMarketStorageDeal':
        if (params[0] === 404) {
          throw new Error(
            'deal 404 not found - deal may not have completed sealing before deal proposal start epoch, or deal may have been slashed'
          );
        }
        return {
          Proposal: {
            PieceCID: { '/': 'baga6ea4seaqae5ysjdbsr4b5jhotaz5ooh62jrrdbxwygfpkkfjz44kvywycmgy' },
            PieceSize: 524288,
            VerifiedDeal: false,
            Client: 't01001',
            Provider: 't01000',
            Label: 'x',
            StartEpoch: 10,
            EndEpoch: 20,
            StoragePricePerEpoch: '25',
            ProviderCollateral: '1000000',
            ClientCollateral: '0'
          },
          State: { SectorNumber: 9, SectorStartEpoch: -1, LastUpdatedEpoch: -1, SlashEpoch: -1 }
        };
      case 'StateMinerInfo':
        return {
          Owner: 't01001',
          Worker: 't01002',
          ControlAddresses: [],
          PeerId: '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf',
          // /ip4/127.0.0.1/tcp/4001 as Lotus sends it, and one that does not decode
          Multiaddrs: [Buffer.from('047f000001060fa1', 'hex').toString('base64'), 'AAAA'],
          SectorSize: 34359738368,
          WindowPoStPartitionSectors: 2349
        };
      default:
        throw new Error(`method ${method} not found`);
    }
  }
}
