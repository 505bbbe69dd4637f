/**
 * Gathers requests that arrive close together and serves them with one call: the requests made
 * in the current turn of the event loop, then those that arrive while a call is in flight. Up to
 * `maxCalls` calls at a time (default one); each request gets its own answer.
 */
interface Waiting<In, Out> {
  readonly input: In;
  resolve(output: Out): void;
  reject(error: unknown): void;
}

export class Batcher<In, Out> {
  #waiting: Waiting<In, Out>[] = [];
  #calls = 0;
  #scheduled = false;
  /** The keys of the requests in calls in flight. */
  readonly #busy = new Set<string>();

  /**
   * @param serve answers a batch, one output per input, in order; a rejection fails the whole batch
   * @param maxBatch at most this many inputs per call
   * @param keyOf inputs with the same key never share a call, nor are in two calls at once (a later
   *   one waits for the next call after the earlier one's)
   * @param maxCalls at most this many calls in flight; while fewer are, the requests of each turn
   *   go at once in a call of their own
   * @param groupOf waiting inputs of one group go in the same call, past `maxBatch` if need be (so
   *   the call that carries one carries those after it)
   */
  constructor(
    private readonly serve: (inputs: In[]) => Promise<readonly Out[]>,
    private readonly maxBatch: number,
    private readonly keyOf?: (input: In) => string,
    private readonly maxCalls = 1,
    private readonly groupOf?: (input: In) => string | undefined,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (this.#scheduled || this.#calls >= this.maxCalls) return;
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#start();
      });
    });
  }

  #start(): void {
    while (this.#calls < this.maxCalls && this.#waiting.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) return;
      void this.#call(batch);
    }
  }

  async #call(batch: Waiting<In, Out>[]): Promise<void> {
    this.#calls++;
    const keys = this.keyOf ? batch.map((w) => (this.keyOf as (input: In) => string)(w.input)) : [];
    for (const key of keys) this.#busy.add(key);
    try {
      const outputs = await this.serve(batch.map((w) => w.input));
      batch.forEach((w, i) => {
        w.resolve(outputs[i] as Out);
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
    } finally {
      for (const key of keys) this.#busy.delete(key);
      this.#calls--;
    }
    // The requests that arrived meanwhile go at once.
    this.#start();
  }

  #take(): Waiting<In, Out>[] {
    if (!this.keyOf && this.#waiting.length <= this.maxBatch) return this.#waiting.splice(0);
    const batch: Waiting<In, Out>[] = [];
    const rest: Waiting<In, Out>[] = [];
    const keys = new Set<string>();
    const groups = new Set<string>();
    for (const waiting of this.#waiting) {
      const key = this.keyOf?.(waiting.input);
      const group = this.groupOf?.(waiting.input);
      const room = batch.length < this.maxBatch || (group !== undefined && groups.has(group));
      if (room && (key === undefined || !(keys.has(key) || this.#busy.has(key)))) {
        if (key !== undefined) keys.add(key);
        if (group !== undefined) groups.add(group);
        batch.push(waiting);
      } else {
        rest.push(waiting);
      }
    }
    this.#waiting = rest;
    return batch;
  }
}
