/** A key as its account sees it. */
export class KeyDto {
  /** @example 6f1c2a4e-8b7d-4c39-9a51-0e2f3d4c5b6a */
  id!: string;
  /** @example my awesome key */
  name!: string;
  /** The key itself, or its masked form when KEY_STORAGE=hashed. */
  key!: string;
  isMaster!: boolean;
  isActive!: boolean;
  createdAt!: Date;
  updatedAt!: Date;
  /** Null until the key is first used. */
  lastUsedAt!: Date | null;
  /** Requests made with the key. */
  usageCount!: number;
  /** Bytes of request bodies sent with the key. */
  volume!: number;
  /** Only on a key that expires: from then on it is refused (401, code EXPIRED). */
  expiresAt?: Date;
  /** Only on a rolled key: the id of the key it was rolled into. */
  successorId?: string;
}

export class KeyListResponseDto {
  success!: true;
  keys!: KeyDto[];
  /**
   * Only when `limit` or `cursor` was sent: the `cursor` of the next page, or null on the last.
   */
  nextCursor?: string | null;
}

export class KeyResponseDto {
  success!: true;
  apiKey!: KeyDto;
}
