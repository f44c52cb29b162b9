import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Training children (BullMQ sandboxes running workers/training-processor.ts) of process `parent`. */
export function trainingChildrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name in parentheses may hold spaces: the parent pid is the 2nd field after it.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parent) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('bullmq') && cmdline.includes('max-old-space-size')) pids.push(Number(entry));
    } catch {
      // exited while being read
    }
  }
  return pids;
}

/** Whether process `pid` exists (a zombie its parent has not reaped counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Whether process `pid` holds an established TCP connection to `port`. */
export function connectedTo(pid: number, port: number): boolean {
  const sockets = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' }))?.[1];
      if (inode) sockets.add(inode);
    }
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    for (const table of ['tcp', 'tcp6']) {
      for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
        // remote address:port, state (01 = established), …, inode
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[2]!.endsWith(`:${hex}`) && f[3] === '01' && sockets.has(f[9]!)) return true;
      }
    }
  } catch {
    // exited meanwhile
  }
  return false;
}
