/** `cluster-key-slot` (ioredis's own dependency): the Redis Cluster slot of a key, its hash tag honoured. */
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
