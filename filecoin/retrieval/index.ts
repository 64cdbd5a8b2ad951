// Case B retrieval from Filecoin storage providers: see retriever.ts.
export { createRetriever, RetrievalFailedError } from './retriever.ts';
export type { Retriever, RetrieverInit, RetrievalResult, KnownContent } from './retriever.ts';
export { retrievalStats, type RetrievalStats } from './stats.ts';
export { findCandidates, lookupIpni, multiaddrToHttpUrl, type Candidate } from './candidates.ts';
export { blockKey, linksOf, localDag, verifyBlock, BlockVerificationError } from './dag.ts';
export { recordOffloadedBlocks, clearOffloadedBlocks, offloadedContentOf } from './block-index.ts';
export { createWantTrigger } from './wants.ts';
export type { BitswapFetcher } from './retriever.ts';
