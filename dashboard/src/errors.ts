import { ApiError } from './api';

/** Whether an answer says the session is gone (401): the page goes back to sign-in. */
export function isSessionEnd(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
