/** Job ids we generate: 32 lowercase hex characters (the MVP's format). */
import { randomBytes } from 'node:crypto';
export const newJobId = (): string => randomBytes(16).toString('hex');
