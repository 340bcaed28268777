/**
 * The playground's Vite config (`npm run web` serves it, `npm run web:build` writes web/dist).
 *
 * Offline by construction: onnxruntime-web's wasm binary and its loader are served from
 * node_modules at /ort/ in development and copied into dist/ort/ by the build; no CDN.
 * COOP/COEP headers make the page cross-origin isolated, so onnxruntime-web may use wasm threads.
 */
import fs from 'node:fs';
import path from 'node:path';
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

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: here,
  base: './',
  plugins: [ortAssets()],
  // onnxruntime-web's build that loads its wasm loader from env.wasm.wasmPaths (our /ort/) instead of
  // embedding it: one copy of the 28 MB binary, and wasm threads start from that loader, not our bundle.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  // onnxruntime-web locates its worker/wasm files relative to its own module: keep it out of the dep optimizer.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { headers: isolation, fs: { allow: [path.resolve(here, '..')] } },
  preview: { headers: isolation },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2048 },
});
