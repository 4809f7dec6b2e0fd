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


# Stable Diffusion 1.5's UNet (860M parameters, context 77 x 768).
SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32)


def sd15_unet():
    """The folder of a random SD 1.5 UNet (diffusers layout), made on first use."""
    from diffusers import UNet2DConditionModel
    folder = os.path.join(WORK, "sd15_unet")
    if not os.path.exists(os.path.join(folder, "config.json")):
        torch.manual_seed(0)
        UNet2DConditionModel(**SD15_UNET).save_pretrained(folder, safe_serialization=True)
    return folder


def gguf(folder, type_name):
    """`folder` converted by ldm-convert to `type_name`, made on first use."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(WORK), "..", "bindings", "python"))
    from ldm.convert import convert
    path = f"{folder}.{type_name}.gguf"
    if not os.path.exists(path):
        convert(folder, path, type_name)
    return path


def sd_vae():
    """The folder of a random SD VAE (diffusers layout), made on first use."""
    from diffusers import AutoencoderKL
    folder = os.path.join(WORK, "sd_vae")
    if not os.path.exists(os.path.join(folder, "config.json")):
        torch.manual_seed(0)
        AutoencoderKL(**SD_VAE).save_pretrained(folder, safe_serialization=True)
    return folder
