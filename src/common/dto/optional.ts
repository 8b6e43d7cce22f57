import { ValidateIf } from 'class-validator';

/**
 * Like @IsOptional(), but only an absent field is skipped: null is validated (and refused) like
 * any other value instead of reaching the database as "set this to null".
 */
export const IsOptionalNotNull = () => ValidateIf((_, value) => value !== undefined);
