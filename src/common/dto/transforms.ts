/** class-transformer helper: trims strings and leaves anything else for the validators to refuse. */
export const trim = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim() : value;

/** class-transformer helper: trims strings in NFKC form (the one a comparison will use). */
export const trimNfkc = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.normalize('NFKC').trim() : value;
