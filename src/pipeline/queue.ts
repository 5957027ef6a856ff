/**
 * A bounded FIFO between two asynchronous loops. `push` waits while the queue
 * is full, which is how back-pressure travels upstream; `shift` waits while
 * it is empty. `close` wakes every waiter: pushes then fail, shifts drain
 * what is left and then return `undefined`.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private readonly notFull: Array<() => void> = [];
  private readonly notEmpty: Array<() => void> = [];
  private closed = false;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new RangeError('capacity must be at least 1');
  }

  get length(): number {
    return this.items.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed) {
      await new Promise<void>((resolve) => this.notFull.push(resolve));
    }
    if (this.closed) throw new Error('queue is closed');
    this.items.push(item);
    this.notEmpty.shift()?.();
  }

  /** Push without waiting; false when full or closed. */
  tryPush(item: T): boolean {
    if (this.closed || this.items.length >= this.capacity) return false;
    this.items.push(item);
    this.notEmpty.shift()?.();
    return true;
  }

  async shift(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => this.notEmpty.push(resolve));
    }
    const item = this.items.shift() as T;
    this.notFull.shift()?.();
    return item;
  }

  close(): void {
    this.closed = true;
    for (const w of this.notEmpty.splice(0)) w();
    for (const w of this.notFull.splice(0)) w();
  }
}

/** A mutual-exclusion lock for async sections. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => {
      release = r;
    });
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
