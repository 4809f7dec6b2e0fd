"""Model configurations, tokenizer and schedulers shared by train.py and sample.py (needs torch)."""
from __future__ import annotations

import os
import shutil

import torch

from data import write_vocab

# ---------------------------------------------------------------------------- architecture
AE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3,
    block_out_channels=(32, 64, 64),
    layers_per_block=1,
    latent_channels=3,
    norm_num_groups=16,
    sample_size=64,
    act_fn="silu",
)

TEXT_WIDTH = 128
BERT_CONFIG = dict(
    max_position_embeddings=77,
    encoder_layers=3,
    encoder_ffn_dim=4 * TEXT_WIDTH,
    encoder_attention_heads=4,
    head_dim=32,
    d_model=TEXT_WIDTH,
    dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    pad_token_id=0,
)

UNET_CONFIG = dict(
    sample_size=16,
    in_channels=3,
    out_channels=3,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    mid_block_type="UNetMidBlock2DCrossAttn",
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(64, 128, 128),
    layers_per_block=1,
    cross_attention_dim=TEXT_WIDTH,
    attention_head_dim=4,  # diffusers quirk: this is the number of heads (head dim 32)
    norm_num_groups=32,
    flip_sin_to_cos=True,
    freq_shift=0,
)

SCHEDULE = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    prediction_type="v_prediction",
    clip_sample=False,
)
DDIM_EXTRA = dict(set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading")


def make_ae(overrides: dict | None = None):
    from diffusers import AutoencoderKL

    return AutoencoderKL(**{**AE_CONFIG, **(overrides or {})})


def make_bert(vocab_size: int, overrides: dict | None = None):
    from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMBertConfig, LDMBertModel

    return LDMBertModel(LDMBertConfig(vocab_size=vocab_size, **{**BERT_CONFIG, **(overrides or {})}))


def make_unet(overrides: dict | None = None):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(**{**UNET_CONFIG, **(overrides or {})})


def make_train_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SCHEDULE)


def make_ddim_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(**SCHEDULE, **DDIM_EXTRA)


def make_tokenizer(folder: str):
    """BertTokenizer over our own vocabulary; folder gets vocab.txt + tokenizer files."""
    from transformers import BertTokenizer

    os.makedirs(folder, exist_ok=True)
    vocab = os.path.join(folder, "vocab.txt")
    if not os.path.exists(vocab):
        write_vocab(vocab)
    tok = BertTokenizer(vocab, do_lower_case=True, model_max_length=77)
    return tok


def save_tokenizer(tok, folder: str, vocab_src: str):
    tok.save_pretrained(folder)
    dst = os.path.join(folder, "vocab.txt")
    if os.path.abspath(vocab_src) != os.path.abspath(dst):
        shutil.copyfile(vocab_src, dst)  # transformers 5 writes tokenizer.json only


def tokenize(tok, captions: list[str]) -> torch.Tensor:
    """Exactly as diffusers' LDMTextToImagePipeline tokenizes."""
    return tok(captions, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids


def n_params(m) -> int:
    return sum(p.numel() for p in m.parameters())
