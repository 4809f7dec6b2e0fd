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


def sd15_pipeline():
    """A random Stable Diffusion 1.5 pipeline folder (CLIP ViT-L/14 text encoder with the real
    CLIP vocabulary, the UNet and VAE above, DDIM), made on first use."""
    import json
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    folder = os.path.join(WORK, "sd15")
    if os.path.exists(os.path.join(folder, "model_index.json")):
        return folder
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "Tests", "Fixtures", "tokenizers", "clip", "merges.txt"), encoding="utf-8") as f:
        merges = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
    import sys
    sys.path.insert(0, os.path.join(root, "tools"))
    from fixtures.common import byte_characters
    chars = byte_characters()
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    tok_dir = os.path.join(WORK, "clip_tokenizer")
    os.makedirs(tok_dir, exist_ok=True)
    with open(os.path.join(tok_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(tok_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    tokenizer = CLIPTokenizer(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt"),
                              pad_token="<|endoftext|>", model_max_length=77)
    torch.manual_seed(1)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                        num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu"))
    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL.from_pretrained(sd_vae()), text_encoder=text, tokenizer=tokenizer,
        unet=UNet2DConditionModel.from_pretrained(sd15_unet()), scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def sd_vae():
    """The folder of a random SD VAE (diffusers layout), made on first use."""
    from diffusers import AutoencoderKL
    folder = os.path.join(WORK, "sd_vae")
    if not os.path.exists(os.path.join(folder, "config.json")):
        torch.manual_seed(0)
        AutoencoderKL(**SD_VAE).save_pretrained(folder, safe_serialization=True)
    return folder
