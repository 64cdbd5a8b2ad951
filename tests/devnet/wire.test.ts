// Upstream vectors (reference/filecoin.md §10) against the devnet's wire codecs.
import { describe, expect, it } from 'vitest';
import { CID } from 'multiformats/cid';
import { base64 } from 'multiformats/bases/base64';
import { accountFromPrivateKey } from 'iso-filecoin/wallet';
import { decodeBigInt, encodeBigInt } from '../../devnet/wire/big-int.ts';
import {
  decodeDealProposal,
  encodeDealProposal,
  proposalCid,
  signedProposalCid,
  type DealProposal
} from '../../devnet/wire/deal-proposal.ts';
import { decodeRlePlus, encodeRlePlus } from '../../devnet/wire/rle-plus.ts';
import { signBytes, signatureFromBytes, verifySignature } from '../../devnet/wire/signature.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

// iso-filecoin's test key (filecoin.md §10.1/§10.2).
const TEST_KEY = fromHex('b48d7017cb89b1e0b541d363dc26e9040542f06f7fa5f82d498b78c97949f946');

describe('devnet wire codecs', () => {
  it('encodes big ints as Filecoin does', () => {
    expect(hex(encodeBigInt(0n))).toBe('');
    expect(hex(encodeBigInt(10n))).toBe('000a');
    expect(hex(encodeBigInt(1_000_000_000_000_000_000n))).toBe('000de0b6b3a7640000');
    expect(decodeBigInt(encodeBigInt(-987654321987654321n))).toBe(-987654321987654321n);
  });

  it('reproduces the upstream DealProposal bytes (Zondax PSD params vector)', () => {
    const proposal: DealProposal = {
      pieceCid: CID.parse('baga6ea4seaqgxbvsop7tj7hbtvvyatx7li7vor5nutvkely5jhab4uw5w6dvwsy'),
      pieceSize: 2048,
      verifiedDeal: false,
      client: 't0104',
      provider: 't0102',
      label: 'label',
      startEpoch: 10,
      endEpoch: 576010,
      storagePricePerEpoch: 10n,
      providerCollateral: 10n,
      clientCollateral: 10n
    };
    const bytes = encodeDealProposal(proposal);
    expect(hex(bytes)).toBe(
      '8bd82a5828000181e2039220206b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b190800f4420068420066656c6162656c0a1a0008ca0a42000a42000a42000a'
    );
    expect(proposalCid(proposal).toString()).toBe(
      'bafy2bzaced5zqmkdq7o46tkhomegy7irekcpvsmnchdr4lqjzira6awn6kg4u'
    );
    expect(decodeDealProposal(bytes)).toEqual(proposal);
  });

  it('signs a DealProposal as Lotus does and derives both proposal CIDs (§10.2)', async () => {
    const account = accountFromPrivateKey(TEST_KEY, 'SECP256K1', 'mainnet');
    expect(account.address.toString()).toBe('f17dyptywvmnldq2fsm6j226txnltf4aiwsi3vlka');
    const proposal: DealProposal = {
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
    const bytes = encodeDealProposal(proposal);
    expect(hex(bytes)).toBe(
      '8bd82a5828000181e20392202002771248c328f03d49dd3067ae71fda4c6230ded8315ea51539e7155c5b0261b1a00080000f45501f8f0f9e2d563563868b26793ad7a776ae65e01164300e807783e6261666b32627a616365616e756c7872726a6a6563356536723776736b6236637167756568327736626e6765366a613575336c61376179676a697a776b751a000186a01a00096fa042001944000f424040'
    );
    expect(proposalCid(proposal).toString()).toBe(
      'bafy2bzaceavhcr76ay4q7nfsuhsiwvi6nlrawyxzacih4rbqtjrjvp5ynjwbq'
    );
    const signature = signBytes(TEST_KEY, 'SECP256K1', bytes);
    expect(hex(signature)).toBe(
      '0171705bc6019c8a9b64ebac16a17ebbf75cb2907e860ede8a2cbfbee843a5b2a550aa8ba67548e14e1602a45e5cab3f40957e8d3bec6247e078c10841bc09bca700'
    );
    expect(verifySignature(signatureFromBytes(signature), bytes, proposal.client)).toBe(true);
    expect(verifySignature(signatureFromBytes(signature), bytes.subarray(1), proposal.client)).toBe(false);
    const cid = await signedProposalCid({ proposal, clientSignature: signature });
    expect(cid.toString()).toBe('bafyreibcxpesa4xs6mostsj23c5uzemlgbpkt6cdvqrctna4ffjfopqbau');
  });

  it('signs raw bytes like Lotus (iso-filecoin "sign/verify bytes with secp")', () => {
    const key = base64.baseDecode('LzjsZEXCy6tDWAxcFiu76IRQwHkohWvsVK1T+2Q5NfY=');
    const signature = signBytes(key, 'SECP256K1', new TextEncoder().encode('hello'));
    expect(hex(signature)).toBe(
      '015322ea74a2985bb1a91be635bad133b4505b566b7aed97276ece9a26bab344340e0b602cf68ca9259766d81ad9d4bfe15a0d5efa2398cab1c18b1f160dd8682600'
    );
    expect(
      verifySignature(
        signatureFromBytes(signature),
        new TextEncoder().encode('hello'),
        'f1drv36h2ldc4xzhjfiwicxsq6rgkl6z5vhit2roq'
      )
    ).toBe(true);
  });

  it('verifies BLS signatures against the f3 key', () => {
    const bls = accountFromPrivateKey(TEST_KEY.slice().reverse(), 'BLS', 'testnet');
    const data = new TextEncoder().encode('publish');
    const signature = signBytes(bls.privateKey, 'BLS', data);
    expect(verifySignature(signatureFromBytes(signature), data, bls.address.toString())).toBe(true);
    expect(verifySignature(signatureFromBytes(signature), new Uint8Array([1]), bls.address.toString())).toBe(
      false
    );
  });

  it('encodes RLE+ bitfields like go-bitfield (reference encoding)', () => {
    const set = [0, 2, 4, 5, 6, ...Array.from({ length: 17 }, (_, i) => 11 + i)];
    expect([...encodeRlePlus(set)]).toEqual([124, 71, 34, 2]);
    expect(decodeRlePlus(Uint8Array.from([124, 71, 34, 2]))).toEqual(set);
    for (const sample of [
      [],
      [3],
      [0],
      [1, 2, 3, 40, 41, 1000],
      Array.from({ length: 300 }, (_, i) => i * 2)
    ]) {
      expect(decodeRlePlus(encodeRlePlus(sample))).toEqual(sample);
    }
  });
});
