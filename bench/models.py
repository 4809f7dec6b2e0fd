"""Random-weight models of Stable Diffusion 1.5's architecture, built from configs (no
download) and cached under bench/work/."""
import os

import torch

WORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "work")

# Stable Diffusion's VAE (kl-f8): the diffusers AutoencoderKL config of SD 1.5.
SD_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    norm_num_groups=32, sample_size=512, scaling_factor=0.18215)


def sd_vae():
    """The folder of a random SD VAE (diffusers layout), made on first use."""
    from diffusers import AutoencoderKL
    folder = os.path.join(WORK, "sd_vae")
    if not os.path.exists(os.path.join(folder, "config.json")):
        torch.manual_seed(0)
        AutoencoderKL(**SD_VAE).save_pretrained(folder, safe_serialization=True)
    return folder
