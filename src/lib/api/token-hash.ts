/**
 * The service stores tokens as SHA-256 digests in base64url (Estuary's `token_hash`), and lists and revokes
 * keys by that hash. Hashing in the page lets it recognise its own session and end it without ever putting
 * the token itself in a URL. Null where WebCrypto is missing (an insecure origin).
 */
export async function hashToken(token: string): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) return null;
  const digest = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(token)));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
