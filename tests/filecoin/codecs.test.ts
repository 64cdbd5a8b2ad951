// The client layer's codecs against the vectors of reference/filecoin.md §10.1 (upstream) and §10.2
// (computed independently when the reference was written): DealProposal and ClientDealProposal
// bytes, both proposal CIDs, DealParams, DealResponse, DealStatusRequest, the AddBalance message and
// its signature, and the wallet's Lotus key import.
import { describe, expect, it } from 'vitest';
import * as dagCbor from '@ipld/dag-cbor';
import { Message } from 'iso-filecoin/message';
import { CID } from 'multiformats/cid';
import {
  decodeAskResponse,
  decodeBigInt,
  decodeClientDealProposal,
  decodeDealParams,
  decodeDealProposal,
  decodeDealResponse,
  decodeDealStatusResponse,
  encodeAskResponse,
  encodeBigInt,
  encodeClientDealProposal,
  encodeDealParams,
  encodeDealProposal,
  encodeDealResponse,
  encodeDealStatusRequest,
  httpTransferParams,
  proposalCid,
  signedProposalCid,
  uuidFromBytes,
  uuidToBytes,
  type DealProposal
} from '../../filecoin/boost/cbor.ts';
import { buildProposal, signProposal } from '../../filecoin/boost/client.ts';
import { addBalanceParams, marketActor } from '../../filecoin/chain/escrow.ts';
import { walletFromLotusExport } from '../../filecoin/wallet/index.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const lotusExport = (skHex: string) =>
  Buffer.from(
    JSON.stringify({ Type: 'secp256k1', PrivateKey: Buffer.from(skHex, 'hex').toString('base64') })
  ).toString('hex');

// §10.2 key: the iso-filecoin test key.
const key = walletFromLotusExport(
  lotusExport('b48d7017cb89b1e0b541d363dc26e9040542f06f7fa5f82d498b78c97949f946'),
  'mainnet'
);

const vectorProposal: DealProposal = {
  pieceCid: CID.parse('baga6ea4seaqae5ysjdbsr4b5jhotaz5ooh62jrrdbxwygfpkkfjz44kvywycmgy'),
  pieceSize: 524288,
  verifiedDeal: false,
  client: 'f17dyptywvmnldq2fsm6j226txnltf4aiwsi3vlka',
  provider: 'f01000',
  label: 'bafk2bzaceanulxrrjjec5e6r7vskb6cqgueh2w6bnge6ja5u3la7aygjizwku',
  startEpoch: 100000,
  endEpoch: 618400,
  storagePricePerEpoch: 25n,
  providerCollateral: 1000000n,
  clientCollateral: 0n
};
const PROPOSAL_HEX =
  '8bd82a5828000181e20392202002771248c328f03d49dd3067ae71fda4c6230ded8315ea51539e7155c5b0261b1a00080000f45501f8f0f9e2d563563868b26793ad7a776ae65e01164300e807783e6261666b32627a616365616e756c7872726a6a6563356536723776736b6236637167756568327736626e6765366a613575336c61376179676a697a776b751a000186a01a00096fa042001944000f424040';
const PROPOSAL_SIG =
  '71705bc6019c8a9b64ebac16a17ebbf75cb2907e860ede8a2cbfbee843a5b2a550aa8ba67548e14e1602a45e5cab3f40957e8d3bec6247e078c10841bc09bca700';
const UUID = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

describe('Filecoin primitives', () => {
  it('encodes big ints with a sign byte, zero as empty bytes', () => {
    expect(hex(encodeBigInt(0n))).toBe('');
    expect(hex(encodeBigInt(10n))).toBe('000a');
    expect(hex(encodeBigInt(1000000n))).toBe('000f4240');
    expect(hex(encodeBigInt(-256n))).toBe('010100');
    expect(hex(encodeBigInt(10n ** 18n))).toBe('000de0b6b3a7640000');
    for (const v of [0n, 1n, 255n, 256n, -1n, 10n ** 30n]) expect(decodeBigInt(encodeBigInt(v))).toBe(v);
  });

  it('round-trips UUIDs through their 16 bytes', () => {
    expect(hex(uuidToBytes(UUID))).toBe('6ba7b8109dad11d180b400c04fd430c8');
    expect(uuidFromBytes(uuidToBytes(UUID))).toBe(UUID);
  });
});

