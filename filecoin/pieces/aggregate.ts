// FRC-0058 aggregates of small contents, through @web3-storage/data-segment: where each content's
// CAR sits in the aggregate's payload, the index of segments at the end, and inclusion proofs.
import { Aggregate, Fr32, Inclusion, Piece, Segment, type PieceLink } from '@web3-storage/data-segment';

export interface AggregateMember {
  /** The member's own piece (v2 piece CID, bafkz…: carries its height and padding). */
  segmentPiece: PieceLink;
  /** Its CAR length in bytes. */
  payloadSize: number;
}

export interface AggregateLayout {
  /** v2 piece CID of the aggregate. */
  link: PieceLink;
  /** v1 piece CID (baga…) as deals carry it. */
  pieceCidV1: string;
  /** Padded piece size. */
  pieceSize: number;
  /** Unpadded payload length: the whole piece, since the index sits at its end. */
  payloadSize: number;
  /** Byte offset of each member's CAR within the payload, in member order (equal for members with the same piece). */
  offsets: number[];
  /** The index area's bytes as they appear in the payload, and where. */
  index: { offset: number; bytes: Uint8Array };
  /** CBOR inclusion proof for each member (hex), in member order. */
  proofs: string[];
}

/**
 * Lays out `members` (in order) in an aggregate of `pieceSize` padded bytes, or throws RangeError
 * when they do not fit. The payload built from this layout has exactly the aggregate's CommP.
 * Members with the same segment piece (the same content uploaded twice) share one segment: the
 * aggregate holds each piece once, and every member that carries it gets that segment's offset
 * and proof (looking a duplicate up by its piece CID can only ever find the first copy).
 */
export function layoutAggregate(members: AggregateMember[], pieceSize: number): AggregateLayout {
  const slotOf = new Map<string, number>();
  const unique: AggregateMember[] = [];
  const slots = members.map((m) => {
    const key = m.segmentPiece.toString();
    let slot = slotOf.get(key);
    if (slot == null) {
      slot = unique.length;
      slotOf.set(key, slot);
      unique.push(m);
    }
    return slot;
  });
  const pieces = unique.map((m) => Piece.fromLink(m.segmentPiece));
  const aggregate = Aggregate.build({ pieces, size: BigInt(pieceSize) as never });
  // Each distinct segment: its index entry number and its offset (in padded bytes).
  const segments = pieces.map((piece) => {
    const found = Aggregate.resolveSegment(aggregate as never, piece);
    if (found.error) throw found.error;
    return found.ok;
  });
  const segmentOffsets = segments.map(([, segment]) => Number((segment.offset * 127n) / 128n));
  // The index entries are Fr32-padded field elements in the tree; the payload holds them unpadded.
  const indexStart = Inclusion.indexAreaStart(BigInt(pieceSize) as never);
  const paddedIndex = new Uint8Array(Number(BigInt(pieceSize) - indexStart));
  for (const [n, segment] of segments) paddedIndex.set(Segment.toBytes(segment), n * 64);
  const segmentProofs = pieces.map((piece) => {
    const result = aggregate.resolveProof(Piece.toLink(piece));
    if (result.error) throw result.error;
    return Buffer.from(Inclusion.encode(result.ok)).toString('hex');
  });
  return {
    link: aggregate.link,
    pieceCidV1: aggregate.toInfo().link.toString(),
    pieceSize,
    payloadSize: (pieceSize * 127) / 128,
    offsets: slots.map((slot) => segmentOffsets[slot]!),
    index: { offset: Number((indexStart * 127n) / 128n), bytes: Fr32.unpad(paddedIndex) },
    proofs: slots.map((slot) => segmentProofs[slot]!)
  };
}

/** The smallest power-of-two aggregate (≥ `minSize`) that holds all members and the index. */
export function fitAggregate(members: AggregateMember[], minSize: number): AggregateLayout {
  const distinct = new Map(members.map((m) => [m.segmentPiece.toString(), m.segmentPiece]));
  const natural = [...distinct.values()].reduce((sum, link) => sum + Number(Piece.fromLink(link).size), 0);
  let size = Math.max(minSize, 256);
  while (size < natural) size *= 2;
  for (;;) {
    try {
      return layoutAggregate(members, size);
    } catch (err) {
      if (!(err instanceof RangeError) || size >= 2 ** 36) throw err;
      size *= 2;
    }
  }
}
