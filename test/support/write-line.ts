/**
 * One line to a child's stdout (or stderr) with one synchronous write, so that a line the parent
 * reads was written whole before the child did anything else. A pipe the parent has not drained
 * answers EAGAIN: the write is made again until the pipe takes it (a line is shorter than
 * PIPE_BUF, so it goes in whole or not at all).
 */
import { writeSync } from 'node:fs';

export function writeLine(fd: 1 | 2, text: string): void {
  for (;;) {
    try {
      writeSync(fd, text);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}