describe('DealProposal (§10.1 upstream vector)', () => {
  const p: DealProposal = {
    pieceCid: CID.parse('baga6ea4seaqgxbvsop7tj7hbtvvyatx7li7vor5nutvkely5jhab4uw5w6dvwsy'),
    pieceSize: 2048,
    verifiedDeal: false,
    client: 'f0104',
    provider: 'f0102',
    label: 'label',
    startEpoch: 10,
    endEpoch: 576010,
    storagePricePerEpoch: 10n,
    providerCollateral: 10n,
    clientCollateral: 10n
  };
  const bytes =
    '8bd82a5828000181e2039220206b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b190800f4420068420066656c6162656c0a1a0008ca0a42000a42000a42000a';

  it('encodes byte-exact, and its blake2b CID', () => {
    expect(hex(encodeDealProposal(p))).toBe(bytes);
    expect(proposalCid(p).toString()).toBe('bafy2bzaced5zqmkdq7o46tkhomegy7irekcpvsmnchdr4lqjzira6awn6kg4u');
  });

  it('decodes back to the same fields', () => {
    const d = decodeDealProposal(unhex(bytes));
    expect(d.pieceCid.toString()).toBe(p.pieceCid.toString());
    expect({ ...d, pieceCid: undefined, client: 'f0104', provider: 'f0102' }).toEqual({
      ...p,
      pieceCid: undefined
    });
    expect(d.client).toBe('t0104');
  });
});

