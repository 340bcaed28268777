/** Types for the parts of the `gifenc` package (a CommonJS bundle; its default export is the API object) that diffuse uses. */
declare module 'gifenc' {
  export type GifPalette = number[][];
  export interface GifFrameOptions {
    palette?: GifPalette;
    /** Frame delay in milliseconds (stored in 1/100 s). */
    delay?: number;
    /** -1 = play once, 0 = loop forever, n > 0 = loop n times (first frame only). */
    repeat?: number;
    transparent?: boolean;
    transparentIndex?: number;
    colorDepth?: number;
    dispose?: number;
    first?: boolean;
  }
  export interface GifEncoderStream {
    writeFrame(index: Uint8Array, width: number, height: number, opts?: GifFrameOptions): void;
    finish(): void;
    bytes(): Uint8Array;
    reset(): void;
  }
  export type GifFormat = 'rgb565' | 'rgb444' | 'rgba4444';
  const gifenc: {
    GIFEncoder(opts?: { auto?: boolean; initialCapacity?: number }): GifEncoderStream;
    quantize(rgba: Uint8Array | Uint8ClampedArray, maxColors: number, opts?: { format?: GifFormat }): GifPalette;
    applyPalette(rgba: Uint8Array | Uint8ClampedArray, palette: GifPalette, format?: GifFormat): Uint8Array;
  };
  export default gifenc;
}
