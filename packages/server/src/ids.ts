import { v7 as uuidv7 } from 'uuid';

/** Public ids: random, time-ordered (UUIDv7), not enumerable. */
export const newId = (): string => uuidv7();