describe('ClientDealProposal and DealParams (§10.2 vectors)', () => {
  it('the wallet key is the reference key', () => {
    expect(key.address).toBe('f17dyptywvmnldq2fsm6j226txnltf4aiwsi3vlka');
  });

  it('encodes the proposal, signs it and names it as the reference does', async () => {
    expect(hex(encodeDealProposal(vectorProposal))).toBe(PROPOSAL_HEX);
    expect(proposalCid(vectorProposal).toString()).toBe(
      'bafy2bzaceavhcr76ay4q7nfsuhsiwvi6nlrawyxzacih4rbqtjrjvp5ynjwbq'
    );
    const signed = await signProposal(key, vectorProposal);
    expect(hex(signed.clientDealProposal.signature)).toBe('01' + PROPOSAL_SIG);
    expect(hex(signed.bytes)).toBe('82' + PROPOSAL_HEX + '584201' + PROPOSAL_SIG);
    expect(hex(encodeClientDealProposal(signed.clientDealProposal))).toBe(hex(signed.bytes));
    expect(signed.signedProposalCid).toBe('bafyreibcxpesa4xs6mostsj23c5uzemlgbpkt6cdvqrctna4ffjfopqbau');
    expect((await signedProposalCid(signed.clientDealProposal)).toString()).toBe(signed.signedProposalCid);
    expect(signed.proposalCid).toBe('bafy2bzaceavhcr76ay4q7nfsuhsiwvi6nlrawyxzacih4rbqtjrjvp5ynjwbq');
    const back = decodeClientDealProposal(signed.bytes);
    expect(hex(encodeDealProposal(back.proposal))).toBe(PROPOSAL_HEX);
  });

  it('buildProposal gives the same proposal and checks its inputs', () => {
    const input = {
      pieceCid: vectorProposal.pieceCid.toString(),
      pieceSize: 524288,
      verified: false,
      client: vectorProposal.client,
      provider: 'f01000',
      label: vectorProposal.label as string,
      startEpoch: 100000,
      endEpoch: 618400,
      pricePerEpoch: 25n,
      providerCollateral: 1000000n
    };
    expect(hex(encodeDealProposal(buildProposal(input)))).toBe(PROPOSAL_HEX);
    expect(() => buildProposal({ ...input, pieceSize: 1000 })).toThrow(/power of two/);
    expect(() => buildProposal({ ...input, endEpoch: 100000 })).toThrow(/EndEpoch/);
    expect(() =>
      buildProposal({ ...input, pieceCid: 'bafk2bzaceanulxrrjjec5e6r7vskb6cqgueh2w6bnge6ja5u3la7aygjizwku' })
    ).toThrow(/not a piece CID/);
  });

  it('encodes DealParams 1.2.1 with the reference prefix, and 1.2.0 without the new keys', async () => {
    const signed = await signProposal(key, vectorProposal);
    const params = {
      dealUuid: uuidToBytes(UUID),
      isOffline: false,
      clientDealProposal: signed.clientDealProposal,
      dealDataRoot: CID.parse('bafk2bzaceanulxrrjjec5e6r7vskb6cqgueh2w6bnge6ja5u3la7aygjizwku'),
      transfer: {
        type: 'http',
        size: 392375,
        params: httpTransferParams('http://127.0.0.1:8080/cat.png.car', { Authorization: 'Bearer secret' }),
        clientId: ''
      },
      removeUnsealedCopy: false,
      skipIpniAnnounce: false
    };
    expect(new TextDecoder().decode(params.transfer.params)).toBe(
      '{"URL":"http://127.0.0.1:8080/cat.png.car","Headers":{"Authorization":"Bearer secret"}}'
    );
    const v121 = encodeDealParams(params);
    expect(
      hex(v121).startsWith(
        'a7684465616c55554944506ba7b8109dad11d180b400c04fd430c8685472616e73666572a46453697a651a0005fcb7'
      )
    ).toBe(true);
    // The signed proposal is carried byte for byte.
    expect(hex(v121)).toContain(hex(signed.bytes));
    const decoded = decodeDealParams(v121);
    expect(uuidFromBytes(decoded.dealUuid)).toBe(UUID);
    expect(decoded.transfer).toEqual(params.transfer);
    expect(decoded.dealDataRoot.toString()).toBe(params.dealDataRoot.toString());
    expect(hex(encodeDealParams(decoded))).toBe(hex(v121));

    const v120 = encodeDealParams(params, '1.2.0');
    expect(v120[0]).toBe(0xa5);
    const raw = dagCbor.decode(v120) as Record<string, unknown>;
    expect(Object.keys(raw).sort()).toEqual([
      'ClientDealProposal',
      'DealDataRoot',
      'DealUUID',
      'IsOffline',
      'Transfer'
    ]);
  });

  it('DealResponse matches the reference bytes', () => {
    expect(hex(encodeDealResponse({ accepted: true, message: '' }))).toBe(
      'a2674d65737361676560684163636570746564f5'
    );
    expect(decodeDealResponse(unhex('a2674d65737361676560684163636570746564f5'))).toEqual({
      accepted: true,
      message: ''
    });
    const rejected = encodeDealResponse({ accepted: false, message: 'failed validation: bad price' });
    expect(decodeDealResponse(rejected)).toEqual({
      accepted: false,
      message: 'failed validation: bad price'
    });
  });

  it('DealStatusRequest carries the wallet signature over the 16 UUID bytes', () => {
    const uuid = uuidToBytes(UUID);
    expect(hex(encodeDealStatusRequest({ dealUuid: uuid, signature: key.sign(uuid) }))).toBe(
      'a2684465616c55554944506ba7b8109dad11d180b400c04fd430c8695369676e6174757265584201d3e16108cd6619b57befecc8bf39f6f5bffb54bb489791768e8f4f9fe7d285764e872c4a3ce167bb2757bf0c4d9cb2bbb650fbcff998abba7726e33af1b48b8c00'
    );
  });

  it('decodes a DealStatusResponse, error-only and full', async () => {
    const uuid = uuidToBytes(UUID);
    const errorOnly = dagCbor.encode({
      Error: `no storage deal found with deal UUID ${UUID}`,
      DealUUID: uuid,
      IsOffline: false,
      DealStatus: null,
      TransferSize: 0,
      NBytesReceived: 0
    });
    expect(decodeDealStatusResponse(errorOnly)).toMatchObject({
      dealUuid: UUID,
      dealStatus: null,
      error: expect.stringMatching(/no storage deal found/)
    });

    const signed = await signProposal(key, vectorProposal);
    const publish = CID.parse('bafy2bzaceb5y7prrinwgcrgjqle3ztjygs2zhajv72rj5mcdabao76dlt33da');
    const full = dagCbor.encode({
      Error: '',
      DealUUID: uuid,
      IsOffline: false,
      DealStatus: {
        Error: '',
        Status: 'PublishConfirmed',
        Proposal: dagCbor.decode(encodeDealProposal(vectorProposal)),
        PublishCid: publish,
        ChainDealID: 42,
        SealingStatus: 'Sealing',
        SignedProposalCid: CID.parse(signed.signedProposalCid)
      },
      TransferSize: 392375,
      NBytesReceived: 392375
    });
    const s = decodeDealStatusResponse(full);
    expect(s.dealStatus?.status).toBe('PublishConfirmed');
    expect(s.dealStatus?.chainDealId).toBe(42);
    expect(s.dealStatus?.publishCid?.toString()).toBe(publish.toString());
    expect(hex(encodeDealProposal(s.dealStatus!.proposal))).toBe(PROPOSAL_HEX);
    expect(s.nBytesReceived).toBe(392375);
  });

  it('round-trips a signed ask', () => {
    const ask = {
      miner: 't01000',
      price: 50_000_000n,
      verifiedPrice: 5_000_000n,
      minPieceSize: 256,
      maxPieceSize: 34359738368,
      timestamp: 10,
      expiry: 1_000_010,
      seqNo: 0
    };
    const bytes = encodeAskResponse({ ask, signature: unhex('01' + PROPOSAL_SIG) });
    expect(decodeAskResponse(bytes)).toEqual({ ask, signature: unhex('01' + PROPOSAL_SIG) });
    expect(decodeAskResponse(encodeAskResponse(null))).toBeNull();
  });
});

