/**
 * Writes a one-layer OCI image archive (image-layout 1.0 in a tar) from a root filesystem folder,
 * the format `ctr images import` and `kubepeer local image import` take. No registry is reachable
 * from these machines, so every image a local node runs is made this way from what the machine has.
 *
 * The layer is an uncompressed tar made by GNU tar with fixed owners, order and times, so the same
 * folder always gives the same digest (and the node does not import a second copy).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, object>;
}

export interface OciImageSpec {
  /** Full reference, e.g. `kubepeer.local/busybox:1.35.0` (never `latest`: the kubelet would pull it). */
  ref: string;
  rootfs: string;
  config: ImageConfig;
}

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

function deterministicTar(cwd: string, out: string, entries: string[]): void {
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', cwd, '-cf', out, ...entries], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

function tagOf(ref: string): string {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) throw new Error(`image reference "${ref}" has no tag; give one (never "latest")`);
  const tag = ref.slice(colon + 1);
  if (tag === 'latest') throw new Error(`image reference "${ref}" uses "latest", which makes the kubelet try to pull it; give a version`);
  return tag;
}

/** Builds the archive at `outFile` (atomically); returns the manifest digest. */
export async function writeOciArchive(spec: OciImageSpec, outFile: string): Promise<string> {
  const tag = tagOf(spec.ref);
  mkdirSync(dirname(outFile), { recursive: true });
  const work = mkdtempSync(join(dirname(outFile), '.oci-'));
  try {
    const blobs = join(work, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const layerTmp = join(work, 'layer.tar');
    deterministicTar(spec.rootfs, layerTmp, ['.']);
    const layerDigest = await sha256File(layerTmp);
    const layerSize = statSync(layerTmp).size;
    renameSync(layerTmp, join(blobs, layerDigest));
    const blob = (json: unknown) => {
      const data = Buffer.from(JSON.stringify(json));
      const digest = createHash('sha256').update(data).digest('hex');
      writeFileSync(join(blobs, digest), data);
      return { digest: `sha256:${digest}`, size: data.length };
    };
    const config = blob({
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: spec.config,
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'kubepeer local image build' }],
    });
    const manifest = blob({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, ...config },
      layers: [{ mediaType: MEDIA.layer, digest: `sha256:${layerDigest}`, size: layerSize }],
    });
    writeFileSync(
      join(work, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.index,
        manifests: [
          {
            mediaType: MEDIA.manifest,
            ...manifest,
            platform: { architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux' },
            annotations: { 'io.containerd.image.name': spec.ref, 'org.opencontainers.image.ref.name': tag },
          },
        ],
      }),
    );
    writeFileSync(join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const tmpOut = `${outFile}.tmp`;
    deterministicTar(work, tmpOut, ['oci-layout', 'index.json', 'blobs']);
    renameSync(tmpOut, outFile);
    return manifest.digest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
