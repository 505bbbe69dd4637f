/**
 * Child processes for crash tests: a TypeScript file run with tsx (which honours tsconfig paths,
 * so the child imports 'pachyderm' like the tests), read line by line, and killed with SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningChild {
  readonly process: ChildProcess;
  /**
   * Resolves once the child died by SIGKILL and every line it wrote was read. Rejects when it ended
   * any other way, left a partial line, or `onLine` threw.
   */
  readonly killed: Promise<{ readonly pid: number; readonly stderr: string }>;
}

/** Call at the top of a test file: children still running are killed after every test. */
export function useChildProcesses(): {
  start(script: string, args: readonly string[], onLine: (line: string) => void): RunningChild;
} {
  const running = new Set<ChildProcess>();
  const killAll = () => {
    for (const child of running) child.kill('SIGKILL');
    running.clear();
  };
  afterEach(killAll);
  afterAll(killAll);
  return {
    start(script, args, onLine) {
      const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      running.add(child);
      const killed = new Promise<{ pid: number; stderr: string }>((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        child.stdout?.setEncoding('utf8');
        child.stdout?.on('data', (chunk: string) => {
          stdout += chunk;
          const end = stdout.lastIndexOf('\n');
          if (end < 0) return;
          // Only whole lines: the children write a line with one synchronous write, so it is all there or absent.
          try {
            for (const line of stdout.slice(0, end).split('\n')) onLine(line);
          } catch (error) {
            reject(error);
          }
          stdout = stdout.slice(end + 1);
        });
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (chunk: string) => {
          stderr += chunk;
        });
        child.on('error', reject);
        // 'close' comes after the pipes are drained, so every line the child wrote has been read.
        child.on('close', (code, signal) => {
          running.delete(child);
          if (signal !== 'SIGKILL')
            reject(new Error(`the child ended by itself (code ${code}, signal ${signal}):\n${stderr}`));
          else if (stdout !== '') reject(new Error(`the child left a partial line: ${JSON.stringify(stdout)}`));
          else resolve({ pid: child.pid as number, stderr });
        });
      });
      return { process: child, killed };
    },
  };
}
