/**
 * The playground's Vite config (`npm run web` serves it, `npm run web:build` writes web/dist).
 *
 * Offline by construction: onnxruntime-web's wasm binary and its loader are served from
 * node_modules at /ort/ in development and copied into dist/ort/ by the build; no CDN.
 * COOP/COEP headers make the page cross-origin isolated, so onnxruntime-web may use wasm threads.
 * The build writes a brotli (.br) and a gzip (.gz) copy of every compressible file (above all the
 * 28 MB ort wasm, 4.6 MB in brotli); `vite preview` serves them to browsers that accept them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const ortDist = path.resolve(here, '../node_modules/onnxruntime-web/dist');
/** The files the default onnxruntime-web bundle loads (wasm + WebGPU through JSEP). */
export const ORT_FILES = ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'];

function ortAssets(): Plugin {
  return {
    name: 'diffuse-ort-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = /^\/ort\/([\w.-]+)(?:\?.*)?$/.exec(req.url ?? '')?.[1];
        if (!name || !ORT_FILES.includes(name)) return next();
        res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
        fs.createReadStream(path.join(ortDist, name)).pipe(res);
      });
    },
    generateBundle() {
      for (const name of ORT_FILES) {
        const file = path.join(ortDist, name);
        if (!fs.existsSync(file)) this.error(`onnxruntime-web file ${file} is missing (run npm install)`);
        this.emitFile({ type: 'asset', fileName: `ort/${name}`, source: fs.readFileSync(file) });
      }
    },
  };
}

const COMPRESSIBLE = /\.(js|mjs|css|html|wasm|json|svg|md|bin|safetensors)$/;

const cacheDir = path.resolve(here, '../node_modules/.cache/diffuse-precompress');

/** Compressed bytes of large files by content hash (the 28 MB wasm is the same in every build). */
function cached(raw: Buffer, kind: string, make: () => Buffer): Buffer {
  if (raw.length < 1 << 20) return make();
  const file = path.join(cacheDir, `${crypto.createHash('sha256').update(raw).digest('hex')}.${kind}`);
  if (fs.existsSync(file)) return fs.readFileSync(file);
  const out = make();
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(`${file}.${process.pid}`, out);
  fs.renameSync(`${file}.${process.pid}`, file);
  return out;
}

/** Precompressed copies of the build's files (file.br, file.gz), written after the bundle. */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'diffuse-precompress',
    configResolved(config) { outDir = path.resolve(config.root, config.build.outDir); },
    async closeBundle() {
      const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
      for (const file of walk(outDir)) {
        if (!COMPRESSIBLE.test(file)) continue;
        const raw = fs.readFileSync(file);
        if (raw.length < 1024) continue;
        // Quality 9: within ~10% of the maximum (11) on the wasm, at a tenth of the time.
        const br = cached(raw, 'br', () => zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 9, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }));
        if (br.length < raw.length * 0.95) fs.writeFileSync(`${file}.br`, br);
        const gz = cached(raw, 'gz', () => zlib.gzipSync(raw, { level: 9 }));
        if (gz.length < raw.length * 0.95) fs.writeFileSync(`${file}.gz`, gz);
      }
    },
    configurePreviewServer(server) {
      const dist = path.resolve(server.config.root, server.config.build.outDir);
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? '').split('?')[0];
        const accept = String(req.headers['accept-encoding'] ?? '');
        if (req.method !== 'GET' || !COMPRESSIBLE.test(url)) return next();
        const rel = decodeURIComponent(url).replace(/^\/+/, '');
        const file = path.resolve(dist, rel);
        if (!file.startsWith(dist + path.sep)) return next();
        const enc = /\bbr\b/.test(accept) && fs.existsSync(`${file}.br`) ? 'br' : /\bgzip\b/.test(accept) && fs.existsSync(`${file}.gz`) ? 'gzip' : null;
        if (!enc) return next();
        const body = fs.readFileSync(`${file}.${enc === 'br' ? 'br' : 'gz'}`);
        res.setHeader('Content-Type', MIME[path.extname(file)] ?? 'application/octet-stream');
        res.setHeader('Content-Encoding', enc);
        res.setHeader('Content-Length', body.length);
        res.setHeader('Vary', 'Accept-Encoding');
        res.setHeader('Cache-Control', rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
        for (const [k, v] of Object.entries(isolation)) res.setHeader(k, v);
        res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
        res.end(body);
      });
    },
  };
}

const MIME: Record<string, string> = {
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.wasm': 'application/wasm',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.md': 'text/markdown; charset=utf-8', '.bin': 'application/octet-stream', '.safetensors': 'application/octet-stream',
};

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: here,
  base: './',
  plugins: [ortAssets(), precompress()],
  // The model worker imports onnxruntime-web and the toolkit: an ES-module worker, code-split like the page.
  worker: { format: 'es' },
  // onnxruntime-web's build that loads its wasm loader from env.wasm.wasmPaths (our /ort/) instead of
  // embedding it: one copy of the 28 MB binary, and wasm threads start from that loader, not our bundle.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  // onnxruntime-web locates its worker/wasm files relative to its own module: keep it out of the dep optimizer.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { headers: isolation, fs: { allow: [path.resolve(here, '..')] } },
  preview: { headers: isolation },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2048 },
});
