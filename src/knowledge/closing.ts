/**
 * Thrown into a load that the knowledge base's closing interrupted: the
 * knowledge base's pause rejects with it once closing began, so long loads
 * and background embedding stop at their next slice.
 */
export class Closing extends Error {}
