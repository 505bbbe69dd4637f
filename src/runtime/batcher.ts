/**
 * Gathers requests that arrive close together and serves them with one call: the requests made
 * in the current turn of the event loop, then those that arrive while a call is in flight. One
 * call at a time; each request gets its own answer.
 */
interface Waiting<In, Out> {
  readonly input: In;
  resolve(output: Out): void;
  reject(error: unknown): void;
}

export class Batcher<In, Out> {
  #waiting: Waiting<In, Out>[] = [];
  #flushing = false;

  /**
   * @param serve answers a batch, one output per input, in order; a rejection fails the whole batch
   * @param maxBatch at most this many inputs per call
   * @param keyOf inputs with the same key never share a call (a later one waits for the next)
   */
  constructor(
    private readonly serve: (inputs: In[]) => Promise<readonly Out[]>,
    private readonly maxBatch: number,
    private readonly keyOf?: (input: In) => string,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = this.#take();
      try {
        const outputs = await this.serve(batch.map((w) => w.input));
        batch.forEach((w, i) => {
          w.resolve(outputs[i] as Out);
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.#flushing = false;
  }

  #take(): Waiting<In, Out>[] {
    if (!this.keyOf && this.#waiting.length <= this.maxBatch) return this.#waiting.splice(0);
    const batch: Waiting<In, Out>[] = [];
    const rest: Waiting<In, Out>[] = [];
    const keys = new Set<string>();
    for (const waiting of this.#waiting) {
      const key = this.keyOf?.(waiting.input);
      if (batch.length < this.maxBatch && (key === undefined || !keys.has(key))) {
        if (key !== undefined) keys.add(key);
        batch.push(waiting);
      } else {
        rest.push(waiting);
      }
    }
    this.#waiting = rest;
    return batch;
  }
}
