/** A class-conditional U-Net small enough for unit tests: 8x8, two levels, attention at the low one, 3 classes. */
import { modelConfig, modelFromConfig } from '../../src/models/registry.ts';

export const tinyUnet = () =>
  modelFromConfig(
    modelConfig('unet-s', {
      sample_size: 8,
      block_out_channels: [8, 16],
      down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
      up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
      norm_num_groups: 4,
      attention_head_dim: 8,
      num_class_embeds: 3,
    }),
  );
