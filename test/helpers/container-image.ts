/**
 * A minimal local container image for tests, built without any registry: the host's node binary and
 * the libraries it links, an /etc/passwd with a non-root `agent` (1000:1000), imported with
 * `podman import`. Returns the image name, or why it cannot be built here.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PODMAN_GLOBALS = ['--runtime', 'runc', '--events-backend', 'none'];

export function podman(args: string[], timeout = 120_000): string {
  return execFileSync('podman', [...PODMAN_GLOBALS, ...args], { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function ensureNodeImage(): { image: string } | { reason: string } {
  const image = `localhost/orch-test-node:${process.versions.node}`;
  try {
    podman(['--version']);
  } catch (err) {
    return { reason: `podman is not available (${(err as Error).message.split('\n')[0]}); install the podman package` };
  }
  try {
    podman(['image', 'exists', image]);
    return { image };
  } catch {
    // not built yet
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-rootfs-'));
  try {
    const root = path.join(dir, 'rootfs');
    const copy = (src: string, dest = src): void => {
      mkdirSync(path.join(root, path.dirname(dest)), { recursive: true });
      copyFileSync(src, path.join(root, dest));
    };
    copy(process.execPath, '/usr/local/bin/node');
    const libs = execFileSync('ldd', [process.execPath], { encoding: 'utf8' }).match(/\/[^\s)]+/g) ?? [];
    for (const lib of libs) copy(lib);
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/false\nagent:x:1000:1000::/tmp:/bin/false\n');
    writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nagent:x:1000:\n');
    const tar = path.join(dir, 'rootfs.tar');
    execFileSync('tar', ['-C', root, '-cf', tar, '.']);
    podman(['import', tar, image]);
    podman(['run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', '--network', 'none', image, 'node', '-e', '0']);
    return { image };
  } catch (err) {
    return { reason: `cannot build or run a local image with podman here: ${String((err as { stderr?: string }).stderr || (err as Error).message).trim().slice(0, 300)}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
