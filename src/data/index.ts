/** data: training sets (toy 2D, MNIST, image folders, tabular CSV, 1D series) and the resumable seeded loader. */
export * from './toy2d.ts';
export * from './mnist.ts';
export * from './resize.ts';
export * from './image_folder.ts';
export * from './standardize.ts';
export * from './tabular.ts';
export * from './series.ts';
export * from './loader.ts';
export * from './export_image_folder.ts';
export * from './gaussian_mixture.ts';
export { conditionalGaussianMixture, mixtureCdf1d, ksStatistic, erf } from './gmm_conditional.ts';
export * from './data_size.ts';