describe('AddBalance message (§10.2 vector)', () => {
  it('serialises, signs and names the message as the reference', () => {
    const params = addBalanceParams(key.address);
    expect(hex(params)).toBe('5501f8f0f9e2d563563868b26793ad7a776ae65e0116');
    expect(marketActor(key.address)).toBe('f05');
    expect(marketActor('t1abc')).toBe('t05');
    const message = new Message({
      version: 0,
      to: 'f05',
      from: key.address,
      nonce: 0,
      value: (10n ** 18n).toString(),
      gasLimit: 5_000_000,
      gasFeeCap: '150000',
      gasPremium: '100000',
      method: 2,
      params: Buffer.from(params).toString('base64')
    });
    expect(hex(message.serialize())).toBe(
      '8a004200055501f8f0f9e2d563563868b26793ad7a776ae65e01160049000de0b6b3a76400001a004c4b4044000249f044000186a002565501f8f0f9e2d563563868b26793ad7a776ae65e0116'
    );
    const signed = key.signMessage(message);
    expect(signed.cid).toBe('bafy2bzaceb5y7prrinwgcrgjqle3ztjygs2zhajv72rj5mcdabao76dlt33da');
    expect(signed.lotus.Signature).toEqual({
      Type: 1,
      Data: '7EbUlylCNj+VCgYhf5r4pAMKDyrIU5NC8cmiz0VbjX08BxAuruPIl1QhO2e7k+dCN+shaDLRRDJe5ejDYUmcsAE='
    });
    expect(signed.signedCid).toBe('bafy2bzaceb5oymup3cj3jgxqckzjwet2cr74bi5ycykmibemrblappwuxqbfo');
    expect(signed.lotus.Message).toMatchObject({
      To: 'f05',
      Method: 2,
      Params: 'VQH48Pni1WNWOGiyZ5Otendq5l4BFg=='
    });
  });

  it('names the Lotus test message as Lotus does (§10.1)', () => {
    const m = new Message({
      version: 0,
      to: 'f04',
      from: 'f00',
      nonce: 34,
      value: '0',
      gasLimit: 123,
      gasFeeCap: '234',
      gasPremium: '234',
      method: 6,
      params: Buffer.from('hai').toString('base64')
    });
    expect(hex(m.serialize())).toBe('8a00420004420000182240187b4200ea4200ea0643686169');
  });
});

describe('wallet import (§10.1)', () => {
  const HEX =
    '7b2254797065223a22736563703235366b31222c22507269766174654b6579223a224c7a6a735a4558437936744457417863466975373649525177486b6f68577673564b31542b3251354e66593d227d';

  it('imports the Lotus key export and signs bytes as Lotus does', () => {
    const w = walletFromLotusExport(HEX, 'mainnet');
    expect(w.address).toBe('f1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');
    expect(walletFromLotusExport(HEX).address).toBe('t1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');
    expect(w.forNetwork('testnet').address).toBe('t1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq');
    expect(hex(w.sign(new TextEncoder().encode('hello')))).toBe(
      '015322ea74a2985bb1a91be635bad133b4505b566b7aed97276ece9a26bab344340e0b602cf68ca9259766d81ad9d4bfe15a0d5efa2398cab1c18b1f160dd8682600'
    );
  });

  it('never exposes the key through the wallet object', () => {
    const w = walletFromLotusExport(HEX, 'mainnet');
    const seen = JSON.stringify(w) + Object.keys(w).join() + JSON.stringify(Object.getOwnPropertyNames(w));
    expect(seen).not.toContain('LzjsZE');
    expect(seen).not.toContain('2f38ec64');
    expect(JSON.stringify(w)).toBe(
      '{"address":"f1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq","type":"secp256k1"}'
    );
  });

  it('rejects what is not a key export', () => {
    expect(() => walletFromLotusExport('zz')).toThrow(/Lotus key export/);
    expect(() => walletFromLotusExport(Buffer.from('{"Type":"x"}').toString('hex'))).toThrow(
      /Lotus key export/
    );
  });
});
