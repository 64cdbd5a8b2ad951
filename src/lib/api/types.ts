/** JSON shapes of the service's API (Estuary's routes and field names, under `/api`). */

/** `perms` at or above this value make a user an admin (Estuary's `PermLevelAdmin`). */
export const PERM_ADMIN = 10;

export interface TokenResponse {
  token: string;
  /** ISO 8601 time at which the token stops working. */
  expiry: string;
}

export interface LoginRequest {
  username: string;
  password: string;
}

export interface RegisterRequest {
  username: string;
  password: string;
  inviteCode: string;
}

export interface ViewerSettings {
  replication?: number;
  verified?: boolean;
  dealDuration?: number;
  fileStagingThreshold?: number;
  contentAddingDisabled?: boolean;
  dealMakingDisabled?: boolean;
  uploadEndpoints?: string[];
  flags?: number;
}

export interface Viewer {
  id: number;
  username: string;
  perms: number;
  address?: string;
  miners?: string[];
  auth_expiry?: string;
  settings?: ViewerSettings;
}

export interface ContentItem {
  id: number;
  cid: string;
  name: string;
  size: number;
  createdAt: string;
  pinningStatus: string;
}

export interface ApiKey {
  /** Empty: keys are stored as hashes only. */
  token: string;
  tokenHash: string;
  label: string;
  expiry: string;
  isSession: boolean;
}

/** Go durations the service accepts for `expiry`; `false` means "never" (100 years). */
export type ApiKeyExpiry = '720h' | '8760h' | 'false';
export type ApiKeyPerms = 'upload' | 'all';

export interface CreateApiKeyRequest {
  label: string;
  expiry: ApiKeyExpiry;
  perms: ApiKeyPerms;
}

export interface Invite {
  code: string;
  createdBy: string | number | null;
  claimedBy: string | number | null;
  createdAt: string;
  admin?: boolean;
}

export interface CreateInviteRequest {
  code: string;
  /** Whoever registers with this invite becomes an admin. */
  admin: boolean;
}

export interface AdminUser {
  id: number;
  username: string;
  perms: number;
  spaceUsed: number;
  numFiles: number;
}
