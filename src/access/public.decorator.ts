import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'keymeter:public';

/** Opts a route out of the global guard (deny by default). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
