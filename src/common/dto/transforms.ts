/** class-transformer helper: trims strings and leaves anything else for the validators to refuse. */
export const trim = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim() : value;
